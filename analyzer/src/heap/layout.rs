//! Offsets of the runtime's heap structures (`mheap`, `mspan`, `mstats`,
//! `heapStatsDelta`), and the sizes of the structs that are indexed as
//! arrays, the way [`crate::binary::runtime_types`] does it for `g` and `m`:
//! from the binary's DWARF, else from a table keyed by the Go minor version
//! (`layout_table`, made with `cargo run -p analyzer --example
//! heap_layout_table -- EXE` from DWARF builds of each toolchain).
//!
//! A struct's size is stored as the pseudo-field `struct.$size`.

use crate::binary::Binary;
use crate::dwarf::{DwarfError, R};
use crate::error::{Error, Result};

/// "struct.field" (struct without `runtime.`), and whether it is required.
pub const NEEDED: &[(&str, bool)] = &[
    ("mheap.allspans", true),
    ("mheap.pagesInUse", false),
    ("mheap.sweepgen", false),
    // The arenas and their metadata (address_space.rs; DWARF only).
    ("mheap.arenas", false),
    ("mheap.allArenas", false),
    // allArenas by its newer name.
    ("mheap.heapArenas", false),
    ("heapArena.$size", false),
    // The page allocator's reservations (summaries, scavenge index).
    ("mheap.pages", false),
    ("pageAlloc.summary", false),
    ("pageAlloc.scav", false),
    ("scavengeIndex.chunks", false),
    ("mspan.startAddr", true),
    ("mspan.npages", true),
    ("mspan.freeindex", true),
    ("mspan.nelems", true),
    ("mspan.allocBits", true),
    ("mspan.allocCount", true),
    ("mspan.spanclass", true),
    ("mspan.state", true),
    ("mspan.elemsize", true),
    ("mspan.sweepgen", false),
    ("mspan.allocCountBeforeCache", false),
    ("mspan.limit", false),
    // Go 1.22+: the type of a large object.
    ("mspan.largeType", false),
    ("mspan.$size", false),
    // Finalizer and cleanup roots (heap::pointers).
    ("mspan.specials", false),
    // Go 1.21: the arenas' pointer bitmaps (heap::pointers).
    ("mheap.arenas", false),
    ("heapArena.bitmap", false),
    ("heapArena.noMorePtrs", false),
    ("mstats.heapStats", false),
    ("mstats.mspan_sys", false),
    ("mstats.mcache_sys", false),
    ("mstats.buckhash_sys", false),
    ("mstats.gcMiscSys", false),
    ("mstats.other_sys", false),
    ("consistentHeapStats.stats", false),
    ("heapStatsDelta.committed", false),
    ("heapStatsDelta.released", false),
    ("heapStatsDelta.inHeap", false),
    ("heapStatsDelta.inStacks", false),
    ("heapStatsDelta.inWorkBufs", false),
    ("heapStatsDelta.tinyAllocCount", false),
    ("heapStatsDelta.largeAlloc", false),
    ("heapStatsDelta.largeAllocCount", false),
    ("heapStatsDelta.smallAllocCount", false),
    ("heapStatsDelta.largeFree", false),
    ("heapStatsDelta.largeFreeCount", false),
    ("heapStatsDelta.smallFreeCount", false),
    ("heapStatsDelta.$size", false),
];

/// The heap's runtime structures' offsets: the same kind of map as the
/// goroutine layout's ("struct.field" -> offset, and where it came from).
pub type HeapLayout = crate::binary::runtime_types::Layout;

impl HeapLayout {
    /// From DWARF when the binary has it, else the table.
    pub fn for_binary(bin: &Binary) -> Result<HeapLayout> {
        if bin.has_dwarf {
            if let Some(Ok(Some(l))) = bin.with_dwarf_loader(from_dwarf) {
                if NEEDED.iter().all(|(k, req)| !req || l.fields.contains_key(*k)) {
                    return Ok(l);
                }
            }
        }
        from_table(bin.go_version.as_deref())
    }
}

/// Read the heap layouts from DWARF (`Ok(None)`: no DWARF), with the
/// reader the goroutine layout uses.
pub fn from_dwarf(load: &dyn Fn(gimli::SectionId) -> std::result::Result<R, DwarfError>) -> Result<Option<HeapLayout>> {
    crate::binary::runtime_types::fields_from_dwarf(load, NEEDED)
}

/// The layout for a binary without DWARF, by its Go version.
pub fn from_table(version: Option<&str>) -> Result<HeapLayout> {
    let v = version
        .ok_or_else(|| Error::Layout("the binary has no DWARF and its Go version is unknown".into()))?;
    let minor = crate::binary::parse_go_minor(v).ok_or_else(|| Error::Layout(format!("cannot parse Go version {v:?}")))?;
    let (m, entries) = super::layout_table::TABLE
        .iter()
        .filter(|(m, _)| *m <= minor)
        .max_by_key(|(m, _)| *m)
        .ok_or_else(|| Error::Layout(format!("no heap layout table for {v} (the table starts at go1.21)")))?;
    Ok(HeapLayout {
        fields: entries.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        source: if *m == minor {
            format!("table for go1.{m}")
        } else {
            format!("table for go1.{m} (nearest to {v}; may be wrong)")
        },
    })
}
