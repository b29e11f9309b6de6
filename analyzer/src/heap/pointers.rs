//! Which words hold pointers: of a heap object (by its span and the
//! runtime's pointer metadata) and of the package variables (the data and
//! bss sections), the way the collector itself decides:
//! - Go 1.22+: a small scan object (`elemsize <= 512`) has one bit per word
//!   in the span's heap bits, at the span's end (before the 128-byte inline
//!   mark bits of the Green Tea collector, Go 1.25 experiment, 1.26
//!   default); a bigger one starts with a malloc header, a pointer to its
//!   type; a large object's type is its span's `largeType`. A type's
//!   `GCData` mask covers `PtrBytes` and is tiled every `Size_` bytes up to
//!   the object's end (arrays). Go 1.24+ types may build their mask on
//!   demand (`TFlagGCMaskOnDemand`: `GCData` points to the pointer to the
//!   mask, nil until built); before 1.24 a type may carry a GC program,
//!   which only large objects use, and those the runtime unrolls into a
//!   dummy `largeType` with a plain mask.
//! - Go 1.21: the arena's pointer bitmap (`heapArena.bitmap`, one bit per
//!   word of the arena) with `noMorePtrs` cutting an object's scan short.
//! - Globals: `moduledata.gcdatamask` / `gcbssmask`, the bitmaps the
//!   runtime unpacks at start over `[data, edata)` and `[bss, ebss)`.
//! - Finalizers and cleanups: the specials of the spans (see
//!   [`special_roots`]).
//!
//! Where the metadata cannot be read (or a mask is built on demand and was
//! not), a scan is conservative: every aligned word that points into an
//! object counts, and the object or root is marked so.

use std::borrow::Cow;

use super::graph::{Root, RootKind};
use super::objects::ObjId;
use super::sizeclass::{MALLOC_HEADER_SIZE, MIN_SIZE_FOR_MALLOC_HEADER};
use super::spans::Span;
use super::Heap;
use crate::binary::{BinArch, Binary};
use crate::memory::Memory;

/// How to find the pointers of one object.
#[derive(Debug, Clone)]
pub enum Scan {
    /// A noscan span: the object holds no pointers.
    NoPointers,
    /// The words at `[addr, addr+len)` picked by `mask` (one bit per word).
    Mask { addr: u64, len: u64, mask: Vec<u8> },
    /// Every word of `[addr, addr+len)`.
    Conservative { addr: u64, len: u64 },
}

/// How an object's pointers were found by [`SpanScanner::object`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanKind {
    /// No pointers (a noscan span, or a type without pointers).
    NoPointers,
    /// From the runtime's pointer metadata.
    Precise,
    /// Every word that may be a pointer (metadata unreadable or absent).
    Conservative,
    /// The object's memory is not in the core: its pointers are unknown.
    Unreadable,
}

/// What the scanner needs to know about the runtime, fixed per core.
#[derive(Debug, Clone, Default)]
pub struct PtrInfo {
    /// Go minor version (21 for go1.21).
    pub go_minor: u32,
    /// Small scan spans end with the Green Tea collector's inline mark bits.
    pub greentea: bool,
    /// Go 1.21: where the arenas' pointer bitmaps are.
    pub arenas: Option<Arenas>,
    /// What could not be learned (the graph reports these).
    pub warnings: Vec<crate::Warning>,
}

/// Go 1.21's arena index: `mheap_.arenas[l1][l2]` -> `*heapArena`.
#[derive(Debug, Clone)]
pub struct Arenas {
    /// Address of `mheap_.arenas` (the L1 array of pointers).
    pub l1: u64,
    pub l2_bits: u32,
    pub arena_bytes: u64,
    pub base_offset: u64,
    /// Offsets of `bitmap` and `noMorePtrs` in `heapArena`.
    pub bitmap: u64,
    pub no_more_ptrs: u64,
}

/// Size of `spanInlineMarkBits` (Green Tea): 63 + 1 + 63 + 1 bytes.
const INLINE_MARK_BITS: u64 = 128;
/// `abi.Type` fields (64-bit, Go 1.21..1.27).
const T_SIZE: u64 = 0;
const T_PTRBYTES: u64 = 8;
const T_TFLAG: u64 = 20;
const T_KIND: u64 = 23;
const T_GCDATA: u64 = 32;
const KIND_GCPROG: u8 = 1 << 6;
const TFLAG_GCMASK_ON_DEMAND: u8 = 1 << 4;
/// A type mask bigger than this is taken as garbage (a 4 GiB pointer area).
const MAX_MASK_BYTES: u64 = 64 << 20;

