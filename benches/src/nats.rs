//! The "nats" workload (docs/COMPATIBILITY.md, "A real server under
//! SIGQUIT"): nats-server built from the module proxy, run with
//! `GOTRACEBACK=crash` under load from benches/natsload, and sent SIGQUIT
//! by tgkill on a random one of its threads, so that the signal often
//! lands on a running goroutine. Each core's `--stacks` is compared with
//! the runtime's traceback goroutine by goroutine, `--info` must name the
//! SIGQUIT, and idle snapshots of the same server must share one triage
//! signature; `--leaks` (which must find no leaked goroutine on a working
//! server) and `--retained` are timed on each core. Not in the CI
//! suite: it fetches and builds a server and runs for minutes.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tests::compare::{self, Rules};
use tests::traceback::{self, Traceback};

use crate::Args;

const SERVER: &str = "github.com/nats-io/nats-server/v2";
const SERVER_VERSION: &str = "v2.15.2";
/// Publishing connections of the load generator.
const CONNS: &str = "200";

/// nats-server and natsload, built once into target/bench-nats.
fn build(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let server = dir.join("nats-server");
    if !server.exists() {
        let st = Command::new("go")
            .args(["install", &format!("{SERVER}@{SERVER_VERSION}")])
            .env("GOBIN", dir)
            .status()
            .context("running go install for nats-server")?;
        if !st.success() {
            bail!("go install {SERVER}@{SERVER_VERSION} failed");
        }
    }
    let load = dir.join("natsload");
    let st = Command::new("go")
        .current_dir(tests::workspace_root().join("benches/natsload"))
        .args(["build", "-o"])
        .arg(&load)
        .arg(".")
        .status()
        .context("building benches/natsload")?;
    if !st.success() {
        bail!("building benches/natsload failed");
    }
    Ok((server, load))
}

/// A free TCP port on the loopback.
fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn threads_of(pid: u32) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// The threads of `pid` the kernel has running or runnable now (state R in
/// /proc/PID/task/TID/stat): a signal sent to one most likely interrupts a
/// goroutine rather than an M parked in futex.
fn running_threads(pid: u32) -> Vec<i32> {
    threads_of(pid)
        .into_iter()
        .filter(|tid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).unwrap_or_default();
            // The state follows the parenthesised command name.
            stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('R'))
        })
        .collect()
}

/// A pseudo-random index below `n`, from the clock: which thread gets the
/// signal needs no better randomness.
fn pick(n: usize) -> usize {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    (nanos as usize / 1000) % n.max(1)
}

/// One SIGQUIT-made core of the server: its directory, the runtime's
/// traceback (stderr) and the thread that was signalled.
struct Run {
    dir: tempfile::TempDir,
    stderr: String,
    tid: i32,
}

impl Run {
    fn core(&self) -> Option<PathBuf> {
        std::fs::read_dir(self.dir.path()).ok()?.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n == "core" || n.starts_with("core."))
        })
    }
}

/// Start the server, optionally put it under load, SIGQUIT one of its
/// threads (`random_thread`) or the process, and wait for its core.
fn sigquit_run(server: &Path, load: Option<&Path>, random_thread: bool) -> Result<Run> {
    let dir = tempfile::tempdir()?;
    let port = free_port()?;
    let mut child = Command::new("sh")
        .current_dir(dir.path())
        .args(["-c", "ulimit -c unlimited; exec \"$@\"", "sh"])
        .arg(server)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .env("GOTRACEBACK", "crash")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting nats-server")?;
    let mut err_pipe = child.stderr.take().context("no stderr pipe")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    let pid = child.id();
    let up = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if up.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            bail!("nats-server did not listen on {port} in 30 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut loader = match load {
        Some(l) => Some(start_load(l, port).inspect_err(|_| {
            let _ = child.kill();
        })?),
        None => None,
    };
    // Let the load reach a steady state (or the idle server settle).
    std::thread::sleep(Duration::from_secs(2));
    let running = running_threads(pid);
    let tids = if running.is_empty() { threads_of(pid) } else { running };
    let tid = match tids.get(pick(tids.len())) {
        Some(t) if random_thread => *t,
        _ => pid as i32,
    };
    // SAFETY: tgkill with integer arguments only; a gone thread gives ESRCH.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid as libc::c_long, tid as libc::c_long, libc::SIGQUIT as libc::c_long) };
    let status = wait_timeout(&mut child, Duration::from_secs(120));
    if let Some(l) = loader.as_mut() {
        let _ = l.kill();
        let _ = l.wait();
    }
    if rc != 0 {
        let _ = child.kill();
        bail!("tgkill({pid}, {tid}, SIGQUIT) failed");
    }
    status.context("nats-server did not die of the SIGQUIT in 120 s")?;
    let stderr = reader.join().unwrap_or_default();
    Ok(Run { dir, stderr, tid })
}

