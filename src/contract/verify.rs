//! The verdict on a candidate fix (`verify`, and each candidate in a report).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Verdict;

/// Is the candidate a fix? `pass` only if, on every interpreter it applies
/// to, no scenario shows a symptom under the candidate that stock does not,
/// and, where the seed's scenario ran (`seed_ran`), the bug reproduces on
/// stock and the candidate removes it. `error` when a case could not run:
/// that says nothing about the fix.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct CandidateVerdict {
    /// The variant judged: `create-only+lenient-tracker`, `patch:fix`.
    pub candidate: String,
    pub verdict: Verdict,
    pub interpreters: Vec<InterpreterVerdict>,
}

/// The verdict on one interpreter, with its reasons.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct InterpreterVerdict {
    pub interpreter: String,
    pub source: String,
    pub verdict: Verdict,
    /// Why, one line each (scenario, symptom, evidence); for a pass, what
    /// held and what stays as broken as on stock.
    pub reasons: Vec<String>,
    /// Why CPython's own shared-memory tests did not judge this interpreter
    /// too (`no test package`, `not asked for`); absent when they ran
    /// under stock and the candidate and were compared. A verdict line
    /// never reads as if tests passed that did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tests_not_run: Option<String>,
    /// `three-process` ran with plain attachers here, so the verdict says
    /// whether the bug reproduces on stock and is gone under the candidate;
    /// without it, only that nothing is worse than stock.
    #[serde(default)]
    pub seed_ran: bool,
}

impl CandidateVerdict {
    /// Say, on every judged interpreter, why CPython's tests did not run
    /// there (`not asked for; verify --strict runs them`).
    pub fn tests_not_run(&mut self, why: &str) {
        for i in &mut self.interpreters {
            if i.verdict != Verdict::NotApplicable {
                i.tests_not_run = Some(why.to_string());
            }
        }
    }

    /// How many interpreters got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.interpreters
            .iter()
            .filter(|i| i.verdict == verdict)
            .count()
    }
}
