//! Test harness: build the Go fixture, make real cores with producers we did
//! not write (the kernel, gdb's gcore, Delve, qemu-user), and ask gdb what it
//! sees in them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A tool the test needs is missing: fail in CI, skip loudly elsewhere.
/// Returns `false` when the test should return early.
pub fn need(tool: &str) -> bool {
    let found = if tool.contains('/') {
        Path::new(tool).exists()
    } else {
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
    };
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("required tool {tool} is missing (CI=true: not skipping)");
        }
        eprintln!("\n*** SKIPPED: {tool} is not installed; this test did not run ***\n");
    }
    found
}

pub fn dlv() -> Option<PathBuf> {
    if let Ok(p) = which("dlv") {
        return Some(p);
    }
    let home = std::env::var("HOME").ok()?;
    let p = PathBuf::from(home).join("go/bin/dlv");
    p.exists().then_some(p)
}

fn which(tool: &str) -> Result<PathBuf, ()> {
    let out = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map_err(|_| ())?;
    if !out.status.success() {
        return Err(());
    }
    Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}

/// A fresh temporary directory, removed when dropped (cores are big).
pub fn fresh_dir(name: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&format!("core-reader-{name}-")).tempdir().unwrap()
}

/// A core made by some producer, with the directory that holds it.
pub struct Made {
    pub core: PathBuf,
    pub stderr: String,
    pub dir: tempfile::TempDir,
}

/// Build the crasher fixture once per (goarch, flags) for this test process.
pub fn build(goarch: &str, flags: &[&str]) -> PathBuf {
    build_fixture("crasher.go", goarch, flags, false)
}

/// Build `tests/fixtures/<name>` (`.txt` suffix allowed, so that `go vet` of
/// the crate ignores it), once per (name, goarch, flags, cgo).
pub fn build_fixture(name: &str, goarch: &str, flags: &[&str], cgo: bool) -> PathBuf {
    static CACHE: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let key = format!("{name} {goarch} {cgo} {}", flags.join(" "));
    let cache = CACHE.get_or_init(Default::default);
    let mut cache = cache.lock().unwrap();
    if let Some(p) = cache.get(&key) {
        return p.clone();
    }
    // Builds live in cargo's per-target scratch space, reused across runs
    // (go's own cache makes the rebuild cheap); one directory per variant.
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("core-reader-go")
        .join(key.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
    std::fs::create_dir_all(&dir).unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name);
    std::fs::copy(&src, dir.join("main.go")).unwrap();
    std::fs::write(dir.join("go.mod"), "module crasher\n\ngo 1.21\n").unwrap();
    let exe = dir.join(name.split('.').next().unwrap());
    let out = Command::new("go")
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(&exe)
        .arg(".")
        .current_dir(&dir)
        .env("GOARCH", goarch)
        .env("GOOS", "linux")
        .env("CGO_ENABLED", if cgo { "1" } else { "0" })
        .env("GOTOOLCHAIN", "local")
        .env("GOFLAGS", "")
        .output()
        .expect("run go build");
    assert!(out.status.success(), "go build failed: {}", String::from_utf8_lossy(&out.stderr));
    cache.insert(key, exe.clone());
    exe
}

/// The newest file in `dir` whose name starts with `prefix`.
fn find_core(dir: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(prefix)))
        .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
}

/// Run `exe mode` with `ulimit -c unlimited` and GOTRACEBACK=crash in a fresh
/// directory (core_pattern is `core`), and return (core path, stderr).
pub fn kernel_core(exe: &Path, mode: &str, runner: Option<&str>) -> Made {
    let tmp = fresh_dir("run");
    let dir = tmp.path().to_path_buf();
    let local = dir.join(exe.file_name().unwrap());
    std::fs::copy(exe, &local).unwrap();
    let cmd = match runner {
        Some(r) => format!("ulimit -c unlimited; exec {r} ./{} {mode}", local.file_name().unwrap().to_str().unwrap()),
        None => format!("ulimit -c unlimited; exec ./{} {mode}", local.file_name().unwrap().to_str().unwrap()),
    };
    // A copy just written can be "busy" for exec while another test thread
    // forks (the child briefly holds the write descriptor): try again.
    let mut tries = 0;
    let out = loop {
        let out = Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .current_dir(&dir)
            .env("GOTRACEBACK", "crash")
            .output()
            .unwrap();
        tries += 1;
        if tries < 5 && String::from_utf8_lossy(&out.stderr).contains("Text file busy") {
            std::thread::sleep(std::time::Duration::from_millis(100));
            continue;
        }
        break out;
    };
    assert!(!out.status.success(), "the fixture was supposed to crash");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let prefix = if runner.is_some() { "qemu_" } else { "core" };
    let core = find_core(&dir, prefix).unwrap_or_else(|| {
        panic!(
            "no core file in {} (core_pattern: {:?}); stderr:\n{stderr}",
            dir.display(),
            std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default()
        )
    });
    Made { core, stderr, dir: tmp }
}

/// A live `exe block`, killed on drop.
pub struct Live {
    pub child: Child,
    pub pid: u32,
    pub exe: PathBuf,
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn live(exe: &Path) -> Live {
    let mut child = Command::new(exe)
        .arg("block")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("ready "), "fixture said {line:?}");
    let pid = child.id();
    Live {
        child,
        pid,
        exe: exe.to_path_buf(),
    }
}

/// `gcore -o dir/x PID` -> dir/x.PID.
pub fn gcore(l: &Live) -> Made {
    let tmp = fresh_dir("gcore");
    let dir = tmp.path();
    let out = Command::new("gcore")
        .arg("-o")
        .arg(dir.join("x"))
        .arg(l.pid.to_string())
        .output()
        .unwrap();
    let core = dir.join(format!("x.{}", l.pid));
    assert!(core.exists(), "gcore wrote nothing: {}", String::from_utf8_lossy(&out.stderr));
    Made { core, stderr: String::new(), dir: tmp }
}

/// `dlv attach PID` then `dump FILE`.
pub fn dlv_dump(dlv: &Path, l: &Live) -> Made {
    let tmp = fresh_dir("dlv");
    let dir = tmp.path();
    let core = dir.join("dlv.core");
    let script = dir.join("init");
    std::fs::write(&script, format!("dump {}\nquit -c\n", core.display())).unwrap();
    let mut child = Command::new(dlv)
        .arg("attach")
        .arg(l.pid.to_string())
        .arg("--init")
        .arg(&script)
        .arg("--allow-non-terminal-interactive")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("dlv dump timed out");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        core.exists(),
        "dlv wrote no core: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Made { core, stderr: String::new(), dir: tmp }
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
