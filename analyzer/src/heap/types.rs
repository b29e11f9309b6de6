//! Giving objects their types. Three sources, most certain first:
//! - the allocation itself (Go 1.22+): a scan object over 512 bytes starts
//!   with a pointer to its type (the malloc header), a large scan object's
//!   span has `largeType`;
//! - typed roots: package variables, typed by DWARF, whose runtime type
//!   descriptors are then followed;
//! - propagation: a typed object's pointer fields give the objects they
//!   point to their types (`*T` -> `T`, a slice -> its backing array, a
//!   string -> its bytes, an interface -> its dynamic type, a func value ->
//!   its closure, a map -> its header), read from the runtime's type
//!   descriptors, which stripped binaries keep.
//!
//! A pointer types an object only if it points at the object's start and
//! the type's size rounds to the object's size class: a pointer to a
//! struct's first field, or into an array, types nothing. What stays
//! untyped is reported by size class.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

use super::objects::{ObjId, ObjectIndex};
use super::rtype::{RType, RTypes};
use super::sizeclass::{round_up, MALLOC_HEADER_SIZE, TINY_SIZE};
use crate::binary::Binary;
use crate::memory::Memory;
use crate::runtime::gotype::Kind;

mod roots;
mod typing_maps;

/// `types[id] == UNTYPED`: nothing said what the object is.
pub const UNTYPED: u32 = 0;
/// `Typing::used` of an object whose value size is not known.
pub const USED_UNKNOWN: u32 = u32::MAX;
/// Nested types followed at most (struct in array in struct...).
const MAX_DEPTH: usize = 24;
/// Array elements walked per array value at most.
const MAX_ARRAY_WALK: u64 = 1 << 24;
/// An array's elements are walked by tasks of this many (a global slice of
/// millions of pointers is spread over the threads).
const ELEMS_PER_TASK: u64 = 4096;
/// A worker whose stack of objects to walk grows past this gives half away.
const SPLIT_AT: usize = 1024;
/// Bytes of objects walked between giving the core's mapped pages back:
/// the walk touches each object once, so the pages need not stay resident.
const RELEASE_EVERY: u64 = 64 << 20;

/// How an object's type was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TypeSource {
    /// Go 1.22+ malloc header or a large span's `largeType`.
    Allocation,
    /// Followed from a typed root or object.
    Pointer,
}

#[derive(Debug, Clone)]
pub struct TypeEntry {
    /// As Go prints it: `main.T`, `[]*main.T` (a backing array),
    /// `map[string]int` (a map's header), `string` (a string's bytes),
    /// `closure main.f.func1`.
    pub name: String,
    /// The runtime type descriptor (of the element, for arrays).
    pub rtype: Option<u64>,
    pub source: TypeSource,
}

/// The types of every object of an [`ObjectIndex`].
pub struct Typing {
    /// Entry 0 is the untyped placeholder.
    pub entries: Vec<TypeEntry>,
    by_name: HashMap<(String, TypeSource), u32>,
    /// Per object: its entry.
    pub types: Vec<u32>,
    /// Per object: bytes its value(s) occupy, when known ([`USED_UNKNOWN`]:
    /// not known; 4 bytes an object, as there are millions).
    pub used: Vec<u32>,
    /// Tiny allocations (noscan, under 16 bytes, packed into 16-byte
    /// blocks) found through typed pointers: address -> entry.
    pub tiny: HashMap<u64, u32>,
    /// Every object was typed ([`Typer::run`]); false: only some
    /// ([`Typer::along_chains`]), or none.
    pub complete: bool,
}

impl Typing {
    fn entry(&mut self, name: String, rtype: Option<u64>, source: TypeSource) -> u32 {
        if let Some(i) = self.by_name.get(&(name.clone(), source)) {
            return *i;
        }
        let i = self.entries.len() as u32;
        self.by_name.insert((name.clone(), source), i);
        self.entries.push(TypeEntry { name, rtype, source });
        i
    }
    pub fn name(&self, id: ObjId) -> Option<&str> {
        let t = self.types.get(id as usize).copied().unwrap_or(UNTYPED);
        (t != UNTYPED).then(|| self.entries[t as usize].name.as_str())
    }

