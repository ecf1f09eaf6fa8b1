//! The subcommands. Each turns arguments into a plan, runs it through the
//! pipeline (discover -> select -> overlays -> cases -> judge) and exports.
//! They return the exit code (see `crate::contract::exit`) or an `Error`.

pub mod cpython_tests;
pub mod diff;
pub mod error;
pub mod expectations;
pub mod list;
pub mod merge;
pub mod patch_show;
pub mod report;
pub mod run;
pub mod verify;

use std::path::Path;
use std::time::Duration;

use crate::cli::{Cli, Command, MatrixArgs, PatchCommand, SelectArgs};
use crate::commands::error::{Error, Result};
use crate::contract::{Interpreter, Results, ScenarioId, StartMethod, VariantId};
use crate::discover::select::{self, PythonSpec, SelectError};
use crate::discover::{Discovery, SearchEnv, sources};
use crate::host::signal::Signal;
use crate::overlay::variant::{self, MinorRange, Variant};
use crate::run::engine::RealWorld;
use crate::run::{Plan, RunOutput, Workspace};
use crate::scenario::{Params, catalogue};

/// The whole program: parse the arguments, run the command, print the
/// error once, and return the exit code it means (`contract::exit`).
pub fn main() -> std::process::ExitCode {
    use std::process::ExitCode;
    let cli = match <Cli as clap::Parser>::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // clap's whole message (the missing argument, the allowed values,
            // "a similar argument exists") on one line, like every other bad
            // input.
            eprintln!("{}", clap_one_line(&e.render().to_string()));
            return ExitCode::from(crate::contract::exit::USAGE);
        }
    };
    crate::term::style::init(cli.color);
    crate::term::progress::init(cli.quiet, cli.verbose);
    if let Err(e) = crate::host::signal::install() {
        eprintln!("warning: cannot handle signals: {e}");
    }
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", e.one_line());
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's message without its usage and "try --help" lines, joined into one.
fn clap_one_line(message: &str) -> String {
    let parts: Vec<String> = message
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| match l.strip_prefix("tip: ") {
            Some(tip) => format!("({tip})"),
            None => l.to_string(),
        })
        .collect();
    format!("{} (see --help)", parts.join(" "))
}

/// Run the command `cli` names; the exit code, or the error to print.
fn dispatch(cli: &Cli) -> Result<u8> {
    let result = command(cli);
    // Every temp dir and segment of this run is gone by now (success,
    // failure or signal): its ledger goes too.
    crate::host::ledger::close();
    result
}

fn command(cli: &Cli) -> Result<u8> {
    match &cli.command {
        Command::List(args) => list::run(args),
        Command::Run(args) => run::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Report(args) => report::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Patch {
            command: PatchCommand::Show(args),
        } => patch_show::run(args),
        Command::CpythonTests(args) => cpython_tests::run(args),
        Command::Expectations { format } => expectations::run(*format),
        Command::Clean => {
            let swept = crate::host::ledger::sweep();
            crate::term::style::outln(&swept.line().unwrap_or_else(|| {
                "nothing to clean: no run was killed before it could clean up".into()
            }));
            Ok(crate::contract::exit::OK)
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut text = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "shmharness", &mut text);
            crate::term::style::out(&String::from_utf8_lossy(&text));
            Ok(crate::contract::exit::OK)
        }
        Command::Schema => {
            crate::term::style::outln(
                &serde_json::to_string_pretty(&crate::contract::schema()).expect("schema is JSON"),
            );
            Ok(crate::contract::exit::OK)
        }
    }
}

/// Discover and probe every candidate (plus `--python` paths); `shims`
/// also probes version-manager shims (`list --all`).
pub fn discover(args: &SelectArgs, shims: bool) -> Result<(Discovery, Vec<PythonSpec>)> {
    let specs: Vec<PythonSpec> = args
        .python
        .iter()
        .map(|s| PythonSpec::parse(s))
        .collect::<Result<_, _>>()?;
    let explicit: Vec<_> = specs
        .iter()
        .filter_map(|s| s.explicit_path().cloned())
        .collect();
    let candidates = sources::candidates(&SearchEnv::from_process(), &explicit);
    let opts = crate::discover::Options {
        probe_timeout: Duration::from_secs_f64(args.probe_timeout),
        any_implementation: args.implementation == "any",
        cache_dir: (!args.no_cache)
            .then(crate::discover::cache::default_dir)
            .flatten(),
        shims,
    };
    let found = crate::discover::discover(candidates, &opts).map_err(Error::Interrupted)?;
    Ok((found, specs))
}

