//! The descriptors of the notes a Linux core carries, laid out as 64-bit
//! Linux writes them (include/uapi/linux/elfcore.h, include/linux/elfcore.h,
//! fs/binfmt_elf.c): `elf_prstatus`, `elf_prpsinfo`, `siginfo_t`, `NT_FILE`
//! and `NT_AUXV`. Each has one `encode` (for the writers) and one `parse`
//! (for the reader), so the offsets are written down once. `parse` takes
//! what a short or damaged note holds and gives `None` only when a field it
//! needs is missing; it never panics.

use crate::header::Machine;

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at.checked_add(2)?)?.try_into().ok()?))
}
fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at.checked_add(4)?)?.try_into().ok()?))
}
fn i32_at(d: &[u8], at: usize) -> Option<i32> {
    u32_at(d, at).map(|v| v as i32)
}
fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at.checked_add(8)?)?.try_into().ok()?))
}
fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}
/// `b` up to its first NUL.
fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// Offset of `pr_reg` (the general registers) in `elf_prstatus`.
pub const PR_REG: usize = 112;
/// Size of amd64's `user_regs_struct` (27 registers), `pr_reg` there.
pub const AMD64_GREGS_LEN: usize = 27 * 8;
/// Size of arm64's `user_pt_regs` (x0..x30, sp, pc, pstate), `pr_reg` there.
pub const ARM64_GREGS_LEN: usize = 34 * 8;

impl Machine {
    /// Size of `pr_reg` in this machine's `elf_prstatus`.
    pub fn gregs_len(self) -> usize {
        match self {
            Machine::Amd64 => AMD64_GREGS_LEN,
            Machine::Arm64 => ARM64_GREGS_LEN,
        }
    }
}

/// A `struct timeval` (`__kernel_old_timeval`: two longs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timeval {
    pub sec: u64,
    pub usec: u64,
}

/// `elf_prstatus` without its registers, which [`PrStatus::encode`] takes
/// and [`PrStatus::parse`] hands back as bytes (`pr_reg` is the
/// `NT_PRSTATUS` regset as `PTRACE_GETREGSET` returns it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrStatus {
    /// `pr_info`, a `struct elf_siginfo`: {signo, code, errno}, in that
    /// order (unlike `siginfo_t`). Usually zero; `NT_SIGINFO` says more.
    pub signo: i32,
    pub code: i32,
    pub errno: i32,
    /// The signal the thread was taking.
    pub cursig: u16,
    pub sigpend: u64,
    pub sighold: u64,
    /// The thread's id.
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
    pub utime: Timeval,
    pub stime: Timeval,
    pub cutime: Timeval,
    pub cstime: Timeval,
    /// `pr_fpvalid`: whether an `NT_FPREGSET` follows.
    pub fpvalid: bool,
}

impl PrStatus {
    /// The note's bytes: the common part, `regs` as `pr_reg`, `pr_fpvalid`,
    /// padded to 8 (amd64: 112 + 216 + 8 = 0x150; arm64: 112 + 272 + 8 = 0x188).
    pub fn encode(&self, regs: &[u8]) -> Vec<u8> {
        let len = (PR_REG + regs.len() + 4 + 7) & !7;
        let mut b = vec![0u8; len];
        put(&mut b, 0, &self.signo.to_le_bytes());
        put(&mut b, 4, &self.code.to_le_bytes());
        put(&mut b, 8, &self.errno.to_le_bytes());
        put(&mut b, 12, &self.cursig.to_le_bytes());
        put(&mut b, 16, &self.sigpend.to_le_bytes());
        put(&mut b, 24, &self.sighold.to_le_bytes());
        put(&mut b, 32, &self.pid.to_le_bytes());
        put(&mut b, 36, &self.ppid.to_le_bytes());
        put(&mut b, 40, &self.pgrp.to_le_bytes());
        put(&mut b, 44, &self.sid.to_le_bytes());
        for (i, t) in [self.utime, self.stime, self.cutime, self.cstime].into_iter().enumerate() {
            put(&mut b, 48 + 16 * i, &t.sec.to_le_bytes());
            put(&mut b, 56 + 16 * i, &t.usec.to_le_bytes());
        }
        put(&mut b, PR_REG, regs);
        put(&mut b, PR_REG + regs.len(), &(self.fpvalid as i32).to_le_bytes());
        b
    }

