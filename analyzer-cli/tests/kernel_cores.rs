//! Kernel-written cores of the goroutine zoo, crashed with GOTRACEBACK=crash:
//! `goanalyze --stacks` must print what the runtime printed, goroutine by
//! goroutine (ids, statuses, functions, files and lines, inlined frames,
//! offsets, created-by), for PIE and non-PIE, with and without DWARF.

mod common;

use common::*;

fn run_variant(v: Variant, toolchain: Option<&str>) {
    run_fixture("zoo", "crash", 15, v, toolchain);
}

fn run_fixture(fixture: &str, args: &str, min_goroutines: usize, v: Variant, toolchain: Option<&str>) {
    run_fixture_env(fixture, args, min_goroutines, v, toolchain, "");
}

fn run_fixture_env(fixture: &str, args: &str, min_goroutines: usize, v: Variant, toolchain: Option<&str>, env: &str) {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    if v.goarch == "arm64" && tests::tools::require("qemu-aarch64", "runs arm64 fixtures").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join(fixture);
    if let Err(e) = build(fixture, v, toolchain, &exe) {
        if toolchain.is_some() && tests::tools::unavailable(&format!("toolchain {toolchain:?}: {e}")) {
            return;
        }
        panic!("{e}");
    }
    let (core, stderr) = crash_core_env(dir.path(), &exe, args, v.goarch == "arm64", env).unwrap();
    let runtime = parse_traceback(&stderr);
    assert!(runtime.len() >= min_goroutines, "runtime printed only {} goroutines:\n{stderr}", runtime.len());

    let (code, out, err) = goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--stacks"]);
    assert_eq!(code, 0, "goanalyze failed: {err}");
    let ours = parse_traceback(&out);
    let (n, bad) = compare(&runtime, &ours);
    eprintln!(
        "{fixture} {args} {} {}: compared {n} goroutines, {} mismatches",
        toolchain.unwrap_or("go (machine)"),
        v.name(),
        bad.len()
    );
    assert!(bad.is_empty(), "{}\n--- ours ---\n{out}\n--- runtime ---\n{stderr}", bad.join("\n"));

    // The text must be byte-identical for every goroutine block the runtime
    // printed in full (its first block per goroutine).
    let blocks = |t: &str| -> Vec<String> {
        t.split("\n\n").filter(|b| b.starts_with("goroutine ")).map(|b| b.trim_end().to_string()).collect()
    };
    let ours_blocks = blocks(&out);
    let mut identical = 0;
    for rb in blocks(&stderr) {
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

const AMD64: Variant = Variant { pie: false, stripped: false, goarch: "amd64" };

#[test]
fn amd64_exe_dwarf() {
    run_variant(AMD64, None);
}

#[test]
fn amd64_pie_dwarf() {
    run_variant(Variant { pie: true, ..AMD64 }, None);
}

#[test]
fn amd64_exe_stripped() {
    run_variant(Variant { stripped: true, ..AMD64 }, None);
}

#[test]
fn amd64_pie_stripped() {
    run_variant(Variant { pie: true, stripped: true, ..AMD64 }, None);
}

/// Older toolchains through the module proxy (GOTOOLCHAIN); skipped loudly
/// when they cannot be fetched.
#[test]
fn amd64_older_toolchains() {
    for t in ["go1.19.13", "go1.20.14", "go1.21.13", "go1.22.12", "go1.23.12", "go1.24.11", "go1.25.5"] {
        run_variant(AMD64, Some(t));
        run_variant(Variant { pie: true, stripped: true, ..AMD64 }, Some(t));
    }
}

#[test]
fn fixtures_panic_nilderef_many() {
    run_fixture("zoo", "panic", 15, AMD64, None);
    run_fixture("panic", "", 1, AMD64, None);
    run_fixture("nilderef", "", 1, AMD64, None);
    run_fixture("many", "300 crash", 300, Variant { pie: true, stripped: true, ..AMD64 }, None);
}

/// A runtime throw ("fatal error: concurrent map writes") with other
/// goroutines running: the thrower starts at runtime.fatal, the others are
/// walked from their threads.
#[test]
fn fatal_throw_with_running_goroutines() {
    run_fixture("mapwrites", "", 2, AMD64, None);
    run_fixture("mapwrites", "", 2, Variant { pie: true, stripped: true, ..AMD64 }, None);
}

/// GODEBUG=tracebackancestors: "[originating from goroutine N]:" blocks.
#[test]
fn traceback_ancestors() {
    run_fixture_env("zoo", "crash", 15, AMD64, None, "GODEBUG=tracebackancestors=5");
    run_fixture_env("zoo", "crash", 15, Variant { stripped: true, ..AMD64 }, Some("go1.22.12"), "GODEBUG=tracebackancestors=3");
}

#[test]
fn cgo_fixture() {
    if tests::tools::require("gcc", "gcc (for cgo)").is_none() {
        return;
    }
    run_fixture("cgo", "", 2, AMD64, None);
    // External linking: a PIE whose data relocations are applied by ld.so.
    run_fixture("cgo", "", 2, Variant { pie: true, stripped: true, ..AMD64 }, None);
    run_fixture("cgo", "", 2, Variant { pie: true, stripped: true, ..AMD64 }, Some("go1.22.12"));
}

const ARM64: Variant = Variant { pie: false, stripped: false, goarch: "arm64" };

/// qemu-aarch64 writes its own ELF cores of the emulated process. (No PIE:
/// a linux/arm64 PIE needs the aarch64 dynamic loader, which this machine
/// does not have.)
#[test]
fn arm64_qemu() {
    run_fixture("zoo", "crash", 15, ARM64, None);
    run_fixture("zoo", "panic", 15, Variant { stripped: true, ..ARM64 }, None);
    run_fixture("nilderef", "", 1, Variant { stripped: true, ..ARM64 }, None);
    // The layout table on arm64 with an older toolchain.
    run_fixture("zoo", "crash", 15, Variant { stripped: true, ..ARM64 }, Some("go1.22.12"));
}

/// `--stacks --system=false` against GOTRACEBACK=all output of a second run
/// of the same binary (GOTRACEBACK=all writes no core). Goroutine ids depend
/// on scheduling (goids are handed out in per-P batches), so goroutines are
/// matched by content: the sorted lists of (status, frames, created by) must
/// be equal. Argument words (heap addresses) differ between runs and are not
/// compared.
#[test]
fn system_false_matches_gotraceback_all() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("zoo");
    build("zoo", AMD64, None, &exe).unwrap();
    let (core, _) = crash_core(dir.path(), &exe, "crash", false).unwrap();
    let all = std::process::Command::new(&exe)
        .arg("crash")
        .env("GOTRACEBACK", "all")
        .output()
        .unwrap();
    let runtime = parse_traceback(&String::from_utf8_lossy(&all.stderr));
    assert!(runtime.len() >= 10);
    let (code, out, err) =
        goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--stacks", "--system=false"]);
    assert_eq!(code, 0, "{err}");
    let ours = parse_traceback(&out);
    let key = |g: &TbGoroutine| format!("[{}] {:?} {:?}", g.status, g.frames, g.created_by);
    let mut want: Vec<String> = runtime.iter().map(key).collect();
    let mut got: Vec<String> = ours.iter().map(key).collect();
    want.sort();
    got.sort();
    let bad = want.iter().filter(|k| !got.contains(k)).count() + got.iter().filter(|k| !want.contains(k)).count();
    eprintln!("GOTRACEBACK=all vs --system=false: compared {} goroutines, {bad} mismatches", want.len());
    assert_eq!(want, got, "--- ours ---\n{out}");
}
