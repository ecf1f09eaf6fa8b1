//! Is a candidate a fix? The verdict `verify` prints and a report shows for
//! each candidate, judged per interpreter from the run's cases (and, with
//! `--strict`, CPython's own tests).
//!
//! Per interpreter: the bug must reproduce on stock and be gone under the
//! candidate (`three-process`), and no scenario may show a symptom under
//! the candidate that stock does not. A case that could not run makes the
//! interpreter `error`, never `fail`: it says nothing about the fix.

use crate::contract::{
    CandidateVerdict, Case, FailureKind, Interpreter, InterpreterVerdict, Results, Row, ScenarioId,
    TestRun, VariantId, Verdict,
};

/// Is `variant` a fix someone proposes (`patch:NAME`, from `--patch` or
/// `--git`)? Built-in variants are judged too, but for comparison: what
/// they do is known and held to the expectation table by their cases, so
/// their candidate verdicts and CPython test runs do not gate an exit code
/// or fail a JUnit testcase where candidates are judged (report, merge).
pub fn proposed(variant: &str) -> bool {
    VariantId::parse(variant).is_err()
}

/// Judge `candidate` against stock on every interpreter of `results`.
pub fn judge(results: &Results, candidate: &str) -> CandidateVerdict {
    let interpreters: Vec<InterpreterVerdict> = results
        .interpreters
        .iter()
        .map(|interp| on_interpreter(results, interp, candidate))
        .collect();
    let judged: Vec<Verdict> = interpreters
        .iter()
        .map(|i| i.verdict)
        .filter(|v| *v != Verdict::NotApplicable)
        .collect();
    // A candidate that applies nowhere proves nothing: an error, not a pass.
    let verdict = if judged.is_empty() {
        Verdict::Error
    } else {
        Verdict::combine(judged)
    };
    CandidateVerdict {
        candidate: candidate.to_string(),
        verdict,
        interpreters,
    }
}

/// What the scenarios of one interpreter say about the candidate.
#[derive(Default)]
struct Tally {
    /// (scenario, why it could not run)
    errors: Vec<(String, String)>,
    failures: Vec<String>,
    judged: usize,
    not_applicable: Option<String>,
    /// Scenarios as broken under the candidate as on stock (a pass does
    /// not hide them): `attach-fails (segment destroyed)`.
    unchanged: Vec<String>,
    /// The seed ran with plain attachers, so the bug was looked for on
    /// stock (a pass may then say it reproduced).
    seed: bool,
}

impl Tally {
    /// One scenario: stock's case and the candidate's.
    fn add(&mut self, row: Row, stock: &Case, cand: &Case) {
        if cand.verdict == Verdict::NotApplicable {
            self.not_applicable
                .get_or_insert_with(|| cand.reason.clone());
            return;
        }
        self.judged += 1;
        let broken: Vec<&Case> = [stock, cand]
            .into_iter()
            .filter(|c| c.verdict == Verdict::Error)
            .collect();
        for c in &broken {
            self.errors.push((
                row.to_string(),
                format!("{} could not run: {}", c.variant, c.reason),
            ));
        }
        if !broken.is_empty() {
            return;
        }
        // The seed must show the bug on stock (with plain attachers: a
        // usage may avoid it); wherever it shows, the candidate must remove
        // it.
        let seed = row.scenario == ScenarioId::ThreeProcess
            && row.usage == crate::contract::Usage::Default;
        self.seed |= seed;
        if seed && !super::bug_reproduced(stock) {
            self.failures
                .push("three-process: the bug does not reproduce on stock".into());
        }
        for why in super::versus::failures(cand, stock) {
            self.failures.push(format!("{row}: {why}"));
        }
        self.unchanged
            .extend(super::versus::still_broken(cand, stock));
        for sym in super::regressions(cand, stock) {
            self.failures.push(format!(
                "{row}: worse than stock: {} | {}",
                sym.key, sym.evidence
            ));
        }
    }

