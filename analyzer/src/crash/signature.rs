//! A crash signature: one short string per crash that is the same for the
//! same bug whatever the build, the machine, the addresses or the numbers in
//! the message, so a pipeline can count and deduplicate crashes by it.
//!
//! The recipe (also in docs/json-schema.md):
//! 1. `kind` of the reason (`panic`, `fatal_error`, ...);
//! 2. for a panic, each printed chain entry as `type:template`; for a fatal
//!    error, its message as a template; a template is the text with every
//!    run of hex (`0x1f`) or decimal digits replaced by `#`;
//! 3. the function names (no file, line, address or argument) of the first
//!    [`TOP_FRAMES`] user frames of the crashing goroutine, innermost first;
//!    a user frame is one whose file is not in the Go distribution (GOROOT);
//!    without a crashing goroutine (deadlock, snapshot), goroutine 1's;
//! 4. those lines joined with `\n` after the header `goanalyze-signature-v1`,
//!    hashed with 64-bit FNV-1a, printed as 16 lower-case hex digits.

use crate::analysis::{Analysis, GoroutineReport};
use crate::runtime::panic::PanicEntry;
use crate::crash::reason::{Reason, ReasonKind};
use crate::output::traceback::print_name;

pub const TOP_FRAMES: usize = 5;
const HEADER: &str = "goanalyze-signature-v1";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    pub hash: String,
    /// What was hashed, for humans checking why two crashes differ.
    pub input: String,
}

