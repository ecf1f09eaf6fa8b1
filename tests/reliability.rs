//! Issue 5, reliability: timeouts, Ctrl-C and SIGTERM, concurrent runs,
//! hostile `--patch` files, the installed stdlib never written, and a short
//! soak. Every run gets a private TMPDIR, so "nothing remains" can be
//! checked exactly: the dir is empty afterwards, no process has it in its
//! environment (roles *and* their resource trackers inherit it), and none
//! of the run's segment names is in /dev/shm.
//!
//! No sleeps: a test that must interrupt a run mid-case uses the hidden
//! `hang` scenario, whose hanging role writes to a FIFO named by
//! SHMHARNESS_TEST_NOTIFY once it has attached; the test blocks on that
//! FIFO (with a deadline on a channel) and then sends the signal.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::util::*;

/// How long any one step may take before the test gives up (not a sync
/// sleep: only a bound on a channel wait).
const DEADLINE: Duration = Duration::from_secs(90);

/// A private TMPDIR for one harness run; the marker for its processes.
fn private_tmp() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("shmh-reltest-")
        .tempdir()
        .unwrap()
}

fn harness(tmp: &Path) -> Command {
    let mut cmd = std_bin();
    cmd.env("TMPDIR", tmp);
    cmd
}

/// `python(a)` and `python(b)`, once each (one interpreter may stand for
/// both on a machine with few).
fn two(a: &str, b: &str) -> Vec<Py> {
    let mut pys = vec![python(a), python(b)];
    pys.dedup();
    pys
}

/// Pids (not ours) whose environment contains `marker`.
fn processes_with(marker: &Path) -> Vec<(i32, String)> {
    let needle = marker.as_os_str().as_encoded_bytes();
    let me = std::process::id() as i32;
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env.windows(needle.len()).any(|w| w == needle) {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            found.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ")));
        }
    }
    found
}

/// Segments in /dev/shm whose names start with `prefix`.
fn segments_with(prefix: &str) -> Vec<String> {
    our_segments()
        .into_iter()
        .filter(|s| s.starts_with(prefix))
        .collect()
}

/// Assert the run that used `tmp` (and segment prefix `prefix`) left nothing.
fn assert_nothing_left(tmp: &Path, prefix: &str) {
    let procs = processes_with(tmp);
    assert!(procs.is_empty(), "processes left behind: {procs:?}");
    let segs = segments_with(prefix);
    assert!(segs.is_empty(), "segments left behind: {segs:?}");
    let files: Vec<_> = std::fs::read_dir(tmp).unwrap().flatten().collect();
    assert!(files.is_empty(), "temp files left behind: {files:?}");
}

/// Wait for a child with a deadline; panics (after killing it) on overrun.
fn wait_output(child: std::process::Child) -> Output {
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(DEADLINE) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("shmharness did not finish within {DEADLINE:?}");
        }
    }
}

fn json_of(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e})\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Run prefix (`shmhXXXXXX_`) from a case's segment name.
fn prefix_of(segment: &str) -> String {
    format!("{}_", segment.split('_').next().unwrap())
}

/// (interpreter, variant, scenario) -> (verdict, outcome, symptom keys).
fn verdicts(json: &serde_json::Value) -> BTreeMap<(String, String, String), String> {
    json["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let keys: Vec<&str> = c["symptoms"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["key"].as_str().unwrap())
                .collect();
            (
                (
                    c["interpreter"].to_string(),
                    c["variant"].to_string(),
                    c["scenario"].to_string(),
                ),
                format!("{} {} {keys:?}", c["verdict"], c["outcome"]),
            )
        })
        .collect()
}

