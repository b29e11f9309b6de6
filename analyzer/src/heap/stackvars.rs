//! Names for stack roots: which of a frame's live pointer slots belong to
//! which variable, from the DWARF locations of the frame's arguments and
//! locals at its pc (the same places `--vars` reads them from), and the
//! saved registers of goroutines a signal interrupted.
//!
//! Only the grouping and the names change: a frame's roots are split so
//! that each variable's pointer words become one root named
//! `goroutine 17, main.worker, var buf` (`arg p` for a parameter, a
//! variable that escaped to the heap named without DWARF's `&`, the parts
//! Go 1.27 splits a variable into (`buf.ptr`) by the variable); the words
//! no variable covers (spill slots, temporaries, results) stay in the
//! frame-area root. Every word the stack maps mark is still scanned once.

use std::sync::Arc;

use crate::analysis::{Analysis, GoroutineReport};
use crate::dwarf::locations::FrameContext;
use crate::dwarf::DebugInfo;
use crate::memory::Memory;
use crate::unwind::Frame;

use super::graph::{Root, RootKind};

/// A function as the runtime's traceback prints it: a generic one's shape
/// arguments as `[...]` (`main.hold[...]`).
fn func_name(name: &str) -> String {
    if name.contains('[') {
        crate::output::traceback::print_name(name)
    } else {
        name.to_string()
    }
}

/// One variable's bytes in a frame, from the frame's CFA (its `fp`).
struct Span {
    from_cfa: u64,
    len: u64,
    /// `main.worker, var buf`: the name after `goroutine N, `.
    name: Arc<str>,
    /// The length of the function's part of `name`.
    func_len: usize,
    /// Which of the physical frame's logical frames (inlined calls) it is in.
    logical: usize,
}

/// Where a function's variables are at one pc, relative to the CFA: the
/// same in every goroutine stopped there, so computed once per pc.
#[derive(Default)]
struct Layout {
    spans: Vec<Span>,
}

/// The layouts computed so far, by link-time pc. One per stack-roots pass:
/// 100,000 goroutines parked in a few places cost a few DWARF lookups.
#[derive(Default)]
pub struct LayoutCache {
    by_pc: std::sync::Mutex<std::collections::HashMap<u64, Arc<Layout>>>,
}

impl std::fmt::Debug for LayoutCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LayoutCache")
    }
}

/// Two CFAs a location is evaluated at: a place that moves with the CFA
/// is frame-relative; anything else (a static address, a value read from
/// memory, a register) is not a slot of the frame and is left out.
const CFA_A: u64 = 0x4000_0000_0000;
const CFA_B: u64 = 0x5000_0000_0000;

fn layout(a: &Analysis, di: &DebugInfo, f: &Frame) -> Layout {
    let mut spans = Vec::new();
    let pc = f.sym_pc.wrapping_sub(a.bias);
    let none = crate::memory::VecMemory::default();
    let cx = |cfa| FrameContext { cfa, regs: None, mem: &none, bias: a.bias };
    let (cx_a, cx_b) = (cx(CFA_A), cx(CFA_B));
    for (logical, lf) in f.logical.iter().enumerate() {
        let func = func_name(&lf.name);
        for v in crate::vars::scope_vars(di, a, f, lf) {
            let Some(size) = v.ty.and_then(|t| di.type_at(t)).map(|t| t.size) else { continue };
            let (Ok(pa), Ok(pb)) = (di.memory_parts(&v, pc, size, &cx_a), di.memory_parts(&v, pc, size, &cx_b)) else { continue };
            if pa.is_empty() || pa.len() != pb.len() {
                continue;
            }
            let (what, bare) = match v.name.strip_prefix('&') {
                Some(n) => ("var", n),
                None if v.is_param => ("arg", v.name.as_str()),
                None => ("var", v.name.as_str()),
            };
            // Go 1.27 names the parts of a variable it split (`buf.ptr`,
            // `buf.len`; a Go name has no dot): the slot is still `buf`'s.
            let bare = bare.split('.').next().unwrap_or(bare);
            let name: Arc<str> = format!("{func}, {what} {bare}").into();
            for (x, y) in pa.iter().zip(&pb) {
                let rel = x.1.wrapping_sub(CFA_A);
                if y.1.wrapping_sub(CFA_B) == rel && x.2 == y.2 {
                    spans.push(Span { from_cfa: rel, len: x.2, name: name.clone(), func_len: func.len(), logical });
                }
            }
        }
    }
    Layout { spans }
}

