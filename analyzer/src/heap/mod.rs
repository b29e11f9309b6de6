//! What the memory is made of: every object of the Go heap, its type, and a
//! summary reconciled with the runtime's own accounting.
//!
//! Modules, by runtime concept:
//! - [`layout`] (+ its table): offsets of `mheap`, `mspan`, `mstats`,
//!   `heapStatsDelta`, from DWARF or by Go version for stripped binaries;
//! - [`spans`]: `runtime.mheap_` and `allspans`: each span's state, size
//!   class, `allocBits`, `freeindex`;
//! - [`sizeclass`]: the allocator's size classes;
//! - [`objects`]: the allocated objects in address order, with a lookup
//!   from any address to its object ([`objects::ObjectIndex`]);
//! - [`rtype`]: the runtime's type descriptors; [`types`]: giving objects
//!   their types (malloc headers, `largeType`, typed roots, propagation);
//! - [`stats`], the runtime's counters (`runtime.memstats.heapStats`);
//! - [`histogram`], by type, and the summary;
//! - [`address_space`]: every mapped byte of the process by class (heap
//!   arenas, runtime metadata, the executable, files, other anonymous memory);
//! - [`graph`]: who points at whom (roots, then objects, in compact
//!   arrays), with [`pointers`] saying which words are pointers and
//!   [`stackroots`] which stack slots are roots;
//! - [`leaks`]: goroutines blocked forever on something unreachable.
//!
//! Go 1.21 through 1.27. Before 1.22 the heap records no types (only
//! pointer bitmaps): objects are typed only from DWARF roots, so a stripped
//! Go 1.21 binary's heap is reported by size class.

pub mod address_space;
pub mod dominators;
pub mod fieldnames;
pub mod frame_roots;
pub mod graph;
pub mod histogram;
pub mod layout;
pub mod leaks;
pub(crate) mod layout_table;
pub mod objects;
pub mod paths;
pub mod pointers;
pub mod retained;
pub mod rtype;
pub mod semtable;
pub mod sizeclass;
pub mod spans;
pub mod stackroots;
pub mod stackvars;
pub mod stats;
pub mod types;

use crate::binary::Binary;
use crate::error::Result;
use crate::memory::Memory;

pub use histogram::{Histogram, Row, Summary};
pub use objects::{ObjId, ObjectIndex};
pub use types::Typing;

/// The heap of one core.
pub struct Heap {
    pub layout: layout::HeapLayout,
    pub mheap: u64,
    pub sweepgen: Option<u32>,
    /// Spans not in use by heap objects: stacks, free, etc. (the in-use ones are in `objects`).
    pub other_spans: Vec<spans::Span>,
    pub objects: ObjectIndex,
    pub typing: Typing,
    /// The runtime's counters, when they could be read.
    pub runtime: Option<stats::RuntimeStats>,
    /// What the pointer scan needs to know of this runtime (version, GC layout).
    pub ptrinfo: pointers::PtrInfo,
    /// What could not be read; the result is partial when not empty.
    pub warnings: Vec<crate::Warning>,
    /// The whole process's mappings by class, when the caller asked
    /// ([`address_space::address_space`] needs the core's mappings).
    pub address_space: Option<address_space::AddressSpace>,
}

impl Heap {
    /// Read the heap of the process whose memory is `mem`.
    pub fn read(bin: &Binary, mem: &dyn Memory, bias: u64) -> Result<Heap> {
        Self::read_with_roots(bin, mem, bias, &[])
    }

    /// [`Heap::read`], with extra typed roots (runtime address, DWARF
    /// type): goroutine stack frames' variables ([`frame_roots::collect`]).
    pub fn read_with_roots(bin: &Binary, mem: &dyn Memory, bias: u64, roots: &[(u64, crate::dwarf::TypeRef)]) -> Result<Heap> {
        Self::read_impl(bin, mem, bias, Some(roots))
    }

