//! Channels: the chan word points to an `hchan` (DWARF `hchan<T>`) whose
//! `buf` is a ring of `dataqsiz` elements holding `qcount` values starting
//! at index `recvx`.

use std::fmt::Write;

use super::{Chain, Printer, Src, ValueError};
use crate::dwarf::{Kind, TypeRef};

impl Printer<'_> {
    pub(super) fn chan(
        &self,
        c: u64,
        elem: Option<TypeRef>,
        hdr: Option<TypeRef>,
        depth: usize,
        chain: &mut Chain,
        out: &mut String,
    ) -> Result<(), ValueError> {
        let ht = hdr.and_then(|h| self.ty(h)).ok_or_else(|| ValueError::Layout("hchan type missing from DWARF".into()))?;
        let Kind::Struct(fields) = &ht.kind else { return Err(ValueError::Layout("hchan is not a struct".into())) };
        let off = |n: &str| fields.iter().find(|f| f.name == n).map(|f| f.offset).ok_or_else(|| ValueError::Layout(format!("hchan has no {n}")));
        let rd = |a: u64| self.mem.u64(a);
        let qcount = rd(c.wrapping_add(off("qcount")?))?;
        let size = rd(c.wrapping_add(off("dataqsiz")?))?;
        let buf = rd(c.wrapping_add(off("buf")?))?;
        let recvx = rd(c.wrapping_add(off("recvx")?))?;
        let closed = self.mem.u32(c.wrapping_add(off("closed")?))?;
        let _ = write!(out, "{qcount}/{size}");
        if closed != 0 {
            out.push_str(" closed");
        }
        if qcount == 0 || size == 0 || qcount > size {
            return Ok(());
        }
        let esize = elem.and_then(|e| self.ty(e)).map(|t| t.size).unwrap_or(0);
        out.push_str(" [");
        let n = qcount.min(self.limits.max_elems as u64);
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            let idx = recvx.wrapping_add(i) % size;
            self.value(elem, &Src::Mem(buf.wrapping_add(idx.wrapping_mul(esize))), depth + 1, false, chain, out);
        }
        if qcount > n {
            let _ = write!(out, ",...+{} more", qcount - n);
        }
        out.push(']');
        Ok(())
    }
}
