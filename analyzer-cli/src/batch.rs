//! The batch of `--triage`: many cores in parallel, each analysed in its
//! own `goanalyze --in-process` child, so that a hostile core that loops,
//! exhausts memory or crashes the analyzer costs only its own record (the
//! child is killed after `--timeout-per-core`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use analyzer::crash::triage::Record;
use rayon::prelude::*;

/// How the batch runs each core.
#[derive(Debug, Clone)]
pub struct BatchOptions {
    /// The `goanalyze` executable to run per core (normally the current one).
    pub program: PathBuf,
    pub exe: Option<PathBuf>,
    /// `--exe-dir`, passed on.
    pub exe_dirs: Vec<PathBuf>,
    pub timeout: Duration,
    /// Worker threads; 0 for rayon's default (one per CPU).
    pub jobs: usize,
    /// Ask for `group_details`.
    pub group: bool,
    /// `--system`: count system goroutines in the groups.
    pub system: bool,
}

/// Why a core's child analysis gave no record.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("waiting for the analysis: {0}")]
    Wait(#[source] std::io::Error),
    #[error("analysis timed out after {secs} s (raise --timeout-per-core)")]
    Timeout { secs: u64 },
    /// The child exited without a record (it crashed, or was killed).
    #[error("the analysis failed ({status}){}", if detail.is_empty() { String::new() } else { format!(": {detail}") })]
    Failed { status: String, detail: String },
}

/// Triage `core` in a child `goanalyze --triage --format json --in-process`,
/// killed after `opts.timeout`. Never fails: errors go in the record.
pub fn triage_isolated(core: &Path, opts: &BatchOptions) -> Record {
    run_child(core, opts).unwrap_or_else(|e| Record::failed(core, e.to_string()))
}

fn run_child(core: &Path, opts: &BatchOptions) -> Result<Record, BatchError> {
    let mut cmd = Command::new(&opts.program);
    cmd.arg(core).args(["--triage", "--format", "json", "--in-process"]);
    if let Some(exe) = &opts.exe {
        cmd.arg("--exe").arg(exe);
    }
    for d in &opts.exe_dirs {
        cmd.arg("--exe-dir").arg(d);
    }
    if !opts.system {
        cmd.arg("--system=false");
    }
    if opts.group {
        cmd.arg("--group");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| BatchError::Spawn { program: opts.program.clone(), source })?;
    // Drain the pipes while waiting, so a chatty child cannot block on a full pipe.
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err.read_to_end(&mut v);
        v
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if start.elapsed() >= opts.timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(BatchError::Wait(e));
            }
        }
    };
    let stdout = out_t.join().unwrap_or_default();
    let stderr = err_t.join().unwrap_or_default();
    let status = status.ok_or(BatchError::Timeout { secs: opts.timeout.as_secs() })?;
    let text = String::from_utf8_lossy(&stdout);
    match text.lines().find(|l| l.starts_with('{')).map(serde_json::from_str::<Record>) {
        Some(Ok(r)) => Ok(r),
        _ => Err(BatchError::Failed {
            status: status.to_string(),
            detail: String::from_utf8_lossy(&stderr).trim().to_string(),
        }),
    }
}

/// Triage every core in parallel; `done(index, record)` is called as each
/// finishes, in completion order.
pub fn batch(cores: &[PathBuf], opts: &BatchOptions, done: &(dyn Fn(usize, Record) + Sync)) {
    let run = || {
        cores.par_iter().enumerate().for_each(|(i, c)| done(i, triage_isolated(c, opts)));
    };
    match rayon::ThreadPoolBuilder::new().num_threads(opts.jobs).build() {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    }
}
