//! [`DumpState`]: progress of a dump, shared (`Arc`) between the thread that
//! dumps and whoever draws it.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

#[derive(Debug, Default)]
pub struct DumpState {
    /// Set when the dump starts.
    pub dumping: AtomicBool,
    /// Set when it has ended, successfully or not (see `err`).
    pub all_done: AtomicBool,
    pub threads_done: AtomicUsize,
    pub threads_total: AtomicUsize,
    /// Bytes of memory read and written so far, of `mem_total`.
    pub mem_done: AtomicU64,
    pub mem_total: AtomicU64,
    /// The error that ended the dump, as text.
    pub err: Mutex<Option<String>>,
}

impl DumpState {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn mem(&self) -> (u64, u64) {
        (self.mem_done.load(Ordering::Relaxed), self.mem_total.load(Ordering::Relaxed))
    }
    pub fn threads(&self) -> (usize, usize) {
        (self.threads_done.load(Ordering::Relaxed), self.threads_total.load(Ordering::Relaxed))
    }
    pub fn is_done(&self) -> bool {
        self.all_done.load(Ordering::Acquire)
    }
    pub fn error(&self) -> Option<String> {
        self.err.lock().ok().and_then(|e| e.clone())
    }
    pub(crate) fn finish(&self, err: Option<String>) {
        if let Ok(mut e) = self.err.lock() {
            *e = err;
        }
        self.dumping.store(false, Ordering::Release);
        self.all_done.store(true, Ordering::Release);
    }
}
