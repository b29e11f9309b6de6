//! An OS thread's whole native stack, as gdb's `bt` shows it: C frames
//! through DWARF CFI (`.eh_frame`, `.debug_frame`) of the module the pc is
//! in, frame pointers where a module has no CFI for the pc, Go frames
//! through the pclntab (the runtime's own unwinder, [`crate::unwind`]), and
//! the hand-offs between them: Go returning into C, C returning into Go, a
//! signal frame, and the end of a system stack (g0 or gsignal), after which
//! the goroutine the thread runs continues on its own stack.
//!
//! Where the walk cannot go on it says so (`stopped`) instead of guessing:
//! every step must move sp up (except across a signal frame, which may
//! switch stacks), land on a return address inside an executable mapping,
//! and the walk has a frame cap.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object::{Object, ObjectSegment};

use crate::analysis::{Analysis, GoroutineReport};
use crate::model::NativeFrame;
use crate::binary::BinArch;
use crate::unwind::cfi::{self, ArchRegs, ModuleCfi, Regs};
use crate::binary::elfsym::Symbols;
use crate::unwind::{Frame, Start};

/// gdb has no cap; a corrupt stack must not make us loop.
pub const MAX_NATIVE_FRAMES: usize = 4096;

/// `AT_SYSINFO_EHDR`: where the kernel mapped the VDSO's ELF image.
const AT_SYSINFO_EHDR: u64 = 33;
/// The VDSO is one or two pages; more than this is not a VDSO.
const MAX_VDSO_SIZE: u64 = 1 << 20;

/// One ELF file mapped into the process: the executable, a library, the VDSO.
pub struct Module {
    pub path: PathBuf,
    /// The file name, as frames print it: `libc.so.6`.
    pub name: String,
    /// Runtime address minus link-time address.
    pub bias: u64,
    file: Option<core_reader::spliced::Bytes>,
    cfi: OnceCell<ModuleCfi>,
    syms: OnceCell<Symbols>,
}

impl Module {
    fn data(&self) -> &[u8] {
        self.file.as_ref().map_or(&[], |b| (**b).as_ref())
    }
    fn cfi(&self) -> &ModuleCfi {
        self.cfi.get_or_init(|| ModuleCfi::new(&self.name, self.data()))
    }
    fn symbols(&self) -> &Symbols {
        self.syms.get_or_init(|| Symbols::parse(self.data()))
    }
    /// Whether a loadable executable segment of the file overlaps the
    /// runtime range [start, end).
    fn executable(&self, start: u64, end: u64) -> bool {
        let Ok(obj) = object::File::parse(self.data()) else { return false };
        obj.segments().any(|seg| {
            let exec = matches!(seg.flags(), object::SegmentFlags::Elf { p_flags, .. } if p_flags.contains(object::elf::PF_X));
            let lo = seg.address().wrapping_add(self.bias);
            exec && lo < end && start < lo.saturating_add(seg.size())
        })
    }

    /// `name+0xoff`, or None when no symbol covers the pc.
    pub fn symbolize(&self, link_pc: u64) -> Option<(String, u64)> {
        self.symbols().lookup(link_pc).map(|(n, o)| (n.to_string(), o))
    }
}

/// Every module of a core and the address ranges each one covers.
pub struct Modules {
    mods: Vec<Module>,
    /// (start, end, exec, index into `mods`), sorted by start.
    ranges: Vec<(u64, u64, bool, usize)>,
}

fn short_name(p: &Path) -> String {
    p.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_else(|| p.display().to_string())
}

