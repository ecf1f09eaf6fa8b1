//! The views every format shares, decided once: the outcome matrix (rows,
//! columns, cell text), the summary line, and the verify verdict.

use super::table::{Cell, Table, code, text};
use crate::contract::{CandidateVerdict, Case, Results, Verdict};
use crate::term::style::{self, plural};

/// Text of a matrix cell; `brief` leaves out the evidence of passing cells
/// (for the wide many-scenario matrix).
pub fn cell_text(case: &Case, brief: bool) -> String {
    match case.verdict {
        Verdict::Pass if brief => case.outcome.clone(),
        Verdict::Pass => format!("{}: {}", case.outcome, case.reason),
        Verdict::Fail => format!("FAIL {}: {}", case.outcome, case.reason),
        // It ran, but nothing judges it (no stock twin to compare with):
        // what it did, unjudged.
        Verdict::NotApplicable if case.unjudged() => {
            format!("{} (not judged: no stock to compare)", case.outcome)
        }
        Verdict::NotApplicable => "n/a".to_string(),
        // The whole reason is in results.json; a table cell keeps it short
        // (a patch that does not apply says why once, on stderr).
        Verdict::Error => format!("error: {}", crate::term::style::short_to(&case.reason, 90)),
    }
}

/// The outcome matrix: a row per interpreter (per interpreter and scenario
/// when several scenarios ran), a column per variant.
pub fn matrix(results: &Results) -> Table {
    let rows = results.rows();
    // The row says its scenario when there are several, or when it is not
    // the plain default usage (a one-row matrix would hide it).
    let many = rows.len() > 1
        || rows
            .iter()
            .any(|r| r.usage != crate::contract::Usage::Default);
    let mut headers = vec!["interpreter".to_string(), "source".to_string()];
    if many {
        headers.push("scenario".into());
    }
    headers.extend(results.variants.iter().map(|v| v.name.clone()));
    let mut table = Table::new(headers);
    for interp in &results.interpreters {
        for (n, scenario) in rows.iter().enumerate() {
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
                row.push(Cell::plain(scenario.to_string()));
            }
            for v in &results.variants {
                row.push(match results.case(&interp.id, &v.name, *scenario) {
                    Some(c) => Cell::judged(cell_text(c, many), c.verdict),
                    None => Cell::plain("-"),
                });
            }
            table.row(row);
        }
    }
    table
}

/// `14 cases on 7 interpreters: 14 passed in 2.0 s (2 workers; CPU 3.8 s,
/// near the best 2 cores allow)`. With `verbose`, also how far the wall time
/// is from that best (children CPU / cores).
///
/// Merged results (several legs) have no such best: their wall time is the
/// longest leg's and their CPU the sum over legs, which ran apart, so the
/// line says just that: `(longest of 2 legs; CPU 1.3 s over all legs)`.
pub fn summary_line(results: &Results, verbose: bool) -> String {
    let mut parts = vec![format!("{} passed", results.count(Verdict::Pass))];
    for (v, word) in [
        (Verdict::Fail, "failed"),
        (Verdict::Error, "could not run"),
        (Verdict::NotApplicable, "n/a"),
    ] {
        let n = results.count(v);
        if n > 0 {
            parts.push(format!("{n} {word}"));
        }
    }
    let t = &results.timing;
    let wall = t.wall_ms as f64 / 1000.0;
    let cpu = t.children_cpu_ms as f64 / 1000.0;
    let legs = results.merged_from.len();
    let how = if legs > 1 {
        vec![
            format!("longest of {legs} legs"),
            format!("CPU {cpu:.1} s over all legs"),
        ]
    } else {
        let cores = t.cores.max(1);
        let best = cpu / cores as f64;
        let mut how = vec![plural(t.jobs.max(1), "worker"), format!("CPU {cpu:.1} s")];
        if best > 0.0 && wall / best <= 1.15 {
            how[1] += &format!(", near the best {} allow", plural(cores, "core"));
        }
        if verbose && best > 0.0 {
            how.push(format!(
                "wall {:.2}x children CPU / {}",
                wall / best,
                plural(cores, "core")
            ));
        }
        how
    };
    format!(
        "{} on {}: {} in {wall:.1} s ({})",
        plural(results.cases.len(), "case"),
        plural(results.interpreters.len(), "interpreter"),
        parts.join(", "),
        how.join("; ")
    )
}

