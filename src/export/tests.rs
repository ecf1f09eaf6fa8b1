//! Snapshot tests of every format, rendered from canned results (no
//! Python): `cargo insta review` after an intended change.

use super::*;
use crate::contract::{ScenarioId, Verdict};
use crate::fixtures::{SEED_BUG, case, results, stock_and};
use crate::judge::candidate;

fn two_interpreters() -> Results {
    use ScenarioId::*;
    let mut r = results(
        &["3.12.1", "3.15.2"],
        &["stock", "create-only"],
        &[ThreeProcess],
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
                "create-only",
                ThreeProcess,
                Verdict::Pass,
                "fixed",
                &[],
            ),
            case(
                "3.15.2",
                "stock",
                ThreeProcess,
                Verdict::Pass,
                "bug reproduced",
                SEED_BUG,
            ),
            case(
                "3.15.2",
                "create-only",
                ThreeProcess,
                Verdict::Fail,
                "bug reproduced",
                SEED_BUG,
            ),
        ],
    );
    r.cases[3].reason = "expected `fixed`; unexpected: P2 leak warning".into();
    r
}

#[test]
fn terminal_matrix() {
    crate::style::init(crate::style::ColorChoice::Never);
    insta::assert_snapshot!(Terminal(View::Matrix).render(&two_interpreters()));
}

#[test]
fn markdown_matrix_with_summary() {
    insta::assert_snapshot!(Markdown(View::Matrix).render(&two_interpreters()));
}

#[test]
fn junit_has_a_suite_per_interpreter_and_a_failure_with_the_reason() {
    insta::assert_snapshot!(junit::Junit.render(&two_interpreters()));
}

#[test]
fn verify_lines_and_markdown() {
    crate::style::init(crate::style::ColorChoice::Never);
    let r = stock_and(
        "create-only",
        &["P1 leak warning", "P1 tracker error", "P2 tracker KeyError"],
    );
    let v = candidate::judge(&r, "create-only");
    insta::assert_snapshot!("verify_lines", matrix::verdict_lines(&v));
    insta::assert_snapshot!("verify_markdown", matrix::verdict_markdown(&v));
}

#[test]
fn summary_line_in_words_a_user_knows() {
    let mut r = two_interpreters();
    r.timing.wall_ms = 3000;
    assert_eq!(
        matrix::summary_line(&r, false),
        "4 cases on 2 interpreters: 3 passed, 1 failed in 3.0 s (2 workers; CPU 3.8 s)"
    );
    assert!(matrix::summary_line(&r, true).ends_with("wall 1.58x children CPU / 2 cores)"));
    let mut one = results(
        &["3.12.1"],
        &["stock"],
        &[ScenarioId::ThreeProcess],
        vec![case(
            "3.12.1",
            "stock",
            ScenarioId::ThreeProcess,
            Verdict::Error,
            "error",
            &[],
        )],
    );
    one.timing.wall_ms = 1900;
    assert_eq!(
        matrix::summary_line(&one, false),
        "1 case on 1 interpreter: 0 passed, 1 could not run in 1.9 s (2 workers; CPU 3.8 s, near the best 2 cores allow)"
    );
}

#[test]
fn json_round_trips() {
    let r = two_interpreters();
    let text = Json(View::Matrix).render(&r);
    let back: Results = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
}

#[test]
fn a_transcript_diff_ignores_names_pids_and_paths() {
    let p = |stderr: &str, pid: u32| crate::contract::ProcessObservation {
        events: vec![serde_json::json!({"event": "start", "pid": pid})],
        ..crate::fixtures::attacher(stderr)
    };
    let mut a = case(
        "3.12.1",
        "stock",
        ScenarioId::ThreeProcess,
        Verdict::Pass,
        "",
        &[],
    );
    a.segment = Some("shmhaaaaaaaaaaaa_1".into());
    a.processes = vec![p(
        "/py/lib/multiprocessing/resource_tracker.py:216: UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects: {'/shmhaaaaaaaaaaaa_1'}\n",
        11,
    )];
    let mut b = case(
        "3.12.1",
        "create-only",
        ScenarioId::ThreeProcess,
        Verdict::Pass,
        "",
        &[],
    );
    b.segment = Some("shmhbbbbbbbbbbbb_2".into());
    b.processes = vec![p("", 22)];
    insta::assert_snapshot!(transcript::unified(&a, &b));
    let mut same = b.clone();
    same.segment = Some("shmhcccccccccccc_3".into());
    same.processes[0].events = vec![serde_json::json!({"event": "start", "pid": 33})];
    assert_eq!(transcript::unified(&b, &same), "");
}
