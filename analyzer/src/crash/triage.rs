//! Crash triage: one [`Record`] per core (reason, crashing goroutine and its
//! frames, signature, goroutine groups), the JSON Lines schema of
//! `goanalyze --triage --format json` (docs/json-schema.md) and its text
//! form. Running many cores, each isolated in its own process, is the
//! binary's business (analyzer-cli's `batch.rs`).

use std::fmt::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::analysis::Analysis;
use crate::crash::group::{self, Bucket};
use crate::crash::reason::{self, Reason};
use crate::crash::signature;
use crate::model::Location;

/// Bumped on any incompatible change of [`Record`].
pub const SCHEMA_VERSION: u32 = 1;
/// Additions within version 1 (1: `schema_minor`, `snapshot`,
/// `system_hidden`; system goroutines counted by default; 2: `leaks`).
pub const SCHEMA_MINOR: u32 = 2;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Signal {
    pub number: i32,
    /// `SIGSEGV`.
    pub name: String,
    pub code: i32,
    /// The fault address (`si_addr`), for signals that have one.
    pub addr: Option<String>,
    /// OS thread id of the thread that took it.
    pub thread: Option<u64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupSummary {
    pub count: usize,
    pub status: String,
    pub crashing: bool,
    /// The innermost frame the runtime's traceback would show (its
    /// unexported internals skipped).
    pub top_frame: Option<Location>,
    /// The innermost frame of the program itself (outside the Go distribution).
    pub user_frame: Option<Location>,
    pub created_by: Option<String>,
}

/// Goroutines blocked forever (`goanalyze --leaks`), summed up for triage.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeakSummary {
    /// Leaked goroutines: blocked on a channel or sync primitive that
    /// nothing but other blocked goroutines can reach.
    pub leaked: usize,
    /// Goroutines blocked on a channel or sync primitive, leaked or not.
    pub blocked: usize,
    /// Blocked goroutines whose blocking object could not be found (not counted as leaked).
    pub undecided: usize,
    /// Heap bytes and objects reachable only from the leaked goroutines' stacks.
    pub bytes: u64,
    pub objects: u64,
    /// The biggest groups (at most 5): goroutines with the same stack.
    pub groups: Vec<LeakGroupSummary>,
    /// One line: `98000 goroutines leaked at main.handle (chan receive), retaining 1,887,436,800 bytes`.
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeakGroupSummary {
    pub count: usize,
    pub wait_reason: String,
    /// The innermost frame of the program itself, else the innermost frame.
    pub frame: Option<Location>,
    pub bytes: u64,
}

/// One core's triage. On failure every field but `schema_version`, `core`
/// and `errors` is null (or empty).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    pub schema_version: u32,
    #[serde(default)]
    pub schema_minor: u32,
    pub core: String,
    pub exe: Option<String>,
    pub go_version: Option<String>,
    /// The signal the core records (for a Go crash usually the runtime's own SIGABRT).
    pub signal: Option<Signal>,
    /// The signal the crashed thread's outermost handler took (SIGQUIT,
    /// SIGSEGV...), when the core's `signal` was raised inside a handler
    /// (the runtime's SIGABRT with GOTRACEBACK=crash) or is that signal.
    #[serde(default)]
    pub original_signal: Option<Signal>,
    pub reason: Option<Reason>,
    pub crashing_goroutine: Option<u64>,
    /// The crashing goroutine's stack, innermost first, inlined frames expanded.
    pub frames: Option<Vec<Location>>,
    pub signature: Option<String>,
    /// The text hashed into `signature`.
    pub signature_input: Option<String>,
    /// A snapshot of a possibly hung process (gcore, godump, SIGQUIT),
    /// not a crash; its signature says what the goroutines were blocked on.
    #[serde(default)]
    pub snapshot: bool,
    /// Goroutines counted in `groups`: every live one, system goroutines
    /// included unless `--system=false`.
    pub goroutine_count: Option<usize>,
    /// System goroutines left out of `groups` and `goroutine_count`
    /// (`--system=false`); 0 otherwise.
    #[serde(default)]
    pub system_hidden: usize,
    pub groups: Option<Vec<GroupSummary>>,
    pub warnings: Vec<crate::Warning>,
    pub errors: Vec<String>,
    /// With `--group`: every bucket in full (ids, frames, creator).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_details: Vec<Bucket>,
    /// Leaked goroutines, when any goroutine is blocked on a channel or
    /// sync primitive and the heap could be read (else absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaks: Option<LeakSummary>,
}

