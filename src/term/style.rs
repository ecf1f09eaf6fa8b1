//! Terminal colors: on for a terminal, off for pipes and files, `--color`
//! and `NO_COLOR` respected. Only the verdict words are colored.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colors on a terminal, none in pipes and files (and none with NO_COLOR).
    Auto,
    Always,
    Never,
}
use crate::contract::Verdict;

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

/// Write `text` to stdout. A reader that went away (`shmharness ... | head`)
/// is not an error: the output simply ends, as with any Unix tool.
pub fn out(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush());
}

/// `out` with a newline.
pub fn outln(text: &str) {
    out(&format!("{text}\n"));
}

/// An evidence line cut to a readable length (JSON keeps it whole).
pub fn short(evidence: &str) -> String {
    short_to(evidence, 200)
}

/// `text` cut to `max` characters, `...` marking the cut.
pub fn short_to(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(max).collect::<String>())
    }
}

/// `1 scenario`, `8 scenarios`: a count and its noun, agreeing.
pub fn plural(n: usize, word: &str) -> String {
    let plural = if word.ends_with('s') || word.ends_with("ch") {
        format!("{word}es")
    } else {
        format!("{word}s")
    };
    format!("{n} {}", if n == 1 { word } else { &plural })
}

/// Text from outside (an interpreter's output, a file name) made safe to
/// print on a terminal: control characters and escape sequences are shown
/// escaped (`\u{1b}`), never interpreted.
pub fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// `printable`, and newlines and tabs escaped too (`\n`, `\t`): text that
/// must stay on one line (an error message, a path inside one).
pub fn one_line(text: &str) -> String {
    printable(text).replace('\n', "\\n").replace('\t', "\\t")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_line_escapes_newlines_tabs_and_escapes() {
        assert_eq!(super::one_line("a\nb\tc\u{1b}[2J"), "a\\nb\\tc\\u{1b}[2J");
    }

    #[test]
    fn plurals_agree() {
        assert_eq!(super::plural(1, "interpreter"), "1 interpreter");
        assert_eq!(super::plural(7, "interpreter"), "7 interpreters");
        assert_eq!(super::plural(0, "error"), "0 errors");
        assert_eq!(super::plural(2, "process"), "2 processes");
    }

    #[test]
    fn printable_escapes_terminal_sequences() {
        assert_eq!(super::printable("a\x1b[2Jb\r"), "a\\u{1b}[2Jb\\r");
        assert_eq!(super::printable("line\nnext\tx"), "line\nnext\tx");
    }
}
