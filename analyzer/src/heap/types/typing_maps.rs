//! Typing what maps and channels are made of, reached through a typed map
//! or chan value: the objects are named by the runtime's own type
//! descriptors where it has them (a map type records its group or bucket
//! type: `map.group[K]V` for Swiss tables, `map.bucket[K]V` for the
//! old hash maps), and by the runtime's struct names where it does not
//! (`internal/runtime/maps.table`, a Swiss map's directory of tables).
//! Once typed, their slots are walked like any typed object, so what the
//! keys and values point to is typed too.
//!
//! Layouts, 64-bit (stable over the versions each applies to):
//! - `maps.Map` (Go 1.24+): `dirPtr` 16, `dirLen` 24; `table`:
//!   `groups.data` 16, `groups.lengthMask` 24 (32 bytes);
//! - `hmap` (Go 1.21-1.23, or 1.24-1.25 built with `noswissmap`): `flags` 8, `B` 9,
//!   `buckets` 16, `oldbuckets` 24; a bucket's last word is its overflow
//!   bucket;
//! - the map type's `Group` (or `Bucket`) descriptor at 64;
//! - `hchan`: `dataqsiz` 8, `buf` 16.

use std::sync::Arc;

use super::{Claim, TypeSource, Worker};
use crate::heap::rtype::RType;
use crate::heap::sizeclass::{round_up, MALLOC_HEADER_SIZE};

const MAPTYPE_GROUP: u64 = 64;
const MAP_DIR_PTR: u64 = 16;
const MAP_DIR_LEN: u64 = 24;
const TABLE_SIZE: u64 = 32;
const TABLE_GROUPS_DATA: u64 = 16;
const TABLE_GROUPS_MASK: u64 = 24;
const HMAP_FLAGS: u64 = 8;
const SAME_SIZE_GROW: u8 = 8;
const HMAP_B: u64 = 9;
const HMAP_BUCKETS: u64 = 16;
const HMAP_OLDBUCKETS: u64 = 24;
const HCHAN_DATAQSIZ: u64 = 8;
const HCHAN_BUF: u64 = 16;
/// Bounds against a corrupt header.
const MAX_DIR: u64 = 1 << 20;
const MAX_GROUPS: u64 = 1 << 26;
const MAX_B: u64 = 40;
/// Overflow buckets followed per bucket at most.
const MAX_OVERFLOW_CHAIN: usize = 1 << 16;

