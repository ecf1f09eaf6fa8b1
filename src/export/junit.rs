//! JUnit XML: one `testsuite` per interpreter (`cpython-3.10.13`, the
//! executable in its properties), one `testcase` per scenario x variant.
//! A failed verdict is a `failure` with the reason, a case that could not run
//! an `error`, n/a is `skipped`; each process's stdout/stderr goes to
//! `system-out`/`system-err`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::contract::{Case, Results, Verdict};

/// XML 1.0's `Char` production: what an XML document may contain at all.
fn is_xml_char(c: char) -> bool {
    matches!(c,
        '\u{9}' | '\u{A}' | '\u{D}'
        | '\u{20}'..='\u{D7FF}'
        | '\u{E000}'..='\u{FFFD}'
        | '\u{10000}'..='\u{10FFFF}')
}

/// The document with every character XML 1.0 forbids shown as U+FFFD.
/// quick-junit has already taken ANSI escape sequences and C0 controls out
/// of every value; what is left to catch is U+FFFE and U+FFFF (a Rust
/// string holds no surrogate), which a transcript can hold and which make
/// the whole file ill-formed.
fn well_formed(xml: String) -> String {
    if xml.chars().all(is_xml_char) {
        return xml;
    }
    xml.chars()
        .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
        .collect()
}

/// The testsuite name of an interpreter id: `cpython-3.10.13`.
pub fn suite_name(results: &Results, id: &str) -> String {
    let implementation = results
        .interpreter(id)
        .map(|i| i.implementation.as_str())
        .unwrap_or("cpython");
    let id = id.strip_prefix(&format!("{implementation}-")).unwrap_or(id);
    format!("{implementation}-{id}")
}

/// The testcase name: `three-process [stock]`, `family [fork] [stock]`.
pub fn case_name(case: &Case) -> String {
    format!("{} [{}]", case.row(), case.variant)
}

