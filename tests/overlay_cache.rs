//! The overlay cache (issue 12, item 7): a warm run starts no `compileall`,
//! `--no-cache` builds afresh, and a built entry is reused across runs.

use crate::util::*;

/// How many `compileall` processes a verbose run started (`-v` prints the
/// command line of every process).
fn compiles(cache: &std::path::Path, py: &Py, extra: &[&str]) -> usize {
    let out = bin()
        .env("XDG_CACHE_HOME", cache)
        .args([
            "-v",
            "run",
            "--python",
            py.arg(),
            "--variant",
            "create-only",
        ])
        .args(["--scenario", "three-process"])
        .args(extra)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    err.lines().filter(|l| l.contains("-m compileall")).count()
}

#[test]
fn a_warm_run_compiles_nothing_and_no_cache_compiles_afresh() {
    let py = python("3.12");
    let cache = tempfile::tempdir().unwrap();
    assert_eq!(
        compiles(cache.path(), &py, &[]),
        1,
        "cold: one overlay built"
    );
    assert_eq!(compiles(cache.path(), &py, &[]), 0, "warm: reused");
    assert_eq!(compiles(cache.path(), &py, &["--no-cache"]), 1);
    let entries = std::fs::read_dir(cache.path().join("shmharness/overlays"))
        .unwrap()
        .count();
    assert_eq!(entries, 1, "--no-cache neither reads nor adds entries");
}
