//! Field offsets of the runtime structures the analyzer reads (`runtime.g`,
//! `m`, `gobuf`, `stack`, `schedt`, `_panic`, `_defer`).
//!
//! With DWARF they come from the binary's own debug info (`from_dwarf`).
//! Stripped binaries have none, so `from_table` falls back to a table keyed
//! by the Go minor version. How the table was made: for each toolchain,
//! build any program (`GOTOOLCHAIN=go1.N.x go build`) with DWARF and run
//! `goanalyze --layout-table EXE`, which prints the offsets found by
//! `from_dwarf` in the table's syntax; `tests/binary_info.rs` rebuilds
//! programs with the toolchains it can get and checks the table against
//! their DWARF.

use std::collections::BTreeMap;

use gimli::{AttributeValue, LittleEndian, Reader, Section};

use crate::dwarf::{DwarfError, R};
use crate::error::{Error, Result};

/// The fields we need, as "struct.field" with the struct named without the
/// `runtime.` prefix. Those marked optional may be missing in some versions.
pub const NEEDED: &[(&str, bool)] = &[
    ("g.stack", true),
    ("g._panic", true),
    ("g._defer", true),
    ("g.m", true),
    ("g.sched", true),
    ("g.syscallsp", true),
    ("g.syscallpc", true),
    ("g.atomicstatus", true),
    ("g.goid", true),
    ("g.waitsince", true),
    ("g.waitreason", true),
    ("g.lockedm", true),
    ("g.gopc", true),
    ("g.startpc", true),
    ("g.parentGoid", false),
    ("g.labels", false),
    ("g.ancestors", false),
    ("g.runningCleanups", false),
    ("gobuf.sp", true),
    ("gobuf.pc", true),
    ("gobuf.lr", true),
    ("gobuf.bp", true),
    ("stack.lo", true),
    ("stack.hi", true),
    ("m.g0", true),
    ("m.curg", true),
    ("m.id", true),
    ("m.procid", true),
    ("m.gsignal", true),
    ("m.throwing", false),
    ("m.lockedg", true),
    ("m.vdsoSP", true),
    ("m.vdsoPC", true),
    ("m.alllink", true),
    ("m.caughtsig", false),
    ("schedt.lastpoll", true),
    ("p.sysmontick", false),
    ("sysmontick.schedwhen", false),
    ("sysmontick.syscallwhen", false),
    // Crash triage (reason.rs, panic.rs): the panic chain and the signal a
    // goroutine took. `_panic.repanicked` is new in Go 1.25.
    ("_panic.arg", false),
    ("_panic.link", false),
    ("_panic.recovered", false),
    ("_panic.repanicked", false),
    ("_panic.goexit", false),
    ("g.sig", false),
    ("g.sigcode0", false),
    ("g.sigcode1", false),
    ("g.sigpc", false),
];

/// Offsets by "struct.field".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub fields: BTreeMap<String, u64>,
    /// Where these came from: "DWARF" or "table for go1.N".
    pub source: String,
}

impl Layout {
    pub fn get(&self, key: &str) -> Result<u64> {
        self.fields
            .get(key)
            .copied()
            .ok_or_else(|| Error::Layout(format!("no offset for runtime.{key} ({})", self.source)))
    }
    pub fn opt(&self, key: &str) -> Option<u64> {
        self.fields.get(key).copied()
    }
    /// The table entry for this layout, as Rust source.
    pub fn as_table_source(&self, minor: u32) -> String {
        let mut s = format!("    ({minor}, &[\n");
        for (k, v) in &self.fields {
            s += &format!("        (\"{k}\", {v}),\n");
        }
        s += "    ]),\n";
        s
    }
}

/// The sections the layout search reads (`Dwarf::unit` parses each unit's
/// line program header and ranges); the others stay compressed.
const LAYOUT_SECTIONS: [gimli::SectionId; 9] = [
    gimli::SectionId::DebugAbbrev,
    gimli::SectionId::DebugInfo,
    gimli::SectionId::DebugStr,
    gimli::SectionId::DebugLineStr,
    gimli::SectionId::DebugStrOffsets,
    gimli::SectionId::DebugAddr,
    gimli::SectionId::DebugLine,
    gimli::SectionId::DebugRngLists,
    gimli::SectionId::DebugRanges,
];

/// Read the layouts from DWARF, whose sections `load` gives (the binary's
/// shared, decompressed copies); `Ok(None)` when the binary has no DWARF.
pub fn from_dwarf(load: &dyn Fn(gimli::SectionId) -> std::result::Result<R, DwarfError>) -> Result<Option<Layout>> {
    fields_from_dwarf(load, NEEDED)
}

