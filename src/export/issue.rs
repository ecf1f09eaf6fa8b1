//! report.md and summary.md: the report a CPython developer pastes into an
//! issue. It opens with the answer (the verdict line `verify` prints), then
//! a compact matrix (scenario x variant, interpreters grouped), then the
//! environment, and the evidence after that, each piece shown once: diffs
//! that are the same on several interpreters (after normalising names, pids
//! and paths) appear once with the list of interpreters. Full transcripts
//! and every diff stay in the bundle's files, and report.md links them.
//!
//! GitHub rejects issue bodies over 65,536 characters: report.md keeps under
//! `BUDGET` by moving inline diffs out to `diffs/` when it must; summary.md
//! (a comment to paste as is) stays under 10,000.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::matrix::{headline, verdict_markdown};
use super::table::Table;
use super::transcript;
use crate::contract::{CandidateVerdict, Case, Results, Row, ScenarioId, VariantId, Verdict};

/// Most bytes report.md may have (GitHub's limit is 65,536 characters).
pub const BUDGET: usize = 58_000;
/// Most bytes of summary.md: a comment, pasted as is.
pub const SUMMARY_BUDGET: usize = 10_000;

const TITLE: &str =
    "# multiprocessing.shared_memory: an attacher's resource tracker unlinks the segment";
const BUG: &str = "CPython bug [gh-82300](https://github.com/python/cpython/issues/82300) \
    (bpo-38119; also gh-84140 / bpo-39959): `SharedMemory(name, create=False)` registers the \
    segment with the attaching process's resource tracker, which unlinks it when that process \
    exits, destroying a segment another process owns.";

/// One diff shown once, for the interpreters it stands for.
pub struct SharedDiff {
    pub row: Row,
    pub candidate: String,
    pub interpreters: Vec<String>,
    /// Without the `---`/`+++` header (which names one interpreter).
    pub body: String,
    /// Its file in the bundle.
    pub file: String,
}

/// Every candidate's diffs against stock, grouped: same body, one entry.
pub fn shared_diffs(results: &Results) -> Vec<SharedDiff> {
    let stock = VariantId::Stock.name();
    let mut out: Vec<SharedDiff> = Vec::new();
    for cand in &results.candidates {
        for s in results.rows() {
            let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
            let mut order: Vec<String> = Vec::new();
            for i in &results.interpreters {
                let (Some(a), Some(b)) = (
                    results.case(&i.id, stock, s),
                    results.case(&i.id, &cand.candidate, s),
                ) else {
                    continue;
                };
                if a.verdict == Verdict::Error
                    || b.verdict != Verdict::Pass && b.verdict != Verdict::Fail
                {
                    continue;
                }
                let body: String = transcript::unified(a, b)
                    .lines()
                    .skip_while(|l| l.starts_with("---") || l.starts_with("+++"))
                    .map(|l| format!("{l}\n"))
                    .collect();
                if !groups.contains_key(&body) {
                    order.push(body.clone());
                }
                groups.entry(body).or_default().push(i.id.clone());
            }
            for (n, body) in order.into_iter().enumerate() {
                let interpreters = groups.remove(&body).unwrap_or_default();
                out.push(SharedDiff {
                    row: s,
                    candidate: cand.candidate.clone(),
                    file: format!(
                        "diffs/{}--{}--{}.diff",
                        slug(&s.to_string()),
                        slug(&cand.candidate),
                        n + 1
                    ),
                    interpreters,
                    body,
                });
            }
        }
    }
    out
}

fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-+._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `3.8.18, 3.9.18` or `all 10`.
fn who(ids: &[String], all: usize) -> String {
    if ids.len() == all && all > 1 {
        format!("all {all}")
    } else {
        ids.join(", ")
    }
}

/// Scenario x variant; each cell what happened, interpreters grouped when
/// they differ.
pub fn compact_matrix(results: &Results) -> Table {
    let mut headers = vec!["scenario".to_string()];
    headers.extend(results.variants.iter().map(|v| v.name.clone()));
    let mut table = Table::new(headers);
    let all = results.interpreters.len();
    for s in results.rows() {
        let mut row = vec![s.to_string()];
        for v in &results.variants {
            let mut groups: Vec<(String, Vec<String>)> = Vec::new();
            for i in &results.interpreters {
                let Some(c) = results.case(&i.id, &v.name, s) else {
                    continue;
                };
                let text = cell(c);
                match groups.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, ids)) => ids.push(i.id.clone()),
                    None => groups.push((text, vec![i.id.clone()])),
                }
            }
            row.push(match groups.len() {
                0 => "-".into(),
                1 => groups.remove(0).0,
                _ => groups
                    .into_iter()
                    .map(|(t, ids)| format!("{t} ({})", who(&ids, all)))
                    .collect::<Vec<_>>()
                    .join("; "),
            });
        }
        table.plain_row(row);
    }
    table
}

