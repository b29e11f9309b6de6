//! The dominator tree of the object graph: node `d` dominates `v` when every
//! path from the roots to `v` passes through `d`, so freeing `d` frees `v`.
//! Computed over a virtual super-root whose successors are all the roots,
//! so an object reachable from two roots is dominated by neither (its
//! immediate dominator is the super-root).
//!
//! Semi-NCA (Georgiadis' variant of Lengauer-Tarjan): a depth-first
//! numbering, semidominators by path compression in reverse preorder, then
//! each immediate dominator as the nearest common ancestor of its parent and
//! its semidominator. Everything is iterative (a linked list of ten million
//! objects is ten million deep) and kept in `u32` arrays indexed by
//! preorder number: no hash maps, about 30 bytes per node plus 4 per edge.

/// `idom` of a node no root reaches.
pub const UNREACHABLE: u32 = u32::MAX;
/// `idom` of a node whose only dominator is the virtual super-root.
pub const SUPER_ROOT: u32 = u32::MAX - 1;

/// A graph as compressed adjacency arrays: successors of node `n` are
/// `edges[first[n]..first[n + 1]]`.
#[derive(Clone, Copy)]
pub struct Csr<'a> {
    pub first: &'a [u64],
    pub edges: &'a [u32],
}

impl<'a> Csr<'a> {
    pub fn node_count(&self) -> usize {
        self.first.len().saturating_sub(1)
    }
}

pub struct Dominators {
    /// Per node: its immediate dominator, [`SUPER_ROOT`] or [`UNREACHABLE`].
    pub idom: Vec<u32>,
    /// The reachable nodes in depth-first preorder: a node's dominators
    /// all come before it, so a pass over this in reverse sums subtrees.
    pub order: Vec<u32>,
}

impl Dominators {
    pub fn reachable(&self, n: u32) -> bool {
        self.idom[n as usize] != UNREACHABLE
    }

