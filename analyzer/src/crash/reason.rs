//! Why the process died, decided from the core the way the runtime itself
//! would have told it on stderr: a panic (with its chain), a fatal error
//! (`runtime.throw` / `runtime.fatal`, with out-of-memory, deadlock and
//! stack overflow named), a signal the runtime's handler turned into a crash
//! (SIGQUIT, an external SIGABRT), or no crash at all (a snapshot).
//!
//! The kernel's signal is not the reason: with `GOTRACEBACK=crash` the
//! runtime ends every panic and throw with `raise(SIGABRT)`, so the core says
//! SIGABRT whatever happened. The evidence is on the threads' stacks:
//! `runtime.fatalpanic` (a panic), `runtime.fatalthrow` (a throw), or
//! `runtime.sighandler` (a signal handled by the runtime's crash path).

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, GoroutineReport};
use crate::runtime::goroutine::{MInfo, Thread};
use crate::memory::Memory;
use crate::runtime::panic::{self, PanicEntry};
use crate::unwind::sigframe::{self, SigFrame};
use crate::unwind::Stack;

/// Longest fatal error message we read.
const MAX_THROW_MSG: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReasonKind {
    /// An unrecovered panic (`panic: ...`).
    Panic,
    /// A runtime throw or fatal error (`fatal error: ...`) not named below.
    FatalError,
    /// `fatal error: runtime: out of memory`.
    OutOfMemory,
    /// `fatal error: all goroutines are asleep - deadlock!`.
    Deadlock,
    /// `fatal error: stack overflow`.
    StackOverflow,
    /// A signal that ended the process without a panic or throw (SIGQUIT,
    /// an external SIGABRT, a crash outside Go code).
    Signal,
    /// A snapshot of a live process (gcore, godump): nothing crashed.
    Snapshot,
    /// No evidence either way.
    Unknown,
}

impl ReasonKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonKind::Panic => "panic",
            ReasonKind::FatalError => "fatal_error",
            ReasonKind::OutOfMemory => "out_of_memory",
            ReasonKind::Deadlock => "deadlock",
            ReasonKind::StackOverflow => "stack_overflow",
            ReasonKind::Signal => "signal",
            ReasonKind::Snapshot => "snapshot",
            ReasonKind::Unknown => "unknown",
        }
    }
}

/// The signal a goroutine took (`g.sig`, `g.sigcode0/1`, `g.sigpc`): the
/// runtime's `[signal SIGSEGV: segmentation violation code=.. addr=.. pc=..]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    pub signal: u32,
    /// `SIGSEGV: segmentation violation`, as the runtime names it.
    pub name: String,
    pub code: String,
    pub addr: String,
    pub pc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub kind: ReasonKind,
    /// What the runtime printed before the goroutines, as far as the core
    /// keeps it (`panic: ...`, `fatal error: ...`, `[signal ...]`).
    pub message: String,
    /// The panic chain, newest first (as linked from `g._panic`).
    pub panics: Vec<PanicEntry>,
    /// The throw's message, when it could be read.
    pub fatal_error: Option<String>,
    pub fault: Option<Fault>,
    /// Goroutine id of the goroutine that crashed, if a goroutine did.
    pub crashing_goroutine: Option<u64>,
    /// OS thread id of the thread where the evidence was found.
    pub crashing_thread: Option<u64>,
    /// How the kind was decided, for humans.
    pub evidence: String,
    /// A snapshot of a possibly hung process, not a crash: a core with no
    /// crash in it (gcore, godump: kind `snapshot`) or a SIGQUIT the
    /// runtime turned into a goroutine dump (kind `signal`), with no panic,
    /// throw or other signal on any thread.
    #[serde(default)]
    pub snapshot: bool,
}

/// What one thread's stack says.
#[derive(Default)]
struct Evidence {
    fatalpanic: bool,
    fatalthrow: bool,
    sighandler: bool,
}

