//! The runtime's own accounting of its heap, read from the core
//! (`runtime.memstats.heapStats`: the same per-generation deltas that
//! `runtime.ReadMemStats` and `runtime/metrics` sum), to reconcile the
//! objects found span by span with.

use super::layout::HeapLayout;
use super::sizeclass::{CLASS_TO_SIZE, NUM_SIZE_CLASSES};
use crate::binary::Binary;
use crate::memory::Memory;

/// The summed `heapStatsDelta`s (what `consistentHeapStats.unsafeRead` gives).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RuntimeStats {
    /// Bytes of spans holding heap objects (`MemStats.HeapInuse`).
    pub in_heap: i64,
    /// Bytes of stack spans (`MemStats.StackInuse`).
    pub in_stacks: i64,
    pub in_work_bufs: i64,
    /// Objects allocated minus freed (`MemStats.HeapObjects`), counting
    /// small objects of spans still cached in a P only when the span is
    /// given back (or `ReadMemStats` flushes the caches).
    pub heap_objects: i64,
    /// Their bytes, by size class (`MemStats.HeapAlloc`).
    pub heap_alloc: i64,
    pub tiny_allocs: u64,
}

/// Read the runtime's counters; `None` when the layout or the symbol is
/// missing (stripped binaries have no `runtime.memstats` symbol).
pub fn read(bin: &Binary, mem: &dyn Memory, bias: u64, l: &HeapLayout) -> Option<RuntimeStats> {
    let ms = bin.symbol("runtime.memstats")?.wrapping_add(bias);
    let size = l.opt("heapStatsDelta.$size")?;
    let base = ms.wrapping_add(l.opt("mstats.heapStats")?).wrapping_add(l.opt("consistentHeapStats.stats")?);
    let mut st = RuntimeStats::default();
    let mut alloc_n = [0u64; NUM_SIZE_CLASSES];
    let mut free_n = [0u64; NUM_SIZE_CLASSES];
    let (mut large_alloc, mut large_free, mut large_alloc_n, mut large_free_n) = (0u64, 0u64, 0u64, 0u64);
    for g in 0..3u64 {
        let d = base.wrapping_add(g * size);
        let f = |k: &str| -> Option<u64> { mem.u64(d.wrapping_add(l.opt(&format!("heapStatsDelta.{k}"))?)).ok() };
        st.in_heap = st.in_heap.wrapping_add(f("inHeap")? as i64);
        st.in_stacks = st.in_stacks.wrapping_add(f("inStacks")? as i64);
        st.in_work_bufs = st.in_work_bufs.wrapping_add(f("inWorkBufs")? as i64);
        st.tiny_allocs = st.tiny_allocs.wrapping_add(f("tinyAllocCount")?);
        large_alloc = large_alloc.wrapping_add(f("largeAlloc")?);
        large_free = large_free.wrapping_add(f("largeFree")?);
        large_alloc_n = large_alloc_n.wrapping_add(f("largeAllocCount")?);
        large_free_n = large_free_n.wrapping_add(f("largeFreeCount")?);
        let arr = |k: &str, out: &mut [u64; NUM_SIZE_CLASSES]| -> Option<()> {
            let a = d.wrapping_add(l.opt(&format!("heapStatsDelta.{k}"))?);
            let mut b = vec![0u8; NUM_SIZE_CLASSES * 8];
            mem.read(a, &mut b).ok()?;
            for (o, c) in out.iter_mut().zip(b.chunks_exact(8)) {
                *o = o.wrapping_add(u64::from_le_bytes(c.try_into().ok()?));
            }
            Some(())
        };
        arr("smallAllocCount", &mut alloc_n)?;
        arr("smallFreeCount", &mut free_n)?;
    }
    let mut objects = large_alloc_n.wrapping_sub(large_free_n) as i64;
    let mut bytes = large_alloc.wrapping_sub(large_free) as i64;
    for i in 1..NUM_SIZE_CLASSES {
        let live = alloc_n[i].wrapping_sub(free_n[i]) as i64;
        objects = objects.wrapping_add(live);
        bytes = bytes.wrapping_add(live.wrapping_mul(i64::from(CLASS_TO_SIZE[i])));
    }
    st.heap_objects = objects;
    st.heap_alloc = bytes;
    Some(st)
}
