//! The workloads of docs/BENCHMARKS.md, each printed as a Markdown table.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tests::fixture::Build;
use tests::producers::{self, LiveProcess};

use crate::measure::{argv, measure, run_once, secs, Figures};
use crate::Args;

fn dlv() -> Option<PathBuf> {
    tests::tools::find("dlv")
}

fn header(title: &str, cols: &[&str]) {
    println!("\n### {title}\n");
    println!("| {} |", cols.join(" | "));
    println!("|{}", "---|".repeat(cols.len()));
}

fn row_vs(what: &str, ours: &Figures, peer: Option<&Figures>) {
    let ratio = peer
        .map(|p| format!("{:.1}x", p.wall_median().as_secs_f64() / ours.wall_median().as_secs_f64().max(1e-9)))
        .unwrap_or_else(|| "-".into());
    let rss_ratio = peer
        .map(|p| format!("{:.2}", ours.rss_median_mib() / p.rss_median_mib().max(1e-9)))
        .unwrap_or_else(|| "-".into());
    println!(
        "| {what} | {} | {} | {ratio} | {:.0} MiB | {} | {rss_ratio} |",
        secs(ours.wall_median()),
        peer.map(|p| secs(p.wall_median())).unwrap_or_else(|| "-".into()),
        ours.rss_median_mib(),
        peer.map(|p| format!("{:.0} MiB", p.rss_median_mib())).unwrap_or_else(|| "-".into()),
    );
}

/// The big core: `many` with 100,000 goroutines and a 2 GiB heap (smoke:
/// 2,000 and 16 MiB), crashed under the kernel.
fn big_core(args: &Args) -> Result<(PathBuf, producers::MadeCore)> {
    let (n, heap) = if args.smoke { ("2000", "16") } else { ("100000", "2048") };
    let fx = Build::new("many").build()?;
    let made = producers::kernel_core(&fx.exe, &[n, "crash", heap])?;
    let size = std::fs::metadata(&made.core)?.len();
    println!(
        "\nworkload: kernel core of `many {n} crash {heap}` ({}, {:.2} GiB core)",
        fx.go_version,
        size as f64 / (1u64 << 30) as f64
    );
    Ok((fx.exe, made))
}

fn dlv_script(dir: &Path, name: &str, body: &str) -> Result<PathBuf> {
    let p = dir.join(name);
    std::fs::write(&p, body)?;
    Ok(p)
}

/// Workload 1: listing and unwinding every goroutine, against `dlv core`.
pub fn analyze(args: &Args) -> Result<()> {
    let (exe, made) = big_core(args)?;
    let core = made.core.as_os_str();
    let ga = tests::bins::goanalyze();
    header(
        "goanalyze vs dlv core",
        &["task", "goanalyze", "dlv", "dlv / goanalyze", "goanalyze RSS", "dlv RSS", "RSS ratio"],
    );
    let dlv = dlv();
    let peer = |script: &str, name: &str| -> Result<Option<Figures>> {
        let Some(dlv) = &dlv else { return Ok(None) };
        let s = dlv_script(made.dir.path(), name, script)?;
        let a = argv([dlv.as_os_str(), "core".as_ref(), exe.as_os_str(), core, "--init".as_ref(), s.as_os_str(), "--allow-non-terminal-interactive=true".as_ref()]);
        Ok(Some(measure(&a, args.runs)?))
    };
    let ours = measure(&argv([ga.as_os_str(), core, "--exe".as_ref(), exe.as_os_str(), "--goroutines".as_ref()]), args.runs)?;
    row_vs("list goroutines (`--goroutines` / `goroutines`)", &ours, peer("goroutines\nexit\n", "g.init")?.as_ref());
    let ours = measure(&argv([ga.as_os_str(), core, "--exe".as_ref(), exe.as_os_str(), "--stacks".as_ref()]), args.runs)?;
    row_vs("every stack (`--stacks` / `goroutines -t`)", &ours, peer("goroutines -t\nexit\n", "gt.init")?.as_ref());
    // Ours only: Delve has no triage, and its JSON is per request (API).
    let ga_args = |extra: &[&str]| {
        let mut v = vec![ga.clone().into_os_string(), core.to_owned(), "--exe".into(), exe.clone().into_os_string()];
        v.extend(extra.iter().map(OsString::from));
        v
    };
    let ours = measure(&ga_args(&["--stacks", "--format", "json"]), args.runs)?;
    row_vs("every stack as JSON (`--stacks --format json`)", &ours, None);
    let ours = measure(&ga_args(&["--triage", "--format", "json"]), args.runs)?;
    row_vs("triage (`--triage --format json`)", &ours, None);
    if dlv.is_none() {
        println!("\n(dlv not installed: no peer figures)");
    }
    Ok(())
}

