//! Issue 2: the core harness end to end on real interpreters.

use crate::util::*;

#[test]
fn three_process_reproduces_on_stock_and_is_fixed_by_create_only() {
    let Some(py) = python("3.10") else { return };
    let (code, json) = run_json(&["run", "--python", py.to_str().unwrap()]);
    assert_eq!(code, 0, "{json:#}");
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    let stock = cases.iter().find(|c| c["variant"] == "stock").unwrap();
    assert_eq!(stock["outcome"], "bug reproduced");
    let p3 = stock["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "P3")
        .unwrap();
    assert_eq!(p3["exit_code"], 1);
    assert_eq!(p3["exception"], "FileNotFoundError");
    let fixed = cases
        .iter()
        .find(|c| c["variant"] == "create-only")
        .unwrap();
    assert_eq!(fixed["outcome"], "fixed");
}

/// What BRIEF.md verified for the seed's three processes, on stock and with
/// `if create:`, for every three-process case of `json`.
fn assert_three_process_outcomes(json: &serde_json::Value, version: &str) {
    let stock = case(json, version, "stock", "three-process");
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

    let fixed = case(json, version, "create-only", "three-process");
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
    // Every process of the patched case imported the overlay, not the stdlib.
    let prefix = std::path::Path::new(fixed["executable"].as_str().unwrap())
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    for p in fixed["processes"].as_array().unwrap() {
        let from = p["multiprocessing"].as_str().unwrap_or("");
        assert!(
            !from.is_empty() && !from.starts_with(prefix.to_str().unwrap()),
            "{version} create-only {} imported multiprocessing from {from:?}",
            p["label"]
        );
    }
}

#[test]
fn three_process_outcomes_per_family_match_the_brief() {
    let Some(m) = matrix() else { return };
    for version in ["3.8", "3.10", "3.13"] {
        assert_three_process_outcomes(&m.json, version);
    }
}

#[test]
fn three_process_outcomes_on_every_version_3_8_to_3_13() {
    let versions = ["3.8", "3.9", "3.10", "3.11", "3.12", "3.13"];
    let Some(pys) = pythons(&versions) else {
        return;
    };
    let mut args = vec!["run"];
    for p in &pys {
        args.extend(["--python", arg(p)]);
    }
    let (code, json) = run_json(&args);
    assert_eq!(code, 0, "{json:#}");
    assert_eq!(json["interpreters"].as_array().unwrap().len(), 6);
    assert_eq!(cases(&json).len(), 12, "stock + create-only on six");
    for v in versions {
        assert_three_process_outcomes(&json, v);
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
    // Not `exec`: the sleep is a grandchild, so only killing the probe's
    // process group ends the listing early.
    let hang = fakes.script("python3.10", "sleep 30");
    let broken = fakes.dir.path().join("python3.11");
    std::os::unix::fs::symlink("/nonexistent/python3.11", &broken).unwrap();

    let started = std::time::Instant::now();
    let (code, json) = run_json(&[
        "list",
        "--all",
        "--probe-timeout",
        "1",
        "--python",
        arg(&shim),
        "--python",
        arg(&garbage),
        "--python",
        arg(&hang),
        "--python",
        arg(&broken),
    ]);
    let took = started.elapsed();
    assert_eq!(code, 0, "{json:#}");
    assert!(
        took < std::time::Duration::from_secs(15),
        "listing took {took:?}: the hanging probe was not cut off"
    );
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
    // None of the fakes is an interpreter; the real ones are still listed.
    // (A probe cut off at 1 s on a badly overloaded machine is the one
    // excuse, and it must then say so: never silently dropped.)
    let found: Vec<&str> = json["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["version"].as_str().unwrap())
        .collect();
    assert!(!found.is_empty(), "no real interpreter listed: {json:#}");
    for minor in ["3.8", "3.10", "3.13"] {
        let Some(real) = python(minor) else { continue };
        let listed = found.iter().any(|v| v.starts_with(&format!("{minor}.")));
        let timed_out = rejected.iter().any(|r| {
            r["path"] == arg(&real) && r["reason"].as_str().unwrap().contains("timed out")
        });
        assert!(
            listed || timed_out,
            "{minor} neither listed nor rejected for a timeout: {json:#}"
        );
    }
    for i in json["interpreters"].as_array().unwrap() {
        let exe = i["executable"].as_str().unwrap();
        assert!(
            !exe.starts_with(arg(fakes.dir.path())),
            "a fake was listed: {exe}"
        );
    }
}

#[test]
fn the_installed_stdlib_is_unchanged_by_a_full_run() {
    let Some(m) = matrix() else { return };
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
            py.display()
        );
        assert!(!before.is_empty());
    }
}

#[test]
fn dev_shm_holds_none_of_the_segments_a_run_used() {
    let Some(m) = matrix() else { return };
    assert_segments_gone(&m.json);
}
