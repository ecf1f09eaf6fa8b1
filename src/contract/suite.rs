//! CPython's own shared-memory tests (`test._test_multiprocessing`), one
//! run per interpreter and variant.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Verdict;

/// One interpreter x variant: what CPython's tests said.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct TestRun {
    pub interpreter: String,
    pub variant: String,
    /// pass: every test passed or was skipped; fail: a test failed or
    /// errored; n/a: the variant or the test package does not exist here;
    /// error: the tests could not run (or did not use the overlay).
    pub verdict: Verdict,
    /// Why, for n/a and error; the counts in words otherwise.
    pub reason: String,
    /// The command that ran the tests.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The counts are the first run's (a flaky test counts as it did then).
    pub ran: u32,
    pub passed: u32,
    pub failed: u32,
    pub errors: u32,
    pub skipped: u32,
    /// Tests that failed or errored, in the order unittest reported them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing: Vec<FailingTest>,
    /// Tests that failed in this run and passed when the same tests ran
    /// again: flaky here, so neither blamed nor cleared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flaky: Vec<FailingTest>,
    /// What the reader should know: a diff's `Lib/test/` hunks that did
    /// not apply here (so the stock tests ran).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// Where the tests' processes imported `multiprocessing` from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multiprocessing: Option<PathBuf>,
    pub duration_ms: u64,
}

/// A test that failed or errored.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct FailingTest {
    /// `test_shared_memory_tracking`
    pub name: String,
    /// The unittest id, e.g. `test.test_multiprocessing_forkserver....`.
    pub id: String,
    pub kind: FailureKind,
    /// The exception line that ended its traceback.
    pub evidence: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailureKind {
    /// An assertion failed.
    Fail,
    /// The test raised.
    Error,
}

impl TestRun {
    /// A run with no counts: n/a or error, with why.
    pub fn empty(interpreter: &str, variant: &str, verdict: Verdict, reason: String) -> TestRun {
        TestRun {
            interpreter: interpreter.to_string(),
            variant: variant.to_string(),
            verdict,
            reason,
            method: String::new(),
            ran: 0,
            passed: 0,
            failed: 0,
            errors: 0,
            skipped: 0,
            failing: Vec::new(),
            flaky: Vec::new(),
            notes: Vec::new(),
            multiprocessing: None,
            duration_ms: 0,
        }
    }

    /// `13 passed`, `15 passed, 1 failed (test_shared_memory_tracking)`.
    pub fn cell(&self) -> String {
        match self.verdict {
            Verdict::NotApplicable => return "n/a".to_string(),
            Verdict::Error => return format!("error: {}", self.reason),
            Verdict::Pass | Verdict::Fail => {}
        }
        let mut parts = vec![format!("{} passed", self.passed)];
        let names = |kind: FailureKind| {
            let flaky = self
                .flaky
                .iter()
                .filter(|f| f.kind == kind)
                .map(|f| format!("{}: flaky", f.name));
            self.failing
                .iter()
                .filter(|f| f.kind == kind)
                .map(|f| f.name.clone())
                .chain(flaky)
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.failed > 0 {
            parts.push(format!(
                "{} failed ({})",
                self.failed,
                names(FailureKind::Fail)
            ));
        }
        if self.errors > 0 {
            parts.push(format!(
                "{} error{} ({})",
                self.errors,
                if self.errors == 1 { "" } else { "s" },
                names(FailureKind::Error)
            ));
        }
        if self.skipped > 0 {
            parts.push(format!("{} skipped", self.skipped));
        }
        parts.join(", ")
    }

    /// Did test `name` fail or error in this run?
    pub fn failed_test(&self, name: &str) -> bool {
        self.failing.iter().any(|f| f.name == name)
    }
}