/// The load bias of an ELF file from where one of its mappings landed:
/// the segment that starts inside that mapping's file range gives
/// `runtime - link`. Shared objects link at 0, so without the file the
/// mapping's own start minus its file offset is the usual answer.
fn load_bias(data: &[u8], start: u64, end: u64, file_offset: u64) -> u64 {
    let fallback = start.wrapping_sub(file_offset);
    let Ok(obj) = object::File::parse(data) else { return fallback };
    let best = obj
        .segments()
        .filter_map(|s| {
            let (off, _) = s.file_range();
            (off >= file_offset && off - file_offset < end.saturating_sub(start)).then_some((off, s.address()))
        })
        .min_by_key(|(off, _)| *off);
    match best {
        Some((off, vaddr)) => start.wrapping_add(off - file_offset).wrapping_sub(vaddr),
        None => fallback,
    }
}

impl Modules {
    pub fn from_core(core: &core_reader::Core) -> Modules {
        let mut mods: Vec<Module> = Vec::new();
        let mut ranges = Vec::new();
        let exe_paths: Vec<&Path> = core
            .exe
            .iter()
            .map(|e| e.path.as_path())
            .chain(core.recorded_exe.path.as_deref())
            .collect();
        // NT_FILE's ranges fill in what the core's segments lack (gcore
        // leaves out unmodified library text); their permissions come from
        // the file's program headers below.
        let mut all: Vec<(&core_reader::Mapping, bool)> = core.mappings.iter().map(|m| (m, true)).collect();
        for f in &core.file_mappings {
            if !core.mappings.iter().any(|m| m.start < f.end && f.start < m.end) {
                all.push((f, false));
            }
        }
        for (m, perms_known) in all {
            let Some(path) = &m.path else { continue };
            let idx = match mods.iter().position(|x| &x.path == path) {
                Some(i) => i,
                None => {
                    let is_exe = exe_paths.contains(&path.as_path());
                    let file = if is_exe {
                        core.exe.as_ref().and_then(|e| core.files.iter().find(|f| f.path == e.path))
                    } else {
                        core.files.iter().find(|f| &f.path == path)
                    }
                    .map(|f| f.bytes.clone());
                    // The lowest-offset mapping of a file tells its bias best.
                    let first = core
                        .mappings
                        .iter()
                        .chain(&core.file_mappings)
                        .filter(|x| x.path.as_ref() == Some(path))
                        .min_by_key(|x| x.file_offset)
                        .unwrap_or(m);
                    let bias = match (&file, is_exe, &core.exe) {
                        (_, true, Some(e)) => e.load_bias,
                        (Some(b), _, _) => load_bias((**b).as_ref(), first.start, first.end, first.file_offset),
                        (None, _, _) => first.start.wrapping_sub(first.file_offset),
                    };
                    mods.push(Module {
                        path: path.clone(),
                        name: short_name(path),
                        bias,
                        file,
                        cfi: OnceCell::new(),
                        syms: OnceCell::new(),
                    });
                    mods.len() - 1
                }
            };
            let exec = if perms_known { m.exec } else { mods[idx].executable(m.start, m.end) };
            ranges.push((m.start, m.end, exec, idx));
        }
        // The VDSO has no file: its image is in the core's memory.
        if let Some(base) = core.auxv_value(AT_SYSINFO_EHDR) {
            if let Some(m) = core.mappings.iter().find(|m| m.start <= base && base < m.end && m.path.is_none()) {
                let len = m.end - m.start;
                let mut buf = vec![0u8; usize::try_from(len.min(MAX_VDSO_SIZE)).unwrap_or(0)];
                if len <= MAX_VDSO_SIZE && core.read_memory(m.start, &mut buf).is_ok() {
                    let bias = load_bias(&buf, m.start, m.end, 0);
                    mods.push(Module {
                        path: PathBuf::from("[vdso]"),
                        name: "[vdso]".into(),
                        bias,
                        file: Some(Arc::new(buf)),
                        cfi: OnceCell::new(),
                        syms: OnceCell::new(),
                    });
                    ranges.push((m.start, m.end, true, mods.len() - 1));
                }
            }
        }
        ranges.sort_by_key(|r| r.0);
        Modules { mods, ranges }
    }

