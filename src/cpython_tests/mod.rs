//! CPython's own shared-memory tests, run against a variant's overlay.
//!
//! Each interpreter ships `Lib/test/_test_multiprocessing.py`; the tests
//! whose names match `*SharedMemory*` / `*shared_memory*` are the upstream
//! view of what `multiprocessing.shared_memory` must do. Running them with a
//! variant's overlay first on `PYTHONPATH` tells whether a fix agrees with
//! CPython's test suite (on 3.13 the seed's `if create:` does not:
//! `test_shared_memory_tracking` expects an attacher with `track=True` to
//! register).
//!
//! How they run:
//! - `python -m test test_multiprocessing_forkserver -m '*SharedMemory*'
//!   -m '*shared_memory*' -v` when the install has that module;
//! - otherwise (pyenv's 3.11.7 and 3.12.1 lack it) a small runner that calls
//!   `test._test_multiprocessing.install_tests_in_module_dict(globals(),
//!   'forkserver')` and runs unittest with the same name filters.
//!
//! The trap: `test.support.script_helper` starts its subprocesses with `-I`,
//! which ignores `PYTHONPATH`, so they would silently run the stock stdlib
//! and a broken fix would pass. script_helper drops `-I` when `PYTHONHOME`
//! is set, so every run sets `PYTHONHOME` to the interpreter's own base
//! prefix. Before the tests, a check asks a script_helper subprocess where
//! it imports `multiprocessing` from; a run whose processes do not all use
//! the variant's package is an error, never a result.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Deserialize;

mod parse;

use crate::contract::{Interpreter, TestRun, Verdict};
use crate::host::proc::{Running, Spec};
use crate::overlay::variant::Variant;
use crate::overlay::{self, Overlay};
use crate::run::Overlays;

/// The name filters, as regrtest's `-m` and unittest's `-k` take them.
pub const FILTERS: [&str; 2] = ["*SharedMemory*", "*shared_memory*"];

/// Least time one test run gets inside `verify --strict` and `run
/// --with-cpython-tests` (whose `--timeout` is sized for scenario
/// processes): a run takes seconds, but a loaded machine needs room.
pub const MIN_TIMEOUT: Duration = Duration::from_secs(300);

/// The helper script: `info`, `where` and `run` modes (see each function).
const SCRIPT: &str = include_str!("../../pyscenarios/cpython_tests.py");

fn empty(interp: &Interpreter, variant: &Variant, verdict: Verdict, reason: String) -> TestRun {
    TestRun::empty(&interp.id, &variant.name, verdict, reason)
}

/// What the `info` probe says about an interpreter's install.
#[derive(Debug, Clone, Deserialize)]
struct Info {
    base_prefix: String,
    base_exec_prefix: String,
    test_multiprocessing: bool,
    forkserver_module: bool,
}

/// Overlays a scenario run already built, `[interpreter][variant]`; the
/// tests reuse them instead of copying and compiling the package again.
pub type Prebuilt<'a> = &'a Overlays;

/// Why the tests could not run at all (each run that could not is a
/// `TestRun` with verdict `error` instead).
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("cannot create a temp dir: {0} (check TMPDIR)")]
    TempDir(#[from] std::io::Error),
    #[error("interrupted")]
    Interrupted,
}

/// The tests for a plan's interpreters and variants (`run
/// --with-cpython-tests`, `verify --strict`, `report --with-cpython-tests`),
/// on the overlays the scenario run built, with at least `MIN_TIMEOUT`.
pub fn for_plan(plan: &crate::run::Plan, overlays: Prebuilt) -> Result<Vec<TestRun>, SuiteError> {
    run_all(
        &plan.interpreters,
        &plan.variants,
        plan.jobs,
        plan.timeout.max(MIN_TIMEOUT),
        Some(overlays),
    )
}

