//! Names for a word inside a typed value: `.buf`, `.items[3].next`, read
//! from the runtime's type descriptors (struct field names, array element
//! types), which stripped binaries keep. Kept apart from [`super::rtype`],
//! whose descriptors hold only what the pointer walk needs.
//!
//! 64-bit layout: `StructType.Fields` (a slice of `{Name *byte, Typ *Type,
//! Offset uintptr}`) at 56, `ArrayType.Elem` at 48 and `Len` at 64;
//! `MapType` (Go 1.24+ Swiss tables) `GroupSize` 80, `SlotSize` 88,
//! `ElemOff` 96; before 1.24 `MapType` holds `KeySize`/`ValueSize` (u8) at
//! 80/81 and `BucketSize` (u16) at 82.

use crate::memory::Memory;
use crate::runtime::gotype::{Kind, TypeReader};

/// Nested structs and arrays followed at most.
const MAX_DEPTH: usize = 16;
const MAX_FIELDS: u64 = 1 << 12;
const MAX_NAME: u64 = 1 << 10;

/// The field path of byte `off` in a value of the type at `rtype`:
/// `.a.b`, `[3]`, `[3].next`; empty for the value itself or when the type
/// cannot be read.
pub fn field_path(r: &TypeReader<'_>, rtype: u64, off: u64) -> String {
    let mut out = String::new();
    let (mut t, mut off) = (rtype, off);
    for _ in 0..MAX_DEPTH {
        let Some(gt) = r.read(t) else { break };
        match gt.kind {
            Kind::Struct => {
                let Some((name, ft, foff)) = field_at(r, t, off) else { break };
                out.push('.');
                out.push_str(&name);
                t = ft;
                off -= foff;
            }
            Kind::Array => {
                let (Ok(e), Ok(len)) = (r.mem.u64(t + 48), r.mem.u64(t + 64)) else { break };
                let Some(es) = r.read(e).map(|e| e.size).filter(|s| *s > 0) else { break };
                let i = off / es;
                if i >= len {
                    break;
                }
                out.push_str(&format!("[{i}]"));
                t = e;
                off %= es;
            }
            Kind::Slice | Kind::String | Kind::Interface if off != 0 => {
                // The words after a slice's or string's pointer hold no
                // pointers; an interface's data word is its second.
                break;
            }
            _ => break,
        }
    }
    out
}

/// The struct field of type `t` holding byte `off`: name, type, offset.
fn field_at(r: &TypeReader<'_>, t: u64, off: u64) -> Option<(String, u64, u64)> {
    let m = r.mem;
    let p = m.u64(t + 56).ok()?;
    let n = m.u64(t + 64).ok()?;
    if n > MAX_FIELDS {
        return None;
    }
    let mut best = None;
    for i in 0..n {
        let f = p + i * 24;
        let (name, typ, foff) = (m.u64(f).ok()?, m.u64(f + 8).ok()?, m.u64(f + 16).ok()?);
        if foff > off {
            break;
        }
        let size = r.read(typ)?.size;
        if off < foff + size.max(1) {
            best = Some((name, typ, foff));
        }
    }
    let (name, typ, foff) = best?;
    Some((read_name(m, name).unwrap_or_else(|| "?".into()), typ, foff))
}

/// An `abi.Name`: a flags byte, a varint length, the bytes.
fn read_name(m: &dyn Memory, addr: u64) -> Option<String> {
    let mut len = 0u64;
    let mut i = 1u64;
    for shift in (0..28).step_by(7) {
        let b = m.u8(addr + i).ok()?;
        i += 1;
        len |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            break;
        }
    }
    if len > MAX_NAME {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    m.read(addr + i, &mut buf).ok()?;
    String::from_utf8(buf).ok()
}

/// Whether byte `off` of a map's storage (a Swiss-table group array, or
/// an old-style bucket array) is in a key or a value, for the map type
/// at `mt`: `Some(true)` for a value. `swiss`: Go 1.24+.
pub fn map_slot_is_value(m: &dyn Memory, mt: u64, off: u64, swiss: bool) -> Option<bool> {
    if swiss {
        let gs = m.u64(mt + 80).ok()?;
        let ss = m.u64(mt + 88).ok()?;
        let eo = m.u64(mt + 96).ok()?;
        if gs == 0 || ss == 0 {
            return None;
        }
        // A group: an 8-byte control word, then 8 slots of key and value.
        let g = off % gs;
        let s = g.checked_sub(8)? % ss;
        Some(s >= eo)
    } else {
        let ks = m.u8(mt + 80).ok()? as u64;
        let vs = m.u8(mt + 81).ok()? as u64;
        let mut b2 = [0u8; 2];
        m.read(mt + 82, &mut b2).ok()?;
        let bs = u16::from_le_bytes(b2) as u64;
        if bs == 0 {
            return None;
        }
        // A bucket: 8 tophash bytes, 8 keys, 8 values, the overflow pointer.
        let b = (off % bs).checked_sub(8)?;
        if b < 8 * ks {
            Some(false)
        } else if b < 8 * (ks + vs) {
            Some(true)
        } else {
            None
        }
    }
}