    fn verdict(self, candidate: &str) -> (Verdict, Vec<String>) {
        if !self.errors.is_empty() {
            (
                Verdict::Error,
                [said_once(self.errors), self.failures].concat(),
            )
        } else if !self.failures.is_empty() {
            (Verdict::Fail, self.failures)
        } else if self.judged == 0 {
            (
                Verdict::NotApplicable,
                vec![self.not_applicable.unwrap_or_else(|| "no case ran".into())],
            )
        } else {
            let scenarios = crate::term::style::plural(self.judged, "scenario");
            let mut reasons = vec![if self.seed {
                format!(
                    "bug reproduced on stock; {candidate} fixes it, nothing worse in {scenarios}"
                )
            } else {
                format!("{candidate}: nothing worse than stock in {scenarios}")
            }];
            if !self.unchanged.is_empty() {
                reasons.push(format!(
                    "unchanged from stock: {}",
                    self.unchanged.join(", ")
                ));
            }
            (Verdict::Pass, reasons)
        }
    }
}

/// The candidate against stock on one interpreter, scenario by scenario.
fn on_interpreter(results: &Results, interp: &Interpreter, candidate: &str) -> InterpreterVerdict {
    let stock = VariantId::Stock.name();
    let mut tally = Tally::default();
    for row in results.rows() {
        if let (Some(st), Some(cand)) = (
            results.case(&interp.id, stock, row),
            results.case(&interp.id, candidate, row),
        ) {
            tally.add(row, st, cand);
        }
    }
    let seed_ran = tally.seed;
    let (verdict, reasons) = tally.verdict(candidate);
    InterpreterVerdict {
        interpreter: interp.id.clone(),
        source: interp.source.to_string(),
        verdict,
        reasons,
        tests_not_run: None,
        seed_ran,
    }
}

/// `scenario: reason` lines, with a reason every scenario shares said once
/// (`8 scenarios: patch:fix could not run: ...`).
fn said_once(errors: Vec<(String, String)>) -> Vec<String> {
    let mut out: Vec<(Vec<String>, String)> = Vec::new();
    for (scenario, reason) in errors {
        match out.iter_mut().find(|(_, r)| *r == reason) {
            Some((scenarios, _)) => scenarios.push(scenario),
            None => out.push((vec![scenario], reason)),
        }
    }
    out.into_iter()
        .map(|(scenarios, reason)| match scenarios.as_slice() {
            [one] => format!("{one}: {reason}"),
            many => format!(
                "{}: {reason}",
                crate::term::style::plural(many.len(), "scenario")
            ),
        })
        .collect()
}

/// `verify --strict`: CPython's own tests must pass under the candidate
/// wherever they pass on stock. A test that fails only under the candidate
/// fails that interpreter; tests that could not run make it `error`.
pub fn strict(verdict: &mut CandidateVerdict, runs: &[TestRun]) {
    let candidate = verdict.candidate.clone();
    for v in verdict.interpreters.iter_mut() {
        if v.verdict == Verdict::NotApplicable {
            continue;
        }
        let find = |variant: &str| {
            runs.iter()
                .find(|r| r.interpreter == v.interpreter && r.variant == variant)
        };
        match (find(VariantId::Stock.name()), find(&candidate)) {
            (Some(stock), Some(cand)) => with_tests(v, stock, cand, &candidate),
            _ => v.tests_not_run = Some("not run".into()),
        }
    }
    let judged: Vec<Verdict> = verdict
        .interpreters
        .iter()
        .map(|i| i.verdict)
        .filter(|v| *v != Verdict::NotApplicable)
        .collect();
    if !judged.is_empty() {
        verdict.verdict = Verdict::combine(judged);
    }
}

/// One interpreter's verdict with CPython's tests under stock and the
/// candidate: tests that could not run make it `error`; a test that fails
/// only under the candidate (or is skipped away) fails it.
fn with_tests(v: &mut InterpreterVerdict, stock: &TestRun, cand: &TestRun, candidate: &str) {
    v.tests_not_run = None;
    let errors: Vec<String> = [stock, cand]
        .iter()
        .filter(|r| r.verdict == Verdict::Error)
        .map(|r| {
            format!(
                "cpython-tests: no verdict under {}: {}",
                r.variant, r.reason
            )
        })
        .collect();
    if !errors.is_empty() {
        v.reasons.splice(0..0, errors);
        // Failed cases stay a failure: the tests could have added to it,
        // never taken it away.
        if v.verdict != Verdict::Fail {
            v.verdict = Verdict::Error;
        }
        return;
    }
    if let Some(na) = [cand, stock]
        .into_iter()
        .find(|r| r.verdict == Verdict::NotApplicable)
    {
        let why = if na.reason.contains("test._test_multiprocessing") {
            "no test package".to_string()
        } else {
            na.reason.clone()
        };
        v.reasons.push(format!("cpython-tests: not run ({why})"));
        v.tests_not_run = Some(why);
        return;
    }
    let regressions = test_regressions(stock, cand, candidate);
    if regressions.is_empty() {
        v.reasons.push(format!("cpython-tests: {}", cand.cell()));
    } else {
        // The test evidence goes first: it is why the verdict is FAIL.
        v.reasons.splice(0..0, regressions);
        if v.verdict == Verdict::Pass {
            v.verdict = Verdict::Fail;
        }
    }
}

