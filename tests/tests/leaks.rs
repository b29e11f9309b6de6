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
            if !name.starts_with(&format!("goroutine {goid} ")) {
                errs.push(format!("goroutine {goid}: root {name:?} names another goroutine"));
            }
            let (a, n) = (hex(&r["addr"]), r["len"].as_u64().unwrap_or(0));
            let is_frame = !name.ends_with(" g.sched.ctxt") && !name.ends_with(" defer");
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
    // Every planted goroutine's buffer: in a precise locals root of its
    // closure's frame (main.leakChan.func1, main.waitGlobal...; half of the
    // "global" waiters are relay's first goroutine).
    for (cat, funcs) in [
        ("chan", &["main.leakChan.func1+"][..]),
        ("mutex", &["main.leakMutex.func1+"]),
        ("wg", &["main.leakWaitGroup.func1+"]),
        ("global", &["main.waitGlobal+", "main.relay.func1+"]),
        ("heapmu", &["main.waitHeapMutex+"]),
    ] {
        for id in &ids[cat] {
            let Some(g) = gs.iter().find(|g| g["goid"].as_u64() == Some(*id)) else {
                errs.push(format!("{cat}: goroutine {id} has no roots entry"));
                continue;
            };
            let found = g["roots"].as_array().into_iter().flatten().any(|r| {
                let name = r["name"].as_str().unwrap_or("");
                funcs.iter().any(|f| name.contains(&format!(" {f}"))) && name.contains(" locals") && r["conservative"] == false && !r["targets"].as_array().is_none_or(Vec::is_empty)
            });
            if !found {
                errs.push(format!("{cat}: goroutine {id}: no precise locals root of {funcs:?} pointing into the heap: {:#}", g["roots"]));
            }
        }
    }
    eprintln!("{} goroutines, {precise_frames} frames scanned precisely, {conservative_frames} conservatively", gs.len());
    assert!(precise_frames > conservative_frames * 10, "{precise_frames} precise, {conservative_frames} conservative");
    assert!(errs.is_empty(), "{}", errs.join("\n"));
}