/// The last line of a verify: the answer, in words. `shown` is how the
/// candidate's name is written (plain, or as Markdown code). It claims no
/// more than ran: where CPython's own tests did not, it says so.
pub fn headline(v: &CandidateVerdict, shown: &str) -> String {
    let judged = v.interpreters.len() - v.count(Verdict::NotApplicable);
    let na = match v.count(Verdict::NotApplicable) {
        0 => String::new(),
        n => format!(" ({} n/a)", plural(n, "interpreter")),
    };
    let tests = tests_note(v, judged);
    let unseeded = v
        .interpreters
        .iter()
        .filter(|i| i.verdict == Verdict::Pass && !i.seed_ran)
        .count();
    match v.verdict {
        // Where the seed's scenario did not run, "fixes the bug" is not
        // shown: say only what was.
        Verdict::Pass if unseeded > 0 => format!(
            "verify: {shown}: nothing worse than stock on {}{na}, but the seed's scenario (three-process, plain attachers) did not run on {}, so whether the bug is gone is not shown{tests}",
            plural(judged, "interpreter"),
            if unseeded == judged {
                "any".to_string()
            } else {
                unseeded.to_string()
            }
        ),
        Verdict::Pass => format!(
            "verify: {shown} fixes the bug on {}{}{na}{tests}",
            if judged == 1 {
                "the 1 interpreter".to_string()
            } else {
                format!("all {judged} interpreters")
            },
            if tests.is_empty() {
                " with no regression"
            } else {
                ", nothing worse in its scenarios"
            }
        ),
        Verdict::Fail => format!(
            "verify: {shown} FAILED on {} of {}{na}{tests}",
            v.count(Verdict::Fail),
            plural(judged, "interpreter")
        ),
        Verdict::Error | Verdict::NotApplicable if judged == 0 => format!(
            "verify: no verdict on {shown}: n/a on {} ({}); select an interpreter it applies to",
            match v.interpreters.len() {
                1 => "the 1 interpreter".to_string(),
                n => format!("all {n} interpreters"),
            },
            v.interpreters
                .first()
                .and_then(|i| i.reasons.first())
                .map_or("n/a", String::as_str)
        ),
        // A failure elsewhere is said: the errors only keep it from being
        // the whole answer.
        Verdict::Error | Verdict::NotApplicable => format!(
            "verify: no verdict on {shown}: {} of {} could not run or be judged{}{na}; fix what the errors say and run again",
            v.count(Verdict::Error),
            plural(judged, "interpreter"),
            match v.count(Verdict::Fail) {
                0 => String::new(),
                n => format!(", and it FAILED on {n}"),
            }
        ),
    }
}

/// `; CPython's own tests not run on 3 (no test package)`, or nothing when
/// they judged every interpreter.
fn tests_note(v: &CandidateVerdict, judged: usize) -> String {
    let mut why: Vec<(&str, usize)> = Vec::new();
    for reason in v
        .interpreters
        .iter()
        .filter_map(|i| i.tests_not_run.as_deref())
    {
        match why.iter_mut().find(|(r, _)| *r == reason) {
            Some((_, n)) => *n += 1,
            None => why.push((reason, 1)),
        }
    }
    let not_run: usize = why.iter().map(|(_, n)| n).sum();
    if not_run == 0 {
        return String::new();
    }
    let parts: Vec<String> = why
        .iter()
        .map(|(reason, n)| {
            if not_run == judged && why.len() == 1 {
                format!("({reason})")
            } else {
                format!("on {n} ({reason})")
            }
        })
        .collect();
    format!("; CPython's own tests not run {}", parts.join(", "))
}

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "OK",
        Verdict::Fail => "FAIL",
        Verdict::Error => "ERROR",
        Verdict::NotApplicable => "n/a",
    }
}

