//! Issue 3, item 5: CPython's own shared-memory tests against each
//! variant's overlay (`cpython-tests`, `verify --strict`,
//! `run --with-cpython-tests`).
//!
//! These need CPython's own test package (`test._test_multiprocessing`),
//! which Debian ships separately (`libpython3.X-testsuite`), so they are
//! `#[ignore]`d: `.ci/run` (and `cargo test -- --include-ignored`) runs
//! them, and then an interpreter without the package fails them. pyenv's
//! builds and `.ci/newer-pythons`' have it.
//!
//! Counts are exact: the number of shared-memory tests an interpreter has
//! comes from CPython's own runner (`python -m test --list-cases`) and,
//! for the versions README.md names, from README.md; the harness must
//! report that many.

use std::process::Command as Std;

use crate::util::*;

const NEEDS_TESTSUITE: &str =
    "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it";

/// Shared-memory test counts that README.md states ("cpython-tests" table).
const README_COUNTS: [(&str, u64); 6] = [
    ("3.8.18", 8),
    ("3.9.18", 8),
    ("3.10.13", 13),
    ("3.11.7", 13),
    ("3.12.1", 13),
    ("3.13.0", 16),
];

fn has_testsuite(py: &Py) -> bool {
    Std::new(&py.exe)
        .args(["-I", "-c", "import test._test_multiprocessing"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// An interpreter of `minor` with CPython's test package, else the
/// nearest one that has it (same rules as `python`).
fn with_testsuite(minor: &str) -> Py {
    let want = python(minor);
    if has_testsuite(&want) {
        return want;
    }
    assert!(
        expected() != Expected::Ci,
        "CI=true and CPython {} has no test package",
        want.version
    );
    let mut others: Vec<Py> = all_pythons()
        .into_iter()
        .filter(|p| !p.free_threaded && !p.debug && has_testsuite(p))
        .collect();
    others.sort_by_key(|p| (p.family() != want.family(), p.minor.abs_diff(want.minor)));
    let got = others.into_iter().next().unwrap_or_else(|| {
        panic!(
            "no CPython with its test package (test._test_multiprocessing) here: {NEEDS_TESTSUITE}"
        )
    });
    eprintln!(
        "note: using {} (the first with a test package)",
        got.version
    );
    got
}

/// How many shared-memory tests `py` has, from CPython's own runner and,
/// where it states one, README.md (they must agree).
fn expected_count(py: &Py) -> u64 {
    let out = Std::new(&py.exe)
        .args([
            "-m",
            "test",
            "--list-cases",
            "test_multiprocessing_forkserver",
        ])
        .args(["-m", "*SharedMemory*", "-m", "*shared_memory*"])
        .output()
        .unwrap();
    let listed = out.status.success().then(|| {
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with("test."))
            .count() as u64
    });
    let readme = README_COUNTS
        .iter()
        .find(|(v, _)| *v == py.version)
        .map(|(_, n)| *n);
    match (listed, readme) {
        (Some(l), Some(r)) => {
            assert_eq!(l, r, "{}: --list-cases and README.md disagree", py.version);
            l
        }
        (Some(n), None) | (None, Some(n)) => n,
        (None, None) => panic!(
            "{}: cannot tell how many shared-memory tests it has (no test_multiprocessing_forkserver, not in README.md)",
            py.version
        ),
    }
}

fn runs(args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let (code, json) = run_json(args);
    (code, json.as_array().expect("a JSON array of runs").clone())
}

fn find<'a>(runs: &'a [serde_json::Value], variant: &str) -> &'a serde_json::Value {
    runs.iter()
        .find(|r| r["variant"] == variant)
        .unwrap_or_else(|| panic!("no {variant} run in {runs:#?}"))
}

