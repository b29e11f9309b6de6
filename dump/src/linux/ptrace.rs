//! Stopping every thread of a process with `PTRACE_SEIZE` + `PTRACE_INTERRUPT`
//! and letting them go again. `SEIZE` (not `ATTACH`) because it sends no
//! `SIGSTOP`: the process never sees a signal it did not have, and a process
//! that was stopped stays stopped after we detach.
//!
//! ptrace requests are only accepted from the thread that attached, so a
//! [`Stopped`] must be used and dropped on the thread that made it.

use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::ptrace::{self, Event, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::procfs;
use crate::{interrupt, Error, Result};

/// One stopped thread.
#[derive(Debug, Clone)]
pub struct Tracee {
    pub tid: i32,
    /// A signal the thread was about to take when it stopped
    /// (signal-delivery-stop); handed back to it on detach.
    pub pending: Option<Signal>,
    /// That signal's `siginfo_t`, raw.
    pub siginfo: Option<[u8; 128]>,
    attached: bool,
}

/// Every thread of a process, stopped. Dropping it detaches them all (also
/// on error and panic), which lets them run again.
#[derive(Debug)]
pub struct Stopped {
    pub pid: i32,
    pub tracees: Vec<Tracee>,
    since: Instant,
    stopped_for: Option<Duration>,
    thread: std::thread::ThreadId,
}

fn ptrace_err(pid: i32, tid: i32, what: &'static str) -> impl FnOnce(Errno) -> Error {
    move |source| match source {
        Errno::EPERM => Error::PermissionDenied {
            pid,
            detail: format!("{what} thread {tid}: EPERM"),
            hint: super::permission::hint(pid),
        },
        Errno::ESRCH if tid == pid => Error::NoSuchProcess { pid },
        _ => Error::Ptrace { pid, tid, what, source },
    }
}

/// Whether thread `tid` of `pid` has exited or is exiting: its `/proc` entry
/// is gone or shows a zombie/dead state.
fn thread_exiting(pid: i32, tid: i32) -> bool {
    procfs::stat(pid, procfs::task_path(pid, tid, "stat")).map_or(true, |s| matches!(s.state, b'Z' | b'X' | b'x'))
}

impl Stopped {
    /// Stop every thread of `pid`. Threads are listed from `/proc/PID/task`
    /// until a listing finds none that is not stopped yet: a thread created
    /// while we were stopping the others is caught by the next listing, and
    /// once all are stopped nobody can create more.
    /// `leader_gone`: the main thread has exited (a zombie that ptrace
    /// cannot attach to); only the other threads are stopped.
    pub fn stop_all(pid: i32, leader_gone: bool) -> Result<Stopped> {
        let mut s = Stopped {
            pid,
            tracees: Vec::new(),
            since: Instant::now(),
            stopped_for: None,
            thread: std::thread::current().id(),
        };
        // Threads seen to exit: a listing may still show them for a moment,
        // and they must not keep the loop going.
        let mut gone: Vec<i32> = Vec::new();
        if leader_gone {
            gone.push(pid);
        }
        loop {
            interrupt::check()?;
            let tids = procfs::tasks(pid)?;
            let new: Vec<i32> = tids
                .into_iter()
                .filter(|t| !gone.contains(t) && !s.tracees.iter().any(|x| x.tid == *t))
                .collect();
            if new.is_empty() {
                break;
            }
            let mut seized = Vec::new();
            for tid in new {
                match ptrace::seize(Pid::from_raw(tid), Options::empty()) {
                    Ok(()) => {}
                    // Exited between the listing and now.
                    Err(Errno::ESRCH) if tid != pid => {
                        gone.push(tid);
                        continue;
                    }
                    // A thread already exiting (a zombie thread) refuses
                    // PTRACE_SEIZE with EPERM, not ESRCH: it is gone, not
                    // forbidden. Found by the storm test (dump 70 of 100).
                    Err(Errno::EPERM) if tid != pid && thread_exiting(pid, tid) => {
                        gone.push(tid);
                        continue;
                    }
                    Err(e) => return Err(ptrace_err(pid, tid, "PTRACE_SEIZE")(e)),
                }
                s.tracees.push(Tracee { tid, pending: None, siginfo: None, attached: true });
                match ptrace::interrupt(Pid::from_raw(tid)) {
                    Ok(()) => seized.push(tid),
                    Err(Errno::ESRCH) => {
                        s.forget(tid);
                        gone.push(tid);
                    }
                    Err(e) => return Err(ptrace_err(pid, tid, "PTRACE_INTERRUPT")(e)),
                }
            }
            for tid in seized {
                if !s.wait_stop(tid)? {
                    gone.push(tid);
                }
            }
        }
        if !s.tracees.iter().any(|t| t.attached) {
            return Err(Error::NoSuchProcess { pid });
        }
        // The main thread first: it is the one a reader shows as thread 1.
        s.tracees.sort_by_key(|t| (t.tid != pid, t.tid));
        s.since = Instant::now();
        Ok(s)
    }

    fn forget(&mut self, tid: i32) {
        self.tracees.retain(|t| t.tid != tid);
    }

    /// Wait for `tid` to stop; false if it exited instead.
    fn wait_stop(&mut self, tid: i32) -> Result<bool> {
        loop {
            match waitpid(Pid::from_raw(tid), Some(WaitPidFlag::__WALL)) {
                // PTRACE_INTERRUPT's stop, or a group-stop (the process was
                // already stopped by SIGSTOP).
                Ok(WaitStatus::PtraceEvent(_, _, ev)) if ev == Event::PTRACE_EVENT_STOP as i32 => return Ok(true),
                // It was about to take a signal (Go sends itself SIGURG
                // constantly): it is stopped all the same; keep the signal
                // for detach so it is not lost.
                Ok(WaitStatus::Stopped(_, sig)) => {
                    let info = getsiginfo(tid).ok();
                    if let Some(t) = self.tracees.iter_mut().find(|t| t.tid == tid) {
                        t.pending = Some(sig);
                        t.siginfo = info;
                    }
                    return Ok(true);
                }
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                    self.forget(tid);
                    return Ok(false);
                }
                // Seen (rarely) for a thread that exited between PTRACE_SEIZE
                // and the wait, under heavy thread churn: if it is gone from
                // /proc it is gone for us too; otherwise it is a real error.
                Err(Errno::EINVAL) if !std::path::Path::new(&format!("/proc/{}/task/{tid}", self.pid)).exists() => {
                    self.forget(tid);
                    return Ok(false);
                }
                Ok(_) => return Ok(true),
                Err(Errno::EINTR) => interrupt::check()?,
                Err(e) => return Err(ptrace_err(self.pid, tid, "waitpid")(e)),
            }
        }
    }

    /// Let every thread go. Idempotent; returns how long they were stopped.
    pub fn detach(&mut self) -> Duration {
        if let Some(d) = self.stopped_for {
            return d;
        }
        debug_assert_eq!(self.thread, std::thread::current().id(), "ptrace detach from another thread");
        for t in self.tracees.iter_mut().filter(|t| t.attached) {
            // ESRCH: the thread died (SIGKILL) while stopped; nothing to do.
            let _ = ptrace::detach(Pid::from_raw(t.tid), t.pending);
            t.attached = false;
        }
        let d = self.since.elapsed();
        self.stopped_for = Some(d);
        d
    }

    pub fn is_detached(&self) -> bool {
        self.stopped_for.is_some()
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        self.detach();
    }
}

