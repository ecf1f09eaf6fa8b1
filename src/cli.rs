//! Command-line arguments. Parsing only validates; the commands build the
//! real objects (interpreters, variants, scenarios) from these values.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};

pub use crate::export::Format;
pub use crate::run::zygote::Roles;
pub use crate::term::style::ColorChoice;

#[derive(Debug, Parser)]
#[command(
    name = "shmharness",
    version,
    about = "Reproduce CPython's shared_memory resource-tracker bug (gh-82300, bpo-38119) on every \
             installed Python, stock vs patched, and judge a fix",
    after_help = "Exit codes: 0 every expectation holds, 1 an expectation or verdict failed, \
                  2 usage or environment error, 130 interrupted (143 on SIGTERM)."
)]
pub struct Cli {
    /// When to use colors (NO_COLOR in the environment also turns them off).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true,
          help_heading = GLOBAL)]
    pub color: ColorChoice,
    /// Print less: -q only the results (no progress, no summary line), -qq nothing but errors.
    #[arg(long, short, global = true, action = ArgAction::Count, conflicts_with = "verbose",
          help_heading = GLOBAL)]
    pub quiet: u8,
    /// Print more: -v each case as it finishes and every process's command line, -vv also
    /// each process's events as they arrive.
    #[arg(long, short, global = true, action = ArgAction::Count, help_heading = GLOBAL)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

/// Where each subcommand's help lists the options every command takes.
const GLOBAL: &str = "Global options";

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the interpreters found (with --all, also the rejected candidates and why).
    List(ListArgs),
    /// Run the scenario matrix: interpreters x variants x scenarios.
    Run(RunArgs),
    /// Check a fix: the bug reproduces on stock, the candidate removes it, nothing gets worse.
    #[command(mut_arg("scenario", |a| a.help(
        "Scenario(s), comma-separated or repeated, or `all` [default: all]")))]
    #[command(mut_arg("variant", |a| a
        .default_value("create-only+lenient-tracker")
        .help("The candidate (a built-in variant). The default is the one that holds in every \
               scenario; the one-line create-only (PR #119126) regresses when an attacher calls \
               unlink()")))]
    Verify(VerifyArgs),
    /// Show, per interpreter, a unified diff of the stock and patched transcripts.
    Diff(DiffArgs),
    /// Hit by the bug? Which way of attaching holds on your Python, pattern by pattern
    /// (runs the stock stdlib under every usage; each claim cites the case it rests on).
    #[command(mut_arg("scenario", |a| a
        .long("pattern")
        .short(None)
        .help("Application pattern(s), comma-separated or repeated [default: three-process, \
               many-attachers, shareable-list, family, family-object, manager, raw-fork, \
               attacher-unlinks]")))]
    #[command(mut_arg("usage", |a| a.help(
        "Usage(s) to try, comma-separated or repeated [default: all]")))]
    #[command(mut_arg("format", |a| a.help(
        "What to print: table (the advice in words), json ({\"advice\": [...]}, each claim \
         with the case and the command that reruns it), markdown")))]
    Advise(AdviseArgs),
    /// Show the expectation table: what each scenario should show under each variant.
    Expectations {
        /// What to print on stdout.
        #[arg(long, value_enum, default_value_t = Format::Markdown)]
        format: Format,
    },
    /// Run the matrix and write a bug-report bundle: report.md, results.json, junit.xml,
    /// repro.py, patches/, transcripts/.
    ///
    /// Exits 1 when a --patch is not a fix (as `verify --strict` judges it) or a case
    /// misses its expectation; the built-in variants are shown for comparison.
    #[command(mut_arg("scenario", |a| a.help(
        "Scenario(s), comma-separated or repeated, or `all` [default: all]")))]
    #[command(mut_arg("variant", |a| a.help(
        "Variant(s), comma-separated or repeated, or `all` [default: stock,create-only,\
         create-only+lenient-tracker; with --patch or --git: stock]")))]
    Report(ReportArgs),
    /// Combine results.json files (CI legs) into one results set, and optionally a bundle.
    Merge(MergeArgs),
    /// Compare results of one matrix run with --roles exec and with --roles zygote, cell by
    /// cell (bench/equivalence runs it).
    #[command(hide = true)]
    Equivalence(EquivalenceArgs),
    /// Show the exact patches applied to each interpreter's copy of multiprocessing.
    Patch {
        #[command(subcommand)]
        command: PatchCommand,
    },
    /// Run CPython's own shared-memory tests (test._test_multiprocessing) per interpreter and variant.
    CpythonTests(CpythonTestsArgs),
    /// Print the JSON Schema of results.json (derived from the types that write it).
    Schema,
    /// Remove what runs killed with SIGKILL left (their temp dirs and segments, nothing else).
    Clean,
    /// Print a shell completion script: `shmharness completions bash >
    /// /etc/bash_completion.d/shmharness`. For interpreters too, let the shell ask at each
    /// Tab instead: `source <(COMPLETE=bash shmharness)` in ~/.bashrc.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum PatchCommand {
    /// Print the diff each selected interpreter gets (and check it applies).
    Show(PatchShowArgs),
}