/// The interpreters `--python` selects; an error if there are none.
pub fn interpreters(args: &SelectArgs) -> Result<Vec<Interpreter>> {
    let (found, specs) = discover(args, false)?;
    let chosen = select::select(&found, &specs)?;
    if chosen.is_empty() {
        return Err(SelectError::NothingFound.into());
    }
    Ok(chosen)
}

/// What a `--patch` is for: a candidate whose code is judged (`run`,
/// `verify`, `diff`, `report`), or CPython's tests, where a diff of only
/// `Lib/test/` hunks (a new test run against stock) makes sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchUse {
    Code,
    Tests,
}

/// `--patch` values as one variant, `patch:NAME`: files, `-`, folders, and
/// `RANGE=FILE` per branch. `None` when none was given.
pub fn user_variant(patches: &[String], used: PatchUse) -> Result<Option<Variant>> {
    if patches.is_empty() {
        return Ok(None);
    }
    let stdin = |a: &String| a == "-" || a.ends_with("=-");
    if patches.iter().filter(|a| stdin(a)).count() > 1 {
        return Err(variant::VariantError::StdinTwice.into());
    }
    let mut read = Vec::new();
    let mut name = None;
    let mut paths = Vec::new();
    for arg in patches {
        let (range, path) = match arg.split_once('=') {
            Some((r, p)) => match variant::parse_range(r) {
                Some(range) => (range.checked(arg)?, p),
                None => {
                    return Err(Error::usage(format!(
                        "--patch {arg}: `{r}` is not a version range (try 3.10, 3.8-3.9 or 3.13-)"
                    )));
                }
            },
            None => (MinorRange::ALL, arg.as_str()),
        };
        let path = Path::new(path);
        paths.push(path.to_path_buf());
        if path.is_dir() {
            let files = variant::folder_patches(path)?;
            if files.is_empty() {
                return Err(Error::usage(format!(
                    "--patch {}: no X.Y[-Z.W].diff files in this folder (lay it out like patches/create-only/)",
                    path.display()
                )));
            }
            name.get_or_insert_with(|| variant::patch_stem(path));
            for (file, range) in files {
                read.push(variant::read_user_patch(&file, range)?);
            }
        } else {
            let patch = variant::read_user_patch(path, range)?;
            name.get_or_insert_with(|| patch.origin.clone());
            read.push(patch);
        }
    }
    // A diff of tests alone would judge stock as if it were the fix.
    if used == PatchUse::Code
        && let Some(p) = read.iter().find(|p| !p.code)
    {
        return Err(variant::VariantError::NoCode {
            path: p.shown.clone(),
        }
        .into());
    }
    if let Some((a, b)) = overlap(&read) {
        return Err(Error::usage(format!(
            "--patch: {a} and {b} cover the same Python versions; give each version one patch"
        )));
    }
    // One patch per branch: the variant is named after what they share
    // (`gh-82300/{3.9,3.12,main}.diff` -> `patch:gh-82300`).
    // (A single folder is named after itself, already.)
    let single_folder = paths.len() == 1 && paths[0].is_dir();
    if !single_folder && read.len() > 1 && read.iter().any(|p| p.origin != read[0].origin) {
        let dirs: Vec<_> = paths
            .iter()
            .map(|p| {
                std::fs::canonicalize(p)
                    .ok()
                    .and_then(|c| c.parent().map(Path::to_path_buf))
            })
            .collect();
        let shared = dirs.windows(2).all(|w| w[0] == w[1]);
        name = match (shared, dirs.first().cloned().flatten()) {
            (true, Some(dir)) => dir.file_name().map(|n| n.to_string_lossy().into_owned()),
            _ => Some(
                read.iter()
                    .map(|p| p.origin.as_str())
                    .collect::<Vec<_>>()
                    .join("+"),
            ),
        };
    }
    Ok(Some(Variant::user(&name.unwrap_or_default(), read)))
}

