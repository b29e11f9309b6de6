//! The executable: what we need from its file (entry, segments, build ids),
//! the same facts read back from the core's copy of its first page, and the
//! load bias of a position-independent build.

use elfwriter::elf::{ET_DYN, PT_LOAD, PT_NOTE};

use crate::elf::{self, Phdr};
use crate::le::bytes_at;
use crate::notes::{go_build_id, gnu_build_id, Notes};
use elfwriter::elf::{NoteType, ELF_NOTE_FDO, NT_FDO_PACKAGING_METADATA, NT_GNU_BUILD_ID};
use crate::SplicedMemory;

pub const AT_PHDR: u64 = 3;
pub const AT_ENTRY: u64 = 9;
pub const AT_EXECFN: u64 = 31;

/// Why a candidate executable is not the one a core was made from.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Mismatch {
    #[error("it is not an {0} executable")]
    Arch(&'static str),
    #[error("its LC_UUID is not the one the core records")]
    Uuid,
    #[error("SizeOfImage {file:#x} in the file, {dump:#x} in the dump")]
    SizeOfImage { file: u32, dump: u32 },
    #[error("TimeDateStamp {file:#x} in the file, {dump:#x} in the dump")]
    TimeDateStamp { file: u32, dump: u32 },
    #[error("build id {dump} in the dump, {file} from the file")]
    BuildId { dump: String, file: String },
    #[error("code at {addr:#x} differs")]
    Code { addr: u64 },
    /// Not a mismatch: the core records no id and holds none of the code,
    /// so nothing could be compared.
    #[error("nothing to compare")]
    Unverifiable,
}

/// Facts about an ELF executable (or its image in memory).
#[derive(Debug, Clone, Default)]
pub struct ExeInfo {
    pub pie: bool,
    pub entry: u64,
    pub phoff: u64,
    pub machine: u16,
    pub loads: Vec<Phdr>,
    pub gnu_build_id: Option<Vec<u8>>,
    pub go_build_id: Option<Vec<u8>>,
    /// The ELF package metadata note (`.note.package`, owner `FDO`): JSON.
    pub package: Option<String>,
}

/// Read an executable file's headers; `None` if it is not ELF64.
pub fn inspect(d: &[u8]) -> Option<ExeInfo> {
    let h = elf::parse_header(d).ok()?;
    let (phdrs, _) = elf::program_headers(d, &h);
    let notes: Vec<_> = phdrs
        .iter()
        .filter(|p| p.p_type == PT_NOTE)
        .filter_map(|p| bytes_at(d, p.offset, p.filesz).map(|b| Notes::new(b, p.offset)))
        .flatten()
        .collect();
    // Go's linker puts `.note.gnu.build-id` (`-B gobuildid`) right after
    // the Go note but its PT_NOTE covers only the Go note; the kernel dumps
    // the first page, so look there for notes no segment names. The file
    // and the core's copy of the page are read the same way.
    let page = &d[..d.len().min(4096)];
    let gnu = gnu_build_id(notes.iter().copied()).or_else(|| scan_note(page, b"GNU", NT_GNU_BUILD_ID));
    let package = notes
        .iter()
        .find(|n| n.name == ELF_NOTE_FDO && n.n_type == NT_FDO_PACKAGING_METADATA)
        .map(|n| n.desc.to_vec())
        .or_else(|| scan_note(page, ELF_NOTE_FDO, NT_FDO_PACKAGING_METADATA))
        .map(|b| String::from_utf8_lossy(crate::le::until_nul(&b)).into_owned());
    Some(ExeInfo {
        pie: h.e_type == ET_DYN,
        entry: h.entry,
        phoff: h.phoff,
        machine: h.machine,
        loads: phdrs.iter().copied().filter(|p| p.p_type == PT_LOAD).collect(),
        gnu_build_id: gnu,
        go_build_id: go_build_id(notes.iter().copied()),
        package,
    })
}


/// A note of owner `name` and type `t` anywhere in `d` at a 4-byte
/// boundary, whole and with a non-empty descriptor of at most 4 KiB.
fn scan_note(d: &[u8], name: &[u8], t: NoteType) -> Option<Vec<u8>> {
    use crate::le::u32_at;
    let namesz = name.len() + 1;
    let desc_at = 12 + ((namesz + 3) & !3);
    (0..d.len().saturating_sub(desc_at)).step_by(4).find_map(|i| {
        if u32_at(d, i)? as usize != namesz || u32_at(d, i + 8)? != t.0 {
            return None;
        }
        if d.get(i + 12..i + 12 + namesz)? != [name, b"\0"].concat().as_slice() {
            return None;
        }
        let n = u32_at(d, i + 4)? as usize;
        (n > 0 && n <= 4096).then(|| d.get(i + desc_at..i + desc_at + n).map(<[u8]>::to_vec))?
    })
}

