//! What an analysis could not do but went on without: a [`Warning`] each.
//! The CLI prints them (`goanalyze: warning: ...`, `warning: ...` lines of
//! `--info` and triage) and the triage JSON carries them as their text;
//! a pipeline that embeds the library matches on the variant instead.
//! (The heap's warnings, [`crate::heap::Heap::warnings`], are still text.)

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One warning of an analysis. `Display` is the text the CLI prints and
/// the JSON carries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// The core reader's (`core_reader::Core::warnings`): a truncated core,
    /// an executable that was not found or does not match, ...
    #[error("{0}")]
    Core(String),
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