    /// No object typed yet (a heap read for its graph only).
    pub fn none() -> Typing {
        let mut t = Typing { entries: Vec::new(), by_name: HashMap::new(), types: Vec::new(), used: Vec::new(), tiny: HashMap::new(), complete: false };
        t.entries.push(TypeEntry { name: String::new(), rtype: None, source: TypeSource::Pointer });
        t
    }
}

/// What a pointer says about the object it points to.
enum Claim {
    Value(Arc<RType>),
    Array(Arc<RType>, u64),
    Str(u64),
    Closure,
    MapHeader(Arc<RType>),
}

/// Types the objects of an index: `Typer::new(..).run()`.
pub struct Typer<'a> {
    pub bin: &'a Binary,
    pub mem: &'a dyn Memory,
    pub bias: u64,
    pub idx: &'a ObjectIndex,
}

/// What the workers share: an object's type is claimed once, atomically
/// (the first claim wins, as in a sequential walk), and its walk is done by
/// the worker whose claim won.
struct Shared {
    types: Vec<AtomicU32>,
    used: Vec<AtomicU32>,
    /// Entry 0 is the untyped placeholder; workers keep their own caches.
    entries: Mutex<Typing>,
    tiny: Mutex<HashMap<u64, u32>>,
    walked: AtomicU64,
}

impl Shared {
    /// Nothing typed yet among `n` objects; `entries` holds the type table.
    fn new(n: usize, entries: Typing) -> Shared {
        Shared {
            types: (0..n).map(|_| AtomicU32::new(UNTYPED)).collect(),
            used: (0..n).map(|_| AtomicU32::new(USED_UNKNOWN)).collect(),
            entries: Mutex::new(entries),
            tiny: Mutex::new(HashMap::new()),
            walked: AtomicU64::new(0),
        }
    }

    /// The result, once the workers are gone.
    fn into_typing(self) -> Typing {
        let Shared { types, used, entries, tiny, .. } = self;
        let mut t = entries.into_inner().unwrap_or_else(|p| p.into_inner());
        t.types = types.into_iter().map(AtomicU32::into_inner).collect();
        t.used = used.into_iter().map(AtomicU32::into_inner).collect();
        t.tiny = tiny.into_inner().unwrap_or_else(|p| p.into_inner());
        t
    }
}

/// An object (or array) whose pointers are still to be followed: the
/// object, its (element) type and how many elements.
type Item = (ObjId, Arc<RType>, u64);

/// One thread's typing state: its descriptor cache, its cache of entries,
/// its stack of objects to walk.
struct Worker<'a> {
    bin: &'a Binary,
    mem: &'a dyn Memory,
    bias: u64,
    idx: &'a ObjectIndex,
    sh: &'a Shared,
    rt: RTypes<'a>,
    /// (descriptor or pc, form, source) -> entry: no name is built per object.
    names: HashMap<(u64, u8, TypeSource), u32>,
    /// The last entry asked for: a walk asks for the same one in runs.
    last: Option<((u64, u8, TypeSource), u32)>,
    work: Vec<Item>,
}

/// Entry forms, for [`Worker::entry_of`]'s cache key.
const F_VALUE: u8 = 0;
const F_ARRAY: u8 = 1;
const F_STRING: u8 = 2;
const F_TINY_BLOCK: u8 = 3;
const F_CLOSURE: u8 = 4;
const F_MAP: u8 = 5;

/// One worker per thread of the pool (and a spare for the calling thread).
struct Pool<'a> {
    workers: Vec<Mutex<Worker<'a>>>,
}

impl<'a> Pool<'a> {
    fn new(t: &Typer<'a>, sh: &'a Shared) -> Pool<'a> {
        let n = rayon::current_num_threads() + 1;
        Pool { workers: (0..n).map(|_| Mutex::new(Worker::new(t, sh))).collect() }
    }
    /// The worker of the current thread. A rayon thread runs one of our
    /// tasks at a time (tasks spawn but never wait), so it is free.
    fn get(&self) -> MutexGuard<'_, Worker<'a>> {
        let i = rayon::current_thread_index().map_or(self.workers.len() - 1, |i| i.min(self.workers.len() - 1));
        match self.workers[i].try_lock() {
            Ok(g) => g,
            Err(_) => self.workers.iter().find_map(|w| w.try_lock().ok()).unwrap_or_else(|| {
                self.workers[i].lock().unwrap_or_else(|p| p.into_inner())
            }),
        }
    }
}

