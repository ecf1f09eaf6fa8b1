//! `merge --report`: the bundle made from CI legs that ran different cells,
//! on real interpreters. What a reviewer found wrong in it: cells that did
//! not run on an interpreter hidden in the compact matrix, report.md citing
//! paths of shmharness's repository instead of the bundle's, and two
//! interpreters under one id merged as one.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

/// `run` on `py` with `variants` and the seed's scenario, written to
/// `dir/name`; it must pass.
fn leg(dir: &Path, name: &str, py: &str, variants: &str) -> PathBuf {
    let file = dir.join(name);
    let (code, out, err) = run_text(&[
        "run",
        "--quiet",
        "--python",
        py,
        "--variant",
        variants,
        "--scenario",
        "three-process",
        "--start-method",
        "spawn",
        "--json",
        arg(&file),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    file
}

fn read(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn write(p: &Path, v: &Value) {
    std::fs::write(p, serde_json::to_string(v).unwrap()).unwrap();
}

/// The one interpreter id of a leg.
fn id_of(leg: &Path) -> String {
    read(leg)["interpreters"][0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Two legs: 3.12 with stock and create-only, 3.15 with stock only. On a
/// machine with one CPython both are the same interpreter; the second leg's
/// is then given another id, so that the legs still cover different
/// interpreters. Returns the dir, the legs and the two ids.
fn two_legs() -> (tempfile::TempDir, [PathBuf; 2], [String; 2]) {
    let (a, b) = (python("3.12"), python("3.15"));
    let dir = tempfile::tempdir().unwrap();
    let la = leg(dir.path(), "leg12.json", a.arg(), "stock,create-only");
    let lb = leg(dir.path(), "leg15.json", b.arg(), "stock");
    let (ia, mut ib) = (id_of(&la), id_of(&lb));
    if ia == ib {
        ib = format!("{ib}-b");
        let mut r = read(&lb);
        r["interpreters"][0]["id"] = ib.clone().into();
        for c in r["cases"].as_array_mut().unwrap() {
            c["interpreter"] = ib.clone().into();
        }
        write(&lb, &r);
    }
    (dir, [la, lb], [ia, ib])
}

/// `merge LEGS --report DIR`; (exit code, stdout, stderr).
fn merge_report(legs: &[PathBuf], out: &Path) -> (i32, String, String) {
    let mut args = vec!["merge"];
    args.extend(legs.iter().map(|l| arg(l)));
    args.extend(["--report", arg(out)]);
    run_text(&args)
}

#[test]
fn a_cell_that_one_leg_did_not_run_shows_as_a_difference() {
    let (dir, legs, [a, b]) = two_legs();
    let out = dir.path().join("rep");
    let (code, stdout, err) = merge_report(&legs, &out);
    assert_eq!(code, 0, "{stdout}{err}");
    let row = format!("| three-process | bug reproduced | fixed ({a}); - ({b}) |");
    for f in ["report.md", "summary.md"] {
        let md = std::fs::read_to_string(out.join(f)).unwrap();
        assert!(md.contains(&row), "{f} lacks {row:?}:\n{md}");
    }
    // Wall time is the longest leg's and CPU the legs' sum: no claim
    // about workers or how near the best the cores allow.
    let summary = err.lines().last().unwrap_or("");
    assert!(
        summary.contains("(longest of 2 legs; CPU ") && summary.ends_with(" s over all legs)"),
        "{err}"
    );
    assert!(
        !err.contains("workers") && !err.contains("near the best"),
        "{err}"
    );
}

#[test]
fn report_md_cites_only_paths_that_are_in_the_bundle() {
    let (dir, legs, [a, _]) = two_legs();
    let out = dir.path().join("rep");
    let (code, stdout, err) = merge_report(&legs, &out);
    assert_eq!(code, 0, "{stdout}{err}");
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    // Every path in a code span, a <code> or a link that is under patches/
    // or diffs/, or names a file of the bundle.
    let re =
        regex::Regex::new(r#"\]\(([^)\s]+)\)|href="([^"]+)"|`([^`\s<]+)`|<code>([^<\s]+)</code>"#)
            .unwrap();
    let cited: Vec<String> = re
        .captures_iter(&md)
        .filter_map(|c| {
            (1..=4)
                .find_map(|i| c.get(i))
                .map(|m| m.as_str().to_string())
        })
        .filter(|p| !p.starts_with("http") && !p.starts_with('/'))
        .filter(|p| {
            p.starts_with("patches/")
                || p.starts_with("diffs/")
                || [".md", ".json", ".xml", ".py", ".diff"]
                    .iter()
                    .any(|e| p.ends_with(e))
        })
        .collect();
    let want = format!("patches/{a}/create-only.diff");
    assert!(cited.contains(&want), "{want} not cited:\n{md}");
    let missing: Vec<&String> = cited.iter().filter(|p| !out.join(p).exists()).collect();
    assert!(missing.is_empty(), "not in the bundle: {missing:?}\n{md}");
}

#[test]
fn one_id_for_two_executables_is_refused_naming_both() {
    // A second executable of the same version. Here discovery also finds
    // the first and calls the copy `3.12.1@explicit`; on a CI runner of its
    // own it would be plain `3.12.1`, as the leg says after this edit.
    let py = python("3.12");
    let copy = relocated_copy(&py, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let la = leg(dir.path(), "a.json", py.arg(), "stock");
    let lb = leg(dir.path(), "b.json", arg(&copy.exe), "create-only");
    let id = id_of(&la);
    let mut r = read(&lb);
    r["interpreters"][0]["id"] = id.clone().into();
    for c in r["cases"].as_array_mut().unwrap() {
        c["interpreter"] = id.clone().into();
    }
    write(&lb, &r);
    let exe = |l: &Path| {
        read(l)["interpreters"][0]["executable"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (ea, eb) = (exe(&la), exe(&lb));
    assert_ne!(ea, eb);
    let out = dir.path().join("rep");
    let (code, stdout, err) = merge_report(&[la.clone(), lb.clone()], &out);
    assert_eq!(code, 2, "{stdout}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains(&ea) && err.contains(&eb) && err.contains(&id),
        "{err}"
    );
    assert!(!out.exists());

    // Legs of different tool versions merge, with one warning.
    let mut r = read(&lb);
    r["tool"] = "shmharness 9.9.9".into();
    r["interpreters"][0]["id"] = "copy".into();
    for c in r["cases"].as_array_mut().unwrap() {
        c["interpreter"] = "copy".into();
    }
    write(&lb, &r);
    let (code, stdout, err) = run_text(&["merge", "--quiet", arg(&la), arg(&lb)]);
    assert_eq!(code, 0, "{stdout}{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning:")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains("different shmharness versions") && warnings[0].contains("9.9.9"),
        "{err}"
    );

    // A schema_version in quotes is not "no schema_version".
    r["schema_version"] = "1".into();
    write(&lb, &r);
    let (code, _, err) = run_text(&["merge", arg(&la), arg(&lb)]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("b.json")
            && err.contains("not a number")
            && !err.contains("no schema_version"),
        "{err}"
    );
}