/// Workload 4: the cost of opening a big core (`--info`).
pub fn info(args: &Args) -> Result<()> {
    let (exe, made) = big_core(args)?;
    let ga = tests::bins::goanalyze();
    header("opening a core", &["task", "goanalyze", "-", "-", "goanalyze RSS", "-", "-"]);
    let f = measure(&argv([ga.as_os_str(), made.core.as_os_str(), "--exe".as_ref(), exe.as_os_str(), "--info".as_ref()]), args.runs)?;
    row_vs("`--info`", &f, None);
    Ok(())
}

struct DumpRun {
    wall: Duration,
    disk: u64,
}

fn dump_runs(runs: usize, dir: &Path, mut one: impl FnMut(&Path) -> Result<PathBuf>) -> Result<Vec<DumpRun>> {
    let mut v = Vec::new();
    for i in 0..=runs {
        let out = dir.join(format!("out{i}"));
        let t = Instant::now();
        let file = one(&out)?;
        let wall = t.elapsed();
        let disk = std::fs::metadata(&file)?.blocks() * 512;
        std::fs::remove_file(&file)?;
        if i > 0 {
            v.push(DumpRun { wall, disk }); // the first run is the warm-up
        }
    }
    Ok(v)
}

/// The seconds in godump's "pid N was stopped for 1.234s".
fn stopped_for(stderr: &str) -> Option<f64> {
    let rest = stderr.split("stopped for ").nth(1)?;
    rest.split('s').next()?.trim().parse().ok()
}

fn median_run(v: &[DumpRun]) -> (Duration, u64) {
    let mut w: Vec<Duration> = v.iter().map(|r| r.wall).collect();
    w.sort();
    let mut d: Vec<u64> = v.iter().map(|r| r.disk).collect();
    d.sort();
    (w[w.len() / 2], d[d.len() / 2])
}