/// Which interpreters.
#[derive(Debug, Clone, Args)]
pub struct SelectArgs {
    /// Interpreter(s) to use: a version (3.10), a range (3.8-3.11), a bound (>=3.9),
    /// SOURCE:VERSION (pyenv:3.12) or a path. Repeatable. Default: every CPython >= 3.8 found.
    #[arg(long = "python", short = 'p', value_name = "SPEC",
          add = clap_complete::ArgValueCompleter::new(complete_python))]
    pub python: Vec<String>,
    /// Seconds to wait for one candidate's probe.
    #[arg(long, value_name = "SECS", default_value_t = 3.0, value_parser = positive_secs)]
    pub probe_timeout: f64,
    /// Which implementations to accept: cpython, or any (PyPy and others too).
    #[arg(long, value_name = "NAME", default_value = "cpython", value_parser = ["cpython", "any"])]
    pub implementation: String,
    /// Use no cache: probe every candidate again and build every overlay afresh (the
    /// caches live in $XDG_CACHE_HOME/shmharness: probes.json, overlays/).
    #[arg(long)]
    pub no_cache: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Also show rejected candidates, each with the reason, and aliases.
    #[arg(long)]
    pub all: bool,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// What to run and how.
#[derive(Debug, Clone, Args)]
pub struct MatrixArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    /// Scenario(s), comma-separated or repeated, or `all` [default: three-process]
    #[arg(long, short, value_name = "NAME", value_delimiter = ',',
          value_parser = Names(scenarios), hide_possible_values = true)]
    pub scenario: Vec<String>,
    /// Start method(s) for the scenarios that start a multiprocessing child: fork, spawn,
    /// forkserver, comma-separated or repeated, or `all` [default: all]
    #[arg(long, value_name = "METHOD", value_delimiter = ',',
          value_parser = Names(start_methods), hide_possible_values = true)]
    pub start_method: Vec<String>,
    /// How the scenarios' attachers attach: default, track-false (3.13+ API), unregister
    /// (resource_tracker.unregister right after attaching), comma-separated or repeated, or
    /// `all` [default: default]
    #[arg(long, value_name = "USAGE", value_delimiter = ',',
          value_parser = Names(usages), hide_possible_values = true)]
    pub usage: Vec<String>,
    /// Parallel cases (default: number of cores).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Seconds one process may run before its process group is killed.
    #[arg(long, value_name = "SECS", default_value_t = 30.0, value_parser = positive_secs)]
    pub timeout: f64,
    /// Attachers in the many-attachers scenario (half at once, half one by one).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(3..=64))]
    pub attachers: u16,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Where your --patch or --git does not apply to some interpreters, run the others anyway (the
    /// exit code is still 2: there is no verdict for the interpreters it skipped).
    #[arg(long)]
    pub keep_going: bool,
    /// How role processes start: exec (a fresh interpreter each) or zygote (forked from one
    /// interpreter per Python and overlay that has imported the stdlib already; falls back to
    /// exec where it cannot start, with a note)
    #[arg(long, value_enum, value_name = "MODE", default_value_t = Roles::Exec)]
    pub roles: Roles,
    /// Run every case N times (for soak tests; hidden).
    #[arg(long, value_name = "N", default_value_t = 1, hide = true,
          value_parser = clap::value_parser!(u16).range(1..))]
    pub repeat: u16,
}

