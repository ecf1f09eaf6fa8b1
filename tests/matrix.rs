//! Issue 3: every scenario x variant against the expectation table, the
//! spot symptoms a reviewer asks about, `verify`, and a user's own patch.

use crate::util::*;

const SCENARIOS: [&str; 8] = [
    "three-process",
    "attacher-unlinks",
    "creator-crashes",
    "creator-exits-without-unlink",
    "many-attachers",
    "family",
    "family-attacher-unlinks",
    "creator-unlinks-first",
];
const VARIANTS: [&str; 7] = [
    "stock",
    "create-only",
    "no-register",
    "create-only+unlink-guard",
    "create-only+lenient-tracker",
    "track-false",
    "userland-unregister",
];

#[test]
fn every_scenario_and_variant_matches_the_expectation_table() {
    let Some(m) = matrix() else { return };
    assert_eq!(m.code, 0, "exit code of the full matrix");
    let all = cases(&m.json);
    assert_eq!(
        all.len(),
        3 * SCENARIOS.len() * VARIANTS.len(),
        "one case per interpreter x scenario x variant"
    );
    for version in ["3.8", "3.10", "3.13"] {
        for scenario in SCENARIOS {
            for variant in VARIANTS {
                let c = case(&m.json, version, variant, scenario);
                let verdict = c["verdict"].as_str().unwrap();
                let what = format!("{version} {scenario} {variant}: {}", c["reason"]);
                if variant == "track-false" && version != "3.13" {
                    assert_eq!(verdict, "n/a", "{what}");
                    let reason = c["reason"].as_str().unwrap();
                    assert!(reason.contains("3.13"), "n/a without the reason: {what}");
                } else {
                    assert_eq!(verdict, "pass", "{what}\n{c:#}");
                }
            }
        }
    }
}

#[test]
fn the_side_effects_a_reviewer_asks_about_show_up() {
    let Some(m) = matrix() else { return };
    for version in ["3.8", "3.10", "3.13"] {
        // `if create:` alone: an attacher that unlinks confuses its tracker.
        let c = case(&m.json, version, "create-only", "attacher-unlinks");
        let keys = symptom_keys(c);
        assert!(
            keys.iter().any(|k| k == "P2 tracker KeyError"),
            "{version}: {keys:?}"
        );
        let p2 = process(c, "P2");
        let stderr = p2["stderr"].as_str().unwrap();
        assert!(
            stderr.contains("KeyError") && stderr.contains("resource_tracker.py"),
            "{version}: P2's tracker should print a KeyError traceback:\n{stderr}"
        );
        // The complete fix does not.
        let c = case(
            &m.json,
            version,
            "create-only+unlink-guard",
            "attacher-unlinks",
        );
        assert!(
            !symptom_keys(c).iter().any(|k| k.contains("KeyError")),
            "{version}: {:?}",
            symptom_keys(c)
        );

        // Deleting the register line removes the safety net for crashed creators.
        let c = case(&m.json, version, "no-register", "creator-crashes");
        assert!(
            symptom_keys(c).iter().any(|k| k == "segment leaked"),
            "{version}: {:?}",
            symptom_keys(c)
        );
        assert_eq!(c["segment_leaked"], true, "{version}");
        assert_eq!(process(c, "P1")["signal"], 9, "{version}: P1 is SIGKILLed");
        let c = case(&m.json, version, "stock", "creator-crashes");
        assert_eq!(c["segment_leaked"], false, "{version}: stock cleans up");
        assert!(
            symptom_keys(c).iter().any(|k| k == "P1 leak warning"),
            "{version}"
        );

        // The userland workaround unregisters the creator's own name in a family.
        let c = case(&m.json, version, "userland-unregister", "family");
        assert!(
            symptom_keys(c).iter().any(|k| k == "P1 tracker KeyError"),
            "{version}: {:?}",
            symptom_keys(c)
        );
        let c = case(&m.json, version, "stock", "family");
        assert!(
            symptom_keys(c).is_empty(),
            "{version}: a family shares one tracker: {:?}",
            symptom_keys(c)
        );

        // The control fails the same way everywhere.
        for variant in VARIANTS {
            if variant == "track-false" && version != "3.13" {
                continue;
            }
            let c = case(&m.json, version, variant, "creator-unlinks-first");
            assert_eq!(
                process(c, "P2")["exception"],
                "FileNotFoundError",
                "{version} {variant}"
            );
        }
    }
}

/// `verify` on one interpreter: (exit code, stdout + stderr).
fn verify(variant: &str, minors: &[&str]) -> Option<(i32, String)> {
    let pys = pythons(minors)?;
    let mut args = vec!["verify", "--variant", variant];
    for p in &pys {
        args.extend(["--python", arg(p)]);
    }
    let (code, out, err) = run_text(&args);
    Some((code, format!("{out}{err}")))
}

