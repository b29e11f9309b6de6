//! Every allocated object of the heap, in address order, with a lookup from
//! any address (interior pointers too) to the object that holds it: the
//! index the object graph and retained sizes are built on.

use rayon::prelude::*;

use super::sizeclass::{MALLOC_HEADER_SIZE, MIN_SIZE_FOR_MALLOC_HEADER, PAGE_SIZE};
use super::spans::{Span, SpanState};
use crate::memory::Memory;

/// An object's number in [`ObjectIndex`] (address order).
pub type ObjId = u32;

pub struct ObjectIndex {
    /// The spans in use (heap objects), sorted by start.
    pub spans: Vec<Span>,
    /// Per span: whether its scan objects start with an 8-byte type header.
    pub headers: Vec<bool>,
    /// Per span: the id of its first object; one more entry at the end.
    pub first: Vec<ObjId>,
    /// Every object's base address, in order.
    pub addrs: Vec<u64>,
    pub warnings: Vec<crate::Warning>,
    /// The span index of each page from the first span's start
    /// ([`NO_SPAN`]: none), when the spans are dense enough for a table: a
    /// pointer is found without a binary search over the spans.
    pages: Vec<u32>,
    /// Per span, what [`ObjectIndex::find_in_span`] reads of it, packed
    /// (one cache line, not the span's and two others: a pointer lookup
    /// is mostly cache misses).
    slots: Vec<SpanSlots>,
    /// One bit per slot (in [`SpanSlots::slot0`] numbering): an object is
    /// allocated there; with each word, the objects before it. An object's
    /// id is the rank of its slot's bit, so a pointer finds its object in
    /// O(1) in a partly-filled span too.
    alloc: Vec<AllocWord>,
}

#[derive(Clone, Copy)]
struct SpanSlots {
    start: u64,
    elemsize: u64,
    /// The number of the span's first slot among all spans' slots.
    slot0: u64,
    nelems: u32,
    /// The id of the span's first object.
    first: ObjId,
    /// Every slot holds an object (most spans of a big heap): slot `i`
    /// is object `first + i`, no bitmap needed.
    full: bool,
    header: bool,
    noscan: bool,
}

/// What [`ObjectIndex::locate`] finds for an address: the object and what
/// a caller usually asks of it next, from the cache line already read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Located {
    pub id: ObjId,
    /// The index of its span.
    pub span: usize,
    /// Its base address (its malloc header's, if it has one).
    pub base: u64,
    pub elemsize: u64,
    /// It starts with an 8-byte type header (see [`ObjectIndex::headers`]).
    pub header: bool,
    pub noscan: bool,
}

#[derive(Clone, Copy, Default)]
struct AllocWord {
    bits: u64,
    rank: u32,
}

/// [`ObjectIndex::pages`] entry of a page in no span in use.
const NO_SPAN: u32 = u32::MAX;
/// The page table is made only if it takes at most this many entries
/// per span (a sparse heap keeps the binary search).
const PAGES_PER_SPAN_MAX: u64 = 64;

impl ObjectIndex {
    /// Enumerate the allocated slots of `spans` (only those in use are kept).
    /// `headers`: the Go version has malloc headers (1.22+).
    pub fn build(mem: &dyn Memory, spans: Vec<Span>, go122: bool) -> ObjectIndex {
        let spans: Vec<Span> = spans.into_iter().filter(|s| s.state == SpanState::InUse).collect();
        let per: Vec<(Vec<u64>, Option<crate::Warning>)> = spans
            .par_iter()
            .map(|s| {
                let bytes = s.nelems.div_ceil(8) as usize;
                let mut owned;
                let bits: &[u8] = match mem.slice(s.alloc_bits, bytes) {
                    Some(b) => b,
                    None => {
                        owned = vec![0u8; bytes];
                        match mem.read(s.alloc_bits, &mut owned) {
                            Ok(()) => &owned,
                            Err(e) => {
                                // Without the bits, the slots below freeindex
                                // are still known to be allocated.
                                owned.clear();
                                let w = crate::Warning::AllocBitsUnreadable { span: s.start, error: e.to_string() };
                                let v = (0..s.freeindex).map(|i| s.start + i * s.elemsize).collect();
                                return (v, Some(w));
                            }
                        }
                    }
                };
                let mut v = Vec::with_capacity(s.alloc_count as usize);
                for i in 0..s.nelems {
                    let set = bits[(i / 8) as usize] >> (i % 8) & 1 != 0;
                    if i < s.freeindex || set {
                        v.push(s.start + i * s.elemsize);
                    }
                }
                (v, None)
            })
            .collect();
        let mut first = Vec::with_capacity(spans.len() + 1);
        let total: usize = per.iter().map(|(v, _)| v.len()).sum();
        let mut addrs = Vec::with_capacity(total);
        let mut warnings = Vec::new();
        let mut unreadable = 0;
        for (v, w) in per {
            first.push(addrs.len() as ObjId);
            addrs.extend_from_slice(&v);
            if let Some(w) = w {
                unreadable += 1;
                if warnings.is_empty() {
                    warnings.push(w);
                }
            }
        }
        if unreadable > 1 {
            warnings.push(crate::Warning::MoreAllocBitsUnreadable { spans: unreadable });
        }
        first.push(addrs.len() as ObjId);
        let headers: Vec<bool> = spans
            .iter()
            .map(|s| go122 && !s.noscan && s.sizeclass != 0 && s.elemsize > MIN_SIZE_FOR_MALLOC_HEADER)
            .collect();
        let pages = page_table(&spans);
        let (slots, alloc) = slot_ranks(&spans, &headers, &first, &addrs);
        ObjectIndex { spans, headers, first, addrs, warnings, pages, slots, alloc }
    }