/// tox-style lines: one per interpreter, its reasons under it, then the
/// headline.
pub fn verdict_lines(v: &CandidateVerdict) -> String {
    let w = v
        .interpreters
        .iter()
        .map(|i| i.interpreter.len())
        .max()
        .unwrap_or(0);
    let sw = v
        .interpreters
        .iter()
        .map(|i| i.source.len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for i in &v.interpreters {
        let head = format!("  {:w$}  {:sw$}  ", i.interpreter, i.source);
        let first = i.reasons.first().map(String::as_str).unwrap_or("");
        out += &format!(
            "{head}{}  {}\n",
            style::verdict(i.verdict, &format!("{:5}", word(i.verdict))),
            style::printable(first)
        );
        for line in i.reasons.iter().skip(1) {
            out += &format!(
                "{}       {}\n",
                " ".repeat(head.len()),
                style::printable(line)
            );
        }
    }
    out += &style::verdict(v.verdict, &headline(v, &v.candidate));
    out.push('\n');
    out
}

/// The verdict as Markdown: the headline in bold, then a table.
pub fn verdict_markdown(v: &CandidateVerdict) -> String {
    let mut out = format!("**{}**\n\n", headline(v, &code(&v.candidate)));
    let mut table = Table::new(["interpreter", "source", "verdict", "why"]);
    for i in &v.interpreters {
        let why: Vec<String> = i.reasons.iter().map(|r| text(r)).collect();
        table.row(vec![
            Cell::plain(i.interpreter.clone()),
            Cell::plain(i.source.clone()),
            Cell::plain(word(i.verdict)),
            Cell::markup(why.join("<br>")),
        ]);
    }
    out += &table.markdown();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ScenarioId;
    use crate::contract::fixtures::{attacher, case};

    #[test]
    fn an_n_a_case_that_ran_says_whether_it_was_judged() {
        // A usage its role could not apply: n/a, though its processes ran.
        let mut c = case(
            "3.14.10",
            "stock",
            ScenarioId::ShareableList,
            Verdict::NotApplicable,
            "n/a",
            &[],
        );
        c.processes = vec![attacher("")];
        assert_eq!(cell_text(&c, false), "n/a");
        // A patch with no stock twin to compare with: what it did, unjudged.
        c.outcome = "clean".into();
        assert_eq!(
            cell_text(&c, false),
            "clean (not judged: no stock to compare)"
        );
    }

    #[test]
    fn no_verdict_still_says_where_the_fix_failed() {
        use crate::contract::{CandidateVerdict, InterpreterVerdict};
        let on = |interpreter: &str, verdict: Verdict| InterpreterVerdict {
            interpreter: interpreter.into(),
            source: "pyenv".into(),
            verdict,
            reasons: Vec::new(),
            tests_not_run: None,
            seed_ran: true,
        };
        let mut v = CandidateVerdict {
            candidate: "patch:x".into(),
            verdict: Verdict::Error,
            interpreters: vec![on("3.13.0", Verdict::Fail), on("3.14.10", Verdict::Error)],
        };
        assert_eq!(
            headline(&v, "patch:x"),
            "verify: no verdict on patch:x: 1 of 2 interpreters could not run or be judged, and it FAILED on 1; fix what the errors say and run again"
        );
        v.interpreters[0].verdict = Verdict::Pass;
        assert_eq!(
            headline(&v, "patch:x"),
            "verify: no verdict on patch:x: 1 of 2 interpreters could not run or be judged; fix what the errors say and run again"
        );
    }
}
