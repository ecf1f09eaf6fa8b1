//! Symptoms: the observable facts a verdict is made of, one key each
//! (`P2 leak warning`, `P3 FileNotFoundError`, `P2 tracker KeyError`,
//! `segment leaked`), with the transcript line that shows it.
//!
//! Keys use the process *group*, not the label, so processes whose relative
//! timing is free (concurrent attachers, `A*`) give the same set every run.
//! A key is a [`Key`]: the expectation table's strings are checked against
//! its grammar by a unit test, so a misspelt symptom cannot hide there.

use std::collections::BTreeMap;
use std::fmt;

use crate::contract::{Event, Origin, Symptom};
use crate::scenario::CaseObservation;
use crate::scenario::observe::LEAK_PREFIX;

/// What happened to a process group (or, for `SegmentLeaked`, the case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// The resource tracker warned of leaked objects at shutdown.
    LeakWarning,
    /// The tracker warned about something else (an ENOENT on unlink).
    TrackerError,
    /// The process ended with this exception.
    Exception(String),
    /// The tracker's main loop raised this (KeyError on UNREGISTER).
    TrackerException(String),
    /// A multiprocessing child raised this.
    ChildException(String),
    /// A read saw bytes that differ from what the creator wrote.
    DataLost,
    /// Killed at the deadline (a case with it is an error, never judged).
    Timeout,
    KilledBySignal(i32),
    /// Non-zero exit without an exception of its own.
    Exit(i32),
    /// A multiprocessing child exited non-zero.
    ChildExit(i64),
    /// The segment outlived every process.
    SegmentLeaked,
}

/// A symptom key: the group it is about, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    pub group: Option<String>,
    pub kind: Kind,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.group.as_deref().unwrap_or("");
        match &self.kind {
            Kind::LeakWarning => write!(f, "{g} leak warning"),
            Kind::TrackerError => write!(f, "{g} tracker error"),
            Kind::Exception(e) => write!(f, "{g} {e}"),
            Kind::TrackerException(e) => write!(f, "{g} tracker {e}"),
            Kind::ChildException(e) => write!(f, "{g} child {e}"),
            Kind::DataLost => write!(f, "{g} data lost"),
            Kind::Timeout => write!(f, "{g} timeout"),
            Kind::KilledBySignal(s) => write!(f, "{g} killed by signal {s}"),
            Kind::Exit(c) => write!(f, "{g} exit {c}"),
            Kind::ChildExit(c) => write!(f, "{g} child exit {c}"),
            Kind::SegmentLeaked => write!(f, "segment leaked"),
        }
    }
}

impl Key {
    fn of(group: &str, kind: Kind) -> Key {
        Key {
            group: Some(group.to_string()),
            kind,
        }
    }

