//! `--leaks`: goroutines blocked forever on something nothing live can
//! reach (analyzer::heap::leaks), grouped by stack like `--group`.

use std::fmt::Write;

use anyhow::Result;

use analyzer::heap::leaks::{self, LeakReport};
use analyzer::output::traceback::print_name;
use analyzer::Analysis;

pub fn run(a: &Analysis, json: bool) -> Result<String> {
    // Leaks need the graph, not the objects' types.
    let heap = analyzer::heap::Heap::read_untyped(&a.bin, &a.core, a.bias)?;
    for w in &heap.warnings {
        eprintln!("goanalyze: warning: {w}");
    }
    let report = leaks::find_leaks(a, &heap);
    for w in &report.warnings {
        eprintln!("goanalyze: warning: {w}");
    }
    Ok(if json { serde_json::to_string_pretty(&report)? + "\n" } else { text(&report) })
}

/// At most this many frames of each group are printed.
const FRAMES: usize = 10;

pub fn text(r: &LeakReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} goroutines leaked ({} groups), {} bytes in {} objects reachable only from their stacks",
        r.leaked,
        r.groups.len(),
        r.bytes,
        r.objects
    );
    let _ = writeln!(
        s,
        "{} goroutines blocked on channels or sync primitives: {} leaked, {} reachable, {} undecided",
        r.blocked,
        r.leaked,
        r.blocked - r.leaked - r.undecided,
        r.undecided
    );
    for g in &r.groups {
        let ids: Vec<String> = g.ids.iter().take(10).map(u64::to_string).collect();
        let more = if g.ids.len() > 10 { format!(" and {} more", g.ids.len() - 10) } else { String::new() };
        let _ = writeln!(
            s,
            "\n{} goroutines [{}], {} bytes in {} objects: goroutine {}{}",
            g.count,
            g.wait_reason,
            g.bytes,
            g.objects,
            ids.join(", "),
            more
        );
        // The runtime's own frames (gopark, chanrecv) first, then the user's.
        for f in g.frames.iter().take(FRAMES) {
            let _ = writeln!(s, "{}{}\n\t{}:{}", print_name(&f.func), if f.inlined { "(...)" } else { "()" }, f.file, f.line);
        }
        if g.frames.len() > FRAMES {
            let _ = writeln!(s, "...{} more frames", g.frames.len() - FRAMES);
        }
        if let Some(c) = &g.created_by {
            let _ = writeln!(s, "created by {}\n\t{}:{}", print_name(&c.func), c.file, c.line);
        }
    }
    s
}

/// `--stack-roots` (a developer aid): every goroutine's stack roots, what
/// they point to, and what a conservative scan of its stack finds, as JSON.
pub fn stack_roots(a: &Analysis) -> Result<String> {
    let heap = analyzer::heap::Heap::read(&a.bin, &a.core, a.bias)?;
    let gs = analyzer::heap::stackroots::inspect(a, &heap);
    Ok(serde_json::to_string_pretty(&gs)? + "\n")
}
