//! `shmharness run`: the matrix, rendered, and optionally saved as JSON.

use anyhow::Result;

use super::Exit;
use crate::cli::RunArgs;

pub fn run(args: &RunArgs, quiet: bool) -> Result<Exit> {
    let variants = super::variants(
        &args.variants.variant,
        args.variants.patch.as_deref(),
        super::DEFAULT_VARIANTS,
    )?;
    for path in args.json.iter().chain(&args.junit) {
        super::check_writable(path)?;
    }
    let interpreters = super::interpreters(&args.matrix.select)?;
    let plan = super::plan(&args.matrix, interpreters, variants, "three-process")?;
    let results = match super::execute(&plan, args.with_cpython_tests) {
        Ok(results) => results,
        Err(e) => {
            // Interrupted: flush the cases that completed, then stop.
            if let Some(super::Interrupted(_, Some(partial))) = e.downcast_ref() {
                write_outputs(args, partial)?;
            }
            return Err(e);
        }
    };
    write_outputs(args, &results)?;
    print!("{}", super::render(&results, args.matrix.format)?);
    if !quiet && args.matrix.format == crate::cli::Format::Table {
        eprintln!("{}", crate::report::summary_line(&results));
    }
    if args.with_cpython_tests && args.matrix.format == crate::cli::Format::Table {
        super::cpython_tests::print_after_run(&plan, &results.cpython_tests);
    }
    Ok(super::verdict_exit(&results))
}

/// `--json` and `--junit`, each written atomically.
fn write_outputs(args: &RunArgs, results: &crate::results::Results) -> Result<()> {
    if let Some(path) = &args.json {
        super::write_atomic(path, &(serde_json::to_string_pretty(results)? + "\n"))?;
    }
    if let Some(path) = &args.junit {
        super::write_atomic(path, &crate::report::junit::render(results))?;
    }
    Ok(())
}
