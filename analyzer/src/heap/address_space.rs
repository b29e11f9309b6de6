//! What the whole process's mapped memory is made of, not only the Go
//! heap: every byte of every mapping of the core is put in one class.
//!
//! - Go heap arenas (`mheap_.heapArenas`, else the arenas the spans lie
//!   in): spans of heap objects, manually managed spans (goroutine stacks,
//!   GC work buffers), and the rest (free or never used pages);
//! - Go runtime metadata outside the arenas that could be located by
//!   address: `persistentalloc` chunks (`runtime.persistentChunks`: mspan
//!   structs, mcaches, ...), the arena index (`mheap_.arenas`' L2 map) and
//!   each arena's `heapArena`, the `allspans` and `heapArenas` (in older
//!   versions `allArenas`) arrays, the page allocator's summaries and
//!   scavenge index (reservations the runtime maps parts of);
//! - the executable's mappings (with its `.bss`), other file mappings;
//! - anonymous memory not located as Go's: cgo's malloc, mmaps, threads'
//!   OS stacks, and whatever runtime metadata was not located (page
//!   allocator summaries, profiling buckets...). The runtime's own sys
//!   counters (`MSpanSys`, `MCacheSys`, `BuckHashSys`, `GCSys`'s
//!   off-heap part, `OtherSys`) bound that last part, which gives a lower
//!   bound of the anonymous memory that is not Go's;
//! - mappings without access (reservations, guard pages).

use super::layout::HeapLayout;
use super::spans::SpanState;
use super::Heap;
use crate::binary::{BinArch, Binary};
use crate::memory::Memory;

/// `persistentChunkSize`.
const PERSISTENT_CHUNK: u64 = 256 << 10;
/// Chunks followed at most (a 256 GiB chain means a loop or garbage).
const MAX_CHUNKS: usize = 1 << 20;
/// `summaryLevels` on 64-bit platforms.
const SUMMARY_LEVELS: u64 = 5;
/// Arenas believed at most (a 4 PiB heap).
const MAX_ARENAS: u64 = 1 << 26;

/// One class of located runtime metadata.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MetadataPart {
    pub what: &'static str,
    /// Bytes of it inside the core's readable mappings.
    pub bytes: u64,
}

/// Every mapped byte of the process, by class; the classes add up to
/// `mapped_bytes`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AddressSpace {
    pub mapped_bytes: u64,
    /// Heap arenas found, of `arena_size` bytes each, and from where
    /// (`mheap_.heapArenas` or `.allArenas`, or `spans` when that field's
    /// offset is unknown: stripped binaries).
    pub arenas: u64,
    pub arena_size: u64,
    pub arena_source: &'static str,
    /// Accessible arena bytes in spans of heap objects.
    pub heap_spans_in_use: u64,
    /// Accessible arena bytes in manually managed spans (stacks, work buffers).
    pub stacks_and_manual: u64,
    /// Accessible arena bytes in no span in use: free and never used pages
    /// (including those the scavenger returned to the OS).
    pub heap_free: u64,
    /// Arena address space mapped without access (reserved, not yet used).
    pub arena_reserved: u64,
    /// Runtime metadata outside the arenas located by address (its parts in `metadata`).
    pub go_metadata: u64,
    pub metadata: Vec<MetadataPart>,
    /// The executable's file mappings and its anonymous `.bss`.
    pub binary: u64,
    /// Other file mappings (shared libraries, mapped files).
    pub other_files: u64,
    /// Accessible anonymous memory not located as Go's: cgo malloc, mmaps,
    /// OS thread stacks, the vDSO, and runtime metadata not located.
    pub other_anonymous: u64,
    /// Mappings without access outside the arenas (reservations, guard pages).
    pub reserved: u64,
    /// The runtime's off-heap sys counters (`MSpanSys + MCacheSys +
    /// BuckHashSys + gcMiscSys + OtherSys`), when `runtime.memstats` could be read.
    pub runtime_metadata_sys: Option<u64>,
    /// `other_anonymous` less the runtime metadata it may hold (the
    /// counters less what was located): anonymous memory that is not Go's,
    /// at least.
    pub not_go_anonymous_at_least: Option<u64>,
    pub warnings: Vec<crate::Warning>,
}