    /// The dominators of `n`, nearest first, up to (not including) the super-root.
    pub fn chain(&self, n: u32) -> impl Iterator<Item = u32> + '_ {
        let mut at = self.idom.get(n as usize).copied().unwrap_or(UNREACHABLE);
        std::iter::from_fn(move || {
            if at >= SUPER_ROOT {
                return None;
            }
            let cur = at;
            at = self.idom[cur as usize];
            Some(cur)
        })
    }

    /// Compute the dominators of `g` from the super-root whose successors
    /// are `roots` (node ids of `g`; out-of-range ones are ignored).
    pub fn compute(g: Csr<'_>, roots: &[u32]) -> Dominators {
        let n = g.node_count();
        const NONE: u32 = u32::MAX;
        // Preorder numbers: 0 is the super-root, so pre[v] == 0 means unvisited.
        let mut pre = vec![0u32; n];
        // Indexed by preorder number (0: super-root).
        let mut vertex: Vec<u32> = vec![NONE];
        let mut parent: Vec<u32> = vec![0];
        {
            let mut is_root = vec![false; n];
            for &r in roots {
                if (r as usize) < n {
                    is_root[r as usize] = true;
                }
            }
            // Roots are usually the lowest node ids: most edges skip the lookup.
            let root_max = roots.iter().copied().filter(|&r| (r as usize) < n).max().unwrap_or(0);
            // Each followed edge as (target's preorder number, source's),
            // written in order while the numbers are at hand: the
            // predecessor lists are then built from them without looking
            // `pre` up again at random (the cost of a big graph is its
            // cache misses). An edge to a root not numbered yet waits in
            // `to_roots` (target node id, source's number).
            let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(g.edges.len());
            let mut to_roots: Vec<(u32, u32)> = Vec::new();
            let mut stack: Vec<(u32, u64)> = Vec::new();
            for &r in roots {
                if (r as usize) >= n || pre[r as usize] != 0 {
                    continue;
                }
                pre[r as usize] = vertex.len() as u32;
                vertex.push(r);
                parent.push(0);
                stack.push((r, g.first[r as usize]));
                while let Some(top) = stack.last_mut() {
                    let (u, pos) = *top;
                    if pos >= g.first[u as usize + 1] {
                        stack.pop();
                        continue;
                    }
                    top.1 += 1;
                    let v = g.edges.get(pos as usize).copied().unwrap_or(NONE);
                    if (v as usize) >= n {
                        continue;
                    }
                    let pu = pre[u as usize];
                    let pv = pre[v as usize];
                    if pv != 0 {
                        pairs.push((pv, pu));
                        continue;
                    }
                    if v <= root_max && is_root[v as usize] {
                        to_roots.push((v, pu));
                        continue;
                    }
                    let pv = vertex.len() as u32;
                    pre[v as usize] = pv;
                    vertex.push(v);
                    parent.push(pu);
                    pairs.push((pv, pu));
                    stack.push((v, g.first[v as usize]));
                }
            }
            // Every root is numbered by now.
            pairs.extend(to_roots.into_iter().map(|(v, pu)| (pre[v as usize], pu)));
            // A root reached from another root keeps the super-root as a
            // predecessor: `is_root` marks them for the semidominator pass.
            let count = vertex.len();
            // Predecessors in preorder numbers, compressed like the graph.
            let mut pfirst = vec![0u64; count + 1];
            for &(pv, _) in &pairs {
                pfirst[pv as usize + 1] += 1;
            }
            for (i, &r) in vertex.iter().enumerate().skip(1) {
                if is_root[r as usize] {
                    pfirst[i + 1] += 1;
                }
            }
            for i in 1..=count {
                pfirst[i] += pfirst[i - 1];
            }
            // `pfirst[i]` is vertex i's fill cursor, then moved back to its
            // start (no second array of ten million offsets).
            let mut preds = vec![0u32; pfirst[count] as usize];
            for (i, &r) in vertex.iter().enumerate().skip(1) {
                if is_root[r as usize] {
                    preds[pfirst[i] as usize] = 0;
                    pfirst[i] += 1;
                }
            }
            drop(is_root);
            drop(pre);
            for &(pv, pu) in &pairs {
                preds[pfirst[pv as usize] as usize] = pu;
                pfirst[pv as usize] += 1;
            }
            drop(pairs);
            pfirst.copy_within(0..count, 1);
            pfirst[0] = 0;

            // Semidominators, in reverse preorder, by eval/link with path
            // compression over the forest `anc` of the vertices done so far.
            let mut semi: Vec<u32> = (0..count as u32).collect();
            let mut label: Vec<u32> = (0..count as u32).collect();
            let mut anc = vec![NONE; count];
            let mut path: Vec<u32> = Vec::new();
            for w in (1..count).rev() {
                let mut s = semi[w];
                for &v in &preds[pfirst[w] as usize..pfirst[w + 1] as usize] {
                    let e = eval(v, &mut anc, &mut label, &semi, &mut path);
                    s = s.min(semi[e as usize]);
                }
                semi[w] = s;
                anc[w] = parent[w];
            }
            drop(preds);
            drop(pfirst);
            drop(anc);
            drop(label);
            // Immediate dominators: the nearest ancestor of the parent whose
            // number is at most the semidominator. `idom` reuses `parent`.
            let mut idom = parent;
            for w in 1..count {
                let mut d = idom[w];
                while d > semi[w] {
                    d = idom[d as usize];
                }
                idom[w] = d;
            }
            // Back to node ids.
            let mut out = vec![UNREACHABLE; n];
            for w in 1..count {
                let d = idom[w];
                out[vertex[w] as usize] = if d == 0 { SUPER_ROOT } else { vertex[d as usize] };
            }
            vertex.remove(0);
            Dominators { idom: out, order: vertex }
        }
    }
}

