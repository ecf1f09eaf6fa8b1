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

use crate::contract::{FailingTest, FailureKind, Interpreter, TestRun, Verdict};
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
const SCRIPT: &str = r#"# shmharness: CPython's own shared-memory tests against an overlay.
import json
import os
import sys

MARK = "@@SHMHARNESS-CPYTHON-TESTS@@"
FILTERS = ["*SharedMemory*", "*shared_memory*"]


def emit(obj):
    sys.stdout.write(MARK + json.dumps(obj) + "@@END@@\n")
    sys.stdout.flush()


def info():
    import importlib.util

    def has(name):
        try:
            return importlib.util.find_spec(name) is not None
        except Exception:
            return False

    emit({
        "base_prefix": getattr(sys, "base_prefix", sys.prefix),
        "base_exec_prefix": getattr(sys, "base_exec_prefix", sys.exec_prefix),
        "test_multiprocessing": has("test._test_multiprocessing"),
        "forkserver_module": has("test.test_multiprocessing_forkserver"),
    })


def where():
    # Where this process and a script_helper subprocess (the tests' way of
    # starting one) import multiprocessing from.
    import multiprocessing
    from test.support import script_helper

    rc, out, err = script_helper.assert_python_ok(
        "-c", "import multiprocessing; print(multiprocessing.__file__)")
    import test
    emit({
        "main": os.path.realpath(multiprocessing.__file__),
        "script_helper": os.path.realpath(out.decode().strip()),
        # Not realpath: a patched test package is links to the installed one.
        "test": os.path.dirname(os.path.abspath(test.__file__)),
    })


def run():
    import unittest
    from test import _test_multiprocessing

    namespace = {"__name__": "__main__"}
    _test_multiprocessing.install_tests_in_module_dict(namespace, "forkserver")
    module = type(sys)("shmharness_cpython_tests")
    module.__dict__.update(namespace)
    argv = ["shmharness-cpython-tests", "-v"]
    for f in FILTERS:
        argv += ["-k", f]
    unittest.main(module=module, argv=argv)


{"info": info, "where": where, "run": run}[sys.argv[1]]()
"#;

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

/// Run the tests for every interpreter x variant on `jobs` workers, in
/// interpreter-major order (`runs[i * variants.len() + v]`). Overlays are
/// built under a temp dir removed on return. `None` if interrupted.
/// Overlays a scenario run already built, `[interpreter][variant]`; the
/// tests reuse them instead of copying and compiling the package again.
pub type Prebuilt<'a> = &'a Overlays;