/// Run the tests for every interpreter x variant on `jobs` workers, in
/// interpreter-major order (`runs[i * variants.len() + v]`). Overlays not
/// `prebuilt` are built under a temp dir removed on return.
pub fn run_all(
    interpreters: &[Interpreter],
    variants: &[Variant],
    jobs: usize,
    timeout: Duration,
    prebuilt: Option<Prebuilt>,
) -> Result<Vec<TestRun>, SuiteError> {
    let dir = tempfile::Builder::new()
        .prefix("shmharness-cpython-tests-")
        .tempdir()?;
    crate::host::ledger::open();
    crate::host::ledger::note_dir(dir.path());
    let script = dir.path().join("cpython_tests.py");
    std::fs::write(&script, SCRIPT)?;
    let infos = crate::host::pool::map(interpreters.len(), jobs, |i| {
        probe_info(&interpreters[i], &script, timeout)
    });
    let pairs = crate::run::pairs(interpreters.len(), variants.len());
    // Run `pairs[n]`'s tests under `root`.
    let one = |n: usize, root: &Path| {
        let (i, v) = pairs[n];
        let info = infos[i].as_ref()?;
        Some(run_one(
            &interpreters[i],
            &variants[v],
            info,
            prebuilt.map(|p| &p[i][v]),
            &script,
            root,
            timeout,
        ))
    };
    let runs = crate::host::pool::map(pairs.len(), jobs, |n| one(n, dir.path()));
    if crate::host::proc::cancelled() {
        return Err(SuiteError::Interrupted);
    }
    let mut runs = runs
        .into_iter()
        .map(Option::flatten)
        .collect::<Option<Vec<_>>>()
        .ok_or(SuiteError::Interrupted)?;
    // Tests that failed are run again (stock's too: a test that failed
    // once on stock would excuse a candidate that always fails it), in a
    // fresh dir; only a failure that repeats counts.
    let again_root = dir.path().join("again");
    std::fs::create_dir(&again_root)?;
    let suspects = suspects(&runs);
    let again = crate::host::pool::map(suspects.len(), jobs, |k| {
        let (n, _) = &suspects[k];
        one(*n, &again_root)
    });
    if crate::host::proc::cancelled() {
        return Err(SuiteError::Interrupted);
    }
    for ((n, names), again) in suspects.iter().zip(again) {
        let again = again.flatten().ok_or(SuiteError::Interrupted)?;
        confirm(&mut runs[*n], names, &again);
    }
    Ok(runs)
}

/// Runs (by index into `runs`) where a test failed, and those tests'
/// names, each once.
fn suspects(runs: &[TestRun]) -> Vec<(usize, Vec<String>)> {
    runs.iter()
        .enumerate()
        .filter(|(_, r)| r.verdict == Verdict::Fail)
        .filter_map(|(n, r)| {
            let mut names: Vec<String> = Vec::new();
            for f in &r.failing {
                if !names.contains(&f.name) {
                    names.push(f.name.clone());
                }
            }
            (!names.is_empty()).then_some((n, names))
        })
        .collect()
}

/// Fold `again`, the same tests run again, into `run`, where `names`
/// failed: a test that fails again stays blamed; one that passes in the
/// same tests run again is flaky here: it moves from `failing` to `flaky`
/// and blames nothing, and a run left with no failure that repeated has no
/// verdict (error: run again), never a pass. A second run that did not
/// run the same number of tests confirms nothing.
fn confirm(run: &mut TestRun, names: &[String], again: &TestRun) {
    let comparable = match again.verdict {
        Verdict::Pass | Verdict::Fail if again.ran == run.ran => None,
        Verdict::Pass | Verdict::Fail => {
            Some(format!("it ran {} tests, not {}", again.ran, run.ran))
        }
        _ => Some(again.reason.clone()),
    };
    if let Some(why) = comparable {
        run.verdict = Verdict::Error;
        run.reason = format!(
            "{} failed, and running the tests again to confirm it did not compare: {why}",
            names.join(", ")
        );
        return;
    }
    let (repeated, flaky): (Vec<&str>, Vec<&str>) = names
        .iter()
        .map(String::as_str)
        .partition(|n| again.failed_test(n));
    if !repeated.is_empty() {
        run.notes.push(format!(
            "failed again when the tests ran again: {}",
            repeated.join(", ")
        ));
    }
    if flaky.is_empty() {
        return;
    }
    let (gone, kept) = std::mem::take(&mut run.failing)
        .into_iter()
        .partition(|f| flaky.contains(&f.name.as_str()));
    run.failing = kept;
    run.flaky = gone;
    let said = format!(
        "flaky here: {} failed, then passed when the tests ran again; neither blamed nor cleared",
        flaky.join(", ")
    );
    run.notes.push(said.clone());
    if repeated.is_empty() {
        run.verdict = Verdict::Error;
        run.reason = format!("{said} (a test may fail only sometimes: run again)");
    } else {
        run.reason = run.cell();
    }
}

fn probe_info(interp: &Interpreter, script: &Path, timeout: Duration) -> Result<Info, String> {
    let mut cmd = crate::host::python::command(&interp.executable, None);
    cmd.arg("-I").arg(script).arg("info");
    let out = spawn(&cmd, timeout)?;
    framed(&out.stdout)
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or_else(|| {
            format!(
                "cannot probe the test package: {}",
                last_line(&out.stderr, &out.stdout)
            )
        })
}

