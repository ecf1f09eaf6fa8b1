//! Issue 5, reliability: timeouts, Ctrl-C and SIGTERM, concurrent runs,
//! hostile `--patch` files, the installed stdlib never written, and a short
//! soak. Every run gets a private TMPDIR, so "nothing remains" can be
//! checked exactly: the dir is empty afterwards, no process has it in its
//! environment (roles *and* their resource trackers inherit it), and none
//! of the run's segment names is in /dev/shm.
//!
//! No sleeps and no clocks: a test that must interrupt a run mid-case uses
//! the hidden `hang` scenario, whose hanging role writes to a FIFO named by
//! SHMHARNESS_TEST_NOTIFY once it has attached; the test blocks on that
//! FIFO, or on the run's exit if that comes first, and then sends the
//! signal. No test bounds how long a run takes: a hung role is ended by the
//! harness's own `--timeout` (how fast a run is belongs to `bench/soak`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;

use crate::util::*;

/// A private temp dir for one test: `tmp()` is the harness's TMPDIR (the
/// marker for its processes, checked empty afterwards), and the files the
/// test makes itself go beside it, inside the same dir, so nothing outlives
/// the test, even one that panics.
struct Private(tempfile::TempDir);

impl Private {
    fn new() -> Private {
        let dir = tempfile::Builder::new()
            .prefix("shmh-reltest-")
            .tempdir()
            .unwrap();
        std::fs::create_dir(dir.path().join("tmp")).unwrap();
        Private(dir)
    }

    fn tmp(&self) -> PathBuf {
        self.0.path().join("tmp")
    }

