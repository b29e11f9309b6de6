//! Inlined calls: `FUNCDATA_InlTree` (an array of `inlinedCall`) and
//! `PCDATA_InlTreeIndex` (which entry is live at a pc). One physical frame
//! expands to the chain of inlined callees plus the outer function, innermost
//! first, the way runtime/symtabinl.go's inlineUnwinder walks it.

use std::sync::Arc;

use crate::binary::pclntab::{Func, Pclntab, FUNCDATA_INL_TREE, PCDATA_INL_TREE_INDEX};

use crate::binary::pclntab::PclnVersion;

/// `runtime.inlinedCall`: Go 1.20+ is {funcID u8, _ [3]byte, nameOff i32,
/// parentPc i32, startLine i32}; Go 1.18/1.19 is {parent i16, funcID u8,
/// _ byte, file i32, line i32, func_ i32, parentPc i32}.
struct InlLayout {
    size: u64,
    func_id: usize,
    name_off: usize,
    parent_pc: usize,
    /// `startLine` (Go 1.20+): the line of the inlined function's `func`.
    start_line: Option<usize>,
}

fn inl_layout(v: PclnVersion) -> InlLayout {
    match v {
        PclnVersion::Go120 => InlLayout { size: 16, func_id: 0, name_off: 4, parent_pc: 8, start_line: Some(12) },
        PclnVersion::Go118 => InlLayout { size: 20, func_id: 2, name_off: 12, parent_pc: 16, start_line: None },
    }
}
/// Inline depth is small in practice; the cap only protects against cycles.
const MAX_INLINE_DEPTH: usize = 100;

/// One logical frame of a physical frame.
#[derive(Debug, Clone)]
pub struct LogicalFrame {
    /// Shared with every other frame of the same function (and file).
    pub name: Arc<str>,
    pub file: Arc<str>,
    pub line: i64,
    pub inlined: bool,
    pub func_id: u8,
    /// The line of the function's `func` keyword (Go 1.20+; 0 when
    /// unknown), as pprof profiles record it.
    pub start_line: i32,
}

/// Expand link-time `pc` (already backed up into the call instruction) of `f`.
/// `read` reads static bytes at a link-time address; `gofunc` is the
/// link-time address of moduledata.gofunc, when known.
pub fn expand(
    tab: &Pclntab,
    f: &Func,
    pc: u64,
    gofunc: Option<u64>,
    read: &dyn Fn(u64, &mut [u8]) -> bool,
) -> Vec<LogicalFrame> {
    let mut out = Vec::new();
    let tree = match (gofunc, tab.funcdata_off(f, FUNCDATA_INL_TREE)) {
        (Some(base), Some(off)) => Some(base.wrapping_add(off as u64)),
        _ => None,
    };
    let lay = inl_layout(tab.version);
    let mut cur = pc;
    if let Some(tree) = tree {
        let idx_tab = tab.pcdata_off(f, PCDATA_INL_TREE_INDEX);
        for _ in 0..MAX_INLINE_DEPTH {
            let idx = match tab.pcvalue(idx_tab, f.entry, cur) {
                Some(i) if i >= 0 => i,
                _ => break,
            };
            let mut b = [0u8; 20];
            let b = &mut b[..lay.size as usize];
            if idx > 1 << 20 || !read(tree.wrapping_add(idx as u64 * lay.size), b) {
                break;
            }
            let i32_at = |o: usize| i32::from_le_bytes(b[o..o + 4].try_into().unwrap());
            let func_id = b[lay.func_id];
            let name_off = i32_at(lay.name_off);
            let parent_pc = i32_at(lay.parent_pc);
            let start_line = lay.start_line.map_or(0, i32_at);
            let (file, line) = tab.shared_file_line(f, cur);
            out.push(LogicalFrame {
                name: tab.shared_name(name_off),
                file,
                line,
                inlined: true,
                func_id,
                start_line,
            });
            if parent_pc < 0 {
                break;
            }
            cur = f.entry.wrapping_add(parent_pc as u64);
        }
    }
    let (file, line) = tab.shared_file_line(f, cur);
    out.push(LogicalFrame {
        name: tab.shared_name(f.name_off),
        file,
        line,
        inlined: false,
        func_id: f.func_id,
        start_line: f.start_line,
    });
    out
}
