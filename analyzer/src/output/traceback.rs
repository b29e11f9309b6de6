//! The runtime's traceback text (runtime/traceback.go): goroutine headers,
//! frame lines, inlined frames, `created by`, and the 50+50 frame elision.

use std::fmt::Write;

use crate::analysis::{Analysis, GoroutineReport};
use crate::binary::inline::LogicalFrame;
use crate::unwind::Frame;

/// `tracebackInnerFrames` / `tracebackOuterFrames`.
const INNER: usize = 50;
const OUTER: usize = 50;

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// GOTRACEBACK=system/crash (level 2): runtime frames, system goroutines,
    /// gp=/m= in headers and fp=/sp=/pc= on frames.
    pub system: bool,
}

/// funcNamePiecesForPrint: generic shape arguments print as `[...]`. A
/// generic method of a generic type (Go 1.27+, `T[..].M[..]`) keeps the
/// text between its two groups; only such names have two top-level groups,
/// so older versions print the same.
pub fn print_name(name: &str) -> String {
    if name == "runtime.gopanic" {
        return "panic".into();
    }
    let (Some(i), Some(j)) = (name.find('['), name.rfind(']')) else { return name.to_string() };
    if j <= i {
        return name.to_string();
    }
    let interior = &name[i + 1..j];
    if !interior.contains('[') {
        return format!("{}[...]{}", &name[..i], &name[j + 1..]);
    }
    // Where the first group closes and the second opens, at depth 0.
    let (mut depth, mut close, mut open) = (1i32, None, None);
    for (k, c) in interior.char_indices() {
        match c {
            '[' => {
                depth += 1;
                if depth == 1 {
                    open = Some(k);
                    break;
                }
            }
            ']' => {
                depth -= 1;
                if depth < 0 {
                    break;
                }
                if depth == 0 {
                    close = Some(k);
                }
            }
            _ => {}
        }
    }
    match (depth, close, open) {
        (1, Some(c), Some(o)) => format!("{}[...]{}[...]{}", &name[..i], &interior[c + 1..o], &name[j + 1..]),
        (1, None, None) => format!("{}[...]{}", &name[..i], &name[j + 1..]),
        // Unbalanced: the runtime prints the name as it is.
        _ => name.to_string(),
    }
}

fn is_exported_runtime(name: &str) -> bool {
    // isExportedRuntime: "runtime." followed by an upper-case letter.
    name.strip_prefix("runtime.")
        .and_then(|r| r.chars().next())
        .is_some_and(|c| c.is_ascii_uppercase())
}

/// showfuncinfo at level 1 (GOTRACEBACK=all).
fn show_frame(name: &str, first: bool, wrapper: bool, callee_elides: bool) -> bool {
    if wrapper && callee_elides {
        return false;
    }
    if matches!(name, "runtime.runFinalizers" | "runtime.runCleanups") {
        return true;
    }
    if name == "runtime.gopanic" && !first {
        return true;
    }
    name.contains('.') && (!name.starts_with("runtime.") || is_exported_runtime(name))
}

pub fn header(a: &Analysis, r: &GoroutineReport, opts: Options) -> String {
    let g = &r.g;
    let mut s = format!("goroutine {}", g.goid);
    let throwing = r.m.as_ref().is_some_and(|m| m.throwing >= 2 && m.curg == g.addr);
    // Go 1.22 added ` gp=.. m=.. mp=..` to headers.
    let has_gp = !matches!(a.bin.go_minor(), Some(m) if m < 22);
    if has_gp && (opts.system || throwing) {
        let _ = write!(s, " gp={:#x}", g.addr);
        match &r.m {
            Some(m) => {
                let _ = write!(s, " m={} mp={:#x}", m.id, m.addr);
            }
            None if g.m != 0 => {
                let _ = write!(s, " m=? mp={:#x}", g.m);
            }
            None => s += " m=nil",
        }
    }
    let _ = write!(s, " [{}]:", crate::model::Status::of(a, g).bracketed());
    s
}

/// The logical frames the runtime would print (showframe's filter at the
/// chosen level), each with its physical frame.
pub fn visible_frames<'r>(a: &Analysis, r: &'r GoroutineReport, opts: Options) -> Vec<(&'r Frame, &'r LogicalFrame)> {
    let wrapper_id = a.wrapper_func_id();
    // showframe: a goroutine whose M is throwing a runtime error shows every frame.
    let throwing = r.m.as_ref().is_some_and(|m| m.throwing >= 2 && m.curg == r.g.addr);
    let build = |show_runtime: bool| {
        let mut out = Vec::new();
        let mut callee: Option<&str> = None;
        for f in &r.stack.frames {
            for lf in &f.logical {
                let callee_elides =
                    !matches!(callee, Some("runtime.gopanic" | "runtime.sigpanic" | "runtime.panicwrap"));
                let shown = show_runtime
                    || throwing
                    || show_frame(&lf.name, out.is_empty(), Some(lf.func_id) == wrapper_id, callee_elides);
                callee = Some(&*lf.name);
                if shown {
                    out.push((f, lf));
                }
            }
        }
        out
    };
    let v = build(opts.system);
    // "By default, omits runtime frames. If that means we print nothing at
    // all, repeat forcing all frames printed."
    if v.is_empty() && !opts.system {
        return build(true);
    }
    v
}

