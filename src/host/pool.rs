//! A tiny worker pool: `n` jobs on `workers` threads, results in job order.
//! Jobs are taken in order, so the first cases start first, and a result's
//! position never depends on when it finished.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Run `job(0..n)` on up to `workers` threads. A job skipped because the run
/// was cancelled leaves `None`.
pub fn map<T: Send>(n: usize, workers: usize, job: impl Fn(usize) -> T + Sync) -> Vec<Option<T>> {
    let slots: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, n.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= n || crate::host::proc::cancelled() {
                        break;
                    }
                    let value = job(i);
                    slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(value);
                }
            });
        }
    });
    slots.into_inner().unwrap_or_else(|e| e.into_inner())
}