fn run_one(
    interp: &Interpreter,
    variant: &Variant,
    info: &Result<Info, String>,
    prebuilt: Option<&Option<Result<Overlay, crate::overlay::OverlayError>>>,
    script: &Path,
    root: &Path,
    timeout: Duration,
) -> TestRun {
    let started = Instant::now();
    if let Some(reason) = variant.not_applicable(interp.version) {
        return empty(interp, variant, Verdict::NotApplicable, reason);
    }
    let info = match info {
        Ok(info) => info,
        Err(e) => return empty(interp, variant, Verdict::Error, e.clone()),
    };
    if !info.test_multiprocessing {
        return empty(
            interp,
            variant,
            Verdict::NotApplicable,
            "no test._test_multiprocessing in this install (Debian ships it in libpython3.X-testsuite)"
                .into(),
        );
    }
    let built;
    let overlay = match prebuilt {
        Some(Some(Ok(o))) => Some(o),
        Some(Some(Err(e))) => return empty(interp, variant, Verdict::Error, e.to_string()),
        Some(None) => None,
        None => match overlay::build(interp, variant, root, timeout, None) {
            Ok(o) => {
                built = o;
                built.as_ref()
            }
            Err(e) => return empty(interp, variant, Verdict::Error, e.to_string()),
        },
    };
    // The diff's own tests (its `Lib/test/` hunks). Where they do not
    // apply, running the stock tests under the patch's name would blame
    // the fix for a test it changed: that interpreter cannot be judged.
    let tests = match overlay::build_tests(interp, variant, root) {
        Ok(dir) => dir,
        Err(e) => {
            return empty(
                interp,
                variant,
                Verdict::Error,
                tests_do_not_apply(interp, &e),
            );
        }
    };
    let setup = Setup {
        interp,
        variant,
        info,
        overlay,
        tests: tests.as_deref(),
        root,
        timeout,
    };
    let mut run = run_tests(&setup, script);
    run.duration_ms = started.elapsed().as_millis() as u64;
    run
}

/// A test hunk that does not apply, with what to do: a patch per branch,
/// named down to the micro version (3.13.0 and 3.13.18's test files
/// differ).
pub fn tests_do_not_apply(interp: &Interpreter, e: &crate::overlay::OverlayError) -> String {
    format!(
        "{e}; CPython's tests cannot run with the diff's own test changes here: give this branch its own patch (e.g. --patch {}-=FILE, and ranges for the others)",
        interp.version
    )
}

/// The environment of every process of a test run: PYTHONHOME (so
/// script_helper does not add `-I`), the overlay and the patched tests on
/// PYTHONPATH, no bytecode written (the test package is partly links into
/// the installed one, which must never be written).
fn command(
    interp: &Interpreter,
    info: &Info,
    overlay: Option<&Overlay>,
    tests: Option<&Path>,
    root: &Path,
) -> Spec {
    let mut cmd = crate::host::python::command(&interp.executable, None);
    let path: Vec<&Path> = overlay
        .map(|o| o.dir.as_path())
        .into_iter()
        .chain(tests)
        .collect();
    if !path.is_empty() {
        cmd.env("PYTHONPATH", std::env::join_paths(path).unwrap_or_default());
    }
    cmd.env("PYTHONDONTWRITEBYTECODE", "1");
    let home = if info.base_exec_prefix == info.base_prefix {
        info.base_prefix.clone()
    } else {
        format!("{}:{}", info.base_prefix, info.base_exec_prefix)
    };
    cmd.env("PYTHONHOME", home);
    // CPython's tests make temp dirs (`test_python_*`, `pymp-*`) in TMPDIR:
    // point it into the run's own temp dir, so a run that is stopped
    // leaves nothing in the user's.
    cmd.env("TMPDIR", root);
    cmd.current_dir(root);
    cmd
}

