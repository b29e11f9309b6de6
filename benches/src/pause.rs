//! Workload 5: the pause a dump causes, measured from inside the target.
//!
//! testdata/live/snapshot runs with a heap of N MiB ("paced": its writer
//! stamps every page once a millisecond) and a heartbeat goroutine that
//! records its longest gap between 200 µs sleeps. Before each dump the
//! longest gap is cleared; after it, read: that is the pause the program
//! saw (which includes the time to stop its threads, which godump's own
//! "stopped for" leaves out). Tools: godump (clone, the default), godump
//! --stop, gdb's gcore, Delve's `dlv attach` + `dump`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use tests::producers;

use crate::measure::secs;

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}
use crate::Args;

struct Target {
    child: Child,
    stdin: ChildStdin,
    out: BufReader<ChildStdout>,
}

impl Target {
    fn start(exe: &Path, mib: &str) -> Result<Target> {
        let mut child = Command::new(exe).args([mib, "paced"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn()?;
        let stdin = child.stdin.take().context("stdin")?;
        let mut out = BufReader::new(child.stdout.take().context("stdout")?);
        let mut line = String::new();
        out.read_line(&mut line)?;
        ensure!(line.starts_with("ready"), "the snapshot fixture said {line:?}");
        Ok(Target { child, stdin, out })
    }
    fn ask(&mut self, cmd: &str) -> Result<String> {
        writeln!(self.stdin, "{cmd}")?;
        self.stdin.flush()?;
        let mut line = String::new();
        self.out.read_line(&mut line)?;
        Ok(line)
    }
    /// The longest heartbeat gap since the last reset; SIGCHLDs seen.
    fn gap(&mut self) -> Result<(Duration, u64)> {
        let l = self.ask("stats")?;
        let w: Vec<&str> = l.split_whitespace().collect();
        ensure!(w.len() == 4 && w[0] == "stats", "stats: {l:?}");
        Ok((Duration::from_nanos(w[2].parse()?), w[1].parse()?))
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn build_fixture(dir: &Path) -> Result<PathBuf> {
    let exe = dir.join("snapshot");
    let src = tests::workspace_root().join("testdata/live");
    let out = Command::new("go").args(["build", "-o"]).arg(&exe).arg("./snapshot").current_dir(src).output()?;
    if !out.status.success() {
        bail!("go build snapshot: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(exe)
}

/// One tool's runs: (pause seen inside, wall, godump's own "stopped for").
type Run = (Duration, Duration, Option<f64>);

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn run(args: &Args) -> Result<()> {
    let sizes: &[&str] = if args.smoke { &["32"] } else { &["1024", "4096"] };
    let dir = tempfile::Builder::new().prefix("bench-pause").tempdir()?;
    let exe = build_fixture(dir.path())?;
    let gd = tests::bins::godump();
    let gcore = tests::tools::find("gcore");
    let dlv = tests::tools::find("dlv");
    for mib in sizes {
        let mut t = Target::start(&exe, mib)?;
        let pid = t.child.id();
        // Let the heap settle (and the heartbeat's first gaps pass).
        std::thread::sleep(Duration::from_secs(1));
        println!("\nworkload: live `snapshot {mib} paced`, pid {pid}");
        println!("\n### the pause a dump causes, seen from inside a process with {mib} MiB of heap\n");
        println!("| tool | longest heartbeat gap (median) | min..max | wall (median) | stopped, as godump reports it |");
        println!("|---|---|---|---|---|");
        let core = dir.path().join("out.core");
        let mut tools: Vec<(&str, Box<dyn Fn() -> Result<Option<f64>>>)> = Vec::new();
        for (name, extra) in [("godump create (clone)", None), ("godump create --stop", Some("--stop"))] {
            let (gd, core) = (gd.clone(), core.clone());
            tools.push((
                name,
                Box::new(move || {
                    let mut c = Command::new(&gd);
                    c.args(["create", "--quiet"]);
                    if let Some(x) = extra {
                        c.arg(x);
                    }
                    let o = c.arg(pid.to_string()).arg(&core).stdin(Stdio::null()).output()?;
                    let err = String::from_utf8_lossy(&o.stderr);
                    ensure!(o.status.success(), "godump: {err}");
                    ensure!(extra.is_some() || err.contains("copy-on-write clone"), "no clone: {err}");
                    std::fs::remove_file(&core)?;
                    Ok(err.split("stopped for ").nth(1).and_then(|s| s.split('s').next()).and_then(|s| s.parse().ok()))
                }),
            ));
        }
        if let Some(g) = gcore.clone() {
            let prefix = dir.path().join("gcore");
            tools.push((
                "gdb gcore",
                Box::new(move || {
                    let o = Command::new(&g).arg("-o").arg(&prefix).arg(pid.to_string()).stdin(Stdio::null()).output()?;
                    ensure!(o.status.success(), "gcore: {}", String::from_utf8_lossy(&o.stderr));
                    std::fs::remove_file(format!("{}.{pid}", prefix.display()))?;
                    Ok(None)
                }),
            ));
        }
        if let Some(d) = dlv.clone() {
            tools.push((
                "dlv attach + dump",
                Box::new(move || {
                    let made = producers::dlv_dump(&d, pid)?;
                    drop(made);
                    Ok(None)
                }),
            ));
        }
        for (name, f) in &tools {
            let mut runs: Vec<Run> = Vec::new();
            for i in 0..=args.runs {
                t.ask("reset")?;
                let t0 = Instant::now();
                let stopped = f()?;
                let wall = t0.elapsed();
                // The heartbeat has to tick once after the pause to see it.
                std::thread::sleep(Duration::from_millis(20));
                let (gap, sigchld) = t.gap()?;
                ensure!(sigchld == 0 || !name.starts_with("godump"), "{name}: the target got SIGCHLD");
                if i > 0 {
                    runs.push((gap, wall, stopped));
                }
            }
            let gaps: Vec<Duration> = runs.iter().map(|r| r.0).collect();
            let (lo, hi) = (gaps.iter().min().copied().unwrap_or_default(), gaps.iter().max().copied().unwrap_or_default());
            let mut st: Vec<f64> = runs.iter().filter_map(|r| r.2).collect();
            st.sort_by(f64::total_cmp);
            println!(
                "| {name} | {} | {}..{} | {} | {} |",
                ms(median(gaps)),
                ms(lo),
                ms(hi),
                secs(median(runs.iter().map(|r| r.1).collect())),
                st.get(st.len() / 2).map(|s| format!("{s:.3} s")).unwrap_or_else(|| "-".into()),
            );
        }
    }
    Ok(())
}
