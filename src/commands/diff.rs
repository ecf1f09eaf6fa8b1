//! `shmharness diff`: per interpreter and scenario, what changes between
//! stock and the candidate, as a unified diff of normalised transcripts.
//! A case that could not run gets its error line, never a diff against an
//! empty transcript.

use crate::cli::DiffArgs;
use crate::commands::error::{Error, Result};
use crate::contract::{VariantId, Verdict};
use crate::export::transcript;
use crate::term::style;

pub fn run(args: &DiffArgs) -> Result<u8> {
    if args.candidate.variant == "all" {
        return Err(Error::usage(
            "--variant all: diff compares stock with one candidate; name one (e.g. --variant create-only)",
        ));
    }
    let variants = crate::overlay::user::stock_and_candidate(
        &args.candidate.variant,
        args.candidate.own.given(),
        args.candidate.own.name.as_deref(),
    )?;
    let name = variants[1].name.clone();
    let plan = super::plan(
        &args.matrix,
        (variants, Vec::new()),
        Some(crate::contract::ScenarioId::ThreeProcess),
    )?;
    let outcome = super::execute(&plan, false)?;
    let results = outcome.complete()?;
    let stock = VariantId::Stock.name();
    for interp in &results.interpreters {
        for s in results.rows() {
            let (Some(a), Some(b)) = (
                results.case(&interp.id, stock, s),
                results.case(&interp.id, &name, s),
            ) else {
                continue;
            };
            crate::term::style::outln(&style::bold(&format!(
                "== {} {} ({}): stock vs {name}",
                interp.id, s, interp.source
            )));
            let broken = [a, b].into_iter().find(|c| c.verdict == Verdict::Error);
            if let Some(c) = broken {
                crate::term::style::outln(&format!(
                    "error: {} could not run: {}",
                    c.variant,
                    style::printable(&c.reason)
                ));
                continue;
            }
            if b.verdict == Verdict::NotApplicable {
                crate::term::style::outln(&format!("n/a: {}", b.reason));
                continue;
            }
            let text = transcript::unified(a, b);
            if text.is_empty() {
                crate::term::style::outln("(no difference)");
            } else {
                crate::term::style::out(&style::printable(&text));
            }
        }
    }
    super::summary(&results);
    // As `run`: 1 when a case ran and failed, 2 when one could not run.
    Ok(super::verdict_exit(&results))
}
