//! `analyzer` owns the Go model of a core: binary info (pclntab, moduledata,
//! DWARF), goroutines, stack unwinding, variables, crash reason, grouping,
//! triage and the output formats. The `goanalyze` binary is a thin CLI over it.

pub mod analysis;
pub mod args;
pub mod binary;
pub mod error;
pub mod goroutine;
pub mod gotype;
pub mod group;
pub mod inline;
pub mod json;
mod layout_table;
pub mod memory;
pub mod moduledata;
pub mod panic;
pub mod pclntab;
pub mod reason;
pub mod report;
pub mod runtime_types;
pub mod signature;
pub mod traceback;
pub mod triage;
pub mod unwind;

pub use error::{Error, Result};
