//! The events roles.py prints on stdout, one JSON object per line
//! (`{"event": "ready"}`), typed. They reach results.json as they were
//! read, so every field keeps the name roles.py gives it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One event of a role process (or of a multiprocessing child it started,
/// which shares its stdout). roles.py's module doc is the reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The process started: its pid and where it imported `multiprocessing`.
    Start {
        pid: i64,
        multiprocessing: String,
    },
    /// The creator's exclusive `shm_open` made segment `name` (said from
    /// inside shm_open, before the code under test runs on).
    Opened {
        name: String,
    },
    /// The creator made its segment(s): `names` for a manager's two.
    Created {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        names: Option<Vec<String>>,
    },
    /// A holder is ready for commands on stdin.
    Ready,
    /// An attacher holds the segment until stdin closes.
    Holding,
    /// Attached by name (`via`: how a multiprocessing child got the object).
    Attached {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        via: Option<String>,
    },
    /// The attacher called `resource_tracker.unregister` after attaching.
    Unregistered,
    /// The usage asked for cannot reach this API; it went on as default.
    ModeUnsupported {
        mode: String,
        reason: String,
    },
    /// A read of the creator's bytes: whether they were intact.
    Read {
        data_ok: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        what: Option<String>,
    },
    Closed,
    Unlinked,
    /// A resource tracker this process started, and whose it is.
    Tracker {
        pid: i64,
        who: String,
    },
    /// A multiprocessing (or raw-fork) child ended with `exitcode`.
    ChildExited {
        exitcode: Option<i64>,
    },
    Grown {
        size: u64,
    },
    Shrunk {
        size: u64,
    },
    ManagerStarted {
        start_method: String,
    },
    Shutdown,
    /// The test-only hanger is blocked for good.
    Hanging,
    /// A holder finished the stdin command `command`.
    Done {
        command: String,
    },
    /// What the stdlib in effect offers (`roles.py apis`): `track` in
    /// `SharedMemory.__init__`, a callable `resource_tracker.unregister`.
    Apis {
        track: bool,
        unregister: bool,
    },
}

impl Event {
    /// The name on the wire: `ready`, `child-exited`.
    pub fn name(&self) -> &'static str {
        match self {
            Event::Start { .. } => "start",
            Event::Opened { .. } => "opened",
            Event::Created { .. } => "created",
            Event::Ready => "ready",
            Event::Holding => "holding",
            Event::Attached { .. } => "attached",
            Event::Unregistered => "unregistered",
            Event::ModeUnsupported { .. } => "mode-unsupported",
            Event::Read { .. } => "read",
            Event::Closed => "closed",
            Event::Unlinked => "unlinked",
            Event::Tracker { .. } => "tracker",
            Event::ChildExited { .. } => "child-exited",
            Event::Grown { .. } => "grown",
            Event::Shrunk { .. } => "shrunk",
            Event::ManagerStarted { .. } => "manager-started",
            Event::Shutdown => "shutdown",
            Event::Hanging => "hanging",
            Event::Done { .. } => "done",
            Event::Apis { .. } => "apis",
        }
    }
}

/// Compact JSON with sorted keys, as transcripts and evidence quote it.
impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = serde_json::to_value(self).map_err(|_| std::fmt::Error)?;
        write!(f, "{value}")
    }
}

/// What a scenario process is, as outputs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RoleName {
    #[serde(rename = "creator")]
    Creator,
    #[serde(rename = "creator (ShareableList)")]
    CreatorList,
    #[serde(rename = "manager")]
    Manager,
    #[serde(rename = "hanger")]
    Hanger,
    #[serde(rename = "attacher")]
    Attacher,
    #[serde(rename = "attacher+unlink")]
    AttacherUnlinks,
    #[serde(rename = "attacher (holds)")]
    AttacherHolds,
}

impl RoleName {
    pub fn name(self) -> &'static str {
        match self {
            RoleName::Creator => "creator",
            RoleName::CreatorList => "creator (ShareableList)",
            RoleName::Manager => "manager",
            RoleName::Hanger => "hanger",
            RoleName::Attacher => "attacher",
            RoleName::AttacherUnlinks => "attacher+unlink",
            RoleName::AttacherHolds => "attacher (holds)",
        }
    }

    /// It makes the case's segment(s).
    pub fn creates(self) -> bool {
        matches!(
            self,
            RoleName::Creator | RoleName::CreatorList | RoleName::Manager
        )
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_read_what_roles_py_writes_and_write_it_back() {
        // json.dumps(..., sort_keys=True), as roles.py prints them.
        let lines = [
            r#"{"event": "start", "multiprocessing": "/o/multiprocessing/__init__.py", "pid": 7}"#,
            r#"{"event": "created", "size": 4096}"#,
            r#"{"event": "created", "names": ["n_m1", "n_m2"], "size": 4096}"#,
            r#"{"data_ok": true, "event": "read", "what": "shareable-list"}"#,
            r#"{"event": "child-exited", "exitcode": null}"#,
            r#"{"command": "check", "event": "done"}"#,
            r#"{"event": "ready"}"#,
        ];
        for line in lines {
            let e: Event = serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
            let back: serde_json::Value = serde_json::to_value(&e).unwrap();
            let sent: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(back, sent, "{line}");
            assert_eq!(back["event"], e.name());
        }
    }

    #[test]
    fn role_names_serialise_as_outputs_show_them() {
        for r in [
            RoleName::Creator,
            RoleName::CreatorList,
            RoleName::Manager,
            RoleName::Hanger,
            RoleName::Attacher,
            RoleName::AttacherUnlinks,
            RoleName::AttacherHolds,
        ] {
            assert_eq!(
                serde_json::to_string(&r).unwrap(),
                format!("\"{}\"", r.name())
            );
        }
    }
}
