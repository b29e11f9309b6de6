//! gdb's gcore of a live, blocked goroutine zoo, compared with the SIGQUIT
//! traceback (GOTRACEBACK=crash) the same process prints right after gcore
//! detaches. The zoo is idle by then, so nothing moves in between.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn live_compare(fixture: &str, min: usize) {
    if (!have("go") && missing("go")) || (!have("gcore") && missing("gcore (gdb)")) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join(fixture);
    build(fixture, Variant { pie: false, stripped: false, goarch: "amd64" }, None, &exe).unwrap();
    let stderr_path = dir.path().join("stderr.txt");
    let mut child = Command::new(&exe)
        .arg("wait")
        .env("GOTRACEBACK", "crash")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let stdout = child.stdout.take().unwrap();
    // Kill the child if an assertion below fails, so no process outlives the
    // test. Through the Child handle: once reaped, its pid is never signalled.
    struct KillOnDrop(std::process::Child);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = KillOnDrop(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    assert!(line.starts_with("ready"), "{line}");
    std::thread::sleep(Duration::from_millis(300));

    let prefix = dir.path().join("gc");
    let st = Command::new("gcore")
        .arg("-o")
        .arg(&prefix)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "gcore failed");
    let core = dir.path().join(format!("gc.{pid}"));

    Command::new("kill").arg("-QUIT").arg(pid.to_string()).status().unwrap();
    let _ = child.0.wait();
    let stderr = std::fs::read_to_string(&stderr_path).unwrap();
    let runtime = parse_traceback(&stderr);
    assert!(runtime.len() >= min, "SIGQUIT dump has {} goroutines:\n{stderr}", runtime.len());

    let (code, out, err) = goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--stacks"]);
    assert_eq!(code, 0, "{err}");
    let ours = parse_traceback(&out);
    let (n, bad) = compare(&runtime, &ours);
    eprintln!("gcore {fixture} amd64: compared {n} goroutines, {} mismatches", bad.len());
    assert!(bad.is_empty(), "{}\n--- ours ---\n{out}\n--- runtime ---\n{stderr}", bad.join("\n"));
}

#[test]
fn gcore_of_blocked_process_matches_sigquit_dump() {
    live_compare("zoo", 15);
}

/// Goroutines caught running: walked from their threads' registers.
#[test]
fn gcore_of_busy_process_matches_sigquit_dump() {
    live_compare("busy", 5);
}
