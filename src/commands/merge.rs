//! `shmharness merge FILE...`: the union of several results.json files (CI
//! legs, one interpreter each) as one results set, rendered like `run`.
//!
//! Cases are keyed by (interpreter, variant, scenario). The same key in two
//! files is fine when both say the same (verdict, outcome, symptom keys);
//! otherwise it is an error naming both files. A file with another
//! `schema_version` is an error.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::Exit;
use crate::cli::{Format, MergeArgs};
use crate::results::{Case, MergedLeg, Results, SCHEMA_VERSION};

pub fn run(args: &MergeArgs, quiet: bool) -> Result<Exit> {
    for path in args.json.iter().chain(&args.junit) {
        super::check_writable(path)?;
    }
    if let Some(dir) = &args.report {
        crate::report::bundle::check_target(dir, args.force)?;
    }
    let mut inputs = Vec::new();
    for f in &args.files {
        inputs.push((f.display().to_string(), load(f)?));
    }
    let results = merge(inputs)?;
    if let Some(path) = &args.json {
        super::write_atomic(path, &(serde_json::to_string_pretty(&results)? + "\n"))?;
    }
    if let Some(path) = &args.junit {
        super::write_atomic(path, &crate::report::junit::render(&results))?;
    }
    if let Some(dir) = &args.report {
        crate::report::bundle::write(&results, dir, args.force)?;
    }
    print!("{}", super::render(&results, args.format)?);
    if !quiet && args.format == Format::Table {
        eprintln!("{}", crate::report::summary_line(&results));
    }
    Ok(super::verdict_exit(&results))
}

pub fn load(path: &Path) -> Result<Results> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    match value.get("schema_version").and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => bail!(
            "{}: schema_version {v}, but this shmharness reads schema_version {SCHEMA_VERSION}",
            path.display()
        ),
        None => bail!(
            "{}: no schema_version; not a shmharness results.json",
            path.display()
        ),
    }
    serde_json::from_value(value)
        .with_context(|| format!("{} is not a shmharness results.json", path.display()))
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
        bail!("nothing to merge");
    };
    let mut out = Results {
        schema_version: SCHEMA_VERSION,
        tool: format!("shmharness {}", env!("CARGO_PKG_VERSION")),
        interpreters: Vec::new(),
        variants: Vec::new(),
        scenarios: Vec::new(),
        cases: Vec::new(),
        timing: Default::default(),
        host: first.host.clone(),
        merged_from: Vec::new(),
        cpython_tests: Vec::new(),
    };
    // (interpreter, variant, scenario) -> (file, index in out.cases)
    let mut seen: BTreeMap<(String, String, String), (String, usize)> = BTreeMap::new();
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
            let key = (c.interpreter.clone(), c.variant.clone(), c.scenario.clone());
            if let Some((other, at)) = seen.get(&key) {
                let prev = &out.cases[*at];
                if signature(prev) != signature(&c) {
                    bail!(
                        "conflicting results for {} {} {}: {other} says {} ({}), {file} says {} ({})",
                        key.0,
                        key.1,
                        key.2,
                        prev.verdict.as_str(),
                        prev.outcome,
                        c.verdict.as_str(),
                        c.outcome
                    );
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
    let scenarios: Vec<String> = out.scenarios.iter().map(|s| s.name.clone()).collect();
    let variants: Vec<String> = out.variants.iter().map(|v| v.name.clone()).collect();
    out.cases.sort_by_key(|c| {
        (
            pos(&interps, &c.interpreter),
            pos(&scenarios, &c.scenario),
            pos(&variants, &c.variant),
        )
    });
    for v in &mut out.variants {
        v.patches.sort_by_key(|p| pos(&interps, &p.interpreter));
    }
    Ok(out)
}
