//! Method sets from the runtime's type descriptors, for `x.(I)` with an
//! interface type I: does the dynamic type implement I? DWARF lists no
//! methods; the descriptors do, as the runtime's itab builder reads them
//! (internal/abi/type.go, runtime/iface.go):
//! - an interface type is `abi.InterfaceType {Type, PkgPath Name, Methods
//!   []Imethod}`, an Imethod `{Name NameOff, Typ TypeOff}` (int32 each);
//! - a type with methods has TFlagUncommon and an `abi.UncommonType
//!   {PkgPath NameOff, Mcount, Xcount uint16, Moff uint32, _ uint32}` right
//!   after its kind's descriptor; its methods, `abi.Method {Name NameOff,
//!   Mtyp TypeOff, Ifn, Tfn TextOff}`, are at uncommon + Moff.
//!
//! A method matches when its name, its package for an unexported name, and
//! its type (the same descriptor: one module, the same offset) match.

use super::{Printer, ValueError};

/// Offsets in abi.Type on 64-bit targets.
const TYPE_SIZE: u64 = 48;
const TFLAG_OFF: u64 = 20;
const KIND_OFF: u64 = 23;
const TFLAG_UNCOMMON: u8 = 1;
const KIND_MASK: u8 = 31;
/// More methods than this in one descriptor is not a type the runtime made.
const MAX_METHODS: u64 = 1 << 14;

/// abi.Name flags.
const NAME_EXPORTED: u8 = 1;
const NAME_HAS_TAG: u8 = 2;
const NAME_HAS_PKGPATH: u8 = 4;

/// The answer to "does it implement": yes, or the method it lacks.
#[derive(Debug, PartialEq)]
pub enum Implements {
    Yes,
    Missing(String),
}

struct Name {
    flags: u8,
    text: String,
    /// The pkgPath nameOff an unexported name may carry.
    pkg: Option<i32>,
}

