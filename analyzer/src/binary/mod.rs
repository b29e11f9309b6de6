//! The Go executable: where its pclntab and moduledata are, its Go version,
//! its symbols (when not stripped) and its static bytes by link-time address.
//! Works for ELF, Mach-O and PE through `object`; stripped binaries are
//! handled by scanning for the pclntab header and the moduledata that points
//! at it.

pub mod elfsym;
pub mod inline;
pub(crate) mod layout_table;
pub mod moduledata;
pub mod pclntab;
pub mod runtime_types;
pub mod sections;
pub mod symbolize;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol};

use crate::error::{Error, Result};
use crate::binary::moduledata::Moduledata;
use crate::binary::pclntab::Pclntab;
use crate::binary::runtime_types::Layout;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinArch {
    Amd64,
    Arm64,
}

impl BinArch {
    pub fn name(self) -> &'static str {
        match self {
            BinArch::Amd64 => "amd64",
            BinArch::Arm64 => "arm64",
        }
    }
    pub fn uses_lr(self) -> bool {
        self == BinArch::Arm64
    }
    /// `sys.PCQuantum`.
    pub fn pc_quantum(self) -> u64 {
        match self {
            BinArch::Amd64 => 1,
            BinArch::Arm64 => 4,
        }
    }
}

#[derive(Debug, Clone)]
struct Segment {
    addr: u64,
    file_off: u64,
    filesz: u64,
}

#[derive(Debug, Clone)]
pub struct SectionInfo {
    pub name: String,
    pub addr: u64,
    pub size: u64,
}

pub struct Binary {
    pub path: PathBuf,
    pub arch: BinArch,
    /// e.g. "go1.26.8", from the build info blob or `runtime.buildVersion`.
    pub go_version: Option<String>,
    pub pcln: Pclntab,
    pub moduledata: Option<Moduledata>,
    /// Link-time symbol addresses and sizes (empty for stripped binaries).
    pub symbols: HashMap<String, (u64, u64)>,
    pub sections: Vec<SectionInfo>,
    /// Runtime struct layouts: from DWARF when present, else the version table.
    pub layout: Layout,
    pub has_dwarf: bool,
    /// `abi.FuncIDWrapper` is the last FuncID, so its value changes between
    /// Go versions; every binary has wrappers, so it is the largest funcID
    /// in the table.
    pub wrapper_func_id: u8,
    pub build_id: Option<Vec<u8>>,
    pub(crate) image: Image,
    /// The DWARF for variables, or why there is none (`None`: the binary
    /// has none); built on first use (stacks never need it).
    debug: std::sync::OnceLock<std::result::Result<crate::dwarf::DebugInfo, Option<String>>>,
    /// The DWARF sections, decompressed once for the layouts and `debug`.
    dwarf_sections: sections::DwarfSections,
}

/// The file's bytes and its loadable segments: enough to read static data
/// by link-time address.
pub(crate) struct Image {
    map: core_reader::spliced::Bytes,
    segments: Vec<Segment>,
}

impl std::fmt::Debug for Binary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Binary")
            .field("path", &self.path)
            .field("arch", &self.arch)
            .field("go_version", &self.go_version)
            .finish()
    }
}

const BUILDINFO_MAGIC: &[u8] = b"\xff Go buildinf:";
/// Most pclntab candidates a scan of a stripped binary parses.
const MAX_PCLNTAB_CANDIDATES: usize = 64;

impl Binary {
    /// Map and read the executable at `path`.
    pub fn open(path: &Path) -> Result<Binary> {
        Self::from_bytes(path, core_reader::map_file(path)?)
    }

