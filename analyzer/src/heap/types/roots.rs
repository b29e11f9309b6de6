//! Extra typed roots given by the caller (goroutine stack frames'
//! variables, [`crate::heap::frame_roots`]), walked after the package
//! variables and before propagation.

use super::{Typer, Typing};
use crate::dwarf::TypeRef;

impl Typer<'_> {
    /// [`Typer::run`], with `roots` (runtime address, DWARF type) as typed
    /// roots after the package variables.
    pub fn run_with_roots(mut self, roots: &[(u64, TypeRef)]) -> Typing {
        self.type_allocations();
        self.type_globals();
        if !roots.is_empty() {
            if let Ok(di) = self.bin.debug_info() {
                let types_base = self.bin.symbol("runtime.types");
                for (addr, ty) in roots {
                    self.dwarf_value(di, types_base, *addr, *ty, 0);
                }
            }
        }
        self.propagate();
        self.t
    }
}
