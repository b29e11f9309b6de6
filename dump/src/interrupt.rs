//! SIGINT/SIGTERM/SIGHUP while a process is stopped must not leave it
//! stopped: the handlers only record the signal; the dump notices between
//! steps, stops, and unwinds through the detaching guard.

use std::sync::atomic::{AtomicI32, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static PENDING: AtomicI32 = AtomicI32::new(0);

extern "C" fn record(sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    PENDING.store(sig, Ordering::SeqCst);
}

/// Install the handlers. No `SA_RESTART`, so a blocked `waitpid` returns
/// `EINTR` and the attach loop gets to look at the flag.
#[allow(unsafe_code)] // sigaction, commented below
pub fn install() -> nix::Result<()> {
    let act = SigAction::new(SigHandler::Handler(record), SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        // SAFETY: the handler only stores to an atomic, which is
        // async-signal-safe; nothing else is replaced.
        unsafe { sigaction(sig, &act) }?;
    }
    Ok(())
}

/// The signal received, if any.
pub fn requested() -> Option<i32> {
    match PENDING.load(Ordering::SeqCst) {
        0 => None,
        s => Some(s),
    }
}

pub(crate) fn check() -> crate::Result<()> {
    match requested() {
        Some(signal) => Err(crate::Error::Interrupted { signal }),
        None => Ok(()),
    }
}
