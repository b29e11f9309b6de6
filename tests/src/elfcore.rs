//! A small independent look at an ELF core with the `object` crate, so tests
//! of the producers do not depend on our own reader.

use std::path::Path;

use anyhow::{bail, Context, Result};
use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::Endianness;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CoreSummary {
    pub machine: u16,
    pub loads: usize,
    /// `NT_PRSTATUS` notes: one per thread in kernel and gdb cores.
    pub prstatus: usize,
    /// Delve's own thread notes (type 0x444C5654).
    pub delve_threads: usize,
    pub note_types: Vec<u32>,
}

pub const DELVE_THREAD_NOTE: u32 = 0x444C_5654;

pub fn summarize(path: &Path) -> Result<CoreSummary> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    summarize_bytes(&data).with_context(|| path.display().to_string())
}

pub fn summarize_bytes(data: &[u8]) -> Result<CoreSummary> {
    let file = ElfFile64::<Endianness>::parse(data).context("parsing the ELF header")?;
    let endian = file.endian();
    let header = file.elf_header();
    if header.e_type(endian) != elf::ET_CORE {
        bail!("an ELF file but not a core (e_type {})", header.e_type(endian));
    }
    let mut s = CoreSummary { machine: header.e_machine(endian).0, ..Default::default() };
    for ph in file.elf_program_headers() {
        match ph.p_type(endian) {
            elf::PT_LOAD => s.loads += 1,
            elf::PT_NOTE => {
                let Some(mut notes) = ph.notes(endian, data)? else { continue };
                while let Some(note) = notes.next()? {
                    let t = note.n_type(endian).0;
                    s.note_types.push(t);
                    if t == elf::NT_PRSTATUS.0 && (note.name() == b"CORE" || note.name().is_empty()) {
                        s.prstatus += 1;
                    }
                    if t == DELVE_THREAD_NOTE {
                        s.delve_threads += 1;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(s)
}
