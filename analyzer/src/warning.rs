//! What an analysis could not do but went on without: a [`Warning`] each.
//! The CLI prints them (`goanalyze: warning: ...`, `warning: ...` lines of
//! `--info` and triage) and the triage JSON carries them as their text;
//! a pipeline that embeds the library matches on the variant instead.
//! The heap's ([`crate::heap::Heap::warnings`], the object graph's, the
//! leak report's) are variants here too.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One warning of an analysis. `Display` is the text the CLI prints and
/// the JSON carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// The core reader's (`core_reader::Core::warnings`): a truncated core,
    /// an executable that was not found or does not match, ...
    #[error("{0}")]
    Core(core_reader::Warning),
    /// An M on `runtime.allm` could not be read; the list ends there.
    #[error("m at {addr:#x}: {error}")]
    UnreadableM { addr: u64, error: String },
    /// A goroutine of `runtime.allgs` could not be read (the first few).
    #[error("goroutine at {addr:#x}: {error}")]
    UnreadableG { addr: u64, error: String },
    /// How many more goroutines were unreadable than were listed one by one.
    #[error("{count} more goroutines of runtime.allgs ({allgs:#x}, {len} entries) are unreadable")]
    MoreUnreadableGs { count: usize, allgs: u64, len: u64 },
    /// No `runtime.waitReasonStrings`: waiting goroutines say "waiting".
    #[error("runtime.waitReasonStrings not found; wait reasons shown as \"waiting\"")]
    NoWaitReasons,
    /// `runtime.allgs` gave no live goroutine: most likely another build's
    /// executable.
    #[error("no live goroutines found through runtime.allgs; is this the executable that wrote the core?")]
    NoGoroutines,
    /// A warning read back from JSON, which carries only the text.
    #[error("{0}")]
    Text(String),

    // The heap's.
    /// Spans of `runtime.mheap_.allspans` that could not be read or make
    /// no sense; `first` says what was wrong with the first.
    #[error("{bad} of {len} spans of runtime.mheap_.allspans skipped; the first: {first}")]
    SpansSkipped { bad: u64, len: u64, first: String },
    /// Spans overlapping others (garbage): the first of each overlap is kept.
    #[error("{count} spans overlap others and were skipped")]
    OverlappingSpans { count: usize },
    /// The first span whose allocBits could not be read.
    #[error("span {span:#x}: allocBits unreadable ({error}); only slots below freeindex counted")]
    AllocBitsUnreadable { span: u64, error: String },
    /// How many spans in all had unreadable allocBits (when more than one).
    #[error("{spans} spans in all had unreadable allocBits")]
    MoreAllocBitsUnreadable { spans: usize },
    /// Go 1.21's heap bitmap needs the arena index.
    #[error("go1.21 heap bitmap: mheap_.arenas not located; objects are scanned conservatively")]
    NoArenaIndex,
    /// The package variables' GC masks could not be read.
    #[error("globals scanned conservatively: {error}")]
    GlobalsConservative { error: String },
    /// No `mspan.specials` offset (no DWARF, no table entry).
    #[error("mspan.specials offset unknown: finalizers and cleanups are not roots")]
    NoSpecials,
    /// Span special lists that could not be read to their end.
    #[error("{spans} span special lists could not be read in full; some finalizer roots may be missing")]
    SpecialsUnreadable { spans: usize },
    /// A frame whose pointer maps could not be used.
    #[error("goroutine {goid}: {func}: {why}; its frame is scanned conservatively")]
    FrameConservative { goid: u64, func: String, why: String },
    /// Roots without a pointer mask, in a graph that is otherwise precise.
    #[error("{roots} roots were scanned conservatively (no pointer mask)")]
    RootsConservative { roots: usize },
    /// Objects whose memory the core does not hold.
    #[error("{objects} objects are not in the core: their pointers are missing from the graph")]
    ObjectsNotInCore { objects: usize },
    /// Objects scanned without their pointer bitmap.
    #[error("{objects} objects' pointers were found by a conservative scan (no pointer bitmap read)")]
    ObjectsConservative { objects: usize },
    /// Without `g.waiting`, channel and lock waiters cannot be judged.
    #[error("g.waiting's offset is unknown (no DWARF): {undecided} goroutines blocked on channels and sync primitives are undecided, none called leaked")]
    NoWaitingOffset { undecided: usize },
    /// In-use spans outside the arenas the runtime lists.
    #[error("{spans} spans lie outside the arenas of {source_name}; their arenas were added")]
    SpansOutsideArenas { spans: u64, source_name: &'static str },
    /// `runtime.persistentChunks` broke off.
    #[error("runtime.persistentChunks: chunk at {chunk:#x} unreadable; the chain stops there")]
    PersistentChunkUnreadable { chunk: u64 },
}

impl Warning {
    /// Each of the core reader's warnings.
    pub fn from_core(core: &core_reader::Core) -> impl Iterator<Item = Warning> + '_ {
        core.warnings.iter().map(|w| Warning::Core(w.clone()))
    }
}

// JSON carries the text (the triage schema's `warnings` are strings).
impl Serialize for Warning {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Warning {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Warning, D::Error> {
        String::deserialize(d).map(Warning::Text)
    }
}
