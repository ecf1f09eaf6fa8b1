//! What a process said, parsed: events from stdout, warnings and tracebacks
//! from stderr.
//!
//! A process and its resource tracker share stderr, so one stream holds the
//! process's own traceback (its first frame is the role script at module
//! level), the tracker's tracebacks (frames in `resource_tracker.py`) and
//! the tracker's warnings. Warnings are matched by prefix only: 3.13 appends
//! the set of names to the leak warning.

use super::catalogue::Proc;
use super::protocol::{self, Event, ProtocolError};
use crate::contract::ProcessObservation;
pub use crate::contract::{Origin, Traceback};
use crate::host::proc::{Finished, Termination};

pub const LEAK_PREFIX: &str = "resource_tracker: There appear to be";
const TRACKER_WARNING: &str = "UserWarning: resource_tracker: ";
const TRACEBACK: &str = "Traceback (most recent call last):";

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stderr {
    pub leak_warnings: usize,
    /// Tracker warnings other than the leak count, e.g. a failed unlink.
    pub tracker_errors: Vec<String>,
    pub tracebacks: Vec<Traceback>,
    /// Why the tracebacks cannot be attributed (see `parse_traceback`).
    pub unreadable: Option<String>,
}

impl Stderr {
    pub fn exception(&self) -> Option<&Traceback> {
        self.tracebacks.iter().find(|t| t.origin == Origin::Process)
    }
}

/// What a finished process did, read from its transcript, and the first
/// line of its stdout that broke the event protocol, if one did.
/// `segment_after` is left false: the engine knows whether the segment
/// still exists. `tracker_codes`: the interpreter's trackers exit with a
/// meaningful status (3.13+).
pub fn process(
    proc: &Proc,
    out: Finished,
    script: &str,
    tracker_codes: bool,
) -> (ProcessObservation, Option<ProtocolError>) {
    let parsed = parse_stderr(&out.stderr, script);
    let (events, protocol_error) = protocol::events(&out.stdout);
    let protocol_error = protocol_error.or_else(|| {
        parsed
            .unreadable
            .clone()
            .map(protocol::ProtocolError::Unreadable)
    });
    let reads: Vec<bool> = events
        .iter()
        .filter_map(|e| match e {
            Event::Read { data_ok, .. } => Some(*data_ok),
            _ => None,
        })
        .collect();
    let data_ok = (!reads.is_empty()).then(|| reads.iter().all(|ok| *ok));
    let multiprocessing = events.iter().find_map(|e| match e {
        Event::Start {
            multiprocessing, ..
        } => Some(multiprocessing.clone()),
        _ => None,
    });
    let tracker_exit_code = tracker_codes
        .then(|| own_tracker_code(&events, &out.orphans))
        .flatten();
    let observed = ProcessObservation {
        label: proc.label.clone(),
        group: proc.group.clone(),
        role: proc.role.name(),
        exit_code: out.termination.code(),
        signal: out.termination.signal(),
        timed_out: out.timed_out,
        killed_by_harness: false,
        leak_warnings: parsed.leak_warnings,
        tracker_errors: parsed.tracker_errors.clone(),
        exception: parsed.exception().map(|t| t.exception.clone()),
        tracebacks: parsed.tracebacks,
        data_ok,
        segment_after: false,
        tracker_exit_code,
        multiprocessing,
        events,
        stdout: out.stdout,
        stderr: out.stderr,
        duration_ms: out.duration.as_millis() as u64,
    };
    (observed, protocol_error)
}

/// How the tracker this process started ended (not a raw-fork child's), as
/// the `tracker` event names it, matched with the orphans we reaped.
fn own_tracker_code(events: &[Event], orphans: &[(i32, Termination)]) -> Option<i32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Tracker { pid, who } if who != "raw-fork child" => Some(*pid),
            _ => None,
        })
        .find_map(|pid| {
            orphans
                .iter()
                .find(|(p, _)| i64::from(*p) == pid)
                .and_then(|(_, t)| t.code())
        })
}

pub fn parse_stderr(stderr: &str, script: &str) -> Stderr {
    let mut out = Stderr::default();
    let lines: Vec<&str> = stderr.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with(TRACEBACK) {
            let next = parse_traceback(&lines, i, script, &mut out);
            i = next;
            continue;
        }
        out.warning(line);
        i += 1;
    }
    out
}

