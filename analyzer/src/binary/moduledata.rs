//! `runtime.moduledata`: the linker-built record that ties the pclntab to the
//! text and data ranges and holds `gofunc`, the base of every FUNCDATA offset
//! (needed for inline trees). Found by symbol (`runtime.firstmoduledata`), by
//! section (ELF `.go.module`, Go 1.26+), or, for stripped binaries, by
//! scanning the data for a record whose first word points at the pclntab.
//!
//! Field offsets follow runtime/symtab.go: after `pcHeader` come six slices
//! (funcnametab, cutab, filetab, pctab, pclntable, ftab), then `findfunctab`,
//! `minpc`, `maxpc`, `text`, ...; Go 1.20 inserted `covctrs, ecovctrs` before
//! `end`, and Go 1.27 `typedesclen` after `types` and `itaboffset, itabsize`
//! after `etypes`: each moves `gofunc`.

use std::collections::HashMap;

use object::{Object, ObjectSection};

use crate::binary::Image;

const OFF_FUNCNAMETAB: u64 = 8;
const OFF_TEXT: u64 = 176;
const OFF_ETEXT: u64 = 184;
/// `gofunc` with the 1.27 type-section fields, with `covctrs` (Go
/// 1.20..1.26) and without (1.18, 1.19). `epclntab` follows `gofunc`.
const OFF_GOFUNC_127: u64 = 344;
const OFF_GOFUNC_120: u64 = 320;
const OFF_GOFUNC_118: u64 = 304;

#[derive(Debug, Clone)]
pub struct Moduledata {
    /// Link-time address of the record.
    pub addr: u64,
    pub text: u64,
    pub etext: u64,
    /// Link-time address FUNCDATA offsets are relative to.
    pub gofunc: u64,
}

pub(crate) fn find(
    img: &Image,
    obj: &object::File,
    symbols: &HashMap<String, (u64, u64)>,
    pclntab: u64,
    go_minor: Option<u32>,
) -> Option<Moduledata> {
    let funcname_off = img.static_u64(pclntab.wrapping_add(8 + 3 * 8))?;
    let magic = img.static_bytes(pclntab, 4)?;
    let go120 = magic == crate::binary::pclntab::MAGIC_GO120.to_le_bytes();
    let valid = |a: u64| {
        img.static_u64(a) == Some(pclntab)
            && img.static_u64(a.wrapping_add(OFF_FUNCNAMETAB)) == Some(pclntab.wrapping_add(funcname_off))
    };
    let mut cands: Vec<u64> = Vec::new();
    if let Some(s) = symbols.get("runtime.firstmoduledata") {
        cands.push(s.0);
    }
    if let Some(s) = obj.section_by_name(".go.module") {
        cands.push(s.address());
    }
    let mut addr = cands.into_iter().find(|a| valid(*a));
    if addr.is_none() {
        // Scan every file-backed range, 8-byte aligned.
        'scan: for (lo, hi) in img.data_ranges() {
            let Some(bytes) = usize::try_from(hi - lo).ok().and_then(|n| img.static_bytes(lo, n)) else { continue };
            let want = pclntab.to_le_bytes();
            let mut i = 0usize;
            while i + 16 <= bytes.len() {
                if bytes[i..i + 8] == want && valid(lo.wrapping_add(i as u64)) {
                    addr = Some(lo.wrapping_add(i as u64));
                    break 'scan;
                }
                i += 8;
            }
        }
    }
    let addr = addr?;
    // 1.27 kept the pclntab magic, so the version picks the layout. When it
    // is unknown: the word after `gofunc` is `epclntab`, past the header in
    // every version, while the other 1.20+ layout has a size or a slice
    // length there.
    let gofunc_off = match go_minor {
        _ if !go120 => OFF_GOFUNC_118,
        Some(m) if m >= 27 => OFF_GOFUNC_127,
        Some(_) => OFF_GOFUNC_120,
        None => [OFF_GOFUNC_127, OFF_GOFUNC_120]
            .into_iter()
            .find(|o| img.static_u64(addr.wrapping_add(o + 8)).is_some_and(|e| e > pclntab))
            .unwrap_or(OFF_GOFUNC_120),
    };
    Some(Moduledata {
        addr,
        text: img.static_u64(addr.wrapping_add(OFF_TEXT))?,
        etext: img.static_u64(addr.wrapping_add(OFF_ETEXT))?,
        gofunc: img.static_u64(addr.wrapping_add(gofunc_off))?,
    })
}
