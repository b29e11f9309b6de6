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
//! the test makes cores until enough were caught there (with the machine's
//! Go; a few cores with the others), and holds every goroutine of every core
//! it made to the runtime's traceback. A gcore of the live fixture catches
//! such goroutines more often; there Delve is the oracle.

use std::path::Path;

use tests::compare::{self, Rules};
use tests::fixture::{Build, Fixture, OLDER_TOOLCHAINS};
use tests::producers::{self, MadeCore};
use tests::require_tools;
use tests::traceback::{self, Goroutine, Traceback};

/// Cores made at most for the machine's toolchain, which must catch the
/// race (each core takes about 0.2 s; one in 6 to 16 caught a goroutine in
/// the window with syscallsp set here).
const MAX_CORES: usize = 150;
/// Cores made for each older toolchain and for arm64, where a catch is
/// counted but not required (one in 10 to 50 here): every goroutine of
/// every core is still held to the runtime's traceback.
const FEW_CORES: usize = 12;

/// The runtime's traceback with each goroutine as its own M printed it,
/// and the ids of the goroutines no M printed as its own.
/// After a SIGQUIT every M prints the goroutine it was running from the
/// context the signal interrupted, and that M then sleeps until the core is
/// written: its block is the core's state. The first M's list of the others
/// came earlier, while they still ran (from Go 1.26 it walks a running
/// goroutine with syscallsp set from syscallpc, one that may have left the
/// syscall by the time its M takes the relayed signal). So a goroutine's
/// block in its own M's section (`PC=.. m=N`, the header's `m=N`) goes
/// first, then walked blocks, for `unique()`.
fn oracle(stderr: &str) -> (Traceback, Vec<u64>) {
    let mut first: Option<Traceback> = None;
    let mut blocks: Vec<(bool, Goroutine)> = Vec::new();
    for section in stderr.split("\n-----\n") {
        let m = section
            .lines()
            .find_map(|l| l.strip_prefix("PC=")?.split_whitespace().find_map(|w| w.strip_prefix("m=")?.parse::<u64>().ok()));
        let tb = traceback::parse(section);
        blocks.extend(tb.goroutines.iter().map(|g| (m.is_some() && g.m == Some(m), g.clone())));
        first.get_or_insert(tb);
    }
    blocks.sort_by_key(|(own, g)| (!own, g.frames.is_empty()));
    let owned: Vec<u64> = blocks.iter().filter(|(own, _)| *own).map(|(_, g)| g.id).collect();
    let mut others: Vec<u64> = blocks.iter().map(|(_, g)| g.id).filter(|id| !owned.contains(id)).collect();
    others.sort_unstable();
    others.dedup();
    (Traceback { goroutines: blocks.into_iter().map(|(_, g)| g).collect(), ..first.unwrap_or_default() }, others)
}

/// Mark as moved on, in `runtime`, the goroutines of `others` (listed by
/// the first M only) that the core has runnable while the runtime had them
/// in a syscall, waiting, or running on another thread: they went on after
/// the list was printed, before their M took the relayed signal
/// (exitsyscall parks a goroutine for the runtime's freezetheworld, before
/// Go 1.26 from _Gsyscall, from 1.26 also one listed running from
/// syscallpc; a waiter may have been woken; go1.21 relays the signal from
/// M to M slowly enough for sysmon to preempt a running one). Their status
/// is then not compared; their frames still are (when the runtime printed
/// any).
fn excuse_moved_on(runtime: &mut Traceback, ours: &Traceback, others: &[u64]) -> usize {
    let moved: Vec<u64> = others
        .iter()
        .copied()
        .filter(|id| {
            let (Some(w), Some(o)) = (runtime.goroutine(*id), ours.goroutine(*id)) else { return false };
            o.status == "runnable" && w.status != "runnable"
        })
        .collect();
    for g in runtime.goroutines.iter_mut().filter(|g| moved.contains(&g.id)) {
        g.status = "runnable".into();
        g.wait_minutes = None;
    }
    moved.len()
}