/// A frame's two lines in the traceback: `f(args)` (`f(...)` when
/// inlined) and `\tfile:line +0xoff` (with ` fp= sp= pc=` at level 2).
pub fn frame_text(f: &crate::model::Frame, opts: Options) -> (String, String) {
    let l = &f.location;
    let mut fl = print_name(&l.func);
    match &f.args {
        Some(args) if !l.inlined => {
            let _ = write!(fl, "({args})");
        }
        _ => fl += "(...)",
    }
    let mut loc = format!("\t{}:{}", l.file, l.line);
    if !l.inlined {
        if f.offset > 0 {
            let _ = write!(loc, " +{:#x}", f.offset);
        }
        if opts.system {
            let _ = write!(loc, " fp={:#x} sp={:#x} pc={:#x}", f.fp, f.sp, f.pc);
        }
    }
    (fl, loc)
}

/// The logical frames the runtime would print, as (function line, file line).
pub fn frame_lines(a: &Analysis, r: &GoroutineReport, opts: Options) -> Vec<(String, String)> {
    crate::model::frames(a, r, opts, None).iter().map(|f| frame_text(f, opts)).collect()
}

/// The `created by` lines of a goroutine (none for goroutine 1, and at
/// level 1 none for a creator the runtime hides).
pub fn created_by(a: &Analysis, r: &GoroutineReport, opts: Options) -> Option<(String, String)> {
    if r.g.goid == 1 {
        return None;
    }
    created_by_text(&crate::model::Creator::of(a, &r.g)?, opts)
}

/// [`created_by`]'s lines from the model's [`crate::model::Creator`].
pub fn created_by_text(c: &crate::model::Creator, opts: Options) -> Option<(String, String)> {
    if !opts.system && !show_frame(&c.site.func, false, false, true) {
        return None;
    }
    let mut l1 = format!("created by {}", print_name(&c.site.func));
    if let Some(p) = c.parent_id {
        let _ = write!(l1, " in goroutine {p}");
    }
    let mut l2 = format!("\t{}:{}", c.site.file, c.site.line);
    if c.offset > 0 {
        let _ = write!(l2, " +{:#x}", c.offset);
    }
    Some((l1, l2))
}

/// printAncestorTraceback: for GODEBUG=tracebackancestors, each creating
/// goroutine's stack as it was at the `go` statement. Each saved pc is a
/// logical frame's return pc; only its innermost function is printed.
fn ancestors(a: &Analysis, r: &GoroutineReport, opts: Options) -> String {
    let mut s = String::new();
    let u = a.unwinder();
    let gofunc = a.bin.moduledata.as_ref().map(|m| m.gofunc);
    let read = |addr: u64, b: &mut [u8]| a.bin.read_static(addr, b);
    for anc in &r.g.ancestors {
        let _ = writeln!(s, "[originating from goroutine {}]:", anc.goid);
        for (i, pc) in anc.pcs.iter().enumerate() {
            let Some(f) = u.find_func(*pc) else { continue };
            let link = pc.wrapping_sub(a.bias);
            let lf = crate::binary::inline::expand(&a.bin.pcln, &f, link, gofunc, &read);
            let Some(inner) = lf.first() else { continue };
            if !opts.system && !show_frame(&inner.name, i == 0, false, true) {
                continue;
            }
            let _ = write!(s, "{}(...)\n\t{}:{}", print_name(&inner.name), inner.file, inner.line);
            if link > f.entry {
                let _ = write!(s, " +{:#x}", link - f.entry);
            }
            s.push('\n');
        }
        if anc.pcs.len() == INNER {
            s += "...additional frames elided...\n";
        }
        if anc.goid != 1 {
            if let Some(f) = u.find_func(anc.gopc) {
                let name = u.func_name(&f).to_string();
                if opts.system || show_frame(&name, false, false, true) {
                    let link = anc.gopc.wrapping_sub(a.bias);
                    let trace = if link > f.entry { link - a.bin.arch.pc_quantum() } else { link };
                    let (file, line) = a.bin.pcln.file_line(&f, trace);
                    let _ = write!(s, "created by {}\n\t{file}:{line}", print_name(&name));
                    if link > f.entry {
                        let _ = write!(s, " +{:#x}", link - f.entry);
                    }
                    s.push('\n');
                }
            }
        }
    }
    s
}

