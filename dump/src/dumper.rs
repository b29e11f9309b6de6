//! `dump()`: any [`Target`] to a core file (ELF, minidump or Mach-O).
//!
//! Reader threads fill chunks of memory into buffers; writer threads write
//! each filled chunk at its own place in the file (`pwrite`; through the
//! page cache when the dump fits what the cache takes without writeback,
//! else with `O_DIRECT`, see [`crate::output`]) and hand the buffer
//! back. Chunks are written in whatever order they are read, so neither
//! side waits for a slow chunk of the other. Buffers circulate through a
//! pool that grows up to `buffer_bytes`, which bounds memory use.
//!
//! A live target stays stopped until the last byte is *read*, not written,
//! so the readers run ahead of the writers by up to `buffer_bytes`: a dump
//! that fits that window is stopped only for the reading (and the first
//! touch of the buffers); beyond it, the readers wait for the writers to
//! free a buffer, and the target stays stopped until all but the last
//! `buffer_bytes` are written. (A dump that goes to the page cache uses at
//! most 64 MiB of buffers: the cache takes the chunks as fast as they are
//! read, and it is the copy into it that the stop then lasts.)

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use elfwriter::{Segment, SegmentFlags};

use crate::memory::{self, Chunk};
use crate::output::{AlignedBuf, Destination, Output};
use crate::state::DumpState;
use crate::target::{Dump, MemoryMapEntry, Target};
use crate::{interrupt, Error, Result};

/// The kind of file `dump()` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A Linux ELF core, as the kernel writes it.
    #[default]
    Elf,
    /// A Breakpad-style Linux minidump with all of the memory (Memory64List).
    Minidump,
    /// A Mach-O `MH_CORE`: segments and thread states (lldb).
    MachO,
}

#[derive(Debug, Clone)]
pub struct DumpOptions {
    pub format: Format,
    /// Bytes a read: big enough to amortise the syscall and page pinning.
    pub chunk_size: usize,
    /// How far (bytes) reading may run ahead of writing. Buffers are
    /// allocated only as needed.
    pub buffer_bytes: usize,
    /// Reader threads.
    pub readers: usize,
    /// Writer threads.
    pub writers: usize,
    /// Permission bits of a new core file (the kernel's 0600 by default: a
    /// core holds whatever secrets the process held).
    pub mode: u32,
    /// Write page-aligned data with `O_DIRECT` where the file system
    /// allows it (else through the page cache)...
    pub direct: bool,
    /// ...unless the whole dump is at most this many bytes: then all of it
    /// goes through the page cache (`None`: what the machine takes without
    /// starting writeback, [`crate::output::cache_budget`]).
    pub cache_bytes: Option<u64>,
}

impl Default for DumpOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        DumpOptions {
            format: Format::Elf,
            chunk_size: 8 << 20,
            buffer_bytes: default_buffer(),
            readers: cpus.clamp(1, 4),
            writers: 2,
            mode: 0o600,
            direct: true,
            cache_bytes: None,
        }
    }
}

/// A quarter of the available memory, between 64 MiB and 1 GiB.
fn default_buffer() -> usize {
    let avail_kb = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemAvailable:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .unwrap_or(0);
    ((avail_kb * 1024 / 4) as usize).clamp(64 << 20, 1 << 30)
}

/// What a finished dump did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: PathBuf,
    pub threads: usize,
    pub mappings: usize,
    /// Memory bytes in the core (`sum of p_filesz`), holes included.
    pub memory_bytes: u64,
    /// Pages that could not be read and were written as zeros, not counting
    /// the ones nobody can read (`[vvar]`, `[vsyscall]`: the kernel's own
    /// dumps have holes there too).
    pub unreadable_pages: u64,
    /// Time from the start of the dump until all memory had been read.
    pub read_time: Duration,
    /// Written straight through to a stream (stdout, a FIFO, a device),
    /// not to a file of its own.
    pub stream: bool,
    /// How long a live target was kept stopped.
    pub stopped: Option<Duration>,
    /// The memory came from a copy-on-write clone of the target.
    pub cloned: bool,
    /// The target's remarks on how the dump was made (one line each).
    pub remarks: Vec<String>,
}