/// The variables of one physical frame that are in memory at its pc, the
/// innermost inlined call's first (its variables take a word that two
/// describe), arguments before locals.
pub struct FrameVars {
    layout: Arc<Layout>,
    cfa: u64,
    goid: u64,
    stack: (u64, u64),
    /// Per logical frame: its number in the goroutine's stack when its
    /// function is on the stack more than once (see [`recursion_numbers`]).
    numbers: Vec<Option<usize>>,
}

/// Per physical frame of `frames`, per logical frame: its number as
/// `--vars` counts frames (0 the innermost, inlined calls counted) when
/// its function appears more than once in the stack (recursion), else
/// `None`. Roots of recursive frames are told apart by it:
/// `goroutine 5, main.walk (frame 3), var n`.
pub fn recursion_numbers(frames: &[Frame]) -> Vec<Vec<Option<usize>>> {
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for lf in frames.iter().flat_map(|f| &f.logical) {
        *count.entry(&lf.name).or_default() += 1;
    }
    let mut n = 0;
    frames
        .iter()
        .map(|f| {
            f.logical
                .iter()
                .map(|lf| {
                    n += 1;
                    (count.get(lf.name.as_ref() as &str).copied().unwrap_or(0) > 1).then_some(n - 1)
                })
                .collect()
        })
        .collect()
}

impl FrameVars {
    /// The variables of frame `f` of goroutine `goid`, whose stack is
    /// `[stack.0, stack.1)` (none when `di` has no function at its pc);
    /// `numbers`: its entry of [`recursion_numbers`].
    pub fn of_frame(a: &Analysis, di: &DebugInfo, cache: &LayoutCache, goid: u64, f: &Frame, stack: (u64, u64), numbers: Vec<Option<usize>>) -> FrameVars {
        let pc = f.sym_pc.wrapping_sub(a.bias);
        let hit = cache.by_pc.lock().ok().and_then(|m| m.get(&pc).cloned());
        let layout = match hit {
            Some(l) => l,
            None => {
                let l = Arc::new(layout(a, di, f));
                if let Ok(mut m) = cache.by_pc.lock() {
                    m.insert(pc, l.clone());
                }
                l
            }
        };
        FrameVars { layout, cfa: f.fp, goid, stack, numbers }
    }

    /// Its frame's number when its function recurses (see [`recursion_numbers`]).
    fn number(&self, s: &Span) -> Option<usize> {
        self.numbers.get(s.logical).copied().flatten()
    }

    fn name(&self, s: &Span) -> String {
        match self.number(s) {
            Some(n) => {
                let (func, rest) = s.name.split_at(s.func_len.min(s.name.len()));
                format!("goroutine {}, {func} (frame {n}){rest}", self.goid)
            }
            None => format!("goroutine {}, {}", self.goid, s.name),
        }
    }

    fn covering(&self, addr: u64, len: u64) -> Option<&Span> {
        if addr < self.stack.0 || addr.saturating_add(len) > self.stack.1 {
            return None;
        }
        self.layout.spans.iter().find(|s| {
            let lo = self.cfa.wrapping_add(s.from_cfa);
            addr >= lo && addr.saturating_add(len) <= lo.saturating_add(s.len)
        })
    }

    /// The name of the variable that is exactly the stack object at
    /// `[addr, addr+len)`, or holds it.
    pub fn object_name(&self, addr: u64, len: u64) -> Option<String> {
        self.covering(addr, len.max(1)).map(|s| self.name(s))
    }