/// The timeout is what is tested, so the hang is certain (the hidden `hang`
/// scenario blocks in select() forever), and the timeout is long enough
/// (10 s, against ~0.1 s for a role) that no other process of the run can
/// reach it, however loaded the machine.
#[test]
fn timeout_kills_the_hanging_group_reports_it_and_the_run_goes_on() {
    let py = any_python();
    let tmp = private_tmp();
    let out = harness(tmp.path())
        .args(["run", "--python", py.arg(), "--variant", "stock"])
        .args(["--scenario", "hang,three-process", "--timeout", "10"])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let json = json_of(&out);
    // A case cut off by the timeout could not run: an error, exit 2 (no
    // answer), never a failed fix (README, "Exit codes").
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cases = json["cases"].as_array().unwrap();
    let hang = cases.iter().find(|c| c["scenario"] == "hang").unwrap();
    assert_eq!(hang["verdict"], "error", "{hang:#}");
    let p2 = hang["processes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["label"] == "P2")
        .unwrap();
    assert_eq!(p2["timed_out"], true, "{p2:#}");
    assert_eq!(p2["signal"], libc::SIGKILL, "{p2:#}");
    // The transcript so far is kept: it attached, read, and said it hangs.
    let stdout = p2["stdout"].as_str().unwrap();
    assert!(stdout.contains("\"attached\"") && stdout.contains("\"hanging\""));
    let keys: Vec<&str> = hang["symptoms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].as_str().unwrap())
        .collect();
    assert!(keys.contains(&"P2 timeout"), "{keys:?}");
    // The run went on: the next case ran and was judged as usual.
    let seed = cases
        .iter()
        .find(|c| c["scenario"] == "three-process")
        .unwrap();
    assert_eq!(seed["verdict"], "pass", "{seed:#}");
    assert_eq!(seed["outcome"], "bug reproduced");
    assert_nothing_left(tmp.path(), &prefix_of(hang["segment"].as_str().unwrap()));
}

/// Start `run` on the hidden `hang` scenario, wait until a role hangs
/// mid-case, send `signal`; returns the output and the run's segment prefix.
fn interrupt(pythons: &[Py], tmp: &Path, signal: i32) -> (Output, String) {
    interrupt_with(pythons, tmp, signal, &["--scenario", "hang"])
}

/// `interrupt` with other arguments (they must include the `hang` scenario).
fn interrupt_with(pythons: &[Py], tmp: &Path, signal: i32, extra: &[&str]) -> (Output, String) {
    let fifo = tmp.with_extension("notify");
    crate::util::mkfifo(&fifo);
    let mut cmd = harness(tmp);
    cmd.env("SHMHARNESS_TEST_NOTIFY", &fifo)
        .args(["run", "--variant", "stock,create-only"])
        .args(extra)
        .args(["--timeout", "120", "--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for p in pythons {
        cmd.args(["--python", p.arg()]);
    }
    let child = cmd.spawn().unwrap();
    let (tx, rx) = mpsc::channel();
    let reader_fifo = fifo.clone();
    std::thread::spawn(move || {
        // Blocks until the hanging role opens the FIFO and writes its line.
        let mut line = String::new();
        let f = std::fs::File::open(&reader_fifo).unwrap();
        BufReader::new(f).read_line(&mut line).unwrap();
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(DEADLINE)
        .expect("the hanging role never reported");
    let segment = line.trim().strip_prefix("hanging ").unwrap().to_string();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(child.id() as i32, signal) };
    let out = wait_output(child);
    let _ = std::fs::remove_file(&fifo);
    (out, prefix_of(&segment))
}

fn check_interrupt(signal: i32, code: i32) {
    let py = any_python();
    let tmp = private_tmp();
    let (out, prefix) = interrupt(&[py], tmp.path(), signal);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr:\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_nothing_left(tmp.path(), &prefix);
}

#[test]
fn sigint_mid_case_exits_130_and_leaves_nothing() {
    check_interrupt(libc::SIGINT, 130);
}

#[test]
fn sigterm_mid_case_exits_143_and_leaves_nothing() {
    check_interrupt(libc::SIGTERM, 143);
}

/// Ctrl-C flushes what is complete: with --jobs 1 the three-process cases
/// finish before the hanging case starts, so --json holds exactly them.
#[test]
fn sigint_flushes_the_completed_cases_to_json() {
    let py = any_python();
    let tmp = private_tmp();
    let json = tmp.path().with_extension("json");
    let json_arg = json.to_str().unwrap().to_string();
    let extra = [
        "--scenario",
        "three-process,hang",
        "--jobs",
        "1",
        "--json",
        &json_arg,
    ];
    let (out, prefix) = interrupt_with(&[py], tmp.path(), libc::SIGINT, &extra);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("partial results written");
    let _ = std::fs::remove_file(&json);
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let cases = results["cases"].as_array().unwrap();
    let names: Vec<(&str, &str)> = cases
        .iter()
        .map(|c| {
            (
                c["scenario"].as_str().unwrap(),
                c["variant"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [("three-process", "stock"), ("three-process", "create-only")],
        "{text}"
    );
    assert!(cases.iter().all(|c| c["verdict"] == "pass"), "{text}");
    assert_nothing_left(tmp.path(), &prefix);
}

/// Two runs at once give the verdicts of a run alone, and that run alone
/// is itself right (exit 0, every verdict pass): sameness with a broken
/// run would prove nothing.
#[test]
fn two_concurrent_runs_give_the_same_verdicts_as_one_alone() {
    let pys = two("3.10", "3.13");
    let tmp = private_tmp();
    let args = |cmd: &mut Command| {
        cmd.args(["run", "--scenario", "three-process,attacher-unlinks"])
            .args(["--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for p in &pys {
            cmd.args(["--python", p.arg()]);
        }
    };
    let mut alone = harness(tmp.path());
    args(&mut alone);
    let alone = wait_output(alone.spawn().unwrap());
    let alone_json = json_of(&alone);
    assert_all_pass(alone.status.code().unwrap_or(-1), &alone_json);
    assert_eq!(cases(&alone_json).len(), 2 * 2 * pys.len());
    let alone = verdicts(&alone_json);
    let (mut a, mut b) = (harness(tmp.path()), harness(tmp.path()));
    args(&mut a);
    args(&mut b);
    let (a, b) = (a.spawn().unwrap(), b.spawn().unwrap());
    let (a, b) = (wait_output(a), wait_output(b));
    let (ja, jb) = (json_of(&a), json_of(&b));
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    assert_eq!(verdicts(&ja), alone);
    assert_eq!(verdicts(&jb), alone);
    // Unique names per run: the two runs shared no segment name.
    let segs = |j: &serde_json::Value| -> Vec<String> {
        j["cases"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["segment"].as_str().map(str::to_string))
            .collect()
    };
    let (sa, sb) = (segs(&ja), segs(&jb));
    assert!(sa.iter().all(|s| !sb.contains(s)), "{sa:?} vs {sb:?}");
    assert_nothing_left(tmp.path(), &prefix_of(&sa[0]));
    assert_nothing_left(tmp.path(), &prefix_of(&sb[0]));
}

#[test]
fn hostile_patch_files_are_one_line_exit_2_and_nothing_written() {
    let py = any_python();
    let tmp = private_tmp();
    let inputs = tempfile::tempdir().unwrap();
    let cases: &[(&str, &[u8])] = &[
        ("empty.diff", b""),
        ("binary.diff", b"\x7fELF\x02\x01\x01\0\0\0\xff\xfe"),
        ("prose.diff", b"please make shared_memory not register attachers\n"),
        (
            "outside.diff",
            b"--- a/Lib/os.py\n+++ b/Lib/os.py\n@@ -1,1 +1,1 @@\n-r\"\"\"OS routines\n+r\"\"\"pwned\n",
        ),
        (
            "dotdot.diff",
            b"--- a/Lib/multiprocessing/../os.py\n+++ b/Lib/multiprocessing/../os.py\n@@ -1,1 +1,1 @@\n-a\n+b\n",
        ),
    ];
    for (name, body) in cases {
        let patch = inputs.path().join(name);
        std::fs::write(&patch, body).unwrap();
        let json_out = inputs.path().join(format!("{name}.json"));
        let out = harness(tmp.path())
            .current_dir(inputs.path())
            .args(["run", "--python", py.arg()])
            .arg("--patch")
            .arg(&patch)
            .arg("--json")
            .arg(&json_out)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains("--patch"), "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}: wrote to stdout");
        assert!(!json_out.exists(), "{name}: wrote {}", json_out.display());
        let left: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{name}: temp files left: {left:?}");
    }
}

#[test]
fn the_installed_stdlib_is_never_written() {
    let pys = two("3.8", "3.13");
    let dirs: Vec<PathBuf> = pys.iter().map(|p| p.multiprocessing.clone()).collect();
    let before: Vec<_> = dirs.iter().map(|d| snapshot(d)).collect();
    let tmp = private_tmp();
    let with_pythons = |cmd: &mut Command| {
        for p in &pys {
            cmd.args(["--python", p.arg()]);
        }
    };

    // The full matrix on the newest (every scenario, every variant): every
    // expectation holds, so exactly 0.
    let out = harness(tmp.path())
        .args(["run", "--scenario", "all", "--variant", "all", "--quiet"])
        .args(["--python", pys[pys.len() - 1].arg()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // A patch that parses but applies nowhere (its context is wrong).
    let bad = tmp.path().with_extension("diff");
    std::fs::write(
        &bad,
        "--- a/Lib/multiprocessing/shared_memory.py\n+++ b/Lib/multiprocessing/shared_memory.py\n\
         @@ -1,2 +1,2 @@\n-this line is not in shared_memory.py\n+nor is this one\n context\n",
    )
    .unwrap();
    let mut cmd = harness(tmp.path());
    cmd.args(["run", "--quiet", "--patch"]).arg(&bad);
    with_pythons(&mut cmd);
    let out = cmd.output().unwrap();
    let _ = std::fs::remove_file(&bad);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A Ctrl-C mid-case.
    let (out, prefix) = interrupt(&pys, tmp.path(), libc::SIGINT);
    assert_eq!(out.status.code(), Some(130));
    assert_nothing_left(tmp.path(), &prefix);

    for (dir, before) in dirs.iter().zip(before) {
        assert!(snapshot(dir) == before, "{} changed", dir.display());
    }
}

#[test]
fn short_soak_twenty_repetitions_no_flake_no_leftover() {
    let pys = two("3.10", "3.13");
    let tmp = private_tmp();
    let mut cmd = harness(tmp.path());
    cmd.args(["run", "--scenario", "three-process", "--repeat", "20"])
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for p in &pys {
        cmd.args(["--python", p.arg()]);
    }
    let out = wait_output(cmd.spawn().unwrap());
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = json_of(&out);
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), pys.len() * 2 * 20);
    assert_all_pass(0, &json);
    // Every repetition of an (interpreter, variant) looks like the first.
    let mut first: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut changes = Vec::new();
    for c in cases {
        let keys: Vec<&str> = c["symptoms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["key"].as_str().unwrap())
            .collect();
        let sig = format!("{} {} {keys:?}", c["verdict"], c["outcome"]);
        let key = (c["interpreter"].to_string(), c["variant"].to_string());
        let want = first.entry(key.clone()).or_insert_with(|| sig.clone());
        if *want != sig {
            changes.push(format!("{key:?}: {sig} != {want}"));
        }
    }
    assert!(changes.is_empty(), "verdict changes: {changes:#?}");
    let mut names: Vec<&str> = cases
        .iter()
        .map(|c| c["segment"].as_str().unwrap())
        .collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), cases.len(), "segment names must be unique");
    assert_nothing_left(tmp.path(), &prefix_of(names[0]));
}
