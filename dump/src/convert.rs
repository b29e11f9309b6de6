//! An opened core ([`core_reader::Core`]) as a dump [`Target`], so that
//! `godump convert` turns any core core-reader opens (minidump, Mach-O,
//! Delve's, compressed) into a Linux-style ELF core with the kernel's notes.

use core_reader::{Arch, Core, Registers};
use elfwriter::{Machine, Note, NT_AUXV, NT_SIGINFO};

use crate::notes::{self, PrPsInfo, PrStatus};
use crate::target::{Dump, MemoryMapEntry, Perms, Target};
use crate::Result;

const AT_PAGESZ: u64 = 6;

/// The NT_PRSTATUS regset (`user_regs_struct` / `user_pt_regs`) of a thread.
pub fn regset_bytes(r: &Registers) -> Vec<u8> {
    let words: Vec<u64> = match r {
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

/// The signal's `siginfo_t` as the kernel lays it out on 64-bit Linux.
fn siginfo(c: &Core) -> Vec<u8> {
    let mut b = vec![0u8; 128];
    if let Some(s) = &c.signal {
        b[0..4].copy_from_slice(&s.signo.to_le_bytes());
        b[4..8].copy_from_slice(&s.errno.to_le_bytes());
        b[8..12].copy_from_slice(&s.code.to_le_bytes());
        if let Some(a) = s.addr {
            b[16..24].copy_from_slice(&a.to_le_bytes());
        }
    }
    b
}

impl Target for Core {
    fn machine(&self) -> Machine {
        match self.arch {
            Arch::Amd64 => Machine::Amd64,
            Arch::Arm64 => Machine::Arm64,
        }
    }

    fn page_size(&self) -> u64 {
        self.auxv_value(AT_PAGESZ).filter(|p| p.is_power_of_two() && *p >= 4096).unwrap_or(4096)
    }

    /// The core's mappings, each dumped whole when any of it is readable
    /// (unreadable pages become holes). Memory that no mapping covers (a
    /// minidump without a module list) becomes anonymous read-write entries.
    fn memory_map(&self) -> Result<Vec<MemoryMapEntry>> {
        let regions = self.memory.regions();
        let overlaps = |s: u64, e: u64| {
            let i = regions.partition_point(|r| r.end() <= s);
            i < regions.len() && regions[i].start < e
        };
        let mut out: Vec<MemoryMapEntry> = self
            .mappings
            .iter()
            .filter(|m| m.end > m.start)
            .map(|m| {
                let path = m.path.as_ref().map(|p| p.display().to_string());
                MemoryMapEntry {
                    start: m.start,
                    end: m.end,
                    perms: Perms { read: m.read, write: m.write, exec: m.exec, shared: false },
                    offset: m.file_offset,
                    file_backed: path.as_deref().is_some_and(|p| p.starts_with('/')),
                    path,
                    dump: if overlaps(m.start, m.end) { Dump::Whole } else { Dump::Skip },
                }
            })
            .collect();
        out.sort_by_key(|m| m.start);
        // Readable memory outside every mapping, coalesced.
        let mut extra: Vec<(u64, u64)> = Vec::new();
        for r in regions {
            // The parts of [r.start, r.end) between the (sorted) mappings.
            let mut s = r.start;
            let e = r.end();
            let mut gaps = Vec::new();
            for m in out.iter().filter(|m| m.start < e && m.end > r.start) {
                if m.start > s {
                    gaps.push((s, m.start));
                }
                s = s.max(m.end);
            }
            if s < e {
                gaps.push((s, e));
            }
            for (gs, ge) in gaps {
                match extra.last_mut() {
                    Some(l) if l.1 == gs => l.1 = ge,
                    _ => extra.push((gs, ge)),
                }
            }
        }
        for (start, end) in extra {
            out.push(MemoryMapEntry {
                start,
                end,
                perms: Perms { read: true, write: true, exec: false, shared: false },
                offset: 0,
                path: None,
                file_backed: false,
                dump: Dump::Whole,
            });
        }
        out.sort_by_key(|m| m.start);
        Ok(out)
    }

    fn threads(&self) -> Vec<u64> {
        self.thread_order().into_iter().map(|i| self.threads[i].tid).collect()
    }

    fn dump_process_notes(&self, out: &mut Vec<Note>, thread_done: &mut dyn FnMut()) -> Result<bool> {
        let page = self.page_size();
        let pid = self.pid.unwrap_or(0) as i32;
        let maps = self.memory_map()?;
        for (n, i) in self.thread_order().into_iter().enumerate() {
            let t = &self.threads[i];
            let st = PrStatus {
                cursig: t.signal as u16,
                pid: t.tid as i32,
                ticks_per_sec: 100,
                fpvalid: t.extra_regsets.iter().any(|(nt, _)| *nt == notes::NT_PRFPREG),
                ..Default::default()
            };
            out.push(notes::prstatus(&st, &regset_bytes(&t.regs)));
            if n == 0 {
                let cmd = self.command.clone().unwrap_or_default();
                let first = cmd.split(' ').next().unwrap_or("");
                let fname = first.rsplit('/').next().unwrap_or(first);
                out.push(notes::prpsinfo(&PrPsInfo {
                    sname: b'R',
                    pid,
                    fname: fname.as_bytes().to_vec(),
                    psargs: cmd.as_bytes().to_vec(),
                    ..Default::default()
                }));
                out.push(Note::new("CORE", NT_SIGINFO, siginfo(self)));
                let mut auxv: Vec<u8> = self.auxv.iter().flat_map(|(k, v)| k.to_le_bytes().into_iter().chain(v.to_le_bytes())).collect();
                if !matches!(self.auxv.last(), Some((0, _))) {
                    auxv.extend([0u8; 16]); // AT_NULL
                }
                out.push(Note::new("CORE", NT_AUXV, auxv));
                out.push(notes::nt_file(&maps, page));
            }
            for (nt, b) in &t.extra_regsets {
                out.push(notes::regset_note(*nt, b.clone()));
            }
            thread_done();
        }
        Ok(true)
    }

    fn read_memory(&self, addr: u64, buf: &mut [u8]) -> usize {
        match self.memory.read(addr, buf) {
            Ok(()) => buf.len(),
            // The read copies in order, so everything before the first
            // unreadable address is in `buf`.
            Err(core_reader::Error::Unmapped { addr: a } | core_reader::Error::Unreadable { addr: a, .. })
                if a >= addr && a - addr <= buf.len() as u64 =>
            {
                (a - addr) as usize
            }
            Err(_) => 0,
        }
    }
}

/// Thread order for a core: the one that took the signal first.
trait ThreadOrder {
    fn thread_order(&self) -> Vec<usize>;
}

impl ThreadOrder for Core {
    fn thread_order(&self) -> Vec<usize> {
        let first = self.signal.as_ref().and_then(|s| s.thread).filter(|&i| i < self.threads.len()).unwrap_or(0);
        let mut v: Vec<usize> = (0..self.threads.len()).collect();
        if !v.is_empty() {
            v.remove(first);
            v.insert(0, first);
        }
        v
    }
}