    /// The module and whether the address is in an executable mapping of it.
    pub fn find(&self, addr: u64) -> Option<(&Module, bool)> {
        let i = self.ranges.partition_point(|r| r.0 <= addr);
        let (_, end, exec, idx) = *self.ranges.get(i.checked_sub(1)?)?;
        (addr < end).then(|| (&self.mods[idx], exec))
    }
}

/// How a C frame's pc and sp were found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The thread's registers (or a signal context).
    Registers,
    /// The previous frame's CFI.
    Cfi,
    /// The previous frame's saved frame pointer (no CFI covered it).
    FramePointer,
    /// A Go frame's return address.
    GoReturn,
}

#[derive(Debug, Clone)]
pub enum BtKind {
    /// Code outside the pclntab, named by the module's ELF symbols.
    C {
        symbol: Option<(String, u64)>,
        module: String,
        /// The pc as a link-time address of the module (for addr2line).
        link_pc: u64,
        via: Via,
    },
    /// Go code, as the runtime's unwinder sees it (with inlined frames).
    Go(Box<Frame>),
    /// The kernel's signal frame: what follows is what the signal interrupted.
    Signal,
    /// The system stack ended; the goroutine the thread runs continues on
    /// its own stack, walked from where the runtime would start it.
    Goroutine { goid: u64, start: String },
}

#[derive(Debug, Clone)]
pub struct BtFrame {
    pub pc: u64,
    pub sp: u64,
    pub kind: BtKind,
}

#[derive(Debug, Clone, Default)]
pub struct Backtrace {
    pub frames: Vec<BtFrame>,
    /// Why the walk ended before the outermost frame, if it did.
    pub stopped: Option<String>,
}

pub struct NativeUnwinder<'a> {
    /// The Go side (pclntab, goroutines); `None` for a core of a program
    /// that is not Go, or whose executable is missing: C frames only.
    a: Option<&'a Analysis>,
    core: &'a core_reader::Core,
    arch: BinArch,
    mods: Modules,
    regs: ArchRegs,
}

impl<'a> NativeUnwinder<'a> {
    pub fn new(a: &'a Analysis) -> NativeUnwinder<'a> {
        Self::build(Some(a), &a.core)
    }

    /// For a core without a Go executable (a C or Python program, or a Go
    /// program whose executable is missing): CFI, frame pointers and ELF
    /// symbols of whatever files the core's mappings name.
    pub fn for_core(core: &'a core_reader::Core) -> NativeUnwinder<'a> {
        Self::build(None, core)
    }

    fn build(a: Option<&'a Analysis>, core: &'a core_reader::Core) -> NativeUnwinder<'a> {
        let arch = match core.arch {
            core_reader::Arch::Amd64 => BinArch::Amd64,
            core_reader::Arch::Arm64 => BinArch::Arm64,
        };
        let arch = a.map_or(arch, |a| a.bin.arch);
        let regs = match arch {
            BinArch::Amd64 => cfi::AMD64,
            BinArch::Arm64 => cfi::ARM64,
        };
        NativeUnwinder { a, core, arch, mods: Modules::from_core(core), regs }
    }

    pub fn modules(&self) -> &Modules {
        &self.mods
    }

    /// The goroutine an M runs on the thread `tid`, if any.
    fn curg_of(&self, tid: u64) -> Option<&'a GoroutineReport> {
        let a = self.a?;
        let m = a.state.ms.iter().find(|m| m.procid == tid && m.curg != 0)?;
        a.goroutines.iter().find(|r| r.g.addr == m.curg)
    }

    /// The registers a signal interrupted, from the kernel's frame right
    /// above Go's `runtime.sigtramp` (its frame's fp): [`crate::unwind::sigframe`].
    fn signal_regs(&self, tid: u64, sigtramp_fp: u64) -> Option<Regs> {
        let t = self.core.threads.iter().find(|t| t.tid == tid)?;
        let f = crate::unwind::sigframe::decode(self.arch, self.core, sigtramp_fp, &t.regs).ok()?;
        Some(Regs::from_core(&f.regs))
    }

