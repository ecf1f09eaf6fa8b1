//! A progress bar on stderr for runs that take more than about a second.
//! Hidden when stderr is not a terminal or with `--quiet`. The runner only
//! calls `tick()` after each case; the bar is drawn by its own thread.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static QUIET: AtomicBool = AtomicBool::new(false);
static DONE: AtomicUsize = AtomicUsize::new(0);

pub fn init(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// One case finished.
pub fn tick() {
    DONE.fetch_add(1, Ordering::Relaxed);
}

/// The bar of one run; dropping it stops and clears it.
pub struct Bar {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Bar {
    pub fn start(total: usize) -> Bar {
        DONE.store(0, Ordering::Relaxed);
        let stop = Arc::new(AtomicBool::new(false));
        let visible = !QUIET.load(Ordering::Relaxed) && std::io::stderr().is_terminal();
        let thread = visible.then(|| {
            let stop = stop.clone();
            std::thread::spawn(move || draw(total, &stop))
        });
        Bar { stop, thread }
    }
}

fn draw(total: usize, stop: &AtomicBool) {
    let started = Instant::now();
    let mut bar: Option<indicatif::ProgressBar> = None;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(50));
        if bar.is_none() && started.elapsed() >= Duration::from_secs(1) {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template(
                    "{elapsed:>4} [{bar:30}] {pos}/{len} cases",
                )
                .expect("template")
                .progress_chars("=> "),
            );
            bar = Some(b);
        }
        if let Some(b) = &bar {
            b.set_position(DONE.load(Ordering::Relaxed).min(total) as u64);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
