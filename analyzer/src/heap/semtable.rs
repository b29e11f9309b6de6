//! The runtime's semaphore table (`runtime.semtable`): who waits on which
//! semaphore. Before Go 1.26 a goroutine blocked in `sync.Mutex.Lock`,
//! `RWMutex` or `WaitGroup.Wait` (`semacquire`) records its sudog only
//! there, not in `g.waiting`; the leak rule needs the semaphore's address
//! (the sudog's `elem`), so it is found here.
//!
//! The table is `semTabSize` (251) roots, each padded to a cache line; a
//! root is `{lock mutex; treap *sudog; nwait}`: a treap of sudogs by
//! address (`prev` the left child, `next` the right), each heading a list
//! (`waitlink`) of the other waiters on the same address.

use std::collections::{HashMap, HashSet};

use crate::binary::Binary;
use crate::memory::Memory;

/// The table's roots: a constant of the runtime since Go 1.0.
const SEM_TAB_SIZE: u64 = 251;
/// `semaRoot.treap`: after `lock` (a `runtime.mutex`: one word, no lock
/// ranking in release builds).
const ROOT_TREAP: u64 = 8;
/// `sudog.g`, `.next`, `.prev`: its first three words in every version read.
const SUDOG_G: u64 = 0;
const SUDOG_NEXT: u64 = 8;
const SUDOG_PREV: u64 = 16;
/// Sudogs visited at most (a corrupt treap must not loop).
const MAX_SUDOGS: usize = 1 << 20;

/// For each goroutine (its `runtime.g` address) waiting in the table, its
/// sudogs there and the semaphore address each waits on (`elem`); empty
/// when the table is not in the binary's symbols or `elem`/`waitlink`'s
/// offsets are unknown.
pub fn waiters(bin: &Binary, mem: &dyn Memory, bias: u64, elem: Option<u64>, waitlink: Option<u64>) -> HashMap<u64, Vec<(u64, u64)>> {
    let mut out: HashMap<u64, Vec<(u64, u64)>> = HashMap::new();
    let (Some(elem), Some(waitlink)) = (elem, waitlink) else { return out };
    let Some(&(addr, size)) = bin.symbols.get("runtime.semtable") else { return out };
    if size == 0 || size % SEM_TAB_SIZE != 0 {
        return out;
    }
    let stride = size / SEM_TAB_SIZE;
    let mut seen = HashSet::new();
    let mut todo = Vec::new();
    for i in 0..SEM_TAB_SIZE {
        if let Ok(t) = mem.u64(addr + bias + i * stride + ROOT_TREAP) {
            todo.push(t);
        }
    }
    // The treap's nodes by their children; each node's list by `waitlink`
    // (a list member's own children are stale: not followed).
    while let Some(t) = todo.pop() {
        if t == 0 || !seen.insert(t) || seen.len() > MAX_SUDOGS {
            continue;
        }
        let mut s = t;
        while s != 0 && (s == t || seen.insert(s)) && seen.len() <= MAX_SUDOGS {
            let (Ok(g), Ok(e)) = (mem.u64(s + SUDOG_G), mem.u64(s + elem)) else { break };
            if g != 0 && e != 0 {
                out.entry(g).or_default().push((s, e));
            }
            s = mem.u64(s + waitlink).unwrap_or(0);
        }
        for off in [SUDOG_NEXT, SUDOG_PREV] {
            if let Ok(n) = mem.u64(t + off) {
                todo.push(n);
            }
        }
    }
    out
}