    /// Read the executable whose bytes are `map` (the core reader's map of
    /// it, so that the file is mapped once); `path` names it in messages.
    pub fn from_bytes(path: &Path, map: core_reader::spliced::Bytes) -> Result<Binary> {
        let bad = |what: String| Error::Binary { path: path.to_path_buf(), what };
        let obj = object::File::parse((*map).as_ref()).map_err(|e| bad(format!("not an executable: {e}")))?;
        let arch = match obj.architecture() {
            object::Architecture::X86_64 => BinArch::Amd64,
            object::Architecture::Aarch64 => BinArch::Arm64,
            a => return Err(bad(format!("unsupported architecture {a:?}"))),
        };

        let segments: Vec<Segment> = obj
            .segments()
            .map(|s| {
                let (off, sz) = s.file_range();
                Segment { addr: s.address(), file_off: off, filesz: sz }
            })
            .collect();
        let sections: Vec<SectionInfo> = obj
            .sections()
            .map(|s| SectionInfo {
                name: s.name().unwrap_or("").to_string(),
                addr: s.address(),
                size: s.size(),
            })
            .collect();
        let mut symbols = HashMap::new();
        for s in obj.symbols() {
            if let Ok(n) = s.name() {
                if !n.is_empty() {
                    symbols.entry(n.to_string()).or_insert((s.address(), s.size()));
                }
            }
        }

        let image = Image { map: map.clone(), segments };
        let go_version = image.find_build_version(&obj, &symbols);

        // The pclntab.
        let (pc_addr, pc_end) = image
            .find_pclntab(&obj, &symbols)
            .ok_or_else(|| bad("no Go pclntab found: not a Go binary, or Go older than 1.18".into()))?;
        let pc_data = usize::try_from(pc_end.saturating_sub(pc_addr))
            .ok()
            .and_then(|len| image.static_bytes(pc_addr, len))
            .ok_or_else(|| bad(format!("pclntab at {pc_addr:#x} is not in the file")))?;
        // The moduledata: its `text` field is the best textStart hint for PIE.
        let md = crate::binary::moduledata::find(&image, &obj, &symbols, pc_addr, go_version.as_deref().and_then(parse_go_minor));
        let text_hint = md
            .as_ref()
            .map(|m| m.text)
            .filter(|t| *t != 0)
            .or_else(|| symbols.get("runtime.text").map(|s| s.0))
            .or_else(|| sections.iter().find(|s| s.name == ".text").map(|s| s.addr));
        let pcln = Pclntab::parse(pc_addr, pc_data.to_vec(), text_hint).map_err(|e| bad(e.to_string()))?;

        let mut bin = Binary {
            path: path.to_path_buf(),
            arch,
            go_version,
            pcln,
            moduledata: md,
            symbols,
            sections,
            layout: Layout::default(),
            has_dwarf: false,
            wrapper_func_id: 0,
            build_id: obj.build_id().ok().flatten().map(|b| b.to_vec()),
            image,
            debug: std::sync::OnceLock::new(),
            dwarf_sections: sections::DwarfSections::default(),
        };

        bin.wrapper_func_id = bin.pcln.funcs().map(|f| f.func_id).max().unwrap_or(0);
        // Runtime layouts: DWARF first, then the table for this version.
        let load = |id| bin.dwarf_sections.get(&obj, id);
        match crate::binary::runtime_types::from_dwarf(&load) {
            Ok(Some(l)) => {
                bin.layout = l;
                bin.has_dwarf = true;
            }
            other => {
                let dwarf_err = match other {
                    Err(e) => format!(" (DWARF unusable: {e})"),
                    _ => String::new(),
                };
                bin.layout = crate::binary::runtime_types::from_table(bin.go_version.as_deref())
                    .map_err(|e| bad(format!("{e}{dwarf_err}")))?;
            }
        }
        Ok(bin)
    }

    pub fn section(&self, name: &str) -> Option<&SectionInfo> {
        self.sections.iter().find(|s| s.name == name)
    }

    pub fn symbol(&self, name: &str) -> Option<u64> {
        self.symbols.get(name).map(|s| s.0)
    }

