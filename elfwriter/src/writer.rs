//! [`CoreWriter`]: lays out and streams an ELF core.
//!
//! Everything before the segment data is known up front (the caller knows
//! its mappings and notes before it reads memory), so the header, program
//! headers and notes are written at once and the memory follows as one
//! stream: the concatenation of every segment's `p_filesz` bytes, in order.
//! That lets the caller read memory in big batches that cross mappings.

use std::io::{Seek, Write};

use crate::elf::{PT_LOAD, PT_NOTE};
use crate::header::{
    xnum_section_header, FileHeader, Machine, ProgramHeader, SegmentFlags, EHDR_SIZE, PHDR_SIZE, SHDR_SIZE,
};
use crate::note::Note;
use crate::sparse::SparseStream;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("writing the core's {what}: {source}")]
    Io {
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("segment data overruns the core: {extra} bytes beyond the {total} the program headers promise")]
    TooMuchData { extra: u64, total: u64 },
    #[error("core is incomplete: {written} of {total} bytes of segment data written")]
    Incomplete { written: u64, total: u64 },
    #[error("page size {0} is not a power of two")]
    BadPageSize(u64),
    #[error("{0} segments do not fit an ELF core (sh_info is 32 bits)")]
    TooManySegments(u64),
}

/// One `PT_LOAD`: a mapping of the process. `filesz` bytes of it (from its
/// start) are in the file; the rest up to `memsz` are absent (not dumped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub filesz: u64,
    pub flags: SegmentFlags,
}

/// Streams one ELF core into `out`. Create it with [`CoreWriter::new`], feed
/// every segment's bytes in order with [`write_data`](Self::write_data) and
/// [`skip`](Self::skip), then call [`finish`](Self::finish).
pub struct CoreWriter<W: Write + Seek> {
    data_offset: u64,
    data: SparseStream<W>,
}

pub(crate) fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { what, source }
}

fn align_up(v: u64, a: u64) -> u64 {
    (v + a - 1) & !(a - 1)
}

/// Everything before the segment data of a core (file header, program
/// headers, notes, padding to a page), and how many bytes of segment data
/// follow it: for writers that place the data themselves (at
/// `head.len() + position in the stream`) instead of streaming it.
pub fn core_head(machine: Machine, page_size: u64, notes: &[Note], segments: &[Segment]) -> Result<(Vec<u8>, u64), Error> {
    if !page_size.is_power_of_two() {
        return Err(Error::BadPageSize(page_size));
    }
    let phnum = segments.len() as u64 + 1; // + PT_NOTE
    if phnum > u32::MAX as u64 {
        return Err(Error::TooManySegments(phnum));
    }
    let xnum = FileHeader::needs_xnum(phnum);
    let phdrs_end = EHDR_SIZE + phnum * PHDR_SIZE;
    let (shoff, notes_offset) = if xnum {
        (phdrs_end, phdrs_end + SHDR_SIZE)
    } else {
        (0, phdrs_end)
    };
    let notes_len: u64 = notes.iter().map(|n| n.encoded_len() as u64).sum();
    // Data starts on a page boundary, as in the kernel's cores, so that a
    // reader may mmap segments directly.
    let data_offset = align_up(notes_offset + notes_len, page_size);

    let mut head = Vec::with_capacity((data_offset) as usize);
    head.extend_from_slice(&FileHeader { machine, phnum, shoff }.encode());
    head.extend_from_slice(
        &ProgramHeader {
            p_type: PT_NOTE.0,
            flags: 0,
            offset: notes_offset,
            vaddr: 0,
            filesz: notes_len,
            memsz: 0,
            align: 4,
        }
        .encode(),
    );
    let mut offset = data_offset;
    for s in segments {
        head.extend_from_slice(
            &ProgramHeader {
                p_type: PT_LOAD.0,
                flags: s.flags.bits(),
                offset,
                vaddr: s.vaddr,
                filesz: s.filesz,
                memsz: s.memsz,
                align: page_size,
            }
            .encode(),
        );
        offset += s.filesz;
    }
    if xnum {
        head.extend_from_slice(&xnum_section_header(phnum));
    }
    for n in notes {
        n.encode_into(&mut head);
    }
    debug_assert_eq!(head.len() as u64, notes_offset + notes_len);
    head.resize(data_offset as usize, 0);
    Ok((head, offset - data_offset))
}

