//! `dump()`: any [`Target`] to an ELF core file, streamed.
//!
//! Reader threads fill chunks of memory while this thread writes the ones
//! before them, so reading (page faults, copies out of the target) and
//! writing (the file system) overlap. Chunks are written strictly in order;
//! buffers circulate through a small pool, which bounds memory use.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use elfwriter::{CoreWriter, Segment, SegmentFlags, SparseStream};

use crate::memory::{self, Chunk};
use crate::state::DumpState;
use crate::target::{Dump, Target};
use crate::{interrupt, Error, Result};

/// The kind of file `dump()` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A Linux ELF core, as the kernel writes it.
    #[default]
    Elf,
    /// A Breakpad-style Linux minidump with all of the memory (Memory64List).
    Minidump,
}

#[derive(Debug, Clone)]
pub struct DumpOptions {
    pub format: Format,
    /// Bytes a read: big enough to amortise the syscall, small enough that
    /// the pool (readers + 2 chunks) stays modest.
    pub chunk_size: usize,
    /// Reader threads.
    pub readers: usize,
}

impl Default for DumpOptions {
    fn default() -> Self {
        let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        DumpOptions { format: Format::Elf, chunk_size: 8 << 20, readers: cpus.clamp(1, 4) }
    }
}

/// What a finished dump did.
#[derive(Debug, Clone)]
pub struct Summary {
    pub path: PathBuf,
    pub threads: usize,
    pub mappings: usize,
    /// Memory bytes in the core (`sum of p_filesz`), holes included.
    pub memory_bytes: u64,
    /// Pages that could not be read and were written as zeros.
    pub unreadable_pages: u64,
    /// Time from the start of the dump until all memory had been read.
    pub read_time: Duration,
}

/// The `.partial` file: removed unless the dump completes and renames it.
struct Partial {
    path: PathBuf,
    done: bool,
}

impl Drop for Partial {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn partial_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".partial");
    PathBuf::from(s)
}

/// Write a core of `t` to `out` (through `out.partial`, renamed at the end),
/// updating `state` as it goes.
pub fn dump(t: &dyn Target, out: &Path, opts: &DumpOptions, state: &DumpState) -> Result<Summary> {
    state.dumping.store(true, Ordering::Release);
    let r = run(t, out, opts, state);
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

    let ppath = partial_path(out);
    let mut file = File::create(&ppath).map_err(Error::io(&ppath))?;
    let mut partial = Partial { path: ppath.clone(), done: false };
    let werr = |source| Error::Write { path: ppath.clone(), source };
    let chunks = memory::plan(&ranges, opts.chunk_size.max(page as usize));
    let (unreadable, read_time) = match opts.format {
        Format::Elf => {
            let mut w = CoreWriter::new(file, t.machine(), page, &notes, &segments).map_err(werr)?;
            let r = pump(t, &chunks, opts, page, state, &mut |b| w.write_sparse(b, page as usize), started);
            let r = r.map_err(|e| e.into_error(&ppath))?;
            t.memory_read_done();
            w.finish().map_err(werr)?;
            r
        }
        Format::Minidump => {
            let head = crate::minidump::head(t, &map, &notes, &ranges, page)?;
            std::io::Write::write_all(&mut file, &head).map_err(Error::io(&ppath))?;
            let mut w = SparseStream::new(file, total);
            let r = pump(t, &chunks, opts, page, state, &mut |b| w.write_sparse(b, page as usize), started);
            let r = r.map_err(|e| e.into_error(&ppath))?;
            t.memory_read_done();
            w.finish().map_err(werr)?;
            r
        }
    };
    std::fs::rename(&ppath, out).map_err(Error::io(out))?;
    partial.done = true;
    Ok(Summary {
        path: out.to_path_buf(),
        threads: threads.len(),
        mappings: map.len(),
        memory_bytes: total,
        unreadable_pages: unreadable,
        read_time,
    })
}

enum PumpError {
    Write(elfwriter::Error),
    Other(Error),
}

impl PumpError {
    fn into_error(self, path: &Path) -> Error {
        match self {
            PumpError::Write(source) => Error::Write { path: path.to_path_buf(), source },
            PumpError::Other(e) => e,
        }
    }
}

/// Run the readers and write their chunks in order.
fn pump(
    t: &dyn Target,
    chunks: &[Chunk],
    opts: &DumpOptions,
    page: u64,
    state: &DumpState,
    sink: &mut dyn FnMut(&[u8]) -> std::result::Result<(), elfwriter::Error>,
    started: Instant,
) -> std::result::Result<(u64, Duration), PumpError> {
    let mut read_time = started.elapsed();
    if chunks.is_empty() {
        return Ok((0, read_time));
    }
    let readers = opts.readers.max(1).min(chunks.len());
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let (pool_tx, pool_rx) = mpsc::channel::<Vec<u8>>();
    let pool_rx = std::sync::Mutex::new(pool_rx);
    for _ in 0..readers + 2 {
        let _ = pool_tx.send(vec![0u8; opts.chunk_size.max(page as usize)]);
    }
    let (done_tx, done_rx) = mpsc::channel::<(usize, Vec<u8>, u64)>();
    std::thread::scope(|s| {
        for _ in 0..readers {
            let done_tx = done_tx.clone();
            let (next, stop, pool_rx) = (&next, &stop, &pool_rx);
            s.spawn(move || loop {
                // Take a buffer before claiming a chunk: whoever holds the
                // earliest unwritten chunk always has a buffer, so the
                // writer can never wait on a reader that waits for a buffer.
                let buf = match pool_rx.lock().map(|rx| rx.recv()) {
                    Ok(Ok(b)) => b,
                    _ => return,
                };
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= chunks.len() || stop.load(Ordering::Relaxed) || interrupt::requested().is_some() {
                    return;
                }
                let mut buf = buf;
                let z = memory::fill(t, &chunks[i], &mut buf, page);
                if done_tx.send((i, buf, z)).is_err() {
                    return;
                }
            });
        }
        drop(done_tx);
        // The writer. Owning `pool_tx` and `done_rx` here means that
        // returning early (error, signal) drops them, which ends the readers.
        let pool_tx = pool_tx;
        let done_rx = done_rx;
        let result = (|| {
            let mut pending: BTreeMap<usize, (Vec<u8>, u64)> = BTreeMap::new();
            let mut unreadable = 0;
            for want in 0..chunks.len() {
                while !pending.contains_key(&want) {
                    if let Some(signal) = interrupt::requested() {
                        return Err(PumpError::Other(Error::Interrupted { signal }));
                    }
                    match done_rx.recv_timeout(Duration::from_millis(100)) {
                        Ok((i, b, z)) => {
                            pending.insert(i, (b, z));
                        }
                        Err(mpsc::RecvTimeoutError::Timeout) => {}
                        Err(mpsc::RecvTimeoutError::Disconnected) => {
                            return Err(PumpError::Other(Error::Target("memory readers stopped early".into())))
                        }
                    }
                }
                let (buf, z) = pending.remove(&want).expect("present");
                unreadable += z;
                if want == chunks.len() - 1 {
                    read_time = started.elapsed();
                    // Everything is read: let a live target go before the
                    // last write.
                    t.memory_read_done();
                }
                let len = chunks[want].len;
                sink(&buf[..len]).map_err(PumpError::Write)?;
                state.mem_done.fetch_add(len as u64, Ordering::Relaxed);
                let _ = pool_tx.send(buf);
            }
            Ok(unreadable)
        })();
        stop.store(true, Ordering::Relaxed);
        drop(pool_tx);
        drop(done_rx);
        result.map(|u| (u, read_time))
    })
}