    /// Split `root` (a precise frame-area root) by variable: append one
    /// root per variable holding some of its pointer words, then what is
    /// left of `root` (dropped later if no word is left).
    pub fn split(&self, mut root: Root, out: &mut Vec<Root>) {
        let Some(mask) = root.mask.as_mut() else {
            out.push(root);
            return;
        };
        if self.layout.spans.is_empty() {
            out.push(root);
            return;
        }
        // (a span of the variable, word addresses), in the order first met;
        // one group per name (the variable's and its frame's number).
        let mut groups: Vec<(&Span, Vec<u64>)> = Vec::new();
        for i in 0..root.len / 8 {
            let (byte, bit) = ((i / 8) as usize, i % 8);
            if mask.get(byte).is_none_or(|b| b >> bit & 1 == 0) {
                continue;
            }
            let at = root.addr + i * 8;
            let Some(s) = self.covering(at, 8) else { continue };
            mask[byte] &= !(1 << bit);
            match groups.iter_mut().find(|g| g.0.name == s.name && self.number(g.0) == self.number(s)) {
                Some(g) => g.1.push(at),
                None => groups.push((s, vec![at])),
            }
        }
        for (s, words) in groups {
            let name = self.name(s);
            let (lo, hi) = (words[0], words[words.len() - 1] + 8);
            let mut m = vec![0u8; ((hi - lo) / 8).div_ceil(8) as usize];
            for w in words {
                let i = (w - lo) / 8;
                m[(i / 8) as usize] |= 1 << (i % 8);
            }
            out.push(Root { kind: RootKind::Stack, name, goid: root.goid, addr: lo, len: hi - lo, mask: Some(m), value: None });
        }
        out.push(root);
    }
}

/// The general registers of goroutine `r` when it was running (its walk
/// started from registers): one conservative root per register whose
/// value `keep` says points into a heap object. A running goroutine stops
/// at no safe point, so a pointer it held only in a register is live and
/// in no stack slot. When a signal interrupted it, the root is the word
/// where the kernel saved the register in the signal frame; when the
/// registers are the thread's own (a core's thread notes: gcore or godump
/// stopped the process while it ran), the root holds the value itself.
pub fn register_roots(a: &Analysis, r: &GoroutineReport, keep: &dyn Fn(u64) -> bool) -> Vec<Root> {
    let Some(regs) = r.start_regs.as_deref() else { return Vec::new() };
    // The function it was in (the walk may have dropped the runtime's
    // crash frames above it).
    let func = match a.unwinder().find_func(regs.pc()) {
        Some(f) => func_name(a.bin.pcln.func_name(&f)),
        None => format!("pc {:#x}", regs.pc()),
    };
    let goid = r.g.goid;
    let root = |reg: &str, addr: u64, value: Option<u64>| Root {
        kind: RootKind::Stack,
        name: format!("goroutine {goid}, {func}, register {reg} (conservative)"),
        goid: Some(goid),
        addr,
        len: 8,
        mask: None,
        value,
    };
    if !r.start_source.starts_with("signal frame") {
        return general_registers(regs).into_iter().filter(|&(_, v)| keep(v)).map(|(reg, v)| root(reg, 0, Some(v))).collect();
    }
    let Some(t) = r.thread.and_then(|tid| a.threads.iter().find(|t| t.tid == tid)) else { return Vec::new() };
    let Some(frame) = a.signal_chain(t).frames.iter().find(|f| f.regs == *regs) else { return Vec::new() };
    crate::unwind::sigframe::saved_registers(a.bin.arch, frame.addr)
        .into_iter()
        .filter(|&(_, at)| a.core.u64(at).is_ok_and(keep))
        .map(|(reg, at)| root(reg, at, None))
        .collect()
}

/// A thread's general registers by name, those a signal frame saves too
/// ([`crate::unwind::sigframe::saved_registers`]): amd64's but rsp, arm64's
/// x0..x30.
fn general_registers(regs: &core_reader::Registers) -> Vec<(&'static str, u64)> {
    use crate::unwind::sigframe::{AMD64_GREGS, ARM64_GREGS};
    match regs {
        core_reader::Registers::Amd64(r) => {
            let v = [r.r8, r.r9, r.r10, r.r11, r.r12, r.r13, r.r14, r.r15, r.rdi, r.rsi, r.rbp, r.rbx, r.rdx, r.rax, r.rcx];
            AMD64_GREGS.iter().copied().zip(v).collect()
        }
        core_reader::Registers::Arm64(r) => ARM64_GREGS.iter().copied().zip(r.x).collect(),
    }
}
