//! A progress bar on stderr for runs that take more than about a second.
//! Hidden when stderr is not a terminal or with `--quiet`. The runner only
//! calls `tick()` after each case; the bar is drawn by its own thread.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

static QUIET: AtomicBool = AtomicBool::new(false);
static VERBOSE: AtomicBool = AtomicBool::new(false);
/// One case finished: its name, and whether it ended in an error.
struct Tick {
    label: String,
    failed: bool,
}

/// Where `tick()` reports while a bar is shown; `None` otherwise.
static TICKS: Mutex<Option<mpsc::Sender<Tick>>> = Mutex::new(None);

/// After how long a run gets a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

pub fn init(quiet: bool, verbose: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
    VERBOSE.store(verbose, Ordering::Relaxed);
}

/// `--quiet`: only the results.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// `--verbose`: each case as it finishes, every process's command line.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
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
            let b = indicatif::ProgressBar::new(total as u64).with_elapsed(started.elapsed());
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed:>4} [{bar:30}] {pos}/{len} cases, ETA {eta} {msg}",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(250));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(done.min(total as u64));
            let errors = if failing > 0 {
                format!("| {} ", crate::term::style::plural(failing, "error"))
            } else {
                String::new()
            };
            b.set_message(format!("{errors}| last: {last}"));
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
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
