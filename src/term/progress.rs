//! A progress line on stderr for runs that take more than about a second,
//! and how much else goes to the terminal: `-q` (results only), `-qq`
//! (errors only), `-v` (each case and command line), `-vv` (each
//! process's events as they arrive). The line is hidden when stderr is not
//! a terminal, with `-q` or `-v`, and never wider than the terminal. The
//! runner only calls `tick()` after each case; the line is drawn by its own
//! thread.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicI8, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

/// `-v` counts up, `-q` down: -2 (`-qq`) to 2 (`-vv`).
static LEVEL: AtomicI8 = AtomicI8::new(0);
/// One case finished: its name, and whether it ended in an error.
struct Tick {
    label: String,
    failed: bool,
}

/// Where `tick()` reports while a bar is shown; `None` otherwise.
static TICKS: Mutex<Option<mpsc::Sender<Tick>>> = Mutex::new(None);

/// After how long a run gets a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// `-q`/`-v` as counted on the command line (clap lets only one of them
/// be given).
pub fn init(quiet: u8, verbose: u8) {
    let level = i16::from(verbose.min(2)) - i16::from(quiet.min(2));
    LEVEL.store(level as i8, Ordering::Relaxed);
    if silent() {
        silence_stdout();
    }
}

/// `-qq`: stdout goes to /dev/null, so no result reaches the terminal,
/// whichever part of the program prints it (files asked for with `--json`
/// or `--out` are still written; the exit code still says the verdict).
/// The children's stdout is always a pipe of ours, never this one.
fn silence_stdout() {
    use std::os::fd::AsRawFd;
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 of a file we hold open onto fd 1; no Rust object owns fd 1.
        unsafe {
            libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO);
        }
    }
}

fn level() -> i8 {
    LEVEL.load(Ordering::Relaxed)
}

/// `-q`: only the results (no progress, no summary line).
pub fn quiet() -> bool {
    level() <= -1
}

/// `-qq`: nothing but errors (no results, notes or warnings).
pub fn silent() -> bool {
    level() <= -2
}

/// `-v`: each case as it finishes, every process's command line.
pub fn verbose() -> bool {
    level() >= 1
}

/// `-vv`: besides, every event line of every process as it arrives.
pub fn events() -> bool {
    level() >= 2
}

/// `note: ...` on stderr, unless `-qq`.
pub fn note(text: &str) {
    if !silent() {
        eprintln!("note: {text}");
    }
}

/// `warning: ...` on stderr, unless `-qq`.
pub fn warning(text: &str) {
    if !silent() {
        eprintln!("warning: {text}");
    }
}

/// A line on stderr that is neither a result nor an error (what a clean-up
/// removed), unless `-qq`.
pub fn say(line: &str) {
    if !silent() {
        eprintln!("{line}");
    }
}

/// One case finished (`label`: `3.12.1 three-process [stock]`).
pub fn tick(label: &str, failed: bool) {
    if verbose() {
        eprintln!("  done: {label}{}", if failed { " (error)" } else { "" });
    }
    if let Some(tx) = TICKS.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = tx.send(Tick {
            label: label.to_string(),
            failed,
        });
    }
}

/// The bar of one run; dropping it stops and clears it.
pub struct Bar {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    pub fn start(total: usize) -> Bar {
        let visible = !quiet() && !verbose() && std::io::stderr().is_terminal();
        let thread = visible.then(|| {
            let (tx, rx) = mpsc::channel();
            *TICKS.lock().unwrap_or_else(|e| e.into_inner()) = Some(tx);
            std::thread::spawn(move || draw(total, rx))
        });
        Bar { thread }
    }
}

