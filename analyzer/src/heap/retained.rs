//! Retained sizes: what freeing a root or an object would free. An object's
//! retained bytes are its own (its slot in the heap: the size class, or a
//! large object's pages) plus those of every object it dominates; a root's
//! are those of the objects it dominates. Objects held by several roots
//! (dominated only by the virtual super-root) are retained by none of them
//! and are summed apart, as are the objects no root reaches: garbage the
//! collector has not swept yet, or objects held from places not scanned.

use super::dominators::{Csr, Dominators, SUPER_ROOT, UNREACHABLE};
use super::graph::{Graph, NodeId};
use super::objects::{ObjId, ObjectIndex};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetainedSummary {
    pub roots: u64,
    pub reachable_objects: u64,
    pub reachable_bytes: u64,
    /// Reachable, but from several roots: dominated by the super-root only.
    /// These, and what they dominate, are retained by no single root.
    pub shared_objects: u64,
    pub shared_bytes: u64,
    pub unreachable_objects: u64,
    pub unreachable_bytes: u64,
}

pub struct Retention {
    pub dom: Dominators,
    /// Per node: retained bytes.
    pub bytes: Vec<u64>,
    /// Per node: retained objects (itself included for an object).
    pub objects: Vec<u32>,
    pub summary: RetainedSummary,
}

impl Retention {
    pub fn compute(graph: &Graph, idx: &ObjectIndex) -> Retention {
        // The dominators first: their working arrays are gone by the time
        // the sizes' array is made (the peak is lower).
        let dom = Self::dominators(graph);
        let nroots = graph.roots.len();
        let mut bytes = vec![0u64; graph.node_count()];
        for (k, s) in idx.spans.iter().enumerate() {
            for id in idx.first[k]..idx.first[k + 1] {
                if let Some(b) = bytes.get_mut(nroots + id as usize) {
                    *b = s.elemsize;
                }
            }
        }
        Self::sum(graph, dom, bytes)
    }

    /// `bytes`: per node, its own size (0 for the roots).
    pub fn from_sizes(graph: &Graph, bytes: Vec<u64>) -> Retention {
        Self::sum(graph, Self::dominators(graph), bytes)
    }

    fn dominators(graph: &Graph) -> Dominators {
        let roots: Vec<NodeId> = (0..graph.roots.len() as NodeId).collect();
        Dominators::compute(Csr { first: &graph.first, edges: &graph.edges }, &roots)
    }

    fn sum(graph: &Graph, dom: Dominators, mut bytes: Vec<u64>) -> Retention {
        let nroots = graph.roots.len();
        let n = graph.node_count();
        bytes.resize(n, 0);
        let mut objects: Vec<u32> = (0..n).map(|v| (v >= nroots) as u32).collect();
        let mut summary = RetainedSummary { roots: nroots as u64, ..Default::default() };
        for node in nroots..n {
            if dom.idom[node] == UNREACHABLE {
                summary.unreachable_objects += 1;
                summary.unreachable_bytes += bytes[node];
            } else {
                summary.reachable_objects += 1;
                summary.reachable_bytes += bytes[node];
            }
        }
        // Dominators come first in preorder: a reverse pass sums subtrees.
        for &v in dom.order.iter().rev() {
            let d = dom.idom[v as usize];
            if d < SUPER_ROOT {
                bytes[d as usize] += bytes[v as usize];
                objects[d as usize] += objects[v as usize];
            } else if d == SUPER_ROOT && v as usize >= nroots {
                summary.shared_objects += objects[v as usize] as u64;
                summary.shared_bytes += bytes[v as usize];
            }
        }
        Retention { dom, bytes, objects, summary }
    }

    /// Objects worth listing by what they retain, biggest first: an object
    /// whose immediate dominator is an object retaining nothing else (a
    /// link of a chain: the next node of a list) is left out, its
    /// dominator already says it.
    pub fn top_objects(&self, graph: &Graph, idx: &ObjectIndex, n: usize) -> Vec<NodeId> {
        let nroots = graph.roots.len();
        let own = |v: usize| -> u64 { graph.object(v as NodeId).map(|id| idx.size(id)).unwrap_or(0) };
        let mut cand: Vec<NodeId> = (nroots..graph.node_count())
            .filter(|&v| {
                let d = self.dom.idom[v];
                if d == UNREACHABLE {
                    return false;
                }
                if d < SUPER_ROOT && (d as usize) >= nroots {
                    // A chain link: its dominator retains only itself and this.
                    return self.bytes[d as usize] != own(d as usize) + self.bytes[v];
                }
                true
            })
            .map(|v| v as NodeId)
            .collect();
        let key = |v: &NodeId| std::cmp::Reverse((self.bytes[*v as usize], std::cmp::Reverse(*v)));
        if cand.len() > n {
            cand.select_nth_unstable_by_key(n, key);
            cand.truncate(n);
        }
        cand.sort_unstable_by_key(key);
        cand
    }
}