    /// A path for the test's own file `name`, outside `tmp()`.
    fn file(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }
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

/// Wait for a run to end. No deadline here: every run is given a
/// `--timeout` (or the default 30 s), so a role that hangs is killed by
/// the harness, which then reports it.
fn wait_output(child: std::process::Child) -> Output {
    child.wait_with_output().unwrap()
}

/// Block until process `pid` (a child of ours) has exited, without reaping
/// it: the caller still collects its output.
fn exited(pid: i32) {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `info` is a valid siginfo_t; WNOWAIT leaves the child
        // to be reaped by wait_with_output.
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return;
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
/// (30 s, against ~0.1 s for a role idle, a few seconds at load 20 on 2
/// cores) that no other process of the run reaches it.
#[test]
fn timeout_kills_the_hanging_group_reports_it_and_the_run_goes_on() {
    timeout_kills_the_hanging_group("exec");
}

/// The same with roles forked by a zygote (issue 23): the role is the
/// harness's child and its group is killed at the deadline all the same.
#[test]
fn with_a_zygote_timeout_kills_the_hanging_group_and_the_run_goes_on() {
    timeout_kills_the_hanging_group("zygote");
}

fn timeout_kills_the_hanging_group(roles: &str) {
    let py = any_python();
    let dir = Private::new();
    let out = harness(&dir.tmp())
        .args(["run", "--python", py.arg(), "--variant", "stock"])
        .args(["--scenario", "hang,three-process", "--timeout", "30"])
        .args(["--roles", roles])
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
    assert_nothing_left(&dir.tmp(), &prefix_of(hang["segment"].as_str().unwrap()));
}

/// Start `run` on the hidden `hang` scenario, wait until a role hangs
/// mid-case, send `signal`; returns the output and the run's segment prefix.
fn interrupt(pythons: &[Py], dir: &Private, signal: i32) -> (Output, String) {
    interrupt_with(pythons, dir, signal, &["--scenario", "hang"])
}

/// `interrupt` with other arguments (they must include the `hang` scenario).
fn interrupt_with(pythons: &[Py], dir: &Private, signal: i32, extra: &[&str]) -> (Output, String) {
    let fifo = dir.file("notify");
    crate::util::mkfifo(&fifo);
    let mut cmd = harness(&dir.tmp());
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
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel();
    let reader_fifo = fifo.clone();
    let said = tx.clone();
    std::thread::spawn(move || {
        // Blocks until the hanging role opens the FIFO and writes its line.
        let mut line = String::new();
        let f = std::fs::File::open(&reader_fifo).unwrap();
        BufReader::new(f).read_line(&mut line).unwrap();
        let _ = said.send(Some(line));
    });
    // Or the run ends first: it failed, or its --timeout (120 s) killed a
    // role that never got to report.
    std::thread::spawn(move || {
        exited(pid);
        let _ = tx.send(None);
    });
    let Some(line) = rx.recv().unwrap() else {
        let out = wait_output(child);
        panic!(
            "the run ended ({:?}) before its hanging role reported:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let segment = line.trim().strip_prefix("hanging ").unwrap().to_string();
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid, signal) };
    (wait_output(child), prefix_of(&segment))
}

fn check_interrupt(signal: i32, code: i32) {
    check_interrupt_with(signal, code, &["--scenario", "hang"]);
}

fn check_interrupt_with(signal: i32, code: i32, extra: &[&str]) {
    let py = any_python();
    let dir = Private::new();
    let (out, prefix) = interrupt_with(&[py], &dir, signal, extra);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr:\n{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert_nothing_left(&dir.tmp(), &prefix);
}

#[test]
fn sigint_mid_case_exits_130_and_leaves_nothing() {
    check_interrupt(libc::SIGINT, 130);
}

#[test]
fn sigterm_mid_case_exits_143_and_leaves_nothing() {
    check_interrupt(libc::SIGTERM, 143);
}

/// Issue 23: Ctrl-C kills the groups of forked roles (and the zygotes)
/// as it kills exec'd ones.
#[test]
fn with_a_zygote_sigint_mid_case_exits_130_and_leaves_nothing() {
    check_interrupt_with(
        libc::SIGINT,
        130,
        &["--scenario", "hang", "--roles", "zygote"],
    );
}

/// Ctrl-C flushes what is complete: with --jobs 1 the three-process cases
/// finish before the hanging case starts, so --json holds exactly them.
#[test]
fn sigint_flushes_the_completed_cases_to_json() {
    let py = any_python();
    let dir = Private::new();
    let json = dir.file("results.json");
    let json_arg = json.to_str().unwrap().to_string();
    let extra = [
        "--scenario",
        "three-process,hang",
        "--jobs",
        "1",
        "--json",
        &json_arg,
    ];
    let (out, prefix) = interrupt_with(&[py], &dir, libc::SIGINT, &extra);
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&json).expect("partial results written");
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
    assert_nothing_left(&dir.tmp(), &prefix);
}

/// Two runs at once give the verdicts of a run alone, and that run alone
/// is itself right (exit 0, every verdict pass): sameness with a broken
/// run would prove nothing.
#[test]
fn two_concurrent_runs_give_the_same_verdicts_as_one_alone() {
    let pys = two("3.10", "3.13");
    let dir = Private::new();
    let tmp = dir.tmp();
    let args = |cmd: &mut Command| {
        cmd.args(["run", "--scenario", "three-process,attacher-unlinks"])
            .args(["--format", "json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for p in &pys {
            cmd.args(["--python", p.arg()]);
        }
    };
    let mut alone = harness(&tmp);
    args(&mut alone);
    let alone = wait_output(alone.spawn().unwrap());
    let alone_json = json_of(&alone);
    assert_all_pass(alone.status.code().unwrap_or(-1), &alone_json);
    assert_eq!(cases(&alone_json).len(), 2 * 2 * pys.len());
    let alone = verdicts(&alone_json);
    let (mut a, mut b) = (harness(&tmp), harness(&tmp));
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
    assert_nothing_left(&tmp, &prefix_of(&sa[0]));
    assert_nothing_left(&tmp, &prefix_of(&sb[0]));
}

#[test]
fn hostile_patch_files_are_one_line_exit_2_and_nothing_written() {
    let py = any_python();
    let dir = Private::new();
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
        let out = harness(&dir.tmp())
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
        let left: Vec<_> = std::fs::read_dir(dir.tmp()).unwrap().flatten().collect();
        assert!(left.is_empty(), "{name}: temp files left: {left:?}");
    }
}

#[test]
fn the_installed_stdlib_is_never_written() {
    let pys = two("3.8", "3.13");
    let dirs: Vec<PathBuf> = pys.iter().map(|p| p.multiprocessing.clone()).collect();
    let before: Vec<_> = dirs.iter().map(|d| snapshot(d)).collect();
    let dir = Private::new();
    let with_pythons = |cmd: &mut Command| {
        for p in &pys {
            cmd.args(["--python", p.arg()]);
        }
    };

    // The full matrix on the newest (every scenario, every variant): every
    // expectation holds, so exactly 0.
    let out = harness(&dir.tmp())
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
    let bad = dir.file("bad.diff");
    std::fs::write(
        &bad,
        "--- a/Lib/multiprocessing/shared_memory.py\n+++ b/Lib/multiprocessing/shared_memory.py\n\
         @@ -1,2 +1,2 @@\n-this line is not in shared_memory.py\n+nor is this one\n context\n",
    )
    .unwrap();
    let mut cmd = harness(&dir.tmp());
    cmd.args(["run", "--quiet", "--patch"]).arg(&bad);
    with_pythons(&mut cmd);
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // A Ctrl-C mid-case.
    let (out, prefix) = interrupt(&pys, &dir, libc::SIGINT);
    assert_eq!(out.status.code(), Some(130));
    assert_nothing_left(&dir.tmp(), &prefix);

    for (dir, before) in dirs.iter().zip(before) {
        assert!(snapshot(dir) == before, "{} changed", dir.display());
    }
}

/// Twenty repetitions agree and leave nothing. How fast they run is not
/// asserted (a loaded machine is slow, not wrong): `bench/soak` measures
/// that; a role that hangs is killed by the default `--timeout`.
#[test]
fn short_soak_twenty_repetitions_no_flake_no_leftover() {
    let pys = two("3.10", "3.13");
    let dir = Private::new();
    let mut cmd = harness(&dir.tmp());
    cmd.args(["run", "--scenario", "three-process", "--repeat", "20"])
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for p in &pys {
        cmd.args(["--python", p.arg()]);
    }
    let out = wait_output(cmd.spawn().unwrap());
    let json = json_of(&out);
    let cases = json["cases"].as_array().unwrap();
    assert_eq!(cases.len(), pys.len() * 2 * 20);
    assert_all_pass(out.status.code().unwrap_or(-1), &json);
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
    assert_nothing_left(&dir.tmp(), &prefix_of(names[0]));
}
