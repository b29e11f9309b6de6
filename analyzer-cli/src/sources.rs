//! Where the core and its executable come from: the options every mode
//! opens a core with (`--exe`, `--exe-dir`, debuginfod), and `-`, a core
//! read from standard input.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The core reader's options for this command line.
pub fn open_options(exe: Option<&Path>, exe_dirs: &[PathBuf]) -> core_reader::OpenOptions {
    let mut o = core_reader::OpenOptions::from_env().exe(exe);
    o.exe_dirs = exe_dirs.to_vec();
    #[cfg(feature = "debuginfod")]
    {
        o.exe_resolver = crate::debuginfod::resolver();
    }
    o
}

/// Whether `core` names standard input.
pub fn is_stdin(core: &Path) -> bool {
    core.as_os_str() == "-"
}

/// Copy standard input to a temporary file and return it: the readers need
/// random access (the notes point back and forth into the file), so a pipe
/// is spooled whole, compressed or not, before anything is read. The file
/// lives in `$TMPDIR` (else /tmp), mode 0600, and is removed when dropped.
pub fn spool_stdin() -> Result<tempfile::NamedTempFile> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        bail!("-: standard input is a terminal; pipe a core into it (zstd -dc core.zst | goanalyze - --stacks)");
    }
    let mut tmp = tempfile::Builder::new().prefix("goanalyze-stdin-").tempfile().context("creating a temporary file for standard input")?;
    std::io::copy(&mut stdin.lock(), tmp.as_file_mut())
        .with_context(|| format!("-: copying standard input to {}", tmp.path().display()))?;
    Ok(tmp)
}

/// Open the core `path` (`-`: standard input, spooled) as `Analysis` does.
pub fn open_core(path: &Path, opts: &core_reader::OpenOptions) -> Result<core_reader::Core, analyzer::Error> {
    if !is_stdin(path) {
        return Ok(core_reader::Core::open(path, opts)?);
    }
    let tmp = spool_stdin().map_err(|e| analyzer::Error::Other(format!("{e:#}")))?;
    let core = core_reader::Core::open_as(tmp.path(), path, opts)?;
    // The map keeps the data; the name can go now.
    drop(tmp);
    Ok(core)
}
