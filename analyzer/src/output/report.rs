//! Plain-text reports other than tracebacks: --info, --threads, --goroutines.

use std::fmt::Write;

use crate::analysis::{Analysis, Depth, GoroutineReport};
use crate::model::info::{CoreInfo, ExeInfo, GoInfo, GoroutineCount, SignalFrameInfo, SignalRole, ThreadInfo};

pub fn info(a: &Analysis) -> String {
    info_text(&CoreInfo::of(a))
}

/// `--info`'s text of [`CoreInfo`], for a Go core or one without the
/// runtime ([`GoInfo::Unavailable`]: a C program, a missing executable).
pub fn info_text(i: &CoreInfo) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "core:        {}", i.core);
    let _ = writeln!(s, "format:      {}", i.format);
    let _ = writeln!(s, "arch:        {}", i.arch);
    let _ = writeln!(s, "pid:         {}", i.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()));
    if let Some(cmd) = &i.command {
        let _ = writeln!(s, "command:     {cmd}");
    }
    match &i.executable {
        ExeInfo::Found { path, load_bias } => {
            let _ = writeln!(s, "executable:  {path} (load bias {load_bias:#x})");
        }
        ExeInfo::NotFound { recorded } => {
            let _ = writeln!(s, "executable:  not found (the core names {})", recorded.as_deref().unwrap_or("none"));
        }
    }
    if let Some(p) = &i.package {
        let _ = writeln!(s, "package:     {p}");
    }
    if let Some(n) = &i.systemd {
        let _ = writeln!(
            s,
            "systemd:     comm={} uid={} pid={} boot={} time={}{}",
            n.comm,
            n.uid,
            n.pid,
            n.boot_id,
            n.time,
            if n.pid_differs { " (the name's pid is not the core's)" } else { "" }
        );
    }
    match &i.go {
        GoInfo::Unavailable { why } => {
            let _ = writeln!(s, "go:          {why}; goroutines, stacks and variables are unavailable");
            signal_line(i, &mut s);
        }
        GoInfo::Runtime(rt) => {
            let _ = writeln!(s, "go version:  {}", rt.go_version.as_deref().unwrap_or("unknown"));
            let _ = writeln!(
                s,
                "debug info:  {} (runtime layout from {})",
                if rt.dwarf { "DWARF" } else { "none (stripped)" },
                rt.layout_source
            );
            signal_line(i, &mut s);
            for f in &rt.signal_frames {
                signal_frame_line(&mut s, f);
            }
            if let Some(why) = &rt.signal_frames_stopped {
                let _ = writeln!(s, "signal frames: {why}");
            }
            for f in &rt.relay_frames {
                signal_frame_line(&mut s, f);
            }
            if let Some(p) = &rt.sigpanic {
                let _ = writeln!(
                    s,
                    "original:    {} pc={:#x} (taken by goroutine {} on thread {}, which panicked on it)",
                    p.signal, p.pc, p.goroutine, p.thread
                );
            }
            let _ = writeln!(s, "wait reasons: {}", rt.wait_reasons);
            if rt.now > 0 {
                let _ = writeln!(s, "now:         {} ns (nanotime, from {}); used for \"N minutes\"", rt.now, rt.now_source);
            } else {
                // 0 would read as a clock; say there is none (no minutes are printed).
                let _ = writeln!(s, "now:         {}; no \"N minutes\" are printed", rt.now_source);
            }
        }
    }
    let _ = writeln!(s, "threads:     {}", i.threads);
    if let GoInfo::Runtime(rt) = &i.go {
        match rt.goroutines {
            GoroutineCount::Allgs(n) => {
                let _ = writeln!(s, "goroutines:  {n} in runtime.allgs (exited ones included; --goroutines lists the live ones)");
            }
            GoroutineCount::Live(n) => {
                let _ = writeln!(s, "goroutines:  {n}");
            }
        }
    }
    let _ = writeln!(s, "mappings:    {}", i.mappings.len());
    for m in &i.mappings {
        let _ = writeln!(
            s,
            "  {:#014x}-{:#014x} {}{}{} {:>8x} {}",
            m.start,
            m.end,
            if m.read { 'r' } else { '-' },
            if m.write { 'w' } else { '-' },
            if m.exec { 'x' } else { '-' },
            m.file_offset,
            m.path.as_deref().unwrap_or_default()
        );
    }
    for w in &i.warnings {
        let _ = writeln!(s, "warning:     {w}");
    }
    s
}