impl Evidence {
    fn any(&self) -> bool {
        self.fatalpanic || self.fatalthrow || self.sighandler
    }
}

fn names<'a>(a: &'a Analysis, s: &'a Stack) -> impl Iterator<Item = &'a str> + 'a {
    s.frames
        .iter()
        .flat_map(|f| f.logical.iter().map(|l| &*l.name).chain(std::iter::once(a.bin.pcln.func_name(&f.func))))
}

fn evidence(a: &Analysis, s: &Stack) -> Evidence {
    let mut e = Evidence::default();
    for n in names(a, s) {
        e.fatalpanic |= n.starts_with("runtime.fatalpanic");
        e.fatalthrow |= n.starts_with("runtime.fatalthrow") || n == "runtime.throw" || n == "runtime.fatal";
        e.sighandler |= n == "runtime.sighandler";
    }
    e
}

/// The stack of a thread from its registers, whatever goroutine (or g0,
/// gsignal) it is on, continued through signal frames: a crashing thread
/// is usually in `raise` inside the runtime's signal handler (the runtime's
/// final SIGABRT is delivered to its own handler, which forwards it), and
/// the crash path is on the stack the signal interrupted.
pub fn thread_stack(a: &Analysis, t: &Thread) -> Stack {
    thread_walk(a, t).0
}

/// [`thread_stack`], and the signal frame of the signal
/// `runtime.sighandler` was handling (the first handler on the stack that
/// is the runtime's, not a forwarder of a re-raise), else the outermost.
fn thread_walk(a: &Analysis, t: &Thread) -> (Stack, Option<SigFrame>) {
    let chain = a.signal_chain(t);
    let mut all = Stack::default();
    let mut handled = None;
    let starts = std::iter::once(t.regs).chain(chain.frames.iter().map(|f| f.regs));
    for (i, regs) in starts.enumerate() {
        let mut st = a.unwinder().unwind(sigframe::start_of(a.bin.arch, &regs));
        if let Some(f) = chain.frames.get(i) {
            // What lies above the trampoline is the interrupted context,
            // walked from the next start.
            if let Some(p) = st.frames.iter().position(|f| is_sigtramp(a, f)) {
                st.frames.truncate(p + 1);
            }
            if handled.is_none() && st.frames.iter().any(|f| a.bin.pcln.func_name(&f.func) == "runtime.sighandler") {
                handled = Some(*f);
            }
        }
        all.stopped = st.stopped;
        all.frames.extend(st.frames);
    }
    (all, handled.or_else(|| chain.outermost().copied()))
}

fn is_sigtramp(a: &Analysis, f: &crate::unwind::Frame) -> bool {
    sigframe::is_trampoline(a.bin.pcln.func_name(&f.func))
}

