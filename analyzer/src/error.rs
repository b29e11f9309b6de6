//! The library's error type. Every variant says which file, address or
//! offset it is about, so the CLI can print it as one line.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {what}")]
    Binary { path: PathBuf, what: String },
    #[error("pclntab at {addr:#x}: {what}")]
    Pclntab { addr: u64, what: String },
    #[error("no function contains pc {pc:#x}")]
    NoFunc { pc: u64 },
    #[error("cannot read {len} bytes at {addr:#x}: {reason}")]
    Memory { addr: u64, len: usize, reason: String },
    #[error("runtime layout: {0}")]
    Layout(String),
    #[error(transparent)]
    Core(#[from] core_reader::Error),
    /// Variables and types need DWARF; `why` is set when it is there but
    /// could not be loaded.
    #[error("{} has no DWARF{}", path.display(), match why { Some(w) => format!(" that can be read: {w}"), None => " (built with -ldflags=-w?)".into() })]
    NoDwarf { path: PathBuf, why: Option<String> },
    #[error("no goroutine {id}")]
    NoGoroutine { id: u64 },
    #[error("goroutine {id} has {frames} frames; no frame {frame}")]
    NoFrame { id: u64, frames: usize, frame: usize },
    #[error(transparent)]
    Expr(#[from] crate::expr::ExprError),
    #[error("{0}")]
    Other(String),
}
