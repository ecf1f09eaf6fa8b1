//! The subcommands. Each turns arguments into a plan, runs it through the
//! pipeline (discover -> select -> overlays -> cases -> judge) and exports.
//! They return the exit code (see `crate::contract::exit`) or an `Error`.

pub mod advise;
pub mod completions;
pub mod cpython_tests;
pub mod diff;
pub mod equivalence;
pub mod error;
pub mod expectations;
pub mod list;
pub mod merge;
pub mod patch_show;
pub mod report;
pub mod run;
pub mod verify;

use std::time::Duration;

use crate::cli::{Cli, Command, MatrixArgs, OwnFixArgs, PatchCommand, SelectArgs};
use crate::commands::error::{Error, Result};
use crate::contract::{Interpreter, Results, ScenarioId, StartMethod, Usage};
use crate::discover::select::{self, PythonSpec, SelectError};
use crate::discover::{Discovery, SearchEnv, sources};
use crate::host::signal::Signal;
use crate::overlay::variant::Variant;
use crate::run::engine::RealWorld;
use crate::run::{Plan, RunOutput, Workspace};
use crate::scenario::{Params, catalogue};

/// The whole program: parse the arguments, run the command, print the
/// error once, and return the exit code it means (`contract::exit`).
pub fn main() -> std::process::ExitCode {
    use std::process::ExitCode;
    // `COMPLETE=bash shmharness ...`: the shell asking for completions
    // (values included: `--python` lists the interpreters found); answered
    // here, and the process ends.
    clap_complete::CompleteEnv::with_factory(<Cli as clap::CommandFactory>::command).complete();
    let cli = match parse() {
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
        crate::term::progress::warning(&format!("cannot handle signals: {e}"));
    }
    match dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", e.one_line());
            ExitCode::from(e.exit_code())
        }
    }
}

/// The arguments, with help wrapped to the terminal's width.
fn parse() -> Result<Cli, clap::Error> {
    use clap::{CommandFactory, FromArgMatches};
    let mut cmd = Cli::command();
    if let Some(width) = crate::term::help_width() {
        cmd = cmd.term_width(width);
    }
    Cli::from_arg_matches(&cmd.try_get_matches()?)
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
        Command::Advise(args) => advise::run(args),
        Command::Report(args) => report::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Equivalence(args) => equivalence::run(args),
        Command::Patch {
            command: PatchCommand::Show(args),
        } => patch_show::run(args),
        Command::CpythonTests(args) => cpython_tests::run(args),
        Command::Expectations { format } => expectations::run(*format),
        Command::Clean => {
            let swept = crate::host::ledger::sweep();
            crate::commands::error::check_signal()?;
            crate::term::style::outln(&swept.line().unwrap_or_else(|| {
                "nothing to clean: no run was killed before it could clean up".into()
            }));
            Ok(crate::contract::exit::OK)
        }
        Command::Completions { shell } => Ok(completions::run(*shell)),
        Command::Schema => {
            crate::term::style::outln(
                &serde_json::to_string_pretty(&crate::contract::schema()).expect("schema is JSON"),
            );
            Ok(crate::contract::exit::OK)
        }
    }
}

