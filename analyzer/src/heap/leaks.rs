//! Goroutine leaks, post mortem: goroutines blocked forever on a channel,
//! `select`, `sync.Mutex`/`RWMutex`, `sync.Cond` or `sync.WaitGroup` that
//! nothing able to run can reach. The rule is Go 1.26's leak detector's
//! (`isMaybeRunnable`, `findGoroutineLeaks` in runtime/mgc.go):
//!
//! - the roots are the globals and the stacks of every goroutine that is
//!   not blocked on one of those primitives;
//! - a blocked goroutine's blocking objects are its `g.waiting` sudogs'
//!   channels (`sudog.c`: channel operations and `select`) or the first
//!   sudog's `elem` (the semaphore or notify list inside the sync value);
//!   the edges from those sudogs to them are hidden, as the runtime makes
//!   them untraceable (`setSyncObjectsUntraceable`), so that `allgs -> g
//!   -> g.waiting -> sudog` does not keep every waited-on object alive;
//! - a blocked goroutine whose blocking object is reachable (or not a heap
//!   object at all: a global, a stack) may still run: its stack becomes
//!   roots too; repeat to a fixed point;
//! - `select {}` and a nil channel block forever by definition;
//! - what stays blocked and unreachable leaked.
//!
//! The bytes a leak holds are those only the leaked goroutines' stacks
//! reach: reachable from all roots minus reachable from all roots but
//! theirs (plain reachability, every edge followed). Objects also reachable
//! from a leaked goroutine's `runtime.g` (its sudogs, the channel it waits
//! on) are not counted: the runtime keeps those for `allgs`.
//!
//! Before Go 1.26 the semaphore waits (`sync.Mutex`, `RWMutex`,
//! `WaitGroup`) do not set `g.waiting`: their semaphore is found in the
//! runtime's semaphore table ([`super::semtable`]), and before Go 1.24 a
//! `WaitGroup.Wait` is told only by the plain `semacquire` wait reason (a
//! semaphore that is a global, as the runtime's own are, may wake it).
//! `sync.Cond.Wait` (a notify list, in no table) is counted as undecided
//! then, never reported as a leak.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::analysis::{Analysis, GoroutineReport};
use crate::model::{Creator, Location};
use crate::runtime::goroutine::{G_LEAKED, G_WAITING};

use super::graph::{Graph, NodeId};
use super::stackroots::ExtraLayout;
use super::Heap;

/// How a goroutine is blocked, for the leak rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    /// Channel send/receive or select: any reachable channel may wake it.
    Chan,
    /// A sync primitive's semaphore or notify list (the first sudog's elem).
    Sync,
    /// `select {}`, a nil channel: blocked forever whatever is reachable.
    Forever,
}

/// `minor`: the Go version's (`sync.WaitGroup.Wait` has its own wait
/// reason from Go 1.24; before, it waits as `semacquire`, which only
/// then is taken as a sync primitive's wait).
fn block_kind(reason: &str, minor: u32) -> Option<Block> {
    Some(match reason {
        "semacquire" if minor < 24 => Block::Sync,
        "chan receive" | "chan send" | "select" => Block::Chan,
        "sync.Cond.Wait" | "sync.Mutex.Lock" | "sync.RWMutex.RLock" | "sync.RWMutex.Lock" | "sync.WaitGroup.Wait" => {
            Block::Sync
        }
        "select (no cases)" | "chan send (nil chan)" | "chan receive (nil chan)" => Block::Forever,
        _ => return None,
    })
}

/// Whether any goroutine is blocked on a channel or sync primitive: only
/// then can one have leaked.
pub fn any_blocked(a: &Analysis) -> bool {
    let minor = minor(a);
    a.goroutines.iter().any(|r| {
        let st = r.g.status();
        (st == G_WAITING || st == G_LEAKED) && a.state.wait_reason_text(r.g.wait_reason).and_then(|w| block_kind(w, minor)).is_some()
    })
}

