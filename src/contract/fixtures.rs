//! Canned results for unit tests of judging and exporting: built here, in
//! code, from the contract types alone (no Python, no processes).

use std::path::PathBuf;

use crate::contract::{
    Case, Interpreter, ProcessObservation, Results, ScenarioId, ScenarioInfo, Source, Symptom,
    Timing, VariantInfo, Verdict, Version,
};

pub fn interpreter(id: &str) -> Interpreter {
    let v = Version::parse(id).expect("an id that is a version");
    Interpreter {
        id: id.to_string(),
        implementation: "cpython".into(),
        version: v,
        executable: PathBuf::from(format!("/py/{id}/bin/python3")),
        path: PathBuf::from(format!("/py/{id}/bin/python3")),
        source: Source::Pyenv,
        aliases: Vec::new(),
        prefix: PathBuf::from(format!("/py/{id}")),
        multiprocessing: PathBuf::from(format!("/py/{id}/lib/multiprocessing")),
        debug: false,
        free_threaded: false,
        features: Vec::new(),
    }
}

/// A judged case with these symptom keys.
pub fn case(
    interp: &str,
    variant: &str,
    scenario: ScenarioId,
    verdict: Verdict,
    outcome: &str,
    symptoms: &[&str],
) -> Case {
    Case {
        interpreter: interp.to_string(),
        executable: PathBuf::from(format!("/py/{interp}/bin/python3")),
        variant: variant.to_string(),
        scenario,
        start_method: None,
        usage: crate::contract::Usage::Default,
        verdict,
        outcome: outcome.to_string(),
        reason: format!("{outcome} (canned)"),
        symptoms: symptoms
            .iter()
            .map(|k| Symptom {
                key: k.to_string(),
                evidence: format!("evidence of {k}"),
            })
            .collect(),
        segment: Some("shmh000000000000_0".into()),
        segment_leaked: false,
        processes: Vec::new(),
    }
}

/// Results over `interpreters` x `variants` x `scenarios`, with `cases`.
pub fn results(
    interpreters: &[&str],
    variants: &[&str],
    scenarios: &[ScenarioId],
    cases: Vec<Case>,
) -> Results {
    let mut r = Results::empty("shmharness 0.0.0-test".into(), Default::default());
    r.interpreters = interpreters.iter().map(|i| interpreter(i)).collect();
    r.variants = variants
        .iter()
        .map(|v| VariantInfo {
            name: v.to_string(),
            summary: format!("{v} (canned)"),
            patches: Vec::new(),
        })
        .collect();
    r.scenarios = scenarios
        .iter()
        .map(|s| ScenarioInfo {
            name: *s,
            summary: format!("{s} (canned)"),
        })
        .collect();
    r.cases = cases;
    r.timing = Timing {
        wall_ms: 2000,
        children_cpu_ms: 3800,
        harness_cpu_ms: 50,
        cores: 2,
        jobs: 2,
    };
    r
}

pub const SEED_BUG: &[&str] = &[
    "P1 FileNotFoundError",
    "P1 leak warning",
    "P1 tracker error",
    "P2 leak warning",
    "P3 FileNotFoundError",
];

/// Stock and a candidate on one interpreter: three-process (bug, then
/// fixed) and attacher-unlinks (`attacher` symptoms under the candidate).
pub fn stock_and(candidate: &str, attacher: &[&str]) -> Results {
    use ScenarioId::*;
    let stock_attacher = &["P1 leak warning", "P1 tracker error"];
    results(
        &["3.12.1"],
        &["stock", candidate],
        &[ThreeProcess, AttacherUnlinks],
        vec![
            case(
                "3.12.1",
                "stock",
                ThreeProcess,
                Verdict::Pass,
                "bug reproduced",
                SEED_BUG,
            ),
            case(
                "3.12.1",
                candidate,
                ThreeProcess,
                Verdict::Pass,
                "fixed",
                &[],
            ),
            case(
                "3.12.1",
                "stock",
                AttacherUnlinks,
                Verdict::Pass,
                "creator's tracker warns",
                stock_attacher,
            ),
            case(
                "3.12.1",
                candidate,
                AttacherUnlinks,
                Verdict::Pass,
                "x",
                attacher,
            ),
        ],
    )
}

/// Attacher `P2` that exited 0 with `stderr` (one leak warning if it says
/// "leaked"), having read the data.
pub fn attacher(stderr: &str) -> ProcessObservation {
    let leaked = stderr.contains("leaked");
    ProcessObservation {
        label: "P2".into(),
        group: "P2".into(),
        role: crate::contract::RoleName::Attacher,
        exit_code: Some(0),
        signal: None,
        timed_out: false,
        killed_by_harness: false,
        leak_warnings: usize::from(leaked),
        tracker_errors: Vec::new(),
        tracebacks: Vec::new(),
        exception: None,
        data_ok: Some(true),
        segment_after: !leaked,
        tracker_exit_code: None,
        multiprocessing: None,
        events: Vec::new(),
        stdout: String::new(),
        stderr: stderr.to_string(),
        duration_ms: 10,
    }
}

/// An executable `#!/bin/sh` script at `path` (its directories made) that
/// runs `body`: a fake interpreter for unit tests that start one (probes,
/// the overlay's compile step). It ignores `-I -B -c ...`.
pub fn script(path: &std::path::Path, body: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// Shell code printing `json` framed as `probe.py` frames its answer.
pub fn probe_answer(json: &serde_json::Value) -> String {
    format!("printf '%s\\n' '@@SHMHARNESS-PROBE@@{json}@@END@@'")
}

/// A test that failed an assertion, as CPython's test output names it.
pub fn failing_test(name: &str) -> crate::contract::FailingTest {
    crate::contract::FailingTest {
        name: name.into(),
        id: format!("x.{name}"),
        kind: crate::contract::FailureKind::Fail,
        evidence: "AssertionError".into(),
    }
}
