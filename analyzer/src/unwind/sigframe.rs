//! The kernel's signal frames on a thread's stack, decoded once for every
//! view (goroutine stacks, variables, native backtraces, crash reason).
//!
//! A Go signal handler runs `runtime.sigtramp` (or `runtime.cgoSigtramp`),
//! which the kernel entered with its `rt_sigframe` right above it: the
//! trampoline frame's fp (in our unwinder's terms: the sp before the kernel
//! "called" it) is the frame's address. Handlers nest: with
//! GOTRACEBACK=crash the runtime's handler for SIGQUIT (or SIGSEGV...) ends
//! in `crash()`, which unblocks and raises SIGABRT from inside the handler,
//! so a crashing thread holds two frames, the inner one interrupting the
//! handler on gsignal and the outer one interrupting the goroutine.
//!
//! Layouts (Linux, arch/*/kernel/signal.c and the uapi headers):
//! - amd64: `{pretcode, ucontext, siginfo}`; the kernel enters the handler
//!   with sp at `pretcode`, so the trampoline's fp is the ucontext:
//!   `uc_flags, uc_link, uc_stack{sp, flags, size}` (40 bytes), then
//!   `uc_mcontext` (`struct sigcontext`: r8..r15, rdi, rsi, rbp, rbx, rdx,
//!   rax, rcx, rsp, rip, eflags, cs/gs/fs/ss, err, trapno, oldmask, cr2,
//!   fpstate, `reserved[8]`: 256 bytes), `uc_sigmask` (8): siginfo at +304.
//! - arm64: `{siginfo (128), ucontext, ...}`; the handler starts with sp at
//!   the siginfo. The ucontext's `uc_mcontext` is 16-aligned after a
//!   1024-bit sigmask area: +176 in the ucontext, and holds fault_address,
//!   x0..x30, sp, pc, pstate.
//! - siginfo: signo, errno, code (i32 each), then at +16 the union: si_addr
//!   for faults, `{pid, uid}` for signals sent by a process.

use core_reader::{Amd64Regs, Arm64Regs, Registers};

use crate::binary::BinArch;
use crate::error::{Error, Result};
use crate::memory::Memory;
use crate::unwind::{Start, Unwinder};

/// Deeper nesting than this is a corrupt or misread stack, not handlers.
pub const MAX_NESTED: usize = 8;

/// Frames searched for the trampoline from one starting point: a handler's
/// own stack (sighandler, sigtrampgo, sigtramp, perhaps usleep or raise
/// below) is shallow; a goroutine's stack need not be walked to its end.
const MAX_HANDLER_FRAMES: usize = 48;

const AMD64_MCONTEXT: u64 = 40;
const AMD64_SIGINFO: u64 = 304;
const ARM64_SIGINFO_SIZE: u64 = 128;
const ARM64_MCONTEXT: u64 = 176;

/// The general registers a signal frame saves (and that may hold
/// pointers), in the order of amd64's `sigcontext` from r8 on.
pub const AMD64_GREGS: [&str; 15] = ["r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rdi", "rsi", "rbp", "rbx", "rdx", "rax", "rcx"];
/// arm64's: x0..x30, in `sigcontext.regs` order.
pub const ARM64_GREGS: [&str; 31] = [
    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17",
    "x18", "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30",
];

/// si_code values for signals a process sent (include/uapi/asm-generic/siginfo.h).
pub const SI_USER: i32 = 0;
pub const SI_KERNEL: i32 = 0x80;
pub const SI_QUEUE: i32 = -1;
pub const SI_TKILL: i32 = -6;

/// One `siginfo_t`, as far as a post-mortem needs it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    /// `si_addr` (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP raised by the
    /// CPU), else 0.
    pub addr: u64,
    /// The sender (kill, tgkill, sigqueue), else `None`.
    pub pid: Option<u32>,
}

impl SigInfo {
    /// Sent by a process (kill, tgkill, raise) rather than raised by the CPU.
    /// As the runtime's `sigFromUser`: si_code <= 0.
    pub fn from_user(&self) -> bool {
        self.code <= SI_USER
    }

    /// Whether `addr` is the kernel's si_addr (a fault address, 0 included:
    /// a nil dereference), as `read_siginfo` reads it.
    pub fn carries_addr(&self) -> bool {
        !self.from_user() && self.code != SI_KERNEL && matches!(self.signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP)
    }

