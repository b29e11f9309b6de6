//! Crash triage on real kernel cores: `goanalyze --triage` names the reason
//! and the panic or fatal-error message the way the runtime printed it on
//! stderr (the oracle: its text before the first blank line), signatures
//! are stable across runs and toolchains and differ between crashes,
//! `--group` buckets the goroutines, and a batch survives bad cores.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use tests::bins::goanalyze;
use tests::fixture::Build;
use tests::producers::{self, MadeCore};
use tests::tools::in_ci;

/// A Go toolchain is needed for everything here.
fn have_go() -> bool {
    if Command::new("go").arg("version").output().is_ok_and(|o| o.status.success()) {
        return true;
    }
    if in_ci() {
        panic!("go is required to build the fixtures but is not installed");
    }
    eprintln!("\n!!! SKIPPED: go is not installed; the triage tests need it to build fixtures !!!\n");
    false
}

fn crash(name: &str, args: &[&str]) -> MadeCore {
    let fx = Build::new(name).build().unwrap_or_else(|e| panic!("building {name}: {e:#}"));
    producers::kernel_core(&fx.exe, args).unwrap_or_else(|e| panic!("{name} {args:?}: {e:#}"))
}

/// The runtime's report before the goroutines: everything up to the first blank line.
fn runtime_message(stderr: &str) -> String {
    stderr.split("\n\n").next().unwrap_or("").trim_end().to_string()
}