impl<W: Write + Seek> CoreWriter<W> {
    /// Write the file header, program headers and notes; afterwards the
    /// writer expects the segments' data. `out` must be positioned at 0.
    pub fn new(
        mut out: W,
        machine: Machine,
        page_size: u64,
        notes: &[Note],
        segments: &[Segment],
    ) -> Result<Self, Error> {
        let (head, data_len) = core_head(machine, page_size, notes, segments)?;
        out.write_all(&head).map_err(io("headers and notes"))?;
        Ok(CoreWriter { data_offset: head.len() as u64, data: SparseStream::new(out, data_len) })
    }

    /// File offset where segment data begins.
    pub fn data_offset(&self) -> u64 {
        self.data_offset
    }

    /// Segment bytes still expected.
    pub fn remaining(&self) -> u64 {
        self.data.remaining()
    }

    /// Append the next bytes of segment data.
    pub fn write_data(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.data.write_data(bytes)
    }

    /// Append `n` zero bytes as a hole: nothing is written, the file stays sparse.
    pub fn skip(&mut self, n: u64) -> Result<(), Error> {
        self.data.skip(n)
    }

    /// Append `bytes`, turning every whole page of zeros into a hole.
    pub fn write_sparse(&mut self, bytes: &[u8], page: usize) -> Result<(), Error> {
        self.data.write_sparse(bytes, page)
    }

