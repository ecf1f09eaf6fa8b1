//! unittest's verbose output read back: how many tests ran, failed,
//! errored and were skipped, and which tests failed with what.

use crate::contract::{FailingTest, FailureKind};

/// What unittest's verbose output says, summed over every `Ran N tests`.
#[derive(Debug, Default, PartialEq)]
pub struct Summary {
    pub ran: u32,
    pub failed: u32,
    pub errors: u32,
    pub skipped: u32,
    /// Every result line said OK.
    pub ok: bool,
    pub failing: Vec<FailingTest>,
}

/// Parse unittest's output: `Ran 13 tests in 0.8s`, then `OK`,
/// `OK (skipped=1)` or `FAILED (failures=1, errors=2, skipped=3)`; each
/// failure's `FAIL: name (id)` header and the last line of its traceback.
/// `None` when no `Ran` line appears (the run crashed before the summary).
pub fn parse(text: &str) -> Option<Summary> {
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    let mut s = Summary {
        ok: true,
        ..Summary::default()
    };
    let mut seen = false;
    for (n, line) in lines.iter().enumerate() {
        if let Some(rest) = line.strip_prefix("Ran ") {
            let count = rest
                .split_whitespace()
                .next()
                .and_then(|c| c.parse::<u32>().ok());
            let Some(count) = count.filter(|_| rest.contains(" test")) else {
                continue;
            };
            seen = true;
            s.ran += count;
            // The result line follows after a blank line.
            if let Some(result) = lines[n + 1..].iter().find(|l| !l.trim().is_empty()) {
                let result = result.trim();
                // `OK`, `OK (skipped=1)`, `NO TESTS RAN` (3.13's package
                // runs submodules that have no shared-memory tests) or
                // `FAILED (...)`.
                if result.starts_with("FAILED") {
                    s.ok = false;
                }
                if let (Some(open), Some(close)) = (result.find('('), result.rfind(')')) {
                    for part in result[open + 1..close].split(',') {
                        let Some((key, value)) = part.trim().split_once('=') else {
                            continue;
                        };
                        let value: u32 = value.trim().parse().unwrap_or(0);
                        match key.trim() {
                            "failures" => s.failed += value,
                            "errors" => s.errors += value,
                            "skipped" => s.skipped += value,
                            _ => {}
                        }
                    }
                }
            }
        }
        for (prefix, kind) in [
            ("FAIL: ", FailureKind::Fail),
            ("ERROR: ", FailureKind::Error),
        ] {
            let Some(rest) = line.strip_prefix(prefix) else {
                continue;
            };
            // `name (id)` or, in 3.11+, `name (id.name)`; subtests add `[...]`.
            let name = rest.split_whitespace().next().unwrap_or(rest).to_string();
            let id = rest
                .find('(')
                .and_then(|o| rest[o + 1..].find(')').map(|c| &rest[o + 1..o + 1 + c]))
                .unwrap_or("")
                .to_string();
            if s.failing.iter().any(|f| f.name == name && f.kind == kind) {
                continue;
            }
            s.failing.push(FailingTest {
                name,
                id,
                kind,
                evidence: evidence(&lines[n + 1..]),
            });
        }
    }
    // unittest's `failures=N` counts subtests; `Ran N tests` counts tests.
    // Count tests on both sides: each failing test once.
    for (kind, count) in [
        (FailureKind::Fail, &mut s.failed),
        (FailureKind::Error, &mut s.errors),
    ] {
        let tests = s.failing.iter().filter(|f| f.kind == kind).count() as u32;
        if tests > 0 {
            *count = tests;
        }
    }
    seen.then_some(s)
}

/// The exception line of the traceback that follows a `FAIL:` header: the
/// last non-blank line before the next separator or header.
fn evidence(after: &[&str]) -> String {
    let mut last = "";
    for line in after.iter().skip(1) {
        if line.starts_with("======") || line.starts_with("------") {
            break;
        }
        if !line.trim().is_empty() && !line.starts_with(' ') {
            last = line;
        }
    }
    last.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAILED: &str = "\
test_shared_memory_basics (test.x.WithProcessesTestSharedMemory.test_shared_memory_basics) ... ok
test_shared_memory_tracking (test.x.WithProcessesTestSharedMemory.test_shared_memory_tracking) ... FAIL

======================================================================
FAIL: test_shared_memory_tracking (test.x.WithProcessesTestSharedMemory.test_shared_memory_tracking)
----------------------------------------------------------------------
Traceback (most recent call last):
  File \"/x/_test_multiprocessing.py\", line 4500, in test_shared_memory_tracking
    self.assertIn(
AssertionError: 'leaked shared_memory objects' not found in b''

----------------------------------------------------------------------
Ran 16 tests in 3.164s

FAILED (failures=1, skipped=2)
";

    #[test]
    fn parses_a_failure() {
        let s = parse(FAILED).unwrap();
        assert_eq!(
            (s.ran, s.failed, s.errors, s.skipped, s.ok),
            (16, 1, 0, 2, false)
        );
        assert_eq!(s.failing.len(), 1);
        assert_eq!(s.failing[0].name, "test_shared_memory_tracking");
        assert_eq!(
            s.failing[0].id,
            "test.x.WithProcessesTestSharedMemory.test_shared_memory_tracking"
        );
        assert_eq!(
            s.failing[0].evidence,
            "AssertionError: 'leaked shared_memory objects' not found in b''"
        );
    }

    #[test]
    fn a_test_with_failing_subtests_counts_once() {
        let text = "FAIL: test_shared_memory_tracking (x.T.test_shared_memory_tracking) [a]\n\
                    ----\nAssertionError: a\n\n\
                    FAIL: test_shared_memory_tracking (x.T.test_shared_memory_tracking) [b]\n\
                    ----\nAssertionError: b\n\n\
                    Ran 17 tests in 1.0s\n\nFAILED (failures=2)\n";
        let s = parse(text).unwrap();
        assert_eq!((s.ran, s.failed, s.failing.len()), (17, 1, 1));
    }

    #[test]
    fn parses_success_and_missing_summary() {
        let s = parse("x ... ok\n\n------\nRan 13 tests in 0.844s\n\nOK\n").unwrap();
        assert_eq!((s.ran, s.failed, s.skipped, s.ok), (13, 0, 0, true));
        let s = parse("Ran 1 test in 0.1s\n\nOK (skipped=1)\n").unwrap();
        assert_eq!((s.ran, s.skipped, s.ok), (1, 1, true));
        let s =
            parse("Ran 0 tests in 0.000s\n\nNO TESTS RAN\nRan 16 tests in 0.7s\n\nOK\n").unwrap();
        assert_eq!((s.ran, s.ok), (16, true));
        assert_eq!(parse("Traceback (most recent call last):\nboom\n"), None);
    }
}
