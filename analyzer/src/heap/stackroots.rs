//! Every goroutine's stack as roots of the object graph: the slots the
//! garbage collector scans (`scanstack` / `scanframeworker` in
//! runtime/mgcmark.go, `getStackMap` in runtime/stack.go), Go 1.21..1.27.
//!
//! Per physical frame: the locals pointer map (`FUNCDATA_LocalsPointerMaps`)
//! covers the words just below `varp`, the arguments pointer map
//! (`FUNCDATA_ArgsPointerMaps`) the words from `argp`, both indexed by
//! `PCDATA_StackMapIndex` at the frame's continuation pc. Address-taken
//! locals are stack objects (`FUNCDATA_StackObjects`), scanned with their
//! type's pointer mask only when a pointer into the stack reaches them.
//!
//! Conservative where the runtime is: the frame of `runtime.asyncPreempt`
//! (or `debugCallV2`) and the frame it interrupted, all of whose words are
//! scanned. Two more cases are ours: the innermost frame of a goroutine
//! walked from a thread's registers or a signal frame (stopped at no safe
//! point, like an asynchronously preempted one), and any frame whose stack
//! map cannot be read. Conservative roots have no mask
//! ([`Root::conservative`]).
//!
//! Besides the frames, a goroutine's roots are its `g.sched.ctxt` (a
//! closure context saved by morestack), its defer records' `fn` and `link`
//! and the `g._defer` head (heap-allocated defers are kept by them).
//! `g._panic` points into the stack and only reaches stack objects. The
//! `runtime.g` struct itself is a heap object reachable from `allgs` (a
//! global), so it is not a root here.
//!
//! What a running goroutine holds in registers: each register that points
//! into a heap object is a conservative root ([`register_roots`]). When a
//! signal interrupted it (a kernel core of a crash: the faulting
//! goroutine, and those the runtime's SIGQUIT stopped on other threads),
//! the root is the word of the signal frame the kernel saved it in; when
//! the registers are known only from the core's thread notes (gcore or
//! godump stopped it running), the root holds the value itself.
//!
//! With DWARF, a frame's precise roots are split by variable and named as
//! a Go developer names them ([`super::stackvars`]).

use crate::analysis::{Analysis, Depth, GoroutineReport};
use crate::binary::Binary;
use crate::memory::Memory;
use crate::unwind::Frame;
use crate::Warning;

use super::graph::{Root, RootKind};
use super::stackvars::FrameVars;

const PCDATA_STACK_MAP_INDEX: u32 = 1;
const FUNCDATA_ARGS_POINTER_MAPS: u32 = 0;
const FUNCDATA_LOCALS_POINTER_MAPS: u32 = 1;
const FUNCDATA_STACK_OBJECTS: u32 = 2;
/// `abi.ArgsSizeUnknown`: the argument size is in the argument map.
const ARGS_SIZE_UNKNOWN: i32 = -0x8000_0000;
/// A frame with more words than this is taken as garbage.
const MAX_FRAME_WORDS: u64 = 1 << 24;
/// Stack objects in one frame (a function has a few).
const MAX_STACK_OBJECTS: u64 = 1 << 16;

/// Offsets of the runtime fields the stack roots and the leak detector
/// read besides those of [`crate::binary::runtime_types`]: from DWARF, else
/// from the layout rules of the Go version (where they are stable).
#[derive(Debug, Clone, Default)]
pub struct ExtraLayout {
    pub g_waiting: Option<u64>,
    pub g_defer: Option<u64>,
    pub g_panic: Option<u64>,
    pub g_sched: Option<u64>,
    pub gobuf_ctxt: Option<u64>,
    pub defer_fn: Option<u64>,
    pub defer_link: Option<u64>,
    pub sudog_elem: Option<u64>,
    pub sudog_c: Option<u64>,
    pub sudog_waitlink: Option<u64>,
    /// Where these came from ("DWARF" or "Go version rules").
    pub source: String,
    /// Where each function's variables are at a pc, as found (naming the
    /// roots: [`super::stackvars`]); shared by the clones of a pass.
    pub var_layouts: std::sync::Arc<super::stackvars::LayoutCache>,
}

