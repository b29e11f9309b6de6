//! Classic hash maps (Go before 1.24, or GOEXPERIMENT=noswissmap): the map
//! word points to an `hmap {count int; flags uint8; B uint8; ...; buckets,
//! oldbuckets unsafe.Pointer; ...}`, described in DWARF as `hash<K,V>` whose
//! `buckets` field points to `bucket<K,V> {tophash [8]uint8; keys [8]K;
//! values [8]V; overflow *bucket}` (keys/values are pointers when stored
//! indirectly). A slot holds an entry when its tophash is >= minTopHash (5);
//! while the map grows, old buckets not yet evacuated still hold entries.

use super::{Printer, Src, ValueError};
use crate::dwarf::{Kind, Type, TypeRef};

const MIN_TOP_HASH: u8 = 5;
const BUCKET_SLOTS: u64 = 8;
/// hashGrow's flag for a same-size grow.
const SAME_SIZE_GROW: u8 = 8;
const MAX_B: u8 = 40;
const MAX_OVERFLOW_CHAIN: usize = 1 << 16;
/// Overflow buckets read in one walk, all chains together: a real map has
/// about as many as it has buckets at most (hashGrow starts a same-size
/// grow at 2^min(B,15) of them), so this bounds a corrupt map whose
/// chains all run into one long shared tail.
const MAX_OVERFLOW_WALKED: u64 = 1 << 20;
/// Buckets read in one walk, whatever B claims (a corrupt header).
const MAX_BUCKETS_WALKED: u64 = 1 << 22;

pub(super) fn entries(
    p: &Printer,
    h: u64,
    hdr: Option<&Type>,
    map_key: Option<TypeRef>,
    f: &mut dyn FnMut(Src, Src) -> bool,
) -> Result<(), ValueError> {
    let Some(Kind::Struct(fields)) = hdr.map(|t| &t.kind) else {
        return Err(ValueError::Layout("map header type missing from DWARF".into()));
    };
    let off = |n: &str| fields.iter().find(|f| f.name == n).map(|f| f.offset);
    let rd = |a: u64| p.mem.u64(a);
    let rd8 = |a: u64| p.mem.u8(a);
    let b = rd8(h.wrapping_add(off("B").ok_or_else(|| ValueError::Layout("hmap has no B".into()))?))?;
    let flags = off("flags").map(|o| rd8(h.wrapping_add(o))).transpose()?.unwrap_or(0);
    if b > MAX_B {
        return Err(ValueError::Implausible(format!("hmap at {h:#x} has B={b}")));
    }
    let buckets = rd(h.wrapping_add(off("buckets").ok_or_else(|| ValueError::Layout("hmap has no buckets".into()))?))?;
    let oldbuckets = off("oldbuckets").map(|o| rd(h.wrapping_add(o))).transpose()?.unwrap_or(0);
    // The bucket struct, from the type of `buckets`.
    let bt = fields
        .iter()
        .find(|f| f.name == "buckets")
        .and_then(|f| p.ty(f.ty?))
        .and_then(|t| match t.kind {
            Kind::Pointer(Some(b)) => p.ty(b),
            _ => None,
        })
        .ok_or_else(|| ValueError::Layout("bucket type missing from DWARF".into()))?;
    let Kind::Struct(bf) = &bt.kind else { return Err(ValueError::Layout("bucket type is not a struct".into())) };
    let bfield = |n: &str| bf.iter().find(|f| f.name == n).cloned();
    let (keys, vals, ovf) = match (bfield("keys"), bfield("values").or_else(|| bfield("elems")), bfield("overflow")) {
        (Some(k), Some(v), Some(o)) => (k, v, o),
        _ => return Err(ValueError::Layout("bucket type lacks keys/values/overflow".into())),
    };
    // Slot types: the arrays' element types; a pointer where the map's key
    // type is not one means the key is stored indirectly.
    let arr_elem = |t: Option<TypeRef>| match t.and_then(|t| p.ty(t)).map(|t| t.kind.clone()) {
        Some(Kind::Array { elem, .. }) => elem,
        _ => None,
    };
    let slot_info = |t: Option<TypeRef>| -> (u64, bool) {
        let e = arr_elem(t);
        let et = e.and_then(|e| p.ty(e));
        let size = et.as_ref().map(|t| t.size).unwrap_or(8);
        let indirect = et.as_ref().is_some_and(|t| t.name.starts_with('*'))
            && e != map_key
            && !matches!(map_key.and_then(|k| p.ty(k)).map(|k| k.kind.clone()), Some(Kind::Pointer(_)));
        (size, indirect)
    };
    let (ksize, kind_) = slot_info(keys.ty);
    let (vsize, vind) = slot_info(vals.ty);
    let overflow = std::cell::Cell::new(0u64);
    let walk = |bucket: u64, f: &mut dyn FnMut(Src, Src) -> bool| -> Result<bool, ValueError> {
        let mut bk = bucket;
        // Brent's cycle check: `seen` jumps ahead at powers of two, so a
        // chain that loops meets it again within twice its length.
        let (mut seen, mut power, mut steps) = (bucket, 1usize, 0usize);
        for n in 0..MAX_OVERFLOW_CHAIN {
            if bk == 0 {
                return Ok(true);
            }
            if n > 0 {
                if bk == seen {
                    return Err(ValueError::Implausible(format!("hmap at {h:#x}: the overflow buckets of bucket {bucket:#x} form a cycle at {bk:#x}")));
                }
                steps += 1;
                if steps == power {
                    (seen, power, steps) = (bk, power * 2, 0);
                }
                overflow.set(overflow.get() + 1);
                if overflow.get() > MAX_OVERFLOW_WALKED {
                    return Err(ValueError::Implausible(format!("hmap at {h:#x}: more than {MAX_OVERFLOW_WALKED} overflow buckets; stopped")));
                }
            }
            let mut top = [0u8; 8];
            p.mem.read(bk, &mut top)?;
            for i in 0..BUCKET_SLOTS {
                if top[i as usize] < MIN_TOP_HASH {
                    continue;
                }
                let mut k = Src::Mem(bk.wrapping_add(keys.offset).wrapping_add(i.wrapping_mul(ksize)));
                let mut v = Src::Mem(bk.wrapping_add(vals.offset).wrapping_add(i.wrapping_mul(vsize)));
                if kind_ {
                    k = Src::Mem(p.word(&k)?);
                }
                if vind {
                    v = Src::Mem(p.word(&v)?);
                }
                if !f(k, v) {
                    return Ok(false);
                }
            }
            bk = rd(bk.wrapping_add(ovf.offset))?;
        }
        Err(ValueError::Implausible(format!("hmap at {h:#x}: the overflow chain of bucket {bucket:#x} is longer than {MAX_OVERFLOW_CHAIN}; stopped")))
    };
    let bsize = bt.size;
    let nb = 1u64 << b;
    let nold = if flags & SAME_SIZE_GROW != 0 || b == 0 { nb } else { nb >> 1 };
    if nb + if oldbuckets != 0 { nold } else { 0 } > MAX_BUCKETS_WALKED {
        return Err(ValueError::Implausible(format!("hmap at {h:#x}: 2^{b} buckets is more than this walks")));
    }
    if buckets != 0 {
        for i in 0..nb {
            if !walk(buckets.wrapping_add(i.wrapping_mul(bsize)), f)? {
                return Ok(());
            }
        }
    }
    if oldbuckets != 0 {
        for i in 0..nold {
            if !walk(oldbuckets.wrapping_add(i.wrapping_mul(bsize)), f)? {
                return Ok(());
            }
        }
    }
    Ok(())
}
