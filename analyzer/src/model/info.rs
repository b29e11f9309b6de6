//! What `--info` and `--threads` show, as data: [`CoreInfo`] (the core,
//! its executable, signal, signal handlers, the runtime's clock, mappings,
//! warnings) and [`ThreadInfo`] (one OS thread: registers, function, M,
//! goroutine, what its signal handler interrupted). Built once, for a Go
//! core ([`CoreInfo::of`], [`threads`]) or a core without the Go runtime
//! ([`CoreInfo::of_core`], [`threads_of_core`]); the text views in
//! [`crate::output::report`] and [`crate::output::native`] print them.

use serde::Serialize;

use crate::analysis::{Analysis, Depth};
use crate::Warning;

/// `--info`: what a core holds, before any goroutine stack is read.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct CoreInfo {
    pub core: String,
    /// The core's format (`Elf`, `Minidump`, `MachO`).
    pub format: String,
    pub arch: &'static str,
    pub pid: Option<u64>,
    /// Program name and arguments as the core records them.
    pub command: Option<String>,
    pub executable: ExeInfo,
    /// The executable's ELF package metadata note (`.note.package`).
    pub package: Option<String>,
    /// The fields of a systemd-coredump file name.
    pub systemd: Option<SystemdName>,
    pub go: GoInfo,
    pub signal: Option<SignalInfo>,
    pub threads: usize,
    pub mappings: Vec<MappingInfo>,
    pub warnings: Vec<Warning>,
}

/// The executable: found (with its load bias), or what the core names.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "found", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExeInfo {
    Found { path: String, load_bias: u64 },
    NotFound { recorded: Option<String> },
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SystemdName {
    pub comm: String,
    pub uid: u32,
    pub pid: u64,
    pub boot_id: String,
    /// `YYYY-MM-DD HH:MM:SS UTC`.
    pub time: String,
    /// The name's pid is not the core's.
    pub pid_differs: bool,
}

/// What is known of the Go runtime in the core.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
#[non_exhaustive]
pub enum GoInfo {
    /// No Go views: `why` says so (executable missing, not a Go program).
    Unavailable { why: String },
    Runtime(Box<GoRuntime>),
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct GoRuntime {
    pub go_version: Option<String>,
    pub dwarf: bool,
    /// Where the runtime struct layouts came from.
    pub layout_source: String,
    /// The crashed thread's signal handlers, outermost first.
    pub signal_frames: Vec<SignalFrameInfo>,
    /// Why the walk over signal frames stopped early.
    pub signal_frames_stopped: Option<String>,
    /// The handlers of the thread that re-raised the crash (the core's
    /// signal thread, when the crash started on another).
    pub relay_frames: Vec<SignalFrameInfo>,
    /// A fault the runtime turned into a sigpanic.
    pub sigpanic: Option<SigpanicInfo>,
    /// Where the wait reason texts came from.
    pub wait_reasons: String,
    /// The nanotime taken as "now" (0: none), and where it came from.
    pub now: i64,
    pub now_source: String,
    pub goroutines: GoroutineCount,
}

/// How many goroutines: counted when they were read, else `allgs`' length.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum GoroutineCount {
    Live(usize),
    /// `runtime.allgs` entries, exited ones included (not read).
    Allgs(u64),
}

/// The signal the core records.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SignalInfo {
    pub number: i32,
    pub name: &'static str,
    pub code: i32,
    pub addr: Option<u64>,
    pub thread: Option<u64>,
}

/// What role a signal frame has on a thread's stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum SignalRole {
    /// The core's own signal, alone: the handler, not an original.
    Handled,
    /// The signal that started the crash.
    Original,
    /// Raised inside a handler (GOTRACEBACK=crash's SIGABRT).
    ReRaised,
    /// The runtime's relay of the crash to another M (before Go 1.22).
    Relayed,
}

/// A kernel signal frame on a thread's stack.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SignalFrameInfo {
    pub role: SignalRole,
    /// `11 (SIGSEGV) code=1 SEGV_MAPERR addr=0x0`.
    pub signal: String,
    pub pc: u64,
    pub sp: u64,
    /// Where the frame is.
    pub addr: u64,
    pub thread: u64,
}

/// A fault the runtime turned into a panic (no handler left on the stack).
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct SigpanicInfo {
    pub signal: String,
    pub pc: u64,
    pub goroutine: u64,
    pub thread: u64,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct MappingInfo {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub file_offset: u64,
    pub path: Option<String>,
}

/// `--threads`: one OS thread.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ThreadInfo {
    /// The thread the core's signal names.
    pub crashed: bool,
    pub tid: u64,
    pub pc: u64,
    pub sp: u64,
    /// The function at pc, as text (`runtime.futex +0x23`; outside Go code
    /// `name+0x10 (libc.so.6)`, or why there is none).
    pub function: String,
    /// The runtime's M on this thread and the goroutine it runs.
    pub m: Option<i64>,
    pub goroutine: Option<u64>,
    /// What the outermost signal handler on this thread interrupted.
    pub interrupted: Option<Interrupted>,
}