    /// Read a key back (the grammar `Display` writes); `None` if it is not
    /// one (the tests check every key of the expectation table is one `of`
    /// can produce).
    pub fn parse(s: &str) -> Option<Key> {
        if s == "segment leaked" {
            return Some(Key {
                group: None,
                kind: Kind::SegmentLeaked,
            });
        }
        let (group, rest) = s.split_once(' ')?;
        let exception = |e: &str| {
            (!e.is_empty()
                && e.chars().next().is_some_and(|c| c.is_ascii_uppercase())
                && e.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .then(|| e.to_string())
        };
        let kind = match rest {
            "leak warning" => Kind::LeakWarning,
            "tracker error" => Kind::TrackerError,
            "data lost" => Kind::DataLost,
            "timeout" => Kind::Timeout,
            _ => {
                if let Some(n) = rest.strip_prefix("killed by signal ") {
                    Kind::KilledBySignal(n.parse().ok()?)
                } else if let Some(n) = rest.strip_prefix("child exit ") {
                    Kind::ChildExit(n.parse().ok()?)
                } else if let Some(n) = rest.strip_prefix("exit ") {
                    Kind::Exit(n.parse().ok()?)
                } else if let Some(e) = rest.strip_prefix("tracker ") {
                    Kind::TrackerException(exception(e)?)
                } else if let Some(e) = rest.strip_prefix("child ") {
                    Kind::ChildException(exception(e)?)
                } else {
                    Kind::Exception(exception(rest)?)
                }
            }
        };
        Some(Key {
            group: Some(group.to_string()),
            kind,
        })
    }
}

/// Is this symptom residue (a tracker's noise at shutdown: a leak warning,
/// a failed unlink of a name already gone) rather than harm (an exception,
/// a non-zero exit, lost data, a leaked segment, or a tracker traceback: a
/// tracker that got an UNREGISTER for a name it no longer had has lost
/// someone's registration, and a crash of that owner would now leak)?
/// What `advise` lists next to a usage that holds, rather than against it.
pub fn is_residue(key: &str) -> bool {
    matches!(
        Key::parse(key).map(|k| k.kind),
        Some(Kind::LeakWarning | Kind::TrackerError)
    )
}

/// Every symptom of a case, sorted by key, one per key.
pub fn of(case: &CaseObservation) -> Vec<Symptom> {
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut add = |key: Key, evidence: &str| {
        out.entry(key.to_string())
            .or_insert_with(|| evidence.trim().to_string());
    };
    for p in &case.processes {
        let g = p.group.as_str();
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
            add(Key::of(g, Kind::LeakWarning), &line_with(LEAK_PREFIX));
        }
        if let Some(first) = p.tracker_errors.first() {
            add(Key::of(g, Kind::TrackerError), first);
        }
        for tb in &p.tracebacks {
            let e = tb.exception.clone();
            let kind = match tb.origin {
                Origin::Process => Kind::Exception(e),
                Origin::Tracker => Kind::TrackerException(e),
                Origin::Other => Kind::ChildException(e),
            };
            add(Key::of(g, kind), &tb.line);
        }
        if p.data_ok == Some(false) {
            add(
                Key::of(g, Kind::DataLost),
                "read back bytes that differ from what the creator wrote",
            );
        }
        if p.timed_out {
            add(
                Key::of(g, Kind::Timeout),
                "killed with its process group at the deadline",
            );
        } else if let (Some(sig), false) = (p.signal, p.killed_by_harness) {
            add(
                Key::of(g, Kind::KilledBySignal(sig)),
                &format!("terminated by signal {sig}"),
            );
        }
        if let (Some(code), None) = (p.exit_code.filter(|&c| c != 0), &p.exception) {
            add(Key::of(g, Kind::Exit(code)), &format!("exit status {code}"));
        }
        for e in &p.events {
            if let Event::ChildExited {
                exitcode: Some(code),
            } = e
                && *code != 0
            {
                add(Key::of(g, Kind::ChildExit(*code)), &e.to_string());
            }
        }
    }
    if case.segment_leaked {
        add(
            Key {
                group: None,
                kind: Kind::SegmentLeaked,
            },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        for k in [
            "P2 leak warning",
            "A* tracker error",
            "P3 FileNotFoundError",
            "P2 tracker KeyError",
            "P1 child FileNotFoundError",
            "R data lost",
            "P2 timeout",
            "P1 killed by signal 9",
            "P1 exit 1",
            "P1 child exit 1",
            "segment leaked",
        ] {
            let key = Key::parse(k).unwrap_or_else(|| panic!("{k}"));
            assert_eq!(key.to_string(), k);
        }
        for bad in [
            "P2 leak warnings",
            "P2",
            "P2 fileNotFound",
            "P1 exit x",
            "leaked",
            "P2 Foo-Bar",
            "P2 ",
        ] {
            assert!(Key::parse(bad).is_none(), "{bad}");
        }
        for good in ["P2 Foo_Bar", "P2 Mod.Error"] {
            assert!(Key::parse(good).is_some(), "{good}");
        }
    }

    #[test]
    fn a_child_that_exits_non_zero_is_a_symptom_and_exit_0_is_not() {
        let mut p1 = crate::contract::fixtures::attacher("");
        p1.label = "P1".into();
        p1.group = "P1".into();
        p1.events = vec![
            Event::ChildExited { exitcode: Some(0) },
            Event::ChildExited { exitcode: Some(1) },
            Event::ChildExited { exitcode: None },
            Event::Read {
                data_ok: true,
                what: None,
            },
        ];
        let keys: Vec<String> = of(&created(vec![p1])).into_iter().map(|s| s.key).collect();
        assert_eq!(keys, ["P1 child exit 1"]);
    }

    #[test]
    fn a_traceback_is_keyed_by_whose_it_is() {
        // One stderr, three tracebacks: the tracker's (frames in
        // resource_tracker.py), a multiprocessing child's (not roles.py at
        // module level) and the process's own.
        let stderr = "\
Traceback (most recent call last):
  File \"/x/multiprocessing/resource_tracker.py\", line 239, in main
    cache[rtype].remove(name)
KeyError: '/n'
Traceback (most recent call last):
  File \"/x/multiprocessing/process.py\", line 314, in _bootstrap
    self.run()
ValueError: child
Traceback (most recent call last):
  File \"/w/roles.py\", line 160, in <module>
    main(sys.argv[1:])
FileNotFoundError: [Errno 2] No such file or directory: '/n'
";
        let parsed = crate::scenario::observe::parse_stderr(stderr, "roles.py");
        let mut p2 = crate::contract::fixtures::attacher(stderr);
        p2.exception = parsed.exception().map(|t| t.exception.clone());
        p2.tracebacks = parsed.tracebacks;
        p2.exit_code = Some(1);
        let symptoms = of(&created(vec![p2]));
        let keys: Vec<&str> = symptoms.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "P2 FileNotFoundError",
                "P2 child ValueError",
                "P2 tracker KeyError"
            ]
        );
        assert_eq!(symptoms[2].evidence, "KeyError: '/n'");
    }

    /// A case that created segment `s` and ran `processes`.
    fn created(processes: Vec<crate::contract::ProcessObservation>) -> CaseObservation {
        CaseObservation {
            segment: "s".into(),
            processes,
            created: true,
            made: Vec::new(),
            segment_leaked: false,
            error: None,
        }
    }
}