/// A piece of the walk.
enum Task {
    Items(Vec<Item>),
    /// Elements `lo..hi` of an array object.
    Elems(ObjId, Arc<RType>, u64, u64),
}

impl<'a> Typer<'a> {
    pub fn new(bin: &'a Binary, mem: &'a dyn Memory, bias: u64, idx: &'a ObjectIndex) -> Typer<'a> {
        Typer { bin, mem, bias, idx }
    }

    /// Type everything that can be typed and return the result. The
    /// allocations (per span) and the walk along pointers run on all
    /// threads; the typed roots are read on this one.
    pub fn run(self) -> Typing {
        self.run_with_roots(&[])
    }

    /// [`Typer::run`], with `roots` (runtime address, DWARF type) as typed
    /// roots after the package variables.
    pub fn run_with_roots(self, extra: &[(u64, crate::dwarf::TypeRef)]) -> Typing {
        let n = self.idx.len();
        let mut t = Typing::none();
        t.complete = true;
        let sh = Shared::new(n, t);
        let pool = Pool::new(&self, &sh);
        self.type_allocations(&pool);
        let mut roots: Vec<Item> = Vec::new();
        for w in &pool.workers {
            roots.append(&mut w.lock().unwrap_or_else(|p| p.into_inner()).work);
        }
        {
            let mut w = pool.get();
            w.type_globals();
            w.type_roots(extra);
            roots.append(&mut w.work);
        }
        self.mem.release_pages();
        rayon::scope(|s| {
            for c in roots.chunks(SPLIT_AT) {
                let (pool, c) = (&pool, c.to_vec());
                s.spawn(move |s| run_task(pool, s, Task::Items(c)));
            }
        });
        drop(pool);
        sh.into_typing()
    }

    /// Type the objects of `chains` as [`Typer::run`] would, walking only
    /// them: each chain is an object's dominators, the one a root points to
    /// first, then the object. Every object of the heap that has one gets
    /// its type from its allocation first in [`Typer::run`], and the walk
    /// never overrides that; the others get the first claim of a typed
    /// pointer to them, and every path from a root to a chain's object goes
    /// through the chain, so the claims made walking it (from the package
    /// variables, then from each link) are those the whole walk makes.
    /// Objects that point to a link from inside the chain's subtree could
    /// claim it too: when their claims differ, which one wins is a matter of
    /// timing in [`Typer::run`] as well. The second value: the objects of
    /// `chains` left untyped (another pointer may type them: see
    /// [`super::Heap::type_chains`]).
    pub fn along_chains(self, chains: &[Vec<ObjId>], extra: &[(u64, crate::dwarf::TypeRef)]) -> (Typing, Vec<ObjId>) {
        use std::collections::HashSet;
        let n = self.idx.len();
        let sh = Shared::new(n, Typing::none());
        let want: HashSet<ObjId> = chains.iter().flatten().copied().filter(|&id| (id as usize) < n).collect();
        let mut w = Worker::new(&self, &sh);
        // What is left to walk of each wanted object (the rest is dropped).
        let mut items: HashMap<ObjId, (Arc<RType>, u64)> = HashMap::new();
        let keep = |w: &mut Worker<'_>, items: &mut HashMap<ObjId, (Arc<RType>, u64)>| {
            for (id, rt, k) in w.work.drain(..) {
                if want.contains(&id) {
                    items.entry(id).or_insert((rt, k));
                }
            }
        };
        for &id in &want {
            w.type_allocation(id, self.idx.span_of(id));
        }
        keep(&mut w, &mut items);
        w.type_globals();
        keep(&mut w, &mut items);
        w.type_roots(extra);
        keep(&mut w, &mut items);
        let mut walked = HashSet::new();
        // A chain's last object types nothing wanted (another chain's link
        // it may be is walked as such).
        for &id in chains.iter().flat_map(|c| &c[..c.len().saturating_sub(1)]) {
            if !walked.insert(id) {
                continue;
            }
            if let Some((rt, k)) = items.get(&id).cloned() {
                if rt.ptr_bytes != 0 {
                    w.walk_elems(id, &rt, 0, k.min(MAX_ARRAY_WALK));
                }
                keep(&mut w, &mut items);
            }
        }
        let mut untyped: Vec<ObjId> = want.iter().copied().filter(|&id| !w.is_typed(id)).collect();
        untyped.sort_unstable();
        drop(w);
        (sh.into_typing(), untyped)
    }