    /// The caller's frame pointer after `f` returns: Go saves it just below
    /// the return address (amd64) or just below the frame (arm64) in every
    /// frame that has a size.
    fn go_saved_fp(&self, f: &Frame, fp: Option<u64>) -> Option<u64> {
        let mem: &dyn crate::memory::Memory = self.core;
        match self.arch {
            BinArch::Amd64 if f.fp.wrapping_sub(f.sp) > 8 => mem.u64(f.fp.wrapping_sub(16)).ok(),
            BinArch::Arm64 if f.fp > f.sp => mem.u64(f.sp.wrapping_sub(8)).ok(),
            _ => fp,
        }
    }

    /// Walk thread `t`'s stack from its registers.
    pub fn backtrace(&self, t: &core_reader::Thread) -> Backtrace {
        self.walk(t.tid, Regs::from_core(&t.regs))
    }

    fn walk(&self, tid: u64, mut regs: Regs) -> Backtrace {
        let ar = self.regs;
        let mem: &dyn crate::memory::Memory = self.core;
        let u = self.a.map(|a| a.unwinder());
        let mut bt = Backtrace::default();
        // The pc is exact (not a return address) for the first frame and
        // right after a signal frame.
        let mut trap = true;
        let mut via = Via::Registers;
        let stop = |bt: &mut Backtrace, why: String| bt.stopped = Some(why);
        while bt.frames.len() < MAX_NATIVE_FRAMES {
            let (Some(pc), Some(sp)) = (regs.get(ar.pc), regs.get(ar.sp)) else {
                stop(&mut bt, "the pc or sp of the next frame is unknown".into());
                return bt;
            };
            if pc == 0 && !bt.frames.is_empty() {
                return bt; // a zero return address ends a C stack
            }
            if let Some(u) = u.as_ref().filter(|u| u.find_func(pc).is_some()) {
                let lr = if ar.ra != ar.pc { regs.get(ar.ra).unwrap_or(0) } else { 0 };
                let st = u.unwind(Start { pc, sp, lr, trap, syscall: false });
                let mut fp = regs.get(ar.fp);
                for f in &st.frames {
                    fp = self.go_saved_fp(f, fp);
                    bt.frames.push(BtFrame { pc: f.pc, sp: f.sp, kind: BtKind::Go(Box::new(f.clone())) });
                }
                let Some(last) = st.frames.last() else {
                    stop(&mut bt, st.stopped.unwrap_or_else(|| format!("no Go frame at pc {pc:#x}")));
                    return bt;
                };
                if let Some(ret) = st.stopped_at_pc {
                    // Go returned into C (crosscall2, a C caller of an
                    // exported function): C unwinding goes on from the
                    // caller's sp. Go does not preserve C's callee-saved
                    // registers, so only sp, pc and the frame pointer are known.
                    let mut next = Regs::default();
                    next.set(ar.pc, ret);
                    // The unwinder's fp of the last Go frame is its caller's sp.
                    next.set(ar.sp, last.fp);
                    if let Some(fp) = fp {
                        next.set(ar.fp, fp);
                    }
                    if !self.mods.find(ret).is_some_and(|(_, exec)| exec) {
                        stop(&mut bt, format!("return address {ret:#x} is not in executable memory"));
                        return bt;
                    }
                    regs = next;
                    trap = false;
                    via = Via::GoReturn;
                    continue;
                }
                let name = u.func_name(&last.func).to_string();
                if matches!(name.as_str(), "runtime.sigtramp" | "runtime.cgoSigtramp") {
                    let ret = mem.u64(last.fp.wrapping_sub(8)).unwrap_or(0);
                    match self.signal_regs(tid, last.fp) {
                        Some(r) => {
                            bt.frames.push(BtFrame { pc: ret, sp: last.fp, kind: BtKind::Signal });
                            regs = r;
                            trap = true;
                            via = Via::Registers;
                            continue;
                        }
                        None => {
                            stop(&mut bt, format!("the signal frame above {name} at {:#x} is unreadable", last.fp));
                            return bt;
                        }
                    }
                }
                // The end of a system stack (g0 under asmcgocall, systemstack,
                // mcall; gsignal): the goroutine goes on on its own stack.
                if let Some(r) = self.curg_of(tid) {
                    let on_g_stack = last.sp >= r.g.stack_lo && last.sp < r.g.stack_hi;
                    if !on_g_stack && !r.stack.frames.is_empty() {
                        let first = &r.stack.frames[0];
                        bt.frames.push(BtFrame {
                            pc: first.pc,
                            sp: first.sp,
                            kind: BtKind::Goroutine { goid: r.g.goid, start: r.start_source.clone() },
                        });
                        for f in &r.stack.frames {
                            bt.frames.push(BtFrame { pc: f.pc, sp: f.sp, kind: BtKind::Go(Box::new(f.clone())) });
                        }
                        bt.stopped = r.stack.stopped.clone();
                        return bt;
                    }
                }
                bt.stopped = st.stopped;
                return bt;
            }

            // C code.
            let Some((m, _)) = self.mods.find(pc) else {
                stop(&mut bt, format!("pc {pc:#x} is not in any mapped file"));
                return bt;
            };
            let lookup = if trap { pc } else { pc.wrapping_sub(1) };
            let link = lookup.wrapping_sub(m.bias);
            let symbol = m.symbolize(link).map(|(n, o)| (n, o + (pc - lookup)));
            let idx = bt.frames.len();
            let link_pc = pc.wrapping_sub(m.bias);
            bt.frames.push(BtFrame { pc, sp, kind: BtKind::C { symbol, module: m.name.clone(), link_pc, via } });
            let (next, signal, how) = match m.cfi().step(m.data(), link, &regs, ar, mem) {
                Ok(Some(s)) if s.outermost => return bt,
                Ok(Some(s)) => (s.caller, s.signal_frame, Via::Cfi),
                Ok(None) => match frame_pointer_step(&regs, ar, mem) {
                    Ok(r) => (r, false, Via::FramePointer),
                    Err(why) => {
                        stop(&mut bt, format!("no CFI for pc {pc:#x} in {} and {why}", m.name));
                        return bt;
                    }
                },
                Err(e) => match frame_pointer_step(&regs, ar, mem) {
                    Ok(r) => (r, false, Via::FramePointer),
                    Err(why) => {
                        stop(&mut bt, format!("{e}; and {why}"));
                        return bt;
                    }
                },
            };
            if signal {
                bt.frames[idx].kind = BtKind::Signal;
            }
            let (Some(npc), Some(nsp)) = (next.get(ar.pc), next.get(ar.sp)) else {
                stop(&mut bt, format!("the caller of pc {pc:#x} has no pc or sp"));
                return bt;
            };
            if npc == 0 {
                return bt;
            }
            // A signal frame may switch stacks (sigaltstack); any other step
            // must move up the stack.
            if !signal && nsp <= sp {
                stop(&mut bt, format!("sp did not increase ({sp:#x} -> {nsp:#x}) unwinding pc {pc:#x}"));
                return bt;
            }
            if !self.mods.find(npc).is_some_and(|(_, exec)| exec) && u.as_ref().map_or(true, |u| u.find_func(npc).is_none()) {
                stop(&mut bt, format!("return address {npc:#x} (caller of pc {pc:#x}) is not in executable memory"));
                return bt;
            }
            regs = next;
            trap = signal;
            via = how;
        }
        bt.stopped = Some(format!("more than {MAX_NATIVE_FRAMES} frames"));
        bt
    }

}