fn minor(a: &Analysis) -> u32 {
    a.bin.go_minor().unwrap_or(26)
}

/// Leaked goroutines with the same stack.
#[derive(Debug, Clone, Serialize)]
pub struct LeakGroup {
    pub count: usize,
    /// The wait reason (`chan receive`, `sync.Mutex.Lock`).
    pub wait_reason: String,
    /// Goroutine ids, ascending.
    pub ids: Vec<u64>,
    pub frames: Vec<Location>,
    pub created_by: Option<Location>,
    /// Bytes (and objects) reachable from this group's stacks and from no
    /// root other than leaked goroutines' stacks (objects shared with
    /// another group count in both).
    pub bytes: u64,
    pub objects: u64,
}

/// What [`find_leaks`] found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LeakReport {
    /// Leaked goroutines.
    pub leaked: usize,
    /// Goroutines blocked on a channel or sync primitive (leaked or not).
    pub blocked: usize,
    /// Blocked goroutines whose blocking object could not be found
    /// (not reported as leaks).
    pub undecided: usize,
    /// Bytes and objects reachable only from the leaked goroutines' stacks:
    /// what would be freed with them.
    pub bytes: u64,
    pub objects: u64,
    /// Biggest first.
    pub groups: Vec<LeakGroup>,
    pub warnings: Vec<crate::Warning>,
}

/// One goroutine blocked on a primitive.
struct Candidate {
    idx: usize,
    kind: Block,
    /// Addresses of the objects whose reachability wakes it.
    blocking: Vec<u64>,
}

