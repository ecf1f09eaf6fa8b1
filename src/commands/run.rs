//! `shmharness run`: the matrix, exported (stdout, `--json`, `--junit`).

use crate::cli::RunArgs;
use crate::commands::error::{Error, Result};
use crate::export::{Outputs, View};

pub fn run(args: &RunArgs) -> Result<u8> {
    let variants = crate::overlay::user::variants(
        &args.variants.variant,
        args.variants.own.given(),
        args.variants.own.name.as_deref(),
        crate::overlay::user::PatchUse::Code,
        crate::overlay::user::DEFAULT_VARIANTS,
    )?;
    // Every destination is checked before any work.
    let outputs = Outputs::new(args.matrix.format, View::Matrix)
        .json(args.json.as_deref())?
        .junit(args.junit.as_deref())?;
    let plan = super::plan(
        &args.matrix,
        variants,
        Some(crate::contract::ScenarioId::ThreeProcess),
    )?;
    let outcome = super::execute(&plan, args.with_cpython_tests)?;
    if let Some(sig) = outcome.interrupted {
        // Flush the cases that completed, then stop.
        outputs.write_files(&outcome.results)?;
        return Err(Error::Interrupted(sig));
    }
    outputs.write(&outcome.results)?;
    super::summary(&outcome.results);
    Ok(super::verdict_exit(&outcome.results))
}
