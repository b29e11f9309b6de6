//! `goanalyze --threads --bt` against gdb's `thread apply all bt` on the
//! same core: for every thread, frame by frame, the pcs must be gdb's and a
//! C frame's function must be the one gdb names (the physical function of
//! gdb's inline group). gdb knows nothing of Go's stack switches, so the
//! comparison stops where our walk ends or moves to the goroutine's stack;
//! for a binary without DWARF gdb cannot unwind Go frames at all, so there
//! it stops at the first Go frame (where C code crossed into Go).
//!
//! Cores: the kernel's, of the cgo fixture crashing inside C (`ccrash`:
//! SIGSEGV in c_crash_inner <- c_crash_middle <- c_crash_outer, under the
//! runtime's signal handler) and gdb's gcore of it waiting (`wait`: one
//! thread asleep in libc, called from C); non-PIE with DWARF and PIE stripped.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use analyzer::analysis::Analysis;
use common::*;

/// One physical frame as a backtrace shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Phys {
    /// None when gdb printed no address (frame #0 at a line start, the
    /// frame right after a signal frame).
    pc: Option<u64>,
    /// The function: for gdb, the outermost name of an inline group.
    name: String,
    signal: bool,
    /// Ours only: the walk moved to the goroutine's own stack here.
    switch: bool,
}

fn parse_pc(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// gdb: "#3  0x00000000004a37a2 in c_sleep_forever () at ..." starts a
/// physical frame; "#4  _cgo_..._Cfunc_c_sleep_forever (v=...) at ..." (no
/// address) continues its inline group, except as frame #0 or right after
/// "<signal handler called>".
fn gdb_bt(gdb: &str, exe: &Path, core: &Path) -> BTreeMap<u64, Vec<Phys>> {
    let out = Command::new(gdb)
        .args(["-batch", "-nx", "-ex", "set auto-load off", "-ex", "set pagination off", "-ex", "thread apply all bt"])
        .arg(exe)
        .arg(core)
        .stderr(Stdio::null())
        .output()
        .expect("running gdb");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map: BTreeMap<u64, Vec<Phys>> = BTreeMap::new();
    let mut tid = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Thread ") {
            tid = rest
                .split("LWP ")
                .nth(1)
                .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|s| s.parse().ok());
            if let Some(t) = tid {
                map.insert(t, Vec::new());
            }
            continue;
        }
        let (Some(t), Some(rest)) = (tid, line.strip_prefix('#')) else { continue };
        let frames = map.get_mut(&t).unwrap();
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start();
        if rest.starts_with("<signal handler called>") {
            frames.push(Phys { pc: None, name: String::new(), signal: true, switch: false });
            continue;
        }
        let (pc, func) = match rest.split_once(" in ") {
            Some((a, f)) if a.starts_with("0x") => (parse_pc(a), f),
            _ => (None, rest),
        };
        let name = func.split(" (").next().unwrap_or("").trim().to_string();
        let continues = pc.is_none() && frames.last().is_some_and(|f| !f.signal);
        if continues {
            frames.last_mut().unwrap().name = name;
        } else {
            frames.push(Phys { pc, name, signal: false, switch: false });
        }
    }
    map
}

/// Ours, from `--threads --bt`.
fn our_bt(exe: &Path, core: &Path) -> (BTreeMap<u64, Vec<Phys>>, String) {
    let (code, out, err) = goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--threads", "--bt"]);
    assert_eq!(code, 0, "goanalyze --threads --bt: {err}");
    let mut map: BTreeMap<u64, Vec<Phys>> = BTreeMap::new();
    let mut tid = None;
    for line in out.lines() {
        let t = line.trim_start_matches(['*', ' ']);
        if let Some(rest) = t.strip_prefix("thread ") {
            tid = rest.split(' ').next().and_then(|s| s.parse().ok());
            map.insert(tid.unwrap(), Vec::new());
            continue;
        }
        let Some(tid) = tid else { continue };
        let frames = map.get_mut(&tid).unwrap();
        if t.starts_with("--- goroutine ") {
            frames.push(Phys { pc: None, name: String::new(), signal: false, switch: true });
            continue;
        }
        let Some(rest) = t.strip_prefix('#') else { continue };
        let rest = rest.trim_start_matches(|c: char| c.is_ascii_digit()).trim_start();
        if rest.starts_with("<signal handler called>") {
            frames.push(Phys { pc: None, name: String::new(), signal: true, switch: false });
            continue;
        }
        match rest.split_once(" in ") {
            Some((a, f)) if a.starts_with("0x") => {
                // "sym+0x12 (module)" or "?? (module)" or "runtime.futex () at f:l"
                let name = f.split([' ', '+']).next().unwrap_or("").to_string();
                frames.push(Phys { pc: parse_pc(a), name, signal: false, switch: false });
            }
            // An inlined Go frame: same physical frame; its outermost name wins.
            _ => {
                if let Some(last) = frames.last_mut() {
                    last.name = rest.split(" (").next().unwrap_or("").trim().to_string();
                }
            }
        }
    }
    (map, out)
}