/// Decide the reason for a core.
pub fn analyze(a: &Analysis) -> Reason {
    // The signalled thread first: that is where the kernel says it happened
    // (or where the signal the runtime relayed to it was taken).
    let sig_idx = sigframe::origin_thread(a);
    let mut order: Vec<usize> = sig_idx.into_iter().collect();
    order.extend((0..a.threads.len()).filter(|i| Some(*i) != sig_idx));

    let mut found: Option<(&Thread, Stack, Evidence)> = None;
    let mut found_sig: Option<SigFrame> = None;
    for i in order {
        let Some(t) = a.threads.get(i) else { continue };
        let (st, sig) = thread_walk(a, t);
        let e = evidence(a, &st);
        // A panic or throw beats a signal handler seen on another thread
        // (GOTRACEBACK=crash makes the crashing M signal the others).
        let better = match &found {
            None => e.any(),
            Some((_, _, f)) => !f.fatalpanic && !f.fatalthrow && (e.fatalpanic || e.fatalthrow),
        };
        if better {
            found = Some((t, st, e));
            found_sig = sig;
        }
        if found.as_ref().is_some_and(|(_, _, e)| e.fatalpanic || e.fatalthrow) {
            break;
        }
    }

    let mut r = Reason {
        kind: ReasonKind::Unknown,
        message: String::new(),
        panics: Vec::new(),
        fatal_error: None,
        fault: None,
        crashing_goroutine: None,
        crashing_thread: None,
        evidence: String::new(),
        snapshot: false,
    };

    let Some((t, tstack, mut ev)) = found else {
        return no_evidence(a, r);
    };
    r.crashing_thread = Some(t.tid);
    let m_owned = m_of_thread(a, t);
    let m = m_owned.as_ref();
    let curg = m.and_then(|m| a.goroutines.iter().find(|g| g.g.addr == m.curg && m.curg != 0));
    r.crashing_goroutine = curg.map(|g| g.g.goid);
    // A throw on a goroutine's own stack (concurrent map writes) shows on
    // that goroutine's stack, not on the g0 stack the thread is on now.
    if let Some(g) = curg {
        let ge = evidence(a, &g.stack);
        ev.fatalthrow |= ge.fatalthrow;
        ev.fatalpanic |= ge.fatalpanic && !ev.fatalthrow;
        if let Some(chain) = read_chain(a, g) {
            r.panics = chain;
        }
        r.fault = fault(a, g);
    }

    if ev.fatalthrow {
        let msg = throw_message(a, &tstack).or_else(|| curg.and_then(|g| throw_message(a, &g.stack)));
        r.kind = classify_throw(a, msg.as_deref(), &tstack, curg);
        let mut text = String::new();
        if r.kind == ReasonKind::StackOverflow {
            if let Some(g) = curg {
                text += &overflow_lines(a, g);
            }
        }
        text += &format!("fatal error: {}", msg.as_deref().unwrap_or("(message not recoverable from the core)"));
        if let Some(f) = &r.fault {
            text += &format!("\n{}", fault_line(f));
        }
        r.message = text;
        r.fatal_error = msg;
        r.evidence = format!("runtime.fatalthrow on thread {}", t.tid);
        if m.is_some_and(|m| m.throwing > 0) {
            r.evidence += &format!(" (m.throwing={})", m.map(|m| m.throwing).unwrap_or(0));
        }
    } else if ev.fatalpanic {
        r.kind = ReasonKind::Panic;
        r.message = panic_message(&r);
        r.evidence = format!("runtime.fatalpanic on thread {}", t.tid);
    } else {
        r.kind = ReasonKind::Signal;
        let info = found_sig.map(|f| f.info).unwrap_or_default();
        let (signo, code, addr) = (info.signo.max(0) as u32, i64::from(info.code), info.addr);
        let name = signal_description(a, signo);
        let pc = found_sig.map(|f| f.regs.pc()).unwrap_or(0);
        // The runtime prints si_code as a uint64 (SI_TKILL is 18446744073709551610).
        let mut text = format!("{name}\nPC={pc:#x} m={} sigcode={}", m.map(|m| m.id).unwrap_or(-1), code as u64);
        if signo == SIGSEGV || signo == SIGBUS {
            text += &format!(" addr={addr:#x}");
        }
        // The runtime's own note for a signal in C code called through cgo:
        // the M was on g0 outside Go code, its goroutine in a syscall.
        let curg = m.and_then(|m| a.goroutines.iter().find(|g| g.g.addr == m.curg && m.curg != 0));
        let in_cgo = pc != 0
            && a.unwinder().find_func(pc).is_none()
            && curg.is_some_and(|g| g.g.status() == crate::runtime::goroutine::G_SYSCALL);
        if in_cgo {
            text += "\nsignal arrived during cgo execution";
        }
        r.message = text;
        r.evidence = format!("runtime.sighandler on thread {}", t.tid);
        // The runtime prints no goroutine as crashing for these (it starts
        // with the handling thread's g0), but the interrupted one is useful:
        // `m.caughtsig` when it is a goroutine, else the M's goroutine.
        let caught = m
            .and_then(|m| caught_g(a, m))
            .and_then(|addr| a.goroutines.iter().find(|g| g.g.addr == addr));
        r.crashing_goroutine = caught.or(curg).map(|g| g.g.goid);
        if signo == SIGQUIT && only_sigquit(a) {
            r.snapshot = true;
            r.evidence += "; SIGQUIT is a request for a goroutine dump: a snapshot, not a crash";
        }
    }
    r
}

