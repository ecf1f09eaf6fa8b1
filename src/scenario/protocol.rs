//! The wire between roles.py and the engine: each stdout line that is a
//! JSON object with an `event` field is an [`Event`]. Anything else on
//! stdout (a line a multiprocessing child printed, say) is not an event
//! and is kept only in the transcript. An event whose name this binary
//! does not know, or whose fields do not fit, is a [`ProtocolError`]: the
//! role script and the harness disagree, and no verdict can rest on it.

pub use crate::contract::Event;

/// roles.py said something this binary cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("unknown event `{event}` (roles.py and this binary disagree)")]
    UnknownEvent { event: String },
    #[error("malformed `{event}` event: {reason}")]
    Malformed { event: String, reason: String },
    /// Tracebacks of two kinds of process written into each other on one
    /// stderr: whose exception is whose cannot be told, so no verdict may
    /// rest on them.
    #[error("stderr: {0}")]
    Unreadable(String),
}

/// One stdout line as an event: `None` when it is not one (not a JSON
/// object with a string `event`), however `json.dumps` spaced it.
pub fn parse_line(line: &str) -> Option<Result<Event, ProtocolError>> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let name = value.get("event")?.as_str()?.to_string();
    Some(serde_json::from_value(value).map_err(|e| {
        if e.to_string().starts_with("unknown variant") {
            ProtocolError::UnknownEvent { event: name }
        } else {
            ProtocolError::Malformed {
                event: name,
                reason: e.to_string(),
            }
        }
    }))
}

/// Every event of a transcript, in order, and the first line that broke
/// the protocol, if one did.
pub fn events(stdout: &str) -> (Vec<Event>, Option<ProtocolError>) {
    let mut events = Vec::new();
    let mut error = None;
    for parsed in stdout.lines().filter_map(parse_line) {
        match parsed {
            Ok(e) => events.push(e),
            Err(e) => {
                error.get_or_insert(e);
            }
        }
    }
    (events, error)
}

/// The line is the event `want` names (`ready`, `done`, ...).
pub fn is(line: &str, want: &str) -> bool {
    matches!(parse_line(line), Some(Ok(e)) if e.name() == want)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_as_json_however_they_are_spaced() {
        assert!(is(r#"{"event":"ready"}"#, "ready"));
        assert!(is(r#"{"event": "ready", "x": 1}"#, "ready"));
        assert!(!is(r#"{"x": "\"event\": \"ready\""}"#, "ready"));
        assert!(!is("ready", "ready"));
    }

    #[test]
    fn lines_that_are_not_events_are_not_errors() {
        for line in [
            "",
            "hello",
            "{not json",
            r#"{"no_event": 1}"#,
            r#"{"event": 3}"#,
        ] {
            assert_eq!(parse_line(line), None, "{line}");
        }
    }

    #[test]
    fn an_unknown_event_is_an_error_that_names_it() {
        let (events, error) =
            events("{\"event\": \"ready\"}\n{\"event\": \"teleported\", \"x\": 1}\n");
        assert_eq!(events, [Event::Ready]);
        assert_eq!(
            error.unwrap().to_string(),
            "unknown event `teleported` (roles.py and this binary disagree)"
        );
    }

    #[test]
    fn an_event_missing_a_field_is_malformed() {
        let Some(Err(e)) = parse_line(r#"{"event": "read"}"#) else {
            panic!("a read without data_ok parsed");
        };
        assert!(
            matches!(&e, ProtocolError::Malformed { event, .. } if event == "read"),
            "{e}"
        );
    }
}
