//! `--git`: a fix read from the cpython checkout the user stands in, as
//! `git diff` from where the branch left BASE to the working tree. The
//! checkout here is a throwaway repository laid out like cpython (the
//! interpreter's own `Lib/multiprocessing/shared_memory.py` on `main`, the
//! `if create:` fix on a branch); what `--git` reads must be judged exactly
//! as `--patch` of the same diff, and the checkout must be left as it was.

use std::path::Path;
use std::process::Command;

use crate::util::{Py, any_python, arg, bin, cases, symptom_keys};

/// `git ARGS` in `dir`, isolated from the user's configuration; its stdout.
fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        // Reading the state must not change it either (`status` heeds
        // this; `diff` does not).
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .expect("git runs (the --git tests need git)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The built-in create-only diff for `py`'s branch layout: the fix a
/// developer's branch holds.
fn create_only(py: &Py) -> std::path::PathBuf {
    let family = match py.minor {
        ..=9 => "3.8-3.9",
        10..=12 => "3.10-3.12",
        _ => "3.13",
    };
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("patches/create-only/{family}.diff"))
}

/// A cpython-like checkout: `main` holds `py`'s shared_memory.py and then
/// moves on (a later commit the fix branch does not have, so a plain
/// `git diff main` would show it deleted); `gh-82300-fix` forks before that
/// and carries the fix unstaged, a NEWS entry staged, and a new module
/// untracked. Also branches `3.X` (the fork point) and `backport-3.X` (the
/// fix committed), for `--git 3.X=backport-3.X`.
fn checkout(py: &Py) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let package = root.join("Lib/multiprocessing");
    std::fs::create_dir_all(&package).unwrap();
    for file in ["__init__.py", "shared_memory.py"] {
        std::fs::copy(py.multiprocessing.join(file), package.join(file)).unwrap();
    }
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "main"]);
    let minor = py.minor_str();
    for branch in ["gh-82300-fix", &minor, &format!("backport-{minor}")] {
        git(root, &["branch", branch]);
    }
    std::fs::write(package.join("later.py"), "# main moved on\n").unwrap();
    git(root, &["add", "-A"]);
    git(root, &["commit", "-qm", "main moves on"]);

    git(root, &["checkout", "-q", &format!("backport-{minor}")]);
    git(root, &["apply", arg(&create_only(py))]);
    git(root, &["commit", "-qam", "backport"]);

    git(root, &["checkout", "-q", "gh-82300-fix"]);
    git(root, &["apply", arg(&create_only(py))]);
    let news = root.join("Misc/NEWS.d/next/Library");
    std::fs::create_dir_all(&news).unwrap();
    std::fs::write(news.join("gh-82300.rst"), "Attachers no longer register.\n").unwrap();
    git(root, &["add", "Misc"]);
    std::fs::write(package.join("helper.py"), "# not added yet\n").unwrap();
    // Same content, new mtime: `git diff` of the working tree refreshes
    // this entry's stat data in the index it reads, whatever
    // GIT_OPTIONAL_LOCKS says (--git gives it a copy of the index).
    // Its mtime is set ahead so the entry is stat-dirty whatever the clock
    // granularity (a plain rewrite in the same tick was missed at times).
    let init = std::fs::read(package.join("__init__.py")).unwrap();
    std::fs::write(package.join("__init__.py"), init).unwrap();
    std::fs::File::options()
        .write(true)
        .open(package.join("__init__.py"))
        .unwrap()
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(10))
        .unwrap();
    dir
}

/// What a checkout is: its status, its index file and HEAD; none may change.
fn state(root: &Path) -> (String, Vec<u8>, std::time::SystemTime, String) {
    let index = root.join(".git/index");
    (
        git(root, &["status", "--porcelain=v2", "--branch"]),
        std::fs::read(&index).unwrap(),
        std::fs::metadata(&index).unwrap().modified().unwrap(),
        git(root, &["rev-parse", "HEAD", "--symbolic-full-name", "HEAD"]),
    )
}

