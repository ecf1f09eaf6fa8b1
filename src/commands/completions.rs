//! `shmharness completions SHELL`: a static completion script. It offers
//! every option (never a hidden one) and the names of scenarios, variants,
//! usages, start methods and formats; interpreters for `--python` need the
//! dynamic form, where the shell asks shmharness at each Tab
//! (`COMPLETE=bash shmharness`, answered in `commands::main`).

use clap::{ArgGroup, Command, CommandFactory};

use crate::cli::Cli;

pub fn run(shell: clap_complete::Shell) -> u8 {
    let mut text = Vec::new();
    clap_complete::generate(
        shell,
        &mut without_hidden(&Cli::command()),
        "shmharness",
        &mut text,
    );
    crate::term::style::out(&String::from_utf8_lossy(&text));
    crate::contract::exit::OK
}

/// `cmd` as the user sees it in `--help`: clap's static generators list
/// hidden options too (`--repeat`), so they are left out of the copy the
/// script is made from, and out of the groups that name them.
fn without_hidden(cmd: &Command) -> Command {
    let mut out = Command::new(cmd.get_name().to_string())
        .subcommand_required(cmd.is_subcommand_required_set());
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    let shown: Vec<_> = cmd.get_arguments().filter(|a| !a.is_hide_set()).collect();
    for group in cmd.get_groups() {
        let args = group
            .get_args()
            .filter(|id| shown.iter().any(|a| a.get_id() == *id));
        out = out.group(
            ArgGroup::new(group.get_id().clone())
                .args(args)
                .multiple(group.clone().is_multiple()),
        );
    }
    out = out.args(shown.into_iter().cloned());
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out = out.subcommand(without_hidden(sub));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn no_hidden_option_reaches_a_completion_script() {
        let visible = super::without_hidden(&<crate::cli::Cli as clap::CommandFactory>::command());
        let run = visible.find_subcommand("run").expect("run");
        assert!(run.get_arguments().all(|a| a.get_id() != "repeat"));
        assert!(run.get_arguments().any(|a| a.get_id() == "scenario"));
        let report = visible.find_subcommand("report").expect("report");
        assert!(
            report
                .get_arguments()
                .all(|a| a.get_id() != "with_cpython_tests")
        );
    }
}
