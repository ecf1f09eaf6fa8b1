//! `shmharness verify`: is the candidate a fix? Per interpreter: the bug
//! reproduces on stock, the candidate removes it, and no scenario shows a
//! symptom under the candidate that stock does not show.

use anyhow::Result;

use super::Exit;
use crate::cli::VerifyArgs;
use crate::judge;
use crate::results::{Results, Verdict};
use crate::style;

pub fn run(args: &VerifyArgs, quiet: bool) -> Result<Exit> {
    let variants = super::stock_and_candidate(&args.variant, args.patch.as_deref())?;
    let name = variants[1].name.clone();
    let interpreters = super::interpreters(&args.matrix.select)?;
    let plan = super::plan(&args.matrix, interpreters, variants, "all")?;
    let results = super::execute(&plan, args.strict)?;
    if args.matrix.format != crate::cli::Format::Table {
        print!("{}", super::render(&results, args.matrix.format)?);
    }
    let mut verdicts = judge_candidate(&results, &name);
    if args.strict {
        super::cpython_tests::strict(&results.cpython_tests, &mut verdicts, &name);
    }
    if args.matrix.format == crate::cli::Format::Table {
        print!("{}", render(&verdicts, &name));
    }
    if args.matrix.format == crate::cli::Format::Markdown {
        print!(
            "\n{}",
            crate::report::bundle::verdict_markdown(&verdicts, &name)
        );
    }
    if !quiet {
        eprintln!("{}", crate::report::summary_line(&results));
    }
    Ok(if verdicts.iter().all(|v| v.ok) {
        Exit::SUCCESS
    } else {
        Exit::from(1)
    })
}

/// The verify verdict of one interpreter.
#[derive(Debug, Clone)]
pub struct InterpreterVerdict {
    pub interpreter: String,
    pub source: String,
    pub ok: bool,
    /// Why it failed, one line each (scenario, symptom, evidence); or why it passed.
    pub lines: Vec<String>,
}

pub fn judge_candidate(results: &Results, candidate: &str) -> Vec<InterpreterVerdict> {
    results
        .interpreters
        .iter()
        .map(|interp| {
            let mut lines = Vec::new();
            let id = &interp.id;
            for s in &results.scenarios {
                let (Some(stock), Some(cand)) =
                    (results.case(id, "stock", &s.name), results.case(id, candidate, &s.name))
                else {
                    continue;
                };
                if cand.verdict == Verdict::NotApplicable {
                    continue;
                }
                for c in [stock, cand] {
                    if c.verdict == Verdict::Error {
                        lines.push(format!("{}: {} could not run: {}", s.name, c.variant, c.reason));
                    }
                }
                if s.name == "three-process" {
                    if !judge::bug_reproduced(stock) && stock.verdict != Verdict::Error {
                        lines.push("three-process: the bug does not reproduce on stock".into());
                    }
                    if judge::bug_reproduced(cand) {
                        lines.push("three-process: the bug still reproduces".into());
                    }
                }
                if cand.verdict != Verdict::Error && stock.verdict != Verdict::Error {
                    for sym in judge::regressions(cand, stock) {
                        lines.push(format!("{}: worse than stock: {} | {}", s.name, sym.key, sym.evidence));
                    }
                }
            }
            let ok = lines.is_empty();
            if ok {
                lines.push(format!(
                    "bug reproduced on stock; {candidate} fixes it, nothing worse in {} scenario(s)",
                    results.scenarios.len()
                ));
            }
            InterpreterVerdict { interpreter: id.clone(), source: interp.source.to_string(), ok, lines }
        })
        .collect()
}

fn render(verdicts: &[InterpreterVerdict], candidate: &str) -> String {
    let w = verdicts
        .iter()
        .map(|v| v.interpreter.len())
        .max()
        .unwrap_or(0);
    let sw = verdicts.iter().map(|v| v.source.len()).max().unwrap_or(0);
    let mut out = String::new();
    for v in verdicts {
        let (word, verdict) = if v.ok {
            ("OK  ", Verdict::Pass)
        } else {
            ("FAIL", Verdict::Fail)
        };
        let head = format!("  {:w$}  {:sw$}  ", v.interpreter, v.source);
        out += &format!("{head}{}  {}\n", style::verdict(verdict, word), v.lines[0]);
        for line in &v.lines[1..] {
            out += &format!("{}      {}\n", " ".repeat(head.len()), line);
        }
    }
    let (verdict, text) = headline(verdicts, candidate);
    out += &style::verdict(verdict, &format!("{text}\n"));
    out
}

/// The last line of a verify: pass or fail, in words. `shown` is how the
/// candidate's name is written (plain, or as Markdown code).
pub fn headline(verdicts: &[InterpreterVerdict], shown: &str) -> (Verdict, String) {
    let failed = verdicts.iter().filter(|v| !v.ok).count();
    let total = verdicts.len();
    if failed == 0 {
        let text =
            format!("verify: {shown} fixes the bug on all {total} interpreters with no regression");
        (Verdict::Pass, text)
    } else {
        (
            Verdict::Fail,
            format!("verify: {shown} FAILED on {failed} of {total} interpreters"),
        )
    }
}
