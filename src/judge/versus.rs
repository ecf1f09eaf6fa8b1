//! What a candidate did to a case, in words relative to stock's case on
//! the same interpreter and scenario: the one vocabulary every output uses
//! for a change. A cell whose symptoms equal stock's reads as stock's
//! does; a changed one reads `fixed`, `worse: +X`, `introduces the bug`, or
//! says what it no longer shows. Nothing here reads a version number or the
//! expectation table: only the two cases.

use crate::contract::{Case, ScenarioId};

/// Symptoms that mean a scenario is broken on stock in a way the seed's
/// bug does not cover, with the words a reader knows: the owner's segment
/// destroyed by an attach that failed (gh-153279), the creator's tracker
/// warning about a segment someone else unlinked.
pub fn harm_signs(scenario: ScenarioId) -> &'static [(&'static str, &'static str)] {
    match scenario {
        ScenarioId::AttachFails => &[("P3 FileNotFoundError", "segment destroyed")],
        ScenarioId::AttacherUnlinks => &[
            ("P1 leak warning", "P1 leak warning"),
            ("P1 tracker error", "P1 tracker error"),
        ],
        _ => &[],
    }
}

/// Symptom keys `a` has that `b` does not.
fn minus<'a>(a: &'a Case, b: &Case) -> Vec<&'a str> {
    a.symptoms
        .iter()
        .map(|s| s.key.as_str())
        .filter(|k| !b.has(k))
        .collect()
}

/// `cand` in words against `stock`.
pub fn describe(cand: &Case, stock: &Case) -> String {
    let (bug_before, bug_after) = (super::bug_reproduced(stock), super::bug_reproduced(cand));
    let new = minus(cand, stock);
    let gone = minus(stock, cand);
    let worse = || format!("worse: +{}", new.join(", +"));
    match (bug_before, bug_after) {
        (false, true) => "introduces the bug".into(),
        (true, false) if new.is_empty() => "fixed".into(),
        (true, false) => format!("fixed, {}", worse()),
        _ if !new.is_empty() => worse(),
        _ if gone.is_empty() => stock.outcome.clone(),
        // Fewer symptoms than stock, none new: what it shows in its own
        // words (never stock's label, which would contradict them), and
        // what stock showed.
        _ => format!(
            "{} (stock: {}, -{})",
            super::describe(cand),
            stock.outcome,
            gone.join(", -")
        ),
    }
}

/// Why `cand` fails against `stock`, if it does: the bug still there (or
/// brought in), or a symptom stock does not show.
pub fn failures(cand: &Case, stock: &Case) -> Vec<String> {
    let mut out = Vec::new();
    if super::bug_reproduced(cand) {
        out.push(if super::bug_reproduced(stock) {
            "the bug still reproduces".to_string()
        } else {
            // Stock is clean here: the candidate brought the bug in.
            "introduces the bug (stock does not show it here)".to_string()
        });
    }
    out
}

/// What stays as broken as on stock: the harm signs stock shows that the
/// candidate still shows, as `attach-fails (segment destroyed)`.
pub fn still_broken(cand: &Case, stock: &Case) -> Option<String> {
    let words: Vec<&str> = harm_signs(cand.scenario)
        .iter()
        .filter(|(key, _)| stock.has(key) && cand.has(key))
        .map(|(_, words)| *words)
        .collect();
    (!words.is_empty()).then(|| format!("{} ({})", cand.row(), words.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Verdict;
    use crate::contract::fixtures::{SEED_BUG, case};

    fn c(variant: &str, scenario: ScenarioId, outcome: &str, keys: &[&str]) -> Case {
        case("3.13.0", variant, scenario, Verdict::Pass, outcome, keys)
    }

    #[test]
    fn an_unchanged_cell_reads_as_stock_does() {
        let stock = c(
            "stock",
            ScenarioId::AttacherUnlinks,
            "creator's tracker warns",
            &["P1 leak warning", "P1 tracker error"],
        );
        let cand = c(
            "patch:x",
            ScenarioId::AttacherUnlinks,
            "",
            &["P1 leak warning", "P1 tracker error"],
        );
        assert_eq!(describe(&cand, &stock), "creator's tracker warns");
        assert_eq!(
            still_broken(&cand, &stock).as_deref(),
            Some("attacher-unlinks (P1 leak warning, P1 tracker error)")
        );
        assert!(failures(&cand, &stock).is_empty());
    }

    #[test]
    fn changes_have_their_words() {
        let stock = c(
            "stock",
            ScenarioId::ThreeProcess,
            "bug reproduced",
            SEED_BUG,
        );
        let fixed = c("patch:x", ScenarioId::ThreeProcess, "", &[]);
        assert_eq!(describe(&fixed, &stock), "fixed");
        let fixed_worse = c(
            "patch:x",
            ScenarioId::ThreeProcess,
            "",
            &["P2 tracker KeyError"],
        );
        assert_eq!(
            describe(&fixed_worse, &stock),
            "fixed, worse: +P2 tracker KeyError"
        );
        let clean = c("stock", ScenarioId::Family, "clean", &[]);
        let worse = c(
            "patch:x",
            ScenarioId::Family,
            "",
            &["P1 tracker KeyError", "P1 exit 1"],
        );
        assert_eq!(
            describe(&worse, &clean),
            "worse: +P1 tracker KeyError, +P1 exit 1"
        );
        let destroyed = c(
            "stock",
            ScenarioId::AttachFails,
            "segment destroyed",
            &["P2 tracker KeyError", "P3 FileNotFoundError"],
        );
        let fewer = c(
            "patch:x",
            ScenarioId::AttachFails,
            "",
            &["P3 FileNotFoundError"],
        );
        assert_eq!(
            describe(&fewer, &destroyed),
            "P3 FileNotFoundError (stock: segment destroyed, -P2 tracker KeyError)"
        );
        // Nothing at all where stock warned: not stock's label.
        let warned = c(
            "stock",
            ScenarioId::AttacherUnlinks,
            "creator's tracker warns",
            &["P1 leak warning", "P1 tracker error"],
        );
        let quiet = c("patch:x", ScenarioId::AttacherUnlinks, "", &[]);
        let words = describe(&quiet, &warned);
        assert!(!words.starts_with("creator's tracker warns"), "{words}");
        assert_eq!(
            still_broken(&fewer, &destroyed).as_deref(),
            Some("attach-fails (segment destroyed)")
        );
    }

    #[test]
    fn a_bug_stock_does_not_show_is_introduced_not_still_there() {
        // raw-fork on 3.13.0: stock clean; a backport of the at-fork
        // handler makes the raw-fork child's tracker destroy the segment.
        let stock = c("stock", ScenarioId::RawFork, "clean", &[]);
        let cand = c(
            "patch:backport",
            ScenarioId::RawFork,
            "",
            &[
                "P1 FileNotFoundError",
                "P1 leak warning",
                "P1 tracker error",
            ],
        );
        assert_eq!(describe(&cand, &stock), "introduces the bug");
        let why = failures(&cand, &stock);
        assert_eq!(why, ["introduces the bug (stock does not show it here)"]);
        let seed = c(
            "stock",
            ScenarioId::ThreeProcess,
            "bug reproduced",
            SEED_BUG,
        );
        let same = c("patch:x", ScenarioId::ThreeProcess, "", SEED_BUG);
        assert_eq!(failures(&same, &seed), ["the bug still reproduces"]);
        assert_eq!(describe(&same, &seed), "bug reproduced");
    }
}
