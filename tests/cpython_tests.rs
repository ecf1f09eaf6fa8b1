//! Issue 3, item 5: CPython's own shared-memory tests against each
//! variant's overlay (`cpython-tests`, `verify --strict`,
//! `run --with-cpython-tests`). Two interpreters keep it quick: 3.10 (the
//! `python -m test test_multiprocessing_forkserver` path) and 3.13 (where
//! the seed's fix disagrees with `test_shared_memory_tracking`).

use crate::util::*;

fn runs(args: &[&str]) -> (i32, Vec<serde_json::Value>) {
    let (code, json) = run_json(args);
    (code, json.as_array().expect("a JSON array of runs").clone())
}

fn find<'a>(runs: &'a [serde_json::Value], variant: &str) -> &'a serde_json::Value {
    runs.iter()
        .find(|r| r["variant"] == variant)
        .unwrap_or_else(|| panic!("no {variant} run in {runs:#?}"))
}

fn failing(run: &serde_json::Value) -> Vec<&str> {
    run["failing"]
        .as_array()
        .map(|a| a.iter().map(|f| f["name"].as_str().unwrap()).collect())
        .unwrap_or_default()
}

#[test]
fn stock_and_create_only_pass_on_3_10() {
    let Some(py) = python("3.10") else { return };
    let (code, runs) = runs(&[
        "cpython-tests",
        "--variant",
        "stock,create-only",
        "--python",
        py.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{runs:#?}");
    assert_eq!(runs.len(), 2);
    for variant in ["stock", "create-only"] {
        let run = find(&runs, variant);
        assert_eq!(run["verdict"], "pass", "{run:#}");
        assert_eq!(run["failed"], 0, "{run:#}");
        assert_eq!(run["errors"], 0, "{run:#}");
        // 3.10.13 has 13 shared-memory tests, including the crashed-creator one.
        assert!(run["ran"].as_u64().unwrap() >= 13, "{run:#}");
        assert!(
            run["method"]
                .as_str()
                .unwrap()
                .contains("test_multiprocessing_forkserver"),
            "{run:#}"
        );
    }
    // The overlay, not the installed package, is what the tests imported.
    let overlay = find(&runs, "create-only")["multiprocessing"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(overlay.contains("overlay-"), "{overlay}");
    assert_ne!(overlay, multiprocessing_dir(&py).to_string_lossy());
}

#[test]
fn create_only_fails_test_shared_memory_tracking_on_3_13() {
    let Some(py) = python("3.13") else { return };
    let (code, runs) = runs(&[
        "cpython-tests",
        "--variant",
        "stock,create-only",
        "--python",
        py.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{runs:#?}");
    let stock = find(&runs, "stock");
    assert_eq!(stock["verdict"], "pass", "{stock:#}");
    let cand = find(&runs, "create-only");
    assert_eq!(cand["verdict"], "fail", "{cand:#}");
    // Proof the overlay reached script_helper's subprocess (no -I): with the
    // stock stdlib there, this test would pass for the wrong reason.
    assert_eq!(failing(cand), ["test_shared_memory_tracking"], "{cand:#}");
    assert_eq!(cand["failed"], 1);
    assert_eq!(
        cand["passed"].as_u64().unwrap() + 1,
        stock["passed"].as_u64().unwrap()
    );

    // The table says the same in words.
    let out = bin()
        .args(["cpython-tests", "--variant", "create-only", "--python"])
        .arg(&py)
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{table}");
    assert!(
        table.contains("passed, 1 failed (test_shared_memory_tracking)"),
        "{table}"
    );
}

#[test]
fn verify_strict_shows_the_cpython_test_disagreement_on_3_13() {
    let Some(py) = python("3.13") else { return };
    let out = bin()
        .args([
            "verify",
            "--strict",
            "--variant",
            "create-only+unlink-guard",
            "--scenario",
            "three-process",
            "--python",
        ])
        .arg(&py)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.contains("cpython-tests: test_shared_memory_tracking fails"))
        .unwrap_or_else(|| panic!("no evidence line for the 3.13 test:\n{stdout}"));
    assert!(line.contains("(passed on stock)"), "{line}");
    assert!(line.contains("AssertionError"), "{line}");
    // Without --strict the same candidate passes this scenario.
    let out = bin()
        .args([
            "verify",
            "--variant",
            "create-only+unlink-guard",
            "--scenario",
            "three-process",
            "--python",
        ])
        .arg(&py)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn run_with_cpython_tests_adds_the_counts_to_the_results() {
    let Some(py) = python("3.10") else { return };
    let (code, json) = run_json(&[
        "run",
        "--with-cpython-tests",
        "--variant",
        "stock",
        "--python",
        py.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{json:#}");
    let tests = json["cpython_tests"].as_array().expect("cpython_tests");
    assert_eq!(tests.len(), 1);
    assert_eq!(tests[0]["verdict"], "pass", "{json:#}");
    // Without the flag the field is absent.
    let (_, json) = run_json(&[
        "run",
        "--variant",
        "stock",
        "--python",
        py.to_str().unwrap(),
    ]);
    assert!(json.get("cpython_tests").is_none());
}

#[test]
fn report_with_cpython_tests_puts_the_counts_in_report_md() {
    let Some(py) = python("3.10") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bundle");
    let out = bin()
        .args([
            "report",
            "--quiet",
            "--with-cpython-tests",
            "--scenario",
            "three-process",
        ])
        .args(["--variant", "stock,create-only", "--python"])
        .arg(&py)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    assert!(md.contains("## CPython's own shared-memory tests"), "{md}");
    let row = md
        .lines()
        .find(|l| l.starts_with("| 3.10.") && l.contains("passed"))
        .unwrap_or_else(|| panic!("no counts row:\n{md}"));
    assert_eq!(row.matches("13 passed").count(), 2, "{row}");
}
