//! `core-reader` owns opening a core file and turning it into one [`Core`] model,
//! whatever produced it: format sniffing (ELF core, minidump, Mach-O core,
//! compressed with zstd/xz/lz4), threads and their registers, mappings, auxv,
//! the signal, and a [`SplicedMemory`] that reads any address of the process.
//!
//! It knows nothing about Go; the analyzer builds on this model.

// The one exception is the memory map in `source.rs`.
#![deny(unsafe_code)]

mod delve;
mod elf;
mod elfcore;
pub mod error;
mod exe;
mod image;
mod le;
mod macho;
mod minidump;
pub mod model;
mod notes;
mod open;
mod source;
pub mod spliced;

pub use error::{Error, Result};
pub use model::*;
pub use spliced::SplicedMemory;

/// Where a Go executable's pclntab is (ELF `.gopclntab`, Mach-O
/// `__gopclntab`, PE between `runtime.pclntab` and `runtime.epclntab`): its
/// link-time address and bytes. See [`image::gopclntab`].
pub fn gopclntab(exe: &[u8]) -> Option<(u64, &[u8])> {
    image::gopclntab(exe)
}
