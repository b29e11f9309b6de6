//! `--heap` (the histogram by type and the summary) and `--objects TYPE`,
//! as text and as the `goanalyze.heap` JSON document (docs/json-schema.md).

use std::fmt::Write;

use crate::heap::{Heap, Histogram};

pub const HEAP_SCHEMA_VERSION: u32 = 1;

/// The text histogram: the summary, the reconciliation with the runtime's
/// counters, then `top` rows (0: all), biggest first.
pub fn heap_text(h: &Heap, hist: &Histogram, top: usize) -> String {
    let s = &hist.summary;
    let mut o = String::new();
    let pct = |a: u64, b: u64| if b == 0 { 0.0 } else { 100.0 * a as f64 / b as f64 };
    let _ = writeln!(
        o,
        "heap: {} objects, {} bytes, in {} spans of {} bytes ({} bytes free in them)",
        s.objects, s.object_bytes, s.spans_in_use, s.span_bytes_in_use, s.free_in_spans
    );
    let _ = writeln!(
        o,
        "typed: {} objects ({:.1}%), {} bytes ({:.1}%); the rest is listed by size class",
        s.typed_objects,
        pct(s.typed_objects, s.objects),
        s.typed_bytes,
        pct(s.typed_bytes, s.object_bytes)
    );
    let _ = writeln!(o, "stacks and other manual spans: {} bytes", s.stack_and_manual_bytes);
    match &s.runtime {
        Some(r) => {
            let _ = writeln!(
                o,
                "runtime's accounting (runtime.memstats.heapStats): objects {} ({:+}), bytes {} ({:+}), spans in use {} ({:+}), stacks {} + work buffers {} ({:+})",
                r.heap_objects,
                s.objects as i64 - r.heap_objects,
                r.heap_alloc,
                s.object_bytes as i64 - r.heap_alloc,
                r.in_heap,
                s.span_bytes_in_use as i64 - r.in_heap,
                r.in_stacks,
                r.in_work_bufs,
                s.stack_and_manual_bytes as i64 - r.in_stacks - r.in_work_bufs
            );
            let d = s.objects as i64 - r.heap_objects;
            let db = s.object_bytes as i64 - r.heap_alloc;
            if d != 0 || db != 0 {
                let _ = writeln!(
                    o,
                    "  {} objects ({} bytes) were allocated from spans Ps hold in their caches, which the runtime counts when a span is given back{}",
                    s.cached_objects,
                    s.cached_bytes,
                    if d == s.cached_objects as i64 && db == s.cached_bytes as i64 {
                        ": reconciled exactly"
                    } else {
                        "; the rest of the difference is not explained"
                    }
                );
            }
        }
        None => {
            let _ = writeln!(o, "runtime's accounting: not available (no runtime.memstats symbol: stripped binary?)");
        }
    }
    if let Some(a) = &h.address_space {
        address_space_text(&mut o, a);
    }
    if !h.warnings.is_empty() {
        let _ = writeln!(o, "partial: {} warnings (on stderr)", h.warnings.len());
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "{:>10} {:>14} {:>12}  type", "objects", "bytes", "lost bytes");
    let n = if top == 0 { hist.rows.len() } else { top.min(hist.rows.len()) };
    for r in &hist.rows[..n] {
        let _ = writeln!(o, "{:>10} {:>14} {:>12}  {}", r.objects, r.bytes, r.lost_bytes, r.name);
    }
    if n < hist.rows.len() {
        let rest = &hist.rows[n..];
        let (ro, rb) = rest.iter().fold((0u64, 0u64), |(a, b), r| (a + r.objects, b + r.bytes));
        let _ = writeln!(o, "{ro:>10} {rb:>14} {:>12}  ({} more types; --top 0 lists all)", "", rest.len());
    }
    if !hist.tiny.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "tiny allocations (packed into the 16-byte tiny blocks above) found through typed pointers:");
        for (name, c) in &hist.tiny {
            let _ = writeln!(o, "{c:>10}  {name}");
        }
    }
    o
}

