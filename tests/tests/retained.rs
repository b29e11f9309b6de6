//! `goanalyze --retained`, `--path` and `--retained --format pprof`
//! against testdata/go/retain, whose package variables hold structures of
//! known retained size (printed by the program itself from the sizes it
//! allocated, every type one exact size class): a list, a cycle, a tree, a
//! map of entries, and one slice backing array held by two variables,
//! which neither retains. The core is the kernel's.

use std::collections::HashMap;
use std::ffi::OsStr;

use anyhow::{anyhow, Result};
use serde_json::Value;
use tests::bins::run_goanalyze;
use tests::fixture::Build;
use tests::producers::{self, MadeCore};
use tests::require_tools;

/// `name value name value ...` after `tag` on the line starting with it
/// (values decimal or 0x hex).
fn fields(stderr: &str, tag: &str) -> Result<HashMap<String, u64>> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("{tag} ")))
        .ok_or_else(|| anyhow!("no {tag:?} line in the fixture's stderr:\n{stderr}"))?;
    let w: Vec<&str> = line.split_whitespace().skip(1).collect();
    w.chunks(2)
        .map(|c| {
            let v = c.get(1).ok_or_else(|| anyhow!("odd line {line:?}"))?;
            let n = match v.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16)?,
                None => v.parse()?,
            };
            Ok((c[0].to_string(), n))
        })
        .collect()
}

fn goanalyze(args: &[&OsStr]) -> Vec<u8> {
    let out = run_goanalyze(args);
    assert!(out.status.success(), "goanalyze {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn path_of(made: &MadeCore, addr: u64) -> Value {
    let a = format!("{addr:#x}");
    let out = goanalyze(&[made.core.as_os_str(), OsStr::new("--path"), OsStr::new(&a), OsStr::new("--format"), OsStr::new("json")]);
    serde_json::from_slice(&out).expect("--path JSON")
}

fn retained_json(made: &MadeCore) -> (Value, Vec<u8>) {
    let out = goanalyze(&[made.core.as_os_str(), OsStr::new("--retained"), OsStr::new("--top"), OsStr::new("0"), OsStr::new("--format"), OsStr::new("json")]);
    (serde_json::from_slice(&out).expect("JSON"), out)
}

fn root_totals(doc: &Value) -> HashMap<String, (u64, u64)> {
    doc["roots"]
        .as_array()
        .expect("roots")
        .iter()
        .map(|r| (r["name"].as_str().unwrap_or("").to_string(), (r["retained_bytes"].as_u64().unwrap_or(0), r["retained_objects"].as_u64().unwrap_or(0))))
        .collect()
}

/// `go tool pprof -top`'s cumulative bytes by frame name.
fn pprof_cum(made: &MadeCore) -> (HashMap<String, u64>, String) {
    let prof = made.dir.path().join("retained.pb.gz");
    goanalyze(&[made.core.as_os_str(), OsStr::new("--retained"), OsStr::new("--format"), OsStr::new("pprof"), OsStr::new("-o"), prof.as_os_str()]);
    let top = std::process::Command::new("go")
        .args(["tool", "pprof", "-top", "-nodecount=100000", "-nodefraction=0", "-edgefraction=0", "-sample_index=retained_space", "-unit=B"])
        .arg(&prof)
        .output()
        .expect("go tool pprof");
    assert!(top.status.success(), "{}", String::from_utf8_lossy(&top.stderr));
    let text = String::from_utf8_lossy(&top.stdout).into_owned();
    // `flat flat% sum% cum cum% name`, bytes as `320000B`.
    let cum = text
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            (w.len() == 6).then(|| Some((w[5].to_string(), w[3].strip_suffix('B')?.parse().ok()?))).flatten()
        })
        .collect();
    (cum, text)
}