/// Where a run's processes import from, checked before the tests: the
/// overlay's `multiprocessing` (also in a script_helper subprocess) and,
/// with patched tests, the patched test package. The package they must
/// use, or why the run would not test what it claims.
fn check_where(run: &Setup, script: &Path) -> Result<PathBuf, String> {
    let expected = match run.overlay {
        Some(o) => o.dir.join("multiprocessing"),
        None => run.interp.multiprocessing.clone(),
    };
    let expected = std::fs::canonicalize(&expected).unwrap_or(expected);
    let mut cmd = run.command();
    cmd.arg(script).arg("where");
    let out = spawn(&cmd, run.timeout)?;
    let used: Where = framed(&out.stdout)
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or_else(|| {
            format!(
                "cannot check which multiprocessing the tests use: {}",
                last_line(&out.stderr, &out.stdout)
            )
        })?;
    let name = &run.variant.name;
    if let Some(dir) = run.tests
        && !used.test.starts_with(dir)
    {
        return Err(format!(
            "the tests would not run {name}'s own tests: the test package comes from {}",
            used.test.display()
        ));
    }
    for (who, file) in [("test", &used.main), ("script_helper", &used.script_helper)] {
        if !file.starts_with(&expected) {
            return Err(format!(
                "the tests would not use {name}'s multiprocessing: a {who} process imports it from {}",
                file.display()
            ));
        }
    }
    Ok(expected)
}

/// What the `where` mode answers.
#[derive(Debug, Deserialize)]
struct Where {
    main: PathBuf,
    script_helper: PathBuf,
    test: PathBuf,
}

/// One interpreter x variant test run, once its overlay and tests are
/// known.
struct Setup<'a> {
    interp: &'a Interpreter,
    variant: &'a Variant,
    info: &'a Info,
    overlay: Option<&'a Overlay>,
    tests: Option<&'a Path>,
    root: &'a Path,
    timeout: Duration,
}

impl Setup<'_> {
    fn command(&self) -> Spec {
        command(self.interp, self.info, self.overlay, self.tests, self.root)
    }

    fn empty(&self, verdict: Verdict, reason: String) -> TestRun {
        empty(self.interp, self.variant, verdict, reason)
    }
}

fn run_tests(run: &Setup, script: &Path) -> TestRun {
    let expected = match check_where(run, script) {
        Ok(package) => package,
        Err(e) => return run.empty(Verdict::Error, e),
    };
    let mut cmd = run.command();
    let method = if run.info.forkserver_module {
        cmd.args(["-m", "test", "test_multiprocessing_forkserver"]);
        for f in FILTERS {
            cmd.args(["-m", f]);
        }
        cmd.arg("-v");
        format!(
            "python -m test test_multiprocessing_forkserver -m '{}' -m '{}' -v",
            FILTERS[0], FILTERS[1]
        )
    } else {
        cmd.arg(script).arg("run");
        format!(
            "install_tests_in_module_dict(globals(), 'forkserver') + unittest -k '{}' -k '{}' -v",
            FILTERS[0], FILTERS[1]
        )
    };
    let out = match spawn(&cmd, run.timeout) {
        Ok(out) => out,
        Err(e) => return run.empty(Verdict::Error, e),
    };
    let mut test_run = run.empty(Verdict::Error, String::new());
    test_run.method = method;
    test_run.multiprocessing = Some(expected);
    judge_output(&mut test_run, &out, run.timeout);
    test_run
}

/// The run's counts and verdict from what unittest printed.
fn judge_output(run: &mut TestRun, out: &crate::host::proc::Finished, timeout: Duration) {
    if out.timed_out {
        run.reason = format!("timed out after {} s", timeout.as_secs());
        return;
    }
    let Some(summary) = parse::parse(&format!("{}\n{}", out.stdout, out.stderr)) else {
        run.reason = format!(
            "no unittest summary ({}): {}",
            out.termination,
            last_line(&out.stderr, &out.stdout)
        );
        return;
    };
    if summary.ran == 0 {
        run.reason = "no shared-memory tests matched".into();
        return;
    }
    run.ran = summary.ran;
    run.failed = summary.failed;
    run.errors = summary.errors;
    run.skipped = summary.skipped;
    run.passed = summary
        .ran
        .saturating_sub(summary.failed + summary.errors + summary.skipped);
    run.failing = summary.failing;
    run.verdict = if run.failed + run.errors == 0 && summary.ok {
        Verdict::Pass
    } else {
        Verdict::Fail
    };
    run.reason = run.cell();
}

fn spawn(cmd: &Spec, timeout: Duration) -> Result<crate::host::proc::Finished, String> {
    Running::run(cmd, timeout).map_err(|e| format!("cannot run {}: {e}", cmd.program.display()))
}

fn framed(stdout: &str) -> Option<&str> {
    const MARK: &str = "@@SHMHARNESS-CPYTHON-TESTS@@";
    let start = stdout.find(MARK)? + MARK.len();
    let len = stdout[start..].find("@@END@@")?;
    Some(&stdout[start..start + len])
}