/// The one reader of runtime struct layouts from DWARF, for this module's
/// [`NEEDED`], the heap's (`heap::layout`) and the stack roots' extras:
/// the offsets of the `needed` "struct.field"s (structs of package runtime,
/// named without `runtime.`), and a struct's size where `needed` names the
/// pseudo-field `struct.$size`. `Ok(None)`: no DWARF, or none of them.
///
/// A struct is read from the first of its DIEs that gives any of them: a
/// later duplicate is skipped, but a declaration or an empty copy before
/// the real one is not taken for it.
pub fn fields_from_dwarf(
    load: &dyn Fn(gimli::SectionId) -> std::result::Result<R, DwarfError>,
    needed: &[(&str, bool)],
) -> Result<Option<Layout>> {
    let derr = |e: gimli::Error| Error::Layout(format!("DWARF: {e}"));
    let empty = || R::new(std::sync::Arc::from(&[][..]), LittleEndian);
    let dwarf = gimli::Dwarf::load(|id| -> std::result::Result<R, DwarfError> {
        if LAYOUT_SECTIONS.contains(&id) {
            load(id)
        } else {
            Ok(empty())
        }
    })
    .map_err(|e| Error::Layout(e.to_string()))?;
    if dwarf.debug_info.reader().is_empty() {
        return Ok(None);
    }

    let mut wanted: Vec<&str> = needed.iter().map(|(k, _)| k.split('.').next().unwrap_or("")).collect();
    wanted.sort_unstable();
    wanted.dedup();
    let mut fields = BTreeMap::new();
    let mut units = dwarf.units();
    while let Some(header) = units.next().map_err(derr)? {
        let unit = dwarf.unit(header).map_err(derr)?;
        let mut entries = unit.entries();
        // Track the struct we are inside of, by depth.
        let mut current: Option<(String, isize)> = None;
        while let Some(e) = entries.next_dfs().map_err(derr)? {
            let depth = e.depth();
            if current.as_ref().is_some_and(|(_, d)| depth <= *d) {
                current = None;
            }
            match e.tag() {
                gimli::DW_TAG_structure_type => {
                    let Some(name) = attr_string(&dwarf, &unit, e, gimli::DW_AT_name) else { continue };
                    let Some(short) = name.strip_prefix("runtime.") else { continue };
                    let prefix = format!("{short}.");
                    if wanted.binary_search(&short).is_err() || fields.keys().any(|k: &String| k.starts_with(&prefix)) {
                        continue;
                    }
                    let key = format!("{short}.$size");
                    if needed.iter().any(|(k, _)| *k == key) {
                        if let Some(size) = udata(e.attr_value(gimli::DW_AT_byte_size)) {
                            fields.insert(key, size);
                        }
                    }
                    current = Some((short.to_string(), depth));
                }
                gimli::DW_TAG_member => {
                    let Some((sname, _)) = &current else { continue };
                    let Some(fname) = attr_string(&dwarf, &unit, e, gimli::DW_AT_name) else { continue };
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
    Ok(Some(Layout { fields, source: "DWARF".into() }))
}

/// A non-negative constant attribute (an offset, a size).
fn udata(v: Option<AttributeValue<R>>) -> Option<u64> {
    match v? {
        AttributeValue::Udata(u) | AttributeValue::Data8(u) => Some(u),
        AttributeValue::Data1(u) => Some(u64::from(u)),
        AttributeValue::Data2(u) => Some(u64::from(u)),
        AttributeValue::Data4(u) => Some(u64::from(u)),
        AttributeValue::Sdata(s) if s >= 0 => Some(s as u64),
        _ => None,
    }
}

fn attr_string(
    dwarf: &gimli::Dwarf<R>,
    unit: &gimli::Unit<R>,
    e: &gimli::DebuggingInformationEntry<R>,
    at: gimli::DwAt,
) -> Option<String> {
    let v = e.attr_value(at)?;
    let s = dwarf.attr_string(unit, v).ok()?;
    Some(s.to_string_lossy().ok()?.into_owned())
}

/// The layout for a stripped binary of Go `version`.
pub fn from_table(version: Option<&str>) -> Result<Layout> {
    let v = version.ok_or_else(|| {
        Error::Layout("the binary has no DWARF and its Go version is unknown".into())
    })?;
    let minor = crate::binary::parse_go_minor(v)
        .ok_or_else(|| Error::Layout(format!("cannot parse Go version {v:?}")))?;
    // Newer than the table: assume the newest layout and say so in `source`.
    let (m, entries) = crate::binary::layout_table::TABLE
        .iter()
        .filter(|(m, _)| *m <= minor)
        .max_by_key(|(m, _)| *m)
        .ok_or_else(|| Error::Layout(format!("no layout table for {v} (the table starts at go1.19)")))?;
    let exact = *m == minor;
    Ok(Layout {
        fields: entries.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        source: if exact {
            format!("table for go1.{m}")
        } else {
            format!("table for go1.{m} (nearest to {v}; may be wrong)")
        },
    })
}