/// No thread of the core is handling a signal other than SIGQUIT (the
/// runtime relays SIGQUIT to every M when it crashes, so a SIGSEGV on one
/// thread beside SIGQUITs on the others is a crash).
fn only_sigquit(a: &Analysis) -> bool {
    a.threads.iter().all(|t| {
        a.signal_chain(t).outermost().is_none_or(|f| f.info.signo == SIGQUIT as i32)
    })
}

/// The crashing goroutine's report (goroutine 1's when none crashed, as
/// the signature wants). When its stack could not be walked from where the
/// analysis started (a thread inside nested signal handlers), the part of
/// the crashing thread's stack that lies on the goroutine's stack is used.
pub fn crashing_report(a: &Analysis, r: &Reason) -> Option<GoroutineReport> {
    let id = r.crashing_goroutine.unwrap_or(1);
    let mut g = a.goroutines.iter().find(|g| g.g.goid == id)?.clone();
    if g.stack.frames.is_empty() && r.crashing_goroutine.is_some() {
        if let Some(t) = r.crashing_thread.and_then(|tid| a.threads.iter().find(|t| t.tid == tid)) {
            let st = thread_stack(a, t);
            let on_g: Vec<_> =
                st.frames.into_iter().filter(|f| f.sp >= g.g.stack_lo && f.sp < g.g.stack_hi).collect();
            if !on_g.is_empty() {
                g.stack = Stack { frames: on_g, ..st };
            }
        }
    }
    Some(g)
}

/// The M running on a thread: by `m.procid`, else (stripped binaries,
/// whose `allm` we may not have) through the g in the thread's TLS.
fn m_of_thread(a: &Analysis, t: &Thread) -> Option<MInfo> {
    if let Some(m) = a.state.ms.iter().find(|m| m.procid == t.tid && m.procid != 0) {
        return Some(m.clone());
    }
    let reader = crate::runtime::goroutine::Reader { bin: &a.bin, mem: &a.core, bias: a.bias };
    let g = reader.thread_g(t)?;
    let mp = a.core.u64(g.wrapping_add(a.bin.layout.opt("g.m")?)).ok()?;
    reader.read_m(mp).ok().filter(|m| m.procid == t.tid)
}

/// No thread shows a crash path: a snapshot of a live process, or a core
/// whose stacks we could not walk (then the goroutines decide).
fn no_evidence(a: &Analysis, mut r: Reason) -> Reason {
    // A goroutine running with a panic in flight on an M that is throwing
    // or dying: the stacks could not be walked, but the runtime state says panic.
    for m in &a.state.ms {
        let Some(g) = a.goroutines.iter().find(|g| g.g.addr == m.curg && m.curg != 0) else { continue };
        if g.g.status() != crate::runtime::goroutine::G_RUNNING {
            continue;
        }
        let chain = read_chain(a, g).unwrap_or_default();
        if m.throwing > 0 || (!chain.is_empty() && a.core.signal.as_ref().is_some_and(|s| s.signo == SIGABRT)) {
            r.crashing_goroutine = Some(g.g.goid);
            r.crashing_thread = Some(m.procid);
            r.fault = fault(a, g);
            r.panics = chain;
            if m.throwing > 0 {
                r.kind = ReasonKind::FatalError;
                r.message = "fatal error: (message not recoverable from the core)".into();
                r.evidence = format!("m{} is throwing ({})", m.id, m.throwing);
            } else {
                r.kind = ReasonKind::Panic;
                r.message = panic_message(&r);
                r.evidence = format!("goroutine {} has a panic in flight and the core's signal is SIGABRT", g.g.goid);
            }
            return r;
        }
    }
    match a.core.signal.as_ref() {
        None => {
            r.kind = ReasonKind::Snapshot;
            r.snapshot = true;
            r.message = "snapshot (no crash)".into();
            r.evidence = "the core records no signal and no thread is crashing".into();
        }
        Some(s) if s.signo == 0 || s.signo == SIGSTOP || s.signo == SIGTRAP => {
            r.kind = ReasonKind::Snapshot;
            r.snapshot = true;
            r.message = "snapshot (no crash)".into();
            r.evidence = format!("the core's signal is {} and no thread is crashing", signal_short(s.signo));
        }
        Some(s) => {
            r.kind = ReasonKind::Signal;
            let mut text = format!("{}\nsigcode={}", signal_description(a, s.signo as u32), i64::from(s.code) as u64);
            if let Some(addr) = s.addr {
                text += &format!(" addr={addr:#x}");
            }
            r.message = text;
            r.crashing_thread = s.thread.and_then(|i| a.threads.get(i)).map(|t| t.tid);
            r.evidence = "the core's signal; no Go crash path on any thread".into();
        }
    }
    r
}

