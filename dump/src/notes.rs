//! The kernel's core note payloads, byte for byte: `elf_prstatus`,
//! `elf_prpsinfo`, `NT_FILE`, and the x86 XSAVE layout note. Layouts are
//! those of 64-bit Linux (include/linux/elfcore.h, uapi/linux/elfcore.h).

use elfwriter::{Machine, Note, NT_FILE, NT_PRPSINFO, NT_PRSTATUS};

use crate::target::MemoryMapEntry;

pub const NT_PRFPREG: u32 = 2;
pub const NT_386_IOPERM: u32 = 0x201;
pub const NT_X86_XSTATE: u32 = 0x202;
pub const NT_X86_SHSTK: u32 = 0x204;
pub const NT_X86_XSAVE_LAYOUT: u32 = 0x205;
pub const NT_ARM_TLS: u32 = 0x401;
pub const NT_ARM_HW_BREAK: u32 = 0x402;
pub const NT_ARM_HW_WATCH: u32 = 0x403;
pub const NT_ARM_SYSTEM_CALL: u32 = 0x404;
pub const NT_ARM_SVE: u32 = 0x405;
pub const NT_ARM_PAC_MASK: u32 = 0x406;
pub const NT_ARM_TAGGED_ADDR_CTRL: u32 = 0x409;
pub const NT_ARM_PAC_ENABLED_KEYS: u32 = 0x40a;

/// The register sets a core carries after `NT_PRSTATUS`, in the kernel's
/// regset order (the order `fill_thread_core_info` writes them).
pub fn extra_regsets(m: Machine) -> &'static [u32] {
    match m {
        Machine::Amd64 => &[NT_PRFPREG, NT_386_IOPERM, NT_X86_XSTATE, NT_X86_SHSTK],
        Machine::Arm64 => &[
            NT_PRFPREG,
            NT_ARM_TLS,
            NT_ARM_HW_BREAK,
            NT_ARM_HW_WATCH,
            NT_ARM_SYSTEM_CALL,
            NT_ARM_SVE,
            NT_ARM_PAC_MASK,
            NT_ARM_PAC_ENABLED_KEYS,
            NT_ARM_TAGGED_ADDR_CTRL,
        ],
    }
}

/// The kernel names the FP regset "CORE" (for old readers) and every other "LINUX".
pub fn regset_note(nt: u32, desc: Vec<u8>) -> Note {
    Note::new(if nt == NT_PRFPREG { "CORE" } else { "LINUX" }, nt, desc)
}

/// A `struct timeval` from clock ticks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
}

/// Everything `elf_prstatus` holds besides registers.
#[derive(Debug, Clone, Default)]
pub struct PrStatus {
    pub cursig: u16,
    pub sigpend: u64,
    pub sighold: u64,
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
    /// In clock ticks (`/proc/PID/stat` units).
    pub times: Times,
    pub ticks_per_sec: u64,
    pub fpvalid: bool,
}

fn put(b: &mut [u8], at: usize, v: &[u8]) {
    b[at..at + v.len()].copy_from_slice(v);
}

/// `elf_prstatus`: common part (112 bytes), `pr_reg` (the NT_PRSTATUS
/// regset as PTRACE_GETREGSET returns it), `pr_fpvalid`, padded to 8.
/// amd64: 112 + 216 + 8 = 0x150; arm64: 112 + 272 + 8 = 0x188.
pub fn prstatus(s: &PrStatus, regs: &[u8]) -> Note {
    let len = (112 + regs.len() + 4 + 7) & !7;
    let mut b = vec![0u8; len];
    put(&mut b, 0, &(s.cursig as i32).to_le_bytes()); // pr_info.si_signo
    put(&mut b, 12, &s.cursig.to_le_bytes());
    put(&mut b, 16, &s.sigpend.to_le_bytes());
    put(&mut b, 24, &s.sighold.to_le_bytes());
    put(&mut b, 32, &s.pid.to_le_bytes());
    put(&mut b, 36, &s.ppid.to_le_bytes());
    put(&mut b, 40, &s.pgrp.to_le_bytes());
    put(&mut b, 44, &s.sid.to_le_bytes());
    let hz = s.ticks_per_sec.max(1);
    for (i, t) in [s.times.utime, s.times.stime, s.times.cutime, s.times.cstime].into_iter().enumerate() {
        let at = 48 + 16 * i;
        put(&mut b, at, &(t / hz).to_le_bytes());
        put(&mut b, at + 8, &((t % hz) * 1_000_000 / hz).to_le_bytes());
    }
    put(&mut b, 112, regs);
    put(&mut b, 112 + regs.len(), &(s.fpvalid as i32).to_le_bytes());
    Note::new("CORE", NT_PRSTATUS, b)
}

#[derive(Debug, Clone, Default)]
pub struct PrPsInfo {
    /// The state letter from `/proc/PID/stat` (`R`, `S`, `D`, `T`, ...).
    pub sname: u8,
    pub nice: i8,
    pub flag: u64,
    pub uid: u32,
    pub gid: u32,
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
    /// `comm`, at most 15 bytes.
    pub fname: Vec<u8>,
    /// The command line, NULs turned into spaces, at most 79 bytes.
    pub psargs: Vec<u8>,
}

