//! `--timeout SECS` for one core (the binary's side; `--triage` has its own
//! `--timeout-per-core`, a child process a core). A watchdog thread: if the
//! analysis has not finished when the time is up, it says so on stderr and
//! exits with status 1, whatever the analysis is doing (walking a million
//! goroutines, blocked in `open(2)` of a core another process holds a lease
//! on, faulting in pages of a slow file). No partial output: the result is
//! written only by whoever finishes first, the analysis or the watchdog, so
//! stdout is either the whole result or empty.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const TIMED_OUT: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(RUNNING);

/// Start the watchdog for the analysis of `core`.
pub fn arm(secs: u64, core: PathBuf) {
    let spawned = std::thread::Builder::new().name("timeout".into()).spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        if STATE.compare_exchange(RUNNING, TIMED_OUT, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            eprintln!(
                "goanalyze: {}: the analysis did not finish within --timeout {secs} s; nothing was printed (raise --timeout, or check that the file is not held or on a slow mount)",
                core.display()
            );
            std::process::exit(1);
        }
    });
    if let Err(e) = spawned {
        eprintln!("goanalyze: warning: cannot start the --timeout watchdog ({e}); running without a time limit");
    }
}

/// The analysis is done: claim the right to print its result (or error).
/// If the watchdog claimed it first, it is exiting the process: wait for that.
pub fn finished() {
    if STATE.compare_exchange(RUNNING, FINISHED, Ordering::SeqCst, Ordering::SeqCst) == Err(TIMED_OUT) {
        loop {
            std::thread::park();
        }
    }
}