/// What `newstack` prints before `throw("stack overflow")`: the limit
/// (the smaller of `runtime.maxstacksize` and `maxstackceiling`) and the
/// goroutine's sp (its `sched.sp`, less the return address morestack's call
/// pushed on amd64) and stack bounds. Needs the runtime's symbols for the limit.
fn overflow_lines(a: &Analysis, g: &GoroutineReport) -> String {
    let global = |n: &str| a.bin.symbol(n).and_then(|s| a.core.u64(s.wrapping_add(a.bias)).ok());
    let mut s = String::new();
    let limit = match (global("runtime.maxstacksize"), global("runtime.maxstackceiling")) {
        (Some(m), Some(c)) => Some(m.min(c)),
        (m, c) => m.or(c),
    };
    if let Some(limit) = limit {
        s += &format!("runtime: goroutine stack exceeds {limit}-byte limit\n");
    }
    let sp = if a.bin.arch.uses_lr() { g.g.sched.sp } else { g.g.sched.sp.wrapping_sub(8) };
    s += &format!("runtime: sp={sp:#x} stack=[{:#x}, {:#x}]\n", g.g.stack_lo, g.g.stack_hi);
    s
}

fn panic_message(r: &Reason) -> String {
    let mut text = panic::format_chain(&r.panics);
    if text.is_empty() {
        text = "panic: (value not recoverable from the core)\n".into();
    }
    if let Some(f) = &r.fault {
        text += &fault_line(f);
        text.push('\n');
    }
    text.trim_end_matches('\n').to_string()
}

fn read_chain(a: &Analysis, g: &GoroutineReport) -> Option<Vec<PanicEntry>> {
    let first = a.core.u64(g.g.addr.wrapping_add(a.bin.layout.opt("g._panic")?)).ok()?;
    let mut chain = panic::read_chain(&a.bin, &a.core, a.bias, first)?;
    let argp_off = if a.bin.arch.uses_lr() { 8 } else { 0 };
    let argps: Vec<u64> = g
        .stack
        .frames
        .iter()
        .filter(|f| a.bin.pcln.func_name(&f.func) == "runtime.gopanic")
        .map(|f| f.fp.wrapping_add(argp_off))
        .collect();
    let types = crate::runtime::gotype::TypeReader { bin: &a.bin, mem: &a.core, bias: a.bias };
    panic::original_types(&types, &mut chain, &argps);
    Some(chain)
}

/// `m.caughtsig`: the goroutine the signal interrupted.
fn caught_g(a: &Analysis, m: &MInfo) -> Option<u64> {
    let off = a.bin.layout.opt("m.caughtsig")?;
    a.core.u64(m.addr.wrapping_add(off)).ok().filter(|g| *g != 0)
}

