//! `examples/pipeline.rs` is what a pipeline would write: it runs here on
//! the shipped demo core (a kernel core of the zoo fixture that died of a
//! nil dereference), and must say what the runtime said as it died.

use std::path::PathBuf;
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("analyzer/ has a parent").to_path_buf()
}

/// `cargo test` builds the examples beside the test binaries' `deps/`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target/<profile>");
    dir.join("examples").join(name)
}

#[test]
fn pipeline_example_triages_the_demo_core() {
    let demo = root().join("testdata/demo");
    let out = Command::new(example("pipeline"))
        .arg(demo.join("zoo.core.zst"))
        .arg(demo.join("zoo"))
        .output()
        .expect("run examples/pipeline (built by cargo test)");
    assert!(out.status.success(), "pipeline failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8(out.stdout).expect("utf-8");
    let v: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON line");

    // The oracle: the runtime's own last words (zoo.traceback.txt).
    let tb = std::fs::read_to_string(demo.join("zoo.traceback.txt")).expect("demo traceback");
    assert!(tb.starts_with("panic: runtime error: invalid memory address or nil pointer dereference"));
    let first = tb.lines().find(|l| l.starts_with("goroutine ")).expect("a goroutine header");
    assert!(first.ends_with("[running]:"), "{first}");
    let crashed: u64 = first.split_whitespace().nth(1).and_then(|n| n.parse().ok()).expect("goroutine id");
    assert_eq!(v["crashing_goroutine"], crashed, "{line}");
    let reason = v["reason"].to_string();
    assert!(reason.contains("nil pointer dereference"), "{reason}");

    // The same record as the library's own triage of that core.
    let record = analyzer::crash::triage::triage(&demo.join("zoo.core.zst"), Some(&demo.join("zoo")), true);
    assert!(record.ok(), "{:?}", record.errors);
    assert_eq!(v["signature"].as_str(), record.signature.as_deref());
    assert!(record.signature.is_some());

    // stderr lists every goroutine the runtime printed, one line each.
    let listed = String::from_utf8_lossy(&out.stderr).lines().filter(|l| l.starts_with("goroutine ")).count();
    let printed = tb.lines().filter(|l| l.starts_with("goroutine ") && l.ends_with(":")).count();
    assert_eq!(listed, printed);
}
