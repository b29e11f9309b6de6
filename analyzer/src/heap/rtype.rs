//! The runtime's type descriptors (`internal/abi.Type` and its kind-specific
//! extensions), read far enough to follow pointers: a pointer's element, a
//! struct's fields, an array's element and length. Stripped binaries keep
//! them (the GC and reflection need them), so typing works without DWARF.
//!
//! 64-bit layout, Go 1.21 through 1.27: `Size_` 0, `PtrBytes` 8, `TFlag` 20,
//! `Kind_` 23, `Str` 40; the common part is 48 bytes, then `PtrType.Elem`,
//! `SliceType.Elem`, `ChanType.Elem`, `ArrayType.Elem` at 48 (`Len` at 64),
//! `MapType.Key`/`Elem` at 48/56, `StructType.Fields` (a slice of
//! `{Name, Typ, Offset}`) at 56, `InterfaceType.Methods` at 56.

use std::collections::HashMap;
use std::sync::Arc;

use crate::memory::Memory;
use crate::runtime::gotype::{GoType, Kind, TypeReader};

const OFF_PTRBYTES: u64 = 8;
const OFF_X: u64 = 48;
/// Struct fields read at most (a bigger count is garbage).
const MAX_FIELDS: u64 = 1 << 12;

#[derive(Debug, Clone)]
pub struct RType {
    pub addr: u64,
    pub name: String,
    pub kind: Kind,
    pub size: u64,
    pub ptr_bytes: u64,
    pub direct: bool,
    /// Pointer, slice, chan, array, map: the element; `None` if unreadable.
    pub elem: Option<u64>,
    /// Arrays: the length.
    pub len: u64,
    /// Structs: (offset, field type) of the fields that hold pointers.
    pub fields: Vec<(u64, u64)>,
    /// Interfaces: no methods (an `eface`).
    pub empty_iface: bool,
}

/// Slots of the direct-mapped cache in front of the map: a walk asks for
/// the same few descriptors millions of times.
const HOT: usize = 512;

pub struct RTypes<'a> {
    reader: TypeReader<'a>,
    mem: &'a dyn Memory,
    cache: HashMap<u64, Option<Arc<RType>>>,
    hot: Vec<Option<(u64, Arc<RType>)>>,
}

impl<'a> RTypes<'a> {
    pub fn new(reader: TypeReader<'a>) -> RTypes<'a> {
        let mem = reader.mem;
        RTypes { reader, mem, cache: HashMap::new(), hot: vec![None; HOT] }
    }

    /// The descriptor at runtime address `addr`, read once.
    pub fn get(&mut self, addr: u64) -> Option<Arc<RType>> {
        let slot = (addr >> 4) as usize % HOT;
        if let Some((a, t)) = &self.hot[slot] {
            if *a == addr {
                return Some(t.clone());
            }
        }
        let t = match self.cache.get(&addr) {
            Some(t) => t.clone(),
            None => {
                let t = self.read(addr).map(Arc::new);
                self.cache.insert(addr, t.clone());
                t
            }
        };
        if let Some(t) = &t {
            self.hot[slot] = Some((addr, t.clone()));
        }
        t
    }

    fn read(&self, addr: u64) -> Option<RType> {
        let GoType { addr, kind, size, name, direct } = self.reader.read(addr)?;
        let m = self.mem;
        let ptr_bytes = m.u64(addr + OFF_PTRBYTES).ok()?;
        if ptr_bytes > size {
            return None;
        }
        let mut t = RType { addr, name, kind, size, ptr_bytes, direct, elem: None, len: 0, fields: Vec::new(), empty_iface: false };
        match kind {
            Kind::Pointer | Kind::Slice | Kind::Chan | Kind::Array => {
                t.elem = m.u64(addr + OFF_X).ok().filter(|e| *e != 0);
                if kind == Kind::Array {
                    t.len = m.u64(addr + OFF_X + 16).ok()?;
                }
            }
            Kind::Map => t.elem = m.u64(addr + OFF_X + 8).ok().filter(|e| *e != 0),
            Kind::Struct if ptr_bytes > 0 => {
                let p = m.u64(addr + OFF_X + 8).ok()?;
                let n = m.u64(addr + OFF_X + 16).ok()?;
                if n > MAX_FIELDS {
                    return None;
                }
                let mut raw = vec![0u8; (n * 24) as usize];
                m.read(p, &mut raw).ok()?;
                for f in raw.chunks_exact(24) {
                    let w = |i: usize| u64::from_le_bytes(f[i..i + 8].try_into().unwrap_or([0; 8]));
                    let (typ, off) = (w(8), w(16));
                    if off < ptr_bytes && typ != 0 {
                        t.fields.push((off, typ));
                    }
                }
            }
            Kind::Interface => t.empty_iface = m.u64(addr + OFF_X + 16).ok()? == 0,
            _ => {}
        }
        Some(t)
    }
}
