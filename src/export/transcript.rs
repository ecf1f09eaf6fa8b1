//! Stock vs candidate, as a unified diff of normalised transcripts.
//!
//! Normalising removes what differs on every run or between a stdlib and
//! its overlay (segment names, pids, paths, line numbers shifted by the
//! patch, timing), so the diff shows only real differences: warnings,
//! exceptions, exit codes, events.

use std::sync::OnceLock;

use regex::Regex;
use similar::TextDiff;

use crate::contract::{Case, Event};

/// A transcript of a case, normalised for diffing.
pub fn transcript(case: &Case) -> String {
    let mut out = String::new();
    let seg = case.segment.clone().unwrap_or_default();
    // Compiled once: a report diffs every candidate against stock on every
    // interpreter and scenario.
    static RE: OnceLock<[Regex; 6]> = OnceLock::new();
    let [mp_file, roles_file, path, line_no, pid, carets] = RE.get_or_init(|| {
        [
            r#"File "[^"]*/multiprocessing/"#,
            r#"File "[^"]*roles\.py""#,
            r"/\S*/multiprocessing/",
            r"(line |\.py:)\d+",
            r#"\b(pid|exitcode)=\d+|\[\d+\]|"pid":\s*\d+"#,
            r"^\s*[~^]+\s*$",
        ]
        .map(|re| Regex::new(re).expect("regex"))
    });
    let norm = |text: &str| -> String {
        let t = if seg.is_empty() {
            text.to_string()
        } else {
            text.replace(&seg, "<segment>")
        };
        let t = mp_file.replace_all(&t, "File \"<multiprocessing>/");
        let t = roles_file.replace_all(&t, "File \"<roles.py>\"");
        let t = path.replace_all(&t, "<multiprocessing>/");
        let t = line_no.replace_all(&t, "${1}N");
        pid.replace_all(&t, "<pid>").into_owned()
    };
    out += &format!("scenario {}\n", case.scenario.name());
    for p in &case.processes {
        out += &format!(
            "{} {}: {}, exception {}, leak warnings {}, data {}, segment after: {}\n",
            p.label,
            p.role,
            p.ended(),
            p.exception.as_deref().unwrap_or("none"),
            p.leak_warnings,
            match p.data_ok {
                Some(true) => "ok",
                Some(false) => "LOST",
                None => "not read",
            },
            if p.segment_after { "exists" } else { "gone" },
        );
        for e in &p.events {
            // Plumbing, not behaviour: where multiprocessing came from, and
            // the pid of a resource tracker (for its exit status).
            if matches!(e, Event::Start { .. } | Event::Tracker { .. }) {
                continue;
            }
            out += &format!("  event {}\n", norm(&e.to_string()));
        }
        for line in p.stderr.lines().filter(|l| !carets.is_match(l)) {
            out += &format!("  stderr {}\n", norm(line));
        }
    }
    out += &format!("segment leaked: {}\n", case.segment_leaked);
    out
}

/// Unified diff of two cases' transcripts; empty when they are the same.
pub fn unified(old: &Case, new: &Case) -> String {
    let (a, b) = (transcript(old), transcript(new));
    if a == b {
        return String::new();
    }
    TextDiff::from_lines(&a, &b)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{} {}", old.interpreter, old.variant),
            &format!("{} {}", new.interpreter, new.variant),
        )
        .to_string()
}
