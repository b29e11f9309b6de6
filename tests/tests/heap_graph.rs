//! The object graph's precise pointer scan (analyzer heap/pointers.rs,
//! heap/graph.rs) against facts the Go runtime wrote: testdata/go/ptrs
//! plants a linked list, objects holding heap addresses in `uintptr`
//! fields (not pointers to the collector) in each allocation path, globals
//! of both kinds and an unreachable object with a finalizer, and prints
//! their addresses; the precise graph must see exactly the pointers, a
//! conservative one also the uintptrs. On heapobjs cores, every precise
//! edge must also be a conservative one.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use analyzer::heap::graph::{Graph, NodeId, RootKind};
use analyzer::heap::paths::edge_offsets;
use analyzer::heap::{pointers, Heap};
use anyhow::{anyhow, bail, Context, Result};
use tests::fixture::Build;
use tests::producers;
use tests::require_tools;

/// `name value ...` after `tag` on the line starting with it.
fn fields(stderr: &str, tag: &str) -> Result<HashMap<String, u64>> {
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("{tag} ")))
        .ok_or_else(|| anyhow!("no {tag:?} line in the fixture's stderr:\n{stderr}"))?;
    let w: Vec<&str> = line.split_whitespace().skip(1).collect();
    w.chunks(2).map(|c| Ok((c[0].to_string(), c.get(1).context("odd line")?.parse::<u64>()?))).collect()
}

struct Loaded {
    a: analyzer::analysis::Analysis,
    heap: Heap,
}

fn load(core: &Path, exe: &Path) -> Result<Loaded> {
    let a = analyzer::analysis::Analysis::open_with(core, Some(exe), analyzer::analysis::Depth::NotRead)?;
    let heap = Heap::read(&a.bin, a.mem(), a.bias)?;
    Ok(Loaded { a, heap })
}

fn succ_set(g: &Graph, n: NodeId) -> HashSet<NodeId> {
    g.succ(n).iter().copied().collect()
}

/// Every edge of `p` is an edge of `c` (same roots, same objects).
fn subset(p: &Graph, c: &Graph) -> Result<()> {
    if p.node_count() != c.node_count() {
        bail!("node counts differ: {} vs {}", p.node_count(), c.node_count());
    }
    for n in 0..p.node_count() as NodeId {
        let cs = succ_set(c, n);
        if let Some(m) = p.succ(n).iter().find(|m| !cs.contains(m)) {
            bail!("precise edge {n} -> {m} is not a conservative edge");
        }
    }
    Ok(())
}

