//! The `shmharness` binary: parse the arguments, run the command, print the
//! error once, exit with the code it means (see `shmharness::exit`).

use std::process::ExitCode;

use clap::Parser;

use shmharness::cli::Cli;
use shmharness::{commands, exit, progress, signal, style};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap's whole message: the missing argument, the allowed
            // values, "a similar argument exists". --help/--version exit 0.
            let code = if e.use_stderr() { exit::USAGE } else { exit::OK };
            let _ = e.print();
            return ExitCode::from(code);
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