/// Write a core of `t` to `out`, updating `state` as it goes. A regular
/// file is written under a temporary name and renamed at the end; `-`
/// (standard output), a FIFO or a device is written in order, straight
/// through (see [`crate::output::Destination`]).
pub fn dump(t: &dyn Target, out: &Path, opts: &DumpOptions, state: &DumpState) -> Result<Summary> {
    state.dumping.store(true, Ordering::Release);
    let mut r = run(t, out, opts, state);
    // A target that died under us: say so, whatever step noticed first (a
    // ptrace call failing with ESRCH, or nothing at all: reads of a dead
    // process's memory just come back empty). `run` left no partial file.
    if !matches!(r, Err(Error::Interrupted { .. })) {
        if let Some(why) = t.gone() {
            // A file of ours goes; what a stream got is out of our hands.
            if let Some(s) = r.as_ref().ok().filter(|s| !s.stream) {
                let _ = std::fs::remove_file(&s.path);
            }
            r = Err(Error::Target(why));
        }
    }
    state.finish(r.as_ref().err().map(|e| e.to_string()));
    r
}

fn run(t: &dyn Target, out: &Path, opts: &DumpOptions, state: &DumpState) -> Result<Summary> {
    let started = Instant::now();
    let page = t.page_size();
    let map = t.memory_map()?;
    let threads = t.threads();
    state.threads_total.store(threads.len(), Ordering::Relaxed);

    let mut notes = Vec::new();
    t.dump_process_notes(&mut notes, &mut || {
        state.threads_done.fetch_add(1, Ordering::Relaxed);
    })?;
    interrupt::check()?;
    t.notes_taken()?;
    state.cloned.store(t.cloned(), Ordering::Release);
    state.set_stopped(t.stopped_for());

    let segments: Vec<Segment> = map
        .iter()
        .map(|m| Segment {
            vaddr: m.start,
            memsz: m.len(),
            filesz: m.dump_len(page),
            flags: SegmentFlags { read: m.perms.read, write: m.perms.write, exec: m.perms.exec },
        })
        .collect();
    let ranges: Vec<(u64, u64)> = map
        .iter()
        .filter(|m| m.dump != Dump::Skip)
        .map(|m| (m.start, m.dump_len(page)))
        .collect();
    let total: u64 = ranges.iter().map(|r| r.1).sum();
    state.mem_total.store(total, Ordering::Relaxed);

    // A dump the page cache holds without writeback goes there whole: at
    // memory speed, like gcore's. A bigger one goes around it whole: once
    // writeback starts, the page cache is no faster than the disk, and on
    // ext4 buffered and direct writes to one file take turns (the inode
    // lock), so mixing them would only leave the disk idle meanwhile.
    let cached = !opts.direct || total <= opts.cache_bytes.unwrap_or_else(crate::output::cache_budget);
    let (mut dest, file) = Destination::open(out, opts.mode, !cached).map_err(Error::io(out))?;
    // Errors name the path the user gave, never our temporary.
    let werr = |source| Error::Write { path: out.to_path_buf(), source };
    // Never-touched pages of anonymous memory are holes without being read:
    // reading would fault them in, which the kernel's dump avoids too.
    let mut pieces = Vec::new();
    for m in map.iter().filter(|m| m.dump != Dump::Skip) {
        let len = m.dump_len(page);
        let res = if m.is_anonymous_private() { t.resident_pages(m.start, len) } else { None };
        pieces.extend(memory::split_resident(m.start, len, page, res.as_deref()));
    }
    let chunks = memory::plan(&pieces, opts.chunk_size.max(page as usize));
    let head = match opts.format {
        Format::Elf => elfwriter::core_head(t.machine(), page, &notes, &segments).map_err(werr)?.0,
        Format::MachO => crate::macho::head(t.machine(), &map, &notes, page),
        Format::Minidump => crate::minidump::head(t, &map, &notes, &ranges, page)?,
    };
    let base = head.len() as u64;
    file.write_at(&head, 0).map_err(|e| werr(elfwriter::Error::Io { what: "headers", source: e }))?;
    // Read-ahead buffers keep the stop short when the disk is slower than
    // the reading. A page cache that takes everything without writeback is
    // about as fast as the reading: buffers would only double the fresh
    // memory to fault in (the cache's pages and ours), so a few do.
    let mut opts = opts.clone();
    if cached && opts.direct {
        opts.buffer_bytes = opts.buffer_bytes.min(64 << 20);
    }
    if dest.is_stream() {
        // A stream takes its bytes in order: one reader and one writer keep
        // the chunks in the order of the file.
        opts.readers = 1;
        opts.writers = 1;
    }
    let job = Job { t, map: &map, chunks: &chunks, opts: &opts, page, state, started, out: &file, base };
    let (unreadable, read_time) = pump(&job).map_err(|e| e.into_error(out))?;
    t.memory_read_done();
    state.set_stopped(t.stopped_for());
    file.finish(base + total).map_err(|e| werr(elfwriter::Error::Io { what: "file length", source: e }))?;
    // Checked before the rename, so that a dead target's core never appears
    // under its final name, not even for a moment.
    if let Some(why) = t.gone() {
        return Err(Error::Target(why));
    }
    dest.commit().map_err(Error::io(out))?;
    Ok(Summary {
        path: out.to_path_buf(),
        threads: threads.len(),
        mappings: map.len(),
        memory_bytes: total,
        unreadable_pages: unreadable,
        read_time,
        stream: dest.is_stream(),
        stopped: t.stopped_for(),
        cloned: t.cloned(),
        remarks: t.remarks(),
    })
}