/// Find the leaked goroutines of `a` (its stacks walked whole) over `heap`.
pub fn find_leaks(a: &Analysis, heap: &Heap) -> LeakReport {
    let mem = a.mem();
    let extra = ExtraLayout::for_binary(&a.bin);
    let mut warnings = Vec::new();
    let (roots, rw) = super::graph::process_roots(a, heap);
    warnings.extend(rw);
    let graph = Graph::build(heap, mem, roots);
    warnings.extend(graph.warnings.iter().cloned());
    let idx = &heap.objects;

    // The blocked goroutines and the sudog edges the runtime hides.
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut hidden: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
    let mut undecided = 0usize;
    // Before Go 1.26 a semaphore wait is only in the runtime's table.
    let mut semtable: Option<HashMap<u64, Vec<(u64, u64)>>> = None;
    let minor = minor(a);
    for (i, r) in a.goroutines.iter().enumerate() {
        let st = r.g.status();
        if st != G_WAITING && st != G_LEAKED {
            continue;
        }
        let Some(reason) = a.state.wait_reason_text(r.g.wait_reason) else { continue };
        let Some(kind) = block_kind(reason, minor) else { continue };
        if kind == Block::Forever {
            candidates.push(Candidate { idx: i, kind, blocking: Vec::new() });
            continue;
        }
        let sudogs = waiting_sudogs(mem, &extra, r.g.addr);
        if sudogs.is_empty() && kind == Block::Sync {
            let table = semtable.get_or_insert_with(|| super::semtable::waiters(&a.bin, mem, a.bias, extra.sudog_elem, extra.sudog_waitlink));
            if let Some(&(sudog, sema)) = table.get(&r.g.addr).and_then(|v| v.first()) {
                // The table is a global: its sudog's `elem` must not make
                // the semaphore's holder reachable (Go 1.26 hides it too).
                if let (Some(sn), Some(pn)) = (idx.find(sudog), idx.find(sema)) {
                    hidden.entry(graph.node(sn)).or_default().push(graph.node(pn));
                }
                candidates.push(Candidate { idx: i, kind, blocking: vec![sema] });
                continue;
            }
        }
        let field = match kind {
            Block::Chan => extra.sudog_c,
            _ => extra.sudog_elem,
        };
        let (Some(field), false) = (field, sudogs.is_empty()) else {
            undecided += 1;
            continue;
        };
        let mut blocking = Vec::new();
        for &s in &sudogs {
            let Ok(p) = mem.u64(s + field) else { continue };
            if p == 0 {
                continue;
            }
            blocking.push(p);
            if let (Some(sn), Some(pn)) = (idx.find(s), idx.find(p)) {
                hidden.entry(graph.node(sn)).or_default().push(graph.node(pn));
            }
        }
        if kind == Block::Sync {
            // isMaybeRunnable looks at the first sudog only.
            blocking.truncate(1);
        }
        if blocking.is_empty() {
            undecided += 1;
            continue;
        }
        candidates.push(Candidate { idx: i, kind, blocking });
    }
    if extra.g_waiting.is_none() && undecided > 0 {
        warnings.push(crate::Warning::NoWaitingOffset { undecided });
    }

    // Roots by goroutine.
    let mut by_goid: HashMap<u64, Vec<NodeId>> = HashMap::new();
    let mut base_roots: Vec<NodeId> = Vec::new();
    let cand_goids: HashSet<u64> = candidates.iter().map(|c| a.goroutines[c.idx].g.goid).collect();
    for (n, r) in graph.roots.iter().enumerate() {
        match r.goid {
            Some(g) if cand_goids.contains(&g) => by_goid.entry(g).or_default().push(n as NodeId),
            _ => base_roots.push(n as NodeId),
        }
    }

    // The leak detector's marking: grow from the roots of goroutines that
    // may run until no blocked one wakes.
    let hidden = Hidden::new(hidden, graph.node_count());
    let mut marked = Bits::new(graph.node_count());
    let mut stack = base_roots.clone();
    mark(&graph, &mut marked, &mut stack, Some(&hidden));
    let mut pending: Vec<&Candidate> = candidates.iter().collect();
    loop {
        let before = pending.len();
        let mut woke = Vec::new();
        pending.retain(|c| {
            let wakes = match c.kind {
                Block::Forever => false,
                _ => c.blocking.iter().any(|&p| match idx.find(p) {
                    Some(id) => marked.get(graph.node(id)),
                    None => true,
                }),
            };
            if wakes {
                woke.push(a.goroutines[c.idx].g.goid);
            }
            !wakes
        });
        if pending.len() == before {
            break;
        }
        for g in woke {
            stack.extend(by_goid.get(&g).into_iter().flatten().copied());
        }
        mark(&graph, &mut marked, &mut stack, Some(&hidden));
    }
    let leaked: Vec<&GoroutineReport> = pending.iter().map(|c| &a.goroutines[c.idx]).collect();

    // The bytes only leaked stacks hold: mark from every other root with
    // every edge, then what the leaked stacks reach beyond that.
    let leaked_goids: HashSet<u64> = leaked.iter().map(|r| r.g.goid).collect();
    let mut live = Bits::new(graph.node_count());
    let mut stack: Vec<NodeId> = (0..graph.roots.len() as NodeId)
        .filter(|&n| graph.roots[n as usize].goid.is_none_or(|g| !leaked_goids.contains(&g)))
        .collect();
    // Nothing leaked (a healthy server): a whole walk for no bytes.
    if !leaked.is_empty() {
        mark(&graph, &mut live, &mut stack, None);
    }
    let freed = |goids: &mut dyn Iterator<Item = u64>| -> (u64, u64) {
        let mut seen = live.clone();
        let mut st: Vec<NodeId> = goids.flat_map(|g| by_goid.get(&g).into_iter().flatten().copied()).collect();
        mark(&graph, &mut seen, &mut st, None);
        let mut bytes = 0;
        let mut objects = 0;
        for id in 0..idx.len() as u32 {
            let n = graph.node(id);
            if seen.get(n) && !live.get(n) {
                bytes += idx.size(id);
                objects += 1;
            }
        }
        (bytes, objects)
    };
    let (bytes, objects) = if leaked.is_empty() { (0, 0) } else { freed(&mut leaked.iter().map(|r| r.g.goid)) };

    // Group by stack, as --group does.
    type Key = (String, Vec<Location>, Option<Arc<str>>);
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut groups: Vec<LeakGroup> = Vec::new();
    for r in &leaked {
        let reason = a.state.wait_reason_text(r.g.wait_reason).unwrap_or("waiting").to_string();
        let frames: Vec<Location> = r.stack.frames.iter().flat_map(|f| f.logical.iter()).map(Location::of).collect();
        let created_by = (r.g.goid != 1).then(|| Creator::of(a, &r.g).map(|c| c.location())).flatten();
        let key = (reason.clone(), frames.clone(), created_by.as_ref().map(|c| c.func.clone()));
        let k = *index.entry(key).or_insert_with(|| {
            groups.push(LeakGroup {
                count: 0,
                wait_reason: reason,
                ids: Vec::new(),
                frames,
                created_by,
                bytes: 0,
                objects: 0,
            });
            groups.len() - 1
        });
        groups[k].count += 1;
        groups[k].ids.push(r.g.goid);
    }
    // Per group (the biggest 50 groups: each is one more walk).
    groups.sort_by(|x, y| y.count.cmp(&x.count).then(x.ids.cmp(&y.ids)));
    for g in groups.iter_mut().take(50) {
        g.ids.sort_unstable();
        let (b, o) = freed(&mut g.ids.iter().copied());
        g.bytes = b;
        g.objects = o;
    }
    for g in groups.iter_mut().skip(50) {
        g.ids.sort_unstable();
    }
    groups.sort_by(|x, y| y.bytes.cmp(&x.bytes).then(y.count.cmp(&x.count)).then(x.ids.cmp(&y.ids)));
    LeakReport {
        leaked: leaked.len(),
        blocked: candidates.len() + undecided,
        undecided,
        bytes,
        objects,
        groups,
        warnings,
    }
}

