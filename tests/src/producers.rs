//! Making cores with producers this project did not write: the Linux kernel,
//! gdb's `gcore`, Delve's `dump`, and qemu-aarch64's guest cores. Each returns
//! the core and, where the runtime printed one, its traceback text (the
//! oracle).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use tempfile::TempDir;

/// A core made by a producer, with what the process printed on stderr.
pub struct MadeCore {
    pub core: PathBuf,
    /// The Go runtime's traceback (GOTRACEBACK=crash), when the producer ran it.
    pub stderr: String,
    /// Holds the core; removed when this is dropped.
    pub dir: TempDir,
}

fn workdir() -> Result<TempDir> {
    Ok(tempfile::Builder::new().prefix("goanalyze-core").tempdir()?)
}

/// Run `exe args` until it crashes, with `GOTRACEBACK=crash` and
/// `ulimit -c unlimited`, and return the core the kernel wrote.
pub fn kernel_core(exe: &Path, args: &[&str]) -> Result<MadeCore> {
    kernel_core_env(exe, args, &[])
}

/// [`kernel_core`] with `env` (`GODEBUG` and the like) set for the program.
pub fn kernel_core_env(exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<MadeCore> {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    let pattern = pattern.trim();
    if pattern.starts_with('|') || pattern.contains('/') {
        bail!(
            "kernel cores go to {pattern:?}; tests need a plain file name in the working \
             directory: `echo core > /proc/sys/kernel/core_pattern` (as root; .ci/run does it)"
        );
    }
    let dir = workdir()?;
    let stderr = run_crashing(Command::new("sh").current_dir(dir.path()).args([
        "-c",
        "ulimit -c unlimited; exec \"$@\"",
        "sh",
    ]).arg(exe).args(args).envs(env.iter().copied()))?;
    let core = find_file(dir.path(), |n| n == "core" || n.starts_with("core."))
        .ok_or_else(|| anyhow!("{} crashed but left no core in {} (core_pattern {pattern:?}, is `ulimit -c` allowed?)\n{stderr}", exe.display(), dir.path().display()))?;
    Ok(MadeCore { core, stderr, dir })
}

/// Crash a built fixture with `args` and `env` and return its core: the
/// kernel's when the machine runs the fixture's arch, qemu-aarch64's for an
/// arm64 build on another machine.
pub fn crash(fx: &crate::fixture::Fixture, args: &[&str], env: &[(&str, &str)]) -> Result<MadeCore> {
    let native = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    match fx.build.goarch.as_str() {
        a if a == native => kernel_core_env(&fx.exe, args, env),
        "arm64" => {
            let qemu = crate::tools::find("qemu-aarch64").ok_or_else(|| anyhow!("qemu-aarch64 is not installed"))?;
            qemu_arm64_core_env(&qemu, &fx.exe, args, env)
        }
        other => bail!("no producer here crashes a {other} build ({})", fx.build.label()),
    }
}

/// Start `exe args` with `GOTRACEBACK=crash` and `ulimit -c unlimited`, wait
/// until it prints "ready" and `settle` more, then send it SIGQUIT from
/// outside (as an operator would to a hung server) and return the core the
/// kernel wrote after the runtime printed every goroutine.
pub fn sigquit_core(exe: &Path, args: &[&str], settle: Duration) -> Result<MadeCore> {
    let dir = workdir()?;
    let mut sh = Command::new("sh");
    sh.current_dir(dir.path()).args(["-c", "ulimit -c unlimited; exec \"$@\"", "sh"]).arg(exe).args(args);
    let mut child = spawn_crashable(sh, exe)?;
    let (stderr_thread, rx) = watch_output(&mut child);
    if rx.recv_timeout(Duration::from_secs(60)).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        bail!("{} never printed \"ready\":\n{}", exe.display(), stderr_thread.join().unwrap_or_default());
    }
    std::thread::sleep(settle);
    // `exec` kept the shell's pid: this is the Go process.
    let st = Command::new("kill").args(["-QUIT", &child.id().to_string()]).status()?;
    if !st.success() {
        bail!("kill -QUIT {} failed", child.id());
    }
    let status = child.wait()?;
    let stderr = stderr_thread.join().unwrap_or_default();
    if status.success() {
        bail!("{} exited normally after SIGQUIT:\n{stderr}", exe.display());
    }
    let core = find_file(dir.path(), |n| n == "core" || n.starts_with("core."))
        .ok_or_else(|| anyhow!("{} left no core in {} after SIGQUIT\n{stderr}", exe.display(), dir.path().display()))?;
    Ok(MadeCore { core, stderr, dir })
}

/// Run an arm64 executable under qemu-aarch64 until it crashes; qemu writes a
/// real aarch64 ELF core `qemu_<exe>_<date>_<pid>.core` in the working directory.
pub fn qemu_arm64_core(qemu: &Path, exe: &Path, args: &[&str]) -> Result<MadeCore> {
    qemu_arm64_core_env(qemu, exe, args, &[])
}