fn fault(a: &Analysis, g: &GoroutineReport) -> Option<Fault> {
    let l = &a.bin.layout;
    let mem = &a.core;
    let sig = mem.u32(g.g.addr.wrapping_add(l.opt("g.sig")?)).ok()?;
    if sig == 0 {
        return None;
    }
    let rd = |k: &str| l.opt(k).and_then(|o| mem.u64(g.g.addr.wrapping_add(o)).ok()).unwrap_or(0);
    Some(Fault {
        signal: sig,
        name: signal_description(a, sig),
        code: format!("{:#x}", rd("g.sigcode0")),
        addr: format!("{:#x}", rd("g.sigcode1")),
        pc: format!("{:#x}", rd("g.sigpc")),
    })
}

pub fn fault_line(f: &Fault) -> String {
    format!("[signal {} code={} addr={} pc={}]", f.name, f.code, f.addr, f.pc)
}

fn classify_throw(a: &Analysis, msg: Option<&str>, tstack: &Stack, curg: Option<&GoroutineReport>) -> ReasonKind {
    let mut frames: Vec<&str> = names(a, tstack).collect();
    if let Some(g) = curg {
        frames.extend(names(a, &g.stack));
    }
    let has = |f: &str| frames.contains(&f);
    match msg {
        // checkdead's messages: "all goroutines are asleep - deadlock!",
        // "no goroutines (main called runtime.Goexit) - deadlock!".
        Some(m) if m.ends_with("- deadlock!") || m.contains("all goroutines are asleep") => ReasonKind::Deadlock,
        Some("stack overflow") => ReasonKind::StackOverflow,
        Some(m) if m.contains("out of memory") || m.contains("cannot allocate memory") => ReasonKind::OutOfMemory,
        Some(_) => ReasonKind::FatalError,
        None if has("runtime.checkdead") => ReasonKind::Deadlock,
        None if has("runtime.newstack") => ReasonKind::StackOverflow,
        None if has("runtime.sysMapOS") || has("runtime.sysMap") => ReasonKind::OutOfMemory,
        None => ReasonKind::FatalError,
    }
}

/// The message of a `runtime.throw(s)` or `runtime.fatal(s)` frame.
///
/// Both print `s` from a closure they pass to `systemstack`; the closure
/// does not escape, so its record `{fn, captured vars...}` lives in the
/// frame, and `s` is one of the captured words after the closure's code
/// pointer. That record survives where the argument registers do not
/// (the traceback's `throw({0x4c6100?, 0x41a725?})` shows stale spill
/// slots). Failing that, the argument spill slots are tried.
fn throw_message(a: &Analysis, s: &Stack) -> Option<String> {
    let mem = &a.core;
    for f in &s.frames {
        let name = a.bin.pcln.func_name(&f.func);
        if name != "runtime.throw" && name != "runtime.fatal" {
            continue;
        }
        let closure = a.bin.pcln.lookup_name(&format!("{name}.func1")).map(|c| c.entry.wrapping_add(a.bias));
        if let Some(fnpc) = closure {
            let mut p = f.sp;
            while p < f.fp && p.wrapping_sub(f.sp) < 4096 {
                if mem.u64(p).ok() == Some(fnpc) {
                    for k in 1..=3u64 {
                        if let Some(s) = plausible_string(mem, p.wrapping_add(8 * k)) {
                            return Some(s);
                        }
                    }
                }
                p = p.wrapping_add(8);
            }
        }
        let argp = f.fp.wrapping_add(if a.bin.arch.uses_lr() { 8 } else { 0 });
        if let Some(s) = plausible_string(mem, argp) {
            return Some(s);
        }
    }
    None
}