    /// The fields and the `gregs_len` bytes of `pr_reg`; `None` when the
    /// note is too short to hold them. A missing `pr_fpvalid` reads as false.
    pub fn parse(d: &[u8], gregs_len: usize) -> Option<(PrStatus, &[u8])> {
        let regs = d.get(PR_REG..PR_REG.checked_add(gregs_len)?)?;
        let tv = |at: usize| Timeval { sec: u64_at(d, at).unwrap_or(0), usec: u64_at(d, at + 8).unwrap_or(0) };
        let st = PrStatus {
            signo: i32_at(d, 0)?,
            code: i32_at(d, 4)?,
            errno: i32_at(d, 8)?,
            cursig: u16_at(d, 12)?,
            sigpend: u64_at(d, 16)?,
            sighold: u64_at(d, 24)?,
            pid: i32_at(d, 32)?,
            ppid: i32_at(d, 36)?,
            pgrp: i32_at(d, 40)?,
            sid: i32_at(d, 44)?,
            utime: tv(48),
            stime: tv(64),
            cutime: tv(80),
            cstime: tv(96),
            fpvalid: i32_at(d, PR_REG + gregs_len).is_some_and(|v| v != 0),
        };
        Some((st, regs))
    }
}

/// Size of `elf_prpsinfo` on both 64-bit machines.
pub const PRPSINFO_LEN: usize = 0x88;

/// `elf_prpsinfo`: the process as `ps` would show it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrPsInfo {
    /// The state letter from `/proc/PID/stat` (`R`, `S`, `D`, `T`, ...);
    /// `pr_state` and `pr_zomb` follow from it.
    pub sname: u8,
    pub nice: i8,
    pub flag: u64,
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
    /// `comm`, at most 15 bytes (no NUL).
    pub fname: Vec<u8>,
    /// The command line, NULs turned into spaces, at most 79 bytes (no NUL).
    pub psargs: Vec<u8>,
}

impl PrPsInfo {
    /// The note's [`PRPSINFO_LEN`] bytes; longer names are cut as the kernel cuts them.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; PRPSINFO_LEN];
        // pr_state is the index of the state bit; "RSDTZW" is the kernel's table.
        b[0] = b"RSDTZW".iter().position(|&c| c == self.sname).unwrap_or(0) as u8;
        b[1] = self.sname;
        b[2] = (self.sname == b'Z') as u8;
        b[3] = self.nice as u8;
        put(&mut b, 8, &self.flag.to_le_bytes());
        put(&mut b, 16, &self.uid.to_le_bytes());
        put(&mut b, 20, &self.gid.to_le_bytes());
        put(&mut b, 24, &self.pid.to_le_bytes());
        put(&mut b, 28, &self.ppid.to_le_bytes());
        put(&mut b, 32, &self.pgrp.to_le_bytes());
        put(&mut b, 36, &self.sid.to_le_bytes());
        put(&mut b, 40, &self.fname[..self.fname.len().min(15)]);
        put(&mut b, 56, &self.psargs[..self.psargs.len().min(79)]);
        b
    }

    /// Needs the fields up to `pr_fname`; `pr_psargs` is what the note
    /// holds of it. Names end at their first NUL.
    pub fn parse(d: &[u8]) -> Option<PrPsInfo> {
        Some(PrPsInfo {
            sname: *d.get(1)?,
            nice: *d.get(3)? as i8,
            flag: u64_at(d, 8)?,
            uid: u32_at(d, 16)?,
            gid: u32_at(d, 20)?,
            pid: i32_at(d, 24)?,
            ppid: i32_at(d, 28)?,
            pgrp: i32_at(d, 32)?,
            sid: i32_at(d, 36)?,
            fname: until_nul(d.get(40..56)?).to_vec(),
            psargs: until_nul(d.get(56..PRPSINFO_LEN).or_else(|| d.get(56..))?).to_vec(),
        })
    }
}