    pub fn len(&self) -> usize {
        self.addrs.len()
    }
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }

    /// The span index of object `id`.
    pub fn span_of(&self, id: ObjId) -> usize {
        self.first.partition_point(|f| *f <= id).saturating_sub(1)
    }

    pub fn base(&self, id: ObjId) -> u64 {
        self.addrs[id as usize]
    }
    /// The object's size in the heap (its size class, or its pages).
    pub fn size(&self, id: ObjId) -> u64 {
        self.spans[self.span_of_quick(id)].elemsize
    }
    /// Where the object's value starts: after the type header if it has one.
    pub fn user_addr(&self, id: ObjId) -> u64 {
        let base = self.addrs[id as usize];
        base + if self.headers[self.span_of_quick(id)] { MALLOC_HEADER_SIZE } else { 0 }
    }
    /// [`Self::span_of`] by the page table, when there is one (quicker
    /// than the search: callers ask for millions of objects).
    fn span_of_quick(&self, id: ObjId) -> usize {
        if self.pages.is_empty() {
            return self.span_of(id);
        }
        self.addrs.get(id as usize).and_then(|&a| self.span_at(a)).unwrap_or_else(|| self.span_of(id))
    }

    /// The span holding `addr`, if it is in a span in use.
    pub fn span_at(&self, addr: u64) -> Option<usize> {
        if !self.pages.is_empty() {
            let page = addr.checked_sub(self.spans[0].start)? / PAGE_SIZE;
            let k = *self.pages.get(usize::try_from(page).ok()?)?;
            return (k != NO_SPAN).then_some(k as usize);
        }
        let k = self.spans.partition_point(|s| s.start <= addr).checked_sub(1)?;
        (addr < self.spans[k].end()).then_some(k)
    }

    /// The allocated object containing `addr` (interior pointers too).
    pub fn find(&self, addr: u64) -> Option<ObjId> {
        self.find_in_span(addr).map(|(id, _)| id)
    }

    /// [`Self::find`], with the object's span index.
    pub fn find_in_span(&self, addr: u64) -> Option<(ObjId, usize)> {
        self.locate(addr).map(|l| (l.id, l.span))
    }

    /// The allocated object containing `addr`, with its span, base and
    /// span's kind.
    pub fn locate(&self, addr: u64) -> Option<Located> {
        let k = self.span_at(addr)?;
        let s = self.slots.get(k)?;
        let i = (addr - s.start) / s.elemsize;
        if i >= u64::from(s.nelems) {
            return None;
        }
        let id = if s.full {
            s.first + i as ObjId
        } else {
            let slot = s.slot0 + i;
            let w = self.alloc.get((slot / 64) as usize)?;
            if w.bits >> (slot % 64) & 1 == 0 {
                return None;
            }
            let below = w.bits & ((1u64 << (slot % 64)) - 1);
            w.rank + below.count_ones()
        };
        Some(Located {
            id,
            span: k,
            base: s.start + i * s.elemsize,
            elemsize: s.elemsize,
            header: s.header,
            noscan: s.noscan,
        })
    }
}

/// The slot numbering, allocation bits and ranks of
/// [`ObjectIndex::find_in_span`], from the objects each span holds
/// (`addrs[first[k]..first[k + 1]]`, in slot order).
fn slot_ranks(spans: &[Span], headers: &[bool], first: &[ObjId], addrs: &[u64]) -> (Vec<SpanSlots>, Vec<AllocWord>) {
    let mut slots = Vec::with_capacity(spans.len());
    let mut n = 0u64;
    for (k, (s, &header)) in spans.iter().zip(headers).enumerate() {
        // A span's slots fit its pages (spans.rs checks), so far fewer than 2^32.
        let nelems = u32::try_from(s.nelems).unwrap_or(u32::MAX);
        let full = u64::from(first[k + 1] - first[k]) == s.nelems;
        slots.push(SpanSlots { start: s.start, elemsize: s.elemsize, slot0: n, nelems, first: first[k], full, header, noscan: s.noscan });
        n += u64::from(nelems);
    }
    let mut alloc = vec![AllocWord::default(); n.div_ceil(64) as usize];
    for (k, s) in slots.iter().enumerate() {
        for &a in &addrs[first[k] as usize..first[k + 1] as usize] {
            let slot = s.slot0 + (a - s.start) / s.elemsize;
            alloc[(slot / 64) as usize].bits |= 1 << (slot % 64);
        }
    }
    let mut before = 0u32;
    for w in &mut alloc {
        w.rank = before;
        before += w.bits.count_ones();
    }
    (slots, alloc)
}

/// Page -> span index, for spans sorted by start and not overlapping;
/// empty when the heap is too sparse for it to pay.
fn page_table(spans: &[Span]) -> Vec<u32> {
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else { return Vec::new() };
    let n = last.end().saturating_sub(first.start) / PAGE_SIZE;
    if n > (spans.len() as u64).saturating_mul(PAGES_PER_SPAN_MAX) || spans.len() >= NO_SPAN as usize {
        return Vec::new();
    }
    let mut pages = vec![NO_SPAN; n as usize];
    for (k, s) in spans.iter().enumerate() {
        let lo = ((s.start - first.start) / PAGE_SIZE) as usize;
        let hi = (((s.end() - first.start) / PAGE_SIZE) as usize).min(pages.len());
        pages[lo.min(hi)..hi].fill(k as u32);
    }
    pages
}
