//! SIGINT/SIGTERM handling for the harness (signal-hook).
//!
//! After [`install`]: the first SIGINT or SIGTERM sets the flag read by [`interrupted`]
//! and SIGKILLs every registered tool process group (from a dedicated thread, not from the
//! signal handler); long loops elsewhere poll [`interrupted`] and wind down. A second
//! SIGINT (or SIGTERM) exits the process at once with code 130 (`exit::INTERRUPTED`),
//! from inside the handler, without tearing anything down.
//!
//! This module owns only the flag and the handler thread; it writes no report.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::flag;
use signal_hook::iterator::Signals;

use super::groups;
use crate::exit;

static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Installing the handlers failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "installing the SIGINT/SIGTERM handlers: {0}; the harness cannot stop tools cleanly on Ctrl-C"
)]
pub struct SignalError(#[from] std::io::Error);

fn flag_arc() -> &'static Arc<AtomicBool> {
    FLAG.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// True once SIGINT or SIGTERM arrived (after [`install`]).
pub fn interrupted() -> bool {
    FLAG.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

/// Installs the handlers; calling it again does nothing.
pub fn install() -> Result<(), SignalError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(|p| p.into_inner());
    if *installed {
        return Ok(());
    }
    let flag = flag_arc();
    for signal in [SIGINT, SIGTERM] {
        // Order matters: the exit check runs before the flag is set by the same signal.
        flag::register_conditional_shutdown(signal, exit::INTERRUPTED, Arc::clone(flag))?;
        flag::register(signal, Arc::clone(flag))?;
    }
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("b2s3-signals".to_string())
        .spawn(move || {
            for _ in signals.forever() {
                groups::kill_all();
            }
        })?;
    *installed = true;
    Ok(())
}