/// The goroutine the signal interrupted: the first M prints it first.
fn signalled(stderr: &str) -> Option<Goroutine> {
    traceback::parse(stderr).goroutines.into_iter().next().filter(|g| g.id != 0)
}

/// Caught in the runtime's syscall bookkeeping while not in _Gsyscall: the
/// runtime printed it running, inside entersyscall (reentersyscall, or
/// what they call: casgstatus, save) or exitsyscall.
fn in_window(g: &Goroutine) -> bool {
    g.status == "running"
        && g.frames.iter().any(|f| {
            matches!(f.func.as_str(), "runtime.entersyscall" | "runtime.reentersyscall" | "runtime.exitsyscall")
        })
}

/// What one core gave.
struct Checked {
    goroutines: usize,
    /// Goroutines whose status moved on after the runtime printed them.
    moved: usize,
    /// The signalled goroutine's innermost function, when it was in the
    /// window, and whether its syscallsp was set in the core (the case
    /// where syscallpc is not where the runtime starts).
    caught: Option<(String, bool)>,
    diffs: Vec<String>,
}

/// Words of goroutine `id`'s g in the core (`sched.sp`, `syscallsp`...),
/// read through goanalyze's expressions at the g's address
/// (`--goroutines --format json` gives it: the runtime prints `gp=` only
/// from Go 1.22).
fn g_words(fx: &Fixture, made: &MadeCore, id: u64, fields: &[&str]) -> Option<Vec<u64>> {
    let run = |args: &[&str]| {
        let mut all = vec![made.core.as_os_str(), "--exe".as_ref(), fx.exe.as_os_str()];
        all.extend(args.iter().map(std::ffi::OsStr::new));
        String::from_utf8_lossy(&tests::bins::run_goanalyze(&all).stdout).into_owned()
    };
    let list: serde_json::Value = serde_json::from_str(&run(&["--goroutines", "--format", "json"])).ok()?;
    let g = list["goroutines"].as_array()?.iter().find(|g| g["id"].as_u64() == Some(id))?;
    let gp = g["gp"].as_str()?;
    fields.iter().map(|f| run(&["--print", &format!("(*runtime.g)({gp}).{f}")]).trim().parse().ok()).collect()
}

/// Whether goroutine `want`, as the first M listed it, ran between that
/// list and the core: the sp the runtime's walk started from (its first
/// frame's) is neither the g's saved sp nor its syscallsp in the core.
fn ran_since(fx: &Fixture, made: &MadeCore, want: &Goroutine) -> bool {
    let Some(sp) = want.frames.iter().find_map(|f| f.sp) else { return false };
    g_words(fx, made, want.id, &["sched.sp", "syscallsp"]).is_some_and(|w| !w.contains(&sp))
}

fn check(fx: &Fixture, made: &MadeCore) -> Checked {
    let args = [made.core.as_os_str(), "--exe".as_ref(), fx.exe.as_os_str(), "--stacks".as_ref()];
    let out = tests::bins::run_goanalyze(&args);
    let (mut runtime, others) = oracle(&made.stderr);
    let goroutines = runtime.unique().len();
    let caught = signalled(&made.stderr).filter(in_window).map(|g| {
        let func = g.frames.iter().find(|f| !f.inlined()).map(|f| f.func.clone()).unwrap_or_default();
        let set = g_words(fx, made, g.id, &["syscallsp"]).is_some_and(|w| w[0] != 0);
        (func, set)
    });
    if !out.status.success() {
        let err = format!("goanalyze failed: {}", String::from_utf8_lossy(&out.stderr).trim());
        return Checked { goroutines, moved: 0, caught, diffs: vec![err] };
    }
    let mut ours = traceback::parse(&String::from_utf8_lossy(&out.stdout));
    let mut moved = excuse_moved_on(&mut runtime, &ours, &others);
    let mut diffs = compare::stacks(&runtime, &ours, &Rules::default());
    // A goroutine only the first M listed, not running then, that has run
    // since (it went on to a syscall and was parked again): the runtime
    // printed no block of the core's state, nothing to compare.
    let differing: Vec<u64> =
        diffs.iter().filter_map(|d| d.strip_prefix("goroutine ")?.split(':').next()?.parse().ok()).collect();
    let stale: Vec<u64> = differing
        .into_iter()
        .filter(|id| others.contains(id))
        .filter(|id| runtime.goroutine(*id).is_some_and(|w| w.status != "running" && ran_since(fx, made, w)))
        .collect();
    if !stale.is_empty() {
        moved += stale.len();
        runtime.goroutines.retain(|g| !stale.contains(&g.id));
        ours.goroutines.retain(|g| !stale.contains(&g.id));
        diffs = compare::stacks(&runtime, &ours, &Rules::default());
    }
    Checked { goroutines, moved, caught, diffs }
}

