//! `goanalyze --heap` and `--objects` against a heap whose contents are
//! known: testdata/go/heapobjs plants N objects of each of several kinds,
//! prints `runtime.ReadMemStats` (after flushing the Ps' caches, and with
//! every span swept), then crashes without allocating. The oracles: the
//! planted counts, and the runtime's own figures printed on stderr.

use std::collections::HashMap;
use std::ffi::OsStr;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tests::bins::run_goanalyze;
use tests::fixture::{Build, OLDER_TOOLCHAINS};
use tests::producers::{self, MadeCore};
use tests::require_tools;

/// `name value name value ...` after `tag` on the line starting with it.
fn fields(stderr: &str, tag: &str) -> Result<HashMap<String, u64>> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("{tag} ")))
        .ok_or_else(|| anyhow!("no {tag:?} line in the fixture's stderr:\n{stderr}"))?;
    let w: Vec<&str> = line.split_whitespace().skip(1).collect();
    w.chunks(2)
        .map(|c| Ok((c[0].to_string(), c.get(1).context("odd line")?.parse::<u64>()?)))
        .collect()
}

fn heap_json(made: &MadeCore) -> Result<Value> {
    heap_json_with(made, &[])
}

fn heap_json_with(made: &MadeCore, extra: &[&OsStr]) -> Result<Value> {
    let mut args = vec![made.core.as_os_str(), OsStr::new("--heap"), OsStr::new("--top"), OsStr::new("0"), OsStr::new("--format"), OsStr::new("json")];
    args.extend_from_slice(extra);
    let out = run_goanalyze(&args);
    if !out.status.success() {
        bail!("goanalyze --heap failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

fn rows(doc: &Value) -> HashMap<String, u64> {
    doc["types"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| (r["type"].as_str().unwrap_or("").to_string(), r["objects"].as_u64().unwrap_or(0)))
        .collect()
}

/// Check one core: totals against ReadMemStats (and the core's own
/// counters when it has the symbol), and, when `typed`, the planted counts.
fn check(made: &MadeCore, typed: bool) -> Result<String> {
    check_with(made, typed, &[])
}

fn check_with(made: &MadeCore, typed: bool, extra: &[&OsStr]) -> Result<String> {
    check_full(made, typed, extra, false)
}

/// `live`: the core was dumped from the running fixture some time after it
/// printed its figures. Its goroutine stacks may have changed meanwhile (a
/// new M's signal stack when a thread was held up by the dumper: +32 KiB
/// now and then), so stacks are checked against the core's own counter.
fn check_full(made: &MadeCore, typed: bool, extra: &[&OsStr], live: bool) -> Result<String> {
    let mut ms = fields(&made.stderr, "memstats")?;
    let planted = fields(&made.stderr, "planted")?;
    let doc = heap_json_with(made, extra)?;
    let s = &doc["summary"];
    let g = |k: &str| s[k].as_u64().unwrap_or(u64::MAX);
    let mut errs = Vec::new();
    // ReadMemStats flushed the caches; what Ps allocated from cached spans
    // after it (the crash path) is what the runtime has not counted yet.
    if g("objects") != ms["HeapObjects"] + g("cached_objects") {
        errs.push(format!("objects {} != HeapObjects {} + cached {}", g("objects"), ms["HeapObjects"], g("cached_objects")));
    }
    if g("object_bytes") != ms["HeapAlloc"] + g("cached_bytes") {
        errs.push(format!("bytes {} != HeapAlloc {} + cached {}", g("object_bytes"), ms["HeapAlloc"], g("cached_bytes")));
    }
    if g("span_bytes_in_use") != ms["HeapInuse"] {
        errs.push(format!("span bytes {} != HeapInuse {}", g("span_bytes_in_use"), ms["HeapInuse"]));
    }
    if live {
        let core_stacks = s["runtime"]["in_stacks"].as_u64().context("a live cell needs the core's own counters (DWARF)")?;
        ms.insert("StackInuse".into(), core_stacks);
    }
    if g("stack_and_manual_bytes") != ms["StackInuse"] {
        errs.push(format!("manual span bytes {} != StackInuse {}", g("stack_and_manual_bytes"), ms["StackInuse"]));
    }
    if let Some(rt) = s["runtime"].as_object() {
        let r = |k: &str| rt[k].as_i64().unwrap_or(-1) as u64;
        if r("heap_objects") != ms["HeapObjects"] || r("heap_alloc") != ms["HeapAlloc"] || r("in_heap") != ms["HeapInuse"] {
            errs.push(format!("the core's heapStats {rt:?} disagree with ReadMemStats {ms:?}"));
        }
    }
    if typed {
        let rows = rows(&doc);
        let got = |t: &str| rows.get(t).copied().unwrap_or(0);
        for (t, k) in [
            ("main.small", "main.small"),
            ("main.medium", "main.medium"),
            ("main.bigRec", "main.bigRec"),
            ("main.hugeRec", "main.hugeRec"),
            ("map[int]int", "map"),
            ("[]int64", "slice"),
        ] {
            if got(t) != planted[k] {
                errs.push(format!("{t}: {} objects, planted {}", got(t), planted[k]));
            }
        }
        // The closure's function is main.mkClosure.func1, or
        // main.main.mkClosure.func1 where mkClosure was inlined.
        let closures: u64 = rows.iter().filter(|(n, _)| n.starts_with("closure ") && n.ends_with("mkClosure.func1")).map(|(_, c)| c).sum();
        if closures != planted["closure"] {
            errs.push(format!("closures: {closures}, planted {}", planted["closure"]));
        }
        // Tiny allocations, counted by the typed pointers into their blocks.
        let tiny_int32 = doc["tiny"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["type"] == "int32")
            .and_then(|r| r["objects"].as_u64())
            .unwrap_or(0);
        if tiny_int32 != planted["tiny"] {
            errs.push(format!("tiny int32: {tiny_int32}, planted {}", planted["tiny"]));
        }
        // Inside maps and channels: values reached only through small
        // maps' groups or buckets (no malloc header on the way), and each
        // channel's hchan and separate buffer.
        for (t, k) in [("main.mapVal", "mapval"), ("chan *main.small", "chan"), ("[5]*main.small", "chan")] {
            if got(t) != planted[k] {
                errs.push(format!("{t}: {} objects, planted {}", got(t), planted[k]));
            }
        }
        // A list whose head is only in main's frame: typed from the
        // frame's DWARF variables (none without DWARF).
        let want_frame = if doc["layout_source"] == "DWARF" { planted["frame"] } else { 0 };
        if got("main.frameOnly") != want_frame {
            errs.push(format!("main.frameOnly (stack-frame root): {} objects, expected {want_frame}", got("main.frameOnly")));
        }
        // The runtime and the os package hold strings of their own.
        if got("string") < planted["string"] {
            errs.push(format!("string: {} objects, planted at least {}", got("string"), planted["string"]));
        }
    }
    errs.extend(check_address_space(&doc, &ms));
    if !errs.is_empty() {
        bail!("{}", errs.join("; "));
    }
    Ok(format!("{} objects, {} bytes, {} cached", g("objects"), g("object_bytes"), g("cached_objects")))
}

/// The address space: its classes add up to every mapped byte, and the
/// heap arenas' spans are the ones the summary counts.
fn check_address_space(doc: &Value, ms: &HashMap<String, u64>) -> Vec<String> {
    let a = &doc["address_space"];
    let g = |k: &str| a[k].as_u64().unwrap_or(u64::MAX);
    let mut errs = Vec::new();
    if !a.is_object() {
        return vec!["no address_space in the JSON".into()];
    }
    let classes = ["heap_spans_in_use", "stacks_and_manual", "heap_free", "arena_reserved", "go_metadata", "binary", "other_files", "other_anonymous", "reserved"];
    let sum: u64 = classes.iter().map(|k| g(k)).fold(0u64, |x, y| x.saturating_add(y));
    if sum != g("mapped_bytes") {
        errs.push(format!("address space classes add up to {sum}, not the {} bytes mapped: {a}", g("mapped_bytes")));
    }
    if g("heap_spans_in_use") != ms["HeapInuse"] {
        errs.push(format!("address space: heap spans in use {} != HeapInuse {}", g("heap_spans_in_use"), ms["HeapInuse"]));
    }
    if g("stacks_and_manual") != ms["StackInuse"] {
        errs.push(format!("address space: manual spans {} != StackInuse {}", g("stacks_and_manual"), ms["StackInuse"]));
    }
    errs
}

#[test]
fn planted_heap_newest_go() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("heapobjs").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    check(&made, true).unwrap();

    // --objects lists one type's objects, and as many as the histogram counts.
    let out = run_goanalyze(&[made.core.as_os_str(), OsStr::new("--objects"), OsStr::new("main.hugeRec")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "17 objects of type main.hugeRec", "{text}");
    assert_eq!(lines.len(), 18, "{text}");
    assert!(lines[1..].iter().all(|l| l.starts_with("0x") && l.ends_with(" 40960")), "{text}");

    // --heap --format pprof: `go tool pprof` reads the same counts per type.
    let prof = made.dir.path().join("heap.pb.gz");
    let out = run_goanalyze(&[
        made.core.as_os_str(),
        OsStr::new("--heap"),
        OsStr::new("--format"),
        OsStr::new("pprof"),
        OsStr::new("-o"),
        prof.as_os_str(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let want = rows(&heap_json(&made).unwrap());
    {
        let top = std::process::Command::new("go")
            .args(["tool", "pprof", "-top", "-nodecount=1000", "-nodefraction=0", "-sample_index=inuse_objects"])
            .arg(&prof)
            .output()
            .expect("go tool pprof");
        assert!(top.status.success(), "{}", String::from_utf8_lossy(&top.stderr));
        let text = String::from_utf8_lossy(&top.stdout);
        for ty in ["main.small", "main.medium", "main.bigRec", "main.hugeRec", "map[int]int"] {
            let line = text.lines().find(|l| l.trim_end().ends_with(&format!("  {ty}"))).unwrap_or_else(|| panic!("{ty} not in pprof -top:\n{text}"));
            let flat: u64 = line.split_whitespace().next().unwrap().parse().unwrap();
            assert_eq!(Some(&flat), want.get(ty), "objects of {ty}: pprof {line:?}");
        }
    }
}

/// Go 1.21 (no malloc headers: typed from DWARF roots only) through 1.27,
/// PIE, and stripped (typed from malloc headers and large spans, then the
/// runtime's type descriptors; a stripped Go 1.21 heap is untyped, so only
/// its totals are checked).
#[test]
fn planted_heap_matrix() {
    require_tools!("go" => "builds the fixtures");
    let mut builds: Vec<(Build, bool)> = OLDER_TOOLCHAINS.iter().map(|v| (Build::new("heapobjs").toolchain(v), true)).collect();
    builds.push((Build::new("heapobjs").pie(), true));
    builds.push((Build::new("heapobjs").stripped(), true));
    builds.push((Build::new("heapobjs").stripped().pie().toolchain("go1.22.12"), true));
    builds.push((Build::new("heapobjs").stripped().toolchain("go1.21.13"), false));
    let mut failures = Vec::new();
    let mut table = Vec::new();
    for (b, typed) in builds {
        let r = b.build().and_then(|fx| producers::kernel_core(&fx.exe, &[])).and_then(|m| check(&m, typed));
        match r {
            Ok(s) => table.push(format!("{:<40} ok: {s}", b.label())),
            Err(e) => failures.push(format!("{}: {e:#}", b.label())),
        }
    }
    eprintln!("heap matrix:\n{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// linux/arm64 under qemu-aarch64 (its guest core), newest Go and stripped.
#[test]
fn planted_heap_arm64_qemu() {
    let tools = require_tools!("go" => "builds the fixtures", "qemu-aarch64" => "the producer");
    let mut failures = Vec::new();
    for b in [Build::new("heapobjs").arch("arm64"), Build::new("heapobjs").arch("arm64").stripped()] {
        let r = b.build().and_then(|fx| producers::qemu_arm64_core(&tools[1], &fx.exe, &[])).and_then(|m| check(&m, true));
        match r {
            Ok(s) => eprintln!("{:<40} ok: {s}", b.label()),
            Err(e) => failures.push(format!("{}: {e:#}", b.label())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A core cut short in its heap gives a partial result with warnings or a
/// clear error: never a panic.
#[test]
fn truncated_heap_is_not_a_panic() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("heapobjs").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let len = std::fs::metadata(&made.core).unwrap().len();
    for frac in [0.3, 0.6, 0.9] {
        let cut = made.dir.path().join(format!("cut{frac}.core"));
        let data = std::fs::read(&made.core).unwrap();
        std::fs::write(&cut, &data[..(len as f64 * frac) as usize]).unwrap();
        for args in [&["--heap"][..], &["--objects", "main.small"][..]] {
            let mut a = vec![cut.as_os_str()];
            a.extend(args.iter().map(OsStr::new));
            a.extend([OsStr::new("--exe"), fx.exe.as_os_str()]);
            let out = run_goanalyze(&a);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(matches!(out.status.code(), Some(0 | 1)), "{frac} {args:?}: {:?}\n{err}", out.status);
            assert!(!err.contains("panicked"), "{frac} {args:?}: {err}");
            if out.status.code() == Some(0) {
                assert!(err.contains("warning"), "{frac} {args:?}: a cut core read without a warning:\n{err}");
            }
        }
    }
}

/// A live heapobjs ("wait": it prints its figures, then "ready") dumped by
/// `dump`; the figures come from its stderr once SIGQUIT ends it.
fn live_heap_core(exe: &std::path::Path, dump: impl Fn(u32) -> Result<MadeCore>) -> Result<MadeCore> {
    let live = producers::LiveProcess::start(exe, &["wait"])?;
    let made = dump(live.pid)?;
    let stderr = live.sigquit_traceback()?;
    Ok(MadeCore { stderr, ..made })
}

/// The planted counts from other producers of cores: gdb's gcore, Delve's
/// dump and godump's own `create` of the live fixture (ELF), and a Windows
/// full-memory minidump (dbghelp under wine, Go 1.21.0: no malloc
/// headers, typed from DWARF roots). Every cell must find the planted
/// counts exactly and reconcile its totals; stacks against the core's own
/// counter, as the dumper may hold a thread up long enough for the runtime
/// to start an M (its signal stack) after the figures were printed.
#[test]
fn planted_heap_producers() {
    let tools = require_tools!("go" => "builds the fixtures", "gcore" => "a producer", "dlv" => "a producer");
    let (gcore, dlv) = (tools[1].clone(), tools[2].clone());
    let fx = Build::new("heapobjs").build().expect("build");
    let mut failures = Vec::new();
    let mut table = Vec::new();
    let mut cell = |name: &str, r: Result<String>| match r {
        Ok(s) => table.push(format!("{name:<28} ok: {s}")),
        Err(e) => failures.push(format!("{name}: {e:#}")),
    };
    cell("gdb gcore", live_heap_core(&fx.exe, |pid| producers::gcore(&gcore, pid)).and_then(|m| check_full(&m, true, &[], true)));
    cell(
        "dlv dump",
        live_heap_core(&fx.exe, |pid| producers::dlv_dump(&dlv, pid)).and_then(|m| check_full(&m, true, &[OsStr::new("--exe"), fx.exe.as_os_str()], true)),
    );
    // Built before the fixture starts, so that the dump follows its figures at once.
    let godump = tests::bins::godump();
    cell(
        "godump create",
        live_heap_core(&fx.exe, |pid| {
            let dir = tempfile::Builder::new().prefix("godump-core").tempdir()?;
            let core = dir.path().join("godump.core");
            let out = std::process::Command::new(&godump).args(["create", "--quiet", &pid.to_string()]).arg(&core).output()?;
            anyhow::ensure!(out.status.success(), "godump failed: {}", String::from_utf8_lossy(&out.stderr));
            Ok(MadeCore { core, stderr: String::new(), dir })
        })
        .and_then(|m| check_full(&m, true, &[], true)),
    );
    match producers::wine64() {
        Some(wine) => {
            let win = |name: &str| Build::new(name).os("windows").toolchain(tests::fixture::WINE_TOOLCHAIN).build();
            let r = win("windump").and_then(|wd| {
                let hx = win("heapobjs")?;
                let made = producers::wine_minidump(&wine, &hx.exe, &wd.exe)?;
                check_full(&made, true, &[OsStr::new("--exe"), hx.exe.as_os_str()], true)
            });
            cell("wine minidump (go1.21.0)", r);
        }
        None => {
            tests::tools::unavailable("wine64 (the minidump producer)");
        }
    }
    eprintln!("heap producers:\n{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Memory that is not Go's: testdata/go/cgomem mallocs a 48 MiB C buffer
/// beside a small Go heap. `--heap`'s address space must count it among
/// the anonymous memory that is not Go's, while its Go classes still match
/// the heap's.
#[test]
fn address_space_counts_c_memory() {
    require_tools!("go" => "builds the fixtures", "gcc" => "cgo");
    let fx = Build::new("cgomem").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let cbuf = fields(&made.stderr, "cbuf").unwrap();
    let doc = heap_json(&made).unwrap();
    let a = &doc["address_space"];
    let g = |k: &str| a[k].as_u64().unwrap_or_else(|| panic!("no address_space.{k}: {a}"));
    let classes = ["heap_spans_in_use", "stacks_and_manual", "heap_free", "arena_reserved", "go_metadata", "binary", "other_files", "other_anonymous", "reserved"];
    assert_eq!(classes.iter().map(|k| g(k)).sum::<u64>(), g("mapped_bytes"), "{a}");
    assert_eq!(g("heap_spans_in_use"), doc["summary"]["span_bytes_in_use"].as_u64().unwrap(), "{a}");
    assert!(g("go_metadata") > 0 && a["metadata"].as_array().is_some_and(|m| !m.is_empty()), "no runtime metadata located: {a}");
    // Dynamically linked: libc and the loader are other files.
    assert!(g("other_files") > 0, "{a}");
    let not_go = g("not_go_anonymous_at_least");
    assert!(not_go >= cbuf["bytes"], "not Go's: at least {not_go}, but C holds {} at {:#x}: {a}", cbuf["bytes"], cbuf["addr"]);
    // The lower bound is not the whole of it: Go's own unlocated metadata is taken out.
    assert!(not_go <= g("other_anonymous"), "{a}");
    eprintln!("cgomem address space: {a}");
}
