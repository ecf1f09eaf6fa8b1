//! `shmharness list`: the interpreters found, and with `--all` every
//! rejected candidate with its reason, and the aliases of each interpreter.

use serde::Serialize;

use crate::cli::ListArgs;
use crate::commands::error::Result;
use crate::contract::{Interpreter, Rejected, Verdict};
use crate::discover::select;
use crate::export::document::Document;
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
    let rejected = args.all.then_some(&found.rejected[..]);
    crate::term::style::out(&listing(&chosen, rejected).render(args.format));
    if chosen.is_empty() {
        eprintln!("no usable CPython 3.8+ found; see `shmharness list --all` for the reasons");
        return Ok(crate::contract::exit::USAGE);
    }
    Ok(crate::contract::exit::OK)
}

/// The interpreters (with their aliases when `rejected` is asked for too),
/// then the rejected candidates.
fn listing(chosen: &[Interpreter], rejected: Option<&[Rejected]>) -> Document {
    let mut table = Table::new(["interpreter", "source", "executable"]);
    for i in chosen {
        table.plain_row([
            i.id.clone(),
            i.source.to_string(),
            printable(&i.executable.display().to_string()),
        ]);
        if rejected.is_some() {
            // Every other path that leads here (the executable itself is
            // already shown).
            let first = (i.path != i.executable).then_some((&i.path, i.source));
            let others = i.aliases.iter().map(|a| (&a.path, a.source));
            for (path, source) in first.into_iter().chain(others) {
                if *path != i.executable {
                    table.plain_row([
                        String::new(),
                        source.to_string(),
                        printable(&format!("alias: {}", path.display())),
                    ]);
                }
            }
        }
    }
    let mut tables = vec![table];
    if let Some(rejected) = rejected.filter(|r| !r.is_empty()) {
        let mut t = Table::new(["rejected", "source", "reason"]);
        for r in rejected {
            t.row(vec![
                Cell::plain(printable(&r.path.display().to_string())),
                Cell::plain(r.source.to_string()),
                Cell::judged(printable(&r.reason), Verdict::NotApplicable),
            ]);
        }
        tables.push(t);
    }
    let facts = Listing {
        interpreters: chosen,
        rejected,
    };
    Document::new(tables, &facts)
}
