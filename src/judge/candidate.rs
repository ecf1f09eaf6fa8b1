//! Is a candidate a fix? The verdict `verify` prints and a report shows for
//! each candidate, judged per interpreter from the run's cases (and, with
//! `--strict`, CPython's own tests).
//!
//! Per interpreter: the bug must reproduce on stock and be gone under the
//! candidate (`three-process`), and no scenario may show a symptom under
//! the candidate that stock does not. A case that could not run makes the
//! interpreter `error`, never `fail`: it says nothing about the fix.

use crate::contract::{
    CandidateVerdict, FailureKind, InterpreterVerdict, Results, ScenarioId, TestRun, VariantId,
    Verdict,
};

/// Judge `candidate` against stock on every interpreter of `results`.
pub fn judge(results: &Results, candidate: &str) -> CandidateVerdict {
    let stock = VariantId::Stock.name();
    let interpreters: Vec<InterpreterVerdict> = results
        .interpreters
        .iter()
        .map(|interp| {
            let id = &interp.id;
            let mut errors = Vec::new();
            let mut failures = Vec::new();
            let mut judged = 0;
            let mut not_applicable = None;
            for s in &results.scenarios {
                let (Some(st), Some(cand)) = (
                    results.case(id, stock, s.name),
                    results.case(id, candidate, s.name),
                ) else {
                    continue;
                };
                if cand.verdict == Verdict::NotApplicable {
                    not_applicable.get_or_insert_with(|| cand.reason.clone());
                    continue;
                }
                judged += 1;
                let mut could_run = true;
                for c in [st, cand] {
                    if c.verdict == Verdict::Error {
                        could_run = false;
                        errors.push(format!("{}: {} could not run: {}", s.name, c.variant, c.reason));
                    }
                }
                if !could_run {
                    continue;
                }
                if s.name == ScenarioId::ThreeProcess {
                    if !super::bug_reproduced(st) {
                        failures.push("three-process: the bug does not reproduce on stock".into());
                    }
                    if super::bug_reproduced(cand) {
                        failures.push("three-process: the bug still reproduces".into());
                    }
                }
                for sym in super::regressions(cand, st) {
                    failures.push(format!(
                        "{}: worse than stock: {} | {}",
                        s.name, sym.key, sym.evidence
                    ));
                }
            }
            let (verdict, reasons) = if !errors.is_empty() {
                (Verdict::Error, [errors, failures].concat())
            } else if !failures.is_empty() {
                (Verdict::Fail, failures)
            } else if judged == 0 {
                (
                    Verdict::NotApplicable,
                    vec![not_applicable.unwrap_or_else(|| "no case ran".into())],
                )
            } else {
                (
                    Verdict::Pass,
                    vec![format!(
                        "bug reproduced on stock; {candidate} fixes it, nothing worse in {}",
                        crate::style::plural(judged, "scenario")
                    )],
                )
            };
            InterpreterVerdict {
                interpreter: id.clone(),
                source: interp.source.to_string(),
                verdict,
                reasons,
            }
        })
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
        let (Some(stock), Some(cand)) = (find(VariantId::Stock.name()), find(&candidate)) else {
            continue;
        };
        let mut errors = Vec::new();
        for r in [stock, cand] {
            if r.verdict == Verdict::Error {
                errors.push(format!(
                    "cpython-tests: could not run under {}: {}",
                    r.variant, r.reason
                ));
            }
        }
        if !errors.is_empty() {
            v.reasons.splice(0..0, errors);
            v.verdict = Verdict::Error;
            continue;
        }
        if cand.verdict == Verdict::NotApplicable {
            continue;
        }
        let regressions: Vec<String> = cand
            .failing
            .iter()
            .filter(|f| !stock.failed_test(&f.name))
            .map(|f| {
                format!(
                    "cpython-tests: {} {} under {candidate} (passed on stock) | {}",
                    f.name,
                    match f.kind {
                        FailureKind::Fail => "fails",
                        FailureKind::Error => "errors",
                    },
                    crate::style::short(&f.evidence)
                )
            })
            .collect();
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

/// When a user's variant could run nowhere because its patch failed on
/// every interpreter: the first reason (bad input, not a verdict).
pub fn applies_nowhere(results: &Results, variant: &str) -> Option<String> {
    let mut cells = results.cases.iter().filter(|c| c.variant == variant).peekable();
    cells.peek()?;
    let mut first_error = None;
    for c in cells {
        match c.verdict {
            Verdict::Error => {
                first_error.get_or_insert_with(|| c.reason.clone());
            }
            Verdict::NotApplicable => {}
            _ => return None,
        }
    }
    first_error
}
