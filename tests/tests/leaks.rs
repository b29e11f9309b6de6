//! `goanalyze --leaks` and the stack roots it stands on, against
//! testdata/go/leaks: goroutines planted in known categories (leaked on an
//! unreachable channel, mutex, WaitGroup, a chain of channels; not leaked
//! on a global channel, a reachable mutex, main's live channel, a channel
//! only a runnable goroutine holds), each holding a buffer of known size.
//! The oracles: the planted ids the program prints, and with Go 1.27 the
//! runtime's own leak detector, which marks its leaks `(leaked)` in the
//! crash traceback.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use tests::bins::run_goanalyze;
use tests::fixture::Build;
use tests::producers::{self, MadeCore};
use tests::require_tools;

const LEAKED: &[&str] = &["chan", "mutex", "wg", "chain"];
const LIVE: &[&str] = &["global", "heapmu", "mainch", "relay"];

fn planted(stderr: &str) -> Result<(HashMap<String, BTreeSet<u64>>, u64)> {
    let mut ids = HashMap::new();
    for l in stderr.lines() {
        if let Some(rest) = l.strip_prefix("ids ") {
            let mut w = rest.split_whitespace();
            let cat = w.next().context("empty ids line")?.to_string();
            ids.insert(cat, w.map(|x| x.parse::<u64>()).collect::<Result<BTreeSet<u64>, _>>()?);
        }
    }
    let buf = stderr
        .lines()
        .find_map(|l| l.strip_prefix("bufsize "))
        .ok_or_else(|| anyhow!("no bufsize line:\n{stderr}"))?
        .trim()
        .parse()?;
    Ok((ids, buf))
}