/// gdb's DWARF names libc's internal aliases (`__GI___nanosleep`, `__sleep`);
/// the dynamic symbol table has the public ones.
fn norm(name: &str) -> &str {
    name.trim_start_matches("__GI_").trim_start_matches('_')
}

/// Compare every thread; returns (C frames compared, C function names seen).
fn compare(exe: &Path, core: &Path) -> (usize, Vec<String>) {
    let (c, names, _) = compare_with("gdb", exe, core);
    (c, names)
}

/// As [`compare`] with a given gdb; also returns how many frames (C and Go) were compared.
fn compare_with(gdb: &str, exe: &Path, core: &Path) -> (usize, Vec<String>, usize) {
    let a = Analysis::open(core, Some(exe)).expect("open core");
    let u = a.unwinder();
    let is_go = |pc: u64| u.find_func(pc).is_some();
    let theirs = gdb_bt(gdb, exe, core);
    let (ours, text) = our_bt(exe, core);
    assert_eq!(theirs.keys().collect::<Vec<_>>(), ours.keys().collect::<Vec<_>>(), "threads differ\n{text}");
    let mut c_frames = 0;
    let mut all = 0;
    let mut names = Vec::new();
    for (tid, g) in &theirs {
        let o = &ours[tid];
        for (i, (gf, of)) in g.iter().zip(o.iter()).enumerate() {
            if of.switch {
                break;
            }
            let ctx = || format!("thread {tid} frame {i}: gdb {gf:?} vs ours {of:?}\n--- ours ---\n{text}");
            assert_eq!(gf.signal, of.signal, "{}", ctx());
            if gf.signal {
                continue;
            }
            if let Some(pc) = gf.pc {
                assert_eq!(Some(pc), of.pc, "{}", ctx());
            }
            all += 1;
            let pc = of.pc.unwrap();
            if is_go(pc) {
                // Without DWARF gdb cannot unwind Go frames: compare no further.
                if !a.bin.has_dwarf {
                    break;
                }
                continue;
            }
            assert_eq!(norm(&gf.name), norm(&of.name), "{}", ctx());
            c_frames += 1;
            names.push(of.name.clone());
        }
    }
    (c_frames, names, all)
}

fn tools() -> bool {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return false;
    }
    if tests::tools::require("gcc", "gcc (for cgo)").is_none() {
        return false;
    }
    tests::tools::require("gdb", "gdb (the oracle)").is_some()
}


#[test]
fn crash_inside_c_matches_gdb() {
    if !tools() {
        return;
    }
    for b in [Build::new("cgo"), Build::new("cgo").pie().stripped()] {
        let fx = b.build().unwrap();
        let made = crash(&fx, &["ccrash"], &[]);
        let (exe, core, stderr) = (&fx.exe, &made.core, &made.stderr);
        assert!(stderr.contains("signal arrived during cgo execution"), "{stderr}");
        let (n, names) = compare(exe, core);
        eprintln!("ccrash {}: {n} C frames agree with gdb: {names:?}", b.label());
        if b.stripped {
            continue;
        }
        // The three C frames of the crash, in order, under the signal frame.
        let pos = |f: &str| names.iter().position(|n| n == f).unwrap_or_else(|| panic!("{f} missing: {names:?}"));
        assert!(pos("c_crash_inner") < pos("c_crash_middle") && pos("c_crash_middle") < pos("c_crash_outer"));
        assert!(names.iter().any(|n| n == "sleep"), "{names:?}");

        // JSON: the crashing goroutine carries its thread's C frames beside
        // the runtime's own frames; a Go-only goroutine has none.
        let (code, js, err) =
            goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--stacks", "--format", "json"]);
        assert_eq!(code, 0, "{err}");
        let doc: serde_json::Value = serde_json::from_str(&js).unwrap();
        let gs = doc["goroutines"].as_array().unwrap();
        let crashing = gs.iter().find(|g| g["crashing"] == true).expect("a crashing goroutine");
        let native: Vec<&str> =
            crashing["native_frames"].as_array().unwrap().iter().filter_map(|f| f["func"].as_str()).collect();
        let i = native.iter().position(|f| *f == "c_crash_inner").unwrap_or_else(|| panic!("{native:?}"));
        assert_eq!(&native[i..i + 3], ["c_crash_inner", "c_crash_middle", "c_crash_outer"]);
        assert!(crashing["frames"].as_array().unwrap().iter().all(|f| f["func"] != "c_crash_inner"));
        assert!(gs.iter().any(|g| g.get("native_frames").is_none()));
    }
}

