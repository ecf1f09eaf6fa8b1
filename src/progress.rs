//! A progress bar on stderr for runs that take more than about a second.
//! Hidden when stderr is not a terminal or with `--quiet`. The runner only
//! calls `tick()` after each case; the bar is drawn by its own thread.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::{Duration, Instant};

static QUIET: AtomicBool = AtomicBool::new(false);
/// Where `tick()` reports while a bar is shown; `None` otherwise.
static TICKS: Mutex<Option<mpsc::Sender<()>>> = Mutex::new(None);

/// After how long a run gets a bar.
const SHOW_AFTER: Duration = Duration::from_secs(1);

pub fn init(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// One case finished.
pub fn tick() {
    if let Some(tx) = TICKS.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        let _ = tx.send(());
    }
}

/// The bar of one run; dropping it stops and clears it.
pub struct Bar {
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    pub fn start(total: usize) -> Bar {
        let visible = !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal();
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
fn draw(total: usize, ticks: mpsc::Receiver<()>) {
    let started = Instant::now();
    let mut done = 0u64;
    let mut bar: Option<indicatif::ProgressBar> = None;
    loop {
        let wait = match bar {
            None => (started + SHOW_AFTER).saturating_duration_since(Instant::now()),
            Some(_) => Duration::from_secs(3600),
        };
        match ticks.recv_timeout(wait) {
            Ok(()) => done += 1,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if bar.is_none() && started.elapsed() >= SHOW_AFTER {
            let b = indicatif::ProgressBar::new(total as u64).with_elapsed(started.elapsed());
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed:>4} [{bar:30}] {pos}/{len} cases",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            b.enable_steady_tick(Duration::from_millis(250));
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(done.min(total as u64));
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
