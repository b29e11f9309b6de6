//! The crate's one error type. Every variant names the file, offset or address.

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
    #[error("{path}: not a core file this tool reads ({what})")]
    UnknownFormat { path: PathBuf, what: String },
    /// An ELF file, but not a core: an executable (`ET_EXEC`, `ET_DYN`)
    /// given where the core goes, most likely.
    #[error("{path}: not a core file this tool reads (an ELF file of type {e_type}, not a core (ET_CORE))")]
    ElfNotCore { path: PathBuf, e_type: u16 },
    #[error("{path}: malformed {what} at file offset {offset:#x}")]
    Malformed {
        path: PathBuf,
        what: String,
        offset: u64,
    },
    #[error("address {addr:#x} is not in the core's memory")]
    Unmapped { addr: u64 },
    #[error("address {addr:#x}: {reason}")]
    Unreadable { addr: u64, reason: String },
    #[error("{0}")]
    Other(String),
}
