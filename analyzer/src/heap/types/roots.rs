//! Extra typed roots given by the caller (goroutine stack frames'
//! variables, [`crate::heap::frame_roots`]), walked after the package
//! variables, before the walk along pointers.

use super::Worker;
use crate::dwarf::TypeRef;

impl Worker<'_> {
    /// Walk `roots` (runtime address, DWARF type) as typed roots.
    pub(super) fn type_roots(&mut self, roots: &[(u64, TypeRef)]) {
        if roots.is_empty() {
            return;
        }
        if let Ok(di) = self.bin.debug_info() {
            let types_base = self.bin.symbol("runtime.types");
            for (addr, ty) in roots {
                self.dwarf_value(di, types_base, *addr, *ty, 0);
            }
        }
    }
}