#[test]
fn retained_sizes_paths_and_profile() {
    require_tools!("go" => "builds the fixture and reads the profile");
    let fx = Build::new("retain").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let expect = fields(&made.stderr, "expect").unwrap();
    let objects = fields(&made.stderr, "objects").unwrap();
    let addr = fields(&made.stderr, "addr").unwrap();
    let (doc, out) = retained_json(&made);
    assert_eq!(doc["schema"], "goanalyze.retained");
    let roots = root_totals(&doc);
    let root = |n: &str| roots.get(n).copied().unwrap_or((0, 0));
    // Tree-shaped retention: exact. (main.list: see `list_exact` below.)
    // `*main.boxed`: the symbol-less static that `boxed = &holder{...}`
    // points to, one root named after the variable (not `data+0x...`);
    // `*main.boxedB` likewise, though its pointer word continues boxed's.
    let mut errs = Vec::new();
    for name in ["main.ring", "main.tree", "*main.boxed", "*main.boxedB"] {
        if root(name) != (expect[name], objects[name]) {
            errs.push(format!("{name}: retains {:?}, the program allocated {:?}", root(name), (expect[name], objects[name])));
        }
    }
    // The shared backing array (and its leaves): retained by neither slice.
    for name in ["main.sharedA", "main.sharedB"] {
        if root(name).0 != 0 {
            errs.push(format!("{name}: retains {:?}, want 0 (the array is shared)", root(name)));
        }
    }
    // The map: its entries and buffers exactly, plus the runtime's tables
    // (a presized map of 1000 8-byte keys and values: tens of KiB).
    let (cb, co) = root("main.cache");
    if cb < expect["cache_entries"] || cb > expect["cache_entries"] + 64 * 1024 || co < objects["cache_entries"] || co > objects["cache_entries"] + 64 {
        errs.push(format!("main.cache: retains {:?}, entries alone {:?}", (cb, co), (expect["cache_entries"], objects["cache_entries"])));
    }
    let objs = doc["objects"].as_array().expect("objects");
    let obj = |a: u64| objs.iter().find(|o| o["addr"].as_str() == Some(&format!("{a:#x}")));
    match obj(addr["shared_array"]) {
        Some(o) => {
            if o["retained_bytes"].as_u64() != Some(expect["shared"]) || o["held_by_several_roots"] != true {
                errs.push(format!("shared array: {o}, want {} bytes held by several roots", expect["shared"]));
            }
        }
        None => errs.push("the shared array is not among the objects".into()),
    }
    if doc["summary"]["shared_bytes"].as_u64().unwrap_or(0) < expect["shared"] {
        errs.push(format!("summary {} counts less shared than the array", doc["summary"]));
    }
    // A subtree of the tree: its dominator is the tree's root node, then main.tree.
    match obj(addr["tree.left"]) {
        Some(o) => {
            let d = o["dominators"].as_array().cloned().unwrap_or_default();
            if o["retained_bytes"].as_u64() != Some(addr["subtree"]) || o["type"] != "main.tnode" || d.len() != 2 || d[1]["root"] != "main.tree" {
                errs.push(format!("tree.left: {o}, want {} bytes, dominated by the root node then main.tree", addr["subtree"]));
            }
        }
        None => errs.push("tree.left is not among the objects".into()),
    }
    assert!(errs.is_empty(), "{}\n{}", errs.join("\n"), String::from_utf8_lossy(&out));

    // Paths name the fields, the map's values and the indexes.
    let p = path_of(&made, addr["tree.left.right"]);
    assert_eq!(p["path"], "main.tree -> .left -> .right", "{p}");
    let p = path_of(&made, addr["entry7buf"]);
    assert_eq!(p["path"], "main.cache -> map value -> .buf", "{p}");
    let p = path_of(&made, addr["leaf"]);
    let s = p["path"].as_str().unwrap_or("");
    assert!(s == "main.sharedA -> [3]" || s == "main.sharedB -> [3]", "{p}");

    // The profile: `go tool pprof` sums each root's samples to what it retains.
    let (cum, text) = pprof_cum(&made);
    for name in ["main.ring", "main.tree"] {
        assert_eq!(cum.get(name).copied(), Some(expect[name]), "{name} in\n{text}");
    }
    assert_eq!(cum.get("main.cache").copied(), Some(cb), "main.cache in\n{text}");
    assert!(cum.get("$shared").copied().unwrap_or(0) >= expect["shared"], "$shared in\n{text}");
}

/// The list's 5000 nodes, exactly. A conservative scan gets this wrong: on
/// Go 1.26 the runtime's `p` structs hold span and page addresses in
/// non-pointer words (`pcache.base`, `gcw.spanq.ring`), which it takes for
/// pointers into the list; the precise scan (pointer bitmaps, malloc
/// headers, stack maps) does not.
#[test]
fn list_exact() {
    require_tools!("go" => "builds the fixture and reads the profile");
    let fx = Build::new("retain").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let expect = fields(&made.stderr, "expect").unwrap();
    let objects = fields(&made.stderr, "objects").unwrap();
    let (doc, out) = retained_json(&made);
    let roots = root_totals(&doc);
    let got = roots.get("main.list").copied().unwrap_or((0, 0));
    assert_eq!(got, (expect["main.list"], objects["main.list"]), "{}", String::from_utf8_lossy(&out));
    // The list's first node is reached through every other.
    let addr = fields(&made.stderr, "addr").unwrap();
    let p = path_of(&made, addr["listlast"]);
    let s = p["path"].as_str().unwrap_or("");
    assert!(s.starts_with("main.list -> .next"), "{}", &s[..s.len().min(200)]);
    assert_eq!(s.matches(" -> .next").count(), objects["main.list"] as usize - 1, "{}", &s[..s.len().min(200)]);
    let (cum, text) = pprof_cum(&made);
    assert_eq!(cum.get("main.list").copied(), Some(expect["main.list"]), "main.list in\n{text}");
}

