//! The fixed-size ELF64 records a core needs: the file header, program headers
//! and, for more than 0xfffe segments, section header 0. Little-endian only:
//! both machines we write (amd64, arm64 as Linux runs it) are little-endian.

use crate::elf::{EM_AARCH64, EM_X86_64, ET_CORE, PF_R, PF_W, PF_X, PN_XNUM};

pub const EHDR_SIZE: u64 = 64;
pub const PHDR_SIZE: u64 = 56;
pub const SHDR_SIZE: u64 = 64;

/// The CPU the core describes; picks `e_machine`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Machine {
    Amd64,
    Arm64,
}

impl Machine {
    pub fn e_machine(self) -> u16 {
        match self {
            Machine::Amd64 => EM_X86_64.0,
            Machine::Arm64 => EM_AARCH64.0,
        }
    }

    /// The machine this program was built for, if it is one we write.
    pub fn host() -> Option<Machine> {
        if cfg!(target_arch = "x86_64") {
            Some(Machine::Amd64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Machine::Arm64)
        } else {
            None
        }
    }
}

/// `p_flags` of a `PT_LOAD`: the mapping's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SegmentFlags {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl SegmentFlags {
    pub fn bits(self) -> u32 {
        let bit = |on: bool, f: crate::elf::ProgramFlags| if on { f.0 } else { 0 };
        bit(self.exec, PF_X) | bit(self.write, PF_W) | bit(self.read, PF_R)
    }
}

pub(crate) struct FileHeader {
    pub machine: Machine,
    /// Real segment count; above 0xfffe it goes in section header 0.
    pub phnum: u64,
    pub shoff: u64,
}

impl FileHeader {
    pub fn needs_xnum(phnum: u64) -> bool {
        phnum >= PN_XNUM as u64
    }

    pub fn encode(&self) -> [u8; EHDR_SIZE as usize] {
        let mut b = [0u8; EHDR_SIZE as usize];
        b[0..4].copy_from_slice(b"\x7fELF");
        b[4] = 2; // ELFCLASS64
        b[5] = 1; // ELFDATA2LSB
        b[6] = 1; // EV_CURRENT
        // b[7] EI_OSABI stays ELFOSABI_NONE, as the kernel writes it.
        let xnum = Self::needs_xnum(self.phnum);
        put16(&mut b, 16, ET_CORE.0);
        put16(&mut b, 18, self.machine.e_machine());
        put32(&mut b, 20, 1); // e_version
        put64(&mut b, 24, 0); // e_entry
        put64(&mut b, 32, EHDR_SIZE); // e_phoff: right after this header
        put64(&mut b, 40, if xnum { self.shoff } else { 0 });
        put32(&mut b, 48, 0); // e_flags
        put16(&mut b, 52, EHDR_SIZE as u16);
        put16(&mut b, 54, PHDR_SIZE as u16);
        put16(&mut b, 56, if xnum { PN_XNUM } else { self.phnum as u16 });
        put16(&mut b, 58, if xnum { SHDR_SIZE as u16 } else { 0 });
        put16(&mut b, 60, xnum as u16); // e_shnum
        put16(&mut b, 62, 0); // e_shstrndx: SHN_UNDEF
        b
    }
}

pub(crate) struct ProgramHeader {
    pub p_type: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
    pub align: u64,
}

impl ProgramHeader {
    pub fn encode(&self) -> [u8; PHDR_SIZE as usize] {
        let mut b = [0u8; PHDR_SIZE as usize];
        put32(&mut b, 0, self.p_type);
        put32(&mut b, 4, self.flags);
        put64(&mut b, 8, self.offset);
        put64(&mut b, 16, self.vaddr);
        put64(&mut b, 24, 0); // p_paddr
        put64(&mut b, 32, self.filesz);
        put64(&mut b, 40, self.memsz);
        put64(&mut b, 48, self.align);
        b
    }
}

/// Section header 0 for `PN_XNUM`: all zero except `sh_info` = segment count.
/// (`sh_info` is 32 bits, so the count itself is limited to u32.)
pub(crate) fn xnum_section_header(phnum: u64) -> [u8; SHDR_SIZE as usize] {
    let mut b = [0u8; SHDR_SIZE as usize];
    put32(&mut b, 44, phnum as u32);
    b
}

pub(crate) fn put16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
pub(crate) fn put64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}