    pub fn static_bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.image.static_bytes(addr, len)
    }

    pub fn read_static(&self, addr: u64, buf: &mut [u8]) -> bool {
        self.image.read_static(addr, buf)
    }

    pub fn static_u64(&self, addr: u64) -> Option<u64> {
        self.image.static_u64(addr)
    }

    pub(crate) fn data_ranges(&self) -> Vec<(u64, u64)> {
        self.image.data_ranges()
    }

    /// The DWARF for variables and types, loaded (and decompressed) on
    /// first use; the error says why there is none.
    pub fn debug_info(&self) -> Result<&crate::dwarf::DebugInfo> {
        let d = self.debug.get_or_init(|| {
            let obj = object::File::parse((*self.image.map).as_ref()).map_err(|e| Some(e.to_string()))?;
            match crate::dwarf::DebugInfo::load(|id| self.dwarf_sections.get(&obj, id)) {
                Ok(Some(d)) => Ok(d),
                Ok(None) => Err(None),
                Err(e) => Err(Some(e.to_string())),
            }
        });
        d.as_ref().map_err(|why| Error::NoDwarf { path: self.path.clone(), why: why.clone() })
    }

    /// Run `f` with a loader of this binary's DWARF sections (decompressed
    /// once and shared); `None` when the file no longer parses.
    pub fn with_dwarf_loader<T>(
        &self,
        f: impl FnOnce(&dyn Fn(gimli::SectionId) -> std::result::Result<crate::dwarf::R, crate::dwarf::DwarfError>) -> T,
    ) -> Option<T> {
        let obj = object::File::parse((*self.image.map).as_ref()).ok()?;
        let load = |id| self.dwarf_sections.get(&obj, id);
        Some(f(&load))
    }

    /// Parsed (major, minor) Go version, e.g. (1, 26).
    pub fn go_minor(&self) -> Option<u32> {
        parse_go_minor(self.go_version.as_deref()?)
    }
}

impl Image {
    /// Static bytes of the file at link-time `addr` (None when outside the
    /// file-backed part of a segment).
    /// Every number here comes from the file: no arithmetic may overflow.
    pub fn static_bytes(&self, addr: u64, len: usize) -> Option<&[u8]> {
        for s in &self.segments {
            if addr >= s.addr && addr - s.addr < s.filesz {
                let off = addr - s.addr;
                if off.checked_add(len as u64)? > s.filesz {
                    return None;
                }
                let start = usize::try_from(s.file_off.checked_add(off)?).ok()?;
                return (*self.map).as_ref().get(start..start.checked_add(len)?);
            }
        }
        None
    }

    pub fn read_static(&self, addr: u64, buf: &mut [u8]) -> bool {
        match self.static_bytes(addr, buf.len()) {
            Some(b) => {
                buf.copy_from_slice(b);
                true
            }
            None => false,
        }
    }

    pub fn static_u64(&self, addr: u64) -> Option<u64> {
        self.static_bytes(addr, 8).map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    }

    /// The file-backed end of the segment containing `addr`.
    fn segment_end(&self, addr: u64) -> Option<u64> {
        self.segments
            .iter()
            .find(|s| addr >= s.addr && addr - s.addr < s.filesz)
            .map(|s| s.addr.saturating_add(s.filesz))
    }

    /// Link-time ranges of file-backed data, for scans.
    pub(crate) fn data_ranges(&self) -> Vec<(u64, u64)> {
        self.segments.iter().filter(|s| s.filesz > 0).map(|s| (s.addr, s.addr.saturating_add(s.filesz))).collect()
    }

    fn find_pclntab(&self, obj: &object::File, symbols: &HashMap<String, (u64, u64)>) -> Option<(u64, u64)> {
        for name in [".gopclntab", "__gopclntab"] {
            if let Some(s) = obj.section_by_name(name) {
                if s.size() > 0 && self.static_bytes(s.address(), 8).is_some_and(pclntab::looks_like_header) {
                    return Some((s.address(), s.address().saturating_add(s.size())));
                }
            }
        }
        if let (Some(a), Some(e)) = (symbols.get("runtime.pclntab").map(|s| s.0), symbols.get("runtime.epclntab").map(|s| s.0)) {
            if e > a && self.static_bytes(a, 8).is_some_and(pclntab::looks_like_header) {
                return Some((a, e));
            }
        }
        // Scan the file for the header magic at 8-byte alignment; accept the
        // first candidate whose header parses and whose first function looks
        // sane. Only candidates whose header fits are copied and parsed, and
        // only so many: a file full of fake headers must not cost
        // (candidates x file size).
        let mut parsed = 0;
        for s in &self.segments {
            let Some(bytes) = usize::try_from(s.filesz).ok().and_then(|n| self.static_bytes(s.addr, n)) else { continue };
            let mut i = 0usize;
            while i + 64 <= bytes.len() && parsed < MAX_PCLNTAB_CANDIDATES {
                if Pclntab::header_fits(&bytes[i..]) {
                    parsed += 1;
                    let addr = s.addr.wrapping_add(i as u64);
                    let end = s.addr.saturating_add(s.filesz);
                    if let Ok(t) = Pclntab::parse(addr, bytes[i..].to_vec(), Some(0)) {
                        if t.func_at(0).is_some() && t.func_at(t.nfunc - 1).is_some() {
                            return Some((addr, end));
                        }
                    }
                }
                i += 8;
            }
        }
        None
    }

