//! `shmharness patch show`: the exact diff each selected interpreter's copy
//! gets, checked against that interpreter's installed files (in memory; the
//! stdlib is only read), and where each hunk landed.

use crate::cli::PatchShowArgs;
use crate::commands::error::Result;
use crate::overlay;
use crate::term::style;

pub fn run(args: &PatchShowArgs) -> Result<u8> {
    let v = crate::overlay::user::candidate(
        &args.candidate.variant,
        args.candidate.own.given(),
        args.candidate.own.name.as_deref(),
    )?;
    let interpreters = super::interpreters(&args.select)?;
    let mut failed = 0;
    let mut applicable = 0;
    for interp in &interpreters {
        if let Some(why) = v.not_applicable(interp.version) {
            crate::term::style::outln(&style::bold(&format!(
                "# {} ({}): n/a: {why}",
                interp.id, interp.source
            )));
            continue;
        }
        applicable += 1;
        match overlay::check(interp, &v) {
            Ok(None) => crate::term::style::outln(&style::bold(&format!(
                "# {} ({}): {} changes no file",
                interp.id, interp.source, v.name
            ))),
            Ok(Some((origin, diff, landed))) => {
                crate::term::style::outln(&style::bold(&format!(
                    "# {} ({}): {origin}",
                    interp.id, interp.source
                )));
                for a in landed
                    .iter()
                    .filter(|a| a.offset != 0 || a.other_matches > 0)
                {
                    crate::term::style::outln(&format!("# note: {a}"));
                }
                crate::term::style::out(&style::printable(&crate::overlay::patch::applied_part(
                    &diff,
                )));
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {}", style::printable(&e.to_string()));
            }
        }
    }
    // A patch that does not apply is bad input wherever it fails.
    Ok(if failed > 0 || applicable == 0 {
        crate::contract::exit::USAGE
    } else {
        crate::contract::exit::OK
    })
}