/// Replace numbers by `#`: `index out of range [8] with length 3` ->
/// `index out of range [#] with length #`, `0xc000012345` -> `#`.
pub fn template(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let b = msg.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            let hex = b[i] == b'0' && matches!(b.get(i + 1), Some(b'x') | Some(b'X'));
            i += if hex { 2 } else { 1 };
            while i < b.len() && (b[i].is_ascii_digit() || (hex && b[i].is_ascii_hexdigit())) {
                i += 1;
            }
            out.push('#');
        } else {
            let c = msg[i..].chars().next().unwrap_or('?');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// 64-bit FNV-1a: tiny, and defined by its constants, so it never changes
/// between Rust versions (std's hashers make no such promise).
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The prefix of every file of the Go distribution in this binary
/// (`/usr/local/go/src/`), from where package runtime's files are; empty
/// for `-trimpath` builds, whose standard-library files have no directory.
pub fn goroot_src(a: &Analysis) -> String {
    let Some(f) = a.bin.pcln.lookup_name("runtime.main") else { return String::new() };
    let (file, _) = a.bin.pcln.file_line(&f, f.entry);
    match file.rfind("runtime/proc.go") {
        Some(i) => file[..i].to_string(),
        None => String::new(),
    }
}

/// A frame of the program rather than of the Go distribution.
pub fn is_user_file(file: &str, goroot_src: &str) -> bool {
    if !goroot_src.is_empty() {
        return !file.starts_with(goroot_src);
    }
    // -trimpath: standard-library paths start with a package path without a
    // dot (`runtime/proc.go`); module paths have one (`example.com/...`).
    match file.split('/').next() {
        Some(first) if file.contains('/') => first.contains('.'),
        _ => true,
    }
}

/// A goroutine's first `n` user frames, as printable function names;
/// `root` is [`goroot_src`] (a search of every function name: find it once).
pub fn user_frames(g: &GoroutineReport, n: usize, root: &str) -> Vec<String> {
    g.stack
        .frames
        .iter()
        .flat_map(|f| f.logical.iter())
        .filter(|l| is_user_file(&l.file, root))
        .take(n)
        .map(|l| print_name(&l.name))
        .collect()
}

pub fn compute(a: &Analysis, r: &Reason) -> Signature {
    if r.snapshot {
        // What the process was doing, not which thread the dump request hit.
        let mut lines = vec![HEADER.to_string(), "kind=snapshot".to_string()];
        lines.extend(snapshot_lines(a));
        return finish(lines);
    }
    let mut lines = vec![HEADER.to_string(), format!("kind={}", r.kind.as_str())];
    match r.kind {
        ReasonKind::Panic => {
            for p in printed(&r.panics) {
                lines.push(format!("value={}:{}", p.type_name.as_deref().unwrap_or("nil"), template(&p.value)));
            }
        }
        ReasonKind::Signal => {
            // The signal's name, not its code or address.
            lines.push(format!("value={}", r.message.lines().next().unwrap_or("")));
        }
        ReasonKind::Snapshot | ReasonKind::Unknown => {}
        _ => lines.push(format!("value={}", template(r.fatal_error.as_deref().unwrap_or("?")))),
    }
    if let Some(g) = crate::crash::reason::crashing_report(a, r) {
        for f in user_frames(&g, TOP_FRAMES, &goroot_src(a)) {
            lines.push(format!("frame={f}"));
        }
    }
    finish(lines)
}

fn finish(lines: Vec<String>) -> Signature {
    let input = lines.join("\n");
    Signature { hash: format!("{:016x}", fnv1a64(input.as_bytes())), input }
}

/// Groups of a snapshot that make its signature.
pub const SNAPSHOT_GROUPS: usize = 5;

/// Wait reasons that say nothing about a hang: the garbage collector's and
/// the scheduler's own passing states, and `sleep` (a polling loop's
/// goroutine is asleep in one snapshot and running in the next).
fn transient_wait(reason: &str) -> bool {
    reason.starts_with("GC ")
        || matches!(
            reason,
            "garbage collection"
                | "garbage collection scan"
                | "preempted"
                | "sleep"
                | "stopping the world"
                | "flushing proc caches"
                | "wait for GC cycle"
                | "debug call"
                | "dumping heap"
                | "panicwait"
                | "force gc (idle)"
                | "finalizer wait"
                | "cleanup wait"
                | "trace reader (blocked)"
                | "trace goroutine status"
                | "trace proc status"
                | "page trace flush"
                | "GOMAXPROCS updater (idle)"
        )
}

/// A snapshot's lines: the largest groups of blocked user goroutines, each
/// `blocked=<wait reason>|<frame>;<frame>...` (the first user frames,
/// innermost first), sorted; when nothing is blocked, the running ones as
/// `busy=<frames>`. Counts, ids, minutes and addresses are left out: they
/// change from one snapshot of the same hang to the next.
pub fn snapshot_lines(a: &Analysis) -> Vec<String> {
    use crate::runtime::goroutine::{G_RUNNABLE, G_RUNNING, G_SYSCALL, G_WAITING};
    use std::collections::HashMap;
    let mut blocked: HashMap<String, usize> = HashMap::new();
    let mut busy: HashMap<String, usize> = HashMap::new();
    let root = goroot_src(a);
    for g in a.goroutines.iter().filter(|g| !g.system) {
        let mut frames = user_frames(g, TOP_FRAMES, &root);
        if frames.is_empty() {
            // A goroutine of a library only (net/http's): its frames
            // outside package runtime.
            frames = g
                .stack
                .frames
                .iter()
                .flat_map(|f| f.logical.iter())
                .filter(|l| crate::analysis::is_user_func(&l.name))
                .take(TOP_FRAMES)
                .map(|l| print_name(&l.name))
                .collect();
        }
        let frames = frames.join(";");
        match g.g.status() {
            G_WAITING if g.g.wait_reason != 0 => {
                let why = a.state.wait_reason_text(g.g.wait_reason).unwrap_or("waiting");
                if !transient_wait(why) {
                    *blocked.entry(format!("blocked={why}|{frames}")).or_default() += 1;
                }
            }
            G_RUNNING | G_RUNNABLE | G_SYSCALL => *busy.entry(format!("busy={frames}")).or_default() += 1,
            _ => {}
        }
    }
    let pick = if blocked.is_empty() { busy } else { blocked };
    let mut ranked: Vec<(String, usize)> = pick.into_iter().collect();
    ranked.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    let mut lines: Vec<String> = ranked.into_iter().take(SNAPSHOT_GROUPS).map(|(k, _)| k).collect();
    lines.sort();
    lines
}

/// The entries `printpanics` prints (not Goexits, not the repeat of a re-panic).
fn printed(chain: &[PanicEntry]) -> Vec<&PanicEntry> {
    let mut out = Vec::new();
    for (i, p) in chain.iter().enumerate().rev() {
        if p.goexit {
            continue;
        }
        // printpanics skips a panic whose predecessor was marked repanicked.
        if i + 1 < chain.len() && chain[i + 1].repanicked {
            continue;
        }
        out.push(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates() {
        assert_eq!(template("index out of range [8] with length 3"), "index out of range [#] with length #");
        assert_eq!(template("(main.custom) 0x4d2858"), "(main.custom) #");
        assert_eq!(template("request 1234: timeout"), "request #: timeout");
        assert_eq!(template("21.5°C"), "#.#°C");
        assert_eq!(template("no digits"), "no digits");
    }

    #[test]
    fn fnv_is_fixed() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn user_files() {
        assert!(!is_user_file("/usr/local/go/src/runtime/proc.go", "/usr/local/go/src/"));
        assert!(is_user_file("/home/me/app/main.go", "/usr/local/go/src/"));
        assert!(!is_user_file("runtime/proc.go", ""));
        assert!(is_user_file("example.com/app/main.go", ""));
    }
}