/// Why the frame-pointer chain cannot be followed from a frame.
#[derive(Debug, thiserror::Error)]
enum FpError {
    #[error("the frame pointer is unknown")]
    Unknown,
    #[error("the frame pointer {fp:#x} is not a frame on this stack (sp {sp:#x})")]
    NotAFrame { fp: u64, sp: u64 },
    #[error("the frame record at {fp:#x} is unreadable")]
    Unreadable { fp: u64 },
}

/// The frame-pointer chain, for code without CFI: amd64's `push rbp;
/// mov rbp, rsp` and arm64's frame record both leave [fp] = caller's fp
/// and [fp+8] = return address, with the caller's sp at fp+16.
fn frame_pointer_step(regs: &Regs, ar: ArchRegs, mem: &dyn crate::memory::Memory) -> Result<Regs, FpError> {
    let (Some(fp), Some(sp)) = (regs.get(ar.fp), regs.get(ar.sp)) else {
        return Err(FpError::Unknown);
    };
    if fp < sp || fp % 8 != 0 {
        return Err(FpError::NotAFrame { fp, sp });
    }
    let ra = mem.u64(fp.wrapping_add(8)).map_err(|_| FpError::Unreadable { fp })?;
    let saved = mem.u64(fp).map_err(|_| FpError::Unreadable { fp })?;
    let mut r = Regs::default();
    r.set(ar.pc, ra);
    if ar.ra != ar.pc {
        r.set(ar.ra, ra);
    }
    r.set(ar.sp, fp.wrapping_add(16));
    r.set(ar.fp, saved);
    Ok(r)
}