#[test]
fn verify_rejects_no_register_because_of_creator_crashes() {
    let Some((code, out)) = verify("no-register", &["3.8"]) else {
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("creator-crashes") && l.contains("segment leaked")),
        "{out}"
    );
}

#[test]
fn verify_rejects_create_only_because_an_attacher_unlinks() {
    let Some((code, out)) = verify("create-only", &["3.10"]) else {
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("attacher-unlinks") && l.contains("KeyError")),
        "{out}"
    );
}

#[test]
fn verify_accepts_the_complete_fix() {
    let Some((code, out)) = verify("create-only+lenient-tracker", &["3.13"]) else {
        return;
    };
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK"), "{out}");
}

/// The unlink guard (unregister only what this instance registered) breaks
/// a same-family child that unlinks: the creator's registration stays in the
/// shared tracker, which then warns and hits ENOENT at exit.
#[test]
fn verify_rejects_the_unlink_guard_because_a_family_child_unlinks() {
    let Some((code, out)) = verify("create-only+unlink-guard", &["3.10"]) else {
        return;
    };
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("family-attacher-unlinks") && l.contains("P1 leak warning")),
        "{out}"
    );
    assert!(
        !out.lines()
            .any(|l| l.contains("attacher-unlinks:") && l.contains("KeyError")),
        "{out}"
    );
}

/// A diff against 3.10-3.12's resource_tracker.py that changes the text of
/// the leak warning, which only the tracker process prints.
const WARNING_PATCH: &str = "\
--- a/Lib/multiprocessing/resource_tracker.py
+++ b/Lib/multiprocessing/resource_tracker.py
@@ -221,7 +221,7 @@
         for rtype, rtype_cache in cache.items():
             if rtype_cache:
                 try:
-                    warnings.warn('resource_tracker: There appear to be %d '
+                    warnings.warn('resource_tracker: PATCHED there appear to be %d '
                                   'leaked %s objects to clean up at shutdown' %
                                   (len(rtype_cache), rtype))
                 except Exception:
";

#[test]
fn a_user_patch_to_resource_tracker_reaches_the_tracker_process() {
    let Some(pys) = pythons(&["3.10", "3.13"]) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("warn.diff");
    std::fs::write(&patch, WARNING_PATCH).unwrap();
    let (code, json) = run_json(&[
        "run",
        "--patch",
        arg(&patch),
        "--python",
        arg(&pys[0]),
        "--python",
        arg(&pys[1]),
    ]);
    // It applies to 3.10 but not to 3.13: not a usage error, a failed cell.
    assert_eq!(code, 1, "{json:#}");
    assert_eq!(cases(&json).len(), 4, "stock and patch:warn.diff on two");

    let stock = process(case(&json, "3.10", "stock", "three-process"), "P2");
    let stderr = stock["stderr"].as_str().unwrap();
    assert!(stderr.contains("There appear to be") && !stderr.contains("PATCHED"));

    let patched = case(&json, "3.10", "patch:warn.diff", "three-process");
    let p2 = process(patched, "P2");
    let stderr = p2["stderr"].as_str().unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("UserWarning: resource_tracker: PATCHED there appear to be 1 leaked"))
        .unwrap_or_else(|| panic!("the tracker did not print the patched warning:\n{stderr}"));
    // ... from the overlay's resource_tracker.py, not the installed one.
    let install = pys[0].parent().unwrap().parent().unwrap();
    assert!(!line.starts_with(arg(install)), "{line}");
    assert!(!stderr.contains("There appear to be"), "{stderr}");
    assert_eq!(p2["exit_code"], 0);

    let other = case(&json, "3.13", "patch:warn.diff", "three-process");
    assert_eq!(other["verdict"], "error", "{other:#}");
    let reason = other["reason"].as_str().unwrap();
    assert!(
        reason.contains("does not apply")
            && reason.contains("resource_tracker.py")
            && reason.contains("hunk"),
        "{reason}"
    );
    assert_segments_gone(&json);
}

#[test]
fn a_patch_whose_context_does_not_match_is_exit_2_with_one_line() {
    let Some(py) = python("3.10") else { return };
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("stale.diff");
    std::fs::write(
        &patch,
        WARNING_PATCH.replace(
            "                 try:",
            "                 try:  # not there",
        ),
    )
    .unwrap();
    let (code, out, err) = run_text(&["run", "--patch", arg(&patch), "--python", arg(&py)]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got:\n{err}");
    assert!(
        lines[0].contains("resource_tracker.py") && lines[0].contains("hunk #1"),
        "{}",
        lines[0]
    );
}