/// A sorted, non-overlapping set of address ranges.
#[derive(Default)]
struct Ranges(Vec<(u64, u64)>);

impl Ranges {
    fn from(mut v: Vec<(u64, u64)>) -> Ranges {
        v.retain(|(a, b)| a < b);
        v.sort_unstable();
        let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
        for (a, b) in v {
            match out.last_mut() {
                Some(l) if a <= l.1 => l.1 = l.1.max(b),
                _ => out.push((a, b)),
            }
        }
        Ranges(out)
    }
    /// Bytes of `[s, e)` covered.
    fn overlap(&self, s: u64, e: u64) -> u64 {
        let i = self.0.partition_point(|r| r.1 <= s);
        self.0[i..].iter().take_while(|r| r.0 < e).map(|r| r.1.min(e).saturating_sub(r.0.max(s))).sum()
    }
}

/// Arena geometry: (heapArenaBytes, arenaBaseOffset, arenaL1Bits, arenaL2Bits).
fn geometry(os: core_reader::Os, arch: BinArch) -> (u64, u64, u32, u32) {
    let windows = os == core_reader::Os::Windows;
    let log = if windows { 22 } else { 26 };
    let l1 = if windows { 6 } else { 0 };
    let base = if arch == BinArch::Amd64 { 0xffff_8000_0000_0000 } else { 0 };
    (1 << log, base, l1, 48 - log - l1)
}