/// A Go string header at `addr` that points at printable text.
fn plausible_string(mem: &dyn Memory, addr: u64) -> Option<String> {
    let ptr = mem.u64(addr).ok()?;
    let len = mem.u64(addr.wrapping_add(8)).ok()?;
    if ptr < 4096 || len == 0 || len > MAX_THROW_MSG {
        return None;
    }
    let mut v = vec![0u8; len as usize];
    mem.read(ptr, &mut v).ok()?;
    let s = String::from_utf8(v).ok()?;
    s.chars().all(|c| !c.is_control() || c == '\n' || c == '\t').then_some(s)
}

pub const SIGTRAP: i32 = 5;
pub const SIGABRT: i32 = 6;
pub const SIGSTOP: i32 = 19;
const SIGSEGV: u32 = 11;
const SIGBUS: u32 = 7;
const SIGQUIT: u32 = 3;

/// The runtime's names for Linux signals (runtime/sigtab_linux_generic.go),
/// used when `runtime.sigtable` cannot be read from the core.
const SIGNAMES: [&str; 32] = [
    "",
    "SIGHUP: terminal line hangup",
    "SIGINT: interrupt",
    "SIGQUIT: quit",
    "SIGILL: illegal instruction",
    "SIGTRAP: trace trap",
    "SIGABRT: abort",
    "SIGBUS: bus error",
    "SIGFPE: floating-point exception",
    "SIGKILL: kill",
    "SIGUSR1: user-defined signal 1",
    "SIGSEGV: segmentation violation",
    "SIGUSR2: user-defined signal 2",
    "SIGPIPE: write to broken pipe",
    "SIGALRM: alarm clock",
    "SIGTERM: termination",
    "SIGSTKFLT: stack fault",
    "SIGCHLD: child status has changed",
    "SIGCONT: continue",
    "SIGSTOP: stop, unblockable",
    "SIGTSTP: keyboard stop",
    "SIGTTIN: background read from tty",
    "SIGTTOU: background write to tty",
    "SIGURG: urgent condition on socket",
    "SIGXCPU: cpu limit exceeded",
    "SIGXFSZ: file size limit exceeded",
    "SIGVTALRM: virtual alarm clock",
    "SIGPROF: profiling alarm clock",
    "SIGWINCH: window size change",
    "SIGIO: i/o now possible",
    "SIGPWR: power failure restart",
    "SIGSYS: bad system call",
];

/// `SIGSEGV: segmentation violation`: from the runtime's own `sigtable`
/// (`[]sigTabT{flags int32; name string}`) when its symbol is there, else
/// from the copy above.
pub fn signal_description(a: &Analysis, signo: u32) -> String {
    if let Some(tab) = a.bin.symbol("runtime.sigtable") {
        let entry = tab.wrapping_add(a.bias).wrapping_add(24 * signo as u64);
        if let Ok(s) = a.core.go_string(entry.wrapping_add(8), 128) {
            if s.starts_with("SIG") {
                return s;
            }
        }
    }
    SIGNAMES
        .get(signo as usize)
        .filter(|s| !s.is_empty())
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("signal {signo}"))
}

/// `SIGSEGV` alone.
pub fn signal_short(signo: i32) -> String {
    SIGNAMES
        .get(signo.max(0) as usize)
        .and_then(|s| s.split(':').next())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("signal {signo}"))
}

/// Where the signal that started a crash was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OriginalSource {
    /// The outermost kernel signal frame on the signalled thread: the
    /// runtime's handler was still running it when the core was written.
    SignalFrame { addr: u64 },
    /// The crashing goroutine's `g.sig`/`g.sigcode0`/`g.sigcode1`: the
    /// handler returned into an injected `runtime.sigpanic`, which then
    /// threw ("unexpected fault address"), so no frame of it is left.
    Sigpanic { goid: u64 },
}

/// The signal that started a crash, when the core keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OriginalSignal {
    pub tid: u64,
    pub info: sigframe::SigInfo,
    /// Where the signal interrupted the program.
    pub pc: u64,
    pub source: OriginalSource,
}

