//! The CLI's contract: exit codes, one-line errors, --help examples, JSON
//! schema, --goroutines/--threads/--info on a real core.

mod common;

use common::*;

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = goanalyze(&[]);
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = goanalyze(&["core", "--no-such-flag"]);
    assert_eq!(code, 2);
    let (code, _, err) = goanalyze(&["core", "--threads", "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, _) = goanalyze(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("Examples:") && out.contains("--stacks"));
}

#[test]
fn analysis_errors_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.core");
    let (code, _, err) = goanalyze(&[missing.to_str().unwrap(), "--stacks"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("nope.core"), "{err}");

    // Garbage of every small size must not panic.
    for n in [0usize, 1, 64, 4096] {
        let p = dir.path().join(format!("garbage{n}"));
        std::fs::write(&p, (0..n).map(|i| (i * 7 + 3) as u8).collect::<Vec<_>>()).unwrap();
        let (code, _, err) = goanalyze(&[p.to_str().unwrap(), "--stacks"]);
        assert_eq!(code, 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // An executable that is not Go.
    let (code, _, err) = goanalyze(&["--layout-table", "/bin/sh"]);
    assert_eq!(code, 1);
    assert!(err.contains("/bin/sh") && err.contains("pclntab"), "{err}");
}

#[test]
fn reports_on_a_zoo_core() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let fx = Build::new("zoo").pie().stripped().build().unwrap();
    let made = crash(&fx, &["crash"], &[]);
    let c = made.core.to_str().unwrap();
    let e = fx.exe.to_str().unwrap();

    let (code, out, err) = goanalyze(&[c, "--exe", e, "--goroutines"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.starts_with("* Goroutine 1 - User: ") && l.contains("main.main")), "{out}");
    assert!(out.lines().any(|l| l.contains("[sync.Mutex.Lock]") && l.contains("Go: ")), "{out}");
    assert!(out.lines().any(|l| l.contains("[syscall]") && l.contains("(thread ")), "{out}");
    assert!(out.contains("locked to thread"), "{out}");
    assert!(out.contains(r#"labels:{"role": "labelled"}"#), "pprof labels: {out}");

    let (code, out, _) = goanalyze(&[c, "--exe", e, "--threads"]);
    assert_eq!(code, 0);
    assert!(out.lines().next().unwrap().contains("pc=0x"));
    assert!(out.lines().any(|l| l.starts_with('*') && l.contains("runtime.raise")), "{out}");

    let (code, out, _) = goanalyze(&[c, "--exe", e, "--info"]);
    assert_eq!(code, 0);
    assert!(out.contains("arch:        amd64") && out.contains("SIGABRT") && out.contains("none (stripped)"), "{out}");

    let (code, out, _) = goanalyze(&[c, "--exe", e, "--stacks", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "goanalyze.goroutines");
    assert_eq!(v["version"], 1);
    let gs = v["goroutines"].as_array().unwrap();
    let g1 = gs.iter().find(|g| g["id"] == 1).unwrap();
    assert_eq!(g1["status"], "running");
    assert_eq!(g1["crashing"], true);
    let frames = g1["frames"].as_array().unwrap();
    assert!(frames.iter().any(|f| f["func"] == "main.main"));
    assert!(gs.iter().any(|g| g["wait_reason"] == "chan receive"));
}

/// pprof labels before Go 1.24 live in a `map[string]string`.
#[test]
fn labels_from_a_go122_map() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let Some(fx) = Build::new("zoo").stripped().toolchain("go1.22.12").build_or_skip() else { return };
    let made = crash(&fx, &["crash"], &[]);
    let (code, out, err) = goanalyze(&[made.core.to_str().unwrap(), "--exe", fx.exe.to_str().unwrap(), "--goroutines"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(r#"labels:{"role": "labelled"}"#), "{out}");
}
