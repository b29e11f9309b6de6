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
    /// How long the target was kept stopped (ns), set once it runs again.
    pub stopped_ns: AtomicU64,
    /// Memory is read from a copy-on-write clone (the target already runs).
    pub cloned: AtomicBool,
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
    /// How long the target was stopped, once it runs again.
    pub fn stopped(&self) -> Option<std::time::Duration> {
        let ns = self.stopped_ns.load(Ordering::Acquire);
        (ns > 0).then(|| std::time::Duration::from_nanos(ns))
    }
    pub(crate) fn set_stopped(&self, d: Option<std::time::Duration>) {
        if let Some(d) = d {
            self.stopped_ns.store((d.as_nanos() as u64).max(1), Ordering::Release);
        }
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
