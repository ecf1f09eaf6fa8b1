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
    if found.is_none() {
        if in_ci() {
            panic!(
                "CI=true and the interpreter {minor} this test needs is missing under {}",
                root.display()
            );
        }
        eprintln!("skipping: no pyenv {minor} under {}", root.display());
    }
    found
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
