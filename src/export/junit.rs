//! JUnit XML: one `testsuite` per interpreter (`cpython-3.10.13`, the
//! executable in its properties), one `testcase` per scenario x variant.
//! A failed verdict is a `failure` with the reason, a case that could not run
//! an `error`, n/a is `skipped`; each process's stdout/stderr goes to
//! `system-out`/`system-err`.

use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::contract::{Case, Results, Verdict};

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
        report.add_test_suite(suite);
    }
    report.to_string().unwrap_or_else(|e| {
        // Serialising to a String cannot fail short of a bug; say so in XML.
        format!("<?xml version=\"1.0\"?>\n<!-- cannot render JUnit: {e} -->\n<testsuites/>\n")
    })
}
