//! Issue 2: the core harness end to end on real interpreters, plus the
//! guard that the suite has something to test at all.

use crate::util::*;

/// The suite's own precondition, as a test of its own: at least one
/// CPython 3.8+ (with none, `every_python` stops the run with one line
/// saying what to install), under CI every expected interpreter, and each
/// one listed really is a CPython 3.8+ whose `multiprocessing.shared_memory`
/// imports from the package the listing names (so the tests that use it
/// test something).
#[test]
fn a_cpython_3_8_or_newer_is_there_to_test_on() {
    let all = every_python();
    for py in &all {
        let out = std::process::Command::new(&py.exe)
            .args([
                "-c",
                "import sys, os, multiprocessing.shared_memory as m\n\
                 print('%d.%d' % sys.version_info[:2], sys.implementation.name, os.path.dirname(m.__file__))",
            ])
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        let want = format!(
            "{} cpython {}",
            py.minor_str(),
            py.multiprocessing.display()
        );
        assert_eq!(
            said.trim(),
            want,
            "{}: {}",
            py.exe.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!((py.major, py.minor) >= (3, 8), "{}", py.version);
    }
    if let Expected::Declared(paths) = expected() {
        // A CI leg: exactly the declared interpreters, each usable.
        assert_eq!(
            all.len(),
            paths.len(),
            "SHMH_TEST_PYTHONS={paths:?} but shmharness lists {all:#?}"
        );
    }
}

#[test]
fn three_process_reproduces_on_stock_and_is_fixed_by_create_only() {
    let py = any_python();
    let (code, json) = run_json(&["run", "--python", py.arg()]);
    assert_eq!(code, 0, "{json:#}");
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let stock = case(&json, &py, "stock", "three-process");
    assert_eq!(stock["outcome"], "bug reproduced");
    let p3 = process(stock, "P3");
    assert_eq!(p3["exit_code"], 1);
    assert_eq!(p3["exception"], "FileNotFoundError");
    let fixed = case(&json, &py, "create-only", "three-process");
    assert_eq!(fixed["outcome"], "fixed");
}

/// What BRIEF.md verified for the seed's three processes, on stock and with
/// `if create:`, for the three-process cases of `py` in `json`.
fn assert_three_process_outcomes(json: &serde_json::Value, py: &Py) {
    let version = &py.version;
    let stock = case(json, py, "stock", "three-process");
    let (p1, p2, p3) = (
        process(stock, "P1"),
        process(stock, "P2"),
        process(stock, "P3"),
    );
    assert_eq!(p2["exit_code"], 0, "{version} stock P2: {p2:#}");
    assert_eq!(
        p2["leak_warnings"], 1,
        "{version} stock P2 must warn exactly once: {}",
        p2["stderr"]
    );
    assert_eq!(p3["exit_code"], 1, "{version} stock P3: {p3:#}");
    assert_eq!(p3["exception"], "FileNotFoundError", "{version} stock P3");
    assert!(
        p3["stderr"]
            .as_str()
            .unwrap()
            .contains("FileNotFoundError: [Errno 2] No such file or directory"),
        "{version} stock P3 stderr: {}",
        p3["stderr"]
    );
    assert_eq!(p1["exit_code"], 1, "{version} stock P1: {p1:#}");
    assert_eq!(p1["exception"], "FileNotFoundError", "{version} stock P1");
    assert_eq!(
        stock["verdict"], "pass",
        "{version} stock: {}",
        stock["reason"]
    );
    assert_eq!(stock["outcome"], "bug reproduced");

    let fixed = case(json, py, "create-only", "three-process");
    let (p1, p2, p3) = (
        process(fixed, "P1"),
        process(fixed, "P2"),
        process(fixed, "P3"),
    );
    assert_eq!(p2["exit_code"], 0, "{version} create-only P2: {p2:#}");
    assert_eq!(p2["leak_warnings"], 0, "{version} create-only P2 warned");
    assert_eq!(p3["data_ok"], true, "{version} create-only P3: {p3:#}");
    assert_eq!(p3["exit_code"], 0, "{version} create-only P3");
    assert_eq!(p1["exit_code"], 0, "{version} create-only P1: {p1:#}");
    assert!(p1["exception"].is_null(), "{version} create-only P1");
    assert_eq!(
        fixed["segment_leaked"], false,
        "{version} create-only leaked"
    );
    assert_eq!(fixed["verdict"], "pass", "{version}: {}", fixed["reason"]);
    assert_eq!(fixed["outcome"], "fixed");
    // Every process of the patched case imported the overlay, not the
    // stdlib; every process of the stock case imported the stdlib.
    for p in fixed["processes"].as_array().unwrap() {
        let from = p["multiprocessing"].as_str().unwrap_or("");
        assert!(
            !from.is_empty() && !from.starts_with(arg(&py.multiprocessing)),
            "{version} create-only {} imported multiprocessing from {from:?}",
            p["label"]
        );
    }
    for p in stock["processes"].as_array().unwrap() {
        let from = p["multiprocessing"].as_str().unwrap_or("");
        assert!(
            from.starts_with(arg(&py.multiprocessing)),
            "{version} stock {} imported multiprocessing from {from:?}",
            p["label"]
        );
    }
}

#[test]
fn three_process_outcomes_per_family_match_the_brief() {
    let m = matrix();
    for py in &m.pythons {
        assert_three_process_outcomes(&m.json, py);
    }
}

/// Every interpreter found (under CI: every minor from 3.8 to 3.15).
#[test]
fn three_process_outcomes_on_every_interpreter_found() {
    let pys = every_python();
    let (code, json, stderr) = run_results(&[], &pys);
    assert_eq!(code, 0, "{stderr}\n{json:#}");
    assert_eq!(json["interpreters"].as_array().unwrap().len(), pys.len());
    assert_eq!(cases(&json).len(), 2 * pys.len(), "stock + create-only");
    for py in &pys {
        assert_three_process_outcomes(&json, py);
    }
    assert_segments_gone(&json);
}

#[test]
fn discovery_lists_bad_candidates_with_a_reason_each() {
    let fakes = Fakes::new();
    let shim = fakes.script(
        "python3.8",
        "echo 'pyenv: python3.8: command not found' >&2\nexit 127",
    );
    let garbage = fakes.script("python3.9", "echo 'hello, I am not a python'");
    // It hangs until killed (the hang is certain, whatever the load), as a
    // grandchild of the probe, so only killing the probe's process group
    // ends the listing; the probe timeout (20 s) is generous for every real
    // interpreter.
    let hanging = Hang::new();
    let hang = fakes.script("python3.10", &hanging.body(true));
    let broken = fakes.dir.path().join("python3.11");
    std::os::unix::fs::symlink("/nonexistent/python3.11", &broken).unwrap();
    let real = all_pythons();

    let mut args = vec!["list", "--all", "--probe-timeout", "20", "--no-cache"];
    for p in [&shim, &garbage, &hang, &broken] {
        args.extend(["--python", arg(p)]);
    }
    for p in &real {
        args.extend(["--python", p.arg()]);
    }
    let (code, json) = run_json(&args);
    assert_eq!(code, 0, "{json:#}");
    // What is tested: the hanging probe was cut off, group and all.
    hanging.assert_killed_with_its_group();
    let rejected = json["rejected"].as_array().expect("rejected list");
    let reason = |p: &std::path::Path| -> String {
        rejected
            .iter()
            .find(|r| r["path"] == arg(p))
            .unwrap_or_else(|| panic!("{} not among the rejected: {json:#}", p.display()))["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let r = reason(&shim);
    assert!(r.contains("127") && r.contains("command not found"), "{r}");
    let r = reason(&garbage);
    assert!(r.contains("no answer") || r.contains("garbage"), "{r}");
    assert!(reason(&hang).contains("timed out"), "{}", reason(&hang));
    assert!(
        reason(&broken).contains("broken symlink"),
        "{}",
        reason(&broken)
    );
    // None of the fakes is an interpreter; every real one is listed.
    let listed: Vec<&str> = json["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["executable"].as_str().unwrap())
        .collect();
    for p in &real {
        assert!(
            listed.contains(&p.arg()),
            "{} not listed: {json:#}",
            p.exe.display()
        );
    }
    for exe in &listed {
        assert!(
            !exe.starts_with(arg(fakes.dir.path())),
            "a fake was listed: {exe}"
        );
    }
}

#[test]
fn the_installed_stdlib_is_unchanged_by_a_full_run() {
    let m = matrix();
    for (i, py) in m.pythons.iter().enumerate() {
        let (before, after) = (&m.before[i], &m.after[i]);
        let changed: Vec<_> = before
            .keys()
            .chain(after.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .collect();
        assert!(
            changed.is_empty(),
            "{}: the run wrote the installed multiprocessing package (even __pycache__ counts: \
             every child runs with -B): {changed:?}",
            py.exe.display()
        );
        assert!(!before.is_empty());
    }
}

#[test]
fn dev_shm_holds_none_of_the_segments_a_run_used() {
    assert_segments_gone(&matrix().json);
}

/// `our_segments` sees both prefixes the project uses: a segment named
/// like repro.py's (made here with the interpreter itself, and removed)
/// is found, so the checks built on it can fail.
#[test]
fn our_segments_sees_repro_and_harness_names() {
    let py = any_python();
    let name = format!("repro_selftest_{}", std::process::id());
    let holder = std::process::Command::new(&py.exe)
        .args([
            "-c",
            "import sys, _posixshmem, os\n\
             fd = _posixshmem.shm_open('/' + sys.argv[1], os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)\n\
             os.close(fd)",
            &name,
        ])
        .status()
        .unwrap();
    assert!(holder.success());
    let seen = our_segments().contains(&name);
    // Remove it (we made it) before asserting.
    let removed = std::process::Command::new(&py.exe)
        .args([
            "-c",
            "import sys, _posixshmem; _posixshmem.shm_unlink('/' + sys.argv[1])",
            &name,
        ])
        .status()
        .unwrap();
    assert!(removed.success());
    assert!(seen, "our_segments() missed /dev/shm/{name}");
    assert!(!our_segments().contains(&name));
}

/// A user's own `PYTHONPATH` and `PYTHONHOME` never reach a role (they
/// would change what it imports), and never take away the overlay's
/// `PYTHONPATH`: a patched variant runs its patch. Before the fix, the
/// harness removed every `PYTHON*` variable after setting the overlay's,
/// so with `PYTHONPATH` set every patched case was an error.
#[test]
fn a_users_python_variables_neither_reach_a_role_nor_hide_the_overlay() {
    let py = any_python();
    let elsewhere = tempfile::tempdir().unwrap();
    // A `multiprocessing` there would shadow the stdlib's if it were used.
    std::fs::create_dir(elsewhere.path().join("multiprocessing")).unwrap();
    std::fs::write(
        elsewhere.path().join("multiprocessing/__init__.py"),
        "raise ImportError('the user PYTHONPATH was used')\n",
    )
    .unwrap();
    let out = bin()
        .env("PYTHONPATH", elsewhere.path())
        .args([
            "run",
            "--python",
            py.arg(),
            "--variant",
            "stock,create-only",
        ])
        .args(["--scenario", "three-process", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: Vec<(&str, &str)> = cases(&json)
        .iter()
        .map(|c| {
            (
                c["variant"].as_str().unwrap(),
                c["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [("stock", "bug reproduced"), ("create-only", "fixed")],
        "{stderr}"
    );
}
