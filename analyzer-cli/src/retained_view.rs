//! `--retained` (who keeps the memory alive: roots and objects by retained
//! bytes, with their dominator chains), `--path 0xADDR` (a shortest
//! reference path from a root) and `--retained --format pprof` (retained
//! memory by reference path). The analysis is the library's
//! (analyzer::heap::{graph, dominators, retained, paths}); this formats it.

use std::collections::HashMap;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use analyzer::output::with_commas;
use analyzer::heap::dominators::{SUPER_ROOT, UNREACHABLE};
use analyzer::heap::graph::{Graph, NodeId, RootKind};
use analyzer::heap::paths::{self, Namer};
use analyzer::heap::retained::Retention;
use analyzer::heap::Heap;
use analyzer::Analysis;

/// Dominators shown per object.
const CHAIN: usize = 6;

pub struct Retained {
    pub heap: Heap,
    pub graph: Graph,
    pub ret: Retention,
    pub warnings: Vec<analyzer::Warning>,
}

/// Which objects' types an output prints.
#[derive(Clone, Copy)]
pub enum Types {
    /// Those `--retained --top N` lists (and their dominators).
    Top(usize),
    /// Any object's (a path's steps, the profile's frames).
    All,
}

pub fn analyze(a: &Analysis, need: Types) -> Result<Retained> {
    // The graph needs no types: objects are typed once it is known which
    // ones are printed.
    let mut heap = Heap::read_untyped(&a.bin, &a.core, a.bias)?;
    let mut warnings = heap.warnings.clone();
    let (roots, rw) = analyzer::heap::graph::process_roots(a, &heap);
    warnings.extend(rw);
    let graph = Graph::build(&heap, a.mem(), roots);
    warnings.extend(graph.warnings.iter().cloned());
    let ret = Retention::compute(&graph, &heap.objects);
    // Typed from frames' variables too, as --heap is: else an object only
    // a frame types (a read buffer) is `<untyped ...>` here and not there.
    let frames = analyzer::heap::frame_roots::collect(a).roots;
    match need {
        Types::Top(top) if top > 0 => {
            // Long chains (a list's links) are typed faster by the whole walk.
            let chains = ret.printed_chains(&graph, &heap.objects, top);
            match MAX_CHAIN_TYPED.checked_sub(chains.iter().map(Vec::len).sum()) {
                Some(mut budget) => {
                    heap.type_chains(&a.bin, a.mem(), a.bias, &frames, &chains, |ids| ret.holder_chains(&graph, ids, &mut budget))
                }
                None => heap.type_all(&a.bin, a.mem(), a.bias, &frames),
            }
        }
        _ => heap.type_all(&a.bin, a.mem(), a.bias, &frames),
    }
    Ok(Retained { heap, graph, ret, warnings })
}

/// Objects typed along their dominator chains at most; more, and the
/// whole heap is typed.
const MAX_CHAIN_TYPED: usize = 100_000;

fn kind(k: RootKind) -> &'static str {
    match k {
        RootKind::Global => "global",
        RootKind::Stack => "stack",
        RootKind::Finalizer => "finalizer",
        _ => "runtime",
    }
}

impl Retained {
    fn type_of(&self, v: NodeId) -> String {
        match self.graph.object(v) {
            Some(id) => self.heap.type_label(id),
            None => String::new(),
        }
    }
    fn addr(&self, v: NodeId) -> u64 {
        match self.graph.object(v) {
            Some(id) => self.heap.objects.user_addr(id),
            None => self.graph.roots[v as usize].addr,
        }
    }
    /// A node as a line names it: a root's name and kind, an object's address and type.
    fn label(&self, v: NodeId) -> String {
        match self.graph.object(v) {
            Some(_) => format!("{:#x} {}", self.addr(v), self.type_of(v)),
            None => {
                let r = &self.graph.roots[v as usize];
                format!("{} ({})", r.name, kind(r.kind))
            }
        }
    }
    fn top_roots(&self, n: usize) -> Vec<NodeId> {
        let mut roots: Vec<NodeId> = (0..self.graph.roots.len() as NodeId).filter(|&r| self.ret.bytes[r as usize] > 0).collect();
        roots.sort_by_key(|&r| (std::cmp::Reverse(self.ret.bytes[r as usize]), r));
        if n > 0 {
            roots.truncate(n);
        }
        roots
    }
}

