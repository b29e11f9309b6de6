//! Which words hold pointers: of a heap object (by its span and the
//! runtime's pointer metadata) and of the package variables (the data and
//! bss sections). Where the metadata is not read, a scan is conservative:
//! every aligned word that points into an object counts.

use super::objects::ObjId;
use super::graph::{Root, RootKind};
use super::Heap;
use crate::binary::Binary;
use crate::memory::Memory;

/// How to find the pointers of one object.
#[derive(Debug, Clone)]
pub enum Scan {
    /// A noscan span: the object holds no pointers.
    NoPointers,
    /// The words at `[addr, addr+len)` picked by `mask` (one bit per word).
    Mask { addr: u64, len: u64, mask: Vec<u8> },
    /// Every word of `[addr, addr+len)`.
    Conservative { addr: u64, len: u64 },
}

/// The pointer words of object `id` (in span `k` of the index).
pub fn scan_of(heap: &Heap, _mem: &dyn Memory, id: ObjId, k: usize) -> Scan {
    let s = &heap.objects.spans[k];
    if s.noscan {
        return Scan::NoPointers;
    }
    Scan::Conservative { addr: heap.objects.base(id), len: s.elemsize }
}

/// The package variables as roots: one per symbol of the data and bss
/// sections (one per section without symbols), scanned conservatively.
pub fn global_roots(bin: &Binary, bias: u64) -> Vec<Root> {
    let mut roots = Vec::new();
    for sec in [".data", ".bss"] {
        let Some(s) = bin.section(sec) else { continue };
        let (lo, hi) = (s.addr, s.addr + s.size);
        let mut syms: Vec<(u64, u64, &str)> = bin
            .symbols
            .iter()
            .filter(|(_, (a, n))| *a >= lo && *a < hi && *n > 0)
            .map(|(name, (a, n))| (*a, *n, name.as_str()))
            .collect();
        syms.sort_unstable();
        if syms.is_empty() {
            roots.push(Root { kind: RootKind::Global, name: sec.to_string(), goid: None, addr: lo + bias, len: s.size & !7, mask: None });
            continue;
        }
        for (a, n, name) in syms {
            let start = a & !7;
            let len = (a + n).min(hi).div_ceil(8) * 8 - start;
            roots.push(Root { kind: RootKind::Global, name: name.to_string(), goid: None, addr: start + bias, len, mask: None });
        }
    }
    roots
}