fn start_load(load: &Path, port: u16) -> Result<Child> {
    let mut l = Command::new(load)
        .args([&format!("nats://127.0.0.1:{port}"), CONNS])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("starting natsload")?;
    let out = l.stdout.take().context("no stdout pipe")?;
    let mut lines = BufReader::new(out).lines();
    match lines.next() {
        Some(Ok(line)) if line == "ready" => Ok(l),
        other => {
            let _ = l.kill();
            bail!("natsload did not get ready: {other:?}")
        }
    }
}

fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn goanalyze(core: &Path, exe: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new(tests::bins::goanalyze()).arg(core).arg("--exe").arg(exe).args(args).output()?;
    if !out.status.success() {
        bail!("goanalyze {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// As in tests/tests/signals.rs: each M printed the goroutine it ran in
/// full, the first M's list shows those without a stack; the walked copy
/// goes first so that comparisons use it.
fn oracle(stderr: &str) -> Traceback {
    let mut tb = traceback::parse(stderr);
    tb.goroutines.sort_by_key(|g| g.frames.is_empty());
    tb
}

/// The goroutine count of each view: --stacks (already parsed), the
/// lines of --goroutines, and the triage record's goroutine_count.
fn view_counts(core: &Path, exe: &Path, stacks: usize) -> Result<[usize; 3]> {
    let list = goanalyze(core, exe, &["--goroutines"])?;
    // The current goroutine's line starts with "* " (as in Delve).
    let listed = list.lines().filter(|l| l.trim_start_matches(['*', ' ']).starts_with("Goroutine ")).count();
    let json = goanalyze(core, exe, &["--triage", "--format", "json"])?;
    let triaged = json
        .split("\"goroutine_count\":")
        .nth(1)
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next()?.parse().ok())
        .context("no goroutine_count in the triage record")?;
    Ok([stacks, listed, triaged])
}

fn signature(core: &Path, exe: &Path) -> Result<String> {
    let json = goanalyze(core, exe, &["--triage", "--format", "json"])?;
    // The field is a plain string of hex digits; no JSON parser needed here.
    let at = json.find("\"signature\":").context("no signature in the triage record")?;
    let rest = &json[at + "\"signature\":".len()..];
    Ok(rest.trim_start().split([',', '}']).next().unwrap_or("").trim().trim_matches('"').to_string())
}

pub fn run(args: &Args) -> Result<()> {
    let dir = tests::workspace_root().join("target/bench-nats");
    let (server, load) = build(&dir)?;
    let runs = if args.smoke { 1 } else { args.nats_runs };
    println!("\n### nats-server {SERVER_VERSION} under load ({CONNS} publishing connections), SIGQUIT by tgkill on a random thread\n");
    println!("| run | thread | signalled goroutine | goroutines compared | differences | --stacks / --goroutines / triage count | --info | signature | leaked | --leaks | --retained --top 5 |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    let (mut compared, mut agreeing, mut on_running, mut running_agree) = (0, 0, 0, 0);
    let (mut netpoll_readied, mut count_mismatch, mut leaked_total) = (0, 0, 0);
    let mut all_diffs = Vec::new();
    for i in 1..=runs {
        let run = sigquit_run(&server, Some(&load), true)?;
        let core = run.core().with_context(|| format!("run {i}: no core; stderr:\n{}", run.stderr))?;
        let runtime = oracle(&run.stderr);
        let first = traceback::parse(&run.stderr).goroutines.first().cloned().unwrap_or_default();
        let ours = traceback::parse(&goanalyze(&core, &server, &["--stacks"])?);
        let diffs = compare::stacks(&runtime, &ours, &Rules::default());
        let n = runtime.unique().len();
        let bad: BTreeSet<&str> = diffs.iter().filter_map(|d| d.split(':').next()).collect();
        // A goroutine whose only difference is "IO wait" in the runtime's
        // list and "runnable" in the core was readied by the netpoller of
        // an M that ran on until its own SIGQUIT came, after the first M
        // had printed the list: the oracle is older than the core there.
        let readied: BTreeSet<&str> = bad
            .iter()
            .copied()
            .filter(|g| {
                diffs.iter().filter(|d| d.split(':').next() == Some(*g)).all(|d| d.ends_with("status: runtime \"IO wait\", ours \"runnable\""))
            })
            .collect();
        compared += n;
        agreeing += n.saturating_sub(bad.len());
        netpoll_readied += readied.len();
        let counts = view_counts(&core, &server, ours.goroutines.len())?;
        if counts.iter().any(|c| *c != counts[0]) {
            count_mismatch += 1;
        }
        let running = first.status == "running" && first.id != 0;
        let sig_ok = !bad.contains(format!("goroutine {}", first.id).as_str());
        if running {
            on_running += 1;
            running_agree += usize::from(sig_ok);
        }
        let info = goanalyze(&core, &server, &["--info"])?;
        let info_ok = info.lines().any(|l| l.starts_with("original:") && l.contains("(SIGQUIT)"));
        let sig = signature(&core, &server)?;
        // A server's goroutines wait on the network and on channels that
        // live objects hold: --leaks must find none of them leaked.
        let t = Instant::now();
        let leaks = goanalyze(&core, &server, &["--leaks"])?;
        let leaks_secs = t.elapsed().as_secs_f64();
        let leaked: usize = leaks.split_whitespace().next().and_then(|n| n.parse().ok()).context("no leak count in --leaks")?;
        leaked_total += leaked;
        let t = Instant::now();
        goanalyze(&core, &server, &["--retained", "--top", "5"])?;
        let retained_secs = t.elapsed().as_secs_f64();
        let top = first.frames.first().map(|f| f.func.as_str()).unwrap_or("-");
        println!(
            "| {i} | {} | goroutine {} [{}] {top} | {n} | {} | {} | {} | {sig} | {leaked} | {leaks_secs:.2} s | {retained_secs:.2} s |",
            run.tid,
            first.id,
            first.status,
            diffs.len(),
            counts.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" / "),
            if info_ok { "SIGQUIT" } else { "not named" }
        );
        all_diffs.extend(diffs.into_iter().map(|d| format!("run {i}: {d}")));
    }
    println!(
        "\n{runs} runs, {compared} goroutines compared, {agreeing} agree, {netpoll_readied} differ only by IO wait -> runnable (readied after the runtime printed); \
         the signal hit a running goroutine in {on_running} runs, {running_agree} of them agree; \
         views disagreeing on the goroutine count in {count_mismatch} runs; goroutines --leaks called leaked: {leaked_total}"
    );
    for d in all_diffs.iter().take(40) {
        println!("    {d}");
    }

    let idle = if args.smoke { 2 } else { 5 };
    let mut sigs = BTreeSet::new();
    for _ in 0..idle {
        let run = sigquit_run(&server, None, false)?;
        let core = run.core().with_context(|| format!("idle run: no core; stderr:\n{}", run.stderr))?;
        sigs.insert(signature(&core, &server)?);
    }
    println!("\n{idle} idle snapshots (SIGQUIT to the process, no load): {} distinct signature(s): {sigs:?}", sigs.len());
    Ok(())
}
