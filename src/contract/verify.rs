//! The verdict on a candidate fix (`verify`, and each candidate in a report).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Verdict;

/// Is the candidate a fix? `pass` only if, on every interpreter it applies
/// to, the bug reproduces on stock, the candidate removes it, and no
/// scenario shows a symptom under the candidate that stock does not.
/// `error` when a case could not run: that says nothing about the fix.
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
    /// Why, one line each (scenario, symptom, evidence); for a pass, one
    /// line saying what held.
    pub reasons: Vec<String>,
}

impl CandidateVerdict {
    /// How many interpreters got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.interpreters
            .iter()
            .filter(|i| i.verdict == verdict)
            .count()
    }
}
