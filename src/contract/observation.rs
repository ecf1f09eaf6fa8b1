//! What the processes of a case did, and the symptoms read from it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Event, RoleName};

/// What one process did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, JsonSchema)]
pub struct ProcessObservation {
    /// `P1`, `P2`, `A1`, ... as the scenario names it.
    pub label: String,
    /// Symptoms are counted per group (concurrent attachers share one, `A*`).
    pub group: String,
    /// `creator`, `attacher`, `attacher+unlink`, ...
    pub role: RoleName,
    /// `null` if killed by a signal.
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    /// Killed with its process group at the `--timeout` deadline.
    pub timed_out: bool,
    /// The scenario killed it on purpose (`creator-crashes`).
    #[serde(default)]
    pub killed_by_harness: bool,
    /// `resource_tracker: There appear to be N leaked ...` warnings.
    pub leak_warnings: usize,
    /// Other resource-tracker warnings (a failed unlink, say).
    pub tracker_errors: Vec<String>,
    pub tracebacks: Vec<Traceback>,
    /// Type of the exception the process ended with.
    pub exception: Option<String>,
    /// Whether every read saw the creator's bytes (`null`: nothing read).
    pub data_ok: Option<bool>,
    /// Whether the segment existed right after this process ended.
    pub segment_after: bool,
    /// How the resource tracker this process started ended (3.13+,
    /// gh-104090: 0 clean, 1 leak, 2 cleanup failed, 3 exception); `null`
    /// below 3.13, without a tracker of its own, or when the process reaped
    /// it itself (3.13.18+ sometimes does).
    #[serde(default)]
    pub tracker_exit_code: Option<i32>,
    /// Where the process imported `multiprocessing` from.
    pub multiprocessing: Option<String>,
    /// The JSON-line events the role printed on stdout.
    pub events: Vec<Event>,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: u64,
}

impl ProcessObservation {
    /// How it ended: `exit 0`, `signal 9`, `did not finish`.
    pub fn ended(&self) -> String {
        match (self.exit_code, self.signal) {
            (Some(c), _) => format!("exit {c}"),
            (None, Some(s)) => format!("signal {s}"),
            _ => "did not finish".into(),
        }
    }
}

/// A traceback: the exception type and whose it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Traceback {
    /// `FileNotFoundError`, `KeyError`, ...
    pub exception: String,
    /// The last line: `FileNotFoundError: [Errno 2] ...`.
    pub line: String,
    pub origin: Origin,
}

/// Whose traceback it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The role script's own exception: how the process ended.
    Process,
    /// The resource tracker's main loop.
    Tracker,
    /// Anything else (a multiprocessing child, say).
    Other,
}

/// One observable fact a verdict is made of: `P2 leak warning`,
/// `P3 FileNotFoundError`, `P2 tracker KeyError`, `segment leaked`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub struct Symptom {
    /// Process group, then what happened.
    pub key: String,
    /// One line of the transcript that shows it.
    pub evidence: String,
}
