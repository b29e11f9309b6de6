//! An opened core ([`core_reader::Core`]) as a dump [`Target`], so that
//! `godump convert` turns any core core-reader opens (minidump, Mach-O,
//! Delve's, compressed) into a Linux-style ELF core with the kernel's notes.

use core_reader::{Arch, Core};
use elfwriter::elf::{NoteType, NT_AUXV, NT_PRFPREG, NT_SIGINFO};
use elfwriter::payload::{self, SigInfo};
use elfwriter::{Machine, Note};

use crate::notes::{self, PrPsInfo, PrStatus};
use crate::target::{Dump, MemoryMapEntry, Perms, Target};
use crate::Result;

const AT_PAGESZ: u64 = 6;

/// The signal's `siginfo_t` (all zero without one).
fn siginfo(c: &Core) -> Vec<u8> {
    let s = c.signal.as_ref().map(|s| SigInfo { signo: s.signo, errno: s.errno, code: s.code, addr: s.addr });
    s.unwrap_or_default().encode()
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

    /// The core's mappings, each dumped where the core has bytes for it:
    /// a stretch of at least `MIN_SKIP` with no bytes (only zeros the
    /// reader supplies for a `p_memsz` beyond `p_filesz`, or nothing) becomes
    /// an entry of its own that is not dumped (`p_filesz` 0, as the kernel
    /// writes never-touched memory), so a terabyte `PROT_NONE` reservation
    /// costs one program header, not a terabyte of zeros to read and
    /// check. Shorter gaps are dumped (as holes). Memory that no mapping
    /// covers (a minidump without a module list) becomes anonymous
    /// read-write entries.
    fn memory_map(&self) -> Result<Vec<MemoryMapEntry>> {
        let regions = self.memory.regions();
        let mut out: Vec<MemoryMapEntry> = Vec::new();
        for m in self.mappings.iter().filter(|m| m.end > m.start) {
            let path = m.path.as_ref().map(|p| p.display().to_string());
            let entry = |start: u64, end: u64, dump: Dump| MemoryMapEntry {
                start,
                end,
                perms: Perms { read: m.read, write: m.write, exec: m.exec, shared: false },
                offset: m.file_offset.wrapping_add(start - m.start),
                file_backed: path.as_deref().is_some_and(|p| p.starts_with('/')),
                path: path.clone(),
                dump,
            };
            let spans = byte_spans(regions, m.start, m.end);
            if spans.is_empty() {
                // Nothing but zeros or nothing at all: as before, a small
                // mapping of zeros is dumped (as holes); a big one is not.
                let dump = if m.end - m.start < MIN_SKIP && overlaps(regions, m.start, m.end) { Dump::Whole } else { Dump::Skip };
                out.push(entry(m.start, m.end, dump));
                continue;
            }
            let mut at = m.start;
            for (s, e) in spans {
                if s > at {
                    out.push(entry(at, s, Dump::Skip));
                }
                out.push(entry(s, e, Dump::Whole));
                at = e;
            }
            if at < m.end {
                out.push(entry(at, m.end, Dump::Skip));
            }
        }
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
            let cursig = t.signal as u16;
            let st = PrStatus {
                signo: i32::from(cursig),
                cursig,
                pid: t.tid as i32,
                fpvalid: t.extra_regsets.iter().any(|(nt, _)| *nt == NT_PRFPREG.0),
                ..Default::default()
            };
            out.push(notes::prstatus(&st, &t.regs.prstatus_regset()));
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
                out.push(Note::new("CORE", NT_AUXV, payload::encode_auxv(&self.auxv)));
                out.push(notes::nt_file(&maps, page));
            }
            for (nt, b) in &t.extra_regsets {
                out.push(notes::regset_note(NoteType(*nt), b.clone()));
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

/// The shortest stretch of a mapping without bytes in the core that is
/// left out of the dump instead of written as holes.
const MIN_SKIP: u64 = 1 << 20;

/// Whether any region, bytes or zeros, overlaps `[s, e)`.
fn overlaps(regions: &[core_reader::spliced::Region], s: u64, e: u64) -> bool {
    !regions_in(regions, s, e).is_empty()
}

/// The regions (sorted, as `SplicedMemory` keeps them) that meet `[s, e)`.
fn regions_in(regions: &[core_reader::spliced::Region], s: u64, e: u64) -> &[core_reader::spliced::Region] {
    let first = regions.partition_point(|r| r.end() <= s);
    let rest = &regions[first..];
    &rest[..rest.partition_point(|r| r.start < e)]
}

/// The parts of `[s, e)` to dump: the byte-backed regions in it, clipped,
/// joined across gaps shorter than `MIN_SKIP`. One step a region, never
/// a page or a byte at a time.
fn byte_spans(regions: &[core_reader::spliced::Region], s: u64, e: u64) -> Vec<(u64, u64)> {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    for r in regions_in(regions, s, e) {
        if matches!(r.backing, core_reader::spliced::Backing::Zeros) {
            continue;
        }
        let (rs, re) = (r.start.max(s), r.end().min(e));
        match spans.last_mut() {
            Some(l) if rs - l.1 < MIN_SKIP => l.1 = re,
            _ => spans.push((rs, re)),
        }
    }
    // A gap at either end shorter than MIN_SKIP is dumped too.
    if let Some(f) = spans.first_mut() {
        if f.0 - s < MIN_SKIP {
            f.0 = s;
        }
    }
    if let Some(l) = spans.last_mut() {
        if e - l.1 < MIN_SKIP {
            l.1 = e;
        }
    }
    spans
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

#[cfg(test)]
mod tests {
    use super::*;
    use core_reader::spliced::{Backing, Region};
    use std::sync::Arc;

    fn bytes(start: u64, len: u64) -> Region {
        Region { start, len, backing: Backing::Bytes { bytes: Arc::new(vec![1u8; len as usize]), offset: 0 } }
    }
    fn zeros(start: u64, len: u64) -> Region {
        Region { start, len, backing: Backing::Zeros }
    }

    #[test]
    fn a_terabyte_of_zeros_is_not_dumped_small_gaps_are() {
        const TB: u64 = 1 << 40;
        let base = 0x7000_0000_0000;
        // A kernel core's mapping: a dumped head, a never-dumped tail.
        let r = [bytes(base, 0x3000), zeros(base + 0x3000, TB)];
        assert_eq!(byte_spans(&r, base, base + 0x3000 + TB), vec![(base, base + 0x3000)]);
        // Only zeros: nothing to dump.
        assert_eq!(byte_spans(&[zeros(base, TB)], base, base + TB), vec![]);
        // Bytes with a 64 KiB gap and a 2 MiB gap between them, clipped to
        // the mapping; short gaps at the ends are dumped too.
        let r = [
            bytes(base, 0x1000),
            bytes(base + 0x11000, 0x1000),
            zeros(base + 0x12000, 2 << 20),
            bytes(base + 0x212000, 0x2000),
        ];
        assert_eq!(
            byte_spans(&r, base + 0x800, base + 0x215000),
            vec![(base + 0x800, base + 0x12000), (base + 0x212000, base + 0x215000)]
        );
    }
}
