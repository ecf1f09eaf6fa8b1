//! Ctrl-C and SIGTERM: stop starting cases, kill every child's process
//! group, and let the run unwind normally (segments of this run unlinked,
//! temp dirs removed), then exit 130 (143 for SIGTERM).

use std::sync::atomic::{AtomicI32, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Start the thread that turns signals into cancellation.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        if let Some(sig) = signals.forever().next() {
            RECEIVED.store(sig, Ordering::SeqCst);
            crate::proc::cancel_all();
        }
    });
    Ok(())
}

/// 128 + the signal that stopped the run.
pub fn exit_code() -> u8 {
    match RECEIVED.load(Ordering::SeqCst) {
        SIGTERM => 143,
        _ => 130,
    }
}
