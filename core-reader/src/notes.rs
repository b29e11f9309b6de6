//! ELF notes: the iterator and the decoders for the notes a core carries
//! (`NT_PRSTATUS`, `NT_PRPSINFO`, `NT_SIGINFO`, `NT_AUXV`, `NT_FILE`, build ids).
//! The note types and the layouts of their descriptors are the ones the
//! writers use too ([`elfwriter::elf`], [`elfwriter::payload`]); what is here
//! turns them into this crate's model.

use elfwriter::elf::{NoteType, ELF_NOTE_GNU, ELF_NOTE_GO, NT_GNU_BUILD_ID, NT_GO_BUILD_ID};
use elfwriter::payload;
pub use elfwriter::payload::SigInfo;

use crate::le::{u32_at, u64_at, until_nul};
use crate::model::{Amd64Regs, Arch, Arm64Regs, Registers};

/// One note, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    /// The name without its NUL terminator(s).
    pub name: &'a [u8],
    pub n_type: NoteType,
    pub desc: &'a [u8],
    /// File offset of the note header, for error messages.
    pub offset: u64,
}

/// Iterates the notes of one `PT_NOTE` segment (4-byte aligned, as in every
/// 64-bit core). Stops quietly at the first note that does not fit, and
/// reports where in `truncated_at`.
pub struct Notes<'a> {
    data: &'a [u8],
    pos: usize,
    base: u64,
    pub truncated_at: Option<u64>,
}

impl<'a> Notes<'a> {
    pub fn new(data: &'a [u8], file_offset: u64) -> Self {
        Notes {
            data,
            pos: 0,
            base: file_offset,
            truncated_at: None,
        }
    }
}

fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|n| n & !3)
}

impl<'a> Iterator for Notes<'a> {
    type Item = Note<'a>;
    fn next(&mut self) -> Option<Note<'a>> {
        let d = self.data;
        let p = self.pos;
        if p >= d.len() {
            return None;
        }
        let parsed = (|| {
            let namesz = u32_at(d, p)? as usize;
            let descsz = u32_at(d, p + 4)? as usize;
            let n_type = u32_at(d, p + 8)?;
            let name_at = p + 12;
            let name = d.get(name_at..name_at.checked_add(namesz)?)?;
            let desc_at = align4(name_at + namesz)?;
            let desc = d.get(desc_at..desc_at.checked_add(descsz)?)?;
            let next = align4(desc_at + descsz)?;
            Some((name, n_type, desc, next))
        })();
        match parsed {
            Some((name, n_type, desc, next)) => {
                self.pos = next;
                let name = name.strip_suffix(b"\0").unwrap_or(name);
                Some(Note {
                    name: until_nul(name),
                    n_type: NoteType(n_type),
                    desc,
                    offset: self.base + p as u64,
                })
            }
            None => {
                // Padding zeros after the last note are not damage.
                if d[p..].iter().any(|&b| b != 0) {
                    self.truncated_at = Some(self.base + p as u64);
                }
                self.pos = d.len();
                None
            }
        }
    }
}

/// What `NT_PRSTATUS` says about one thread. `signo/code/errno` are the
/// kernel's `pr_info`, usually zero; `NT_SIGINFO` is the better source.
#[derive(Debug, Clone)]
#[allow(dead_code)]
pub struct PrStatus {
    pub signo: i32,
    pub code: i32,
    pub errno: i32,
    pub cursig: u16,
    pub pid: u32,
    pub regs: Registers,
}

pub fn prstatus(arch: Arch, d: &[u8]) -> Option<PrStatus> {
    let gregs_len = match arch {
        Arch::Amd64 => payload::AMD64_GREGS_LEN,
        Arch::Arm64 => payload::ARM64_GREGS_LEN,
    };
    let (st, regs) = payload::PrStatus::parse(d, gregs_len)?;
    let regs = match arch {
        Arch::Amd64 => Registers::Amd64(amd64_regs(regs)),
        Arch::Arm64 => Registers::Arm64(arm64_regs(regs)),
    };
    Some(PrStatus {
        signo: st.signo,
        code: st.code,
        errno: st.errno,
        cursig: st.cursig,
        pid: st.pid as u32,
        regs,
    })
}

/// `user_regs_struct` as 27 little-endian u64s.
pub fn amd64_regs(d: &[u8]) -> Amd64Regs {
    let r = |i: usize| u64_at(d, i * 8).unwrap_or(0);
    Amd64Regs {
        r15: r(0),
        r14: r(1),
        r13: r(2),
        r12: r(3),
        rbp: r(4),
        rbx: r(5),
        r11: r(6),
        r10: r(7),
        r9: r(8),
        r8: r(9),
        rax: r(10),
        rcx: r(11),
        rdx: r(12),
        rsi: r(13),
        rdi: r(14),
        orig_rax: r(15),
        rip: r(16),
        cs: r(17),
        eflags: r(18),
        rsp: r(19),
        ss: r(20),
        fs_base: r(21),
        gs_base: r(22),
        ds: r(23),
        es: r(24),
        fs: r(25),
        gs: r(26),
    }
}

