//! Replacing a file safely, for every writer of this workspace (`godump`'s
//! cores, `goanalyze -o`): the new contents go to a temporary name of our
//! own next to the file (created with `O_EXCL`, never a file that was
//! there), which is renamed over the name once complete, so a failed write
//! leaves the old file as it was. A symlink is followed: its target is
//! what gets replaced.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `ELOOP`, as the kernel says it.
const ELOOP: i32 = 40;
/// `EEXIST`.
const EEXIST: i32 = 17;

/// Follow `path` through symlinks (at most 40, as the kernel does) to the
/// name that a rename must replace; a dangling symlink gives the name the
/// new file will have.
pub fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut p = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&p)?;
                p = if link.is_absolute() { link } else { p.parent().unwrap_or(Path::new("")).join(link) };
            }
            Ok(_) => return Ok(p),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(p),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::from_raw_os_error(ELOOP))
}

/// The directory a rename over `target` happens in (`.` for a bare name).
pub fn dir_of(target: &Path) -> &Path {
    match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// Create a new file next to `target`, `.NAME.TOOL-PID-SALT-N`, with
/// permissions `mode` (before the umask), under a name no one else uses
/// (`O_EXCL`: an existing file is never opened, let alone truncated).
/// `AlreadyExists` when 100 names were all taken.
pub fn create_temp(target: &Path, tool: &str, mode: u32) -> std::io::Result<(File, PathBuf)> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = dir_of(target);
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let salt = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    for _ in 0..100 {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{tool}-{}-{salt:x}-{n}", std::process::id()));
        match OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp) {
            Ok(f) => return Ok((f, tmp)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::from_raw_os_error(EEXIST))
}