    /// [`Heap::read`] without typing the objects (the walk from the roots
    /// costs as much as the object graph): for what needs only the graph
    /// (leaks, retained sizes). [`Heap::type_all`] or [`Heap::type_chains`]
    /// types them later.
    pub fn read_untyped(bin: &Binary, mem: &dyn Memory, bias: u64) -> Result<Heap> {
        Self::read_impl(bin, mem, bias, None)
    }

    /// Type every object (as [`Heap::read_with_roots`] does with `roots`),
    /// unless done already.
    pub fn type_all(&mut self, bin: &Binary, mem: &dyn Memory, bias: u64, roots: &[(u64, crate::dwarf::TypeRef)]) {
        if !self.typing.complete {
            self.typing = types::Typer::new(bin, mem, bias, &self.objects).run_with_roots(roots);
        }
    }

    /// Type the objects of `chains` (those a report prints, each after its
    /// dominators: see [`types::Typer::along_chains`]) as [`Heap::type_all`]
    /// would, walking only them. An object the chains leave untyped may be
    /// typed by another pointer to it: `preds` gives, for such objects,
    /// chains through each object that points to them (each ending with
    /// the pointer's holder, then the object), or `None` when it cannot
    /// (then the whole heap is typed). Once every untyped object's holders
    /// were walked, none can type it. `roots` are typed roots beyond the
    /// package variables (goroutine frames' variables), as in
    /// [`Heap::type_all`].
    #[allow(clippy::too_many_arguments)]
    pub fn type_chains(
        &mut self,
        bin: &Binary,
        mem: &dyn Memory,
        bias: u64,
        roots: &[(u64, crate::dwarf::TypeRef)],
        chains: &[Vec<ObjId>],
        mut preds: impl FnMut(&[ObjId]) -> Option<Vec<Vec<ObjId>>>) {
        /// Rounds of holders looked for, at most.
        const ROUNDS: usize = 8;
        if self.typing.complete {
            return;
        }
        let mut chains = chains.to_vec();
        let mut asked: std::collections::HashSet<ObjId> = std::collections::HashSet::new();
        for _ in 0..ROUNDS {
            let (t, untyped) = types::Typer::new(bin, mem, bias, &self.objects).along_chains(&chains, roots);
            let new: Vec<ObjId> = untyped.into_iter().filter(|id| asked.insert(*id)).collect();
            if new.is_empty() {
                self.typing = t;
                return;
            }
            match preds(&new) {
                Some(more) => chains.extend(more),
                None => break,
            }
        }
        self.type_all(bin, mem, bias, roots);
    }

    fn read_impl(bin: &Binary, mem: &dyn Memory, bias: u64, typed_roots: Option<&[(u64, crate::dwarf::TypeRef)]>) -> Result<Heap> {
        let layout = layout::HeapLayout::for_binary(bin)?;
        let mheap = spans::find_mheap(bin, mem, bias, &layout)?;
        let set = spans::read_spans(bin, mem, &layout, mheap)?;
        let mut warnings = set.warnings;
        let sweepgen = set.sweepgen;
        let (in_use, other_spans): (Vec<_>, Vec<_>) =
            set.spans.into_iter().partition(|s| s.state == spans::SpanState::InUse);
        let go122 = bin.go_minor().unwrap_or(26) >= 22;
        let objects = ObjectIndex::build(mem, in_use, go122);
        warnings.extend(objects.warnings.iter().cloned());
        let typing = match typed_roots {
            Some(roots) => types::Typer::new(bin, mem, bias, &objects).run_with_roots(roots),
            None => Typing::none(),
        };
        let runtime = stats::read(bin, mem, bias, &layout);
        let ptrinfo = pointers::PtrInfo::new(bin, mem, &layout, mheap, &objects.spans);
        Ok(Heap { layout, mheap, sweepgen, other_spans, objects, typing, runtime, ptrinfo, warnings, address_space: None })
    }

    /// The type name an object is listed under in the histogram.
    pub fn type_label(&self, id: ObjId) -> String {
        match self.typing.name(id) {
            Some(n) => n.to_string(),
            None => {
                let s = &self.objects.spans[self.objects.span_of(id)];
                histogram::untyped_label(s)
            }
        }
    }
}
