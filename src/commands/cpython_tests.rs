//! `shmharness cpython-tests`: CPython's own shared-memory tests, per
//! interpreter and variant (see `crate::cpython_tests`).

use std::time::{Duration, Instant};

use crate::cli::CpythonTestsArgs;
use crate::commands::error::{Error, Result};
use crate::contract::{TestRun, Verdict};
use crate::export::{Outputs, View};
use crate::overlay::user::{self, PatchUse};

pub fn run(args: &CpythonTestsArgs) -> Result<u8> {
    let (variants, usages) = user::variants(
        &args.variants.variant,
        args.variants.own.given(),
        args.variants.own.name.as_deref(),
        PatchUse::Tests,
        user::DEFAULT_VARIANTS,
    )?;
    if !usages.is_empty() {
        eprintln!(
            "note: a usage changes how the scenarios' attachers attach, not CPython's own tests: they run as they are"
        );
    }
    let outputs = Outputs::new(args.format, View::CpythonTests);
    super::sweep_debris()?;
    let interpreters = super::interpreters(&args.select)?;
    let started = Instant::now();
    let timeout = Duration::from_secs_f64(args.timeout);
    let runs = crate::cpython_tests::run_all(
        &interpreters,
        &variants,
        super::jobs(args.jobs),
        timeout,
        None,
    )?;
    // A user's patch that applies nowhere is bad input, not a verdict.
    for v in variants.iter().filter(|v| v.id.is_none()) {
        let cells = runs.iter().filter(|r| r.variant == v.name);
        if let Some(first) =
            crate::judge::candidate::applies_nowhere(cells.map(|r| (r.verdict, &r.reason)))
        {
            return Err(Error::Usage(first));
        }
    }
    let mut results = crate::judge::skeleton(&interpreters, &variants);
    results.cpython_tests = runs;
    outputs.write(&results)?;
    if !crate::term::progress::quiet() && args.format == crate::export::Format::Table {
        eprintln!("{}", summary(&results.cpython_tests, started.elapsed()));
    }
    Ok(super::verdict_exit(&results))
}

/// `32 runs of CPython's shared-memory tests: 3 failing, 0 errors in 41.2 s`.
fn summary(runs: &[TestRun], took: Duration) -> String {
    let failing = runs.iter().filter(|r| r.verdict == Verdict::Fail).count();
    let errors = runs.iter().filter(|r| r.verdict == Verdict::Error).count();
    format!(
        "{} of CPython's shared-memory tests: {failing} failing, {} in {:.1} s",
        crate::term::style::plural(runs.len(), "run"),
        crate::term::style::plural(errors, "error"),
        took.as_secs_f64()
    )
}
