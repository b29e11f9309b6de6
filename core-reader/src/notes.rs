//! ELF notes: the iterator and the decoders for the notes a core carries
//! (`NT_PRSTATUS`, `NT_PRPSINFO`, `NT_SIGINFO`, `NT_AUXV`, `NT_FILE`, build ids).
//! Layouts are the kernel's 64-bit ones (include/uapi/linux/elfcore.h).

use crate::le::{i32_at, u16_at, u32_at, u64_at, until_nul};
use crate::model::{Amd64Regs, Arch, Arm64Regs, Registers};

pub const NT_PRSTATUS: u32 = 1;
pub const NT_FPREGSET: u32 = 2;
pub const NT_PRPSINFO: u32 = 3;
pub const NT_AUXV: u32 = 6;
pub const NT_GNU_BUILD_ID: u32 = 3;
pub const NT_GO_BUILD_ID: u32 = 4;
#[allow(dead_code)] // kept raw in Thread::extra_regsets
pub const NT_X86_XSTATE: u32 = 0x202;
pub const NT_ARM_TLS: u32 = 0x401;
pub const NT_SIGINFO: u32 = 0x5349_4749;
pub const NT_FILE: u32 = 0x4649_4c45;

/// One note, borrowed from the file.
#[derive(Debug, Clone, Copy)]
pub struct Note<'a> {
    /// The name without its NUL terminator(s).
    pub name: &'a [u8],
    pub n_type: u32,
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
                    n_type,
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

/// Offset of `pr_reg` in the 64-bit `elf_prstatus`.
const PR_REG: usize = 112;

pub fn prstatus(arch: Arch, d: &[u8]) -> Option<PrStatus> {
    let regs = match arch {
        Arch::Amd64 => Registers::Amd64(amd64_regs(d.get(PR_REG..PR_REG + 27 * 8)?)),
        Arch::Arm64 => Registers::Arm64(arm64_regs(d.get(PR_REG..PR_REG + 34 * 8)?)),
    };
    Some(PrStatus {
        // `elf_siginfo` is {signo, code, errno}, unlike `siginfo_t`.
        signo: i32_at(d, 0)?,
        code: i32_at(d, 4)?,
        errno: i32_at(d, 8)?,
        cursig: u16_at(d, 12)?,
        pid: u32_at(d, 32)?,
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

/// `NT_PRPSINFO` (`elf_prpsinfo`, 0x88 bytes on 64-bit).
#[derive(Debug, Clone)]
pub struct PrPsInfo {
    pub pid: u32,
    pub fname: String,
    pub psargs: String,
}

pub fn prpsinfo(d: &[u8]) -> Option<PrPsInfo> {
    let text = |b: &[u8]| String::from_utf8_lossy(until_nul(b)).trim_end().to_string();
    Some(PrPsInfo {
        pid: u32_at(d, 24)?,
        fname: text(d.get(40..56)?),
        psargs: text(d.get(56..136).unwrap_or(d.get(56..)?)),
    })
}

/// `NT_SIGINFO`: a raw `siginfo_t` ({signo, errno, code}, then the union).
#[derive(Debug, Clone, Copy)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    pub addr: Option<u64>,
}

pub fn siginfo(d: &[u8]) -> Option<SigInfo> {
    let signo = i32_at(d, 0)?;
    const SIGILL: i32 = 4;
    const SIGTRAP: i32 = 5;
    const SIGBUS: i32 = 7;
    const SIGFPE: i32 = 8;
    const SIGSEGV: i32 = 11;
    let code = i32_at(d, 8)?;
    // si_addr means the fault address only for faults the kernel raised
    // (si_code > 0); a kill(2) puts the sender's pid/uid there.
    let fault = matches!(signo, SIGILL | SIGTRAP | SIGBUS | SIGFPE | SIGSEGV) && code > 0;
    Some(SigInfo {
        signo,
        errno: i32_at(d, 4)?,
        code,
        addr: if fault { u64_at(d, 16) } else { None },
    })
}

/// `NT_AUXV`: (key, value) pairs up to `AT_NULL`.
pub fn auxv(d: &[u8]) -> Vec<(u64, u64)> {
    d.chunks_exact(16)
        .map(|c| (u64_at(c, 0).unwrap_or(0), u64_at(c, 8).unwrap_or(0)))
        .take_while(|&(k, _)| k != 0)
        .collect()
}

/// One `NT_FILE` entry, its offset already in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMapping {
    pub start: u64,
    pub end: u64,
    pub offset: u64,
    pub path: Vec<u8>,
}

/// `NT_FILE`: count, page size, `count` x {start, end, page offset}, names.
/// gdb writes page size 1 with byte offsets; the product is right either way.
pub fn nt_file(d: &[u8]) -> Option<Vec<FileMapping>> {
    let count = u64_at(d, 0)?;
    let page = u64_at(d, 8)?;
    let table_end = count.checked_mul(24)?.checked_add(16)?;
    if table_end > d.len() as u64 {
        return None;
    }
    let mut names = d[table_end as usize..].split(|&b| b == 0);
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count as usize {
        let e = 16 + i * 24;
        let start = u64_at(d, e)?;
        let end = u64_at(d, e + 8)?;
        let pgoff = u64_at(d, e + 16)?;
        let path = names.next().unwrap_or_default().to_vec();
        if end <= start {
            continue;
        }
        out.push(FileMapping {
            start,
            end,
            offset: pgoff.saturating_mul(page),
            path,
        });
    }
    Some(out)
}

/// The GNU build id among `notes`, if any.
pub fn gnu_build_id<'a>(notes: impl IntoIterator<Item = Note<'a>>) -> Option<Vec<u8>> {
    notes
        .into_iter()
        .find(|n| n.name == b"GNU" && n.n_type == NT_GNU_BUILD_ID && !n.desc.is_empty())
        .map(|n| n.desc.to_vec())
}

/// The Go build id (`.note.go.buildid`) among `notes`, if any.
pub fn go_build_id<'a>(notes: impl IntoIterator<Item = Note<'a>>) -> Option<Vec<u8>> {
    notes
        .into_iter()
        .find(|n| n.name == b"Go" && n.n_type == NT_GO_BUILD_ID && !n.desc.is_empty())
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
    fn nt_file_with_page_size_one() {
        let mut d = Vec::new();
        for v in [2u64, 1, 0x1000, 0x2000, 0x10, 0x3000, 0x4000, 0x20] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(b"/a\0/b\0");
        let f = nt_file(&d).unwrap();
        assert_eq!(f[1].offset, 0x20);
        assert_eq!(f[1].path, b"/b");
        // A count larger than the note is rejected, not allocated.
        d[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(nt_file(&d).is_none());
    }
}
