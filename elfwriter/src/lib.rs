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
#![forbid(unsafe_code)]

pub mod header;
pub mod note;
pub mod sparse;
pub mod writer;

pub use header::{Machine, SegmentFlags, PN_XNUM};
pub use note::{Note, NT_AUXV, NT_FILE, NT_FPREGSET, NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO, NT_X86_XSTATE};
pub use sparse::{data_runs, is_zero, SparseStream};
pub use writer::{core_head, CoreWriter, Error, Segment};
