//! `--info` and `--threads [--bt]` for a core without a Go executable: a C
//! or Python program, or a Go program whose executable is missing. What the
//! core holds is shown (threads, registers, mappings, signal, native stacks
//! from the libraries' CFI and symbols), and the Go views are said to be
//! unavailable, and why, instead of refusing the core.

use std::fmt::Write;

use core_reader::Core;

use crate::unwind::native::{format_core, NativeUnwinder};

/// Why `core` cannot have the Go views: the executable is missing, or it is
/// not a Go program (no pclntab). `None` when it looks like Go.
pub fn not_go(core: &Core) -> Option<String> {
    let Some(exe) = &core.exe else {
        let searched = &core.recorded_exe.searched;
        return Some(if searched.is_empty() {
            "unknown: the executable was not found; pass it with --exe".to_string()
        } else {
            format!("unknown: the executable was not found (looked in {}); pass it with --exe", searched.join(", "))
        });
    };
    let bytes: &[u8] = (*exe.bytes).as_ref();
    match core_reader::gopclntab(bytes) {
        Some(_) => None,
        None if crate::binary::Binary::from_bytes(&exe.path, exe.bytes.clone()).is_ok() => None,
        None => Some(format!("no: {} has no Go pclntab (not a Go program)", exe.path.display())),
    }
}

/// `--info` without the Go runtime: `why` is [`not_go`]'s answer.
pub fn info(core: &Core, why: &str) -> String {
    let c = core;
    let mut s = String::new();
    let _ = writeln!(s, "core:        {}", c.path.display());
    let _ = writeln!(s, "format:      {:?}", c.format);
    let _ = writeln!(s, "arch:        {}", c.arch.name());
    let _ = writeln!(s, "pid:         {}", c.pid.map(|p| p.to_string()).unwrap_or_else(|| "?".into()));
    if let Some(cmd) = &c.command {
        let _ = writeln!(s, "command:     {cmd}");
    }
    match &c.exe {
        Some(e) => {
            let _ = writeln!(s, "executable:  {} (load bias {:#x})", e.path.display(), e.load_bias);
        }
        None => {
            let recorded = c.recorded_exe.path.as_ref().map(|p| p.display().to_string());
            let _ = writeln!(s, "executable:  not found (the core names {})", recorded.as_deref().unwrap_or("none"));
        }
    }
    crate::output::report::extra_exe_lines(c, &mut s);
    let _ = writeln!(s, "go:          {why}; goroutines, stacks and variables are unavailable");
    crate::output::report::signal_line(c, &mut s);
    let _ = writeln!(s, "threads:     {}", c.threads.len());
    let _ = writeln!(s, "mappings:    {}", c.mappings.len());
    crate::output::report::mapping_lines(c, &mut s);
    for w in &c.warnings {
        let _ = writeln!(s, "warning:     {w}");
    }
    s
}

/// `--threads` (and with `bt`, each thread's native backtrace) without the
/// Go runtime: functions from the mapped files' ELF symbols.
pub fn threads(core: &Core, bt: bool) -> String {
    let native = NativeUnwinder::for_core(core);
    let crashed = core.signal.as_ref().and_then(|s| s.thread);
    let mut s = String::new();
    for (i, t) in core.threads.iter().enumerate() {
        let pc = t.regs.pc();
        let func = match native.modules().find(pc) {
            Some((m, _)) => match m.symbolize(pc.wrapping_sub(m.bias)) {
                Some((name, off)) => format!("{name}+{off:#x} ({})", m.name),
                None => format!("?? ({}+{:#x})", m.name, pc.wrapping_sub(m.bias)),
            },
            None => "? (pc not in any mapped file)".into(),
        };
        let _ = writeln!(
            s,
            "{} thread {} pc={:#x} sp={:#x} {}",
            if crashed == Some(i) { "*" } else { " " },
            t.tid,
            pc,
            t.regs.sp(),
            func
        );
        if bt {
            s += &format_core(&native.backtrace(t), "    ");
        }
    }
    s
}
