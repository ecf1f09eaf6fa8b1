//! Judge observations against the expectation table, and candidates against
//! stock.
//!
//! A case with a row in the table passes when its symptom set is exactly the
//! row's. A variant without rows (a user's `--patch`) is judged the way a
//! reviewer would: against stock on the same interpreter and scenario, it
//! passes when it shows no symptom stock does not, and, in `three-process`,
//! when the bug is gone. A case that could not run is `error`, never `fail`.

pub mod candidate;
pub mod expectations;
pub mod symptoms;

pub use expectations::Expectation;

use crate::contract::{
    AppliedPatch, Case, Results, ScenarioId, ScenarioInfo, Symptom, Timing, VariantId, VariantInfo,
    Verdict,
};
use crate::runner::{CaseOutcome, Plan, RunOutput};

/// The symptoms that together mean "the bug reproduced" in a scenario: an
/// attacher's tracker warned at its exit, and a later reader found the
/// segment gone.
pub fn bug_signs(scenario: ScenarioId) -> &'static [&'static str] {
    match scenario {
        ScenarioId::ThreeProcess => &["P2 leak warning", "P3 FileNotFoundError"],
        _ => &[],
    }
}

pub fn bug_reproduced(case: &Case) -> bool {
    let signs = bug_signs(case.scenario);
    !signs.is_empty() && signs.iter().all(|k| case.has(k))
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

/// Give `case` (symptoms filled in) its verdict from the table row.
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
pub fn judge_run(plan: &Plan, out: &RunOutput) -> Results {
    let mut cases: Vec<Case> =
        out.cases
            .iter()
            .map(|run| {
                let interp = &plan.interpreters[run.interpreter];
                let variant = &plan.variants[run.variant];
                let mut case = Case {
                    interpreter: interp.id.clone(),
                    executable: interp.executable.clone(),
                    variant: variant.name.clone(),
                    scenario: run.scenario,
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
                            case.reason = e.to_string();
                        } else if let Some(row) = variant.id.and_then(|id| {
                            expectations::lookup(run.scenario, id, interp.version, None)
                        }) {
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
        if case.outcome.is_empty() {
            let stock = snapshot.iter().find(|s| {
                s.interpreter == case.interpreter
                    && s.scenario == case.scenario
                    && VariantId::is_stock(&s.variant)
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
            summary: variant.summary.clone(),
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
    let mut results = Results::empty(crate::sys::tool(), crate::sys::host());
    results.interpreters = plan.interpreters.clone();
    results.variants = variants;
    results.scenarios = plan
        .scenarios
        .iter()
        .map(|s| ScenarioInfo {
            name: s.id,
            summary: s.summary.into(),
        })
        .collect();
    results.cases = cases;
    results.timing = Timing {
        wall_ms: out.wall.as_millis() as u64,
        children_cpu_ms: out.children_cpu.as_millis() as u64,
        harness_cpu_ms: out.harness_cpu.as_millis() as u64,
        cores: crate::sys::cores(),
        jobs: plan.jobs,
    };
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::StartMethod;
    use crate::fixtures::{SEED_BUG, case};

    fn row(scenario: ScenarioId, variant: VariantId) -> &'static Expectation {
        expectations::lookup(
            scenario,
            variant,
            crate::contract::Version::new(3, 12, 1),
            None::<StartMethod>,
        )
        .unwrap()
    }

    #[test]
    fn a_case_passes_only_with_exactly_the_rows_symptoms() {
        let mut c = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Error,
            "",
            SEED_BUG,
        );
        judge_by_table(&mut c, row(ScenarioId::ThreeProcess, VariantId::Stock));
        assert_eq!(
            (c.verdict, c.outcome.as_str()),
            (Verdict::Pass, "bug reproduced")
        );

        // One leak warning fewer is a failure that names what is missing.
        let fewer: Vec<&str> = SEED_BUG
            .iter()
            .copied()
            .filter(|k| *k != "P2 leak warning")
            .collect();
        let mut c = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Error,
            "",
            &fewer,
        );
        judge_by_table(&mut c, row(ScenarioId::ThreeProcess, VariantId::Stock));
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason.contains("missing: P2 leak warning"),
            "{}",
            c.reason
        );

        // An extra symptom under a fix is a failure that names it.
        let mut c = case(
            "3.12.1",
            "create-only",
            ScenarioId::ThreeProcess,
            Verdict::Error,
            "",
            &["P2 leak warning"],
        );
        judge_by_table(&mut c, row(ScenarioId::ThreeProcess, VariantId::CreateOnly));
        assert_eq!(c.verdict, Verdict::Fail);
        assert!(
            c.reason.contains("unexpected: P2 leak warning"),
            "{}",
            c.reason
        );
    }

    #[test]
    fn the_bug_needs_both_of_its_signs() {
        let both = case(
            "3.12.1",
            "x",
            ScenarioId::ThreeProcess,
            Verdict::Pass,
            "",
            &["P2 leak warning", "P3 FileNotFoundError"],
        );
        assert!(bug_reproduced(&both));
        let one = case(
            "3.12.1",
            "x",
            ScenarioId::ThreeProcess,
            Verdict::Pass,
            "",
            &["P2 leak warning"],
        );
        assert!(!bug_reproduced(&one));
        let elsewhere = case(
            "3.12.1",
            "x",
            ScenarioId::Family,
            Verdict::Pass,
            "",
            &["P2 leak warning", "P3 FileNotFoundError"],
        );
        assert!(!bug_reproduced(&elsewhere));
    }

    #[test]
    fn a_user_patch_is_judged_against_its_stock_twin() {
        let stock = case(
            "3.12.1",
            "stock",
            ScenarioId::AttacherUnlinks,
            Verdict::Pass,
            "",
            &["P1 leak warning"],
        );
        let mut same = case(
            "3.12.1",
            "patch:x",
            ScenarioId::AttacherUnlinks,
            Verdict::Error,
            "",
            &["P1 leak warning"],
        );
        judge_against_stock(&mut same, Some(&stock));
        assert_eq!(same.verdict, Verdict::Pass);
        let mut worse = case(
            "3.12.1",
            "patch:x",
            ScenarioId::AttacherUnlinks,
            Verdict::Error,
            "",
            &["P2 tracker KeyError"],
        );
        judge_against_stock(&mut worse, Some(&stock));
        assert_eq!(worse.verdict, Verdict::Fail);
        assert_eq!(worse.reason, "worse than stock: P2 tracker KeyError");
        let mut alone = case(
            "3.12.1",
            "patch:x",
            ScenarioId::AttacherUnlinks,
            Verdict::Error,
            "",
            &[],
        );
        judge_against_stock(&mut alone, None);
        assert_eq!(alone.verdict, Verdict::NotApplicable);
        let mut still = case(
            "3.12.1",
            "patch:x",
            ScenarioId::ThreeProcess,
            Verdict::Error,
            "",
            SEED_BUG,
        );
        let stock3 = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Pass,
            "",
            SEED_BUG,
        );
        judge_against_stock(&mut still, Some(&stock3));
        assert_eq!(
            (still.verdict, still.reason.as_str()),
            (Verdict::Fail, "the bug still reproduces")
        );
    }
}
