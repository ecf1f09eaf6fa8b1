//! Judge observations against the expectation table, and candidates against
//! stock.
//!
//! A case with a row in the table passes when its symptom set is exactly the
//! row's. A variant without rows (a user's `--patch`) is judged the way a
//! reviewer would: against stock on the same interpreter and scenario, it
//! passes when it shows no symptom stock does not, and, in `three-process`,
//! when the bug is gone. A case that could not run is `error`, never `fail`.

pub mod advice;
pub mod candidate;
pub mod expectations;
pub mod versus;

pub use expectations::Expectation;

use crate::contract::{
    AppliedPatch, Case, Interpreter, Results, ScenarioId, ScenarioInfo, Symptom, Timing, VariantId,
    VariantInfo, Verdict,
};
use crate::overlay::variant::Variant;
use crate::run::{CaseOutcome, CaseRun, Plan, RunOutput};

/// The symptoms that mean "the bug reproduced" in a scenario: the segment
/// was gone for a reader that came after a process that only attached (or
/// for its owner). That is the harm; the attacher's leak warning only
/// explains it, so a change that silences the warning and leaves the
/// destruction is no fix. Not attach-fails: that is gh-153279, a different
/// bug, which no variant here fixes.
pub fn bug_signs(scenario: ScenarioId) -> &'static [&'static str] {
    match scenario {
        ScenarioId::ThreeProcess | ScenarioId::ShareableList => &["P3 FileNotFoundError"],
        ScenarioId::ManyAttachers => &["R FileNotFoundError"],
        // The raw-fork child's own tracker (gh-146313) unlinked P1's segment.
        ScenarioId::RawFork => &["P1 FileNotFoundError"],
        _ => &[],
    }
}

pub fn bug_reproduced(case: &Case) -> bool {
    let signs = bug_signs(case.scenario);
    !signs.is_empty() && signs.iter().all(|k| case.has(k))
}

/// Outcome words for a case no row describes: the words of a row of the
/// table with exactly these symptoms in this scenario and usage (one
/// vocabulary), else what the symptoms say.
fn describe(case: &Case) -> String {
    let got = keys(&case.symptoms);
    let known = expectations::EXPECTATIONS.iter().find(|e| {
        e.scenario == case.scenario
            && e.applies()
            && (e.usage == case.usage || e.also_stock.contains(&case.usage))
            && e.symptoms == got.as_slice()
    });
    if let Some(row) = known {
        row.outcome.into()
    } else if bug_reproduced(case) {
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
    let Some(stock) =
        stock.filter(|s| !matches!(s.verdict, Verdict::Error | Verdict::NotApplicable))
    else {
        // What it did stays in `outcome`; there is nothing to judge it by
        // (stock could not run, or lacks the usage's API).
        case.verdict = Verdict::NotApplicable;
        case.reason = match stock {
            Some(s) if s.verdict == Verdict::NotApplicable => {
                format!("no stock run to compare with: {}", s.reason)
            }
            _ => "no expectation for this variant and no stock run to compare with".into(),
        };
        return;
    };
    case.outcome = versus::describe(case, stock);
    let worse: Vec<String> = regressions(case, stock)
        .iter()
        .map(|s| s.key.clone())
        .collect();
    // The reason adds to the outcome's words, never repeats them: the
    // evidence, or what stock showed.
    if let Some(why) = versus::failures(case, stock).into_iter().next() {
        case.verdict = Verdict::Fail;
        case.reason = match why.split_once(" (") {
            Some((_, rest)) => rest.trim_end_matches(')').to_string(),
            None => "as on stock".into(),
        };
    } else if !worse.is_empty() {
        case.verdict = Verdict::Fail;
        case.reason = regressions(case, stock)
            .iter()
            .map(|s| s.evidence.clone())
            .collect::<Vec<_>>()
            .join(" | ");
    } else {
        case.verdict = Verdict::Pass;
        case.reason = match versus::still_broken(case, stock) {
            Some(_) => "as broken as on stock, nothing worse".into(),
            None => "no symptom that stock does not show".into(),
        };
    }
}

/// Turn a run into judged results: symptoms first, then table verdicts,
/// then verdicts against stock for variants the table does not know.
pub fn judge_run(plan: &Plan, out: &RunOutput) -> Results {
    let first: Vec<(Case, Judged)> = out
        .cases
        .iter()
        .map(|run| first_pass(plan, out, run))
        .collect();
    let snapshot: Vec<Case> = first.iter().map(|(c, _)| c.clone()).collect();
    let cases = first
        .into_iter()
        .map(|(mut case, judged)| {
            if judged == Judged::AgainstStock {
                let stock = snapshot.iter().find(|s| {
                    s.interpreter == case.interpreter
                        && s.row() == case.row()
                        && VariantId::is_stock(&s.variant)
                });
                judge_against_stock(&mut case, stock);
            }
            case
        })
        .collect();
    let mut results = skeleton(&plan.interpreters, &plan.variants);
    for (v, info) in results.variants.iter_mut().enumerate() {
        info.patches = applied(plan, out, v);
    }
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
        cores: crate::host::sys::cores(),
        jobs: plan.jobs,
    };
    results
}