/// Two patches whose ranges share a version (checked over 3.0-3.99).
fn overlap(patches: &[variant::UserPatch]) -> Option<(String, String)> {
    for minor in 0..100 {
        let v = crate::contract::Version::new(3, minor, 0);
        let covering: Vec<_> = patches.iter().filter(|p| p.range.covers(v)).collect();
        if covering.len() > 1 {
            return Some((
                format!("{} ({})", covering[0].origin, covering[0].range.label()),
                format!("{} ({})", covering[1].origin, covering[1].range.label()),
            ));
        }
    }
    None
}

/// What `run` and `cpython-tests` compare by default.
pub const DEFAULT_VARIANTS: &[VariantId] = &[VariantId::Stock, VariantId::CreateOnly];

/// The variants of `--variant` (`default` when none are named; just stock
/// next to a `--patch`) followed by the `--patch` variant.
pub fn variants(
    requested: &[String],
    patch: &[String],
    used: PatchUse,
    default: &[VariantId],
) -> Result<Vec<Variant>> {
    let user = user_variant(patch, used)?;
    let mut variants = match (requested.is_empty(), &user) {
        (true, Some(_)) => vec![variant::builtin(VariantId::Stock)],
        (true, None) => default.iter().map(|&v| variant::builtin(v)).collect(),
        (false, _) => variant::resolve(requested)?,
    };
    variants.extend(user);
    Ok(variants)
}

/// One candidate fix: `--patch`, else the named variant (never stock).
pub fn candidate(name: &str, patch: &[String]) -> Result<Variant> {
    if let Some(v) = user_variant(patch, PatchUse::Code)? {
        return Ok(v);
    }
    let id = VariantId::parse(name).map_err(variant::VariantError::from)?;
    if id == VariantId::Stock {
        return Err(variant::VariantError::StockAsCandidate.into());
    }
    Ok(variant::builtin(id))
}

/// Stock and one candidate, for the commands that compare the two.
pub fn stock_and_candidate(name: &str, patch: &[String]) -> Result<Vec<Variant>> {
    Ok(vec![
        variant::builtin(VariantId::Stock),
        candidate(name, patch)?,
    ])
}

/// More workers than this many per core only make cases time out.
const JOBS_PER_CORE: usize = 4;

/// `--jobs`, capped at a sane multiple of the cores (with a note).
pub fn jobs(requested: Option<u16>) -> usize {
    let cores = crate::host::sys::cores();
    let cap = cores * JOBS_PER_CORE;
    match requested.map(usize::from) {
        None => cores,
        Some(n) if n > cap => {
            eprintln!(
                "note: --jobs {n} capped at {cap} ({JOBS_PER_CORE} per core): more would only make processes time out"
            );
            cap
        }
        Some(n) => n,
    }
}

/// What to run: the interpreters `--python` selects (discovered now), the
/// variants, and the scenarios (`default_scenario` when none is named;
/// `None`: all).
pub fn plan(
    args: &MatrixArgs,
    variants: Vec<Variant>,
    default_scenario: Option<ScenarioId>,
) -> Result<Plan> {
    let interpreters = interpreters(&args.select)?;
    let requested = match (args.scenario.is_empty(), default_scenario) {
        (false, _) => args.scenario.clone(),
        (true, Some(s)) => vec![s.name().to_string()],
        (true, None) => vec!["all".to_string()],
    };
    let scenarios = catalogue::resolve(&requested).map_err(|e| Error::usage(e.to_string()))?;
    let start_methods = start_methods(&args.start_method)?;
    Ok(Plan {
        interpreters,
        variants,
        scenarios,
        start_methods,
        params: Params {
            attachers: args.attachers as usize,
        },
        jobs: jobs(args.jobs),
        timeout: Duration::from_secs_f64(args.timeout),
        repeat: usize::from(args.repeat),
        overlay_cache: (!args.select.no_cache)
            .then(crate::discover::cache::default_dir)
            .flatten(),
    })
}

/// `--start-method` values (`all`, or none given: every method).
fn start_methods(requested: &[String]) -> Result<Vec<StartMethod>> {
    if requested.is_empty() || requested.iter().any(|r| r == "all") {
        return Ok(StartMethod::ALL.to_vec());
    }
    let mut out = Vec::new();
    for r in requested {
        let m = StartMethod::parse(r).map_err(|e| Error::usage(e.to_string()))?;
        if !out.contains(&m) {
            out.push(m);
        }
    }
    Ok(out)
}

