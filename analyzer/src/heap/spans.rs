//! The page heap: `runtime.mheap_` and its spans (`mheap_.allspans`, every
//! `mspan` ever made). A span in use holds `nelems` objects of `elemsize`
//! bytes (one, for a large object); which slots hold objects comes from
//! `allocBits` (the marks of the last collection, once swept) and
//! `freeindex` (every slot below it was handed out since).

use super::layout::HeapLayout;
use super::sizeclass::PAGE_SIZE;
use crate::binary::Binary;
use crate::error::{Error, Result};
use crate::memory::Memory;

/// More spans than this is taken as a corrupt `allspans` (2^26 spans of one
/// page would be a 512 GiB heap).
const MAX_SPANS: u64 = 1 << 26;
/// A span's pages, at most (a 64 GiB object).
const MAX_SPAN_PAGES: u64 = 1 << 23;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanState {
    Dead,
    /// Heap objects.
    InUse,
    /// Manually managed: goroutine stacks, GC work buffers.
    Manual,
    Other(u8),
}

#[derive(Debug, Clone)]
pub struct Span {
    /// Address of the `mspan` itself.
    pub addr: u64,
    pub start: u64,
    pub npages: u64,
    pub state: SpanState,
    /// Size class (0: a large object's span).
    pub sizeclass: u8,
    /// Objects without pointers.
    pub noscan: bool,
    pub elemsize: u64,
    pub nelems: u64,
    pub freeindex: u64,
    pub alloc_count: u64,
    pub alloc_bits: u64,
    /// Go 1.22+: a large scan object's type.
    pub large_type: u64,
    pub sweepgen: u32,
    /// `allocCount` when a P took the span into its cache.
    pub alloc_count_before_cache: u64,
}

impl Span {
    pub fn bytes(&self) -> u64 {
        self.npages.saturating_mul(PAGE_SIZE)
    }
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.bytes())
    }
}

/// What reading the spans found.
pub struct SpanSet {
    pub mheap: u64,
    /// `mheap_.sweepgen` (a span with sweepgen + 3 is cached by a P).
    pub sweepgen: Option<u32>,
    /// Every span of `allspans` that could be read, sorted by start.
    pub spans: Vec<Span>,
    pub warnings: Vec<crate::Warning>,
}

/// `freeindex` and `nelems` became uint16 in Go 1.22.
fn narrow_counts(bin: &Binary) -> bool {
    bin.go_minor().unwrap_or(26) >= 22
}

/// Find `runtime.mheap_`: by symbol, else (stripped binaries) by looking in
/// the executable's data for a slice whose first elements are spans.
pub fn find_mheap(bin: &Binary, mem: &dyn Memory, bias: u64, l: &HeapLayout) -> Result<u64> {
    if let Some(a) = bin.symbol("runtime.mheap_") {
        return Ok(a.wrapping_add(bias));
    }
    let off = l.get("mheap.allspans")?;
    let narrow = narrow_counts(bin);
    for s in &bin.sections {
        if !matches!(s.name.as_str(), ".bss" | ".noptrbss" | ".data" | ".noptrdata" | "__bss" | "__noptrbss" | "__data" | "__noptrdata") {
            continue;
        }
        let start = s.addr.wrapping_add(bias);
        let Ok(len) = usize::try_from(s.size.min(64 << 20)) else { continue };
        let mut buf = vec![0u8; len];
        if mem.read(start, &mut buf).is_err() {
            continue;
        }
        let w = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap_or([0; 8]));
        let mut i = 0;
        while i + 24 <= buf.len() {
            let (p, n, c) = (w(i), w(i + 8), w(i + 16));
            if p != 0 && p % 8 == 0 && n >= 4 && n <= c && c <= MAX_SPANS && looks_like_allspans(mem, l, narrow, p, n) {
                return Ok(start.wrapping_add(i as u64).wrapping_sub(off));
            }
            i += 8;
        }
    }
    Err(Error::Other(
        "cannot find runtime.mheap_ (stripped binary, and no slice of spans found in its data)".into(),
    ))
}

fn looks_like_allspans(mem: &dyn Memory, l: &HeapLayout, narrow: bool, p: u64, n: u64) -> bool {
    (0..n.min(4)).all(|i| {
        mem.u64(p.wrapping_add(i * 8))
            .ok()
            .and_then(|a| read_span(mem, l, narrow, a).ok())
            .is_some_and(|s| {
                s.start.is_multiple_of(PAGE_SIZE)
                    && s.start != 0
                    && (1..=MAX_SPAN_PAGES).contains(&s.npages)
                    && matches!(s.state, SpanState::Dead | SpanState::InUse | SpanState::Manual)
            })
    })
}

