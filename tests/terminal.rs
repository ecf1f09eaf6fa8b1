//! The command line as uv, ruff and cargo users expect it: help that wraps
//! to the terminal (checked under a real pty at 60 and 80 columns), global
//! options under their own heading, counted `-q`/`-v`, and completions
//! that offer the names a value can take.

use crate::util::{any_python, arg, bin, run_text, std_bin};

/// `shmharness ARGS` under a pty `cols` columns wide (`script` from
/// util-linux): what it printed, escapes and carriage returns removed.
fn in_terminal(cols: u16, args: &str) -> String {
    let exe = assert_cmd::cargo::cargo_bin("shmharness");
    let out = std::process::Command::new("script")
        .args([
            "-qec",
            &format!("stty cols {cols} rows 24; {} {args}", arg(&exe)),
        ])
        .arg("/dev/null")
        .env("XDG_CACHE_HOME", crate::util::test_cache())
        .output()
        .expect("script (util-linux) runs");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    let escape = regex::Regex::new(r"\x1b\[[0-9;]*[A-Za-z]").unwrap();
    escape.replace_all(&text, "").into_owned()
}

const HELPS: [&str; 9] = [
    "--help",
    "run --help",
    "verify --help",
    "diff --help",
    "report --help",
    "advise --help",
    "patch show --help",
    "cpython-tests --help",
    "list --help",
];

#[test]
fn help_wraps_to_60_and_80_column_terminals() {
    for cols in [60, 80] {
        for args in HELPS {
            let help = in_terminal(cols, args);
            assert!(help.contains("Usage:"), "{args} at {cols}: {help}");
            let wide: Vec<&str> = help
                .lines()
                .filter(|l| l.chars().count() > usize::from(cols))
                .collect();
            assert!(wide.is_empty(), "{args} wider than {cols}: {wide:#?}");
        }
    }
}

#[test]
fn global_options_have_their_heading_and_help_says_no_internal_words() {
    let (_, top, _) = run_text(&["--help"]);
    assert!(top.contains("gh-82300"), "{top}");
    for args in HELPS {
        let words: Vec<&str> = args.split(' ').collect();
        let (code, help, err) = run_text(&words);
        assert_eq!(code, 0, "{err}");
        assert!(!help.to_lowercase().contains("seed"), "{args}: {help}");
        let (options, global) = help
            .split_once("Global options:")
            .unwrap_or_else(|| panic!("{args}: no Global options heading:\n{help}"));
        for flag in ["--color", "--quiet", "--verbose"] {
            assert!(global.contains(flag), "{args}: {flag} not under it");
            assert!(
                !options.contains(flag),
                "{args}: {flag} among the command's own"
            );
        }
    }
}

#[test]
fn qq_prints_nothing_but_errors_and_vv_prints_every_event() {
    let py = any_python();
    let one = ["run", "--python", py.arg(), "--variant", "stock"];
    let out = bin().args(one).arg("-qq").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
    // `-q` keeps the results, `-qq` not even them; errors always show.
    let out = bin().args(one).arg("-q").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("bug reproduced"));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("passed in"));
    let out = bin()
        .args(["verify", "-qq", "--patch", "/nonexistent.diff"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("error: --patch /nonexistent.diff"));

    let out = bin().args(one).arg("-vv").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Each process's command line, and each of its events under its pid.
    let pid = regex::Regex::new(r"(?m)^  \$ \[(\d+)\] .*roles\.py creator").unwrap();
    let creator = &pid.captures(&err).unwrap_or_else(|| panic!("{err}"))[1];
    assert!(
        err.contains(&format!("    [{creator}] {{\"event\": \"ready\"}}")),
        "{err}"
    );
    // `-v` alone: command lines, no events.
    let out = bin().args(one).arg("-v").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("roles.py creator") && !err.contains("\"event\""),
        "{err}"
    );
}

#[test]
fn bash_completions_offer_names_and_no_hidden_option() {
    let (code, script, _) = run_text(&["completions", "bash"]);
    assert_eq!(code, 0);
    for name in [
        "three-process",
        "attacher-unlinks",
        "create-only+lenient-tracker",
        "no-tracking",
        "track-false",
        "forkserver",
        "markdown",
    ] {
        assert!(script.contains(name), "{name} not offered");
    }
    assert!(!script.contains("--repeat"), "a hidden option is offered");
    // An unknown name still gets the one-line "did you mean".
    let (code, _, err) = run_text(&["run", "--scenario", "three-proces"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean `three-process`?"), "{err}");
}

#[test]
fn the_shell_asking_at_tab_gets_the_interpreters_found() {
    let py = any_python();
    let out = std_bin()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .env("_CLAP_IFS", "\n")
        .args(["--", "shmharness", "run", "--python", ""])
        .output()
        .unwrap();
    let offered = String::from_utf8_lossy(&out.stdout);
    let offered: Vec<&str> = offered.lines().collect();
    assert!(offered.contains(&py.minor_str().as_str()), "{offered:?}");
    assert!(offered.contains(&py.arg()), "{offered:?}");
    let out = std_bin()
        .env("COMPLETE", "bash")
        .env("_CLAP_COMPLETE_INDEX", "3")
        .args(["--", "shmharness", "verify", "--scenario", "three"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "three-process");
}
