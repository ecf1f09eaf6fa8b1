//! Judge observations against the expectation table, and candidates against
//! stock.
//!
//! A case with a row in the table passes when its symptom set is exactly the
//! row's. A variant without rows (a user's `--patch`) is judged the way a
//! reviewer would: against stock on the same interpreter and scenario, it
//! passes when it shows no symptom stock does not, and, in `three-process`,
//! when the bug is gone.

pub mod expectations;
pub mod symptoms;

pub use expectations::Expectation;
pub use symptoms::Symptom;

use crate::results::{Case, Verdict};

/// The symptoms that together mean "the bug reproduced" in a scenario.
pub const BUG_SIGNS: &[(&str, &[&str])] = &[(
    "three-process",
    &["P2 leak warning", "P3 FileNotFoundError"],
)];

pub fn bug_reproduced(case: &Case) -> bool {
    BUG_SIGNS
        .iter()
        .find(|(s, _)| *s == case.scenario)
        .is_some_and(|(_, signs)| signs.iter().all(|k| case.has(k)))
}

/// Outcome words for a case no row describes.
fn describe(case: &Case) -> String {
    if bug_reproduced(case) {
        "bug reproduced".into()
    } else if case.symptoms.is_empty() {
        "clean".into()
    } else {
        keys(&case.symptoms).join(", ")
    }
}

fn keys(symptoms: &[Symptom]) -> Vec<&str> {
    symptoms.iter().map(|s| s.key.as_str()).collect()
}

/// Give `case` (symptoms filled in, verdict not yet) its verdict from the
/// table row, if there is one.
pub fn judge_by_table(case: &mut Case, row: &Expectation) {
    let got = keys(&case.symptoms);
    let want = row.symptoms;
    if got == want {
        case.verdict = Verdict::Pass;
        case.outcome = row.outcome.to_string();
        case.reason = row.evidence.to_string();
        return;
    }
    let missing: Vec<&str> = want.iter().copied().filter(|k| !got.contains(k)).collect();
    let extra: Vec<&str> = got.iter().copied().filter(|k| !want.contains(k)).collect();
    case.verdict = Verdict::Fail;
    case.outcome = describe(case);
    let mut reason = format!("expected `{}`", row.outcome);
    if !missing.is_empty() {
        reason += &format!("; missing: {}", missing.join(", "));
    }
    if !extra.is_empty() {
        reason += &format!("; unexpected: {}", extra.join(", "));
    }
    case.reason = reason;
}

/// What `candidate` shows that `stock` does not, each with its evidence.
pub fn regressions<'a>(candidate: &'a Case, stock: &Case) -> Vec<&'a Symptom> {
    candidate
        .symptoms
        .iter()
        .filter(|s| !stock.has(&s.key))
        .collect()
}

/// Judge a case no row describes against its stock twin.
pub fn judge_against_stock(case: &mut Case, stock: Option<&Case>) {
    case.outcome = describe(case);
    let Some(stock) = stock.filter(|s| s.verdict != Verdict::Error) else {
        case.verdict = Verdict::NotApplicable;
        case.reason = "no expectation for this variant and no stock run to compare with".into();
        return;
    };
    let worse: Vec<String> = regressions(case, stock)
        .iter()
        .map(|s| s.key.clone())
        .collect();
    if bug_reproduced(case) {
        case.verdict = Verdict::Fail;
        case.reason = "the bug still reproduces".into();
    } else if !worse.is_empty() {
        case.verdict = Verdict::Fail;
        case.reason = format!("worse than stock: {}", worse.join(", "));
    } else {
        case.verdict = Verdict::Pass;
        case.reason = "no symptom that stock does not show".into();
    }
}

/// Turn a run into judged results: symptoms first, then table verdicts,
/// then verdicts against stock for variants the table does not know.
pub fn judge_run(
    plan: &crate::runner::Plan,
    out: &crate::runner::RunOutput,
) -> crate::results::Results {
    use crate::results::{AppliedPatch, Results, ScenarioInfo, Timing, VariantInfo};
    use crate::runner::CaseOutcome;

    let mut cases: Vec<Case> = out
        .cases
        .iter()
        .map(|run| {
            let interp = &plan.interpreters[run.interpreter];
            let variant = &plan.variants[run.variant];
            let mut case = Case {
                interpreter: interp.id.clone(),
                executable: interp.executable.clone(),
                variant: variant.name.clone(),
                scenario: run.scenario.to_string(),
                verdict: Verdict::Error,
                outcome: String::new(),
                reason: String::new(),
                symptoms: Vec::new(),
                segment: None,
                segment_leaked: false,
                processes: Vec::new(),
            };
            match &run.outcome {
                CaseOutcome::NotApplicable(why) => {
                    case.verdict = Verdict::NotApplicable;
                    case.outcome = "n/a".into();
                    case.reason = why.clone();
                }
                CaseOutcome::Error(e) => {
                    case.outcome = "error".into();
                    case.reason = e.clone();
                }
                CaseOutcome::Observed(obs) => {
                    case.symptoms = symptoms::of(obs);
                    case.segment = Some(obs.segment.clone());
                    case.segment_leaked = obs.segment_leaked;
                    case.processes = obs.processes.clone();
                    if let Some(e) = &obs.error {
                        case.outcome = "error".into();
                        case.reason = e.clone();
                    } else if let Some(row) =
                        expectations::lookup(run.scenario, &variant.name, interp.version)
                    {
                        judge_by_table(&mut case, row);
                    }
                }
            }
            case
        })
        .collect();
    // Second pass: cases without a row, against their stock twin.
    let snapshot = cases.clone();
    for case in cases.iter_mut() {
        let unjudged = case.outcome.is_empty();
        if unjudged {
            let stock = snapshot.iter().find(|s| {
                s.interpreter == case.interpreter
                    && s.scenario == case.scenario
                    && s.variant == "stock"
            });
            judge_against_stock(case, stock);
        }
    }

    let variants = plan
        .variants
        .iter()
        .enumerate()
        .map(|(v, variant)| VariantInfo {
            name: variant.name.clone(),
            summary: variant.summary.to_string(),
            patches: plan
                .interpreters
                .iter()
                .enumerate()
                .filter_map(|(i, interp)| match &out.overlays[i][v] {
                    Some(Ok(o)) => Some(AppliedPatch {
                        interpreter: interp.id.clone(),
                        origin: o.origin.clone(),
                        diff: o.diff.clone(),
                    }),
                    _ => None,
                })
                .collect(),
        })
        .collect();
    Results {
        schema_version: crate::results::SCHEMA_VERSION,
        tool: format!("shmharness {}", env!("CARGO_PKG_VERSION")),
        interpreters: plan.interpreters.clone(),
        variants,
        scenarios: plan
            .scenarios
            .iter()
            .map(|s| ScenarioInfo {
                name: s.name.into(),
                summary: s.summary.into(),
            })
            .collect(),
        cases,
        timing: Timing {
            wall_ms: out.wall.as_millis() as u64,
            children_cpu_ms: out.children_cpu.as_millis() as u64,
            harness_cpu_ms: out.harness_cpu.as_millis() as u64,
            cores: crate::pool::cores(),
            jobs: plan.jobs,
        },
        host: crate::results::Host::detect(),
        merged_from: Vec::new(),
        cpython_tests: Vec::new(),
    }
}