    /// Malloc headers and large spans' `largeType` (Go 1.22+), span by span
    /// on all threads.
    fn type_allocations(&self, pool: &Pool<'a>) {
        use rayon::prelude::*;
        let idx = self.idx;
        (0..idx.spans.len()).into_par_iter().for_each(|k| {
            let s = &idx.spans[k];
            let (lo, hi) = (idx.first[k], idx.first[k + 1]);
            if idx.headers[k] || (s.sizeclass == 0 && !s.noscan && s.large_type != 0 && hi > lo) {
                let mut w = pool.get();
                for id in lo..hi {
                    w.type_allocation(id, k);
                }
            }
        });
    }
}

/// Walk a piece, giving work away when it grows: the objects reached from
/// one global slice are spread over every thread.
fn run_task<'s, 'a: 's>(pool: &'s Pool<'a>, s: &rayon::Scope<'s>, task: Task) {
    let mut w = pool.get();
    match task {
        Task::Items(v) => w.work.extend(v),
        Task::Elems(id, rt, lo, hi) => w.walk_elems(id, &rt, lo, hi),
    }
    while let Some((id, rt, n)) = w.work.pop() {
        if rt.ptr_bytes == 0 {
            continue;
        }
        let n = n.min(MAX_ARRAY_WALK);
        if n > ELEMS_PER_TASK {
            let mut lo = 0;
            while lo < n {
                let hi = (lo + ELEMS_PER_TASK).min(n);
                let rt = rt.clone();
                s.spawn(move |s| run_task(pool, s, Task::Elems(id, rt, lo, hi)));
                lo = hi;
            }
            continue;
        }
        w.walk_elems(id, &rt, 0, n);
        if w.work.len() > SPLIT_AT {
            let keep = w.work.len() / 2;
            let half = w.work.split_off(keep);
            s.spawn(move |s| run_task(pool, s, Task::Items(half)));
        }
    }
}