/// A running goroutine's registers: the crashing goroutine was stopped by
/// a signal, whose frame saved its registers; each that points into a
/// heap object is a conservative root `goroutine 1, <func>, register R`.
/// The oracle: Go's ABI keeps the running goroutine's `g` in r14 (amd64),
/// and the runtime's own traceback header prints it (`gp=0x...`).
#[test]
fn registers_of_the_crashing_goroutine() {
    require_tools!("go" => "builds the fixture");
    let fx = Build::new("retain").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let header = made.stderr.lines().find(|l| l.starts_with("goroutine ") && l.ends_with("[running]:")).expect("the running goroutine's header");
    let w: Vec<&str> = header.split_whitespace().collect();
    let goid: u64 = w[1].parse().expect("goid");
    let gp = w.iter().find_map(|x| x.strip_prefix("gp=")).expect("gp=");
    let out = goanalyze(&[made.core.as_os_str(), OsStr::new("--stack-roots"), OsStr::new("--format"), OsStr::new("json")]);
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    let g = doc.as_array().expect("goroutines").iter().find(|g| g["goid"].as_u64() == Some(goid)).expect("the crashing goroutine");
    let regs: Vec<&Value> = g["roots"].as_array().expect("roots").iter().filter(|r| r["name"].as_str().unwrap_or("").contains(", register ")).collect();
    assert!(!regs.is_empty(), "no register roots: {g:#}");
    for r in &regs {
        let name = r["name"].as_str().unwrap_or("");
        assert!(name.starts_with(&format!("goroutine {goid}, ")) && name.ends_with(" (conservative)"), "{name}");
        assert_eq!((r["conservative"].as_bool(), r["len"].as_u64()), (Some(true), Some(8)), "{r}");
        assert!(!r["targets"].as_array().is_none_or(Vec::is_empty), "a register root points nowhere: {r}");
    }
    let r14 = regs.iter().find(|r| r["name"].as_str().unwrap_or("").contains(", register r14 ")).unwrap_or_else(|| panic!("no r14 root: {regs:#?}"));
    assert_eq!(r14["targets"][0].as_str(), Some(gp), "r14 is the running g ({header}): {r14}");
    // Only running goroutines have them.
    for other in doc.as_array().expect("goroutines") {
        if other["goid"].as_u64() != Some(goid) {
            assert!(!other["roots"].to_string().contains(", register "), "goroutine {} is not running: {other:#}", other["goid"]);
        }
    }
}

/// Goroutines running when gdb's gcore stopped the process: their
/// registers are only in the core's thread notes, and each that points
/// into a heap object is a conservative root holding the value itself
/// (address 0). The oracle is the same as above: Go's ABI keeps the
/// running `g` in r14 (amd64), and the runtime's SIGQUIT traceback, taken
/// after the dump, prints each goroutine's `gp=`.
#[test]
fn registers_of_running_goroutines_from_thread_notes() {
    let tools = require_tools!("go" => "builds the fixture", "gcore" => "dumps the live process");
    let fx = Build::new("busy").build().expect("build");
    let live = producers::LiveProcess::start(&fx.exe, &[]).expect("start");
    let made = producers::gcore(&tools[1], live.pid).expect("gcore");
    let tb = live.sigquit_traceback().expect("traceback");
    // goid -> gp, from the headers (`goroutine 6 gp=0xc000007180 m=3 mp=... [running]:`).
    let gp: HashMap<u64, String> = tb
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.strip_prefix("goroutine ")?.split_whitespace().collect();
            Some((w.first()?.parse().ok()?, w.iter().find_map(|x| x.strip_prefix("gp="))?.to_string()))
        })
        .collect();
    assert!(!gp.is_empty(), "no gp= in the traceback:\n{tb}");
    let out = goanalyze(&[made.core.as_os_str(), OsStr::new("--exe"), fx.exe.as_os_str(), OsStr::new("--stack-roots"), OsStr::new("--format"), OsStr::new("json")]);
    let doc: Value = serde_json::from_slice(&out).expect("JSON");
    let mut running = 0;
    for g in doc.as_array().expect("goroutines") {
        let goid = g["goid"].as_u64().expect("goid");
        let regs: Vec<&Value> = g["roots"].as_array().expect("roots").iter().filter(|r| r["name"].as_str().unwrap_or("").contains(", register ")).collect();
        if regs.is_empty() {
            continue;
        }
        running += 1;
        for r in &regs {
            let name = r["name"].as_str().unwrap_or("");
            assert!(name.starts_with(&format!("goroutine {goid}, main.spin, register ")) && name.ends_with(" (conservative)"), "{name}");
            assert_eq!((r["addr"].as_str(), r["len"].as_u64(), r["conservative"].as_bool()), (Some("0x0"), Some(8), Some(true)), "{r}");
            assert!(!r["targets"].as_array().is_none_or(Vec::is_empty), "a register root points nowhere: {r}");
        }
        let r14 = regs.iter().find(|r| r["name"].as_str().unwrap_or("").contains(", register r14 ")).unwrap_or_else(|| panic!("no r14 root: {regs:#?}"));
        let want = gp.get(&goid).unwrap_or_else(|| panic!("goroutine {goid} is not in the traceback:\n{tb}"));
        assert_eq!(r14["targets"][0].as_str(), Some(want.as_str()), "r14 of goroutine {goid}: {r14}");
    }
    // The two spinners, unless the machine has one CPU for them.
    assert!(running >= 1, "no goroutine with register roots: {doc:#}");
}
