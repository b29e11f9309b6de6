//! Ties the pieces together: a core plus its executable -> goroutines with
//! their stacks, in the order and with the starting points the runtime's own
//! crash traceback uses.

use std::path::Path;

use crate::binary::Binary;
use crate::error::{Error, Result};
use crate::runtime::goroutine::{self, Goroutine, MInfo, Reader, RuntimeState, Thread};
use crate::memory::Memory;
use crate::unwind::{Stack, Start, Unwinder};

/// One goroutine with everything the formatters need.
#[derive(Debug, Clone)]
pub struct GoroutineReport {
    pub g: Goroutine,
    pub m: Option<MInfo>,
    /// OS thread id, for goroutines running on (or in a syscall on) a thread.
    pub thread: Option<u64>,
    pub stack: Stack,
    /// Where the walk started: "sched", "syscall", "thread registers", ...
    /// (empty when the stack was not walked: [`Depth::None`]).
    pub start_source: String,
    /// Every general register at the walk's start, when it started from a
    /// thread's registers or a signal frame (what the innermost frame's
    /// variables may live in). Boxed: few goroutines have them, and a
    /// report is kept for each of maybe 100,000.
    pub start_regs: Option<Box<core_reader::Registers>>,
    /// The runtime's own crash frames (fatalpanic and what it called) that
    /// were dropped so the stack starts where the runtime's traceback starts.
    pub trimmed: usize,
    /// The runtime's isSystemGoroutine.
    pub system: bool,
    /// This goroutine is the one the crashing thread was running.
    pub crashing: bool,
}

impl GoroutineReport {
    /// Whether a view lists this goroutine: with `system == false` system
    /// goroutines are left out as GOTRACEBACK=all leaves them out (the
    /// crashing one always stays).
    pub fn listed(&self, system: bool) -> bool {
        system || !self.system || self.crashing
    }
}

/// How much of the goroutines [`Analysis`] reads when it opens a core, and
/// how deep it walks their stacks. Listing goroutines needs only the top
/// user frame, `--info` not even the goroutines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Depth {
    /// The goroutines are not even read (only the length of allgs is
    /// known): enough for `--info`.
    NotRead,
    /// Every goroutine is read once, counted and forgotten: only its
    /// address and what the counts need are kept ([`Analysis::listed`]).
    /// The listing views read each again, a chunk at a time, when they
    /// print it ([`Analysis::try_for_each_chunk`]); `goroutines` stays
    /// empty, so memory is flat whatever the number of goroutines.
    Listing,
    /// No unwinding: every report's stack is empty (streaming writers walk
    /// each one when they print it: [`Analysis::walked`]).
    None,
    /// Up to and including the first frame outside the runtime
    /// ([`is_user_func`]); enough for `--goroutines`.
    FirstUserFrame,
    /// Every frame, as the runtime's traceback prints them.
    Full,
}

/// A progress callback: `(done, total)` goroutines (see [`Analysis::open_progress`]).
pub type Progress<'p> = &'p (dyn Fn(usize, usize) + Sync);

/// A live goroutine of a [`Depth::Listing`] analysis: what the counts and
/// the order need; the rest is read again when a view prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listed {
    /// The address of its `runtime.g`.
    pub addr: u64,
    /// The runtime's isSystemGoroutine.
    pub system: bool,
    pub crashing: bool,
}

impl Listed {
    /// As [`GoroutineReport::listed`].
    pub fn listed(&self, system: bool) -> bool {
        system || !self.system || self.crashing
    }
}

/// Goroutines walked between two [`core_reader::Core::release_pages`].
pub const RELEASE_EVERY: usize = 4096;

/// The runtime's own code, as Delve's "User" location skips it.
pub fn is_user_func(name: &str) -> bool {
    !name.starts_with("runtime.") && !name.starts_with("internal/runtime")
}

