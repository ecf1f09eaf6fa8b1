//! Bad input: exit 2 and exactly one line on stderr saying what is wrong,
//! before any case runs (nothing on stdout).

use crate::util::*;

/// Run `args`; assert exit 2, empty stdout and one stderr line containing
/// every word of `mentions`.
fn assert_usage_error(args: &[&str], mentions: &[&str]) {
    let (code, out, err) = run_text(args);
    assert_eq!(code, 2, "{args:?}\nstdout:\n{out}\nstderr:\n{err}");
    assert!(out.is_empty(), "{args:?} printed on stdout:\n{out}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{args:?}: one line on stderr, got:\n{err}");
    for m in mentions {
        assert!(
            lines[0].contains(m),
            "{args:?}: {m:?} not in {:?}",
            lines[0]
        );
    }
}

/// Any real interpreter, so that only the argument under test is wrong.
fn some_python() -> Py {
    any_python()
}

#[test]
fn unknown_scenario() {
    let py = some_python();
    assert_usage_error(
        &["run", "--scenario", "nope", "--python", py.arg()],
        &["nope", "three-process"],
    );
}

#[test]
fn unknown_variant() {
    let py = some_python();
    assert_usage_error(
        &["run", "--variant", "nope", "--python", py.arg()],
        &["nope", "create-only"],
    );
    assert_usage_error(
        &["verify", "--variant", "nope", "--python", py.arg()],
        &["nope"],
    );
}

#[test]
fn zero_jobs() {
    let py = some_python();
    assert_usage_error(&["run", "--jobs", "0", "--python", py.arg()], &["--jobs"]);
}

#[test]
fn zero_timeout() {
    let py = some_python();
    assert_usage_error(
        &["run", "--timeout", "0", "--python", py.arg()],
        &["--timeout"],
    );
}

#[test]
fn a_version_that_is_not_installed() {
    assert_usage_error(&["run", "--python", "3.99"], &["3.99", "list --all"]);
}

#[test]
fn a_file_that_is_not_a_python() {
    assert_usage_error(&["run", "--python", "/etc/passwd"], &["/etc/passwd"]);
}

#[test]
fn a_directory_is_not_a_python() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &["run", "--python", arg(dir.path())],
        &[arg(dir.path()), "directory"],
    );
}

#[test]
fn a_fake_that_prints_garbage_is_not_a_python() {
    let fakes = Fakes::new();
    let garbage = fakes.script("python3", "echo garbage");
    assert_usage_error(&["run", "--python", arg(&garbage)], &[arg(&garbage)]);
}

/// An output whose folder is missing is named with that folder, not with
/// the random name of the temp file that probed it.
#[test]
fn an_output_in_a_missing_folder() {
    let py = some_python();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let json = missing.join("results.json");
    let bundle = missing.join("bundle");
    let folder = format!("{} is not a directory that exists", missing.display());
    assert_usage_error(
        &["run", "--python", py.arg(), "--json", arg(&json)],
        &[&folder],
    );
    assert_usage_error(
        &["report", "--python", py.arg(), "--out", arg(&bundle)],
        &[&folder],
    );
    let (_, _, err) = run_text(&["run", "--python", py.arg(), "--junit", arg(&json)]);
    assert!(!err.contains("at path"), "{err}");
    assert!(!missing.exists());
}

/// A diff of tests alone (or of C code and tests) would judge stock as the
/// fix: refused, with the command that runs its tests against stock.
#[test]
fn a_diff_that_changes_no_multiprocessing_code_is_no_candidate() {
    let py = some_python();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/gh-82300/main.diff"),
    )
    .unwrap();
    let start = example.find("--- a/Lib/test/").unwrap();
    let end = example.find("--- /dev/null").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("tests-only.diff");
    std::fs::write(&diff, &example[start..end]).unwrap();
    for cmd in ["verify", "run", "diff", "report"] {
        let mut args = vec![cmd, "--patch", arg(&diff), "--python", py.arg()];
        let out_dir = dir.path().join("bundle");
        if cmd == "report" {
            args.extend(["--out", arg(&out_dir)]);
        }
        assert_usage_error(
            &args,
            &[
                "changes no code under Lib/multiprocessing/",
                "shmharness cpython-tests --patch",
            ],
        );
        assert!(!out_dir.exists());
    }
}

#[test]
fn a_reversed_patch_range_and_stdin_twice() {
    let py = some_python();
    let diff =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/gh-82300/main.diff");
    let reversed = format!("3.13-3.8={}", diff.display());
    assert_usage_error(
        &["verify", "--patch", &reversed, "--python", py.arg()],
        &["the range is reversed", "3.8-3.13"],
    );
    assert_usage_error(
        &[
            "verify",
            "--patch",
            "-",
            "--patch",
            "3.8-=-",
            "--python",
            py.arg(),
        ],
        &["stdin can be read once"],
    );
}
