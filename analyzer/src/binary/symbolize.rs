//! Names for pcs outside Go code (C libraries, the VDSO): the mapping's file
//! and, when that file is readable and has a symbol table, the nearest
//! preceding symbol. Used by `--threads`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSymbol};

#[derive(Default)]
pub struct Symbolizer {
    /// Per library: (link-time address of the first executable section's
    /// file offset 0 mapping, sorted symbols (addr, name)).
    libs: HashMap<PathBuf, Option<Vec<(u64, String)>>>,
}

impl Symbolizer {
    fn symbols(&mut self, path: &Path) -> Option<&Vec<(u64, String)>> {
        self.libs
            .entry(path.to_path_buf())
            .or_insert_with(|| {
                let data = std::fs::read(path).ok()?;
                let obj = object::File::parse(&data[..]).ok()?;
                let mut v: Vec<(u64, String)> = obj
                    .symbols()
                    .chain(obj.dynamic_symbols())
                    .filter(|s| s.kind() == object::SymbolKind::Text && s.address() != 0)
                    .filter_map(|s| Some((s.address(), s.name().ok()?.to_string())))
                    .collect();
                // Without any section the file is not worth keeping.
                obj.sections().next()?;
                v.sort();
                v.dedup_by_key(|e| e.0);
                Some(v)
            })
            .as_ref()
    }

    /// "name+0xoff (file)" or "file+0xoff" for a pc in `mapping`.
    pub fn describe(&mut self, pc: u64, m: &core_reader::Mapping) -> String {
        let Some(path) = &m.path else { return "?".into() };
        let file_off = pc - m.start + m.file_offset;
        let short = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        // Shared objects are linked at 0, so a symbol's address equals its
        // file offset within the text segment for the usual layouts.
        if let Some(syms) = self.symbols(path) {
            let i = syms.partition_point(|(a, _)| *a <= file_off);
            if i > 0 {
                let (a, name) = &syms[i - 1];
                if file_off - a < 1 << 20 {
                    return format!("{name}+{:#x} ({short})", file_off - a);
                }
            }
        }
        format!("{short}+{file_off:#x}")
    }
}