    fn find_build_version(&self, obj: &object::File, symbols: &HashMap<String, (u64, u64)>) -> Option<String> {
        // The build info blob: `.go.buildinfo` or, failing that, a scan.
        let mut blob_addr = obj.section_by_name(".go.buildinfo").map(|s| s.address());
        if blob_addr.is_none() {
            'scan: for s in &self.segments {
                let Some(bytes) = usize::try_from(s.filesz).ok().and_then(|n| self.static_bytes(s.addr, n)) else { continue };
                let mut i = 0;
                while i + 32 <= bytes.len() {
                    if &bytes[i..i + BUILDINFO_MAGIC.len()] == BUILDINFO_MAGIC {
                        blob_addr = Some(s.addr.wrapping_add(i as u64));
                        break 'scan;
                    }
                    i += 16;
                }
            }
        }
        if let Some(a) = blob_addr {
            if let Some(v) = self.parse_buildinfo(a) {
                return Some(v);
            }
        }
        // runtime.buildVersion is a Go string header in the data section.
        let a = symbols.get("runtime.buildVersion")?.0;
        let ptr = self.static_u64(a)?;
        let len = self.static_u64(a.wrapping_add(8))?;
        if len == 0 || len > 64 {
            return None;
        }
        let b = self.static_bytes(ptr, len as usize)?;
        Some(String::from_utf8_lossy(b).into_owned())
    }

    /// debug/buildinfo's format: magic, ptrsize, flags; with flags&2 the
    /// version follows at +32 as a varint-prefixed string (Go 1.18+).
    fn parse_buildinfo(&self, addr: u64) -> Option<String> {
        let h = self.static_bytes(addr, 32)?;
        if &h[..BUILDINFO_MAGIC.len()] != BUILDINFO_MAGIC {
            return None;
        }
        let flags = h[15];
        if flags & 2 != 0 {
            let end = self.segment_end(addr)?;
            let rest = self.static_bytes(addr.checked_add(32)?, end.checked_sub(addr)?.checked_sub(32)?.min(256) as usize)?;
            let (len, n) = {
                let mut v = 0usize;
                let mut n = 0;
                loop {
                    let b = *rest.get(n)?;
                    v |= ((b & 0x7f) as usize) << (7 * n);
                    n += 1;
                    if b & 0x80 == 0 || n > 4 {
                        break;
                    }
                }
                (v, n)
            };
            let s = rest.get(n..n.checked_add(len)?)?;
            return Some(String::from_utf8_lossy(s).into_owned());
        }
        // Older: pointers to string headers.
        let p = u64::from_le_bytes(h[16..24].try_into().ok()?);
        let ptr = self.static_u64(p)?;
        let len = self.static_u64(p.wrapping_add(8))?;
        if len > 64 {
            return None;
        }
        Some(String::from_utf8_lossy(self.static_bytes(ptr, len as usize)?).into_owned())
    }

}

/// "go1.26.8" -> 26; "go1.22rc1" -> 22; "devel go1.27-abc" -> 27.
pub fn parse_go_minor(v: &str) -> Option<u32> {
    let i = v.find("go1.")?;
    let digits: String = v[i + 4..].chars().take_while(|c| c.is_ascii_digit()).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_minor() {
        assert_eq!(super::parse_go_minor("go1.26.8"), Some(26));
        assert_eq!(super::parse_go_minor("go1.22rc1"), Some(22));
        assert_eq!(super::parse_go_minor("devel go1.27-abc"), Some(27));
        assert_eq!(super::parse_go_minor("weird"), None);
    }
}