enum PumpError {
    Write(std::io::Error),
    Other(Error),
}

impl PumpError {
    fn into_error(self, path: &Path) -> Error {
        match self {
            PumpError::Write(source) => {
                Error::Write { path: path.to_path_buf(), source: elfwriter::Error::Io { what: "segment data", source } }
            }
            PumpError::Other(e) => e,
        }
    }
}

/// Whether `addr` lies in a special mapping that no one can read (`[vvar]`,
/// `[vsyscall]`): zeros there are normal, not worth a warning.
fn expected_unreadable(map: &[MemoryMapEntry], addr: u64) -> bool {
    let i = map.partition_point(|m| m.end <= addr);
    map.get(i).is_some_and(|m| {
        m.start <= addr && !m.file_backed && m.path.as_deref().is_some_and(|p| p.starts_with('[')) && !m.is_anonymous_private()
    })
}

/// What the readers and the writers share.
struct Job<'a> {
    t: &'a dyn Target,
    map: &'a [MemoryMapEntry],
    chunks: &'a [Chunk],
    opts: &'a DumpOptions,
    page: u64,
    state: &'a DumpState,
    started: Instant,
    out: &'a Output,
    /// File offset of the first byte of memory.
    base: u64,
}

/// What the workers tell the thread that runs the dump.
enum Event {
    /// A chunk was read.
    Read,
    /// A chunk is on its way to the disk; its unexpected unreadable pages.
    Written(u64),
    Failed(std::io::Error),
}

/// How long a blocked worker sleeps before it looks whether the dump ended.
const POLL: Duration = Duration::from_millis(50);

