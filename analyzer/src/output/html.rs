//! The HTML report: one self-contained page (inline CSS, no script, no
//! fetch: a Content-Security-Policy forbids every load) for one core or a
//! triage batch, rendered from triage [`Record`]s with their
//! `group_details`. Per core: the crash reason and message, the signal, the
//! signature, the crashing goroutine's frames, then the goroutines grouped
//! by identical stack ([`crate::crash::group`]), each group a `<details>`
//! element folded open on demand, with its count, status, wait minutes and
//! creator. 100,000 goroutines are a handful of groups; ids are listed only
//! up to [`MAX_IDS`] a group and at most [`MAX_GROUPS`] groups are written,
//! so the page stays small whatever the core.
//!
//! Everything that comes from the core (function names, file paths, panic
//! values, label values) is escaped: names may hold `<` (a generic
//! function's type arguments carry struct tags).
//!
//! Elements carry `data-*` attributes (`data-count`, `data-status`,
//! `data-signature`...) so that tests and scripts can read the page back
//! from the browser's DOM.

use std::fmt::Write;

use crate::crash::group::{self, Bucket};
use crate::model::Location;
use crate::crash::triage::Record;
use crate::output::traceback::print_name;

/// Groups written per core; the rest are counted in one line.
pub const MAX_GROUPS: usize = 1000;
/// Goroutine ids listed per group.
pub const MAX_IDS: usize = 20;