impl OwnFixArgs {
    /// Where the user's own fix comes from, as `overlay::user` reads it.
    pub fn given(&self) -> crate::overlay::user::Given<'_> {
        crate::overlay::user::Given {
            patch: &self.patch,
            git: &self.git,
            git_dir: self.git_dir.as_deref(),
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
    if !args.no_cache {
        check_cache_dir()?;
    }
    let explicit: Vec<_> = specs
        .iter()
        .filter_map(|s| s.explicit_path().cloned())
        .collect();
    let candidates = sources::candidates(&SearchEnv::from_process(), &explicit);
    let opts = crate::discover::Options {
        probe_timeout: Duration::from_secs_f64(args.probe_timeout),
        any_implementation: args.implementation == "any",
        cache_dir: (!args.no_cache).then(crate::host::sys::cache_dir).flatten(),
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

/// More workers than this many per core only make cases time out.
const JOBS_PER_CORE: usize = 4;

/// `--jobs`, capped at a sane multiple of the cores (with a note).
pub fn jobs(requested: Option<u16>) -> usize {
    let cores = crate::host::sys::cores();
    let cap = cores * JOBS_PER_CORE;
    match requested.map(usize::from) {
        None => cores,
        Some(n) if n > cap => {
            crate::term::progress::note(&format!(
                "--jobs {n} capped at {cap} ({JOBS_PER_CORE} per core): more would only make processes time out"
            ));
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
    (variants, implied): (Vec<Variant>, Vec<Usage>),
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
    let usages = usages(&args.usage, &implied)?;
    Ok(Plan {
        interpreters,
        variants,
        scenarios,
        start_methods,
        usages,
        params: Params {
            attachers: args.attachers as usize,
        },
        jobs: jobs(args.jobs),
        timeout: Duration::from_secs_f64(args.timeout),
        repeat: usize::from(args.repeat),
        keep_going: args.keep_going,
        overlay_cache: (!args.select.no_cache)
            .then(crate::host::sys::cache_dir)
            .flatten(),
        roles: args.roles,
    })
}

/// `--usage` values (none given: `default`; `all`: every usage), plus the
/// usages old variant names stand for.
fn usages(requested: &[String], implied: &[Usage]) -> Result<Vec<Usage>> {
    if requested.iter().any(|r| r == "all") {
        return Ok(Usage::ALL.to_vec());
    }
    let mut out = Vec::new();
    for r in requested {
        let u = Usage::parse(r).map_err(|e| Error::usage(e.to_string()))?;
        if !out.contains(&u) {
            out.push(u);
        }
    }
    for u in implied {
        if !out.contains(u) {
            out.push(*u);
        }
    }
    if out.is_empty() {
        out.push(Usage::Default);
    }
    Ok(out)
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

/// Before any case: a user's patch that does not apply to some selected
/// interpreter (its code, or with `cpython_tests` its test hunks) makes a
/// known "no verdict". Stop with each interpreter's apply error, unless
/// `keep_going` (then say them and run the rest; the exit code stays 2).
fn preflight(plan: &Plan, cpython_tests: bool, keep_going: bool) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut applicable = 0;
    for v in plan.variants.iter().filter(|v| v.id.is_none()) {
        for interp in &plan.interpreters {
            if v.not_applicable(interp.version).is_some() {
                continue;
            }
            applicable += 1;
            if let Err(e) = crate::overlay::check(interp, v) {
                if e.is_patch_problem() {
                    lines.push(e.with_hint(interp.version));
                }
                continue;
            }
            if cpython_tests && let Err(e) = crate::overlay::check_tests(interp, v) {
                lines.push(crate::cpython_tests::tests_do_not_apply(interp, &e));
            }
        }
    }
    let Some((last, before)) = lines.split_last() else {
        return Ok(lines);
    };
    // One line per interpreter, each on its own line.
    for line in before {
        eprintln!("error: {}", crate::term::style::one_line(line));
    }
    if keep_going {
        eprintln!("error: {}", crate::term::style::one_line(last));
        return Ok(lines);
    }
    if lines.len() == applicable {
        // It applies nowhere: the errors are the whole answer.
        return Err(Error::Usage(last.clone()));
    }
    eprintln!("error: {}", crate::term::style::one_line(last));
    Err(Error::usage(format!(
        "no case ran: the patch does not apply to {} of the {applicable} interpreters it is for (give each branch its own patch with RANGE=FILE, narrow --python, or run the rest with --keep-going)",
        lines.len()
    )))
}

/// Run a plan and judge it; with `cpython_tests`, also CPython's own tests
/// on the same overlays (built once, while the workspace still exists).
pub fn execute(plan: &Plan, cpython_tests: bool) -> Result<RunOutcome> {
    crate::commands::error::check_signal()?;
    let said = preflight(plan, cpython_tests, plan.keep_going)?;
    sweep_debris()?;
    let ws = Workspace::new()
        .map_err(|e| Error::Environment(format!("cannot create a temp dir: {e} (check TMPDIR)")))?;
    let bar = crate::term::progress::Bar::start(plan.case_count());
    let mut out: RunOutput = crate::run::execute(plan, &ws, &RealWorld);
    drop(bar);
    let tests = match (cpython_tests, out.interrupted) {
        (true, None) => crate::cpython_tests::for_plan(plan, &out.overlays)?,
        _ => Vec::new(),
    };
    drop(ws);
    out.keep_completed();
    let overlay_errors = crate::run::overlay_errors(plan, &out.overlays);
    let mut results = crate::judge::judge_run(plan, &out);
    results.cpython_tests = tests;
    if out.interrupted.is_none()
        && let Some(reason) = applies_nowhere(plan, &results)
    {
        // A user's patch that applies to no interpreter is bad input, not a
        // verdict: the error, one line per interpreter, and nothing else.
        let Some((last, before)) = overlay_errors.split_last() else {
            return Err(Error::Usage(reason));
        };
        for line in before {
            eprintln!("error: {}", crate::term::style::one_line(line));
        }
        return Err(Error::Usage(last.clone()));
    }
    // What the preflight said (--keep-going) is not said again.
    for line in overlay_errors.iter().filter(|l| !said.contains(l)) {
        eprintln!("error: {}", crate::term::style::printable(line));
    }
    Ok(RunOutcome {
        results,
        interrupted: out.interrupted,
    })
}

/// The first reason a user's variant of `plan` ran nowhere, if one did not.
fn applies_nowhere(plan: &Plan, results: &Results) -> Option<String> {
    plan.variants
        .iter()
        .filter(|v| v.id.is_none())
        .find_map(|v| {
            let cells = results.cases.iter().filter(|c| c.variant == v.name);
            crate::judge::candidate::applies_nowhere(cells.map(|c| (c.verdict, &c.reason)))
        })
}

/// Before any work that runs code from a temp dir: refuse a TMPDIR that
/// someone else could change (see `check_tmpdir`), then remove what runs
/// killed with SIGKILL left behind, saying so in a line.
pub fn sweep_debris() -> Result<()> {
    check_tmpdir()?;
    if let Some(line) = crate::host::ledger::sweep().line() {
        crate::term::progress::say(&line);
    }
    Ok(())
}

/// The role scripts and overlays run from under TMPDIR: one that another
/// user can write to (group- or world-writable without the sticky bit, or
/// under a directory of theirs) would let them swap in their own code,
/// which this run (root, in CI) would then execute.
fn check_tmpdir() -> Result<()> {
    let tmp = std::env::temp_dir();
    match crate::host::sys::others_can_write(&tmp) {
        Some(why) => Err(Error::Environment(format!(
            "refusing TMPDIR {}: {why}; shmharness runs code from its temp dirs, so another user could replace it (use a directory only you can write, or one with the sticky bit like /tmp)",
            tmp.display()
        ))),
        None => Ok(()),
    }
}

/// The same for the cache dir: overlays are run from it and probe answers
/// say which interpreter to run.
fn check_cache_dir() -> Result<()> {
    let Some(cache) = crate::host::sys::cache_dir() else {
        return Ok(());
    };
    match crate::host::sys::others_can_write(&cache) {
        Some(why) => Err(Error::Environment(format!(
            "refusing the cache dir {}: {why}; shmharness runs code from its cached overlays, so another user could replace it (fix its mode or XDG_CACHE_HOME, or pass --no-cache)",
            cache.display()
        ))),
        None => Ok(()),
    }
}

/// The exit code of judged results: 2 if any case could not run (with one
/// line saying what to fix) or none ran at all, else 1 if any case failed,
/// or any proposed patch's verdict (`report` and `merge`, which judge
/// candidates, judge it as `verify --strict`: CPython's test runs count
/// through it), or, where nothing is judged as a candidate (`run`,
/// `cpython-tests`), any of CPython's test runs, else 0.
///
/// A built-in variant is judged in the report too, but what it does is
/// known: its cases already hold it to the expectation table, so the seed's
/// one-line fix, incomplete by design (and failing
/// test_shared_memory_tracking on 3.13+), does not fail a report of the
/// bug.
pub fn verdict_exit(results: &Results) -> u8 {
    use crate::contract::Verdict;
    let mut verdicts: Vec<Verdict> = results.cases.iter().map(|c| c.verdict).collect();
    let proposed: Vec<Verdict> = results
        .candidates
        .iter()
        .filter(|c| crate::judge::candidate::proposed(&c.candidate))
        .map(|c| c.verdict)
        .collect();
    if results.candidates.is_empty() {
        verdicts.extend(results.cpython_tests.iter().map(|r| r.verdict));
    } else {
        verdicts.extend(proposed);
    }
    if !verdicts.is_empty() && verdicts.iter().all(|v| *v == Verdict::NotApplicable) {
        let first = results
            .cases
            .first()
            .map(|c| c.reason.as_str())
            .or_else(|| results.cpython_tests.first().map(|r| r.reason.as_str()))
            .unwrap_or_default();
        eprintln!(
            "error: nothing could be judged: every case was n/a (first: {first}), so there is no answer"
        );
        return crate::contract::exit::USAGE;
    }
    let verdict = Verdict::combine(verdicts);
    if verdict == Verdict::Error
        && let Some(first) = results.cases.iter().find(|c| c.verdict == Verdict::Error)
    {
        // A patch that does not apply was said above, once per
        // interpreter: name the first case, not its reason again.
        let why = if first.reason.starts_with("patch does not apply") {
            "its patch does not apply (see above)".to_string()
        } else {
            first.reason.clone()
        };
        eprintln!(
            "error: {} could not run, so they say nothing about the fix; first: {}",
            crate::term::style::plural(results.count(Verdict::Error), "case"),
            crate::term::style::printable(&format!(
                "{} {} [{}]: {why}",
                first.interpreter,
                first.row(),
                first.variant
            ))
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