pub fn text(r: &Retained, top: usize) -> String {
    let s = &r.ret.summary;
    let mut out = String::new();
    out += &format!(
        "Reachable: {} objects, {} bytes, from {} roots\n",
        with_commas(s.reachable_objects),
        with_commas(s.reachable_bytes),
        with_commas(s.roots)
    );
    out += &format!(
        "Held by several roots (retained by none of them): {} objects, {} bytes\n",
        with_commas(s.shared_objects),
        with_commas(s.shared_bytes)
    );
    out += &format!(
        "Unreachable (garbage not yet swept, or held from where we do not scan): {} objects, {} bytes\n",
        with_commas(s.unreachable_objects),
        with_commas(s.unreachable_bytes)
    );
    out += "\nRoots retaining the most:\n";
    out += &format!("{:>15} {:>10}  {}\n", "RETAINED BYTES", "OBJECTS", "ROOT");
    for v in r.top_roots(top) {
        out += &format!("{:>15} {:>10}  {}\n", with_commas(r.ret.bytes[v as usize]), with_commas(r.ret.objects[v as usize] as u64), r.label(v));
    }
    out += "\nObjects retaining the most (links of a chain left out):\n";
    out += &format!("{:>15} {:>10}  {}\n", "RETAINED BYTES", "OBJECTS", "OBJECT, THEN ITS DOMINATORS");
    let n = if top == 0 { usize::MAX } else { top };
    for v in r.ret.top_objects(&r.graph, &r.heap.objects, n) {
        out += &format!("{:>15} {:>10}  {}\n", with_commas(r.ret.bytes[v as usize]), with_commas(r.ret.objects[v as usize] as u64), r.label(v));
        let chain: Vec<NodeId> = r.ret.dom.chain(v).collect();
        for d in chain.iter().take(CHAIN) {
            out += &format!("{:>28}<- {}\n", "", r.label(*d));
        }
        if let (true, Some(last)) = (chain.len() > CHAIN, chain.last()) {
            out += &format!("{:>28}<- ... {} more, then {}\n", "", chain.len() - CHAIN - 1, r.label(*last));
        }
        if r.ret.dom.idom[v as usize] == SUPER_ROOT || chain.last().is_some_and(|&d| r.ret.dom.idom[d as usize] == SUPER_ROOT && r.graph.object(d).is_some()) {
            out += &format!("{:>28}<- (several roots)\n", "");
        }
    }
    out
}

pub fn json(r: &Retained, top: usize, go_version: Option<&str>) -> String {
    let s = &r.ret.summary;
    let node = |v: NodeId| -> Value {
        match r.graph.object(v) {
            Some(id) => json!({"addr": format!("{:#x}", r.addr(v)), "type": r.type_of(v), "size": r.heap.objects.size(id)}),
            None => {
                let root = &r.graph.roots[v as usize];
                json!({"root": root.name, "kind": kind(root.kind)})
            }
        }
    };
    let roots: Vec<Value> = r
        .top_roots(top)
        .into_iter()
        .map(|v| {
            let root = &r.graph.roots[v as usize];
            json!({
                "name": root.name,
                "kind": kind(root.kind),
                "goroutine": root.goid,
                "addr": format!("{:#x}", root.addr),
                "conservative": root.conservative(),
                "retained_bytes": r.ret.bytes[v as usize],
                "retained_objects": r.ret.objects[v as usize],
            })
        })
        .collect();
    let n = if top == 0 { usize::MAX } else { top };
    let objects: Vec<Value> = r
        .ret
        .top_objects(&r.graph, &r.heap.objects, n)
        .into_iter()
        .map(|v| {
            let mut o = node(v);
            o["retained_bytes"] = json!(r.ret.bytes[v as usize]);
            o["retained_objects"] = json!(r.ret.objects[v as usize]);
            let chain: Vec<NodeId> = r.ret.dom.chain(v).collect();
            let top_is_super = chain.last().map(|&d| r.ret.dom.idom[d as usize]).unwrap_or(r.ret.dom.idom[v as usize]) == SUPER_ROOT
                && chain.last().is_none_or(|&d| r.graph.object(d).is_some());
            o["dominators"] = Value::Array(chain.into_iter().map(node).collect());
            o["held_by_several_roots"] = json!(top_is_super);
            o
        })
        .collect();
    let doc = json!({
        "schema": "goanalyze.retained",
        "version": 1,
        "go_version": go_version,
        "summary": {
            "roots": s.roots,
            "reachable_objects": s.reachable_objects,
            "reachable_bytes": s.reachable_bytes,
            "shared_objects": s.shared_objects,
            "shared_bytes": s.shared_bytes,
            "unreachable_objects": s.unreachable_objects,
            "unreachable_bytes": s.unreachable_bytes,
        },
        "roots": roots,
        "objects": objects,
        "warnings": r.warnings,
    });
    let mut out = serde_json::to_string_pretty(&doc).unwrap_or_default();
    out.push('\n');
    out
}