#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct Interrupted {
    pub signal: String,
    pub pc: u64,
    pub sp: u64,
    pub function: String,
    /// Handlers nested inside the outermost one.
    pub nested: usize,
}

impl CoreInfo {
    /// The facts of an opened Go core.
    pub fn of(a: &Analysis) -> CoreInfo {
        let c = &a.core;
        let mut info = CoreInfo::base(c);
        info.executable = ExeInfo::Found { path: a.bin.path.display().to_string(), load_bias: a.bias };
        let mut rt = GoRuntime {
            go_version: a.bin.go_version.clone(),
            dwarf: a.bin.has_dwarf,
            layout_source: a.bin.layout.source.to_string(),
            signal_frames: Vec::new(),
            signal_frames_stopped: None,
            relay_frames: Vec::new(),
            sigpanic: None,
            wait_reasons: a.state.wait_reasons_source.clone(),
            now: a.state.now,
            now_source: a.state.now_source.clone(),
            goroutines: if a.depth == Depth::NotRead {
                GoroutineCount::Allgs(a.state.allgs_len)
            } else {
                GoroutineCount::Live(a.goroutine_count())
            },
        };
        signal_chain(a, &mut rt);
        info.go = GoInfo::Runtime(Box::new(rt));
        info.warnings = a.warnings().collect();
        info
    }

    /// The facts of a core without the Go runtime; `why` says why there is
    /// none ([`crate::output::native::not_go`]).
    pub fn of_core(c: &core_reader::Core, why: &str) -> CoreInfo {
        let mut info = CoreInfo::base(c);
        info.go = GoInfo::Unavailable { why: why.to_string() };
        info
    }

    fn base(c: &core_reader::Core) -> CoreInfo {
        CoreInfo {
            core: c.path.display().to_string(),
            format: format!("{:?}", c.format),
            arch: c.arch.name(),
            pid: c.pid,
            command: c.command.clone(),
            executable: match &c.exe {
                Some(e) => ExeInfo::Found { path: e.path.display().to_string(), load_bias: e.load_bias },
                None => ExeInfo::NotFound { recorded: c.recorded_exe.path.as_ref().map(|p| p.display().to_string()) },
            },
            package: c.recorded_exe.package.clone(),
            systemd: core_reader::systemd_core_name(&c.path).map(|n| SystemdName {
                pid_differs: c.pid.is_some_and(|p| p != n.pid),
                time: utc(n.time_usec / 1_000_000),
                comm: n.comm,
                uid: n.uid,
                pid: n.pid,
                boot_id: n.boot_id,
            }),
            go: GoInfo::Unavailable { why: String::new() },
            signal: c.signal.as_ref().map(|sig| SignalInfo {
                number: sig.signo,
                name: crate::output::report::signal_name(sig.signo),
                code: sig.code,
                addr: sig.addr,
                thread: sig.thread.and_then(|i| c.threads.get(i)).map(|t| t.tid),
            }),
            threads: c.threads.len(),
            mappings: c
                .mappings
                .iter()
                .map(|m| MappingInfo {
                    start: m.start,
                    end: m.end,
                    read: m.read,
                    write: m.write,
                    exec: m.exec,
                    file_offset: m.file_offset,
                    path: m.path.as_ref().map(|p| p.display().to_string()),
                })
                .collect(),
            warnings: Warning::from_core(c).collect(),
        }
    }
}

