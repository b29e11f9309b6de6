//! What a crash-triage pipeline writes with the `analyzer` library: open a
//! core, list its goroutines, and print the crash reason and signature as
//! one JSON line. Run: `cargo run -p analyzer --example pipeline -- CORE [EXE]`.

use std::path::PathBuf;

use analyzer::crash::triage;
use analyzer::output::report;
use analyzer::{Analysis, Depth};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let core = args.next().ok_or("usage: pipeline CORE [EXE]")?;
    let exe = args.next();
    // FirstUserFrame: each goroutine walked as far as its first user frame.
    let a = Analysis::open_with(&core, exe.as_deref(), Depth::FirstUserFrame)?;
    for r in &a.goroutines {
        let at = report::user_frame(r).map(|(func, file, line, _)| format!("{func} at {file}:{line}"));
        eprintln!("goroutine {} [{}] {}", r.g.goid, report::status_text(&a, r), at.unwrap_or_default());
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
