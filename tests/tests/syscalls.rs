//! Goroutines a signal catches in a system call's bookkeeping
//! (testdata/go/syscalls): between entersyscall's saving of syscallsp and
//! its switch to _Gsyscall, or between exitsyscall's switch back to
//! _Grunning and its clearing of syscallsp. The runtime's own M walks such a
//! goroutine from the context the signal interrupted (tracebacktrap; only
//! _Gsyscall makes it start at syscallpc), so `--stacks` must too.
//!
//! The window is a few dozen instructions of a loop that spends most of
//! its time in the kernel, and a kernel core holds one signalled goroutine
//! (the other Ms find theirs parked by the runtime's freezetheworld), so
//! the test makes cores until enough were caught there, and holds every
//! goroutine of every core it made to the runtime's traceback.

use tests::compare::{self, Rules};
use tests::fixture::{Build, Fixture};
use tests::producers::{self, MadeCore};
use tests::require_tools;
use tests::traceback::{self, Goroutine, Traceback};

/// Cores made at most for one build (each takes about 0.2 s; one in 6 to 16
/// caught a goroutine in the window here).
const MAX_CORES: usize = 150;
/// Cores whose signalled goroutine was in the window, enough to stop early.
const WANT_CAUGHT: usize = 2;

/// The runtime's traceback with each goroutine as its own M printed it
/// (walked blocks first, for `unique()`), as tests/tests/signals.rs.
fn oracle(stderr: &str) -> Traceback {
    let mut tb = traceback::parse(stderr);
    tb.goroutines.sort_by_key(|g| g.frames.is_empty());
    tb
}

/// The goroutine the signal interrupted: the first M prints it first.
fn signalled(stderr: &str) -> Option<Goroutine> {
    traceback::parse(stderr).goroutines.into_iter().next().filter(|g| g.id != 0)
}

fn is_syscall_package(func: &str) -> bool {
    func.starts_with("syscall.") || func.starts_with("internal/runtime/syscall.")
}

/// Caught inside a system call's Go side while not in _Gsyscall: the
/// runtime printed it running, with a frame of the syscall package under
/// the innermost one (the runtime's entersyscall/exitsyscall, or the
/// syscall package's own code around them).
fn in_window(g: &Goroutine) -> bool {
    g.status == "running" && g.frames.iter().any(|f| is_syscall_package(&f.func))
}

/// What one core gave.
struct Checked {
    goroutines: usize,
    /// The signalled goroutine's innermost function, when it was in the window.
    caught: Option<String>,
    diffs: Vec<String>,
}

fn check(fx: &Fixture, made: &MadeCore) -> Checked {
    let args = [made.core.as_os_str(), "--exe".as_ref(), fx.exe.as_os_str(), "--stacks".as_ref()];
    let out = tests::bins::run_goanalyze(&args);
    let runtime = oracle(&made.stderr);
    let goroutines = runtime.unique().len();
    let caught = signalled(&made.stderr)
        .filter(in_window)
        .and_then(|g| g.frames.iter().find(|f| !f.inlined()).map(|f| f.func.clone()));
    if !out.status.success() {
        let err = format!("goanalyze failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        return Checked { goroutines, caught, diffs: vec![err] };
    }
    let ours = traceback::parse(&String::from_utf8_lossy(&out.stdout));
    Checked { goroutines, caught, diffs: compare::stacks(&runtime, &ours, &Rules::default()) }
}

/// Make cores of `fx` until [`WANT_CAUGHT`] caught a goroutine in the
/// window (or [`MAX_CORES`] were made); the table row and every failure.
fn run(fx: &Fixture) -> (String, Vec<String>) {
    let mut failures = Vec::new();
    let (mut cores, mut goroutines) = (0, 0);
    let mut caught: Vec<String> = Vec::new();
    for i in 0..MAX_CORES {
        let n = i.to_string();
        let made = producers::crash(fx, &["quit", &n], &[])
            .unwrap_or_else(|e| panic!("{}: quit {n}: {e:#}", fx.build.label()));
        let c = check(fx, &made);
        cores += 1;
        goroutines += c.goroutines;
        if !c.diffs.is_empty() {
            let kept = keep(&made, i);
            failures.push(format!(
                "{} core {i} (kept in {kept}){}:\n    {}",
                fx.build.label(),
                c.caught.as_ref().map(|f| format!(", signalled goroutine in {f}")).unwrap_or_default(),
                c.diffs.join("\n    ")
            ));
        }
        caught.extend(c.caught);
        if caught.len() >= WANT_CAUGHT {
            break;
        }
    }
    if caught.is_empty() {
        failures.push(format!(
            "{}: in {cores} cores the signal never caught a goroutine in entersyscall/exitsyscall",
            fx.build.label()
        ));
    }
    let row = format!(
        "| {} | {cores} cores | {goroutines} goroutines | {} in the window ({}) | {} differing cores |",
        fx.build.label(),
        caught.len(),
        caught.join(", "),
        failures.len()
    );
    (row, failures)
}

/// Keep a failing core and its traceback for a look after the test.
fn keep(made: &MadeCore, i: usize) -> String {
    let dir = tests::cache_dir().join("syscalls-failures");
    let _ = std::fs::create_dir_all(&dir);
    let core = dir.join(format!("core{i}"));
    let _ = std::fs::copy(&made.core, &core);
    let _ = std::fs::write(dir.join(format!("traceback{i}.txt")), &made.stderr);
    dir.display().to_string()
}

fn report(rows: &[String], failures: &[String]) {
    eprintln!("\n{}\n", rows.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn build(b: Build) -> Fixture {
    let label = b.label();
    b.build().unwrap_or_else(|e| panic!("building {label}: {e:#}"))
}

#[test]
fn goroutines_caught_in_entersyscall_or_exitsyscall() {
    require_tools!("go" => "builds the fixture");
    let (row, failures) = run(&build(Build::new("syscalls")));
    report(&[row], &failures);
}