/// Tests worse under the candidate than on stock. A test the candidate's
/// diff adds does not exist on stock: all we know of stock is that it did
/// not fail there.
fn test_regressions(stock: &TestRun, cand: &TestRun, candidate: &str) -> Vec<String> {
    let mut out: Vec<String> = cand
        .failing
        .iter()
        .filter(|f| !stock.failed_test(&f.name))
        .map(|f| {
            format!(
                "cpython-tests: {} {} under {candidate} (did not fail on stock) | {}",
                f.name,
                match f.kind {
                    FailureKind::Fail => "fails",
                    FailureKind::Error => "errors",
                },
                crate::term::style::short(&f.evidence)
            )
        })
        .collect();
    // A test skipped away (`@unittest.skip` on the test that enshrines the
    // bug) passes nothing: fewer passed and more skipped than stock.
    if cand.skipped > stock.skipped && cand.passed < stock.passed {
        out.push(format!(
            "cpython-tests: {} skipped under {candidate} than on stock ({} passed, {} skipped; stock {} passed, {} skipped)",
            crate::term::style::plural((cand.skipped - stock.skipped) as usize, "more test"),
            cand.passed,
            cand.skipped,
            stock.passed,
            stock.skipped
        ));
    }
    out
}

/// When a user's variant could run nowhere because its patch failed on
/// every interpreter: the first reason (bad input, not a verdict). `cells`
/// are the variant's verdicts and reasons (its cases, or its test runs).
pub fn applies_nowhere<'a>(
    cells: impl IntoIterator<Item = (Verdict, &'a String)>,
) -> Option<String> {
    let mut first_error = None;
    for (verdict, reason) in cells {
        match verdict {
            Verdict::Error => {
                first_error.get_or_insert_with(|| reason.clone());
            }
            Verdict::NotApplicable => {}
            _ => return None,
        }
    }
    first_error
}