/// Chains of objects to type (see [`super::Heap::type_chains`]).
pub type Chains = Vec<Vec<ObjId>>;

impl Retention {
    /// The objects [`Retention::top_objects`] lists, each as a chain from
    /// its dominator nearest a root down to it (what the listing prints).
    pub fn printed_chains(&self, graph: &Graph, idx: &ObjectIndex, top: usize) -> Chains {
        self.top_objects(graph, idx, top).into_iter().map(|v| self.chain_to(graph, v)).collect()
    }

    /// Object node `v`'s dominators nearest a root first, then `v`, as
    /// objects. When the outermost is held by several roots, no root is on
    /// the chain: which pointer types it is found by
    /// [`Retention::holder_chains`] if its allocation does not say.
    pub fn chain_to(&self, graph: &Graph, v: NodeId) -> Vec<ObjId> {
        let mut nodes: Vec<NodeId> = std::iter::once(v).chain(self.dom.chain(v)).collect();
        nodes.reverse();
        nodes.into_iter().filter_map(|n| graph.object(n)).collect()
    }

    /// For objects `ids`: a chain through every reachable object that
    /// points to one of them (its dominators, it, then the object pointed
    /// to); `None` when the chains would pass `budget` objects in all.
    pub fn holder_chains(&self, graph: &Graph, ids: &[ObjId], budget: &mut usize) -> Option<Chains> {
        // One bit a node: every edge of the graph is tested.
        let mut want = vec![0u64; graph.node_count().div_ceil(64)];
        for &id in ids {
            let v = graph.node(id) as usize;
            if let Some(w) = want.get_mut(v / 64) {
                *w |= 1 << (v % 64);
            }
        }
        let wanted = |v: NodeId| want.get(v as usize / 64).is_some_and(|w| w >> (v % 64) & 1 != 0);
        let mut chains = Vec::new();
        for u in graph.roots.len() as NodeId..graph.node_count() as NodeId {
            // An unreachable holder types nothing in the whole walk either.
            if self.dom.idom[u as usize] == UNREACHABLE {
                continue;
            }
            for &v in graph.succ(u) {
                if v == u || !wanted(v) {
                    continue;
                }
                let mut c = self.chain_to(graph, u);
                c.extend(graph.object(v));
                *budget = budget.checked_sub(c.len())?;
                chains.push(c);
            }
        }
        Some(chains)
    }
}

#[cfg(test)]
mod tests {
    use super::super::graph::{Root, RootKind};
    use super::*;

    fn graph(nroots: usize, nobj: usize, edges: &[(u32, u32)]) -> Graph {
        let n = nroots + nobj;
        let mut adj = vec![Vec::new(); n];
        for &(a, b) in edges {
            adj[a as usize].push(b);
        }
        let mut first = vec![0u64];
        let mut out = Vec::new();
        for a in adj {
            out.extend(a);
            first.push(out.len() as u64);
        }
        let roots = (0..nroots)
            .map(|i| Root { kind: RootKind::Global, name: format!("r{i}"), goid: None, addr: 0, len: 0, mask: None, value: None })
            .collect();
        Graph { roots, first, edges: out, conservative: vec![0; nobj.div_ceil(64)], warnings: Vec::new() }
    }

    #[test]
    fn sums_and_shared() {
        // Roots 0, 1; objects are nodes 2..7. 0 -> 2 -> 3, 2 -> 4; 0 -> 5, 1 -> 5 (shared);
        // 5 -> 6; 7 unreachable.
        let g = graph(2, 6, &[(0, 2), (2, 3), (2, 4), (0, 5), (1, 5), (5, 6)]);
        let sizes = vec![0, 0, 16, 32, 48, 64, 80, 96];
        let r = Retention::from_sizes(&g, sizes);
        assert_eq!(r.dom.idom[5], SUPER_ROOT);
        assert_eq!(r.bytes[0], 16 + 32 + 48);
        assert_eq!(r.objects[0], 3);
        assert_eq!(r.bytes[1], 0);
        assert_eq!(r.bytes[2], 16 + 32 + 48);
        assert_eq!(r.bytes[5], 64 + 80);
        assert_eq!(
            r.summary,
            RetainedSummary {
                roots: 2,
                reachable_objects: 5,
                reachable_bytes: 16 + 32 + 48 + 64 + 80,
                shared_objects: 2,
                shared_bytes: 64 + 80,
                unreachable_objects: 1,
                unreachable_bytes: 96,
            }
        );
    }
}
