//! Nothing panics or loops on bad input: a real core whose goroutine
//! structures and stacks are overwritten with pseudo-random words must give
//! exit status 0 or 1, promptly, never a panic.

mod common;

use std::time::{Duration, Instant};

use object::{Object, ObjectSegment};

use common::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

/// An ELF core's bytes and where each process address lies in them.
struct CoreFile {
    bytes: Vec<u8>,
    /// (vaddr, file offset, file size) of every segment.
    segs: Vec<(u64, u64, u64)>,
}

impl CoreFile {
    fn read(path: &std::path::Path) -> CoreFile {
        let bytes = std::fs::read(path).unwrap();
        let obj = object::File::parse(&bytes[..]).unwrap();
        let segs = obj.segments().map(|s| (s.address(), s.file_range().0, s.file_range().1)).collect();
        CoreFile { bytes, segs }
    }

    /// The file offset of the 8 bytes at `a`, when the core holds them.
    fn file_off(&self, a: u64) -> Option<usize> {
        self.segs.iter().find(|(va, _, sz)| a >= *va && a - va + 8 <= *sz).map(|(va, fo, _)| (fo + a - va) as usize)
    }

    /// The word at `a`, when the core holds it.
    fn word(&self, a: u64) -> Option<u64> {
        self.file_off(a).map(|o| u64::from_le_bytes(self.bytes[o..o + 8].try_into().unwrap()))
    }
}

/// A kernel core of `fixture` (amd64, not PIE) run with `args`: (the
/// temporary directory holding the core, the executable, the core); None
/// when Go is missing (outside CI).
fn fixture_core(fixture: &str, stripped: bool, args: &str) -> Option<(tempfile::TempDir, std::path::PathBuf, std::path::PathBuf)> {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return None;
    }
    let b = Build::new(fixture);
    let fx = if stripped { b.stripped() } else { b }.build().unwrap();
    let args: Vec<&str> = args.split_whitespace().collect();
    let MadeCore { core, dir, .. } = crash(&fx, &args, &[]);
    Some((dir, fx.exe, core))
}