/// Every non-stock variant judged against stock, when stock ran (what a
/// report and a merge show), with CPython's own tests wherever the results
/// hold them (as `verify --strict`); without any, `why_no_tests` says why
/// on every verdict.
pub fn all(results: &Results, why_no_tests: &str) -> Vec<CandidateVerdict> {
    if !results
        .variants
        .iter()
        .any(|v| VariantId::is_stock(&v.name))
    {
        return Vec::new();
    }
    results
        .variants
        .iter()
        .filter(|v| !VariantId::is_stock(&v.name))
        .map(|v| {
            let mut verdict = judge(results, &v.name);
            if results.cpython_tests.is_empty() {
                verdict.tests_not_run(why_no_tests);
            } else {
                strict(&mut verdict, &results.cpython_tests);
            }
            verdict
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nowhere(r: &Results, variant: &str) -> Option<String> {
        let cells = r.cases.iter().filter(|c| c.variant == variant);
        applies_nowhere(cells.map(|c| (c.verdict, &c.reason)))
    }
    use crate::contract::fixtures::{case, stock_and};
    use crate::contract::{FailingTest, ScenarioId};

    #[test]
    fn a_fix_that_removes_the_bug_and_adds_nothing_passes() {
        let r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
        let v = judge(&r, "fix");
        assert_eq!(v.verdict, Verdict::Pass);
        assert_eq!(v.interpreters[0].verdict, Verdict::Pass);
        assert!(v.interpreters[0].reasons[0].contains("nothing worse in 2 scenarios"));
    }

    #[test]
    fn a_new_symptom_under_the_candidate_fails_it_with_the_evidence() {
        let r = stock_and(
            "create-only",
            &["P1 leak warning", "P1 tracker error", "P2 tracker KeyError"],
        );
        let v = judge(&r, "create-only");
        assert_eq!(v.verdict, Verdict::Fail);
        assert_eq!(
            v.interpreters[0].reasons,
            [
                "attacher-unlinks: worse than stock: P2 tracker KeyError | evidence of P2 tracker KeyError"
            ]
        );
    }

    #[test]
    fn a_case_that_could_not_run_is_an_error_never_a_failed_fix() {
        let mut r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
        r.cases[1].verdict = Verdict::Error;
        r.cases[1].reason = "P2 timed out after 30s".into();
        let v = judge(&r, "fix");
        assert_eq!(v.verdict, Verdict::Error);
        assert_eq!(v.interpreters[0].verdict, Verdict::Error);
        assert!(v.interpreters[0].reasons[0].contains("could not run: P2 timed out"));
    }

    #[test]
    fn a_candidate_that_applies_nowhere_has_no_verdict() {
        let mut r = stock_and("patch:x", &[]);
        for c in r.cases.iter_mut().filter(|c| c.variant == "patch:x") {
            c.verdict = Verdict::NotApplicable;
            c.reason = "no --patch covers Python 3.12".into();
        }
        let v = judge(&r, "patch:x");
        assert_eq!(v.interpreters[0].verdict, Verdict::NotApplicable);
        assert_eq!(v.verdict, Verdict::Error);
        assert_eq!(v.interpreters[0].reasons, ["no --patch covers Python 3.12"]);
    }

    #[test]
    fn stock_without_the_bug_fails_the_candidate() {
        let mut r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
        r.cases[0].symptoms.clear();
        let v = judge(&r, "fix");
        assert_eq!(v.verdict, Verdict::Fail);
        assert!(v.interpreters[0].reasons[0].contains("does not reproduce on stock"));
    }

    fn test_run(variant: &str, failing: &[&str]) -> TestRun {
        let mut t = TestRun::empty(
            "3.12.1",
            variant,
            if failing.is_empty() {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            String::new(),
        );
        t.ran = 16;
        t.failed = failing.len() as u32;
        t.passed = 16 - t.failed;
        t.failing = failing
            .iter()
            .map(|n| FailingTest {
                name: n.to_string(),
                id: format!("test.x.{n}"),
                kind: FailureKind::Fail,
                evidence: "AssertionError: nope".into(),
            })
            .collect();
        t
    }

    #[test]
    fn strict_fails_a_test_that_passes_on_stock_only() {
        let r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
        let mut v = judge(&r, "fix");
        strict(
            &mut v,
            &[
                test_run("stock", &[]),
                test_run("fix", &["test_shared_memory_tracking"]),
            ],
        );
        assert_eq!(v.verdict, Verdict::Fail);
        assert!(
            v.interpreters[0].reasons[0]
                .starts_with("cpython-tests: test_shared_memory_tracking fails under fix")
        );

        // A test that fails on stock too is not the candidate's fault.
        let mut v = judge(&r, "fix");
        strict(
            &mut v,
            &[test_run("stock", &["test_x"]), test_run("fix", &["test_x"])],
        );
        assert_eq!(v.verdict, Verdict::Pass);
    }

    #[test]
    fn tests_without_a_verdict_never_undo_a_failure() {
        let flaky = TestRun::empty(
            "3.12.1",
            "fix",
            Verdict::Error,
            "flaky here: test_x failed, then passed when the tests ran again".into(),
        );
        // Its cases pass: the tests leave it without a verdict.
        let r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
        let mut v = judge(&r, "fix");
        strict(&mut v, &[test_run("stock", &[]), flaky.clone()]);
        assert_eq!(v.verdict, Verdict::Error);
        assert!(
            v.interpreters[0].reasons[0]
                .starts_with("cpython-tests: no verdict under fix: flaky here")
        );
        // Its cases fail: it stays FAILED, with the tests' word beside.
        let r = stock_and(
            "fix",
            &["P1 leak warning", "P1 tracker error", "P2 tracker KeyError"],
        );
        let mut v = judge(&r, "fix");
        strict(&mut v, &[test_run("stock", &[]), flaky]);
        assert_eq!(v.verdict, Verdict::Fail);
    }

    #[test]
    fn strict_fails_a_candidate_that_skips_tests_away() {
        let r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
        let mut skipping = test_run("fix", &[]);
        (skipping.passed, skipping.skipped) = (14, 2);
        let mut v = judge(&r, "fix");
        strict(&mut v, &[test_run("stock", &[]), skipping.clone()]);
        assert_eq!(v.verdict, Verdict::Fail);
        assert_eq!(
            v.interpreters[0].reasons[0],
            "cpython-tests: 2 more tests skipped under fix than on stock (14 passed, 2 skipped; stock 16 passed, 0 skipped)"
        );
        // A diff that adds a test skipped here loses nothing stock passed.
        (skipping.ran, skipping.passed) = (18, 16);
        let mut v = judge(&r, "fix");
        strict(&mut v, &[test_run("stock", &[]), skipping]);
        assert_eq!(v.verdict, Verdict::Pass);
    }

    #[test]
    fn the_same_reason_in_several_scenarios_is_said_once() {
        let lines = said_once(vec![
            ("three-process".into(), "x could not run: A".into()),
            ("family [fork]".into(), "x could not run: A".into()),
            ("manager [spawn]".into(), "x could not run: B".into()),
        ]);
        assert_eq!(
            lines,
            [
                "2 scenarios: x could not run: A",
                "manager [spawn]: x could not run: B"
            ]
        );
    }

    #[test]
    fn applies_nowhere_skips_cells_where_the_patch_does_not_exist() {
        let mut r = stock_and("patch:x", &[]);
        let mut first = true;
        for c in r.cases.iter_mut().filter(|c| c.variant == "patch:x") {
            (c.verdict, c.reason) = if first {
                (
                    Verdict::NotApplicable,
                    "no --patch covers Python 3.12".into(),
                )
            } else {
                (Verdict::Error, "patch does not apply".into())
            };
            first = false;
        }
        assert_eq!(
            nowhere(&r, "patch:x").as_deref(),
            Some("patch does not apply")
        );
    }

    #[test]
    fn applies_nowhere_only_when_every_cell_is_an_error() {
        let mut r = stock_and("patch:x", &[]);
        assert_eq!(nowhere(&r, "patch:x"), None);
        for c in r.cases.iter_mut().filter(|c| c.variant == "patch:x") {
            c.verdict = Verdict::Error;
            c.reason = "patch does not apply".into();
        }
        assert_eq!(
            nowhere(&r, "patch:x").as_deref(),
            Some("patch does not apply")
        );
        r.cases.push(case(
            "3.12.1",
            "patch:x",
            ScenarioId::Family,
            Verdict::Pass,
            "clean",
            &[],
        ));
        assert_eq!(nowhere(&r, "patch:x"), None);
    }

    #[test]
    fn a_pass_names_what_stays_as_broken_as_on_stock() {
        // The candidate leaves attacher-unlinks exactly as stock has it.
        let r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
        let v = judge(&r, "fix");
        assert_eq!(v.verdict, Verdict::Pass);
        assert_eq!(
            v.interpreters[0].reasons[1],
            "unchanged from stock: attacher-unlinks (P1 leak warning, P1 tracker error)"
        );
        // A candidate that cures it too has nothing to name.
        let r = stock_and("cure", &[]);
        let v = judge(&r, "cure");
        assert_eq!(
            v.interpreters[0].reasons.len(),
            1,
            "{:?}",
            v.interpreters[0]
        );
    }

    #[test]
    fn a_bug_stock_does_not_show_is_introduced_by_the_candidate() {
        let mut r = stock_and("backport", &["P1 leak warning", "P1 tracker error"]);
        let raw = |variant: &str, keys: &[&str]| {
            crate::contract::fixtures::case(
                "3.12.1",
                variant,
                ScenarioId::RawFork,
                Verdict::Pass,
                if keys.is_empty() { "clean" } else { "x" },
                keys,
            )
        };
        r.cases.push(raw("stock", &[]));
        r.cases.push(raw(
            "backport",
            &[
                "P1 FileNotFoundError",
                "P1 leak warning",
                "P1 tracker error",
            ],
        ));
        r.scenarios.push(crate::contract::ScenarioInfo {
            name: ScenarioId::RawFork,
            summary: String::new(),
        });
        let v = judge(&r, "backport");
        assert_eq!(v.verdict, Verdict::Fail);
        let reasons = v.interpreters[0].reasons.join("\n");
        assert!(
            reasons.contains("raw-fork: introduces the bug (stock does not show it here)"),
            "{reasons}"
        );
        assert!(!reasons.contains("still reproduces"), "{reasons}");
    }
}
