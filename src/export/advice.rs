//! `advise` in every format: per interpreter (grouped where the advice is
//! the same), per pattern, the usages that hold (with their residue), the
//! ones that break (with the symptom), and the one to use; then how each
//! recommended usage looks in code.

use std::fmt::Write as _;

use serde::Serialize;

use super::Format;
use super::table::Table;
use crate::contract::{Results, Usage};
use crate::judge::advice::{Advice, recommend};
use crate::scenario::catalogue;

/// The advice as `format` shows it.
pub fn render(results: &Results, advice: &[Advice], format: Format) -> String {
    match format {
        Format::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                advice: &'a [Advice],
            }
            serde_json::to_string_pretty(&Doc { advice }).expect("advice serialises") + "\n"
        }
        Format::Table => text(results, advice),
        Format::Markdown => markdown(results, advice),
    }
}

/// Interpreters whose advice is the same, claim for claim, in one group.
fn groups(results: &Results, advice: &[Advice]) -> Vec<(Vec<String>, Vec<Advice>)> {
    let mut out: Vec<(Vec<String>, Vec<Advice>)> = Vec::new();
    for i in &results.interpreters {
        let mine: Vec<Advice> = advice
            .iter()
            .filter(|a| a.interpreter == i.id)
            .cloned()
            .collect();
        if mine.is_empty() {
            continue;
        }
        let same = |a: &Advice, b: &Advice| {
            (
                a.scenario,
                a.start_method,
                a.usage,
                a.holds,
                &a.residue,
                &a.breaks,
            ) == (
                b.scenario,
                b.start_method,
                b.usage,
                b.holds,
                &b.residue,
                &b.breaks,
            )
        };
        match out.iter_mut().find(|(_, theirs)| {
            theirs.len() == mine.len() && theirs.iter().zip(&mine).all(|(a, b)| same(a, b))
        }) {
            Some((ids, _)) => ids.push(i.id.clone()),
            None => out.push((vec![i.id.clone()], mine)),
        }
    }
    out
}

/// Claims of one group, row by row (pattern and start method), with the
/// start methods of a pattern that say the same thing in one row, and the
/// row's label (`family`, `family [spawn, forkserver]`).
fn rows(claims: &[Advice]) -> Vec<(String, Vec<&Advice>)> {
    let mut by_method: Vec<Vec<&Advice>> = Vec::new();
    for a in claims {
        match by_method
            .iter_mut()
            .find(|r| r[0].scenario == a.scenario && r[0].start_method == a.start_method)
        {
            Some(r) => r.push(a),
            None => by_method.push(vec![a]),
        }
    }
    let same = |a: &[&Advice], b: &[&Advice]| {
        a.len() == b.len()
            && a.iter().zip(b).all(|(x, y)| {
                (x.usage, x.holds, &x.residue, &x.breaks)
                    == (y.usage, y.holds, &y.residue, &y.breaks)
            })
    };
    let mut out: Vec<(Vec<String>, Vec<&Advice>)> = Vec::new();
    for row in by_method {
        let method = row[0].start_method.map(|m| m.to_string());
        match out.last_mut() {
            Some((methods, last)) if last[0].scenario == row[0].scenario && same(last, &row) => {
                methods.extend(method);
            }
            _ => out.push((method.into_iter().collect(), row)),
        }
    }
    out.into_iter()
        .map(|(methods, row)| {
            let label = match methods.len() {
                0 | 3 => row[0].scenario.to_string(),
                _ => format!("{} [{}]", row[0].scenario, methods.join(", ")),
            };
            (label, row)
        })
        .collect()
}

fn with_residue(a: &Advice) -> String {
    if a.residue.is_empty() {
        a.usage.to_string()
    } else {
        format!("{} (residue: {})", a.usage, a.residue.join(", "))
    }
}

/// ` (stdlib patched: patch:x)` where the cases did not run the stock
/// stdlib.
fn stdlib(claims: &[Advice]) -> String {
    match claims.first() {
        Some(a) if a.stdlib != "stock" => format!(" (stdlib patched: {})", a.stdlib),
        _ => String::new(),
    }
}

/// `use`: the recommended usage and why, or that none holds (of those
/// tried, when not every usage was).
fn verdict(row: &[&Advice]) -> String {
    match recommend(row) {
        Some(best) if best.residue.is_empty() => format!("{}: holds, no residue", best.usage),
        Some(best) => format!(
            "{}: holds with the least residue ({})",
            best.usage,
            best.residue.join(", ")
        ),
        None if row.len() < Usage::ALL.len() => {
            "none of the usages tried holds here (advise without --usage tries them all)".into()
        }
        None => "none holds here".into(),
    }
}

