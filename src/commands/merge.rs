//! `shmharness merge FILE...`: the union of several results.json files (CI
//! legs, one interpreter each) as one results set, exported like `run`.
//!
//! Cases are keyed by (interpreter, variant, scenario). The same key in two
//! files is fine when both say the same (verdict, outcome, symptom keys);
//! otherwise it is an error naming both files. A file with another
//! `schema_version`, the same file twice, a file with no cases, a case of an
//! interpreter the file does not list, or a name that cannot be a file name
//! in a bundle (`..`, `a/b`) is an error too: merged results must be
//! complete and safe to write.

use std::collections::BTreeMap;
use std::path::Path;

use crate::cli::MergeArgs;
use crate::contract::{CandidateVerdict, Case, MergedLeg, Results, SCHEMA_VERSION, VariantId};
use crate::error::{Error, Result};
use crate::export::output::safe_component;
use crate::export::{Outputs, View};

pub fn run(args: &MergeArgs) -> Result<u8> {
    let outputs = Outputs::new(args.format, View::Matrix)
        .json(args.json.as_deref())?
        .junit(args.junit.as_deref())?
        .bundle(args.report.as_deref(), args.force)?;
    let mut inputs = Vec::new();
    let mut seen_files = Vec::new();
    for f in &args.files {
        let real = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        if seen_files.contains(&real) {
            eprintln!(
                "warning: {} is given twice; read once (its CPU time would count twice)",
                f.display()
            );
            continue;
        }
        seen_files.push(real);
        inputs.push((f.display().to_string(), load(f)?));
    }
    let mut results = merge(inputs)?;
    results.candidates = candidates(&results);
    outputs.write(&results)?;
    super::summary(&results);
    Ok(super::verdict_exit(&results))
}

/// Every non-stock variant judged against stock, when stock ran (what a
/// report shows).
pub fn candidates(results: &Results) -> Vec<CandidateVerdict> {
    if !results
        .variants
        .iter()
        .any(|v| VariantId::is_stock(&v.name))
    {
        return Vec::new();
    }
    results
        .variants
        .iter()
        .filter(|v| !VariantId::is_stock(&v.name))
        .map(|v| crate::judge::candidate::judge(results, &v.name))
        .collect()
}

pub fn load(path: &Path) -> Result<Results> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::usage(format!("cannot read {shown}: {e}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::usage(format!("{shown} is not JSON: {e}")))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(Error::usage(format!(
                "{shown}: schema_version {v}, but this shmharness reads schema_version {SCHEMA_VERSION}"
            )));
        }
        None => {
            return Err(Error::usage(format!(
                "{shown}: no schema_version; not a shmharness results.json"
            )));
        }
    }
    let results: Results = serde_json::from_value(value)
        .map_err(|e| Error::usage(format!("{shown} is not a shmharness results.json: {e}")))?;
    check(&results).map_err(|e| Error::usage(format!("{shown}: {e}")))?;
    Ok(results)
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
                crate::style::printable(&c.interpreter)
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

pub fn merge(inputs: Vec<(String, Results)>) -> Result<Results> {
    let Some((_, first)) = inputs.first() else {
        return Err(Error::usage("nothing to merge"));
    };
    let mut out = Results::empty(crate::sys::tool(), first.host.clone());
    // (interpreter, variant, scenario) -> (file, index in out.cases)
    let mut seen: BTreeMap<(String, String, crate::contract::Row), (String, usize)> =
        BTreeMap::new();
    for (file, r) in inputs {
        out.merged_from.push(MergedLeg {
            file: file.clone(),
            host: r.host.clone(),
            interpreters: r.interpreters.iter().map(|i| i.id.clone()).collect(),
        });
        for i in r.interpreters {
            if !out.interpreters.iter().any(|o| o.id == i.id) {
                out.interpreters.push(i);
            }
        }
        for v in r.variants {
            match out.variants.iter_mut().find(|o| o.name == v.name) {
                Some(o) => {
                    for p in v.patches {
                        if !o.patches.iter().any(|q| q.interpreter == p.interpreter) {
                            o.patches.push(p);
                        }
                    }
                }
                None => out.variants.push(v),
            }
        }
        for s in r.scenarios {
            if !out.scenarios.iter().any(|o| o.name == s.name) {
                out.scenarios.push(s);
            }
        }
        for c in r.cases {
            let key = (c.interpreter.clone(), c.variant.clone(), c.row());
            if let Some((other, at)) = seen.get(&key) {
                let prev = &out.cases[*at];
                if signature(prev) != signature(&c) {
                    return Err(Error::usage(format!(
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
            seen.insert(key, (file.clone(), out.cases.len()));
            out.cases.push(c);
        }
        let t = &r.timing;
        out.timing.wall_ms = out.timing.wall_ms.max(t.wall_ms);
        out.timing.children_cpu_ms += t.children_cpu_ms;
        out.timing.cores = out.timing.cores.max(t.cores);
        out.timing.jobs = out.timing.jobs.max(t.jobs);
    }
    // The order a single run would use: interpreters by version, then
    // scenario, then variant, each in order of first appearance.
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
    Ok(out)
}