/// The sudogs of `g.waiting`, following `waitlink` (a select has one per case).
fn waiting_sudogs(mem: &dyn crate::memory::Memory, extra: &ExtraLayout, g: u64) -> Vec<u64> {
    let (Some(w), Some(link)) = (extra.g_waiting, extra.sudog_waitlink) else { return Vec::new() };
    let mut out = Vec::new();
    let mut s = mem.u64(g + w).unwrap_or(0);
    while s != 0 && out.len() < 65_536 && !out.contains(&s) {
        out.push(s);
        s = mem.u64(s + link).unwrap_or(0);
    }
    out
}

/// Edges the marking does not follow (from sudogs to what they wait on),
/// by source node; `nodes` marks the sources.
struct Hidden {
    edges: HashMap<NodeId, Vec<NodeId>>,
    nodes: Bits,
}

impl Hidden {
    fn new(edges: HashMap<NodeId, Vec<NodeId>>, nodes: usize) -> Hidden {
        let mut bits = Bits::new(nodes);
        for &n in edges.keys() {
            bits.set(n);
        }
        Hidden { edges, nodes: bits }
    }
}

/// One bit per node.
#[derive(Clone)]
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn get(&self, n: NodeId) -> bool {
        self.0[n as usize / 64] >> (n % 64) & 1 != 0
    }
    /// Set; whether it was clear.
    fn set(&mut self, n: NodeId) -> bool {
        let w = &mut self.0[n as usize / 64];
        let was = *w >> (n % 64) & 1 != 0;
        *w |= 1 << (n % 64);
        !was
    }
}

/// Mark everything reachable from `stack` (depth first), skipping the
/// `hidden` edges.
fn mark(g: &Graph, seen: &mut Bits, stack: &mut Vec<NodeId>, hidden: Option<&Hidden>) {
    while let Some(n) = stack.pop() {
        if !seen.set(n) {
            continue;
        }
        // The bit first: a hash lookup for each of millions of nodes costs.
        let skip = hidden.filter(|h| h.nodes.get(n)).and_then(|h| h.edges.get(&n));
        for &m in g.succ(n) {
            if !seen.get(m) && skip.is_none_or(|s| !s.contains(&m)) {
                stack.push(m);
            }
        }
    }
}