/// Where the first pass left a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// It has its verdict (from the table, or it did not run).
    Done,
    /// No row describes it (a user's patch): judge it against stock.
    AgainstStock,
}

/// A case with its symptoms and, where the table has a row for it, its
/// verdict.
fn first_pass(plan: &Plan, out: &RunOutput, run: &CaseRun) -> (Case, Judged) {
    let interp = &plan.interpreters[run.interpreter];
    let variant = &plan.variants[run.variant];
    let mut case = Case {
        interpreter: interp.id.clone(),
        executable: interp.executable.clone(),
        variant: variant.name.clone(),
        scenario: run.scenario,
        start_method: run.start_method,
        usage: run.usage,
        verdict: Verdict::Error,
        outcome: "error".into(),
        reason: String::new(),
        symptoms: Vec::new(),
        segment: None,
        segment_leaked: false,
        processes: Vec::new(),
    };
    let obs = match &run.outcome {
        CaseOutcome::NotApplicable(why) => {
            case.verdict = Verdict::NotApplicable;
            case.outcome = "n/a".into();
            case.reason = why.clone();
            return (case, Judged::Done);
        }
        CaseOutcome::Error(e) => {
            case.reason = e.clone();
            return (case, Judged::Done);
        }
        CaseOutcome::Observed(obs) => obs,
    };
    case.symptoms = crate::scenario::symptoms::of(obs);
    case.segment = Some(obs.segment.clone());
    case.segment_leaked = obs.segment_leaked;
    case.processes = obs.processes.clone();
    if let Some(e) = &obs.error {
        case.reason = e.to_string();
        return (case, Judged::Done);
    }
    // What the stdlib in effect says about itself: the overlay's code where
    // the variant has one (a backport may bring a feature), else the
    // installed package's.
    let features = match &out.overlays[run.interpreter][run.variant] {
        Some(Ok(o)) => crate::discover::features(Some(&o.dir.join("multiprocessing"))),
        _ => interp.features.clone(),
    };
    let row = variant.id.and_then(|id| {
        expectations::lookup(run.scenario, id, run.usage, run.start_method, &features)
    });
    // A role that could not apply the usage attached as default: the case
    // says nothing about the usage (its processes stay, as evidence).
    let unsupported = case.usage_unsupported().map(str::to_string);
    match (row, unsupported) {
        (Some(row), None) if row.applies() => judge_by_table(&mut case, row),
        (None, None) => return (case, Judged::AgainstStock),
        // The table and the role disagree on whether the usage applies.
        (Some(row), None) => {
            case.verdict = Verdict::Fail;
            case.outcome = describe(&case);
            case.reason = format!(
                "expected a role to say usage {} cannot be applied ({}), but none did",
                case.usage, row.evidence
            );
        }
        (Some(row), Some(why)) if row.applies() => {
            case.verdict = Verdict::Fail;
            case.outcome = describe(&case);
            case.reason = format!(
                "expected `{}`, but a role could not apply usage {}: {why}",
                row.outcome, case.usage
            );
        }
        (_, Some(why)) => {
            case.verdict = Verdict::NotApplicable;
            case.outcome = "n/a".into();
            case.reason = format!("usage {} cannot be applied here: {why}", case.usage);
        }
    }
    (case, Judged::Done)
}

/// The diffs variant `v` applied, per interpreter.
fn applied(plan: &Plan, out: &RunOutput, v: usize) -> Vec<AppliedPatch> {
    plan.interpreters
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
        .collect()
}

