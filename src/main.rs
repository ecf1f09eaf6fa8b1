//! The `shmharness` binary: parse the arguments, run the command, print the
//! error once, exit with the code it means (see `shmharness::exit`).

use std::process::ExitCode;

use clap::Parser;

use shmharness::cli::Cli;
use shmharness::commands::{self, exit};
use shmharness::host::signal;
use shmharness::term::{progress, style};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // clap's whole message (the missing argument, the allowed values,
            // "a similar argument exists") on one line, like every other bad
            // input.
            eprintln!("{}", one_line(&e.render().to_string()));
            return ExitCode::from(exit::USAGE);
        }
    };
    style::init(cli.color);
    progress::init(cli.quiet, cli.verbose);
    if let Err(e) = signal::install() {
        eprintln!("warning: cannot handle signals: {e}");
    }
    match commands::dispatch(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{}", e.one_line());
            ExitCode::from(e.exit_code())
        }
    }
}

/// clap's message without its usage and "try --help" lines, joined into one.
fn one_line(message: &str) -> String {
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
