//! Why a value cannot be shown. The views print it in place of the value:
//! `<unavailable: ...>` when the variable has no home at this pc (what the
//! compiler decided), `<unreadable: ...>` for everything else (what the core
//! or its DWARF lacks).

/// The error of reading or printing one value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ValueError {
    /// The location list gives the variable no place (or only part of one)
    /// at this pc: optimised away or dead.
    #[error("{0}")]
    Unavailable(String),
    /// The location list itself could not be read or evaluated.
    #[error(transparent)]
    Location(#[from] crate::dwarf::locations::LocError),
    /// Memory the core does not hold.
    #[error(transparent)]
    Memory(#[from] crate::Error),
    #[error("value shorter than its type")]
    Short,
    #[error("no type information")]
    NoType,
    /// The DWARF lacks, or describes differently, a runtime type the reader
    /// needs (hchan, hmap, a bucket).
    #[error("{0}")]
    Layout(String),
    /// A map or channel whose header or chains cannot be what the runtime
    /// built (a damaged core), or more than a walk allows.
    #[error("{0}")]
    Implausible(String),
    #[error("no function at pc {pc:#x}")]
    NoFunc { pc: u64 },
    /// A variable moved to the heap whose pointer is nil.
    #[error("nil heap pointer")]
    NilHeap,
}

impl ValueError {
    /// What the views print in place of the value.
    pub fn shown(&self) -> String {
        match self {
            ValueError::Unavailable(why) => format!("<unavailable: {why}>"),
            e => format!("<unreadable: {e}>"),
        }
    }
}