/// The vertex of least semidominator on the forest path from `v` up to
/// (not including) its tree's root, compressing the path on the way.
fn eval(v: u32, anc: &mut [u32], label: &mut [u32], semi: &[u32], path: &mut Vec<u32>) -> u32 {
    const NONE: u32 = u32::MAX;
    if anc[v as usize] == NONE {
        return v;
    }
    path.clear();
    let mut u = v;
    while anc[anc[u as usize] as usize] != NONE {
        path.push(u);
        u = anc[u as usize];
    }
    while let Some(x) = path.pop() {
        let a = anc[x as usize] as usize;
        if semi[label[a] as usize] < semi[label[x as usize] as usize] {
            label[x as usize] = label[a];
        }
        anc[x as usize] = anc[a];
    }
    label[v as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr(n: usize, edges: &[(u32, u32)]) -> (Vec<u64>, Vec<u32>) {
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
        (first, out)
    }

    fn doms(n: usize, edges: &[(u32, u32)], roots: &[u32]) -> Vec<u32> {
        let (first, e) = csr(n, edges);
        Dominators::compute(Csr { first: &first, edges: &e }, roots).idom
    }

    /// Naive: `d` dominates `w` when `w` is unreachable with `d` removed;
    /// the immediate dominator is the strict dominator dominated by all others.
    fn naive(n: usize, edges: &[(u32, u32)], roots: &[u32]) -> Vec<u32> {
        let reach = |skip: Option<u32>| {
            let mut seen = vec![false; n];
            let mut st: Vec<u32> = roots.iter().copied().filter(|r| Some(*r) != skip).collect();
            while let Some(u) = st.pop() {
                if seen[u as usize] {
                    continue;
                }
                seen[u as usize] = true;
                for &(a, b) in edges {
                    if a == u && Some(b) != skip && !seen[b as usize] {
                        st.push(b);
                    }
                }
            }
            seen
        };
        let all = reach(None);
        // dom[d][w]: d strictly dominates w.
        let dom: Vec<Vec<bool>> = (0..n as u32)
            .map(|d| {
                let r = reach(Some(d));
                (0..n).map(|w| all[w] && all[d as usize] && w != d as usize && !r[w]).collect()
            })
            .collect();
        (0..n)
            .map(|w| {
                if !all[w] {
                    return UNREACHABLE;
                }
                let strict: Vec<u32> = (0..n as u32).filter(|&d| dom[d as usize][w]).collect();
                strict
                    .iter()
                    .copied()
                    .find(|&d| strict.iter().all(|&o| o == d || dom[o as usize][d as usize]))
                    .unwrap_or(SUPER_ROOT)
            })
            .collect()
    }

    const S: u32 = SUPER_ROOT;
    const U: u32 = UNREACHABLE;

    #[test]
    fn diamond() {
        // 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4
        let e = [(0, 1), (0, 2), (1, 3), (2, 3), (3, 4)];
        assert_eq!(doms(5, &e, &[0]), vec![S, 0, 0, 0, 3]);
    }

    #[test]
    fn cycle() {
        // 0 -> 1 -> 2 -> 3 -> 1, 5 unreachable pointing in.
        let e = [(0, 1), (1, 2), (2, 3), (3, 1), (5, 2)];
        assert_eq!(doms(6, &e, &[0]), vec![S, 0, 1, 2, U, U]);
    }

    #[test]
    fn two_roots_share() {
        // Roots 0 and 1 both reach 2 (and 2 owns 3): dominated by neither.
        let e = [(0, 2), (1, 2), (2, 3), (1, 4)];
        assert_eq!(doms(5, &e, &[0, 1]), vec![S, S, S, 2, 1]);
    }

    #[test]
    fn chain() {
        let n = 200_000u32;
        let e: Vec<(u32, u32)> = (0..n - 1).map(|i| (i, i + 1)).collect();
        let d = doms(n as usize, &e, &[0]);
        assert_eq!(d[0], S);
        assert!((1..n).all(|i| d[i as usize] == i - 1));
    }

    #[test]
    fn root_reached_from_root() {
        // Root 1 is also pointed at by root 0: still a root of its own.
        let e = [(0, 1), (1, 2)];
        assert_eq!(doms(3, &e, &[0, 1]), vec![S, S, 1]);
    }

    #[test]
    fn chain_iter() {
        let e = [(0, 1), (1, 2), (2, 3)];
        let (first, ed) = csr(4, &e);
        let d = Dominators::compute(Csr { first: &first, edges: &ed }, &[0]);
        assert_eq!(d.chain(3).collect::<Vec<_>>(), vec![2, 1, 0]);
        assert_eq!(d.order, vec![0, 1, 2, 3]);
    }

    #[test]
    fn random_against_naive() {
        // A small xorshift: reproducible without a dependency.
        let mut x = 0x9e3779b97f4a7c15u64;
        let mut rnd = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        for round in 0..400 {
            let n = 2 + rnd(30) as usize;
            let m = rnd(3 * n as u64) as usize;
            let edges: Vec<(u32, u32)> = (0..m).map(|_| (rnd(n as u64) as u32, rnd(n as u64) as u32)).collect();
            let nroots = 1 + rnd(3) as usize;
            let roots: Vec<u32> = (0..nroots).map(|_| rnd(n as u64) as u32).collect();
            let want = naive(n, &edges, &roots);
            let got = doms(n, &edges, &roots);
            assert_eq!(got, want, "round {round}: n {n} edges {edges:?} roots {roots:?}");
        }
    }
}
