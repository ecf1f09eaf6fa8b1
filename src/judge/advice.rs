//! `advise`: for people who hit the bug, which way of attaching (usage)
//! holds on their Python, pattern by pattern, read from cases that ran on
//! the stock stdlib. Nothing here is a table of answers: every claim is a
//! case's symptoms, and the case is cited so it can be run again.
//!
//! A usage **holds** in a case when no process of the program is harmed:
//! no exception, no non-zero exit, no lost data, no segment left behind,
//! no tracker that lost a registration (every symptom is
//! [residue](crate::scenario::symptoms::is_residue): a tracker's warning at
//! shutdown, listed next to it). A usage the role could not apply (a
//! `ShareableList` has no `track`) is not tried: it is n/a, with why.

use serde::Serialize;

use crate::contract::{Case, Results, ScenarioId, Usage, Verdict};
use crate::scenario::symptoms::is_residue;

/// The application patterns advice is given for: scenarios that model what
/// programs do (not the harness's controls or crash drills).
pub const PATTERNS: &[ScenarioId] = &[
    ScenarioId::ThreeProcess,
    ScenarioId::ManyAttachers,
    ScenarioId::ShareableList,
    ScenarioId::Family,
    ScenarioId::FamilyObject,
    ScenarioId::Manager,
    ScenarioId::RawFork,
    ScenarioId::AttacherUnlinks,
];

/// One claim: on this interpreter, in this pattern (and start method), this
/// usage holds or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Advice {
    pub interpreter: String,
    /// The stdlib the cases ran on: `stock`, or the `--patch` candidate.
    pub stdlib: String,
    pub scenario: ScenarioId,
    pub start_method: Option<crate::contract::StartMethod>,
    pub usage: Usage,
    /// `null`: the usage could not be tried here (its API is missing).
    pub holds: Option<bool>,
    /// Symptoms that do not harm the program (tracker noise).
    pub residue: Vec<String>,
    /// Symptoms that do, when it does not hold.
    pub breaks: Vec<String>,
    /// Why it could not be tried, when `holds` is `null`.
    pub unavailable: Option<String>,
    pub evidence: Evidence,
}

/// The case a claim rests on, and how to run it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// `3.12.1 three-process (unregister) [stock]`.
    pub case: String,
    pub rerun: String,
}

/// Why advice cannot be given: a case that could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{case} could not run ({reason}): no advice rests on it; run again")]
pub struct AdviceError {
    pub case: String,
    pub reason: String,
}

/// Every claim the cases of `results` support, in the results' order.
/// `stdlib` is how a rerun names the stdlib the cases ran on (`--variant
/// stock`, or the `--patch` arguments).
pub fn advise(results: &Results, stdlib: &str) -> Result<Vec<Advice>, AdviceError> {
    results
        .cases
        .iter()
        .map(|c| advice(results, c, stdlib))
        .collect()
}

fn advice(results: &Results, c: &Case, stdlib: &str) -> Result<Advice, AdviceError> {
    let case = format!("{} {} [{}]", c.interpreter, c.row(), c.variant);
    if c.verdict == Verdict::Error {
        return Err(AdviceError {
            case,
            reason: c.reason.clone(),
        });
    }
    // The role said it could not apply the usage (and went on as default):
    // what it did says nothing about the usage.
    let unsupported = c.usage_unsupported().map(str::to_string);
    let ran = !c.processes.is_empty() && unsupported.is_none();
    let (residue, breaks): (Vec<String>, Vec<String>) = c
        .symptoms
        .iter()
        .map(|s| s.key.clone())
        .partition(|k| is_residue(k));
    // The version selects it when it is the interpreter's id (one such
    // interpreter here); else only its path does (a venv, two installs).
    let python = match results.interpreter(&c.interpreter) {
        Some(i) if i.id == i.version.to_string() => i.id.clone(),
        Some(i) => i.executable.display().to_string(),
        None => c.interpreter.clone(),
    };
    Ok(Advice {
        interpreter: c.interpreter.clone(),
        stdlib: c.variant.clone(),
        scenario: c.scenario,
        start_method: c.start_method,
        usage: c.usage,
        holds: ran.then_some(breaks.is_empty()),
        residue,
        breaks,
        unavailable: (!ran).then(|| unsupported.unwrap_or_else(|| c.reason.clone())),
        evidence: Evidence {
            case,
            rerun: rerun(&python, stdlib, c),
        },
    })
}

