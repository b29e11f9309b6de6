//! An executable as its loader lays it out in memory, whatever its format:
//! ELF `PT_LOAD`s, PE sections at their RVAs, Mach-O segments. Minidumps
//! and Mach-O cores name the executable by where its header was loaded; this
//! turns that base into a load bias and into regions of the file that can
//! back memory the dump does not hold.

use elfwriter::elf::{PF_W, PF_X};
use crate::exe;
use crate::le::{u16_at, u32_at, u64_at};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Elf,
    Pe,
    MachO,
}

/// One piece of the file that the loader maps: `len` bytes of the file at
/// `file_offset` appear at link-time address `addr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub addr: u64,
    pub file_offset: u64,
    pub len: u64,
    /// Bytes past `len` up to here are zero-filled by the loader (bss).
    pub mem_len: u64,
    pub write: bool,
    pub exec: bool,
}

/// What we need of an executable to place it in a process.
#[derive(Debug, Clone)]
pub struct Image {
    pub format: ImageFormat,
    /// The link-time address of the file's first byte as mapped (ELF: the
    /// first `PT_LOAD`'s page, PE: `ImageBase`, Mach-O: `__TEXT`'s vmaddr).
    /// Load bias = where the header was found in the process minus this.
    pub link_base: u64,
    pub parts: Vec<Part>,
    /// ELF: e_machine; PE: the COFF machine; Mach-O: the cputype.
    pub machine: u32,
    /// Mach-O `LC_UUID`.
    pub uuid: Option<[u8; 16]>,
    /// PE `SizeOfImage` and `TimeDateStamp`, which minidumps record per module.
    pub pe_size_of_image: u32,
    pub pe_timestamp: u32,
    /// The ELF facts the ELF core reader also uses (build ids, entry, PIE).
    pub elf: Option<exe::ExeInfo>,
}

/// Never trust more sections or commands than any real binary has.
const MAX_PARTS: usize = 4096;

pub fn parse(d: &[u8]) -> Option<Image> {
    if d.starts_with(b"\x7fELF") {
        elf(d)
    } else if d.starts_with(b"MZ") {
        pe(d)
    } else if d.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]) {
        macho(d)
    } else {
        None
    }
}

fn elf(d: &[u8]) -> Option<Image> {
    let info = exe::inspect(d)?;
    let first = info.loads.iter().map(|p| p.vaddr).min()?;
    let parts = info
        .loads
        .iter()
        .take(MAX_PARTS)
        .map(|p| Part {
            addr: p.vaddr,
            file_offset: p.offset,
            len: p.filesz,
            mem_len: p.memsz.max(p.filesz),
            write: p.flags.contains(PF_W),
            exec: p.flags.contains(PF_X),
        })
        .collect();
    Some(Image {
        format: ImageFormat::Elf,
        // The mapping of the first segment starts on its page.
        link_base: first & !0xfff,
        parts,
        machine: u32::from(info.machine),
        uuid: None,
        pe_size_of_image: 0,
        pe_timestamp: 0,
        elf: Some(info),
    })
}

pub const IMAGE_FILE_MACHINE_AMD64: u32 = 0x8664;
pub const IMAGE_FILE_MACHINE_ARM64: u32 = 0xaa64;
const IMAGE_SCN_MEM_EXECUTE: u32 = 0x2000_0000;
const IMAGE_SCN_MEM_WRITE: u32 = 0x8000_0000;

