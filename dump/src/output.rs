//! Where a core goes ([`Destination`]), and the core file as positions
//! ([`Output`]).
//!
//! A regular file (or a new name) is written under a temporary name of
//! our own in the same directory (created with `O_EXCL`, so never a file
//! that was there) and renamed over the name at the end: a failed dump
//! leaves the old file alone. Anything else the user names (a character
//! device, a FIFO, `-` for standard output) is written straight through,
//! in order: such a destination can neither be renamed over (that would
//! replace the device node or the FIFO with a regular file) nor seek.
//! A symlink is followed: its target is what gets replaced.
//!
//! In a file, each chunk of memory is
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
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// `O_DIRECT`'s alignment that we keep to: offset, length and address.
pub const ALIGN: usize = 4096;

pub struct Output {
    file: File,
    direct: Option<File>,
    /// Cleared at the first `EINVAL` from the direct descriptor: that file
    /// system (or this buffer) does not take direct I/O after all.
    direct_ok: AtomicBool,
    /// For a stream: the next offset it takes. Writes must come in order;
    /// the gaps (runs of zeros a file leaves as holes) are written as zeros.
    stream: Option<Mutex<u64>>,
}

/// Where a dump is written: see the module's documentation.
pub struct Destination {
    /// The name the user gave, for messages.
    pub user: PathBuf,
    /// For a regular file: (our temporary, the file it replaces at the end).
    replace: Option<(PathBuf, PathBuf)>,
    committed: bool,
}

// Where a file is replaced, and the temporary it is written under: one
// helper for godump and goanalyze (`elfwriter::replace`).
use elfwriter::replace::resolve;

fn create_temp(target: &Path, mode: u32) -> std::io::Result<(File, PathBuf)> {
    elfwriter::replace::create_temp(target, "godump", mode)
}

impl Destination {
    /// Open what `path` names for writing a core: `-` is standard output;
    /// `mode` is the permission bits of a new file. `direct`: try
    /// `O_DIRECT` for aligned data (files only).
    pub fn open(path: &Path, mode: u32, direct: bool) -> std::io::Result<(Destination, Output)> {
        let stream = |file: File| {
            let d = Destination { user: path.to_path_buf(), replace: None, committed: false };
            (d, Output { file, direct: None, direct_ok: AtomicBool::new(false), stream: Some(Mutex::new(0)) })
        };
        if path.as_os_str() == "-" {
            let fd = std::io::stdout().as_fd().try_clone_to_owned()?;
            return Ok(stream(File::from(fd)));
        }
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => return Err(std::io::Error::from_raw_os_error(libc::EISDIR)),
            Ok(m) if !m.is_file() => {
                // A device, a FIFO: written as it is, never created or truncated.
                let t = m.file_type();
                if t.is_socket() {
                    return Err(std::io::Error::from_raw_os_error(libc::ENXIO));
                }
                return Ok(stream(OpenOptions::new().write(true).open(path)?));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let target = resolve(path)?;
        let (file, tmp) = create_temp(&target, mode)?;
        let direct = if direct { OpenOptions::new().write(true).custom_flags(libc::O_DIRECT).open(&tmp).ok() } else { None };
        let direct_ok = AtomicBool::new(direct.is_some());
        let d = Destination { user: path.to_path_buf(), replace: Some((tmp, target)), committed: false };
        Ok((d, Output { file, direct, direct_ok, stream: None }))
    }

    /// Whether the core goes to a stream (written in order, nothing to rename).
    pub fn is_stream(&self) -> bool {
        self.replace.is_none()
    }

    /// The file being written, while it is being written (a file's temporary).
    pub fn temporary(&self) -> Option<&Path> {
        self.replace.as_ref().map(|r| r.0.as_path())
    }

    /// The dump is complete: give the file its name.
    pub fn commit(&mut self) -> std::io::Result<()> {
        if let Some((tmp, target)) = &self.replace {
            std::fs::rename(tmp, target)?;
        }
        self.committed = true;
        Ok(())
    }
}

/// Write a new regular file at `path` (a symlink followed) under a
/// temporary name in its directory, renamed over `path` once `fill` has
/// written it all; on failure nothing is left. For files beside a core.
pub fn write_new_file(
    path: &Path,
    mode: u32,
    fill: impl FnOnce(&mut File) -> std::io::Result<u64>,
) -> std::io::Result<u64> {
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(std::io::Error::other("not a regular file; not replaced"));
    }
    let target = resolve(path)?;
    let (mut file, tmp) = create_temp(&target, mode)?;
    let r = fill(&mut file).and_then(|n| file.sync_all().map(|()| n)).and_then(|n| std::fs::rename(&tmp, &target).map(|()| n));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

impl Drop for Destination {
    fn drop(&mut self) {
        if let (false, Some((tmp, _))) = (self.committed, &self.replace) {
            let _ = std::fs::remove_file(tmp);
        }
    }
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
        Ok(Output { file, direct, direct_ok, stream: None })
    }

    /// For a stream: write zeros from where it is up to `offset`, then `buf`.
    fn write_in_order(&self, pos: &Mutex<u64>, buf: &[u8], offset: u64) -> std::io::Result<()> {
        let mut pos = pos.lock().unwrap_or_else(|e| e.into_inner());
        if offset < *pos {
            // The dumper writes a stream with one reader and one writer, in order.
            return Err(std::io::Error::other(format!("write at {offset:#x} behind the stream's {:#x}", *pos)));
        }
        let zeros = [0u8; 64 << 10];
        let mut f = &self.file;
        while *pos < offset {
            let n = (offset - *pos).min(zeros.len() as u64) as usize;
            f.write_all(&zeros[..n])?;
            *pos += n as u64;
        }
        f.write_all(buf)?;
        *pos += buf.len() as u64;
        Ok(())
    }

    /// Whether data is (still) written around the page cache.
    pub fn is_direct(&self) -> bool {
        self.direct_ok.load(Ordering::Relaxed)
    }

    /// Write all of `buf` at `offset`.
    pub fn write_at(&self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        if let Some(pos) = &self.stream {
            return self.write_in_order(pos, buf, offset);
        }
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
        if let Some(pos) = &self.stream {
            self.write_in_order(pos, &[], len)?;
            return (&self.file).flush();
        }
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
