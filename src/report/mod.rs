//! Rendering results: one module per format, all from the same `Results`.
//! The matrix layout (rows, columns, cell text) is decided once here and
//! shared by the terminal table and Markdown.

pub mod bundle;
pub mod diff;
pub mod junit;
pub mod markdown;
pub mod table;

use crate::results::{Case, Results, Verdict};
use table::Cell;

/// Text of a matrix cell; `brief` leaves out the evidence of passing cells
/// (for the wide many-scenario matrix).
pub fn cell_text(case: &Case, brief: bool) -> String {
    match case.verdict {
        Verdict::Pass if brief => case.outcome.clone(),
        Verdict::Pass => format!("{}: {}", case.outcome, case.reason),
        Verdict::Fail => format!("FAIL {}: {}", case.outcome, case.reason),
        Verdict::NotApplicable => "n/a".to_string(),
        Verdict::Error => format!("error: {}", case.reason),
    }
}

/// The outcome matrix: a row per interpreter (per interpreter and scenario
/// when several scenarios ran), a column per variant.
pub fn matrix(results: &Results) -> (Vec<String>, Vec<Vec<Cell>>) {
    let many = results.scenarios.len() > 1;
    let mut headers = vec!["interpreter".to_string(), "source".to_string()];
    if many {
        headers.push("scenario".into());
    }
    headers.extend(results.variants.iter().map(|v| v.name.clone()));
    let mut rows = Vec::new();
    for interp in &results.interpreters {
        for (n, scenario) in results.scenarios.iter().enumerate() {
            let first = n == 0;
            let mut row = vec![
                Cell::plain(if first {
                    interp.id.clone()
                } else {
                    String::new()
                }),
                Cell::plain(if first {
                    interp.source.to_string()
                } else {
                    String::new()
                }),
            ];
            if many {
                row.push(Cell::plain(scenario.name.clone()));
            }
            for v in &results.variants {
                row.push(match results.case(&interp.id, &v.name, &scenario.name) {
                    Some(c) => Cell::judged(cell_text(c, many), c.verdict),
                    None => Cell::plain("-"),
                });
            }
            rows.push(row);
        }
    }
    (headers, rows)
}

/// `14 cases on 7 interpreters: 14 passed in 1.9 s (children CPU 3.4 s, 1.12x the 2-core floor)`
pub fn summary_line(results: &Results) -> String {
    let count = |v: Verdict| results.cases.iter().filter(|c| c.verdict == v).count();
    let mut parts = vec![format!("{} passed", count(Verdict::Pass))];
    for (v, word) in [
        (Verdict::Fail, "failed"),
        (Verdict::Error, "errors"),
        (Verdict::NotApplicable, "n/a"),
    ] {
        if count(v) > 0 {
            parts.push(format!("{} {word}", count(v)));
        }
    }
    let t = &results.timing;
    let wall = t.wall_ms as f64 / 1000.0;
    let cpu = t.children_cpu_ms as f64 / 1000.0;
    let floor = cpu / t.cores.max(1) as f64;
    let ratio = if floor > 0.0 {
        format!(", {:.2}x the {}-core floor", wall / floor, t.cores)
    } else {
        String::new()
    };
    format!(
        "{} cases on {} interpreters: {} in {wall:.1} s (children CPU {cpu:.1} s{ratio})",
        results.cases.len(),
        results.interpreters.len(),
        parts.join(", "),
    )
}
