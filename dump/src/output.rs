//! The core file as positions, not a stream: each chunk of memory is
//! written at its own offset (`pwrite`), by whichever writer thread has it,
//! so chunks need not wait for the ones before them. Runs of zero pages are
//! never written: they stay holes, and the file gets its full length at the
//! end (`ftruncate`; the runs come from `elfwriter::data_runs`).
//!
//! With `direct`, page-aligned data goes through a second descriptor
//! opened with `O_DIRECT`: from our buffer to the disk, without a copy into
//! the page cache. The dumper asks for that when the dump is bigger than
//! what the page cache takes before the kernel starts writing back
//! ([`cache_budget`]): past that point buffered writers are throttled to the
//! disk's pace anyway, pay a copy into the cache on top (several times the
//! CPU of the read from the target, on a busy machine), and evict the page
//! cache of the machine they run on. Anything unaligned, and everything on a
//! file system that refuses `O_DIRECT`, goes through the page cache.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// `O_DIRECT`'s alignment that we keep to: offset, length and address.
pub const ALIGN: usize = 4096;

pub struct Output {
    file: File,
    direct: Option<File>,
    /// Cleared at the first `EINVAL` from the direct descriptor: that file
    /// system (or this buffer) does not take direct I/O after all.
    direct_ok: AtomicBool,
}

/// How many bytes the page cache takes before the kernel starts writing
/// dirty pages back (`vm.dirty_background_bytes`, or
/// `vm.dirty_background_ratio` percent of the available memory), less what
/// is dirty already. Below it, buffered writes cost a copy and nothing else.
pub fn cache_budget() -> u64 {
    let read = |p: &str| std::fs::read_to_string(p).ok().and_then(|t| t.trim().parse::<u64>().ok());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |key: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    let threshold = match read("/proc/sys/vm/dirty_background_bytes") {
        Some(b) if b > 0 => b,
        _ => kb("MemAvailable:") / 100 * read("/proc/sys/vm/dirty_background_ratio").unwrap_or(10),
    };
    threshold.saturating_sub(kb("Dirty:") + kb("Writeback:"))
}

impl Output {
    /// Create (truncate) `path`. `direct`: try `O_DIRECT` for aligned data.
    pub fn create(path: &Path, direct: bool) -> std::io::Result<Output> {
        let file = File::create(path)?;
        let direct = if direct {
            OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(path).ok()
        } else {
            None
        };
        let direct_ok = AtomicBool::new(direct.is_some());
        Ok(Output { file, direct, direct_ok })
    }

    /// Whether data is (still) written around the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct_ok.load(Ordering::Relaxed)
    }

    /// Write all of `buf` at `offset`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        let aligned = |b: &[u8], o: u64| {
            o.is_multiple_of(ALIGN as u64) && b.len().is_multiple_of(ALIGN) && (b.as_ptr() as usize).is_multiple_of(ALIGN)
        };
        let (mut buf, mut offset) = (buf, offset);
        if let Some(d) = self.direct.as_ref() {
            while !buf.is_empty() && aligned(buf, offset) && self.direct_ok.load(Ordering::Relaxed) {
                match d.write_at(buf, offset) {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        buf = &buf[n..];
                        offset += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => self.direct_ok.store(false, Ordering::Relaxed),
                    Err(e) => return Err(e),
                }
            }
        }
        self.file.write_all_at(buf, offset)
    }

    /// Give the file its final length (a trailing hole, if the last pages
    /// were zeros) and close it. No `fsync`: like the kernel's and gdb's
    /// cores, the data reaches the disk with the rest of the page cache.
    pub fn finish(self, len: u64) -> std::io::Result<()> {
        if self.file.metadata()?.len() < len {
            self.file.set_len(len)?;
        }
        Ok(())
    }
}

/// A zeroed buffer of `len` bytes whose start is aligned for `O_DIRECT`
/// (the allocation is one alignment longer; the slice starts inside it).
pub struct AlignedBuf {
    mem: Vec<u8>,
    start: usize,
    len: usize,
}

impl AlignedBuf {
    pub fn new(len: usize) -> AlignedBuf {
        let mem = vec![0u8; len + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN);
        AlignedBuf { mem, start, len }
    }
    pub fn as_slice(&self) -> &[u8] {
        &self.mem[self.start..self.start + self.len]
    }
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_and_unaligned_writes_land_where_asked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let out = Output::create(&p, true).unwrap();
        let mut a = AlignedBuf::new(2 * ALIGN);
        assert_eq!(a.as_slice().as_ptr() as usize % ALIGN, 0);
        a.as_mut_slice().fill(7);
        out.write_at(&a.as_slice()[..ALIGN], ALIGN as u64).unwrap();
        out.write_at(&a.as_slice()[ALIGN..], 2 * ALIGN as u64).unwrap();
        out.write_at(&[9; 10], 3).unwrap();
        out.finish(5 * ALIGN as u64).unwrap();
        let d = std::fs::read(&p).unwrap();
        assert_eq!(d.len(), 5 * ALIGN);
        assert_eq!(&d[..3], &[0, 0, 0]);
        assert_eq!(&d[3..13], &[9; 10]);
        assert!(d[ALIGN..3 * ALIGN].iter().all(|&x| x == 7));
        assert!(d[3 * ALIGN..].iter().all(|&x| x == 0));
    }
}
