//! `shmharness merge FILE...`: the union of several results.json files (CI
//! legs, one interpreter each) as one results set, exported like `run`
//! (see `export::merge` for what makes two legs conflict).

use crate::cli::MergeArgs;
use crate::commands::error::Result;
use crate::export::merge;
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
            crate::term::progress::warning(&format!(
                "{} is given twice; read once (its CPU time would count twice)",
                f.display()
            ));
            continue;
        }
        seen_files.push(real);
        inputs.push((f.display().to_string(), merge::load(f)?));
    }
    if let Some(line) = merge::tool_versions_differ(&inputs) {
        crate::term::progress::warning(&line);
    }
    let mut results = merge::merge(inputs)?;
    results.candidates = crate::judge::candidate::all(&results, "not in the legs' results.json");
    outputs.write(&results)?;
    super::summary(&results);
    Ok(super::verdict_exit(&results))
}