impl PtrInfo {
    /// Learn the version-dependent facts from the binary and the spans.
    pub fn new(bin: &Binary, mem: &dyn Memory, layout: &super::layout::HeapLayout, mheap: u64, spans: &[Span]) -> PtrInfo {
        let go_minor = bin.go_minor().unwrap_or(26);
        let mut warnings = Vec::new();
        let greentea = go_minor >= 25 && detect_greentea(bin, spans);
        let arenas = if go_minor < 22 {
            let a = arenas_121(bin, mem, layout, mheap);
            if a.is_none() {
                warnings.push(crate::Warning::NoArenaIndex);
            }
            a
        } else {
            None
        };
        PtrInfo { go_minor, greentea, arenas, warnings }
    }
}

/// Green Tea moves the heap bits of small scan spans 128 bytes down and
/// makes room for them by holding fewer objects (runtime/mheap.go, span
/// init): the spans' `nelems` tell which layout the core has; when no span
/// tells, functions that only the Green Tea collector has do.
fn detect_greentea(bin: &Binary, spans: &[Span]) -> bool {
    let (mut with, mut without) = (0u32, 0u32);
    for s in spans {
        if s.noscan || s.sizeclass == 0 || s.elemsize < 16 || s.elemsize > MIN_SIZE_FOR_MALLOC_HEADER {
            continue;
        }
        let b = s.bytes();
        let bits = b / 64;
        let (a, g) = ((b - bits) / s.elemsize, (b - bits - INLINE_MARK_BITS) / s.elemsize);
        if a == g {
            continue;
        }
        if s.nelems == g {
            with += 1;
        } else if s.nelems == a {
            without += 1;
        }
        if with + without >= 64 {
            break;
        }
    }
    if with != without {
        return with > without;
    }
    ["runtime.spanSetScans", "runtime.scanObjectsSmall", "runtime.freeDeadSpanSPMCs"]
        .iter()
        .any(|n| bin.pcln.lookup_name(n).is_some())
}

fn arenas_121(bin: &Binary, mem: &dyn Memory, layout: &super::layout::HeapLayout, mheap: u64) -> Option<Arenas> {
    let off = layout.opt("mheap.arenas")?;
    let no_more_ptrs = layout.opt("heapArena.noMorePtrs")?;
    let bitmap = layout.opt("heapArena.bitmap").unwrap_or(0);
    // runtime/malloc.go: 64 MiB arenas and a one-entry L1 on 64-bit
    // Linux/macOS; 4 MiB arenas and a 64-entry L1 on Windows.
    let windows = bin.path.extension().is_some_and(|e| e.eq_ignore_ascii_case("exe"));
    let (log_arena, l1_bits) = if windows { (22u32, 6u32) } else { (26, 0) };
    let a = Arenas {
        l1: mheap.wrapping_add(off),
        l2_bits: 48 - log_arena - l1_bits,
        arena_bytes: 1 << log_arena,
        base_offset: if bin.arch == BinArch::Amd64 { 0xffff_8000_0000_0000 } else { 0 },
        bitmap,
        no_more_ptrs,
    };
    // The L1 array must hold at least one readable pointer.
    mem.u64(a.l1).ok().filter(|p| *p != 0)?;
    Some(a)
}

/// The bytes of `[addr, addr+len)`: borrowed from the core when it holds
/// them in one piece, else read (unreadable words read as zero).
fn bytes_of<'m>(mem: &'m dyn Memory, addr: u64, len: u64) -> Option<Cow<'m, [u8]>> {
    let n = usize::try_from(len).ok()?;
    if let Some(b) = mem.slice(addr, n) {
        return Some(Cow::Borrowed(b));
    }
    let mut v = vec![0u8; n];
    if mem.read(addr, &mut v).is_err() {
        let mut any = false;
        for (i, w) in v.chunks_exact_mut(8).enumerate() {
            if let Ok(x) = mem.u64(addr.wrapping_add(i as u64 * 8)) {
                w.copy_from_slice(&x.to_le_bytes());
                any = true;
            }
        }
        if !any {
            return None;
        }
    }
    Some(Cow::Owned(v))
}

fn word_at(b: &[u8], off: u64) -> u64 {
    let i = off as usize;
    b.get(i..i + 8).map_or(0, |w| u64::from_le_bytes(w.try_into().unwrap_or([0; 8])))
}

