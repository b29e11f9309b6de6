//! `--exe-dir`: a directory of executables searched by build id.
//!
//! Files are matched by the GNU build id first (the one debuginfod and
//! `.build-id/xx/yyyy` trees are keyed by), then by the Go build id (every
//! Go binary has one). Only each file's headers and first page are read.

use std::path::{Path, PathBuf};

use crate::source::map_file;
use crate::BuildIds;

/// Directory levels searched below `dir` (`.build-id/ab/` is two).
const MAX_DEPTH: usize = 2;
/// Files looked at in one directory tree at most: a wrong `--exe-dir`
/// (`/`) must not read the whole disk.
const MAX_FILES: usize = 20_000;

/// The first file under `dir` whose GNU build id, else Go build id, is the
/// one in `want`.
pub(crate) fn find(dir: &Path, want: &BuildIds) -> Option<PathBuf> {
    // The debuginfod / gdb layout first: DIR/.build-id/ab/cdef....
    if let Some(hex) = want.gnu_hex().filter(|h| h.len() > 2) {
        for tail in ["", ".debug"] {
            let p = dir.join(".build-id").join(&hex[..2]).join(format!("{}{tail}", &hex[2..]));
            if p.is_file() && ids_of(&p).is_some_and(|i| i.gnu == want.gnu) {
                return Some(p);
            }
        }
    }
    let mut files = Vec::new();
    collect(dir, 0, &mut files);
    let all: Vec<(PathBuf, BuildIds)> = files.into_iter().filter_map(|p| Some((p.clone(), ids_of(&p)?))).collect();
    if want.gnu.is_some() {
        if let Some((p, _)) = all.iter().find(|(_, i)| i.gnu == want.gnu) {
            return Some(p.clone());
        }
    }
    if want.go.is_some() {
        if let Some((p, _)) = all.iter().find(|(_, i)| i.go == want.go) {
            return Some(p.clone());
        }
    }
    None
}

fn collect(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        // Symlinks are followed (`.build-id` entries are links), FIFOs
        // and devices never opened.
        match std::fs::metadata(&p) {
            Ok(m) if m.is_file() => out.push(p),
            Ok(m) if m.is_dir() && depth < MAX_DEPTH => collect(&p, depth + 1, out),
            _ => {}
        }
    }
}

fn ids_of(p: &Path) -> Option<BuildIds> {
    let bytes = map_file(p).ok()?;
    let d: &[u8] = (*bytes).as_ref();
    if !d.starts_with(b"\x7fELF") {
        return None;
    }
    crate::build_ids(d)
}