/// The signal handlers on the crashed thread, outermost first: the signal
/// that started the crash (SIGQUIT, SIGSEGV...) and what the runtime raised
/// inside its handler (the SIGABRT of GOTRACEBACK=crash that the core names).
fn signal_chain(a: &Analysis, rt: &mut GoRuntime) {
    use crate::unwind::sigframe::{self, SigFrame};
    let Some((tid, chain)) = sigframe::of_signalled_thread(a) else { return };
    let frame = |role, f: &SigFrame, thread| SignalFrameInfo {
        role,
        signal: sigframe::describe(&f.info),
        pc: f.regs.pc(),
        sp: f.regs.sp(),
        addr: f.addr,
        thread,
    };
    // A lone handler of the core's own signal (a panic's SIGABRT) started
    // nothing else: it is the handler, not an original.
    // Not when the crash started on another thread than the core's (see
    // sigframe::origin_thread): there even a lone SIGABRT (C's abort()) is
    // the original.
    let core_signo = a.core.signal.as_ref().map(|s| s.signo);
    let core_thread = a.core.signal.as_ref().and_then(|s| s.thread).and_then(|i| a.threads.get(i));
    let lone = chain.frames.len() == 1
        && chain.frames.first().map(|f| f.info.signo) == core_signo
        && core_thread.map(|t| t.tid) == Some(tid);
    for (i, f) in chain.frames.iter().rev().enumerate() {
        let role = match i {
            0 if lone => SignalRole::Handled,
            0 => SignalRole::Original,
            _ => SignalRole::ReRaised,
        };
        rt.signal_frames.push(frame(role, f, tid));
    }
    rt.signal_frames_stopped = chain.stopped.clone();
    // Before Go 1.22 another M took the runtime's relay of the crash and
    // re-raised the SIGABRT that the core names: its handlers too.
    if let Some(t) = core_thread.filter(|t| t.tid != tid) {
        for f in a.signal_chain(t).frames.iter().rev() {
            let role = if sigframe::is_relay(&f.info, a.core.pid) { SignalRole::Relayed } else { SignalRole::ReRaised };
            rt.relay_frames.push(frame(role, f, t.tid));
        }
    }
    // No handler left on the stack: a fault the runtime turned into a
    // sigpanic that then threw (SIGBUS on a truncated mapping).
    if chain.frames.len() <= 1 {
        if let Some(o) = crate::crash::reason::original_signal(a) {
            if let crate::crash::reason::OriginalSource::Sigpanic { goid } = o.source {
                rt.sigpanic = Some(SigpanicInfo { signal: sigframe::describe(&o.info), pc: o.pc, goroutine: goid, thread: tid });
            }
        }
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` from seconds since the epoch (days to a civil
/// date by the usual era arithmetic; no time zone database needed).
fn utc(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// `--threads` of a Go core: every OS thread, with its M and goroutine.
pub fn threads(a: &Analysis) -> Vec<ThreadInfo> {
    let u = a.unwinder();
    let mut sym = crate::binary::symbolize::Symbolizer::default();
    let crashed = a.core.signal.as_ref().and_then(|s| s.thread);
    let mut describe = |pc: u64| {
        u.find_func(pc)
            .map(|f| format!("{} +{:#x}", u.func_name(&f), pc.wrapping_sub(a.bias) - f.entry))
            .unwrap_or_else(|| match a.core.mappings.iter().chain(&a.core.file_mappings).find(|m| pc >= m.start && pc < m.end) {
                Some(m) => sym.describe(pc, m),
                None => "? (pc not in any mapping)".into(),
            })
    };
    let mut out = Vec::with_capacity(a.core.threads.len());
    for (i, t) in a.core.threads.iter().enumerate() {
        let pc = t.regs.pc();
        let function = describe(pc);
        let m = a.state.ms.iter().find(|m| m.procid == t.tid);
        let goroutine = m.and_then(|m| a.goroutines.iter().find(|r| r.g.addr == m.curg && m.curg != 0)).map(|r| r.g.goid);
        // In a GOTRACEBACK=crash core every thread sits in a signal
        // handler (usleep, raise): what it was doing is the context the
        // first signal of its chain interrupted.
        let chain = a.threads.get(i).map(|t| a.signal_chain(t));
        let interrupted = chain.and_then(|c| Some((c, c.outermost()?))).map(|(chain, f)| Interrupted {
            signal: crate::unwind::sigframe::describe(&f.info),
            pc: f.regs.pc(),
            sp: f.regs.sp(),
            function: describe(f.regs.pc()),
            nested: chain.frames.len().saturating_sub(1),
        });
        out.push(ThreadInfo {
            crashed: crashed == Some(i),
            tid: t.tid,
            pc,
            sp: t.regs.sp(),
            function,
            m: m.map(|m| m.id),
            goroutine,
            interrupted,
        });
    }
    out
}

/// `--threads` of a core without the Go runtime: functions from the mapped
/// files' ELF symbols.
pub fn threads_of_core(core: &core_reader::Core, native: &crate::unwind::native::NativeUnwinder) -> Vec<ThreadInfo> {
    let crashed = core.signal.as_ref().and_then(|s| s.thread);
    core.threads
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let pc = t.regs.pc();
            let function = match native.modules().find(pc) {
                Some((m, _)) => match m.symbolize(pc.wrapping_sub(m.bias)) {
                    Some((name, off)) => format!("{name}+{off:#x} ({})", m.name),
                    None => format!("?? ({}+{:#x})", m.name, pc.wrapping_sub(m.bias)),
                },
                None => "? (pc not in any mapped file)".into(),
            };
            ThreadInfo {
                crashed: crashed == Some(i),
                tid: t.tid,
                pc,
                sp: t.regs.sp(),
                function,
                m: None,
                goroutine: None,
                interrupted: None,
            }
        })
        .collect()
}
