//! The histogram by type and the summary of the heap.

use std::collections::HashMap;

use super::sizeclass::PAGE_SIZE;
use super::spans::{Span, SpanState};
use super::types::{TypeSource, UNTYPED};
use super::Heap;

/// One type's objects.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Row {
    #[serde(rename = "type")]
    pub name: String,
    pub objects: u64,
    /// Bytes the objects take in the heap (their size classes).
    pub bytes: u64,
    /// Bytes lost to size-class rounding (and malloc headers), for the
    /// objects whose value size is known.
    pub lost_bytes: u64,
    /// Objects whose value size is not known (untyped, closures): not in `lost_bytes`.
    pub lost_unknown: u64,
    /// `allocation` (malloc header, largeType), `pointer` (followed from a
    /// typed root or object) or `none` (untyped).
    pub source: &'static str,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Summary {
    pub spans_in_use: u64,
    /// Bytes of spans holding heap objects (the runtime's HeapInuse).
    pub span_bytes_in_use: u64,
    pub objects: u64,
    /// Bytes of the allocated objects (the runtime's HeapAlloc).
    pub object_bytes: u64,
    /// Free slots and span tails inside spans in use.
    pub free_in_spans: u64,
    pub typed_objects: u64,
    pub typed_bytes: u64,
    /// Noscan 16-byte objects: tiny-allocator blocks among them hold
    /// several small allocations each.
    pub tiny_class_objects: u64,
    /// Manually managed spans: goroutine stacks and GC work buffers.
    pub stack_and_manual_bytes: u64,
    pub runtime: Option<super::stats::RuntimeStats>,
    /// Objects allocated from spans that Ps hold in their caches since they
    /// took them (`allocCount - allocCountBeforeCache`), which the runtime's
    /// counters include only once the span is given back.
    pub cached_objects: u64,
    pub cached_bytes: u64,
}

pub struct Histogram {
    pub rows: Vec<Row>,
    /// Tiny allocations found through typed pointers, by type: (type, count), most first.
    pub tiny: Vec<(String, u64)>,
    pub summary: Summary,
}

pub fn untyped_label(s: &Span) -> String {
    let scan = if s.noscan { "noscan" } else { "scan" };
    if s.sizeclass == 0 {
        format!("<untyped large {scan}>")
    } else {
        format!("<untyped {}B {scan}>", s.elemsize)
    }
}

impl Heap {
    pub fn histogram(&self) -> Histogram {
        let o = &self.objects;
        let t = &self.typing;
        let mut sum = Summary { runtime: self.runtime.clone(), ..Summary::default() };
        // (entry, or for untyped the span's label) -> row
        let mut typed: Vec<Option<Row>> = vec![None; t.entries.len()];
        let mut untyped: HashMap<String, Row> = HashMap::new();
        for (k, s) in o.spans.iter().enumerate() {
            sum.spans_in_use += 1;
            sum.span_bytes_in_use += s.npages * PAGE_SIZE;
            let (lo, hi) = (o.first[k], o.first[k + 1]);
            let n = u64::from(hi - lo);
            sum.objects += n;
            sum.object_bytes += n * s.elemsize;
            if self.sweepgen.is_some_and(|g| s.sweepgen == g.wrapping_add(3)) {
                let c = s.alloc_count.saturating_sub(s.alloc_count_before_cache);
                sum.cached_objects += c;
                sum.cached_bytes += c * s.elemsize;
            }
            if s.noscan && s.elemsize == 16 {
                sum.tiny_class_objects += n;
            }
            for id in lo..hi {
                let e = t.types[id as usize];
                let row = if e == UNTYPED {
                    untyped.entry(untyped_label(s)).or_insert_with_key(|k| new_row(k.clone(), "none"))
                } else {
                    sum.typed_objects += 1;
                    sum.typed_bytes += s.elemsize;
                    let ent = &t.entries[e as usize];
                    typed[e as usize].get_or_insert_with(|| {
                        new_row(
                            ent.name.clone(),
                            match ent.source {
                                TypeSource::Allocation => "allocation",
                                TypeSource::Pointer => "pointer",
                            },
                        )
                    })
                };
                row.objects += 1;
                row.bytes += s.elemsize;
                match t.used[id as usize] {
                    super::types::USED_UNKNOWN => row.lost_unknown += 1,
                    u => row.lost_bytes += s.elemsize.saturating_sub(u64::from(u)),
                }
            }
        }
        sum.free_in_spans = sum.span_bytes_in_use.saturating_sub(sum.object_bytes);
        sum.stack_and_manual_bytes =
            self.other_spans.iter().filter(|s| s.state == SpanState::Manual).map(|s| s.npages * PAGE_SIZE).sum();
        // The same name from two sources is one row.
        let mut merged: HashMap<String, Row> = HashMap::new();
        for r in typed.into_iter().flatten().chain(untyped.into_values()) {
            match merged.get_mut(&r.name) {
                Some(m) => {
                    m.objects += r.objects;
                    m.bytes += r.bytes;
                    m.lost_bytes += r.lost_bytes;
                    m.lost_unknown += r.lost_unknown;
                    if m.source != r.source {
                        m.source = "allocation+pointer";
                    }
                }
                None => {
                    merged.insert(r.name.clone(), r);
                }
            }
        }
        let mut rows: Vec<Row> = merged.into_values().collect();
        rows.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(b.objects.cmp(&a.objects)).then(a.name.cmp(&b.name)));
        let mut tiny: HashMap<&str, u64> = HashMap::new();
        for e in t.tiny.values() {
            *tiny.entry(t.entries[*e as usize].name.as_str()).or_default() += 1;
        }
        let mut tiny: Vec<(String, u64)> = tiny.into_iter().map(|(n, c)| (n.to_string(), c)).collect();
        tiny.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Histogram { rows, tiny, summary: sum }
    }
}

fn new_row(name: String, source: &'static str) -> Row {
    Row { name, objects: 0, bytes: 0, lost_bytes: 0, lost_unknown: 0, source }
}