/// [`qemu_arm64_core`] with `env` set for the program.
pub fn qemu_arm64_core_env(qemu: &Path, exe: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<MadeCore> {
    let dir = workdir()?;
    let mut cmd = Command::new("sh");
    cmd.current_dir(dir.path())
        .args(["-c", "ulimit -c unlimited; exec \"$@\"", "sh"])
        .arg(qemu)
        .arg(exe)
        .args(args)
        .envs(env.iter().copied());
    // PIE builds are dynamically linked: their loader comes from Debian's
    // libc6-arm64-cross.
    let sysroot = Path::new("/usr/aarch64-linux-gnu");
    if sysroot.join("lib/ld-linux-aarch64.so.1").is_file() {
        cmd.env("QEMU_LD_PREFIX", sysroot);
    }
    let stderr = run_crashing(&mut cmd)?;
    let core = find_file(dir.path(), |n| n.starts_with("qemu_") && n.ends_with(".core"))
        .ok_or_else(|| anyhow!("qemu-aarch64 {} left no core\n{stderr}", exe.display()))?;
    Ok(MadeCore { core, stderr, dir })
}

fn run_crashing(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .env("GOTRACEBACK", "crash")
        .stdin(Stdio::null())
        .output()
        .context("starting the fixture")?;
    if out.status.success() {
        bail!("the fixture exited normally; it was meant to crash");
    }
    Ok(String::from_utf8_lossy(&out.stderr).into_owned())
}

fn find_file(dir: &Path, want: impl Fn(&str) -> bool) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok())
        .find(|e| want(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
}

/// Collect a piped child's stderr in a thread, and report each "ready"
/// line of its stdout: what follows "ready" (the pid a Windows fixture
/// prints under wine), or "" for a bare "ready".
fn watch_output(child: &mut Child) -> (std::thread::JoinHandle<String>, std::sync::mpsc::Receiver<String>) {
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let stderr_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let line = line.trim();
            if line == "ready" {
                let _ = tx.send(String::new());
            } else if let Some(rest) = line.strip_prefix("ready ") {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    (stderr_thread, rx)
}

/// Start a Go fixture (`exe`, perhaps behind a shell) with
/// `GOTRACEBACK=crash` and its output piped, for [`watch_output`].
fn spawn_crashable(mut cmd: Command, exe: &Path) -> Result<Child> {
    cmd.env("GOTRACEBACK", "crash")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))
}

/// A fixture running live (mode "wait"): it printed "ready" and waits for
/// SIGUSR1. Killed when dropped.
pub struct LiveProcess {
    child: Option<Child>,
    pub pid: u32,
    stderr_thread: Option<std::thread::JoinHandle<String>>,
}

impl LiveProcess {
    /// Start `exe args` with `GOTRACEBACK=crash` and wait until it prints "ready".
    pub fn start(exe: &Path, args: &[&str]) -> Result<LiveProcess> {
        let mut cmd = Command::new(exe);
        cmd.args(args);
        let mut child = spawn_crashable(cmd, exe)?;
        let pid = child.id();
        let (stderr_thread, rx) = watch_output(&mut child);
        let mut live = LiveProcess { child: Some(child), pid, stderr_thread: Some(stderr_thread) };
        if rx.recv_timeout(Duration::from_secs(60)).is_err() {
            let err = live.finish_stderr();
            bail!("{} never printed \"ready\":\n{err}", exe.display());
        }
        // The goroutine that printed "ready" is still returning from write(2)
        // when the line arrives; a fast dumper would catch it in the syscall
        // while the SIGQUIT oracle, later, shows it parked. Let it park.
        std::thread::sleep(Duration::from_millis(200));
        Ok(live)
    }

