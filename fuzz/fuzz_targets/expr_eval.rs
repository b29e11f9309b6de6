//! The expression parser and evaluator (`--print`) over a real core: the
//! input is an expression (its first byte picks the goroutine and frame,
//! the rest is the text, lossily UTF-8). Every input must end in a value
//! or an error: no panic, no unbounded recursion, no hang, no huge
//! allocation. The seed core is the `vars` fixture's kernel core (every
//! kind of Go value in locals and globals; `VALUE_CORE` / `VALUE_EXE`,
//! default `fuzz/seed-cores/vars.core` and `fuzz/seed-cores/vars`, made by
//! `fuzz/make-seeds.sh`); seed inputs: the lines of
//! `testdata/go/exprs/exprs.txt` (copied into corpus/expr_eval by the script).
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use analyzer::analysis::Analysis;
use analyzer::output::traceback::Options;
use analyzer::value::Limits;
use libfuzzer_sys::fuzz_target;

struct Seed {
    a: Analysis,
    /// Goroutines with frames of the fixture's own functions, and those frames.
    frames: Vec<(u64, usize)>,
}

fn seed() -> &'static Seed {
    static S: OnceLock<Seed> = OnceLock::new();
    S.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let core = std::env::var_os("VALUE_CORE").map(PathBuf::from).unwrap_or(root.join("seed-cores/vars.core"));
        let exe = std::env::var_os("VALUE_EXE").map(PathBuf::from).unwrap_or(root.join("seed-cores/vars"));
        let a = Analysis::open(&core, Some(&exe)).expect("the seed core analyses cleanly");
        let opts = Options { system: true };
        let mut frames = Vec::new();
        for r in &a.goroutines {
            for (i, (f, _)) in analyzer::output::traceback::visible_frames(&a, r, opts).into_iter().enumerate() {
                if a.bin.pcln.func_name(&f.func).starts_with("main.") {
                    frames.push((r.g.goid, i));
                }
            }
        }
        Seed { a, frames }
    })
}

fuzz_target!(|data: &[u8]| {
    let s = seed();
    let Some((&pick, text)) = data.split_first() else { return };
    let expr = String::from_utf8_lossy(text);
    let (g, f) = match s.frames.get(pick as usize % (s.frames.len() + 1)) {
        Some(&(g, f)) => (Some(g), Some(f)),
        None => (None, None),
    };
    let limits = if pick & 0x80 != 0 { Limits { max_string: 1 << 16, max_elems: 1000, max_depth: 10, max_fields: 64 } } else { Limits::default() };
    let _ = analyzer::vars::print_expr(&s.a, &expr, g, f, Options { system: true }, limits);
});
