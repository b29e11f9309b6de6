//! Copy-on-write snapshots: while every thread of the target is stopped,
//! one of them is made to call `clone` (a syscall injected through ptrace),
//! which gives a child holding a copy-on-write copy of the whole address
//! space. The child is attached at birth and never runs a user instruction;
//! the target resumes at once, and the core is read from the child at
//! leisure. The pause is the stop plus the copying of page tables, not the
//! copying of memory.
//!
//! What the target could notice, and why it does not:
//! - The child is created without `CLONE_VM` (a copy, not a share), with
//!   `CLONE_FILES` (the fd table is shared, so no pipe or socket end stays
//!   open for longer because of it) and exit signal 0 (no SIGCHLD, and a
//!   plain `wait()` never sees it).
//! - A ptraced child that dies is reported to its tracer (us), not to its
//!   parent; once we have reaped it, it would stay a zombie child of the
//!   target (nothing autoreaps an exit signal of 0). So one thread of the
//!   target is stopped once more, for the moment of an injected
//!   `wait4(child, WNOHANG|__WALL)`, and the zombie is gone.
//! - The injecting thread gets every register back (`orig_rax` included, so
//!   an interrupted syscall restarts as it would have); a syscall changes
//!   neither the signal mask nor the FPU state. Signals that arrived while it
//!   ran our syscall are handed back to it.
//! - The child carries `PTRACE_O_EXITKILL`: if godump dies, the kernel kills
//!   the child rather than let a copy of the target run.

use std::fs::File;
use std::os::unix::fs::FileExt;

use nix::errno::Errno;
use nix::sys::ptrace::{self, Event, Options};
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::procfs::{self, proc_path, task_path};
use crate::target::MemoryMapEntry;

/// `CLONE_FILES`: share the fd table (see the module comment).
const CLONE_FILES: u64 = 0x400;
/// Syscall numbers (x86-64).
#[cfg(target_arch = "x86_64")]
const SYS_CLONE: i64 = 56;
#[cfg(target_arch = "x86_64")]
const SYS_WAIT4: i64 = 61;
/// `__WALL`, `WNOHANG`.
const WALL: u64 = 0x4000_0000;
const WNOHANG: u64 = 1;
/// Returned by a syscall that found a signal pending and wants to be redone.
const ERESTARTNOINTR: i64 = 513;

/// The result of a syscall run in a stopped thread.
#[derive(Debug, Default)]
pub struct Injected {
    /// The syscall's return value (negative errno on failure).
    pub ret: i64,
    /// A process created by it (PTRACE_EVENT_CLONE/FORK/VFORK).
    pub child: Option<i32>,
    /// Signals the thread was about to take meanwhile, held back: the
    /// caller hands them back when it lets the thread go.
    pub signals: Vec<Signal>,
}

/// Whether the two bytes at `addr` are a `syscall` instruction.
fn is_syscall_insn(mem: &File, addr: u64) -> bool {
    let mut b = [0u8; 2];
    addr > 2 && mem.read_at(&mut b, addr).ok() == Some(2) && b == [0x0f, 0x05]
}

/// An address holding a `syscall` instruction (`0f 05`) in the target:
/// right before `rip` (a thread stopped in a syscall, the usual case), else
/// anywhere in an executable mapping. The bytes need not start an
/// instruction of the program: the CPU decodes from where rip points.
/// Nothing is written to the target's memory.
pub fn find_syscall_insn(mem: &File, rip: u64, maps: &[MemoryMapEntry]) -> Option<u64> {
    if rip >= 2 && is_syscall_insn(mem, rip - 2) {
        return Some(rip - 2);
    }
    let mut buf = vec![0u8; 1 << 20];
    for m in maps.iter().filter(|m| m.perms.exec && m.perms.read) {
        let mut at = m.start;
        let end = m.end.min(m.start + (64 << 20));
        while at < end {
            let n = ((end - at) as usize).min(buf.len());
            let Ok(got) = mem.read_at(&mut buf[..n], at) else { break };
            if let Some(i) = buf[..got].windows(2).position(|w| w == [0x0f, 0x05]) {
                return Some(at + i as u64);
            }
            if got < n || got < 2 {
                break;
            }
            // Overlap by one byte, so a pair split between reads is found.
            at += got as u64 - 1;
        }
    }
    None
}