/// The address-space lines of the summary.
fn address_space_text(o: &mut String, a: &crate::heap::address_space::AddressSpace) {
    let _ = writeln!(o, "address space: {} bytes mapped", a.mapped_bytes);
    let _ = writeln!(
        o,
        "  Go heap arenas ({} of {} bytes, from {}): spans in use {}, stacks and other manual spans {}, free {}, reserved without access {}",
        a.arenas, a.arena_size, a.arena_source, a.heap_spans_in_use, a.stacks_and_manual, a.heap_free, a.arena_reserved
    );
    let parts: Vec<String> = a.metadata.iter().map(|p| format!("{} {}", p.what, p.bytes)).collect();
    let _ = writeln!(
        o,
        "  Go runtime metadata located outside the arenas: {}{}",
        a.go_metadata,
        if parts.is_empty() { String::new() } else { format!(" ({})", parts.join("; ")) }
    );
    let _ = writeln!(o, "  the executable: {}; other files: {}", a.binary, a.other_files);
    let not_go = match (a.not_go_anonymous_at_least, a.runtime_metadata_sys) {
        (Some(n), Some(sys)) => format!("; not Go's: at least {n} (the runtime's off-heap sys counters say {sys})"),
        _ => "; how much is not Go's: unknown (no runtime.memstats)".to_string(),
    };
    let _ = writeln!(
        o,
        "  other anonymous memory (cgo malloc, mmaps, OS thread stacks, runtime metadata not located): {}{not_go}",
        a.other_anonymous
    );
    let _ = writeln!(o, "  no access outside the arenas (reservations, guard pages): {}", a.reserved);
}

#[derive(serde::Serialize)]
struct Doc<'a> {
    schema: &'static str,
    version: u32,
    go_version: Option<&'a str>,
    layout_source: &'a str,
    summary: &'a crate::heap::Summary,
    types: &'a [crate::heap::Row],
    tiny: Vec<TinyRow<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    address_space: Option<&'a crate::heap::address_space::AddressSpace>,
    warnings: &'a [crate::Warning],
}

#[derive(serde::Serialize)]
struct TinyRow<'a> {
    #[serde(rename = "type")]
    ty: &'a str,
    objects: u64,
}

pub fn heap_json(h: &Heap, hist: &Histogram, go_version: Option<&str>, top: usize) -> String {
    let n = if top == 0 { hist.rows.len() } else { top.min(hist.rows.len()) };
    let d = Doc {
        schema: "goanalyze.heap",
        version: HEAP_SCHEMA_VERSION,
        go_version,
        layout_source: &h.layout.source,
        summary: &hist.summary,
        types: &hist.rows[..n],
        tiny: hist.tiny.iter().map(|(t, c)| TinyRow { ty: t, objects: *c }).collect(),
        address_space: h.address_space.as_ref(),
        warnings: &h.warnings,
    };
    serde_json::to_string_pretty(&d).unwrap_or_default() + "\n"
}

/// The objects whose histogram label is `ty`: (address of the value, size in the heap).
pub fn objects_of(h: &Heap, ty: &str) -> Vec<(u64, u64)> {
    (0..h.objects.len() as u32)
        .filter(|id| h.type_label(*id) == ty)
        .map(|id| (h.objects.user_addr(id), h.objects.size(id)))
        .collect()
}

pub fn objects_text(ty: &str, objs: &[(u64, u64)]) -> String {
    let mut o = format!("{} objects of type {ty}\n", objs.len());
    for (a, sz) in objs {
        let _ = writeln!(o, "{a:#x} {sz}");
    }
    o
}

#[derive(serde::Serialize)]
struct ObjDoc<'a> {
    schema: &'static str,
    version: u32,
    #[serde(rename = "type")]
    ty: &'a str,
    objects: Vec<ObjEntry>,
}

#[derive(serde::Serialize)]
struct ObjEntry {
    addr: String,
    size: u64,
}

pub fn objects_json(ty: &str, objs: &[(u64, u64)]) -> String {
    let d = ObjDoc {
        schema: "goanalyze.objects",
        version: HEAP_SCHEMA_VERSION,
        ty,
        objects: objs.iter().map(|(a, s)| ObjEntry { addr: format!("{a:#x}"), size: *s }).collect(),
    };
    serde_json::to_string_pretty(&d).unwrap_or_default() + "\n"
}
