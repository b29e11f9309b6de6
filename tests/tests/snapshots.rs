//! Cores that are snapshots of a live, hung process rather than crashes
//! (testdata/go/hang): SIGQUIT sent from outside with GOTRACEBACK=crash, and
//! gcore. Triage must call them snapshots and give every snapshot of one
//! hang one signature, whichever thread the signal landed on; a different
//! hang gets another, a crash keeps its crash signature. Every view counts
//! the same goroutines (system ones included by default, and with
//! `--system=false` says how many it hid). `--threads` shows what each
//! thread was doing when its handler started. A stripped build's clock
//! (`now`) is a timestamp or "unavailable", never 0, and its wait minutes
//! agree with the runtime's.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tests::compare::{self, Rules};
use tests::fixture::{Build, Fixture};
use tests::producers::{self, MadeCore};
use tests::require_tools;
use tests::traceback;

fn hang(stripped: bool) -> Fixture {
    let mut b = Build::new("hang");
    if stripped {
        b = b.stripped();
    }
    b.build().unwrap_or_else(|e| panic!("building the hang fixture: {e:#}"))
}

fn goanalyze(core: &Path, exe: &Path, args: &[&str]) -> (String, String) {
    let mut all = vec![core.as_os_str(), "--exe".as_ref(), exe.as_os_str()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(a)));
    let out = tests::bins::run_goanalyze(&all);
    assert!(out.status.success(), "goanalyze {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn record(core: &Path, exe: &Path, extra: &[&str]) -> Value {
    let mut args = vec!["--triage", "--format", "json"];
    args.extend(extra);
    let (out, _) = goanalyze(core, exe, &args);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("triage JSON: {e}\n{out}"))
}

fn quit(fx: &Fixture, mode: &str, settle_ms: u64) -> MadeCore {
    producers::sigquit_core(&fx.exe, &[mode], Duration::from_millis(settle_ms))
        .unwrap_or_else(|e| panic!("SIGQUIT of hang {mode}: {e:#}"))
}

fn sig(r: &Value) -> String {
    r["signature"].as_str().unwrap_or("").to_string()
}

#[test]
fn snapshots_of_one_hang_share_a_signature() {
    require_tools!("go" => "builds the fixture");
    let fx = hang(false);
    // Five snapshots, each after a different pause: the signal lands on
    // whichever thread the kernel picks, at a different moment.
    let cores: Vec<MadeCore> = [50, 200, 400, 700, 1000].iter().map(|ms| quit(&fx, "server", *ms)).collect();
    let recs: Vec<Value> = cores.iter().map(|c| record(&c.core, &fx.exe, &[])).collect();
    let mut rows = Vec::new();
    for (c, r) in cores.iter().zip(&recs) {
        assert_eq!(r["snapshot"], true, "not a snapshot: {r}");
        assert_eq!(r["original_signal"]["name"], "SIGQUIT", "{r}");
        assert_eq!(r["schema_minor"], 2, "{r}");
        assert!(r["leaks"]["blocked"].as_u64().unwrap_or(0) > 0, "hung goroutines blocked on channels and locks, but no leak summary: {r}");
        let input = r["signature_input"].as_str().unwrap_or("");
        assert!(input.contains("kind=snapshot"), "{input}");
        for want in ["blocked=chan receive|main.worker", "blocked=sync.Mutex.Lock|main.locker", "blocked=select|main.selector", "blocked=IO wait|main.handle", "blocked=IO wait|main.acceptLoop"] {
            assert!(input.contains(want), "{want} missing from the signature input:\n{input}");
        }
        let signalled = r["reason"]["crashing_thread"].clone();
        rows.push(format!("{} thread {signalled}: {}", c.core.display(), sig(r)));
    }
    eprintln!("{}", rows.join("\n"));
    let first = sig(&recs[0]);
    assert!(recs.iter().all(|r| sig(r) == first), "snapshots of one hang disagree:\n{}", rows.join("\n"));

    // A stripped build of the same program hangs the same way.
    let stripped = hang(true);
    let s = quit(&stripped, "server", 200);
    let rs = record(&s.core, &stripped.exe, &[]);
    assert_eq!(sig(&rs), first, "stripped:\n{}\nvs\n{}", rs["signature_input"], recs[0]["signature_input"]);

    // A different hang: another signature.
    let other = quit(&fx, "other", 200);
    let ro = record(&other.core, &fx.exe, &[]);
    assert_eq!(ro["snapshot"], true);
    assert_ne!(sig(&ro), first, "{}", ro["signature_input"]);
    assert!(ro["signature_input"].as_str().unwrap_or("").contains("blocked=sync.WaitGroup.Wait|main.waiter"), "{ro}");

    // A crash with the same goroutines keeps a crash signature.
    let crash = producers::kernel_core(&fx.exe, &["crash"]).unwrap_or_else(|e| panic!("hang crash: {e:#}"));
    let rc = record(&crash.core, &fx.exe, &[]);
    assert_eq!(rc["snapshot"], false, "{rc}");
    assert_eq!(rc["reason"]["kind"], "panic", "{rc}");
    let input = rc["signature_input"].as_str().unwrap_or("");
    assert!(input.starts_with("goanalyze-signature-v1\nkind=panic\nvalue=string:hang: giving up\nframe=main.main"), "{input}");
    assert_ne!(sig(&rc), first);
}