/// Size of `siginfo_t`.
pub const SIGINFO_LEN: usize = 128;

/// `NT_SIGINFO`: the `siginfo_t` of the signal being delivered
/// ({signo, errno, code}, then the union, whose first word is `si_addr`
/// for faults).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SigInfo {
    pub signo: i32,
    pub errno: i32,
    pub code: i32,
    /// The union's first word, if the note holds it: `si_addr` for a fault,
    /// the sender's pid and uid for a `kill(2)`.
    pub addr: Option<u64>,
}

impl SigInfo {
    /// The note's [`SIGINFO_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; SIGINFO_LEN];
        put(&mut b, 0, &self.signo.to_le_bytes());
        put(&mut b, 4, &self.errno.to_le_bytes());
        put(&mut b, 8, &self.code.to_le_bytes());
        if let Some(a) = self.addr {
            put(&mut b, 16, &a.to_le_bytes());
        }
        b
    }

    /// Needs {signo, errno, code}.
    pub fn parse(d: &[u8]) -> Option<SigInfo> {
        Some(SigInfo { signo: i32_at(d, 0)?, errno: i32_at(d, 4)?, code: i32_at(d, 8)?, addr: u64_at(d, 16) })
    }

    /// `si_addr` when it is a fault address: for SIGILL, SIGTRAP, SIGBUS,
    /// SIGFPE and SIGSEGV that the kernel raised (`si_code` > 0); a
    /// `kill(2)` puts the sender's pid and uid there instead.
    pub fn fault_addr(&self) -> Option<u64> {
        const SIGILL: i32 = 4;
        const SIGTRAP: i32 = 5;
        const SIGBUS: i32 = 7;
        const SIGFPE: i32 = 8;
        const SIGSEGV: i32 = 11;
        let fault = matches!(self.signo, SIGILL | SIGTRAP | SIGBUS | SIGFPE | SIGSEGV) && self.code > 0;
        self.addr.filter(|_| fault)
    }
}

/// One `NT_FILE` entry: a file-backed range and where in the file it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub start: u64,
    pub end: u64,
    /// In bytes (the note stores pages).
    pub offset: u64,
    pub path: Vec<u8>,
}

/// `NT_FILE`: count, page size, `count` x {start, end, offset in pages},
/// then the NUL-terminated names.
pub fn encode_nt_file(files: &[FileEntry], page: u64) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&(files.len() as u64).to_le_bytes());
    b.extend_from_slice(&page.to_le_bytes());
    for f in files {
        b.extend_from_slice(&f.start.to_le_bytes());
        b.extend_from_slice(&f.end.to_le_bytes());
        b.extend_from_slice(&(f.offset / page.max(1)).to_le_bytes());
    }
    for f in files {
        b.extend_from_slice(&f.path);
        b.push(0);
    }
    b
}

/// The entries of an `NT_FILE` note, offsets in bytes; empty ranges are
/// left out. gdb writes page size 1 with byte offsets: the product is right
/// either way. `None` when the table does not fit in the note (a count
/// larger than the note is rejected, not allocated).
pub fn parse_nt_file(d: &[u8]) -> Option<Vec<FileEntry>> {
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
        out.push(FileEntry { start, end, offset: pgoff.saturating_mul(page), path });
    }
    Some(out)
}

/// `NT_AUXV`: (key, value) pairs, ending with `AT_NULL` (added when the
/// pairs lack it).
pub fn encode_auxv(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut b: Vec<u8> = pairs.iter().flat_map(|(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes())).collect();
    if !matches!(pairs.last(), Some((0, _))) {
        b.extend([0u8; 16]);
    }
    b
}

