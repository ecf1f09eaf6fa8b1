//! The expectation table: for each scenario, variant and version range, the
//! outcome and the exact symptom set a run must show. This table is the one
//! source of truth; the README matrix is generated from it (and a test keeps
//! them in sync). Rows were checked against BRIEF.md and observed on
//! CPython 3.8.18 to 3.13.0.

use crate::discovery::Version;

pub struct Expectation {
    pub scenario: &'static str,
    pub variant: &'static str,
    /// Inclusive minor-version range; `None` = no bound.
    pub from: Option<(u32, u32)>,
    pub to: Option<(u32, u32)>,
    pub outcome: &'static str,
    /// A few words of evidence for the table cell.
    pub evidence: &'static str,
    /// Sorted symptom keys (see judge::symptoms).
    pub symptoms: &'static [&'static str],
}

impl Expectation {
    pub fn covers(&self, v: Version) -> bool {
        let mv = v.minor_version();
        self.from.is_none_or(|f| mv >= f) && self.to.is_none_or(|t| mv <= t)
    }
}

/// The row for a case, if any.
pub fn lookup(scenario: &str, variant: &str, v: Version) -> Option<&'static Expectation> {
    EXPECTATIONS
        .iter()
        .find(|e| e.scenario == scenario && e.variant == variant && e.covers(v))
}

const ALL: (Option<(u32, u32)>, Option<(u32, u32)>) = (None, None);

macro_rules! row {
    ($scenario:literal, $variant:literal, $range:expr, $outcome:literal, $evidence:literal, [$($s:literal),* $(,)?]) => {
        Expectation {
            scenario: $scenario,
            variant: $variant,
            from: $range.0,
            to: $range.1,
            outcome: $outcome,
            evidence: $evidence,
            symptoms: &[$($s),*],
        }
    };
}

pub const EXPECTATIONS: &[Expectation] = &[
    row!(
        "three-process",
        "stock",
        ALL,
        "bug reproduced",
        "P2 warned, P3 FileNotFoundError",
        [
            "P1 FileNotFoundError",
            "P1 leak warning",
            "P1 tracker error",
            "P2 leak warning",
            "P3 FileNotFoundError"
        ]
    ),
    row!(
        "three-process",
        "create-only",
        ALL,
        "fixed",
        "P3 read data",
        []
    ),
];
