//! The goroutine walker and unwinder over corrupted memory: a real kernel
//! core of a Go program (the seed core) with words overwritten as the input
//! says, aimed at the runtime's structures the analyzer follows (every g,
//! every stack, the executable's data: allgs, allm, sched, wait reasons).
//! Written words are zero, all ones, random, pointers to themselves or
//! near by (cycles), pointers into other structures, or huge lengths.
//! `Analysis` and every formatter must finish without a panic.
//!
//! The seed core and its executable come from `GOWALK_CORE` / `GOWALK_EXE`,
//! default `fuzz/seed-cores/zoo.core` and `fuzz/seed-cores/zoo` (made by
//! `fuzz/make-seeds.sh`).
//!
//! Input: 16-byte records {u16 target, u8 mode, u8 _, u32 offset, u64 value}.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use analyzer::analysis::Analysis;
use core_reader::{Core, OpenOptions};
use libfuzzer_sys::fuzz_target;

mod damage;
use damage::SeedCore;

struct Seed {
    core: SeedCore,
    core_path: PathBuf,
    exe: PathBuf,
    /// Address ranges worth damaging.
    targets: Vec<(u64, u64)>,
}

fn seed() -> &'static Seed {
    static S: OnceLock<Seed> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let core_path = std::env::var_os("GOWALK_CORE").map(PathBuf::from).unwrap_or(root.join("seed-cores/zoo.core"));
        let exe = std::env::var_os("GOWALK_EXE").map(PathBuf::from).unwrap_or(root.join("seed-cores/zoo"));
        let core = SeedCore::read(&core_path);
        let a = Analysis::open(&core_path, Some(&exe)).expect("the seed core analyses cleanly");
        let mut targets = Vec::new();
        // The live goroutines (the analysis moves allgs into its reports).
        for g in a.goroutines.iter().map(|r| &r.g) {
            targets.push((g.addr, 0x200));
            if g.stack_hi > g.stack_lo && g.stack_hi - g.stack_lo <= 1 << 20 {
                targets.push((g.stack_lo, g.stack_hi - g.stack_lo));
            }
        }
        for m in &a.state.ms {
            targets.push((m.addr, 0x400));
        }
        for s in &a.bin.sections {
            if matches!(s.name.as_str(), ".data" | ".bss" | ".noptrbss" | ".noptrdata") {
                targets.push((s.addr.wrapping_add(a.bias), s.size));
            }
        }
        targets.retain(|t| t.1 >= 8);
        Seed { core, core_path, exe, targets }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = seed();
    let bytes = s.core.damaged(&s.targets, data, 6);
    let opts = OpenOptions { exe: Some(s.exe.clone()), ..Default::default() };
    let Ok(core) = Core::from_bytes(&s.core_path, bytes, &opts) else { return };
    let Ok(a) = Analysis::from_core(core) else { return };
    let _ = analyzer::output::report::info(&a);
    let _ = analyzer::output::report::threads(&a);
    let _ = analyzer::output::report::goroutines(&a, true);
    let _ = analyzer::output::traceback::format_all(&a, analyzer::output::traceback::Options { system: true });
    let _ = analyzer::output::json::stacks(&a, analyzer::output::traceback::Options { system: false });
});
