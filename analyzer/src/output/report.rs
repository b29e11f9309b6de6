//! Plain-text reports other than tracebacks: --info, --threads, --goroutines.

use std::fmt::Write;

use crate::analysis::Depth;
use crate::analysis::{Analysis, GoroutineReport};

pub fn info(a: &Analysis) -> String {
    let c = &a.core;
    let mut s = String::new();
    let _ = writeln!(s, "core:        {}", c.path.display());
    let _ = writeln!(s, "format:      {:?}", c.format);
    let _ = writeln!(s, "arch:        {}", c.arch.name());
    let _ = writeln!(s, "pid:         {}", c.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()));
    if let Some(cmd) = &c.command {
        let _ = writeln!(s, "command:     {cmd}");
    }
    let _ = writeln!(
        s,
        "executable:  {} (load bias {:#x})",
        a.bin.path.display(),
        a.bias
    );
    extra_exe_lines(c, &mut s);
    let _ = writeln!(
        s,
        "go version:  {}",
        a.bin.go_version.as_deref().unwrap_or("unknown")
    );
    let _ = writeln!(
        s,
        "debug info:  {} (runtime layout from {})",
        if a.bin.has_dwarf { "DWARF" } else { "none (stripped)" },
        a.bin.layout.source
    );
    signal_line(c, &mut s);
    signal_chain_lines(a, &mut s);
    let _ = writeln!(s, "wait reasons: {}", a.state.wait_reasons_source);
    if a.state.now > 0 {
        let _ = writeln!(s, "now:         {} ns (nanotime, from {}); used for \"N minutes\"", a.state.now, a.state.now_source);
    } else {
        // 0 would read as a clock; say there is none (no minutes are printed).
        let _ = writeln!(s, "now:         {}; no \"N minutes\" are printed", a.state.now_source);
    }
    let _ = writeln!(s, "threads:     {}", c.threads.len());
    if a.depth == Depth::NotRead {
        let _ = writeln!(s, "goroutines:  {} in runtime.allgs (exited ones included; --goroutines lists the live ones)", a.state.allgs_len);
    } else {
        let _ = writeln!(s, "goroutines:  {}", a.goroutine_count());
    }
    let _ = writeln!(s, "mappings:    {}", c.mappings.len());
    mapping_lines(c, &mut s);
    for w in a.warnings() {
        let _ = writeln!(s, "warning:     {w}");
    }
    s
}

/// `--info` lines that only some cores have: the ELF package metadata note
/// (`.note.package`) of the executable, the fields of a systemd-coredump
/// file name. Also for cores of programs that are not Go.
pub fn extra_exe_lines(c: &core_reader::Core, s: &mut String) {
    if let Some(p) = &c.recorded_exe.package {
        let _ = writeln!(s, "package:     {p}");
    }
    if let Some(n) = core_reader::systemd_core_name(&c.path) {
        let _ = writeln!(
            s,
            "systemd:     comm={} uid={} pid={} boot={} time={}{}",
            n.comm,
            n.uid,
            n.pid,
            n.boot_id,
            utc(n.time_usec / 1_000_000),
            if c.pid.is_some_and(|p| p != n.pid) { " (the name's pid is not the core's)" } else { "" }
        );
    }
}