/// Run the readers and the writers until every chunk is written; resume a
/// live target (on this thread, the one that stopped it) as soon as every
/// chunk is read. Returns the unexpected unreadable pages and the time
/// until all memory was read.
fn pump(job: &Job) -> std::result::Result<(u64, Duration), PumpError> {
    let Job { t, map, chunks, opts, page, state, started, out, base } = *job;
    if chunks.is_empty() {
        return Ok((0, started.elapsed()));
    }
    let readers = opts.readers.max(1).min(chunks.len());
    let writers = opts.writers.max(1).min(chunks.len());
    let chunk_size = opts.chunk_size.max(page as usize);
    let max_buffers = (opts.buffer_bytes / chunk_size).max(readers + writers);
    // Where each chunk starts in the stream of memory.
    let starts: Vec<u64> = chunks
        .iter()
        .scan(0u64, |at, c| {
            let s = *at;
            *at += c.len as u64;
            Some(s)
        })
        .collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let allocated = AtomicUsize::new(0);
    let written_bytes = AtomicU64::new(0);
    let (pool_tx, pool_rx) = mpsc::channel::<AlignedBuf>();
    let pool_rx = std::sync::Mutex::new(pool_rx);
    let (full_tx, full_rx) = mpsc::channel::<(usize, AlignedBuf, Vec<u64>)>();
    let full_rx = std::sync::Mutex::new(full_rx);
    let (ev_tx, ev_rx) = mpsc::channel::<Event>();
    std::thread::scope(|s| {
        for _ in 0..readers {
            let (full_tx, ev_tx) = (full_tx.clone(), ev_tx.clone());
            let (next, stop, pool_rx, allocated) = (&next, &stop, &pool_rx, &allocated);
            s.spawn(move || loop {
                if stop.load(Ordering::Relaxed) || interrupt::requested().is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= chunks.len() {
                    return;
                }
                // A buffer the writers are done with; a new one while the
                // pool may grow; else wait for the writers.
                let mut buf = loop {
                    let Ok(rx) = pool_rx.lock() else { return };
                    match rx.try_recv() {
                        Ok(b) => break b,
                        Err(mpsc::TryRecvError::Disconnected) => return,
                        Err(mpsc::TryRecvError::Empty) => {}
                    }
                    if allocated.fetch_add(1, Ordering::Relaxed) < max_buffers {
                        drop(rx);
                        break AlignedBuf::new(chunk_size);
                    }
                    allocated.fetch_sub(1, Ordering::Relaxed);
                    match rx.recv_timeout(POLL) {
                        Ok(b) => break b,
                        Err(mpsc::RecvTimeoutError::Timeout) => {
                            if stop.load(Ordering::Relaxed) {
                                return;
                            }
                        }
                        Err(mpsc::RecvTimeoutError::Disconnected) => return,
                    }
                };
                let z = memory::fill(t, &chunks[i], buf.as_mut_slice(), page);
                if full_tx.send((i, buf, z)).is_err() || ev_tx.send(Event::Read).is_err() {
                    return;
                }
            });
        }
        drop(full_tx);
        for _ in 0..writers {
            let (pool_tx, ev_tx) = (pool_tx.clone(), ev_tx.clone());
            let (stop, full_rx, starts, written_bytes) = (&stop, &full_rx, &starts, &written_bytes);
            s.spawn(move || loop {
                let got = {
                    let Ok(rx) = full_rx.lock() else { return };
                    rx.recv_timeout(POLL)
                };
                let (i, buf, z) = match got {
                    Ok(x) => x,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => return,
                };
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let len = chunks[i].len;
                let bytes = &buf.as_slice()[..len];
                for (a, b) in elfwriter::data_runs(bytes, starts[i], page as usize) {
                    if let Err(e) = out.write_at(&bytes[a..b], base + starts[i] + a as u64) {
                        let _ = ev_tx.send(Event::Failed(e));
                        return;
                    }
                }
                written_bytes.fetch_add(len as u64, Ordering::Relaxed);
                let bad = z.iter().filter(|&&a| !expected_unreadable(map, a)).count() as u64;
                let _ = pool_tx.send(buf);
                if ev_tx.send(Event::Written(bad)).is_err() {
                    return;
                }
            });
        }
        drop(pool_tx);
        drop(ev_tx);
        let result = (|| {
            let (mut read, mut written, mut unreadable) = (0, 0, 0);
            let mut read_time = None;
            while written < chunks.len() {
                if let Some(signal) = interrupt::requested() {
                    return Err(PumpError::Other(Error::Interrupted { signal }));
                }
                match ev_rx.recv_timeout(Duration::from_millis(100)) {
                    Ok(Event::Read) => {
                        read += 1;
                        if read == chunks.len() {
                            read_time = Some(started.elapsed());
                            // Everything is read: let a live target go while
                            // the rest is written.
                            t.memory_read_done();
                        }
                    }
                    Ok(Event::Written(bad)) => {
                        written += 1;
                        unreadable += bad;
                    }
                    Ok(Event::Failed(e)) => return Err(PumpError::Write(e)),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    Err(mpsc::RecvTimeoutError::Disconnected) => {
                        // Workers end early only when told to (a signal).
                        interrupt::check().map_err(PumpError::Other)?;
                        return Err(PumpError::Other(Error::Target("memory readers stopped early".into())));
                    }
                }
                state.mem_done.store(written_bytes.load(Ordering::Relaxed), Ordering::Relaxed);
            }
            Ok((unreadable, read_time.unwrap_or_else(|| started.elapsed())))
        })();
        stop.store(true, Ordering::Relaxed);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::{MemoryMapEntry, Perms};
    use elfwriter::{Machine, Note};
    use object::read::elf::{ElfFile64, ProgramHeader as _};
    use object::Endianness;

    /// Mappings whose bytes are a function of the address, one unreadable
    /// page and some zero pages.
    struct Fake(Vec<MemoryMapEntry>);
    const BAD: u64 = 0x40_3000;
    fn byte(a: u64) -> u8 {
        if (0x41_0000..0x41_8000).contains(&a) || (BAD..BAD + 0x1000).contains(&a) {
            0
        } else {
            (a ^ (a >> 12)) as u8 | 1
        }
    }
    impl Target for Fake {
        fn machine(&self) -> Machine {
            Machine::Amd64
        }
        fn page_size(&self) -> u64 {
            0x1000
        }
        fn memory_map(&self) -> Result<Vec<MemoryMapEntry>> {
            Ok(self.0.clone())
        }
        fn threads(&self) -> Vec<u64> {
            vec![1]
        }
        fn dump_process_notes(&self, notes: &mut Vec<Note>, done: &mut dyn FnMut()) -> Result<bool> {
            notes.push(crate::notes::prstatus(&Default::default(), &[0; 216]));
            done();
            Ok(true)
        }
        fn read_memory(&self, addr: u64, buf: &mut [u8]) -> usize {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr + i as u64;
                if (BAD..BAD + 0x1000).contains(&a) {
                    return i;
                }
                *b = byte(a);
            }
            buf.len()
        }
    }

    fn entry(start: u64, end: u64, dump: Dump) -> MemoryMapEntry {
        MemoryMapEntry { start, end, perms: Perms { read: true, write: true, ..Default::default() }, offset: 0, path: None, file_backed: false, dump }
    }

    #[test]
    fn many_readers_write_every_byte_in_order() {
        let t = Fake(vec![
            entry(0x40_0000, 0x40_9000, Dump::Whole),
            entry(0x40_9000, 0x40_a000, Dump::Skip),
            entry(0x41_0000, 0x42_0000, Dump::Whole),
            entry(0x50_0000, 0x50_4000, Dump::FirstPage),
        ]);
        // Through the page cache (small dumps), with O_DIRECT (big ones).
        for cache_bytes in [None, Some(0)] {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("t.core");
            let state = DumpState::new();
            let opts = DumpOptions { chunk_size: 0x3000, buffer_bytes: 0x6000, readers: 3, writers: 2, cache_bytes, ..DumpOptions::default() };
            let s = dump(&t, &out, &opts, &state).unwrap();
            assert_eq!(s.unreadable_pages, 1);
            assert_eq!(s.memory_bytes, 0x9000 + 0x10000 + 0x1000);
            assert!(state.is_done() && state.error().is_none());
            assert_eq!(state.mem(), (s.memory_bytes, s.memory_bytes));
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary was left");

            let data = std::fs::read(&out).unwrap();
            let f = ElfFile64::<Endianness>::parse(&*data).unwrap();
            let e = f.endian();
            let mut checked = 0;
            for ph in f.elf_program_headers().iter().skip(1) {
                let (va, off, sz) = (ph.p_vaddr(e), ph.p_offset(e) as usize, ph.p_filesz(e) as usize);
                for i in 0..sz {
                    assert_eq!(data[off + i], byte(va + i as u64), "at {:#x}", va + i as u64);
                }
                checked += sz;
        }
        assert_eq!(checked as u64, s.memory_bytes);
        }
    }

    #[test]
    fn minidump_layout_is_consistent() {
        let t = Fake(vec![entry(0x40_0000, 0x40_9000, Dump::Whole), entry(0x41_0000, 0x42_0000, Dump::Whole)]);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("t.dmp");
        let opts = DumpOptions { format: Format::Minidump, ..DumpOptions::default() };
        dump(&t, &out, &opts, &DumpState::new()).unwrap();
        let d = std::fs::read(&out).unwrap();
        let u32_at = |o: usize| u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap());
        assert_eq!(&d[..4], b"MDMP");
        let (n, dir_rva) = (u32_at(8) as usize, u32_at(12) as usize);
        let m64 = (0..n).map(|i| dir_rva + 12 * i).find(|&o| u32_at(o) == 9).map(|o| u32_at(o + 8) as usize).unwrap();
        assert_eq!(u64_at(m64), 2);
        let base = u64_at(m64 + 8) as usize;
        assert_eq!(base % 4096, 0);
        assert_eq!(d.len(), base + 0x9000 + 0x10000);
        assert_eq!(d[base + 5], byte(0x40_0005));
        assert_eq!(d[base + 0x9000 + 0x9123], byte(0x41_9123));
        let tl = (0..n).map(|i| dir_rva + 12 * i).find(|&o| u32_at(o) == 3).map(|o| u32_at(o + 8) as usize).unwrap();
        assert_eq!(u32_at(tl), 1);
        assert_eq!(u32_at(tl + 4 + 40), 1232); // amd64 CONTEXT size
        // The Linux streams under the types Breakpad gave them, as the
        // minidump crate (rust-minidump, our reader's) looks them up: the
        // status text was once written as LinuxLsbRelease.
        use minidump::format::MINIDUMP_STREAM_TYPE as Stream;
        let md = minidump::Minidump::read(&d[..]).unwrap();
        let status = md.get_raw_stream(Stream::LinuxProcStatus as u32).unwrap();
        assert!(status.starts_with(b"Name:\t"), "{}", String::from_utf8_lossy(status));
        assert!(md.get_raw_stream(Stream::LinuxLsbRelease as u32).is_err());
        assert!(md.get_raw_stream(Stream::LinuxMaps as u32).is_ok());
    }

    /// A target that dies while its memory is read (a process SIGKILLed
    /// mid-dump): every format fails with the target's reason, and neither
    /// the partial file nor the core is left.
    #[test]
    fn a_target_that_dies_mid_dump_leaves_no_file() {
        struct Dying {
            inner: Fake,
            reads: AtomicUsize,
        }
        impl Target for Dying {
            fn machine(&self) -> Machine {
                Machine::Amd64
            }
            fn page_size(&self) -> u64 {
                0x1000
            }
            fn memory_map(&self) -> Result<Vec<MemoryMapEntry>> {
                self.inner.memory_map()
            }
            fn threads(&self) -> Vec<u64> {
                vec![1]
            }
            fn dump_process_notes(&self, notes: &mut Vec<Note>, done: &mut dyn FnMut()) -> Result<bool> {
                self.inner.dump_process_notes(notes, done)
            }
            fn read_memory(&self, addr: u64, buf: &mut [u8]) -> usize {
                // Dead after the second read: nothing more comes back.
                if self.reads.fetch_add(1, Ordering::SeqCst) >= 2 {
                    return 0;
                }
                self.inner.read_memory(addr, buf)
            }
            fn gone(&self) -> Option<String> {
                (self.reads.load(Ordering::SeqCst) > 2).then(|| "pid 42 exited while it was being dumped".to_string())
            }
        }
        for format in [Format::Elf, Format::Minidump, Format::MachO] {
            let t = Dying { inner: Fake(vec![entry(0x40_0000, 0x48_0000, Dump::Whole)]), reads: AtomicUsize::new(0) };
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("t.core");
            let opts = DumpOptions { format, chunk_size: 0x4000, buffer_bytes: 0x8000, readers: 1, ..DumpOptions::default() };
            let state = DumpState::new();
            let e = dump(&t, &out, &opts, &state).unwrap_err();
            assert!(e.to_string().contains("exited while it was being dumped"), "{format:?}: {e}");
            assert!(!out.exists(), "{format:?}: the core was left");
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "{format:?}: a temporary was left");
            assert!(state.error().is_some());
        }
    }
}
