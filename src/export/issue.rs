//! report.md and summary.md: the report a CPython developer pastes into an
//! issue. It opens with the answer (the verdict line `verify` prints), then
//! a compact matrix (scenario x variant, interpreters grouped), then the
//! environment, and the evidence after that, each piece shown once: diffs
//! that are the same on several interpreters (after normalising names, pids
//! and paths) appear once with the list of interpreters. Full transcripts
//! and every diff stay in the bundle's files, and report.md links them.
//!
//! GitHub rejects issue bodies over 65,536 characters: report.md keeps under
//! `BUDGET` (the answer always first) by showing diffs and patches as links
//! to their files in the bundle when it must, then by moving whole sections,
//! largest first (the outcome matrix to `matrix.md`, ...), to files of their
//! own ([`bundle_markdown`] lists them); summary.md (a comment to paste as
//! is) stays under 10,000.
//!
//! Everything from the data (interpreter ids, variant names, reasons) is
//! escaped for where it goes: `&`, `<`, `>` as entities in text and HTML,
//! as is in code spans fenced past its backticks (`table::text`, `html`,
//! `code`). Every path report.md cites is a file of the bundle.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::matrix::{headline, verdict_markdown};
use super::table::{Cell, Table, code, html, text};
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
                        crate::contract::slug(&s.to_string()),
                        crate::contract::slug(&cand.candidate),
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

/// `3.8.18, 3.9.18` or `all 10`.
fn who(ids: &[String], all: usize) -> String {
    if ids.len() == all && all > 1 {
        format!("all {all}")
    } else {
        ids.join(", ")
    }
}

/// Scenario x variant; each cell what happened, interpreters grouped when
/// they differ. An interpreter on which the cell did not run (another CI
/// leg's scenario or variant) is a difference too: `fixed (3.12.1); -
/// (3.15.2)`, never hidden behind what the others say.
pub fn compact_matrix(results: &Results) -> Table {
    let mut headers = vec!["scenario".to_string()];
    headers.extend(results.variants.iter().map(|v| v.name.clone()));
    let mut table = Table::new(headers);
    let all = results.interpreters.len();
    for s in results.rows() {
        let mut row = vec![s.to_string()];
        for v in &results.variants {
            let mut groups: Vec<(String, Vec<String>)> = Vec::new();
            let mut missing: Vec<String> = Vec::new();
            for i in &results.interpreters {
                let Some(c) = results.case(&i.id, &v.name, s) else {
                    missing.push(i.id.clone());
                    continue;
                };
                let text = cell(c);
                match groups.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, ids)) => ids.push(i.id.clone()),
                    None => groups.push((text, vec![i.id.clone()])),
                }
            }
            if !groups.is_empty() && !missing.is_empty() {
                groups.push(("-".into(), missing));
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
        Verdict::NotApplicable if c.unjudged() => format!("{} (not judged)", c.outcome),
        Verdict::NotApplicable => "n/a".into(),
        Verdict::Error => "error".into(),
    }
}