/// Which variants: a list, plus optionally the user's own fix.
#[derive(Debug, Clone, Args)]
pub struct VariantArgs {
    /// Variant(s), comma-separated or repeated, or `all` [default: stock,create-only; with
    /// --patch or --git: stock]
    #[arg(long, value_name = "NAME", value_delimiter = ',',
          value_parser = Names(variants), hide_possible_values = true)]
    pub variant: Vec<String>,
    #[command(flatten)]
    pub own: OwnFixArgs,
}

/// Your own fix, as a diff or from a git checkout: the variant `patch:NAME`.
/// `--patch` and `--git` combine (group `own`, which `--name` requires).
#[derive(Debug, Clone, Args)]
#[command(group(clap::ArgGroup::new("own").multiple(true)))]
pub struct OwnFixArgs {
    /// Your own fix as a diff: a file, `-` (stdin), a folder laid out like patches/<variant>/,
    /// or RANGE=FILE per branch (`3.8-3.9=a.diff`, `3.13-=c.diff`); repeatable. A `git diff`
    /// of a cpython checkout works as is.
    #[arg(long, value_name = "[RANGE=]FILE", group = "own")]
    pub patch: Vec<String>,
    /// Your own fix from the cpython checkout you are in: `git diff` from where your branch
    /// left BASE (default: main) to the working tree, staged and unstaged changes included.
    /// RANGE=BRANCH takes a backport branch's commits since it left the branch RANGE names
    /// (`3.12=backport-3.12`); RANGE=BASE...BRANCH names both. Repeatable, and combines with
    /// --patch.
    #[arg(
        long,
        value_name = "[RANGE=]BASE",
        num_args = 0..=1,
        default_missing_value = "main",
        group = "own"
    )]
    pub git: Vec<String>,
    /// The checkout --git reads (default: the one the current directory is in).
    #[arg(long, value_name = "PATH", requires = "git")]
    pub git_dir: Option<PathBuf>,
    /// What every output calls your fix: `patch:NAME` (default: the branch with --git, else
    /// the files' common stem, else their folder).
    #[arg(long, value_name = "NAME", requires = "own", value_parser = candidate_name)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub variants: VariantArgs,
    /// Also write the results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Also write the results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Also run CPython's own shared-memory tests per interpreter and variant (a second table).
    #[arg(long)]
    pub with_cpython_tests: bool,
}

/// One candidate fix: a built-in variant, or your own.
#[derive(Debug, Clone, Args)]
pub struct CandidateArgs {
    /// The candidate (a built-in variant) to compare with stock.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "create-only",
        conflicts_with = "own",
        value_parser = Names(candidates),
        hide_possible_values = true
    )]
    pub variant: String,
    #[command(flatten)]
    pub own: OwnFixArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub candidate: CandidateArgs,
    /// Also require CPython's own shared-memory tests to pass wherever they pass on stock.
    #[arg(long)]
    pub strict: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CpythonTestsArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub variants: VariantArgs,
    /// Test runs at once (default: number of cores).
    #[arg(long, short, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Seconds one interpreter's test run may take before it is killed.
    #[arg(long, value_name = "SECS", default_value_t = 300.0, value_parser = positive_secs)]
    pub timeout: f64,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct AdviseArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    /// Advice for a patched stdlib instead of the installed one: your own fix, as `verify`
    /// takes it.
    #[command(flatten)]
    pub own: OwnFixArgs,
}

#[derive(Debug, Clone, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub candidate: CandidateArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PatchShowArgs {
    #[command(flatten)]
    pub select: SelectArgs,
    #[command(flatten)]
    pub candidate: CandidateArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub matrix: MatrixArgs,
    #[command(flatten)]
    pub variants: VariantArgs,
    /// The bundle directory (created; must be empty or missing unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Replace an existing non-empty --out directory.
    #[arg(long)]
    pub force: bool,
    /// Also write the bundle as DIR.tar.gz beside it, to attach to an issue or PR.
    #[arg(long)]
    pub archive: bool,
    /// Do not run CPython's own shared-memory tests (they run by default wherever the
    /// interpreter has its test package, and judge each candidate as `verify --strict`
    /// does); the verdict then says they did not run.
    #[arg(long)]
    pub no_cpython_tests: bool,
    /// (The default now; kept so older command lines still work.)
    #[arg(long, hide = true, conflicts_with = "no_cpython_tests")]
    pub with_cpython_tests: bool,
}

