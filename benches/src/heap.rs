//! `--only heap`: the heap of 11 million objects (issue 18), `goanalyze
//! --heap` (and `--retained`, issue 19) against viewcore's `histogram` and
//! goref's `grf core`, neither of
//! which the module proxy serves: build them from their public sources and
//! name them with `VIEWCORE=/path` and `GOREF=/path` (else `viewcore` and
//! `grf` on PATH; a missing peer is left out of the table).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use tests::fixture::Build;
use tests::producers;

use crate::measure::{argv, secs};
use crate::Args;

/// One command's runs: wall, user CPU, peak RSS (KiB).
struct Runs(Vec<(Duration, Duration, u64)>);

impl Runs {
    fn median(&self) -> (Duration, Duration, u64) {
        let mut w: Vec<_> = self.0.iter().map(|r| r.0).collect();
        let mut u: Vec<_> = self.0.iter().map(|r| r.1).collect();
        let mut m: Vec<_> = self.0.iter().map(|r| r.2).collect();
        w.sort();
        u.sort();
        m.sort();
        let i = self.0.len() / 2;
        (w[i], u[i], m[i])
    }
}

/// Run once through GNU time, which reports its child's user CPU and peak
/// RSS (our own children's would start from the harness's peak RSS).
fn run(argv: &[OsString], cwd: &std::path::Path) -> Result<(Duration, Duration, u64)> {
    let out = tempfile::NamedTempFile::new()?;
    let start = Instant::now();
    let st = Command::new("/usr/bin/time")
        .args(["-f", "%U %M", "-o"])
        .arg(out.path())
        .args(argv)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("starting /usr/bin/time (GNU time)")?;
    let wall = start.elapsed();
    if !st.success() {
        bail!("{:?} failed: {st}", argv);
    }
    let text = std::fs::read_to_string(out.path())?;
    let line = text.lines().last().unwrap_or("");
    let mut f = line.split_whitespace();
    let user: f64 = f.next().context("GNU time's %U")?.parse()?;
    let kib: u64 = f.next().context("GNU time's %M")?.parse()?;
    Ok((wall, Duration::from_secs_f64(user), kib))
}

fn measure(argv: &[OsString], cwd: &std::path::Path, runs: usize) -> Result<Runs> {
    run(argv, cwd)?;
    (0..runs.max(1)).map(|_| run(argv, cwd)).collect::<Result<Vec<_>>>().map(Runs)
}

fn peer(env: &str, name: &str) -> Option<PathBuf> {
    std::env::var_os(env).map(PathBuf::from).filter(|p| p.is_file()).or_else(|| tests::tools::find(name))
}

pub fn run_heap(args: &Args) -> Result<()> {
    let fx = Build::new("heapobjs").build()?;
    let made = producers::kernel_core(&fx.exe, if args.smoke { &[] } else { &["bench"] })?;
    let size = std::fs::metadata(&made.core)?.len();
    println!(
        "\nworkload: kernel core of `heapobjs{}` ({}, {:.0} MB core); load average before: {}",
        if args.smoke { "" } else { " bench" },
        fx.go_version,
        size as f64 / 1e6,
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!("\n### the heap by type\n");
    println!("| tool | wall | user CPU | peak RSS |");
    println!("|---|---|---|---|");
    let dir = made.dir.path();
    let (exe, core) = (fx.exe.as_os_str(), made.core.as_os_str());
    let ga = tests::bins::goanalyze();
    let mut rows: Vec<(&str, Vec<OsString>)> =
        vec![("`goanalyze CORE --heap`", argv([ga.as_os_str(), core, "--exe".as_ref(), exe, "--heap".as_ref()]))];
    // Issue 19: the graph, dominators and top retainers (against goref's walk).
    rows.push((
        "`goanalyze CORE --retained --top 5`",
        argv([ga.as_os_str(), core, "--exe".as_ref(), exe, "--retained".as_ref(), "--top".as_ref(), "5".as_ref()]),
    ));
    if let Some(v) = peer("VIEWCORE", "viewcore") {
        rows.push(("`viewcore CORE histogram`", argv([v.as_os_str(), core, "--exe".as_ref(), exe, "histogram".as_ref()])));
    }
    if let Some(g) = peer("GOREF", "grf") {
        let out = dir.join("grf.out");
        rows.push(("`grf core EXE CORE`", argv([g.as_os_str(), "core".as_ref(), exe, core, "-o".as_ref(), out.as_os_str()])));
    }
    for (what, a) in rows {
        let (w, u, m) = measure(&a, dir, args.runs)?.median();
        println!("| {what} | {} | {} | {:.0} MB |", secs(w), secs(u), m as f64 * 1024.0 / 1e6);
    }
    println!("\nload average after: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    Ok(())
}