/// The pairs of an `NT_AUXV` note, up to `AT_NULL`.
pub fn parse_auxv(d: &[u8]) -> Vec<(u64, u64)> {
    d.chunks_exact(16)
        .map(|c| (u64_at(c, 0).unwrap_or(0), u64_at(c, 8).unwrap_or(0)))
        .take_while(|&(k, _)| k != 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prstatus_sizes_and_round_trip() {
        let s = PrStatus {
            cursig: 11,
            signo: 11,
            pid: 7,
            utime: Timeval { sec: 2, usec: 500_000 },
            fpvalid: true,
            ..Default::default()
        };
        let b = s.encode(&[0xab; AMD64_GREGS_LEN]);
        assert_eq!(b.len(), 0x150);
        assert_eq!(&b[32..36], &7i32.to_le_bytes());
        assert_eq!(&b[48..56], &2u64.to_le_bytes());
        assert_eq!(&b[56..64], &500_000u64.to_le_bytes());
        assert_eq!(&b[328..332], &1i32.to_le_bytes());
        assert_eq!(s.encode(&[0; ARM64_GREGS_LEN]).len(), 0x188);
        let (back, regs) = PrStatus::parse(&b, AMD64_GREGS_LEN).unwrap();
        assert_eq!(back, s);
        assert_eq!(regs, &[0xab; AMD64_GREGS_LEN][..]);
        assert!(PrStatus::parse(&b[..PR_REG + AMD64_GREGS_LEN - 1], AMD64_GREGS_LEN).is_none());
        assert!(!PrStatus::parse(&b[..PR_REG + AMD64_GREGS_LEN], AMD64_GREGS_LEN).unwrap().0.fpvalid);
    }

    #[test]
    fn prpsinfo_cuts_names_and_round_trips() {
        let p = PrPsInfo { sname: b'S', pid: 42, fname: b"averyveryverylongname".to_vec(), psargs: b"x y".to_vec(), ..Default::default() };
        let b = p.encode();
        assert_eq!(b.len(), 0x88);
        assert_eq!(b[0], 1);
        assert_eq!(&b[40..56], b"averyveryverylo\0");
        let back = PrPsInfo::parse(&b).unwrap();
        assert_eq!((back.pid, back.fname.as_slice(), back.psargs.as_slice()), (42, &b"averyveryverylo"[..], &b"x y"[..]));
        // A short note keeps what it has of psargs.
        assert_eq!(PrPsInfo::parse(&b[..58]).unwrap().psargs, b"x ");
        assert!(PrPsInfo::parse(&b[..55]).is_none());
    }

    #[test]
    fn siginfo_fault_address_only_for_faults() {
        let s = SigInfo { signo: 11, errno: 0, code: 1, addr: Some(0xdead) };
        let b = s.encode();
        assert_eq!(b.len(), 128);
        assert_eq!(SigInfo::parse(&b).unwrap().fault_addr(), Some(0xdead));
        // kill(2): code SI_USER (0), the union is the sender.
        let k = SigInfo::parse(&SigInfo { code: 0, ..s }.encode()).unwrap();
        assert_eq!(k.fault_addr(), None);
        assert_eq!(SigInfo::parse(&b[..12]).unwrap().addr, None);
        assert!(SigInfo::parse(&b[..11]).is_none());
    }

    #[test]
    fn nt_file_round_trips_and_takes_gdb_page_size_one() {
        let files = vec![
            FileEntry { start: 0x1000, end: 0x2000, offset: 0x3000, path: b"/a".to_vec() },
            FileEntry { start: 0x5000, end: 0x7000, offset: 0, path: b"/b".to_vec() },
        ];
        let b = encode_nt_file(&files, 0x1000);
        assert_eq!(&b[32..40], &3u64.to_le_bytes());
        assert_eq!(parse_nt_file(&b).unwrap(), files);
        let mut d = Vec::new();
        for v in [2u64, 1, 0x1000, 0x2000, 0x10, 0x3000, 0x4000, 0x20] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(b"/a\0/b\0");
        let f = parse_nt_file(&d).unwrap();
        assert_eq!(f[1].offset, 0x20);
        assert_eq!(f[1].path, b"/b");
        d[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(parse_nt_file(&d).is_none());
    }

    #[test]
    fn auxv_ends_with_at_null() {
        let b = encode_auxv(&[(6, 4096), (9, 0x401000)]);
        assert_eq!(b.len(), 48);
        assert_eq!(parse_auxv(&b), vec![(6, 4096), (9, 0x401000)]);
        assert_eq!(encode_auxv(&[(6, 4096), (0, 0)]).len(), 32);
    }
}
