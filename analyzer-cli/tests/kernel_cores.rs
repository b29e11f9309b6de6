//! Kernel-written cores of the goroutine zoo, crashed with GOTRACEBACK=crash:
//! `goanalyze --stacks` must print what the runtime printed, goroutine by
//! goroutine (ids, statuses, functions, files and lines, inlined frames,
//! offsets, created-by), for PIE and non-PIE, with and without DWARF.

mod common;

use common::*;
use tests::compare::{self, Rules};
use tests::traceback::{self, Goroutine};

fn run_variant(b: Build) {
    run_fixture(b.clone(), "crash", 15);
}

fn run_fixture(b: Build, args: &str, min_goroutines: usize) {
    run_fixture_env(b, args, min_goroutines, &[]);
}

fn run_fixture_env(b: Build, args: &str, min_goroutines: usize, env: &[(&str, &str)]) {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    if b.goarch == "arm64" && tests::tools::require("qemu-aarch64", "runs arm64 fixtures").is_none() {
        return;
    }
    let Some(fx) = b.build_or_skip() else { return };
    let args: Vec<&str> = args.split_whitespace().collect();
    let made = crash(&fx, &args, env);
    let stderr = &made.stderr;
    let runtime = traceback::parse(stderr);
    let n = runtime.unique().len();
    assert!(n >= min_goroutines, "runtime printed only {n} goroutines:\n{stderr}");

    let (code, out, err) = goanalyze(&[made.core.to_str().unwrap(), "--exe", fx.exe.to_str().unwrap(), "--stacks"]);
    assert_eq!(code, 0, "goanalyze failed: {err}");
    // Everything the runtime printed, offsets included; the crashing
    // goroutine too (the kernel dumped the threads the runtime walked).
    let bad = compare::stacks(&runtime, &traceback::parse(&out), &Rules::default());
    eprintln!("{} {args:?}: compared {n} goroutines, {} mismatches", fx.build.label(), bad.len());
    assert!(bad.is_empty(), "{}\n--- ours ---\n{out}\n--- runtime ---\n{stderr}", bad.join("\n"));

    // The text must be byte-identical for every goroutine block the runtime
    // printed in full (its first block per goroutine).
    let blocks = |t: &str| -> Vec<String> {
        t.split("\n\n").filter(|b| b.starts_with("goroutine ")).map(|b| b.trim_end().to_string()).collect()
    };
    let ours_blocks = blocks(&out);
    let mut identical = 0;
    for rb in blocks(stderr) {
        if rb.contains("stack unavailable") || rb.starts_with("goroutine 0 ") {
            continue;
        }
        let head = rb.lines().next().unwrap().to_string();
        if let Some(ob) = ours_blocks.iter().find(|b| b.lines().next() == Some(head.as_str())) {
            assert_eq!(&rb, ob, "goroutine block differs");
            identical += 1;
        }
    }
    eprintln!("  {identical} goroutine blocks byte-identical");
    assert!(identical >= n.saturating_sub(2), "only {identical} of {n} blocks are byte-identical");
}

fn amd64() -> Build {
    Build::new("zoo")
}

#[test]
fn amd64_exe_dwarf() {
    run_variant(amd64());
}

#[test]
fn amd64_pie_dwarf() {
    run_variant(amd64().pie());
}

#[test]
fn amd64_exe_stripped() {
    run_variant(amd64().stripped());
}

#[test]
fn amd64_pie_stripped() {
    run_variant(amd64().pie().stripped());
}

/// Older toolchains through the module proxy (GOTOOLCHAIN); skipped loudly
/// when they cannot be fetched.
#[test]
fn amd64_older_toolchains() {
    for t in ["go1.19.13", "go1.20.14", "go1.21.13", "go1.22.12", "go1.23.12", "go1.24.11", "go1.25.5"] {
        run_variant(amd64().toolchain(t));
        run_variant(amd64().toolchain(t).pie().stripped());
    }
}

#[test]
fn fixtures_panic_nilderef_many() {
    run_fixture(amd64(), "panic", 15);
    run_fixture(Build::new("panic"), "", 1);
    run_fixture(Build::new("nilderef"), "", 1);
    run_fixture(Build::new("many").pie().stripped(), "300 crash", 300);
}

