//! `-o FILE`: where a profile or a report goes. A regular file (or a new
//! name) is written under a temporary name of our own in its directory
//! (created with `O_EXCL`, never a file that was there) and renamed over
//! the name once it is complete, so a failed write leaves the old file as
//! it was; a symlink is followed (its target is replaced). A device or a
//! FIFO is written straight through (renaming over it would replace the
//! node), `-` is standard output. Without `-o` the result goes to standard
//! output only when that is not a terminal.

use std::fs::OpenOptions;
use std::io::{IsTerminal, Write};
use std::os::unix::fs::FileTypeExt;
use std::path::Path;

use elfwriter::replace::resolve;

/// Whether the result may go to standard output: not onto a terminal
/// (a gzipped profile there is garbage, a page of HTML is no report).
pub fn stdout_ok() -> bool {
    !std::io::stdout().is_terminal()
}

/// Write `bytes` where `path` says (see the module's documentation); the
/// error names the path.
pub fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let err = |e: std::io::Error| format!("{}: {e}", path.display());
    if path.as_os_str() == "-" {
        return super::stdout::write_all(bytes).map_err(|e| format!("writing to standard output: {e}"));
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(format!("{}: is a directory", path.display())),
        Ok(m) if !m.is_file() => {
            if m.file_type().is_socket() {
                return Err(format!("{}: is a socket", path.display()));
            }
            let mut f = OpenOptions::new().write(true).open(path).map_err(err)?;
            return f.write_all(bytes).and_then(|()| f.flush()).map_err(err);
        }
        _ => {}
    }
    let target = resolve(path).map_err(err)?;
    let dir = elfwriter::replace::dir_of(&target);
    let (mut f, tmp) = match elfwriter::replace::create_temp(&target, "goanalyze", 0o666) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(format!("{}: no free temporary name in {}", path.display(), dir.display()))
        }
        Err(e) => return Err(format!("{}: cannot create a file in {}: {e}", path.display(), dir.display())),
    };
    let r = f.write_all(bytes).and_then(|()| f.sync_all()).and_then(|()| std::fs::rename(&tmp, &target));
    if let Err(e) = r {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}
