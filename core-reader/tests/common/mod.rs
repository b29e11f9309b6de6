//! What core-reader's tests share beyond the `tests` crate (which builds the
//! fixtures, makes the cores and decides what a missing tool means): the
//! crasher fixture, and gdb's and elfutils' view of a core, the oracles.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::fixture::Build;

/// `testdata/go/crasher` (modes `nil`, `panic`, `block`) as `b` says
/// (`Build::new("crasher")` plus pie, stripped, another arch or OS).
pub fn crasher(b: Build) -> PathBuf {
    b.build().unwrap_or_else(|e| panic!("building the crasher fixture: {e:#}")).exe
}

/// The crasher for `goarch`, as is.
pub fn crasher_for(goarch: &str) -> PathBuf {
    crasher(Build::new("crasher").arch(goarch))
}

/// What gdb says: (tid, pc) per thread, sorted.
pub fn gdb_threads(exe: &Path, core: &Path) -> Vec<(u64, u64)> {
    gdb_threads_expr(exe, core, "$pc")
}

/// What gdb says: (tid, sp) per thread, sorted.
pub fn gdb_sps(exe: &Path, core: &Path) -> Vec<(u64, u64)> {
    gdb_threads_expr(exe, core, "$sp")
}

fn gdb_threads_expr(exe: &Path, core: &Path, expr: &str) -> Vec<(u64, u64)> {
    let out = Command::new("gdb")
        .args(["-nx", "-batch", "-ex", "set auto-load no", "-ex", &format!("thread apply all p/x {expr}")])
        .arg(exe)
        .arg(core)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut res = Vec::new();
    let mut tid = None;
    for line in text.lines() {
        // "Thread 4 (LWP 8241):" or "Thread 1 (Thread 0x... (LWP 8239)):"
        if line.starts_with("Thread ") {
            tid = line
                .split("LWP ")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|s| s.parse().ok());
        } else if let (Some(t), Some(v)) = (tid, line.split(" = 0x").nth(1)) {
            res.push((t, u64::from_str_radix(v.trim(), 16).unwrap()));
            tid = None;
        }
    }
    assert!(!res.is_empty(), "could not parse gdb output:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
    res.sort();
    res
}

/// What elfutils says: (tid, pc) per `NT_PRSTATUS`, sorted. An oracle for
/// arches the local gdb cannot read.
pub fn eu_readelf_threads(core: &Path) -> Vec<(u64, u64)> {
    let out = Command::new("eu-readelf").arg("-n").arg(core).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut res = Vec::new();
    let mut tid: Option<u64> = None;
    for line in text.lines() {
        let l = line.trim_start();
        if let Some(rest) = l.strip_prefix("pid: ") {
            tid = rest.split(',').next().and_then(|s| s.trim().parse().ok());
        }
        for key in ["pc: 0x", "rip: 0x"] {
            if let (Some(t), true) = (tid, l.starts_with(key)) {
                let v = l[key.len()..].split(|c: char| !c.is_ascii_hexdigit()).next().unwrap();
                res.push((t, u64::from_str_radix(v, 16).unwrap()));
                tid = None;
            }
        }
    }
    res.sort();
    res
}
