//! Timing whole processes: wall time and peak RSS of each run (GNU time's
//! %M, else wait4(2)'s ru_maxrss).

use std::ffi::OsString;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One command's figures over its runs.
#[derive(Debug, Clone)]
pub struct Figures {
    pub wall: Vec<Duration>,
    pub rss_kib: Vec<u64>,
}

fn median<T: Copy + Ord>(v: &[T]) -> T {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

impl Figures {
    pub fn wall_median(&self) -> Duration {
        median(&self.wall)
    }
    pub fn rss_median_mib(&self) -> f64 {
        median(&self.rss_kib) as f64 / 1024.0
    }
}

/// GNU time, which reads its child's rusage. Our own child's `ru_maxrss`
/// is no good: Linux keeps a process's peak RSS across exec, and a child
/// made by vfork/posix_spawn starts with ours (the harness's), so every
/// command would seem to use at least what the harness does. The
/// command GNU time forks starts from GNU time's small footprint instead.
const GNU_TIME: &str = "/usr/bin/time";

/// Run `argv` once, output discarded; wall time and peak RSS (KiB).
pub fn run_once(argv: &[OsString], stdin_null: bool) -> Result<(Duration, u64)> {
    let rss_file = tempfile::NamedTempFile::new()?;
    let via_time = std::path::Path::new(GNU_TIME).exists();
    let start = Instant::now();
    let mut cmd = if via_time {
        let mut c = Command::new(GNU_TIME);
        c.arg("-f").arg("%M").arg("-o").arg(rss_file.path()).args(argv);
        c
    } else {
        let mut c = Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    if stdin_null {
        cmd.stdin(Stdio::null());
    }
    let child = cmd.spawn().with_context(|| format!("starting {:?}", argv[0]))?;
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our own unreaped child; status and usage point to live
    // locals. std's Child is not used to wait afterwards, so it is reaped once.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed();
    if rc != pid {
        bail!("wait4 on {:?}: {}", argv[0], std::io::Error::last_os_error());
    }
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        bail!("{:?} failed (wait status {status:#x})", argv.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" "));
    }
    if via_time {
        let kib = std::fs::read_to_string(rss_file.path())?;
        let kib = kib.trim().lines().last().unwrap_or("").parse().context("GNU time's %M")?;
        return Ok((wall, kib));
    }
    Ok((wall, usage.ru_maxrss as u64))
}

/// One warm-up run, then `runs` counted ones.
pub fn measure(argv: &[OsString], runs: usize) -> Result<Figures> {
    run_once(argv, true)?;
    let mut f = Figures { wall: Vec::new(), rss_kib: Vec::new() };
    for _ in 0..runs.max(1) {
        let (w, r) = run_once(argv, true)?;
        f.wall.push(w);
        f.rss_kib.push(r);
    }
    Ok(f)
}

pub fn argv<I, S>(items: I) -> Vec<OsString>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    items.into_iter().map(Into::into).collect()
}

pub fn secs(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// What the figures were measured on.
pub fn machine_line() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string()))
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next().map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0)))
        .unwrap_or(0);
    format!("machine: {cpu}, {cores} cores, {:.0} GiB", mem as f64 / 1048576.0)
}
