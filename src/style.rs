//! Terminal colors: on for a terminal, off for pipes and files, `--color`
//! and `NO_COLOR` respected. Only the verdict words are colored.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::cli::ColorChoice;
use crate::results::Verdict;

static ENABLED: AtomicBool = AtomicBool::new(false);

pub fn init(choice: ColorChoice) {
    let on = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                && std::io::stdout().is_terminal()
        }
    };
    ENABLED.store(on, Ordering::Relaxed);
}

fn paint(code: &str, text: &str) -> String {
    if ENABLED.load(Ordering::Relaxed) {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn verdict(v: Verdict, text: &str) -> String {
    match v {
        Verdict::Pass => paint("32", text),
        Verdict::Fail => paint("1;31", text),
        Verdict::Error => paint("33", text),
        Verdict::NotApplicable => paint("2", text),
    }
}

pub fn bold(text: &str) -> String {
    paint("1", text)
}
