//! Symptoms: the observable facts a verdict is made of, one string key each
//! (`P2 leak warning`, `P3 FileNotFoundError`, `P2 tracker KeyError`,
//! `segment leaked`), with the transcript line that shows it.
//!
//! Keys use the process *group*, not the label, so processes whose relative
//! timing is free (concurrent attachers, `A*`) give the same set every run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::scenario::CaseObservation;
use crate::scenario::observe::{LEAK_PREFIX, Origin};

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Symptom {
    pub key: String,
    /// One line of the transcript that shows it.
    pub evidence: String,
}

/// Every symptom of a case, sorted by key, one per key.
pub fn of(case: &CaseObservation) -> Vec<Symptom> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |key: String, evidence: &str| {
        out.entry(key)
            .or_insert_with(|| evidence.trim().to_string());
    };
    for p in &case.processes {
        let g = &p.group;
        // The line from the needle on: drops the `/tmp/.../file.py:216: `
        // location in front of a warning.
        let line_with = |needle: &str| {
            p.stderr
                .lines()
                .find_map(|l| l.find(needle).map(|at| &l[at..]))
                .unwrap_or(needle)
                .to_string()
        };
        if p.leak_warnings > 0 {
            add(format!("{g} leak warning"), &line_with(LEAK_PREFIX));
        }
        if let Some(first) = p.tracker_errors.first() {
            add(format!("{g} tracker error"), first);
        }
        for tb in &p.tracebacks {
            match tb.origin {
                Origin::Process => add(format!("{g} {}", tb.exception), &tb.line),
                Origin::Tracker => add(format!("{g} tracker {}", tb.exception), &tb.line),
                Origin::Other => add(format!("{g} child {}", tb.exception), &tb.line),
            }
        }
        if p.data_ok == Some(false) {
            add(
                format!("{g} data lost"),
                "read back bytes that differ from what the creator wrote",
            );
        }
        if p.timed_out {
            add(
                format!("{g} timeout"),
                "killed with its process group at the deadline",
            );
        } else if let (Some(sig), false) = (p.signal, p.killed_by_harness) {
            add(
                format!("{g} killed by signal {sig}"),
                &format!("terminated by signal {sig}"),
            );
        }
        if let (Some(code), None) = (p.exit_code.filter(|&c| c != 0), &p.exception) {
            add(format!("{g} exit {code}"), &format!("exit status {code}"));
        }
        for e in &p.events {
            if e["event"] == "child-exited" && e["exitcode"] != 0 {
                add(format!("{g} child exit {}", e["exitcode"]), &e.to_string());
            }
        }
    }
    if case.segment_leaked {
        add(
            "segment leaked".into(),
            &format!(
                "/{} outlived every process; the harness removed it",
                case.segment
            ),
        );
    }
    out.into_iter()
        .map(|(key, evidence)| Symptom { key, evidence })
        .collect()
}
