//! The object graph: which heap objects each root and each object points
//! to. Nodes are the roots (numbered first, in the order given) and then
//! every object of the [`ObjectIndex`] (node = roots + object id); edges are
//! kept in compressed arrays (one offset per node, one `u32` per edge), so
//! ten million objects cost tens of megabytes, not a hash map each.
//!
//! Which words of a root or object are pointers comes from the runtime's
//! own metadata where we read it ([`super::pointers`]: pointer bitmaps,
//! malloc headers, `largeType`, the data/bss GC masks, stack maps);
//! elsewhere every aligned word that points into an object counts, and the
//! node is marked conservative so a report can say so.

use rayon::prelude::*;

use super::objects::{ObjId, ObjectIndex};
use super::pointers::{self, ScanKind};
use super::Heap;
use crate::memory::Memory;

/// Span bytes scanned between giving the core's mapped pages back.
const RELEASE_EVERY: u64 = 64 << 20;

/// A node of the graph: a root (below [`Graph::roots`]`.len()`) or an object.
pub type NodeId = u32;

/// What kind of thing holds a root's pointers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RootKind {
    /// A package variable (data or bss).
    Global,
    /// A goroutine's stack frame: a local, an argument or a spill slot.
    Stack,
    /// A finalizer's or cleanup's function and argument (runtime specials).
    Finalizer,
    /// Other memory the runtime scans (not covered by the kinds above).
    Runtime,
}

/// Memory that the collector scans from outside the heap.
#[derive(Debug, Clone)]
pub struct Root {
    pub kind: RootKind,
    /// As a Go developer names it: `main.cache`, `goroutine 17 main.worker var buf`.
    pub name: String,
    /// The goroutine of a stack root.
    pub goid: Option<u64>,
    /// Where the root's words are.
    pub addr: u64,
    pub len: u64,
    /// One bit per 8-byte word from `addr` (bit `i % 8` of byte `i / 8`):
    /// the words that hold pointers. `None`: every word is scanned
    /// conservatively.
    pub mask: Option<Vec<u8>>,
    /// A register's value known only from the core's thread notes (a
    /// goroutine that was running): the root is this one word, not the
    /// memory at `addr` (which is 0, `len` 8).
    pub value: Option<u64>,
}

impl Root {
    pub fn conservative(&self) -> bool {
        self.mask.is_none()
    }

    /// The root's pointer words (by `mask`; all of them without one), as
    /// (offset from `addr`, value); a word the core does not hold is left
    /// out.
    pub fn words(&self, mem: &dyn Memory) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        self.each_word(mem, |o, p| out.push((o, p)));
        out
    }

    /// [`Root::words`], one at a time.
    pub fn each_word(&self, mem: &dyn Memory, mut f: impl FnMut(u64, u64)) {
        match self.value {
            Some(v) => f(0, v),
            None => each_masked_word(mem, self.addr, self.len, self.mask.as_deref(), f),
        }
    }
}

pub struct Graph {
    pub roots: Vec<Root>,
    /// Edges of node `n`: `edges[first[n] .. first[n + 1]]`.
    pub first: Vec<u64>,
    pub edges: Vec<NodeId>,
    /// Per object, one bit: its pointer words were guessed (conservative scan).
    pub conservative: Vec<u64>,
    pub warnings: Vec<crate::Warning>,
}

impl Graph {
    pub fn node_count(&self) -> usize {
        self.first.len() - 1
    }
    /// The node of object `id`.
    pub fn node(&self, id: ObjId) -> NodeId {
        self.roots.len() as NodeId + id
    }
    /// The object of node `n`, if it is one.
    pub fn object(&self, n: NodeId) -> Option<ObjId> {
        (n as usize).checked_sub(self.roots.len()).map(|i| i as ObjId)
    }
    pub fn succ(&self, n: NodeId) -> &[NodeId] {
        &self.edges[self.first[n as usize] as usize..self.first[n as usize + 1] as usize]
    }
    pub fn is_conservative(&self, id: ObjId) -> bool {
        self.conservative[id as usize / 64] >> (id % 64) & 1 != 0
    }

    /// Build the graph of `heap` with `roots` (globals from
    /// [`pointers::global_roots`], stacks from the goroutines' frames).
    pub fn build(heap: &Heap, mem: &dyn Memory, roots: Vec<Root>) -> Graph {
        Self::build_impl(heap, mem, roots, true)
    }

    /// The graph a conservative collector would see: every aligned word of
    /// every root and scan object that points into an object is an edge.
    /// For comparison: the precise graph's edges are a subset of these.
    pub fn build_conservative(heap: &Heap, mem: &dyn Memory, mut roots: Vec<Root>) -> Graph {
        for r in &mut roots {
            r.mask = None;
        }
        Self::build_impl(heap, mem, roots, false)
    }

