//! The DWARF-driven value printer over corrupted memory (`--vars`,
//! `--locals`, `--print`): a real kernel core of the `vars` fixture (every
//! kind of Go value in locals and globals) with words overwritten as the
//! input says, aimed at the variables' own storage (stack slots, globals)
//! and at the memory they point at, two pointers deep (string bytes, slice
//! arrays, map headers and buckets, channel buffers, itabs and interface
//! data, list nodes). Written words are zero, all ones, random, pointers to
//! themselves or near by (cycles), pointers into other targets, or huge
//! powers of two (lengths, counts, bucket shifts). `vars::format_all`,
//! `json::vars` and `vars::print_expr` must finish without a panic, a hang
//! or a huge allocation.
//!
//! The seed core and its executable come from `VALUE_CORE` / `VALUE_EXE`,
//! default `fuzz/seed-cores/vars.core` and `fuzz/seed-cores/vars` (made by
//! `fuzz/make-seeds.sh`).
//!
//! Input: a 4-byte header {u8 limits, u8 expression, u8 goroutine, u8 _},
//! then 16-byte records {u16 target, u8 mode, u8 _, u32 offset, u64 value}.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use analyzer::analysis::Analysis;
use analyzer::memory::Memory;
use analyzer::output::traceback::Options;
use analyzer::value::{Limits, Src};
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
    /// Goroutines that have variables of the fixture's own functions.
    goids: Vec<u64>,
}

/// `--print` expressions: the fixture's globals, then locals of its
/// goroutines (`-g`), then a few that need the evaluator to follow pointers.
const EXPRS: &[&str] = &[
    "gInt", "gStr", "gMap", "gMap[\"a\"]", "gIntMap[7]", "gSlice", "gSlice[2]", "gPoint", "gOuter",
    "gOuter.In.Name", "gOuter.Tags[1]", "*gOuter.Ptr", "gCycle", "*gCycle", "gCycle.Next.Next.Next.Val",
    "gChan", "gIface", "gShape", "gFunc", "gArr[3]", "gComplex", "gUptr", "gBig", "len(gBig)", "*gWild",
    "s", "sl", "sl[1]", "p", "*p", "o", "o.Tags[1]", "m", "m[\"x\"]", "e", "sh", "moved", "c", "label", "v",
    "done", "len(m)", "cap(sl)",
];

/// The storage of a value and, two pointers deep, what its words point at.
fn add_with_pointees(core: &Core, targets: &mut Vec<(u64, u64)>, addr: u64, size: u64, depth: u32) {
    let size = size.clamp(8, 4096);
    if core.read(addr, &mut [0u8; 8]).is_err() || targets.contains(&(addr, size)) || targets.len() > 20_000 {
        return;
    }
    targets.push((addr, size));
    if depth == 0 {
        return;
    }
    for i in 0..size / 8 {
        if let Ok(w) = core.u64(addr + 8 * i) {
            if w > 0x1000 && core.read(w, &mut [0u8; 8]).is_ok() {
                add_with_pointees(core, targets, w, 0x100, depth - 1);
            }
        }
    }
}

fn seed() -> &'static Seed {
    static S: OnceLock<Seed> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let core_path = std::env::var_os("VALUE_CORE").map(PathBuf::from).unwrap_or(root.join("seed-cores/vars.core"));
        let exe = std::env::var_os("VALUE_EXE").map(PathBuf::from).unwrap_or(root.join("seed-cores/vars"));
        let core = SeedCore::read(&core_path);
        let a = Analysis::open(&core_path, Some(&exe)).expect("the seed core analyses cleanly");
        let di = a.bin.debug_info().expect("the seed executable has DWARF");
        let opts = Options { system: true };
        let mut targets = Vec::new();
        let mut goids = Vec::new();
        for r in &a.goroutines {
            for (f, lf) in analyzer::output::traceback::visible_frames(&a, r, opts) {
                let regs = analyzer::vars::registers_for(&a, r, f);
                let vars = analyzer::vars::scope_vars(di, &a, f, lf);
                if !vars.is_empty() && a.bin.pcln.func_name(&f.func).starts_with("main.") && !goids.contains(&r.g.goid) {
                    goids.push(r.g.goid);
                }
                for v in vars {
                    let size = v.ty.and_then(|t| di.type_at(t)).map(|t| t.size).unwrap_or(8);
                    match analyzer::vars::var_src(&a, di, &v, f, regs.as_ref()) {
                        Ok(Src::Mem(addr)) => add_with_pointees(&a.core, &mut targets, addr, size, 2),
                        Ok(Src::Bytes(b, _)) => {
                            // Register-held values: damage what they point at.
                            for w in b.bytes.chunks_exact(8) {
                                let w = u64::from_le_bytes(w.try_into().unwrap());
                                add_with_pointees(&a.core, &mut targets, w, 0x100, 1);
                            }
                        }
                        Err(_) => {}
                    }
                }
            }
        }
        let mut globals: Vec<_> = di.globals().values().filter(|g| g.name.starts_with("main.")).collect();
        globals.sort_by_key(|g| g.addr);
        for g in globals {
            let size = g.ty.and_then(|t| di.type_at(t)).map(|t| t.size).unwrap_or(8);
            add_with_pointees(&a.core, &mut targets, g.addr.wrapping_add(a.bias), size, 2);
        }
        targets.retain(|t| t.1 >= 8);
        assert!(targets.len() > 50, "only {} targets in the seed core", targets.len());
        eprintln!("value_print: {} targets, {} goroutines with variables", targets.len(), goids.len());
        Seed { core, core_path, exe, targets, goids }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = seed();
    if data.len() < 4 {
        return;
    }
    let (head, recs) = data.split_at(4);
    let bytes = s.core.damaged(&s.targets, recs, 7);
    let limits = match head[0] % 4 {
        0 => Limits::default(),
        1 => Limits { max_string: 1 << 16, max_elems: 1000, max_depth: 10, max_fields: 64 },
        2 => Limits { max_string: 0, max_elems: 0, max_depth: 0, max_fields: 64 },
        _ => Limits { max_string: 64, max_elems: 64, max_depth: 30, max_fields: 64 },
    };
    let opts = OpenOptions { exe: Some(s.exe.clone()), ..Default::default() };
    let Ok(core) = Core::from_bytes(&s.core_path, bytes, &opts) else { return };
    let Ok(a) = Analysis::from_core(core) else { return };
    let sys = Options { system: head[2] & 0x80 != 0 };
    let _ = analyzer::vars::format_all(&a, sys, limits, None);
    let goid = s.goids.get(head[2] as usize % s.goids.len().max(1)).copied();
    if head[3] & 1 != 0 {
        let _ = analyzer::output::json::vars(&a, sys, limits, goid);
    }
    let expr = EXPRS[head[1] as usize % EXPRS.len()];
    let _ = analyzer::vars::print_expr(&a, expr, None, None, sys, limits);
    if goid.is_some() {
        let _ = analyzer::vars::print_expr(&a, expr, goid, None, sys, limits);
        let _ = analyzer::vars::print_expr(&a, expr, goid, Some((head[3] >> 1) as usize % 4), sys, limits);
    }
});