/// Make cores of `fx` until `want` of them caught a goroutine in the
/// window with its syscallsp set (or `max` were made); the table row and
/// every failure. Fewer than `want` is fine; none is a failure if
/// `required`.
fn run(fx: &Fixture, want: usize, max: usize, required: bool) -> (String, Vec<String>) {
    let mut failures = Vec::new();
    let (mut cores, mut goroutines, mut moved) = (0, 0, 0);
    let mut caught: Vec<(String, bool)> = Vec::new();
    for i in 0..max {
        let n = i.to_string();
        let made = producers::crash(fx, &["quit", &n], &[])
            .unwrap_or_else(|e| panic!("{}: quit {n}: {e:#}", fx.build.label()));
        let c = check(fx, &made);
        cores += 1;
        goroutines += c.goroutines;
        moved += c.moved;
        if !c.diffs.is_empty() {
            let kept = keep(&made, i);
            failures.push(format!(
                "{} core {i} (kept in {kept}){}:\n    {}",
                fx.build.label(),
                c.caught.as_ref().map(|(f, _)| format!(", signalled goroutine in {f}")).unwrap_or_default(),
                c.diffs.join("\n    ")
            ));
        }
        caught.extend(c.caught);
        if caught.iter().filter(|(_, set)| *set).count() >= want {
            break;
        }
    }
    let set: Vec<&str> = caught.iter().filter(|(_, set)| *set).map(|(f, _)| f.as_str()).collect();
    if required && set.is_empty() {
        failures.push(format!(
            "{}: in {cores} cores the signal never caught a running goroutine with syscallsp set \
             ({} in entersyscall/exitsyscall before or after it was set)",
            fx.build.label(),
            caught.len()
        ));
    }
    let row = format!(
        "| {} | {cores} cores | {goroutines} goroutines ({moved} moved on) | {} in the window, {} with syscallsp set ({}) | {} differing cores |",
        fx.build.label(),
        caught.len(),
        set.len(),
        set.join(", "),
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
    let (row, failures) = run(&build(Build::new("syscalls")), 2, MAX_CORES, true);
    report(&[row], &failures);
}

/// The same with every older toolchain (where entersyscall and exitsyscall
/// switch the status and set or clear syscallsp moved between versions),
/// [`FEW_CORES`] each: a catch is likely, not certain.
#[test]
fn goroutines_caught_in_entersyscall_or_exitsyscall_every_toolchain() {
    require_tools!("go" => "builds the fixture");
    let (mut rows, mut failures) = (Vec::new(), Vec::new());
    for tc in OLDER_TOOLCHAINS {
        let (row, f) = run(&build(Build::new("syscalls").toolchain(tc)), 1, FEW_CORES, false);
        rows.push(row);
        failures.extend(f);
    }
    report(&rows, &failures);
}

/// arm64 under qemu-aarch64 (which writes the guest's core itself): the
/// goroutine's LR and the signal frame's layout differ, the rule does not.
/// [`FEW_CORES`]: a catch is likely, not certain.
#[test]
fn arm64_goroutines_caught_in_entersyscall_or_exitsyscall() {
    require_tools!("go" => "builds the fixture", "qemu-aarch64" => "runs the arm64 fixture");
    let (row, failures) = run(&build(Build::new("syscalls").arch("arm64")), 1, FEW_CORES, false);
    report(&[row], &failures);
}

/// Gdb's gcore of the live fixture catches such goroutines too (a third of
/// its cores here: ptrace stops a thread wherever it runs). No runtime
/// traceback describes a live dump; Delve does: it walks a goroutine that
/// has a thread from that thread's registers, as the runtime's own M
/// would. So every running goroutine with syscallsp set in the core is
/// compared with Delve's `goroutine N stack`, function and line for each
/// frame.
#[test]
fn gcore_goroutines_caught_in_entersyscall_or_exitsyscall_match_delve() {
    let tools = require_tools!("go" => "builds the fixture", "gcore" => "dumps the live fixture", "dlv" => "the oracle");
    let fx = build(Build::new("syscalls"));
    let live = producers::LiveProcess::start(&fx.exe, &[]).unwrap_or_else(|e| panic!("starting syscalls: {e:#}"));
    let (mut cores, mut compared, mut failures) = (0, 0, Vec::new());
    while cores < MAX_GCORES && compared < 2 {
        let made = producers::gcore(&tools[1], live.pid).unwrap_or_else(|e| panic!("gcore: {e:#}"));
        cores += 1;
        let args = [made.core.as_os_str(), "--exe".as_ref(), fx.exe.as_os_str(), "--stacks".as_ref()];
        let ours = traceback::parse(&String::from_utf8_lossy(&tests::bins::run_goanalyze(&args).stdout));
        for g in ours.goroutines.iter().filter(|g| g.status == "running") {
            if g_words(&fx, &made, g.id, &["syscallsp"]).is_none_or(|w| w[0] == 0) {
                continue;
            }
            compared += 1;
            let delve = delve_stack(&tools[2], &fx, &made, g.id);
            let mine: Vec<(String, String)> =
                g.frames.iter().map(|f| (f.func.clone(), format!("{}:{}", f.file, f.line))).collect();
            if mine != delve {
                failures.push(format!(
                    "gcore {cores}, goroutine {}:\n    ours  {mine:?}\n    delve {delve:?}",
                    g.id
                ));
            }
        }
    }
    eprintln!("\n| gcore syscalls go(PATH) | {cores} cores | {compared} running goroutines with syscallsp set, compared with Delve | {} differing |\n", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared > 0, "in {cores} gcores no running goroutine had syscallsp set");
}

/// gcores made at most by the Delve test (each takes about a second).
const MAX_GCORES: usize = 20;

/// Delve's frames for goroutine `id` of a core: (function, file:line).
fn delve_stack(dlv: &Path, fx: &Fixture, made: &MadeCore, id: u64) -> Vec<(String, String)> {
    let init = made.dir.path().join("delve.init");
    std::fs::write(&init, format!("goroutine {id} stack\nexit\n")).expect("writing Delve's script");
    let out = std::process::Command::new(dlv)
        .arg("core")
        .arg(&fx.exe)
        .arg(&made.core)
        .args(["--allow-non-terminal-interactive=true", "--init"])
        .arg(&init)
        .env("TERM", "dumb")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running dlv core");
    let text = String::from_utf8_lossy(&out.stdout);
    // Delve emboldens names with escape sequences.
    let plain: String = {
        let mut s = String::new();
        let mut chars = text.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                s.push(c);
            }
        }
        s
    };
    // "N  0xPC in FUNC" then "   at FILE:LINE".
    let mut frames = Vec::new();
    let mut func = None;
    for line in plain.lines() {
        let t = line.trim();
        if let Some((_, f)) = t.split_once(" in ").filter(|_| t.split_whitespace().nth(1).is_some_and(|w| w.starts_with("0x"))) {
            func = Some(f.trim().to_string());
        } else if let (Some(at), Some(f)) = (t.strip_prefix("at "), func.take()) {
            frames.push((f, at.trim().to_string()));
        }
    }
    frames
}