fn failing(run: &serde_json::Value) -> Vec<&str> {
    run["failing"]
        .as_array()
        .map(|a| a.iter().map(|f| f["name"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn stock_and_create_only_pass_every_shared_memory_test_below_3_13() {
    // Below 3.13 no CPython test expects an attacher to register, so the
    // seed's fix passes all of them. README.md: 13 on 3.10.13.
    let py = with_testsuite("3.10");
    let want = expected_count(&py);
    let (code, runs) = runs(&[
        "cpython-tests",
        "--variant",
        "stock,create-only",
        "--python",
        py.arg(),
    ]);
    assert_eq!(runs.len(), 2);
    let stock = find(&runs, "stock");
    assert_eq!(stock["verdict"], "pass", "{stock:#}");
    assert_eq!(stock["ran"], want, "{stock:#}");
    assert_eq!(stock["passed"], want, "{stock:#}");
    let cand = find(&runs, "create-only");
    if py.has_track() {
        // 3.13+: test_shared_memory_tracking disagrees (see the next test).
        assert_eq!(code, 1, "{runs:#?}");
        assert_eq!(failing(cand), ["test_shared_memory_tracking"], "{cand:#}");
    } else {
        assert_eq!(code, 0, "{runs:#?}");
        assert_eq!(cand["verdict"], "pass", "{cand:#}");
        assert_eq!(cand["ran"], want, "{cand:#}");
        assert_eq!(cand["passed"], want, "{cand:#}");
        assert_eq!(cand["failed"], 0, "{cand:#}");
        assert_eq!(cand["errors"], 0, "{cand:#}");
    }
    assert!(
        stock["method"]
            .as_str()
            .unwrap()
            .contains("test_multiprocessing_forkserver")
            || stock["method"]
                .as_str()
                .unwrap()
                .contains("install_tests_in_module_dict"),
        "{stock:#}"
    );
    // The overlay, not the installed package, is what the tests imported.
    let overlay = cand["multiprocessing"].as_str().unwrap().to_string();
    assert!(overlay.contains("overlay-"), "{overlay}");
    assert_ne!(overlay, arg(&py.multiprocessing));
    assert_eq!(stock["multiprocessing"], arg(&py.multiprocessing));
}

#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn create_only_fails_test_shared_memory_tracking_from_3_13() {
    let py = with_testsuite("3.13");
    let want = expected_count(&py);
    let (code, runs) = runs(&[
        "cpython-tests",
        "--variant",
        "stock,create-only",
        "--python",
        py.arg(),
    ]);
    let stock = find(&runs, "stock");
    assert_eq!(stock["verdict"], "pass", "{stock:#}");
    assert_eq!(stock["ran"], want, "{stock:#}");
    let cand = find(&runs, "create-only");
    if !py.has_track() {
        // No such test before 3.13: nothing to disagree with.
        eprintln!(
            "note: {} predates test_shared_memory_tracking; checking that create-only passes all",
            py.version
        );
        assert_eq!(code, 0, "{runs:#?}");
        assert_eq!(cand["passed"], want, "{cand:#}");
        assert!(failing(cand).is_empty(), "{cand:#}");
        return;
    }
    assert_eq!(code, 1, "{runs:#?}");
    assert_eq!(cand["verdict"], "fail", "{cand:#}");
    // Proof the overlay reached script_helper's subprocess (no -I): with the
    // stock stdlib there, this test would pass for the wrong reason.
    assert_eq!(failing(cand), ["test_shared_memory_tracking"], "{cand:#}");
    let n = |r: &serde_json::Value, k: &str| r[k].as_u64().unwrap();
    assert!(n(cand, "failed") >= 1, "{cand:#}");
    assert_eq!(
        n(cand, "passed") + n(cand, "failed") + n(cand, "errors"),
        n(stock, "passed"),
        "{cand:#}"
    );

    // The table says the same in words.
    let out = bin()
        .args(["cpython-tests", "--variant", "create-only", "--python"])
        .arg(&py.exe)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(
        table.contains("failed (test_shared_memory_tracking)"),
        "{table}"
    );
}

#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn verify_strict_shows_the_cpython_test_disagreement() {
    let py = with_testsuite("3.13");
    // The unlink guard fails CPython's SharedMemoryManager test on every
    // version, and from 3.13 test_shared_memory_tracking too.
    let test = if py.has_track() {
        "test_shared_memory_tracking"
    } else {
        "test_shared_memory_SharedMemoryManager_reuses_resource_tracker"
    };
    let out = bin()
        .args([
            "verify",
            "--strict",
            "--variant",
            "create-only+unlink-guard",
            "--scenario",
            "three-process",
            "--python",
        ])
        .arg(&py.exe)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains(&format!("cpython-tests: {test} fails")))
        .unwrap_or_else(|| panic!("no evidence line for {test}:\n{stdout}"));
    assert!(line.contains("(did not fail on stock)"), "{line}");
    assert!(line.contains("AssertionError"), "{line}");
    // Without --strict the same candidate passes this scenario.
    let out = bin()
        .args([
            "verify",
            "--variant",
            "create-only+unlink-guard",
            "--scenario",
            "three-process",
            "--python",
        ])
        .arg(&py.exe)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn run_with_cpython_tests_adds_the_counts_to_the_results() {
    let py = with_testsuite("3.10");
    let want = expected_count(&py);
    let (code, json) = run_json(&[
        "run",
        "--with-cpython-tests",
        "--variant",
        "stock",
        "--python",
        py.arg(),
    ]);
    assert_eq!(code, 0, "{json:#}");
    let tests = json["cpython_tests"].as_array().expect("cpython_tests");
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0]["verdict"], "pass", "{json:#}");
    assert_eq!(tests[0]["ran"], want, "{json:#}");
    assert_eq!(tests[0]["passed"], want, "{json:#}");
    // Without the flag the field is absent, and the run is as right.
    let (code, json) = run_json(&["run", "--variant", "stock", "--python", py.arg()]);
    assert_eq!(code, 0, "{json:#}");
    assert!(json.get("cpython_tests").is_none());
}