fn check_ptrs(made: &producers::MadeCore, exe: &Path) -> Result<String> {
    let f = fields(&made.stderr, "ptrs")?;
    let l = load(&made.core, exe)?;
    let mem = l.a.mem();
    let (roots, rw) = pointers::runtime_roots(&l.a.bin, mem, l.a.bias, &l.heap);
    if !rw.is_empty() {
        bail!("root warnings: {rw:?}");
    }
    let g = Graph::build(&l.heap, mem, roots.clone());
    let c = Graph::build_conservative(&l.heap, mem, roots);
    subset(&g, &c)?;
    let idx = &l.heap.objects;
    let node = |name: &str| -> Result<NodeId> {
        let addr = f[name];
        let id = idx.find(addr).ok_or_else(|| anyhow!("{name} {addr:#x} is not a heap object"))?;
        Ok(g.node(id))
    };
    let mut errs = Vec::new();
    // Nothing of the fixture's own is scanned conservatively.
    let guessed = (0..idx.len() as u32).filter(|i| g.is_conservative(*i)).count();
    if guessed > 0 {
        errs.push(format!("{guessed} objects scanned conservatively; warnings {:?}", g.warnings));
    }
    // The list: following the graph from the head visits exactly nList
    // nodes, each with one edge to the next, the last with none.
    let n_list = f["list"] as usize;
    let mut at = node("head")?;
    let mut seen = 1;
    loop {
        let s = g.succ(at);
        match s {
            [] => break,
            [next] => {
                at = *next;
                seen += 1;
                if seen > n_list + 1 {
                    break;
                }
            }
            _ => {
                errs.push(format!("list node {at} has {} edges: {s:?}", s.len()));
                break;
            }
        }
    }
    if seen != n_list {
        errs.push(format!("list: {seen} nodes by the graph, planted {n_list}"));
    }
    // Holders: the real pointer is an edge, the uintptr is not, except
    // to the conservative scan; edge_offsets finds the field.
    for (h, hid, real) in [("small", "hid0", "real0"), ("medium", "hid1", "real1"), ("large", "hid2", "real2")] {
        let (hn, hidn, realn) = (node(h)?, node(hid)?, node(real)?);
        let ps = succ_set(&g, hn);
        let cs = succ_set(&c, hn);
        if !ps.contains(&realn) {
            errs.push(format!("{h}: precise graph lacks the pointer to {real}"));
        }
        if ps.contains(&hidn) {
            errs.push(format!("{h}: precise graph follows the uintptr to {hid}"));
        }
        if !cs.contains(&hidn) {
            errs.push(format!("{h}: conservative graph does not follow the uintptr to {hid}"));
        }
        // The field `real` is at 8 in the value, which Go printed; a
        // malloc header (Go 1.22+, over 512 bytes) comes before it.
        let want = f[h] + 8 - idx.base(g.object(hn).unwrap());
        let offs = edge_offsets(&l.heap, mem, &g, hn, realn);
        if offs != [want] {
            errs.push(format!("{h}: edge_offsets to {real} = {offs:?}, want [{want}]"));
        }
    }
    // Globals: ptrGlobal is a root pointing to its target; uintGlobal is
    // no root, and nothing precise points to the object only it holds
    // (keep, a []unsafe.Pointer, holds the backing array's pointer to it).
    let root = |name: &str| g.roots.iter().position(|r| r.name == name);
    match root("main.ptrGlobal") {
        Some(r) if g.succ(r as NodeId) == [node("ptrglobal")?] && g.roots[r].kind == RootKind::Global && !g.roots[r].conservative() => {}
        Some(r) => errs.push(format!("main.ptrGlobal root {:?} has edges {:?}", g.roots[r], g.succ(r as NodeId))),
        None => errs.push("no root main.ptrGlobal".into()),
    }
    if let Some(r) = root("main.uintGlobal") {
        errs.push(format!("main.uintGlobal (a uintptr) is a root: {:?}", g.roots[r]));
    }
    let only = node("uintonly")?;
    let from_roots: Vec<&str> = (0..g.roots.len()).filter(|r| g.succ(*r as NodeId).contains(&only)).map(|r| g.roots[r].name.as_str()).collect();
    if !from_roots.is_empty() {
        errs.push(format!("roots {from_roots:?} point to the object only a uintptr global holds"));
    }
    // The premise: the uintptr global does hold the address.
    match l.a.bin.symbol("main.uintGlobal") {
        Some(s) if mem.u64(s.wrapping_add(l.a.bias)).ok() == Some(f["uintonly"]) => {}
        s => errs.push(format!("main.uintGlobal at {s:?} does not hold {:#x}", f["uintonly"])),
    }
    // The finalizer: the finalized object is not a root's target (the
    // runtime does not mark it), its referent is.
    let (fin, finref) = (node("fin")?, node("finref")?);
    let fin_roots: Vec<usize> = (0..g.roots.len()).filter(|r| g.roots[*r].kind == RootKind::Finalizer).collect();
    if !fin_roots.iter().any(|r| g.succ(*r as NodeId).contains(&finref)) {
        errs.push(format!("no finalizer root reaches the finalized object's referent; finalizer roots: {:?}", fin_roots.iter().map(|r| &g.roots[*r].name).collect::<Vec<_>>()));
    }
    if fin_roots.iter().any(|r| g.succ(*r as NodeId).contains(&fin)) {
        errs.push("a finalizer root points to the finalized object itself".into());
    }
    if !errs.is_empty() {
        bail!("{}", errs.join("\n"));
    }
    Ok(format!("{} objects, {} edges precise, {} conservative, {} roots", idx.len(), g.edges.len(), c.edges.len(), g.roots.len()))
}