/// The command line that runs this one case again.
fn rerun(python: &str, stdlib: &str, c: &Case) -> String {
    let mut cmd = format!(
        "shmharness run --python {python} {stdlib} --usage {} --scenario {}",
        c.usage, c.scenario
    );
    if let Some(m) = c.start_method {
        cmd += &format!(" --start-method {m}");
    }
    cmd
}

/// The usage to recommend among `claims` (one pattern, one interpreter):
/// of those that hold, the one with the least residue; on a tie the one
/// that asks least of the program (the order of [`Usage::ALL`]: plain
/// attach, then the public `track=False`, then a private-name unregister).
pub fn recommend<'a>(claims: &[&'a Advice]) -> Option<&'a Advice> {
    claims
        .iter()
        .filter(|a| a.holds == Some(true))
        .min_by_key(|a| {
            (
                a.residue.len(),
                Usage::ALL.iter().position(|u| *u == a.usage),
            )
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::fixtures::{SEED_BUG, case, results};

    fn advised(usage: Usage, verdict: Verdict, keys: &[&str]) -> Advice {
        let mut c = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            verdict,
            "x",
            keys,
        );
        c.usage = usage;
        c.processes = vec![crate::contract::fixtures::attacher("")];
        let r = results(
            &["3.12.1"],
            &["stock"],
            &[ScenarioId::ThreeProcess],
            vec![c],
        );
        advise(&r, "--variant stock").unwrap().remove(0)
    }

    #[test]
    fn a_usage_holds_when_only_residue_shows() {
        let a = advised(Usage::Default, Verdict::Pass, SEED_BUG);
        assert_eq!(a.holds, Some(false));
        assert_eq!(a.breaks, ["P1 FileNotFoundError", "P3 FileNotFoundError"]);
        let b = advised(Usage::Unregister, Verdict::Pass, &["P1 tracker error"]);
        assert_eq!(b.holds, Some(true));
        assert_eq!(b.residue, ["P1 tracker error"]);
        // A tracker that lost a registration (a KeyError on UNREGISTER) is
        // harm: the owner is no longer covered should it crash.
        let lost = advised(Usage::Unregister, Verdict::Pass, &["P1 tracker KeyError"]);
        assert_eq!(lost.holds, Some(false));
        assert_eq!(
            b.evidence.rerun,
            "shmharness run --python 3.12.1 --variant stock --usage unregister --scenario three-process"
        );
        let c = advised(Usage::TrackFalse, Verdict::Pass, &[]);
        // Two hold: the one with less residue is recommended.
        assert_eq!(
            recommend(&[&a, &b, &c]).map(|x| x.usage),
            Some(Usage::TrackFalse)
        );
        assert_eq!(recommend(&[&a]), None);
    }

    #[test]
    fn a_case_that_could_not_run_gives_no_advice() {
        let mut c = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Error,
            "error",
            &[],
        );
        c.reason = "P2 timed out".into();
        let r = results(
            &["3.12.1"],
            &["stock"],
            &[ScenarioId::ThreeProcess],
            vec![c],
        );
        assert!(
            advise(&r, "--variant stock")
                .unwrap_err()
                .to_string()
                .contains("P2 timed out")
        );
    }

    #[test]
    fn a_usage_the_stdlib_lacks_is_not_tried() {
        let mut c = case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::NotApplicable,
            "n/a",
            &[],
        );
        c.usage = Usage::TrackFalse;
        c.reason =
            "usage track-false needs what this stdlib lacks: SharedMemory has no track parameter"
                .into();
        let r = results(
            &["3.12.1"],
            &["stock"],
            &[ScenarioId::ThreeProcess],
            vec![c],
        );
        let a = advise(&r, "--variant stock").unwrap().remove(0);
        assert_eq!(a.holds, None);
        assert!(a.unavailable.unwrap().contains("no track parameter"));
    }
}
