//! Merging results.json files (CI legs, one interpreter each) into one
//! results set: the union of their cases, checked for conflicts.
//!
//! Cases are keyed by (interpreter, variant, scenario). The same key in two
//! files is fine when both say the same (verdict, outcome, symptom keys);
//! otherwise it is an error naming both files. So is a CPython test run
//! (interpreter, variant) two files report with another verdict or other
//! failing tests. One interpreter id for two executables (two legs'
//! `3.12.1` from different installs) is an error naming both, since their
//! cases could not be told apart. A file with another `schema_version` (or
//! one that is not a number), the same file twice, a file with no cases, a
//! case of an interpreter the file does not list, or a name that cannot be
//! a file name in a bundle (`..`, `a/b`) is an error too: merged results
//! must be complete and safe to write. Legs written by different shmharness
//! versions get a warning.

use std::collections::BTreeMap;
use std::path::Path;

use super::output::safe_component;
use crate::contract::{Case, MergedLeg, Results, SCHEMA_VERSION, TestRun, Verdict};

/// Why the legs cannot be merged: bad input, named with its file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("{0}")]
    Input(String),
}

pub fn load(path: &Path) -> Result<Results, MergeError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| MergeError::Input(format!("cannot read {shown}: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| MergeError::Input(format!("{shown} is not JSON: {e}")))?;
    check_schema_version(value.get("schema_version"))
        .map_err(|e| MergeError::Input(format!("{shown}: {e}")))?;
    let mut results: Results = serde_json::from_value(value)
        .map_err(|e| MergeError::Input(format!("{shown} is not a shmharness results.json: {e}")))?;
    check(&results).map_err(|e| MergeError::Input(format!("{shown}: {e}")))?;
    usages_from_old_variants(&mut results);
    Ok(results)
}

/// A leg written before usages were their own dimension has `track-false`
/// and `userland-unregister` as variants: read them as what they meant,
/// stock under that usage, so they merge with newer legs' cells.
fn usages_from_old_variants(results: &mut Results) {
    use crate::overlay::variant::USAGE_ALIASES;
    let usage_of = |name: &str| {
        USAGE_ALIASES
            .iter()
            .find(|(alias, _)| *alias == name)
            .map(|(_, u)| *u)
    };
    for c in &mut results.cases {
        if let Some(usage) = usage_of(&c.variant) {
            c.variant = crate::contract::VariantId::Stock.name().to_string();
            c.usage = usage;
        }
    }
    results.variants.retain(|v| usage_of(&v.name).is_none());
}

/// `schema_version` must be the number this shmharness reads.
fn check_schema_version(v: Option<&serde_json::Value>) -> std::result::Result<(), String> {
    match v {
        None => Err("no schema_version; not a shmharness results.json".into()),
        Some(v) => match v.as_u64() {
            Some(n) if n == u64::from(SCHEMA_VERSION) => Ok(()),
            Some(n) => Err(format!(
                "schema_version {n}, but this shmharness reads schema_version {SCHEMA_VERSION}"
            )),
            None => Err(format!(
                "schema_version is {}, not a number; it must be the number {SCHEMA_VERSION} (no quotes)",
                crate::term::style::printable(&crate::term::style::short_to(&v.to_string(), 40))
            )),
        },
    }
}

/// One line when the legs were written by different shmharness versions
/// (each leg's `tool`): their results are merged all the same, but a
/// difference between legs may then be the tool's. (`merged_from` has no
/// field for it; the contract is unchanged.)
pub fn tool_versions_differ(inputs: &[(String, Results)]) -> Option<String> {
    let mut tools: Vec<(&str, Vec<&str>)> = Vec::new();
    for (file, r) in inputs {
        match tools.iter_mut().find(|(t, _)| *t == r.tool) {
            Some((_, files)) => files.push(file),
            None => tools.push((&r.tool, vec![file])),
        }
    }
    if tools.len() < 2 {
        return None;
    }
    let each: Vec<String> = tools
        .iter()
        .map(|(tool, files)| {
            let files = match files.len() {
                1..=3 => files.join(", "),
                n => format!("{}, {} and {} more", files[0], files[1], n - 2),
            };
            format!("{} ({files})", crate::term::style::printable(tool))
        })
        .collect();
    Some(format!(
        "the legs were written by different shmharness versions: {}; a difference between legs may be the tool's",
        each.join("; ")
    ))
}

/// What makes an input unusable even though it parses.
fn check(r: &Results) -> std::result::Result<(), String> {
    if r.cases.is_empty() {
        return Err("no cases (a leg that ran nothing)".into());
    }
    for i in &r.interpreters {
        safe_component("interpreter", &i.id).map_err(|e| e.to_string())?;
    }
    for v in &r.variants {
        safe_component("variant", &v.name).map_err(|e| e.to_string())?;
    }
    for c in &r.cases {
        if r.interpreter(&c.interpreter).is_none() {
            return Err(format!(
                "a case of interpreter `{}`, which the file does not list",
                crate::term::style::printable(&c.interpreter)
            ));
        }
        safe_component("variant", &c.variant).map_err(|e| e.to_string())?;
        for p in &c.processes {
            safe_component("process label", &p.label).map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// What two runs of one case must agree on.
fn signature(c: &Case) -> (String, String, Vec<String>) {
    (
        c.verdict.as_str().to_string(),
        c.outcome.clone(),
        c.symptoms.iter().map(|s| s.key.clone()).collect(),
    )
}

pub fn merge(inputs: Vec<(String, Results)>) -> Result<Results, MergeError> {
    let Some((_, first)) = inputs.first() else {
        return Err(MergeError::Input("nothing to merge".into()));
    };
    let mut m = Merger {
        out: Results::empty(crate::host::sys::tool(), first.host.clone()),
        seen: BTreeMap::new(),
        interp_file: BTreeMap::new(),
        test_seen: BTreeMap::new(),
    };
    for (file, r) in inputs {
        m.out.merged_from.push(MergedLeg {
            file: file.clone(),
            host: r.host.clone(),
            interpreters: r.interpreters.iter().map(|i| i.id.clone()).collect(),
        });
        m.interpreters(&file, r.interpreters)?;
        m.variants(r.variants);
        for s in r.scenarios {
            if !m.out.scenarios.iter().any(|o| o.name == s.name) {
                m.out.scenarios.push(s);
            }
        }
        m.cases(&file, r.cases)?;
        m.test_runs(&file, r.cpython_tests)?;
        let (t, out) = (&r.timing, &mut m.out.timing);
        out.wall_ms = out.wall_ms.max(t.wall_ms);
        out.children_cpu_ms += t.children_cpu_ms;
        out.cores = out.cores.max(t.cores);
        out.jobs = out.jobs.max(t.jobs);
    }
    Ok(m.sorted())
}

/// The union so far, and where each part came from.
struct Merger {
    out: Results,
    /// (interpreter, variant, row) -> (file, index in out.cases)
    seen: BTreeMap<(String, String, crate::contract::Row), (String, usize)>,
    /// interpreter id -> the file it came from first
    interp_file: BTreeMap<String, String>,
    /// (interpreter, variant) of a CPython test run -> (file, index in
    /// out.cpython_tests)
    test_seen: BTreeMap<(String, String), (String, usize)>,
}

impl Merger {
    fn interpreters(
        &mut self,
        file: &str,
        interpreters: Vec<crate::contract::Interpreter>,
    ) -> Result<(), MergeError> {
        for i in interpreters {
            match self.out.interpreters.iter().find(|o| o.id == i.id) {
                // Cases are keyed by the id: two interpreters under one id
                // would be mixed up, every case shown as the first's. (The
                // same executable with another source is the same file
                // found another way: `--python PATH` makes it `explicit`.)
                Some(o) if o.executable != i.executable => {
                    let shown = |x: &crate::contract::Interpreter| {
                        crate::term::style::printable(&format!(
                            "{} ({})",
                            x.executable.display(),
                            x.source
                        ))
                    };
                    return Err(MergeError::Input(format!(
                        "interpreter {} is two interpreters: {} in {} and {} in {file}; their cases cannot be told apart, so merge them separately",
                        crate::term::style::printable(&i.id),
                        shown(o),
                        self.interp_file.get(&i.id).map_or("", String::as_str),
                        shown(&i)
                    )));
                }
                Some(_) => {}
                None => {
                    self.interp_file.insert(i.id.clone(), file.to_string());
                    self.out.interpreters.push(i);
                }
            }
        }
        Ok(())
    }

    fn variants(&mut self, variants: Vec<crate::contract::VariantInfo>) {
        for v in variants {
            match self.out.variants.iter_mut().find(|o| o.name == v.name) {
                Some(o) => {
                    for p in v.patches {
                        if !o.patches.iter().any(|q| q.interpreter == p.interpreter) {
                            o.patches.push(p);
                        }
                    }
                }
                None => self.out.variants.push(v),
            }
        }
    }

    fn cases(&mut self, file: &str, cases: Vec<Case>) -> Result<(), MergeError> {
        for c in cases {
            let key = (c.interpreter.clone(), c.variant.clone(), c.row());
            if let Some((other, at)) = self.seen.get(&key) {
                let prev = &self.out.cases[*at];
                if signature(prev) != signature(&c) {
                    return Err(MergeError::Input(format!(
                        "conflicting results for {} {} [{}]: {other} says {} ({}), {file} says {} ({})",
                        key.0,
                        key.2,
                        key.1,
                        prev.verdict.as_str(),
                        prev.outcome,
                        c.verdict.as_str(),
                        c.outcome
                    )));
                }
                continue;
            }
            self.seen
                .insert(key, (file.to_string(), self.out.cases.len()));
            self.out.cases.push(c);
        }
        Ok(())
    }

    /// CPython's own tests, once per interpreter and variant (a leg that
    /// ran them judges its candidates as `verify --strict` does). Two legs
    /// that ran the same must agree on the verdict, the counts the judge
    /// reads, and the tests that failed (flaky ones aside); where one could
    /// not judge (error), a failure the other confirmed stands, and a pass
    /// does not clear it.
    fn test_runs(&mut self, file: &str, runs: Vec<TestRun>) -> Result<(), MergeError> {
        fn judged(t: &TestRun) -> (Verdict, u32, u32, Vec<&str>) {
            let mut failing: Vec<&str> = t.failing.iter().map(|f| f.name.as_str()).collect();
            failing.sort_unstable();
            failing.dedup();
            (t.verdict, t.ran, t.skipped, failing)
        }
        for t in runs {
            let key = (t.interpreter.clone(), t.variant.clone());
            let Some((other, at)) = self.test_seen.get(&key).cloned() else {
                let at = self.out.cpython_tests.len();
                self.test_seen.insert(key, (file.to_string(), at));
                self.out.cpython_tests.push(t);
                continue;
            };
            let prev = &mut self.out.cpython_tests[at];
            match (prev.verdict, t.verdict) {
                (Verdict::Error, Verdict::Error) | (Verdict::Fail, Verdict::Error) => {}
                (Verdict::Error, Verdict::Fail) | (_, Verdict::Error) => {
                    *prev = t;
                    self.test_seen.insert(key, (file.to_string(), at));
                }
                (Verdict::Error, _) => {}
                _ if judged(prev) == judged(&t) => {}
                _ => {
                    return Err(MergeError::Input(format!(
                        "conflicting CPython test runs for {} [{}]: {other} says {}: {}, {file} says {}: {}",
                        key.0,
                        key.1,
                        prev.verdict.as_str(),
                        prev.cell(),
                        t.verdict.as_str(),
                        t.cell()
                    )));
                }
            }
        }
        Ok(())
    }

    /// The order a single run would use: interpreters by version, then
    /// scenario, then variant, each in order of first appearance.
    fn sorted(mut self) -> Results {
        let out = &mut self.out;
        out.interpreters
            .sort_by(|a, b| (a.version, &a.id).cmp(&(b.version, &b.id)));
        let pos = |list: &[String], x: &str| list.iter().position(|y| y == x).unwrap_or(usize::MAX);
        let interps: Vec<String> = out.interpreters.iter().map(|i| i.id.clone()).collect();
        let scenarios: Vec<String> = out.scenarios.iter().map(|s| s.name.to_string()).collect();
        let variants: Vec<String> = out.variants.iter().map(|v| v.name.clone()).collect();
        out.cases.sort_by_key(|c| {
            (
                pos(&interps, &c.interpreter),
                pos(&scenarios, c.scenario.name()),
                c.start_method,
                pos(&variants, &c.variant),
            )
        });
        for v in &mut out.variants {
            v.patches.sort_by_key(|p| pos(&interps, &p.interpreter));
        }
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::fixtures::{case, results};
    use crate::contract::{ScenarioId, Source, Verdict};

    fn leg(id: &str, variant: &str) -> Results {
        results(
            &[id],
            &[variant],
            &[ScenarioId::ThreeProcess],
            vec![case(
                id,
                variant,
                ScenarioId::ThreeProcess,
                Verdict::Pass,
                "fixed",
                &[],
            )],
        )
    }

    #[test]
    fn one_id_for_two_interpreters_is_refused_naming_both_executables() {
        let a = leg("3.12.1", "stock");
        let mut b = leg("3.12.1", "create-only");
        b.interpreters[0].executable = "/other/python3.12".into();
        b.interpreters[0].source = Source::Uv;
        let err = merge(vec![
            ("leg12.json".into(), a.clone()),
            ("legC.json".into(), b),
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(
            err,
            "interpreter 3.12.1 is two interpreters: /py/3.12.1/bin/python3 (pyenv) in leg12.json and /other/python3.12 (uv) in legC.json; their cases cannot be told apart, so merge them separately"
        );
        // The same interpreter in two legs (other variants) is one, also
        // when one leg named it by path (`--python PATH`: source explicit).
        let mut d = leg("3.12.1", "create-only");
        d.interpreters[0].source = Source::Explicit;
        let m = merge(vec![("a".into(), a), ("d".into(), d)]).unwrap();
        assert_eq!(m.interpreters.len(), 1);
        assert_eq!(m.interpreters[0].source, Source::Pyenv);
        assert_eq!(m.cases.len(), 2);
    }

    #[test]
    fn legs_from_different_tool_versions_get_one_warning() {
        let a = leg("3.12.1", "stock");
        let mut b = leg("3.15.2", "stock");
        assert_eq!(
            tool_versions_differ(&[("a.json".into(), a.clone()), ("b.json".into(), b.clone())]),
            None
        );
        b.tool = "shmharness 0.2.0".into();
        assert_eq!(
            tool_versions_differ(&[("a.json".into(), a), ("b.json".into(), b)]).unwrap(),
            "the legs were written by different shmharness versions: shmharness 0.0.0-test (a.json); shmharness 0.2.0 (b.json); a difference between legs may be the tool's"
        );
    }

    #[test]
    fn a_schema_version_that_is_not_a_number_is_named_as_such() {
        use serde_json::json;
        assert_eq!(check_schema_version(Some(&json!(1))), Ok(()));
        assert_eq!(
            check_schema_version(Some(&json!("1"))).unwrap_err(),
            "schema_version is \"1\", not a number; it must be the number 1 (no quotes)"
        );
        assert!(
            check_schema_version(Some(&json!(99)))
                .unwrap_err()
                .contains("schema_version 99, but")
        );
        assert!(
            check_schema_version(None)
                .unwrap_err()
                .starts_with("no schema_version")
        );
    }

    #[test]
    fn two_legs_that_ran_the_same_cpython_tests_must_agree() {
        let run = |verdict: Verdict, failing: &[&str]| {
            let mut t = TestRun::empty("3.12.1", "stock", verdict, String::new());
            t.ran = 16;
            t.failed = failing.len() as u32;
            t.failing = failing
                .iter()
                .map(|n| crate::contract::fixtures::failing_test(n))
                .collect();
            t
        };
        let merged = |a: TestRun, b: TestRun| {
            let with = |t: TestRun| {
                let mut r = leg("3.12.1", "stock");
                r.cpython_tests = vec![t];
                r
            };
            merge(vec![("a.json".into(), with(a)), ("b.json".into(), with(b))])
                .map(|r| {
                    assert_eq!(r.cpython_tests.len(), 1);
                    r.cpython_tests[0].verdict
                })
                .map_err(|e| e.to_string())
        };
        use Verdict::{Error, Fail, Pass};
        assert_eq!(merged(run(Pass, &[]), run(Pass, &[])), Ok(Pass));
        assert_eq!(
            merged(run(Pass, &[]), run(Fail, &["test_x"])),
            Err("conflicting CPython test runs for 3.12.1 [stock]: a.json says pass: 0 passed, b.json says fail: 0 passed, 1 failed (test_x)".into())
        );
        // The same verdict with other counts (the skip check reads them).
        let mut skipped = run(Pass, &[]);
        skipped.skipped = 2;
        assert!(merged(run(Pass, &[]), skipped).is_err());
        // A flaky test beside the same confirmed failure: they agree.
        let mut flaky = run(Fail, &["test_x"]);
        flaky.flaky = vec![crate::contract::fixtures::failing_test("test_y")];
        assert_eq!(merged(run(Fail, &["test_x"]), flaky), Ok(Fail));
        // No verdict in one leg: a confirmed failure stands, a pass does
        // not clear it, two errors agree whatever their reasons.
        assert_eq!(merged(run(Error, &[]), run(Fail, &["test_x"])), Ok(Fail));
        assert_eq!(merged(run(Fail, &["test_x"]), run(Error, &[])), Ok(Fail));
        assert_eq!(merged(run(Pass, &[]), run(Error, &[])), Ok(Error));
        assert_eq!(merged(run(Error, &[]), run(Pass, &[])), Ok(Error));
        let mut timed_out = run(Error, &[]);
        timed_out.reason = "timed out".into();
        assert_eq!(merged(run(Error, &[]), timed_out), Ok(Error));
    }
}