/// Go 1.21 (arena bitmap), 1.22 to 1.24 (heap bits, headers, largeType),
/// 1.25 (without Green Tea), the machine's 1.26 and 1.27 (Green Tea's span
/// layout).
#[test]
fn precise_pointers_planted() {
    require_tools!("go" => "builds the fixtures");
    let mut builds = vec![Build::new("ptrs")];
    for v in ["go1.21.13", "go1.22.12", "go1.23.12", "go1.24.11", "go1.25.5", "go1.27.3"] {
        builds.push(Build::new("ptrs").toolchain(v));
    }
    builds.push(Build::new("ptrs").stripped());
    let mut failures = Vec::new();
    for b in builds {
        let r = b.build().and_then(|fx| {
            let made = producers::kernel_core(&fx.exe, &[])?;
            if b.stripped {
                // Stripped: no symbol names the globals; the masks still hold.
                let l = load(&made.core, &fx.exe)?;
                let (roots, w) = pointers::runtime_roots(&l.a.bin, l.a.mem(), l.a.bias, &l.heap);
                if !w.is_empty() || roots.iter().any(|r| r.kind == RootKind::Global && r.conservative()) {
                    bail!("stripped: globals not precise: {w:?}");
                }
                let g = Graph::build(&l.heap, l.a.mem(), roots.clone());
                subset(&g, &Graph::build_conservative(&l.heap, l.a.mem(), roots))?;
                return Ok(format!("{} roots", g.roots.len()));
            }
            check_ptrs(&made, &fx.exe)
        });
        match r {
            Ok(s) => eprintln!("{:<40} ok: {s}", b.label()),
            Err(e) => failures.push(format!("{}: {e:#}", b.label())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// heapobjs (lists, maps, strings, closures, large objects): precise edges
/// are conservative edges, and its 10007-node list of main.small is found.
#[test]
fn precise_subset_of_conservative_heapobjs() {
    require_tools!("go" => "builds the fixtures");
    let mut failures = Vec::new();
    for b in [Build::new("heapobjs"), Build::new("heapobjs").toolchain("go1.21.13"), Build::new("heapobjs").toolchain("go1.27.3")] {
        let r = b.build().and_then(|fx| {
            let made = producers::kernel_core(&fx.exe, &[])?;
            let l = load(&made.core, &fx.exe)?;
            let (roots, _) = pointers::runtime_roots(&l.a.bin, l.a.mem(), l.a.bias, &l.heap);
            let g = Graph::build(&l.heap, l.a.mem(), roots.clone());
            let c = Graph::build_conservative(&l.heap, l.a.mem(), roots);
            subset(&g, &c)?;
            // main.small objects' edges among themselves: the list's n-1.
            let idx = &l.heap.objects;
            let is_small: Vec<bool> = (0..idx.len() as u32).map(|i| l.heap.type_label(i) == "main.small").collect();
            let n_small = is_small.iter().filter(|s| **s).count();
            let links = (0..idx.len() as u32)
                .filter(|i| is_small[*i as usize])
                .map(|i| g.succ(g.node(i)).iter().filter(|m| g.object(**m).is_some_and(|o| is_small[o as usize])).count())
                .sum::<usize>();
            if n_small > 0 && links != n_small - 1 {
                bail!("{n_small} main.small objects with {links} edges among them, want {}", n_small - 1);
            }
            Ok(format!("{} edges precise, {} conservative; {n_small} main.small, {links} links", g.edges.len(), c.edges.len()))
        });
        match r {
            Ok(s) => eprintln!("{:<40} ok: {s}", b.label()),
            Err(e) => failures.push(format!("{}: {e:#}", b.label())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `--retained` types only the objects it prints, walking their dominator
/// chains (Heap::type_chains); the names must be those the whole heap's
/// typing (Heap::read) gives, on the retain fixture (a list, a ring, a
/// tree, a map of entries with buffers, shared objects).
#[test]
fn chain_typing_matches_whole_typing() {
    use analyzer::heap::retained::Retention;
    require_tools!("go" => "builds the fixture");
    let fx = Build::new("retain").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let whole = load(&made.core, &fx.exe).expect("heap");
    let a = &whole.a;
    let mut h = Heap::read_untyped(&a.bin, a.mem(), a.bias).expect("heap");
    assert!(h.typing.types.is_empty() && !h.typing.complete);
    let (roots, _) = pointers::runtime_roots(&a.bin, a.mem(), a.bias, &h);
    let g = Graph::build(&h, a.mem(), roots);
    let ret = Retention::compute(&g, &h.objects);
    // The objects a --top 500 listing prints (those held by several roots
    // too), then those that point to the ones left untyped.
    let chains: Vec<Vec<u32>> = ret.printed_chains(&g, &h.objects, 500);
    let mut budget = 100_000;
    let mut holders = 0;
    h.type_chains(&a.bin, a.mem(), a.bias, &[], &chains, |ids| {
        let c = ret.holder_chains(&g, ids, &mut budget);
        holders += c.as_ref().map_or(0, Vec::len);
        c
    });
    assert!(!h.typing.complete, "the chains could not be typed alone: the whole heap was typed");
    let (mut by_pointer, mut errs) = (0, Vec::new());
    for &id in chains.iter().flatten() {
        let (got, want) = (h.type_label(id), whole.heap.type_label(id));
        if got != want {
            errs.push(format!("{:#x}: {got:?}, the whole typing says {want:?}", h.objects.user_addr(id)));
        }
        let e = h.typing.types[id as usize] as usize;
        by_pointer += usize::from(h.typing.entries[e].source == analyzer::heap::types::TypeSource::Pointer);
    }
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    // Not only what malloc headers say: the list's and tree's small nodes.
    assert!(by_pointer > 0, "no object typed by a pointer along the chains");
    eprintln!("{} chains, {} objects, {by_pointer} typed by pointers, {holders} holders' chains", chains.len(), chains.iter().map(Vec::len).sum::<usize>());
}

/// A core cut short: the graph is built with warnings, or the heap is
/// refused with an error; never a panic.
#[test]
fn truncated_core_graph_is_not_a_panic() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("ptrs").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &[]).expect("core");
    let data = std::fs::read(&made.core).unwrap();
    let mut built = 0;
    for frac in [0.3, 0.6, 0.9] {
        let cut = made.dir.path().join(format!("cut{frac}.core"));
        std::fs::write(&cut, &data[..(data.len() as f64 * frac) as usize]).unwrap();
        let Ok(l) = load(&cut, &fx.exe) else { continue };
        let (roots, rw) = pointers::runtime_roots(&l.a.bin, l.a.mem(), l.a.bias, &l.heap);
        let g = Graph::build(&l.heap, l.a.mem(), roots);
        let warned = !rw.is_empty() || !g.warnings.is_empty() || !l.heap.warnings.is_empty();
        assert!(warned, "{frac}: a cut core's graph built without a warning");
        built += 1;
    }
    eprintln!("{built} of 3 cut cores gave a graph (with warnings), the others an error");

    // The heap's metadata intact but half of its objects' memory missing
    // (a cut core loses the spans first, which are mapped above the heap).
    let l = load(&made.core, &fx.exe).unwrap();
    let idx = &l.heap.objects;
    let mid = idx.base(idx.len() as u32 / 2);
    let holey = Holey { inner: l.a.mem(), lo: mid, hi: idx.spans.last().unwrap().end() };
    let (roots, _) = pointers::runtime_roots(&l.a.bin, &holey, l.a.bias, &l.heap);
    let g = Graph::build(&l.heap, &holey, roots);
    assert!(g.warnings.iter().any(|w| matches!(w, analyzer::Warning::ObjectsNotInCore { .. })), "{:?}", g.warnings);
}

/// Memory with a hole: reads touching `[lo, hi)` fail.
struct Holey<'a> {
    inner: &'a dyn analyzer::memory::Memory,
    lo: u64,
    hi: u64,
}

impl analyzer::memory::Memory for Holey<'_> {
    fn read(&self, addr: u64, buf: &mut [u8]) -> analyzer::error::Result<()> {
        if addr < self.hi && addr + buf.len() as u64 > self.lo {
            return Err(analyzer::error::Error::Other(format!("hole at {addr:#x}")));
        }
        self.inner.read(addr, buf)
    }
}

/// The graph of heapobjs' benchmark heap (11 million objects; a 700 MB
/// core): how long the precise and conservative builds take. Not in CI
/// (`cargo test -p tests --test heap_graph -- --ignored`); figures in
/// docs/BENCHMARKS.md.
#[test]
#[ignore]
fn graph_bench_11m() {
    let fx = Build::new("heapobjs").build().expect("build");
    let made = producers::kernel_core(&fx.exe, &["bench"]).expect("core");
    let t = std::time::Instant::now();
    let l = load(&made.core, &fx.exe).unwrap();
    let t_heap = t.elapsed();
    let t = std::time::Instant::now();
    let (roots, _) = pointers::runtime_roots(&l.a.bin, l.a.mem(), l.a.bias, &l.heap);
    let t_roots = t.elapsed();
    let t = std::time::Instant::now();
    let g = Graph::build(&l.heap, l.a.mem(), roots.clone());
    let t_precise = t.elapsed();
    let t = std::time::Instant::now();
    let c = Graph::build_conservative(&l.heap, l.a.mem(), roots);
    let t_cons = t.elapsed();
    eprintln!(
        "{} objects; heap read {t_heap:.2?}; roots {} in {t_roots:.2?}; precise graph {} edges in {t_precise:.2?} ({} MB of arrays); conservative {} edges in {t_cons:.2?}; warnings {:?}",
        l.heap.objects.len(),
        g.roots.len(),
        g.edges.len(),
        (g.edges.len() * 4 + g.first.len() * 8) >> 20,
        c.edges.len(),
        g.warnings
    );
}
