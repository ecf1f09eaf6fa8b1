//! `shmharness report --out DIR`: run the matrix (every scenario by default)
//! and write the bug-report bundle.

use crate::cli::ReportArgs;
use crate::commands::error::Result;
use crate::contract::VariantId;
use crate::export::{Outputs, View};

/// A bug report shows the bug, the seed's one-line fix (and what it breaks)
/// and the fix that holds in every scenario.
const REPORT_VARIANTS: &[VariantId] = &[
    VariantId::Stock,
    VariantId::CreateOnly,
    VariantId::CreateOnlyLenientTracker,
];

pub fn run(args: &ReportArgs) -> Result<u8> {
    let variants = crate::overlay::user::variants(
        &args.variants.variant,
        args.variants.own.given(),
        args.variants.own.name.as_deref(),
        crate::overlay::user::PatchUse::Code,
        REPORT_VARIANTS,
    )?;
    // Before any work: a bundle that cannot be written is a usage error.
    let mut outputs =
        Outputs::new(args.matrix.format, View::Matrix).bundle(Some(&args.out), args.force)?;
    if args.archive {
        outputs = outputs.archive(&args.out, args.force)?;
    }
    let plan = super::plan(&args.matrix, variants, None)?;
    let outcome = super::execute(&plan, !args.no_cpython_tests)?;
    let mut results = outcome.complete()?;
    results.candidates = crate::judge::candidate::all(&results, "--no-cpython-tests");
    outputs.write(&results)?;
    super::summary(&results);
    if !crate::term::progress::quiet() {
        eprintln!("bundle written to {}", args.out.display());
    }
    Ok(super::verdict_exit(&results))
}