/// The identity of an ELF executable file, as [`crate::Core`] matches it
/// against a core: what `--exe-dir` and a debuginfod client look up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildIds {
    /// The GNU build id (`NT_GNU_BUILD_ID`), also when only the first page
    /// holds it (a Go binary linked with `-B gobuildid`).
    pub gnu: Option<Vec<u8>>,
    /// The Go toolchain's build id, as text.
    pub go: Option<String>,
    /// The ELF package metadata note (JSON), when the file carries one.
    pub package: Option<String>,
}

impl BuildIds {
    /// The GNU build id in lower-case hex, as debuginfod and `.build-id/`
    /// directories name it.
    pub fn gnu_hex(&self) -> Option<String> {
        self.gnu.as_deref().map(hex)
    }
}

/// The build ids of an ELF executable (or of its first page); `None` when
/// `d` is not ELF64.
pub fn build_ids(d: &[u8]) -> Option<BuildIds> {
    let i = inspect(d)?;
    Some(BuildIds {
        gnu: i.gnu_build_id,
        go: i.go_build_id.map(|b| String::from_utf8_lossy(&b).into_owned()),
        package: i.package,
    })
}

/// The executable's first page as the core recorded it at `base`: the kernel
/// dumps that page of every ELF mapping (coredump_filter bit 4), and Go puts
/// its build-id notes there.
pub fn first_page(mem: &SplicedMemory, base: u64) -> Option<Vec<u8>> {
    // Take what is readable, up to a page.
    let mut page = vec![0u8; 4096];
    let mut n = 4096;
    while n >= 64 {
        if mem.read(base, &mut page[..n]).is_ok() {
            page.truncate(n);
            return Some(page);
        }
        n /= 2;
    }
    None
}

/// Load bias for a PIE: where the process put the executable minus where it
/// was linked. From `AT_ENTRY`, else `AT_PHDR`, else the mapping of offset 0.
pub fn load_bias(info: &ExeInfo, at_entry: Option<u64>, at_phdr: Option<u64>, base: Option<u64>) -> u64 {
    if !info.pie {
        return 0;
    }
    if let Some(e) = at_entry {
        if e != 0 {
            return e.wrapping_sub(info.entry);
        }
    }
    let first = info.loads.iter().find(|p| p.offset == 0);
    if let (Some(ph), Some(first)) = (at_phdr, first) {
        return ph.wrapping_sub(first.vaddr.wrapping_add(info.phoff));
    }
    if let (Some(base), Some(first)) = (base, first) {
        return base.wrapping_sub(first.vaddr & !0xfff);
    }
    0
}

/// How the executable given compares with the core's copy of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Match {
    /// Same build id (GNU or Go), or same first page.
    Same(&'static str),
    /// Different; the string says what differs.
    Different(String),
    /// Nothing in the core to compare with.
    Unknown,
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Compare an executable file with the first page the core holds of it.
pub fn check(file: &[u8], info: &ExeInfo, core_page: Option<&[u8]>) -> Match {
    let Some(page) = core_page else {
        return Match::Unknown;
    };
    if let Some(mem) = inspect_page(page) {
        if let (Some(a), Some(b)) = (&info.gnu_build_id, &mem.gnu_build_id) {
            return if a == b {
                Match::Same("GNU build id")
            } else {
                Match::Different(format!("GNU build id {} in the file, {} in the core", hex(a), hex(b)))
            };
        }
        if let (Some(a), Some(b)) = (&info.go_build_id, &mem.go_build_id) {
            return if a == b {
                Match::Same("Go build id")
            } else {
                Match::Different(format!(
                    "Go build id {:?} in the file, {:?} in the core",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                ))
            };
        }
    }
    let n = page.len().min(file.len());
    if n == 0 {
        return Match::Unknown;
    }
    match (0..n).find(|&i| page[i] != file[i]) {
        None => Match::Same("first page"),
        Some(i) => Match::Different(format!("first page differs at byte {i:#x}")),
    }
}

/// Build ids from an executable's first page image (headers at the start,
/// notes wherever the segment says, as long as they are inside the page).
fn inspect_page(page: &[u8]) -> Option<ExeInfo> {
    inspect(page)
}