const EXTRA_NEEDED: &[(&str, bool)] = &[
    ("g.waiting", false),
    ("g._defer", false),
    ("g._panic", false),
    ("g.sched", false),
    ("gobuf.ctxt", false),
    ("_defer.fn", false),
    ("_defer.link", false),
    ("sudog.elem", false),
    ("sudog.c", false),
    ("sudog.waitlink", false),
];

impl ExtraLayout {
    pub fn for_binary(bin: &Binary) -> ExtraLayout {
        let rt = &bin.layout;
        if bin.has_dwarf {
            if let Some(Ok(Some(l))) = bin.with_dwarf_loader(|ld| crate::binary::runtime_types::fields_from_dwarf(ld, EXTRA_NEEDED)) {
                let f = |k: &str| l.fields.get(k).copied();
                return ExtraLayout {
                    g_waiting: f("g.waiting"),
                    g_defer: f("g._defer").or(rt.opt("g._defer")),
                    g_panic: f("g._panic").or(rt.opt("g._panic")),
                    g_sched: f("g.sched").or(rt.opt("g.sched")),
                    gobuf_ctxt: f("gobuf.ctxt"),
                    defer_fn: f("_defer.fn"),
                    defer_link: f("_defer.link"),
                    sudog_elem: f("sudog.elem"),
                    sudog_c: f("sudog.c"),
                    sudog_waitlink: f("sudog.waitlink"),
                    source: "DWARF".into(),
                    var_layouts: Default::default(),
                };
            }
        }
        // Without DWARF: the fields whose place the Go version fixes.
        // gobuf is {sp, pc, g, ctxt, ...} in every version we read; sudog
        // is {g, next, prev, elem, acquiretime, releasetime, ticket,
        // isSelect, success, waiters, parent, waitlink, waittail, c} since
        // Go 1.20, with `elem` and `c` two words wide (maybeTraceablePtr)
        // from Go 1.26. g.waiting and _defer.link by release (read from
        // the DWARF of linux/amd64 builds of go1.21.13 .. go1.27.3; the
        // fields before them are pointer-sized or fixed, as on arm64).
        let minor = bin.go_minor().unwrap_or(0);
        let wide = minor >= 26;
        let known = (21..=27).contains(&minor);
        let g_waiting = match minor {
            21 | 22 | 25 => Some(312),
            23 | 24 | 26 | 27 => Some(320),
            _ => None,
        };
        ExtraLayout {
            g_waiting,
            g_defer: rt.opt("g._defer"),
            g_panic: rt.opt("g._panic"),
            g_sched: rt.opt("g.sched"),
            gobuf_ctxt: known.then_some(24),
            defer_fn: known.then_some(24),
            defer_link: known.then_some(if minor == 21 { 40 } else { 32 }),
            sudog_elem: known.then_some(24),
            sudog_c: known.then_some(if wide { 88 } else { 80 }),
            sudog_waitlink: known.then_some(if wide { 72 } else { 64 }),
            source: format!("Go 1.{minor} layout rules"),
            var_layouts: Default::default(),
        }
    }
}

/// Counts of what the roots were made from, for a summary line.
#[derive(Debug, Clone, Default)]
pub struct StackRootStats {
    pub goroutines: usize,
    pub frames: usize,
    /// Frames scanned conservatively (all of their words).
    pub conservative_frames: usize,
    /// Stack objects found live (reached by a pointer into the stack).
    pub stack_objects: usize,
}

/// The roots of every live goroutine of `a` (its stacks walked whole, now
/// if the analysis did not), with the warnings and counts.
pub fn stack_roots(a: &Analysis) -> (Vec<Root>, Vec<Warning>, StackRootStats) {
    use rayon::prelude::*;
    let extra = ExtraLayout::for_binary(&a.bin);
    let per: Vec<(Vec<Root>, Vec<Warning>, StackRootStats)> = a
        .goroutines
        .par_iter()
        .with_min_len(64)
        .map(|r| {
            let r = a.walked(r, Depth::Full);
            goroutine_roots(a, &r, &extra)
        })
        .collect();
    let mut roots = Vec::new();
    let mut warnings = Vec::new();
    let mut stats = StackRootStats::default();
    for (rs, ws, st) in per {
        roots.extend(rs);
        stats.goroutines += st.goroutines;
        stats.frames += st.frames;
        stats.conservative_frames += st.conservative_frames;
        stats.stack_objects += st.stack_objects;
        for w in ws {
            if warnings.len() < 20 {
                warnings.push(w);
            }
        }
    }
    (roots, warnings, stats)
}

