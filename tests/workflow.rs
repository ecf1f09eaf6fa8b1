//! Issue 11: a fix the way CPython developers write it. PR diffs (with
//! their Lib/test hunks and NEWS entries), one patch per branch, stdin and
//! process substitution, venvs, full clap messages, and a report that fits
//! in an issue. Each test names the complaint it guards.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::util::{Py, arg, assert_segments_gone, bin, python, run_text};

/// The PR-shaped example fix, one diff per branch layout.
fn example(branch: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("docs/examples/gh-82300/{branch}.diff"))
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn branch_of(py: &Py) -> &'static str {
    match py.minor {
        ..=9 => "3.9",
        10..=12 => "3.12",
        _ => "main",
    }
}

/// A branch whose diff does not apply to `py`'s stdlib (each branch's
/// register call reads differently).
fn foreign_branch(py: &Py) -> &'static str {
    match branch_of(py) {
        "main" => "3.12",
        "3.12" => "main",
        _ => "3.12",
    }
}

/// A diff that does not apply to `b`, and the interpreters to run it on:
/// `a` too when it is on another branch layout (the diff is then `a`'s and
/// applies there). With one CPython on the machine, `python()` gives the
/// same one for every version: then `b` alone, with a foreign branch's diff.
/// Returns the diff's branch, the interpreters, and `cmd --patch DIFF
/// --python ...` for them.
fn not_for(cmd: &str, a: &Py, b: &Py) -> (&'static str, Vec<Py>, Vec<String>) {
    let (branch, pys) = if branch_of(a) == branch_of(b) {
        (foreign_branch(b), vec![b.clone()])
    } else {
        (branch_of(a), vec![a.clone(), b.clone()])
    };
    let mut args = vec![
        cmd.to_string(),
        "--patch".into(),
        arg(&example(branch)).to_string(),
    ];
    for p in &pys {
        args.extend(["--python".into(), p.arg().to_string()]);
    }
    (branch, pys, args)
}

/// "A pull-request diff that also touches Lib/test/_test_multiprocessing.py
/// is refused": now its Lib/test hunk is kept for the tests, its NEWS entry
/// skipped with one line.
#[test]
fn a_pr_diff_with_a_test_and_a_news_entry_is_taken() {
    let py = python("3.12");
    let diff = example(branch_of(&py));
    let (code, out, err) =
        run_text(&["patch", "show", "--patch", arg(&diff), "--python", py.arg()]);
    assert_eq!(code, 0, "{out}{err}");
    let notes: Vec<&str> = err.lines().filter(|l| l.contains("skipping")).collect();
    assert_eq!(notes.len(), 1, "{err}");
    assert!(notes[0].contains("Misc/NEWS.d/"), "{err}");
    assert!(out.contains("if create:"), "{out}");
}

