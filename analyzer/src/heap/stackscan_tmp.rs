//! TEMPORARY, until the precise stack roots (`heap::stackroots`, stack
//! maps) are merged: every goroutine's live frames as roots scanned
//! conservatively, one root per frame (`goroutine 17, main.worker`), from
//! the frame's stack pointer to its caller's. Conservative: a dead slot
//! still holding a pointer keeps its object reachable here, so a stack
//! can make an object look shared that the collector would free.

use super::graph::{Root, RootKind};
use crate::analysis::{Analysis, Depth};

/// Largest frame scanned (a bigger gap between two stack pointers is a
/// broken walk).
const MAX_FRAME: u64 = 1 << 20;

pub fn conservative_stack_roots(a: &Analysis) -> Vec<Root> {
    let mut roots = Vec::new();
    for r in &a.goroutines {
        let w = a.walked(r, Depth::Full);
        let (lo, hi) = (w.g.stack_lo, w.g.stack_hi);
        let frames = &w.stack.frames;
        for (i, f) in frames.iter().enumerate() {
            let end = frames.get(i + 1).map(|n| n.sp).unwrap_or(hi);
            let start = f.sp & !7;
            if start < lo || end > hi || end <= start || end - start > MAX_FRAME {
                continue;
            }
            let func = f.logical.last().map(|l| l.name.to_string()).unwrap_or_else(|| format!("{:#x}", f.pc));
            roots.push(Root {
                kind: RootKind::Stack,
                name: format!("goroutine {}, {}", w.g.goid, func),
                goid: Some(w.g.goid),
                addr: start,
                len: (end - start) & !7,
                mask: None,
            });
        }
    }
    roots
}
