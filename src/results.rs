//! The results model: what a run found, judged. Every output format (table,
//! JSON, Markdown, JUnit) renders these values, and `merge` reads them back,
//! so this file is the JSON contract (see README, "JSON contract").

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::discovery::Interpreter;
use crate::judge::Symptom;
use crate::scenario::ProcessObservation;

/// Bumped on any incompatible change of this model.
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Results {
    pub schema_version: u32,
    /// `shmharness 0.1.0`
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
    pub cpython_tests: Vec<crate::cpython_tests::TestRun>,
}

/// Facts about the machine a run happened on.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
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

impl Host {
    pub fn detect() -> Host {
        // SAFETY: uname fills a zeroed struct of fixed-size C strings.
        let mut u: libc::utsname = unsafe { std::mem::zeroed() };
        let ok = unsafe { libc::uname(&mut u) } == 0;
        let field = |f: &[libc::c_char]| -> String {
            if !ok {
                return String::new();
            }
            let bytes: Vec<u8> = f
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        Host {
            os: std::env::consts::OS.to_string(),
            kernel: field(&u.sysname),
            kernel_release: field(&u.release),
            kernel_version: field(&u.version),
            machine: field(&u.machine),
            cpus: crate::pool::cores(),
        }
    }
}

/// One input of `merge`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MergedLeg {
    pub file: String,
    pub host: Host,
    pub interpreters: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VariantInfo {
    pub name: String,
    pub summary: String,
    /// The exact diff applied, per interpreter (empty for unpatched variants).
    pub patches: Vec<AppliedPatch>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AppliedPatch {
    pub interpreter: String,
    /// `patches/create-only/3.10-3.12.diff` or `patch:<file>`.
    pub origin: String,
    pub diff: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ScenarioInfo {
    pub name: String,
    pub summary: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "pass")]
    Pass,
    #[serde(rename = "fail")]
    Fail,
    #[serde(rename = "n/a")]
    NotApplicable,
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
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Case {
    /// The interpreter's id: its version (`3.10.13`), unique in the results.
    pub interpreter: String,
    pub executable: PathBuf,
    pub variant: String,
    pub scenario: String,
    pub verdict: Verdict,
    /// What happened, in a few words: `bug reproduced`, `fixed`, ...
    pub outcome: String,
    /// Why the verdict is what it is.
    pub reason: String,
    pub symptoms: Vec<Symptom>,
    /// The segment name used (no leading slash).
    pub segment: Option<String>,
    pub segment_leaked: bool,
    pub processes: Vec<ProcessObservation>,
}

impl Case {
    pub fn has(&self, key: &str) -> bool {
        self.symptoms.iter().any(|s| s.key == key)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Timing {
    pub wall_ms: u64,
    /// CPU time (user + system) of the harness's reaped children.
    pub children_cpu_ms: u64,
    /// CPU time of the harness itself during the run (not its children).
    #[serde(default)]
    pub harness_cpu_ms: u64,
    pub cores: usize,
    pub jobs: usize,
}

impl Results {
    pub fn interpreter(&self, id: &str) -> Option<&Interpreter> {
        self.interpreters.iter().find(|i| i.id == id)
    }

    pub fn case(&self, interpreter: &str, variant: &str, scenario: &str) -> Option<&Case> {
        self.cases.iter().find(|c| {
            c.interpreter == interpreter && c.variant == variant && c.scenario == scenario
        })
    }
}
