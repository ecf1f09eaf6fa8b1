//! Ctrl-C and SIGTERM: stop starting work, kill every child's process group,
//! and let the command unwind normally (segments of this run unlinked, temp
//! dirs removed), then exit 130 (143 for SIGTERM). Every long phase checks
//! `received()` (through `proc::cancelled`), not only the case runner.

use std::sync::atomic::{AtomicI32, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// The signal that stopped a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => crate::contract::exit::INTERRUPTED,
            Signal::Terminate => crate::contract::exit::TERMINATED,
        }
    }
}

/// Start the thread that turns signals into cancellation. It keeps
/// listening after the first signal, so a second Ctrl-C is not lost either.
pub fn install() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::spawn(move || {
        for sig in signals.forever() {
            // The first signal decides the exit code.
            let _ = RECEIVED.compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst);
            crate::host::proc::cancel_all();
        }
    });
    Ok(())
}

/// The signal received, if any.
pub fn received() -> Option<Signal> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => crate::host::proc::cancelled().then_some(Signal::Interrupt),
        SIGTERM => Some(Signal::Terminate),
        _ => Some(Signal::Interrupt),
    }
}
