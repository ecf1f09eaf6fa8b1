//! The subcommands. Each turns arguments into a plan, runs it through the
//! pipeline (discover -> select -> overlays -> cases -> judge) and renders.

pub mod cpython_tests;
pub mod diff;
pub mod expectations;
pub mod list;
pub mod merge;
pub mod patch_show;
pub mod report;
pub mod run;
pub mod verify;

use std::path::Path;
use std::time::Duration;

use anyhow::{Result, bail};

use crate::cli::{Format, MatrixArgs, SelectArgs};
use crate::discovery::select::{self, PythonSpec};
use crate::discovery::{self, Discovery, Interpreter, SearchEnv, sources};
use crate::results::Results;
use crate::runner::{self, Plan, Workspace};
use crate::scenario::{Params, catalogue};
use crate::variant::{self, Variant};

/// What a command asks `main` to exit with.
pub type Exit = std::process::ExitCode;

/// An error that means "stopped by a signal", with the exit code for it.
#[derive(Debug, thiserror::Error)]
#[error("interrupted")]
pub struct Interrupted(pub u8, pub Option<Box<Results>>);

impl Interrupted {
    /// Stopped by the signal the signal thread saw, with no results to keep.
    pub fn now() -> Interrupted {
        Interrupted(crate::signal::exit_code(), None)
    }
}

/// Discover and probe every candidate (plus `--python` paths).
pub fn discover(args: &SelectArgs) -> Result<(Discovery, Vec<PythonSpec>)> {
    discover_with(args, false)
}

/// `discover`, optionally also probing version-manager shims (`list --all`).
pub fn discover_with(args: &SelectArgs, shims: bool) -> Result<(Discovery, Vec<PythonSpec>)> {
    let specs: Vec<PythonSpec> = args
        .python
        .iter()
        .map(|s| PythonSpec::parse(s))
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let explicit: Vec<_> = specs
        .iter()
        .filter_map(|s| s.explicit_path().cloned())
        .collect();
    let candidates = sources::candidates(&SearchEnv::from_process(), &explicit);
    let opts = discovery::Options {
        probe_timeout: Duration::from_secs_f64(args.probe_timeout),
        any_implementation: args.implementation == "any",
        cache_dir: (!args.no_cache)
            .then(discovery::cache::default_dir)
            .flatten(),
        shims,
    };
    Ok((discovery::discover(candidates, &opts), specs))
}

/// The interpreters `--python` selects; an error if there are none.
pub fn interpreters(args: &SelectArgs) -> Result<Vec<Interpreter>> {
    let (found, specs) = discover(args)?;
    let chosen = select::select(&found, &specs).map_err(anyhow::Error::msg)?;
    if chosen.is_empty() {
        bail!(
            "no CPython 3.8 or newer found (looked in pyenv, PATH and the usual install places); \
             install one (e.g. `pyenv install 3.12`) or pass --python /path/to/python3 \
             (see `shmharness list --all` for what was rejected)"
        );
    }
    Ok(chosen)
}

/// `--patch FILE` as a variant; errors are usage errors.
pub fn patch_variant(path: Option<&Path>) -> Result<Option<Variant>> {
    path.map(|p| Variant::from_patch_file(p).map_err(anyhow::Error::msg))
        .transpose()
}

/// The variants of `--variant` (`default` when none are named; just stock
/// next to a `--patch`) followed by the `--patch` variant.
/// What `run` and `cpython-tests` compare by default.
pub const DEFAULT_VARIANTS: &[&str] = &["stock", "create-only"];

pub fn variants(
    requested: &[String],
    patch: Option<&Path>,
    default: &[&str],
) -> Result<Vec<Variant>> {
    let user = patch_variant(patch)?;
    let requested = match (requested.is_empty(), &user) {
        (true, Some(_)) => vec!["stock".to_string()],
        (true, None) => default.iter().map(|v| v.to_string()).collect(),
        (false, _) => requested.to_vec(),
    };
    let mut variants = variant::resolve(&requested).map_err(anyhow::Error::msg)?;
    variants.extend(user);
    Ok(variants)
}

/// One candidate fix: `--patch FILE`, else the named variant.
pub fn candidate(name: &str, patch: Option<&Path>) -> Result<Variant> {
    match patch_variant(patch)? {
        Some(v) => Ok(v),
        None if name == "stock" => {
            bail!("--variant stock is the baseline; name a fix to compare with it")
        }
        None => Ok(variant::resolve(&[name.to_string()])
            .map_err(anyhow::Error::msg)?
            .remove(0)),
    }
}

