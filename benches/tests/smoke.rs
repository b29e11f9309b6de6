//! The benchmark harness in its smoke mode: tiny workloads, one run each.
//! It proves the harness and every peer invocation still work; the figures
//! it prints are not measurements.

use std::process::Command;

#[test]
fn harness_runs_in_smoke_mode() {
    if tests::tools::require("dlv", "a peer the harness times").is_none()
        || tests::tools::require("gcore", "a peer the harness times").is_none()
        || tests::tools::require("go", "builds the workloads").is_none()
    {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_bench")).arg("--smoke").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "bench --smoke failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for row in ["| list goroutines", "| every stack", "| `--info`", "| godump create", "| gdb gcore", "| dlv attach + dump", "### triage of a batch", "| godump create (clone)", "| godump create --stop", "longest heartbeat gap"] {
        assert!(stdout.contains(row), "no {row:?} row in:\n{stdout}");
    }
}
