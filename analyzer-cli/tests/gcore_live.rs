//! gdb's gcore of a live, blocked goroutine zoo, compared with the SIGQUIT
//! traceback (GOTRACEBACK=crash) the same process prints right after gcore
//! detaches. The zoo is idle by then, so nothing moves in between.

mod common;

use std::time::Duration;

use common::*;
use tests::compare::{self, Rules};
use tests::{producers, traceback};

fn live_compare(fixture: &str, min: usize) {
    let tools = tests::require_tools!("go" => "builds the fixtures", "gcore" => "makes the core");
    let exe = Build::new(fixture).build().unwrap().exe;
    // Started, "ready" read and 200 ms of settling by the tests crate; the
    // process is killed if an assertion below fails.
    let live = producers::LiveProcess::start(&exe, &["wait"]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let made = producers::gcore(&tools[1], live.pid).unwrap();
    let core = made.core.clone();
    let stderr = live.sigquit_traceback().unwrap();
    let runtime = traceback::parse(&stderr);
    let n = runtime.unique().len();
    assert!(n >= min, "SIGQUIT dump has {n} goroutines:\n{stderr}");

    let (code, out, err) = goanalyze(&[core.to_str().unwrap(), "--exe", exe.to_str().unwrap(), "--stacks"]);
    assert_eq!(code, 0, "{err}");
    // A goroutine running in the core or in the dump has run on in between.
    let rules = Rules { running_moved: true, ..Rules::default() };
    let bad = compare::stacks(&runtime, &traceback::parse(&out), &rules);
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