/// A runtime throw ("fatal error: concurrent map writes") with other
/// goroutines running: the thrower starts at runtime.fatal, the others are
/// walked from their threads.
#[test]
fn fatal_throw_with_running_goroutines() {
    run_fixture(Build::new("mapwrites"), "", 2);
    run_fixture(Build::new("mapwrites").pie().stripped(), "", 2);
}

/// GODEBUG=tracebackancestors: "[originating from goroutine N]:" blocks.
#[test]
fn traceback_ancestors() {
    run_fixture_env(amd64(), "crash", 15, &[("GODEBUG", "tracebackancestors=5")]);
    run_fixture_env(amd64().stripped().toolchain("go1.22.12"), "crash", 15, &[("GODEBUG", "tracebackancestors=3")]);
}

#[test]
fn cgo_fixture() {
    if tests::tools::require("gcc", "gcc (for cgo)").is_none() {
        return;
    }
    run_fixture(Build::new("cgo"), "", 2);
    // External linking: a PIE whose data relocations are applied by ld.so.
    run_fixture(Build::new("cgo").pie().stripped(), "", 2);
    run_fixture(Build::new("cgo").pie().stripped().toolchain("go1.22.12"), "", 2);
}

/// qemu-aarch64 writes its own ELF cores of the emulated process. (No PIE:
/// a linux/arm64 PIE needs the aarch64 dynamic loader, which this machine
/// does not have.)
#[test]
fn arm64_qemu() {
    run_fixture(amd64().arch("arm64"), "crash", 15);
    run_fixture(amd64().arch("arm64").stripped(), "panic", 15);
    run_fixture(Build::new("nilderef").arch("arm64").stripped(), "", 1);
    // The layout table on arm64 with an older toolchain.
    run_fixture(amd64().arch("arm64").stripped().toolchain("go1.22.12"), "crash", 15);
}

/// `--stacks --system=false` against GOTRACEBACK=all output of a second run
/// of the same binary (GOTRACEBACK=all writes no core). Goroutine ids depend
/// on scheduling (goids are handed out in per-P batches), so goroutines are
/// matched by content: the sorted lists of (status, frames, created by) must
/// be equal. Argument words (heap addresses) and fp/sp/pc differ between
/// runs and are not compared.
#[test]
fn system_false_matches_gotraceback_all() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let fx = amd64().build().unwrap();
    let made = crash(&fx, &["crash"], &[]);
    let all = std::process::Command::new(&fx.exe).arg("crash").env("GOTRACEBACK", "all").output().unwrap();
    let runtime = traceback::parse(&String::from_utf8_lossy(&all.stderr));
    assert!(runtime.unique().len() >= 10);
    let (code, out, err) =
        goanalyze(&[made.core.to_str().unwrap(), "--exe", fx.exe.to_str().unwrap(), "--stacks", "--system=false"]);
    assert_eq!(code, 0, "{err}");
    let ours = traceback::parse(&out);
    let key = |g: &&Goroutine| {
        let frames: Vec<String> = g
            .frames
            .iter()
            .map(|f| format!("{}({}) {}:{} {:?}", f.func, if f.inlined() { "..." } else { "" }, f.file, f.line, f.pc_offset))
            .collect();
        let cb = g.created_by.as_ref().map(|c| format!("{} in {:?} at {}:{} {:?}", c.func, c.goid, c.file, c.line, c.pc_offset));
        format!("[{} {:?} {} {:?}] {frames:?} {cb:?}", g.status, g.wait_minutes, g.locked_to_thread, g.extra)
    };
    let mut want: Vec<String> = runtime.unique().iter().map(key).collect();
    let mut got: Vec<String> = ours.unique().iter().map(key).collect();
    want.sort();
    got.sort();
    let bad = want.iter().filter(|k| !got.contains(k)).count() + got.iter().filter(|k| !want.contains(k)).count();
    eprintln!("GOTRACEBACK=all vs --system=false: compared {} goroutines, {bad} mismatches", want.len());
    assert_eq!(want, got, "--- ours ---\n{out}");
}