/// Classify every mapped byte of the process whose heap is `heap`.
pub fn address_space(
    heap: &Heap,
    bin: &Binary,
    mem: &dyn Memory,
    bias: u64,
    os: core_reader::Os,
    mappings: &[core_reader::Mapping],
) -> AddressSpace {
    let l = &heap.layout;
    let (arena_size, arena_base, l1_bits, l2_bits) = geometry(os, bin.arch);
    let mut out = AddressSpace { arena_size, ..AddressSpace::default() };

    // The arenas.
    let mut arena_idx: Vec<u64> = Vec::new();
    let arenas_field = l.opt("mheap.heapArenas").map(|o| (o, "mheap_.heapArenas")).or(l.opt("mheap.allArenas").map(|o| (o, "mheap_.allArenas")));
    if let Some((off, name)) = arenas_field {
        let a = heap.mheap.wrapping_add(off);
        if let (Ok(p), Ok(n)) = (mem.u64(a), mem.u64(a.wrapping_add(8))) {
            if n <= MAX_ARENAS {
                let mut b = vec![0u8; (n * 8) as usize];
                if mem.read(p, &mut b).is_ok() {
                    arena_idx = b.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect();
                    out.arena_source = name;
                }
            }
        }
    }
    let to_addr = |i: u64| i.wrapping_mul(arena_size).wrapping_add(arena_base);
    let to_idx = |a: u64| a.wrapping_sub(arena_base) / arena_size;
    let mut arenas: Vec<(u64, u64)> = arena_idx.iter().map(|i| (to_addr(*i), to_addr(*i).wrapping_add(arena_size))).collect();
    let all_spans = || heap.objects.spans.iter().chain(heap.other_spans.iter().filter(|s| s.state != SpanState::Dead));
    let known = Ranges::from(arenas.clone());
    let mut outside = 0u64;
    for s in all_spans() {
        if known.overlap(s.start, s.end()) != s.bytes() {
            outside += 1;
            let a = to_addr(to_idx(s.start));
            arenas.push((a, a.wrapping_add(arena_size)));
        }
    }
    if out.arena_source.is_empty() {
        out.arena_source = "spans";
    } else if outside > 0 {
        out.warnings.push(crate::Warning::SpansOutsideArenas { spans: outside, source_name: out.arena_source });
    }
    let arenas = Ranges::from(arenas);
    out.arenas = arenas.0.iter().map(|(a, b)| (b - a) / arena_size).sum();
    let in_use = Ranges::from(heap.objects.spans.iter().map(|s| (s.start, s.end())).collect());
    let manual =
        Ranges::from(heap.other_spans.iter().filter(|s| s.state == SpanState::Manual).map(|s| (s.start, s.end())).collect());

    // Runtime metadata located by address: (what, range, charged to a sys counter).
    let mut meta: Vec<(&'static str, u64, u64, bool)> = Vec::new();
    if let Some(p) = bin.symbol("runtime.persistentChunks").and_then(|a| mem.u64(a.wrapping_add(bias)).ok()) {
        let mut c = p;
        let mut seen = std::collections::HashSet::new();
        while c != 0 && seen.len() < MAX_CHUNKS && seen.insert(c) {
            meta.push(("persistentalloc chunks (mspans, mcaches, ...)", c, c.wrapping_add(PERSISTENT_CHUNK), true));
            match mem.u64(c) {
                Ok(n) => c = n,
                Err(_) => {
                    out.warnings.push(crate::Warning::PersistentChunkUnreadable { chunk: c });
                    break;
                }
            }
        }
    }
    if let Ok(off) = l.get("mheap.allspans") {
        let a = heap.mheap.wrapping_add(off);
        if let (Ok(p), Ok(c)) = (mem.u64(a), mem.u64(a.wrapping_add(16))) {
            if p != 0 && c <= 1 << 26 {
                meta.push(("allspans array", p, p.wrapping_add(c * 8), true));
            }
        }
    }
    if let Some((off, _)) = arenas_field {
        let a = heap.mheap.wrapping_add(off);
        if let (Ok(p), Ok(c)) = (mem.u64(a), mem.u64(a.wrapping_add(16))) {
            if p != 0 && c <= MAX_ARENAS {
                meta.push(("heapArenas array", p, p.wrapping_add(c * 8), true));
            }
        }
    }
    if let Some(off) = l.opt("mheap.arenas") {
        let l2_bytes = (1u64 << l2_bits) * 8;
        let arena_struct = l.opt("heapArena.$size");
        for l1 in 0..(1u64 << l1_bits) {
            let Ok(l2) = mem.u64(heap.mheap.wrapping_add(off).wrapping_add(l1 * 8)) else { continue };
            if l2 == 0 {
                continue;
            }
            // Not counted by any of the runtime's sys counters.
            meta.push(("arena index (mheap_.arenas)", l2, l2.wrapping_add(l2_bytes), false));
            let Some(size) = arena_struct else { continue };
            for (a, b) in &arenas.0 {
                let mut x = *a;
                while x < *b {
                    let i = to_idx(x);
                    if i >> l2_bits == l1 {
                        if let Ok(h) = mem.u64(l2.wrapping_add((i & ((1 << l2_bits) - 1)) * 8)) {
                            if h != 0 {
                                meta.push(("heapArena metadata (spans map, page bits)", h, h.wrapping_add(size), true));
                            }
                        }
                    }
                    x = x.wrapping_add(arena_size);
                }
            }
        }
    }
    // The page allocator's summaries and scavenge index: huge reservations
    // of which the runtime maps what the heap needs. Kernel cores record
    // the rest without access; gdb's gcore and Delve's dump make it look
    // readable, which would otherwise count as anonymous memory.
    if let (Some(pages), Some(summary)) = (l.opt("mheap.pages"), l.opt("pageAlloc.summary")) {
        let pa = heap.mheap.wrapping_add(pages);
        let slice = |a: u64| -> Option<(u64, u64)> {
            let (p, c) = (mem.u64(a).ok()?, mem.u64(a.wrapping_add(16)).ok()?);
            (p != 0 && c <= 1 << 34).then(|| (p, p.wrapping_add(c * 8)))
        };
        for lvl in 0..SUMMARY_LEVELS {
            if let Some((a, b)) = slice(pa.wrapping_add(summary).wrapping_add(lvl * 24)) {
                meta.push(("page allocator summaries (reserved, partly mapped)", a, b, false));
            }
        }
        // `scav.index` is `scav`'s first field.
        if let (Some(scav), Some(chunks)) = (l.opt("pageAlloc.scav"), l.opt("scavengeIndex.chunks")) {
            if let Some((a, b)) = slice(pa.wrapping_add(scav).wrapping_add(chunks)) {
                meta.push(("scavenge index (reserved, partly mapped)", a, b, false));
            }
        }
    }
    // Metadata never lies in an arena; a range that claims to is garbage.
    meta.retain(|(_, a, b, _)| a < b && arenas.overlap(*a, *b) == 0);
    let meta_all = Ranges::from(meta.iter().map(|m| (m.1, m.2)).collect());
    let uncharged = Ranges::from(meta.iter().filter(|m| !m.3).map(|m| (m.1, m.2)).collect());

    // The executable's image, by its sections.
    let image = {
        let secs = bin.sections.iter().filter(|s| s.addr != 0 && s.size != 0);
        let lo = secs.clone().map(|s| s.addr).min();
        let hi = secs.map(|s| s.addr.saturating_add(s.size)).max();
        match (lo, hi) {
            (Some(a), Some(b)) => {
                let page = 0xfff;
                Ranges::from(vec![(a.wrapping_add(bias) & !page, (b.wrapping_add(bias) + page) & !page)])
            }
            _ => Ranges::default(),
        }
    };

    let mut meta_located = 0u64;
    let mut meta_uncharged = 0u64;
    for m in mappings {
        let (s, e) = (m.start, m.end);
        if e <= s {
            continue;
        }
        let len = e - s;
        out.mapped_bytes += len;
        if m.path.is_some() {
            if image.overlap(s, e) > 0 {
                out.binary += len;
            } else {
                out.other_files += len;
            }
            continue;
        }
        let ar = arenas.overlap(s, e);
        if !(m.read || m.write || m.exec) {
            out.arena_reserved += ar;
            out.reserved += len - ar;
            continue;
        }
        let iu = in_use.overlap(s, e).min(ar);
        let mn = manual.overlap(s, e).min(ar - iu);
        out.heap_spans_in_use += iu;
        out.stacks_and_manual += mn;
        out.heap_free += ar - iu - mn;
        let rest = len - ar;
        let bin_b = image.overlap(s, e).min(rest);
        out.binary += bin_b;
        let md = meta_all.overlap(s, e).min(rest - bin_b);
        meta_located += md;
        meta_uncharged += uncharged.overlap(s, e).min(md);
        out.other_anonymous += rest - bin_b - md;
    }
    out.go_metadata = meta_located;
    // Per part, inside accessible anonymous mappings (parts may share a chunk:
    // the parts can add up to more than `go_metadata`).
    let readable = Ranges::from(
        mappings.iter().filter(|m| m.path.is_none() && (m.read || m.write || m.exec)).map(|m| (m.start, m.end)).collect(),
    );
    let mut parts: Vec<MetadataPart> = Vec::new();
    for (what, a, b, _) in &meta {
        let n = readable.overlap(*a, *b);
        match parts.iter_mut().find(|p| p.what == *what) {
            Some(p) => p.bytes += n,
            None => parts.push(MetadataPart { what: *what, bytes: n }),
        }
    }
    out.metadata = parts;

    out.runtime_metadata_sys = runtime_sys(bin, mem, bias, l);
    out.not_go_anonymous_at_least = out.runtime_metadata_sys.map(|sys| {
        let charged_located = meta_located - meta_uncharged;
        out.other_anonymous.saturating_sub(sys.saturating_sub(charged_located))
    });
    out
}

/// `MSpanSys + MCacheSys + BuckHashSys + gcMiscSys + OtherSys` from
/// `runtime.memstats` (DWARF offsets only: stripped binaries have no symbol).
fn runtime_sys(bin: &Binary, mem: &dyn Memory, bias: u64, l: &HeapLayout) -> Option<u64> {
    let ms = bin.symbol("runtime.memstats")?.wrapping_add(bias);
    let mut sum = 0u64;
    for k in ["mstats.mspan_sys", "mstats.mcache_sys", "mstats.buckhash_sys", "mstats.gcMiscSys", "mstats.other_sys"] {
        sum = sum.wrapping_add(mem.u64(ms.wrapping_add(l.opt(k)?)).ok()?);
    }
    Some(sum)
}

#[cfg(test)]
mod tests {
    use super::Ranges;

    #[test]
    fn ranges_merge_and_overlap() {
        let r = Ranges::from(vec![(10, 20), (15, 30), (40, 50), (0, 0)]);
        assert_eq!(r.0, vec![(10, 30), (40, 50)]);
        assert_eq!(r.overlap(0, 100), 30);
        assert_eq!(r.overlap(25, 45), 10);
        assert_eq!(r.overlap(30, 40), 0);
    }
}
