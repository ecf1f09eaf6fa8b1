//! Issue 20: `shmharness advise` and the usage dimension, held against
//! runs: every claim advise prints is checked against the case it cites
//! (run again, on its own), and the facts the issue names are observed on
//! the interpreters this machine has.
//!
//! What a usage needs is read from the stdlib's code, never from a
//! version: `track=False` needs `track` in `SharedMemory.__init__` (PR
//! #110778, in 3.13's `shared_memory.py`), `unregister` needs
//! `resource_tracker.unregister`, which every 3.8+ has.

use std::path::Path;

use crate::util::*;

/// advise's claims for `pythons` and `pattern`, as JSON.
fn advise(pythons: &[Py], pattern: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["advise", "--pattern", pattern];
    args.extend(extra);
    for p in pythons {
        args.extend(["--python", p.arg()]);
    }
    let (code, json) = run_json(&args);
    assert_eq!(code, 0, "{json:#}");
    json["advice"].as_array().expect("advice").clone()
}

fn claim<'a>(advice: &'a [serde_json::Value], py: &Py, usage: &str) -> &'a serde_json::Value {
    advice
        .iter()
        .find(|a| a["interpreter"] == py.version && a["usage"] == usage)
        .unwrap_or_else(|| panic!("no {usage} claim for {}: {advice:#?}", py.version))
}

/// Does `SharedMemory.__init__` of `py`'s installed stdlib take `track`?
/// Read from the source, as the issue asks (not from the version).
fn has_track_parameter(py: &Py) -> bool {
    let text = std::fs::read_to_string(py.multiprocessing.join("shared_memory.py")).unwrap();
    text.lines()
        .any(|l| l.contains("def __init__(") && l.contains("track"))
}