/// A results set for these interpreters and variants, with this tool and
/// host, and nothing run yet: what every command fills in.
pub fn skeleton(interpreters: &[Interpreter], variants: &[Variant]) -> Results {
    let mut results = Results::empty(crate::host::sys::tool(), crate::host::sys::host());
    results.interpreters = interpreters.to_vec();
    results.variants = variants
        .iter()
        .map(|v| VariantInfo {
            name: v.name.clone(),
            summary: v.summary.clone(),
            patches: Vec::new(),
        })
        .collect();
    results
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::fixtures::{SEED_BUG, case};
    use crate::contract::{StartMethod, Usage};

    fn row(scenario: ScenarioId, variant: VariantId) -> &'static Expectation {
        expectations::lookup(
            scenario,
            variant,
            crate::contract::Usage::Default,
            None::<StartMethod>,
            &[],
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

    /// A run of canned outcomes of three-process, judged as a whole.
    fn judged(outcomes: Vec<(VariantId, crate::run::CaseOutcome)>) -> Results {
        judged_as(ScenarioId::ThreeProcess, Usage::Default, outcomes)
    }

    /// A run of canned outcomes of `scenario` under `usage`.
    fn judged_as(
        scenario: ScenarioId,
        usage: Usage,
        outcomes: Vec<(VariantId, crate::run::CaseOutcome)>,
    ) -> Results {
        use crate::run::{CaseRun, Plan, RunOutput};
        use crate::scenario::catalogue;
        let variants: Vec<_> = [
            VariantId::Stock,
            VariantId::CreateOnly,
            VariantId::NoTracking,
        ]
        .into_iter()
        .map(crate::overlay::variant::builtin)
        .collect();
        let plan = Plan {
            interpreters: vec![crate::contract::fixtures::interpreter("3.12.1")],
            variants: variants.clone(),
            scenarios: vec![catalogue::find(scenario)],
            start_methods: Vec::new(),
            usages: vec![usage],
            params: Default::default(),
            jobs: 2,
            timeout: std::time::Duration::from_secs(30),
            repeat: 1,
            keep_going: false,
            overlay_cache: None,
            roles: Default::default(),
        };
        let position = |id: VariantId| variants.iter().position(|v| v.id == Some(id)).unwrap();
        let out = RunOutput {
            cases: outcomes
                .into_iter()
                .map(|(v, outcome)| CaseRun {
                    interpreter: 0,
                    variant: position(v),
                    scenario,
                    start_method: None,
                    usage,
                    outcome,
                })
                .collect(),
            overlays: vec![vec![None, None, None]],
            wall: std::time::Duration::from_millis(1500),
            children_cpu: std::time::Duration::from_millis(2500),
            harness_cpu: std::time::Duration::from_millis(20),
            interrupted: None,
        };
        judge_run(&plan, &out)
    }

    fn observed(
        keys_from_stderr: &str,
        error: Option<crate::scenario::CaseError>,
    ) -> crate::run::CaseOutcome {
        let p = crate::contract::fixtures::attacher(keys_from_stderr);
        crate::run::CaseOutcome::Observed(crate::scenario::CaseObservation {
            segment: "shmh000000000000_1".into(),
            processes: vec![p],
            created: true,
            made: vec!["shmh000000000000_1".into()],
            segment_leaked: false,
            error,
        })
    }

    #[test]
    fn judge_run_gives_each_outcome_its_verdict() {
        use crate::run::CaseOutcome;
        let leak = "x.py:1: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects\n";
        let r = judged(vec![
            (VariantId::Stock, observed(leak, None)),
            (VariantId::CreateOnly, observed("", None)),
            (
                VariantId::NoTracking,
                CaseOutcome::NotApplicable("no patch for 3.12".into()),
            ),
        ]);
        let verdicts: Vec<(&str, Verdict, &str)> = r
            .cases
            .iter()
            .map(|c| (c.variant.as_str(), c.verdict, c.outcome.as_str()))
            .collect();
        // Stock's row wants the whole seed: one leak warning is not it.
        assert_eq!(verdicts[0].1, Verdict::Fail);
        assert_eq!(
            verdicts[0].2, "P2 leak warning",
            "outcome: the keys, when no row matches"
        );
        assert_eq!(verdicts[1], ("create-only", Verdict::Pass, "fixed"));
        assert_eq!(verdicts[2], ("no-tracking", Verdict::NotApplicable, "n/a"));
        assert_eq!(r.cases[2].reason, "no patch for 3.12");
        assert_eq!(r.timing.wall_ms, 1500);
        assert_eq!(r.timing.children_cpu_ms, 2500);
        assert_eq!(r.scenarios[0].name, ScenarioId::ThreeProcess);

        let r = judged(vec![
            (
                VariantId::Stock,
                CaseOutcome::Error("cannot copy: no space".into()),
            ),
            (
                VariantId::CreateOnly,
                observed("", Some(crate::scenario::CaseError::Interrupted)),
            ),
        ]);
        assert_eq!(
            (
                r.cases[0].verdict,
                r.cases[0].outcome.as_str(),
                r.cases[0].reason.as_str()
            ),
            (Verdict::Error, "error", "cannot copy: no space")
        );
        assert_eq!(
            (r.cases[1].verdict, r.cases[1].reason.as_str()),
            (Verdict::Error, "interrupted")
        );
    }

    /// `observed`, where the attacher said it could not apply the usage.
    fn unsupported(keys_from_stderr: &str) -> crate::run::CaseOutcome {
        let mut outcome = observed(keys_from_stderr, None);
        if let crate::run::CaseOutcome::Observed(o) = &mut outcome {
            o.processes[0]
                .events
                .push(crate::contract::Event::ModeUnsupported {
                    mode: "track-false".into(),
                    reason: "ShareableList has no track parameter".into(),
                });
        }
        outcome
    }

    #[test]
    fn a_usage_a_role_could_not_apply_is_never_judged() {
        let leak = "x.py:1: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects\n";
        // The table says the usage cannot be applied, and the role said so:
        // n/a, the processes kept as evidence.
        let r = judged_as(
            ScenarioId::ShareableList,
            Usage::TrackFalse,
            vec![(VariantId::Stock, unsupported(leak))],
        );
        let c = &r.cases[0];
        assert_eq!(
            (c.verdict, c.outcome.as_str()),
            (Verdict::NotApplicable, "n/a")
        );
        assert_eq!(
            c.reason,
            "usage track-false cannot be applied here: ShareableList has no track parameter"
        );
        assert_eq!(c.processes.len(), 1);
        // The table says it cannot, but no role said so: the two disagree.
        let r = judged_as(
            ScenarioId::ShareableList,
            Usage::TrackFalse,
            vec![(VariantId::Stock, observed("", None))],
        );
        let c = &r.cases[0];
        assert_eq!((c.verdict, c.outcome.as_str()), (Verdict::Fail, "clean"));
        assert!(c.reason.starts_with("expected a role to say usage track-false cannot be applied (ShareableList has no track parameter)"), "{}", c.reason);
        // The table says it applies, but a role could not apply it.
        let r = judged_as(
            ScenarioId::ThreeProcess,
            Usage::TrackFalse,
            vec![(VariantId::Stock, unsupported(""))],
        );
        let c = &r.cases[0];
        assert_eq!(c.verdict, Verdict::Fail);
        assert_eq!(
            c.reason,
            "expected `fixed`, but a role could not apply usage track-false: ShareableList has no track parameter"
        );
        // A variant the table has no row for: n/a too, not judged against stock.
        let r = judged_as(
            ScenarioId::ShareableList,
            Usage::TrackFalse,
            vec![(VariantId::CreateOnly, unsupported(""))],
        );
        assert_eq!(r.cases[0].verdict, Verdict::NotApplicable);
    }

    #[test]
    fn a_case_without_a_row_is_described_against_stock() {
        let mut clean = case(
            "3.12.1",
            "patch:x",
            ScenarioId::Family,
            Verdict::Error,
            "",
            &[],
        );
        let stock = case(
            "3.12.1",
            "stock",
            ScenarioId::Family,
            Verdict::Pass,
            "shared tracker, clean",
            &[],
        );
        judge_against_stock(&mut clean, Some(&stock));
        // As on stock: in stock's words, not a list of its own.
        assert_eq!(
            (clean.outcome.as_str(), clean.verdict),
            ("shared tracker, clean", Verdict::Pass)
        );
        let mut bug = case(
            "3.12.1",
            "patch:x",
            ScenarioId::ThreeProcess,
            Verdict::Error,
            "",
            SEED_BUG,
        );
        let stock = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Pass,
            "bug reproduced",
            SEED_BUG,
        );
        judge_against_stock(&mut bug, Some(&stock));
        assert_eq!(bug.outcome, "bug reproduced");
        assert_eq!(bug.reason, "as on stock");
        // An errored stock twin is no comparison.
        let mut alone = case(
            "3.12.1",
            "patch:x",
            ScenarioId::Family,
            Verdict::Error,
            "",
            &[],
        );
        let broken = case(
            "3.12.1",
            "stock",
            ScenarioId::Family,
            Verdict::Error,
            "",
            &[],
        );
        judge_against_stock(&mut alone, Some(&broken));
        assert_eq!(alone.verdict, Verdict::NotApplicable);
    }

    #[test]
    fn each_scenario_with_the_bug_has_its_own_signs() {
        let shows =
            |s, keys: &[&str]| bug_reproduced(&case("3.12.1", "x", s, Verdict::Pass, "", keys));
        assert!(shows(
            ScenarioId::ShareableList,
            &["P2 leak warning", "P3 FileNotFoundError"]
        ));
        assert!(shows(
            ScenarioId::ManyAttachers,
            &["A* leak warning", "R FileNotFoundError"]
        ));
        assert!(!shows(ScenarioId::ManyAttachers, &["A* leak warning"]));
        assert!(shows(
            ScenarioId::RawFork,
            &["P1 FileNotFoundError", "P1 leak warning"]
        ));
        // The destruction is the bug; a change that only silences the
        // warning that explains it has not fixed it.
        assert!(shows(ScenarioId::RawFork, &["P1 FileNotFoundError"]));
        assert!(shows(
            ScenarioId::ThreeProcess,
            &["P1 FileNotFoundError", "P3 FileNotFoundError"]
        ));
        assert!(!shows(ScenarioId::ThreeProcess, &["P2 leak warning"]));
        // gh-153279 is a different bug: attach-fails has no signs of this one.
        assert!(!shows(
            ScenarioId::AttachFails,
            &["P2 leak warning", "P3 FileNotFoundError"]
        ));
    }

    #[test]
    fn a_user_patch_in_a_run_meets_its_own_stock_twin_and_its_overlay_is_recorded() {
        use crate::run::{CaseRun, Plan, RunOutput};
        use crate::scenario::catalogue;
        let leak = "x.py:1: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects\n";
        let user = crate::overlay::variant::Variant::user("fix", Vec::new());
        let plan = Plan {
            interpreters: vec![
                crate::contract::fixtures::interpreter("3.12.1"),
                crate::contract::fixtures::interpreter("3.13.0"),
            ],
            variants: vec![crate::overlay::variant::builtin(VariantId::Stock), user],
            scenarios: vec![
                catalogue::find(ScenarioId::ThreeProcess),
                catalogue::find(ScenarioId::AttacherUnlinks),
            ],
            start_methods: Vec::new(),
            usages: vec![crate::contract::Usage::Default],
            params: Default::default(),
            jobs: 1,
            timeout: std::time::Duration::from_secs(30),
            repeat: 1,
            keep_going: false,
            overlay_cache: None,
            roles: Default::default(),
        };
        // Stock warns only in attacher-unlinks on 3.13.0; the patch warns
        // there too: the same as its own twin, worse than every other.
        let run = |interpreter, variant, scenario, stderr| CaseRun {
            interpreter,
            variant,
            scenario,
            start_method: None,
            usage: crate::contract::Usage::Default,
            outcome: observed(stderr, None),
        };
        let out = RunOutput {
            cases: vec![
                run(0, 0, ScenarioId::AttacherUnlinks, ""),
                run(1, 0, ScenarioId::ThreeProcess, ""),
                run(1, 0, ScenarioId::AttacherUnlinks, leak),
                run(1, 1, ScenarioId::AttacherUnlinks, leak),
            ],
            overlays: vec![
                vec![None, None],
                vec![
                    None,
                    Some(Ok(crate::overlay::Overlay {
                        dir: "/tmp/o".into(),
                        origin: "patch:fix".into(),
                        diff: "--- a\n".into(),
                    })),
                ],
            ],
            wall: std::time::Duration::ZERO,
            children_cpu: std::time::Duration::ZERO,
            harness_cpu: std::time::Duration::ZERO,
            interrupted: None,
        };
        let r = judge_run(&plan, &out);
        let patched = &r.cases[3];
        assert_eq!(
            (patched.variant.as_str(), patched.verdict),
            ("patch:fix", Verdict::Pass),
            "{}",
            patched.reason
        );
        assert_eq!(r.variants[1].patches.len(), 1);
        assert_eq!(r.variants[1].patches[0].interpreter, "3.13.0");
        assert_eq!(r.variants[1].patches[0].origin, "patch:fix");
        assert!(r.variants[0].patches.is_empty());
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
        // The outcome names the new symptom; the reason shows its evidence.
        assert_eq!(worse.outcome, "worse: +P2 tracker KeyError");
        assert_eq!(worse.reason, "evidence of P2 tracker KeyError");
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
            "bug reproduced",
            SEED_BUG,
        );
        judge_against_stock(&mut still, Some(&stock3));
        assert_eq!(
            (still.verdict, still.outcome.as_str(), still.reason.as_str()),
            (Verdict::Fail, "bug reproduced", "as on stock")
        );
    }
}
