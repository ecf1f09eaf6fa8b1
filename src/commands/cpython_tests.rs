//! `shmharness cpython-tests`: CPython's own shared-memory tests, per
//! interpreter and variant (see `crate::cpython_tests`).

use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::{Exit, Interrupted};
use crate::cli::{CpythonTestsArgs, Format};
use crate::cpython_tests::{self, TestRun};
use crate::discovery::Interpreter;
use crate::report::table::{Cell, render};
use crate::results::Verdict;
use crate::variant::Variant;

pub fn run(args: &CpythonTestsArgs, quiet: bool) -> Result<Exit> {
    let variants = super::variants(
        &args.variants.variant,
        args.variants.patch.as_deref(),
        super::DEFAULT_VARIANTS,
    )?;
    let interpreters = super::interpreters(&args.select)?;
    let jobs = args.jobs.map_or_else(crate::pool::cores, usize::from);
    let started = Instant::now();
    let runs = run_tests(
        &interpreters,
        &variants,
        jobs,
        Duration::from_secs_f64(args.timeout),
        None,
    )?;
    // A user's patch that applies nowhere is bad input, not a verdict.
    for v in variants.iter().filter(|v| v.name.starts_with("patch:")) {
        let mut cells = runs.iter().filter(|r| r.variant == v.name);
        if cells.clone().any(|r| r.verdict != Verdict::NotApplicable)
            && cells.all(|r| matches!(r.verdict, Verdict::Error | Verdict::NotApplicable))
        {
            let first = runs
                .iter()
                .find(|r| r.variant == v.name && r.verdict == Verdict::Error)
                .map(|r| r.reason.clone())
                .unwrap_or_default();
            bail!("{first}");
        }
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&runs)?),
        Format::Markdown => {
            let (headers, rows) = matrix(&interpreters, &variants, &runs);
            let rows: Vec<Vec<String>> = rows
                .into_iter()
                .map(|r| r.into_iter().map(|c| c.text).collect())
                .collect();
            print!("{}", crate::report::markdown::table(&headers, &rows));
        }
        Format::Table => print!("{}", table(&interpreters, &variants, &runs)),
    }
    if !quiet && args.format == Format::Table {
        let failing = runs
            .iter()
            .filter(|r| matches!(r.verdict, Verdict::Fail | Verdict::Error))
            .count();
        eprintln!(
            "{} run(s) of CPython's shared-memory tests, {failing} not passing, in {:.1} s",
            runs.len(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(exit(&runs))
}

/// Run the tests, turning an interrupt into `Interrupted`.
pub fn run_tests(
    interpreters: &[Interpreter],
    variants: &[Variant],
    jobs: usize,
    timeout: Duration,
    prebuilt: Option<cpython_tests::Prebuilt>,
) -> Result<Vec<TestRun>> {
    match cpython_tests::run_all(interpreters, variants, jobs, timeout, prebuilt)
        .map_err(|e| anyhow::anyhow!("cannot create a temp dir: {e}"))?
    {
        Some(runs) => Ok(runs),
        None => Err(Interrupted::now().into()),
    }
}

/// 0 when every run passed (or is n/a), else 1.
pub fn exit(runs: &[TestRun]) -> Exit {
    if runs
        .iter()
        .all(|r| matches!(r.verdict, Verdict::Pass | Verdict::NotApplicable))
    {
        Exit::SUCCESS
    } else {
        Exit::from(1)
    }
}

/// Rows: interpreters; columns: variants.
pub fn matrix(
    interpreters: &[Interpreter],
    variants: &[Variant],
    runs: &[TestRun],
) -> (Vec<String>, Vec<Vec<Cell>>) {
    let headers = std::iter::once("interpreter".to_string())
        .chain(variants.iter().map(|v| v.name.clone()))
        .collect();
    let rows = interpreters
        .iter()
        .map(|interp| {
            std::iter::once(Cell::plain(interp.id.clone()))
                .chain(variants.iter().map(|v| {
                    match runs
                        .iter()
                        .find(|r| r.interpreter == interp.id && r.variant == v.name)
                    {
                        Some(r) => Cell::judged(r.cell(), r.verdict),
                        None => Cell::plain("-"),
                    }
                }))
                .collect()
        })
        .collect();
    (headers, rows)
}

/// The table, then one line per failing test with its evidence.
pub fn table(interpreters: &[Interpreter], variants: &[Variant], runs: &[TestRun]) -> String {
    let (headers, rows) = matrix(interpreters, variants, runs);
    let mut out = render(&headers, &rows);
    let mut notes: Vec<String> = Vec::new();
    for r in runs.iter().filter(|r| r.verdict == Verdict::NotApplicable) {
        let note = format!("  {} n/a: {}\n", r.interpreter, r.reason);
        if !notes.contains(&note) {
            notes.push(note);
        }
    }
    out += &notes.concat();
    for r in runs {
        for f in &r.failing {
            out += &format!(
                "  {} {}: {} {}: {}\n",
                r.interpreter,
                r.variant,
                f.name,
                if f.kind == "fail" {
                    "failed"
                } else {
                    "errored"
                },
                short(&f.evidence)
            );
        }
    }
    out
}

/// `verify --strict`: tests that fail under the candidate but passed on
/// stock, one line each (test name and evidence), for interpreter `id`.
pub fn regressions(runs: &[TestRun], id: &str, candidate: &str) -> Vec<String> {
    let find = |variant: &str| {
        runs.iter()
            .find(|r| r.interpreter == id && r.variant == variant)
    };
    let (Some(stock), Some(cand)) = (find("stock"), find(candidate)) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for r in [stock, cand] {
        if r.verdict == Verdict::Error {
            lines.push(format!(
                "cpython-tests: could not run under {}: {}",
                r.variant, r.reason
            ));
        }
    }
    if !lines.is_empty() || cand.verdict == Verdict::NotApplicable {
        return lines;
    }
    for f in &cand.failing {
        if !stock.failed_test(&f.name) {
            lines.push(format!(
                "cpython-tests: {} {} under {candidate} (passed on stock) | {}",
                f.name,
                if f.kind == "fail" { "fails" } else { "errors" },
                short(&f.evidence)
            ));
        }
    }
    lines
}

/// `verify --strict`: fail an interpreter where a CPython test fails under
/// the candidate that passed on stock (or where the tests cannot run).
pub fn strict(
    runs: &[TestRun],
    verdicts: &mut [super::verify::InterpreterVerdict],
    candidate: &str,
) {
    for v in verdicts.iter_mut() {
        let lines = regressions(runs, &v.interpreter, candidate);
        if lines.is_empty() {
            if let Some(r) = runs
                .iter()
                .find(|r| r.interpreter == v.interpreter && r.variant == candidate)
            {
                v.lines.push(format!("cpython-tests: {}", r.cell()));
            }
            continue;
        }
        // The test evidence goes first: it is why the verdict is FAIL.
        v.lines.splice(0..0, lines);
        v.ok = false;
    }
}

/// An evidence line cut to a readable length (JSON keeps it whole).
fn short(evidence: &str) -> String {
    const MAX: usize = 200;
    if evidence.chars().count() <= MAX {
        evidence.to_string()
    } else {
        format!("{}...", evidence.chars().take(MAX).collect::<String>())
    }
}

/// The tests for a plan's interpreters and variants (`run
/// --with-cpython-tests`, `verify --strict`, `report --with-cpython-tests`),
/// on the overlays the scenario run built, with at least `MIN_TIMEOUT`.
pub fn for_plan(
    plan: &crate::runner::Plan,
    overlays: cpython_tests::Prebuilt,
) -> Result<Vec<TestRun>> {
    run_tests(
        &plan.interpreters,
        &plan.variants,
        plan.jobs,
        plan.timeout.max(cpython_tests::MIN_TIMEOUT),
        Some(overlays),
    )
}

/// `run --with-cpython-tests`: a second table after the matrix.
/// Informational: the run's exit code stays the matrix's.
pub fn print_after_run(plan: &crate::runner::Plan, runs: &[TestRun]) {
    println!("\nCPython's own shared-memory tests (test._test_multiprocessing):");
    print!("{}", table(&plan.interpreters, &plan.variants, runs));
}