/// `user_pt_regs`: x0..x30, sp, pc, pstate.
pub fn arm64_regs(d: &[u8]) -> Arm64Regs {
    let r = |i: usize| u64_at(d, i * 8).unwrap_or(0);
    let mut x = [0u64; 31];
    for (i, v) in x.iter_mut().enumerate() {
        *v = r(i);
    }
    Arm64Regs {
        x,
        sp: r(31),
        pc: r(32),
        pstate: r(33),
        tpidr: None,
    }
}

impl Registers {
    /// The registers as `pr_reg` of `NT_PRSTATUS` holds them, in the order
    /// the reader decodes them: `user_regs_struct` (amd64) or `user_pt_regs`
    /// (arm64), little-endian.
    pub fn prstatus_regset(&self) -> Vec<u8> {
        let words: Vec<u64> = match self {
            Registers::Amd64(r) => vec![
                r.r15, r.r14, r.r13, r.r12, r.rbp, r.rbx, r.r11, r.r10, r.r9, r.r8, r.rax, r.rcx, r.rdx, r.rsi, r.rdi,
                r.orig_rax, r.rip, r.cs, r.eflags, r.rsp, r.ss, r.fs_base, r.gs_base, r.ds, r.es, r.fs, r.gs,
            ],
            Registers::Arm64(r) => {
                let mut v = r.x.to_vec();
                v.extend([r.sp, r.pc, r.pstate]);
                v
            }
        };
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// `NT_PRPSINFO` (`elf_prpsinfo`, 0x88 bytes on 64-bit).
#[derive(Debug, Clone)]
pub struct PrPsInfo {
    pub pid: u32,
    pub fname: String,
    pub psargs: String,
}

pub fn prpsinfo(d: &[u8]) -> Option<PrPsInfo> {
    let p = payload::PrPsInfo::parse(d)?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).trim_end().to_string();
    Some(PrPsInfo {
        pid: p.pid as u32,
        fname: text(&p.fname),
        psargs: text(&p.psargs),
    })
}

/// `NT_SIGINFO`: a raw `siginfo_t`.
pub fn siginfo(d: &[u8]) -> Option<SigInfo> {
    SigInfo::parse(d)
}

/// `NT_AUXV`: (key, value) pairs up to `AT_NULL`.
pub fn auxv(d: &[u8]) -> Vec<(u64, u64)> {
    payload::parse_auxv(d)
}

/// One `NT_FILE` entry, its offset already in bytes.
pub type FileMapping = payload::FileEntry;

/// `NT_FILE`: count, page size, `count` x {start, end, page offset}, names.
pub fn nt_file(d: &[u8]) -> Option<Vec<FileMapping>> {
    payload::parse_nt_file(d)
}

/// The GNU build id among `notes`, if any.
pub fn gnu_build_id<'a>(notes: impl IntoIterator<Item = Note<'a>>) -> Option<Vec<u8>> {
    notes
        .into_iter()
        .find(|n| n.name == ELF_NOTE_GNU && n.n_type == NT_GNU_BUILD_ID && !n.desc.is_empty())
        .map(|n| n.desc.to_vec())
}

/// The Go build id (`.note.go.buildid`) among `notes`, if any.
pub fn go_build_id<'a>(notes: impl IntoIterator<Item = Note<'a>>) -> Option<Vec<u8>> {
    notes
        .into_iter()
        .find(|n| n.name == ELF_NOTE_GO && n.n_type == NT_GO_BUILD_ID && !n.desc.is_empty())
        .map(|n| n.desc.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(name: &[u8], t: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&(name.len() as u32).to_le_bytes());
        v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(name);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v.extend_from_slice(desc);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn iterates_and_stops_at_damage() {
        let mut d = note(b"CORE\0", 1, &[1, 2, 3]);
        d.extend(note(b"Delve Header", 0x444C5645, b"linux/amd64\n"));
        d.extend(note(b"", 0x444C5654, &[9; 5]));
        let all: Vec<_> = Notes::new(&d, 0).collect();
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].name, b"CORE");
        assert_eq!(all[0].desc, &[1, 2, 3]);
        assert_eq!(all[1].name, b"Delve Header");
        assert_eq!(all[2].desc.len(), 5);
        let cut = &d[..d.len() - 4];
        let mut it = Notes::new(cut, 100);
        assert_eq!(it.by_ref().count(), 2);
        assert!(it.truncated_at.is_some());
    }

    #[test]
    fn regsets_round_trip() {
        let d: Vec<u8> = (0..payload::ARM64_GREGS_LEN).map(|i| i as u8).collect();
        let r = Registers::Amd64(amd64_regs(&d[..payload::AMD64_GREGS_LEN]));
        assert_eq!(r.prstatus_regset(), &d[..payload::AMD64_GREGS_LEN]);
        let r = Registers::Arm64(arm64_regs(&d));
        assert_eq!(r.prstatus_regset(), d);
    }
}
