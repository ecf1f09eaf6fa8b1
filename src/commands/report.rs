//! `shmharness report --out DIR`: run the matrix (every scenario by default)
//! and write the bug-report bundle.

use anyhow::Result;

use super::Exit;
use crate::cli::ReportArgs;
use crate::report::bundle;

/// A bug report shows the bug, the seed's one-line fix (and what it breaks)
/// and the fix that holds in every scenario.
const REPORT_VARIANTS: &[&str] = &["stock", "create-only", "create-only+lenient-tracker"];

pub fn run(args: &ReportArgs, quiet: bool) -> Result<Exit> {
    let variants = super::variants(
        &args.variants.variant,
        args.variants.patch.as_deref(),
        REPORT_VARIANTS,
    )?;
    // Before any work: a bundle that cannot be written is a usage error.
    bundle::check_target(&args.out, args.force)?;
    let interpreters = super::interpreters(&args.matrix.select)?;
    let plan = super::plan(&args.matrix, interpreters, variants, "all")?;
    let results = super::execute(&plan, args.with_cpython_tests)?;
    bundle::write(&results, &args.out, args.force)?;
    print!("{}", super::render(&results, args.matrix.format)?);
    if !quiet {
        eprintln!("{}", crate::report::summary_line(&results));
        eprintln!("bundle written to {}", args.out.display());
    }
    Ok(super::verdict_exit(&results))
}
