//! The compatibility matrix: for each producer of cores, each Go toolchain,
//! with and without DWARF, PIE and not, `goanalyze --stacks` must agree with
//! the runtime's own traceback on every goroutine. Each test prints its
//! table; docs/COMPATIBILITY.md records the last full run.
//!
//! A cell either agrees or is listed in `KNOWN_GAPS` with the reason; a
//! known gap that starts agreeing fails the test too, so the list stays true.

use std::path::Path;

use tests::compare::{self, Rules};
use tests::fixture::{Build, OLDER_TOOLCHAINS};
use tests::producers::{self, LiveProcess, MadeCore};
use tests::require_tools;
use tests::traceback;

/// Cells known not to agree yet: (producer, build label substring, why).
const KNOWN_GAPS: &[(&str, &str, &str)] = &[];

fn known_gap(producer: &str, label: &str) -> Option<&'static str> {
    KNOWN_GAPS
        .iter()
        .find(|(p, l, _)| *p == producer && label.contains(l))
        .map(|(_, _, why)| *why)
}

fn variants(toolchains: &[Option<&str>]) -> Vec<Build> {
    let mut v = Vec::new();
    for tc in toolchains {
        let base = match tc {
            Some(t) => Build::new("zoo").toolchain(t),
            None => Build::new("zoo"),
        };
        v.push(base.clone());
        v.push(base.clone().pie());
        v.push(base.clone().stripped());
        v.push(base.pie().stripped());
    }
    v
}

fn all_toolchains() -> Vec<Option<&'static str>> {
    OLDER_TOOLCHAINS.iter().map(|t| Some(*t)).chain([None]).collect()
}

/// goanalyze's stacks of `core` against the runtime's `oracle`; the
/// differences, or the error that stopped goanalyze.
fn check(core: &Path, exe: &Path, oracle: &str, rules: &Rules) -> Vec<String> {
    check_with(core, exe, oracle, rules, &[])
}

fn check_with(core: &Path, exe: &Path, oracle: &str, rules: &Rules, extra: &[&str]) -> Vec<String> {
    let mut args = vec![core.as_os_str(), "--exe".as_ref(), exe.as_os_str(), "--stacks".as_ref()];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(a)));
    let out = tests::bins::run_goanalyze(&args);
    if !out.status.success() {
        return vec![format!("goanalyze failed: {}", String::from_utf8_lossy(&out.stderr).trim())];
    }
    let ours = traceback::parse(&String::from_utf8_lossy(&out.stdout));
    let runtime = traceback::parse(oracle);
    if runtime.unique().len() < 15 {
        return vec![format!("the oracle has only {} goroutines", runtime.unique().len())];
    }
    compare::stacks(&runtime, &ours, rules)
}

/// Run every cell, print the table, and fail on any cell whose outcome is
/// not the expected one.
fn run_matrix(producer: &str, builds: Vec<Build>, cell: impl Fn(&Build) -> anyhow::Result<Vec<String>>) {
    let mut table = Vec::new();
    let mut unexpected = Vec::new();
    for b in builds {
        let label = b.label();
        let diffs = match cell(&b) {
            Ok(d) => d,
            Err(e) => vec![format!("producer failed: {e:#}")],
        };
        let gap = known_gap(producer, &label);
        let verdict = match (diffs.is_empty(), gap) {
            (true, None) => "agrees".to_string(),
            (false, Some(why)) => format!("known gap: {why}"),
            (true, Some(_)) => {
                unexpected.push(format!("{producer} / {label}: agrees now; remove it from KNOWN_GAPS"));
                "agrees (listed as a gap)".to_string()
            }
            (false, None) => {
                unexpected.push(format!("{producer} / {label}:\n    {}", diffs.iter().take(8).cloned().collect::<Vec<_>>().join("\n    ")));
                format!("DIFFERS ({} differences)", diffs.len())
            }
        };
        table.push(format!("| {producer} | {label} | {verdict} |"));
    }
    eprintln!("\n{}\n", table.join("\n"));
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n"));
}

#[test]
fn kernel_cores() {
    require_tools!("go" => "builds the fixtures");
    run_matrix("kernel", variants(&all_toolchains()), |b| {
        let fx = b.build()?;
        let made = producers::kernel_core(&fx.exe, &["crash"])?;
        let rules = Rules { crashing_goroutine: Some(1), ..Default::default() };
        Ok(check(&made.core, &fx.exe, &made.stderr, &rules))
    });
}

