//! `--triage` and `--group` on real kernel cores of a stripped and an
//! unstripped build: the reason and message are the runtime's own text,
//! the signature does not depend on the build, and usage errors exit 2.
//! (The full matrix of crash kinds is in tests/tests/triage.rs.)

mod common;

use common::*;

fn record(core: &std::path::Path, exe: &std::path::Path) -> serde_json::Value {
    let (code, out, err) =
        goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--triage", "--format", "json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "one JSON line per core: {out}");
    serde_json::from_str(out.trim()).unwrap()
}

#[test]
fn panic_chain_and_signature_stripped_or_not() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let mut sigs = Vec::new();
    for stripped in [false, true] {
        let b = if stripped { Build::new("panic").pie().stripped() } else { Build::new("panic") };
        let fx = b.build().unwrap();
        let made = crash(&fx, &[], &[]);
        let (exe, core, stderr) = (&fx.exe, &made.core, &made.stderr);
        let r = record(core, exe);
        assert_eq!(r["schema_version"], 1);
        assert_eq!(r["reason"]["kind"], "panic", "{r}");
        let want = stderr.split("\n\n").next().unwrap().trim_end();
        assert_eq!(r["reason"]["message"].as_str().unwrap(), want, "stripped={stripped}");
        assert_eq!(r["crashing_goroutine"], 1);
        let chain = r["reason"]["panics"].as_array().unwrap();
        assert_eq!(chain.len(), 2, "{r}");
        assert_eq!(chain[1]["recovered"], true);
        // The errors' own types, from the gopanic frames' spill slots.
        assert_eq!(chain[0]["original_type"], "*fmt.wrapError", "{r}");
        assert_eq!(chain[1]["original_type"], "*main.parseError", "{r}");
        sigs.push(r["signature"].as_str().unwrap().to_string());

        // By default every goroutine the runtime printed is counted (as in
        // --goroutines); --system=false hides the runtime's own and says how many.
        let printed = stderr.lines().filter(|l| l.starts_with("goroutine ") && l.ends_with("]:")).count();
        assert!(printed > 1, "{stderr}");
        let (code, out, err) = goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--group"]);
        assert_eq!(code, 0, "{err}");
        assert!(out.starts_with(&format!("{printed} goroutines in ")), "{out}");
        assert!(out.contains("1: running [crashing]"), "{out}");
        let (code, out, err) =
            goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--group", "--system=false"]);
        assert_eq!(code, 0, "{err}");
        let want = format!("1 goroutines in 1 groups ({} system goroutines hidden;", printed - 1);
        assert!(out.starts_with(&want), "{want}\n{out}");
    }
    assert_eq!(sigs[0], sigs[1], "stripped PIE vs plain build");
}

#[test]
fn triage_usage() {
    let (code, _, err) = goanalyze(&["a.core", "b.core", "--stacks"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = goanalyze(&["a.core", "--group", "--stacks", "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    // A missing core is a failed record, not a usage error.
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.core");
    let (code, out, _) = goanalyze(&[missing.to_str().unwrap(), "--triage", "--format", "json"]);
    assert_eq!(code, 1);
    let r: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(r["errors"][0].as_str().unwrap().contains("missing.core"), "{r}");
    assert!(r["reason"].is_null());
}