/// gdb-like lines of a backtrace, each ending with a newline, indented by `indent`.
pub fn format(a: &Analysis, bt: &Backtrace, indent: &str) -> String {
    format_opt(Some(a), bt, indent)
}

/// [`format()`] for a backtrace from [`NativeUnwinder::for_core`].
pub fn format_core(bt: &Backtrace, indent: &str) -> String {
    format_opt(None, bt, indent)
}

fn format_opt(a: Option<&Analysis>, bt: &Backtrace, indent: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let mut n = 0usize;
    for f in &bt.frames {
        match &f.kind {
            BtKind::C { symbol, module, link_pc, .. } => {
                let name = match symbol {
                    Some((sym, off)) => format!("{sym}+{off:#x} ({module})"),
                    // No symbol (a stripped executable): where in the file, for addr2line.
                    None => format!("?? ({module}+{link_pc:#x})"),
                };
                let _ = writeln!(s, "{indent}#{n:<3} {:#018x} in {name}", f.pc);
                n += 1;
            }
            BtKind::Signal => {
                let _ = writeln!(s, "{indent}#{n:<3} <signal handler called>");
                n += 1;
            }
            BtKind::Goroutine { goid, start } => {
                let _ = writeln!(s, "{indent}     --- goroutine {goid}'s stack (from {start}) ---");
            }
            BtKind::Go(fr) => {
                for (i, lf) in fr.logical.iter().enumerate() {
                    // As gdb: the innermost of an inlined group carries the pc.
                    let _ = if i == 0 {
                        writeln!(s, "{indent}#{n:<3} {:#018x} in {} () at {}:{}", f.pc, lf.name, lf.file, lf.line)
                    } else {
                        writeln!(s, "{indent}#{n:<3} {:18}    {} () at {}:{}", "", lf.name, lf.file, lf.line)
                    };
                    n += 1;
                }
                if fr.logical.is_empty() {
                    let name = a.map_or("??", |a| a.bin.pcln.func_name(&fr.func));
                    let _ = writeln!(s, "{indent}#{n:<3} {:#018x} in {name} ()", f.pc);
                    n += 1;
                }
            }
        }
    }
    if let Some(why) = &bt.stopped {
        let _ = writeln!(s, "{indent}(backtrace stopped: {why})");
    }
    s
}