    /// Check that every promised byte came, flush, and hand back the output.
    pub fn finish(self) -> Result<W, Error> {
        self.data.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::{NT_PRPSINFO, NT_PRSTATUS, NT_X86_XSTATE};
    use object::elf;
    use object::read::elf::{ElfFile64, FileHeader as _, ProgramHeader as _};
    use object::Endianness;
    use std::io::Cursor;

    fn seg(vaddr: u64, memsz: u64, filesz: u64) -> Segment {
        Segment { vaddr, memsz, filesz, flags: SegmentFlags { read: true, write: true, exec: false } }
    }

    #[test]
    fn small_core_round_trips_through_object() {
        let notes = vec![
            Note::new("CORE", NT_PRSTATUS, vec![7; 0x150]),
            Note::new("CORE", NT_PRPSINFO, vec![1; 0x88]),
            Note::new("LINUX", NT_X86_XSTATE, vec![2; 10]),
        ];
        let segs = vec![seg(0x1000, 0x2000, 0x2000), seg(0x10000, 0x1000, 0), seg(0x20000, 0x1000, 0x1000)];
        let mut w = CoreWriter::new(Cursor::new(Vec::new()), Machine::Amd64, 4096, &notes, &segs).unwrap();
        assert_eq!(w.data_offset() % 4096, 0);
        let mut data = vec![0u8; 0x3000];
        data[0x10] = 0xaa; // page 0 non-zero, page 1 zero, page 2 (last segment) zero
        w.write_sparse(&data, 4096).unwrap();
        let out = w.finish().unwrap().into_inner();
        let data_off = out.len() as u64 - 0x3000;
        assert_eq!(data_off % 4096, 0);

        let f = ElfFile64::<Endianness>::parse(&*out).unwrap();
        let hdr = f.elf_header();
        let e = f.endian();
        assert_eq!(hdr.e_type(e), elf::ET_CORE);
        assert_eq!(hdr.e_machine(e), elf::EM_X86_64);
        let phdrs = f.elf_program_headers();
        assert_eq!(phdrs.len(), 4);
        assert_eq!(phdrs[0].p_type(e), elf::PT_NOTE);
        let got: Vec<(Vec<u8>, u32, usize)> = phdrs[0]
            .notes(e, &*out)
            .unwrap()
            .unwrap()
            .map(|n| {
                let n = n.unwrap();
                (n.name().to_vec(), n.n_type(e).0, n.desc().len())
            })
            .collect();
        assert_eq!(
            got,
            vec![(b"CORE".to_vec(), NT_PRSTATUS.0, 0x150), (b"CORE".to_vec(), NT_PRPSINFO.0, 0x88), (b"LINUX".to_vec(), 0x202, 10)]
        );
        let loads: Vec<_> = phdrs[1..]
            .iter()
            .map(|p| (p.p_type(e).0, p.p_offset(e), p.p_vaddr(e), p.p_filesz(e), p.p_memsz(e), p.p_align(e), p.p_flags(e).0))
            .collect();
        assert_eq!(loads[0], (elf::PT_LOAD.0, data_off, 0x1000, 0x2000, 0x2000, 4096, 6));
        assert_eq!(loads[1], (elf::PT_LOAD.0, data_off + 0x2000, 0x10000, 0, 0x1000, 4096, 6));
        assert_eq!(loads[2], (elf::PT_LOAD.0, data_off + 0x2000, 0x20000, 0x1000, 0x1000, 4096, 6));
        assert_eq!(out[data_off as usize + 0x10], 0xaa);
    }

    #[test]
    fn arm64_machine() {
        let w = CoreWriter::new(Cursor::new(Vec::new()), Machine::Arm64, 65536, &[], &[]).unwrap();
        let out = w.finish().unwrap().into_inner();
        assert_eq!(out.len(), 65536);
        let f = ElfFile64::<Endianness>::parse(&*out).unwrap();
        assert_eq!(f.elf_header().e_machine(f.endian()), elf::EM_AARCH64);
    }

    #[test]
    fn pn_xnum_above_65535_segments() {
        let n = 70_000u64;
        let segs: Vec<_> = (0..n).map(|i| seg(0x1000 * (i + 1) * 2, 0x1000, 0)).collect();
        let w = CoreWriter::new(Cursor::new(Vec::new()), Machine::Amd64, 4096, &[Note::new("CORE", NT_PRSTATUS, vec![0; 8])], &segs)
            .unwrap();
        let out = w.finish().unwrap().into_inner();
        assert_eq!(u16::from_le_bytes([out[56], out[57]]), PN_XNUM_TEST);
        // ElfFile64 insists on a string table; the raw header API is what a
        // core reader uses anyway.
        let hdr = elf::FileHeader64::<Endianness>::parse(&*out).unwrap();
        let e = hdr.endian().unwrap();
        assert_eq!(hdr.program_headers(e, &*out).unwrap().len() as u64, n + 1);
        let shdrs = hdr.section_headers(e, &*out).unwrap();
        assert_eq!(shdrs.len(), 1);
        assert_eq!(shdrs[0].sh_info.get(e) as u64, n + 1);
    }
    const PN_XNUM_TEST: u16 = crate::elf::PN_XNUM;

    /// binutils' readelf, a reader we did not write, on a PN_XNUM core.
    #[test]
    fn readelf_reads_pn_xnum() {
        let have = std::process::Command::new("readelf").arg("--version").output().is_ok();
        if !have {
            assert!(!::tests::tools::in_ci(), "readelf is required in CI");
            eprintln!("\n!!!!!!!! SKIPPING readelf_reads_pn_xnum: readelf is not installed !!!!!!!!\n");
            return;
        }
        let n = 70_000u64;
        let segs: Vec<_> = (0..n).map(|i| seg(0x2000 * (i + 1), 0x1000, if i % 1000 == 0 { 0x1000 } else { 0 })).collect();
        let f = tempfile::NamedTempFile::new().unwrap();
        let mut w = CoreWriter::new(f.reopen().unwrap(), Machine::Amd64, 4096, &[Note::new("CORE", NT_PRSTATUS, vec![0; 0x150])], &segs).unwrap();
        for i in 0..70 {
            w.write_data(&[i as u8 + 1; 0x1000]).unwrap();
        }
        w.finish().unwrap();
        let out = std::process::Command::new("readelf").args(["-lW", f.path().to_str().unwrap()]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("There are 70001 program headers"), "{}", &text[..text.len().min(2000)]);
        assert_eq!(text.matches(" LOAD ").count() + text.matches("\nLOAD").count(), 70_000);
    }

    #[test]
    fn sparse_file_on_disk_and_errors() {
        let f = tempfile::tempfile().unwrap();
        let segs = vec![seg(0x1000, 1 << 20, 1 << 20)];
        let mut w = CoreWriter::new(f, Machine::Amd64, 4096, &[], &segs).unwrap();
        assert!(matches!(w.write_data(&vec![1; (2 << 20) as usize]), Err(Error::TooMuchData { .. })));
        w.write_data(&[1; 4096]).unwrap();
        w.skip((1 << 20) - 4096).unwrap();
        let f = w.finish().unwrap();
        assert_eq!(f.metadata().unwrap().len(), 4096 + (1 << 20));

        let w = CoreWriter::new(Cursor::new(Vec::new()), Machine::Amd64, 4096, &[], &segs).unwrap();
        assert!(matches!(w.finish(), Err(Error::Incomplete { written: 0, .. })));
        assert!(matches!(
            CoreWriter::new(Cursor::new(Vec::new()), Machine::Amd64, 3000, &[], &segs),
            Err(Error::BadPageSize(3000))
        ));
    }
}