    /// `SI_TKILL` and the like, for people.
    pub fn code_name(&self) -> Option<&'static str> {
        Some(match self.code {
            SI_USER => "SI_USER",
            SI_KERNEL => "SI_KERNEL",
            SI_QUEUE => "SI_QUEUE",
            SI_TKILL => "SI_TKILL",
            1 if self.signo == SIGSEGV => "SEGV_MAPERR",
            2 if self.signo == SIGSEGV => "SEGV_ACCERR",
            1 if self.signo == SIGBUS => "BUS_ADRALN",
            2 if self.signo == SIGBUS => "BUS_ADRERR",
            1 if self.signo == SIGTRAP => "TRAP_BRKPT",
            _ => return None,
        })
    }
}

const SIGQUIT: i32 = 3;
const SIGTRAP: i32 = 5;
const SIGABRT: i32 = 6;
const SIGSYS: i32 = 31;
const SIGBUS: i32 = 7;
const SIGSEGV: i32 = 11;
const SIGILL: i32 = 4;
const SIGFPE: i32 = 8;

/// One kernel signal frame: what the signal was and what it interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigFrame {
    /// Where the kernel's frame starts (the trampoline's fp).
    pub addr: u64,
    pub info: SigInfo,
    /// The interrupted registers. Registers a signal frame does not save
    /// (fs_base, TPIDR) are the thread's: the same thread ran both.
    pub regs: Registers,
}

/// A thread's signal frames, innermost (most recent) first.
#[derive(Debug, Clone, Default)]
pub struct SigChain {
    pub frames: Vec<SigFrame>,
    /// Why the search for a further frame ended early (an unreadable frame),
    /// if it did; a context with no trampoline below it is a normal end.
    pub stopped: Option<String>,
}

impl SigChain {
    /// The first signal of the chain: what started the handlers that are
    /// still on the stack (SIGQUIT when the runtime re-raised SIGABRT).
    pub fn outermost(&self) -> Option<&SigFrame> {
        self.frames.last()
    }

    /// The outermost context that a goroutine with stack `[lo, hi)` was
    /// running when a signal interrupted it: handlers run on gsignal or g0,
    /// so at most the first signal of a chain interrupts the goroutine.
    pub fn goroutine_context(&self, lo: u64, hi: u64, is_go: impl Fn(u64) -> bool) -> Option<&SigFrame> {
        self.frames.iter().rev().find(|f| {
            let sp = f.regs.sp();
            sp >= lo && sp < hi && is_go(f.regs.pc())
        })
    }
}

/// Whether `name` is one of Go's signal trampolines.
pub fn is_trampoline(name: &str) -> bool {
    matches!(name, "runtime.sigtramp" | "runtime.cgoSigtramp")
}

fn bad(addr: u64, why: String) -> Error {
    Error::Memory { addr, len: 0, reason: why }
}

/// Decode the signal frame at `addr` (a trampoline frame's fp). `thread`
/// gives the registers a frame does not save.
pub fn decode(arch: BinArch, mem: &dyn Memory, addr: u64, thread: &Registers) -> Result<SigFrame> {
    let (info_at, regs) = match arch {
        BinArch::Amd64 => {
            let mc = addr.wrapping_add(AMD64_MCONTEXT);
            let mut g = [0u64; 18];
            for (i, v) in g.iter_mut().enumerate() {
                *v = mem.u64(mc.wrapping_add(8 * i as u64))?;
            }
            let csgsfs = mem.u64(mc.wrapping_add(8 * 18))?;
            let base = match thread {
                Registers::Amd64(r) => *r,
                Registers::Arm64(_) => Amd64Regs::default(),
            };
            let r = Amd64Regs {
                r8: g[0],
                r9: g[1],
                r10: g[2],
                r11: g[3],
                r12: g[4],
                r13: g[5],
                r14: g[6],
                r15: g[7],
                rdi: g[8],
                rsi: g[9],
                rbp: g[10],
                rbx: g[11],
                rdx: g[12],
                rax: g[13],
                rcx: g[14],
                rsp: g[15],
                rip: g[16],
                eflags: g[17],
                cs: csgsfs & 0xffff,
                gs: (csgsfs >> 16) & 0xffff,
                fs: (csgsfs >> 32) & 0xffff,
                ss: (csgsfs >> 48) & 0xffff,
                orig_rax: u64::MAX,
                ..base
            };
            (addr.wrapping_add(AMD64_SIGINFO), Registers::Amd64(r))
        }
        BinArch::Arm64 => {
            let regs = addr.wrapping_add(ARM64_SIGINFO_SIZE + ARM64_MCONTEXT + 8);
            let mut x = [0u64; 31];
            for (i, v) in x.iter_mut().enumerate() {
                *v = mem.u64(regs.wrapping_add(8 * i as u64))?;
            }
            let tpidr = match thread {
                Registers::Arm64(r) => r.tpidr,
                Registers::Amd64(_) => None,
            };
            let r = Arm64Regs {
                x,
                sp: mem.u64(regs.wrapping_add(31 * 8))?,
                pc: mem.u64(regs.wrapping_add(32 * 8))?,
                pstate: mem.u64(regs.wrapping_add(33 * 8))?,
                tpidr,
            };
            (addr, Registers::Arm64(r))
        }
    };
    let info = read_siginfo(mem, info_at)?;
    if !(1..=64).contains(&info.signo) {
        return Err(bad(info_at, format!("no signal frame: si_signo is {}", info.signo)));
    }
    Ok(SigFrame { addr, info, regs })
}