impl NativeUnwinder<'_> {
    /// The frames of the thread running goroutine `r` that lie before its
    /// own stack (on g0 or gsignal), when C code is among them: a goroutine
    /// in a cgo call, or one whose thread crashed inside C. None otherwise,
    /// so Go-only goroutines keep exactly the runtime's view.
    pub fn goroutine_native_frames(&self, r: &GoroutineReport) -> Option<Vec<NativeFrame>> {
        let tid = r.thread?;
        let a = self.a?;
        let t = a.core.threads.iter().find(|t| t.tid == tid)?;
        let bt = self.backtrace(t);
        let head: Vec<&BtFrame> =
            bt.frames.iter().take_while(|f| !matches!(f.kind, BtKind::Goroutine { .. })).collect();
        if !head.iter().any(|f| matches!(f.kind, BtKind::C { .. })) {
            return None;
        }
        Some(
            head.iter()
                .map(|f| match &f.kind {
                    BtKind::C { symbol, module, .. } => NativeFrame {
                        kind: "c",
                        func: symbol.as_ref().map(|s| s.0.clone()),
                        module: Some(module.clone()),
                        offset: symbol.as_ref().map(|s| s.1),
                        pc: f.pc,
                        sp: f.sp,
                    },
                    BtKind::Go(fr) => NativeFrame {
                        kind: "go",
                        func: Some(a.bin.pcln.func_name(&fr.func).to_string()),
                        module: None,
                        offset: Some(fr.offset),
                        pc: f.pc,
                        sp: f.sp,
                    },
                    BtKind::Signal | BtKind::Goroutine { .. } => NativeFrame {
                        kind: "signal",
                        func: None,
                        module: None,
                        offset: None,
                        pc: f.pc,
                        sp: f.sp,
                    },
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::VecMemory;

    #[test]
    fn frame_pointer_chain_and_its_checks() {
        // A frame record at 0x1000: saved rbp 0x1040, return address 0x401234.
        let mut stack = vec![0u8; 0x80];
        stack[..8].copy_from_slice(&0x1040u64.to_le_bytes());
        stack[8..16].copy_from_slice(&0x40_1234u64.to_le_bytes());
        let mem = VecMemory { regions: vec![(0x1000, stack)] };
        let mut r = Regs::default();
        r.set(cfi::AMD64.sp, 0xff0);
        r.set(cfi::AMD64.fp, 0x1000);
        let up = frame_pointer_step(&r, cfi::AMD64, &mem).unwrap();
        assert_eq!(up.get(cfi::AMD64.pc), Some(0x40_1234));
        assert_eq!(up.get(cfi::AMD64.sp), Some(0x1010));
        assert_eq!(up.get(cfi::AMD64.fp), Some(0x1040));
        // arm64 keeps the return address in x30 as well as the pc.
        let mut r = Regs::default();
        r.set(cfi::ARM64.sp, 0xff0);
        r.set(cfi::ARM64.fp, 0x1000);
        let up = frame_pointer_step(&r, cfi::ARM64, &mem).unwrap();
        assert_eq!((up.get(cfi::ARM64.pc), up.get(cfi::ARM64.ra)), (Some(0x40_1234), Some(0x40_1234)));
        // A frame pointer below sp, misaligned, unknown or unreadable: a reason, not a frame.
        r.set(cfi::ARM64.fp, 0xf00);
        assert!(frame_pointer_step(&r, cfi::ARM64, &mem).unwrap_err().to_string().contains("not a frame"));
        r.set(cfi::ARM64.fp, 0x1003);
        assert!(frame_pointer_step(&r, cfi::ARM64, &mem).is_err());
        r.set(cfi::ARM64.fp, 0x9000);
        assert!(frame_pointer_step(&r, cfi::ARM64, &mem).unwrap_err().to_string().contains("unreadable"));
        r.clear(cfi::ARM64.fp);
        assert!(frame_pointer_step(&r, cfi::ARM64, &mem).unwrap_err().to_string().contains("unknown"));
    }

    #[test]
    fn load_bias_without_a_parsable_file_uses_the_mapping() {
        assert_eq!(load_bias(b"junk", 0x7f00_0000_0000, 0x7f00_0001_0000, 0x1000), 0x7eff_ffff_f000);
    }
}