/// Run `goanalyze CORES --triage --format json`: (exit code, records, stderr).
fn triage(cores: &[&Path], extra: &[&str]) -> (i32, Vec<Value>, String) {
    let out = Command::new(goanalyze())
        .args(cores)
        .args(["--triage", "--format", "json"])
        .args(extra)
        .output()
        .expect("running goanalyze");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let records = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    (out.status.code().unwrap_or(-1), records, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut v = v;
    for p in path {
        v = &v[*p];
    }
    v.as_str().unwrap_or_else(|| panic!("{path:?} is not a string in {v}"))
}

#[test]
fn every_crash_is_named_as_the_runtime_names_it() {
    if !have_go() {
        return;
    }
    // (fixture, arguments, reason kind)
    let cases: &[(&str, &[&str], &str)] = &[
        ("panic", &[], "panic"),
        ("nilderef", &[], "panic"),
        ("zoo", &["panic"], "panic"),
        ("zoo", &["crash"], "panic"),
        ("many", &["200", "crash"], "panic"),
        ("cgo", &[], "panic"),
        ("cgo", &["ccrash"], "signal"),
        ("panicvals", &["bounds"], "panic"),
        ("panicvals", &["int"], "panic"),
        ("panicvals", &["string"], "panic"),
        ("panicvals", &["custom"], "panic"),
        ("panicvals", &["mystring"], "panic"),
        ("panicvals", &["stringer"], "panic"),
        ("panicvals", &["errorsnew"], "panic"),
        ("panicvals", &["wrapped"], "panic"),
        ("panicvals", &["goexit"], "panic"),
        ("panicvals", &["nilmap"], "panic"),
        ("fatal", &["mapwrites"], "fatal_error"),
        ("fatal", &["unlock"], "fatal_error"),
        ("fatal", &["sigquit"], "signal"),
        ("deadlock", &[], "deadlock"),
        ("deadlock", &["goexit"], "deadlock"),
        ("overflow", &[], "stack_overflow"),
        ("oom", &[], "out_of_memory"),
    ];
    let mut cases = cases.to_vec();
    // 64 TiB fits the address space, so it fails only where the kernel
    // refuses to overcommit (policy 0 or 2), in sysMap this time.
    if std::fs::read_to_string("/proc/sys/vm/overcommit_memory").is_ok_and(|p| p.trim() != "1") {
        cases.push(("oom", &["70368744177664"], "out_of_memory"));
    }
    let made: Vec<MadeCore> = cases.iter().map(|(n, a, _)| crash(n, a)).collect();
    let paths: Vec<&Path> = made.iter().map(|m| m.core.as_path()).collect();
    let (code, records, stderr) = triage(&paths, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(records.len(), cases.len());
    let mut bad = Vec::new();
    for (((name, args, kind), m), r) in cases.iter().zip(&made).zip(&records) {
        let label = format!("{name} {}", args.join(" "));
        assert_eq!(r["schema_version"], 1);
        assert_eq!(s(r, &["core"]), m.core.display().to_string(), "records out of order");
        assert!(r["errors"].as_array().unwrap().is_empty(), "{label}: {r}");
        let got_kind = s(r, &["reason", "kind"]);
        let got = s(r, &["reason", "message"]);
        let want = runtime_message(&m.stderr);
        if got_kind != *kind {
            bad.push(format!("{label}: kind {got_kind}, want {kind}"));
        }
        // The runtime's text exactly; but the line mheap.grow prints before
        // an out-of-memory throw ("cannot allocate N-byte block (M in use)")
        // is built from locals the core does not keep, so there ours may
        // only leave lines out.
        let matches = if *kind == "out_of_memory" {
            let theirs: Vec<&str> = want.lines().collect();
            got.lines().all(|l| theirs.contains(&l)) && got.lines().last() == theirs.last().copied()
        } else {
            got == want
        };
        if !matches {
            bad.push(format!("{label}:\n  runtime: {want:?}\n  ours:    {got:?}"));
        }
        if *kind == "panic" || *kind == "fatal_error" {
            assert!(r["crashing_goroutine"].as_u64().is_some(), "{label}: no crashing goroutine: {r}");
            assert!(!r["frames"].as_array().unwrap().is_empty(), "{label}: no frames");
        }
        eprintln!("{label}: {got_kind}: {}", got.lines().next().unwrap_or(""));
    }
    assert!(bad.is_empty(), "{} of {} differ:\n{}", bad.len(), cases.len(), bad.join("\n"));
}

#[test]
fn signatures_are_stable_and_distinct() {
    if !have_go() {
        return;
    }
    let a = crash("panic", &[]);
    let b = crash("panic", &[]);
    let c = crash("nilderef", &[]);
    let d = crash("panicvals", &["wrapped"]);
    let mut cores: Vec<PathBuf> = vec![a.core.clone(), b.core.clone(), c.core.clone(), d.core.clone()];
    // The same program built by another toolchain.
    let old = Build::new("panic").toolchain("go1.22.12");
    let old_core = match old.build() {
        Ok(fx) => Some(producers::kernel_core(&fx.exe, &[]).expect("go1.22 panic core")),
        Err(e) if !in_ci() => {
            eprintln!("\n!!! SKIPPED the go1.22.12 half: {e:#} !!!\n");
            None
        }
        Err(e) => panic!("go1.22.12 toolchain: {e:#}"),
    };
    if let Some(o) = &old_core {
        cores.push(o.core.clone());
    }
    let paths: Vec<&Path> = cores.iter().map(|p| p.as_path()).collect();
    let (code, r, stderr) = triage(&paths, &[]);
    assert_eq!(code, 0, "{stderr}");
    let sig = |i: usize| s(&r[i], &["signature"]).to_string();
    let input = |i: usize| s(&r[i], &["signature_input"]).to_string();
    assert_eq!(sig(0), sig(1), "two runs of one crash:\n{}\n--\n{}", input(0), input(1));
    assert_ne!(sig(0), sig(2), "panic vs nil dereference");
    assert_ne!(sig(0), sig(3), "two different panics");
    assert_ne!(sig(2), sig(3));
    if old_core.is_some() {
        assert_ne!(s(&r[4], &["go_version"]), s(&r[0], &["go_version"]));
        assert_eq!(sig(0), sig(4), "go1.22 vs default toolchain:\n{}\n--\n{}", input(0), input(4));
    }
    eprintln!("signature of panic: {}\n{}", sig(0), input(0));
}

#[test]
fn group_buckets_many_goroutines() {
    if !have_go() {
        return;
    }
    let m = crash("many", &["2000", "crash"]);
    // As GOTRACEBACK=all: without the runtime's system goroutines.
    let out = Command::new(goanalyze()).arg(&m.core).args(["--group", "--system=false"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    // Bucket headers are `count: status ...` at the start of a line.
    let counts: Vec<(usize, String)> = text
        .lines()
        .filter_map(|l| {
            let (n, rest) = l.split_once(": ")?;
            Some((n.parse().ok()?, rest.to_string()))
        })
        .collect();
    assert!((4..=5).contains(&counts.len()), "{} buckets:\n{text}", counts.len());
    let total: usize = counts.iter().map(|c| c.0).sum();
    // The runtime's own traceback, without its system goroutines: the 2000
    // workers and main.
    let tb = tests::traceback::parse(&m.stderr);
    let user = tb.unique().iter().filter(|g| g.frames.iter().any(|f| f.func.starts_with("main."))).count();
    assert_eq!(total, user, "{text}");
    assert_eq!(total, 2001);
    assert!(counts[0].1.contains("[crashing]"), "crashing bucket first:\n{text}");
    assert!(counts[1..].windows(2).all(|w| w[0].0 >= w[1].0), "not by count:\n{text}");

    let hidden: u64 = text.lines().next().and_then(|l| l.split_once('(')?.1.split_whitespace().next()?.parse().ok()).unwrap_or(0);
    assert!(hidden > 0, "the hidden system goroutines are not counted:\n{text}");
    let (code, r, _) = triage(&[m.core.as_path()], &["--system=false"]);
    assert_eq!(code, 0);
    assert_eq!(r[0]["goroutine_count"], 2001);
    assert_eq!(r[0]["system_hidden"], hidden);
    assert_eq!(r[0]["groups"].as_array().unwrap().len(), counts.len());
    // By default (GOTRACEBACK=crash) the system goroutines count too.
    let (code, r, _) = triage(&[m.core.as_path()], &[]);
    assert_eq!(code, 0);
    assert_eq!(r[0]["goroutine_count"], 2001 + hidden);
    assert_eq!(r[0]["system_hidden"], 0);
}

#[test]
fn batch_survives_bad_cores() {
    if !have_go() {
        return;
    }
    let good1 = crash("nilderef", &[]);
    let good2 = crash("fatal", &["unlock"]);
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.core");
    let bytes = std::fs::read(&good1.core).unwrap();
    std::fs::write(&truncated, &bytes[..1000]).unwrap();
    let garbage = dir.path().join("garbage.core");
    std::fs::write(&garbage, (0..100_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect::<Vec<u8>>())
        .unwrap();
    let compressed = dir.path().join("nilderef.core.zst");
    std::fs::write(&compressed, zstd::encode_all(&bytes[..], 3).unwrap()).unwrap();
    let missing = dir.path().join("missing.core");
    let cores = [good1.core.as_path(), &truncated, &garbage, good2.core.as_path(), &compressed, &missing];
    let (code, r, stderr) = triage(&cores, &["--jobs", "2"]);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(r.len(), cores.len(), "one record per core");
    for (i, c) in cores.iter().enumerate() {
        assert_eq!(s(&r[i], &["core"]), c.display().to_string());
        assert_eq!(r[i]["schema_version"], 1);
        let ok = r[i]["errors"].as_array().unwrap().is_empty();
        assert_eq!(ok, matches!(i, 0 | 3 | 4), "record {i}: {}", r[i]);
        if ok {
            assert!(r[i]["signature"].is_string());
        } else {
            assert!(r[i]["reason"].is_null() && r[i]["signature"].is_null(), "{}", r[i]);
        }
    }
    assert_eq!(s(&r[0], &["signature"]), s(&r[4], &["signature"]), "compressed core");
    assert_eq!(s(&r[3], &["reason", "kind"]), "fatal_error");

    // The text report, and bad usage.
    let out = Command::new(goanalyze()).arg(&good2.core).arg("--triage").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("fatal error: sync: unlock of unlocked mutex"), "{text}");
    assert!(text.contains("signature:"), "{text}");
    let out = Command::new(goanalyze()).arg(&good1.core).arg(&good2.core).arg("--stacks").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// A FIFO named as a core once hung the analysis (opening it blocks with no
/// writer); core-reader now refuses anything but a regular file, so the batch
/// reports it at once and goes on. (`--timeout-per-core` is tested in
/// `robust.rs`, on a core another process holds a lease on.)
#[test]
fn a_fifo_is_refused_not_waited_on() {
    if !have_go() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("stuck.core");
    if !Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success()) {
        assert!(!tests::tools::in_ci(), "mkfifo failed");
        eprintln!("\n!!! SKIPPED: mkfifo failed !!!\n");
        return;
    }
    let good = crash("panic", &[]);
    let (code, r, _) = triage(&[&fifo, good.core.as_path()], &["--timeout-per-core", "20"]);
    assert_eq!(code, 1);
    assert!(r[0]["errors"][0].as_str().unwrap_or("").contains("not a regular file"), "{}", r[0]);
    assert!(r[1]["errors"].as_array().unwrap().is_empty());
}

#[test]
fn a_live_snapshot_is_not_a_crash() {
    if !have_go() {
        return;
    }
    let fx = Build::new("zoo").build().unwrap();
    let live = producers::LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    // godump's snapshot, then gdb's.
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("godump.core");
    let out = Command::new(tests::bins::godump())
        .args(["create", &live.pid.to_string()])
        .arg(&ours)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut cores = vec![ours];
    let gdb_core = tests::tools::require("gcore", "snapshot of a live process")
        .map(|gcore| producers::gcore(&gcore, live.pid).unwrap());
    if let Some(c) = &gdb_core {
        cores.push(c.core.clone());
    }
    drop(live);
    let paths: Vec<&Path> = cores.iter().map(|p| p.as_path()).collect();
    let (code, r, stderr) = triage(&paths, &[]);
    assert_eq!(code, 0, "{stderr}");
    for rec in &r {
        assert_eq!(s(rec, &["reason", "kind"]), "snapshot", "{rec}");
        assert_eq!(s(rec, &["reason", "message"]), "snapshot (no crash)");
        assert!(rec["crashing_goroutine"].is_null());
    }
}

#[test]
fn arm64_cores_under_qemu() {
    if !have_go() {
        return;
    }
    let Some(qemu) = tests::tools::require("qemu-aarch64", "arm64 cores") else { return };
    let cases: &[(&str, &[&str], &str)] = &[
        ("panic", &[], "panic"),
        ("fatal", &["unlock"], "fatal_error"),
        ("deadlock", &[], "deadlock"),
        ("fatal", &["sigquit"], "signal"),
    ];
    let mut bad = Vec::new();
    for (name, args, kind) in cases {
        let fx = Build::new(name).arch("arm64").build().unwrap();
        let arm = producers::qemu_arm64_core(&qemu, &fx.exe, args).unwrap();
        let amd = crash(name, args);
        let (code, r, stderr) = triage(&[arm.core.as_path(), amd.core.as_path()], &[]);
        assert_eq!(code, 0, "{stderr}");
        let label = format!("{name} {}", args.join(" "));
        if s(&r[0], &["reason", "kind"]) != *kind {
            bad.push(format!("{label}: kind {}", r[0]["reason"]["kind"]));
        }
        let want = runtime_message(&arm.stderr);
        if s(&r[0], &["reason", "message"]) != want {
            bad.push(format!("{label}: {want:?} vs ours {:?}", r[0]["reason"]["message"]));
        }
        // The same crash on another architecture is the same bug.
        if s(&r[0], &["signature"]) != s(&r[1], &["signature"]) {
            bad.push(format!("{label}: arm64 {} vs amd64 {}", r[0]["signature_input"], r[1]["signature_input"]));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}
