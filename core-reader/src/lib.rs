//! `core-reader` owns opening a core file and turning it into one [`Core`] model,
//! whatever produced it: format sniffing (ELF core, minidump, Mach-O core,
//! compressed with zstd/xz/lz4), threads and their registers, mappings, auxv,
//! the signal, and a [`SplicedMemory`] that reads any address of the process.
//!
//! It knows nothing about Go; the analyzer builds on this model.
//!
//! ```no_run
//! use core_reader::{Core, OpenOptions};
//! # fn main() -> core_reader::Result<()> {
//! let core = Core::open("core.1234".as_ref(), &OpenOptions::default())?;
//! for w in &core.warnings {
//!     eprintln!("warning: {w}");
//! }
//! let crashed = core.crashed_thread().expect("a thread");
//! let word = core.read_u64(crashed.regs.sp())?;
//! # let _ = word; Ok(()) }
//! ```
//!
//! What an ELF core yields, whoever wrote it (the kernel, gdb's gcore,
//! Delve's `dump`, qemu-user), compressed (zstd, xz, lz4 frame: recognised by
//! magic) or not:
//! - threads with general registers (`NT_PRSTATUS`, or Delve's thread notes)
//!   and the raw bytes of their other register sets;
//! - the signal, and which thread took it (`NT_SIGINFO`, else `pr_cursig`);
//! - mappings with their files (`NT_FILE`), the auxiliary vector, the pid
//!   and command line (`NT_PRPSINFO`);
//! - the executable, found by `OpenOptions::exe` or from what the core
//!   records, checked against the core (build id or first page), with its
//!   PIE load bias;
//! - memory: the core's data over the executable's segments over the mapped
//!   files over zeros for never-dumped anonymous memory. A truncated core
//!   reads up to the cut, then fails naming the address.
//!
//! A minidump (Windows `MiniDumpWriteDump`, Breakpad, Crashpad,
//! `minidump-writer`) yields the same: threads from the thread list (the
//! exception context for the faulting one; on Windows the TEB as `gs_base`),
//! the exception as a [`SignalInfo`] (Windows codes in `code`, mapped to
//! the matching signal), the pid (MiscInfo or `/proc` status), mappings
//! (MemoryInfoList or LinuxMaps), auxv and command line (Linux streams), the
//! executable from the module list (a PE or ELF file, checked by its
//! header fields, CodeView id or code bytes), and memory from the memory
//! lists over the executable's read-only parts.
//!
//! A Mach-O core (`MH_CORE`, macOS amd64/arm64) yields threads from
//! `LC_THREAD` (every flavor kept raw, see [`REGSET_MACHO_FLAVOR`]; thread
//! ids only when lldb's "process metadata" note gives them, else the index),
//! the fault from the exception state, memory from `LC_SEGMENT_64`, and the
//! executable from the "main bin spec"/"load binary" notes or the Mach-O
//! header found in memory, matched by `LC_UUID`.
//!
//! Nothing here panics on damaged input: damage becomes an [`Error`] or a
//! line in [`Core::warnings`].

// The one exception is the memory map in `source.rs`.
#![deny(unsafe_code)]

mod delve;
mod elf;
mod elfcore;
pub mod error;
mod exe;
mod exedir;
mod image;
mod le;
mod macho;
mod minidump;
pub mod model;
mod notes;
mod open;
mod source;
pub mod spliced;
mod systemd;
pub mod warning;

pub use error::{Error, Result};
pub use exe::{build_ids, BuildIds};
pub use systemd::{systemd_core_name, SystemdCoreName};
pub use model::*;
pub use source::{map_file, DEFAULT_MAX_DECOMPRESSED, MAX_DECOMPRESSED_ENV};
pub use spliced::SplicedMemory;
pub use warning::Warning;

/// Where a Go executable's pclntab is (ELF `.gopclntab`, Mach-O
/// `__gopclntab`, PE between `runtime.pclntab` and `runtime.epclntab`): its
/// link-time address and bytes. `None` for a stripped PE file (no symbols);
/// search its `.rdata` for the pclntab magic instead.
pub fn gopclntab(exe: &[u8]) -> Option<(u64, &[u8])> {
    image::gopclntab(exe)
}
