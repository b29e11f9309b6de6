//! What a reader could not use but went on without: a [`Warning`] each, in
//! [`crate::Core::warnings`]. `Display` is the text goanalyze prints (and
//! triage's JSON carries); a caller that embeds the crate matches on the
//! variant and its fields (the file, the offset, the address) instead.

use std::fmt;
use std::path::PathBuf;

/// One warning of [`crate::Core::open`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Warning {
    /// The compressed stream ends early or is damaged; what came out before
    /// is read.
    #[error("{}: {format} stream is damaged or cut short after {recovered} decompressed bytes ({error}); reading what was recovered", path.display())]
    DamagedCompression { path: PathBuf, format: &'static str, recovered: u64, error: String },
    /// Program headers past the end of the file (a cut core).
    #[error("{}: {missing} of {total} program headers lie beyond the end of the file", path.display())]
    HeadersBeyondEnd { path: PathBuf, missing: u64, total: u64 },
    /// The note segments end in a note that cannot be parsed.
    #[error("{}: notes end in a damaged or truncated note at file offset {offset:#x}", path.display())]
    DamagedNotes { path: PathBuf, offset: u64 },
    /// A thread's register note is shorter than its layout.
    #[error("{}: {note} at file offset {offset:#x} is too short ({len} bytes); thread skipped", path.display())]
    ShortThreadNote { path: PathBuf, note: String, offset: u64, len: usize },
    /// `NT_FILE` cannot be parsed.
    #[error("{}: {note} at file offset {offset:#x} is malformed; file mappings unknown", path.display())]
    MalformedFileNote { path: PathBuf, note: String, offset: u64 },
    /// One of Delve's thread notes cannot be parsed.
    #[error("{}: Delve thread note at file offset {offset:#x} is malformed; thread skipped", path.display())]
    MalformedDelveThread { path: PathBuf, offset: u64 },
    /// No thread at all: `container` is "core" or "minidump".
    #[error("{}: the {container} has no threads", path.display())]
    NoThreads { path: PathBuf, container: &'static str },
    /// The core or the minidump is shorter than its headers say.
    #[error("{}: {what} truncated: {file_size} bytes of {expected_size} expected; memory from {} on is unreadable", path.display(), FirstMissing(*first_missing, what))]
    Truncated { path: PathBuf, what: &'static str, file_size: u64, expected_size: u64, first_missing: Option<u64> },
    /// A candidate executable that could not be read (the reader's error).
    #[error("{error}; ignored")]
    CandidateUnreadable { error: String },
    /// A resolver (debuginfod, ...) fetched a file that is not the core's.
    #[error("{resolver}: {} does not match the core; ignored", path.display())]
    ResolvedMismatch { resolver: String, path: PathBuf },
    /// A resolver fetched a file that could not be read.
    #[error("{resolver}: {error}; ignored")]
    ResolvedUnreadable { resolver: String, error: String },
    /// A resolver failed (its own message).
    #[error("{resolver}: {error}")]
    ResolverFailed { resolver: String, error: String },
    /// The core names no executable and none was given: `container` is
    /// "core" or "minidump".
    #[error("the {container} does not name its executable; pass it explicitly (--exe)")]
    ExeUnnamed { container: &'static str },
    /// The executable was in none of the places looked (paths, `--exe-dir`
    /// directories, resolvers).
    #[error("executable not found (looked in {}); pass it explicitly (--exe)", searched.join(", "))]
    ExeNotFound { searched: Vec<String> },
    /// A minidump's executable was none of the module paths it records.
    #[error("executable not found (looked for {}); pass it explicitly (--exe)", names.join(", "))]
    ExeNotFoundByName { names: Vec<String> },
    /// A Mach-O core's executable, by the name its notes give.
    #[error("executable {name} not found; pass it explicitly (--exe)")]
    ExeNameNotFound { name: String },
    /// The executable used is not the one that wrote the core:
    /// `container` is "core" or "dump", `why` what differs.
    #[error("executable {} does not match the {container} ({why}); symbols and memory from it will be wrong, pass the right one with --exe", exe.display())]
    ExeMismatch { exe: PathBuf, container: &'static str, why: String },
    /// Nothing in the core to check the executable against.
    #[error("could not check that executable {} matches the {container}: {why}", exe.display())]
    ExeUnchecked { exe: PathBuf, container: &'static str, why: String },
    /// The executable is for another machine than the core.
    #[error("executable {} is for ELF machine {machine}, the core for {arch}", exe.display())]
    ExeMachine { exe: PathBuf, machine: u16, arch: &'static str },
    /// Files the core maps but does not hold are not on this machine.
    #[error("{} mapped file(s) not found, their undumped pages are unreadable: {}", files.len(), files.join(", "))]
    MappedFilesMissing { files: Vec<String> },
    /// The minidump's executable was loaded away from its preferred base.
    #[error("{} was loaded at {loaded:#x}, not its preferred base {preferred:#x}; bytes taken from the file where the dump has none are not relocated", exe.display())]
    NotRelocated { exe: PathBuf, loaded: u64, preferred: u64 },
    /// A minidump stream that cannot be parsed.
    #[error("{}: {stream} stream at file offset {offset:#x} is malformed ({error}); ignored", path.display())]
    MalformedStream { path: PathBuf, stream: String, offset: u64, error: String },
    /// A minidump thread whose register context cannot be read.
    #[error("{}: thread {tid}: no readable {arch} context at file offset {offset:#x}; thread skipped", path.display())]
    NoThreadContext { path: PathBuf, tid: u32, arch: &'static str, offset: u64 },
    /// A memory list counts more ranges than its stream holds.
    #[error("{}: {list} at file offset {offset:#x} claims {count} ranges, only {fits} fit", path.display())]
    ShortMemoryList { path: PathBuf, list: &'static str, offset: u64, count: u64, fits: u64 },
    /// Mach-O load commands that end in one that cannot be parsed.
    #[error("{}: load commands end in a damaged one ({error})", path.display())]
    DamagedLoadCommands { path: PathBuf, error: String },
    /// A Mach-O load command (`LC_SEGMENT_64`, `LC_NOTE`) shorter than its
    /// structure.
    #[error("{}: {command} at file offset {offset:#x} is too short", path.display())]
    ShortLoadCommand { path: PathBuf, command: &'static str, offset: u64 },
    /// Something of an `LC_THREAD` (a flavor, a count) is off.
    #[error("{}: LC_THREAD at file offset {offset:#x}: {what}", path.display())]
    ThreadState { path: PathBuf, offset: u64, what: String },
    /// An `LC_THREAD` without the general registers.
    #[error("{}: LC_THREAD at file offset {offset:#x} has no general register state; thread skipped", path.display())]
    NoGeneralRegisters { path: PathBuf, offset: u64 },
    /// An `LC_NOTE` whose data lies past the end of the file.
    #[error("{}: LC_NOTE {owner:?} at file offset {offset:#x} points past the end of the file", path.display())]
    NotePastEnd { path: PathBuf, owner: String, offset: u64 },
}

/// The first missing address of a truncated core, or what the format says
/// when no memory is cut.
struct FirstMissing<'a>(Option<u64>, &'a str);

impl fmt::Display for FirstMissing<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0, self.1) {
            (Some(a), _) => write!(f, "{a:#x}"),
            (None, "minidump") => f.write_str("(no memory range)"),
            (None, _) => f.write_str("(no segment)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        let t = |w: Warning| w.to_string();
        let path = PathBuf::from("/c/core");
        let cut = |what, first_missing| Warning::Truncated { path: path.clone(), what, file_size: 10, expected_size: 20, first_missing };
        assert_eq!(
            t(cut("core file", Some(0x1000))),
            "/c/core: core file truncated: 10 bytes of 20 expected; memory from 0x1000 on is unreadable"
        );
        assert_eq!(
            t(cut("core file", None)),
            "/c/core: core file truncated: 10 bytes of 20 expected; memory from (no segment) on is unreadable"
        );
        assert_eq!(
            t(cut("minidump", None)),
            "/c/core: minidump truncated: 10 bytes of 20 expected; memory from (no memory range) on is unreadable"
        );
        assert_eq!(
            t(Warning::ExeNotFound { searched: vec!["/a".into(), "/b (by build id)".into()] }),
            "executable not found (looked in /a, /b (by build id)); pass it explicitly (--exe)"
        );
        assert_eq!(
            t(Warning::NotePastEnd { path: path.clone(), owner: "main bin spec".into(), offset: 0x20 }),
            "/c/core: LC_NOTE \"main bin spec\" at file offset 0x20 points past the end of the file"
        );
        assert_eq!(
            t(Warning::MappedFilesMissing { files: vec!["/x.so".into(), "/y.so".into()] }),
            "2 mapped file(s) not found, their undumped pages are unreadable: /x.so, /y.so"
        );
    }
}
