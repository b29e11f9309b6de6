//! Reference paths: a shortest path from a root to an object (a
//! breadth-first search over the graph from every root at once), and each
//! step named as a Go developer reads it: `main.cache -> map value ->
//! .buf`, `main.tree .left .right`, `[]*main.leaf [3]`.

use std::collections::VecDeque;

use super::fieldnames;
use super::graph::{masked_words, Graph, NodeId};
use super::pointers::{self, Scan};
use super::Heap;
use crate::binary::Binary;
use crate::memory::Memory;
use crate::runtime::gotype::{Kind, TypeReader};

const NONE: u32 = u32::MAX;

/// A shortest path of nodes from a root to `target` (both included), or
/// `None` when no root reaches it.
pub fn shortest_path(g: &Graph, target: NodeId) -> Option<Vec<NodeId>> {
    let n = g.node_count();
    if target as usize >= n {
        return None;
    }
    let mut from = vec![NONE; n];
    let mut q: VecDeque<NodeId> = VecDeque::new();
    for r in 0..g.roots.len() as NodeId {
        from[r as usize] = r;
        q.push_back(r);
    }
    'bfs: while let Some(u) = q.pop_front() {
        for &v in g.succ(u) {
            if from[v as usize] == NONE {
                from[v as usize] = u;
                if v == target {
                    break 'bfs;
                }
                q.push_back(v);
            }
        }
    }
    if from[target as usize] == NONE {
        return None;
    }
    let mut path = vec![target];
    let mut at = target;
    while from[at as usize] != at {
        at = from[at as usize];
        path.push(at);
    }
    path.reverse();
    Some(path)
}

/// The offsets, from the start of `u` (a root's first word, an object's
/// base), of `u`'s pointer words that point into object node `v`. The
/// graph keeps only that an edge exists; this rescans the one node.
pub fn edge_offsets(heap: &Heap, mem: &dyn Memory, g: &Graph, u: NodeId, v: NodeId) -> Vec<u64> {
    let Some(target) = g.object(v) else { return Vec::new() };
    let idx = &heap.objects;
    let words = match g.object(u) {
        None => match g.roots.get(u as usize) {
            Some(r) => r.words(mem),
            None => return Vec::new(),
        },
        Some(id) => {
            let (addr, len, mask) = match pointers::scan_of(heap, mem, id, idx.span_of(id)) {
                Scan::NoPointers => return Vec::new(),
                Scan::Mask { addr, len, mask } => (addr, len, Some(mask)),
                Scan::Conservative { addr, len } => (addr, len, None),
            };
            let skip = addr - idx.base(id);
            masked_words(mem, addr, len, mask.as_deref()).into_iter().map(|(o, p)| (skip + o, p)).collect()
        }
    };
    words.into_iter().filter(|&(_, p)| idx.find(p) == Some(target)).map(|(o, _)| o).collect()
}

/// One step of a named path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The node reached.
    pub node: NodeId,
    /// Its address (a root's first word).
    pub addr: u64,
    /// Its type as the heap typing names it (empty: untyped).
    pub type_name: String,
    /// How the previous node refers to it: `.buf`, `[3]`, `map value`,
    /// `+0x18` (an untyped word); for the first step, the root's name.
    pub via: String,
}

/// Names edges of the graph (see [`Namer::edge`]).
pub struct Namer<'a> {
    pub heap: &'a Heap,
    pub mem: &'a dyn Memory,
    pub g: &'a Graph,
    reader: TypeReader<'a>,
    swiss: bool,
}