/// One goroutine's block, ending with a newline, without the blank line
/// that separates goroutines.
pub fn format_goroutine(a: &Analysis, r: &GoroutineReport, opts: Options) -> String {
    let mut s = header(a, r, opts);
    s.push('\n');
    let lines = frame_lines(a, r, opts);
    s.reserve(lines.iter().map(|(f, l)| f.len() + l.len() + 2).sum::<usize>() + 128);
    let push = |s: &mut String, (f, l): &(String, String)| {
        s.push_str(f);
        s.push('\n');
        s.push_str(l);
        s.push('\n');
    };
    if matches!(a.bin.go_minor(), Some(m) if m < 21) {
        // Before Go 1.21 the runtime printed the first 100 physical frames
        // (_TracebackMaxFrames) and then "...additional frames elided...".
        const MAX_PHYSICAL: usize = 100;
        let vis = visible_frames(a, r, opts);
        let mut physical = 0;
        let mut last: Option<*const Frame> = None;
        for (i, (f, _)) in vis.iter().enumerate() {
            if last != Some(*f as *const Frame) {
                physical += 1;
                last = Some(*f as *const Frame);
            }
            if physical > MAX_PHYSICAL {
                break;
            }
            push(&mut s, &lines[i]);
        }
        if r.stack.frames.len() >= MAX_PHYSICAL {
            s += "...additional frames elided...\n";
        }
    } else if lines.len() > INNER + OUTER {
        for l in &lines[..INNER] {
            push(&mut s, l);
        }
        let _ = writeln!(s, "...{} frames elided...", lines.len() - INNER - OUTER);
        for l in &lines[lines.len() - OUTER..] {
            push(&mut s, l);
        }
    } else {
        for l in &lines {
            push(&mut s, l);
        }
    }
    if let Some(why) = &r.stack.stopped {
        if r.stack.frames.is_empty() && why.contains("stack unavailable") {
            let _ = writeln!(s, "\t{why}");
        } else {
            let _ = writeln!(s, "(unwinding stopped: {why})");
        }
    }
    if let Some((l1, l2)) = created_by(a, r, opts) {
        let _ = writeln!(s, "{l1}\n{l2}");
    }
    s += &ancestors(a, r, opts);
    s
}

/// Every goroutine, separated by blank lines, as the runtime prints them.
pub fn format_all(a: &Analysis, opts: Options) -> String {
    let mut out = Vec::new();
    let _ = write_all(a, opts, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`format_all`] written to `w` as it is formatted (on every CPU, in
/// chunks), so 100,000 stacks never sit in memory as one string.
pub fn write_all(a: &Analysis, opts: Options, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    // Each stack is read once (walked, then its arguments printed): the
    // pages are given back after each chunk.
    crate::output::report::write_reports(a, w, "\n", |r| {
        r.listed(opts.system).then(|| format_goroutine(a, &a.walked(r, crate::analysis::Depth::Full), opts))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_print_like_the_runtime() {
        assert_eq!(print_name("runtime.gopanic"), "panic");
        assert_eq!(print_name("main.genericWait[go.shape.struct { X int; Y int }]"), "main.genericWait[...]");
        assert_eq!(print_name("main.(*T[go.shape.int]).m"), "main.(*T[...]).m");
        assert_eq!(print_name("main.(*T[go.shape.int]).M[go.shape.string]"), "main.(*T[...]).M[...]");
        assert_eq!(print_name("main.f[go.shape.[]int]"), "main.f[...]");
        assert_eq!(print_name("main.T[go.shape.[]int].M[go.shape.map[int]int].func1"), "main.T[...].M[...].func1");
        assert_eq!(print_name("main.f[a]b]"), "main.f[...]");
        assert_eq!(print_name("main.f[a[b]"), "main.f[a[b]");
        assert_eq!(print_name("main.main.func1"), "main.main.func1");
        assert_eq!(print_name("weird]name["), "weird]name[");
    }

    #[test]
    fn showframe_at_level_1() {
        assert!(show_frame("main.main", true, false, true));
        assert!(!show_frame("runtime.gopark", true, false, true));
        assert!(show_frame("runtime.Goexit", true, false, true));
        assert!(!show_frame("runtime.gopanic", true, false, true));
        assert!(show_frame("runtime.gopanic", false, false, true));
        assert!(show_frame("runtime.runFinalizers", false, false, true));
        assert!(!show_frame("main.(*T).M-fm", false, true, true));
        assert!(show_frame("main.(*T).M-fm", false, true, false));
        assert!(!show_frame("nodot", false, false, true));
    }
}