/// PE32+ headers, read by hand (DOS stub -> `PE\0\0` -> COFF header ->
/// optional header -> section table), so that a damaged file gives what it has.
fn pe(d: &[u8]) -> Option<Image> {
    let nt = u32_at(d, 0x3c)? as usize;
    if d.get(nt..nt.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let coff = nt + 4;
    let machine = u32::from(u16_at(d, coff)?);
    let nsections = usize::from(u16_at(d, coff + 2)?);
    let timestamp = u32_at(d, coff + 4)?;
    let opt_size = usize::from(u16_at(d, coff + 16)?);
    let opt = coff + 20;
    // Only PE32+ (magic 0x20b): Go's windows/amd64 and windows/arm64.
    if u16_at(d, opt)? != 0x20b {
        return None;
    }
    let image_base = u64_at(d, opt + 24)?;
    let size_of_image = u32_at(d, opt + 56)?;
    let size_of_headers = u32_at(d, opt + 60)?;
    let mut parts = vec![Part {
        addr: image_base,
        file_offset: 0,
        len: u64::from(size_of_headers),
        mem_len: u64::from(size_of_headers),
        write: false,
        exec: false,
    }];
    let table = opt.checked_add(opt_size)?;
    for i in 0..nsections.min(MAX_PARTS) {
        let s = table + i * 40;
        let (Some(vsize), Some(rva), Some(raw_size), Some(raw_ptr), Some(flags)) =
            (u32_at(d, s + 8), u32_at(d, s + 12), u32_at(d, s + 16), u32_at(d, s + 20), u32_at(d, s + 36))
        else {
            break;
        };
        // The loader copies min(SizeOfRawData, VirtualSize) bytes and zero-fills the rest.
        let mem_len = if vsize == 0 { raw_size } else { vsize };
        parts.push(Part {
            addr: image_base.wrapping_add(u64::from(rva)),
            file_offset: u64::from(raw_ptr),
            len: u64::from(raw_size.min(mem_len)),
            mem_len: u64::from(mem_len),
            write: flags & IMAGE_SCN_MEM_WRITE != 0,
            exec: flags & IMAGE_SCN_MEM_EXECUTE != 0,
        });
    }
    Some(Image {
        format: ImageFormat::Pe,
        link_base: image_base,
        parts,
        machine,
        uuid: None,
        pe_size_of_image: size_of_image,
        pe_timestamp: timestamp,
        elf: None,
    })
}

pub const CPU_TYPE_X86_64: u32 = 0x0100_0007;
pub const CPU_TYPE_ARM64: u32 = 0x0100_000c;
const VM_PROT_WRITE: u32 = 2;
const VM_PROT_EXECUTE: u32 = 4;

/// A 64-bit little-endian Mach-O executable: its `LC_SEGMENT_64`s and `LC_UUID`.
fn macho(d: &[u8]) -> Option<Image> {
    use object::macho::{MachHeader64, LC_SEGMENT_64, LC_UUID};
    use object::read::macho::MachHeader;
    use object::LittleEndian as LE;
    let h = MachHeader64::<LE>::parse(d, 0).ok()?;
    let mut cmds = h.load_commands(LE, d, 0).ok()?;
    let mut parts = Vec::new();
    let mut uuid = None;
    let mut text = None;
    while let Ok(Some(c)) = cmds.next() {
        match c.cmd() {
            LC_SEGMENT_64 => {
                let Ok(Some((seg, _))) = c.segment_64() else { continue };
                // __PAGEZERO maps nothing of the file and no memory of the process.
                if seg.initprot.get(LE).0 == 0 && seg.filesize.get(LE) == 0 {
                    continue;
                }
                if &seg.segname[..7] == b"__TEXT\0" {
                    text = Some(seg.vmaddr.get(LE));
                }
                if parts.len() < MAX_PARTS {
                    let prot = seg.initprot.get(LE).0;
                    parts.push(Part {
                        addr: seg.vmaddr.get(LE),
                        file_offset: seg.fileoff.get(LE),
                        len: seg.filesize.get(LE).min(seg.vmsize.get(LE)),
                        mem_len: seg.vmsize.get(LE),
                        write: prot & VM_PROT_WRITE != 0,
                        exec: prot & VM_PROT_EXECUTE != 0,
                    });
                }
            }
            LC_UUID => {
                if let Ok(u) = c.data::<object::macho::UuidCommand<LE>>() {
                    uuid = Some(u.uuid);
                }
            }
            _ => {}
        }
    }
    Some(Image {
        format: ImageFormat::MachO,
        link_base: text.or_else(|| parts.iter().map(|p| p.addr).min())?,
        parts,
        machine: h.cputype(LE).0,
        uuid,
        pe_size_of_image: 0,
        pe_timestamp: 0,
        elf: None,
    })
}

impl Image {
    /// Whether the image is for `arch`.
    pub fn is_for(&self, arch: crate::Arch) -> bool {
        use elfwriter::elf::{EM_AARCH64, EM_X86_64};
        use crate::Arch;
        match (self.format, arch) {
            (ImageFormat::Elf, Arch::Amd64) => self.machine == u32::from(EM_X86_64.0),
            (ImageFormat::Elf, Arch::Arm64) => self.machine == u32::from(EM_AARCH64.0),
            (ImageFormat::Pe, Arch::Amd64) => self.machine == IMAGE_FILE_MACHINE_AMD64,
            (ImageFormat::Pe, Arch::Arm64) => self.machine == IMAGE_FILE_MACHINE_ARM64,
            (ImageFormat::MachO, Arch::Amd64) => self.machine == CPU_TYPE_X86_64,
            (ImageFormat::MachO, Arch::Arm64) => self.machine == CPU_TYPE_ARM64,
        }
    }

    /// Back memory the dump lacks with the file's read-only parts, placed at
    /// `bias`. Writable parts are left out: the file's copy of writable data
    /// is its initial value, stale in a running process (a stale
    /// `runtime.allgs` is worse than none).
    pub fn back_read_only(&self, memory: &mut crate::spliced::Builder, bias: u64, bytes: &crate::spliced::Bytes) {
        for p in self.parts.iter().filter(|p| !p.write) {
            memory.add(crate::spliced::Region {
                start: p.addr.wrapping_add(bias),
                len: p.len,
                backing: crate::spliced::Backing::Bytes {
                    bytes: bytes.clone(),
                    offset: usize::try_from(p.file_offset).unwrap_or(usize::MAX),
                },
            });
        }
    }

    /// A non-PIE ELF executable runs where it was linked, whatever base a
    /// dump claims; everything else is shifted by where its header landed.
    pub fn bias_for_base(&self, base: u64) -> u64 {
        match &self.elf {
            Some(info) if !info.pie => 0,
            _ => base.wrapping_sub(self.link_base),
        }
    }
}

/// The id Breakpad-style writers (minidump-writer, Crashpad) give an ELF
/// file without a GNU build id: the first page (at most) of `.text`, folded
/// by XOR into 16 bytes.
pub fn breakpad_text_id(elf: &[u8]) -> Option<Vec<u8>> {
    use object::{Object, ObjectSection};
    let f = object::File::parse(elf).ok()?;
    let text = f.section_by_name(".text")?.data().ok()?;
    let mut id = vec![0u8; 16];
    for chunk in text[..text.len().min(4096)].chunks(16) {
        for (b, c) in id.iter_mut().zip(chunk) {
            *b ^= c;
        }
    }
    Some(id)
}

/// Where the Go runtime's pclntab is in a Go executable, and its bytes:
/// the `.gopclntab` section (ELF), `__gopclntab` (Mach-O), or for PE, where
/// Go keeps it inside `.rdata`, between the `runtime.pclntab` and
/// `runtime.epclntab` symbols. Returns the link-time address and the bytes.
/// `None` for stripped PE files (no symbols): search `.rdata` for the
/// pclntab magic instead.
pub fn gopclntab(exe: &[u8]) -> Option<(u64, &[u8])> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let f = object::File::parse(exe).ok()?;
    for name in [".gopclntab", "__gopclntab"] {
        if let Some(s) = f.section_by_name(name) {
            return Some((s.address(), s.data().ok()?));
        }
    }
    let sym = |n: &str| f.symbols().find(|s| s.name() == Ok(n)).map(|s| s.address());
    let (start, end) = (sym("runtime.pclntab")?, sym("runtime.epclntab")?);
    let len = end.checked_sub(start)?;
    for s in f.sections() {
        let (a, size) = (s.address(), s.size());
        if a <= start && end <= a.saturating_add(size) {
            let data = s.data().ok()?;
            let off = usize::try_from(start - a).ok()?;
            return Some((start, data.get(off..off.checked_add(usize::try_from(len).ok()?)?)?));
        }
    }
    None
}
