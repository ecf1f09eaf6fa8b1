//! Issue 3: every scenario x variant against the expectation table, the
//! spot symptoms a reviewer asks about, `verify`, and a user's own patch.
//! (The table's rows are cross-checked from first principles in facts.rs,
//! which never reads the table.)

use std::path::Path;

use crate::util::*;

/// Every scenario `--scenario all` runs, in catalogue order; facts.rs
/// models each one and requires the run to hold exactly these.
pub const SCENARIOS: [&str; 14] = [
    "three-process",
    "attacher-unlinks",
    "creator-crashes",
    "creator-exits-without-unlink",
    "many-attachers",
    "family",
    "family-attacher-unlinks",
    "creator-unlinks-first",
    "family-object",
    "family-object-unlinks",
    "shareable-list",
    "manager",
    "raw-fork",
    "attach-fails",
];
/// Every built-in variant, from the library's own catalogue (facts.rs
/// models each one).
pub fn builtin_variants() -> Vec<&'static str> {
    let mut cells = shmharness::catalogue::variants();
    cells.extend(USAGE_CELLS.iter().map(|(cell, _)| *cell));
    cells
}

/// The names a results document lists under `key` (`scenarios`, `variants`).
fn names(json: &serde_json::Value, key: &str) -> Vec<String> {
    json[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// Scenarios whose attachers cannot pass `track=False` on any stdlib:
/// `ShareableList(name)` has no such parameter (Lib/multiprocessing/
/// shared_memory.py, 3.13-3.15), and the others' children receive the
/// object (inherited, pickled, or from a manager) rather than construct it.
const NO_WAY_TO_PASS_TRACK: &[&str] = &[
    "shareable-list",
    "family-object",
    "family-object-unlinks",
    "manager",
];

#[test]
fn every_scenario_and_variant_matches_the_expectation_table() {
    let m = matrix();
    let (scenarios, variants) = (names(&m.json, "scenarios"), names(&m.json, "variants"));
    for s in SCENARIOS {
        assert!(scenarios.iter().any(|n| n == s), "`all` lacks {s}");
    }
    for v in builtin_variants() {
        let (variant, _) = cell(v);
        assert!(variants.iter().any(|n| n == variant), "`all` lacks {v}");
    }
    // Stdlib variants with plain attachers, and stock with each usage.
    let variants = builtin_variants();
    let mut expected_cases = 0;
    for py in &m.pythons {
        for scenario in &scenarios {
            for variant in &variants {
                let found = cases_for(&m.json, py, variant, scenario);
                // One case, or one per start method for a scenario with a
                // multiprocessing child.
                let methods: Vec<&str> = found
                    .iter()
                    .filter_map(|c| c["start_method"].as_str())
                    .collect();
                if methods.is_empty() {
                    assert_eq!(found.len(), 1, "{} {scenario} {variant}", py.version);
                } else {
                    let mut sorted = methods.clone();
                    sorted.sort();
                    assert_eq!(
                        sorted,
                        ["fork", "forkserver", "spawn"],
                        "{} {scenario} {variant}",
                        py.version
                    );
                }
                expected_cases += found.len();
                for c in found {
                    let verdict = c["verdict"].as_str().unwrap();
                    let what = format!(
                        "{} {scenario} {variant} {}: {}",
                        py.version, c["start_method"], c["reason"]
                    );
                    if *variant == "track-false" && !py.has_track() {
                        assert_eq!(verdict, "n/a", "{what}");
                        let reason = c["reason"].as_str().unwrap();
                        assert!(
                            reason.contains("SharedMemory has no track parameter"),
                            "n/a without the missing API: {what}"
                        );
                    } else if *variant == "track-false"
                        && NO_WAY_TO_PASS_TRACK.contains(&scenario.as_str())
                    {
                        // The role said it could not pass track=False.
                        assert_eq!(verdict, "n/a", "{what}");
                        let said = c["processes"].as_array().unwrap().iter().any(|p| {
                            p["events"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .any(|e| e["event"] == "mode-unsupported")
                        });
                        assert!(said, "n/a, but no role said it could not: {what}");
                    } else {
                        assert_eq!(verdict, "pass", "{what}\n{c:#}");
                    }
                }
            }
        }
    }
    assert_eq!(
        cases(&m.json).len(),
        expected_cases,
        "no case outside the grid"
    );
    // Last, so that a failing case is named above rather than only counted.
    assert_eq!(m.code, 0, "exit code of the full matrix");
}

#[test]
fn the_side_effects_a_reviewer_asks_about_show_up() {
    let m = matrix();
    for py in &m.pythons {
        let version = &py.version;
        // `if create:` alone: an attacher that unlinks confuses its tracker.
        let c = case(&m.json, py, "create-only", "attacher-unlinks");
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
        let c = case(&m.json, py, "create-only+unlink-guard", "attacher-unlinks");
        assert!(
            !symptom_keys(c).iter().any(|k| k.contains("KeyError")),
            "{version}: {:?}",
            symptom_keys(c)
        );

        // Deleting the register line removes the safety net for crashed creators.
        let c = case(&m.json, py, "no-register", "creator-crashes");
        assert!(
            symptom_keys(c).iter().any(|k| k == "segment leaked"),
            "{version}: {:?}",
            symptom_keys(c)
        );
        assert_eq!(c["segment_leaked"], true, "{version}");
        assert_eq!(process(c, "P1")["signal"], 9, "{version}: P1 is SIGKILLed");
        let c = case(&m.json, py, "stock", "creator-crashes");
        assert_eq!(c["segment_leaked"], false, "{version}: stock cleans up");
        assert!(
            symptom_keys(c).iter().any(|k| k == "P1 leak warning"),
            "{version}"
        );

        // The userland workaround unregisters the creator's own name in a family.
        let c = case(&m.json, py, "userland-unregister", "family");
        assert!(
            symptom_keys(c).iter().any(|k| k == "P1 tracker KeyError"),
            "{version}: {:?}",
            symptom_keys(c)
        );
        let c = case(&m.json, py, "stock", "family");
        assert!(
            symptom_keys(c).is_empty(),
            "{version}: a family shares one tracker: {:?}",
            symptom_keys(c)
        );

        // The control fails the same way everywhere.
        for variant in builtin_variants() {
            if variant == "track-false" && !py.has_track() {
                continue;
            }
            let c = case(&m.json, py, variant, "creator-unlinks-first");
            assert_eq!(
                process(c, "P2")["exception"],
                "FileNotFoundError",
                "{version} {variant}"
            );
        }
    }
}

/// `verify` on one interpreter: (exit code, stdout + stderr).
fn verify(variant: &str, py: &Py) -> (i32, String) {
    let (code, out, err) = run_text(&["verify", "--variant", variant, "--python", py.arg()]);
    (code, format!("{out}{err}"))
}

#[test]
fn verify_rejects_no_register_because_of_creator_crashes() {
    let (code, out) = verify("no-register", &python("3.8"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("creator-crashes") && l.contains("segment leaked")),
        "{out}"
    );
}

#[test]
fn verify_rejects_create_only_because_an_attacher_unlinks() {
    let (code, out) = verify("create-only", &python("3.10"));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.lines()
            .any(|l| l.contains("attacher-unlinks") && l.contains("KeyError")),
        "{out}"
    );
}

#[test]
fn verify_accepts_the_complete_fix() {
    let (code, out) = verify("create-only+lenient-tracker", &python("3.13"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("OK"), "{out}");
}

/// The unlink guard (unregister only what this instance registered) breaks
/// a same-family child that unlinks: the creator's registration stays in the
/// shared tracker, which then warns and hits ENOENT at exit.
#[test]
fn verify_rejects_the_unlink_guard_because_a_family_child_unlinks() {
    let (code, out) = verify("create-only+unlink-guard", &python("3.10"));
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

/// The line of resource_tracker.py that holds the leak warning's text.
const WARNING_TEXT: &str = "resource_tracker: There appear to be";

/// A unified diff against `py`'s own resource_tracker.py that changes the
/// text of the leak warning (which only the tracker process prints), made
/// from the installed file so it applies to whatever version this is.
fn warning_patch(resource_tracker: &Path) -> String {
    let text = std::fs::read_to_string(resource_tracker).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.contains(WARNING_TEXT))
        .expect("the leak warning in resource_tracker.py");
    let (from, to) = (at.saturating_sub(3), (at + 3).min(lines.len() - 1));
    let mut diff = format!(
        "--- a/Lib/multiprocessing/resource_tracker.py\n+++ b/Lib/multiprocessing/resource_tracker.py\n@@ -{0},{1} +{0},{1} @@\n",
        from + 1,
        to - from + 1
    );
    for (i, l) in lines.iter().enumerate().take(to + 1).skip(from) {
        if i == at {
            diff += &format!("-{l}\n");
            diff += &format!(
                "+{}\n",
                l.replace(WARNING_TEXT, "resource_tracker: PATCHED there appear to be")
            );
        } else {
            diff += &format!(" {l}\n");
        }
    }
    diff
}

#[test]
fn a_user_patch_to_resource_tracker_reaches_the_tracker_process() {
    let py = any_python();
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("warn.diff");
    std::fs::write(
        &patch,
        warning_patch(&py.multiprocessing.join("resource_tracker.py")),
    )
    .unwrap();
    // A second interpreter whose resource_tracker.py differs in the
    // patch's context (a comment above the warning), so the patch cannot
    // apply to it.
    let other = relocated_copy(&py, |mp| {
        let f = mp.join("resource_tracker.py");
        let text = std::fs::read_to_string(&f).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let at = lines.iter().position(|l| l.contains(WARNING_TEXT)).unwrap();
        lines.insert(at - 1, "# context the patch does not know");
        std::fs::write(&f, lines.join("\n") + "\n").unwrap();
    });
    // Without --keep-going the run would stop before any case (a patch
    // that cannot apply everywhere is a known "no verdict").
    let (code, json) = run_json(&[
        "run",
        "--keep-going",
        // The relocated copy is probed cold: no short timeout.
        "--probe-timeout",
        "60",
        "--patch",
        arg(&patch),
        "--python",
        py.arg(),
        "--python",
        arg(&other.exe),
    ]);
    // It applies to one interpreter but not to the other: that cell could
    // not run (an error, exit 2: no answer), the other interpreter's ran.
    assert_eq!(code, 2, "{json:#}");
    assert_eq!(cases(&json).len(), 4, "stock and the patch on two");
    let variant = cases(&json)
        .iter()
        .map(|c| c["variant"].as_str().unwrap())
        .find(|v| v.starts_with("patch:warn"))
        .expect("the patch's variant")
        .to_string();

    let stock = process(case(&json, &py, "stock", "three-process"), "P2");
    let stderr = stock["stderr"].as_str().unwrap();
    assert!(stderr.contains("There appear to be") && !stderr.contains("PATCHED"));

    let patched = case(&json, &py, &variant, "three-process");
    let p2 = process(patched, "P2");
    let stderr = p2["stderr"].as_str().unwrap();
    let line = stderr
        .lines()
        .find(|l| l.contains("UserWarning: resource_tracker: PATCHED there appear to be"))
        .unwrap_or_else(|| panic!("the tracker did not print the patched warning:\n{stderr}"));
    // ... from the overlay's resource_tracker.py, not the installed one.
    assert!(!line.starts_with(arg(&py.multiprocessing)), "{line}");
    assert!(!stderr.contains("There appear to be"), "{stderr}");
    assert_eq!(p2["exit_code"], 0);

    let other_case = cases(&json)
        .iter()
        .find(|c| {
            c["variant"] == variant.as_str()
                && c["executable"] != py.arg()
                && c["scenario"] == "three-process"
        })
        .expect("the relocated interpreter's patched case");
    assert_eq!(other_case["verdict"], "error", "{other_case:#}");
    let reason = other_case["reason"].as_str().unwrap();
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
    let py = any_python();
    let dir = tempfile::tempdir().unwrap();
    let patch = dir.path().join("stale.diff");
    let good = warning_patch(&py.multiprocessing.join("resource_tracker.py"));
    // Spoil the last context line of the hunk (the first and the changed
    // lines still match: only a full comparison of the context notices).
    let mut lines: Vec<String> = good.lines().map(str::to_string).collect();
    let last = lines
        .iter()
        .rposition(|l| l.starts_with(' '))
        .expect("a context line");
    lines[last].push_str("  # not there");
    let stale = lines.join("\n") + "\n";
    assert_ne!(good, stale);
    std::fs::write(&patch, stale).unwrap();
    let (code, out, err) = run_text(&["run", "--patch", arg(&patch), "--python", py.arg()]);
    assert_eq!(code, 2, "stdout:\n{out}\nstderr:\n{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line on stderr, got:\n{err}");
    assert!(
        lines[0].contains("resource_tracker.py") && lines[0].contains("hunk #1"),
        "{}",
        lines[0]
    );
}