/// Stock and one candidate, for the commands that compare the two.
pub fn stock_and_candidate(name: &str, patch: Option<&Path>) -> Result<Vec<Variant>> {
    let candidate = candidate(name, patch)?;
    let mut variants = variant::resolve(&["stock".to_string()]).map_err(anyhow::Error::msg)?;
    variants.push(candidate);
    Ok(variants)
}

pub fn plan(
    args: &MatrixArgs,
    interpreters: Vec<Interpreter>,
    variants: Vec<Variant>,
    default_scenario: &str,
) -> Result<Plan> {
    let requested = if args.scenario.is_empty() {
        vec![default_scenario.to_string()]
    } else {
        args.scenario.clone()
    };
    let scenarios = catalogue::resolve(&requested).map_err(anyhow::Error::msg)?;
    Ok(Plan {
        interpreters,
        variants,
        scenarios,
        params: Params {
            attachers: args.attachers as usize,
        },
        jobs: args.jobs.map_or_else(crate::pool::cores, usize::from),
        timeout: Duration::from_secs_f64(args.timeout),
        repeat: usize::from(args.repeat),
    })
}

/// Run a plan and judge it; with `cpython_tests`, also CPython's own tests
/// on the same overlays (built once, while the workspace still exists). A
/// signal during the run becomes `Interrupted` after every child is gone and
/// the workspace is removed.
pub fn execute(plan: &Plan, cpython_tests: bool) -> Result<Results> {
    let ws = Workspace::new().map_err(|e| anyhow::anyhow!("cannot create a temp dir: {e}"))?;
    let total = plan.interpreters.len() * plan.variants.len() * plan.scenarios.len();
    let bar = crate::progress::Bar::start(total);
    let out = runner::execute(plan, &ws);
    drop(bar);
    let tests = if cpython_tests && !out.interrupted {
        self::cpython_tests::for_plan(plan, &out.overlays)?
    } else {
        Vec::new()
    };
    drop(ws);
    if out.interrupted {
        // Keep the cases that finished before the signal; a case it cut
        // short says "interrupted" and is dropped.
        let mut complete = out;
        complete.cases.retain(|c| match &c.outcome {
            runner::CaseOutcome::Observed(obs) => obs.error.as_deref() != Some("interrupted"),
            _ => true,
        });
        let partial = crate::judge::judge_run(plan, &complete);
        return Err(Interrupted(crate::signal::exit_code(), Some(Box::new(partial))).into());
    }
    let mut results = crate::judge::judge_run(plan, &out);
    results.cpython_tests = tests;
    // A user's patch that applies to no interpreter is bad input, not a
    // verdict.
    for v in plan
        .variants
        .iter()
        .filter(|v| v.name.starts_with("patch:"))
    {
        let mut cells = results.cases.iter().filter(|c| c.variant == v.name);
        if cells.clone().count() > 0 && cells.all(|c| c.outcome == "error") {
            let first = results
                .cases
                .iter()
                .find(|c| c.variant == v.name)
                .map(|c| c.reason.clone());
            bail!(
                "{}",
                first.unwrap_or_else(|| format!("{} applies to no interpreter", v.name))
            );
        }
    }
    Ok(results)
}

/// Print results in the chosen format.
pub fn render(results: &Results, format: Format) -> Result<String> {
    Ok(match format {
        Format::Json => serde_json::to_string_pretty(results)? + "\n",
        Format::Markdown => crate::report::markdown::matrix(results),
        Format::Table => {
            let (headers, rows) = crate::report::matrix(results);
            crate::report::table::render(&headers, &rows)
        }
    })
}

/// Exit 0 when every case passed (or is n/a), else 1.
pub fn verdict_exit(results: &Results) -> Exit {
    use crate::results::Verdict::*;
    if results
        .cases
        .iter()
        .all(|c| matches!(c.verdict, Pass | NotApplicable))
    {
        Exit::SUCCESS
    } else {
        Exit::from(1)
    }
}

/// Write a file atomically (temp file + rename), so a reader never sees half.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    tmp.write_all(text.as_bytes())?;
    tmp.persist(path)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Fail before any work if `path` cannot be written.
pub fn check_writable(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    tempfile::NamedTempFile::new_in(dir)
        .map(drop)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))
}
