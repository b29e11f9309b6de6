//! Typed roots from goroutine stacks: every variable DWARF places in
//! memory at a frame's pc (arguments and locals, of inlined calls too) is a
//! typed value whose pointers type what they point to, as package
//! variables do. Variables held in registers are left out (only the
//! innermost frame and async-preempted frames have registers, and a value
//! assembled from them has no address to walk from), so are frames of
//! binaries without DWARF.

use crate::analysis::{Analysis, Depth};
use crate::dwarf::TypeRef;
use crate::value::Src;

/// What the stacks gave.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct FrameRoots {
    /// (runtime address, DWARF type) of each variable in memory.
    #[serde(skip)]
    pub roots: Vec<(u64, TypeRef)>,
    pub goroutines: u64,
    pub frames: u64,
    /// Variables in scope with a place in memory (the roots).
    pub in_memory: u64,
    /// Variables in scope that were in registers or unavailable.
    pub not_in_memory: u64,
}

/// Collect the frame roots of every goroutine of `a` (none without DWARF).
pub fn collect(a: &Analysis) -> FrameRoots {
    let mut out = FrameRoots::default();
    let Ok(di) = a.bin.debug_info() else { return out };
    let _ = a.try_for_each_chunk(|chunk| -> Result<(), ()> {
        for r in chunk {
            let r = a.walked(r, Depth::Full);
            out.goroutines += 1;
            for f in &r.stack.frames {
                out.frames += 1;
                let regs = crate::vars::registers_for(a, &r, f);
                for lf in &f.logical {
                    for v in crate::vars::scope_vars(di, a, f, lf) {
                        let Some(ty) = v.ty else { continue };
                        match crate::vars::var_src(a, di, &v, f, regs.as_ref()) {
                            Ok(Src::Mem(addr)) => {
                                out.in_memory += 1;
                                out.roots.push((addr, ty));
                            }
                            _ => out.not_in_memory += 1,
                        }
                    }
                }
            }
        }
        Ok(())
    });
    out
}

/// The heap of `a`'s core, typed from its frames' variables too: what
/// `--heap`, its profile and the HTML report read.
pub fn read_heap(a: &Analysis) -> crate::error::Result<super::Heap> {
    let frames = collect(a);
    super::Heap::read_with_roots(&a.bin, &a.core, a.bias, &frames.roots)
}
