//! `goanalyze --threads` names the same threads, with the same pc and sp, as
//! gdb reading the same core, for every producer (gdb-multiarch for arm64).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use tests::fixture::Build;
use tests::producers::{self, LiveProcess};
use tests::require_tools;

/// tid -> (pc, sp) as gdb sees them.
fn gdb_threads(gdb: &Path, exe: &Path, core: &Path) -> BTreeMap<u64, (u64, u64)> {
    let out = Command::new(gdb)
        .args(["-batch", "-nx", "-ex", "set auto-load off", "-ex", "thread apply all printf \"REGS %#lx %#lx\\n\", $pc, $sp"])
        .arg(exe)
        .arg(core)
        .output()
        .expect("running gdb");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = BTreeMap::new();
    let mut tid = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            // "Thread 3 (LWP 1234):" or "Thread 3 (Thread 0x... (LWP 1234)):"
            tid = rest.split("LWP ").nth(1).and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next()).and_then(|s| s.parse().ok());
        } else if let (Some(t), Some(regs)) = (tid, line.strip_prefix("REGS ")) {
            let v: Vec<u64> = regs.split(' ').filter_map(|x| u64::from_str_radix(x.trim_start_matches("0x"), 16).ok()).collect();
            if v.len() == 2 {
                map.insert(t, (v[0], v[1]));
            }
            tid = None;
        }
    }
    map
}

/// tid -> (pc, sp) from `goanalyze --threads`.
fn our_threads(exe: &Path, core: &Path) -> BTreeMap<u64, (u64, u64)> {
    let out = tests::bins::run_goanalyze(&[core.as_os_str(), "--exe".as_ref(), exe.as_os_str(), "--threads".as_ref()]);
    assert!(out.status.success(), "goanalyze --threads: {}", String::from_utf8_lossy(&out.stderr));
    let mut map = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut tid = None;
        let (mut pc, mut sp) = (None, None);
        let mut words = line.trim_start_matches(['*', ' ']).split_whitespace();
        while let Some(w) = words.next() {
            if w == "thread" {
                tid = words.next().and_then(|t| t.parse().ok());
            } else if let Some(v) = w.strip_prefix("pc=0x") {
                pc = u64::from_str_radix(v, 16).ok();
            } else if let Some(v) = w.strip_prefix("sp=0x") {
                sp = u64::from_str_radix(v, 16).ok();
            }
        }
        if let (Some(t), Some(p), Some(s)) = (tid, pc, sp) {
            map.insert(t, (p, s));
        }
    }
    map
}

fn agree(gdb: &Path, exe: &Path, core: &Path) {
    let theirs = gdb_threads(gdb, exe, core);
    let ours = our_threads(exe, core);
    assert!(theirs.len() >= 2, "gdb saw {} threads", theirs.len());
    assert_eq!(ours, theirs, "goanalyze --threads (left) vs gdb (right)");
}

#[test]
fn kernel_core() {
    let t = require_tools!("go" => "fixtures", "gdb" => "the oracle");
    for b in [Build::new("zoo"), Build::new("zoo").pie().stripped(), Build::new("cgo")] {
        let fx = b.build().unwrap();
        let made = producers::kernel_core(&fx.exe, &["crash"]).unwrap();
        agree(&t[1], &fx.exe, &made.core);
    }
}

#[test]
fn gcore_and_dlv_and_godump_cores() {
    let t = require_tools!("go" => "fixtures", "gdb" => "the oracle", "gcore" => "a producer", "dlv" => "a producer");
    let fx = Build::new("zoo").build().unwrap();
    let live = LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    let g = producers::gcore(&t[2], live.pid).unwrap();
    agree(&t[1], &fx.exe, &g.core);
    let d = producers::dlv_dump(&t[3], live.pid).unwrap();
    agree(&t[1], &fx.exe, &d.core);
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("godump.core");
    let st = Command::new(tests::bins::godump()).args(["create", "--quiet", &live.pid.to_string()]).arg(&core).status().unwrap();
    assert!(st.success());
    agree(&t[1], &fx.exe, &core);
}

#[test]
fn qemu_arm64_core() {
    let t = require_tools!("go" => "fixtures", "gdb-multiarch" => "reads arm64 cores", "qemu-aarch64" => "the producer");
    let fx = Build::new("zoo").arch("arm64").build().unwrap();
    let made = producers::qemu_arm64_core(&t[2], &fx.exe, &["crash"]).unwrap();
    agree(&t[1], &fx.exe, &made.core);
}
