//! Go runtime type descriptors (`internal/abi.Type`) read from a core, just
//! enough to name the dynamic type of an interface value and to know its
//! kind: what `printpanicval` needs to print a panic value.
//!
//! Layout (Go 1.21 through 1.26, 64-bit): `Size_` at 0, `TFlag` at 20,
//! `Kind_` at 23, `Str` (a `NameOff` from `moduledata.types`) at 40. A name
//! is a flags byte, a varint length, then the bytes; `TFlagExtraStar` says
//! the stored name has a `*` that this type does not (the name is shared
//! with the pointer type).

use crate::binary::Binary;
use crate::memory::Memory;

const OFF_SIZE: u64 = 0;
const OFF_TFLAG: u64 = 20;
const OFF_KIND: u64 = 23;
const OFF_STR: u64 = 40;
const TFLAG_EXTRA_STAR: u8 = 1 << 1;
/// Before Go 1.26 the direct-interface bit lived in `Kind_`; from 1.26 in `TFlag`.
const KIND_DIRECT_IFACE: u8 = 1 << 5;
const TFLAG_DIRECT_IFACE: u8 = 1 << 5;
const KIND_MASK: u8 = (1 << 5) - 1;
/// `moduledata.types` (Go 1.20+: after the coverage counters; 1.18/1.19: 16 bytes earlier).
const OFF_MODULEDATA_TYPES_120: u64 = 296;
const OFF_MODULEDATA_TYPES_118: u64 = 280;
/// Type names longer than this are taken as garbage.
const MAX_NAME: u64 = 1024;

/// `internal/abi.Kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bool = 1,
    Int,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint,
    Uint8,
    Uint16,
    Uint32,
    Uint64,
    Uintptr,
    Float32,
    Float64,
    Complex64,
    Complex128,
    Array,
    Chan,
    Func,
    Interface,
    Map,
    Pointer,
    Slice,
    String,
    Struct,
    UnsafePointer,
}

impl Kind {
    fn from_u8(k: u8) -> Option<Kind> {
        use Kind::*;
        const ALL: [Kind; 26] = [
            Bool, Int, Int8, Int16, Int32, Int64, Uint, Uint8, Uint16, Uint32, Uint64, Uintptr, Float32,
            Float64, Complex64, Complex128, Array, Chan, Func, Interface, Map, Pointer, Slice, String,
            Struct, UnsafePointer,
        ];
        ALL.get((k as usize).checked_sub(1)?).copied()
    }
}

#[derive(Debug, Clone)]
pub struct GoType {
    /// Runtime address of the descriptor.
    pub addr: u64,
    pub kind: Kind,
    pub size: u64,
    /// The runtime's `toRType(t).string()`: `string`, `*errors.errorString`, `main.custom`.
    pub name: String,
    /// The value is stored in the interface's data word itself (pointer-shaped types).
    pub direct: bool,
}

/// Reads type descriptors of one executable's module.
pub struct TypeReader<'a> {
    pub bin: &'a Binary,
    pub mem: &'a dyn Memory,
    pub bias: u64,
}

impl<'a> TypeReader<'a> {
    /// Runtime address of `moduledata.types`, the base of every `NameOff`.
    fn types_base(&self) -> Option<u64> {
        if let Some(a) = self.bin.symbol("runtime.types") {
            return Some(a.wrapping_add(self.bias));
        }
        let md = self.bin.moduledata.as_ref()?;
        let off = if self.bin.go_minor().unwrap_or(26) >= 20 {
            OFF_MODULEDATA_TYPES_120
        } else {
            OFF_MODULEDATA_TYPES_118
        };
        // The moduledata is static data: its link-time copy holds link-time
        // addresses, which PIE relocations shift by the bias.
        Some(self.bin.static_u64(md.addr + off)?.wrapping_add(self.bias))
    }

    pub fn read(&self, addr: u64) -> Option<GoType> {
        if addr == 0 || addr & 7 != 0 {
            return None;
        }
        let m = self.mem;
        let kind_byte = m.u8(addr.wrapping_add(OFF_KIND)).ok()?;
        let tflag = m.u8(addr.wrapping_add(OFF_TFLAG)).ok()?;
        let kind = Kind::from_u8(kind_byte & KIND_MASK)?;
        let size = m.u64(addr.wrapping_add(OFF_SIZE)).ok()?;
        let str_off = m.u32(addr.wrapping_add(OFF_STR)).ok()? as i32;
        let name_addr = self.types_base()?.wrapping_add(str_off as i64 as u64);
        let mut name = self.read_name(name_addr)?;
        if tflag & TFLAG_EXTRA_STAR != 0 {
            name = name.strip_prefix('*').map(str::to_string).unwrap_or(name);
        }
        let direct = kind_byte & KIND_DIRECT_IFACE != 0
            || (self.bin.go_minor().unwrap_or(0) >= 26 && tflag & TFLAG_DIRECT_IFACE != 0);
        Some(GoType { addr, kind, size, name, direct })
    }

    /// An `abi.Name`: flags byte, varint length, bytes.
    fn read_name(&self, addr: u64) -> Option<String> {
        let mut len = 0u64;
        let mut i = 1u64;
        for shift in (0..).step_by(7).take(4) {
            let b = self.mem.u8(addr.wrapping_add(i)).ok()?;
            i += 1;
            len |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                break;
            }
        }
        if len > MAX_NAME {
            return None;
        }
        let s = self.mem.string_at(addr.wrapping_add(i), len, MAX_NAME).ok()?;
        (!s.contains('\u{fffd}')).then_some(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Kind::from_u8(1), Some(Kind::Bool));
        assert_eq!(Kind::from_u8(24), Some(Kind::String));
        assert_eq!(Kind::from_u8(26), Some(Kind::UnsafePointer));
        assert_eq!(Kind::from_u8(0), None);
        assert_eq!(Kind::from_u8(27), None);
    }
}