/// The verdict lines, one per candidate, as `verify` prints them.
fn answers(results: &Results) -> String {
    let mut out = String::new();
    for c in &results.candidates {
        let _ = writeln!(out, "**{}**  ", headline(c, &code(&c.candidate)));
        if c.verdict == Verdict::Fail {
            // The first reason of the first failing interpreter: why.
            if let Some(why) = c
                .interpreters
                .iter()
                .find(|i| i.verdict == Verdict::Fail)
                .and_then(|i| i.reasons.first())
            {
                let why = unname(why);
                let _ = writeln!(
                    out,
                    "  (e.g. {})  ",
                    text(&crate::term::style::short_to(&why, 160))
                );
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

/// A section of report.md below the answer. While report.md is over
/// [`BUDGET`], sections shrink: first to their short form (links to the
/// bundle's files instead of inline text, which loses nothing), then, the
/// largest first, moved to a file of their own with a link left behind.
struct Section {
    /// Its `##` heading, and the heading of its file when moved.
    heading: &'static str,
    /// The file it moves to.
    file: &'static str,
    /// As it stands in report.md, from its `## ` heading on.
    full: String,
    short: Option<String>,
    form: Form,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Full,
    Short,
    Moved,
}

impl Section {
    fn new(heading: &'static str, file: &'static str, full: String) -> Section {
        Section {
            heading,
            file,
            full,
            short: None,
            form: Form::Full,
        }
    }

    fn text(&self) -> String {
        match (self.form, &self.short) {
            (Form::Full, _) => self.full.clone(),
            (Form::Short, Some(short)) => short.clone(),
            _ => format!(
                "\n## {}\n\nIn the bundle: `{file}` (with it, this report would be longer than a \
                 GitHub issue may be).\n",
                self.heading,
                file = self.file
            ),
        }
    }

    /// The file it moved to: the full section under its own title.
    fn file_text(&self) -> String {
        let body = self
            .full
            .strip_prefix(&format!("\n## {}\n", self.heading))
            .unwrap_or(&self.full);
        format!(
            "# {}\n\nPart of [report.md](report.md), moved here to keep that under GitHub's \
             65,536-character limit for an issue.\n{body}",
            self.heading
        )
    }

    /// One step smaller: the short form if it has one, else moved out.
    fn shrink(&mut self) {
        self.form = match (self.form, &self.short) {
            (Form::Full, Some(_)) => Form::Short,
            _ => Form::Moved,
        };
    }
}

/// report.md and the files its sections moved to.
pub struct Report {
    pub md: String,
    /// (path in the bundle, text) of each section moved out of report.md.
    pub moved: Vec<(String, String)>,
}

/// report.md.
pub fn report_md(results: &Results, diffs: &[SharedDiff]) -> String {
    report(results, diffs).md
}

/// Every Markdown file of the bundle: report.md, summary.md, and the
/// sections report.md moved to files of their own.
pub fn bundle_markdown(results: &Results, diffs: &[SharedDiff]) -> Vec<(String, String)> {
    let r = report(results, diffs);
    let mut files = vec![
        ("report.md".to_string(), r.md),
        ("summary.md".to_string(), summary_md(results)),
    ];
    files.extend(r.moved);
    // Pasted where everyone reads it: the home directory shows as `~`
    // wherever a path quotes it (an executable, a cache path in a reason).
    for (_, text) in &mut files {
        *text = tilde(text);
    }
    files
}

/// `text` with the home directory written `~`.
fn tilde(text: &str) -> String {
    match std::env::var("HOME") {
        Ok(home) if home.len() > 1 => {
            text.replace(&format!("{}/", home.trim_end_matches('/')), "~/")
        }
        _ => text.to_string(),
    }
}

/// report.md: the answer first, then the sections, shrunk until it fits
/// in [`BUDGET`].
pub fn report(results: &Results, diffs: &[SharedDiff]) -> Report {
    let mut head = format!("{TITLE}\n\n");
    head += &answers(results);
    let _ = writeln!(
        head,
        "\n{BUG} {}.",
        super::matrix::summary_line(results, false)
    );
    let mut sections = vec![
        Section::new("Outcomes", "matrix.md", outcomes(results)),
        Section::new("Environment", "environment.md", environment(results)),
    ];
    if !results.candidates.is_empty() {
        sections.push(Section::new("Verdicts", "verdicts.md", verdicts(results)));
    }
    if !results.cpython_tests.is_empty() {
        sections.push(Section::new(
            "CPython's own shared-memory tests",
            "cpython-tests.md",
            format!(
                "\n## CPython's own shared-memory tests\n\n`test._test_multiprocessing` (names \
                 matching `*SharedMemory*` / `*shared_memory*`) against each variant's \
                 overlay.\n\n{}",
                super::cpython_tests_table(results).markdown()
            ),
        ));
    }
    if !diffs.is_empty() {
        sections.push(Section {
            short: Some(diffs_section(results, diffs, false)),
            ..Section::new(DIFFS, "diffs.md", diffs_section(results, diffs, true))
        });
    }
    if results.variants.iter().any(|v| !v.patches.is_empty()) {
        sections.push(Section {
            short: Some(patches_section(results, false)),
            ..Section::new(PATCHES, "patches.md", patches_section(results, true))
        });
    }
    let render = |sections: &[Section]| {
        let mut md = head.clone();
        for s in sections {
            md += &s.text();
        }
        md += REPRO;
        md += &files_line(results, diffs, sections);
        md
    };
    let mut md = render(&sections);
    while md.len() > BUDGET {
        // Links instead of inline text first (the diffs, then the patches):
        // everything stays in report.md's reach. Then the largest section
        // moves out.
        let next = sections
            .iter()
            .position(|s| s.form == Form::Full && s.short.is_some())
            .or_else(|| {
                (0..sections.len())
                    .filter(|&i| sections[i].form != Form::Moved)
                    .max_by_key(|&i| sections[i].text().len())
            });
        let Some(i) = next else { break };
        sections[i].shrink();
        md = render(&sections);
    }
    let moved = sections
        .iter()
        .filter(|s| s.form == Form::Moved)
        .map(|s| (s.file.to_string(), s.file_text()))
        .collect();
    Report { md, moved }
}

const DIFFS: &str = "What changes, stock vs candidate";
const PATCHES: &str = "Patches applied";

fn outcomes(results: &Results) -> String {
    let mut md = "\n## Outcomes\n\nScenario x variant on every interpreter; a cell lists \
                  interpreters only where they differ (`-`: not run there). **FAIL** marks a \
                  cell whose symptoms are not the expected ones (on `stock` the bug is \
                  expected).\n\n"
        .to_string();
    md += &compact_matrix(results).markdown();
    md += "\nScenarios:\n\n";
    for s in &results.scenarios {
        let _ = writeln!(md, "- `{}`: {}", s.name, text(&s.summary));
    }
    md
}

fn verdicts(results: &Results) -> String {
    let mut md = String::new();
    for cand in &results.candidates {
        let _ = writeln!(md, "\n## Verdict: {} vs stock\n", code(&cand.candidate));
        // The headline counts interpreters; the table merges those that
        // share their reasons.
        let table = verdict_markdown(&grouped(cand));
        let _ = writeln!(md, "**{}**\n", headline(cand, &code(&cand.candidate)));
        md += table.split_once("\n\n").map_or(table.as_str(), |(_, t)| t);
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
    let wall = results.timing.wall_ms as f64 / 1000.0;
    // The kernel's build string says nothing about this bug: only with -v.
    let release = if crate::term::progress::verbose() {
        format!(" {}", text(&h.kernel_release))
    } else {
        String::new()
    };
    let _ = writeln!(
        md,
        "{} on {}{release} {} ({} CPUs), {} {}.",
        code(&results.tool),
        text(&h.kernel),
        text(&h.machine),
        h.cpus,
        crate::term::style::plural(results.cases.len(), "case"),
        // Merged legs ran apart: their longest, not a total.
        match results.merged_from.len() {
            0 | 1 => format!("in {wall:.1} s"),
            n => format!("from {n} legs, the longest {wall:.1} s"),
        }
    );
    for leg in &results.merged_from {
        let _ = writeln!(
            md,
            "- merged {}: {} on {} ({} CPUs)",
            code(&leg.file),
            text(&leg.interpreters.join(", ")),
            text(&leg.host.kernel),
            leg.host.cpus
        );
    }
    md += "\n";
    let mut t = Table::new(["interpreter", "source", "executable"]);
    for i in &results.interpreters {
        t.row(vec![
            Cell::plain(i.id.clone()),
            Cell::plain(i.source.to_string()),
            Cell::markup(code(&i.executable.display().to_string())),
        ]);
    }
    md += &t.markdown();
    md
}

/// A file of the bundle named inside HTML (`<summary>`), where GitHub does
/// not read Markdown. Never a link: pasted into an issue, a relative link
/// leads nowhere.
fn a(file: &str) -> String {
    format!("in the bundle: <code>{}</code>", html(file))
}

fn diffs_section(results: &Results, diffs: &[SharedDiff], inline: bool) -> String {
    let all = results.interpreters.len();
    let mut md = format!(
        "\n## {DIFFS}\n\nUnified diffs of normalised transcripts \
         (segment names, pids, paths and line numbers replaced), each shown once for the \
         interpreters it stands for; every diff is also in `diffs/`, every raw transcript in \
         `transcripts/<interpreter>/<scenario>[-<start method>]/<variant>/`.\n\n",
    );
    for d in diffs {
        let title = format!(
            "{}: stock vs <code>{}</code> on {}",
            html(&d.row.to_string()),
            html(&d.candidate),
            html(&who(&d.interpreters, all))
        );
        // Inline: the seed's scenario, and where the candidate is worse.
        let worth = d.row.scenario == ScenarioId::ThreeProcess || regressed(results, d);
        if d.body.is_empty() {
            let _ = writeln!(md, "- {title}: no difference");
        } else if inline && worth {
            md += &details(
                &format!("{title} ({})", a(&d.file)),
                &fenced("diff", &d.body),
            );
        } else {
            let _ = writeln!(md, "- {title}: in the bundle: `{}`", d.file);
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

/// Where the bundle keeps the diff `variant` applied to `interpreter`'s
/// copy: `patches/3.12.1/create-only.diff` (names made file-safe the way
/// the bundle makes them).
pub fn patch_file(interpreter: &str, variant: &str) -> String {
    format!(
        "patches/{}/{}.diff",
        crate::contract::slug(interpreter),
        crate::contract::slug(variant)
    )
}

/// The patches, each distinct diff once with the interpreters it was
/// applied to and their files in the bundle; `inline`: the diff itself in a
/// collapsed block, else only the files.
fn patches_section(results: &Results, inline: bool) -> String {
    let mut md = format!(
        "\n## {PATCHES}\n\nThe exact diff applied to each interpreter's copy of \
         `multiprocessing`, also in the file named with it; the installed stdlib is never \
         changed.\n\n",
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
            let files: Vec<String> = ids.iter().map(|i| patch_file(i, &v.name)).collect();
            // A user's patch says which of its files applied here; a
            // built-in one's origin is a path in shmharness's repository,
            // not in the bundle.
            let from = if origin.starts_with("patches/") {
                String::new()
            } else {
                format!(" (from <code>{}</code>)", html(origin))
            };
            let title = format!("{}{from} on {}", html(&v.name), html(&who(&ids, all)));
            if inline {
                let names: Vec<String> = files
                    .iter()
                    .map(|f| format!("<code>{}</code>", html(f)))
                    .collect();
                md += &details(
                    &format!("{title}: in the bundle: {}", names.join(", ")),
                    &fenced("diff", diff),
                );
            } else {
                let names: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
                let _ = writeln!(md, "- {title}: in the bundle: {}", names.join(", "));
            }
        }
    }
    md
}

const REPRO: &str = "\n## Reproduce without shmharness\n\n`repro.py` needs only the \
    interpreter under test: it runs the three processes on the stock stdlib, then on a temporary \
    copy of `multiprocessing` with this report's candidate applied, and prints what happened \
    (`python3 repro.py`, `--stock`, `--patched`).\n";

/// The bundle's files, each named only when the bundle has it.
fn files_line(results: &Results, diffs: &[SharedDiff], sections: &[Section]) -> String {
    let mut files = vec![
        "`results.json` (`shmharness schema` describes it)".to_string(),
        "`junit.xml`".into(),
        "`summary.md`".into(),
        "`repro.py`".into(),
        "`roles.py` (the role script the transcripts run)".into(),
    ];
    for s in sections.iter().filter(|s| s.form == Form::Moved) {
        files.push(format!("`{}`", s.file));
    }
    if results.variants.iter().any(|v| !v.patches.is_empty()) {
        files.push("`patches/`".into());
    }
    if !diffs.is_empty() {
        files.push("`diffs/`".into());
    }
    if results.cases.iter().any(|c| !c.processes.is_empty()) {
        files.push("`transcripts/`".into());
    }
    format!(
        "\nThe bundle (this report's folder) holds: {}. Attach it to the issue or PR as \
         one `.tar.gz` (`shmharness report --archive` writes it beside the folder).\n",
        files.join(", ")
    )
}

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
