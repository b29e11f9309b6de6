//! What a dump reads from: a live process or an opened core. `dump()` only
//! talks to this trait, so `godump create` and `godump convert` share it.

use elfwriter::{Machine, Note};

use crate::Result;

/// A mapping's permissions as `/proc/PID/maps` shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Perms {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// `MAP_SHARED` (the `s` in `rw-s`).
    pub shared: bool,
}

/// How much of a mapping goes into the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dump {
    /// Only the program header (the kernel's `p_filesz == 0`).
    Skip,
    /// The first page: enough for a debugger to read an ELF header (build id).
    FirstPage,
    Whole,
}

/// One mapping of the target's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryMapEntry {
    pub start: u64,
    pub end: u64,
    pub perms: Perms,
    /// Byte offset into the mapped file.
    pub offset: u64,
    /// The backing file as the kernel names it (`/usr/lib/x.so`, `/a (deleted)`)
    /// or a pseudo name (`[heap]`, `[vdso]`); `None` for anonymous memory.
    pub path: Option<String>,
    /// Whether `path` is a real file (inode != 0): those go in `NT_FILE`.
    pub file_backed: bool,
    /// The include flag: what of this mapping the core holds.
    pub dump: Dump,
}

impl MemoryMapEntry {
    pub fn len(&self) -> u64 {
        self.end - self.start
    }
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
    /// Private memory with no file behind it (`[heap]`, `[stack]`, plain
    /// anonymous mappings): pages never touched there read as zeros.
    pub fn is_anonymous_private(&self) -> bool {
        !self.file_backed
            && !self.perms.shared
            && match self.path.as_deref() {
                None => true,
                Some(p) => p == "[heap]" || p.starts_with("[stack") || p.starts_with("[anon:"),
            }
    }

    /// Bytes of this mapping written to the core (`p_filesz`).
    pub fn dump_len(&self, page: u64) -> u64 {
        match self.dump {
            Dump::Skip => 0,
            Dump::FirstPage => page.min(self.len()),
            Dump::Whole => self.len(),
        }
    }
}

/// Something a core can be made from.
///
/// `Sync` because memory is read from several threads at once. Everything
/// else is called from the thread that made the target (ptrace requires it).
pub trait Target: Sync {
    fn machine(&self) -> Machine;
    fn page_size(&self) -> u64;
    /// The mappings, in address order, each with its include flag (MemoryMap).
    fn memory_map(&self) -> Result<Vec<MemoryMapEntry>>;
    /// Thread ids, the first one being the thread the core describes first.
    fn threads(&self) -> Vec<u64>;
    /// Append the notes that describe the process and its threads (DumpProcessNotes),
    /// calling `thread_done` after each thread. Returns whether it produced
    /// any (a target without native notes would leave that to `dump()`).
    fn dump_process_notes(&self, notes: &mut Vec<Note>, thread_done: &mut dyn FnMut()) -> Result<bool>;
    /// Read up to `buf.len()` bytes at `addr`; returns how many leading bytes
    /// were readable. A short count means the byte at `addr + n` is not.
    fn read_memory(&self, addr: u64, buf: &mut [u8]) -> usize;
    /// Read several ranges into consecutive parts of `buf` in one go; returns
    /// how many leading bytes of the concatenation were read. Live processes
    /// override this with one `process_vm_readv` for many ranges.
    fn read_memory_batch(&self, ranges: &[(u64, usize)], buf: &mut [u8]) -> usize {
        let mut done = 0;
        for &(addr, len) in ranges {
            let n = self.read_memory(addr, &mut buf[done..done + len]);
            done += n;
            if n < len {
                break;
            }
        }
        done
    }
    /// Which pages of `[start, start + len)` hold data (resident or swapped),
    /// one flag a page; `None` when unknown (then every page is read).
    fn resident_pages(&self, start: u64, len: u64) -> Option<Vec<bool>> {
        let _ = (start, len);
        None
    }
    /// Called once the map and the notes (registers) are taken, before any
    /// memory is read: a live process may be cloned here (copy-on-write)
    /// and resumed, its memory then read from the clone.
    fn notes_taken(&self) -> Result<()> {
        Ok(())
    }
    /// Called once every byte of memory has been read: a live process is
    /// resumed here, while the last bytes are still being written.
    fn memory_read_done(&self) {}
    /// How long a live process was kept stopped, once it runs again.
    fn stopped_for(&self) -> Option<std::time::Duration> {
        None
    }
    /// Whether memory is read from a copy-on-write clone of the target.
    fn cloned(&self) -> bool {
        false
    }
    /// One-line remarks on how this dump differs from a plain snapshot
    /// (memory read live, fall-backs), for the user.
    fn remarks(&self) -> Vec<String> {
        Vec::new()
    }
    /// Why the target can no longer be dumped faithfully, if it cannot: a
    /// live process that exited (was killed) while it was being read. Its
    /// memory reads as zeros from then on, so the dump must not pass for a
    /// snapshot. `None` for targets that cannot go away (cores).
    fn gone(&self) -> Option<String> {
        None
    }
}