/// `--path ADDR`: text or JSON.
pub fn path(a: &Analysis, r: &Retained, addr: u64, json_out: bool) -> Result<String> {
    let id = r.heap.objects.find(addr).with_context(|| format!("{addr:#x} is not in an allocated heap object"))?;
    let target = r.graph.node(id);
    let namer = Namer::new(&r.heap, &a.bin, a.mem(), a.bias, &r.graph);
    let base = r.heap.objects.user_addr(id);
    let Some(p) = paths::shortest_path(&r.graph, target) else {
        if json_out {
            let doc = json!({"schema": "goanalyze.path", "version": 1, "object": format!("{base:#x}"), "type": r.type_of(target), "reachable": false, "steps": [], "warnings": r.warnings});
            return Ok(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n");
        }
        return Ok(format!("{base:#x} {}: no root reaches it (garbage not yet swept, or held from where we do not scan)\n", r.type_of(target)));
    };
    let steps = namer.name_path(&p);
    if json_out {
        let st: Vec<Value> = steps
            .iter()
            .map(|s| json!({"via": s.via, "addr": format!("{:#x}", s.addr), "type": s.type_name, "root": r.graph.object(s.node).is_none()}))
            .collect();
        let doc = json!({
            "schema": "goanalyze.path", "version": 1,
            "object": format!("{base:#x}"), "type": r.type_of(target), "reachable": true,
            "path": paths::render(&steps), "steps": st, "warnings": r.warnings,
        });
        return Ok(serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n");
    }
    let mut out = format!("{}\n", paths::render(&steps));
    for (i, s) in steps.iter().enumerate() {
        if i == 0 {
            out += &format!("  {:#x} {}\n", s.addr, r.label(s.node));
        } else {
            let via = if s.via.is_empty() { "*" } else { s.via.as_str() };
            out += &format!("  -> {via}: {:#x} {}\n", s.addr, if s.type_name.is_empty() { r.type_of(s.node) } else { s.type_name.clone() });
        }
    }
    Ok(out)
}

/// Deepest reference path written into the profile, in dominator-tree
/// levels; below it (or below `MIN_BYTES`), a node's whole retained
/// memory is one sample.
const MAX_DEPTH: usize = 48;
const MIN_BYTES: u64 = 4096;

/// `--retained --format pprof`: one sample per dominator-tree node down to
/// the cutoffs, its stack the node's dominators from its root (outermost)
/// named by how each refers to the next; values: retained objects and
/// bytes (a node above the cutoff carries only itself, one below carries
/// everything it retains), so every frame's cumulative value is what it
/// retains and the samples sum to the reachable heap.
pub fn pprof(a: &Analysis, r: &Retained) -> std::io::Result<Vec<u8>> {
    use analyzer::output::pprof::{Line, ProfileWriter};
    let g = &r.graph;
    let dom = &r.ret.dom;
    let namer = Namer::new(&r.heap, &a.bin, a.mem(), a.bias, g);
    let mut p = ProfileWriter::new(Vec::new());
    p.sample_type("retained_objects", "count")?;
    p.sample_type("retained_space", "bytes")?;
    p.default_sample_type("retained_space")?;
    let s = &r.ret.summary;
    p.comment("goanalyze --retained: memory by the reference path that keeps it alive (dominator tree; objects held by several roots under $shared)")?;
    p.comment(&format!(
        "reachable {} objects {} bytes; held by several roots {} objects {} bytes; unreachable {} objects {} bytes",
        s.reachable_objects, s.reachable_bytes, s.shared_objects, s.shared_bytes, s.unreachable_objects, s.unreachable_bytes
    ))?;
    let nroots = g.roots.len();
    // One location per frame name (keyed by its function's id).
    fn frame(p: &mut ProfileWriter<Vec<u8>>, name: &str) -> std::io::Result<u64> {
        let f = p.function(name, name, "", 0)?;
        p.location(0, f, &[Line { function: f, line: 0 }])
    }
    let shared_loc = frame(&mut p, "$shared")?;
    // Samples with the same stack are one: (objects, bytes) by stack, leaf first.
    let mut samples: HashMap<Vec<u64>, (i64, i64)> = HashMap::new();
    // The stacks of the nodes expanded so far (preorder: a node's
    // dominator comes before it).
    let mut stack_of: HashMap<NodeId, Vec<u64>> = HashMap::new();
    for &v in &dom.order {
        let d = dom.idom[v as usize];
        let vi = v as usize;
        let parent: Option<Vec<u64>> = match d {
            SUPER_ROOT if vi < nroots => Some(Vec::new()),
            SUPER_ROOT => Some(vec![shared_loc]),
            UNREACHABLE => None,
            _ => stack_of.get(&d).cloned(),
        };
        // The dominator was cut: its sample holds this node already.
        let Some(parent) = parent else { continue };
        let name = if vi < nroots {
            g.roots[vi].name.clone()
        } else {
            // Name the hop from the dominator when it points here directly
            // and is small enough to rescan; else by the type reached.
            let small = d < SUPER_ROOT && g.object(d).is_none_or(|id| r.heap.objects.size(id) <= MAX_RESCAN);
            let via = if small {
                // Inside a map's storage when a near dominator is its header.
                let mut m = std::iter::once(d)
                    .chain(dom.chain(d))
                    .take(4)
                    .take_while(|&x| x == d || namer.map_internal(x) || namer.map_header(x).is_some())
                    .find_map(|x| namer.map_header(x));
                namer.edge(d, v, &mut m, !namer.map_internal(v))
            } else {
                String::new()
            };
            frame_name(&via, &r.type_of(v))
        };
        let mut st = Vec::with_capacity(parent.len() + 1);
        st.push(frame(&mut p, &name)?);
        st.extend_from_slice(&parent);
        let whole = st.len() >= MAX_DEPTH || r.ret.bytes[vi] < MIN_BYTES;
        if vi >= nroots {
            let (objs, bytes) = if whole {
                (r.ret.objects[vi] as i64, r.ret.bytes[vi] as i64)
            } else {
                (1, g.object(v).map(|id| r.heap.objects.size(id)).unwrap_or(0) as i64)
            };
            let e = samples.entry(st.clone()).or_insert((0, 0));
            e.0 += objs;
            e.1 += bytes;
        }
        if !whole || vi < nroots {
            stack_of.insert(v, st);
        }
    }
    let mut samples: Vec<(Vec<u64>, (i64, i64))> = samples.into_iter().collect();
    samples.sort_unstable();
    for (st, (objs, bytes)) in samples {
        p.sample(&[objs, bytes], &st, &[])?;
    }
    p.finish()
}

/// Largest dominator rescanned to name the hop to one of its children.
const MAX_RESCAN: u64 = 1 << 16;

/// A pprof frame: the step's name (`.buf`, `[3]`, `$mapval`) or, for a
/// pointer followed at offset 0, the type reached (`*main.node`).
fn frame_name(via: &str, ty: &str) -> String {
    match via {
        "map value" => "$mapval".into(),
        "map key" => "$mapkey".into(),
        "map entry" => "$map".into(),
        "" | "?" => {
            if ty.is_empty() {
                "$obj".into()
            } else {
                format!("*{}", ty.trim_start_matches('<').trim_end_matches('>'))
            }
        }
        // One frame for every element: `[3]` and `[4]` are the same step.
        v => {
            let mut out = String::new();
            let mut in_idx = false;
            for c in v.chars() {
                match c {
                    '[' => {
                        in_idx = true;
                        out.push(c);
                    }
                    ']' => {
                        in_idx = false;
                        out.push(c);
                    }
                    _ if in_idx => {}
                    _ => out.push(c),
                }
            }
            out
        }
    }
}