#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn report_with_cpython_tests_puts_the_counts_in_report_md() {
    // 3.13+: create-only fails test_shared_memory_tracking there.
    let py = with_testsuite("3.13");
    let want = expected_count(&py);
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bundle");
    let out = bin()
        .args([
            "report",
            "--quiet",
            "--with-cpython-tests",
            "--scenario",
            "three-process",
        ])
        .args(["--variant", "stock,create-only", "--python"])
        .arg(&py.exe)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    let code = out.status.code();
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("## CPython's own shared-memory tests"), "{md}");
    // The counts table, not the verdict's line that cites them.
    let (_, counts) = md
        .split_once("## CPython's own shared-memory tests")
        .unwrap();
    let row = counts
        .lines()
        .find(|l| l.starts_with(&format!("| {} ", py.version)) && l.contains("passed"))
        .unwrap_or_else(|| panic!("no counts row:\n{md}"));
    // The built-in create-only is shown for comparison: its test failure
    // (test_shared_memory_tracking, 3.13+) is in the report, not the exit.
    assert_eq!(code, Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let passed_runs = if py.has_track() { 1 } else { 2 };
    assert_eq!(
        row.matches(&format!("{want} passed")).count(),
        passed_runs,
        "{row}"
    );
}

/// The code hunks of the gh-82300 example fix for `py`'s branch, without
/// its test.
fn fix_code_hunks(py: &Py) -> String {
    let branch = match py.minor {
        8 | 9 => "3.9",
        10..=12 => "3.12",
        _ => "main",
    };
    let fix = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("docs/examples/gh-82300/{branch}.diff")),
    )
    .unwrap();
    fix[..fix.find("--- a/Lib/test/").unwrap()].to_string()
}

/// One hunk of a PR's test change: lines added just before and just after
/// a test's `def` line, in `_test_multiprocessing.py`.
struct Hunk<'a> {
    test: &'a str,
    before: &'a [&'a str],
    after: &'a [&'a str],
}

/// `verify --strict --scenario three-process` on 3.12 with a PR of the
/// gh-82300 code fix and these test hunks (in file order). The PR is
/// `NAME.diff` in `dir`; its exit code and stdout.
fn verify_pr_with_test_hunks(
    dir: &std::path::Path,
    name: &str,
    hunks: &[Hunk],
) -> (Option<i32>, String) {
    let py = with_testsuite("3.12");
    let code = &fix_code_hunks(&py);
    let tests = std::fs::read_to_string(
        py.multiprocessing
            .parent()
            .unwrap()
            .join("test/_test_multiprocessing.py"),
    )
    .unwrap();
    let mut text = format!(
        "{code}--- a/Lib/test/_test_multiprocessing.py\n+++ b/Lib/test/_test_multiprocessing.py\n"
    );
    // Where the `def` is before the PR, and after its earlier hunks.
    let mut added = 0;
    for h in hunks {
        let def = format!("    def {}(self):", h.test);
        let old = tests.lines().position(|l| l == def).unwrap() + 1;
        let lines = h.before.len() + 1 + h.after.len();
        text += &format!("@@ -{old},1 +{},{lines} @@\n", old + added);
        for l in h.before {
            text += &format!("+{l}\n");
        }
        text += &format!(" {def}\n");
        for l in h.after {
            text += &format!("+{l}\n");
        }
        added += lines - 1;
    }
    let diff = dir.join(format!("{name}.diff"));
    std::fs::write(&diff, text).unwrap();
    let out = bin()
        .args(["verify", "--strict", "--scenario", "three-process"])
        .args(["--patch", arg(&diff), "--python", py.arg()])
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// `verify --strict` with a PR that fixes the code and skips a test away
/// (`@unittest.skip` on a test that passes on stock): fewer passed, more
/// skipped than stock is a FAIL, not an OK with "2 skipped".
#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn verify_strict_fails_a_pr_that_skips_a_test_away() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout) = verify_pr_with_test_hunks(
        dir.path(),
        "skips",
        &[Hunk {
            test: "test_shared_memory_basics",
            before: &["    @unittest.skip(\"skipped away\")"],
            after: &[],
        }],
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("more tests skipped under patch:skips than on stock")
            || stdout.contains("more test skipped under patch:skips than on stock"),
        "{stdout}"
    );
}

