//! `shmharness list`: the interpreters found, and with `--all` every
//! rejected candidate with its reason, and the aliases of each interpreter.

use anyhow::Result;
use serde::Serialize;

use super::Exit;
use crate::cli::{Format, ListArgs};
use crate::discovery::select;
use crate::discovery::{Interpreter, Rejected};
use crate::report::table::{Cell, render};
use crate::results::Verdict;

#[derive(Serialize)]
struct Listing<'a> {
    interpreters: &'a [Interpreter],
    #[serde(skip_serializing_if = "Option::is_none")]
    rejected: Option<&'a [Rejected]>,
}

pub fn run(args: &ListArgs) -> Result<Exit> {
    // `--all` also probes version-manager shims (slow: each is a shell
    // script starting the manager) to show where they lead or why they fail.
    let (found, mut specs) = super::discover_with(&args.select, args.all)?;
    if args.all {
        // A rejected `--python PATH` is listed with its reason, not an error:
        // one bad candidate never breaks the listing.
        specs.retain(|s| {
            s.explicit_path()
                .is_none_or(|p| crate::discovery::explain(p, &found).is_none())
        });
    }
    let chosen = select::select(&found, &specs).map_err(anyhow::Error::msg)?;
    match args.format {
        Format::Json => {
            let listing = Listing {
                interpreters: &chosen,
                rejected: args.all.then_some(&found.rejected[..]),
            };
            println!("{}", serde_json::to_string_pretty(&listing)?);
        }
        Format::Table | Format::Markdown => {
            let headers: Vec<String> = ["interpreter", "source", "executable"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            let mut rows = Vec::new();
            for i in &chosen {
                rows.push(vec![
                    Cell::plain(&i.id),
                    Cell::plain(i.source.to_string()),
                    Cell::plain(i.executable.display().to_string()),
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
                        rows.push(vec![
                            Cell::plain(""),
                            Cell::plain(source.to_string()),
                            Cell::plain(format!("alias: {}", path.display())),
                        ]);
                    }
                }
            }
            print!("{}", render(&headers, &rows));
            if args.all && !found.rejected.is_empty() {
                println!();
                let headers: Vec<String> = ["rejected", "source", "reason"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let rows: Vec<Vec<Cell>> = found
                    .rejected
                    .iter()
                    .map(|r| {
                        vec![
                            Cell::plain(r.path.display().to_string()),
                            Cell::plain(r.source.to_string()),
                            Cell::judged(&r.reason, Verdict::NotApplicable),
                        ]
                    })
                    .collect();
                print!("{}", render(&headers, &rows));
            }
        }
    }
    if chosen.is_empty() {
        eprintln!("no usable CPython 3.8+ found; see `shmharness list --all` for the reasons");
        return Ok(Exit::from(2));
    }
    Ok(Exit::SUCCESS)
}
