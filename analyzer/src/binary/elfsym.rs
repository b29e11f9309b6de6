//! Names for code outside Go's pclntab: the ELF symbol tables (`.symtab`,
//! else what `.dynsym` exports) of the module a pc is in. C frames print as
//! `name+0xoff`, the way gdb names a pc it has only minimal symbols for.

use object::{Object, ObjectSection, ObjectSymbol, SectionKind, SymbolKind};

/// A module's code symbols, sorted by link-time address.
#[derive(Debug, Default)]
pub struct Symbols {
    syms: Vec<Sym>,
}

#[derive(Debug, Clone)]
struct Sym {
    addr: u64,
    size: u64,
    name: String,
    global: bool,
}

/// Among aliases at one address (libc has `sleep`, `__sleep`), the name a
/// reader recognises: the fewest leading underscores, then a global one,
/// then the shortest.
fn preference(s: &Sym) -> (usize, bool, usize) {
    (s.name.len() - s.name.trim_start_matches('_').len(), !s.global, s.name.len())
}

impl Symbols {
    /// Read the code symbols of an ELF file. A file that does not parse
    /// has no symbols (the caller then names pcs by module and offset).
    pub fn parse(data: &[u8]) -> Symbols {
        let Ok(obj) = object::File::parse(data) else { return Symbols::default() };
        let exec_section = |idx: Option<object::SectionIndex>| {
            idx.and_then(|i| obj.section_by_index(i).ok()).is_some_and(|s| s.kind() == SectionKind::Text)
        };
        let mut syms: Vec<Sym> = obj
            .symbols()
            .chain(obj.dynamic_symbols())
            .filter(|s| s.is_definition() || s.kind() == SymbolKind::Unknown)
            // Assembly labels (crosscall1 in cgo's gcc_amd64.S) are often
            // STT_NOTYPE: keep those that sit in a code section.
            .filter(|s| s.kind() == SymbolKind::Text || (s.kind() == SymbolKind::Unknown && exec_section(s.section_index())))
            .filter(|s| s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok()?;
                // arm64 mapping symbols ($x, $d) mark code/data, not functions.
                if name.is_empty() || name.starts_with('$') || name.starts_with(".L") {
                    return None;
                }
                Some(Sym { addr: s.address(), size: s.size(), name: name.to_string(), global: s.is_global() })
            })
            .collect();
        syms.sort_by(|a, b| a.addr.cmp(&b.addr).then_with(|| preference(a).cmp(&preference(b))));
        syms.dedup_by_key(|s| s.addr);
        Symbols { syms }
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// The symbol containing `link_addr` and the offset into it. A symbol
    /// with a size must contain the address; one without (assembly labels)
    /// covers up to the next symbol, but no further than `MAX_UNSIZED`.
    pub fn lookup(&self, link_addr: u64) -> Option<(&str, u64)> {
        const MAX_UNSIZED: u64 = 1 << 16;
        let i = self.syms.partition_point(|s| s.addr <= link_addr);
        let s = self.syms.get(i.checked_sub(1)?)?;
        let off = link_addr - s.addr;
        let inside = if s.size > 0 { off < s.size } else { off < MAX_UNSIZED };
        inside.then_some((s.name.as_str(), off))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(addr: u64, size: u64, name: &str, global: bool) -> Sym {
        Sym { addr, size, name: name.into(), global }
    }

    #[test]
    fn lookup_prefers_plain_names_and_respects_sizes() {
        let mut syms = vec![
            sym(0x100, 0x20, "__sleep", true),
            sym(0x100, 0x20, "sleep", false),
            sym(0x200, 0, "crosscall1", false),
        ];
        syms.sort_by(|a, b| a.addr.cmp(&b.addr).then_with(|| preference(a).cmp(&preference(b))));
        syms.dedup_by_key(|s| s.addr);
        let t = Symbols { syms };
        assert_eq!(t.lookup(0x110), Some(("sleep", 0x10)));
        assert_eq!(t.lookup(0x130), None, "past the end of a sized symbol");
        assert_eq!(t.lookup(0x250), Some(("crosscall1", 0x50)));
        assert_eq!(t.lookup(0xff), None);
        assert!(Symbols::parse(b"not an ELF file").is_empty());
    }
}