fn bit(mask: &[u8], i: u64) -> bool {
    mask.get((i / 8) as usize).is_some_and(|b| b >> (i % 8) & 1 != 0)
}

/// A type's pointer mask, as the collector would read it.
struct TypeMask<'m> {
    size: u64,
    ptr_words: u64,
    mask: Cow<'m, [u8]>,
}

/// Scans the objects of one span (the graph builder makes one per span, so
/// the span's heap bits are found once).
pub struct SpanScanner<'h> {
    heap: &'h Heap,
    mem: &'h dyn Memory,
    k: usize,
    /// Go 1.22+ small scan spans: the heap bits of the whole span.
    heap_bits: Option<Cow<'h, [u8]>>,
    /// The last type read from a header (objects of a span mostly share it).
    last_type: Option<(u64, Option<TypeMask<'h>>)>,
    /// The span's bytes when the core has them in one piece (the memory's
    /// region is looked up once a span, not once an object).
    bytes: Option<&'h [u8]>,
}

impl<'h> SpanScanner<'h> {
    pub fn new(heap: &'h Heap, mem: &'h dyn Memory, k: usize) -> SpanScanner<'h> {
        let s = &heap.objects.spans[k];
        let info = &heap.ptrinfo;
        let heap_bits = if info.go_minor >= 22 && !s.noscan && s.sizeclass != 0 && s.elemsize <= MIN_SIZE_FOR_MALLOC_HEADER {
            let size = s.bytes() / 64;
            let mut at = s.end() - size;
            if info.greentea && s.elemsize >= 16 {
                at -= INLINE_MARK_BITS;
            }
            bytes_of(mem, at, size)
        } else {
            None
        };
        let bytes = if s.noscan { None } else { usize::try_from(s.bytes()).ok().and_then(|n| mem.slice(s.start, n)) };
        SpanScanner { heap, mem, k, heap_bits, last_type: None, bytes }
    }

    fn span(&self) -> &'h Span {
        &self.heap.objects.spans[self.k]
    }

    /// Call `f(word address, word value)` for every pointer word of object
    /// `id` (of this span) and say how they were found.
    pub fn object(&mut self, id: ObjId, f: &mut impl FnMut(u64, u64)) -> ScanKind {
        let heap = self.heap;
        let s = &heap.objects.spans[self.k];
        if s.noscan {
            return ScanKind::NoPointers;
        }
        let base = heap.objects.base(id);
        let whole = self.bytes.and_then(|b| {
            let at = usize::try_from(base.checked_sub(s.start)?).ok()?;
            b.get(at..at.checked_add(usize::try_from(s.elemsize).ok()?)?)
        });
        let Some(obj) = whole.map(Cow::Borrowed).or_else(|| bytes_of(self.mem, base, s.elemsize)) else {
            return ScanKind::Unreadable;
        };
        let info = &heap.ptrinfo;
        if info.go_minor >= 22 {
            if s.sizeclass != 0 && s.elemsize <= MIN_SIZE_FOR_MALLOC_HEADER {
                return self.small(base, &obj, f);
            }
            return self.typed(base, &obj, f);
        }
        match &info.arenas {
            Some(a) => arena_bits(self.mem, a, base, &obj, f),
            None => conservative(base, &obj, f),
        }
    }

    fn small(&self, base: u64, obj: &[u8], f: &mut impl FnMut(u64, u64)) -> ScanKind {
        let s = self.span();
        let Some(bits) = &self.heap_bits else {
            return conservative(base, obj, f);
        };
        let o = (base - s.start) / 8;
        for i in 0..s.elemsize / 8 {
            if bit(bits, o + i) {
                f(base + i * 8, word_at(obj, i * 8));
            }
        }
        ScanKind::Precise
    }

    fn typed(&mut self, base: u64, obj: &[u8], f: &mut impl FnMut(u64, u64)) -> ScanKind {
        let s = self.span();
        let (typ, user) = if s.sizeclass != 0 { (word_at(obj, 0), MALLOC_HEADER_SIZE) } else { (s.large_type, 0) };
        if typ == 0 {
            return conservative(base, obj, f);
        }
        if self.last_type.as_ref().is_none_or(|(t, _)| *t != typ) {
            let m = type_mask(self.mem, self.heap.ptrinfo.go_minor, typ);
            self.last_type = Some((typ, m));
        }
        let Some((_, Some(tm))) = &self.last_type else {
            return conservative(base, obj, f);
        };
        if tm.ptr_words == 0 {
            return ScanKind::NoPointers;
        }
        let limit = s.elemsize;
        let mut elem = user;
        while elem < limit {
            for w in 0..tm.ptr_words {
                let off = elem + w * 8;
                if off >= limit {
                    break;
                }
                if bit(&tm.mask, w) {
                    f(base + off, word_at(obj, off));
                }
            }
            elem += tm.size;
        }
        ScanKind::Precise
    }
}

