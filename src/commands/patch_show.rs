//! `shmharness patch show`: the exact diff each selected interpreter's copy
//! gets, checked against that interpreter's installed files (in memory; the
//! stdlib is only read).

use anyhow::Result;

use super::Exit;
use crate::cli::PatchShowArgs;
use crate::overlay;
use crate::style;

pub fn run(args: &PatchShowArgs) -> Result<Exit> {
    let v = super::candidate(&args.variant, args.patch.as_deref())?;
    let interpreters = super::interpreters(&args.select)?;
    let mut failed = 0;
    for interp in &interpreters {
        match overlay::check(interp, &v) {
            Ok(None) => println!(
                "{}",
                style::bold(&format!(
                    "# {} ({}): {} changes no file",
                    interp.id, interp.source, v.name
                ))
            ),
            Ok(Some((origin, diff))) => {
                println!(
                    "{}",
                    style::bold(&format!("# {} ({}): {origin}", interp.id, interp.source))
                );
                print!("{diff}");
            }
            Err(e) => {
                failed += 1;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(match failed {
        0 => Exit::SUCCESS,
        n if n == interpreters.len() => Exit::from(2),
        _ => Exit::from(1),
    })
}
