//! `shmharness report --out DIR`: run the matrix (every scenario by default)
//! and write the bug-report bundle.

use anyhow::Result;

use super::Exit;
use crate::cli::ReportArgs;
use crate::report::bundle;
use crate::variant;

pub fn run(args: &ReportArgs, quiet: bool) -> Result<Exit> {
    let user = super::patch_variant(args.patch.as_deref())?;
    let requested = match (args.variant.is_empty(), &user) {
        (true, Some(_)) => vec!["stock".to_string()],
        (true, None) => vec!["stock".to_string(), "create-only".to_string()],
        (false, _) => args.variant.clone(),
    };
    let mut variants = variant::resolve(&requested).map_err(anyhow::Error::msg)?;
    variants.extend(user);
    // Before any work: a bundle that cannot be written is a usage error.
    bundle::check_target(&args.out, args.force)?;
    let interpreters = super::interpreters(&args.matrix.select)?;
    let plan = super::plan(&args.matrix, interpreters, variants, "all")?;
    let results = super::execute(&plan)?;
    bundle::write(&results, &args.out, args.force)?;
    print!("{}", super::render(&results, args.matrix.format)?);
    if !quiet {
        eprintln!("{}", crate::report::summary_line(&results));
        eprintln!("bundle written to {}", args.out.display());
    }
    Ok(super::verdict_exit(&results))
}
