//! Channels: the chan word points to an `hchan` (DWARF `hchan<T>`) whose
//! `buf` is a ring of `dataqsiz` elements holding `qcount` values starting
//! at index `recvx`.

use super::{Chain, Printer, Src, ValueError};
use crate::model::value::ValueKind;
use crate::dwarf::{Kind, TypeRef};

impl Printer<'_> {
    /// The channel whose hchan is at `c` (not 0); a header that cannot be
    /// read leaves `len`/`cap` unknown and says why.
    pub(super) fn chan(&self, c: u64, elem: Option<TypeRef>, hdr: Option<TypeRef>, depth: usize, chain: &mut Chain) -> ValueKind {
        let mut elements = Vec::new();
        match self.chan_header(c, hdr) {
            Err(e) => ValueKind::Chan { addr: c, len: None, cap: None, closed: false, elements, more: 0, unreadable: Some(e.to_string()) },
            Ok((qcount, size, buf, recvx, closed)) => {
                let mut more = 0;
                if qcount != 0 && size != 0 && qcount <= size {
                    let esize = elem.and_then(|e| self.ty(e)).map(|t| t.size).unwrap_or(0);
                    let n = qcount.min(self.limits.max_elems as u64);
                    for i in 0..n {
                        let idx = recvx.wrapping_add(i) % size;
                        elements.push(self.node(elem, &Src::Mem(buf.wrapping_add(idx.wrapping_mul(esize))), depth + 1, chain));
                    }
                    more = qcount - n;
                }
                ValueKind::Chan { addr: c, len: Some(qcount), cap: Some(size), closed, elements, more, unreadable: None }
            }
        }
    }

    /// qcount, dataqsiz, buf, recvx, closed.
    fn chan_header(&self, c: u64, hdr: Option<TypeRef>) -> Result<(u64, u64, u64, u64, bool), ValueError> {
        let ht = hdr.and_then(|h| self.ty(h)).ok_or_else(|| ValueError::Layout("hchan type missing from DWARF".into()))?;
        let Kind::Struct(fields) = &ht.kind else { return Err(ValueError::Layout("hchan is not a struct".into())) };
        let off = |n: &str| fields.iter().find(|f| f.name == n).map(|f| f.offset).ok_or_else(|| ValueError::Layout(format!("hchan has no {n}")));
        let rd = |a: u64| self.mem.u64(a);
        let qcount = rd(c.wrapping_add(off("qcount")?))?;
        let size = rd(c.wrapping_add(off("dataqsiz")?))?;
        let buf = rd(c.wrapping_add(off("buf")?))?;
        let recvx = rd(c.wrapping_add(off("recvx")?))?;
        let closed = self.mem.u32(c.wrapping_add(off("closed")?))?;
        Ok((qcount, size, buf, recvx, closed != 0))
    }
}
