//! Goroutines with the same stack, bucketed: a server with ten thousand
//! goroutines usually has a handful of distinct stacks. Two goroutines are in
//! one bucket when their status (the wait reason for waiting ones), every
//! frame's function and file:line, and the function of their `go` statement
//! are equal. Ids, argument values and wait minutes are not compared: they
//! differ between goroutines doing the same thing.
//!
//! The crashing goroutine's bucket comes first, then the biggest. System
//! goroutines (the runtime's own) are in, as in `GOTRACEBACK=crash` and
//! every other view, unless `--system=false` leaves them out as
//! `GOTRACEBACK=all` does; then [`hidden`] counts them, so that the totals
//! of all views agree.

use std::collections::HashMap;
use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, GoroutineReport};
use crate::model::{Creator, Location};
use crate::output::traceback::print_name;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    pub count: usize,
    /// The status as the traceback header prints it (`chan receive`, `running`).
    pub status: String,
    /// Contains the crashing goroutine.
    pub crashing: bool,
    /// Goroutine ids, ascending.
    pub ids: Vec<u64>,
    pub frames: Vec<Location>,
    /// `created by` function and its file:line.
    pub created_by: Option<Location>,
    pub locked_to_thread: bool,
    /// Range of wait minutes across the bucket, when any goroutine has one.
    pub minutes: Option<(i64, i64)>,
}

fn frames_of(r: &GoroutineReport) -> Vec<Location> {
    r.stack.frames.iter().flat_map(|f| f.logical.iter()).map(Location::of).collect()
}

fn created_by(a: &Analysis, r: &GoroutineReport) -> Option<Location> {
    if r.g.goid == 1 {
        return None;
    }
    Creator::of(a, &r.g).map(|c| c.location())
}

/// Bucket the goroutines. `crashing` is the crashing goroutine (as
/// `reason::crashing_report` completes it), if any.
pub fn group(a: &Analysis, include_system: bool, crashing: Option<&GoroutineReport>) -> Vec<Bucket> {
    // Key: status, frames, creator function (not its line: the same `go`
    // statement has one line anyway, and a creator's line says nothing new).
    let mut index: HashMap<(String, Vec<Location>, Option<std::sync::Arc<str>>), usize> = HashMap::new();
    let mut buckets: Vec<Bucket> = Vec::new();
    for r in &a.goroutines {
        let is_crashing = crashing.is_some_and(|c| c.g.goid == r.g.goid);
        let r = if is_crashing { crashing.unwrap_or(r) } else { r };
        if !is_crashing && !r.listed(include_system) {
            continue;
        }
        let status = crate::model::Status::of(a, &r.g).text;
        let frames = frames_of(r);
        let cb = created_by(a, r);
        let key = (status.clone(), frames.clone(), cb.as_ref().map(|c| c.func.clone()));
        let i = *index.entry(key).or_insert_with(|| {
            buckets.push(Bucket {
                count: 0,
                status,
                crashing: false,
                ids: Vec::new(),
                frames,
                created_by: cb,
                locked_to_thread: r.g.lockedm != 0,
                minutes: None,
            });
            buckets.len() - 1
        });
        let b = &mut buckets[i];
        b.count += 1;
        b.ids.push(r.g.goid);
        b.crashing |= is_crashing;
        if r.g.waitsince != 0 && a.state.now > 0 {
            let m = a.state.now.saturating_sub(r.g.waitsince) / 60_000_000_000;
            b.minutes = Some(match b.minutes {
                None => (m, m),
                Some((lo, hi)) => (lo.min(m), hi.max(m)),
            });
        }
    }
    for b in &mut buckets {
        b.ids.sort_unstable();
    }
    buckets.sort_by(|x, y| {
        y.crashing
            .cmp(&x.crashing)
            .then(y.count.cmp(&x.count))
            .then(x.ids.first().cmp(&y.ids.first()))
    });
    buckets
}

/// How many goroutines [`group`] leaves out with these arguments (system
/// goroutines with `include_system == false`).
pub fn hidden(a: &Analysis, include_system: bool, crashing: Option<&GoroutineReport>) -> usize {
    a.goroutines
        .iter()
        .filter(|r| crashing.is_none_or(|c| c.g.goid != r.g.goid) && !r.listed(include_system))
        .count()
}

/// `--group --format json`: the buckets, with how many goroutines they
/// count and how many system goroutines were left out.
#[derive(Debug, Clone, Serialize)]
pub struct GroupsDoc<'b> {
    pub schema: &'static str,
    pub version: u32,
    pub minor: u32,
    pub goroutine_count: usize,
    pub system_hidden: usize,
    pub groups: &'b [Bucket],
}

/// Frames a reader wants to see: the runtime's own internals are hidden as
/// `GOTRACEBACK=all` hides them (unexported `runtime.` functions), unless
/// the stack has nothing else.
pub fn visible_frames(b: &Bucket) -> Vec<&Location> {
    let hidden = |f: &Location| {
        f.func
            .strip_prefix("runtime.")
            .is_some_and(|r| !r.starts_with(|c: char| c.is_ascii_uppercase()) && &*f.func != "runtime.gopanic")
    };
    let v: Vec<&Location> = b.frames.iter().filter(|f| !hidden(f)).collect();
    if v.is_empty() {
        b.frames.iter().collect()
    } else {
        v
    }
}

/// The buckets as text, one block each:
///
/// ```text
/// 500: chan receive [1~3 minutes] [created by main.main @ /src/main.go:70]
///     main.worker   /src/main.go:29
///     goroutines: 6 10 14 ... (500)
/// ```
pub fn format(buckets: &[Bucket], system_hidden: usize) -> String {
    let total: usize = buckets.iter().map(|b| b.count).sum();
    let mut s = format!("{} goroutines in {} groups{}\n", total, buckets.len(), hidden_note(system_hidden));
    for b in buckets {
        s.push('\n');
        let _ = write!(s, "{}: {}", b.count, b.status);
        if b.crashing {
            s += " [crashing]";
        }
        if let Some((lo, hi)) = b.minutes.filter(|(_, hi)| *hi > 0) {
            if lo == hi {
                let _ = write!(s, " [{lo} minutes]");
            } else {
                let _ = write!(s, " [{lo}~{hi} minutes]");
            }
        }
        if b.locked_to_thread {
            s += " [locked]";
        }
        if let Some(c) = &b.created_by {
            let _ = write!(s, " [created by {} @ {}:{}]", print_name(&c.func), c.file, c.line);
        }
        s.push('\n');
        let frames = visible_frames(b);
        let width = frames.iter().map(|f| print_name(&f.func).len() + if f.inlined { 5 } else { 0 }).max().unwrap_or(0);
        for f in frames {
            let name = if f.inlined { format!("{} (inl)", print_name(&f.func)) } else { print_name(&f.func) };
            let _ = writeln!(s, "    {name:<width$}  {}:{}", f.file, f.line);
        }
        const SHOWN: usize = 10;
        let ids: Vec<String> = b.ids.iter().take(SHOWN).map(|i| i.to_string()).collect();
        let more = if b.ids.len() > SHOWN { " ..." } else { "" };
        let _ = writeln!(s, "    goroutines: {}{more}", ids.join(" "));
    }
    s
}

/// ` (9 system goroutines hidden; --system=true shows them)`, or nothing.
pub fn hidden_note(system_hidden: usize) -> String {
    if system_hidden == 0 {
        return String::new();
    }
    format!(" ({system_hidden} system goroutines hidden; --system=true shows them)")
}