/// Read a type's pointer mask; `None` when the collector's own mask is not
/// there to read (a GC program, or an on-demand mask never built).
fn type_mask(mem: &dyn Memory, minor: u32, typ: u64) -> Option<TypeMask<'_>> {
    let size = mem.u64(typ + T_SIZE).ok()?;
    let ptr_bytes = mem.u64(typ + T_PTRBYTES).ok()?;
    if ptr_bytes == 0 {
        return Some(TypeMask { size: size.max(8), ptr_words: 0, mask: Cow::Borrowed(&[]) });
    }
    if size == 0 || ptr_bytes > size || ptr_bytes % 8 != 0 || size % 8 != 0 {
        return None;
    }
    let tflag = mem.u8(typ + T_TFLAG).ok()?;
    let kind = mem.u8(typ + T_KIND).ok()?;
    let mut gcdata = mem.u64(typ + T_GCDATA).ok()?;
    if minor < 24 && kind & KIND_GCPROG != 0 {
        return None;
    }
    if minor >= 24 && tflag & TFLAG_GCMASK_ON_DEMAND != 0 {
        gcdata = mem.u64(gcdata).ok()?;
    }
    if gcdata == 0 {
        return None;
    }
    let ptr_words = ptr_bytes / 8;
    let n = ptr_words.div_ceil(8);
    if n > MAX_MASK_BYTES {
        return None;
    }
    let mask = match mem.slice(gcdata, n as usize) {
        Some(b) => Cow::Borrowed(b),
        None => {
            let mut v = vec![0u8; n as usize];
            mem.read(gcdata, &mut v).ok()?;
            Cow::Owned(v)
        }
    };
    Some(TypeMask { size, ptr_words, mask })
}

/// Every non-zero word of object `id` (in span `k`), noscan spans excepted:
/// what a conservative collector would follow.
pub fn conservative_object(heap: &Heap, mem: &dyn Memory, id: ObjId, k: usize, f: &mut impl FnMut(u64, u64)) -> ScanKind {
    let s = &heap.objects.spans[k];
    if s.noscan {
        return ScanKind::NoPointers;
    }
    let base = heap.objects.base(id);
    match bytes_of(mem, base, s.elemsize) {
        Some(obj) => conservative(base, &obj, f),
        None => ScanKind::Unreadable,
    }
}

fn conservative(base: u64, obj: &[u8], f: &mut impl FnMut(u64, u64)) -> ScanKind {
    for i in 0..obj.len() as u64 / 8 {
        let v = word_at(obj, i * 8);
        if v != 0 {
            f(base + i * 8, v);
        }
    }
    ScanKind::Conservative
}

/// Go 1.21: the arena bitmap, one bit per word, read 64 words at a time as
/// the runtime's `heapBitsForAddr` does; after a bitmap word whose
/// `noMorePtrs` bit is set, the object has no more pointers.
fn arena_bits(mem: &dyn Memory, a: &Arenas, base: u64, obj: &[u8], f: &mut impl FnMut(u64, u64)) -> ScanKind {
    let end = base + obj.len() as u64;
    let mut p = base;
    while p < end {
        let ai = p.wrapping_sub(a.base_offset) / a.arena_bytes;
        let l1 = ai >> a.l2_bits;
        let l2 = ai & ((1u64 << a.l2_bits) - 1);
        let ha = mem.u64(a.l1 + l1 * 8).ok().filter(|x| *x != 0).and_then(|t| mem.u64(t + l2 * 8).ok()).filter(|x| *x != 0);
        let Some(ha) = ha else {
            return conservative(base, obj, f);
        };
        let word = p / 8 % (a.arena_bytes / 8);
        let (idx, off) = (word / 64, word % 64);
        let Ok(bits) = mem.u64(ha + a.bitmap + idx * 8) else {
            return conservative(base, obj, f);
        };
        let bits = bits >> off;
        let valid = 64 - off;
        let left = (end - p) / 8;
        for j in 0..valid.min(left) {
            if bits >> j & 1 != 0 {
                let q = p + j * 8;
                f(q, word_at(obj, q - base));
            }
        }
        if left <= valid {
            break;
        }
        match mem.u8(ha + a.no_more_ptrs + idx / 8) {
            Ok(b) if b >> (idx % 8) & 1 != 0 => break,
            Ok(_) => {}
            Err(_) => return conservative(base, obj, f),
        }
        p += valid * 8;
    }
    ScanKind::Precise
}