impl<'a> Namer<'a> {
    pub fn new(heap: &'a Heap, bin: &'a Binary, mem: &'a dyn Memory, bias: u64, g: &'a Graph) -> Namer<'a> {
        Namer { heap, mem, g, reader: TypeReader { bin, mem, bias }, swiss: bin.go_minor().unwrap_or(26) >= 24 }
    }

    /// The map type of object node `u` when it is a map's header.
    pub fn map_header(&self, u: NodeId) -> Option<u64> {
        let id = self.g.object(u)?;
        let e = self.heap.typing.types.get(id as usize).copied().unwrap_or(super::types::UNTYPED);
        if e == super::types::UNTYPED {
            return None;
        }
        let te = &self.heap.typing.entries[e as usize];
        let rt = te.rtype?;
        (te.name.starts_with("map[") && self.reader.read(rt)?.kind == Kind::Map).then_some(rt)
    }

    /// Whether object node `v` is (or may be) part of a map's storage.
    pub fn map_internal(&self, v: NodeId) -> bool {
        self.g.object(v).is_some_and(|id| self.heap.typing.name(id).is_none_or(is_map_internal))
    }

    /// How `u` refers to `v`: `.buf`, `[3].next`, `map value`, `+0x18`;
    /// empty for a pointer at offset 0 of an untyped root or object, and
    /// for hops inside a map's storage (`in_map`: the map type the path is
    /// inside, kept up to date; `last`: `v` is where the path ends). `?`
    /// when `u` has no pointer to `v`.
    pub fn edge(&self, u: NodeId, v: NodeId, in_map: &mut Option<u64>, last: bool) -> String {
        let idx = &self.heap.objects;
        let Some(off) = edge_offsets(self.heap, self.mem, self.g, u, v).first().copied() else {
            *in_map = None;
            return "?".into();
        };
        let Some(uid) = self.g.object(u) else {
            *in_map = None;
            return if off == 0 { String::new() } else { format!("+{off:#x}") };
        };
        let user = idx.user_addr(uid) - idx.base(uid);
        if let Some(mt) = self.map_header(u) {
            // The header's pointers lead into the map's storage.
            *in_map = Some(mt);
            return String::new();
        }
        let entry = self.heap.typing.types.get(uid as usize).copied().unwrap_or(super::types::UNTYPED);
        let te = (entry != super::types::UNTYPED).then(|| &self.heap.typing.entries[entry as usize]);
        if let Some(mt) = *in_map {
            if te.is_none_or(|t| is_map_internal(&t.name)) {
                // Only the hop into a key or a value is named.
                if self.map_internal(v) && !last {
                    return String::new();
                }
                *in_map = None;
                return match off.checked_sub(user).and_then(|o| fieldnames::map_slot_is_value(self.mem, mt, o, self.swiss)) {
                    Some(true) => "map value".into(),
                    Some(false) => "map key".into(),
                    None => "map entry".into(),
                };
            }
        }
        *in_map = None;
        match (te, off.checked_sub(user)) {
            (Some(t), Some(o)) => {
                let f = match (t.rtype, t.name.starts_with("[]")) {
                    (Some(rt), true) => {
                        let es = self.reader.read(rt).map(|e| e.size).filter(|s| *s > 0).unwrap_or(8);
                        format!("[{}]{}", o / es, fieldnames::field_path(&self.reader, rt, o % es))
                    }
                    (Some(rt), false) => fieldnames::field_path(&self.reader, rt, o),
                    (None, _) => String::new(),
                };
                if f.is_empty() && o != 0 {
                    format!("+{o:#x}")
                } else {
                    f
                }
            }
            _ if off == user => String::new(),
            _ => format!("+{:#x}", off.wrapping_sub(user)),
        }
    }

    /// Name the steps of `path` (from [`shortest_path`]).
    pub fn name_path(&self, path: &[NodeId]) -> Vec<Step> {
        let idx = &self.heap.objects;
        let mut in_map = None;
        let mut steps = Vec::with_capacity(path.len());
        for (i, &v) in path.iter().enumerate() {
            let (addr, type_name) = match self.g.object(v) {
                Some(id) => (idx.user_addr(id), self.heap.typing.name(id).unwrap_or("").to_string()),
                None => (self.g.roots[v as usize].addr, String::new()),
            };
            let via = if i == 0 {
                self.g.roots.get(v as usize).map(|r| r.name.clone()).unwrap_or_default()
            } else {
                self.edge(path[i - 1], v, &mut in_map, i + 1 == path.len())
            };
            steps.push(Step { node: v, addr, type_name, via });
        }
        steps
    }
}

/// The runtime's own map storage types (directory, tables, groups), or untyped.
fn is_map_internal(name: &str) -> bool {
    name.is_empty() || name.contains("internal/runtime/maps.") || name.starts_with("noalg.") || name.contains("map.group") || name.contains("map.bucket")
}

/// The path as one line: `main.cache -> map value -> .buf`: the root,
/// then every named step (pointers followed from a pointer word at offset
/// 0 and hops inside a map's storage have no name of their own).
pub fn render(steps: &[Step]) -> String {
    let mut out = String::new();
    for (i, s) in steps.iter().enumerate() {
        if i == 0 {
            out.push_str(&s.via);
        } else if !s.via.is_empty() {
            out.push_str(" -> ");
            out.push_str(&s.via);
        }
    }
    out
}
