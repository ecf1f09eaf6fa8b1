//! Snapshot tests of every format, rendered from canned results (no
//! Python): `cargo insta review` after an intended change.

use super::*;
use crate::contract::fixtures::{SEED_BUG, case, results, stock_and};
use crate::contract::{ScenarioId, Verdict};
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
    crate::term::style::init(crate::term::style::ColorChoice::Never);
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
    crate::term::style::init(crate::term::style::ColorChoice::Never);
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
        events: vec![crate::contract::Event::Start {
            pid: i64::from(pid),
            multiprocessing: "/x/multiprocessing/__init__.py".into(),
        }],
        ..crate::contract::fixtures::attacher(stderr)
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
    same.processes[0].events = vec![crate::contract::Event::Start {
        pid: 33,
        multiprocessing: "/y/multiprocessing/__init__.py".into(),
    }];
    assert_eq!(transcript::unified(&b, &same), "");
}

/// Two CI legs that ran different cells: 3.12.1 stock and create-only on
/// three-process and attacher-unlinks, 3.15.2 only stock on three-process
/// and creator-crashes (as `merge` combines them).
fn two_legs() -> Results {
    use ScenarioId::*;
    let mut r = results(
        &["3.12.1", "3.15.2"],
        &["stock", "create-only"],
        &[ThreeProcess, AttacherUnlinks, CreatorCrashes],
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
                "3.12.1",
                "stock",
                AttacherUnlinks,
                Verdict::Pass,
                "unlinked cleanly",
                &[],
            ),
            case(
                "3.12.1",
                "create-only",
                AttacherUnlinks,
                Verdict::Pass,
                "tracker KeyError",
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
                "stock",
                CreatorCrashes,
                Verdict::Pass,
                "cleaned up",
                &[],
            ),
        ],
    );
    for (file, id) in [("leg12.json", "3.12.1"), ("legB.json", "3.15.2")] {
        r.merged_from.push(crate::contract::MergedLeg {
            file: file.into(),
            host: r.host.clone(),
            interpreters: vec![id.into()],
        });
    }
    r
}

#[test]
fn a_cell_that_did_not_run_on_an_interpreter_is_a_difference_in_the_compact_matrix() {
    let md = issue::compact_matrix(&two_legs()).markdown();
    let rows: Vec<&str> = md.lines().skip(2).collect();
    assert_eq!(
        rows,
        [
            "| three-process | bug reproduced | fixed (3.12.1); - (3.15.2) |",
            "| attacher-unlinks | unlinked cleanly (3.12.1); - (3.15.2) | tracker KeyError (3.12.1); - (3.15.2) |",
            "| creator-crashes | cleaned up (3.15.2); - (3.12.1) | - |",
        ],
        "{md}"
    );
}

#[test]
fn a_merge_summary_line_makes_no_claim_about_workers_or_the_cpu_floor() {
    let mut r = two_legs();
    r.timing.wall_ms = 500;
    r.timing.children_cpu_ms = 1300;
    for verbose in [false, true] {
        assert_eq!(
            matrix::summary_line(&r, verbose),
            "6 cases on 2 interpreters: 6 passed in 0.5 s (longest of 2 legs; CPU 1.3 s over all legs)"
        );
    }
    // One leg: its own workers and cores, so the claim holds.
    r.merged_from.truncate(1);
    r.timing.wall_ms = 700;
    assert!(
        matrix::summary_line(&r, false)
            .ends_with("(2 workers; CPU 1.3 s, near the best 2 cores allow)"),
        "{}",
        matrix::summary_line(&r, false)
    );
}

/// `results` with a candidate's patch per interpreter, transcripts, and
/// the candidates judged: what `report` and `merge --report` write.
fn bundled(mut r: Results) -> Results {
    for v in r.variants.iter_mut().filter(|v| v.name != "stock") {
        for i in &r.interpreters {
            v.patches.push(crate::contract::AppliedPatch {
                interpreter: i.id.clone(),
                origin: format!("patches/{}/3.10-3.12.diff", v.name),
                diff: "--- a/Lib/multiprocessing/shared_memory.py\n+++ b/Lib/multiprocessing/shared_memory.py\n@@ -1 +1,2 @@\n-x\n+if create:\n+    x\n".into(),
            });
        }
    }
    for c in &mut r.cases {
        c.processes = vec![crate::contract::fixtures::attacher(
            if c.variant == "stock" {
                "UserWarning: resource_tracker: There appear to be 1 leaked shared_memory objects\n"
            } else {
                ""
            },
        )];
    }
    r.candidates = crate::judge::candidate::all(&r, "not run in this test");
    r
}

