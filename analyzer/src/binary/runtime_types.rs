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

use gimli::{AttributeValue, EndianSlice, LittleEndian};
use object::{Object, ObjectSection};

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

type R<'a> = EndianSlice<'a, LittleEndian>;

/// Largest DWARF section decompressed (Go's own are a few MiB).
const MAX_DWARF_SECTION: u64 = 512 << 20;

/// Read the layouts from DWARF; `Ok(None)` when the binary has no DWARF.
pub fn from_dwarf(obj: &object::File) -> Result<Option<Layout>> {
    let mut owned: Vec<(gimli::SectionId, Vec<u8>)> = Vec::new();
    let mut have_info = false;
    for id in [
        gimli::SectionId::DebugAbbrev,
        gimli::SectionId::DebugInfo,
        gimli::SectionId::DebugStr,
        gimli::SectionId::DebugLineStr,
        gimli::SectionId::DebugStrOffsets,
        gimli::SectionId::DebugAddr,
        // Dwarf::unit parses the unit's line program header and ranges.
        gimli::SectionId::DebugLine,
        gimli::SectionId::DebugRngLists,
        gimli::SectionId::DebugRanges,
    ] {
        let name = id.name();
        let zname = format!(".zdebug_{}", &name[".debug_".len()..]);
        let sec = obj.section_by_name(name).or_else(|| obj.section_by_name(&zname));
        let data = match sec {
            Some(s) => section_bytes(&s).map_err(|e| Error::Other(format!("DWARF section {name}: {e}")))?,
            None => Vec::new(),
        };
        if id == gimli::SectionId::DebugInfo && !data.is_empty() {
            have_info = true;
        }
        owned.push((id, data));
    }
    if !have_info {
        return Ok(None);
    }
    let get = |id: gimli::SectionId| -> R<'_> {
        let d = owned.iter().find(|(i, _)| *i == id).map(|(_, d)| d.as_slice()).unwrap_or(&[]);
        EndianSlice::new(d, LittleEndian)
    };
    let dwarf = gimli::Dwarf::load(|id| -> std::result::Result<R<'_>, gimli::Error> { Ok(get(id)) })
        .map_err(|e| Error::Other(format!("DWARF: {e}")))?;

    let wanted: Vec<&str> = {
        let mut v: Vec<&str> = NEEDED.iter().map(|(k, _)| k.split('.').next().unwrap()).collect();
        v.dedup();
        v
    };
    let mut fields = BTreeMap::new();
    let mut units = dwarf.units();
    let derr = |e: gimli::Error| Error::Other(format!("DWARF: {e}"));
    while let Some(header) = units.next().map_err(derr)? {
        let unit = dwarf.unit(header).map_err(derr)?;
        let mut entries = unit.entries();
        // Track the struct we are inside of, by depth.
        let mut current: Option<(String, isize)> = None;
        while let Some(e) = entries.next_dfs().map_err(derr)? {
            let depth = e.depth();
            if let Some((_, d)) = &current {
                if depth <= *d {
                    current = None;
                }
            }
            match e.tag() {
                gimli::DW_TAG_structure_type => {
                    let Some(name) = attr_string(&dwarf, &unit, e, gimli::DW_AT_name) else { continue };
                    if let Some(short) = name.strip_prefix("runtime.") {
                        if wanted.contains(&short) && !fields.keys().any(|k: &String| k.starts_with(&format!("{short}."))) {
                            current = Some((short.to_string(), depth));
                        }
                    }
                }
                gimli::DW_TAG_member => {
                    let Some((sname, _)) = &current else { continue };
                    let Some(fname) = attr_string(&dwarf, &unit, e, gimli::DW_AT_name) else { continue };
                    let key = format!("{sname}.{fname}");
                    if !NEEDED.iter().any(|(k, _)| *k == key) {
                        continue;
                    }
                    if let Some(v) = e.attr_value(gimli::DW_AT_data_member_location) {
                        let off = match v {
                            AttributeValue::Udata(u) => Some(u),
                            AttributeValue::Data1(u) => Some(u as u64),
                            AttributeValue::Data2(u) => Some(u as u64),
                            AttributeValue::Data4(u) => Some(u as u64),
                            AttributeValue::Data8(u) => Some(u),
                            AttributeValue::Sdata(s) if s >= 0 => Some(s as u64),
                            _ => None,
                        };
                        if let Some(off) = off {
                            fields.entry(key).or_insert(off);
                        }
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

/// A section's bytes, decompressed (`SHF_COMPRESSED` or `.zdebug_*`),
/// refusing one that claims more than [`MAX_DWARF_SECTION`] uncompressed:
/// the size comes from the file, and a compression bomb must not take the
/// memory. Every DWARF/CFI section the analyzer reads goes through here.
pub(crate) fn section_bytes<'d>(s: &impl ObjectSection<'d>) -> std::result::Result<Vec<u8>, String> {
    let c = s.compressed_data().map_err(|e| e.to_string())?;
    if c.uncompressed_size > MAX_DWARF_SECTION {
        return Err(format!(
            "claims {} bytes uncompressed, more than the {MAX_DWARF_SECTION} read",
            c.uncompressed_size
        ));
    }
    let d = c.decompress().map_err(|e| e.to_string())?.into_owned();
    Ok(zdebug(&d)?.unwrap_or(d))
}

/// `.zdebug_*` sections ("ZLIB", 8-byte big-endian size, zlib stream), as
/// Go writes them into PE and Mach-O files, where `object` does not
/// decompress them by itself.
pub(crate) fn zdebug(d: &[u8]) -> std::result::Result<Option<Vec<u8>>, String> {
    if d.len() < 12 || &d[..4] != b"ZLIB" {
        return Ok(None);
    }
    let size = u64::from_be_bytes(d[4..12].try_into().unwrap());
    if size > MAX_DWARF_SECTION {
        return Err(format!("claims {size} bytes uncompressed, more than the {MAX_DWARF_SECTION} read"));
    }
    let c = object::CompressedData {
        format: object::CompressionFormat::Zlib,
        data: &d[12..],
        uncompressed_size: size,
    };
    Ok(Some(c.decompress().map_err(|e| e.to_string())?.into_owned()))
}

fn attr_string(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    e: &gimli::DebuggingInformationEntry<R<'_>>,
    at: gimli::DwAt,
) -> Option<String> {
    let v = e.attr_value(at)?;
    let s = dwarf.attr_string(unit, v).ok()?;
    Some(s.to_string_lossy().into_owned())
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

#[cfg(test)]
mod bomb_tests {
    /// A `.zdebug_*` header claiming a terabyte is refused before any
    /// allocation (bounds audit).
    #[test]
    fn zdebug_claiming_a_terabyte_is_refused() {
        let mut d = b"ZLIB".to_vec();
        d.extend_from_slice(&(1u64 << 40).to_be_bytes());
        d.extend_from_slice(&[0x78, 0x9c, 3, 0]);
        assert!(super::zdebug(&d).unwrap_err().contains("claims"));
        assert_eq!(super::zdebug(b"not zlib"), Ok(None));
    }
}