pub struct Analysis {
    pub core: core_reader::Core,
    pub bin: Binary,
    pub bias: u64,
    pub threads: Vec<Thread>,
    pub state: RuntimeState,
    /// Every live goroutine, in the order the runtime prints them; empty
    /// with [`Depth::Listing`] (see `listed`).
    pub goroutines: Vec<GoroutineReport>,
    /// With [`Depth::Listing`]: every live goroutine, in that order.
    pub listed: Vec<Listed>,
    /// How far the stacks in `goroutines` were walked.
    pub depth: Depth,
    /// Each thread's signal frames (by index in `threads`), decoded on
    /// first use: goroutine start points, the crash reason, `--info` and
    /// `--threads` all ask.
    chains: std::sync::OnceLock<Vec<crate::unwind::sigframe::SigChain>>,
}

impl Analysis {
    pub fn open(core_path: &Path, exe: Option<&Path>) -> Result<Analysis> {
        Self::open_with(core_path, exe, Depth::Full)
    }

    /// [`Analysis::open`], walking stacks only as deep as `depth`.
    pub fn open_with(core_path: &Path, exe: Option<&Path>, depth: Depth) -> Result<Analysis> {
        Self::open_options(core_path, &core_reader::OpenOptions::default().exe(exe), depth)
    }

    /// Open with every option of the core reader (the executable, the
    /// decompression cap), walking stacks as deep as `depth`.
    pub fn open_options(core_path: &Path, opts: &core_reader::OpenOptions, depth: Depth) -> Result<Analysis> {
        let core = core_reader::Core::open(core_path, opts)?;
        Self::from_core_with(core, depth)
    }

    /// Analyze a core that is already open (its executable found).
    pub fn from_core(core: core_reader::Core) -> Result<Analysis> {
        Self::from_core_with(core, Depth::Full)
    }

    /// [`Analysis::from_core`], walking stacks only as deep as `depth`.
    pub fn from_core_with(core: core_reader::Core, depth: Depth) -> Result<Analysis> {
        Self::from_core_progress(core, depth, &|_, _| {})
    }

    /// [`Analysis::open_options`], calling `progress(done, total)` as the
    /// goroutines are read and walked (a chunk at a time): what a progress
    /// bar shows for a core with many goroutines.
    pub fn open_progress(
        core_path: &Path,
        opts: &core_reader::OpenOptions,
        depth: Depth,
        progress: Progress<'_>,
    ) -> Result<Analysis> {
        let core = core_reader::Core::open(core_path, opts)?;
        Self::from_core_progress(core, depth, progress)
    }

    /// [`Analysis::from_core_with`] with a progress callback (see
    /// [`Analysis::open_progress`]).
    pub fn from_core_progress(core: core_reader::Core, depth: Depth, progress: Progress<'_>) -> Result<Analysis> {
        let exe_info = core.exe.clone().ok_or_else(|| {
            let searched = &core.recorded_exe.searched;
            Error::Other(format!(
                "{}: the executable was not found{}; pass it with --exe",
                core.path.display(),
                if searched.is_empty() { String::new() } else { format!(" (looked in {})", searched.join(", ")) }
            ))
        })?;
        let bin = Binary::from_bytes(&exe_info.path, exe_info.bytes.clone())?;
        let bias = exe_info.load_bias;
        let threads: Vec<Thread> =
            core.threads.iter().map(|t| Thread { tid: t.tid, regs: t.regs }).collect();
        let mut a =
            Analysis {
                core,
                bin,
                bias,
                threads,
                state: RuntimeState::default(),
                goroutines: Vec::new(),
                listed: Vec::new(),
                depth,
                chains: std::sync::OnceLock::new(),
            };
        let reader = Reader { bin: &a.bin, mem: &a.core, bias };
        if depth == Depth::Listing {
            let mut listed = Vec::new();
            let state = reader.read_state_into(
                &a.threads,
                true,
                Some(&mut |gs: Vec<Goroutine>| {
                    use rayon::prelude::*;
                    let part: Vec<Listed> = gs
                        .par_iter()
                        .with_min_len(256)
                        .filter(|g| !g.is_dead())
                        .map(|g| Listed { addr: g.addr, system: a.is_system(g), crashing: false })
                        .collect();
                    listed.extend(part);
                }),
            )?;
            a.state = state;
            let crashing = a.crashing_g();
            for l in &mut listed {
                l.crashing = crashing == Some(l.addr);
            }
            // The runtime prints the crashing goroutine first, then allgs order.
            listed.sort_by_key(|l| !l.crashing);
            listed.shrink_to_fit();
            a.listed = listed;
            return Ok(a);
        }
        a.state = reader.read_state(&a.threads, depth > Depth::NotRead)?;
        let gs = std::mem::take(&mut a.state.goroutines);
        a.goroutines = a.build_reports(gs, progress);
        Ok(a)
    }