pub fn run_all(
    interpreters: &[Interpreter],
    variants: &[Variant],
    jobs: usize,
    timeout: Duration,
    prebuilt: Option<Prebuilt>,
) -> std::io::Result<Option<Vec<TestRun>>> {
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
    let pairs: Vec<(usize, usize)> = (0..interpreters.len())
        .flat_map(|i| (0..variants.len()).map(move |v| (i, v)))
        .collect();
    let runs = crate::host::pool::map(pairs.len(), jobs, |n| {
        let (i, v) = pairs[n];
        let Some(info) = &infos[i] else {
            return None;
        };
        let built = prebuilt.map(|p| &p[i][v]);
        Some(run_one(
            &interpreters[i],
            &variants[v],
            info,
            built,
            &script,
            dir.path(),
            timeout,
        ))
    });
    if crate::host::proc::cancelled() {
        return Ok(None);
    }
    Ok(runs.into_iter().map(Option::flatten).collect())
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
    // The diff's own tests (its `Lib/test/` hunks), where they apply;
    // elsewhere the stock tests, with a note.
    let (tests, note) = match overlay::build_tests(interp, variant, root) {
        Ok(dir) => (dir, None),
        Err(e) => (
            None,
            Some(format!(
                "{}'s Lib/test/ hunks do not apply to {}, so it runs its stock tests: {e}",
                variant.name, interp.id
            )),
        ),
    };
    if let Some(n) = &note {
        eprintln!("note: {}", crate::term::style::printable(n));
    }
    let mut run = run_tests(
        interp,
        variant,
        info,
        overlay,
        tests.as_deref(),
        script,
        root,
        timeout,
    );
    run.notes.extend(note);
    run.duration_ms = started.elapsed().as_millis() as u64;
    run
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

#[allow(clippy::too_many_arguments)]
fn run_tests(
    interp: &Interpreter,
    variant: &Variant,
    info: &Info,
    overlay: Option<&Overlay>,
    tests: Option<&Path>,
    script: &Path,
    root: &Path,
    timeout: Duration,
) -> TestRun {
    // Which multiprocessing the tests' processes must import.
    let expected = match overlay {
        Some(o) => o.dir.join("multiprocessing"),
        None => interp.multiprocessing.clone(),
    };
    let expected = std::fs::canonicalize(&expected).unwrap_or(expected);
    let mut cmd = command(interp, info, overlay, tests, root);
    cmd.arg(script).arg("where");
    let used = match spawn(&cmd, timeout) {
        Ok(out) => framed(&out.stdout)
            .and_then(|json| serde_json::from_str::<serde_json::Value>(json).ok())
            .ok_or_else(|| {
                format!(
                    "cannot check which multiprocessing the tests use: {}",
                    last_line(&out.stderr, &out.stdout)
                )
            }),
        Err(e) => Err(e),
    };
    let used = match used {
        Ok(v) => v,
        Err(e) => return empty(interp, variant, Verdict::Error, e),
    };
    if let Some(dir) = tests {
        let used = PathBuf::from(used["test"].as_str().unwrap_or_default());
        if !used.starts_with(dir) {
            return empty(
                interp,
                variant,
                Verdict::Error,
                format!(
                    "the tests would not run {}'s own tests: the test package comes from {}",
                    variant.name,
                    used.display()
                ),
            );
        }
    }
    for key in ["main", "script_helper"] {
        let file = PathBuf::from(used[key].as_str().unwrap_or_default());
        if !file.starts_with(&expected) {
            return empty(
                interp,
                variant,
                Verdict::Error,
                format!(
                    "the tests would not use {}'s multiprocessing: a {} process imports it from {}",
                    variant.name,
                    if key == "main" {
                        "test"
                    } else {
                        "script_helper"
                    },
                    file.display()
                ),
            );
        }
    }

    let mut cmd = command(interp, info, overlay, tests, root);
    let method = if info.forkserver_module {
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
    let out = match spawn(&cmd, timeout) {
        Ok(out) => out,
        Err(e) => return empty(interp, variant, Verdict::Error, e),
    };
    let mut run = empty(interp, variant, Verdict::Error, String::new());
    run.method = method;
    run.multiprocessing = Some(expected);
    let text = format!("{}\n{}", out.stdout, out.stderr);
    let summary = parse(&text);
    if out.timed_out {
        run.reason = format!("timed out after {} s", timeout.as_secs());
        return run;
    }
    let Some(summary) = summary else {
        run.reason = format!(
            "no unittest summary ({}): {}",
            out.termination,
            last_line(&out.stderr, &out.stdout)
        );
        return run;
    };
    if summary.ran == 0 {
        run.reason = "no shared-memory tests matched".into();
        return run;
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
    run
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

/// What unittest's verbose output says, summed over every `Ran N tests`.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub ran: u32,
    pub failed: u32,
    pub errors: u32,
    pub skipped: u32,
    /// Every result line said OK.
    pub ok: bool,
    pub failing: Vec<FailingTest>,
}

/// Parse unittest's output: `Ran 13 tests in 0.8s`, then `OK`,
/// `OK (skipped=1)` or `FAILED (failures=1, errors=2, skipped=3)`; each
/// failure's `FAIL: name (id)` header and the last line of its traceback.
/// `None` when no `Ran` line appears (the run crashed before the summary).
pub fn parse(text: &str) -> Option<Summary> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut s = Summary {
        ok: true,
        ..Summary::default()
    };
    let mut seen = false;
    for (n, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("Ran ") {
            let count = rest
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u32>().ok());
            let Some(count) = count.filter(|_| rest.contains(" test")) else {
                continue;
            };
            seen = true;
            s.ran += count;
            // The result line follows after a blank line.
            if let Some(result) = lines[n + 1..].iter().find(|l| !l.trim().is_empty()) {
                let result = result.trim();
                // `OK`, `OK (skipped=1)`, `NO TESTS RAN` (3.13's package
                // runs submodules that have no shared-memory tests) or
                // `FAILED (...)`.
                if result.starts_with("FAILED") {
                    s.ok = false;
                }
                if let (Some(open), Some(close)) = (result.find('('), result.rfind(')')) {
                    for part in result[open + 1..close].split(',') {
                        let Some((key, value)) = part.trim().split_once('=') else {
                            continue;
                        };
                        let value: u32 = value.trim().parse().unwrap_or(0);
                        match key.trim() {
                            "failures" => s.failed += value,
                            "errors" => s.errors += value,
                            "skipped" => s.skipped += value,
                            _ => {}
                        }
                    }
                }
            }
        }
        for (prefix, kind) in [
            ("FAIL: ", FailureKind::Fail),
            ("ERROR: ", FailureKind::Error),
        ] {
            let Some(rest) = line.strip_prefix(prefix) else {
                continue;
            };
            // `name (id)` or, in 3.11+, `name (id.name)`; subtests add `[...]`.
            let name = rest.split_whitespace().next().unwrap_or(rest).to_string();
            let id = rest
                .find('(')
                .and_then(|o| rest[o + 1..].find(')').map(|c| &rest[o + 1..o + 1 + c]))
                .unwrap_or("")
                .to_string();
            if s.failing.iter().any(|f| f.name == name && f.kind == kind) {
                continue;
            }
            s.failing.push(FailingTest {
                name,
                id,
                kind,
                evidence: evidence(&lines[n + 1..]),
            });
        }
    }
    // unittest's `failures=N` counts subtests; `Ran N tests` counts tests.
    // Count tests on both sides: each failing test once.
    for (kind, count) in [
        (FailureKind::Fail, &mut s.failed),
        (FailureKind::Error, &mut s.errors),
    ] {
        let tests = s.failing.iter().filter(|f| f.kind == kind).count() as u32;
        if tests > 0 {
            *count = tests;
        }
    }
    seen.then_some(s)
}

/// The exception line of the traceback that follows a `FAIL:` header: the
/// last non-blank line before the next separator or header.
fn evidence(after: &[&str]) -> String {
    let mut last = "";
    for line in after.iter().skip(1) {
        if line.starts_with("======") || line.starts_with("------") {
            break;
        }
        if !line.trim().is_empty() && !line.starts_with(' ') {
            last = line;
        }
    }
    last.trim().to_string()
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

    const FAILED: &str = "\
test_shared_memory_basics (test.x.WithProcessesTestSharedMemory.test_shared_memory_basics) ... ok
test_shared_memory_tracking (test.x.WithProcessesTestSharedMemory.test_shared_memory_tracking) ... FAIL

======================================================================
FAIL: test_shared_memory_tracking (test.x.WithProcessesTestSharedMemory.test_shared_memory_tracking)
----------------------------------------------------------------------
Traceback (most recent call last):
  File \"/x/_test_multiprocessing.py\", line 4500, in test_shared_memory_tracking
    self.assertIn(
AssertionError: 'leaked shared_memory objects' not found in b''

----------------------------------------------------------------------
Ran 16 tests in 3.164s

FAILED (failures=1, skipped=2)
";

    #[test]
    fn parses_a_failure() {
        let s = parse(FAILED).unwrap();
        assert_eq!(
            (s.ran, s.failed, s.errors, s.skipped, s.ok),
            (16, 1, 0, 2, false)
        );
        assert_eq!(s.failing.len(), 1);
        assert_eq!(s.failing[0].name, "test_shared_memory_tracking");
        assert_eq!(
            s.failing[0].id,
            "test.x.WithProcessesTestSharedMemory.test_shared_memory_tracking"
        );
        assert_eq!(
            s.failing[0].evidence,
            "AssertionError: 'leaked shared_memory objects' not found in b''"
        );
    }

    #[test]
    fn a_test_with_failing_subtests_counts_once() {
        let text = "FAIL: test_shared_memory_tracking (x.T.test_shared_memory_tracking) [a]\n\
                    ----\nAssertionError: a\n\n\
                    FAIL: test_shared_memory_tracking (x.T.test_shared_memory_tracking) [b]\n\
                    ----\nAssertionError: b\n\n\
                    Ran 17 tests in 1.0s\n\nFAILED (failures=2)\n";
        let s = parse(text).unwrap();
        assert_eq!((s.ran, s.failed, s.failing.len()), (17, 1, 1));
    }

    #[test]
    fn parses_success_and_missing_summary() {
        let s = parse("x ... ok\n\n------\nRan 13 tests in 0.844s\n\nOK\n").unwrap();
        assert_eq!((s.ran, s.failed, s.skipped, s.ok), (13, 0, 0, true));
        let s = parse("Ran 1 test in 0.1s\n\nOK (skipped=1)\n").unwrap();
        assert_eq!((s.ran, s.skipped, s.ok), (1, 1, true));
        let s =
            parse("Ran 0 tests in 0.000s\n\nNO TESTS RAN\nRan 16 tests in 0.7s\n\nOK\n").unwrap();
        assert_eq!((s.ran, s.ok), (16, true));
        assert_eq!(parse("Traceback (most recent call last):\nboom\n"), None);
    }
}