#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// results.json files to combine (e.g. one per CI leg).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Write the merged results as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Write the merged results as JUnit XML to FILE.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a bug-report bundle for the merged results to DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Replace an existing non-empty --report directory.
    #[arg(long)]
    pub force: bool,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(Debug, Clone, Args)]
pub struct EquivalenceArgs {
    /// results.json of a run with --roles exec; one per repetition.
    #[arg(long, value_name = "FILE", required = true)]
    pub exec: Vec<PathBuf>,
    /// results.json of the same run with --roles zygote; as many, in the same order.
    #[arg(long, value_name = "FILE", required = true)]
    pub zygote: Vec<PathBuf>,
}

/// A name for `patch:NAME`: letters, digits and `-+._`, as file names in a
/// bundle need.
fn candidate_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.' | '_'))
        && !s.starts_with('.');
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "`{s}` is not a candidate name (letters, digits and -+._, at most 64, not starting with .)"
        ))
    }
}

fn positive_secs(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    if v > 0.0 && v.is_finite() && v <= 86_400.0 {
        Ok(v)
    } else {
        Err(format!("must be more than 0 seconds (got {s})"))
    }
}

/// A name from a fixed set (scenarios, variants, usages, start methods):
/// offered to shell completion, but checked later, by the catalogue, so an
/// unknown one gets the one-line "did you mean" (`contract::UnknownName`),
/// and comma-separated lists and `all` still read.
#[derive(Clone, Copy)]
struct Names(fn() -> Vec<&'static str>);

impl clap::builder::TypedValueParser for Names {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        clap::builder::StringValueParser::new().parse_ref(cmd, arg, value)
    }

    fn possible_values(
        &self,
    ) -> Option<Box<dyn Iterator<Item = clap::builder::PossibleValue> + '_>> {
        let names = (self.0)().into_iter();
        Some(Box::new(names.map(clap::builder::PossibleValue::new)))
    }
}

/// Every visible scenario, and `all`.
fn scenarios() -> Vec<&'static str> {
    let each = crate::scenario::catalogue::visible().map(|s| s.name());
    each.chain(["all"]).collect()
}

fn variants() -> Vec<&'static str> {
    let each = crate::contract::VariantId::ALL.iter().map(|v| v.name());
    each.chain(["all"]).collect()
}

/// The variants `verify`, `diff` and `patch show` compare with stock.
fn candidates() -> Vec<&'static str> {
    let mut all = variants();
    all.retain(|name| !["stock", "all"].contains(name));
    all
}

fn usages() -> Vec<&'static str> {
    let each = crate::contract::Usage::ALL.iter().map(|u| u.name());
    each.chain(["all"]).collect()
}

fn start_methods() -> Vec<&'static str> {
    let each = crate::contract::StartMethod::ALL.iter().map(|m| m.name());
    each.chain(["all"]).collect()
}

/// What `--python` completes to when the shell asks shmharness at each
/// Tab (`COMPLETE=bash shmharness`): the interpreters discovery finds now
/// (their versions, SOURCE:VERSION, executables), or paths once the value
/// looks like one.
fn complete_python(current: &std::ffi::OsStr) -> Vec<clap_complete::CompletionCandidate> {
    use clap_complete::engine::ValueCompleter;
    let typed = current.to_string_lossy();
    if typed.starts_with(['/', '.', '~']) {
        return clap_complete::PathCompleter::any().complete(current);
    }
    crate::discover::completions()
        .into_iter()
        .filter(|(spec, _)| spec.starts_with(typed.as_ref()))
        .map(|(spec, help)| clap_complete::CompletionCandidate::new(spec).help(Some(help.into())))
        .collect()
}