    /// The process's state letter from /proc/PID/stat (`S`, `R`, `t`, `T`, `Z`...).
    pub fn state(&self) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let after = &stat[stat.rfind(')')? + 1..];
        after.trim_start().chars().next()
    }

    /// Send SIGQUIT: the runtime prints every goroutine (the oracle for a live
    /// dump) and exits. Returns what it printed.
    pub fn sigquit_traceback(mut self) -> Result<String> {
        let st = Command::new("kill").args(["-QUIT", &self.pid.to_string()]).status()?;
        if !st.success() {
            bail!("kill -QUIT {} failed", self.pid);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let child = self.child.as_mut().expect("present until drop");
        loop {
            if child.try_wait()?.is_some() {
                break;
            }
            if Instant::now() > deadline {
                bail!("pid {} did not exit after SIGQUIT", self.pid);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(self.finish_stderr())
    }

    fn finish_stderr(&mut self) -> String {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        self.stderr_thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for LiveProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// gdb's `gcore` of a live process; the process keeps running.
pub fn gcore(gcore: &Path, pid: u32) -> Result<MadeCore> {
    let dir = workdir()?;
    let prefix = dir.path().join("gcore");
    let out = Command::new(gcore)
        .arg("-o")
        .arg(&prefix)
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .output()
        .context("running gcore")?;
    let core = PathBuf::from(format!("{}.{pid}", prefix.display()));
    if !out.status.success() || !core.is_file() {
        bail!(
            "gcore {pid} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(MadeCore { core, stderr: String::new(), dir })
}

/// Delve's `dump` of a live process: `dlv attach` with an init script that
/// dumps, then `exit` answered "n" so the process is left running.
pub fn dlv_dump(dlv: &Path, pid: u32) -> Result<MadeCore> {
    let dir = workdir()?;
    let core = dir.path().join("dlv.core");
    let init = dir.path().join("dump.init");
    std::fs::write(&init, format!("dump {}\n", core.display()))?;
    let mut child = Command::new(dlv)
        .args(["attach", &pid.to_string(), "--allow-non-terminal-interactive=true", "--init"])
        .arg(&init)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running dlv attach")?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("piped");
        // "exit" then "n" to "Would you like to kill the process?".
        let _ = stdin.write_all(b"exit\nn\n");
    }
    let out = child.wait_with_output()?;
    if !core.is_file() {
        bail!(
            "dlv dump of {pid} wrote no core: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(MadeCore { core, stderr: String::new(), dir })
}

/// The wine loader for 64-bit Windows programs (Debian puts it outside PATH).
pub fn wine64() -> Option<PathBuf> {
    crate::tools::find("wine64").or_else(|| {
        let p = PathBuf::from("/usr/lib/wine/wine64");
        p.is_file().then_some(p)
    })
}

fn wine_command(wine: &Path) -> Command {
    let mut cmd = Command::new(wine);
    // One prefix for every test run: making one takes seconds.
    let prefix = crate::cache_dir().join("wineprefix");
    cmd.env("WINEPREFIX", prefix).env("WINEDEBUG", "-all");
    cmd
}

/// `Z:\...`: how a Windows program under wine names a path of this machine.
fn wine_path(p: &Path) -> String {
    format!("Z:{}", p.display()).replace('/', "\\")
}

/// A full-memory Windows minidump of a Go fixture, written by dbghelp's
/// `MiniDumpWriteDump` (through our `windump` helper) while both run under
/// wine. The fixture runs in mode `wait-then-crash`: once dumped it is
/// released and crashes, printing every goroutine (`GOTRACEBACK=all`; a
/// Windows crash under `crash` would start wine's debugger), the oracle.
pub fn wine_minidump(wine: &Path, fixture_exe: &Path, windump_exe: &Path) -> Result<MadeCore> {
    let dir = workdir()?;
    let mut child = wine_command(wine)
        .arg(fixture_exe)
        .arg("wait-then-crash")
        .env("GOTRACEBACK", "all")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the fixture under wine")?;
    let (stderr_thread, rx) = watch_output(&mut child);
    let result = (|| {
        let winpid = rx
            .recv_timeout(Duration::from_secs(120))
            .map_err(|_| anyhow!("{} under wine never printed \"ready PID\"", fixture_exe.display()))?;
        let core = dir.path().join("fixture.dmp");
        let out = wine_command(wine)
            .arg(windump_exe)
            .arg(&winpid)
            .arg(wine_path(&core))
            .stdin(Stdio::null())
            .output()
            .context("running windump under wine")?;
        if !out.status.success() || !core.is_file() {
            bail!(
                "windump {winpid} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(core)
    })();
    drop(child.stdin.take()); // release the fixture: it crashes and prints its goroutines
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.wait();
    let stderr = stderr_thread.join().unwrap_or_default();
    Ok(MadeCore { core: result?, stderr, dir })
}

/// A Linux minidump of a live process written by the `minidump-writer` crate
/// (Breakpad's format, as Firefox and Sentry write it). It stops the process
/// with SIGSTOP + PTRACE_ATTACH and resumes it afterwards. Its own choice of
/// memory (thread stacks, a little around each pc) holds no Go heap, so every
/// writable mapping is added as app memory: the g structs and allgs live there.
pub fn minidump_writer_dump(pid: u32) -> Result<MadeCore> {
    use minidump_writer::{app_memory::AppMemory, minidump_writer::MinidumpWriterConfig};

    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps"))
        .with_context(|| format!("reading /proc/{pid}/maps"))?;
    let mut app = Vec::new();
    for line in maps.lines() {
        let mut f = line.split_whitespace();
        let (Some(range), Some(perms)) = (f.next(), f.next()) else { continue };
        let path = f.nth(3).unwrap_or("");
        if !perms.starts_with("rw") || path.starts_with("[v") {
            continue;
        }
        let Some((a, b)) = range.split_once('-') else { continue };
        let (a, b) = (usize::from_str_radix(a, 16)?, usize::from_str_radix(b, 16)?);
        app.push(AppMemory { ptr: a, length: b - a });
    }
    let dir = workdir()?;
    let core = dir.path().join("writer.dmp");
    let mut file = std::fs::File::create(&core)?;
    let mut cfg = MinidumpWriterConfig::new(pid as i32, pid as i32);
    cfg.set_app_memory(app);
    cfg.write(&mut file)
        .map_err(|e| anyhow!("minidump-writer on pid {pid}: {e}"))?;
    Ok(MadeCore { core, stderr: String::new(), dir })
}