fn signal_line(i: &CoreInfo, s: &mut String) {
    match &i.signal {
        Some(sig) => {
            let _ = write!(s, "signal:      {} ({}) code={:#x}", sig.number, sig.name, sig.code);
            if let Some(addr) = sig.addr {
                let _ = write!(s, " addr={addr:#x}");
            }
            if let Some(t) = sig.thread {
                let _ = write!(s, " thread={t}");
            }
            s.push('\n');
        }
        None => *s += "signal:      none\n",
    }
}

/// One `--info` line of a signal frame: `original:    3 (SIGQUIT) ... pc= sp= (signal frame at .. on thread N)`.
fn signal_frame_line(s: &mut String, f: &SignalFrameInfo) {
    let what = match f.role {
        SignalRole::Handled => "handled:    ",
        SignalRole::Original => "original:   ",
        SignalRole::ReRaised => "re-raised:  ",
        SignalRole::Relayed => "relayed:    ",
    };
    let _ = writeln!(
        s,
        "{what} {} pc={:#x} sp={:#x} (signal frame at {:#x} on thread {})",
        f.signal, f.pc, f.sp, f.addr, f.thread
    );
}

pub fn signal_name(n: i32) -> &'static str {
    match n {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        _ => "?",
    }
}

pub fn threads(a: &Analysis) -> String {
    threads_impl(a, false)
}

/// `--threads --bt`: each thread's line, then its native backtrace as gdb's
/// `bt` would show it (C frames by CFI, Go frames by the pclntab).
pub fn threads_with_backtraces(a: &Analysis) -> String {
    threads_impl(a, true)
}

fn threads_impl(a: &Analysis, backtrace: bool) -> String {
    let native = backtrace.then(|| crate::unwind::native::NativeUnwinder::new(a));
    let mut s = String::new();
    for (t, info) in a.core.threads.iter().zip(crate::model::info::threads(a)) {
        thread_lines(&info, &mut s);
        if let Some(n) = &native {
            s += &crate::unwind::native::format(a, &n.backtrace(t), "    ");
        }
    }
    s
}

/// A thread's `--threads` line, and what its signal handler interrupted.
pub fn thread_lines(t: &ThreadInfo, s: &mut String) {
    let _ = write!(s, "{} thread {} pc={:#x} sp={:#x} {}", if t.crashed { "*" } else { " " }, t.tid, t.pc, t.sp, t.function);
    if let Some(m) = t.m {
        let _ = write!(s, " m={m}");
        if let Some(g) = t.goroutine {
            let _ = write!(s, " goroutine={g}");
        }
    }
    s.push('\n');
    if let Some(f) = &t.interrupted {
        let _ = writeln!(
            s,
            "      interrupted by {}: pc={:#x} sp={:#x} {}{}",
            f.signal,
            f.pc,
            f.sp,
            f.function,
            if f.nested > 0 { format!(" ({} more handler(s) nested inside)", f.nested) } else { String::new() }
        );
    }
}

/// What the traceback header shows between its brackets.
pub fn status_text(a: &Analysis, r: &GoroutineReport) -> String {
    crate::model::Status::of(a, &r.g).bracketed()
}

