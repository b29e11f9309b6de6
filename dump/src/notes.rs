//! The notes of a live process's core, as the kernel writes them: which
//! regsets, their names, `elf_prstatus` times from clock ticks, `NT_FILE`
//! from the memory map, and the x86 XSAVE layout note. The note types and
//! descriptor layouts are elfwriter's ([`elfwriter::elf`],
//! [`elfwriter::payload`]), the ones core-reader reads with.

use elfwriter::elf::{
    NoteType, NT_386_IOPERM, NT_ARM_HW_BREAK, NT_ARM_HW_WATCH, NT_ARM_PAC_ENABLED_KEYS, NT_ARM_PAC_MASK, NT_ARM_SVE,
    NT_ARM_SYSTEM_CALL, NT_ARM_TAGGED_ADDR_CTRL, NT_ARM_TLS, NT_FILE, NT_PRFPREG, NT_PRPSINFO, NT_PRSTATUS,
    NT_X86_SHSTK, NT_X86_XSAVE_LAYOUT, NT_X86_XSTATE,
};
use elfwriter::payload::{self, FileEntry, Timeval};
pub use elfwriter::payload::{PrPsInfo, PrStatus};
use elfwriter::{Machine, Note};

use crate::target::MemoryMapEntry;

/// The register sets a core carries after `NT_PRSTATUS`, in the kernel's
/// regset order (the order `fill_thread_core_info` writes them).
pub fn extra_regsets(m: Machine) -> &'static [NoteType] {
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
pub fn regset_note(nt: NoteType, desc: Vec<u8>) -> Note {
    Note::new(if nt == NT_PRFPREG { "CORE" } else { "LINUX" }, nt, desc)
}

/// A thread's CPU times in clock ticks (`/proc/PID/stat` units).
#[derive(Debug, Clone, Copy, Default)]
pub struct Times {
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
}

impl Times {
    /// `pr_utime`, `pr_stime`, `pr_cutime`, `pr_cstime` at `ticks_per_sec`.
    pub fn timevals(self, ticks_per_sec: u64) -> [Timeval; 4] {
        let hz = ticks_per_sec.max(1);
        [self.utime, self.stime, self.cutime, self.cstime]
            .map(|t| Timeval { sec: t / hz, usec: (t % hz) * 1_000_000 / hz })
    }
}

/// `NT_PRSTATUS`: `s` with `regs` (the NT_PRSTATUS regset as
/// PTRACE_GETREGSET returns it) as `pr_reg`.
pub fn prstatus(s: &PrStatus, regs: &[u8]) -> Note {
    Note::new("CORE", NT_PRSTATUS, s.encode(regs))
}

/// `NT_PRPSINFO`.
pub fn prpsinfo(p: &PrPsInfo) -> Note {
    Note::new("CORE", NT_PRPSINFO, p.encode())
}

/// `NT_FILE`: every file-backed mapping (dumped or not), so a debugger can
/// find the executable and libraries.
pub fn nt_file(maps: &[MemoryMapEntry], page: u64) -> Note {
    let files: Vec<FileEntry> = maps
        .iter()
        .filter(|m| m.file_backed && m.path.is_some())
        .map(|m| FileEntry {
            start: m.start,
            end: m.end,
            offset: m.offset,
            path: m.path.as_deref().unwrap_or_default().as_bytes().to_vec(),
        })
        .collect();
    Note::new("CORE", NT_FILE, payload::encode_nt_file(&files, page))
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
        let [utime, ..] = Times { utime: 250, ..Default::default() }.timevals(100);
        let s = PrStatus { pid: 7, utime, fpvalid: true, ..Default::default() };
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
