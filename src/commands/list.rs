//! `shmharness list`: the interpreters found, and with `--all` every
//! rejected candidate with its reason, and the aliases of each interpreter.

use serde::Serialize;

use crate::cli::{Format, ListArgs};
use crate::commands::error::Result;
use crate::contract::{Interpreter, Rejected, Verdict};
use crate::discover::select;
use crate::export::table::{Cell, Table};
use crate::term::style::printable;

#[derive(Serialize)]
struct Listing<'a> {
    interpreters: &'a [Interpreter],
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<&'a [Rejected]>,
}

pub fn run(args: &ListArgs) -> Result<u8> {
    // `--all` also probes version-manager shims (slow: each is a shell
    // script starting the manager) to show where they lead or why they fail.
    let (found, mut specs) = super::discover(&args.select, args.all)?;
    if args.all {
        // A rejected `--python PATH` is listed with its reason, not an error:
        // one bad candidate never breaks the listing.
        specs.retain(|s| {
            s.explicit_path()
                .is_none_or(|p| crate::discover::explain(p, &found).is_none())
        });
    }
    let chosen = select::select(&found, &specs)?;
    match args.format {
        Format::Json => {
            let listing = Listing {
                interpreters: &chosen,
                rejected: args.all.then_some(&found.rejected[..]),
            };
            crate::term::style::outln(&serde_json::to_string_pretty(&listing).expect("JSON"));
        }
        Format::Table | Format::Markdown => {
            let mut table = Table::new(["interpreter", "source", "executable"]);
            for i in &chosen {
                table.plain_row([
                    i.id.clone(),
                    i.source.to_string(),
                    printable(&i.executable.display().to_string()),
                ]);
                if args.all {
                    // Every other path that leads here (the executable
                    // itself is already shown).
                    let first = (i.path != i.executable).then_some((&i.path, i.source));
                    let others = i.aliases.iter().map(|a| (&a.path, a.source));
                    for (path, source) in first.into_iter().chain(others) {
                        if *path == i.executable {
                            continue;
                        }
                        table.plain_row([
                            String::new(),
                            source.to_string(),
                            printable(&format!("alias: {}", path.display())),
                        ]);
                    }
                }
            }
            crate::term::style::out(&table.terminal());
            if args.all && !found.rejected.is_empty() {
                crate::term::style::outln("");
                let mut rejected = Table::new(["rejected", "source", "reason"]);
                for r in &found.rejected {
                    rejected.row(vec![
                        Cell::plain(printable(&r.path.display().to_string())),
                        Cell::plain(r.source.to_string()),
                        Cell::judged(printable(&r.reason), Verdict::NotApplicable),
                    ]);
                }
                crate::term::style::out(&rejected.terminal());
            }
        }
    }
    if chosen.is_empty() {
        eprintln!("no usable CPython 3.8+ found; see `shmharness list --all` for the reasons");
        return Ok(crate::commands::exit::USAGE);
    }
    Ok(crate::commands::exit::OK)
}
