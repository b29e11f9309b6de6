//! `analyzer` owns the Go model of a core: binary info (pclntab, moduledata,
//! DWARF), goroutines, stack unwinding, variables, crash reason, grouping,
//! triage and the output formats. The `goanalyze` binary is a thin CLI over it.
//!
//! Data flow: [`binary::Binary`] reads the executable (pclntab, moduledata,
//! Go version, runtime struct layouts from DWARF or [`runtime_types`]'s
//! version table); [`goroutine::Reader`] reads `allgs`/`allm` and the wait
//! reasons from the core's memory; [`unwind::Unwinder`] walks each stack the
//! way the runtime's own unwinder does; [`analysis::Analysis`] picks each
//! goroutine's starting registers (g.sched, syscallsp, a thread's registers,
//! or a signal frame) and [`traceback`] / [`report`] / [`json`] format.
//!
//! Supported: Go 1.19..1.26 (pclntab and inline trees from 1.18; runtime
//! layouts for stripped binaries from 1.19), ELF cores of linux/amd64
//! and linux/arm64, PIE and not, with or without DWARF.
//!
//! C frames: `--threads --bt` walks each OS thread's native stack like
//! gdb's `bt` ([`native_unwind`]: DWARF CFI of the module at pc, frame
//! pointers where there is none, signal frames, then the goroutine's own
//! stack once the system stack ends). `--stacks` keeps the runtime's
//! format, which has no C frames: a goroutine in cgo is walked from its
//! Go-side `syscallsp`, as the runtime does.
//!
//! Variables (`--vars`, `--locals`, `--print`): [`dwarf`] loads the DWARF
//! lazily (units by pc range, each function's variables and inlined calls
//! once) and evaluates location lists at a frame's pc with the frame's CFA
//! (the unwinder's fp) and, where the core has them, registers (a thread's,
//! a signal frame's, or runtime.asyncPreempt's save area); [`value`] reads
//! and prints Go values like Delve's `print`; [`expr`] parses `--print`;
//! [`vars`] ties them to goroutines and frames.
//!
//! Known gaps: C frames are named by ELF symbols only (no C file:line, no
//! inlined C frames); C unwinding on arm64 is untested. Variables: no
//! generic dictionary lookup (a type parameter's value prints with its shape
//! type: Go's DWARF does not locate the dictionary); a frame that faulted
//! into an injected `sigpanic` has lost its registers (only stack slots
//! print); maps being grown (Swiss tables mid-split, hmaps mid-evacuation)
//! may show an entry twice or miss one; floats held in XMM/V registers are
//! unavailable (only general registers are recovered).

// The one unsafe operation is mapping the executable (`binary.rs`).
#![deny(unsafe_code)]

pub mod analysis;
pub mod args;
pub mod binary;
pub mod cfi;
pub mod elfsym;
pub mod dwarf;
pub mod error;
pub mod expr;
pub mod goroutine;
pub mod gotype;
pub mod group;
pub mod inline;
pub mod json;
mod layout_table;
pub mod memory;
pub mod moduledata;
pub mod panic;
pub mod native_unwind;
pub mod pclntab;
pub mod reason;
pub mod report;
pub mod runtime_types;
pub mod signature;
pub mod sigframe;
pub mod symbolize;
pub mod traceback;
pub mod triage;
pub mod unwind;
pub mod value;
pub mod vars;

pub use error::{Error, Result};