#[test]
fn gcore_of_thread_asleep_in_c_matches_gdb() {
    if !tools() {
        return;
    }
    let Some(gcore) = tests::tools::require("gcore", "gcore (gdb)") else { return };
    for b in [Build::new("cgo"), Build::new("cgo").pie().stripped()] {
        let exe = b.build().unwrap().exe;
        // Started, "ready" read and settled by the tests crate; killed when
        // dropped, here or when an assertion fails.
        let live = tests::producers::LiveProcess::start(&exe, &["wait"]).unwrap();
        let made = tests::producers::gcore(&gcore, live.pid).unwrap();
        drop(live);
        let core = made.core.clone();
        let (n, names) = compare(&exe, &core);
        eprintln!("gcore wait {}: {n} C frames agree with gdb: {names:?}", b.label());
        // clock_nanosleep <- nanosleep <- sleep <- the cgo wrapper, stripped or not.
        assert!(n >= 4, "{names:?}");
        assert!(names.windows(3).any(|w| w == ["clock_nanosleep", "nanosleep", "sleep"]), "{names:?}");
    }
}

/// Thread stacks overwritten with pseudo-random words (zeros, all-ones,
/// random, plausible nearby pointers): `--threads --bt` ends each walk with
/// a reason, exit status 0, promptly, never a panic.
#[test]
fn corrupted_thread_stacks_do_not_panic() {
    use object::{Object, ObjectSegment};
    if !tools() {
        return;
    }
    let fx = Build::new("cgo").build().unwrap();
    let MadeCore { core, dir, .. } = crash(&fx, &["ccrash"], &[]);
    let exe = fx.exe;
    let original = std::fs::read(&core).unwrap();
    let segs: Vec<(u64, u64, u64)> = {
        let obj = object::File::parse(&original[..]).unwrap();
        obj.segments().map(|s| (s.address(), s.file_range().0, s.file_range().1)).collect()
    };
    let file_off =
        |a: u64| segs.iter().find(|(va, _, sz)| a >= *va && a + 8 <= va + sz).map(|(va, fo, _)| (fo + a - va) as usize);
    // Every thread's stack: 16 KiB above its sp (the C frames, the signal
    // frames and the g0/gsignal frames all live there).
    let a = Analysis::open(&core, Some(&exe)).unwrap();
    let targets: Vec<u64> = a.core.threads.iter().map(|t| t.regs.sp()).collect();
    drop(a);
    let bad = dir.path().join("bad.core");
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        // xorshift64*
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    for seed in 0..12 {
        let mut bytes = original.clone();
        for _ in 0..400 {
            let sp = targets[(next() % targets.len() as u64) as usize];
            let at = sp + (next() % (16 << 10)) / 8 * 8;
            if let Some(o) = file_off(at) {
                let w = match next() % 4 {
                    0 => 0,
                    1 => u64::MAX,
                    2 => next(),
                    _ => at ^ (next() & 0xfff),
                };
                bytes[o..o + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        std::fs::write(&bad, &bytes).unwrap();
        let t = std::time::Instant::now();
        let (code, out, err) = goanalyze(&[bad.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--threads", "--bt"]);
        assert!(code == 0 || code == 1, "seed {seed}: exit {code}: {err}");
        assert!(!err.contains("panicked"), "seed {seed}: {err}");
        assert!(t.elapsed() < Duration::from_secs(60), "seed {seed}: too slow");
        if code == 0 {
            assert!(out.lines().filter(|l| l.trim_start().starts_with('#')).count() < 2000, "seed {seed}: runaway walk");
        }
    }
}

/// linux/arm64 (qemu-aarch64's core of the zoo crashing in Go): frame pcs
/// agree with gdb-multiarch as far as gdb goes (it stops at Go's sigtramp;
/// we continue through the signal frame, x29/x30 and the pclntab).
#[test]
fn arm64_frames_match_gdb_multiarch() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    if (tests::tools::require("qemu-aarch64", "runs arm64 fixtures").is_none()) || (tests::tools::require("gdb-multiarch", "the arm64 oracle").is_none()) {
        return;
    }
    let fx = Build::new("zoo").arch("arm64").build().unwrap();
    let made = crash(&fx, &["crash"], &[]);
    let (exe, core) = (fx.exe.clone(), made.core.clone());
    let (_, _, n) = compare_with("gdb-multiarch", &exe, &core);
    eprintln!("arm64: {n} frames agree with gdb-multiarch");
    assert!(n >= 10, "only {n} frames compared");
    // Past the signal frame: the crashing goroutine's own frames.
    let (_, out) = our_bt(&exe, &core);
    // The crashing thread's block: from its "* thread" line to the next thread line.
    let start = out.find("* thread").expect("a crashing thread");
    let crashed = &out[start..];
    let crashed = &crashed[..crashed[1..].find("\n  thread").map_or(crashed.len(), |i| i + 1)];
    let sig = crashed.find("<signal handler called>").expect("a signal frame");
    assert!(crashed[sig..].contains("main.main ()"), "{crashed}");
}