/// What a run gives back: the judged results, and the signal that cut it
/// short, if one did (then `results` holds only the cases that completed).
pub struct RunOutcome {
    pub results: Results,
    pub interrupted: Option<Signal>,
}

impl RunOutcome {
    /// The results of a run that was not cut short; else the signal.
    pub fn complete(self) -> Result<Results> {
        match self.interrupted {
            Some(sig) => Err(Error::Interrupted(sig)),
            None => Ok(self.results),
        }
    }
}

/// Run a plan and judge it; with `cpython_tests`, also CPython's own tests
/// on the same overlays (built once, while the workspace still exists).
pub fn execute(plan: &Plan, cpython_tests: bool) -> Result<RunOutcome> {
    crate::commands::error::check_signal()?;
    sweep_debris();
    let ws = Workspace::new()
        .map_err(|e| Error::Environment(format!("cannot create a temp dir: {e} (check TMPDIR)")))?;
    let total = plan.interpreters.len() * plan.variants.len() * plan.scenarios.len() * plan.repeat;
    let bar = crate::term::progress::Bar::start(total);
    let out: RunOutput = crate::run::execute(plan, &ws, &RealWorld);
    drop(bar);
    let overlay_errors = crate::run::overlay_errors(plan, &out.overlays);
    let tests = match (cpython_tests, out.interrupted) {
        (true, None) => cpython_tests::for_plan(plan, &out.overlays)?,
        _ => Vec::new(),
    };
    drop(ws);
    let mut complete = out;
    if complete.interrupted.is_some() {
        // Keep the cases that finished before the signal; a case it cut
        // short is dropped.
        complete.cases.retain(|c| match &c.outcome {
            crate::run::CaseOutcome::Observed(obs) => {
                !matches!(obs.error, Some(crate::scenario::CaseError::Interrupted))
            }
            _ => true,
        });
    }
    let mut results = crate::judge::judge_run(plan, &complete);
    results.cpython_tests = tests;
    if complete.interrupted.is_none() {
        // A user's patch that applies to no interpreter is bad input, not a
        // verdict.
        // verdict: the error, one line per interpreter, and nothing else.
        for v in plan.variants.iter().filter(|v| v.id.is_none()) {
            if let Some(reason) = crate::judge::candidate::applies_nowhere(&results, &v.name) {
                let lines = if overlay_errors.is_empty() {
                    vec![reason]
                } else {
                    overlay_errors
                };
                return Err(Error::Usage(lines.join("\nerror: ")));
            }
        }
    }
    for line in overlay_errors {
        eprintln!("error: {}", crate::term::style::printable(&line));
    }
    Ok(RunOutcome {
        results,
        interrupted: complete.interrupted,
    })
}

/// Remove what runs killed with SIGKILL left behind, saying so in a line.
pub fn sweep_debris() {
    if let Some(line) = crate::host::ledger::sweep().line() {
        eprintln!("{line}");
    }
}

/// The exit code of judged cases: 2 if any could not run (with one line
/// saying what to fix), else 1 if any failed, else 0.
pub fn verdict_exit(results: &Results) -> u8 {
    use crate::contract::Verdict;
    let verdict = Verdict::combine(results.cases.iter().map(|c| c.verdict));
    if verdict == Verdict::Error {
        // A patch that does not apply was said above, once per
        // interpreter: name the first case, not its reason again.
        let first = results
            .cases
            .iter()
            .find(|c| c.verdict == Verdict::Error)
            .map(|c| {
                let why = if c.reason.starts_with("patch does not apply") {
                    "its patch does not apply (see above)".to_string()
                } else {
                    c.reason.clone()
                };
                format!("{} {} [{}]: {why}", c.interpreter, c.row(), c.variant)
            })
            .unwrap_or_default();
        eprintln!(
            "error: {} could not run, so they say nothing about the fix; first: {}",
            crate::term::style::plural(results.count(Verdict::Error), "case"),
            crate::term::style::printable(&first)
        );
    }
    crate::contract::exit::for_verdict(verdict)
}

/// The summary line on stderr (unless `--quiet`).
pub fn summary(results: &Results) {
    if !crate::term::progress::quiet() {
        eprintln!(
            "{}",
            crate::export::matrix::summary_line(results, crate::term::progress::verbose())
        );
    }
}