/// Frames of the crashing goroutine searched for `runtime.sigpanic`: the
/// throw path above it (throw, fatalthrow, systemstack) is shallow.
const SIGPANIC_SEARCH_FRAMES: usize = 12;

/// The signal that started the crash of the core's signalled thread: its
/// outermost signal frame, else the fault its goroutine is still panicking
/// on (`runtime.sigpanic` on its stack). A `g.sig` left over from a fault
/// that was recovered long ago is not reported.
pub fn original_signal(a: &Analysis) -> Option<OriginalSignal> {
    let (tid, chain) = sigframe::of_signalled_thread(a)?;
    let framed = chain
        .outermost()
        .map(|f| OriginalSignal { tid, info: f.info, pc: f.regs.pc(), source: OriginalSource::SignalFrame { addr: f.addr } });
    // A lone handler of the core's own signal sent by the process is the
    // runtime forwarding its final SIGABRT (crash() after a throw or a
    // panic), not what started the crash: a fault that became a sigpanic
    // may have.
    let core_signo = a.core.signal.as_ref().map(|s| s.signo);
    let forwarder = chain.frames.len() == 1 && framed.is_some_and(|o| o.info.from_user() && Some(o.info.signo) == core_signo);
    if framed.is_some() && !forwarder {
        return framed;
    }
    sigpanic_signal(a, tid, chain.outermost().map(|f| f.regs)).or(framed)
}

/// The fault the signalled thread's goroutine took and is still panicking
/// on. `interrupted` is what the forwarder's handler interrupted: the
/// goroutine's own stack when a panic's crash() ran there.
fn sigpanic_signal(a: &Analysis, tid: u64, interrupted: Option<core_reader::Registers>) -> Option<OriginalSignal> {
    let m = a.state.ms.iter().find(|m| m.procid == tid && m.curg != 0)?;
    let reader = crate::runtime::goroutine::Reader { bin: &a.bin, mem: &a.core, bias: a.bias };
    let g = reader.read_g(m.curg).ok()?;
    let l = &a.bin.layout;
    let rd = |k: &str| l.opt(k).and_then(|o| a.core.u64(g.addr.wrapping_add(o)).ok());
    let signo = l.opt("g.sig").and_then(|o| a.core.u32(g.addr.wrapping_add(o)).ok()).filter(|s| *s != 0)?;
    // A panic crashes on the goroutine's stack (the interrupted context is
    // there); a throw on the system stack, where g.sched is where the
    // goroutine left.
    let in_stack = |sp: u64| sp >= g.stack_lo && sp < g.stack_hi;
    let from_regs = interrupted.filter(|r| in_stack(r.sp())).map(|r| sigframe::start_of(a.bin.arch, &r));
    let from_sched = (g.sched.sp != 0 && in_stack(g.sched.sp))
        .then_some(crate::unwind::Start { pc: g.sched.pc, sp: g.sched.sp, lr: g.sched.lr, trap: false, syscall: false });
    let u = a.unwinder();
    let reaches_sigpanic = |start: crate::unwind::Start| {
        let seen = std::cell::Cell::new(0usize);
        let st = u.unwind_until(start, |f| {
            seen.set(seen.get() + 1);
            u.func_name(&f.func) == "runtime.sigpanic" || seen.get() >= SIGPANIC_SEARCH_FRAMES
        });
        st.frames.last().is_some_and(|f| u.func_name(&f.func) == "runtime.sigpanic")
    };
    if !from_regs.into_iter().chain(from_sched).any(reaches_sigpanic) {
        return None;
    }
    let info = sigframe::SigInfo {
        signo: i32::try_from(signo).ok()?,
        errno: 0,
        // sigcode0 holds the siginfo's si_code as the runtime stored it.
        code: rd("g.sigcode0")? as i32,
        addr: rd("g.sigcode1")?,
        pid: None,
    };
    Some(OriginalSignal { tid, info, pc: rd("g.sigpc").unwrap_or(0), source: OriginalSource::Sigpanic { goid: g.goid } })
}