/// Run syscall `nr` with `args` in thread `tid`, stopped by us, using the
/// `syscall` instruction at `insn`; every register is put back afterwards.
/// On return the thread is in a signal-delivery-stop for the single-step's
/// SIGTRAP (resuming it with signal 0 discards that).
#[cfg(target_arch = "x86_64")]
pub fn inject(tid: i32, insn: u64, nr: i64, args: [u64; 6]) -> nix::Result<Injected> {
    let p = Pid::from_raw(tid);
    let saved = ptrace::getregs(p)?;
    let mut out = Injected::default();
    let r = (|| {
        // A clone finding a signal pending asks to be redone (ERESTARTNOINTR);
        // the signal is taken out of the way by the step that fails.
        for _attempt in 0..8 {
            let mut regs = saved;
            regs.rip = insn;
            regs.rax = nr as u64;
            regs.rdi = args[0];
            regs.rsi = args[1];
            regs.rdx = args[2];
            regs.r10 = args[3];
            regs.r8 = args[4];
            regs.r9 = args[5];
            // Not in a syscall: the kernel must not "restart" ours.
            regs.orig_rax = u64::MAX;
            ptrace::setregs(p, regs)?;
            let mut stops = 0;
            loop {
                stops += 1;
                if stops > 1000 {
                    return Err(Errno::EDEADLK);
                }
                ptrace::step(p, None)?;
                match waitpid(p, Some(WaitPidFlag::__WALL))? {
                    WaitStatus::PtraceEvent(_, _, ev)
                        if ev == Event::PTRACE_EVENT_CLONE as i32
                            || ev == Event::PTRACE_EVENT_FORK as i32
                            || ev == Event::PTRACE_EVENT_VFORK as i32 =>
                    {
                        out.child = Some(ptrace::getevent(p)? as i32);
                    }
                    WaitStatus::Stopped(_, Signal::SIGTRAP) => {
                        let now = ptrace::getregs(p)?;
                        if now.rip == insn + 2 {
                            out.ret = now.rax as i64;
                            break;
                        }
                        if now.rip != insn {
                            return Err(Errno::EFAULT);
                        }
                    }
                    // Another signal, before or after the syscall: keep it
                    // for later, do not deliver it with our registers.
                    WaitStatus::Stopped(_, sig) => {
                        if !out.signals.contains(&sig) {
                            out.signals.push(sig);
                        }
                    }
                    WaitStatus::Exited(..) | WaitStatus::Signaled(..) => return Err(Errno::ESRCH),
                    _ => {}
                }
            }
            if out.ret != -ERESTARTNOINTR {
                return Ok(());
            }
        }
        Ok(())
    })();
    // Whatever happened, the registers go back (unless the thread is gone).
    let restored = ptrace::setregs(p, saved);
    r?;
    restored?;
    Ok(out)
}

#[cfg(not(target_arch = "x86_64"))]
pub fn inject(_tid: i32, _insn: u64, _nr: i64, _args: [u64; 6]) -> nix::Result<Injected> {
    Err(Errno::ENOSYS)
}

/// Why no copy-on-write clone was made, or why it could not be reaped: each
/// becomes a `godump: note:` line (the dump then runs stopped), so every
/// variant names the pid or thread it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CloneError {
    #[error("copy-on-write snapshots are implemented for amd64 only")]
    Unsupported,
    #[error("every thread was about to take a signal")]
    AllSignalled,
    #[error("reading thread {tid}'s registers: {source}")]
    Registers { tid: i32, source: Errno },
    #[error("{0}")]
    MemoryMap(Box<crate::Error>),
    #[error("no syscall instruction found in the target")]
    NoSyscallInTarget,
    #[error("no syscall instruction found")]
    NoSyscallInThread { tid: i32 },
    #[error("PTRACE_SETOPTIONS on thread {tid}: {source}")]
    SetOptions { tid: i32, source: Errno },
    #[error("PTRACE_SEIZE thread {tid}: {source}")]
    Seize { tid: i32, source: Errno },
    #[error("stopping thread {tid}: {source}")]
    Stopping { tid: i32, source: Errno },
    #[error("thread {tid} exited")]
    ThreadExited { tid: i32 },
    /// Reading a thread's registers or opening its memory while reaping.
    #[error("{source}")]
    Thread { tid: i32, source: Errno },
    #[error("{source}")]
    ThreadMem { path: std::path::PathBuf, source: std::io::Error },
    #[error("injecting {syscall} into thread {tid}: {source}")]
    Inject { tid: i32, syscall: &'static str, source: Errno },
    #[error("clone failed in the target: {}", .errno.desc())]
    CloneFailed { tid: i32, errno: Errno },
    #[error("clone returned {ret} but ptrace reported child {child:?}")]
    ChildMismatch { ret: i64, child: Option<i32> },
    #[error("the clone (pid {child}) did not stop: {status:?}")]
    NotStopped { child: i32, status: nix::Result<WaitStatus> },
    #[error("{}: {source}", .path.display())]
    ChildMem { child: i32, path: std::path::PathBuf, source: std::io::Error },
    #[error("wait4 in the target returned {ret}")]
    Wait4 { tid: i32, ret: i64 },
    #[error("no thread to reap it from")]
    NoThread,
    #[error("{0}")]
    Tasks(Box<crate::Error>),
    #[error("the clone (pid {child}) is left a zombie child of pid {pid}: {last}")]
    LeftZombie { pid: i32, child: i32, last: Box<CloneError> },
}