/// One row's usages in words: those that hold (with residue), those that
/// break (with the symptoms), those not offered here (with the API).
struct Said {
    holds: String,
    breaks: String,
    na: String,
}

fn said(row: &[&Advice]) -> Said {
    let list = |keep: &dyn Fn(&Advice) -> Option<String>| {
        row.iter()
            .filter_map(|a| keep(a))
            .collect::<Vec<_>>()
            .join("; ")
    };
    Said {
        holds: list(&|a| (a.holds == Some(true)).then(|| with_residue(a))),
        breaks: list(&|a| {
            (a.holds == Some(false)).then(|| format!("{} ({})", a.usage, a.breaks.join(", ")))
        }),
        na: list(&|a| {
            a.holds.is_none().then(|| {
                let why = a.unavailable.as_deref().unwrap_or_default();
                format!("{} ({})", a.usage, why.rsplit(": ").next().unwrap_or(why))
            })
        }),
    }
}

fn text(results: &Results, advice: &[Advice]) -> String {
    let mut out = String::new();
    for (ids, claims) in groups(results, advice) {
        let _ = writeln!(out, "CPython {}{}", ids.join(", "), stdlib(&claims));
        for (label, row) in rows(&claims) {
            let _ = writeln!(out, "  {label}");
            let s = said(&row);
            for (word, list) in [("holds", s.holds), ("breaks", s.breaks), ("n/a", s.na)] {
                if !list.is_empty() {
                    let _ = writeln!(out, "    {word:7}{list}");
                }
            }
            let _ = writeln!(out, "    use    {}", verdict(&row));
        }
        out.push('\n');
    }
    out += &snippets(advice);
    out += &patterns(advice);
    out
}

fn markdown(results: &Results, advice: &[Advice]) -> String {
    let mut out = String::new();
    for (ids, claims) in groups(results, advice) {
        let _ = writeln!(out, "**CPython {}{}**\n", ids.join(", "), stdlib(&claims));
        let mut t = Table::new(["pattern", "holds", "breaks", "n/a", "use"]);
        for (label, row) in rows(&claims) {
            let s = said(&row);
            t.plain_row([label, s.holds, s.breaks, s.na, verdict(&row)]);
        }
        out += &t.markdown();
        out.push('\n');
    }
    out += &super::issue::fenced("text", &snippets(advice));
    out
}

/// How each usage that some claim recommends looks in code.
fn snippets(advice: &[Advice]) -> String {
    let mut used: Vec<Usage> = Vec::new();
    let mut all_rows: Vec<Vec<&Advice>> = Vec::new();
    for a in advice {
        match all_rows.iter_mut().find(|r| {
            r[0].interpreter == a.interpreter
                && r[0].scenario == a.scenario
                && r[0].start_method == a.start_method
        }) {
            Some(r) => r.push(a),
            None => all_rows.push(vec![a]),
        }
    }
    for row in &all_rows {
        if let Some(best) = recommend(row)
            && !used.contains(&best.usage)
        {
            used.push(best.usage);
        }
    }
    used.sort_by_key(|u| Usage::ALL.iter().position(|x| x == u));
    let mut out = String::new();
    for u in used {
        let _ = writeln!(out, "{u}:\n{}", snippet(u));
    }
    out
}

/// Two to four lines of an attacher, as the usage writes it.
fn snippet(usage: Usage) -> &'static str {
    match usage {
        Usage::Default => "    shm = shared_memory.SharedMemory(name)\n    ...\n    shm.close()\n",
        Usage::TrackFalse => {
            "    shm = shared_memory.SharedMemory(name, track=False)  # 3.13+\n    ...\n    shm.close()  # the creator unlinks\n"
        }
        Usage::Unregister => {
            "    from multiprocessing import resource_tracker\n    shm = shared_memory.SharedMemory(name)\n    resource_tracker.unregister(shm._name, \"shared_memory\")\n    ...\n"
        }
    }
}

/// What each pattern is, once.
fn patterns(advice: &[Advice]) -> String {
    let mut seen = Vec::new();
    let mut out = String::from("\nPatterns:\n");
    for a in advice {
        if !seen.contains(&a.scenario) {
            seen.push(a.scenario);
            let _ = writeln!(
                out,
                "  {}: {}",
                a.scenario,
                catalogue::find(a.scenario).summary
            );
        }
    }
    out
}
