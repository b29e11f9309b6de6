//! ELF64 file and program headers, read by hand so that a truncated or
//! damaged file yields what is there instead of nothing.

use elfwriter::elf::{FileType, ProgramFlags, ProgramType, PN_XNUM};

use crate::le::{u16_at, u32_at, u64_at};

const PHDR_SIZE: usize = 56;
const SHDR_SIZE: usize = 64;

#[derive(Debug, Clone, Copy)]
pub struct Header {
    pub e_type: FileType,
    pub machine: u16,
    pub entry: u64,
    pub phoff: u64,
    pub phnum: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Phdr {
    pub p_type: ProgramType,
    pub flags: ProgramFlags,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

/// Why a buffer is not an ELF64 little-endian file we read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    #[error("no ELF magic")]
    NoMagic,
    #[error("32-bit ELF is not supported")]
    Elf32,
    #[error("big-endian ELF is not supported")]
    BigEndian,
    #[error("program header size {0}, expected {PHDR_SIZE}")]
    PhentSize(u16),
    #[error("e_phnum is PN_XNUM but section header 0 is missing")]
    NoSection0,
}

/// The ELF file header of `d`.
pub fn parse_header(d: &[u8]) -> Result<Header, HeaderError> {
    if d.len() < 64 || &d[..4] != b"\x7fELF" {
        return Err(HeaderError::NoMagic);
    }
    if d[4] != 2 {
        return Err(HeaderError::Elf32);
    }
    if d[5] != 1 {
        return Err(HeaderError::BigEndian);
    }
    let e_type = FileType(u16_at(d, 16).unwrap_or(0));
    let machine = u16_at(d, 18).unwrap_or(0);
    let entry = u64_at(d, 24).unwrap_or(0);
    let phoff = u64_at(d, 32).unwrap_or(0);
    let shoff = u64_at(d, 40).unwrap_or(0);
    let phentsize = u16_at(d, 54).unwrap_or(0);
    let mut phnum = u64::from(u16_at(d, 56).unwrap_or(0));
    if phnum != 0 && usize::from(phentsize) != PHDR_SIZE {
        return Err(HeaderError::PhentSize(phentsize));
    }
    if phnum == u64::from(PN_XNUM) {
        // More segments than fit in e_phnum: section header 0's sh_info has the count.
        let sh0 = usize::try_from(shoff).ok();
        phnum = match sh0.and_then(|o| {
            o.checked_add(SHDR_SIZE)?;
            u32_at(d, o + 44)
        }) {
            Some(n) => u64::from(n),
            None => return Err(HeaderError::NoSection0),
        };
    }
    Ok(Header {
        e_type,
        machine,
        entry,
        phoff,
        phnum,
    })
}

/// The program headers that lie inside `d`; the second value is how many
/// the header promised but the file does not hold.
pub fn program_headers(d: &[u8], h: &Header) -> (Vec<Phdr>, u64) {
    let mut out = Vec::new();
    let Ok(base) = usize::try_from(h.phoff) else {
        return (out, h.phnum);
    };
    // Never allocate more than the file can hold.
    let fits = (d.len().saturating_sub(base) / PHDR_SIZE) as u64;
    let n = h.phnum.min(fits);
    out.reserve(n as usize);
    for i in 0..n as usize {
        let o = base + i * PHDR_SIZE;
        let (Some(p_type), Some(flags), Some(offset), Some(vaddr), Some(filesz), Some(memsz), Some(align)) = (
            u32_at(d, o),
            u32_at(d, o + 4),
            u64_at(d, o + 8),
            u64_at(d, o + 16),
            u64_at(d, o + 32),
            u64_at(d, o + 40),
            u64_at(d, o + 48),
        ) else {
            break;
        };
        out.push(Phdr {
            p_type: ProgramType(p_type),
            flags: ProgramFlags(flags),
            offset,
            vaddr,
            filesz,
            memsz,
            align,
        });
    }
    let missing = h.phnum - out.len() as u64;
    (out, missing)
}
