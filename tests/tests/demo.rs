//! The shipped demo (testdata/demo) stays what the README says it is.

use tests::compare;
use tests::elfcore::summarize_bytes;
use tests::fixture::Build;
use tests::producers;
use tests::require_tools;
use tests::traceback;
use tests::workspace_root;

#[test]
fn demo_is_a_compressed_kernel_core_with_its_oracle() {
    let demo = workspace_root().join("testdata/demo");
    let compressed = std::fs::read(demo.join("zoo.core.zst")).unwrap();
    let core = zstd::decode_all(&compressed[..]).unwrap();
    let s = summarize_bytes(&core).unwrap();
    assert_eq!(s.machine, 62);
    assert!(s.prstatus >= 2);
    let tb = traceback::parse(&std::fs::read_to_string(demo.join("zoo.traceback.txt")).unwrap());
    assert!(tb.unique().len() >= 20);
    assert_eq!(tb.goroutine(1).unwrap().status, "running");
    assert!(demo.join("zoo").is_file());
}

/// The README's first command: goanalyze on the demo prints what the runtime printed.
#[test]
fn goanalyze_stacks_on_the_demo_match_the_runtime() {
    let demo = workspace_root().join("testdata/demo");
    let out = tests::bins::run_goanalyze(&[
        demo.join("zoo.core.zst").as_os_str(),
        "--exe".as_ref(),
        demo.join("zoo").as_os_str(),
        "--stacks".as_ref(),
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "goanalyze failed: {}", String::from_utf8_lossy(&out.stderr));
    let runtime = traceback::parse(&std::fs::read_to_string(demo.join("zoo.traceback.txt")).unwrap());
    let ours = traceback::parse(&stdout);
    let rules = compare::Rules { crashing_goroutine: Some(1), ..Default::default() };
    let diffs = compare::stacks(&runtime, &ours, &rules);
    assert!(diffs.is_empty(), "{}", diffs.join("\n"));
    assert_eq!(ours.unique().len(), runtime.unique().len());
}

/// Rebuild the demo from the zoo fixture: `cargo test -p tests --test demo -- --ignored remake_demo`.
#[test]
#[ignore]
fn remake_demo() {
    require_tools!("go" => "builds the fixture");
    let fx = Build::new("zoo").build().unwrap();
    let made = producers::kernel_core(&fx.exe, &["crash"]).unwrap();
    let demo = workspace_root().join("testdata/demo");
    let core = std::fs::read(&made.core).unwrap();
    std::fs::write(demo.join("zoo.core.zst"), zstd::encode_all(&core[..], 19).unwrap()).unwrap();
    std::fs::copy(&fx.exe, demo.join("zoo")).unwrap();
    std::fs::write(demo.join("zoo.traceback.txt"), made.stderr).unwrap();
}