impl<'a> Worker<'a> {
    fn new(t: &Typer<'a>, sh: &'a Shared) -> Worker<'a> {
        let rt = RTypes::new(crate::runtime::gotype::TypeReader { bin: t.bin, mem: t.mem, bias: t.bias });
        Worker { bin: t.bin, mem: t.mem, bias: t.bias, idx: t.idx, sh, rt, names: HashMap::new(), last: None, work: Vec::new() }
    }

    /// Walk elements `lo..hi` of object `id` holding values of `rt`.
    fn walk_elems(&mut self, id: ObjId, rt: &RType, lo: u64, hi: u64) {
        let base = self.idx.user_addr(id);
        for i in lo..hi {
            self.walk(base + i * rt.size, rt, 0);
        }
        let bytes = (hi - lo) * rt.size;
        let before = self.sh.walked.fetch_add(bytes, Relaxed);
        if (before + bytes) / RELEASE_EVERY != before / RELEASE_EVERY {
            self.mem.release_pages();
        }
    }

    /// The entry named `name` (slow path: for names not keyed by a descriptor).
    fn entry(&mut self, name: String, rtype: Option<u64>, source: TypeSource) -> u32 {
        let mut t = self.sh.entries.lock().unwrap_or_else(|p| p.into_inner());
        t.entry(name, rtype, source)
    }

    /// The entry of `form` of descriptor (or pc) `key`; `name` is called once per worker.
    fn entry_of(&mut self, key: u64, form: u8, source: TypeSource, rtype: Option<u64>, name: impl FnOnce() -> String) -> u32 {
        let k = (key, form, source);
        if let Some((lk, e)) = self.last {
            if lk == k {
                return e;
            }
        }
        let e = match self.names.get(&k) {
            Some(e) => *e,
            None => {
                let e = self.entry(name(), rtype, source);
                self.names.insert(k, e);
                e
            }
        };
        self.last = Some((k, e));
        e
    }

    fn is_typed(&self, id: ObjId) -> bool {
        self.sh.types[id as usize].load(Relaxed) != UNTYPED
    }

    /// The runtime records the element type: an object that holds two or
    /// more of them is an array (its length is not recorded: count what fits).
    fn set_from_allocation(&mut self, id: ObjId, rt: Arc<RType>, usable: u64) {
        if rt.size == 0 || rt.size > usable {
            return;
        }
        let n = usable / rt.size;
        let form = if n >= 2 { F_ARRAY } else { F_VALUE };
        let e = self.entry_of(rt.addr, form, TypeSource::Allocation, Some(rt.addr), || if n >= 2 { format!("[]{}", rt.name) } else { rt.name.clone() });
        if self.set(id, e, n * rt.size, n) {
            self.work.push((id, rt, n));
        }
    }

    /// Type object `id` (of span `k`) by its malloc header or its large
    /// span's `largeType`, if it has one.
    fn type_allocation(&mut self, id: ObjId, k: usize) {
        let idx = self.idx;
        let s = &idx.spans[k];
        if idx.headers[k] {
            let Ok(tp) = self.mem.u64(idx.base(id)) else { return };
            if let Some(rt) = self.rt.get(tp) {
                self.set_from_allocation(id, rt, s.elemsize - MALLOC_HEADER_SIZE);
            }
        } else if s.sizeclass == 0 && !s.noscan && s.large_type != 0 && id == idx.first[k] {
            if let Some(rt) = self.rt.get(s.large_type) {
                self.set_from_allocation(id, rt, s.elemsize);
            }
        }
    }

    /// Give an untyped object its type; false if another claim came first.
    fn set(&mut self, id: ObjId, entry: u32, used: u64, _count: u64) -> bool {
        let i = id as usize;
        if self.sh.types[i].compare_exchange(UNTYPED, entry, Relaxed, Relaxed).is_err() {
            return false;
        }
        self.sh.used[i].store(u32::try_from(used).ok().filter(|u| *u != USED_UNKNOWN).unwrap_or(USED_UNKNOWN), Relaxed);
        true
    }

    /// Package variables, by their DWARF types.
    fn type_globals(&mut self) {
        let Ok(di) = self.bin.debug_info() else { return };
        let types_base = self.bin.symbol("runtime.types");
        let mut globals: Vec<_> = di.globals().values().filter_map(|g| Some((g.addr, g.ty?))).collect();
        globals.sort_unstable_by_key(|g| g.0);
        for (addr, ty) in globals {
            self.dwarf_value(di, types_base, addr.wrapping_add(self.bias), ty, 0);
        }
    }

    fn dwarf_value(&mut self, di: &crate::dwarf::DebugInfo, types_base: Option<u64>, addr: u64, ty: crate::dwarf::TypeRef, depth: usize) {
        use crate::dwarf::Kind as D;
        if depth > MAX_DEPTH {
            return;
        }
        let Some(t) = di.type_at(ty) else { return };
        if let Some(rt) = t.runtime_type.and_then(|v| self.runtime_of(types_base, v)) {
            if rt.size == t.size {
                self.walk(addr, &rt, depth);
                return;
            }
        }
        match &t.kind {
            D::Named(n) => self.dwarf_value(di, types_base, addr, *n, depth + 1),
            D::Struct(fields) => {
                for f in fields.clone() {
                    if let Some(ft) = f.ty {
                        self.dwarf_value(di, types_base, addr.wrapping_add(f.offset), ft, depth + 1);
                    }
                }
            }
            D::Array { elem: Some(e), len } => {
                let Some(et) = di.type_at(*e) else { return };
                if et.size == 0 {
                    return;
                }
                for i in 0..(*len).min(MAX_ARRAY_WALK) {
                    self.dwarf_value(di, types_base, addr.wrapping_add(i * et.size), *e, depth + 1);
                }
            }
            D::Pointer(Some(e)) | D::Slice(Some(e)) => {
                let Some(et) = di.type_at(*e) else { return };
                let Ok(p) = self.mem.u64(addr) else { return };
                let Some(ert) = et.runtime_type.and_then(|v| self.runtime_of(types_base, v)) else {
                    // The element has no runtime descriptor (a func type,
                    // say): follow it by DWARF, without typing the target.
                    let n = if matches!(t.kind, D::Pointer(_)) { 1 } else { self.mem.u64(addr.wrapping_add(8)).unwrap_or(0) };
                    if p != 0 && et.size != 0 && self.idx.find(p).is_some() {
                        for i in 0..n.min(MAX_ARRAY_WALK) {
                            self.dwarf_value(di, types_base, p.wrapping_add(i * et.size), *e, depth + 1);
                        }
                    }
                    return;
                };
                if matches!(t.kind, D::Pointer(_)) {
                    self.claim(p, Claim::Value(ert));
                } else if let Ok(cap) = self.mem.u64(addr.wrapping_add(16)) {
                    self.claim(p, Claim::Array(ert, cap));
                }
            }
            D::String => {
                if let (Ok(p), Ok(n)) = (self.mem.u64(addr), self.mem.u64(addr.wrapping_add(8))) {
                    self.claim(p, Claim::Str(n));
                }
            }
            D::Func => {
                if let Ok(p) = self.mem.u64(addr) {
                    self.claim(p, Claim::Closure);
                }
            }
            _ => {}
        }
    }

    /// DW_AT_go_runtime_type holds the descriptor's link-time address, or
    /// (newer toolchains) its offset from `runtime.types`.
    fn runtime_of(&mut self, types_base: Option<u64>, v: u64) -> Option<Arc<RType>> {
        let link = match types_base {
            Some(b) if v < b => b.wrapping_add(v),
            _ => v,
        };
        self.rt.get(link.wrapping_add(self.bias))
    }

    fn word(&self, addr: u64) -> u64 {
        match self.mem.slice(addr, 8) {
            Some(b) => u64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
            None => self.mem.u64(addr).unwrap_or(0),
        }
    }

    /// Follow the pointers of a value of type `rt` at `addr`.
    fn walk(&mut self, addr: u64, rt: &RType, depth: usize) {
        if rt.ptr_bytes == 0 || depth > MAX_DEPTH {
            return;
        }
        match rt.kind {
            Kind::Pointer => {
                let p = self.word(addr);
                if p != 0 {
                    if let Some(e) = rt.elem.and_then(|e| self.rt.get(e)) {
                        self.claim(p, Claim::Value(e));
                    }
                }
            }
            Kind::Slice => {
                let p = self.word(addr);
                let cap = self.word(addr + 16);
                if p != 0 && cap != 0 {
                    if let Some(e) = rt.elem.and_then(|e| self.rt.get(e)) {
                        self.claim(p, Claim::Array(e, cap));
                    }
                }
            }
            Kind::String => {
                let p = self.word(addr);
                if p != 0 {
                    let n = self.word(addr + 8);
                    self.claim(p, Claim::Str(n));
                }
            }
            Kind::Func => {
                let p = self.word(addr);
                if p != 0 {
                    self.claim(p, Claim::Closure);
                }
            }
            Kind::Map => {
                let p = self.word(addr);
                if p != 0 {
                    if let Some(me) = self.rt.get(rt.addr) {
                        self.claim(p, Claim::MapHeader(me));
                    }
                }
            }
            Kind::Chan => {
                let p = self.word(addr);
                if p != 0 {
                    self.chan_value(p, rt);
                }
            }
            Kind::Interface => {
                let (w0, data) = (self.word(addr), self.word(addr + 8));
                if w0 == 0 || data == 0 {
                    return;
                }
                // An iface's first word is an itab, whose second word is the type.
                let tp = if rt.empty_iface { w0 } else { self.word(w0 + 8) };
                let Some(dt) = self.rt.get(tp) else { return };
                if dt.direct {
                    // The data word is the (pointer-shaped) value itself.
                    let mut buf = dt.as_ref().clone();
                    if buf.kind == Kind::Struct || buf.kind == Kind::Array {
                        // A one-field struct or one-element array of a pointer.
                        buf.ptr_bytes = buf.ptr_bytes.max(8);
                    }
                    self.walk(addr + 8, &buf, depth + 1);
                } else {
                    self.claim(data, Claim::Value(dt));
                }
            }
            Kind::Struct => {
                for (off, ft) in rt.fields.clone() {
                    if let Some(f) = self.rt.get(ft) {
                        self.walk(addr + off, &f, depth + 1);
                    }
                }
            }
            Kind::Array => {
                let Some(e) = rt.elem.and_then(|e| self.rt.get(e)) else { return };
                if e.size == 0 || e.ptr_bytes == 0 {
                    return;
                }
                for i in 0..rt.len.min(MAX_ARRAY_WALK) {
                    self.walk(addr + i * e.size, &e, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// A pointer at `p` says `c`: type the object if it is untyped, `p` is
    /// its start and the claim fits its size class.
    fn claim(&mut self, p: u64, c: Claim) {
        let idx = self.idx;
        let Some(at) = idx.locate(p) else { return };
        let id = at.id;
        if let Claim::Value(rt) = &c {
            if at.noscan && at.elemsize == TINY_SIZE && rt.size < TINY_SIZE && rt.size > 0 && rt.ptr_bytes == 0 {
                // A tiny allocation inside a block: count it by address;
                // the block is typed as one.
                let e = self.entry_of(rt.addr, F_VALUE, TypeSource::Pointer, Some(rt.addr), || rt.name.clone());
                self.sh.tiny.lock().unwrap_or_else(|p| p.into_inner()).entry(p).or_insert(e);
                if !self.is_typed(id) {
                    let b = self.entry_of(0, F_TINY_BLOCK, TypeSource::Pointer, None, || "tiny block".into());
                    self.set(id, b, u64::MAX, 1);
                }
                return;
            }
        }
        let hdr = if at.header { MALLOC_HEADER_SIZE } else { 0 };
        // The address test first: it needs no other memory.
        if at.base + hdr != p || self.is_typed(id) {
            return;
        }
        let fits = |bytes: u64| bytes > 0 && round_up(bytes.saturating_add(hdr)) == at.elemsize;
        match c {
            Claim::Value(rt) => {
                if !fits(rt.size) {
                    return;
                }
                let e = self.entry_of(rt.addr, F_VALUE, TypeSource::Pointer, Some(rt.addr), || rt.name.clone());
                if self.set(id, e, rt.size, 1) {
                    self.work.push((id, rt, 1));
                }
            }
            Claim::Array(rt, n) => {
                let Some(bytes) = rt.size.checked_mul(n) else { return };
                if !fits(bytes) {
                    return;
                }
                let e = self.entry_of(rt.addr, F_ARRAY, TypeSource::Pointer, Some(rt.addr), || format!("[]{}", rt.name));
                if self.set(id, e, bytes, n) {
                    self.work.push((id, rt, n));
                }
            }
            Claim::Str(n) => {
                if !at.noscan || !fits(n) {
                    return;
                }
                let e = self.entry_of(0, F_STRING, TypeSource::Pointer, None, || "string".into());
                self.set(id, e, n, 1);
            }
            Claim::Closure => {
                let pc = self.word(p);
                let Some(f) = self.bin.pcln.find_func(pc.wrapping_sub(self.bias)) else { return };
                if f.entry != pc.wrapping_sub(self.bias) {
                    return;
                }
                let bin = self.bin;
                let e = self.entry_of(pc, F_CLOSURE, TypeSource::Pointer, None, || format!("closure {}", bin.pcln.func_name(&f)));
                self.set(id, e, u64::MAX, 1);
            }
            Claim::MapHeader(mt) => {
                // Both the old hmap and the Swiss-table maps.Map are 48 bytes.
                if at.elemsize != 48 {
                    return;
                }
                let e = self.entry_of(mt.addr, F_MAP, TypeSource::Pointer, Some(mt.addr), || mt.name.clone());
                if self.set(id, e, 48, 1) {
                    self.map_internals(p, &mt);
                }
            }
        }
    }
}