#[test]
fn gcore_snapshot_matches_sigquit_snapshot() {
    require_tools!("go" => "builds the fixture", "gcore" => "makes a core of a live process");
    let fx = hang(false);
    let gcore = tests::tools::find("gcore").expect("required above");
    let live = producers::LiveProcess::start(&fx.exe, &["server"]).unwrap_or_else(|e| panic!("{e:#}"));
    let made = producers::gcore(&gcore, live.pid).unwrap_or_else(|e| panic!("gcore: {e:#}"));
    drop(live);
    let rg = record(&made.core, &fx.exe, &[]);
    assert_eq!(rg["snapshot"], true, "{rg}");
    assert_eq!(rg["reason"]["kind"], "snapshot", "{rg}");
    let q = quit(&fx, "server", 200);
    let rq = record(&q.core, &fx.exe, &[]);
    assert_eq!(sig(&rg), sig(&rq), "gcore:\n{}\nSIGQUIT:\n{}", rg["signature_input"], rq["signature_input"]);
}

/// `(total, hidden)` of every view of one core with `--system=<system>`.
fn counts(core: &Path, exe: &Path, system: &str) -> Vec<(String, usize, usize)> {
    let flag = format!("--system={system}");
    let hidden_of = |stderr: &str| -> usize {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix("goanalyze: ")?.split(" system goroutines hidden").next()?.parse().ok())
            .unwrap_or(0)
    };
    let mut v = Vec::new();
    let (out, err) = goanalyze(core, exe, &["--goroutines", &flag]);
    v.push(("--goroutines".to_string(), out.lines().filter(|l| l.contains(" Goroutine ")).count(), hidden_of(&err)));
    let (out, err) = goanalyze(core, exe, &["--stacks", &flag]);
    v.push(("--stacks".to_string(), out.lines().filter(|l| l.starts_with("goroutine ")).count(), hidden_of(&err)));
    let (out, _) = goanalyze(core, exe, &["--stacks", "--format", "json", &flag]);
    let doc: Value = serde_json::from_str(&out).expect("stacks JSON");
    v.push((
        "--stacks --format json".to_string(),
        doc["goroutines"].as_array().map_or(0, |a| a.len()),
        doc["system_hidden"].as_u64().unwrap_or(0) as usize,
    ));
    let (out, _) = goanalyze(core, exe, &["--group", "--format", "json", &flag]);
    let doc: Value = serde_json::from_str(&out).expect("group JSON");
    let sum: u64 = doc["groups"].as_array().into_iter().flatten().filter_map(|b| b["count"].as_u64()).sum();
    assert_eq!(Some(sum), doc["goroutine_count"].as_u64(), "{out}");
    v.push(("--group --format json".to_string(), sum as usize, doc["system_hidden"].as_u64().unwrap_or(0) as usize));
    let (out, _) = goanalyze(core, exe, &["--group", &flag]);
    let first = out.lines().next().unwrap_or("");
    let total = first.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(0);
    let hidden = first.split_once('(').and_then(|(_, r)| r.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    v.push(("--group".to_string(), total, hidden));
    let r = record(core, exe, &[&flag]);
    v.push((
        "--triage".to_string(),
        r["goroutine_count"].as_u64().unwrap_or(0) as usize,
        r["system_hidden"].as_u64().unwrap_or(0) as usize,
    ));
    v
}

