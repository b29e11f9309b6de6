//! `elfwriter` owns writing an ELF core file as a stream: the file header, the
//! program headers, one `PT_NOTE` of [`Note`]s and the `PT_LOAD` segments.
//! It knows nothing about processes; `dump` feeds it.
//!
//! The layout is the Linux kernel's (fs/binfmt_elf.c): header, program headers
//! (`PT_NOTE` first, then one `PT_LOAD` a mapping), the notes, padding to a
//! page, then every segment's bytes in program-header order. Segment data is
//! written in order through [`CoreWriter::write_data`]; runs of zero pages go
//! through [`CoreWriter::skip`], which seeks instead of writing so the file
//! is sparse, as the kernel's cores are.
//!
//! [`elf`] and [`payload`] are the ELF core definitions (note types,
//! segment types, the layouts of `elf_prstatus`, `elf_prpsinfo`,
//! `siginfo_t`, `NT_FILE`, `NT_AUXV`) that the writers here and in `dump`
//! and the reader in `core-reader` share.
#![forbid(unsafe_code)]

pub mod elf;
pub mod header;
pub mod note;
pub mod payload;
pub mod replace;
pub mod sparse;
pub mod writer;

pub use header::{Machine, SegmentFlags};
pub use note::Note;
pub use sparse::{data_runs, is_zero, SparseStream};
pub use writer::{core_head, CoreWriter, Error, Segment};
