//! Interfaces: an `eface {_type, data}` or `iface {tab, data}` (the itab's
//! `_type` is its second word). The dynamic type is found in DWARF by
//! DW_AT_go_runtime_type, which holds the runtime type's address (older
//! toolchains) or its offset from moduledata.types (newer ones). The data
//! word is the value itself for pointer-shaped types, else a pointer to it.

use super::{Chain, Printer, Src, ValueError};
use crate::model::value::{Value, ValueKind};
use crate::dwarf::{Kind, Type, TypeRef};

/// abi.Type.Str (a nameOff into moduledata.types) on 64-bit targets.
const TYPE_STR_OFF: u64 = 40;
/// abi.Type.TFlag; TFlagExtraStar says the name has a spurious leading '*'.
const TYPE_TFLAG_OFF: u64 = 20;
const TFLAG_EXTRA_STAR: u8 = 2;

impl Printer<'_> {
    pub(super) fn iface(&self, t: &Type, empty: bool, src: &Src, depth: usize, chain: &mut Chain) -> Result<Value, ValueError> {
        let w0 = self.word(src)?;
        let data = self.word(&src.at(8))?;
        let iface = |dynamic_type, value| Ok(Value::new(t.name.clone(), ValueKind::Interface { dynamic_type, value, data }));
        if w0 == 0 {
            return iface(None, None);
        }
        let rtype = if empty { w0 } else { self.mem.u64(w0.wrapping_add(8))? };
        match self.dwarf_type_of(rtype) {
            Some(dr) => {
                let dt = self.ty(dr).ok_or(ValueError::NoType)?;
                let vsrc = if self.pointer_shaped(Some(dr), 0) {
                    Src::Bytes(super::Assembled::word(data), 0)
                } else {
                    Src::Mem(data)
                };
                let v = self.node(Some(dr), &vsrc, depth, chain);
                iface(Some(dt.name.clone()), Some(Box::new(v)))
            }
            None => {
                // A type word that names no type (an optimised build's stale
                // slot): unreadable, never a value made from it.
                let name = self.runtime_type_name(rtype).ok_or_else(|| {
                    ValueError::Implausible(format!("{}: type word {rtype:#x} is no type the binary knows", t.name))
                })?;
                iface(Some(name), None)
            }
        }
    }

    /// An interface value's dynamic type and where its value is (the
    /// data word itself for pointer-shaped types); `None` for a nil
    /// interface. A type word that names no type is an error, never a guess.
    pub fn iface_dynamic(&self, t: &Type, src: &Src) -> Result<Option<(TypeRef, Src)>, ValueError> {
        let Kind::Interface { empty } = t.kind else { return Err(ValueError::Layout(format!("{} is not an interface", t.name))) };
        let w0 = self.word(src)?;
        let data = self.word(&src.at(8))?;
        if w0 == 0 {
            return Ok(None);
        }
        let rtype = if empty { w0 } else { self.mem.u64(w0.wrapping_add(8))? };
        let Some(dr) = self.dwarf_type_of(rtype) else {
            let name = self.runtime_type_name(rtype).ok_or_else(|| {
                ValueError::Implausible(format!("{}: type word {rtype:#x} is no type the binary knows", t.name))
            })?;
            return Err(ValueError::Layout(format!("{}: dynamic type {name} is not in the DWARF", t.name)));
        };
        let vsrc = if self.pointer_shaped(Some(dr), 0) { Src::Bytes(super::Assembled::word(data), 0) } else { Src::Mem(data) };
        Ok(Some((dr, vsrc)))
    }

    fn types_base(&self) -> Option<u64> {
        self.bin.symbol("runtime.types")
    }

    /// The DWARF type for the runtime type at (runtime) address `rtype`.
    pub fn dwarf_type_of(&self, rtype: u64) -> Option<TypeRef> {
        let link = rtype.wrapping_sub(self.bias);
        if let Some(base) = self.types_base() {
            if let Some(t) = self.di.type_by_runtime(link.wrapping_sub(base)) {
                return Some(t);
            }
        }
        self.di.type_by_runtime(link)
    }

    /// The runtime's own name for a type: abi.Type.Str is an offset into
    /// moduledata.types of a name: a flag byte, a varint length, the bytes.
    fn runtime_type_name(&self, rtype: u64) -> Option<String> {
        let base = self.types_base()?.wrapping_add(self.bias);
        let off = self.mem.u32(rtype.wrapping_add(TYPE_STR_OFF)).ok()? as i32;
        let tflag = self.mem.u8(rtype.wrapping_add(TYPE_TFLAG_OFF)).ok()?;
        let n = base.wrapping_add(off as i64 as u64);
        let mut hdr = [0u8; 4];
        self.mem.read(n, &mut hdr).ok()?;
        let (mut len, mut i) = (0usize, 1usize);
        while i < 4 {
            len |= ((hdr[i] & 0x7f) as usize) << (7 * (i - 1));
            i += 1;
            if hdr[i - 1] & 0x80 == 0 {
                break;
            }
        }
        let mut b = vec![0u8; len.min(1024)];
        self.mem.read(n.wrapping_add(i as u64), &mut b).ok()?;
        let s = String::from_utf8_lossy(&b).into_owned();
        Some(if tflag & TFLAG_EXTRA_STAR != 0 { s.trim_start_matches('*').to_string() } else { s })
    }

    /// The compiler's isdirectiface: pointers, maps, chans, funcs and
    /// single-field structs / one-element arrays of those.
    fn pointer_shaped(&self, r: Option<TypeRef>, depth: usize) -> bool {
        let Some(t) = r.and_then(|r| self.ty(r)) else { return false };
        if depth > 8 {
            return false;
        }
        match &t.kind {
            Kind::Pointer(_) | Kind::UnsafePointer | Kind::Map { .. } | Kind::Chan { .. } | Kind::Func => true,
            Kind::Struct(fs) if fs.len() == 1 => self.pointer_shaped(fs[0].ty, depth + 1),
            Kind::Array { elem, len: 1 } => self.pointer_shaped(*elem, depth + 1),
            Kind::Named(n) => self.pointer_shaped(Some(*n), depth + 1),
            _ => false,
        }
    }
}
