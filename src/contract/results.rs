//! The results of a run (or a merge of several): interpreters x variants x
//! scenarios, each case with its observations and verdict.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    CandidateVerdict, Interpreter, ProcessObservation, ScenarioId, StartMethod, Symptom, TestRun,
    Usage,
};

/// Bumped on any incompatible change of this model. New optional fields may
/// appear within one version; consumers must ignore unknown fields.
pub const SCHEMA_VERSION: u32 = 1;

/// What one shmharness run (or a merge of several) found. Written by
/// `run --json`, `report --out`, `merge --json`, `verify --format json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Results {
    #[schemars(range(min = 1, max = 1))]
    pub schema_version: u32,
    /// `shmharness 0.1.0`
    #[schemars(regex(pattern = r"^shmharness \S+$"))]
    pub tool: String,
    pub interpreters: Vec<Interpreter>,
    pub variants: Vec<VariantInfo>,
    pub scenarios: Vec<ScenarioInfo>,
    pub cases: Vec<Case>,
    pub timing: Timing,
    /// The machine the cases ran on (for merged results: the first leg's).
    #[serde(default)]
    pub host: Host,
    /// For merged results: each input file, its host and its interpreters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<MergedLeg>,
    /// CPython's own shared-memory tests per interpreter and variant
    /// (`run --with-cpython-tests`, `verify --strict`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cpython_tests: Vec<TestRun>,
    /// `verify` only: the verdict on the candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<CandidateVerdict>,
    /// `report`: each non-stock variant judged as a candidate fix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateVerdict>,
}

impl Results {
    /// Results with no interpreters and no cases yet.
    pub fn empty(tool: String, host: Host) -> Results {
        Results {
            schema_version: SCHEMA_VERSION,
            tool,
            interpreters: Vec::new(),
            variants: Vec::new(),
            scenarios: Vec::new(),
            cases: Vec::new(),
            timing: Timing::default(),
            host,
            merged_from: Vec::new(),
            cpython_tests: Vec::new(),
            verify: None,
            candidates: Vec::new(),
        }
    }

    pub fn interpreter(&self, id: &str) -> Option<&Interpreter> {
        self.interpreters.iter().find(|i| i.id == id)
    }

    pub fn case(&self, interpreter: &str, variant: &str, row: Row) -> Option<&Case> {
        self.cases
            .iter()
            .find(|c| c.interpreter == interpreter && c.variant == variant && c.row() == row)
    }

    /// The rows of a matrix: each scenario, once per start method and usage
    /// its cases ran under (in that order).
    pub fn rows(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for s in &self.scenarios {
            for m in std::iter::once(None).chain(StartMethod::ALL.iter().copied().map(Some)) {
                for &usage in Usage::ALL {
                    let row = Row {
                        scenario: s.name,
                        start_method: m,
                        usage,
                    };
                    if self.cases.iter().any(|c| c.row() == row) {
                        rows.push(row);
                    }
                }
            }
        }
        rows
    }

    /// How many cases got `verdict`.
    pub fn count(&self, verdict: Verdict) -> usize {
        self.cases.iter().filter(|c| c.verdict == verdict).count()
    }
}

/// Facts about the machine a run happened on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, JsonSchema)]
pub struct Host {
    /// `linux`, `macos`, ... (Rust's `std::env::consts::OS`).
    pub os: String,
    /// `uname -s`: `Linux`, `Darwin`.
    pub kernel: String,
    /// `uname -r`: `6.1.0-18-amd64`.
    pub kernel_release: String,
    /// `uname -v`.
    pub kernel_version: String,
    /// `uname -m`: `x86_64`, `aarch64`.
    pub machine: String,
    /// Logical CPUs available to the harness.
    pub cpus: usize,
}