impl Worker<'_> {
    /// A map header at `hdr` (just typed as map type `mt`): its tables and
    /// groups, or its buckets.
    pub(super) fn map_internals(&mut self, hdr: u64, mt: &RType) {
        let Some(group) = self.mem.u64(mt.addr + MAPTYPE_GROUP).ok().and_then(|g| self.rt.get(g)) else { return };
        if group.size == 0 {
            return;
        }
        if group.name.contains("map.group[") {
            self.swiss_map(hdr, &group);
        } else if group.name.contains("map.bucket[") {
            self.hash_map(hdr, &group);
        }
    }

    fn swiss_map(&mut self, hdr: u64, group: &Arc<RType>) {
        let dir = self.word(hdr + MAP_DIR_PTR);
        let dir_len = self.word(hdr + MAP_DIR_LEN);
        if dir == 0 {
            return;
        }
        if dir_len == 0 {
            // A small map: one group.
            self.claim(dir, Claim::Value(group.clone()));
            return;
        }
        if dir_len > MAX_DIR {
            return;
        }
        self.name_object(dir, "[]*internal/runtime/maps.table", dir_len * 8);
        let mut last = 0;
        for i in 0..dir_len {
            let t = self.word(dir + i * 8);
            // A table appears once per directory entry it covers.
            if t == 0 || t == last {
                continue;
            }
            last = t;
            if !self.name_object(t, "internal/runtime/maps.table", TABLE_SIZE) {
                continue;
            }
            let data = self.word(t + TABLE_GROUPS_DATA);
            let n = self.word(t + TABLE_GROUPS_MASK).wrapping_add(1);
            if data != 0 && n > 0 && n <= MAX_GROUPS {
                self.claim(data, Claim::Array(group.clone(), n));
            }
        }
    }

    fn hash_map(&mut self, hdr: u64, bucket: &Arc<RType>) {
        let Ok(b) = self.mem.u8(hdr + HMAP_B) else { return };
        let b = u64::from(b);
        if b > MAX_B {
            return;
        }
        // While growing, the old array is half the size, or the same size
        // when the map is only being compacted (`sameSizeGrow`).
        let same_size = self.mem.u8(hdr + HMAP_FLAGS).is_ok_and(|f| f & SAME_SIZE_GROW != 0);
        let old_n = if same_size || b == 0 { 1u64 << b } else { 1u64 << (b - 1) };
        for (field, n) in [(HMAP_BUCKETS, 1u64 << b), (HMAP_OLDBUCKETS, old_n)] {
            let p = self.word(hdr + field);
            if p == 0 {
                continue;
            }
            if n == 1 {
                self.claim(p, Claim::Value(bucket.clone()));
            } else {
                self.claim(p, Claim::Array(bucket.clone(), n));
            }
            // Overflow buckets hang off each bucket's last word.
            for i in 0..n.min(MAX_GROUPS) {
                let mut ov = self.word(p + i * bucket.size + bucket.size - 8);
                let mut steps = 0;
                while ov != 0 && steps < MAX_OVERFLOW_CHAIN {
                    self.claim(ov, Claim::Value(bucket.clone()));
                    ov = self.word(ov + bucket.size - 8);
                    steps += 1;
                }
            }
        }
    }

    /// A channel (`*hchan` in a value of chan type `ct`): the hchan object is
    /// listed as `chan T`; a buffer of its own (elements with pointers) as
    /// `[cap]T`, and its elements are walked.
    pub(super) fn chan_value(&mut self, p: u64, ct: &RType) {
        let idx = self.idx;
        let Some((id, k)) = idx.find_in_span(p) else { return };
        let hdr = if idx.headers[k] { MALLOC_HEADER_SIZE } else { 0 };
        if idx.base(id) + hdr != p || self.is_typed(id) {
            return;
        }
        let e = self.entry(ct.name.clone(), Some(ct.addr), TypeSource::Pointer);
        if !self.set(id, e, u64::MAX, 1) {
            return;
        }
        let Some(elem) = ct.elem.and_then(|e| self.rt.get(e)) else { return };
        let (cap, buf) = (self.word(p + HCHAN_DATAQSIZ), self.word(p + HCHAN_BUF));
        if cap == 0 || buf == 0 || elem.size == 0 || idx.find_in_span(buf).is_some_and(|(b, _)| b == id) {
            // Unbuffered, or the buffer is inside the hchan object (elements without pointers).
            return;
        }
        let Some(bytes) = elem.size.checked_mul(cap) else { return };
        let name = format!("[{cap}]{}", elem.name);
        if self.name_object(buf, &name, bytes) {
            if let Some((bid, _)) = idx.find_in_span(buf) {
                self.work.push((bid, elem, cap));
            }
        }
    }

    /// Type the object starting at `p` (after its malloc header) as `name`
    /// when it is untyped and `used` bytes round to its size class.
    fn name_object(&mut self, p: u64, name: &str, used: u64) -> bool {
        let idx = self.idx;
        let Some((id, k)) = idx.find_in_span(p) else { return false };
        let hdr = if idx.headers[k] { MALLOC_HEADER_SIZE } else { 0 };
        let s = &idx.spans[k];
        if idx.base(id) + hdr != p || self.is_typed(id) {
            return false;
        }
        if used == 0 || round_up(used.saturating_add(hdr)) != s.elemsize {
            return false;
        }
        let e = self.entry(name.to_string(), None, TypeSource::Pointer);
        self.set(id, e, used, 1)
    }
}
