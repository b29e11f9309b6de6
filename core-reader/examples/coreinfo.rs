//! Print what core-reader sees in a core: `cargo run -p core-reader --example coreinfo -- CORE [EXE]`.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use core_reader::{Core, OpenOptions};

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(path) = args.next().map(PathBuf::from) else {
        eprintln!("usage: coreinfo CORE [EXE]");
        std::process::exit(2);
    };
    let opts = OpenOptions { exe: args.next().map(PathBuf::from), ..Default::default() };
    let t = Instant::now();
    let core = match Core::open(&path, &opts) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    // Collected and written once, so `| head` does not make us panic.
    let mut out = String::new();
    macro_rules! say { ($($a:tt)*) => { let _ = writeln!(out, $($a)*); } }
    say!("opened in {:?}", t.elapsed());
    say!("{:?} {} {:?} pid={:?} command={:?}", core.format, core.arch.name(), core.os, core.pid, core.command);
    say!("exe: {:?}", core.exe);
    say!("recorded exe: {:?}", core.recorded_exe);
    say!("signal: {:?}", core.signal);
    say!("truncated: {:?}", core.truncated);
    for t in &core.threads {
        let sets: Vec<String> = t.extra_regsets.iter().map(|(k, v)| format!("{k:#x}:{}", v.len())).collect();
        say!(
            "thread {} pc={:#x} sp={:#x} fp={:#x} sig={} regsets=[{}]",
            t.tid,
            t.regs.pc(),
            t.regs.sp(),
            t.regs.fp(),
            t.signal,
            sets.join(" ")
        );
    }
    say!("{} mappings, {} memory regions, {} files", core.mappings.len(), core.memory.regions().len(), core.files.len());
    for m in core.mappings.iter().filter(|m| m.path.is_some()) {
        say!("  {:#x}-{:#x} {:#x} {}", m.start, m.end, m.file_offset, m.path.as_ref().unwrap().display());
    }
    for w in &core.warnings {
        say!("warning: {w}");
    }
    let _ = std::io::stdout().write_all(out.as_bytes());
}
