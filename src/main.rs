//! shmharness: reproduce CPython's shared_memory resource-tracker bug on
//! every installed Python, stock vs patched, and judge the fix.

mod cli;
mod commands;
mod cpython_tests;
mod discovery;
mod judge;
mod overlay;
mod patch;
mod pool;
mod proc;
mod progress;
mod python;
mod report;
mod results;
mod runner;
mod scenario;
mod shm;
mod signal;
mod style;
mod variant;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, PatchCommand};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(),
        Err(e) => {
            // One line, as for every other bad input.
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("error: bad arguments");
            eprintln!("{first} (see --help)");
            return ExitCode::from(2);
        }
    };
    style::init(cli.color);
    progress::init(cli.quiet);
    if let Err(e) = signal::install() {
        eprintln!("warning: cannot handle signals: {e}");
    }
    let result = match &cli.command {
        Command::List(args) => commands::list::run(args),
        Command::Run(args) => commands::run::run(args, cli.quiet),
        Command::Verify(args) => commands::verify::run(args, cli.quiet),
        Command::Diff(args) => commands::diff::run(args, cli.quiet),
        Command::Report(args) => commands::report::run(args, cli.quiet),
        Command::Merge(args) => commands::merge::run(args, cli.quiet),
        Command::Patch {
            command: PatchCommand::Show(args),
        } => commands::patch_show::run(args),
        Command::CpythonTests(args) => commands::cpython_tests::run(args, cli.quiet),
        Command::Expectations { format } => commands::expectations::run(*format),
    };
    match result {
        Ok(code) => code,
        Err(e) => match e.downcast_ref::<commands::Interrupted>() {
            Some(commands::Interrupted(code, _)) => {
                eprintln!(
                    "interrupted: every child stopped, this run's segments and temp files removed"
                );
                ExitCode::from(*code)
            }
            None => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}
