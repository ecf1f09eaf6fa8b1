//! `shmharness verify`: is the candidate a fix? Per interpreter: the bug
//! reproduces on stock, the candidate removes it, and no scenario shows a
//! symptom under the candidate that stock does not (see
//! `judge::candidate`).

use crate::cli::VerifyArgs;
use crate::commands::error::Result;
use crate::export::{Outputs, View};
use crate::judge::candidate;

pub fn run(args: &VerifyArgs) -> Result<u8> {
    let variants = crate::overlay::user::stock_and_candidate(
        &args.candidate.variant,
        args.candidate.own.given(),
        args.candidate.own.name.as_deref(),
    )?;
    let name = variants[1].name.clone();
    let outputs = Outputs::new(args.matrix.format, View::Verify);
    let plan = super::plan(&args.matrix, (variants, Vec::new()), None)?;
    let outcome = super::execute(&plan, args.strict)?;
    let mut results = outcome.complete()?;
    let mut verdict = candidate::judge(&results, &name);
    if args.strict {
        candidate::strict(&mut verdict, &results.cpython_tests);
    } else {
        verdict.tests_not_run("not asked for; --strict runs them");
    }
    let code = crate::contract::exit::for_verdict(verdict.verdict);
    results.verify = Some(verdict);
    outputs.write(&results)?;
    super::summary(&results);
    Ok(code)
}