/// Workload 2: `godump create` vs `gcore` and `dlv dump` on live heaps.
pub fn dump(args: &Args) -> Result<()> {
    let sizes: &[&str] = if args.smoke { &["32"] } else { &["1024", "4096"] };
    let gd = tests::bins::godump();
    let fx = Build::new("heap").build()?;
    for mib in sizes {
        let live = LiveProcess::start(&fx.exe, &[mib, "wait"])?;
        let dir = tempfile::Builder::new().prefix("bench-dump").tempdir()?;
        println!("\nworkload: live `heap {mib} wait` ({}), pid {}", fx.go_version, live.pid);
        header(
            &format!("dumping a live process with {mib} MiB of heap"),
            &["tool", "wall (median)", "wall / godump's", "on disk"],
        );
        let pid = live.pid.to_string();
        // godump says how long it kept the target stopped; keep each run's figure.
        let mut stops: Vec<f64> = Vec::new();
        let ours = dump_runs(args.runs, dir.path(), |out| {
            let o = Command::new(&gd).args(["create", "--quiet", &pid]).arg(out).stdin(std::process::Stdio::null()).output()?;
            anyhow::ensure!(o.status.success(), "godump create failed: {}", String::from_utf8_lossy(&o.stderr));
            if let Some(s) = stopped_for(&String::from_utf8_lossy(&o.stderr)) {
                stops.push(s);
            }
            Ok(out.to_path_buf())
        })?;
        if stops.len() > args.runs {
            stops.remove(0); // the warm-up's
        }
        let (ow, od) = median_run(&ours);
        println!("| godump create | {} | 1.00 | {:.0} MiB |", secs(ow), od as f64 / 1048576.0);
        if let Some(gcore) = tests::tools::find("gcore") {
            let g = dump_runs(args.runs, dir.path(), |out| {
                let st = Command::new(&gcore).arg("-o").arg(out).arg(&pid).output()?;
                anyhow::ensure!(st.status.success(), "gcore failed");
                Ok(PathBuf::from(format!("{}.{pid}", out.display())))
            })?;
            let (gw, gdk) = median_run(&g);
            println!("| gdb gcore | {} | {:.2} | {:.0} MiB |", secs(gw), gw.as_secs_f64() / ow.as_secs_f64(), gdk as f64 / 1048576.0);
        }
        if let Some(dlv) = dlv() {
            let d = dump_runs(args.runs, dir.path(), |_out| {
                let made = producers::dlv_dump(&dlv, live.pid)?;
                let keep = dir.path().join("dlv.core");
                std::fs::rename(&made.core, &keep).context("moving dlv's core")?;
                Ok(keep)
            })?;
            let (dw, ddk) = median_run(&d);
            println!("| dlv attach + dump | {} | {:.2} | {:.0} MiB |", secs(dw), dw.as_secs_f64() / ow.as_secs_f64(), ddk as f64 / 1048576.0);
        }
        // The disk's own pace for as many bytes as godump wrote.
        let src = dir.path().join("dd-src");
        let _ = run_once(&argv([gd.as_os_str(), "create".as_ref(), "--quiet".as_ref(), pid.as_ref(), src.as_os_str()]), true)?;
        let dd = dump_runs(args.runs, dir.path(), |out| {
            let of: OsString = format!("of={}", out.display()).into();
            let ifa: OsString = format!("if={}", src.display()).into();
            run_once(&argv([OsString::from("dd"), ifa, of, "bs=1M".into()]), true)?;
            Ok(out.to_path_buf())
        })?;
        let (ddw, _) = median_run(&dd);
        println!("| dd of godump's core (the disk's pace) | {} | {:.2} | - |", secs(ddw), ddw.as_secs_f64() / ow.as_secs_f64());
        stops.sort_by(f64::total_cmp);
        if let Some(m) = stops.get(stops.len() / 2) {
            println!(
                "\ngodump kept the target stopped for {m:.3} s (median of its own reports; min {:.3} s, max {:.3} s)",
                stops[0],
                stops[stops.len() - 1]
            );
        }
        drop(live);
    }
    Ok(())
}

/// Workload 3: triage of many cores, in parallel vs one at a time.
pub fn triage(args: &Args) -> Result<()> {
    let ga = tests::bins::goanalyze();
    let n = if args.smoke { 4 } else { 50 };
    // Real crashes of several kinds, repeated to make up the batch.
    let kinds: [(&str, &[&str]); 4] = [("panic", &[]), ("nilderef", &[]), ("zoo", &["crash"]), ("many", &["2000", "crash"])];
    let dir = tempfile::Builder::new().prefix("bench-triage").tempdir()?;
    let mut cores = Vec::new();
    for i in 0..n {
        let (name, a) = kinds[i % kinds.len()];
        let fx = Build::new(name).build()?;
        let made = producers::kernel_core(&fx.exe, a)?;
        let dst = dir.path().join(format!("{i:02}-{name}.core"));
        std::fs::rename(&made.core, &dst).or_else(|_| std::fs::copy(&made.core, &dst).map(|_| ()))?;
        cores.push(dst);
    }
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!("\nworkload: {n} kernel cores of panic, nilderef, zoo and many (2,000 goroutines), {cpus} CPUs");
    header("triage of a batch", &["jobs", "wall (median)", "cores per second", "speed-up over 1 job"]);
    let mut base = None;
    let mut jobs: Vec<usize> = vec![1, cpus];
    jobs.dedup();
    for j in jobs {
        let mut a: Vec<OsString> = vec![ga.clone().into()];
        a.extend(cores.iter().map(|c| c.clone().into_os_string()));
        a.extend(argv(["--triage", "--format", "json", "--jobs", &j.to_string()]));
        let f = measure(&a, args.runs)?;
        let w = f.wall_median().as_secs_f64();
        let b = *base.get_or_insert(w);
        println!("| {j} | {} | {:.1} | {:.2}x |", secs(f.wall_median()), n as f64 / w, b / w);
    }
    Ok(())
}
