//! `--timeout SECS` for one core (the binary's side; `--triage` has its own
//! `--timeout-per-core`, a child process a core). A watchdog thread: if the
//! analysis has not finished when the time is up, it says so on stderr and
//! exits with status 1, whatever the analysis is doing (walking a million
//! goroutines, blocked in `open(2)` of a core another process holds a lease
//! on, faulting in pages of a slow file). Until the output starts, the
//! result is written only by whoever finishes first, the analysis or the
//! watchdog, so stdout is the whole result or empty. `--goroutines` and
//! `--stacks` write as they walk ([`writing`]); a timeout while they write
//! leaves what was written, and the error line says the output is cut.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

const RUNNING: u8 = 0;
const FINISHED: u8 = 1;
const TIMED_OUT: u8 = 2;
/// The analysis is writing its result as it goes.
const WRITING: u8 = 3;

static STATE: AtomicU8 = AtomicU8::new(RUNNING);

/// Start the watchdog for the analysis of `core`.
pub fn arm(secs: u64, core: PathBuf) {
    let spawned = std::thread::Builder::new().name("timeout".into()).spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        // Claim the exit unless the analysis finished first.
        let what = loop {
            let cur = STATE.load(Ordering::SeqCst);
            let what = match cur {
                RUNNING => "nothing was printed",
                WRITING => "the output above is cut short",
                _ => return,
            };
            if STATE.compare_exchange(cur, TIMED_OUT, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                break what;
            }
        };
        eprintln!(
            "goanalyze: {}: the analysis did not finish within --timeout {secs} s; {what} (raise --timeout, or check that the file is not held or on a slow mount)",
            core.display()
        );
        std::process::exit(1);
    });
    if let Err(e) = spawned {
        eprintln!("goanalyze: warning: cannot start the --timeout watchdog ({e}); running without a time limit");
    }
}

/// The analysis starts writing its result as it goes: a timeout from now on
/// cuts the output short instead of suppressing it.
pub fn writing() {
    let _ = STATE.compare_exchange(RUNNING, WRITING, Ordering::SeqCst, Ordering::SeqCst);
}

/// The analysis is done: claim the right to print its result (or error).
/// If the watchdog claimed it first, it is exiting the process: wait for that.
pub fn finished() {
    loop {
        match STATE.load(Ordering::SeqCst) {
            FINISHED => return,
            // The watchdog is exiting the process: wait for that.
            TIMED_OUT => loop {
                std::thread::park();
            },
            cur => {
                if STATE.compare_exchange(cur, FINISHED, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    return;
                }
            }
        }
    }
}