/// `elf_prpsinfo` (0x88 bytes on both 64-bit machines).
pub fn prpsinfo(p: &PrPsInfo) -> Note {
    let mut b = vec![0u8; 0x88];
    // pr_state is the index of the state bit; "RSDTZW" is the kernel's table.
    let state = b"RSDTZW".iter().position(|&c| c == p.sname).unwrap_or(0) as u8;
    b[0] = state;
    b[1] = p.sname;
    b[2] = (p.sname == b'Z') as u8;
    b[3] = p.nice as u8;
    put(&mut b, 8, &p.flag.to_le_bytes());
    put(&mut b, 16, &p.uid.to_le_bytes());
    put(&mut b, 20, &p.gid.to_le_bytes());
    put(&mut b, 24, &p.pid.to_le_bytes());
    put(&mut b, 28, &p.ppid.to_le_bytes());
    put(&mut b, 32, &p.pgrp.to_le_bytes());
    put(&mut b, 36, &p.sid.to_le_bytes());
    let f = &p.fname[..p.fname.len().min(15)];
    put(&mut b, 40, f);
    let a = &p.psargs[..p.psargs.len().min(79)];
    put(&mut b, 56, a);
    Note::new("CORE", NT_PRPSINFO, b)
}

/// `NT_FILE`: every file-backed mapping (dumped or not), so a debugger can
/// find the executable and libraries: count, page size, {start, end, page
/// offset} per file, then the NUL-terminated names.
pub fn nt_file(maps: &[MemoryMapEntry], page: u64) -> Note {
    let files: Vec<&MemoryMapEntry> = maps.iter().filter(|m| m.file_backed && m.path.is_some()).collect();
    let mut b = Vec::new();
    b.extend_from_slice(&(files.len() as u64).to_le_bytes());
    b.extend_from_slice(&page.to_le_bytes());
    for m in &files {
        b.extend_from_slice(&m.start.to_le_bytes());
        b.extend_from_slice(&m.end.to_le_bytes());
        b.extend_from_slice(&(m.offset / page).to_le_bytes());
    }
    for m in &files {
        b.extend_from_slice(m.path.as_deref().unwrap_or_default().as_bytes());
        b.push(0);
    }
    Note::new("CORE", NT_FILE, b)
}

/// `NT_X86_XSAVE_LAYOUT`: where each XSAVE component sits in `NT_X86_XSTATE`
/// (`{type, size, offset, flags}` u32 each, for the enabled features >= 2),
/// so readers need not guess the layout of another CPU. Newer kernels write
/// it once a core; the offsets are the standard format ones from CPUID 0xD.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // CPUID, commented below
pub fn xsave_layout(xstate: &[u8]) -> Option<Note> {
    // XCR0 as the kernel saved it: sw_reserved.xfeatures at offset 464.
    let xcr0 = u64::from_le_bytes(xstate.get(464..472)?.try_into().ok()?);
    let mut b = Vec::new();
    for i in 2..64u32 {
        if xcr0 & (1 << i) == 0 {
            continue;
        }
        // SAFETY: CPUID has no side effects and exists on every x86_64 CPU.
        #[allow(unused_unsafe)]
        let r = unsafe { std::arch::x86_64::__cpuid_count(0xd, i) };
        if r.eax == 0 {
            continue;
        }
        for v in [i, r.eax, r.ebx, 0] {
            b.extend_from_slice(&v.to_le_bytes());
        }
    }
    (!b.is_empty()).then(|| Note::new("LINUX", NT_X86_XSAVE_LAYOUT, b))
}

#[cfg(not(target_arch = "x86_64"))]
pub fn xsave_layout(_xstate: &[u8]) -> Option<Note> {
    None
}

/// Size of the XSAVE area for the features this CPU has enabled (CPUID 0xD
/// sub-leaf 0, EBX), the buffer PTRACE_GETREGSET(NT_X86_XSTATE) needs.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)] // CPUID, commented below
pub fn xsave_size() -> usize {
    // SAFETY: as above.
    #[allow(unused_unsafe)]
    let r = unsafe { std::arch::x86_64::__cpuid_count(0xd, 0) };
    (r.ebx.max(r.ecx) as usize).max(4096)
}

#[cfg(not(target_arch = "x86_64"))]
pub fn xsave_size() -> usize {
    4096
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{Dump, Perms};

    #[test]
    fn sizes_match_the_kernel() {
        let s = PrStatus { pid: 7, ticks_per_sec: 100, times: Times { utime: 250, ..Default::default() }, fpvalid: true, ..Default::default() };
        let n = prstatus(&s, &[0u8; 27 * 8]);
        assert_eq!(n.desc.len(), 0x150);
        assert_eq!(&n.desc[32..36], &7i32.to_le_bytes());
        assert_eq!(&n.desc[48..56], &2u64.to_le_bytes());
        assert_eq!(&n.desc[56..64], &500_000u64.to_le_bytes());
        assert_eq!(&n.desc[328..332], &1i32.to_le_bytes());
        assert_eq!(prstatus(&s, &[0u8; 34 * 8]).desc.len(), 0x188);
        let p = prpsinfo(&PrPsInfo { sname: b'S', fname: b"averyveryverylongname".to_vec(), ..Default::default() });
        assert_eq!(p.desc.len(), 0x88);
        assert_eq!(p.desc[0], 1);
        assert_eq!(&p.desc[40..56], b"averyveryverylo\0");
    }

    #[test]
    fn nt_file_lists_files_only() {
        let e = |start, path: &str, file| MemoryMapEntry {
            start,
            end: start + 0x2000,
            perms: Perms::default(),
            offset: 0x3000,
            path: Some(path.into()),
            file_backed: file,
            dump: Dump::Skip,
        };
        let n = nt_file(&[e(0x1000, "/bin/x", true), e(0x9000, "[heap]", false)], 0x1000);
        let d = &n.desc;
        assert_eq!(&d[0..8], &1u64.to_le_bytes());
        assert_eq!(&d[8..16], &0x1000u64.to_le_bytes());
        assert_eq!(&d[32..40], &3u64.to_le_bytes());
        assert_eq!(&d[40..], b"/bin/x\0");
    }
}