fn cell(c: &Case) -> String {
    match c.verdict {
        Verdict::Pass => c.outcome.clone(),
        Verdict::Fail => format!("**FAIL** {}", c.outcome),
        Verdict::NotApplicable => "n/a".into(),
        Verdict::Error => "error".into(),
    }
}

/// The verdict lines, one per candidate, as `verify` prints them.
fn answers(results: &Results) -> String {
    let mut out = String::new();
    for c in &results.candidates {
        let _ = writeln!(out, "**{}**  ", headline(c, &format!("`{}`", c.candidate)));
        if c.verdict == Verdict::Fail {
            // The first reason of the first failing interpreter: why.
            if let Some(why) = c
                .interpreters
                .iter()
                .find(|i| i.verdict == Verdict::Fail)
                .and_then(|i| i.reasons.first())
            {
                let why = unname(why);
                let _ = writeln!(out, "  (e.g. {})  ", crate::style::short_to(&why, 160));
            }
        }
    }
    out
}

/// Reasons quote the segment name of their case; without it, interpreters
/// that say the same thing read the same.
fn unname(reason: &str) -> String {
    static SEGMENT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    SEGMENT
        .get_or_init(|| regex::Regex::new(r"shmh[0-9a-f]{12}_\d+").expect("regex"))
        .replace_all(reason, "<segment>")
        .into_owned()
}

/// report.md.
pub fn report_md(results: &Results, diffs: &[SharedDiff]) -> String {
    let mut md = format!("{TITLE}\n\n");
    md += &answers(results);
    let _ = writeln!(
        md,
        "\n{BUG} {}.\n",
        super::matrix::summary_line(results, false)
    );
    md += "## Outcomes\n\nScenario x variant on every interpreter; a cell lists interpreters only \
           where they differ. **FAIL** marks a cell whose symptoms are not the expected ones \
           (on `stock` the bug is expected).\n\n";
    md += &compact_matrix(results).markdown();
    md += "\nScenarios:\n\n";
    for s in &results.scenarios {
        let _ = writeln!(md, "- `{}`: {}", s.name, s.summary);
    }
    md += &environment(results);
    for cand in &results.candidates {
        let _ = writeln!(md, "\n## Verdict: `{}` vs stock\n", cand.candidate);
        // The headline counts interpreters; the table merges those that
        // share their reasons.
        let table = verdict_markdown(&grouped(cand));
        let _ = writeln!(
            md,
            "**{}**\n",
            headline(cand, &format!("`{}`", cand.candidate))
        );
        md += table.split_once("\n\n").map_or(table.as_str(), |(_, t)| t);
    }
    if !results.cpython_tests.is_empty() {
        md += "\n## CPython's own shared-memory tests\n\n`test._test_multiprocessing` \
               (names matching `*SharedMemory*` / `*shared_memory*`) against each variant's \
               overlay.\n\n";
        md += &super::cpython_tests_table(results).markdown();
    }
    md += &diffs_section(results, diffs, true);
    md += &patches_section(results);
    md += REPRO;
    md += FILES;
    if md.len() > BUDGET {
        // Too big to paste: the diffs go to their files only.
        md = md.replacen(
            &diffs_section(results, diffs, true),
            &diffs_section(results, diffs, false),
            1,
        );
    }
    md
}

/// A candidate's verdict with interpreters that share their reasons merged
/// into one row.
fn grouped(v: &CandidateVerdict) -> CandidateVerdict {
    let mut out = CandidateVerdict {
        candidate: v.candidate.clone(),
        verdict: v.verdict,
        interpreters: Vec::new(),
    };
    for i in &v.interpreters {
        let mut i = i.clone();
        for r in &mut i.reasons {
            *r = unname(r);
        }
        match out
            .interpreters
            .iter_mut()
            .find(|o| o.verdict == i.verdict && o.reasons == i.reasons)
        {
            Some(o) => {
                o.interpreter += &format!(", {}", i.interpreter);
                if !o.source.split(", ").any(|s| s == i.source) {
                    o.source += &format!(", {}", i.source);
                }
            }
            None => out.interpreters.push(i),
        }
    }
    out
}

fn environment(results: &Results) -> String {
    let h = &results.host;
    let mut md = String::from("\n## Environment\n\n");
    let _ = writeln!(
        md,
        "`{}` on {} {} {} ({} CPUs), {} in {:.1} s.",
        results.tool,
        h.kernel,
        h.kernel_release,
        h.machine,
        h.cpus,
        crate::style::plural(results.cases.len(), "case"),
        results.timing.wall_ms as f64 / 1000.0
    );
    for leg in &results.merged_from {
        let _ = writeln!(
            md,
            "- merged `{}`: {} on {} {} ({} CPUs)",
            leg.file,
            leg.interpreters.join(", "),
            leg.host.kernel,
            leg.host.kernel_release,
            leg.host.cpus
        );
    }
    md += "\n";
    let mut t = Table::new(["interpreter", "source", "executable"]);
    for i in &results.interpreters {
        t.plain_row([
            i.id.clone(),
            i.source.to_string(),
            format!("`{}`", i.executable.display()),
        ]);
    }
    md += &t.markdown();
    md
}