impl Record {
    pub fn failed(core: &Path, error: String) -> Record {
        Record {
            schema_version: SCHEMA_VERSION,
            schema_minor: SCHEMA_MINOR,
            core: core.display().to_string(),
            exe: None,
            go_version: None,
            signal: None,
            original_signal: None,
            reason: None,
            crashing_goroutine: None,
            frames: None,
            signature: None,
            signature_input: None,
            snapshot: false,
            goroutine_count: None,
            system_hidden: 0,
            groups: None,
            warnings: Vec::new(),
            errors: vec![error],
            group_details: Vec::new(),
            leaks: None,
        }
    }
    pub fn ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Triage one core in this process, system goroutines included in the
/// groups (`include_system`, as `--system`). Never fails: errors go in the record.
pub fn triage(core: &Path, exe: Option<&Path>, include_system: bool) -> Record {
    triage_options(core, &core_reader::OpenOptions::default().exe(exe), include_system)
}

/// [`triage`] with every option of the core reader.
pub fn triage_options(core: &Path, opts: &core_reader::OpenOptions, include_system: bool) -> Record {
    match Analysis::open_options(core, opts, crate::Depth::Full) {
        Ok(a) => from_analysis_with(&a, include_system),
        Err(e) => Record::failed(core, e.to_string()),
    }
}

/// [`from_analysis_with`] counting system goroutines (the default).
pub fn from_analysis(a: &Analysis) -> Record {
    from_analysis_with(a, true)
}

/// The record of an opened core. An executable the core reader found not
/// to be the core's own gives a failed record, not a signature: one
/// computed from another build's symbols would file the crash under a
/// wrong bucket, silently.
pub fn from_analysis_with(a: &Analysis, include_system: bool) -> Record {
    if let Some(exe) = a.core.exe.as_ref() {
        if let Some(why) = &exe.mismatch {
            let mut r = Record::failed(
                &a.core.path,
                format!(
                    "{}: executable {} is not the one this core was made from ({why}); no signature from it (pass the right one with --exe)",
                    a.core.path.display(),
                    exe.path.display()
                ),
            );
            r.exe = Some(exe.path.display().to_string());
            r.warnings = crate::Warning::from_core(&a.core).collect();
            return r;
        }
    }
    let r = reason::analyze(a);
    let sig = signature::compute(a, &r);
    let crashing = r.crashing_goroutine.and_then(|_| reason::crashing_report(a, &r));
    let buckets = group::group(a, include_system, crashing.as_ref());
    let system_hidden = group::hidden(a, include_system, crashing.as_ref());
    let frames = crashing.as_ref().map(|g| g.stack.frames.iter().flat_map(|f| f.logical.iter()).map(Location::of).collect());
    let signal = a.core.signal.as_ref().map(|s| Signal {
        number: s.signo,
        name: reason::signal_short(s.signo),
        code: s.code,
        addr: s.addr.map(|x| format!("{x:#x}")),
        thread: s.thread.and_then(|i| a.core.threads.get(i)).map(|t| t.tid),
    });
    let original_signal = reason::original_signal(a).map(|o| Signal {
        number: o.info.signo,
        name: reason::signal_short(o.info.signo),
        code: o.info.code,
        addr: (!o.info.from_user()).then(|| format!("{:#x}", o.info.addr)),
        thread: Some(o.tid),
    });
    let root = signature::goroot_src(a);
    let groups = buckets
        .iter()
        .map(|b| GroupSummary {
            user_frame: b.frames.iter().find(|f| signature::is_user_file(&f.file, &root)).cloned(),
            count: b.count,
            status: b.status.clone(),
            crashing: b.crashing,
            top_frame: group::visible_frames(b).first().map(|f| (*f).clone()),
            created_by: b.created_by.as_ref().map(|c| c.func.to_string()),
        })
        .collect();
    let mut warnings: Vec<crate::Warning> = a.warnings().collect();
    if a.goroutines.is_empty() {
        warnings.push(crate::Warning::NoGoroutines);
    }
    let leaks = leak_summary(a, &root);
    Record {
        schema_version: SCHEMA_VERSION,
        schema_minor: SCHEMA_MINOR,
        snapshot: r.snapshot,
        system_hidden,
        core: a.core.path.display().to_string(),
        exe: Some(a.bin.path.display().to_string()),
        go_version: a.bin.go_version.clone(),
        signal,
        original_signal,
        crashing_goroutine: r.crashing_goroutine,
        reason: Some(r),
        frames,
        signature: Some(sig.hash),
        signature_input: Some(sig.input),
        goroutine_count: Some(buckets.iter().map(|b| b.count).sum()),
        groups: Some(groups),
        warnings,
        errors: Vec::new(),
        group_details: buckets,
        leaks,
    }
}

/// A readable report of one record; with `full_groups`, every bucket with its stack.
pub fn format_text(r: &Record, full_groups: bool) -> String {
    let mut s = format!("core:       {}\n", r.core);
    if !r.ok() {
        for e in &r.errors {
            let _ = writeln!(s, "error:      {e}");
        }
        return s;
    }
    if let Some(exe) = &r.exe {
        let _ = writeln!(s, "executable: {exe} ({})", r.go_version.as_deref().unwrap_or("unknown Go version"));
    }
    match &r.signal {
        Some(sg) => {
            let _ = write!(s, "signal:     {} ({}) code={}", sg.name, sg.number, sg.code);
            if let Some(a) = &sg.addr {
                let _ = write!(s, " addr={a}");
            }
            if let Some(t) = sg.thread {
                let _ = write!(s, " thread={t}");
            }
            s.push('\n');
        }
        None => s += "signal:     none\n",
    }
    if let Some(o) = r.original_signal.as_ref().filter(|o| Some(o.number) != r.signal.as_ref().map(|s| s.number)) {
        let _ = write!(s, "original:   {} ({}) code={}", o.name, o.number, o.code);
        if let Some(a) = &o.addr {
            let _ = write!(s, " addr={a}");
        }
        s += " (the core's signal was raised inside its handler)\n";
    }
    if let Some(rs) = &r.reason {
        let _ = writeln!(s, "reason:     {} ({})", rs.kind.as_str(), rs.evidence);
        if r.snapshot {
            s += "snapshot:   yes: a dump of a live (maybe hung) process, not a crash; the signature says what it was blocked on\n";
        }
        for l in rs.message.lines() {
            let _ = writeln!(s, "    {l}");
        }
        // Oldest first, as the message lists them.
        let types: Vec<&str> = rs.panics.iter().rev().filter_map(|p| p.original_type.as_deref()).collect();
        if !types.is_empty() {
            let _ = writeln!(s, "    (panic value types: {})", types.join(", "));
        }
    }
    match r.crashing_goroutine {
        Some(id) => {
            let _ = writeln!(s, "crashing goroutine: {id}");
        }
        None => s += "crashing goroutine: none\n",
    }
    for f in r.frames.iter().flatten() {
        let _ = writeln!(s, "    {}{}  {}:{}", f.func, if f.inlined { " (inl)" } else { "" }, f.file, f.line);
    }
    if let Some(sig) = &r.signature {
        let _ = writeln!(s, "signature:  {sig}");
    }
    if full_groups {
        s += &group::format(&r.group_details, r.system_hidden);
    } else if let Some(groups) = &r.groups {
        let _ = writeln!(
            s,
            "goroutines: {} in {} groups{}",
            r.goroutine_count.unwrap_or(0),
            groups.len(),
            group::hidden_note(r.system_hidden)
        );
        for g in groups {
            let top = g.top_frame.as_ref().map(|f| format!("{} {}:{}", f.func, f.file, f.line)).unwrap_or_default();
            let _ = writeln!(s, "    {:>6}  {:<24} {}{}", g.count, g.status, top, if g.crashing { "  [crashing]" } else { "" });
        }
    }
    for w in &r.warnings {
        let _ = writeln!(s, "warning:    {w}");
    }
    s
}

/// The leak summary, read only when some goroutine is blocked on a channel
/// or sync primitive (reading the heap costs seconds on a big core); a heap
/// that cannot be read gives no summary rather than a wrong one.
fn leak_summary(a: &Analysis, goroot_src: &str) -> Option<LeakSummary> {
    if !crate::heap::leaks::any_blocked(a) {
        return None;
    }
    let heap = crate::heap::Heap::read_untyped(&a.bin, a.mem(), a.bias).ok()?;
    let rep = crate::heap::leaks::find_leaks(a, &heap);
    let groups: Vec<LeakGroupSummary> = rep
        .groups
        .iter()
        .take(5)
        .map(|g| LeakGroupSummary {
            count: g.count,
            wait_reason: g.wait_reason.clone(),
            frame: g.frames.iter().find(|f| signature::is_user_file(&f.file, goroot_src)).or(g.frames.first()).cloned(),
            bytes: g.bytes,
        })
        .collect();
    let summary = match groups.first() {
        None => format!("no goroutine leaked ({} blocked on channels or locks)", rep.blocked),
        Some(g) => {
            let at = g.frame.as_ref().map_or_else(String::new, |f| format!(" at {}", f.func));
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            let bytes = crate::output::with_commas(rep.bytes);
            if rep.groups.len() == 1 {
                format!("{} goroutine{} leaked{at} ({}), retaining {bytes} bytes", g.count, plural(g.count), g.wait_reason)
            } else {
                format!(
                    "{} goroutines leaked in {} groups, retaining {bytes} bytes; the biggest: {}{at} ({})",
                    rep.leaked,
                    rep.groups.len(),
                    g.count,
                    g.wait_reason
                )
            }
        }
    };
    Some(LeakSummary { leaked: rep.leaked, blocked: rep.blocked, undecided: rep.undecided, bytes: rep.bytes, objects: rep.objects, groups, summary })
}

