//! `shmharness diff`: per interpreter and scenario, what changes between
//! stock and the candidate, as a unified diff of normalised transcripts.

use anyhow::Result;

use super::Exit;
use crate::cli::DiffArgs;
use crate::report::diff;
use crate::style;

pub fn run(args: &DiffArgs, _quiet: bool) -> Result<Exit> {
    let variants = super::stock_and_candidate(&args.variant, args.patch.as_deref())?;
    let name = variants[1].name.clone();
    let interpreters = super::interpreters(&args.matrix.select)?;
    let plan = super::plan(&args.matrix, interpreters, variants, "three-process")?;
    let results = super::execute(&plan, false)?;
    for interp in &results.interpreters {
        for s in &results.scenarios {
            let (Some(a), Some(b)) = (
                results.case(&interp.id, "stock", &s.name),
                results.case(&interp.id, &name, &s.name),
            ) else {
                continue;
            };
            println!(
                "{}",
                style::bold(&format!(
                    "== {} {} ({}): stock vs {name}",
                    interp.id, s.name, interp.source
                ))
            );
            let text = diff::unified(a, b);
            if text.is_empty() {
                println!("(no difference)");
            } else {
                print!("{text}");
            }
        }
    }
    Ok(Exit::SUCCESS)
}