/// Write the bundle of `r` into a temp dir; (the dir, report.md).
fn write_bundle(r: &Results) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bundle");
    bundle::write(r, &out, false).unwrap();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    (dir, out, md)
}

/// Every path report.md cites as the bundle's: link targets (Markdown and
/// `href`), and relative paths in code spans and `<code>` (a path has a `/`
/// or names a file by its extension; patterns with `<...>` are not paths).
fn cited_paths(md: &str) -> Vec<String> {
    let re =
        regex::Regex::new(r#"\]\(([^)\s]+)\)|href="([^"]+)"|`([^`\s]+)`|<code>([^<\s]+)</code>"#)
            .unwrap();
    let path = regex::Regex::new(r"^[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*/?$").unwrap();
    let mut out = Vec::new();
    for c in re.captures_iter(md) {
        let (m, link) = match (c.get(1).or(c.get(2)), c.get(3).or(c.get(4))) {
            (Some(l), _) => (l.as_str(), true),
            (None, Some(m)) => (m.as_str(), false),
            _ => continue,
        };
        if m.starts_with("http") {
            continue;
        }
        let file_like = m.contains('/')
            || [".md", ".json", ".xml", ".py", ".diff"]
                .iter()
                .any(|e| m.ends_with(e));
        if (link || file_like) && path.is_match(m) {
            out.push(m.to_string());
        }
    }
    out
}

#[test]
fn every_path_report_md_cites_is_in_the_bundle() {
    let r = bundled(two_interpreters());
    let (_dir, out, md) = write_bundle(&r);
    let cited = cited_paths(&md);
    for want in [
        "patches/3.12.1/create-only.diff",
        "patches/3.15.2/create-only.diff",
        "diffs/three-process--create-only--1.diff",
        "results.json",
        "patches/",
    ] {
        assert!(cited.iter().any(|c| c == want), "{want} not cited:\n{md}");
    }
    let missing: Vec<&String> = cited.iter().filter(|p| !out.join(p).exists()).collect();
    assert!(
        missing.is_empty(),
        "cited, not in the bundle: {missing:?}\n{md}"
    );
    assert!(
        !md.contains("3.10-3.12.diff"),
        "a path of shmharness's repository:\n{md}"
    );
    // The same in the short form (links only), when report.md is too big.
    let r = bundled(two_interpreters());
    let short = issue::bundle_markdown(&r, &issue::shared_diffs(&r));
    assert!(short.iter().all(|(f, _)| out.join(f).exists()));
}

#[test]
fn names_from_the_data_are_escaped_in_report_md_html_and_markdown() {
    let mut r = two_interpreters();
    let odd = "3.12|x <b>bold & <details>";
    let cand = "patch:a`b<i>";
    r.interpreters[0].id = odd.into();
    for c in &mut r.cases {
        if c.interpreter == "3.12.1" {
            c.interpreter = odd.into();
        }
        if c.variant == "create-only" {
            c.variant = cand.into();
        }
    }
    r.variants[1].name = cand.into();
    let mut r = bundled(r);
    // Its own diff: the interpreter is named in the patch's <summary>.
    r.variants[1].patches[0].diff += "+# 3.12 only\n";
    let (_dir, out, md) = write_bundle(&r);
    // Only the report's own tags, each <details> closed; a name in a code
    // span is shown as it is (GitHub decodes no entity there).
    let spans = md.matches(&super::table::code(cand)).count();
    assert!(spans > 0, "{md}");
    let outside = md.replace(&super::table::code(cand), "");
    let outside = regex::Regex::new(r"(?s)```.*?```|`[^`\n]*`")
        .unwrap()
        .replace_all(&outside, "");
    let tags = regex::Regex::new(r"</?([A-Za-z][A-Za-z0-9]*)").unwrap();
    for c in tags.captures_iter(&outside) {
        let n = c.get(1).unwrap().as_str();
        assert!(
            ["details", "summary", "code", "a", "br"].contains(&n),
            "<{n}> in\n{md}"
        );
    }
    assert_eq!(
        md.matches("<details>").count(),
        md.matches("</details>").count()
    );
    assert!(
        md.contains("3.12\\|x &lt;b&gt;bold &amp; &lt;details&gt;"),
        "{md}"
    );
    assert!(
        md.contains("<code>patch:a`b&lt;i&gt;</code> on all 2 (in the bundle: <code>diffs/"),
        "{md}"
    );
    assert!(
        md.contains("<summary>patch:a`b&lt;i&gt; on 3.12|x &lt;b&gt;bold &amp; &lt;details&gt;: in the bundle: <code>patches/3.12_x__b_bold____details_/patch_a_b_i_.diff</code>"),
        "{md}"
    );
    assert!(md.contains("## Verdict: ``patch:a`b<i>`` vs stock"), "{md}");
    // Escaping is for the text; the files keep the bundle's names.
    assert!(
        cited_paths(&md).iter().all(|p| out.join(p).exists()),
        "{md}"
    );
}

#[test]
fn a_huge_matrix_moves_to_its_own_file_and_report_md_fits_with_the_verdict_first() {
    // 30 legs x 8 variants x 14 scenarios, every interpreter saying something
    // of its own in every cell: the compact matrix groups nothing.
    let ids: Vec<String> = (0..30).map(|n| format!("3.12.{n}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let variants = [
        "stock",
        "create-only",
        "no-register",
        "create-only+unlink-guard",
        "create-only+lenient-tracker",
        "no-tracking",
        "track-false",
        "userland-unregister",
    ];
    let scenarios: Vec<ScenarioId> = crate::scenario::catalogue::resolve(&["all".to_string()])
        .unwrap()
        .iter()
        .map(|s| s.id)
        .collect();
    let mut cases = Vec::new();
    for id in &ids {
        for s in &scenarios {
            for v in variants {
                let outcome = format!("what {id} alone says about this scenario");
                cases.push(case(id, v, *s, Verdict::Pass, &outcome, &[]));
            }
        }
    }
    let mut r = results(&id_refs, &variants, &scenarios, cases);
    r.candidates = crate::judge::candidate::all(&r, "not run in this test");
    let full_matrix = issue::compact_matrix(&r).markdown();
    assert!(
        full_matrix.len() > 2 * issue::BUDGET,
        "{}",
        full_matrix.len()
    );

    let diffs = issue::shared_diffs(&r);
    let files = issue::bundle_markdown(&r, &diffs);
    let md = &files[0].1;
    assert_eq!(files[0].0, "report.md");
    assert!(md.len() <= issue::BUDGET, "{} bytes", md.len());
    // The answer first: the title, then each candidate's verdict line.
    let mut lines = md.lines().filter(|l| !l.is_empty());
    assert!(lines.next().unwrap().starts_with("# "));
    assert!(
        lines.next().unwrap().starts_with("**verify: `create-only`"),
        "{md}"
    );
    // The matrix is a file of its own, whole, and report.md links it.
    let matrix = files
        .iter()
        .find(|(f, _)| f == "matrix.md")
        .map(|(_, t)| t)
        .expect("matrix.md");
    assert!(matrix.contains(&full_matrix), "the whole matrix");
    assert!(
        md.contains("## Outcomes\n\nIn the bundle: `matrix.md`"),
        "{md}"
    );
    assert!(md.contains("`matrix.md`"), "the files line names it: {md}");
    assert!(!md.contains(&full_matrix[..200]), "not also inline");
    // The bundle on disk holds every file the short report.md links.
    let (_dir, out, written) = write_bundle(&r);
    assert_eq!(&written, md);
    let missing: Vec<String> = cited_paths(&written)
        .into_iter()
        .filter(|p| !out.join(p).exists())
        .collect();
    assert!(missing.is_empty(), "linked, not in the bundle: {missing:?}");
}

/// A test run of CPython's tests on 3.12.1 that passed.
fn passed(variant: &str) -> crate::contract::TestRun {
    let mut t = crate::contract::TestRun::empty("3.12.1", variant, Verdict::Pass, String::new());
    t.ran = 16;
    t.passed = 16;
    t
}

#[test]
fn where_cpython_tests_did_not_run_the_verdict_says_so() {
    let r = stock_and("fix", &["P1 leak warning", "P1 tracker error"]);
    // Not asked for.
    let mut v = candidate::judge(&r, "fix");
    v.tests_not_run("not asked for; --strict runs them");
    let line = super::matrix::headline(&v, "fix");
    assert_eq!(
        line,
        "verify: fix fixes the bug on the 1 interpreter, nothing worse in its scenarios; CPython's own tests not run (not asked for; --strict runs them)"
    );
    assert!(!line.contains("no regression"));
    // No test package: `n/a` test runs.
    let mut v = candidate::judge(&r, "fix");
    let na = |variant: &str| {
        crate::contract::TestRun::empty(
            "3.12.1",
            variant,
            Verdict::NotApplicable,
            "no test._test_multiprocessing in this install (Debian ships it in libpython3.X-testsuite)".into(),
        )
    };
    candidate::strict(&mut v, &[na("stock"), na("fix")]);
    assert_eq!(v.verdict, Verdict::Pass);
    assert_eq!(
        v.interpreters[0].tests_not_run.as_deref(),
        Some("no test package")
    );
    assert!(
        super::matrix::headline(&v, "fix")
            .ends_with("; CPython's own tests not run (no test package)")
    );
    // They ran and passed: then, and only then, "no regression".
    let mut v = candidate::judge(&r, "fix");
    candidate::strict(&mut v, &[passed("stock"), passed("fix")]);
    assert_eq!(
        super::matrix::headline(&v, "fix"),
        "verify: fix fixes the bug on the 1 interpreter with no regression"
    );
}

#[test]
fn report_md_and_summary_md_link_nothing_a_paste_would_break() {
    let (_dir, _out, md) = write_bundle(&bundled(two_interpreters()));
    let summary = crate::export::issue::summary_md(&bundled(two_interpreters()));
    let links = regex::Regex::new(r#"\]\((?:[^h)][^)]*)\)|href="[^h"]"#).unwrap();
    for (name, text) in [("report.md", &md), ("summary.md", &summary)] {
        assert!(
            !links.is_match(text),
            "{name} has a relative link: {:?}",
            links.find(text).map(|m| m.as_str())
        );
    }
    assert!(md.contains("report --archive"), "{md}");
}

#[test]
fn a_pass_without_the_seeds_scenario_does_not_say_it_fixes_the_bug() {
    // Only `family` ran: nothing worse than stock, and nothing shown about
    // the bug.
    let r = results(
        &["3.12.1"],
        &["stock", "patch:noop"],
        &[ScenarioId::Family],
        vec![
            case(
                "3.12.1",
                "stock",
                ScenarioId::Family,
                Verdict::Pass,
                "clean",
                &[],
            ),
            case(
                "3.12.1",
                "patch:noop",
                ScenarioId::Family,
                Verdict::Pass,
                "clean",
                &[],
            ),
        ],
    );
    let v = candidate::judge(&r, "patch:noop");
    assert_eq!(v.verdict, Verdict::Pass);
    assert!(!v.interpreters[0].seed_ran);
    let line = matrix::headline(&v, "patch:noop");
    assert!(!line.contains("fixes the bug"), "{line}");
    assert!(
        line.contains("whether the bug is gone is not shown"),
        "{line}"
    );
}

#[test]
fn junit_carries_each_candidates_verdict_and_cpythons_test_runs() {
    let mut r = stock_and(
        "patch:fix",
        &["P1 leak warning", "P1 tracker error", "P2 tracker KeyError"],
    );
    r.candidates = candidate::all(&r, "not run in this test");
    let mut failing = passed("patch:fix");
    failing.verdict = Verdict::Fail;
    failing.reason = "16 passed, 1 failed (test_shared_memory_tracking)".into();
    r.cpython_tests = vec![passed("stock"), failing];
    let xml = junit::Junit.render(&r);
    assert!(
        xml.contains(r#"<testcase name="verify [patch:fix]""#),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<testcase name="cpython-tests [patch:fix]""#),
        "{xml}"
    );
    // Both fail, as the verdict and the test run do.
    let failures = xml.matches("<failure").count();
    assert!(failures >= 2, "{xml}");
}