/// `PTRACE_GETREGSET`: one register set, as many bytes as the kernel gives.
/// `cap` is a first guess; if the kernel fills it completely we try again
/// with twice as much, so no set is ever cut short.
#[allow(unsafe_code)] // the one raw PTRACE_GETREGSET, commented below
pub fn getregset(tid: i32, nt: u32, cap: usize) -> nix::Result<Vec<u8>> {
    let mut cap = cap.max(64);
    loop {
        let mut buf = vec![0u8; cap];
        let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        // SAFETY: `iov` points at `buf`, which outlives the call; the kernel
        // writes at most `iov_len` bytes there and updates `iov_len`. nix has
        // no untyped GETREGSET, and XSTATE/arm64 sets need one.
        let r = unsafe {
            libc::ptrace(
                libc::PTRACE_GETREGSET,
                tid as libc::pid_t,
                nt as usize as *mut libc::c_void,
                &mut iov as *mut libc::iovec as *mut libc::c_void,
            )
        };
        Errno::result(r)?;
        if iov.iov_len < cap {
            buf.truncate(iov.iov_len);
            return Ok(buf);
        }
        cap *= 2;
        if cap > 1 << 24 {
            return Ok(buf);
        }
    }
}

/// `PTRACE_GETSIGINFO` as the kernel's 128 raw bytes (what `NT_SIGINFO` holds).
#[allow(unsafe_code)] // the one raw PTRACE_GETSIGINFO, commented below
pub fn getsiginfo(tid: i32) -> nix::Result<[u8; 128]> {
    let mut buf = [0u8; 128];
    // SAFETY: `buf` has room for a whole `siginfo_t` (128 bytes on Linux).
    let r = unsafe {
        libc::ptrace(
            libc::PTRACE_GETSIGINFO,
            tid as libc::pid_t,
            std::ptr::null_mut::<libc::c_void>(),
            buf.as_mut_ptr() as *mut libc::c_void,
        )
    };
    Errno::result(r)?;
    Ok(buf)
}