impl Printer<'_> {
    /// Runtime address of `runtime.types`, the base of name and type offsets.
    fn types_base_rt(&self) -> Result<u64, ValueError> {
        self.bin
            .symbol("runtime.types")
            .map(|b| b.wrapping_add(self.bias))
            .ok_or_else(|| ValueError::Layout("no runtime.types symbol: method sets unknown".into()))
    }

    /// The runtime address of a DWARF type's descriptor (DW_AT_go_runtime_type:
    /// the link-time address, or its offset from `runtime.types`).
    pub fn descriptor_of(&self, t: &crate::dwarf::Type) -> Option<u64> {
        let v = t.runtime_type?;
        let base = self.bin.symbol("runtime.types");
        let link = match base {
            Some(b) if v < b => b.wrapping_add(v),
            _ => v,
        };
        Some(link.wrapping_add(self.bias))
    }

    fn name_at(&self, base: u64, off: i32) -> Result<Name, ValueError> {
        let n = base.wrapping_add(off as i64 as u64);
        let flags = self.mem.u8(n)?;
        let (mut len, mut i) = (0u64, 1u64);
        loop {
            let b = self.mem.u8(n.wrapping_add(i))?;
            len |= u64::from(b & 0x7f) << (7 * (i - 1));
            i += 1;
            if b & 0x80 == 0 || i > 4 {
                break;
            }
        }
        let mut text = vec![0u8; len.min(4096) as usize];
        self.mem.read(n.wrapping_add(i), &mut text)?;
        let mut after = n.wrapping_add(i).wrapping_add(len);
        if flags & NAME_HAS_TAG != 0 {
            let (mut tl, mut j) = (0u64, 0u64);
            loop {
                let b = self.mem.u8(after.wrapping_add(j))?;
                tl |= u64::from(b & 0x7f) << (7 * j);
                j += 1;
                if b & 0x80 == 0 || j > 4 {
                    break;
                }
            }
            after = after.wrapping_add(j).wrapping_add(tl);
        }
        let pkg = if flags & NAME_HAS_PKGPATH != 0 { Some(self.mem.u32(after)? as i32) } else { None };
        Ok(Name { flags, text: String::from_utf8_lossy(&text).into_owned(), pkg })
    }

    /// The size of a kind's descriptor, where its UncommonType starts.
    fn uncommon_at(&self, rtype: u64) -> Result<Option<u64>, ValueError> {
        if self.mem.u8(rtype.wrapping_add(TFLAG_OFF))? & TFLAG_UNCOMMON == 0 {
            return Ok(None);
        }
        let kind = self.mem.u8(rtype.wrapping_add(KIND_OFF))? & KIND_MASK;
        let extra = match kind {
            1..=16 | 24 | 26 => 0,           // basic kinds, string, unsafe.Pointer
            17 => 24,                        // array: Elem, Slice, Len
            18 => 16,                        // chan: Elem, Dir
            19 => 8,                         // func: InCount, OutCount (padded)
            20 => 32,                        // interface: PkgPath, Methods
            22 | 23 => 8,                    // pointer, slice: Elem
            25 => 32,                        // struct: PkgPath, Fields
            _ => return Err(ValueError::Layout(format!("kind {kind}: method set not read (maps are not supported)"))),
        };
        Ok(Some(rtype.wrapping_add(TYPE_SIZE + extra)))
    }

    /// Whether the type at `dynamic` (a runtime type descriptor) has every
    /// method of the interface type at `iface`.
    pub fn implements(&self, dynamic: u64, iface: u64) -> Result<Implements, ValueError> {
        let base = self.types_base_rt()?;
        if self.mem.u8(iface.wrapping_add(KIND_OFF))? & KIND_MASK != 20 {
            return Err(ValueError::Layout(format!("{iface:#x} is not an interface type's descriptor")));
        }
        let ipkg = self.mem.u64(iface.wrapping_add(TYPE_SIZE))?;
        let imethods = self.mem.u64(iface.wrapping_add(TYPE_SIZE + 8))?;
        let ni = self.mem.u64(iface.wrapping_add(TYPE_SIZE + 16))?;
        if ni > MAX_METHODS {
            return Err(ValueError::Implausible(format!("interface type {iface:#x} with {ni} methods")));
        }
        if ni == 0 {
            return Ok(Implements::Yes);
        }
        let (mut methods, mut mcount, mut upkg) = (0u64, 0u64, 0i32);
        if let Some(u) = self.uncommon_at(dynamic)? {
            upkg = self.mem.u32(u)? as i32;
            mcount = u64::from(self.mem.u32(u.wrapping_add(4))? & 0xffff);
            methods = u.wrapping_add(u64::from(self.mem.u32(u.wrapping_add(8))?));
        }
        // The interface's package path, for its unexported methods.
        let ipkg_text = if ipkg == 0 { String::new() } else { self.name_text(ipkg)? };
        for i in 0..ni {
            let im = imethods.wrapping_add(8 * i);
            let iname = self.name_at(base, self.mem.u32(im)? as i32)?;
            let ityp = self.mem.u32(im.wrapping_add(4))? as i32;
            let ipath = match iname.pkg {
                Some(p) => self.name_at(base, p)?.text,
                None => ipkg_text.clone(),
            };
            let mut found = false;
            for j in 0..mcount {
                let m = methods.wrapping_add(16 * j);
                let mname = self.name_at(base, self.mem.u32(m)? as i32)?;
                if mname.text != iname.text {
                    continue;
                }
                if iname.flags & NAME_EXPORTED == 0 {
                    let mpath = match mname.pkg {
                        Some(p) => self.name_at(base, p)?.text,
                        None if upkg != 0 => self.name_at(base, upkg)?.text,
                        None => String::new(),
                    };
                    if mpath != ipath {
                        continue;
                    }
                }
                let mtyp = self.mem.u32(m.wrapping_add(4))? as i32;
                if mtyp == -1 {
                    // The linker dropped the method's type: no itab could
                    // be built for it, but say so rather than guess.
                    return Err(ValueError::Layout(format!("method {} of the dynamic type was removed by the linker", mname.text)));
                }
                found = mtyp == ityp;
                break;
            }
            if !found {
                return Ok(Implements::Missing(iname.text));
            }
        }
        Ok(Implements::Yes)
    }

    /// An `abi.Name` given by pointer (InterfaceType.PkgPath).
    fn name_text(&self, p: u64) -> Result<String, ValueError> {
        Ok(self.name_at(p, 0)?.text)
    }
}