/// A live zoo dumped by `dump`, then SIGQUIT for the oracle.
fn live_cell(b: &Build, dump: impl Fn(u32) -> anyhow::Result<MadeCore>) -> anyhow::Result<Vec<String>> {
    let fx = b.build()?;
    let live = LiveProcess::start(&fx.exe, &["wait"])?;
    let made = dump(live.pid)?;
    let oracle = live.sigquit_traceback()?;
    Ok(check(&made.core, &fx.exe, &oracle, &Rules::default()))
}

#[test]
fn gcore_cores() {
    let tools = require_tools!("go" => "builds the fixtures", "gcore" => "the producer");
    let gcore = &tools[1];
    run_matrix("gcore", variants(&[None, Some("go1.22.12")]), |b| live_cell(b, |pid| producers::gcore(gcore, pid)));
}

#[test]
fn dlv_dump_cores() {
    let tools = require_tools!("go" => "builds the fixtures", "dlv" => "the producer");
    let dlv = &tools[1];
    run_matrix("dlv dump", variants(&[None, Some("go1.23.12")]), |b| live_cell(b, |pid| producers::dlv_dump(dlv, pid)));
}

#[test]
fn godump_cores() {
    require_tools!("go" => "builds the fixtures");
    let godump = tests::bins::godump();
    run_matrix("godump", variants(&[None, Some("go1.24.11")]), |b| {
        live_cell(b, |pid| {
            let dir = tempfile::Builder::new().prefix("godump-core").tempdir()?;
            let core = dir.path().join("godump.core");
            let out = std::process::Command::new(&godump)
                .args(["create", "--quiet", &pid.to_string()])
                .arg(&core)
                .output()?;
            anyhow::ensure!(out.status.success(), "godump failed: {}", String::from_utf8_lossy(&out.stderr));
            Ok(MadeCore { core, stderr: String::new(), dir })
        })
    });
}

#[test]
fn qemu_arm64_cores() {
    let tools = require_tools!("go" => "builds the fixtures", "qemu-aarch64" => "the producer");
    let qemu = &tools[1];
    let builds = variants(&[None, Some("go1.22.12")]).into_iter().map(|b| b.arch("arm64")).collect();
    run_matrix("qemu arm64", builds, |b| {
        let fx = b.build()?;
        let made = producers::qemu_arm64_core(qemu, &fx.exe, &["crash"])?;
        let rules = Rules { crashing_goroutine: Some(1), ..Default::default() };
        Ok(check(&made.core, &fx.exe, &made.stderr, &rules))
    });
}

/// A real Windows full-memory minidump (dbghelp under wine) of the Windows
/// zoo. The oracle is printed after the dump, when goroutine 1 has been
/// released to crash; every other goroutine is as it was.
#[test]
fn wine_minidumps() {
    require_tools!("go" => "builds the fixtures");
    let Some(wine) = producers::wine64() else {
        assert!(!tests::tools::in_ci(), "wine64 is required; .ci/setup installs it");
        eprintln!("\n!!! SKIPPED: wine64 is not installed !!!\n");
        return;
    };
    let windump = Build::new("windump").os("windows").toolchain(tests::fixture::WINE_TOOLCHAIN).build().unwrap();
    let builds = vec![Build::new("zoo").os("windows").toolchain(tests::fixture::WINE_TOOLCHAIN)];
    run_matrix("wine minidump", builds, |b| {
        let fx = b.build()?;
        let made = producers::wine_minidump(&wine, &fx.exe, &windump.exe)?;
        let rules = Rules { moved_on: &[1], ..Default::default() };
        // The oracle is GOTRACEBACK=all (a crash under "crash" starts wine's debugger).
        Ok(check_with(&made.core, &fx.exe, &made.stderr, &rules, &["--system=false"]))
    });
}

/// A Linux minidump written by the minidump-writer crate of a live zoo.
#[test]
fn minidump_writer_dumps() {
    require_tools!("go" => "builds the fixtures");
    run_matrix("minidump-writer", vec![Build::new("zoo"), Build::new("zoo").pie().stripped()], |b| {
        live_cell(b, producers::minidump_writer_dump)
    });
}