fn last_line<'a>(stderr: &'a str, stdout: &'a str) -> &'a str {
    stderr
        .lines()
        .chain(stdout.lines())
        .rfind(|l| !l.trim().is_empty())
        .map(str::trim)
        .unwrap_or("no output")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tests_make_their_temp_files_inside_the_runs_own_dir() {
        let interp = crate::contract::fixtures::interpreter("3.12.1");
        let info = Info {
            base_prefix: "/py".into(),
            base_exec_prefix: "/py".into(),
            test_multiprocessing: true,
            forkserver_module: true,
        };
        let spec = command(
            &interp,
            &info,
            None,
            None,
            Path::new("/tmp/shmharness-cpython-tests-x"),
        );
        let env: Vec<(String, String)> = spec
            .env
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        assert!(
            env.contains(&("TMPDIR".into(), "/tmp/shmharness-cpython-tests-x".into())),
            "{env:?}"
        );
        assert!(
            env.contains(&("PYTHONHOME".into(), "/py".into())),
            "{env:?}"
        );
    }

    /// A run of `variant` that ran 5 tests and failed `failing`.
    fn ran(variant: &str, failing: &[&str]) -> TestRun {
        let mut r = TestRun::empty("3.13.0", variant, Verdict::Pass, String::new());
        r.ran = 5;
        r.failed = failing.len() as u32;
        r.passed = 5 - r.failed;
        r.failing = failing
            .iter()
            .map(|n| crate::contract::fixtures::failing_test(n))
            .collect();
        if !failing.is_empty() {
            r.verdict = Verdict::Fail;
        }
        r
    }

    #[test]
    fn every_run_with_a_failure_is_run_again_stock_too() {
        let mut repeated = ran("patch:x", &["test_a", "test_a"]);
        repeated.failing[1].kind = crate::contract::FailureKind::Error;
        let runs = [
            repeated,
            ran("stock", &["test_b"]),
            ran("patch:x", &[]),
            TestRun::empty("3.13.0", "stock", Verdict::Error, "timed out".into()),
        ];
        assert_eq!(
            suspects(&runs),
            [
                (0, vec!["test_a".to_string()]),
                (1, vec!["test_b".to_string()])
            ]
        );
    }

    #[test]
    fn a_failure_that_does_not_repeat_blames_nothing_and_clears_nothing() {
        let names = ["test_a".to_string(), "test_b".to_string()];
        // Both fail again: blamed, and said.
        let mut r = ran("patch:x", &["test_a", "test_b", "test_c"]);
        confirm(&mut r, &names, &ran("patch:x", &["test_a", "test_b"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.failing.len(), 3);
        assert_eq!(
            r.notes,
            ["failed again when the tests ran again: test_a, test_b"]
        );
        // One repeats: it alone is blamed; the other is flaky, kept apart
        // and shown as such.
        let mut r = ran("patch:x", &["test_a", "test_b"]);
        confirm(&mut r, &names, &ran("patch:x", &["test_b", "test_z"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(!r.failed_test("test_a") && r.failed_test("test_b"));
        assert_eq!(r.flaky[0].name, "test_a");
        assert_eq!(r.reason, "3 passed, 2 failed (test_b, test_a: flaky)");
        // None repeats (whatever else failed the second time): no verdict,
        // never a pass, even where a failure stock shares remains.
        let mut r = ran("patch:x", &["test_a", "test_c"]);
        confirm(&mut r, &names[..1], &ran("patch:x", &["test_z"]));
        assert_eq!(r.verdict, Verdict::Error);
        assert_eq!(
            r.reason,
            "flaky here: test_a failed, then passed when the tests ran again; neither blamed nor cleared (a test may fail only sometimes: run again)"
        );
        // A second run that could not run, or ran other tests: no verdict.
        let mut fewer = ran("patch:x", &[]);
        fewer.ran = 4;
        for (again, why) in [
            (
                TestRun::empty(
                    "3.13.0",
                    "patch:x",
                    Verdict::Error,
                    "timed out after 300 s".into(),
                ),
                "timed out after 300 s",
            ),
            (fewer, "it ran 4 tests, not 5"),
        ] {
            let mut r = ran("patch:x", &["test_a"]);
            confirm(&mut r, &names[..1], &again);
            assert_eq!(r.verdict, Verdict::Error);
            assert_eq!(
                r.reason,
                format!(
                    "test_a failed, and running the tests again to confirm it did not compare: {why}"
                )
            );
        }
    }
}
