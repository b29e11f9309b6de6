//! `--info` and `--threads [--bt]` for a core without a Go executable: a C
//! or Python program, or a Go program whose executable is missing. What the
//! core holds is shown (threads, registers, mappings, signal, native stacks
//! from the libraries' CFI and symbols), and the Go views are said to be
//! unavailable, and why, instead of refusing the core.

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
    crate::output::report::info_text(&crate::model::info::CoreInfo::of_core(core, why))
}

/// `--threads` (and with `bt`, each thread's native backtrace) without the
/// Go runtime: functions from the mapped files' ELF symbols.
pub fn threads(core: &Core, bt: bool) -> String {
    let native = NativeUnwinder::for_core(core);
    let mut s = String::new();
    for (t, info) in core.threads.iter().zip(crate::model::info::threads_of_core(core, &native)) {
        crate::output::report::thread_lines(&info, &mut s);
        if bt {
            s += &format_core(&native.backtrace(t), "    ");
        }
    }
    s
}