impl Stderr {
    /// Count `line` if it is a tracker warning. Only the warning line
    /// itself counts: on 3.8-3.12 the source line Python echoes under it
    /// also contains the leak prefix.
    fn warning(&mut self, line: &str) -> bool {
        let Some(at) = line.find(TRACKER_WARNING) else {
            return false;
        };
        let message = &line[at + "UserWarning: ".len()..];
        if message.starts_with(LEAK_PREFIX) {
            self.leak_warnings += 1;
        } else {
            self.tracker_errors.push(message.to_string());
        }
        true
    }
}

/// An exception line: `KeyError: '/x'`, `multiprocessing.x.Error: why`,
/// `KeyboardInterrupt`; not `Process SpawnProcess-1:`, not "During
/// handling ...", not a path.
fn is_exception_line(line: &str) -> bool {
    let name = line.split(':').next().unwrap_or(line);
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        // `shared_memory.py:216: UserWarning: ...` is a warning's place.
        && !name.ends_with(".py")
}

/// Parse the traceback starting at `lines[start]` into `out`; returns the
/// index after its last line. Chained tracebacks ("During handling ...")
/// are read as one, ending in the final exception.
///
/// Two processes that share a stderr (a role and its resource tracker, or
/// two trackers) write their tracebacks a line at a time, so one may start
/// inside another: a header before the exception line opens one more
/// traceback, and each exception line closes one. Their frames cannot be
/// told apart: where every frame of such a tangle says the same origin
/// (two trackers' KeyErrors), each traceback has it; where they differ,
/// whose exception is whose is unknown, and the stderr is unreadable
/// rather than guessed. A tracker warning inside still counts as one.
fn parse_traceback(lines: &[&str], start: usize, script: &str, out: &mut Stderr) -> usize {
    let mut frames: Vec<&str> = Vec::new();
    let mut tangle: Vec<&str> = Vec::new();
    let mut tangled = false;
    let mut closed: Vec<(String, String)> = Vec::new();
    let mut open = 1;
    let mut i = start + 1;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with(TRACEBACK) {
            open += 1;
            tangled = true;
        } else if line.starts_with("  File ") {
            frames.push(line);
            tangle.push(line);
        } else if !is_exception_line(line) {
            // A source line, a caret line, a warning (counted), a chaining
            // line or another process's words: not this traceback's end.
            out.warning(line);
        } else {
            // The exception line; a chained traceback may follow, and then
            // the final exception is the one that counts.
            let at = |k: usize| lines.get(i + k).copied().unwrap_or("\u{0}");
            let chained = open == 1
                && at(1).is_empty()
                && (at(2).starts_with("During handling")
                    || at(2).starts_with("The above exception"))
                && at(3).is_empty()
                && at(4).starts_with(TRACEBACK);
            if chained {
                frames.clear();
                i += 5;
                continue;
            }
            if !tangled {
                out.tracebacks.push(Traceback {
                    exception: line.split(':').next().unwrap_or(line).trim().to_string(),
                    line: line.to_string(),
                    origin: origin(&frames, script),
                });
            } else {
                closed.push((
                    line.split(':').next().unwrap_or(line).trim().to_string(),
                    line.to_string(),
                ));
            }
            frames.clear();
            open -= 1;
            if open == 0 {
                i += 1;
                break;
            }
        }
        i += 1;
    }
    if tangled && !closed.is_empty() {
        let origins: Vec<Origin> = tangle.iter().map(|f| origin(&[f], script)).collect();
        match origins.first() {
            Some(o) if origins.iter().all(|x| x == o) => {
                out.tracebacks
                    .extend(closed.into_iter().map(|(exception, line)| Traceback {
                        exception,
                        line,
                        origin: *o,
                    }));
            }
            _ => {
                out.unreadable.get_or_insert_with(|| {
                    format!(
                        "{} tracebacks of different processes written into each other ({}); whose exception is whose cannot be told",
                        closed.len(),
                        closed.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join(" | ")
                    )
                });
            }
        }
    }
    i
}