fn diffs_section(results: &Results, diffs: &[SharedDiff], inline: bool) -> String {
    if diffs.is_empty() {
        return String::new();
    }
    let all = results.interpreters.len();
    let mut md = String::from(
        "\n## What changes, stock vs candidate\n\nUnified diffs of normalised transcripts \
         (segment names, pids, paths and line numbers replaced), each shown once for the \
         interpreters it stands for; every diff is also in `diffs/`, every raw transcript in \
         `transcripts/<interpreter>/<scenario>[-<start method>]/<variant>/`.\n\n",
    );
    for d in diffs {
        let title = format!(
            "{}: stock vs <code>{}</code> on {}",
            d.row,
            d.candidate,
            who(&d.interpreters, all)
        );
        // Inline: the seed's scenario, and where the candidate is worse.
        let worth = d.row.scenario == ScenarioId::ThreeProcess || regressed(results, d);
        if d.body.is_empty() {
            let _ = writeln!(md, "- {title}: no difference");
        } else if inline && worth {
            md += &details(
                &format!("{title} ([{}]({}))", d.file, d.file),
                &fenced("diff", &d.body),
            );
        } else {
            let _ = writeln!(md, "- {title}: [{}]({})", d.file, d.file);
        }
    }
    md
}

/// Does the candidate show, on one of `d`'s interpreters, a symptom that
/// stock does not?
fn regressed(results: &Results, d: &SharedDiff) -> bool {
    d.interpreters.iter().any(|id| {
        match (
            results.case(id, VariantId::Stock.name(), d.row),
            results.case(id, &d.candidate, d.row),
        ) {
            (Some(a), Some(b)) => b.symptoms.iter().any(|s| !a.has(&s.key)),
            _ => false,
        }
    })
}

fn patches_section(results: &Results) -> String {
    let mut md = String::from(
        "\n## Patches applied\n\nThe exact diff applied to each interpreter's copy of \
         `multiprocessing` (also in `patches/`); the installed stdlib is never changed.\n\n",
    );
    let all = results.interpreters.len();
    for v in &results.variants {
        let mut groups: Vec<(&str, &str, Vec<String>)> = Vec::new();
        for p in &v.patches {
            match groups.iter_mut().find(|(_, d, _)| *d == p.diff) {
                Some((_, _, ids)) => ids.push(p.interpreter.clone()),
                None => groups.push((&p.origin, &p.diff, vec![p.interpreter.clone()])),
            }
        }
        for (origin, diff, ids) in groups {
            md += &details(
                &format!("{} (<code>{origin}</code>) on {}", v.name, who(&ids, all)),
                &fenced("diff", diff),
            );
        }
    }
    md
}

const REPRO: &str = "\n## Reproduce without shmharness\n\n`repro.py` needs only the \
    interpreter under test: it runs the three processes on the stock stdlib, then on a temporary \
    copy of `multiprocessing` with this report's candidate applied, and prints what happened \
    (`python3 repro.py`, `--stock`, `--patched`).\n";

const FILES: &str = "\nFiles: `results.json` (`shmharness schema` describes it), `junit.xml`, \
    `summary.md`, `repro.py`, `roles.py` (the role script the transcripts run), `patches/`, \
    `diffs/`, `transcripts/`.\n";

/// summary.md: the answer and the compact matrix, a comment to paste.
pub fn summary_md(results: &Results) -> String {
    let mut md = format!("{TITLE}\n\n");
    md += &answers(results);
    let _ = writeln!(md, "\n{}\n", super::matrix::summary_line(results, false));
    md += &compact_matrix(results).markdown();
    md += "\nFull report, transcripts and `repro.py`: in the attached bundle (`report.md`).\n";
    if md.len() > SUMMARY_BUDGET {
        md = format!(
            "{TITLE}\n\n{}\n{}\n\nThe matrix is too wide for a comment: see `report.md`.\n",
            answers(results),
            super::matrix::summary_line(results, false)
        );
    }
    md
}

/// Fenced code that survives backticks in the text.
pub fn fenced(lang: &str, text: &str) -> String {
    let mut fence = "```".to_string();
    while text.contains(&fence) {
        fence.push('`');
    }
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{text}{nl}{fence}\n")
}

fn details(summary: &str, body: &str) -> String {
    format!("<details><summary>{summary}</summary>\n\n{body}\n</details>\n\n")
}
