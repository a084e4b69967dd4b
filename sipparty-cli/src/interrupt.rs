//! Ctrl-C (SIGINT) and SIGTERM: the first asks the running command to
//! finish properly (hang up, unregister, write its summary and recordings);
//! a second one exits at once.

use std::sync::atomic::{AtomicBool, Ordering};

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Exit status after a second interrupt (128 + SIGINT, as shells do).
const FORCED_EXIT: i32 = 130;

/// Catch interrupts from now on. Commands that never check
/// [`interrupted`] must not call this (the first Ctrl-C would do nothing).
pub fn install() {
    let result = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, Ordering::SeqCst) {
            std::process::exit(FORCED_EXIT);
        }
        eprintln!("interrupted: finishing (press Ctrl-C again to quit at once)");
    });
    if let Err(e) = result {
        tracing::warn!(error = %e, "cannot catch Ctrl-C; it will end the program abruptly");
    }
}

/// Whether an interrupt arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
