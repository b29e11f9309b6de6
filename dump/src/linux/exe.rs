//! The running executable: whether the file at its path is still the one
//! the process runs (a deploy deletes or replaces it), and a copy of the
//! running one from `/proc/PID/exe` so that the core can be analysed.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::procfs::proc_path;

/// `/proc/PID/exe`, opened: the descriptor keeps the running file's inode
/// even when its name is gone and the process exits.
pub struct RunningExe {
    /// The path the kernel shows for it, without " (deleted)".
    pub path: PathBuf,
    file: File,
    /// Why the file at `path` is not the running executable, if it is not.
    pub changed: Option<String>,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl RunningExe {
    /// Look at pid's executable; `None` when `/proc/PID/exe` cannot be read
    /// (a kernel thread, no permission: the attach says why).
    pub fn open(pid: i32) -> Option<RunningExe> {
        let link = proc_path(pid, "exe");
        let target = std::fs::read_link(&link).ok()?;
        let file = File::open(&link).ok()?;
        let shown = target.to_string_lossy();
        let (path, deleted) = match shown.strip_suffix(" (deleted)") {
            Some(p) => (PathBuf::from(p), true),
            None => (target.clone(), false),
        };
        let changed = if deleted && !path.exists() {
            Some("it was deleted after the process started".to_string())
        } else {
            compare(&file, &path)
        };
        Some(RunningExe { path, file, changed })
    }

    /// Copy the running executable to `dest` (a new file, under a temporary
    /// name renamed at the end, mode 0755 before the umask).
    pub fn save(&self, dest: &Path) -> std::io::Result<u64> {
        let mut src = self.file.try_clone()?;
        use std::io::Seek;
        src.rewind()?;
        crate::output::write_new_file(dest, 0o755, |out| std::io::copy(&mut src, out))
    }
}

/// Why the file at `path` differs from the running one (`file`), or `None`
/// if it is the same file or has the same build id.
fn compare(file: &File, path: &Path) -> Option<String> {
    let running = file.metadata().ok()?;
    let now = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Some(format!("{} cannot be read now ({e})", path.display())),
    };
    if running.dev() == now.dev() && running.ino() == now.ino() {
        return None;
    }
    // Another file under that name: a rebuild or a deploy, unless it is
    // the same build installed again.
    let a = core_reader::map_file(&fd_path(file)).ok()?;
    let b = core_reader::map_file(path).ok()?;
    let (ia, ib) = (core_reader::build_ids((*a).as_ref()), core_reader::build_ids((*b).as_ref()));
    match (ia, ib) {
        (Some(x), Some(y)) if x.gnu.is_some() && y.gnu.is_some() => (x.gnu != y.gnu).then(|| {
            format!(
                "{} was replaced: GNU build id {} now, {} running",
                path.display(),
                hex(y.gnu.as_deref().unwrap_or_default()),
                hex(x.gnu.as_deref().unwrap_or_default())
            )
        }),
        (Some(x), Some(y)) if x.go.is_some() && y.go.is_some() => (x.go != y.go).then(|| {
            format!(
                "{} was replaced: Go build id {} now, {} running",
                path.display(),
                y.go.as_deref().unwrap_or_default(),
                x.go.as_deref().unwrap_or_default()
            )
        }),
        _ => ((*a).as_ref() != (*b).as_ref()).then(|| format!("{} was replaced by a different file", path.display())),
    }
}

/// A path that opens `file` itself.
fn fd_path(file: &File) -> PathBuf {
    use std::os::fd::AsRawFd;
    PathBuf::from(format!("/proc/self/fd/{}", file.as_raw_fd()))
}