fn read_siginfo(mem: &dyn Memory, at: u64) -> Result<SigInfo> {
    let signo = mem.u32(at)? as i32;
    let errno = mem.u32(at.wrapping_add(4))? as i32;
    let code = mem.u32(at.wrapping_add(8))? as i32;
    let mut info = SigInfo { signo, errno, code, addr: 0, pid: None };
    if code <= SI_USER {
        info.pid = Some(mem.u32(at.wrapping_add(16))?);
    } else if matches!(signo, SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP) && code != SI_KERNEL {
        info.addr = mem.u64(at.wrapping_add(16))?;
    }
    Ok(info)
}

/// Where the kernel saved each general register of the interrupted
/// context in the signal frame at `addr` (as [`decode`] reads them): the
/// registers a running goroutine held, in memory, so they can be roots.
/// The stack pointer, pc and flags are left out.
pub fn saved_registers(arch: BinArch, addr: u64) -> Vec<(&'static str, u64)> {
    let (names, base): (&[&'static str], u64) = match arch {
        BinArch::Amd64 => (&AMD64_GREGS, addr.wrapping_add(AMD64_MCONTEXT)),
        BinArch::Arm64 => (&ARM64_GREGS, addr.wrapping_add(ARM64_SIGINFO_SIZE + ARM64_MCONTEXT + 8)),
    };
    names.iter().enumerate().map(|(i, n)| (*n, base.wrapping_add(8 * i as u64))).collect()
}

/// Where to start unwinding a context: the pc is exact (interrupted, not
/// a return address).
pub fn start_of(arch: BinArch, regs: &Registers) -> Start {
    let lr = if arch.uses_lr() { regs.lr().unwrap_or(0) } else { 0 };
    Start { pc: regs.pc(), sp: regs.sp(), lr, trap: true, syscall: false }
}

/// Every signal frame of a thread whose registers are `regs`: from the
/// thread's context, find the trampoline the Go unwinder reaches, decode
/// the frame above it, and go on from the context it saved.
pub fn chain(u: &Unwinder, regs: &Registers) -> SigChain {
    let arch = u.bin.arch;
    let mut out = SigChain::default();
    let mut cur = *regs;
    while out.frames.len() < MAX_NESTED {
        let Some(addr) = trampoline_fp(u, start_of(arch, &cur)) else { return out };
        match decode(arch, u.mem, addr, regs) {
            Ok(f) => {
                // A frame whose saved context is the one we started from
                // would loop.
                if f.regs.sp() == cur.sp() && f.regs.pc() == cur.pc() {
                    out.stopped = Some(format!("the signal frame at {addr:#x} repeats its own context"));
                    return out;
                }
                cur = f.regs;
                out.frames.push(f);
            }
            Err(e) => {
                out.stopped = Some(format!("signal frame at {addr:#x}: {e}"));
                return out;
            }
        }
    }
    out.stopped = Some(format!("more than {MAX_NESTED} nested signal frames"));
    out
}

/// The fp of the first trampoline frame walking up from `start`.
fn trampoline_fp(u: &Unwinder, start: Start) -> Option<u64> {
    let seen = std::cell::Cell::new(0usize);
    let st = u.unwind_until(start, |f| {
        seen.set(seen.get() + 1);
        is_trampoline(u.func_name(&f.func)) || seen.get() >= MAX_HANDLER_FRAMES
    });
    st.frames.last().filter(|f| is_trampoline(u.func_name(&f.func))).map(|f| f.fp)
}

/// The signal frames of the thread where the crash started, with its tid
/// (see [`origin_thread`]); `None` when the core names no thread.
pub fn of_signalled_thread(a: &crate::analysis::Analysis) -> Option<(u64, &SigChain)> {
    let t = a.threads.get(origin_thread(a)?)?;
    Some((t.tid, a.signal_chain(t)))
}

/// Whether `info` is the runtime's relay of a crash to the other Ms: with
/// GOTRACEBACK=crash the first handler sends SIGQUIT to its own process
/// (`raiseproc`, so SI_USER from the core's pid) to make each M print its
/// goroutine.
pub fn is_relay(info: &SigInfo, pid: Option<u64>) -> bool {
    info.signo == SIGQUIT && info.code == SI_USER && pid.is_some() && info.pid.map(u64::from) == pid
}

/// Signals that start a crash; the runtime's own preemption (SIGURG) and
/// profiling (SIGPROF) handlers may sit on other threads and start nothing.
fn may_start_crash(signo: i32) -> bool {
    matches!(signo, SIGQUIT | SIGABRT | SIGSEGV | SIGBUS | SIGILL | SIGFPE | SIGTRAP | SIGSYS)
}

/// The index (in `a.threads`) of the thread where the crash started: the
/// core's signalled thread, unless all it holds is the runtime's relay of
/// the crash. Before Go 1.22 the last M to take that relay is the one that
/// re-raises SIGABRT and so the one the kernel names, while the signal that
/// started it all (a tgkill'd SIGQUIT, a SIGSEGV in C code) is still in the
/// handler of another thread.
pub fn origin_thread(a: &crate::analysis::Analysis) -> Option<usize> {
    let idx = a.core.signal.as_ref()?.thread?;
    let pid = a.core.pid;
    let relayed = a
        .threads
        .get(idx)
        .and_then(|t| a.signal_chain(t).outermost().map(|f| f.info))
        .is_some_and(|i| is_relay(&i, pid));
    if !relayed {
        return Some(idx);
    }
    let origin = a.threads.iter().position(|t| {
        a.signal_chain(t).outermost().is_some_and(|f| may_start_crash(f.info.signo) && !is_relay(&f.info, pid))
    });
    Some(origin.unwrap_or(idx))
}

/// `3 (SIGQUIT) code=-6 SI_TKILL pid=123` or `11 (SIGSEGV) code=1 SEGV_MAPERR addr=0x0`.
pub fn describe(info: &SigInfo) -> String {
    let name = crate::crash::reason::signal_short(info.signo);
    let mut s = format!("{} ({name}) code={}", info.signo, info.code);
    if let Some(c) = info.code_name() {
        s += &format!(" {c}");
    }
    if let Some(pid) = info.pid {
        s += &format!(" pid={pid}");
    } else if info.carries_addr() {
        s += &format!(" addr={:#x}", info.addr);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Mem(BTreeMap<u64, u8>);
    impl Memory for Mem {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr + i as u64;
                *b = *self.0.get(&a).ok_or_else(|| bad(a, "unmapped".into()))?;
            }
            Ok(())
        }
    }
    impl Mem {
        fn put(&mut self, addr: u64, bytes: &[u8]) {
            for (i, b) in bytes.iter().enumerate() {
                self.0.insert(addr + i as u64, *b);
            }
        }
    }

    /// An amd64 frame built the way the kernel lays it out: gregs in
    /// sigcontext order, siginfo after the ucontext.
    #[test]
    fn amd64_frame() {
        let base = 0x1000u64;
        let mut m = Mem(BTreeMap::new());
        m.put(base, &[0u8; 304 + 128]);
        for i in 0..17u64 {
            m.put(base + 40 + 8 * i, &(0x100 + i).to_le_bytes());
        }
        m.put(base + 40 + 8 * 18, &0x002b_0000_0000_0033u64.to_le_bytes());
        m.put(base + 304, &3u32.to_le_bytes());
        m.put(base + 304 + 8, &(-6i32).to_le_bytes());
        m.put(base + 304 + 16, &4242u32.to_le_bytes());
        let thread = Registers::Amd64(Amd64Regs { fs_base: 0x7777, ..Default::default() });
        let f = decode(BinArch::Amd64, &m, base, &thread).unwrap();
        let Registers::Amd64(r) = f.regs else { panic!("amd64 regs") };
        assert_eq!((r.r8, r.rdi, r.rbp, r.rax, r.rsp, r.rip), (0x100, 0x108, 0x10a, 0x10d, 0x10f, 0x110));
        assert_eq!((r.cs, r.ss, r.fs_base), (0x33, 0x2b, 0x7777));
        assert_eq!(f.info, SigInfo { signo: 3, errno: 0, code: SI_TKILL, addr: 0, pid: Some(4242) });
        assert_eq!(f.info.code_name(), Some("SI_TKILL"));
        assert!(f.info.from_user());
    }

    #[test]
    fn arm64_frame() {
        let base = 0x2000u64;
        let mut m = Mem(BTreeMap::new());
        m.put(base, &[0u8; 128 + 176 + 8 + 34 * 8]);
        m.put(base, &11u32.to_le_bytes());
        m.put(base + 8, &1u32.to_le_bytes());
        m.put(base + 16, &0xdeadu64.to_le_bytes());
        let regs = base + 128 + 176 + 8;
        for i in 0..33u64 {
            m.put(regs + 8 * i, &(0x200 + i).to_le_bytes());
        }
        let thread = Registers::Arm64(Arm64Regs { x: [0; 31], sp: 0, pc: 0, pstate: 0, tpidr: Some(9) });
        let f = decode(BinArch::Arm64, &m, base, &thread).unwrap();
        assert_eq!((f.regs.pc(), f.regs.sp(), f.regs.lr()), (0x220, 0x21f, Some(0x21e)));
        assert_eq!(f.info.addr, 0xdead);
        assert_eq!(f.info.code_name(), Some("SEGV_MAPERR"));
    }

    #[test]
    fn only_the_processs_own_sigquit_is_a_relay() {
        let quit = |code, pid| SigInfo { signo: 3, errno: 0, code, addr: 0, pid };
        // raiseproc: kill(getpid(), SIGQUIT).
        assert!(is_relay(&quit(SI_USER, Some(4242)), Some(4242)));
        // An operator's kill from another process, a tgkill: originals.
        assert!(!is_relay(&quit(SI_USER, Some(99)), Some(4242)));
        assert!(!is_relay(&quit(SI_TKILL, Some(4242)), Some(4242)));
        // Without the core's pid nothing can be told a relay.
        assert!(!is_relay(&quit(SI_USER, Some(4242)), None));
        let abrt = SigInfo { signo: 6, ..quit(SI_USER, Some(4242)) };
        assert!(!is_relay(&abrt, Some(4242)));
    }

    /// A nil dereference faults at address 0: that 0 is the fault address,
    /// not "no address".
    #[test]
    fn fault_address_zero_is_described() {
        let segv = SigInfo { signo: SIGSEGV, errno: 0, code: 1, addr: 0, pid: None };
        assert!(describe(&segv).ends_with("SEGV_MAPERR addr=0x0"), "{}", describe(&segv));
        let quit = SigInfo { signo: 3, errno: 0, code: SI_TKILL, addr: 0, pid: Some(7) };
        assert!(!quit.carries_addr());
        assert!(!describe(&quit).contains("addr="), "{}", describe(&quit));
        let kernel = SigInfo { code: SI_KERNEL, ..segv };
        assert!(!kernel.carries_addr());
    }

    #[test]
    fn garbage_is_an_error_not_a_frame() {
        let mut m = Mem(BTreeMap::new());
        m.put(0x3000, &[0xffu8; 304 + 128]);
        let thread = Registers::Amd64(Amd64Regs::default());
        assert!(decode(BinArch::Amd64, &m, 0x3000, &thread).is_err());
        assert!(decode(BinArch::Amd64, &m, 0x9000, &thread).is_err());
    }
}