/// A test that fails once under a PR and passes when run again (a flaky
/// test, here made so by the PR's own test hunk: it fails while a marker
/// file is absent, and makes it) blames nothing: `verify --strict` runs a
/// candidate's tests again when one failed where stock's did not, and
/// gives no verdict (exit 2), never FAILED, and never a pass.
#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn a_test_that_fails_once_under_a_pr_is_neither_blamed_nor_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("failed-once");
    let (code, stdout) = verify_pr_with_test_hunks(
        dir.path(),
        "flaky",
        &[Hunk {
            test: "test_shared_memory_basics",
            before: &[],
            after: &[
                &format!("        if not os.path.exists({marker:?}):"),
                &format!("            open({marker:?}, \"w\").close()"),
                "            self.fail(\"fails once\")",
            ],
        }],
    );
    assert!(marker.exists(), "the test never ran: {stdout}");
    assert_eq!(code, Some(2), "{stdout}");
    assert!(
        stdout.contains(
            "flaky here: test_shared_memory_basics failed, then passed when the tests ran again"
        ),
        "{stdout}"
    );
    assert!(!stdout.contains("FAILED"), "{stdout}");
}

/// A PR that breaks a test only when an earlier test has run in the same
/// process (state left behind: here a flag the earlier test sets) fails it
/// every time the tests run together, though it passes alone: FAILED (exit
/// 1), never called flaky. The tests are run again as a whole for that.
#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn a_test_a_pr_breaks_after_another_is_failed_not_called_flaky() {
    let dir = tempfile::tempdir().unwrap();
    // test_shared_memory_basics runs before test_shared_memory_recreate
    // (unittest sorts a class's tests by name).
    let (code, stdout) = verify_pr_with_test_hunks(
        dir.path(),
        "state",
        &[
            Hunk {
                test: "test_shared_memory_basics",
                before: &[],
                after: &["        shared_memory._shmharness_seen = True"],
            },
            Hunk {
                test: "test_shared_memory_recreate",
                before: &[],
                after: &[
                    "        if getattr(shared_memory, \"_shmharness_seen\", False):",
                    "            self.fail(\"broken by an earlier test\")",
                ],
            },
        ],
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains("test_shared_memory_recreate fails under patch:state"),
        "{stdout}"
    );
    assert!(!stdout.contains("flaky"), "{stdout}");
}

/// Issue 18, item 2: a PR's test hunk that does not fit a branch's
/// `_test_multiprocessing.py` (3.14's decorator above the test, say) must
/// not fall back to the stock tests under the patch's name: that would
/// blame the fix for a test it changed. It is an error on that interpreter
/// (exit 2) that names the hunk and says to give the branch its own patch,
/// in `cpython-tests`, and before any case in `verify --strict` and
/// `report`.
#[test]
#[ignore = "needs CPython's own test package (Debian: libpython3.X-testsuite); .ci/run runs it"]
fn a_test_hunk_that_does_not_apply_is_an_error_never_the_stock_tests() {
    let py = with_testsuite("3.12");
    let code = &fix_code_hunks(&py);
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("misfit.diff");
    // Context that this branch's test file does not have.
    std::fs::write(
        &diff,
        format!(
            "{code}--- a/Lib/test/_test_multiprocessing.py\n+++ b/Lib/test/_test_multiprocessing.py\n@@ -100,2 +100,3 @@\n     @resource_tracker_format_subtests_not_here\n+    # the PR's change\n     def test_shared_memory_tracking_not_here(self):\n"
        ),
    )
    .unwrap();
    let way_out = format!("--patch {}-=FILE", py.version);
    for cmd in [
        vec!["cpython-tests"],
        vec!["verify", "--strict", "--scenario", "three-process"],
        vec![
            "report",
            "--scenario",
            "three-process",
            "--out",
            arg(&dir.path().join("bundle")),
        ],
    ] {
        let out = bin()
            .args(&cmd)
            .args(["--patch", arg(&diff), "--python", py.arg()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(
            err.contains("_test_multiprocessing.py hunk #1") && err.contains(&way_out),
            "{cmd:?}: {err}"
        );
        // No test ran under the patch's name, and no case before the error.
        assert!(
            !err.contains(" cases on ") && !err.contains("shared-memory tests:"),
            "{cmd:?}: {err}"
        );
        assert!(
            !dir.path().join("bundle").exists(),
            "no bundle without a verdict"
        );
    }
}