/// "A git diff made on 3.12 fails on 3.8, 3.9 and 3.13 ... the same error 8
/// times per interpreter": one line per interpreter, with the way out.
#[test]
fn a_diff_for_one_branch_fails_once_per_other_branch_with_the_way_out() {
    // `b` is the branch the diff was not made on; `a`, when it is another
    // interpreter of the diff's branch, runs it for real beside.
    let (a, b) = (python("3.12"), python("3.8"));
    let (branch, pys, mut args) = not_for("run", &a, &b);
    args.extend(["--scenario", "all", "--start-method", "spawn"].map(String::from));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_text(&args);
    assert_eq!(code, 2, "{out}{err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(" hunk #")).collect();
    assert_eq!(lines.len(), 1, "once, not per scenario:\n{err}");
    let line = lines[0];
    assert!(line.contains(&b.version), "{line}");
    assert!(line.contains("shared_memory.py hunk #1"), "{line}");
    assert!(
        line.contains(" does not match: closest at line ")
            && line.contains("where the diff expects `"),
        "{line}"
    );
    if branch_of(&b) == "3.9" && branch == "3.12" {
        // Where the branches diverge: 3.8's register call is two lines.
        assert!(
            line.contains("reads `from .resource_tracker import register`")
                && line
                    .contains("expects `resource_tracker.register(self._name, \"shared_memory\")`"),
            "{line}"
        );
    }
    assert!(
        line.contains(&format!(
            "shmharness patch show --variant create-only --python {}",
            b.minor_str()
        )),
        "{line}"
    );
    // A known "no verdict" is said before any case runs: no case line, no
    // summary, and the way on.
    assert!(out.is_empty(), "{out}");
    assert!(!err.contains(" cases on "), "cases ran:\n{err}");
    if pys.len() == 2 {
        assert!(
            err.contains("no case ran: the patch does not apply to 1 of the 2 interpreters")
                && err.contains("--keep-going"),
            "{err}"
        );
    } else {
        // It applies nowhere: the error is the whole answer, one line.
        assert_eq!(
            err.lines().filter(|l| !l.starts_with("note:")).count(),
            1,
            "{err}"
        );
    }
}

/// "--patch cannot be repeated, and cannot be given per version": one
/// candidate, one patch per branch, one verdict.
#[test]
fn one_patch_per_branch_is_one_candidate_with_one_verdict() {
    // One per branch layout where this machine has them (the same
    // interpreter once).
    let mut pys: Vec<Py> = Vec::new();
    for p in [python("3.8"), python("3.12"), python("3.15")] {
        if !pys.iter().any(|q| q.exe == p.exe) {
            pys.push(p);
        }
    }
    let mut cmd = bin();
    cmd.args([
        "verify",
        "--format",
        "json",
        "--scenario",
        "three-process,attacher-unlinks",
    ]);
    for (range, branch) in [("3.8-3.9", "3.9"), ("3.10-3.12", "3.12"), ("3.13-", "main")] {
        cmd.arg("--patch")
            .arg(format!("{range}={}", example(branch).display()));
    }
    for p in &pys {
        cmd.args(["--python", p.arg()]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = &json(&out)["verify"];
    assert_eq!(
        v["candidate"], "patch:gh-82300",
        "named after the patches' folder"
    );
    assert_eq!(v["verdict"], "pass");
    let verdicts: Vec<&str> = v["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts.len(), pys.len());
    assert!(verdicts.iter().all(|v| *v == "pass"), "{v:#}");
}

/// "An interpreter that no range covers is n/a with that reason."
#[test]
fn an_interpreter_no_range_covers_is_na_with_the_reason() {
    let (covered, other) = (python("3.12"), python("3.8"));
    // The range names `covered`'s minor, or one next to `other`'s when
    // this machine has no other minor version.
    let pys = if covered.minor != other.minor {
        vec![covered.clone(), other.clone()]
    } else {
        vec![other.clone()]
    };
    let range = if pys.len() == 2 {
        covered.minor_str().to_string()
    } else {
        format!("3.{}", other.minor + 1)
    };
    let mut cmd = bin();
    cmd.args(["verify", "--format", "json", "--scenario", "three-process"])
        .arg("--patch")
        .arg(format!(
            "{range}={}",
            example(branch_of(&covered)).display()
        ));
    for p in &pys {
        cmd.args(["--python", p.arg()]);
    }
    let out = cmd.output().unwrap();
    let v = json(&out)["verify"].clone();
    // Another interpreter judged: the n/a one does not change the verdict.
    // None: nothing to judge, no verdict (exit 2), never a pass.
    let (code, verdict) = if pys.len() == 2 {
        (0, "pass")
    } else {
        (2, "error")
    };
    assert_eq!(
        out.status.code(),
        Some(code),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(v["verdict"], verdict, "{v:#}");
    let na = v["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["interpreter"] == other.version.as_str())
        .expect("the uncovered interpreter");
    assert_eq!(na["verdict"], "n/a");
    assert_eq!(
        na["reasons"][0],
        format!("no --patch covers Python {}", other.minor_str())
    );
}

/// "`git diff | shmharness verify --patch -` fails" and "`--patch <(git
/// diff)` names the variant patch:63".
#[test]
fn a_patch_from_stdin_or_a_pipe_is_read_and_named() {
    let py = python("3.12");
    let diff = example(branch_of(&py));
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("shmharness"))
        .env("NO_COLOR", "1")
        .env("XDG_CACHE_HOME", crate::util::test_cache())
        .args([
            "verify",
            "--format",
            "json",
            "--scenario",
            "three-process",
            "--patch",
            "-",
            "--python",
            py.arg(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&std::fs::read(&diff).unwrap())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["verify"]["candidate"], "patch:stdin");

    let script = format!(
        "exec '{}' verify --format json --scenario three-process --python '{}' --patch <(cat '{}')",
        assert_cmd::cargo::cargo_bin("shmharness").display(),
        py.arg(),
        diff.display()
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env("XDG_CACHE_HOME", crate::util::test_cache())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(json(&out)["verify"]["candidate"], "patch:pipe");
}

/// "`diff --patch fix.diff` on an interpreter where the patch does not
/// apply shows a diff against an empty transcript and exits 0"; "`diff
/// --variant all` prints stock vs stock".
#[test]
fn diff_never_shows_a_transcript_for_a_patch_that_did_not_apply() {
    let (a, b) = (python("3.12"), python("3.8"));
    let (_, pys, mut args) = not_for("diff", &a, &b);
    // Run where it applies: the cells where it does not are errors.
    args.push("--keep-going".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = run_text(&args);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains(&format!("patch does not apply to {}", b.version)),
        "{err}"
    );
    if pys.len() == 1 {
        // It applies nowhere: the error line and nothing else.
        assert!(out.is_empty(), "{out}");
    } else {
        let section = out
            .split("== ")
            .find(|s| s.starts_with(&b.version))
            .unwrap_or_else(|| panic!("no section for {}:\n{out}", b.version));
        assert!(
            section.contains("error:") && !section.contains("+++"),
            "{section}"
        );
    }
    for bad in ["all", "stock"] {
        let (code, _, err) = run_text(&["diff", "--variant", bad, "--python", a.arg()]);
        assert_eq!(code, 2, "{bad}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// "main.rs keeps only the first line of clap's message", and names that
/// are almost right get the closest one.
#[test]
fn errors_are_whole_and_suggest_the_name_meant() {
    let cases: [(&[&str], &str); 6] = [
        (&["report"], "--out <DIR>"),
        (
            &["run", "--format", "yaml"],
            "[possible values: table, json, markdown]",
        ),
        (
            &["run", "--varient", "x"],
            "a similar argument exists: '--variant'",
        ),
        (
            &["run", "--variant", "create_only"],
            "did you mean `create-only`?",
        ),
        (
            &["run", "--scenario", "attacher-unlink"],
            "did you mean `attacher-unlinks`?",
        ),
        (&["run", "--python", "3.8-3.7"], "the range is reversed"),
    ];
    for (args, needle) in cases {
        let (code, _, err) = run_text(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: one line:\n{err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// "`run --python venv/bin/python` runs the base interpreter ... With a venv
/// active, `list` does not show it."
#[test]
fn a_venv_runs_as_itself_and_is_found_when_active() {
    let py = python("3.12");
    let dir = tempfile::tempdir().unwrap();
    let venv = dir.path().join("venv");
    let made = std::process::Command::new(&py.exe)
        .args(["-m", "venv", "--without-pip"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let exe = venv.join("bin/python");
    let out = bin()
        .args([
            "run",
            "--format",
            "json",
            "--variant",
            "stock",
            "--python",
            arg(&exe),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let j = json(&out);
    let i = &j["interpreters"][0];
    assert_eq!(i["source"], "venv");
    assert_eq!(i["version"], py.version.as_str());
    let real_venv = std::fs::canonicalize(&venv).unwrap();
    assert!(
        i["executable"]
            .as_str()
            .unwrap()
            .starts_with(arg(&real_venv)),
        "{i:#}"
    );
    assert_eq!(i["prefix"], arg(&real_venv), "sys.prefix is the venv's");
    // Active venv: a discovery source of its own.
    let out = bin()
        .env("VIRTUAL_ENV", &venv)
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    let listed = json(&out);
    assert!(
        listed["interpreters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["source"] == "venv"),
        "{listed:#}"
    );
}

/// "report.md of 3,512 lines and 183 KB ... The verdict first appears at
/// line 104 ... roles.py not in the bundle ... repro.py always applies `if
/// create:`".
#[test]
fn the_report_fits_in_an_issue_and_opens_with_the_answer() {
    let pys = [python("3.8"), python("3.12"), python("3.15")];
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bundle");
    let mut cmd = bin();
    // CPython's tests are left out here (their verdict depends on which
    // branches the machine has); the headline must then say so.
    cmd.args([
        "report",
        "--quiet",
        "--no-cpython-tests",
        "--out",
        arg(&out_dir),
    ])
    .args([
        "--scenario",
        "three-process,attacher-unlinks,family",
        "--start-method",
        "spawn",
    ]);
    for p in &pys {
        cmd.args(["--python", p.arg()]);
    }
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(report.len() < 60_000, "{} bytes", report.len());
    let first: Vec<&str> = report.lines().take(20).collect();
    assert!(
        first.iter().any(
            |l| l.contains("verify: `create-only+lenient-tracker` fixes the bug")
                && l.contains("CPython's own tests not run (--no-cpython-tests)")
        ),
        "{}",
        first.join("\n")
    );
    let summary = std::fs::read_to_string(out_dir.join("summary.md")).unwrap();
    assert!(
        summary.len() < 10_000 && summary.contains("**verify:"),
        "{summary}"
    );
    assert!(out_dir.join("roles.py").is_file());
    let transcripts = walk(&out_dir.join("transcripts"));
    let cited: Vec<String> = transcripts
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .filter(|t| t.contains("roles.py"))
        .collect();
    assert!(
        !cited.is_empty(),
        "some transcript shows a traceback through roles.py"
    );
    assert!(
        cited.iter().all(|t| !t.contains("/roles/roles.py")),
        "temp paths cited"
    );
    let repro = std::fs::read_to_string(out_dir.join("repro.py")).unwrap();
    assert!(
        repro.contains("CANDIDATE = \"create-only+lenient-tracker\""),
        "the report's candidate"
    );
    for p in walk(&out_dir.join("patches")) {
        assert!(
            !p.to_string_lossy().ends_with(".diff.diff"),
            "{}",
            p.display()
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// "`-v` means `--variant` ... help lines run to 195 columns ... Plurals
/// come out wrong: `on all 1 interpreters`, `1 errors`".
#[test]
fn flags_help_and_words_are_the_conventional_ones() {
    let py = python("3.12");
    let (code, _, err) = run_text(&["run", "-v", "--variant", "stock", "--python", py.arg()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("  $ ") && err.contains("roles.py creator"),
        "-v shows command lines:\n{err}"
    );
    assert!(
        err.contains("2 cases on 1 interpreter:") || err.contains("1 case on 1 interpreter:"),
        "{err}"
    );
    let (code, out, _) = run_text(&["-V"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("shmharness "), "{out}");
    let help = bin()
        .env("COLUMNS", "80")
        .args(["report", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("[default: all]"), "{help}");
    assert!(
        help.contains("Aligned columns for a terminal"),
        "--format says what each value means"
    );
    assert!(
        help.lines().all(|l| l.chars().count() <= 80),
        "wrapped to the terminal:\n{help}"
    );
    let (code, out, _) = run_text(&[
        "verify",
        "--python",
        py.arg(),
        "--scenario",
        "three-process",
    ]);
    assert_eq!(code, 0);
    // It never claims what did not run: CPython's tests ran only with
    // --strict.
    assert!(
        out.contains(
            "on the 1 interpreter, nothing worse in its scenarios; CPython's own tests not run (not asked for; --strict runs them)"
        ),
        "{out}"
    );
    let (code, out, _) = run_text(&["completions", "bash"]);
    assert_eq!(code, 0);
    assert!(out.contains("_shmharness()"));
}

/// A candidate whose own code raises in the creator (a typo in `__init__`)
/// ran and failed: FAIL and exit 1, not "could not run" (exit 2), as the
/// same typo in an attacher already was.
#[test]
fn a_candidate_that_breaks_the_creator_fails_it_does_not_error() {
    let py = python("3.15");
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.diff");
    let text = std::fs::read_to_string(example(branch_of(&py)))
        .unwrap()
        .replace("+            if create:", "+            if craete:")
        .replace("and create:", "and craete:");
    assert!(text.contains("craete"));
    std::fs::write(&typo, text).unwrap();
    let (code, out, err) = run_text(&[
        "verify",
        "--patch",
        arg(&typo),
        "--python",
        py.arg(),
        "--scenario",
        "three-process",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!err.contains("could not run"), "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let verdict = &json["verify"]["interpreters"][0];
    assert_eq!(verdict["verdict"], "fail", "{verdict}");
    assert!(
        verdict["reasons"][0]
            .as_str()
            .unwrap()
            .contains("worse than stock: P1 NameError"),
        "{verdict}"
    );
    // __init__ raised after its shm_open made the segment: the run saw
    // that (roles.py's `opened`), and removed it.
    assert_segments_gone(&json);
    // `diff` answers the same way: a case ran and failed is exit 1.
    let (code, out, err) = run_text(&[
        "diff",
        "--patch",
        arg(&typo),
        "--python",
        py.arg(),
        "--scenario",
        "three-process",
    ]);
    assert_eq!(code, 1, "{out}{err}");
}

/// Ranges that cover none of the selected interpreters: no verdict, and the
/// line says so (not "0 of 0 interpreters could not run").
#[test]
fn patches_that_cover_no_selected_interpreter_say_so() {
    let py = python("3.12");
    let covers_none = format!("3.99-={}", example("main").display());
    let (code, out, err) = run_text(&[
        "verify",
        "--patch",
        &covers_none,
        "--python",
        py.arg(),
        "--scenario",
        "three-process",
    ]);
    assert_eq!(code, 2, "{out}{err}");
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with(
            "verify: no verdict on patch:main: n/a on the 1 interpreter (no --patch covers Python"
        ),
        "{out}"
    );
}

/// A report gates on what was proposed: the seed's one-line fix given as a
/// `--patch` fails the report as `verify` fails it (an attacher's unlink
/// leaves the creator's tracker a KeyError), while the same change as the
/// built-in `create-only`, shown for comparison, holds to its expectations.
#[test]
fn a_report_exits_with_the_verdict_on_the_proposed_patch() {
    let py = python("3.12");
    let seed_fix =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("patches/create-only/3.10-3.12.diff");
    let dir = tempfile::tempdir().unwrap();
    let scenarios = ["--scenario", "three-process,attacher-unlinks"];
    let common = ["--quiet", "--no-cpython-tests", "--python", py.arg()];
    let report = |out: &str, extra: &[&str]| {
        bin()
            .arg("report")
            .args(common)
            .args(scenarios)
            .args(extra)
            .arg("--out")
            .arg(dir.path().join(out))
            .output()
            .unwrap()
    };
    let proposed = report("proposed", &["--patch", arg(&seed_fix)]);
    assert_eq!(proposed.status.code(), Some(1), "{proposed:?}");
    let verify = bin()
        .args([
            "verify",
            "--quiet",
            "--python",
            py.arg(),
            "--patch",
            arg(&seed_fix),
        ])
        .args(scenarios)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(1), "{verify:?}");
    let builtin = report("builtin", &["--variant", "stock,create-only"]);
    assert_eq!(builtin.status.code(), Some(0), "{builtin:?}");
}
