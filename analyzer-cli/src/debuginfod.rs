//! A debuginfod client: when no file at hand matches the core, fetch the
//! executable by its GNU build id from the servers in `DEBUGINFOD_URLS`
//! (`/buildid/ID/executable`, then `/buildid/ID/debuginfo`), the protocol
//! gdb, elfutils and systemd use. Downloads are kept under
//! `$XDG_CACHE_HOME/goanalyze/debuginfod/ID/` (else `~/.cache/...`).
//!
//! Network code lives here, in the binary, behind the `debuginfod` feature;
//! the core reader only gets a resolver ([`core_reader::ExeResolver`]).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The resolver for `DEBUGINFOD_URLS`, or `None` when it is unset or empty.
pub fn resolver() -> Option<core_reader::ExeResolver> {
    let urls: Vec<String> = std::env::var("DEBUGINFOD_URLS")
        .ok()?
        .split_whitespace()
        .map(|u| u.trim_end_matches('/').to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if urls.is_empty() {
        return None;
    }
    let name = format!("debuginfod ({})", urls.join(" "));
    Some(core_reader::ExeResolver { name, find: Arc::new(move |ids| fetch(&urls, ids).map_err(Into::into)) })
}

/// `$XDG_CACHE_HOME/goanalyze/debuginfod`, else `$HOME/.cache/...`.
fn cache_root() -> Result<PathBuf, String> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .ok_or("neither XDG_CACHE_HOME nor HOME is set: no cache directory")?;
    Ok(base.join("goanalyze").join("debuginfod"))
}

/// Seconds a transfer may take: `DEBUGINFOD_TIMEOUT` as elfutils reads it, else 90.
fn timeout() -> Duration {
    let s = std::env::var("DEBUGINFOD_TIMEOUT").ok().and_then(|v| v.trim().parse().ok()).filter(|&s: &u64| s > 0);
    Duration::from_secs(s.unwrap_or(90))
}

/// Largest file taken: `DEBUGINFOD_MAXSIZE` bytes when set, else 4 GiB.
fn max_size() -> u64 {
    std::env::var("DEBUGINFOD_MAXSIZE").ok().and_then(|v| v.trim().parse().ok()).filter(|&s: &u64| s > 0).unwrap_or(4 << 30)
}

fn fetch(urls: &[String], ids: &core_reader::BuildIds) -> Result<PathBuf, String> {
    let hex = ids.gnu_hex().ok_or(
        "the core records no GNU build id (a Go binary has one only when linked with -B gobuildid or externally), \
         and debuginfod looks executables up by that",
    )?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("build id {hex:?} is not hex"));
    }
    let dir = cache_root()?.join(&hex);
    for kind in ["executable", "debuginfo"] {
        let p = dir.join(kind);
        if p.is_file() {
            return Ok(p);
        }
    }
    let agent = ureq::AgentBuilder::new().timeout_connect(Duration::from_secs(10)).timeout(timeout()).build();
    let mut failed = Vec::new();
    for kind in ["executable", "debuginfo"] {
        for u in urls {
            let url = format!("{u}/buildid/{hex}/{kind}");
            eprintln!("goanalyze: fetching {url}");
            match agent.get(&url).call() {
                Ok(resp) => match store(&dir, kind, resp.into_reader()) {
                    Ok(p) => return Ok(p),
                    Err(e) => failed.push(format!("{url}: {e}")),
                },
                Err(ureq::Error::Status(404, _)) => failed.push(format!("{url}: not found")),
                Err(e) => failed.push(format!("{url}: {e}")),
            }
        }
    }
    Err(failed.join("; "))
}

/// Write a download into the cache: a temporary in `dir`, renamed when whole.
fn store(dir: &std::path::Path, kind: &str, body: impl Read) -> std::io::Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(&format!(".{kind}.")).tempfile_in(dir)?;
    let cap = max_size();
    let n = std::io::copy(&mut body.take(cap + 1), tmp.as_file_mut())?;
    if n > cap {
        return Err(std::io::Error::other(format!("larger than {cap} bytes (DEBUGINFOD_MAXSIZE)")));
    }
    tmp.as_file_mut().flush()?;
    let dest = dir.join(kind);
    tmp.persist(&dest).map_err(|e| e.error)?;
    Ok(dest)
}