/// Format every live goroutine with `f` on every CPU, a chunk at a time
/// ([`Analysis::try_for_each_chunk`]), and write the texts in order with
/// `sep` between them; each chunk's pages are given back after it.
pub fn write_reports(
    a: &Analysis,
    w: &mut dyn std::io::Write,
    sep: &str,
    f: impl Fn(&GoroutineReport) -> Option<String> + Sync,
) -> std::io::Result<()> {
    use rayon::prelude::*;
    let mut first = true;
    a.try_for_each_chunk(|chunk| {
        let texts: Vec<Option<String>> = chunk.par_iter().map(&f).collect();
        for t in texts.into_iter().flatten() {
            if !first {
                w.write_all(sep.as_bytes())?;
            }
            first = false;
            w.write_all(t.as_bytes())?;
        }
        a.core.release_pages();
        Ok(())
    })
}

/// Format `items` with `f` on every CPU, a chunk at a time, and write the
/// texts in order with `sep` between them; memory stays bounded by a chunk
/// (and `after_chunk` may give back what the chunk touched).
pub fn write_chunked<T: Sync>(
    items: &[T],
    w: &mut dyn std::io::Write,
    sep: &str,
    f: impl Fn(&T) -> Option<String> + Sync,
    after_chunk: impl Fn(),
) -> std::io::Result<()> {
    use rayon::prelude::*;
    let mut first = true;
    for chunk in items.chunks(crate::analysis::RELEASE_EVERY) {
        let texts: Vec<Option<String>> = chunk.par_iter().map(&f).collect();
        for t in texts.into_iter().flatten() {
            if !first {
                w.write_all(sep.as_bytes())?;
            }
            first = false;
            w.write_all(t.as_bytes())?;
        }
        after_chunk();
    }
    Ok(())
}

/// How many goroutines the views leave out with `--system=false` (`system`
/// false): the system goroutines, the crashing one excepted.
pub fn hidden_system(a: &Analysis, system: bool) -> usize {
    a.hidden_system(system)
}

/// One line per goroutine; with `system == false`, system goroutines are
/// left out as GOTRACEBACK=all leaves them out.
pub fn goroutines(a: &Analysis, system: bool) -> String {
    let mut out = Vec::new();
    let _ = write_goroutines(a, system, &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`goroutines`] written to `w` as it is formatted.
pub fn write_goroutines(a: &Analysis, system: bool, w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let opts = crate::output::traceback::Options { system };
    write_reports(a, w, "", |r| {
        r.listed(system).then(|| {
            let r = a.walked(r, Depth::FirstUserFrame);
            goroutine_line(&crate::model::Goroutine::of(a, &r, opts, Default::default(), None))
        })
    })
}

/// The `--goroutines` line of a goroutine, like Delve's `goroutines`.
pub fn goroutine_line(m: &crate::model::Goroutine) -> String {
    let mut s = String::with_capacity(256);
    let _ = write!(s, "{} Goroutine {} - ", if m.crashing { "*" } else { " " }, m.id);
    match (&m.user_location, &m.top) {
        (Some(l), _) => {
            let _ = write!(s, "User: {}:{} {} ({:#x})", l.file, l.line, l.func, l.pc);
        }
        (None, Some(l)) => {
            let _ = write!(s, "Runtime: {}:{} {} ({:#x})", l.file, l.line, l.func, l.pc);
        }
        (None, None) => s += "(no stack)",
    }
    if let Some(crate::model::Creator { site: c, .. }) = &m.go_statement {
        let _ = write!(s, " Go: {}:{} {} ({:#x})", c.file, c.line, c.func, c.pc);
    }
    if let Some(f) = &m.start_func {
        let _ = write!(s, " Start: {f} ({:#x})", m.start_pc);
    }
    let _ = write!(s, " [{}]", m.status.bracketed());
    if !m.labels.is_empty() {
        let l: Vec<String> = m.labels.iter().map(|(k, v)| format!("{k:?}: {v:?}")).collect();
        let _ = write!(s, " labels:{{{}}}", l.join(", "));
    }
    if let Some(t) = m.thread {
        let _ = write!(s, " (thread {t})");
    }
    s.push('\n');
    s
}