fn transcript(case: &Case, stderr: bool) -> String {
    let mut out = String::new();
    for p in &case.processes {
        let text = if stderr { &p.stderr } else { &p.stdout };
        out += &format!(
            "--- {} ({}) {} ---\n",
            p.label,
            p.role,
            if stderr { "stderr" } else { "stdout" }
        );
        out += text;
        if !text.is_empty() && !text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// JUnit XML.
pub struct Junit;

impl super::Exporter for Junit {
    fn render(&self, results: &Results) -> String {
        render(results)
    }
}

pub fn render(results: &Results) -> String {
    let mut report = Report::new("shmharness");
    report.set_time(Duration::from_millis(results.timing.wall_ms));
    for interp in &results.interpreters {
        let mut suite = TestSuite::new(suite_name(results, &interp.id));
        suite.add_property(Property::new(
            "executable",
            interp.executable.to_string_lossy(),
        ));
        suite.add_property(Property::new("version", interp.version.to_string()));
        suite.add_property(Property::new("source", interp.source.to_string()));
        suite.add_property(Property::new(
            "multiprocessing",
            interp.multiprocessing.to_string_lossy(),
        ));
        suite.add_property(Property::new("tool", results.tool.as_str()));
        for case in results.cases.iter().filter(|c| c.interpreter == interp.id) {
            let mut status = match case.verdict {
                Verdict::Pass => TestCaseStatus::success(),
                Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
                Verdict::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
                Verdict::NotApplicable => TestCaseStatus::skipped(),
            };
            if case.verdict != Verdict::Pass {
                status.set_message(format!("{}: {}", case.outcome, case.reason));
            }
            if case.verdict == Verdict::Fail {
                status.set_type("verdict");
                let symptoms: Vec<String> = case
                    .symptoms
                    .iter()
                    .map(|s| format!("{} | {}", s.key, s.evidence))
                    .collect();
                status.set_description(symptoms.join("\n"));
            }
            let mut tc = TestCase::new(case_name(case), status);
            tc.set_classname(format!(
                "{}.{}",
                suite_name(results, &interp.id),
                case.scenario.name()
            ));
            let ms: u64 = case
                .processes
                .iter()
                .map(|p| p.duration_ms)
                .max()
                .unwrap_or(0);
            tc.set_time(Duration::from_millis(ms));
            tc.add_property(Property::new("outcome", case.outcome.as_str()));
            tc.add_property(Property::new("verdict", case.verdict.as_str()));
            if !case.processes.is_empty() {
                tc.set_system_out(transcript(case, false));
                tc.set_system_err(transcript(case, true));
            }
            suite.add_test_case(tc);
        }
        for tc in verdicts(results, &interp.id) {
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    well_formed(report.to_string().unwrap_or_else(|e| {
        // Serialising to a String cannot fail short of a bug; say so in XML.
        format!("<?xml version=\"1.0\"?>\n<!-- cannot render JUnit: {e} -->\n<testsuites/>\n")
    }))
}

/// A CI reading JUnit sees what a person reading the report sees: each
/// candidate's verdict on this interpreter (CPython's tests included), and
/// CPython's own test runs (a failing test fails its testcase). Where
/// candidates are judged, a built-in variant's verdict and test runs are
/// shown for comparison: skipped, with the verdict in the message, as they
/// do not gate the exit code (`judge::candidate::proposed`).
fn verdicts(results: &Results, interp: &str) -> Vec<TestCase> {
    let comparison = |variant: &str| {
        !results.candidates.is_empty()
            && !crate::judge::candidate::proposed(variant)
            && !crate::contract::VariantId::is_stock(variant)
    };
    let status = |v: Verdict, message: String, variant: &str| {
        if comparison(variant) && v != Verdict::Pass {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!(
                "built-in variant, shown for comparison: {}: {message}",
                v.as_str()
            ));
            return status;
        }
        let mut status = match v {
            Verdict::Pass => return TestCaseStatus::success(),
            Verdict::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
            Verdict::Error => TestCaseStatus::non_success(NonSuccessKind::Error),
            Verdict::NotApplicable => TestCaseStatus::skipped(),
        };
        status.set_message(message);
        status
    };
    let classname = format!("{}.verdicts", suite_name(results, interp));
    let mut out = Vec::new();
    for c in &results.candidates {
        for i in c.interpreters.iter().filter(|i| i.interpreter == interp) {
            let mut tc = TestCase::new(
                format!("verify [{}]", c.candidate),
                status(i.verdict, i.reasons.join("\n"), &c.candidate),
            );
            tc.set_classname(classname.clone());
            out.push(tc);
        }
    }
    for r in results
        .cpython_tests
        .iter()
        .filter(|r| r.interpreter == interp)
    {
        let mut tc = TestCase::new(
            format!("cpython-tests [{}]", r.variant),
            status(r.verdict, r.reason.clone(), &r.variant),
        );
        tc.set_classname(classname.clone());
        out.push(tc);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::ScenarioId;
    use crate::contract::fixtures::{attacher, case, results};

    #[test]
    fn a_transcript_with_characters_xml_forbids_still_gives_well_formed_xml() {
        let mut c = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Fail,
            "bug reproduced",
            &[],
        );
        c.reason = "odd \u{FFFF} reason".into();
        c.processes = vec![attacher(
            "a \u{FFFE} b \u{FFFF} c \u{1b}[31mred\u{1b}[0m \u{1} d \u{FFFD} e \u{10FFFF}\n",
        )];
        let xml = render(&results(
            &["3.12.1"],
            &["stock"],
            &[ScenarioId::ThreeProcess],
            vec![c],
        ));
        let bad: Vec<char> = xml.chars().filter(|&c| !is_xml_char(c)).collect();
        assert!(bad.is_empty(), "{bad:?} in\n{xml}");
        assert!(
            xml.contains("a \u{FFFD} b \u{FFFD} c red  d \u{FFFD} e \u{10FFFF}"),
            "{xml}"
        );
        assert!(xml.contains("odd \u{FFFD} reason"), "{xml}");
    }

    /// Where candidates are judged, a proposed patch that fails fails its
    /// testcase; the built-in create-only, shown for comparison, is
    /// skipped with its verdict in the message (it does not gate the exit).
    #[test]
    fn only_a_proposed_candidate_fails_its_testcase() {
        let c = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Pass,
            "bug reproduced",
            &[],
        );
        let mut r = results(
            &["3.12.1"],
            &["stock"],
            &[ScenarioId::ThreeProcess],
            vec![c],
        );
        for name in ["create-only", "patch:fix"] {
            r.candidates.push(crate::contract::CandidateVerdict {
                candidate: name.into(),
                verdict: Verdict::Fail,
                interpreters: vec![crate::contract::InterpreterVerdict {
                    interpreter: "3.12.1".into(),
                    source: "pyenv".into(),
                    verdict: Verdict::Fail,
                    reasons: vec!["attacher-unlinks: P2 tracker KeyError".into()],
                    tests_not_run: None,
                    seed_ran: true,
                }],
            });
        }
        let xml = render(&r);
        let at = |name: &str| {
            xml.split(name)
                .nth(1)
                .unwrap()
                .split("</testcase>")
                .next()
                .unwrap()
        };
        assert!(at("verify [patch:fix]").contains("<failure"), "{xml}");
        let builtin = at("verify [create-only]");
        assert!(!builtin.contains("<failure"), "{xml}");
        assert!(
            builtin.contains("<skipped") && builtin.contains("shown for comparison: fail"),
            "{xml}"
        );
    }

    #[test]
    fn xml_chars_are_the_char_production() {
        for c in [
            '\t',
            '\n',
            '\r',
            ' ',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{10000}',
        ] {
            assert!(is_xml_char(c), "{c:?}");
        }
        for c in [
            '\0', '\u{1}', '\u{8}', '\u{B}', '\u{1F}', '\u{FFFE}', '\u{FFFF}',
        ] {
            assert!(!is_xml_char(c), "{c:?}");
        }
    }
}
