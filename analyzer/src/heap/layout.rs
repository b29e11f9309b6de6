//! Offsets of the runtime's heap structures (`mheap`, `mspan`, `mstats`,
//! `heapStatsDelta`), and the sizes of the structs that are indexed as
//! arrays, the way [`crate::binary::runtime_types`] does it for `g` and `m`:
//! from the binary's DWARF, else from a table keyed by the Go minor version
//! (`layout_table`, made with `cargo run -p analyzer --example
//! heap_layout_table -- EXE` from DWARF builds of each toolchain).
//!
//! A struct's size is stored as the pseudo-field `struct.$size`.

use std::collections::BTreeMap;

use gimli::{AttributeValue, Reader, Section};

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

/// Read the heap layouts from DWARF (`Ok(None)`: no DWARF).
pub fn from_dwarf(load: &dyn Fn(gimli::SectionId) -> std::result::Result<R, DwarfError>) -> Result<Option<HeapLayout>> {
    fields_from_dwarf(load, NEEDED)
}

/// Read the offsets of the `needed` "struct.field"s (structs of package
/// runtime, named without `runtime.`) from DWARF (`Ok(None)`: no DWARF).
pub fn fields_from_dwarf(
    load: &dyn Fn(gimli::SectionId) -> std::result::Result<R, DwarfError>,
    needed: &[(&str, bool)],
) -> Result<Option<HeapLayout>> {
    let derr = |e: gimli::Error| Error::Layout(format!("DWARF: {e}"));
    let dwarf = gimli::Dwarf::load(load).map_err(|e| Error::Layout(e.to_string()))?;
    if dwarf.debug_info.reader().is_empty() {
        return Ok(None);
    }
    let mut wanted: Vec<&str> = needed.iter().map(|(k, _)| k.split('.').next().unwrap_or("")).collect();
    wanted.dedup();
    let mut fields = BTreeMap::new();
    let mut done: Vec<String> = Vec::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(derr)? {
        let unit = dwarf.unit(header).map_err(derr)?;
        let mut entries = unit.entries();
        let mut current: Option<(String, isize)> = None;
        while let Some(e) = entries.next_dfs().map_err(derr)? {
            let depth = e.depth();
            if current.as_ref().is_some_and(|(_, d)| depth <= *d) {
                current = None;
            }
            match e.tag() {
                gimli::DW_TAG_structure_type => {
                    let Some(name) = attr_string(&dwarf, &unit, e) else { continue };
                    let Some(short) = name.strip_prefix("runtime.") else { continue };
                    if wanted.contains(&short) && !done.iter().any(|d| d == short) {
                        done.push(short.to_string());
                        if let Some(sz) = udata(e.attr_value(gimli::DW_AT_byte_size)) {
                            let key = format!("{short}.$size");
                            if needed.iter().any(|(k, _)| *k == key) {
                                fields.insert(key, sz);
                            }
                        }
                        current = Some((short.to_string(), depth));
                    }
                }
                gimli::DW_TAG_member => {
                    let Some((sname, _)) = &current else { continue };
                    let Some(fname) = attr_string(&dwarf, &unit, e) else { continue };
                    let key = format!("{sname}.{fname}");
                    if !needed.iter().any(|(k, _)| *k == key) {
                        continue;
                    }
                    if let Some(off) = udata(e.attr_value(gimli::DW_AT_data_member_location)) {
                        fields.entry(key).or_insert(off);
                    }
                }
                _ => {}
            }
        }
    }
    if fields.is_empty() {
        return Ok(None);
    }
    Ok(Some(HeapLayout { fields, source: "DWARF".into() }))
}

fn udata(v: Option<AttributeValue<R>>) -> Option<u64> {
    match v? {
        AttributeValue::Udata(u) | AttributeValue::Data8(u) => Some(u),
        AttributeValue::Data1(u) => Some(u as u64),
        AttributeValue::Data2(u) => Some(u as u64),
        AttributeValue::Data4(u) => Some(u as u64),
        AttributeValue::Sdata(s) if s >= 0 => Some(s as u64),
        _ => None,
    }
}

fn attr_string(dwarf: &gimli::Dwarf<R>, unit: &gimli::Unit<R>, e: &gimli::DebuggingInformationEntry<R>) -> Option<String> {
    let v = e.attr_value(gimli::DW_AT_name)?;
    let s = dwarf.attr_string(unit, v).ok()?;
    Some(s.to_string_lossy().ok()?.into_owned())
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