#[test]
fn counts_agree_across_views() {
    require_tools!("go" => "builds the fixture");
    let fx = hang(false);
    let made = quit(&fx, "server", 200);
    // The runtime's own list (GOTRACEBACK=crash: system goroutines too);
    // goroutine 0 is a thread's g0, not a goroutine.
    let tb = traceback::parse(&made.stderr);
    let runtime = tb.unique().iter().filter(|g| g.id != 0).count();
    let all = counts(&made.core, &fx.exe, "true");
    let user = counts(&made.core, &fx.exe, "false");
    eprintln!("runtime: {runtime}\n{all:?}\n{user:?}");
    for (view, n, hidden) in &all {
        assert_eq!((*n, *hidden), (runtime, 0), "{view} with system goroutines: {all:?}");
    }
    let hidden = user[0].2;
    assert!(hidden > 0, "the fixture has system goroutines: {user:?}");
    for (view, n, h) in &user {
        assert_eq!((*n + *h, *h), (runtime, hidden), "{view} --system=false: {user:?}");
    }
}

#[test]
fn threads_show_the_interrupted_function() {
    require_tools!("go" => "builds the fixture");
    let fx = Build::new("signals").build().unwrap_or_else(|e| panic!("building the signals fixture: {e:#}"));
    // The SIGQUIT goes to the thread running main.spin (tgkill); the
    // fixture names that thread on stderr ("tid spin N").
    let made = producers::kernel_core(&fx.exe, &["quit", "spin"]).unwrap_or_else(|e| panic!("{e:#}"));
    let tid: u64 = made
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("tid spin ")?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no tid line:\n{}", made.stderr));
    let (out, _) = goanalyze(&made.core, &fx.exe, &["--threads"]);
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim_start_matches(['*', ' ']).split_whitespace().nth(1) == Some(&tid.to_string()))
        .unwrap_or_else(|| panic!("thread {tid} missing:\n{out}"));
    let own = lines[at];
    let interrupted = lines.get(at + 1).copied().unwrap_or("");
    assert!(own.contains("runtime.raise") || own.contains("runtime.usleep"), "the thread is not in its handler:\n{out}");
    assert!(interrupted.trim_start().starts_with("interrupted by 3 (SIGQUIT)"), "{out}");
    // The goroutine may have been between iterations (runtime.asyncPreempt
    // or a morestack); the runtime's own traceback says where it was.
    let runtime_top = traceback::parse(&made.stderr)
        .goroutines
        .first()
        .filter(|g| g.status == "running")
        .and_then(|g| g.frames.first().map(|f| f.func.clone()));
    match runtime_top {
        Some(top) => assert!(interrupted.contains(&format!(" {top} +")), "runtime: {top}\n{out}"),
        None => assert!(interrupted.contains("main.spin") || interrupted.contains("runtime."), "{out}"),
    }
}

#[test]
fn stripped_clock() {
    require_tools!("go" => "builds the fixture");
    let fx = hang(true);
    // gcloop: a collection every 200ms stamps the parked goroutines'
    // waitsince; the clock of a stripped binary comes from those.
    let made = quit(&fx, "gcloop", 1000);
    let (info, _) = goanalyze(&made.core, &fx.exe, &["--info"]);
    let now = info.lines().find(|l| l.starts_with("now:")).unwrap_or_else(|| panic!("no now line:\n{info}"));
    assert!(!now.contains(" 0 ns"), "{now}");
    assert!(now.contains("waitsince of goroutine"), "{now}");

    // Past a minute the runtime prints "1 minutes"; so must we.
    let long = quit(&fx, "gcloop", 62_000);
    // Each M prints the goroutine it runs in full, the first M's list shows
    // it as "stack unavailable": the full one goes first for unique().
    let mut runtime = traceback::parse(&long.stderr);
    runtime.goroutines.sort_by_key(|g| g.frames.is_empty());
    assert!(runtime.goroutines.iter().any(|g| g.wait_minutes == Some(1)), "the runtime printed no minutes:\n{}", long.stderr);
    let (out, _) = goanalyze(&long.core, &fx.exe, &["--stacks"]);
    let ours = traceback::parse(&out);
    let diffs = compare::stacks(&runtime, &ours, &Rules::default());
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
}