    /// How many live goroutines the core has.
    pub fn goroutine_count(&self) -> usize {
        if self.depth == Depth::Listing {
            self.listed.len()
        } else {
            self.goroutines.len()
        }
    }

    /// How many goroutines a view leaves out with `--system=false`
    /// (`system` false): the system goroutines, the crashing one excepted.
    pub fn hidden_system(&self, system: bool) -> usize {
        if self.depth == Depth::Listing {
            self.listed.iter().filter(|l| !l.listed(system)).count()
        } else {
            self.goroutines.iter().filter(|r| !r.listed(system)).count()
        }
    }

    /// Every live goroutine's report, in the order the runtime prints them,
    /// given to `f` a chunk of at most [`RELEASE_EVERY`] at a time. With
    /// [`Depth::Listing`] each chunk's gs are read again and their reports
    /// built for `f` and dropped after it.
    pub fn try_for_each_chunk<E>(&self, mut f: impl FnMut(&[GoroutineReport]) -> std::result::Result<(), E>) -> std::result::Result<(), E> {
        if self.depth != Depth::Listing {
            return self.goroutines.chunks(RELEASE_EVERY).try_for_each(f);
        }
        use rayon::prelude::*;
        let reader = Reader { bin: &self.bin, mem: &self.core, bias: self.bias };
        // The offsets were found when the gs were first read.
        let Ok(offs) = reader.g_offsets() else { return Ok(()) };
        let crashing = self.listed.first().filter(|l| l.crashing).map(|l| l.addr);
        for chunk in self.listed.chunks(RELEASE_EVERY) {
            // The same bytes as the first read: a g that was readable is.
            let reports: Vec<GoroutineReport> = chunk
                .par_iter()
                .with_min_len(256)
                .filter_map(|l| reader.read_g_with(&offs, l.addr).ok())
                .map(|g| self.report(g, crashing))
                .collect();
            f(&reports)?;
        }
        Ok(())
    }

    pub fn mem(&self) -> &dyn Memory {
        &self.core
    }