/// `YYYY-MM-DD HH:MM:SS UTC` from seconds since the epoch (days to a civil
/// date by the usual era arithmetic; no time zone database needed).
fn utc(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// One `--info` line of a signal frame: `original:    3 (SIGQUIT) ... pc= sp= (signal frame at .. on thread N)`.
fn signal_frame_line(s: &mut String, what: &str, f: &crate::unwind::sigframe::SigFrame, tid: u64) {
    let _ = writeln!(
        s,
        "{what} {} pc={:#x} sp={:#x} (signal frame at {:#x} on thread {tid})",
        crate::unwind::sigframe::describe(&f.info),
        f.regs.pc(),
        f.regs.sp(),
        f.addr
    );
}

/// The signal handlers on the crashed thread, outermost first: the signal
/// that started the crash (SIGQUIT, SIGSEGV...) and what the runtime raised
/// inside its handler (the SIGABRT of GOTRACEBACK=crash that the core names).
fn signal_chain_lines(a: &crate::analysis::Analysis, s: &mut String) {
    let Some((tid, chain)) = crate::unwind::sigframe::of_signalled_thread(a) else { return };
    // A lone handler of the core's own signal (a panic's SIGABRT) started
    // nothing else: it is the handler, not an original.
    // Not when the crash started on another thread than the core's (see
    // sigframe::origin_thread): there even a lone SIGABRT (C's abort()) is
    // the original.
    let core_signo = a.core.signal.as_ref().map(|s| s.signo);
    let core_tid = a.core.signal.as_ref().and_then(|s| s.thread).and_then(|i| a.threads.get(i)).map(|t| t.tid);
    let lone = chain.frames.len() == 1 && chain.frames.first().map(|f| f.info.signo) == core_signo && core_tid == Some(tid);
    for (i, f) in chain.frames.iter().rev().enumerate() {
        let what = match i {
            0 if lone => "handled:    ",
            0 => "original:   ",
            _ => "re-raised:  ",
        };
        signal_frame_line(s, what, f, tid);
    }
    if let Some(why) = &chain.stopped {
        let _ = writeln!(s, "signal frames: {why}");
    }
    // Before Go 1.22 another M took the runtime's relay of the crash and
    // re-raised the SIGABRT that the core names: show its handlers too.
    let core_thread = a.core.signal.as_ref().and_then(|s| s.thread).and_then(|i| a.threads.get(i));
    if let Some(t) = core_thread.filter(|t| t.tid != tid) {
        for f in a.signal_chain(t).frames.iter().rev() {
            let what = if crate::unwind::sigframe::is_relay(&f.info, a.core.pid) { "relayed:    " } else { "re-raised:  " };
            signal_frame_line(s, what, f, t.tid);
        }
    }
    // No handler left on the stack: a fault the runtime turned into a
    // sigpanic that then threw (SIGBUS on a truncated mapping).
    if chain.frames.len() <= 1 {
        if let Some(o) = crate::crash::reason::original_signal(a) {
            if let crate::crash::reason::OriginalSource::Sigpanic { goid } = o.source {
                let _ = writeln!(
                    s,
                    "original:    {} pc={:#x} (taken by goroutine {goid} on thread {tid}, which panicked on it)",
                    crate::unwind::sigframe::describe(&o.info),
                    o.pc
                );
            }
        }
    }
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
    let u = a.unwinder();
    let mut s = String::new();
    let mut sym = crate::binary::symbolize::Symbolizer::default();
    let crashed = a.core.signal.as_ref().and_then(|s| s.thread);
    let mut describe = |pc: u64| {
        u.find_func(pc)
            .map(|f| format!("{} +{:#x}", u.func_name(&f), pc.wrapping_sub(a.bias) - f.entry))
            .unwrap_or_else(|| match a.core.mappings.iter().chain(&a.core.file_mappings).find(|m| pc >= m.start && pc < m.end) {
                Some(m) => sym.describe(pc, m),
                None => "? (pc not in any mapping)".into(),
            })
    };
    for (i, t) in a.core.threads.iter().enumerate() {
        let pc = t.regs.pc();
        let func = describe(pc);
        let m = a.state.ms.iter().find(|m| m.procid == t.tid);
        let _ = writeln!(
            s,
            "{} thread {} pc={:#x} sp={:#x} {}{}",
            if crashed == Some(i) { "*" } else { " " },
            t.tid,
            pc,
            t.regs.sp(),
            func,
            m.map(|m| {
                let g = a.goroutines.iter().find(|r| r.g.addr == m.curg && m.curg != 0);
                format!(" m={}{}", m.id, g.map(|r| format!(" goroutine={}", r.g.goid)).unwrap_or_default())
            })
            .unwrap_or_default()
        );
        // In a GOTRACEBACK=crash core every thread sits in a signal
        // handler (usleep, raise): what it was doing is the context the
        // first signal of its chain interrupted.
        let chain = a.threads.get(i).map(|t| a.signal_chain(t));
        if let Some((chain, f)) = chain.and_then(|c| Some((c, c.outermost()?))) {
            let nested = chain.frames.len().saturating_sub(1);
            let _ = writeln!(
                s,
                "      interrupted by {}: pc={:#x} sp={:#x} {}{}",
                crate::unwind::sigframe::describe(&f.info),
                f.regs.pc(),
                f.regs.sp(),
                describe(f.regs.pc()),
                if nested > 0 { format!(" ({nested} more handler(s) nested inside)") } else { String::new() }
            );
        }
        if let Some(n) = &native {
            s += &crate::unwind::native::format(a, &n.backtrace(t), "    ");
        }
    }
    s
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
    if let Some(c) = &m.go_statement {
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

/// `--info`'s `signal:` line: the core's signal, its code and address, and
/// the thread it was delivered to.
pub(crate) fn signal_line(c: &core_reader::Core, s: &mut String) {
    match &c.signal {
        Some(sig) => {
            let _ = write!(s, "signal:      {} ({}) code={:#x}", sig.signo, signal_name(sig.signo), sig.code);
            if let Some(addr) = sig.addr {
                let _ = write!(s, " addr={addr:#x}");
            }
            if let Some(t) = sig.thread.and_then(|i| c.threads.get(i)) {
                let _ = write!(s, " thread={}", t.tid);
            }
            s.push('\n');
        }
        None => *s += "signal:      none\n",
    }
}

/// `--info`'s list of mappings, one line each: range, rwx, offset, file.
pub(crate) fn mapping_lines(c: &core_reader::Core, s: &mut String) {
    for m in &c.mappings {
        let _ = writeln!(
            s,
            "  {:#014x}-{:#014x} {}{}{} {:>8x} {}",
            m.start,
            m.end,
            if m.read { 'r' } else { '-' },
            if m.write { 'w' } else { '-' },
            if m.exec { 'x' } else { '-' },
            m.file_offset,
            m.path.as_ref().map(|p| p.display().to_string()).unwrap_or_default()
        );
    }
}