#[test]
fn corrupted_goroutines_and_stacks_do_not_panic() {
    let Some((dir, exe, core)) = fixture_core("zoo", true, "crash") else { return };
    let e = exe.to_str().unwrap();
    let (_, js, _) = goanalyze(&[core.to_str().unwrap(), "--exe", e, "--stacks", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    let hex = |s: &serde_json::Value| u64::from_str_radix(s.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    // Targets: every g (first 0x200 bytes) and every frame's stack words.
    let mut targets: Vec<(u64, u64)> = Vec::new();
    for g in v["goroutines"].as_array().unwrap() {
        targets.push((hex(&g["gp"]), 0x200));
        for f in g["frames"].as_array().unwrap() {
            let (sp, fp) = (hex(&f["sp"]), hex(&f["fp"]));
            if fp > sp {
                targets.push((sp, fp - sp));
            }
        }
    }
    // And the runtime's globals (allgs, allm, sched, waitReasonStrings...):
    // the executable's writable data as it is in the core.
    let exe_bytes = std::fs::read(&exe).unwrap();
    {
        use object::ObjectSection;
        let obj = object::File::parse(&exe_bytes[..]).unwrap();
        for s in obj.sections() {
            if matches!(s.name(), Ok(".data" | ".bss" | ".noptrbss" | ".noptrdata")) {
                targets.push((s.address(), s.size()));
                targets.push((s.address(), s.size()));
            }
        }
    }
    let cf = CoreFile::read(&core);
    let original = &cf.bytes;
    let file_off = |a: u64| cf.file_off(a);
    let bad = dir.path().join("bad.core");
    for seed in 1..=16u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15));
        let mut bytes = original.clone();
        for _ in 0..300 {
            let (start, len) = targets[(rng.next() % targets.len() as u64) as usize];
            let a = start + (rng.next() % len.max(8)) / 8 * 8;
            if let Some(o) = file_off(a) {
                let w = match rng.next() % 4 {
                    0 => 0,
                    1 => u64::MAX,
                    2 => rng.next(),
                    _ => a ^ (rng.next() & 0xfff), // plausible nearby pointer
                };
                bytes[o..o + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        std::fs::write(&bad, &bytes).unwrap();
        let t = Instant::now();
        for mode in ["--stacks", "--goroutines", "--threads"] {
            let (code, _, err) = goanalyze(&[bad.to_str().unwrap(), "--exe", e, mode]);
            assert!(code == 0 || code == 1, "seed {seed} {mode}: exit {code}: {err}");
            assert!(!err.contains("panicked"), "seed {seed} {mode}: {err}");
        }
        assert!(t.elapsed() < Duration::from_secs(60), "seed {seed}: too slow");
    }
}

/// How one run of goanalyze ended.
struct Ended {
    code: Option<i32>,
    signal: Option<i32>,
    stderr: String,
    max_rss_kib: i64,
    elapsed: Duration,
}

/// Run goanalyze with a deadline (killed past it) and its peak resident set
/// size, from wait4(2)'s rusage of that one child.
fn goanalyze_bounded(args: &[&str], deadline: Duration) -> Result<Ended, String> {
    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    let t = Instant::now();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_goanalyze"))
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    // Drain stderr on a thread so a chatty child cannot block on a full pipe.
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = pipe.read_to_string(&mut s);
        s
    });
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data that wait4 fills in; an all-zero
    // value is a valid one.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: wait4 on our own child's pid with valid pointers to
        // locals; WNOHANG so we can enforce the deadline. Reaping here
        // means `child.wait()` must not be called afterwards.
        let r = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == pid {
            break;
        }
        if r < 0 {
            return Err(format!("wait4: {}", std::io::Error::last_os_error()));
        }
        if t.elapsed() > deadline {
            let _ = child.kill();
            // SAFETY: as above, blocking this time: the child was just killed.
            unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
            let stderr = reader.join().unwrap_or_default();
            return Err(format!("no answer within {deadline:?} (killed): {stderr}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = std::process::ExitStatus::from_raw(status);
    Ok(Ended {
        code: st.code(),
        signal: st.signal(),
        stderr: reader.join().unwrap_or_default(),
        max_rss_kib: ru.ru_maxrss,
        elapsed: t.elapsed(),
    })
}

/// ELF64 core layout facts, for aiming cuts and flips: (program header
/// table range, note segment ranges, data segment ranges), as file offsets.
type Ranges = Vec<(usize, usize)>;
fn core_layout(d: &[u8]) -> ((usize, usize), Ranges, Ranges) {
    let u64_at = |o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap()) as usize;
    let phoff = u64_at(32);
    let phnum = u16::from_le_bytes([d[56], d[57]]) as usize;
    let (mut notes, mut data) = (Vec::new(), Vec::new());
    for i in 0..phnum {
        let o = phoff + 56 * i;
        let ty = u32::from_le_bytes(d[o..o + 4].try_into().unwrap());
        let (off, sz) = (u64_at(o + 8), u64_at(o + 32));
        if sz == 0 || off + sz > d.len() {
            continue;
        }
        match ty {
            4 => notes.push((off, off + sz)),
            1 => data.push((off, off + sz)),
            _ => {}
        }
    }
    ((phoff, phoff + 56 * phnum), notes, data)
}

/// A real kernel core cut at 50 offsets (inside the ELF header, the program
/// headers, the notes and the data) and with bytes flipped in its headers,
/// notes and data (250 seeded cases): every run of goanalyze over all of
/// --info --threads --goroutines --stacks ends with output (exit 0) or a
/// clear error (exit 1), never a panic, a hang, or more than 1 GiB of memory.
#[test]
fn truncated_and_flipped_cores_end_in_output_or_a_clear_error() {
    let Some((dir, exe, core)) = fixture_core("zoo", false, "crash") else { return };
    let original = std::fs::read(&core).unwrap();
    let (phdrs, notes, data) = core_layout(&original);
    assert!(!notes.is_empty() && !data.is_empty());

    // Cases, as edits of the original (materialised one at a time: 300
    // copies of a 40 MiB core must not sit in memory at once).
    enum Edit {
        Cut(usize),
        Flip(Vec<(usize, u8)>),
    }
    let mut cases: Vec<(String, Edit)> = Vec::new();
    let mut cuts: Vec<usize> = vec![0, 1, 4, 16, 20, 40, 57, 63, 64];
    for i in 0..6 {
        cuts.push(phdrs.0 + (phdrs.1 - phdrs.0) * i / 6 + 3);
    }
    let (n0, n1) = notes[0];
    for i in 0..12 {
        cuts.push(n0 + (n1 - n0) * i / 12 + 1);
    }
    let rest = original.len() - n1;
    while cuts.len() < 50 {
        let k = cuts.len() as u64;
        cuts.push(n1 + (rest as u64 * (k * 37 % 23 + 1) / 24) as usize);
    }
    for c in cuts {
        let c = c.min(original.len() - 1);
        cases.push((format!("cut at {c:#x}"), Edit::Cut(c)));
    }
    let mut rng = Rng(0x5eed_0bad_c0de);
    let ranges = |k: u64| -> Vec<(usize, usize)> {
        match k % 3 {
            0 => vec![(0, 64), phdrs],
            1 => notes.clone(),
            _ => data.clone(),
        }
    };
    for i in 0..250u64 {
        let rs = ranges(i);
        let mut flips = Vec::new();
        for _ in 0..1 + rng.next() % 8 {
            let (s, e) = rs[(rng.next() % rs.len() as u64) as usize];
            let at = s + (rng.next() as usize) % (e - s).max(1);
            let v = match rng.next() % 4 {
                0 => 0xff,
                1 => 0,
                2 => original[at] ^ (1 << (rng.next() % 8)),
                _ => rng.next() as u8,
            };
            flips.push((at, v));
        }
        let what: Vec<String> = flips.iter().map(|(a, _)| format!("{a:#x}")).collect();
        cases.push((format!("flip #{i} at {}", what.join(",")), Edit::Flip(flips)));
    }

    let e = exe.to_str().unwrap().to_string();
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (worst_rss, slowest) = (std::sync::atomic::AtomicI64::new(0), std::sync::Mutex::new(Duration::ZERO));
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for w in 0..2 {
            let (cases, failures, next, e, dir, original) = (&cases, &failures, &next, &e, dir.path(), &original);
            let (worst_rss, slowest) = (&worst_rss, &slowest);
            s.spawn(move || {
                let path = dir.join(format!("bad-{w}.core"));
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((label, edit)) = cases.get(i) else { return };
                    match edit {
                        Edit::Cut(c) => std::fs::write(&path, &original[..*c]).unwrap(),
                        Edit::Flip(flips) => {
                            let mut b = original.clone();
                            for &(at, v) in flips {
                                b[at] = v;
                            }
                            std::fs::write(&path, &b).unwrap();
                        }
                    }
                    let p = path.to_str().unwrap();
                    let args = [p, "--exe", e.as_str(), "--info", "--threads", "--goroutines", "--stacks"];
                    let r = goanalyze_bounded(&args, Duration::from_secs(60));
                    let problem = match r {
                        Err(msg) => Some(msg),
                        Ok(end) => {
                            worst_rss.fetch_max(end.max_rss_kib, std::sync::atomic::Ordering::Relaxed);
                            let mut sl = slowest.lock().unwrap();
                            *sl = (*sl).max(end.elapsed);
                            if end.stderr.contains("panicked") || end.code == Some(101) {
                                Some(format!("panic: {}", end.stderr))
                            } else if let Some(sig) = end.signal {
                                Some(format!("killed by signal {sig}: {}", end.stderr))
                            } else if !matches!(end.code, Some(0 | 1)) {
                                Some(format!("exit {:?}: {}", end.code, end.stderr))
                            } else if end.code == Some(1) && !end.stderr.lines().last().is_some_and(|l| l.starts_with("goanalyze: ") && l.len() > 20) {
                                Some(format!("exit 1 without a clear error: {:?}", end.stderr))
                            } else if end.max_rss_kib > 1 << 20 {
                                Some(format!("peak RSS {} MiB", end.max_rss_kib >> 10))
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(p) = problem {
                        // Keep the input for the report.
                        let keep = dir.join(format!("failed-{i}.core"));
                        let _ = std::fs::copy(&path, &keep);
                        failures.lock().unwrap().push(format!("{label} ({}): {p}", keep.display()));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    eprintln!(
        "{} damaged cores in {:?}; slowest run {:?}, peak RSS {} MiB",
        cases.len(),
        t0.elapsed(),
        slowest.into_inner().unwrap(),
        worst_rss.into_inner() >> 10
    );
    if !failures.is_empty() {
        // Leave the directory for inspection.
        let kept = dir.keep();
        panic!("{} of {} damaged cores went wrong (inputs kept in {}):\n{}", failures.len(), cases.len(), kept.display(), failures.join("\n"));
    }
}

/// The value printer over damaged memory: a kernel core of the `vars`
/// fixture (every kind of Go value in locals and globals) with words
/// overwritten where its variables live and where they point, two pointers
/// deep (string and slice headers and their arrays, map headers and
/// buckets, channels, interfaces, list nodes): lengths and counts made huge,
/// pointers made wild or into cycles. Every `--vars` and `--print` run must
/// end in output (exit 0) or a clear error (exit 1): no panic, no hang, no
/// more than 1 GiB. The same mutations as the `value_print` fuzz target.
#[test]
fn corrupted_variables_print_or_fail_cleanly() {
    let Some((dir, exe, core)) = fixture_core("vars", false, "") else { return };
    let (c, e) = (core.to_str().unwrap(), exe.to_str().unwrap());
    let cf = CoreFile::read(&core);
    let original = &cf.bytes;
    let file_off = |a: u64| cf.file_off(a);
    let word = |a: u64| cf.word(a);
    let hex = |s: &serde_json::Value| s.as_str().and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok());
    // Where the variables are: each local's and argument's address...
    let (code, js, err) = goanalyze(&[c, "--exe", e, "--vars", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    let mut roots: Vec<u64> = Vec::new();
    for g in v["goroutines"].as_array().unwrap() {
        for f in g["frames"].as_array().unwrap() {
            roots.extend(f["vars"].as_array().into_iter().flatten().filter_map(|x| hex(&x["addr"])));
        }
    }
    // ...and each global's.
    const GLOBALS: &[&str] = &[
        "main.gStr", "main.gMap", "main.gIntMap", "main.gSlice", "main.gOuter", "main.gCycle", "main.gChan",
        "main.gIface", "main.gShape", "main.gFunc", "main.gBig", "main.gUptr", "main.gWild",
    ];
    for g in GLOBALS {
        let (code, js, err) = goanalyze(&[c, "--exe", e, "--print", g, "--format", "json"]);
        assert_eq!(code, 0, "{g}: {err}");
        let p: serde_json::Value = serde_json::from_str(&js).unwrap();
        roots.extend(hex(&p["addr"]));
    }
    assert!(roots.len() > 40, "only {} variables found", roots.len());
    // Targets: 64 bytes at each variable, 256 at what its words point to, two deep.
    let mut targets: Vec<(u64, u64)> = Vec::new();
    let mut todo: Vec<(u64, u64, u32)> = roots.iter().map(|&a| (a, 64, 2)).collect();
    while let Some((a, len, depth)) = todo.pop() {
        if word(a).is_none() || targets.contains(&(a, len)) || targets.len() > 5000 {
            continue;
        }
        targets.push((a, len));
        if depth > 0 {
            for i in 0..len / 8 {
                if let Some(w) = word(a + 8 * i).filter(|&w| w > 0x1000 && word(w).is_some()) {
                    todo.push((w, 256, depth - 1));
                }
            }
        }
    }
    let mut failures = Vec::new();
    let mut ended = [0usize; 2];
    let bad = dir.path().join("bad.core");
    let b = bad.to_str().unwrap();
    for seed in 1..=24u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15));
        let mut bytes = original.clone();
        for _ in 0..(8 * seed) {
            let (start, len) = targets[(rng.next() % targets.len() as u64) as usize];
            let a = start + rng.next() % len / 8 * 8;
            let Some(o) = file_off(a) else { continue };
            let old = u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap());
            let w = match rng.next() % 7 {
                0 => 0,
                1 => u64::MAX,
                2 => rng.next(),
                3 => a ^ (rng.next() & 0xff8), // itself or near by: cycles
                4 => {
                    let (t, l) = targets[(rng.next() % targets.len() as u64) as usize];
                    t + rng.next() % l / 8 * 8
                }
                5 => 1 << (rng.next() % 64), // huge lengths and counts
                _ => (old & !0xff) | (rng.next() & 0xff), // a map's B, a kind byte
            };
            bytes[o..o + 8].copy_from_slice(&w.to_le_bytes());
        }
        std::fs::write(&bad, &bytes).unwrap();
        let runs: [&[&str]; 4] = [
            &["--vars"],
            &["--vars", "--format", "json", "--max-elems", "1000", "--max-depth", "10", "--max-string", "65536"],
            &["--print", "main.gCycle.Next.Next.Next.Next"],
            &["--print", "main.gOuter"],
        ];
        for args in runs {
            let mut all = vec![b, "--exe", e];
            all.extend_from_slice(args);
            let problem = match goanalyze_bounded(&all, Duration::from_secs(60)) {
                Err(msg) => Some(msg),
                Ok(end) if end.stderr.contains("panicked") || end.code == Some(101) => Some(format!("panic: {}", end.stderr)),
                Ok(end) if end.signal.is_some() => Some(format!("killed by signal {:?}: {}", end.signal, end.stderr)),
                Ok(end) if !matches!(end.code, Some(0 | 1)) => Some(format!("exit {:?}: {}", end.code, end.stderr)),
                Ok(end) if end.max_rss_kib > 1 << 20 => Some(format!("peak RSS {} MiB", end.max_rss_kib >> 10)),
                Ok(end) => {
                    ended[usize::from(end.code == Some(1))] += 1;
                    None
                }
            };
            if let Some(p) = problem {
                let keep = dir.path().join(format!("failed-{seed}.core"));
                let _ = std::fs::copy(&bad, &keep);
                failures.push(format!("seed {seed} {args:?} ({}): {p}", keep.display()));
            }
        }
    }
    eprintln!("{} targets; {} runs printed, {} ended in an error", targets.len(), ended[0], ended[1]);
    if !failures.is_empty() {
        let kept = dir.keep();
        panic!("{} failures (inputs kept in {}):\n{}", failures.len(), kept.display(), failures.join("\n"));
    }
}

/// A classic map (Go 1.23: hmap and buckets) whose overflow buckets loop:
/// every bucket of `main.gBig` (100 entries, B = 4) emptied and its
/// `overflow` pointed at itself, or at the next bucket (one cycle through
/// all 16). Before the cycle check each chain was followed 65536 times and
/// the map printed as `map[int]int [...+100 more]`, as if its entries were
/// merely not shown; now the cycle is named.
#[test]
fn a_map_whose_overflow_buckets_loop_says_so() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let Some(fx) = Build::new("vars").toolchain("go1.23.12").build_or_skip() else { return };
    let MadeCore { core, dir, .. } = crash(&fx, &[], &[]);
    let exe = fx.exe;
    let (c, e) = (core.to_str().unwrap(), exe.to_str().unwrap());
    let cf = CoreFile::read(&core);
    let original = &cf.bytes;
    let file_off = |a: u64| cf.file_off(a).unwrap();
    let word = |a: u64| cf.word(a).unwrap();
    let (code, js, err) = goanalyze(&[c, "--exe", e, "--print", "main.gBig", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    let p: serde_json::Value = serde_json::from_str(&js).unwrap();
    let tree: analyzer::model::Value = serde_json::from_value(p["value"].clone()).unwrap();
    let v = &tree.to_string();
    assert!(v.starts_with("map[int]int [") && v.contains(": ") && !v.contains("unreadable"), "{p}");
    let var = u64::from_str_radix(p["addr"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    // Go 1.23 amd64: hmap {count int; flags, B uint8; noverflow uint16;
    // hash0 uint32; buckets, ...}; bucket<int,int> {tophash [8]uint8;
    // keys, values [8]int; overflow *bucket}: 144 bytes, overflow at 136.
    let h = word(var);
    let b = original[file_off(h) + 9];
    assert_eq!(b, 4, "100 entries make 16 buckets");
    let buckets = word(h + 16);
    let nb = 1u64 << b;
    for (label, next) in [("self", 0u64), ("ring", 1)] {
        let mut bytes = original.clone();
        for i in 0..nb {
            let bk = buckets + 144 * i;
            let o = file_off(bk);
            bytes[o..o + 8].fill(0);
            let to = buckets + 144 * ((i + next) % nb);
            bytes[o + 136..o + 144].copy_from_slice(&to.to_le_bytes());
        }
        let bad = dir.path().join(format!("{label}.core"));
        std::fs::write(&bad, &bytes).unwrap();
        let (code, out, err) = goanalyze(&[bad.to_str().unwrap(), "--exe", e, "--print", "main.gBig"]);
        assert_eq!(code, 0, "{label}: {err}");
        assert!(out.contains("overflow buckets of bucket") && out.contains("form a cycle"), "{label}: {out}");
    }
}
