//! `analyzer` is the Go engine of goanalyze: it reads a core (through
//! `core_reader`) and the executable, and answers with goroutines, their
//! stacks, variables, the crash reason and a triage record. It prints
//! nothing: the `goanalyze` binary (analyzer-cli) parses arguments and writes
//! what [`output`] formats; pipelines call it directly (see `examples/`).
//! What a caller needs is re-exported here: [`Analysis`] and [`Depth`] to
//! open a core, [`Goroutine`] (with [`Status`], [`Frame`], [`Location`],
//! [`Creator`], [`Var`] and [`Value`]) for what the views show, [`triage`]
//! and [`Record`] for a crash's reason and signature, [`Warning`] for what
//! an analysis went on without.
//!
//! Modules, by concept:
//! - [`binary`]: the executable: pclntab, moduledata, inline tree, symbols,
//!   runtime struct layouts (DWARF or the built-in table by Go version);
//! - `runtime`: the runtime's structures in memory: goroutines, Ms, wait
//!   reasons, panics, type descriptors;
//! - `unwind`: Go stacks the runtime's way, native (C) stacks from CFI or
//!   frame pointers, the argument words a traceback prints;
//! - `dwarf`, [`value`], `expr`, [`vars`]: variables and expressions;
//! - [`crash`]: reason, signature, grouping, triage;
//! - [`heap`]: every heap object (spans, allocation bits), its type, a
//!   histogram by type reconciled with the runtime's own counters;
//! - [`analysis`]: [`Analysis`], the opened core with every goroutine's
//!   starting point;
//! - [`model`]: the facts every view renders (a goroutine, its status,
//!   frames, creator, variables and their values as typed trees), built
//!   once; [`output`]: traceback, text and JSON views of it.
//!
//! Data flow: [`binary::Binary`] reads the executable (pclntab, moduledata,
//! Go version, runtime struct layouts from DWARF or [`binary::runtime_types`]'s
//! version table); `runtime::goroutine::Reader` reads `allgs`/`allm` and the
//! wait reasons from the core's memory; `unwind::Unwinder` walks each stack
//! the way the runtime's own unwinder does; [`Analysis`] picks each
//! goroutine's starting registers (g.sched, syscallsp, a thread's registers,
//! or a signal frame); [`model::Goroutine`] gathers what the views show of
//! each, and [`output::traceback`] / [`output::report`] / [`output::json`]
//! format it.
//!
//! Supported: Go 1.19..1.27 (pclntab and inline trees from 1.18; runtime
//! layouts for stripped binaries from 1.19), ELF cores of linux/amd64
//! and linux/arm64, PIE and not, with or without DWARF.
//!
//! C frames: `--threads --bt` walks each OS thread's native stack like
//! gdb's `bt` (`unwind::native`: DWARF CFI of the module at pc, frame
//! pointers where there is none, signal frames, then the goroutine's own
//! stack once the system stack ends). `--stacks` keeps the runtime's
//! format, which has no C frames: a goroutine in cgo is walked from its
//! Go-side `syscallsp`, as the runtime does.
//!
//! Variables (`--vars`, `--locals`, `--print`): `dwarf` loads the DWARF
//! lazily (units by pc range, each function's variables and inlined calls
//! once) and evaluates location lists at a frame's pc with the frame's CFA
//! (the unwinder's fp) and, where the core has them, registers (a thread's,
//! a signal frame's, or runtime.asyncPreempt's save area); [`value`] reads
//! Go values into [`model::Value`] trees, which print like Delve's
//! `print`; `expr` parses `--print`;
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

// Files are mapped by core_reader (the core, the executable); the engine
// itself has no unsafe code.
#![forbid(unsafe_code)]

// The public API: what a pipeline calls (open a core, the model, triage,
// the renderers, the heap, the executable) ...
pub mod analysis;
pub mod binary;
pub mod crash;
pub mod error;
pub mod heap;
pub mod model;
pub mod output;
pub mod value;
pub mod vars;
pub mod warning;
// ... and the machinery under it: reachable for the CLI's tests, the fuzz
// targets and the benches, but no promise to anyone else.
#[doc(hidden)]
pub mod dwarf;
#[doc(hidden)]
pub mod expr;
#[doc(hidden)]
pub mod memory;
#[doc(hidden)]
pub mod runtime;
#[doc(hidden)]
pub mod unwind;

pub use analysis::{Analysis, Depth, GoroutineReport};
pub use binary::Binary;
pub use crash::triage::{triage, Record};
pub use error::{Error, Result};
pub use model::{Creator, Detail, Frame, Goroutine, Location, NativeFrame, Site, Status, Value, ValueKind, Var};
pub use output::traceback::Options;
pub use value::Limits;
pub use warning::Warning;