/// "advise on this machine's interpreters says, for the seed's pattern:
/// unregister-after-attach holds on 3.8-3.12, track-false holds on 3.13+,
/// default holds nowhere", and every claim is what the cited case shows.
#[test]
fn advise_for_the_seeds_pattern_rests_on_the_cases_it_cites() {
    let pythons = per_family();
    let advice = advise(&pythons, "three-process", &[]);
    for py in &pythons {
        let default = claim(&advice, py, "default");
        assert_eq!(default["holds"], false, "{}: {default:#}", py.version);
        let breaks: Vec<&str> = default["breaks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap())
            .collect();
        assert!(breaks.contains(&"P3 FileNotFoundError"), "{breaks:?}");
        let track = claim(&advice, py, "track-false");
        if has_track_parameter(py) {
            assert_eq!(track["holds"], true, "{}: {track:#}", py.version);
        } else {
            assert!(track["holds"].is_null(), "{}: {track:#}", py.version);
            assert!(
                track["unavailable"]
                    .as_str()
                    .unwrap()
                    .contains("SharedMemory has no track parameter"),
                "{track:#}"
            );
            // Where track=False does not exist, unregister is what holds.
            assert_eq!(claim(&advice, py, "unregister")["holds"], true);
        }
    }
    // Every claim, checked against its case run again on its own.
    for a in &advice {
        let rerun = a["evidence"]["rerun"].as_str().unwrap();
        let args: Vec<&str> = rerun
            .strip_prefix("shmharness ")
            .unwrap()
            .split(' ')
            .collect();
        let (_, json) = run_json(&args);
        let c = &cases(&json)[0];
        let harm: Vec<String> = symptom_keys(c)
            .into_iter()
            .filter(|k| !(k.ends_with("leak warning") || k.contains(" tracker ")))
            .collect();
        match a["holds"].as_bool() {
            Some(true) => assert!(harm.is_empty(), "{rerun}: {harm:?}"),
            Some(false) => assert!(!harm.is_empty(), "{rerun}: holds after all"),
            None => assert_eq!(c["verdict"], "n/a", "{rerun}"),
        }
    }
}

/// "No recommendation is hard-coded": a stdlib whose
/// `resource_tracker.unregister` does nothing (a fake overlay) changes the
/// advice: unregister no longer holds for the seed's pattern there.
#[test]
fn a_stdlib_that_breaks_a_usage_changes_the_advice() {
    let py = python("3.12");
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("noop-unregister.diff");
    std::fs::write(
        &diff,
        noop_unregister(&py.multiprocessing.join("resource_tracker.py")),
    )
    .unwrap();
    let stock = advise(std::slice::from_ref(&py), "three-process", &[]);
    let broken = advise(
        std::slice::from_ref(&py),
        "three-process",
        &["--patch", arg(&diff)],
    );
    assert_eq!(claim(&stock, &py, "unregister")["holds"], true);
    let now = claim(&broken, &py, "unregister");
    assert_eq!(now["holds"], false, "{now:#}");
    assert!(
        now["evidence"]["rerun"]
            .as_str()
            .unwrap()
            .contains("--patch"),
        "{now:#}"
    );
}

/// A diff of `py`'s own resource_tracker.py whose `unregister` sends
/// nothing.
fn noop_unregister(resource_tracker: &Path) -> String {
    let text = std::fs::read_to_string(resource_tracker).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let def = lines
        .iter()
        .position(|l| {
            l.trim_start()
                .starts_with("def unregister(self, name, rtype):")
        })
        .expect("ResourceTracker.unregister");
    let send = def + 2;
    assert!(
        lines[send].contains("_send('UNREGISTER'"),
        "{}",
        lines[send]
    );
    format!(
        "--- a/Lib/multiprocessing/resource_tracker.py\n+++ b/Lib/multiprocessing/resource_tracker.py\n@@ -{},3 +{},3 @@\n {}\n {}\n-{}\n+        pass  # patched: unregister does nothing\n",
        def + 1,
        def + 1,
        lines[def],
        lines[def + 1],
        lines[send]
    )
}

/// "run --usage track-false on 3.13.0 fixes the seed's pattern and still
/// shows the bug for shareable-list"; "on stock 3.12.1 it is n/a, naming
/// the API"; "with upstream's 3.12->3.13 track= change as --patch on
/// 3.12.1, it behaves as on 3.13.0".
#[test]
#[ignore = "needs a CPython without `track` (3.12) and one with it (3.13): pyenv and .ci/newer-pythons; .ci/run runs it"]
fn track_false_follows_the_api_not_the_version() {
    let (old, new) = (python("3.12"), python("3.13"));
    assert!(
        has_track_parameter(&new) && !has_track_parameter(&old),
        "needs a CPython without `track` (3.12, found {}) and one with it (3.13, found {})",
        old.version,
        new.version
    );
    let backport = upstream_backport(&old, &new);
    let dir = tempfile::tempdir().unwrap();
    let diff = dir.path().join("track.diff");
    std::fs::write(&diff, backport).unwrap();
    let range = format!("{}={}", old.minor_str(), arg(&diff));
    let (_, json) = run_json(&[
        "run",
        "--usage",
        "track-false",
        "--scenario",
        "three-process,shareable-list",
        "--patch",
        &range,
        "--python",
        old.arg(),
        "--python",
        new.arg(),
    ]);
    let keys = |py: &Py, variant: &str, scenario: &str| {
        let c = cases(&json)
            .iter()
            .find(|c| {
                c["executable"] == py.arg() && c["variant"] == variant && c["scenario"] == scenario
            })
            .unwrap_or_else(|| panic!("no {variant} {scenario} case"));
        (
            c["verdict"].as_str().unwrap().to_string(),
            symptom_keys(c),
            c["reason"].clone(),
        )
    };
    // 3.13: the seed's pattern is fixed, a ShareableList cannot take it.
    assert!(keys(&new, "stock", "three-process").1.is_empty());
    assert!(
        keys(&new, "stock", "shareable-list")
            .1
            .contains(&"P3 FileNotFoundError".to_string())
    );
    // Stock 3.12: n/a, naming the API.
    let (verdict, _, reason) = keys(&old, "stock", "three-process");
    assert_eq!(verdict, "n/a");
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("SharedMemory has no track parameter"),
        "{reason}"
    );
    // 3.12 with upstream's change: what 3.13 does, scenario by scenario.
    for scenario in ["three-process", "shareable-list"] {
        assert_eq!(
            keys(&old, "patch:track", scenario).1,
            keys(&new, "stock", scenario).1,
            "{scenario}"
        );
    }
}

/// Upstream's 3.12 -> 3.13 change to `shared_memory.py` (the `track=`
/// parameter, PR #110778), as a diff against `old`'s file.
fn upstream_backport(old: &Py, new: &Py) -> String {
    let a = old.multiprocessing.join("shared_memory.py");
    let b = new.multiprocessing.join("shared_memory.py");
    let out = std::process::Command::new("diff")
        .args(["-u", &a.display().to_string(), &b.display().to_string()])
        .output()
        .expect("diff(1)");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    lines.next();
    lines.next();
    let body: Vec<&str> = lines.collect();
    format!(
        "--- a/Lib/multiprocessing/shared_memory.py\n+++ b/Lib/multiprocessing/shared_memory.py\n{}\n",
        body.join("\n")
    )
}