/// Read one `mspan`.
pub fn read_span(mem: &dyn Memory, l: &HeapLayout, narrow: bool, addr: u64) -> Result<Span> {
    let f = |k: &str| l.get(k).map(|o| addr.wrapping_add(o));
    let count = |a: u64| -> Result<u64> {
        if narrow {
            let mut b = [0u8; 2];
            mem.read(a, &mut b)?;
            Ok(u64::from(u16::from_le_bytes(b)))
        } else {
            mem.u64(a)
        }
    };
    let mut ac = [0u8; 2];
    mem.read(f("mspan.allocCount")?, &mut ac)?;
    let spc = mem.u8(f("mspan.spanclass")?)?;
    let state = match mem.u8(f("mspan.state")?)? {
        0 => SpanState::Dead,
        1 => SpanState::InUse,
        2 => SpanState::Manual,
        s => SpanState::Other(s),
    };
    Ok(Span {
        addr,
        start: mem.u64(f("mspan.startAddr")?)?,
        npages: mem.u64(f("mspan.npages")?)?,
        state,
        sizeclass: spc >> 1,
        noscan: spc & 1 != 0,
        elemsize: mem.u64(f("mspan.elemsize")?)?,
        nelems: count(f("mspan.nelems")?)?,
        freeindex: count(f("mspan.freeindex")?)?,
        alloc_count: u64::from(u16::from_le_bytes(ac)),
        alloc_bits: mem.u64(f("mspan.allocBits")?)?,
        large_type: match l.opt("mspan.largeType") {
            Some(o) => mem.u64(addr.wrapping_add(o)).unwrap_or(0),
            None => 0,
        },
        sweepgen: match l.opt("mspan.sweepgen") {
            Some(o) => mem.u32(addr.wrapping_add(o)).unwrap_or(0),
            None => 0,
        },
        alloc_count_before_cache: match l.opt("mspan.allocCountBeforeCache") {
            Some(o) => {
                let mut b = [0u8; 2];
                mem.read(addr.wrapping_add(o), &mut b).map(|()| u64::from(u16::from_le_bytes(b))).unwrap_or(0)
            }
            None => 0,
        },
    })
}

/// Read `mheap_.allspans`; unreadable or implausible spans become warnings.
pub fn read_spans(bin: &Binary, mem: &dyn Memory, l: &HeapLayout, mheap: u64) -> Result<SpanSet> {
    let sl = mheap.wrapping_add(l.get("mheap.allspans")?);
    let ptr = mem.u64(sl)?;
    let len = mem.u64(sl.wrapping_add(8))?;
    if len > MAX_SPANS {
        return Err(Error::Other(format!(
            "runtime.mheap_.allspans at {sl:#x} claims {len} spans; the core is corrupt or the executable does not match it"
        )));
    }
    let narrow = narrow_counts(bin);
    let mut ptrs = vec![0u8; (len * 8) as usize];
    mem.read(ptr, &mut ptrs)?;
    let mut warnings = Vec::new();
    let mut bad = 0u64;
    let mut first_bad = None;
    let mut spans = Vec::with_capacity(len as usize);
    for c in ptrs.chunks_exact(8) {
        let a = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        match read_span(mem, l, narrow, a) {
            Ok(s) if s.state == SpanState::Dead => {}
            Ok(s) if sane(&s) => spans.push(s),
            Ok(s) => {
                bad += 1;
                first_bad.get_or_insert(format!("span at {a:#x} is implausible (start {:#x}, {} pages, elemsize {}, nelems {})", s.start, s.npages, s.elemsize, s.nelems));
            }
            Err(e) => {
                bad += 1;
                first_bad.get_or_insert(format!("span at {a:#x}: {e}"));
            }
        }
    }
    if let Some(f) = first_bad {
        warnings.push(crate::Warning::SpansSkipped { bad, len, first: f });
    }
    spans.sort_by_key(|s| s.start);
    // Overlapping spans mean garbage: keep the first of each overlap.
    let before = spans.len();
    let mut last_end = 0u64;
    spans.retain(|s| {
        let ok = s.start >= last_end;
        if ok {
            last_end = s.end();
        }
        ok
    });
    if spans.len() != before {
        warnings.push(crate::Warning::OverlappingSpans { count: before - spans.len() });
    }
    let sweepgen = l.opt("mheap.sweepgen").and_then(|o| mem.u32(mheap.wrapping_add(o)).ok());
    Ok(SpanSet { mheap, sweepgen, spans, warnings })
}

fn sane(s: &Span) -> bool {
    if !s.start.is_multiple_of(PAGE_SIZE) || s.npages == 0 || s.npages > MAX_SPAN_PAGES || s.start.checked_add(s.bytes()).is_none() {
        return false;
    }
    if s.state != SpanState::InUse {
        return true;
    }
    s.elemsize != 0 && s.nelems != 0 && s.nelems.saturating_mul(s.elemsize) <= s.bytes() && s.freeindex <= s.nelems
}