/// Whose traceback `frames` are: the role's own (its script at module
/// level first), its resource tracker's, or another process's.
fn origin(frames: &[&str], script: &str) -> Origin {
    let script_frame = format!("{script}\", line ");
    match frames.first() {
        Some(f) if f.contains(&script_frame) && f.ends_with("in <module>") => Origin::Process,
        _ if frames.iter().any(|f| f.contains("resource_tracker.py")) => Origin::Tracker,
        _ => Origin::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::catalogue::Role;

    const P3_313: &str = "\
/x/resource_tracker.py:276: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects to clean up at shutdown: {'/n'}
  warnings.warn(
Traceback (most recent call last):
  File \"/t/roles.py\", line 129, in <module>
    main(sys.argv[1:])
    ~~~~^^^^^^^^^^^^^^
  File \"/x/shared_memory.py\", line 106, in __init__
    self._fd = _posixshmem.shm_open(
    )
    ^
FileNotFoundError: [Errno 2] No such file or directory: '/n'
/x/resource_tracker.py:292: UserWarning: resource_tracker: '/n': [Errno 2] No such file or directory: '/n'
  warnings.warn('resource_tracker: %r: %s' % (name, e))
";

    #[test]
    fn finds_warnings_and_the_process_exception() {
        let s = parse_stderr(P3_313, "roles.py");
        assert_eq!(s.leak_warnings, 1);
        assert_eq!(
            s.tracker_errors,
            vec!["resource_tracker: '/n': [Errno 2] No such file or directory: '/n'"]
        );
        assert_eq!(s.exception().unwrap().exception, "FileNotFoundError");
    }

    #[test]
    fn the_echoed_source_line_is_not_a_second_warning() {
        let text = "\
/x/resource_tracker.py:224: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects to clean up at shutdown
  warnings.warn('resource_tracker: There appear to be %d '
";
        assert_eq!(parse_stderr(text, "roles.py").leak_warnings, 1);
    }

    #[test]
    fn counts_the_warning_not_its_echoed_source_line() {
        let text = "\
/x/resource_tracker.py:216: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects to clean up at shutdown
  warnings.warn('resource_tracker: There appear to be %d '
/x/resource_tracker.py:229: UserWarning: resource_tracker: '/n': [Errno 2] No such file or directory: '/n'
  warnings.warn('resource_tracker: %r: %s' % (name, e))
";
        let s = parse_stderr(text, "roles.py");
        assert_eq!(s.leak_warnings, 1);
        assert_eq!(s.tracker_errors.len(), 1);
    }

    #[test]
    fn a_chained_traceback_ends_in_its_last_exception() {
        for link in [
            "During handling of the above exception, another exception occurred:",
            "The above exception was the direct cause of the following exception:",
        ] {
            let text = format!(
                "Traceback (most recent call last):\n  File \"/x/shared_memory.py\", line 1, in __init__\n    x\nFileNotFoundError: [Errno 2] gone\n\n{link}\n\nTraceback (most recent call last):\n  File \"/w/roles.py\", line 160, in <module>\n    main()\nOSError: [Errno 12] Cannot allocate memory\n"
            );
            let s = parse_stderr(&text, "roles.py");
            assert_eq!(s.tracebacks.len(), 1, "{link}");
            assert_eq!(s.tracebacks[0].exception, "OSError");
            assert_eq!(s.tracebacks[0].origin, Origin::Process, "{link}");
            assert_eq!(
                s.exception().unwrap().line,
                "OSError: [Errno 12] Cannot allocate memory"
            );
        }
        // Not a chain: a blank line and then something else.
        let text = "Traceback (most recent call last):\n  File \"/w/roles.py\", line 1, in <module>\nKeyError: 'a'\n\nDuring handling of the above exception, another exception occurred:\n\nnot a traceback\n";
        let s = parse_stderr(text, "roles.py");
        assert_eq!(s.tracebacks[0].exception, "KeyError");
    }

    #[test]
    fn whose_traceback_it_is_comes_from_its_frames() {
        let tb = |frames: &str| {
            let text = format!("Traceback (most recent call last):\n{frames}ValueError: v\n");
            parse_stderr(&text, "roles.py").tracebacks[0].origin
        };
        assert_eq!(
            tb("  File \"/w/roles.py\", line 9, in <module>\n"),
            Origin::Process
        );
        // The script, but not at module level: a multiprocessing child.
        assert_eq!(
            tb("  File \"/w/roles.py\", line 9, in child_main\n"),
            Origin::Other
        );
        assert_eq!(
            tb(
                "  File \"/x/process.py\", line 1, in _bootstrap\n  File \"/x/resource_tracker.py\", line 2, in main\n"
            ),
            Origin::Tracker
        );
        assert_eq!(
            tb("  File \"/x/process.py\", line 1, in _bootstrap\n"),
            Origin::Other
        );
        assert_eq!(
            tb("  File \"/w/other.py\", line 9, in <module>\n"),
            Origin::Other
        );
    }

    /// Two trackers' KeyErrors interleaved line by line on P1's stderr, as
    /// 3.11.7 wrote them in a family-object [fork] case (unregister usage,
    /// no-register): two tracker tracebacks, never a header read as an
    /// exception of the process.
    #[test]
    fn tracebacks_written_into_each_other_are_each_read_whole() {
        let text = "\
Traceback (most recent call last):
Traceback (most recent call last):
  File \"/o/multiprocessing/resource_tracker.py\", line 239, in main
    cache[rtype].remove(name)
KeyError: '/shmhd25bfee22ea9_1958'
  File \"/o/multiprocessing/resource_tracker.py\", line 239, in main
    cache[rtype].remove(name)
KeyError: '/shmhd25bfee22ea9_1958'
";
        let s = parse_stderr(text, "roles.py");
        let read: Vec<(&str, Origin)> = s
            .tracebacks
            .iter()
            .map(|t| (t.exception.as_str(), t.origin))
            .collect();
        assert_eq!(
            read,
            [("KeyError", Origin::Tracker), ("KeyError", Origin::Tracker)]
        );
        assert!(s.exception().is_none());
    }

    /// Interleaved line by line: every frame a tracker's, so two tracker
    /// KeyErrors; a role's frame among them, so nobody can say whose
    /// exception is whose: unreadable, never a guess.
    #[test]
    fn a_tangle_of_tracebacks_is_read_only_when_its_frames_agree() {
        let tracker = "  File \"/o/multiprocessing/resource_tracker.py\", line 239, in main";
        let text = format!(
            "Traceback (most recent call last):\nTraceback (most recent call last):\n{tracker}\n{tracker}\n    cache[rtype].remove(name)\n    cache[rtype].remove(name)\nKeyError: '/a'\nKeyError: '/a'\n"
        );
        let s = parse_stderr(&text, "roles.py");
        let origins: Vec<Origin> = s.tracebacks.iter().map(|t| t.origin).collect();
        assert_eq!(origins, [Origin::Tracker, Origin::Tracker]);
        assert_eq!(s.unreadable, None);
        let role = "  File \"/w/roles.py\", line 9, in <module>";
        let text = format!(
            "Traceback (most recent call last):\n{role}\nTraceback (most recent call last):\n{tracker}\nKeyError: '/a'\nFileNotFoundError: [Errno 2] gone\n"
        );
        let s = parse_stderr(&text, "roles.py");
        assert!(s.exception().is_none());
        assert!(
            s.unreadable
                .as_deref()
                .is_some_and(|u| u.contains("KeyError: '/a' | FileNotFoundError")),
            "{s:?}"
        );
    }

    /// Inside a traceback, only an exception line ends it: not a child's
    /// `Process SpawnProcess-1:` line, and a tracker warning still counts.
    #[test]
    fn only_an_exception_line_ends_a_traceback() {
        let text = "\
Traceback (most recent call last):
Process SpawnProcess-1:
/x/resource_tracker.py:216: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects to clean up at shutdown
  File \"/w/roles.py\", line 9, in <module>
FileNotFoundError: [Errno 2] gone
";
        let s = parse_stderr(text, "roles.py");
        assert_eq!(s.exception().unwrap().exception, "FileNotFoundError");
        assert_eq!(s.leak_warnings, 1);
    }

    #[test]
    fn every_traceback_of_a_stream_is_read_and_a_cut_one_is_not_invented() {
        let text = "Traceback (most recent call last):\n  File \"/x/resource_tracker.py\", line 1, in main\nKeyError: '/a'\nTraceback (most recent call last):\n  File \"/x/resource_tracker.py\", line 1, in main\nKeyError: '/b'\nTraceback (most recent call last):\n  File \"/w/roles.py\", line 1, in <module>\n";
        let s = parse_stderr(text, "roles.py");
        let lines: Vec<&str> = s.tracebacks.iter().map(|t| t.line.as_str()).collect();
        assert_eq!(lines, ["KeyError: '/a'", "KeyError: '/b'"]);
        assert!(s.exception().is_none());
    }

    #[test]
    fn a_warning_raised_as_an_error_is_a_traceback_not_also_a_warning() {
        // Under `-W error` the tracker raises its warning instead of
        // printing it: the traceback's last line is not counted again.
        let text = "\
Traceback (most recent call last):
  File \"/x/multiprocessing/resource_tracker.py\", line 224, in main
    warnings.warn('resource_tracker: %r: %s' % (name, e))
UserWarning: resource_tracker: '/n': [Errno 2] No such file or directory: '/n'
";
        let s = parse_stderr(text, "roles.py");
        assert_eq!(s.tracebacks.len(), 1);
        assert_eq!(s.tracebacks[0].exception, "UserWarning");
        assert!(s.tracker_errors.is_empty(), "{:?}", s.tracker_errors);
        assert_eq!(s.leak_warnings, 0);
    }

    #[test]
    fn tracker_tracebacks_are_not_the_process_exception() {
        let text = "\
Traceback (most recent call last):
  File \"/x/multiprocessing/resource_tracker.py\", line 209, in main
    cache[rtype].remove(name)
KeyError: '/n'
";
        let s = parse_stderr(text, "roles.py");
        assert!(s.exception().is_none());
        assert_eq!(s.tracebacks[0].origin, Origin::Tracker);
        assert_eq!(s.tracebacks[0].exception, "KeyError");
    }

    fn finished(stdout: &str, orphans: Vec<(i32, Termination)>) -> Finished {
        Finished {
            termination: Termination::Exited(0),
            orphans,
            stdout: stdout.to_string(),
            stderr: String::new(),
            timed_out: false,
            duration: std::time::Duration::from_millis(5),
        }
    }

    fn attacher() -> Proc {
        Proc {
            label: "B".into(),
            group: "attachers".into(),
            role: Role::Attacher {
                unlink: false,
                hold: false,
                list: false,
            },
        }
    }

    #[test]
    fn a_process_is_read_from_its_events() {
        let stdout = r#"{"event": "start", "multiprocessing": "/o/multiprocessing", "pid": 5}
not an event
{"event": "read", "data_ok": true}
{"event": "tracker", "pid": 7, "who": "raw-fork child"}
{"event": "tracker", "pid": 8, "who": "self"}
{"event": "done", "command": "check", "data_ok": false}
"#;
        let orphans = vec![(7, Termination::Exited(3)), (8, Termination::Exited(1))];
        let (p, error) = process(
            &attacher(),
            finished(stdout, orphans.clone()),
            "roles.py",
            true,
        );
        assert_eq!(error, None);
        assert_eq!(p.role, crate::contract::RoleName::Attacher);
        assert_eq!((p.label.as_str(), p.group.as_str()), ("B", "attachers"));
        assert_eq!(p.events.len(), 5, "the line that is not JSON is no event");
        // Only `read` events say whether the data was intact.
        assert_eq!(p.data_ok, Some(true));
        assert_eq!(p.multiprocessing.as_deref(), Some("/o/multiprocessing"));
        // The process's own tracker, not the raw-fork child's.
        assert_eq!(p.tracker_exit_code, Some(1));
        assert_eq!(p.exit_code, Some(0));
        // Without meaningful tracker codes (before 3.13) there is none.
        let (p, _) = process(&attacher(), finished(stdout, orphans), "roles.py", false);
        assert_eq!(p.tracker_exit_code, None);
        // No read at all: unknown, not intact.
        let (p, _) = process(&attacher(), finished("", vec![]), "roles.py", true);
        assert_eq!((p.data_ok, p.tracker_exit_code), (None, None));
        let bad =
            "{\"event\": \"read\", \"data_ok\": true}\n{\"event\": \"read\", \"data_ok\": false}\n";
        let (p, _) = process(&attacher(), finished(bad, vec![]), "roles.py", true);
        assert_eq!(p.data_ok, Some(false));
    }

    #[test]
    fn roles_have_their_names() {
        let name = |role: Role| role.name().name();
        let attacher = |unlink, hold| Role::Attacher {
            unlink,
            hold,
            list: false,
        };
        assert_eq!(name(Role::Creator { list: false }), "creator");
        assert_eq!(
            name(Role::Creator { list: true }),
            "creator (ShareableList)"
        );
        assert_eq!(name(Role::Manager), "manager");
        assert_eq!(name(Role::Hanger), "hanger");
        assert_eq!(name(attacher(true, false)), "attacher+unlink");
        assert_eq!(name(attacher(false, true)), "attacher (holds)");
        assert_eq!(name(attacher(false, false)), "attacher");
    }
}
