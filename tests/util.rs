//! Helpers shared by the integration tests.
//!
//! Interpreters: tests name the pyenv versions they need. When one is
//! missing, a test is skipped with a note on a developer machine, but under
//! `CI=true` it fails loudly: CI must never pass by skipping everything.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The binary under test, with colors off.
pub fn bin() -> Command {
    let mut cmd = Command::cargo_bin("shmharness").expect("binary built");
    cmd.env("NO_COLOR", "1");
    cmd
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A tool a test needs: `found`, or a skip with a note on a developer
/// machine; under CI=true a missing tool fails the test (.ci/run installs
/// everything the tests use).
pub fn require<T>(found: Option<T>, what: &str) -> Option<T> {
    if found.is_none() {
        assert!(!in_ci(), "CI=true and {what} is missing");
        eprintln!("skipping: {what} is missing");
    }
    found
}

/// `~/.pyenv/versions/<minor>.*/bin/python3` (e.g. `python("3.10")`).
/// Panics under CI=true when missing; otherwise returns None (skip).
pub fn python(minor: &str) -> Option<PathBuf> {
    let root = std::env::var_os("PYENV_ROOT")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".pyenv")))
        .unwrap_or_default()
        .join("versions");
    let found = std::fs::read_dir(&root).ok().and_then(|entries| {
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{minor}."))
            })
            .map(|e| e.path().join("bin/python3"))
            .filter(|p| p.exists())
            .collect();
        dirs.sort();
        dirs.pop()
    });
    require(found, &format!("pyenv {minor} (under {})", root.display()))
}

/// Several interpreters at once; None if any is missing (see `python`).
pub fn pythons(minors: &[&str]) -> Option<Vec<PathBuf>> {
    minors.iter().map(|m| python(m)).collect()
}

/// Every segment in /dev/shm that a shmharness run could have made.
pub fn our_segments() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.retain(|n| n.starts_with("shmh"));
    names
}

/// Every file under `dir` and its bytes: compare two snapshots to prove
/// nothing was written.
pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("readable dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
            }
        }
    }
    out
}

/// The installed `multiprocessing` package of a pyenv interpreter.
pub fn multiprocessing_dir(python: &Path) -> PathBuf {
    let lib = python.parent().unwrap().parent().unwrap().join("lib");
    std::fs::read_dir(&lib)
        .unwrap()
        .flatten()
        .map(|e| e.path().join("multiprocessing"))
        .find(|p| p.is_dir())
        .expect("multiprocessing package")
}

/// Run the binary with `args` plus `--format json`, returning (exit code, JSON).
pub fn run_json(args: &[&str]) -> (i32, serde_json::Value) {
    let out = bin()
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("runs");
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}); args {args:?}\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

/// A temp dir holding executable fake interpreters (`#!/bin/sh` scripts).
pub struct Fakes {
    pub dir: tempfile::TempDir,
}

impl Fakes {
    pub fn new() -> Fakes {
        Fakes {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Write an executable script `name` with `body` after the shebang.
    pub fn script(&self, name: &str, body: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.path().join(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        p
    }
}

/// `p` as a `&str` for command-line arguments.
pub fn arg(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// Run the binary with `args` (no `--format`), returning (exit code, stdout, stderr).
pub fn run_text(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The cases of a `run --format json` result.
pub fn cases(json: &serde_json::Value) -> &Vec<serde_json::Value> {
    json["cases"].as_array().expect("cases array")
}

/// The one case for (interpreter version prefix, variant, scenario).
pub fn case<'a>(
    json: &'a serde_json::Value,
    version: &str,
    variant: &str,
    scenario: &str,
) -> &'a serde_json::Value {
    let found: Vec<_> = cases(json)
        .iter()
        .filter(|c| {
            c["interpreter"]
                .as_str()
                .is_some_and(|i| i.starts_with(&format!("{version}.")))
                && c["variant"] == variant
                && c["scenario"] == scenario
        })
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one case for {version} {variant} {scenario}"
    );
    found[0]
}

/// The process labelled `label` (`P1`, `P2`, ...) of a case.
pub fn process<'a>(case: &'a serde_json::Value, label: &str) -> &'a serde_json::Value {
    case["processes"]
        .as_array()
        .expect("processes array")
        .iter()
        .find(|p| p["label"] == label)
        .unwrap_or_else(|| panic!("no process {label} in {case:#}"))
}

/// The symptom keys of a case.
pub fn symptom_keys(case: &serde_json::Value) -> Vec<String> {
    case["symptoms"]
        .as_array()
        .expect("symptoms array")
        .iter()
        .map(|s| s["key"].as_str().expect("symptom key").to_string())
        .collect()
}

/// Assert that no segment named in a run's cases is still in /dev/shm.
pub fn assert_segments_gone(json: &serde_json::Value) {
    let used: Vec<&str> = cases(json)
        .iter()
        .filter_map(|c| c["segment"].as_str())
        .collect();
    assert!(!used.is_empty(), "the run names no segments");
    let left: Vec<String> = our_segments()
        .into_iter()
        .filter(|s| used.contains(&s.as_str()))
        .collect();
    assert!(left.is_empty(), "segments left in /dev/shm: {left:?}");
}

/// One full matrix (every scenario x every variant) on one interpreter per
/// version family (3.8, 3.10, 3.13), run once and shared by every test that
/// needs it, with snapshots of each interpreter's installed `multiprocessing`
/// package taken before and after the run.
pub struct Matrix {
    pub code: i32,
    pub json: serde_json::Value,
    pub pythons: Vec<PathBuf>,
    pub before: Vec<BTreeMap<PathBuf, Vec<u8>>>,
    pub after: Vec<BTreeMap<PathBuf, Vec<u8>>>,
}

/// The shared full matrix; None (skip) if an interpreter is missing.
pub fn matrix() -> Option<&'static Matrix> {
    static MATRIX: std::sync::OnceLock<Option<Matrix>> = std::sync::OnceLock::new();
    MATRIX
        .get_or_init(|| {
            let pythons = pythons(&["3.8", "3.10", "3.13"])?;
            let before: Vec<_> = pythons
                .iter()
                .map(|p| snapshot(&multiprocessing_dir(p)))
                .collect();
            let mut args = vec!["run", "--scenario", "all", "--variant", "all"];
            for p in &pythons {
                args.extend(["--python", arg(p)]);
            }
            let (code, json) = run_json(&args);
            let after: Vec<_> = pythons
                .iter()
                .map(|p| snapshot(&multiprocessing_dir(p)))
                .collect();
            Some(Matrix {
                code,
                json,
                pythons,
                before,
                after,
            })
        })
        .as_ref()
}