/// One input of `merge`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct MergedLeg {
    pub file: String,
    pub host: Host,
    pub interpreters: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct VariantInfo {
    pub name: String,
    pub summary: String,
    /// The exact unified diff applied to each interpreter's copy of
    /// multiprocessing; empty for variants that use the stdlib unchanged.
    pub patches: Vec<AppliedPatch>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct AppliedPatch {
    pub interpreter: String,
    /// `patches/create-only/3.10-3.12.diff` or `patch:<file>`.
    pub origin: String,
    pub diff: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ScenarioInfo {
    pub name: ScenarioId,
    pub summary: String,
}

/// The verdict of a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Verdict {
    /// The observed symptoms are exactly the expected ones.
    #[serde(rename = "pass")]
    Pass,
    /// The case ran and its symptoms are not the expected ones.
    #[serde(rename = "fail")]
    Fail,
    /// The variant does not exist for this interpreter.
    #[serde(rename = "n/a")]
    NotApplicable,
    /// The case could not run (spawn failure, timeout, no space, overlay
    /// not in effect): says nothing about the fix.
    #[serde(rename = "error")]
    Error,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::NotApplicable => "n/a",
            Verdict::Error => "error",
        }
    }

    /// The verdict of a whole made of parts: error if any part errored
    /// (nothing can be concluded), else fail if any failed, else pass.
    pub fn combine(parts: impl IntoIterator<Item = Verdict>) -> Verdict {
        let mut all = Verdict::Pass;
        for v in parts {
            all = match (all, v) {
                (Verdict::Error, _) | (_, Verdict::Error) => Verdict::Error,
                (Verdict::Fail, _) | (_, Verdict::Fail) => Verdict::Fail,
                _ => Verdict::Pass,
            };
        }
        all
    }
}

/// A row of a matrix: a scenario, the start method of its children, and
/// how its attachers attach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Row {
    pub scenario: ScenarioId,
    pub start_method: Option<StartMethod>,
    pub usage: Usage,
}

/// `three-process`, `family [forkserver]`, `three-process (track-false)`.
impl std::fmt::Display for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.scenario)?;
        if let Some(m) = self.start_method {
            write!(f, " [{m}]")?;
        }
        if self.usage != Usage::Default {
            write!(f, " ({})", self.usage)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct Case {
    /// The interpreter's id: its version (`3.10.13`), unique in the results.
    pub interpreter: String,
    pub executable: PathBuf,
    pub variant: String,
    pub scenario: ScenarioId,
    /// How the scenario's multiprocessing children were started; `null` for
    /// scenarios that start none.
    #[serde(default)]
    pub start_method: Option<StartMethod>,
    /// How the scenario's attachers attached (`default` when absent).
    #[serde(default)]
    pub usage: Usage,
    pub verdict: Verdict,
    /// What happened, in a few words: `bug reproduced`, `fixed`, ...
    pub outcome: String,
    /// Why the verdict is what it is.
    pub reason: String,
    /// Sorted by key, one per key.
    pub symptoms: Vec<Symptom>,
    /// The segment name used (no leading slash).
    pub segment: Option<String>,
    /// The segment outlived every process; the harness removed it.
    pub segment_leaked: bool,
    pub processes: Vec<ProcessObservation>,
}

impl Case {
    pub fn row(&self) -> Row {
        Row {
            scenario: self.scenario,
            start_method: self.start_method,
            usage: self.usage,
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.symptoms.iter().any(|s| s.key == key)
    }

    /// It ran, but nothing judged what it did (no stock twin to compare
    /// with): `outcome` says what it did. (A case that is n/a for want of
    /// an API, or of a usage its role could apply, has outcome `n/a`.)
    pub fn unjudged(&self) -> bool {
        self.verdict == Verdict::NotApplicable && self.outcome != "n/a"
    }

    /// Why a role could not apply the case's usage (it said so, and went on
    /// attaching as default): `ShareableList has no track parameter`.
    pub fn usage_unsupported(&self) -> Option<&str> {
        self.processes
            .iter()
            .flat_map(|p| &p.events)
            .find_map(|e| match e {
                super::Event::ModeUnsupported { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default, JsonSchema)]
pub struct Timing {
    pub wall_ms: u64,
    /// CPU time (user + system) of the harness's reaped children, resource
    /// trackers included.
    pub children_cpu_ms: u64,
    /// CPU time of the harness itself during the run (not its children).
    #[serde(default)]
    pub harness_cpu_ms: u64,
    pub cores: usize,
    pub jobs: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_puts_error_above_fail_above_pass() {
        use Verdict::*;
        assert_eq!(Verdict::combine([Pass, Pass]), Pass);
        assert_eq!(Verdict::combine([Pass, Fail, Pass]), Fail);
        assert_eq!(Verdict::combine([Fail, Error]), Error);
        assert_eq!(Verdict::combine([Error, Fail]), Error);
        assert_eq!(Verdict::combine([Pass, NotApplicable]), Pass);
        assert_eq!(Verdict::combine([]), Pass);
    }
}