/// Where a physical frame's locals end and its arguments start, as the
/// runtime's unwinder computes `varp` and `argp`.
fn varp_argp(bin: &Binary, f: &Frame) -> (u64, u64) {
    let lr = bin.arch.uses_lr();
    let mut varp = f.fp;
    if !lr {
        // The return address the call pushed.
        varp = varp.wrapping_sub(8);
    }
    // amd64 and arm64 keep frame pointers: the saved one sits just below.
    if varp > f.sp {
        varp = varp.wrapping_sub(8);
    }
    (varp, f.argp)
}

/// Why a frame's pointer maps could not be used (the frame is then
/// scanned conservatively, with a warning that gives this text).
#[derive(Debug, thiserror::Error)]
enum FrameMapError {
    #[error("no {0} stack map")]
    NoMap(&'static str),
    #[error("empty {0} stack map")]
    EmptyMap(&'static str),
    #[error("no {which} map {index} of {n}")]
    NoIndex { which: &'static str, index: i32, n: i32 },
    #[error("unreadable stack objects")]
    UnreadableObjects { at: u64 },
    #[error("{0} stack objects")]
    TooManyObjects(u64),
    #[error("unreadable stack object record")]
    UnreadableObjectRecord { at: u64 },
}

/// A stack map (`runtime.stackmap`): `n` bitmaps of `nbit` bits each.
struct StackMap {
    n: i32,
    nbit: i32,
    data: u64,
}

fn stack_map(bin: &Binary, gofunc: u64, f: &crate::binary::pclntab::Func, which: u32) -> Option<StackMap> {
    let off = bin.pcln.funcdata_off(f, which)?;
    let at = gofunc.wrapping_add(off as u64);
    let mut h = [0u8; 8];
    if !bin.read_static(at, &mut h) {
        return None;
    }
    let n = i32::from_le_bytes(h[0..4].try_into().ok()?);
    let nbit = i32::from_le_bytes(h[4..8].try_into().ok()?);
    Some(StackMap { n, nbit, data: at + 8 })
}

fn bitmap(bin: &Binary, m: &StackMap, index: i32) -> Option<Vec<u8>> {
    if index < 0 || index >= m.n || m.nbit < 0 || m.nbit as u64 > MAX_FRAME_WORDS {
        return None;
    }
    let nbytes = (m.nbit as usize).div_ceil(8);
    let mut v = vec![0u8; nbytes];
    if !bin.read_static(m.data + index as u64 * nbytes as u64, &mut v) {
        return None;
    }
    Some(v)
}

/// A stack object of a frame: an address-taken local (or argument).
struct StackObject {
    addr: u64,
    size: u64,
    /// One bit per word of the first `ptr_bytes`; None: scan conservatively
    /// (a Go 1.21 GC program, or an unreadable mask).
    mask: Option<Vec<u8>>,
    ptr_bytes: u64,
    frame: usize,
}

/// What one frame contributes before stack objects are resolved.
#[derive(Default)]
struct FrameScan {
    roots: Vec<Root>,
    objects: Vec<StackObject>,
}

/// The roots of one goroutine (whose stack is walked whole).
pub fn goroutine_roots(a: &Analysis, r: &GoroutineReport, extra: &ExtraLayout) -> (Vec<Root>, Vec<Warning>, StackRootStats) {
    goroutine_roots_named(a, r, extra, true)
}

/// [`goroutine_roots`], its frames' precise roots split by variable (with
/// DWARF) or, with `by_variable` false, one per frame area as without
/// DWARF: the same words either way (the tests compare them).
pub fn goroutine_roots_named(
    a: &Analysis,
    r: &GoroutineReport,
    extra: &ExtraLayout,
    by_variable: bool,
) -> (Vec<Root>, Vec<Warning>, StackRootStats) {
    let bin = &a.bin;
    let mem = a.mem();
    let g = &r.g;
    let goid = g.goid;
    let mut warnings = Vec::new();
    let mut stats = StackRootStats { goroutines: 1, ..Default::default() };
    let mut scan = FrameScan::default();
    let gofunc = bin.moduledata.as_ref().map(|m| m.gofunc);
    let rodata = bin.symbol("runtime.rodata").or_else(|| bin.section(".rodata").map(|s| s.addr));
    // Stopped at no safe point: the innermost frame is scanned as the
    // runtime scans an asynchronously preempted one.
    let mut conservative_next = r.start_regs.is_some();
    let mut callee_sigpanic = false;
    let name_of = |f: &Frame| bin.pcln.func_name(&f.func).to_string();
    // Per frame, its variables' slots (with DWARF): the names of its roots.
    let di = if bin.has_dwarf && by_variable { bin.debug_info().ok() } else { None };
    let mut frame_vars: Vec<Option<FrameVars>> = Vec::with_capacity(r.stack.frames.len());
    let mut numbers = if di.is_some() { super::stackvars::recursion_numbers(&r.stack.frames) } else { Vec::new() };
    for (i, f) in r.stack.frames.iter().enumerate() {
        stats.frames += 1;
        frame_vars.push(None);
        let fname = name_of(f);
        let injected = matches!(fname.as_str(), "runtime.asyncPreempt" | "runtime.debugCallV2");
        let (varp, argp) = varp_argp(bin, f);
        let label = format!("goroutine {goid} {fname}+{:#x}", f.offset);
        let conservative = |why: Option<String>, scan: &mut FrameScan, warnings: &mut Vec<Warning>| {
            if let Some(why) = why {
                warnings.push(Warning::FrameConservative { goid, func: fname.clone(), why });
            }
            if varp > f.sp && varp - f.sp <= MAX_FRAME_WORDS * 8 {
                scan.roots.push(stack_root(format!("{label} frame (conservative)"), goid, f.sp, varp - f.sp, None));
            }
            let nargs = arg_bytes(bin, f).unwrap_or(0);
            if nargs > 0 {
                scan.roots.push(stack_root(format!("{label} args (conservative)"), goid, argp, nargs, None));
            }
        };
        if conservative_next || injected {
            stats.conservative_frames += 1;
            conservative(None, &mut scan, &mut warnings);
            // asyncPreempt's frame holds the registers of the frame it
            // interrupted, which is at no safe point either.
            conservative_next = injected;
            callee_sigpanic = fname == "runtime.sigpanic";
            continue;
        }
        let link_pc = f.pc.wrapping_sub(a.bias);
        let entry = f.func.entry;
        // The continuation pc: after a trap (sigpanic), the frame can only
        // go on at its deferreturn call, if it has one.
        let continpc = if callee_sigpanic {
            if f.func.deferreturn != 0 {
                entry + f.func.deferreturn as u64 + 1
            } else {
                0
            }
        } else {
            link_pc
        };
        callee_sigpanic = fname == "runtime.sigpanic";
        if continpc == 0 {
            // A dead frame: nothing of it is live.
            continue;
        }
        let Some(gofunc) = gofunc else {
            stats.conservative_frames += 1;
            conservative(Some("no moduledata (gofunc)".into()), &mut scan, &mut warnings);
            continue;
        };
        let before = scan.roots.len();
        match precise_frame(bin, gofunc, rodata, f, continpc, varp, argp, i, &label, goid, &mut scan) {
            Ok(()) => {
                if let Some(di) = di {
                    let fv = FrameVars::of_frame(a, di, &extra.var_layouts, goid, f, (g.stack_lo, g.stack_hi), numbers.get_mut(i).map(std::mem::take).unwrap_or_default());
                    let area: Vec<Root> = scan.roots.drain(before..).collect();
                    for root in area {
                        fv.split(root, &mut scan.roots);
                    }
                    frame_vars[i] = Some(fv);
                }
            }
            Err(why) => {
                stats.conservative_frames += 1;
                conservative(Some(why.to_string()), &mut scan, &mut warnings);
            }
        }
    }
    // Runtime roots of the goroutine (scanstack).
    let word = |name: &str, addr: u64| stack_root(format!("goroutine {goid} {name}"), goid, addr, 8, Some(vec![1]));
    let mut into_stack: Vec<u64> = Vec::new();
    if let (Some(s), Some(c)) = (extra.g_sched, extra.gobuf_ctxt) {
        scan.roots.push(word("g.sched.ctxt", g.addr + s + c));
    }
    if let Some(d0) = extra.g_defer {
        scan.roots.push(word("defer", g.addr + d0));
        if let (Some(fo), Some(lo)) = (extra.defer_fn, extra.defer_link) {
            let mut d = mem.u64(g.addr + d0).unwrap_or(0);
            let mut n = 0;
            while d != 0 && n < 100_000 {
                scan.roots.push(word("defer", d + fo));
                scan.roots.push(word("defer", d + lo));
                into_stack.push(d);
                d = mem.u64(d + lo).unwrap_or(0);
                n += 1;
            }
        }
    }
    if let Some(p) = extra.g_panic {
        if let Ok(v) = mem.u64(g.addr + p) {
            into_stack.push(v);
        }
    }
    let mut roots = scan.roots;
    let mut objs = Vec::new();
    stats.stack_objects =
        live_stack_objects(mem, g.stack_lo, g.stack_hi, &roots, into_stack, scan.objects, r, bin, &frame_vars, &mut objs);
    roots.extend(objs);
    roots.retain(|r| r.len > 0 && r.mask.as_ref().is_none_or(|m| m.iter().any(|&b| b != 0)));
    (roots, warnings, stats)
}

fn stack_root(name: String, goid: u64, addr: u64, len: u64, mask: Option<Vec<u8>>) -> Root {
    Root { kind: RootKind::Stack, name, goid: Some(goid), addr, len, mask, value: None }
}

/// The size of a frame's argument area (`stkframe.argBytes`).
fn arg_bytes(bin: &Binary, f: &Frame) -> Option<u64> {
    if f.func.args != ARGS_SIZE_UNKNOWN {
        return (f.func.args >= 0).then_some(f.func.args as u64);
    }
    // Only reflect's call stubs have an unknown size; their argument map
    // comes from the call they made, which we do not follow.
    let _ = bin;
    None
}

/// The precise roots of one frame (getStackMap + scanframeworker), or why
/// they cannot be had.
#[allow(clippy::too_many_arguments)]
fn precise_frame(
    bin: &Binary,
    gofunc: u64,
    rodata: Option<u64>,
    f: &Frame,
    continpc: u64,
    varp: u64,
    argp: u64,
    index: usize,
    label: &str,
    goid: u64,
    scan: &mut FrameScan,
) -> Result<(), FrameMapError> {
    let tab = &bin.pcln;
    let entry = f.func.entry;
    let mut pcdata = -1i32;
    if continpc != entry {
        // Back up into the call: the map at the call is the one that holds.
        pcdata = tab.pcvalue(tab.pcdata_off(&f.func, PCDATA_STACK_MAP_INDEX), entry, continpc - 1).unwrap_or(-1);
    }
    if pcdata == -1 {
        // In the prologue: the runtime assumes the entry map.
        pcdata = 0;
    }
    let size = varp.wrapping_sub(f.sp);
    let minsize = if bin.arch.uses_lr() { 16 } else { 0 };
    if varp > f.sp && size > minsize {
        let m = stack_map(bin, gofunc, &f.func, FUNCDATA_LOCALS_POINTER_MAPS).ok_or(FrameMapError::NoMap("locals"))?;
        if m.n <= 0 {
            return Err(FrameMapError::EmptyMap("locals"));
        }
        if m.nbit > 0 {
            let bits = bitmap(bin, &m, pcdata).ok_or(FrameMapError::NoIndex { which: "locals", index: pcdata, n: m.n })?;
            let len = m.nbit as u64 * 8;
            let at = varp.wrapping_sub(len);
            scan.roots.push(stack_root(
                format!("{label} locals (sp+{:#x})", at.wrapping_sub(f.sp)),
                goid,
                at,
                len,
                Some(bits),
            ));
        }
    }
    if arg_bytes(bin, f).is_some_and(|n| n > 0) {
        let m = stack_map(bin, gofunc, &f.func, FUNCDATA_ARGS_POINTER_MAPS).ok_or(FrameMapError::NoMap("args"))?;
        if m.n <= 0 {
            return Err(FrameMapError::EmptyMap("args"));
        }
        if m.nbit > 0 {
            let bits = bitmap(bin, &m, pcdata).ok_or(FrameMapError::NoIndex { which: "args", index: pcdata, n: m.n })?;
            let len = m.nbit as u64 * 8;
            scan.roots.push(stack_root(format!("{label} args"), goid, argp, len, Some(bits)));
        }
    }
    // Stack objects: kept for the reachability pass.
    if let Some(off) = tab.funcdata_off(&f.func, FUNCDATA_STACK_OBJECTS) {
        let at = gofunc.wrapping_add(off as u64);
        let n = bin.static_u64(at).ok_or(FrameMapError::UnreadableObjects { at })?;
        if n > MAX_STACK_OBJECTS {
            return Err(FrameMapError::TooManyObjects(n));
        }
        for k in 0..n {
            let rec = at + 8 + k * 16;
            let mut b = [0u8; 16];
            if !bin.read_static(rec, &mut b) {
                return Err(FrameMapError::UnreadableObjectRecord { at: rec });
            }
            let off = i32::from_le_bytes(b[0..4].try_into().unwrap_or_default());
            let size = i32::from_le_bytes(b[4..8].try_into().unwrap_or_default());
            let ptr = i32::from_le_bytes(b[8..12].try_into().unwrap_or_default());
            let gcdataoff = u32::from_le_bytes(b[12..16].try_into().unwrap_or_default());
            let base = if off >= 0 { argp } else { varp };
            let addr = base.wrapping_add(off as i64 as u64);
            if addr < f.sp || size <= 0 {
                // Not allocated in the frame yet.
                continue;
            }
            // Go 1.21: a negative ptrdata means a GC program.
            let ptr_bytes = ptr.unsigned_abs() as u64;
            let mask = if ptr < 0 {
                None
            } else {
                rodata.and_then(|ro| {
                    let mut m = vec![0u8; (ptr_bytes / 8).div_ceil(8) as usize];
                    bin.read_static(ro.wrapping_add(gcdataoff as u64), &mut m).then_some(m)
                })
            };
            scan.objects.push(StackObject { addr, size: size as u64, mask, ptr_bytes, frame: index });
        }
    }
    Ok(())
}

/// Find the stack objects reached by pointers into `[lo, hi)` from the
/// roots so far (and `extra` pointers: defers, panics), transitively, and
/// add each as a root. Returns how many there are.
#[allow(clippy::too_many_arguments)]
fn live_stack_objects(
    mem: &dyn Memory,
    lo: u64,
    hi: u64,
    scanned: &[Root],
    extra: Vec<u64>,
    mut objects: Vec<StackObject>,
    r: &GoroutineReport,
    bin: &Binary,
    frame_vars: &[Option<FrameVars>],
    out: &mut Vec<Root>,
) -> usize {
    if objects.is_empty() {
        return 0;
    }
    objects.sort_by_key(|o| o.addr);
    let mut todo: Vec<u64> = extra.into_iter().filter(|&p| p >= lo && p < hi).collect();
    let in_stack = |root_addr: u64, len: u64, mask: Option<&[u8]>, todo: &mut Vec<u64>| {
        super::graph::each_masked_word(mem, root_addr, len, mask, |_, p| {
            if p >= lo && p < hi {
                todo.push(p);
            }
        });
    };
    for root in scanned {
        in_stack(root.addr, root.len, root.mask.as_deref(), &mut todo);
    }
    let mut live = vec![false; objects.len()];
    let mut count = 0;
    while let Some(p) = todo.pop() {
        let i = objects.partition_point(|o| o.addr <= p);
        if i == 0 {
            continue;
        }
        let k = i - 1;
        let o = &objects[k];
        if p >= o.addr + o.size || live[k] {
            continue;
        }
        live[k] = true;
        count += 1;
        let len = o.ptr_bytes.min(o.size) & !7;
        in_stack(o.addr, len, o.mask.as_deref(), &mut todo);
        let f = &r.stack.frames[o.frame];
        let named = frame_vars.get(o.frame).and_then(Option::as_ref).and_then(|fv| fv.object_name(o.addr, o.size));
        let name = named.unwrap_or_else(|| {
            format!(
                "goroutine {} {}+{:#x} stack object (sp+{:#x})",
                r.g.goid,
                bin.pcln.func_name(&f.func),
                f.offset,
                o.addr.wrapping_sub(f.sp)
            )
        });
        out.push(stack_root(name, r.g.goid, o.addr, len, o.mask.clone()));
    }
    count
}

/// The heap objects (their base addresses) that the pointer words of `r`
/// point into.
pub fn root_targets(idx: &super::ObjectIndex, mem: &dyn Memory, r: &Root) -> Vec<u64> {
    targets(idx, r.words(mem))
}

/// The heap objects the words of `[addr, addr+len)` picked by `mask` (all
/// of them without one) point into, by base address, sorted, once each.
pub fn words_targets(idx: &super::ObjectIndex, mem: &dyn Memory, addr: u64, len: u64, mask: Option<&[u8]>) -> Vec<u64> {
    targets(idx, super::graph::masked_words(mem, addr, len, mask))
}

fn targets(idx: &super::ObjectIndex, words: Vec<(u64, u64)>) -> Vec<u64> {
    let mut out: Vec<u64> = words.into_iter().filter_map(|(_, p)| idx.find(p)).map(|id| idx.base(id)).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// One goroutine's roots with what they point to, for inspection
/// (`goanalyze --stack-roots`) and the tests.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GoroutineRoots {
    pub goid: u64,
    #[serde(with = "crate::model::value::hex")]
    pub stack_lo: u64,
    #[serde(with = "crate::model::value::hex")]
    pub stack_hi: u64,
    /// The innermost frame's sp (0 without frames).
    #[serde(with = "crate::model::value::hex")]
    pub sp: u64,
    pub frames: usize,
    pub conservative_frames: usize,
    pub stack_objects: usize,
    pub roots: Vec<RootTargets>,
    /// Every heap object that any word of `[sp, stack_hi)` points into:
    /// what a conservative scan of the stack would find.
    #[serde(serialize_with = "hex_list")]
    pub conservative_targets: Vec<u64>,
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RootTargets {
    pub name: String,
    #[serde(with = "crate::model::value::hex")]
    pub addr: u64,
    pub len: u64,
    pub conservative: bool,
    /// The heap objects its pointer words point into (base addresses).
    #[serde(serialize_with = "hex_list")]
    pub targets: Vec<u64>,
}

fn hex_list<S: serde::Serializer>(v: &[u64], s: S) -> std::result::Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut q = s.serialize_seq(Some(v.len()))?;
    for x in v {
        q.serialize_element(&format!("{x:#x}"))?;
    }
    q.end()
}

/// Every goroutine's roots and their targets over `heap`.
pub fn inspect(a: &Analysis, heap: &super::Heap) -> Vec<GoroutineRoots> {
    use rayon::prelude::*;
    let extra = ExtraLayout::for_binary(&a.bin);
    let idx = &heap.objects;
    let mem = a.mem();
    a.goroutines
        .par_iter()
        .map(|r| {
            let r = a.walked(r, Depth::Full);
            let (mut roots, warnings, st) = goroutine_roots(a, &r, &extra);
            roots.extend(super::stackvars::register_roots(a, &r, &|p| idx.find(p).is_some()));
            let sp = r.stack.frames.first().map_or(0, |f| f.sp);
            let conservative_targets = if sp >= r.g.stack_lo && sp < r.g.stack_hi {
                words_targets(idx, mem, sp & !7, r.g.stack_hi - (sp & !7), None)
            } else {
                Vec::new()
            };
            GoroutineRoots {
                goid: r.g.goid,
                stack_lo: r.g.stack_lo,
                stack_hi: r.g.stack_hi,
                sp,
                frames: st.frames,
                conservative_frames: st.conservative_frames,
                stack_objects: st.stack_objects,
                roots: roots
                    .iter()
                    .map(|x| RootTargets {
                        name: x.name.clone(),
                        addr: x.addr,
                        len: x.len,
                        conservative: x.conservative(),
                        targets: root_targets(idx, mem, x),
                    })
                    .collect(),
                conservative_targets,
                warnings,
            }
        })
        .collect()
}

/// The registers of every goroutine that was running (see
/// [`super::stackvars::register_roots`]) that point into an object of
/// `heap`: conservative roots.
pub fn register_roots(a: &Analysis, heap: &super::Heap) -> Vec<Root> {
    let keep = |p: u64| heap.objects.find(p).is_some();
    a.goroutines
        .iter()
        .filter(|r| r.start_regs.is_some())
        .flat_map(|r| {
            let r = a.walked(r, Depth::Full);
            super::stackvars::register_roots(a, &r, &keep)
        })
        .collect()
}
