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

struct Seed {
    core: Vec<u8>,
    core_path: PathBuf,
    exe: PathBuf,
    /// (vaddr, file offset, file size) of every PT_LOAD.
    loads: Vec<(u64, u64, u64)>,
    /// Address ranges worth damaging.
    targets: Vec<(u64, u64)>,
}

fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

fn seed() -> &'static Seed {
    static S: OnceLock<Seed> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let core_path = std::env::var_os("GOWALK_CORE").map(PathBuf::from).unwrap_or(root.join("seed-cores/zoo.core"));
        let exe = std::env::var_os("GOWALK_EXE").map(PathBuf::from).unwrap_or(root.join("seed-cores/zoo"));
        let core = std::fs::read(&core_path).unwrap_or_else(|e| panic!("seed core {}: {e}", core_path.display()));
        let phoff = u64_at(&core, 32) as usize;
        let phnum = u16::from_le_bytes([core[56], core[57]]) as usize;
        let mut loads = Vec::new();
        for i in 0..phnum {
            let o = phoff + 56 * i;
            if u32::from_le_bytes(core[o..o + 4].try_into().unwrap()) == 1 {
                loads.push((u64_at(&core, o + 16), u64_at(&core, o + 8), u64_at(&core, o + 32)));
            }
        }
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
        Seed { core, core_path, exe, loads, targets }
    })
}

fn file_off(s: &Seed, a: u64) -> Option<usize> {
    s.loads
        .iter()
        .find(|(va, _, sz)| a >= *va && a - va + 8 <= *sz)
        .map(|(va, fo, _)| (fo + a - va) as usize)
}

fuzz_target!(|data: &[u8]| {
    let s = seed();
    let mut bytes = s.core.clone();
    for r in data.chunks_exact(16).take(64) {
        let sel = u16::from_le_bytes([r[0], r[1]]) as usize;
        let mode = r[2];
        let off = u32::from_le_bytes(r[4..8].try_into().unwrap()) as u64;
        let val = u64::from_le_bytes(r[8..16].try_into().unwrap());
        let (start, len) = s.targets[sel % s.targets.len()];
        let a = start.wrapping_add(off % len / 8 * 8);
        let Some(o) = file_off(s, a) else { continue };
        let w = match mode % 6 {
            0 => val,
            1 => 0,
            2 => u64::MAX,
            3 => a ^ (val & 0xff8),
            4 => {
                let (t, l) = s.targets[(val as usize) % s.targets.len()];
                t.wrapping_add((val >> 32) % l / 8 * 8)
            }
            _ => 1u64 << (val % 64),
        };
        bytes[o..o + 8].copy_from_slice(&w.to_le_bytes());
    }
    let opts = OpenOptions { exe: Some(s.exe.clone()) };
    let Ok(core) = Core::from_bytes(&s.core_path, bytes, &opts) else { return };
    let Ok(a) = Analysis::from_core(core) else { return };
    let _ = analyzer::report::info(&a);
    let _ = analyzer::report::threads(&a);
    let _ = analyzer::report::goroutines(&a, true);
    let _ = analyzer::traceback::format_all(&a, analyzer::traceback::Options { system: true });
    let _ = analyzer::json::stacks(&a, analyzer::traceback::Options { system: false });
});
