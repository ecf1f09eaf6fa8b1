//! `shmharness advise`: which usage holds on each interpreter, pattern by
//! pattern (see `judge::advice`). It runs the stock stdlib (or `--patch`'s)
//! under every usage the stdlib offers and reports what the cases showed.

use crate::cli::AdviseArgs;
use crate::commands::error::{Error, Result};
use crate::contract::{Usage, VariantId};
use crate::judge::advice::{self, PATTERNS};
use crate::overlay::user::{self, PatchUse};
use crate::overlay::variant;

pub fn run(args: &AdviseArgs) -> Result<u8> {
    let given = args.own.given();
    let stdlib = match user::user_variant(given, PatchUse::Code, args.own.name.as_deref())? {
        Some(patched) => patched,
        None => variant::builtin(VariantId::Stock),
    };
    let mut matrix = args.matrix.clone();
    let patterns: Vec<&str> = PATTERNS.iter().map(|p| p.name()).collect();
    if let Some(other) = matrix
        .scenario
        .iter()
        .find(|s| !patterns.contains(&s.as_str()))
    {
        return Err(Error::usage(format!(
            "--pattern {other}: not an application pattern (patterns: {}); the harness's controls and crash drills have no advice",
            patterns.join(", ")
        )));
    }
    if matrix.scenario.is_empty() {
        matrix.scenario = patterns.iter().map(|p| p.to_string()).collect();
    }
    if matrix.usage.is_empty() {
        matrix.usage = Usage::ALL.iter().map(|u| u.name().to_string()).collect();
    }
    let plan = super::plan(&matrix, (vec![stdlib], Vec::new()), None)?;
    let results = super::execute(&plan, false)?.complete()?;
    let stdlib = if given.is_empty() {
        "--variant stock".to_string()
    } else {
        given.options()
    };
    let claims =
        advice::advise(&results, &stdlib).map_err(|e| Error::Environment(e.to_string()))?;
    crate::term::style::out(&crate::export::advice::render(
        &results,
        &claims,
        matrix.format,
    ));
    super::summary(&results);
    Ok(crate::contract::exit::OK)
}
