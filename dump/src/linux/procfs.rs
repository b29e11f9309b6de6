//! The few `/proc/PID/...` files a dump needs, parsed by hand (a handful of
//! fields each; no need for a dependency).

use std::path::PathBuf;

use crate::{Error, Result};

pub fn proc_path(pid: i32, tail: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/{tail}"))
}

pub fn task_path(pid: i32, tid: i32, tail: &str) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/task/{tid}/{tail}"))
}

/// Read a `/proc` file; a missing process reads as `NoSuchProcess`.
pub fn read(pid: i32, path: PathBuf) -> Result<Vec<u8>> {
    std::fs::read(&path).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => Error::NoSuchProcess { pid },
        _ => Error::Io { path, source: e },
    })
}

/// The fields of `stat` a core records.
#[derive(Debug, Clone, Default)]
pub struct Stat {
    pub state: u8,
    pub ppid: i32,
    pub pgrp: i32,
    pub session: i32,
    pub flags: u64,
    pub utime: u64,
    pub stime: u64,
    pub cutime: u64,
    pub cstime: u64,
    pub nice: i64,
}

/// Parse `stat`. The command name may hold spaces and parentheses, so the
/// fields are counted from the last `)`.
pub fn parse_stat(text: &str, path: &std::path::Path) -> Result<Stat> {
    let bad = || Error::Parse { path: path.to_path_buf(), what: "stat", text: text.to_string() };
    let rest = &text[text.rfind(')').ok_or_else(bad)? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state).
    let num = |i: usize| -> Result<i64> { f.get(i).and_then(|s| s.parse().ok()).ok_or_else(bad) };
    Ok(Stat {
        state: f.first().and_then(|s| s.bytes().next()).ok_or_else(bad)?,
        ppid: num(1)? as i32,
        pgrp: num(2)? as i32,
        session: num(3)? as i32,
        flags: num(6)? as u64,
        utime: num(11)? as u64,
        stime: num(12)? as u64,
        cutime: num(13)? as u64,
        cstime: num(14)? as u64,
        nice: num(16)?,
    })
}

pub fn stat(pid: i32, path: PathBuf) -> Result<Stat> {
    let text = String::from_utf8_lossy(&read(pid, path.clone())?).into_owned();
    parse_stat(&text, &path)
}

/// A `Key:\tvalue` field of a `status` file.
pub fn status_field<'a>(status: &'a str, key: &str) -> Option<&'a str> {
    status.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(':').map(str::trim))
}

pub fn status(pid: i32, path: PathBuf) -> Result<String> {
    Ok(String::from_utf8_lossy(&read(pid, path)?).into_owned())
}

/// Thread ids of the process, ascending.
pub fn tasks(pid: i32) -> Result<Vec<i32>> {
    let path = proc_path(pid, "task");
    let dir = std::fs::read_dir(&path).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ESRCH) => Error::NoSuchProcess { pid },
        _ => Error::Io { path: path.clone(), source: e },
    })?;
    let mut v: Vec<i32> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    v.sort_unstable();
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_comm() {
        let t = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 1 2 20 5 3 0 100 0 0";
        let s = parse_stat(t, std::path::Path::new("stat")).unwrap();
        assert_eq!(s.state, b'S');
        assert_eq!(s.ppid, 1);
        assert_eq!(s.flags, 4194560);
        assert_eq!((s.utime, s.stime, s.cutime, s.cstime), (7, 3, 1, 2));
        assert_eq!(s.nice, 5);
    }
}
