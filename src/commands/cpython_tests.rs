//! `shmharness cpython-tests`: CPython's own shared-memory tests, per
//! interpreter and variant (see `crate::cpython_tests`).

use std::time::{Duration, Instant};

use crate::cli::CpythonTestsArgs;
use crate::commands::error::{Error, Result};
use crate::contract::{Results, TestRun, VariantInfo, Verdict};
use crate::export::{Outputs, View};
use crate::run::Plan;

pub fn run(args: &CpythonTestsArgs) -> Result<u8> {
    let variants = super::variants(
        &args.variants.variant,
        &args.variants.patch,
        super::PatchUse::Tests,
        super::DEFAULT_VARIANTS,
    )?;
    let outputs = Outputs::new(args.format, View::CpythonTests);
    super::sweep_debris();
    let interpreters = super::interpreters(&args.select)?;
    let jobs = super::jobs(args.jobs);
    let started = Instant::now();
    let runs = run_tests(
        &interpreters,
        &variants,
        jobs,
        Duration::from_secs_f64(args.timeout),
        None,
    )?;
    // A user's patch that applies nowhere is bad input, not a verdict.
    for v in variants.iter().filter(|v| v.id.is_none()) {
        let mut cells = runs.iter().filter(|r| r.variant == v.name);
        if cells.clone().any(|r| r.verdict != Verdict::NotApplicable)
            && cells.all(|r| matches!(r.verdict, Verdict::Error | Verdict::NotApplicable))
        {
            let first = runs
                .iter()
                .find(|r| r.variant == v.name && r.verdict == Verdict::Error)
                .map(|r| r.reason.clone())
                .unwrap_or_default();
            return Err(Error::Usage(first));
        }
    }
    let mut results = Results::empty(crate::host::sys::tool(), crate::host::sys::host());
    results.interpreters = interpreters;
    results.variants = variants
        .iter()
        .map(|v| VariantInfo {
            name: v.name.clone(),
            summary: v.summary.clone(),
            patches: Vec::new(),
        })
        .collect();
    results.cpython_tests = runs;
    outputs.write(&results)?;
    let runs = &results.cpython_tests;
    if !crate::term::progress::quiet() && args.format == crate::export::Format::Table {
        let failing = runs.iter().filter(|r| r.verdict == Verdict::Fail).count();
        let errors = runs.iter().filter(|r| r.verdict == Verdict::Error).count();
        eprintln!(
            "{} of CPython's shared-memory tests: {failing} failing, {} in {:.1} s",
            crate::term::style::plural(runs.len(), "run"),
            crate::term::style::plural(errors, "error"),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(crate::contract::exit::for_verdict(Verdict::combine(
        runs.iter().map(|r| r.verdict),
    )))
}

/// Run the tests, turning an interrupt into `Interrupted`.
pub fn run_tests(
    interpreters: &[crate::contract::Interpreter],
    variants: &[crate::overlay::variant::Variant],
    jobs: usize,
    timeout: Duration,
    prebuilt: Option<crate::cpython_tests::Prebuilt>,
) -> Result<Vec<TestRun>> {
    match crate::cpython_tests::run_all(interpreters, variants, jobs, timeout, prebuilt)
        .map_err(|e| Error::Environment(format!("cannot create a temp dir: {e} (check TMPDIR)")))?
    {
        Some(runs) => Ok(runs),
        None => Err(Error::Interrupted(
            crate::host::signal::received().unwrap_or(crate::host::signal::Signal::Interrupt),
        )),
    }
}

/// The tests for a plan's interpreters and variants (`run
/// --with-cpython-tests`, `verify --strict`, `report --with-cpython-tests`),
/// on the overlays the scenario run built, with at least `MIN_TIMEOUT`.
pub fn for_plan(plan: &Plan, overlays: crate::cpython_tests::Prebuilt) -> Result<Vec<TestRun>> {
    run_tests(
        &plan.interpreters,
        &plan.variants,
        plan.jobs,
        plan.timeout.max(crate::cpython_tests::MIN_TIMEOUT),
        Some(overlays),
    )
}