/// The pointer words of object `id` (in span `k` of the index), as a mask
/// from the object's base (an allocation per call: for one object at a
/// time; the graph builder uses [`SpanScanner`]).
pub fn scan_of(heap: &Heap, mem: &dyn Memory, id: ObjId, k: usize) -> Scan {
    let s = &heap.objects.spans[k];
    let addr = heap.objects.base(id);
    let len = s.elemsize;
    let mut mask = vec![0u8; len.div_ceil(64) as usize];
    let kind = SpanScanner::new(heap, mem, k).object(id, &mut |a, _| {
        let i = ((a - addr) / 8) as usize;
        mask[i / 8] |= 1 << (i % 8);
    });
    match kind {
        ScanKind::NoPointers | ScanKind::Unreadable => Scan::NoPointers,
        ScanKind::Precise if mask.iter().all(|b| *b == 0) => Scan::NoPointers,
        ScanKind::Precise => Scan::Mask { addr, len, mask },
        ScanKind::Conservative => Scan::Conservative { addr, len },
    }
}

/// The package variables as roots, conservatively: one per symbol of the
/// data and bss sections (one per section without symbols). The fallback
/// of [`global_roots_in`], which reads the runtime's masks.
pub fn global_roots(bin: &Binary, bias: u64) -> Vec<Root> {
    let mut roots = Vec::new();
    for sec in [".data", ".bss"] {
        let Some(s) = bin.section(sec) else { continue };
        let (lo, hi) = (s.addr, s.addr + s.size);
        let mut syms: Vec<(u64, u64, &str)> = bin
            .symbols
            .iter()
            .filter(|(_, (a, n))| *a >= lo && *a < hi && *n > 0)
            .map(|(name, (a, n))| (*a, *n, name.as_str()))
            .collect();
        syms.sort_unstable();
        if syms.is_empty() {
            roots.push(Root { kind: RootKind::Global, name: sec.to_string(), goid: None, addr: lo + bias, len: s.size & !7, mask: None, value: None });
            continue;
        }
        for (a, n, name) in syms {
            let start = a & !7;
            let len = (a + n).min(hi).div_ceil(8) * 8 - start;
            roots.push(Root { kind: RootKind::Global, name: name.to_string(), goid: None, addr: start + bias, len, mask: None, value: None });
        }
    }
    roots
}

/// `moduledata.data`, `.edata`, `.bss`, `.ebss` (every version since 1.20).
const MD_DATA: u64 = 208;
const MD_BSS: u64 = 224;

/// Offsets of `moduledata.gcdatamask` (gcbssmask follows, 16 bytes on),
/// by Go minor version, from the DWARF of each toolchain's binaries; each
/// is checked against the section sizes before use.
fn gcmask_offsets(minor: u32) -> [u64; 3] {
    match minor {
        ..=25 => [536, 544, 520],
        26 => [544, 536, 520],
        _ => [520, 544, 536],
    }
}

/// The package variables as roots with the runtime's own pointer masks:
/// one root per variable that holds pointers (named by its ELF symbol, else
/// its DWARF global, else `data+0x...` / `bss+0x...` runs of pointer words).
/// Falls back to [`global_roots`] (conservative) with a warning when the
/// masks cannot be read.
pub fn global_roots_in(bin: &Binary, mem: &dyn Memory, bias: u64) -> (Vec<Root>, Vec<crate::Warning>) {
    match read_gc_masks(bin, mem, bias) {
        Ok(secs) => {
            let names = variable_names(bin);
            let mut roots = Vec::new();
            for (label, start, end, mask) in &secs {
                section_roots(label, *start, *end, mask, &names, bias, &mut roots);
            }
            name_pointed_statics(bin, mem, bias, &secs, &mut roots);
            (roots, Vec::new())
        }
        Err(e) => (global_roots(bin, bias), vec![crate::Warning::GlobalsConservative { error: e }]),
    }
}

