//! `dump` owns making a core: the [`Target`] a dump reads from (a live Linux
//! process through ptrace, or an opened core), the [`DumpState`] progress
//! shared with the CLI, and [`dump()`], which streams a target through `elfwriter`.

// Unsafe only where a syscall wrapper is missing (PTRACE_GETREGSET with an
// iovec, PTRACE_GETSIGINFO raw), for CPUID, and for sigaction: each one
// item-level `allow` with a SAFETY comment, exercised by the live tests.
#![deny(unsafe_code)]

pub mod convert;
pub mod dumper;
pub mod error;
pub mod interrupt;
#[cfg(target_os = "linux")]
pub mod linux;
pub mod macho;
pub mod maps;
pub mod memory;
pub mod minidump;
pub mod notes;
pub mod output;
pub mod state;
pub mod target;

pub use dumper::{dump, DumpOptions, Format, Summary};
pub use error::{Error, Result};
#[cfg(target_os = "linux")]
pub use linux::{process::AttachOptions, process::SnapshotMode, LinuxProcess};
pub use state::DumpState;
pub use target::{Dump, MemoryMapEntry, Perms, Target};

/// The mappings of a target (Delve's name for [`Target::memory_map`]).
pub type MemoryMap = Vec<MemoryMapEntry>;
