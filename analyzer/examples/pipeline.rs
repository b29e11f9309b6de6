//! What a crash-triage pipeline writes with the `analyzer` library: open a
//! core, list its goroutines, and print the crash reason and signature as
//! one JSON line. Run: `cargo run -p analyzer --example pipeline -- CORE [EXE]`.

use std::path::PathBuf;

use analyzer::crash::triage;
use analyzer::model::{Detail, Goroutine};
use analyzer::output::traceback::Options;
use analyzer::{Analysis, Depth};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let core = args.next().ok_or("usage: pipeline CORE [EXE]")?;
    let exe = args.next();
    // FirstUserFrame: each goroutine walked as far as its first user frame.
    let a = Analysis::open_with(&core, exe.as_deref(), Depth::FirstUserFrame)?;
    for r in &a.goroutines {
        // The model every view prints (its JSON is `--goroutines --format json`'s).
        let g = Goroutine::of(&a, r, Options { system: true }, Detail::default(), None);
        let at = g.user_location.map(|l| format!("{} at {}:{}", l.func, l.file, l.line));
        eprintln!("goroutine {} [{}] {}", g.id, g.status.bracketed(), at.unwrap_or_default());
    }
    // The record `goanalyze --triage --format json` prints (docs/json-schema.md).
    let record = triage::from_analysis(&a);
    println!(
        "{}",
        serde_json::json!({
            "core": record.core,
            "reason": record.reason,
            "crashing_goroutine": record.crashing_goroutine,
            "signature": record.signature,
        })
    );
    Ok(())
}