    fn build_impl(heap: &Heap, mem: &dyn Memory, roots: Vec<Root>, precise: bool) -> Graph {
        let idx = &heap.objects;
        let nroots = roots.len() as NodeId;
        let mut warnings = if precise { heap.ptrinfo.warnings.clone() } else { Vec::new() };
        let conservative_roots = roots.iter().filter(|r| r.conservative()).count();
        if precise && conservative_roots > 0 {
            warnings.push(crate::Warning::RootsConservative { roots: conservative_roots });
        }
        let root_edges: Vec<Vec<NodeId>> = roots
            .par_iter()
            .map(|r| {
                let mut out = Vec::new();
                let (lo, hi) = heap_bounds(idx);
                r.each_word(mem, |_, p| {
                    if p >= lo && p < hi {
                        out.extend(idx.find(p).map(|t| nroots + t));
                    }
                });
                out
            })
            .collect();
        let unreadable = std::sync::atomic::AtomicUsize::new(0);
        // Each span is read once: its pages need not stay resident after.
        let scanned = std::sync::atomic::AtomicU64::new(0);
        // Per span: each object's edges, flattened, plus per-object counts.
        let (lo_addr, hi_addr) = heap_bounds(idx);
        let per_span: Vec<(Vec<u32>, Vec<NodeId>, Vec<ObjId>)> = (0..idx.spans.len())
            .into_par_iter()
            .map(|k| {
                let (lo, hi) = (idx.first[k], idx.first[k + 1]);
                let mut counts = Vec::with_capacity((hi - lo) as usize);
                let mut out = Vec::new();
                let mut guessed = Vec::new();
                let mut sc = pointers::SpanScanner::new(heap, mem, k);
                for id in lo..hi {
                    let before = out.len();
                    let mut edge = |_, p| {
                        if p >= lo_addr && p < hi_addr {
                            if let Some(t) = idx.find(p) {
                                out.push(nroots + t);
                            }
                        }
                    };
                    let kind = if precise { sc.object(id, &mut edge) } else { pointers::conservative_object(heap, mem, id, k, &mut edge) };
                    if precise && kind == ScanKind::Conservative {
                        guessed.push(id);
                    }
                    if kind == ScanKind::Unreadable {
                        unreadable.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    counts.push((out.len() - before) as u32);
                }
                let bytes = idx.spans[k].bytes();
                let before = scanned.fetch_add(bytes, std::sync::atomic::Ordering::Relaxed);
                if (before + bytes) / RELEASE_EVERY != before / RELEASE_EVERY {
                    mem.release_pages();
                }
                (counts, out, guessed)
            })
            .collect();
        let n = roots.len() + idx.len();
        let total: usize = root_edges.iter().map(Vec::len).sum::<usize>() + per_span.iter().map(|p| p.1.len()).sum::<usize>();
        let mut first = Vec::with_capacity(n + 1);
        let mut edges = Vec::with_capacity(total);
        for e in &root_edges {
            first.push(edges.len() as u64);
            edges.extend_from_slice(e);
        }
        let mut conservative = vec![0u64; idx.len().div_ceil(64)];
        let mut guessed_total = 0usize;
        for (counts, out, guessed) in per_span {
            let mut at = 0usize;
            for c in counts {
                first.push((edges.len() + at) as u64);
                at += c as usize;
            }
            edges.extend_from_slice(&out);
            guessed_total += guessed.len();
            for id in guessed {
                conservative[id as usize / 64] |= 1 << (id % 64);
            }
        }
        first.push(edges.len() as u64);
        let unreadable = unreadable.into_inner();
        if unreadable > 0 {
            warnings.push(crate::Warning::ObjectsNotInCore { objects: unreadable });
        }
        if guessed_total > 0 {
            warnings.push(crate::Warning::ObjectsConservative { objects: guessed_total });
        }
        Graph { roots, first, edges, conservative, warnings }
    }
}

/// The words of `[addr, addr+len)` that `mask` picks (one bit per word,
/// as [`Root::mask`]; all of them without one), as (offset from `addr`,
/// value); a word the core does not hold is left out.
pub fn masked_words(mem: &dyn Memory, addr: u64, len: u64, mask: Option<&[u8]>) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    each_masked_word(mem, addr, len, mask, |o, p| out.push((o, p)));
    out
}

/// [`masked_words`], one at a time: the range is read at once when the
/// core holds all of it, word by word when not (a root may straddle an
/// unreadable page).
pub fn each_masked_word(mem: &dyn Memory, addr: u64, len: u64, mask: Option<&[u8]>, mut f: impl FnMut(u64, u64)) {
    let len = len & !7;
    let mut owned = Vec::new();
    let bytes: Option<&[u8]> = match mem.slice(addr, len as usize) {
        Some(b) => Some(b),
        None => {
            owned.resize(len as usize, 0);
            mem.read(addr, &mut owned).is_ok().then_some(&owned[..])
        }
    };
    for i in 0..len / 8 {
        if let Some(m) = mask {
            match m.get((i / 8) as usize) {
                Some(b) if b >> (i % 8) & 1 != 0 => {}
                Some(_) => continue,
                None => break,
            }
        }
        let at = (i * 8) as usize;
        let word = match bytes {
            Some(b) => b.get(at..at + 8).and_then(|w| w.try_into().ok()).map(u64::from_le_bytes),
            None => mem.u64(addr + i * 8).ok(),
        };
        if let Some(p) = word {
            f(i * 8, p);
        }
    }
}

/// The heap's address range (empty when there are no spans).
fn heap_bounds(idx: &ObjectIndex) -> (u64, u64) {
    match (idx.spans.first(), idx.spans.last()) {
        (Some(a), Some(b)) => (a.start, b.end()),
        _ => (0, 0),
    }
}

/// Every root the collector would trace in this process: package variables
/// and finalizer/cleanup specials ([`pointers::runtime_roots`]) and every
/// goroutine's live stack slots ([`super::stackroots::stack_roots`]; `a`'s
/// goroutines must be walked whole).
pub fn process_roots(a: &crate::Analysis, heap: &Heap) -> (Vec<Root>, Vec<crate::Warning>) {
    let (mut roots, mut warnings) = pointers::runtime_roots(&a.bin, a.mem(), a.bias, heap);
    let (stack, w, _stats) = super::stackroots::stack_roots(a);
    roots.extend(stack);
    roots.extend(super::stackroots::register_roots(a, heap));
    warnings.extend(w);
    (roots, warnings)
}