type SectionMask = (&'static str, u64, u64, Vec<u8>);

/// `[(label, start, end, mask)]` for data and bss (runtime addresses).
fn read_gc_masks(bin: &Binary, mem: &dyn Memory, bias: u64) -> Result<Vec<SectionMask>, String> {
    let md = bin.moduledata.as_ref().ok_or("moduledata not found")?.addr.wrapping_add(bias);
    let rd = |o: u64| mem.u64(md.wrapping_add(o)).map_err(|e| format!("moduledata at {md:#x}: {e}"));
    let (data, edata, bss, ebss) = (rd(MD_DATA)?, rd(MD_DATA + 8)?, rd(MD_BSS)?, rd(MD_BSS + 8)?);
    if edata < data || ebss < bss || edata - data > 1 << 34 || ebss - bss > 1 << 34 {
        return Err(format!("moduledata at {md:#x} has implausible data/bss bounds"));
    }
    let minor = bin.go_minor().unwrap_or(26);
    for off in gcmask_offsets(minor) {
        let (Ok(dn), Ok(bn)) = (mem.u32(md + off), mem.u32(md + off + 16)) else { continue };
        if u64::from(dn) != (edata - data) / 8 || u64::from(bn) != (ebss - bss) / 8 {
            continue;
        }
        let (Ok(dp), Ok(bp)) = (mem.u64(md + off + 8), mem.u64(md + off + 24)) else { continue };
        let mut out = Vec::new();
        for (label, start, end, n, p) in [("data", data, edata, dn, dp), ("bss", bss, ebss, bn, bp)] {
            let mut m = vec![0u8; (n as usize).div_ceil(8)];
            if n > 0 && (p == 0 || mem.read(p, &mut m).is_err()) {
                return Err(format!("moduledata.gc{label}mask bits at {p:#x} unreadable"));
            }
            out.push((label, start, end, m));
        }
        return Ok(out);
    }
    Err(format!("moduledata at {md:#x}: no gcdatamask/gcbssmask matching the data and bss sizes"))
}

/// Link-time (start, size, name) of the variables, sorted: ELF symbols,
/// else DWARF globals.
fn variable_names(bin: &Binary) -> Vec<(u64, u64, String)> {
    let mut v: Vec<(u64, u64, String)> = bin.symbols.iter().filter(|(_, (_, n))| *n > 0).map(|(name, (a, n))| (*a, *n, name.clone())).collect();
    if v.is_empty() {
        if let Ok(di) = bin.debug_info() {
            for g in di.globals().values() {
                let size = g.ty.and_then(|t| di.type_at(t)).map_or(0, |t| t.size);
                if size > 0 {
                    v.push((g.addr, size, g.name.clone()));
                }
            }
        }
    }
    v.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    v
}

fn section_roots(label: &str, start: u64, end: u64, mask: &[u8], names: &[(u64, u64, String)], bias: u64, roots: &mut Vec<Root>) {
    let nwords = (end - start) / 8;
    let mut w = 0u64;
    while w < nwords {
        if !bit(mask, w) {
            w += 1;
            continue;
        }
        let addr = start + w * 8;
        let link = addr.wrapping_sub(bias);
        // The variable covering this word, if any.
        let i = names.partition_point(|(a, _, _)| *a <= link);
        let sym = i.checked_sub(1).map(|j| &names[j]).filter(|(a, n, _)| link < a + n);
        let (lo, hi, name) = match sym {
            Some((a, n, name)) => {
                let lo = (a & !7).wrapping_add(bias).max(start);
                let hi = (a + n).div_ceil(8).saturating_mul(8).wrapping_add(bias).min(end);
                (lo, hi, name.clone())
            }
            None => {
                // A run of pointer words outside any known variable.
                let mut e = w;
                while e < nwords && bit(mask, e) && names.get(i).is_none_or(|(a, _, _)| start + e * 8 < a.wrapping_add(bias)) {
                    e += 1;
                }
                (addr, start + e * 8, format!("{label}+{:#x}", addr - start))
            }
        };
        let (w0, w1) = ((lo - start) / 8, (hi - start).div_ceil(8));
        let mut m = vec![0u8; (w1 - w0).div_ceil(8) as usize];
        for j in w0..w1 {
            if bit(mask, j) {
                let k = (j - w0) as usize;
                m[k / 8] |= 1 << (k % 8);
            }
        }
        roots.push(Root { kind: RootKind::Global, name, goid: None, addr: lo, len: hi - lo, mask: Some(m), value: None });
        w = w1.max(w + 1);
    }
}

/// A package-level `var p = &T{...}` makes the compiler lay the `T` out in
/// data or bss as a static with no symbol of its own (nats-server's
/// `nbPoolSmall = &sync.Pool{...}`), so its pointer words came out of
/// [`section_roots`] as `data+0x...` runs. Make them one root over the `T`,
/// named `*pkg.p` after the variable that points to it, when `p`'s DWARF
/// type (a pointer) gives the `T`'s size and the runs lie inside it.
fn name_pointed_statics(bin: &Binary, mem: &dyn Memory, bias: u64, secs: &[SectionMask], roots: &mut Vec<Root>) {
    let anonymous = |r: &Root| r.kind == RootKind::Global && (r.name.starts_with("data+") || r.name.starts_with("bss+"));
    if !roots.iter().any(anonymous) {
        return;
    }
    let Ok(di) = bin.debug_info() else { return };
    // (start, end, pointer variable) of each static a package variable points to.
    let mut targets: Vec<(u64, u64, &str)> = Vec::new();
    for g in di.globals().values() {
        let Some(t) = g.ty.and_then(|t| di.resolve(t)) else { continue };
        let crate::dwarf::types::Kind::Pointer(Some(elem)) = t.kind else { continue };
        let Some(size) = di.resolve(elem).map(|e| e.size).filter(|s| *s > 0) else { continue };
        let Ok(p) = mem.u64(g.addr.wrapping_add(bias)) else { continue };
        if p % 8 == 0 && secs.iter().any(|(_, s, e, _)| p >= *s && p.saturating_add(size) <= *e) {
            targets.push((p, p + size, g.name.as_str()));
        }
    }
    // Two variables pointing to one static: the first name, for stable output.
    targets.sort_unstable();
    targets.dedup_by_key(|t| t.0);
    // A root over `[lo, hi)` of one section, its mask from the section's.
    let make = |lo: u64, hi: u64, name: String| -> Option<Root> {
        let (_, sec, _, mask) = secs.iter().find(|(_, s, e, _)| lo >= *s && hi <= *e)?;
        let (w0, w1) = ((lo - sec) / 8, (hi - sec).div_ceil(8));
        let mut m = vec![0u8; (w1 - w0).div_ceil(8) as usize];
        for j in w0..w1 {
            if bit(mask, j) {
                let k = (j - w0) as usize;
                m[k / 8] |= 1 << (k % 8);
            }
        }
        m.iter().any(|b| *b != 0).then(|| Root { kind: RootKind::Global, name, goid: None, addr: lo, len: (w1 - w0) * 8, mask: Some(m), value: None })
    };
    let anon_name = |a: u64| secs.iter().find(|(_, s, e, _)| a >= *s && a < *e).map(|(l, s, _, _)| format!("{l}+{:#x}", a - s));
    for (start, end, name) in targets {
        let inside: Vec<usize> = (0..roots.len()).filter(|&i| roots[i].addr < end && roots[i].addr + roots[i].len > start).collect();
        if inside.is_empty() || !inside.iter().all(|&i| anonymous(&roots[i])) {
            continue;
        }
        // A run of pointer words may go on past the static into the next
        // one (or start before it): those parts stay runs of their own.
        let mut new = Vec::new();
        for &i in &inside {
            let r = &roots[i];
            if r.addr < start {
                new.extend(make(r.addr, start, r.name.clone()));
            }
            if r.addr + r.len > end {
                new.extend(anon_name(end).and_then(|n| make(end, r.addr + r.len, n)));
            }
        }
        let Some(whole) = make(start, end, format!("*{name}")) else { continue };
        new.insert(0, whole);
        for &i in inside.iter().rev() {
            roots.remove(i);
        }
        let at = inside[0];
        roots.splice(at..at, new);
    }
}

/// Special records read: kind codes and offsets by version.
struct SpecialLayout {
    finalizer: u8,
    cleanup: Option<u8>,
    weak: Option<u8>,
    /// `special.offset`: a uint16 before Go 1.24, a uintptr since.
    wide_offset: bool,
    kind_off: u64,
    /// The finalizer's / cleanup's / weak handle's pointer field.
    fn_off: u64,
}

fn special_layout(minor: u32) -> SpecialLayout {
    // runtime/mheap.go of each version: the _KindSpecial* constants and the
    // special / specialfinalizer structs.
    match minor {
        ..=22 => SpecialLayout { finalizer: 1, cleanup: None, weak: None, wide_offset: false, kind_off: 10, fn_off: 16 },
        23 => SpecialLayout { finalizer: 1, cleanup: None, weak: Some(2), wide_offset: false, kind_off: 10, fn_off: 16 },
        24 => SpecialLayout { finalizer: 1, cleanup: Some(6), weak: Some(2), wide_offset: true, kind_off: 16, fn_off: 24 },
        _ => SpecialLayout { finalizer: 2, cleanup: Some(7), weak: Some(3), wide_offset: true, kind_off: 16, fn_off: 24 },
    }
}

/// Specials per span walked at most (a longer list is a cycle or garbage).
const MAX_SPECIALS: usize = 1 << 20;

/// Roots the runtime keeps in span specials, following `markrootSpans`:
/// a finalizer's function, and the finalized object's referents (the
/// object is scanned but not marked, so it is not kept alive by its own
/// finalizer: the root's words are the object's pointer words); a
/// cleanup's function; a weak handle's pointer.
pub fn special_roots(heap: &Heap, mem: &dyn Memory) -> (Vec<Root>, Vec<crate::Warning>) {
    let mut roots = Vec::new();
    let mut warnings = Vec::new();
    let Some(off) = heap.layout.opt("mspan.specials") else {
        warnings.push(crate::Warning::NoSpecials);
        return (roots, warnings);
    };
    let sl = special_layout(heap.ptrinfo.go_minor);
    let idx = &heap.objects;
    let mut bad = 0usize;
    for (k, s) in idx.spans.iter().enumerate() {
        let Ok(mut sp) = mem.u64(s.addr.wrapping_add(off)) else {
            bad += 1;
            continue;
        };
        let mut n = 0;
        while sp != 0 && n < MAX_SPECIALS {
            n += 1;
            let kind = mem.u8(sp + sl.kind_off);
            let offset = if sl.wide_offset { mem.u64(sp + 8) } else { mem.read_u16(sp + 8) };
            let (Ok(kind), Ok(offset)) = (kind, offset) else {
                bad += 1;
                break;
            };
            let obj = s.start + offset / s.elemsize.max(1) * s.elemsize;
            let what = if kind == sl.finalizer {
                Some("finalizer")
            } else if Some(kind) == sl.cleanup {
                Some("cleanup")
            } else if Some(kind) == sl.weak {
                Some("weak handle")
            } else {
                None
            };
            if let Some(what) = what {
                let rk = if what == "weak handle" { RootKind::Runtime } else { RootKind::Finalizer };
                // Go 1.26+: a cleanup is a cleanupFn {call, fn, arg}, three pointers.
                let words = if what == "cleanup" && heap.ptrinfo.go_minor >= 26 { 3 } else { 1 };
                roots.push(Root { kind: rk, name: format!("{what} of {obj:#x}"), goid: None, addr: sp + sl.fn_off, len: words * 8, mask: Some(vec![(1u8 << words) - 1]), value: None });
                if kind == sl.finalizer && !s.noscan {
                    if let Some(id) = idx.find(obj) {
                        let scan = match scan_of(heap, mem, id, k) {
                            Scan::Mask { addr, len, mask } => Some((addr, len, Some(mask))),
                            Scan::Conservative { addr, len } => Some((addr, len, None)),
                            Scan::NoPointers => None,
                        };
                        if let Some((addr, len, mask)) = scan {
                            roots.push(Root { kind: RootKind::Finalizer, name: format!("finalized object {obj:#x}"), goid: None, addr, len, mask, value: None });
                        }
                    }
                }
            }
            match mem.u64(sp) {
                Ok(next) => sp = next,
                Err(_) => {
                    bad += 1;
                    break;
                }
            }
        }
    }
    if bad > 0 {
        warnings.push(crate::Warning::SpecialsUnreadable { spans: bad });
    }
    (roots, warnings)
}

/// Every root the runtime scans besides goroutine stacks: the package
/// variables (precise, by the GC masks) and the span specials.
pub fn runtime_roots(bin: &Binary, mem: &dyn Memory, bias: u64, heap: &Heap) -> (Vec<Root>, Vec<crate::Warning>) {
    let (mut roots, mut w) = global_roots_in(bin, mem, bias);
    let (r2, w2) = special_roots(heap, mem);
    roots.extend(r2);
    w.extend(w2);
    (roots, w)
}

trait ReadU16 {
    fn read_u16(&self, addr: u64) -> crate::error::Result<u64>;
}
impl ReadU16 for dyn Memory + '_ {
    fn read_u16(&self, addr: u64) -> crate::error::Result<u64> {
        let mut b = [0u8; 2];
        self.read(addr, &mut b)?;
        Ok(u64::from(u16::from_le_bytes(b)))
    }
}