/// The copy-on-write clone of a target, stopped and traced by us.
#[derive(Debug)]
pub struct Snapshot {
    pub child: i32,
    pub mem: File,
    pub pagemap: Option<File>,
    /// Where a `syscall` instruction was (for the reaping injection).
    pub insn: u64,
}

/// Clone the target through thread `tid` (stopped by us, with no signal of
/// its own pending). `Err(why)`: no clone was made and the target is as it
/// was (still stopped). Either way, the signals held back while the thread
/// ran the syscall come back with the result, for the caller to hand back.
#[cfg(target_arch = "x86_64")]
pub fn make(pid: i32, tid: i32, insn: u64) -> (Result<Snapshot, CloneError>, Vec<Signal>) {
    let p = Pid::from_raw(tid);
    // The child is attached at birth (stopped before its first instruction)
    // and inherits EXITKILL; the target's thread has it only for this moment.
    let opts = Options::PTRACE_O_TRACECLONE
        | Options::PTRACE_O_TRACEFORK
        | Options::PTRACE_O_TRACEVFORK
        | Options::PTRACE_O_EXITKILL;
    if let Err(e) = ptrace::setoptions(p, opts) {
        return (Err(CloneError::SetOptions { tid, source: e }), Vec::new());
    }
    let r = inject(tid, insn, SYS_CLONE, [CLONE_FILES, 0, 0, 0, 0, 0]);
    let _ = ptrace::setoptions(p, Options::empty());
    let inj = match r {
        Ok(i) => i,
        Err(e) => return (Err(CloneError::Inject { tid, syscall: "clone", source: e }), Vec::new()),
    };
    let signals = inj.signals;
    let child = match (inj.ret, inj.child) {
        (r, Some(c)) if r == c as i64 => c,
        (r, _) if r < 0 => {
            return (Err(CloneError::CloneFailed { tid, errno: Errno::from_raw(-r as i32) }), signals)
        }
        (r, c) => {
            // A child we were not told about, or the reverse: get rid of it.
            for c in c.into_iter().chain((r > 0).then_some(r as i32)) {
                kill_child(c);
                let _ = reap_in_target(pid, c, insn);
            }
            return (Err(CloneError::ChildMismatch { ret: r, child: c }), signals);
        }
    };
    // Its first stop (PTRACE_EVENT_STOP, as a child of a seized thread).
    loop {
        match waitpid(Pid::from_raw(child), Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::PtraceEvent(..)) | Ok(WaitStatus::Stopped(..)) => break,
            Err(Errno::EINTR) => continue,
            other => {
                let _ = reap_in_target(pid, child, insn);
                return (Err(CloneError::NotStopped { child, status: other }), signals);
            }
        }
    }
    let open = |tail: &str| File::open(proc_path(child, tail));
    match open("mem") {
        Ok(mem) => (Ok(Snapshot { child, mem, pagemap: open("pagemap").ok(), insn }), signals),
        Err(e) => {
            kill_child(child);
            let _ = reap_in_target(pid, child, insn);
            (Err(CloneError::ChildMem { child, path: proc_path(child, "mem"), source: e }), signals)
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
pub fn make(_pid: i32, _tid: i32, _insn: u64) -> (Result<Snapshot, CloneError>, Vec<Signal>) {
    (Err(CloneError::Unsupported), Vec::new())
}

/// SIGKILL our traced child and collect its exit as its tracer.
pub fn kill_child(child: i32) {
    let c = Pid::from_raw(child);
    let _ = nix::sys::signal::kill(c, Signal::SIGKILL);
    loop {
        match waitpid(c, Some(WaitPidFlag::__WALL)) {
            Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => return,
            Err(Errno::EINTR) | Ok(_) => continue,
            Err(_) => return,
        }
    }
}

/// Whether `child` is (still) a child of `pid`: its `PPid`.
fn parent_of(child: i32) -> Option<i32> {
    procfs::stat(child, proc_path(child, "stat")).ok().map(|s| s.ppid)
}

/// Reap `child` (dead, already collected by us as its tracer) in its
/// parent, the target: stop one thread of it for an injected
/// `wait4(child, NULL, WNOHANG|__WALL, NULL)`. Nothing to do when the child
/// is gone or no longer the target's (the target died: init reaps it).
pub fn reap_in_target(pid: i32, child: i32, insn_hint: u64) -> Result<(), CloneError> {
    if parent_of(child) != Some(pid) {
        return Ok(());
    }
    let tids = procfs::tasks(pid).map_err(|e| CloneError::Tasks(Box::new(e)))?;
    let mut last = CloneError::NoThread;
    for tid in tids {
        let live = procfs::stat(pid, task_path(pid, tid, "stat")).is_ok_and(|s| !matches!(s.state, b'Z' | b'X' | b'x'));
        if !live {
            continue;
        }
        match reap_through(pid, tid, child, insn_hint) {
            Ok(()) => return Ok(()),
            Err(e) => last = e,
        }
        if parent_of(child) != Some(pid) {
            return Ok(());
        }
    }
    Err(CloneError::LeftZombie { pid, child, last: Box::new(last) })
}

fn reap_through(pid: i32, tid: i32, child: i32, insn_hint: u64) -> Result<(), CloneError> {
    let p = Pid::from_raw(tid);
    ptrace::seize(p, Options::empty()).map_err(|e| CloneError::Seize { tid, source: e })?;
    let mut pending: Option<Signal> = None;
    let stopped = (|| {
        ptrace::interrupt(p)?;
        loop {
            match waitpid(p, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::PtraceEvent(..)) => return Ok(true),
                Ok(WaitStatus::Stopped(_, sig)) => {
                    pending = Some(sig);
                    return Ok(true);
                }
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) => return Ok(false),
                Err(Errno::EINTR) | Ok(_) => continue,
                Err(e) => return Err(e),
            }
        }
    })();
    let result = match stopped {
        Ok(true) => (|| {
            let path = task_path(pid, tid, "mem");
            let mem = File::open(&path).map_err(|source| CloneError::ThreadMem { path, source })?;
            #[cfg(target_arch = "x86_64")]
            let rip = ptrace::getregs(p).map_err(|e| CloneError::Thread { tid, source: e })?.rip;
            #[cfg(not(target_arch = "x86_64"))]
            let rip = 0;
            let insn = if is_syscall_insn(&mem, insn_hint) {
                insn_hint
            } else {
                find_syscall_insn(&mem, rip, &[]).ok_or(CloneError::NoSyscallInThread { tid })?
            };
            let inj = inject(tid, insn, wait4_nr(), [child as u64, 0, WNOHANG | WALL, 0, 0, 0])
                .map_err(|e| CloneError::Inject { tid, syscall: "wait4", source: e })?;
            for s in inj.signals {
                if pending.is_none() {
                    pending = Some(s);
                } else if pending != Some(s) {
                    let _ = nix::sys::signal::kill(Pid::from_raw(tid), s);
                }
            }
            if inj.ret == child as i64 {
                Ok(())
            } else {
                Err(CloneError::Wait4 { tid, ret: inj.ret })
            }
        })(),
        Ok(false) => Err(CloneError::ThreadExited { tid }),
        Err(e) => Err(CloneError::Stopping { tid, source: e }),
    };
    let _ = ptrace::detach(p, pending);
    result
}

#[cfg(target_arch = "x86_64")]
fn wait4_nr() -> i64 {
    SYS_WAIT4
}
#[cfg(not(target_arch = "x86_64"))]
fn wait4_nr() -> i64 {
    -1
}