    pub fn unwinder(&self) -> Unwinder<'_> {
        Unwinder { bin: &self.bin, mem: &self.core, bias: self.bias }
    }

    /// The goroutine the crashing thread ran (its M's curg).
    fn crashing_g(&self) -> Option<u64> {
        let sig = self.core.signal.as_ref()?;
        let t = self.core.threads.get(sig.thread?)?;
        let m = self.state.ms.iter().find(|m| m.procid == t.tid)?;
        (m.curg != 0).then_some(m.curg)
    }

    /// The reports of the live goroutines in `gs` (allgs order), which they
    /// take over: the gs are moved, a chunk at a time from the end, so the
    /// two lists are never both whole in memory.
    fn build_reports(&self, mut gs: Vec<Goroutine>, progress: Progress<'_>) -> Vec<GoroutineReport> {
        use rayon::prelude::*;
        let crashing = self.crashing_g();
        let total = gs.len();
        let mut parts: Vec<Vec<GoroutineReport>> = Vec::new();
        while !gs.is_empty() {
            let chunk = gs.split_off(gs.len().saturating_sub(RELEASE_EVERY));
            gs.shrink_to_fit();
            // Goroutines are independent: walk them on every CPU (collect
            // on an indexed iterator keeps their order).
            parts.push(
                chunk.into_par_iter().with_min_len(256).filter(|g| !g.is_dead()).map(|g| self.report(g, crashing)).collect(),
            );
            // Each stack is read once: its pages need not stay resident.
            self.core.release_pages();
            progress(total - gs.len(), total);
        }
        let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
        while let Some(p) = parts.pop() {
            out.extend(p);
        }
        // The runtime prints the crashing goroutine first, then allgs order.
        out.sort_by_key(|r| !r.crashing);
        out
    }

    fn report(&self, owned: Goroutine, crashing: Option<u64>) -> GoroutineReport {
        let g = &owned;
        // An M missing from our list (stripped binaries find Ms through
        // the threads only) is read directly.
        let m = self.state.m_by_addr(g.m).cloned().or_else(|| {
            (g.m != 0)
                .then(|| Reader { bin: &self.bin, mem: &self.core, bias: self.bias }.read_m(g.m).ok())
                .flatten()
        });
        let thread = m.as_ref().and_then(|m| goroutine::thread_of_m(m, &self.threads));
        let (stack, source, trimmed, start_regs) = self.walk(g, m.as_ref(), thread, self.depth);
        let (system, crashing) = (self.is_system(g), crashing == Some(g.addr));
        let thread = thread.map(|t| t.tid);
        GoroutineReport {
            system,
            crashing,
            g: owned,
            thread,
            m,
            stack,
            start_source: source,
            start_regs: start_regs.map(Box::new),
            trimmed,
        }
    }

    /// `r` with its stack walked at least as deep as `want`: `r` itself when
    /// the analysis already did that, else a copy walked now. Writers that
    /// stream goroutines a chunk at a time walk them here, so every stack of
    /// a 100,000-goroutine core is never in memory at once.
    pub fn walked<'r>(&self, r: &'r GoroutineReport, want: Depth) -> std::borrow::Cow<'r, GoroutineReport> {
        if self.depth >= want {
            return std::borrow::Cow::Borrowed(r);
        }
        let thread = r.thread.and_then(|tid| self.threads.iter().find(|t| t.tid == tid));
        let (stack, start_source, trimmed, start_regs) = self.walk(&r.g, r.m.as_ref(), thread, want);
        std::borrow::Cow::Owned(GoroutineReport { stack, start_source, trimmed, start_regs: start_regs.map(Box::new), ..r.clone() })
    }

    /// Walk `g`'s stack as deep as `depth`: the stack, where the walk
    /// started, how many crash frames were trimmed, and the registers at
    /// the start when they are known.
    /// With `Depth::None` nothing is walked: no stack, no starting point.
    fn walk(
        &self,
        g: &Goroutine,
        m: Option<&MInfo>,
        thread: Option<&Thread>,
        depth: Depth,
    ) -> (Stack, String, usize, Option<core_reader::Registers>) {
        if depth <= Depth::None {
            return (Stack::default(), String::new(), 0, None);
        }
        let (start, source, regs) = self.start_for(g, m, thread);
        let mut stack = match start {
            Some(s) if depth == Depth::FirstUserFrame => {
                self.unwinder().unwind_until(s, |f| f.logical.iter().any(|l| is_user_func(&l.name)))
            }
            Some(s) => self.unwinder().unwind(s),
            None => Stack { frames: vec![], stopped: Some(source.clone()), ..Stack::default() },
        };
        let trimmed = trim_crash_frames(&self.bin, &mut stack);
        // Say where a walk that left Go code went. The runtime's
        // traceback format has no C frames; the thread view has them.
        if let (Some(pc), Some(why)) = (stack.stopped_at_pc, stack.stopped.as_mut()) {
            if let Some(m) =
                self.core.mappings.iter().chain(&self.core.file_mappings).find(|m| pc >= m.start && pc < m.end)
            {
                let mut sym = crate::binary::symbolize::Symbolizer::default();
                *why += &format!(" in {}; not Go code (C frames: goanalyze --threads --bt)", sym.describe(pc, m));
            }
        }
        (stack, source, trimmed, regs)
    }

    /// The runtime's choice of starting registers (traceback1 / initAt),
    /// with one addition a core allows: a running goroutine is walked from
    /// its thread's registers. Also every register at that start, when the
    /// start is a thread's or a signal frame's context.
    fn start_for(
        &self,
        g: &Goroutine,
        m: Option<&MInfo>,
        thread: Option<&Thread>,
    ) -> (Option<Start>, String, Option<core_reader::Registers>) {
        let arch = self.bin.arch;
        let mut regs = None;
        let syscall = || {
            (
                Some(Start { pc: g.syscallpc, sp: g.syscallsp, lr: 0, trap: false, syscall: true }),
                "syscallpc/syscallsp".to_string(),
            )
        };
        // A _Grunning goroutine may still have syscallsp set: entersyscall
        // sets it before the status becomes _Gsyscall, exitsyscall clears it
        // after the status is back to _Grunning. Its own M's signal handler
        // then walks it from the interrupted context (tracebacktrap: only
        // _Gsyscall overrides the trap's registers), so only another M, or
        // a walk without the goroutine's registers, starts at syscallpc.
        let mut s = if g.status() == goroutine::G_SYSCALL || (g.syscallsp != 0 && g.status() != goroutine::G_RUNNING) {
            syscall()
        } else if g.status() == goroutine::G_RUNNING {
            let in_stack = |sp: u64| sp >= g.stack_lo && sp < g.stack_hi;
            // In a signal handler (on gsignal, or on g0): the runtime's
            // traceback of the goroutine starts from the context the first
            // signal of the chain interrupted (`sigctxt`), not from the
            // handler and not from a nested re-raise.
            let sig = thread.filter(|t| !in_stack(t.regs.sp())).and_then(|t| {
                let chain = self.signal_chain(t);
                let u = self.unwinder();
                chain.goroutine_context(g.stack_lo, g.stack_hi, |pc| u.find_func(pc).is_some()).copied()
            });
            match thread {
                Some(t) if in_stack(t.regs.sp()) => {
                    regs = Some(t.regs);
                    (Some(crate::unwind::sigframe::start_of(arch, &t.regs)), format!("registers of thread {}", t.tid))
                }
                Some(t) if sig.is_some() => {
                    let f = sig.as_ref().map(|f| f.regs);
                    regs = f;
                    (
                        f.map(|r| crate::unwind::sigframe::start_of(arch, &r)),
                        format!("signal frame on thread {}", t.tid),
                    )
                }
                // Without its registers the runtime's initAt rule:
                // syscallsp first.
                _ if g.syscallsp != 0 => syscall(),
                // On g0 or gsignal: systemstack/mcall/morestack saved the
                // goroutine's state in g.sched.
                _ if g.sched.sp != 0 => (
                    Some(Start { pc: g.sched.pc, sp: g.sched.sp, lr: g.sched.lr, trap: false, syscall: false }),
                    "g.sched (thread is on the system stack)".to_string(),
                ),
                _ => (None, "goroutine running on other thread; stack unavailable".to_string()),
            }
        } else {
            (
                Some(Start { pc: g.sched.pc, sp: g.sched.sp, lr: g.sched.lr, trap: false, syscall: false }),
                "g.sched".to_string(),
            )
        };
        // In the VDSO the runtime records where it left Go code.
        if let Some(m) = m {
            if m.vdso_sp != 0 && m.curg == g.addr {
                regs = None;
                s = (
                    Some(Start { pc: m.vdso_pc, sp: m.vdso_sp, lr: 0, trap: false, syscall: true }),
                    "m.vdsoPC/vdsoSP".to_string(),
                );
            }
        }
        if !arch.uses_lr() {
            if let (Some(st), _) = &mut s {
                st.lr = 0;
            }
        }
        (s.0, s.1, regs)
    }

    /// The kernel's signal frames on a thread's stack, innermost first
    /// (see [`crate::unwind::sigframe`]); empty for a thread not in
    /// `self.threads`.
    pub fn signal_chain(&self, t: &Thread) -> &crate::unwind::sigframe::SigChain {
        static NONE: crate::unwind::sigframe::SigChain =
            crate::unwind::sigframe::SigChain { frames: Vec::new(), stopped: None };
        let chains = self.chains.get_or_init(|| {
            let u = self.unwinder();
            self.threads.iter().map(|t| crate::unwind::sigframe::chain(&u, &t.regs)).collect()
        });
        self.threads.iter().position(|x| x.tid == t.tid).and_then(|i| chains.get(i)).unwrap_or(&NONE)
    }

    /// runtime.isSystemGoroutine: started in package runtime, except
    /// runtime.main and coroutine/async-event starters; the finalizer and
    /// cleanup goroutines count as user goroutines while they run user code
    /// (`fingStatus & fingRunningFinalizer`, `g.runningCleanups`). Without
    /// those variables (stripped binaries) they count as system.
    pub fn is_system(&self, g: &Goroutine) -> bool {
        /// `fingRunningFinalizer` in runtime/mfinal.go (1 << 1 since Go 1.19).
        const FING_RUNNING_FINALIZER: u32 = 2;
        let Some(f) = self.unwinder().find_func(g.startpc) else { return false };
        let name = self.bin.pcln.func_name(&f);
        match name {
            "runtime.main" | "runtime.corostart" | "runtime.handleAsyncEvent" => false,
            "runtime.runFinalizers" => {
                let running = self
                    .bin
                    .symbol("runtime.fingStatus")
                    .and_then(|a| self.core.u32(a.wrapping_add(self.bias)).ok())
                    .is_some_and(|v| v & FING_RUNNING_FINALIZER != 0);
                !running
            }
            "runtime.runCleanups" => {
                let running = self
                    .bin
                    .layout
                    .opt("g.runningCleanups")
                    .and_then(|o| self.core.u8(g.addr.wrapping_add(o)).ok())
                    .is_some_and(|v| v != 0);
                !running
            }
            _ => name.starts_with("runtime."),
        }
    }
}

/// When a goroutine is walked from the g.sched saved by `systemstack` during
/// a fatal panic or throw, its top frames are the runtime's own crash path
/// (systemstack_switch, fatalpanic / fatalthrow). The runtime starts its
/// traceback at the caller of fatalpanic/fatalthrow, so we drop those frames.
fn trim_crash_frames(bin: &Binary, stack: &mut Stack) -> usize {
    let cut = stack.frames.iter().take(8).position(|f| {
        matches!(bin.pcln.func_name(&f.func), "runtime.fatalpanic" | "runtime.fatalthrow")
    });
    match cut {
        Some(i) if i + 1 < stack.frames.len() => {
            stack.frames.drain(..=i);
            i + 1
        }
        _ => 0,
    }
}

impl Analysis {
    /// Everything the analysis went on without: the core reader's warnings,
    /// then the runtime state's (unreadable Ms and goroutines, no wait
    /// reason table), in the order the CLI prints them.
    pub fn warnings(&self) -> impl Iterator<Item = crate::Warning> + '_ {
        crate::Warning::from_core(&self.core).chain(self.state.warnings.iter().cloned())
    }

    pub fn wrapper_func_id(&self) -> Option<u8> {
        Some(self.bin.wrapper_func_id)
    }
}
