//! What one case observed: its processes, the segments its creators made,
//! and, when the harness or the machine got in the way, why the case could
//! not run. The engine (`run::engine`) fills these in; `symptoms` and
//! `judge` read them.

use std::time::Duration;

use crate::contract::ProcessObservation;

/// Why a case could not run. Never a verdict about Python: a case with one
/// of these is `error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    #[error("cannot start {label} ({python}): {reason}")]
    Spawn {
        label: String,
        python: String,
        reason: String,
    },
    #[error("{label} did not get ready within {timeout:?} (raise --timeout on a loaded machine)")]
    NotReady { label: String, timeout: Duration },
    #[error("{label} timed out after {timeout:?} (raise --timeout on a loaded machine)")]
    Timeout { label: String, timeout: Duration },
    #[error(
        "the creator found the segment name {name} taken by someone else (a name clash, not an outcome)"
    )]
    NameClash { name: String },
    #[error("{label} could not create the segment: {why}")]
    NotCreated { label: String, why: String },
    #[error("{label} imported multiprocessing from {file}, expected {expected}")]
    OverlayNotInEffect {
        label: String,
        file: String,
        expected: String,
    },
    #[error(
        "{label}'s resource tracker exited {code} (it found leaked segments) but no leak warning was read: the transcript is incomplete"
    )]
    TrackerDisagrees { label: String, code: i32 },
    #[error(
        "{label} was killed by signal {signal}, which the scenario did not send (something outside the harness killed it: the OOM killer, a kill): no verdict"
    )]
    KilledFromOutside { label: String, signal: i32 },
    #[error("{label}: {error}")]
    Protocol {
        label: String,
        error: crate::scenario::protocol::ProtocolError,
    },
    #[error("interrupted")]
    Interrupted,
}

/// What one case did.
#[derive(Debug, Clone)]
pub struct CaseObservation {
    /// The segment name (no leading slash).
    pub segment: String,
    pub processes: Vec<ProcessObservation>,
    /// The creator said `created`: the segment is this run's to remove.
    pub created: bool,
    /// Every segment this case's creators made (the case's name; a
    /// manager's two): the only names the harness may check and remove.
    pub made: Vec<String>,
    /// The segment outlived every process; the harness removed it.
    pub segment_leaked: bool,
    /// A problem of the harness or the machine, not of Python.
    pub error: Option<CaseError>,
}