/// `verify` of one quick cell, in `dir`, as JSON: (exit, results, stderr).
fn verify(dir: &Path, py: &Py, own: &[&str]) -> (i32, serde_json::Value, String) {
    let out = bin()
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .arg("verify")
        .args(own)
        .args([
            "--python",
            py.arg(),
            "--scenario",
            "three-process,attacher-unlinks",
        ])
        .args(["--start-method", "spawn", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let json =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("no JSON ({e}): {stderr}"));
    (out.status.code().unwrap_or(-1), json, stderr)
}

/// Each case's (scenario, variant, verdict, symptom keys), and the verdict.
fn verdicts(json: &serde_json::Value) -> (Vec<String>, serde_json::Value) {
    let mut rows: Vec<String> = cases(json)
        .iter()
        .map(|c| {
            format!(
                "{} {} {} {:?}",
                c["scenario"],
                c["variant"],
                c["verdict"],
                symptom_keys(c)
            )
        })
        .collect();
    rows.sort();
    (rows, json["verify"]["verdict"].clone())
}

#[test]
fn verify_git_main_judges_the_branch_as_patch_judges_its_diff() {
    let py = any_python();
    let repo = checkout(&py);
    let root = repo.path();
    let before = state(root);

    // three-process shows the fix, attacher-unlinks what create-only
    // breaks: two verdicts to agree on.
    let (code, by_git, err) = verify(root, &py, &["--git", "main"]);
    assert_ne!(code, 2, "{err}");
    assert_eq!(
        by_git["verify"]["candidate"], "patch:gh-82300-fix",
        "named after the branch"
    );
    // Staged (the NEWS entry) and unstaged (the fix) changes are read;
    // the untracked module is said, not silently missed; main's later
    // commit is not in it (it would be a deletion, which is refused).
    assert!(
        err.contains("note: --git main: skipping Misc/NEWS.d/next/Library/gh-82300.rst"),
        "{err}"
    );
    assert!(
        err.contains("untracked, so not in the diff: Lib/multiprocessing/helper.py"),
        "{err}"
    );

    // Before the long way round below: `git diff` itself may refresh the
    // index (it ignores GIT_OPTIONAL_LOCKS).
    assert_eq!(state(root), before, "the checkout changed");
    assert!(!root.join(".git/refs/stash").exists(), "something stashed");

    // The same diff as a file, made the long way round.
    let base = git(root, &["merge-base", "main", "HEAD"]);
    let diff = git(root, &["diff", base.trim()]);
    let file = tempfile::tempdir().unwrap();
    let path = file.path().join("fix.diff");
    std::fs::write(&path, diff).unwrap();
    let (patch_code, by_patch, err) = verify(
        file.path(),
        &py,
        &["--patch", arg(&path), "--name", "gh-82300-fix"],
    );
    assert_eq!(patch_code, code, "{err}");
    assert_eq!(verdicts(&by_git), verdicts(&by_patch));
}

#[test]
fn a_backport_branch_is_read_against_its_own_branch_for_its_range() {
    let py = any_python();
    let repo = checkout(&py);
    let minor = py.minor_str();
    let out = bin()
        .current_dir(std::env::temp_dir())
        .args(["patch", "show", "--git-dir", arg(repo.path())])
        .args([
            "--git",
            &format!("{minor}=backport-{minor}"),
            "--python",
            py.arg(),
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("git diff {minor}...backport-{minor}")),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with('+') && l.contains("create:")),
        "{stdout}"
    );
    // The later commit on main and the fix branch's work are in neither.
    assert!(
        !stdout.contains("later.py") && !stdout.contains("NEWS"),
        "{stdout}"
    );
    // A branch's commits have no untracked files to warn of (the fix
    // branch's helper.py is the working tree's).
    assert!(!stderr.contains("untracked"), "{stderr}");
}

#[test]
fn no_checkout_or_no_such_base_is_one_line_and_exit_2() {
    let py = any_python();
    let outside = tempfile::tempdir().unwrap();
    let repo = checkout(&py);
    for (dir, base, says) in [
        (outside.path(), "main", "is not in a git checkout"),
        (
            repo.path(),
            "nosuchbranch",
            "`nosuchbranch` does not resolve to a commit",
        ),
    ] {
        let out = bin()
            .current_dir(dir)
            // No checkout above the temp dir counts either.
            .env("GIT_CEILING_DIRECTORIES", outside.path().parent().unwrap())
            .args(["verify", "--git", base, "--python", py.arg()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "one line:\n{stderr}");
        assert!(stderr.starts_with("error: --git"), "{stderr}");
        assert!(stderr.contains(says), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}
