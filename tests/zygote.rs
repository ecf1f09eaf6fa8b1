//! Issue 23: roles forked from a zygote (`--roles zygote`) observe what
//! fresh interpreters observe. Two pins, on the oldest and the newest
//! CPython found: the interpreter state a forked role starts in is a fresh
//! one's (`tests/zygote_state.py`), and the sample cells (three-process,
//! raw-fork, family [spawn], manager [forkserver]) come out the same in
//! both modes, compared by the binary's own `equivalence` (what
//! `bench/equivalence` runs on the whole catalogue). Timeouts, Ctrl-C and
//! SIGKILL with zygotes are in `reliability.rs` and `hardening.rs`.

use std::path::Path;

use crate::util::*;

/// The oldest and the newest CPython here (one, if there is only one).
fn oldest_and_newest() -> Vec<Py> {
    let mut pys: Vec<Py> = all_pythons()
        .into_iter()
        .filter(|p| !p.debug && !p.free_threaded)
        .collect();
    pys.sort_by_key(|p| (p.major, p.minor, p.patch));
    let mut ends = vec![pys[0].clone(), pys[pys.len() - 1].clone()];
    ends.dedup();
    ends
}

#[test]
fn a_forked_role_starts_in_the_state_of_a_fresh_interpreter() {
    let zygote = Path::new(env!("CARGO_MANIFEST_DIR")).join("pyscenarios/zygote.py");
    let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zygote_state.py");
    for py in oldest_and_newest() {
        let out = std::process::Command::new(&py.exe)
            .arg("-I")
            .arg(&driver)
            .arg(&zygote)
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            (out.status.code(), said.trim()),
            (Some(0), "same"),
            "{}: {said}\n{}",
            py.version,
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_sample_cells_observe_the_same_with_exec_and_with_a_zygote() {
    let pys = oldest_and_newest();
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for roles in ["exec", "zygote"] {
        let file = dir.path().join(format!("{roles}.json"));
        let mut cmd = bin();
        cmd.args(["run", "--quiet", "--roles", roles, "--json", arg(&file)])
            .args(["--scenario", "three-process,raw-fork,family,manager"])
            .args(["--start-method", "spawn,forkserver"]);
        for p in &pys {
            cmd.args(["--python", p.arg()]);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "--roles {roles}: {stderr}");
        // Every role was forked: no interpreter fell back to exec.
        assert!(!stderr.contains("runs its roles with exec"), "{stderr}");
        files.push(file);
    }
    let out = bin()
        .args(["equivalence", "--exec", arg(&files[0])])
        .args(["--zygote", arg(&files[1])])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{said}");
    // 2 + 2 x 2 rows, stock and create-only, on each interpreter.
    let cells = 12 * pys.len();
    assert!(
        said.starts_with(&format!("repetition 1: {cells} cells, 0 differ")),
        "{said}"
    );
    // The newest has tracker exit codes (3.13+), and they were compared.
    let zygote: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[1]).unwrap()).unwrap();
    let newest = &pys[pys.len() - 1];
    if newest.has_track() {
        let p2 = process(case(&zygote, newest, "stock", "three-process"), "P2");
        assert_eq!(p2["tracker_exit_code"], 1, "{p2:#}");
    }
}