/// Count ticks; show the bar once the run has lasted `SHOW_AFTER`. Ends when
/// the sender is dropped (the run is over): a channel wait, no polling.
fn draw(total: usize, ticks: mpsc::Receiver<Tick>) {
    let started = Instant::now();
    let mut done = 0u64;
    let mut failing = 0usize;
    let mut last = String::new();
    let mut bar: Option<indicatif::ProgressBar> = None;
    loop {
        let wait = match bar {
            None => (started + SHOW_AFTER).saturating_duration_since(Instant::now()),
            Some(_) => Duration::from_secs(3600),
        };
        match ticks.recv_timeout(wait) {
            Ok(tick) => {
                done += 1;
                failing += usize::from(tick.failed);
                last = tick.label;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if bar.is_none() && started.elapsed() >= SHOW_AFTER {
            let target = indicatif::ProgressDrawTarget::stderr();
            let b = line(total, target, stderr_width()).with_elapsed(started.elapsed());
            b.enable_steady_tick(Duration::from_millis(250));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(done.min(total as u64));
            b.set_message(message(failing, &last));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

/// The progress line for a terminal `width` columns wide: the counts, and
/// the last case's label cut to what is left of the line, so the line
/// never wraps (a wrapped line leaves broken copies behind as it redraws).
/// Narrower terminals get a shorter bar, then none.
fn line(total: usize, target: indicatif::ProgressDrawTarget, width: u16) -> indicatif::ProgressBar {
    let template = match width {
        80.. => "{elapsed:>4} [{bar:20}] {pos}/{len} cases, ETA {eta} {wide_msg}",
        60..80 => "{elapsed:>4} [{bar:10}] {pos}/{len}, ETA {eta} {wide_msg}",
        _ => "{pos}/{len} {wide_msg}",
    };
    let b = indicatif::ProgressBar::with_draw_target(Some(total as u64), target);
    b.set_style(
        indicatif::ProgressStyle::with_template(template)
            .expect("template")
            .progress_chars("=> "),
    );
    b
}

/// `| 2 errors | last: 3.12.1 three-process [stock]`.
fn message(failing: usize, last: &str) -> String {
    let errors = if failing > 0 {
        format!("| {} ", crate::term::style::plural(failing, "error"))
    } else {
        String::new()
    };
    format!("{errors}| last: {last}")
}

/// The width of the terminal stderr is (80 if it does not say).
fn stderr_width() -> u16 {
    super::width(libc::STDERR_FILENO).unwrap_or(80)
}

impl Drop for Bar {
    fn drop(&mut self) {
        // Dropping the sender ends the drawing thread at once.
        TICKS.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    /// A terminal `width` columns wide that keeps every line drawn on it.
    #[derive(Debug, Clone)]
    struct Screen {
        width: u16,
        lines: Arc<Mutex<Vec<String>>>,
    }

    impl indicatif::TermLike for Screen {
        fn width(&self) -> u16 {
            self.width
        }
        fn move_cursor_up(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> std::io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> std::io::Result<()> {
            self.write_str(s)
        }
        fn write_str(&self, s: &str) -> std::io::Result<()> {
            self.lines.lock().unwrap().push(s.to_string());
            Ok(())
        }
        fn clear_line(&self) -> std::io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_progress_line_fits_the_terminal_whatever_the_label() {
        let label = "3.15.2 shareable-list-attacher-unlinks (forkserver) [patch:gh-82300-fix-with-a-long-branch-name]";
        for width in [40u16, 60, 80, 120] {
            let screen = Screen {
                width,
                lines: Arc::default(),
            };
            let target = indicatif::ProgressDrawTarget::term_like(Box::new(screen.clone()));
            let bar = super::line(1234, target, width);
            bar.set_message(super::message(12, label));
            bar.set_position(999);
            bar.abandon();
            let lines = screen.lines.lock().unwrap();
            for l in lines.iter() {
                assert!(
                    l.chars().count() <= usize::from(width),
                    "{} columns in a {width}-column terminal: {l:?}",
                    l.chars().count()
                );
            }
            let last = lines.iter().rfind(|l| !l.is_empty()).expect("drawn");
            assert!(last.contains("999/1234"), "{last:?}");
            assert!(last.contains("| 12 errors | last: 3"), "{last:?}");
        }
    }
}
