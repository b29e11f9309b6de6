//! Swiss-table maps (Go 1.24+, internal/runtime/maps). A map word points to
//! a `maps.Map {used uint64; seed uintptr; dirPtr unsafe.Pointer; dirLen int; ...}`.
//! With dirLen 0, dirPtr is a single group (a small map of at most 8
//! entries); otherwise it is an array of dirLen `*table` (a table may appear
//! several times in a row), each `table {used, capacity, growthLeft uint16;
//! localDepth uint8; index int; groups {data unsafe.Pointer; lengthMask uint64}}`.
//! A group is `{ctrl uint64; slots [8]struct{key K; elem V}}`; a slot is full
//! when its control byte has the high bit clear. Keys and elements larger
//! than 128 bytes are stored indirectly (the slot holds a pointer).

use super::{Printer, Src, ValueError};
use crate::dwarf::TypeRef;

const GROUP_SLOTS: u64 = 8;
const MAX_INLINE: u64 = 128;
/// Bounds against a corrupt header.
const MAX_DIR: u64 = 1 << 20;
const MAX_GROUPS: u64 = 1 << 24;
/// Groups read in one walk, whatever the header claims: a corrupt map must
/// not make a lookup read gigabytes.
const MAX_GROUPS_WALKED: u64 = 1 << 22;

const MAP_DIR_PTR: u64 = 16;
const MAP_DIR_LEN: u64 = 24;
const TABLE_GROUPS_DATA: u64 = 16;
const TABLE_GROUPS_MASK: u64 = 24;

fn align_up(x: u64, a: u64) -> u64 {
    let a = a.max(1);
    x.div_ceil(a) * a
}

struct SlotLayout {
    key_off: u64,
    elem_off: u64,
    size: u64,
    key_indirect: bool,
    elem_indirect: bool,
}

fn layout(p: &Printer, key: Option<TypeRef>, elem: Option<TypeRef>) -> SlotLayout {
    let size_of = |t: Option<TypeRef>| t.and_then(|t| p.ty(t)).map(|t| t.size).unwrap_or(8);
    let (mut ks, mut ka) = (size_of(key), p.align_of(key, 0));
    let (mut es, mut ea) = (size_of(elem), p.align_of(elem, 0));
    let key_indirect = ks > MAX_INLINE;
    let elem_indirect = es > MAX_INLINE;
    if key_indirect {
        (ks, ka) = (8, 8);
    }
    if elem_indirect {
        (es, ea) = (8, 8);
    }
    let elem_off = align_up(ks, ea);
    let size = align_up(elem_off + es, ka.max(ea));
    SlotLayout { key_off: 0, elem_off, size, key_indirect, elem_indirect }
}

pub(super) fn entries(
    p: &Printer,
    m: u64,
    key: Option<TypeRef>,
    elem: Option<TypeRef>,
    f: &mut dyn FnMut(Src, Src) -> bool,
) -> Result<(), ValueError> {
    let rd = |a: u64| p.mem.u64(a);
    let lay = layout(p, key, elem);
    let dir_ptr = rd(m.wrapping_add(MAP_DIR_PTR))?;
    let dir_len = rd(m.wrapping_add(MAP_DIR_LEN))?;
    if dir_ptr == 0 {
        return Ok(());
    }
    // Returns false when the caller wants no more.
    let group = |g: u64, f: &mut dyn FnMut(Src, Src) -> bool| -> Result<bool, ValueError> {
        let ctrl = rd(g)?;
        for i in 0..GROUP_SLOTS {
            if (ctrl >> (8 * i)) & 0x80 != 0 {
                continue;
            }
            let slot = g.wrapping_add(8).wrapping_add(i.wrapping_mul(lay.size));
            let mut k = Src::Mem(slot.wrapping_add(lay.key_off));
            let mut v = Src::Mem(slot.wrapping_add(lay.elem_off));
            if lay.key_indirect {
                k = Src::Mem(p.word(&k)?);
            }
            if lay.elem_indirect {
                v = Src::Mem(p.word(&v)?);
            }
            if !f(k, v) {
                return Ok(false);
            }
        }
        Ok(true)
    };
    if dir_len == 0 {
        group(dir_ptr, f)?;
        return Ok(());
    }
    if dir_len > MAX_DIR {
        return Err(ValueError::Implausible(format!("map directory of {dir_len} tables at {dir_ptr:#x} is implausible")));
    }
    let group_size = 8 + GROUP_SLOTS * lay.size;
    let mut last = 0;
    let mut walked = 0u64;
    for i in 0..dir_len {
        let t = rd(dir_ptr.wrapping_add(8 * i))?;
        if t == last || t == 0 {
            continue;
        }
        last = t;
        let data = rd(t.wrapping_add(TABLE_GROUPS_DATA))?;
        let mask = rd(t.wrapping_add(TABLE_GROUPS_MASK))?;
        if mask >= MAX_GROUPS {
            return Err(ValueError::Implausible(format!("map table at {t:#x} claims {} groups", mask.wrapping_add(1))));
        }
        for gi in 0..=mask {
            walked += 1;
            if walked > MAX_GROUPS_WALKED {
                return Err(ValueError::Implausible(format!("map at {m:#x}: more than {MAX_GROUPS_WALKED} groups; stopped")));
            }
            if !group(data.wrapping_add(gi.wrapping_mul(group_size)), f)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