/// `s` with `&`, `<`, `>`, `"` and `'` as character references: safe in
/// text and in quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out += "&amp;",
            '<' => out += "&lt;",
            '>' => out += "&gt;",
            '"' => out += "&quot;",
            '\'' => out += "&#39;",
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em;color:#1d1d1f;background:#fff}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}h3{font-size:1.05em}
code,pre,.frames,.ids{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
table.heap td,table.heap th{text-align:right;padding:0 .8em}table.heap td.type,table.heap th:last-child{text-align:left;font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:13px}
pre.message{background:#fff4f4;border-left:4px solid #c33;padding:.6em .8em;white-space:pre-wrap;overflow-wrap:anywhere}
table.facts th{text-align:left;padding-right:1em;vertical-align:top;font-weight:600}
table.summary{border-collapse:collapse}table.summary td,table.summary th{border:1px solid #ddd;padding:.2em .5em;text-align:left}
details.group{border:1px solid #ddd;border-radius:4px;margin:.3em 0;padding:.2em .6em}
details.group.crashing{border-color:#c33;background:#fff8f8}
details.group>summary{cursor:pointer}
.count{display:inline-block;min-width:4em;text-align:right;font-weight:700;margin-right:.6em}
.status{color:#05a}.minutes{color:#a50}.locked{color:#777}.badge{color:#c33;font-weight:700}
table.frames{border-collapse:collapse;margin:.3em 0 .3em 1em}table.frames td{padding:0 1em 0 0;vertical-align:top}
td.loc{color:#555;overflow-wrap:anywhere}.inl{color:#777}
.ids{color:#555}.note{color:#555}summary .note{margin-left:.8em;font-size:.9em}.err{color:#c33}
";

/// One page for these records (one core: one record).
pub fn report(records: &[Record]) -> String {
    report_with_heap(records, None)
}

/// [`report`], with the heap's histogram (`--heap`) after a single core's
/// goroutines: what the memory is made of, biggest types first.
pub fn report_with_heap(records: &[Record], heap: Option<&crate::heap::Histogram>) -> String {
    let mut s = String::with_capacity(16 << 10);
    let title = match records {
        [r] => format!("goanalyze: {}", r.core),
        _ => format!("goanalyze: triage of {} cores", records.len()),
    };
    s += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    // Nothing is ever fetched and no script runs, whatever a name holds.
    s += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n";
    s += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    let _ = writeln!(s, "<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>", escape(&title));
    let _ = writeln!(s, "<h1>{}</h1>", escape(&title));
    if records.len() > 1 {
        summary(&mut s, records);
    }
    for (i, r) in records.iter().enumerate() {
        core_section(&mut s, i, r);
    }
    if let Some(h) = heap {
        heap_section(&mut s, h);
    }
    let _ = writeln!(s, "<p class=\"note\">Written by goanalyze {}.</p>\n</body>\n</html>", env!("CARGO_PKG_VERSION"));
    s
}

/// The biggest types of the heap (at most [`HEAP_ROWS`]), as `--heap` lists them.
fn heap_section(s: &mut String, h: &crate::heap::Histogram) {
    let t = &h.summary;
    let _ = writeln!(
        s,
        "<section id=\"heap\">\n<h2>Heap</h2>\n<p class=\"heap-summary\" data-objects=\"{}\" data-bytes=\"{}\">{} objects, {} bytes in {} spans ({} bytes); {} objects typed.</p>",
        t.objects, t.object_bytes, t.objects, t.object_bytes, t.spans_in_use, t.span_bytes_in_use, t.typed_objects
    );
    *s += "<table class=\"heap\">\n<tr><th>objects</th><th>bytes</th><th>lost to rounding</th><th>type</th></tr>\n";
    for r in h.rows.iter().take(HEAP_ROWS) {
        let _ = writeln!(
            s,
            "<tr class=\"heap-row\" data-type=\"{t}\" data-objects=\"{}\" data-bytes=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td class=\"type\">{t}</td></tr>",
            r.objects,
            r.bytes,
            r.objects,
            r.bytes,
            r.lost_bytes,
            t = escape(&r.name)
        );
    }
    *s += "</table>\n";
    if h.rows.len() > HEAP_ROWS {
        let _ = writeln!(s, "<p class=\"note\">{} more types: goanalyze CORE --heap --top 0 lists them all.</p>", h.rows.len() - HEAP_ROWS);
    }
    *s += "</section>\n";
}

/// Types shown in the page's heap table.
pub const HEAP_ROWS: usize = 100;

/// A batch: one row per core, then the signatures with how many cores share each.
fn summary(s: &mut String, records: &[Record]) {
    let failed = records.iter().filter(|r| !r.ok()).count();
    let _ = writeln!(
        s,
        "<p class=\"totals\" data-cores=\"{}\" data-failed=\"{failed}\">{} cores, {failed} could not be analysed.</p>",
        records.len(),
        records.len()
    );
    let mut sigs: Vec<(&str, usize, &str)> = Vec::new();
    for r in records {
        if let Some(sig) = &r.signature {
            match sigs.iter_mut().find(|x| x.0 == sig) {
                Some(x) => x.1 += 1,
                None => sigs.push((sig, 1, r.reason.as_ref().map(|x| x.kind.as_str()).unwrap_or(""))),
            }
        }
    }
    sigs.sort_by(|a, b| b.1.cmp(&a.1));
    *s += "<h2>Signatures</h2>\n<table class=\"summary signatures\">\n<tr><th>cores</th><th>signature</th><th>reason</th></tr>\n";
    for (sig, n, kind) in &sigs {
        let _ = writeln!(
            s,
            "<tr class=\"signature\" data-signature=\"{0}\" data-cores=\"{n}\"><td>{n}</td><td><code>{0}</code></td><td>{1}</td></tr>",
            escape(sig),
            escape(kind)
        );
    }
    *s += "</table>\n<h2>Cores</h2>\n<table class=\"summary cores\">\n<tr><th>core</th><th>reason</th><th>signature</th><th>goroutines</th></tr>\n";
    for (i, r) in records.iter().enumerate() {
        let reason = match (&r.reason, r.errors.first()) {
            (Some(x), _) => escape(x.kind.as_str()),
            (None, Some(e)) => format!("<span class=\"err\">{}</span>", escape(e)),
            (None, None) => String::new(),
        };
        let _ = writeln!(
            s,
            "<tr><td><a href=\"#core-{i}\">{}</a></td><td>{reason}</td><td><code>{}</code></td><td>{}</td></tr>",
            escape(&r.core),
            escape(r.signature.as_deref().unwrap_or("")),
            r.goroutine_count.map(|n| n.to_string()).unwrap_or_default()
        );
    }
    *s += "</table>\n";
}

fn fact(s: &mut String, name: &str, value: &str) {
    let _ = writeln!(s, "<tr><th>{}</th><td>{value}</td></tr>", escape(name));
}

fn core_section(s: &mut String, i: usize, r: &Record) {
    let _ = writeln!(
        s,
        "<section class=\"core\" id=\"core-{i}\" data-core=\"{}\" data-ok=\"{}\">\n<h2>{}</h2>",
        escape(&r.core),
        r.ok(),
        escape(&r.core)
    );
    if !r.ok() {
        for e in &r.errors {
            let _ = writeln!(s, "<p class=\"err error\">{}</p>", escape(e));
        }
        *s += "</section>\n";
        return;
    }
    *s += "<table class=\"facts\">\n";
    if let Some(exe) = &r.exe {
        fact(s, "executable", &format!("<code>{}</code>", escape(exe)));
    }
    if let Some(v) = &r.go_version {
        fact(s, "Go version", &escape(v));
    }
    if let Some(rs) = &r.reason {
        let _ = writeln!(
            s,
            "<tr><th>reason</th><td class=\"reason\" data-kind=\"{0}\"><b>{0}</b> <span class=\"note\">({1})</span></td></tr>",
            escape(rs.kind.as_str()),
            escape(&rs.evidence)
        );
    }
    if r.snapshot {
        fact(s, "snapshot", "yes: a dump of a live (maybe hung) process, not a crash");
    }
    let signal = |sg: &crate::crash::triage::Signal| {
        let mut t = format!("{} ({}) code={}", sg.name, sg.number, sg.code);
        if let Some(a) = &sg.addr {
            let _ = write!(t, " addr={a}");
        }
        if let Some(tid) = sg.thread {
            let _ = write!(t, " thread {tid}");
        }
        escape(&t)
    };
    match &r.signal {
        Some(sg) => fact(s, "signal", &signal(sg)),
        None => fact(s, "signal", "none"),
    }
    if let Some(o) = r.original_signal.as_ref().filter(|o| Some(o.number) != r.signal.as_ref().map(|x| x.number)) {
        fact(s, "original signal", &format!("{} <span class=\"note\">(the core's signal was raised inside its handler)</span>", signal(o)));
    }
    if let Some(id) = r.crashing_goroutine {
        fact(s, "crashing goroutine", &format!("<a href=\"#g-{i}-crashing\">{id}</a>"));
    }
    if let Some(sig) = &r.signature {
        let input = r.signature_input.as_deref().unwrap_or("");
        let _ = writeln!(
            s,
            "<tr><th>signature</th><td><code class=\"signature\" data-signature=\"{0}\" title=\"{1}\">{0}</code></td></tr>",
            escape(sig),
            escape(input)
        );
    }
    *s += "</table>\n";
    if let Some(rs) = r.reason.as_ref().filter(|x| !x.message.is_empty()) {
        let _ = writeln!(s, "<pre class=\"message\">{}</pre>", escape(&rs.message));
    }
    if let Some(frames) = r.frames.as_ref().filter(|f| !f.is_empty()) {
        let _ = writeln!(
            s,
            "<h3 id=\"g-{i}-crashing\">Crashing goroutine {}</h3>",
            r.crashing_goroutine.map(|g| g.to_string()).unwrap_or_default()
        );
        frames_table(s, frames.iter(), "frames crashing-frames");
    }
    groups(s, i, r);
    for w in &r.warnings {
        let _ = writeln!(s, "<p class=\"note warning\">warning: {}</p>", escape(&w.to_string()));
    }
    *s += "</section>\n";
}

fn frames_table<'f>(s: &mut String, frames: impl Iterator<Item = &'f Location>, class: &str) {
    let _ = writeln!(s, "<table class=\"{class}\">");
    for f in frames {
        let shown = print_name(&f.func);
        // The full symbol name (generic type arguments) on hover.
        let title = if *shown != *f.func { format!(" title=\"{}\"", escape(&f.func)) } else { String::new() };
        let _ = writeln!(
            s,
            "<tr class=\"frame\"><td class=\"func\"{title}>{}{}</td><td class=\"loc\">{}:{}</td></tr>",
            escape(&shown),
            if f.inlined { " <span class=\"inl\">(inlined)</span>" } else { "" },
            escape(&f.file),
            f.line
        );
    }
    *s += "</table>\n";
}

fn minutes(b: &Bucket) -> Option<String> {
    let (lo, hi) = b.minutes.filter(|(_, hi)| *hi > 0)?;
    Some(if lo == hi { format!("{lo} minutes") } else { format!("{lo}~{hi} minutes") })
}

fn groups(s: &mut String, i: usize, r: &Record) {
    let buckets = &r.group_details;
    let total: usize = buckets.iter().map(|b| b.count).sum();
    let _ = writeln!(
        s,
        "<h3 class=\"groups-title\" data-goroutines=\"{total}\" data-groups=\"{}\">Goroutines: {total} in {} groups{}</h3>",
        buckets.len(),
        buckets.len(),
        escape(&group::hidden_note(r.system_hidden))
    );
    for (k, b) in buckets.iter().take(MAX_GROUPS).enumerate() {
        let visible = group::visible_frames(b);
        let top = visible.first().map(|f| print_name(&f.func)).unwrap_or_default();
        let _ = write!(
            s,
            "<details class=\"group{}\" id=\"g-{i}-{k}\" data-count=\"{}\" data-status=\"{}\"{}>\n<summary><span class=\"count\">{}</span> <span class=\"status\">{}</span>",
            if b.crashing { " crashing" } else { "" },
            b.count,
            escape(&b.status),
            if b.crashing { " open" } else { "" },
            b.count,
            escape(&b.status)
        );
        if let Some(m) = minutes(b) {
            let _ = write!(s, " <span class=\"minutes\">[{m}]</span>");
        }
        if b.locked_to_thread {
            *s += " <span class=\"locked\">[locked to thread]</span>";
        }
        if b.crashing {
            *s += " <span class=\"badge\">crashing</span>";
        }
        let _ = write!(s, " <code class=\"top\">{}</code>", escape(&top));
        // Groups with one top frame differ further down: say where they began.
        if let Some(c) = &b.created_by {
            let _ = write!(s, " <span class=\"note\">created by {}</span>", escape(&print_name(&c.func)));
        }
        s.push_str("</summary>\n");
        frames_table(s, visible.into_iter(), "frames");
        if let Some(c) = &b.created_by {
            let _ = writeln!(
                s,
                "<p class=\"created\">created by <code>{}</code> at {}:{}</p>",
                escape(&print_name(&c.func)),
                escape(&c.file),
                c.line
            );
        }
        let ids: Vec<String> = b.ids.iter().take(MAX_IDS).map(|g| g.to_string()).collect();
        let more = if b.ids.len() > MAX_IDS { format!(" … ({} in all)", b.ids.len()) } else { String::new() };
        let _ = writeln!(s, "<p class=\"ids\">goroutines: {}{more}</p>\n</details>", ids.join(" "));
    }
    if buckets.len() > MAX_GROUPS {
        let rest = &buckets[MAX_GROUPS..];
        let _ = writeln!(
            s,
            "<p class=\"note more-groups\">{} more groups ({} goroutines) not shown; <code>goanalyze CORE --group</code> lists every one.</p>",
            rest.len(),
            rest.iter().map(|b| b.count).sum::<usize>()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        assert_eq!(escape("a<b>&\"c\"'d'"), "a&lt;b&gt;&amp;&quot;c&quot;&#39;d&#39;");
        assert_eq!(escape("main.f"), "main.f");
    }

    #[test]
    fn a_hostile_record_stays_text() {
        let mut r = Record::failed(std::path::Path::new("/tmp/<core>"), String::new());
        r.errors.clear();
        r.group_details = vec![Bucket {
            count: 3,
            status: "chan <receive>".into(),
            crashing: false,
            ids: vec![1, 2, 3],
            frames: vec![Location {
                func: "main.f[go.shape.struct { X int \"<script>x</script>\" }]".into(),
                file: "/src/<a>.go".into(),
                line: 7,
                inlined: false,
            }],
            created_by: None,
            locked_to_thread: false,
            minutes: Some((1, 3)),
        }];
        let page = report(&[r]);
        assert!(!page.contains("<script"), "{page}");
        assert!(!page.contains("<core>") && !page.contains("<a>") && !page.contains("<receive>"));
        assert!(page.contains("data-count=\"3\""));
        assert!(page.contains("1~3 minutes"));
    }
}