fn goanalyze_json(made: &MadeCore, flag: &str) -> Result<Value> {
    let out = run_goanalyze(&[made.core.as_os_str(), OsStr::new(flag), OsStr::new("--format"), OsStr::new("json")]);
    if !out.status.success() {
        bail!("goanalyze {flag} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// The goroutines the runtime's traceback marks `(leaked)`.
fn runtime_leaked(stderr: &str) -> BTreeSet<u64> {
    stderr
        .lines()
        .filter(|l| l.starts_with("goroutine ") && l.contains(" (leaked)"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse().ok())
        .collect()
}

/// Check one core; returns a summary line.
fn check(made: &MadeCore) -> Result<String> {
    let (ids, buf) = planted(&made.stderr)?;
    let doc = goanalyze_json(made, "--leaks")?;
    let ours: BTreeSet<u64> = doc["groups"]
        .as_array()
        .context("no groups")?
        .iter()
        .flat_map(|g| g["ids"].as_array().into_iter().flatten().filter_map(Value::as_u64))
        .collect();
    let mut errs = Vec::new();
    let mut want = BTreeSet::new();
    for c in LEAKED {
        let set = ids.get(*c).with_context(|| format!("no ids for {c}"))?;
        anyhow::ensure!(!set.is_empty(), "no goroutines planted in {c}");
        let missed: Vec<_> = set.difference(&ours).collect();
        if !missed.is_empty() {
            errs.push(format!("{c}: planted leaks not found: {missed:?}"));
        }
        want.extend(set);
    }
    for c in LIVE {
        let set = ids.get(*c).with_context(|| format!("no ids for {c}"))?;
        let wrong: Vec<_> = set.intersection(&ours).collect();
        if !wrong.is_empty() {
            errs.push(format!("{c}: reachable waiters reported as leaks: {wrong:?}"));
        }
    }
    let extra: Vec<_> = ours.difference(&want).collect();
    if !extra.is_empty() {
        errs.push(format!("leaks nobody planted: {extra:?}"));
    }
    if doc["leaked"].as_u64() != Some(want.len() as u64) {
        errs.push(format!("leaked {} != {}", doc["leaked"], want.len()));
    }
    // Each leaked goroutine holds one buffer that only its stack reaches:
    // heap objects and stack frames are scanned precisely, so every buffer
    // is in the figure.
    let bytes = doc["bytes"].as_u64().unwrap_or(0);
    let floor = want.len() as u64 * buf;
    if bytes < floor {
        errs.push(format!("bytes {bytes} < the planted buffers' {floor}"));
    }
    // The groups: one per leaking function (the two goroutines of a chain
    // differ), their bytes at least their buffers.
    let groups = doc["groups"].as_array().map_or(0, Vec::len);
    if groups != 5 {
        errs.push(format!("{groups} groups, want 5 (chan, mutex, wg, the chain's two)"));
    }
    for g in doc["groups"].as_array().into_iter().flatten() {
        let n = g["count"].as_u64().unwrap_or(0);
        if g["bytes"].as_u64().unwrap_or(0) < n * buf {
            errs.push(format!("group {} holds {} bytes < {n} buffers", g["wait_reason"], g["bytes"]));
        }
    }
    // Triage carries the same figures, and one line saying what leaked.
    let out = run_goanalyze(&[made.core.as_os_str(), OsStr::new("--triage"), OsStr::new("--format"), OsStr::new("json")]);
    let rec: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let tl = &rec["leaks"];
    if rec["schema_minor"].as_u64() != Some(2) || tl["leaked"] != doc["leaked"] || tl["bytes"] != doc["bytes"] {
        errs.push(format!("triage's leaks {tl} (schema_minor {}) differ from --leaks' (leaked {}, bytes {})", rec["schema_minor"], doc["leaked"], doc["bytes"]));
    }
    let line = tl["summary"].as_str().unwrap_or("");
    let top = tl["groups"][0]["count"].as_u64().unwrap_or(0);
    let want_line = format!("{} goroutines leaked in 5 groups, retaining {} bytes; the biggest: {top} at main.", want.len(), tl["bytes"].as_u64().map(|b| b.to_string().as_bytes().rchunks(3).rev().map(|c| std::str::from_utf8(c).unwrap()).collect::<Vec<_>>().join(",")).unwrap_or_default());
    if !line.starts_with(&want_line) {
        errs.push(format!("triage's leak summary line: {line:?}"));
    }
    // The runtime's detector, when the program ran it, agrees.
    let rt = runtime_leaked(&made.stderr);
    if made.stderr.contains("goroutineleak profile:") && rt != ours {
        errs.push(format!("the runtime's (leaked) goroutines {rt:?} != ours {ours:?}"));
    }
    if !errs.is_empty() {
        bail!("{}\n{}", errs.join("\n"), serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    Ok(format!(
        "{} leaked in {} groups, {} bytes in {} objects (planted buffers {floor}); runtime oracle: {}",
        want.len(),
        doc["groups"].as_array().map_or(0, Vec::len),
        bytes,
        doc["objects"],
        if made.stderr.contains("goroutineleak profile:") { format!("{} (leaked)", rt.len()) } else { "none".into() }
    ))
}

/// Go 1.26 (the machine's toolchain): leaks found from the planted ids.
#[test]
fn planted_leaks() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("leaks").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let s = check(&made).unwrap();
    eprintln!("leaks {}: {s}", fx.go_version);

    // The text view: a header and one block per group.
    let out = run_goanalyze(&[made.core.as_os_str(), OsStr::new("--leaks")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("40 goroutines leaked ("), "{text}");
    assert!(text.contains("main.leakChan.func1()"), "{text}");
    assert!(text.contains("created by main.leakMutex\n"), "{text}");

    // Stripped: g.waiting and the sudog's fields by the Go version.
    let fx = Build::new("leaks").stripped().build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let s = check(&made).unwrap();
    eprintln!("leaks {} stripped: {s}", fx.go_version);
}

/// Before Go 1.26 a goroutine blocked on a `sync.Mutex` or `WaitGroup`
/// records its semaphore only in the runtime's semaphore table (and before
/// Go 1.24 `WaitGroup.Wait` waits as plain `semacquire`): the planted leaks
/// are all found there, none of the reachable waiters, none undecided.
#[test]
fn planted_leaks_older_toolchains() {
    require_tools!("go" => "builds the fixtures");
    let mut errs = Vec::new();
    for tc in ["go1.21.13", "go1.23.12", "go1.25.5"] {
        let fx = Build::new("leaks").toolchain(tc).build().expect("build");
        let made = producers::kernel_core(&fx.exe, &[]).expect("core");
        match check(&made) {
            Ok(s) => eprintln!("leaks {}: {s}", fx.go_version),
            Err(e) => errs.push(format!("{tc}: {e:#}")),
        }
        match goanalyze_json(&made, "--leaks") {
            Ok(doc) if doc["undecided"].as_u64() == Some(0) => {}
            Ok(doc) => errs.push(format!("{tc}: {} undecided", doc["undecided"])),
            Err(e) => errs.push(format!("{tc}: {e:#}")),
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// Go 1.27, whose runtime has the goroutine leak profile: the fixture asks
/// for it before crashing, and the runtime's `(leaked)` goroutines must be
/// exactly ours.
#[test]
fn leaks_match_runtime_detector() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("leaks").toolchain("go1.27.3").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    assert!(made.stderr.contains("goroutineleak profile: 40"), "the runtime's profile: {}", made.stderr);
    let s = check(&made).unwrap();
    eprintln!("leaks {}: {s}", fx.go_version);
}

/// The stack roots: the planted buffers are reached from a precise root of
/// the frame that holds them, named after it; precise roots lie within the
/// goroutine's live stack and find a subset of what a conservative scan of
/// `[sp, stack.hi)` finds.
#[test]
fn stack_roots_precise() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("leaks").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let (ids, _) = planted(&made.stderr).unwrap();
    let doc = goanalyze_json(&made, "--stack-roots").unwrap();
    let gs = doc.as_array().expect("an array of goroutines");
    let mut errs = Vec::new();
    let hex = |v: &Value| u64::from_str_radix(v.as_str().unwrap_or("").trim_start_matches("0x"), 16).unwrap_or(0);
    let (mut precise_frames, mut conservative_frames) = (0u64, 0u64);
    for g in gs {
        let goid = g["goid"].as_u64().unwrap_or(0);
        let (sp, hi) = (hex(&g["sp"]), hex(&g["stack_hi"]));
        let cons: BTreeSet<u64> = g["conservative_targets"].as_array().into_iter().flatten().map(hex).collect();
        precise_frames += g["frames"].as_u64().unwrap_or(0) - g["conservative_frames"].as_u64().unwrap_or(0);
        conservative_frames += g["conservative_frames"].as_u64().unwrap_or(0);
        for r in g["roots"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or("");
            if !name.starts_with(&format!("goroutine {goid} ")) && !name.starts_with(&format!("goroutine {goid}, ")) {
                errs.push(format!("goroutine {goid}: root {name:?} names another goroutine"));
            }
            let (a, n) = (hex(&r["addr"]), r["len"].as_u64().unwrap_or(0));
            // Saved registers are in the signal frame, not in the goroutine's
            // stack (registers_of_the_crashing_goroutine checks them).
            let is_frame = !name.ends_with(" g.sched.ctxt") && !name.ends_with(" defer") && !name.contains(", register ");
            if is_frame && (a < sp || a + n > hi) {
                errs.push(format!("goroutine {goid}: root {name:?} [{a:#x}, +{n:#x}) outside [sp {sp:#x}, hi {hi:#x})"));
            }
            if is_frame {
                for t in r["targets"].as_array().into_iter().flatten().map(hex) {
                    if !cons.contains(&t) {
                        errs.push(format!("goroutine {goid}: {name:?} reaches {t:#x}, which a conservative scan does not"));
                    }
                }
            }
        }
    }
    // Every planted goroutine's buffer: in a precise root of its closure's
    // frame (main.leakChan.func1, main.waitGlobal...; half of the "global"
    // waiters are relay's first goroutine), named after its variable.
    for (cat, funcs) in [
        ("chan", &["main.leakChan.func1, var buf"][..]),
        ("mutex", &["main.leakMutex.func1, var buf"]),
        ("wg", &["main.leakWaitGroup.func1, var buf"]),
        ("global", &["main.waitGlobal, var buf", "main.relay.func1, var buf"]),
        ("heapmu", &["main.waitHeapMutex, var buf"]),
    ] {
        for id in &ids[cat] {
            let Some(g) = gs.iter().find(|g| g["goid"].as_u64() == Some(*id)) else {
                errs.push(format!("{cat}: goroutine {id} has no roots entry"));
                continue;
            };
            let found = g["roots"].as_array().into_iter().flatten().any(|r| {
                let name = r["name"].as_str().unwrap_or("");
                funcs.iter().any(|f| name == format!("goroutine {id}, {f}")) && r["conservative"] == false && !r["targets"].as_array().is_none_or(Vec::is_empty)
            });
            if !found {
                errs.push(format!("{cat}: goroutine {id}: no precise root {funcs:?} pointing into the heap: {:#}", g["roots"]));
            }
        }
    }
    eprintln!("{} goroutines, {precise_frames} frames scanned precisely, {conservative_frames} conservatively", gs.len());
    assert!(precise_frames > conservative_frames * 10, "{precise_frames} precise, {conservative_frames} conservative");
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// The planted goroutines' functions, by category (the "global" waiters
/// are waitGlobal and relay's first goroutine).
const PLANTED_FUNCS: &[(&str, &[&str])] = &[
    ("chan", &["main.leakChan.func1"]),
    ("mutex", &["main.leakMutex.func1"]),
    ("wg", &["main.leakWaitGroup.func1"]),
    ("chain", &["main.leakChain.func1", "main.leakChain.func2"]),
    ("global", &["main.waitGlobal", "main.relay.func1"]),
    ("heapmu", &["main.waitHeapMutex"]),
    ("mainch", &["main.main.func1"]),
    ("relay", &["main.relay.func2"]),
];

/// Stack roots named by variable: every planted goroutine's buffer is
/// retained, exactly (one object of `bufsize` bytes), by the root
/// `goroutine N, <its function>, var buf` in `--retained`, on optimised
/// builds (Go 1.21, the machine's, 1.27) and a `-N -l` one (main's
/// package only: the standard library stays the cached optimised build) (in both, `buf` is kept in a stack slot across
/// the blocking call by runtime.KeepAlive: an optimised build could keep
/// a value that dies earlier only in a register or nowhere, which is then
/// rightly no root). Naming only regroups the words: per goroutine, the
/// scanned words are the same as with frame-area roots.
#[test]
fn stack_roots_named_by_variable() {
    require_tools!("go" => "builds the fixtures");
    let mut errs = Vec::new();
    let builds = [
        Build::new("leaks"),
        Build::new("leaks").gcflags("-N -l"),
        Build::new("leaks").toolchain("go1.21.13"),
        Build::new("leaks").toolchain("go1.27.3"),
    ];
    for b in builds {
        let fx = b.build().expect("build");
        let made = producers::kernel_core(&fx.exe, &[]).expect("core");
        let named = named_buffers(&made, &b.label(), &mut errs);
        eprintln!("{}: {named} planted buffers retained by their `var buf` roots", b.label());
        recursion_names(&made, &b.label(), &mut errs);
        if let Err(e) = same_words(&made, &fx.exe) {
            errs.push(format!("{}: {e:#}", b.label()));
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// The recursion's frames (`recurse D U`: D levels, level d holding
/// (d+1)*U bytes in `buf`) give D roots told apart by frame number,
/// `goroutine G, main.recurse (frame N), var buf`, where N is the frame's
/// place in the runtime's own traceback of G (GOTRACEBACK=crash prints
/// every frame); each retains its level's buffer exactly (errors into `errs`).
fn recursion_names(made: &MadeCore, label: &str, errs: &mut Vec<String>) {
    let (ids, _) = planted(&made.stderr).unwrap();
    let Some(&g) = ids.get("recurse").and_then(|s| s.iter().next()) else {
        errs.push(format!("{label}: no recurse goroutine planted"));
        return;
    };
    let (depth, unit): (usize, u64) = made
        .stderr
        .lines()
        .find_map(|l| {
            let mut w = l.strip_prefix("recurse ")?.split_whitespace();
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?))
        })
        .expect("recurse line");
    let tb = tests::traceback::parse(&made.stderr);
    let Some(tg) = tb.goroutines.iter().find(|x| x.id == g) else {
        errs.push(format!("{label}: goroutine {g} not in the traceback"));
        return;
    };
    let at: Vec<usize> = tg.frames.iter().enumerate().filter(|(_, f)| f.func == "main.recurse").map(|(i, _)| i).collect();
    if at.len() != depth {
        errs.push(format!("{label}: the traceback shows {} main.recurse frames of goroutine {g}, not {depth}", at.len()));
        return;
    }
    let roots = root_retention(made);
    // The innermost frame is the deepest level, with the biggest buffer.
    for (k, &n) in at.iter().enumerate() {
        let name = format!("goroutine {g}, main.recurse (frame {n}), var buf");
        let want = ((depth - k) as u64 * unit, 1);
        if roots.get(&name) != Some(&want) {
            let ours: Vec<_> = roots.iter().filter(|(r, _)| r.starts_with(&format!("goroutine {g}, "))).collect();
            errs.push(format!("{label}: {name} retains {:?}, want {want:?}; goroutine {g}'s roots: {ours:?}", roots.get(&name)));
        }
    }
    if roots.keys().any(|r| r == &format!("goroutine {g}, main.recurse, var buf")) {
        errs.push(format!("{label}: a root of goroutine {g}'s recursion is not numbered"));
    }
}

/// Every root of `--retained --top 0` by name: (retained bytes, objects).
fn root_retention(made: &MadeCore) -> HashMap<String, (u64, u64)> {
    let out = run_goanalyze(&[made.core.as_os_str(), OsStr::new("--retained"), OsStr::new("--top"), OsStr::new("0"), OsStr::new("--format"), OsStr::new("json")]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    doc["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or("").to_string(), (r["retained_bytes"].as_u64().unwrap_or(0), r["retained_objects"].as_u64().unwrap_or(0))))
        .collect()
}

/// Each planted goroutine's buffer is retained exactly by its root
/// `goroutine N, <function>, var buf` (errors into `errs`); how many are.
fn named_buffers(made: &MadeCore, label: &str, errs: &mut Vec<String>) -> usize {
    let (ids, buf) = planted(&made.stderr).unwrap();
    let roots = root_retention(made);
    let mut named = 0;
    for (cat, funcs) in PLANTED_FUNCS {
        for id in &ids[*cat] {
            let got: Vec<(&String, &(u64, u64))> =
                roots.iter().filter(|(n, _)| funcs.iter().any(|f| **n == format!("goroutine {id}, {f}, var buf"))).collect();
            match got.as_slice() {
                [(_, &v)] if v == (buf, 1) => named += 1,
                _ => errs.push(format!("{}: {cat}: goroutine {id}: roots {got:?}, want one `var buf` retaining ({buf}, 1)", label)),
            }
        }
    }
    named
}

/// Per goroutine, the words the roots named by variable scan are those the
/// frame-area roots scan (each once), and the conservative ranges are the same.
fn same_words(made: &MadeCore, exe: &std::path::Path) -> Result<()> {
    use analyzer::analysis::{Analysis, Depth};
    use analyzer::heap::stackroots::{goroutine_roots_named, ExtraLayout};
    let a = Analysis::open_with(&made.core, Some(exe), Depth::Full)?;
    let extra = ExtraLayout::for_binary(&a.bin);
    let words = |roots: &[analyzer::heap::graph::Root]| {
        let mut precise = Vec::new();
        let mut cons = Vec::new();
        for r in roots {
            match &r.mask {
                Some(m) => {
                    for i in 0..r.len / 8 {
                        if m.get((i / 8) as usize).is_some_and(|b| b >> (i % 8) & 1 != 0) {
                            precise.push(r.addr + i * 8);
                        }
                    }
                }
                None => cons.push((r.addr, r.len)),
            }
        }
        precise.sort_unstable();
        cons.sort_unstable();
        (precise, cons)
    };
    let mut split = 0usize;
    for r in &a.goroutines {
        let (named, _, _) = goroutine_roots_named(&a, r, &extra, true);
        let (areas, _, _) = goroutine_roots_named(&a, r, &extra, false);
        if words(&named) != words(&areas) {
            bail!("goroutine {}: the named roots scan other words than the frame areas:\n{named:#?}\n{areas:#?}", r.g.goid);
        }
        split += named.len().saturating_sub(areas.len());
        let dup = words(&named).0.windows(2).any(|w| w[0] == w[1]);
        anyhow::ensure!(!dup, "goroutine {}: a word is in two roots", r.g.goid);
    }
    anyhow::ensure!(split > 0, "no frame was split by variable");
    Ok(())
}

/// Stripped (no DWARF): the frame-area names of before.
#[test]
fn stack_roots_stripped_keep_area_names() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("leaks").stripped().build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let (ids, _) = planted(&made.stderr).unwrap();
    let doc = goanalyze_json(&made, "--stack-roots").unwrap();
    let gs = doc.as_array().expect("an array of goroutines");
    let mut errs = Vec::new();
    for g in gs {
        for r in g["roots"].as_array().into_iter().flatten() {
            let name = r["name"].as_str().unwrap_or("");
            if name.contains(", var ") || name.contains(", arg ") {
                errs.push(format!("stripped, yet a variable's name: {name:?}"));
            }
        }
    }
    for id in &ids["chan"] {
        let g = gs.iter().find(|g| g["goid"].as_u64() == Some(*id)).expect("planted goroutine");
        let ok = g["roots"].as_array().into_iter().flatten().any(|r| {
            let name = r["name"].as_str().unwrap_or("");
            name.starts_with(&format!("goroutine {id} main.leakChan.func1+")) && name.contains(" locals (sp+") && !r["targets"].as_array().is_none_or(Vec::is_empty)
        });
        if !ok {
            errs.push(format!("goroutine {id}: no `main.leakChan.func1+0x.. locals` root: {:#}", g["roots"]));
        }
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// linux/arm64 under qemu-aarch64 (its guest core): the same leaks, each
/// planted buffer retained by its `var buf` root, and the crashing
/// goroutine's saved registers as roots, among them x28, which Go's arm64
/// ABI keeps its `g` in (the runtime's header prints it: `gp=0x...`).
#[test]
fn leaks_and_names_arm64_qemu() {
    let tools = require_tools!("go" => "builds the fixtures", "qemu-aarch64" => "the producer");
    let fx = Build::new("leaks").arch("arm64").build().expect("build");
    let made = producers::qemu_arm64_core(&tools[1], &fx.exe, &[]).expect("core");
    let s = check(&made).unwrap();
    let mut errs = Vec::new();
    let named = named_buffers(&made, "arm64", &mut errs);
    eprintln!("leaks arm64 {}: {s}; {named} buffers retained by their `var buf` roots", fx.go_version);
    let header = made.stderr.lines().find(|l| l.starts_with("goroutine ") && l.ends_with("[running]:")).expect("the running goroutine's header");
    let w: Vec<&str> = header.split_whitespace().collect();
    let goid: u64 = w[1].parse().expect("goid");
    let gp = w.iter().find_map(|x| x.strip_prefix("gp=")).expect("gp=");
    let doc = goanalyze_json(&made, "--stack-roots").unwrap();
    let g = doc.as_array().expect("goroutines").iter().find(|g| g["goid"].as_u64() == Some(goid)).expect("the running goroutine");
    let x28 = g["roots"].as_array().into_iter().flatten().find(|r| r["name"].as_str().unwrap_or("").contains(", register x28 "));
    match x28 {
        Some(r) if r["targets"][0].as_str() == Some(gp) && r["conservative"] == true => {}
        _ => errs.push(format!("goroutine {goid}: no x28 root pointing to its g {gp}: {:#}", g["roots"])),
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}

/// Names of other kinds of variables (testdata/go/vars, main built `-N -l`): one that
/// escaped to the heap (DWARF's `&moved`, a pointer to it in the frame) is
/// `var moved` and reaches its heap copy; a generic function's parameter
/// is named under the function as the traceback prints it (`[...]`).
#[test]
fn stack_roots_named_escaped_and_generic() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("vars").gcflags("-N -l").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &["crash"]).expect("core");
    let doc = goanalyze_json(&made, "--stack-roots").unwrap();
    let roots: Vec<&Value> = doc.as_array().expect("goroutines").iter().flat_map(|g| g["roots"].as_array().into_iter().flatten()).collect();
    let find = |suffix: &str| roots.iter().find(|r| r["name"].as_str().is_some_and(|n| n.ends_with(suffix))).copied();
    let moved = find(", main.holdLocals, var moved").unwrap_or_else(|| panic!("no `var moved` root: {roots:#?}"));
    assert!(moved["conservative"] == false && !moved["targets"].as_array().is_none_or(Vec::is_empty), "{moved}");
    assert!(find(", main.genericHold[...], arg label").is_some(), "no `main.genericHold[...], arg label` root: {roots:#?}");
}
