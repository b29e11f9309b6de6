//! Cores made by a fatal signal that landed on a thread running a goroutine
//! (testdata/go/signals): with GOTRACEBACK=crash the runtime prints that
//! goroutine from the context the signal interrupted and re-raises SIGABRT
//! inside its handler, so the signalled thread holds two nested signal
//! frames. Every view must start that goroutine where the runtime did:
//! `--stacks` agrees with the runtime's traceback on every goroutine,
//! `--info` and `--triage` name the signal that was sent (SIGQUIT, SIGTRAP)
//! besides the core's SIGABRT, `--threads --bt` goes through both frames
//! into the goroutine, and `--locals` reads the interrupted main.main.
//!
//! Also: signals taken inside C code called through cgo (testdata/go/sigcgo:
//! SIGSEGV, abort()), SIGBUS on a truncated mapping (the handler is gone:
//! the fault lives on in the goroutine's g.sig), goroutines stopped in
//! runtime.asyncPreempt, and the same kinds of cores from arm64 programs
//! under qemu-aarch64, whose guest cores qemu writes itself.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use serde_json::Value;
use tests::compare::{self, Rules};
use tests::fixture::{Build, Fixture, OLDER_TOOLCHAINS};
use tests::producers::{self, MadeCore};
use tests::require_tools;
use tests::traceback::{self, Traceback};

/// Tries at making a core whose signalled goroutine was running when the
/// signal came (sysmon preempts the busy goroutines every 10ms; rarely the
/// signal finds one parked for a moment).
const ATTEMPTS: usize = 3;

fn fixture() -> Fixture {
    Build::new("signals").build().unwrap_or_else(|e| panic!("building the signals fixture: {e:#}"))
}

fn sigcgo_fixture() -> Fixture {
    Build::new("sigcgo").build().unwrap_or_else(|e| panic!("building the sigcgo fixture: {e:#}"))
}

fn goanalyze(core: &Path, exe: &Path, args: &[&str]) -> String {
    let mut all = vec![core.as_os_str(), "--exe".as_ref(), exe.as_os_str()];
    all.extend(args.iter().map(|a| std::ffi::OsStr::new(a)));
    let out = tests::bins::run_goanalyze(&all);
    assert!(
        out.status.success(),
        "goanalyze {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The runtime's traceback with each goroutine's stack as its own M
/// printed it: after a SIGQUIT every M prints the goroutine it was running
/// in full, while the first M's list shows those as "running on other
/// thread; stack unavailable". The walked one goes first, so that
/// `unique()` keeps it.
fn oracle(stderr: &str) -> Traceback {
    let mut tb = traceback::parse(stderr);
    tb.goroutines.sort_by_key(|g| g.frames.is_empty());
    tb
}

/// The goroutine the first M printed: the one the signal interrupted
/// (`goroutine 0` when it interrupted a thread with no goroutine).
fn signalled(stderr: &str) -> Option<u64> {
    traceback::parse(stderr).goroutines.first().filter(|g| g.status == "running").map(|g| g.id)
}

/// A core of `quit TARGET`, retried until the signal found its goroutine running.
fn quit_core(fx: &Fixture, target: &str) -> (MadeCore, u64) {
    for _ in 0..ATTEMPTS {
        let made = producers::kernel_core(&fx.exe, &["quit", target]).unwrap_or_else(|e| panic!("quit {target}: {e:#}"));
        if let Some(id) = signalled(&made.stderr).filter(|id| *id != 0) {
            return (made, id);
        }
    }
    panic!("in {ATTEMPTS} runs the SIGQUIT for {target} never found its goroutine running");
}

/// The tid the fixture printed for `name` ("tid NAME N").
fn tid_of(stderr: &str, name: &str) -> u64 {
    let prefix = format!("tid {name} ");
    stderr
        .lines()
        .find_map(|l| l.strip_prefix(&prefix)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no \"{prefix}N\" line in:\n{stderr}"))
}

/// The block of `--threads --bt` for thread `tid`: its header line and
/// the indented frames under it.
fn thread_block(bt: &str, tid: u64) -> String {
    let mut out = String::new();
    let mut inside = false;
    let tid = tid.to_string();
    for line in bt.lines() {
        // `* thread N pc=..` (the signalled one) or `  thread N pc=..`.
        let head = line.trim_start_matches(['*', ' ']);
        if head.starts_with("thread ") {
            inside = head.split_whitespace().nth(1) == Some(tid.as_str());
        }
        if inside {
            out += line;
            out.push('\n');
        }
    }
    out
}

/// What one mode gave on one build: a table row and what disagreed.
struct Outcome {
    row: String,
    failures: Vec<String>,
}

impl Outcome {
    fn new(row: String, failures: Vec<String>) -> Outcome {
        Outcome { row, failures }
    }
}

/// The quit modes: (TARGET, the user function it spins in).
const QUIT_TARGETS: [(&str, &str); 3] = [("spin", "main.spin"), ("memmove", "main.copyLoop"), ("syscall", "main.rawLoop")];

/// `quit TARGET` on `fx`: every view against the runtime.
fn quit_mode(fx: &Fixture, target: &str, user_func: &str) -> Outcome {
    let mut failures = Vec::new();
    let (made, id) = quit_core(fx, target);
    let (core, exe) = (made.core.as_path(), fx.exe.as_path());
    let runtime = oracle(&made.stderr);
    let want = runtime.goroutine(id).cloned().unwrap_or_default();
    assert!(
        want.frames.iter().any(|f| f.func == user_func),
        "{target}: the runtime's goroutine {id} does not show {user_func}:\n{}",
        made.stderr
    );

    // --stacks: every goroutine, the signalled one frame for frame.
    let ours = traceback::parse(&goanalyze(core, exe, &["--stacks"]));
    let diffs = without_moved_on(compare::stacks(&runtime, &ours, &Rules::default()), &runtime, &ours);
    let top = want.frames.first().map(|f| f.func.clone()).unwrap_or_default();
    let row = format!(
        "| quit {target} | goroutine {id} from {top} ({} frames) | {} goroutines | {} differences |",
        want.frames.len(),
        runtime.unique().len(),
        diffs.len()
    );
    if !diffs.is_empty() {
        failures.push(format!("{target} --stacks:\n    {}", diffs.join("\n    ")));
    }
    let got = ours.goroutine(id).map(|g| g.frames.len()).unwrap_or(0);
    if got == 0 {
        failures.push(format!("{target}: goroutine {id} has no frames in --stacks"));
    }

    // --goroutines: the signalled goroutine's line names its first frame
    // outside the runtime (as Delve's "User" location does).
    let user = want
        .frames
        .iter()
        .map(|f| f.func.as_str())
        .find(|f| !f.starts_with("runtime.") && !f.starts_with("internal/runtime"))
        .unwrap_or(user_func);
    let list = goanalyze(core, exe, &["--goroutines"]);
    let line = list.lines().find(|l| l.split_whitespace().take(3).any(|w| w == id.to_string()));
    if !line.is_some_and(|l| l.contains("User: ") && l.contains(&format!(" {user} "))) {
        failures.push(format!("{target} --goroutines: goroutine {id} does not show {user}: {line:?}"));
    }

    // --info: the signal that was sent, beside the core's SIGABRT.
    let info = goanalyze(core, exe, &["--info"]);
    let tid = tid_of(&made.stderr, target);
    let original = info.lines().find(|l| l.starts_with("original:")).unwrap_or("");
    if !(original.contains("(SIGQUIT)") && original.contains("SI_TKILL") && original.contains(&format!("thread {tid}"))) {
        failures.push(format!("{target} --info: no SIGQUIT sent to thread {tid}:\n{info}"));
    }
    if !info.lines().any(|l| l.starts_with("re-raised:") && l.contains("(SIGABRT)")) {
        failures.push(format!("{target} --info: the runtime's SIGABRT re-raise is not named:\n{info}"));
    }

    // --triage: the same goroutine, and the original signal.
    let rec = triage(core, exe);
    if rec["original_signal"]["name"] != "SIGQUIT" || rec["signal"]["name"] != "SIGABRT" {
        failures.push(format!("{target} --triage: signal {} original_signal {}", rec["signal"], rec["original_signal"]));
    }
    if rec["crashing_goroutine"].as_u64() != Some(id) {
        failures.push(format!("{target} --triage: crashing goroutine {} (runtime: {id})", rec["crashing_goroutine"]));
    }
    // The message is what the first M printed: "SIGQUIT: quit" and its
    // "PC=.. m=N sigcode=N" line (si_code as the runtime's uint64).
    let msg = rec["reason"]["message"].as_str().unwrap_or("");
    let lines: Vec<&str> = made.stderr.lines().collect();
    let printed = lines.iter().position(|l| *l == "SIGQUIT: quit").and_then(|i| lines.get(i..i + 2)).map(|l| l.join("\n"));
    if printed.as_deref() != Some(msg) {
        failures.push(format!("{target} --triage: message {msg:?}, runtime {printed:?}"));
    }
    // Every view counts the same goroutines (the current one's
    // --goroutines line starts with "* ").
    let listed = list.lines().filter(|l| l.trim_start_matches(['*', ' ']).starts_with("Goroutine ")).count();
    let triaged = rec["goroutine_count"].as_u64().unwrap_or(0) as usize;
    if ours.goroutines.len() != listed || listed != triaged {
        failures.push(format!("{target}: goroutines in --stacks {}, --goroutines {listed}, --triage {triaged}", ours.goroutines.len()));
    }
    let triage_frames: Vec<&str> =
        rec["frames"].as_array().into_iter().flatten().filter_map(|f| f["func"].as_str()).collect();
    let stack_frames: Vec<&str> = want.frames.iter().map(|f| f.func.as_str()).collect();
    let inlined_ok = triage_frames.iter().filter(|f| stack_frames.contains(f)).count() == stack_frames.len();
    if !inlined_ok {
        failures.push(format!("{target} --triage: frames {triage_frames:?}, runtime {stack_frames:?}"));
    }

    // --threads --bt: both signal frames, then the goroutine's own frames.
    // Before go1.22 the SIGABRT is raised by the last M to take the
    // runtime's relayed SIGQUIT, another thread.
    let bt = thread_block(&goanalyze(core, exe, &["--threads", "--bt"]), tid);
    let handlers = bt.matches("<signal handler called>").count();
    let want_handlers = if go1_21(&fx.go_version) { 1 } else { 2 };
    if handlers != want_handlers || !bt.contains(user_func) {
        failures.push(format!("{target} --threads --bt: {handlers} signal frames, {user_func} missing or present:\n{bt}"));
    }
    Outcome::new(row, failures)
}

#[test]
fn sigquit_on_a_running_goroutine() {
    require_tools!("go" => "builds the fixture");
    let fx = fixture();
    let outcomes: Vec<Outcome> = QUIT_TARGETS.iter().map(|(t, f)| quit_mode(&fx, t, f)).collect();
    report(&outcomes);
}

/// Prints the rows and fails with every mode's failures.
fn report(outcomes: &[Outcome]) {
    let rows: Vec<&str> = outcomes.iter().map(|o| o.row.as_str()).collect();
    eprintln!("\n{}\n", rows.join("\n"));
    let failures: Vec<&str> = outcomes.iter().flat_map(|o| o.failures.iter().map(String::as_str)).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn breakpoint_locals_and_signal() {
    require_tools!("go" => "builds the fixture");
    eprintln!("{}", breakpoint_mode(&fixture()));
}

/// `breakpoint` on `fx`: stacks, main.main's locals, the SIGTRAP; panics
/// on a difference, else the table row.
fn breakpoint_mode(fx: &Fixture) -> String {
    let made = producers::kernel_core(&fx.exe, &["breakpoint"]).unwrap_or_else(|e| panic!("breakpoint: {e:#}"));
    let (core, exe) = (made.core.as_path(), fx.exe.as_path());
    let runtime = oracle(&made.stderr);
    let want = runtime.goroutine(1).cloned().unwrap_or_default();
    assert_eq!(want.frames.first().map(|f| f.func.as_str()), Some("runtime.breakpoint"), "{}", made.stderr);

    let ours = traceback::parse(&goanalyze(core, exe, &["--stacks"]));
    let diffs = compare::stacks(&runtime, &ours, &Rules::default());
    assert!(diffs.is_empty(), "--stacks differs from the runtime:\n{}", diffs.join("\n"));
    let goroutines = runtime.unique().len();

    // What main.main printed before it stopped: "local NAME VALUE".
    let printed: Vec<(&str, &str)> = made
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("local ")?.split_once(' '))
        .collect();
    assert_eq!(printed.len(), 4, "{}", made.stderr);
    let locals = goanalyze(core, exe, &["--locals", "-g", "1"]);
    let main_part = locals.split("main.main(").nth(1).unwrap_or_else(|| panic!("no main.main frame:\n{locals}"));
    let main_part = main_part.split("\nruntime.main(").next().unwrap_or(main_part);
    for (name, value) in printed {
        let line = main_part
            .lines()
            .find(|l| l.trim_start().strip_prefix("var ").is_some_and(|v| v.starts_with(&format!("{name} = "))))
            .unwrap_or_else(|| panic!("no local {name} in main.main:\n{locals}"));
        // Compare without spaces: ours is Delve's style (`{X: 17, Y: -4}`,
        // `[3,1,4,1,5]`), the fixture's compact.
        let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
        if name == "nums" && empty_array_location(&fx.go_version) {
            assert!(line.contains("<unavailable: optimized away>"), "local nums: want unavailable ({}), got {line:?}", fx.go_version);
            continue;
        }
        assert!(squeezed.contains(&format!("{name}=")) && squeezed.contains(value), "local {name}: want {value}, got {line:?}");
    }

    // The signal that stopped it, beside the core's SIGABRT.
    let info = goanalyze(core, exe, &["--info"]);
    assert!(
        info.lines().any(|l| l.starts_with("original:") && l.contains("(SIGTRAP)")),
        "--info does not name SIGTRAP:\n{info}"
    );
    let rec: Value = serde_json::from_str(goanalyze(core, exe, &["--triage", "--format", "json"]).trim()).expect("triage JSON");
    assert_eq!(rec["original_signal"]["name"], "SIGTRAP", "{rec}");
    assert_eq!(rec["crashing_goroutine"].as_u64(), Some(1), "{rec}");
    let read = if empty_array_location(&fx.go_version) { "3 locals read, nums optimized away (empty DWARF location)" } else { "4 locals read" };
    format!("| breakpoint | goroutine 1 from runtime.breakpoint, {read} | {goroutines} goroutines | 0 differences |")
}

fn go1_21(go_version: &str) -> bool {
    go_version == "go1.21" || go_version.starts_with("go1.21.")
}

/// Whether the compiler of `go_version` gives main.main's `nums` (a
/// [5]int it splits into registers) an empty DW_AT_location: go1.21 and
/// go1.22 do, so the only right answer there is "optimized away".
fn empty_array_location(go_version: &str) -> bool {
    ["go1.21", "go1.22"].iter().any(|v| go_version == *v || go_version.starts_with(&format!("{v}.")))
}

/// `--stacks` against the runtime's traceback; the differences, one a line.
fn stacks_diffs(core: &Path, exe: &Path, runtime: &Traceback) -> Vec<String> {
    let ours = traceback::parse(&goanalyze(core, exe, &["--stacks"]));
    without_moved_on(compare::stacks(runtime, &ours, &Rules::default()), runtime, &ours)
}

/// `diffs` without those of goroutines that moved on after the runtime
/// printed them: listed as running with no stack (their M had not taken
/// the relayed SIGQUIT yet, and never printed them), then preempted by
/// sysmon before the core was written, so the core rightly has them
/// runnable in runtime.asyncPreempt2. go1.21 relays from M to M serially,
/// which leaves time for this; nothing else is excused.
fn without_moved_on(diffs: Vec<String>, runtime: &Traceback, ours: &Traceback) -> Vec<String> {
    let moved: Vec<String> = runtime
        .unique()
        .into_iter()
        .filter(|g| g.status == "running" && g.frames.is_empty())
        .filter(|g| {
            ours.goroutine(g.id).is_some_and(|o| {
                o.status == "runnable" && o.frames.first().is_some_and(|f| f.func == "runtime.asyncPreempt2")
            })
        })
        .map(|g| format!("goroutine {}:", g.id))
        .collect();
    if !moved.is_empty() {
        eprintln!("moved on after the runtime printed them (preempted): {moved:?}");
    }
    diffs.into_iter().filter(|d| !moved.iter().any(|m| d.starts_with(m.as_str()))).collect()
}

fn triage(core: &Path, exe: &Path) -> Value {
    serde_json::from_str(goanalyze(core, exe, &["--triage", "--format", "json"]).trim())
        .unwrap_or_else(|e| panic!("triage JSON of {}: {e}", core.display()))
}

fn info_original(core: &Path, exe: &Path) -> (String, String) {
    let info = goanalyze(core, exe, &["--info"]);
    let line = info.lines().find(|l| l.starts_with("original:")).unwrap_or("").to_string();
    (line, info)
}

#[test]
fn signal_in_c_code_called_through_cgo() {
    require_tools!("go" => "builds the fixture", "gcc" => "compiles the fixture's C (cgo)");
    let fx = sigcgo_fixture();
    let outcomes: Vec<Outcome> = CGO_MODES.iter().map(|m| cgo_mode(&fx, *m)).collect();
    report(&outcomes);
}

/// The sigcgo modes: (mode, signal, si_code name, fault address, innermost C function).
type CgoMode = (&'static str, &'static str, &'static str, Option<&'static str>, &'static str);
const CGO_MODES: [CgoMode; 2] = [
    ("segv", "SIGSEGV", "SEGV_MAPERR", Some("0x0"), "c_segv_inner"),
    ("abort", "SIGABRT", "SI_TKILL", None, "c_abort_inner"),
];

fn cgo_mode(fx: &Fixture, (mode, sig, code, addr, c_func): CgoMode) -> Outcome {
    let exe = fx.exe.as_path();
    let mut failures = Vec::new();
    let made = producers::kernel_core(exe, &[mode]).unwrap_or_else(|e| panic!("sigcgo {mode}: {e:#}"));
    let core = made.core.as_path();
    assert!(made.stderr.contains("signal arrived during cgo execution"), "{mode}:\n{}", made.stderr);
    let runtime = oracle(&made.stderr);
    // The runtime prints the goroutine that called C first, from where
    // it left Go (it is in _Gsyscall while C runs).
    let first = traceback::parse(&made.stderr).goroutines.first().cloned().unwrap_or_default();
    assert!(
        first.status == "syscall" && first.frames.iter().any(|f| f.func == "main.viaGo"),
        "{mode}: the runtime's first goroutine is not the one in C:\n{}",
        made.stderr
    );

    let diffs = stacks_diffs(core, exe, &runtime);
    let row = format!(
        "| cgo {mode} | goroutine {} from {} ({} frames) | {} goroutines | {} differences |",
        first.id,
        first.frames.first().map(|f| f.func.as_str()).unwrap_or(""),
        first.frames.len(),
        runtime.unique().len(),
        diffs.len()
    );
    if !diffs.is_empty() {
        failures.push(format!("{mode} --stacks:\n    {}", diffs.join("\n    ")));
    }

    let tid = tid_of(&made.stderr, "crash");
    let (original, info) = info_original(core, exe);
    let addr_ok = addr.is_none_or(|a| original.contains(&format!("addr={a}")));
    if !(original.contains(&format!("({sig})")) && original.contains(code) && addr_ok && original.contains(&format!("thread {tid}"))) {
        failures.push(format!("{mode} --info: no {sig} {code} addr={addr:?} on thread {tid}:\n{info}"));
    }

    let rec = triage(core, exe);
    let o = &rec["original_signal"];
    if o["name"] != sig || addr.is_some_and(|a| o["addr"] != a) || o["thread"].as_u64() != Some(tid) {
        failures.push(format!("{mode} --triage: original_signal {o} (want {sig} addr {addr:?} thread {tid})"));
    }
    if rec["crashing_goroutine"].as_u64() != Some(first.id) {
        failures.push(format!("{mode} --triage: crashing goroutine {} (runtime: {})", rec["crashing_goroutine"], first.id));
    }
    let msg = rec["reason"]["message"].as_str().unwrap_or("");
    if !msg.starts_with(&format!("{sig}: ")) {
        failures.push(format!("{mode} --triage: message {msg:?}"));
    }

    // --threads --bt: the C frames (by CFI) under the handler's frames.
    let bt = thread_block(&goanalyze(core, exe, &["--threads", "--bt"]), tid);
    if !bt.contains("<signal handler called>") || !bt.contains(c_func) {
        failures.push(format!("{mode} --threads --bt: no signal frame or no {c_func}:\n{bt}"));
    }
    Outcome::new(row, failures)
}

/// The "fault 0x..." line the sigbus mode prints.
fn fault_of(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("fault "))
        .map(|a| a.trim().to_string())
        .unwrap_or_else(|| panic!("no \"fault ADDR\" line in:\n{stderr}"))
}

#[test]
fn sigbus_on_a_truncated_mapping() {
    require_tools!("go" => "builds the fixture");
    eprintln!("{}", sigbus_mode(&fixture()));
}

/// `sigbus` on `fx`; panics on a difference, else the table row.
fn sigbus_mode(fx: &Fixture) -> String {
    let exe = fx.exe.as_path();
    let made = producers::kernel_core(exe, &["sigbus"]).unwrap_or_else(|e| panic!("sigbus: {e:#}"));
    let core = made.core.as_path();
    let fault = fault_of(&made.stderr);
    assert!(
        made.stderr.contains(&format!("unexpected fault address {fault}"))
            && made.stderr.contains(&format!("[signal SIGBUS: bus error code=0x2 addr={fault} ")),
        "the runtime did not throw on the SIGBUS at {fault}:\n{}",
        made.stderr
    );
    let runtime = oracle(&made.stderr);
    let diffs = stacks_diffs(core, exe, &runtime);
    assert!(diffs.is_empty(), "--stacks differs from the runtime:\n{}", diffs.join("\n"));

    let (original, info) = info_original(core, exe);
    assert!(
        original.contains("(SIGBUS)") && original.contains("BUS_ADRERR") && original.contains(&format!("addr={fault}")),
        "--info does not name the SIGBUS at {fault}:\n{info}"
    );
    let rec = triage(core, exe);
    assert_eq!(rec["original_signal"]["name"], "SIGBUS", "{rec}");
    assert_eq!(rec["original_signal"]["addr"], fault.as_str(), "{rec}");
    assert_eq!(rec["reason"]["fault"]["addr"], fault.as_str(), "{rec}");
    assert_eq!(rec["crashing_goroutine"].as_u64(), Some(1), "{rec}");
    format!("| sigbus | goroutine 1, fault {fault} | {} goroutines | 0 differences |", runtime.unique().len())
}

/// Whether goroutine `g` stands in asyncPreempt over main.spin, as the
/// runtime printed it.
fn preempted_in_spin(g: &traceback::Goroutine) -> bool {
    let f: Vec<&str> = g.frames.iter().take(3).map(|f| f.func.as_str()).collect();
    f == ["runtime.asyncPreempt2", "runtime.asyncPreempt", "main.spin"]
}

#[test]
fn asynchronously_preempted_goroutines() {
    require_tools!("go" => "builds the fixture");
    eprintln!("{}", preempt_mode(&fixture()));
}

/// `preempt` on `fx`; panics on a difference, else the table row.
fn preempt_mode(fx: &Fixture) -> String {
    let exe = fx.exe.as_path();
    let made = producers::kernel_core(exe, &["preempt"]).unwrap_or_else(|e| panic!("preempt: {e:#}"));
    let core = made.core.as_path();
    let runtime = oracle(&made.stderr);
    let preempted = runtime.unique().into_iter().filter(|g| preempted_in_spin(g)).count();
    assert!(preempted > 0, "no goroutine stood in asyncPreempt:\n{}", made.stderr);
    let diffs = stacks_diffs(core, exe, &runtime);
    let row = format!("| preempt | {preempted} goroutines in asyncPreempt | {} goroutines | {} differences |", runtime.unique().len(), diffs.len());
    assert!(diffs.is_empty(), "--stacks differs from the runtime:\n{}", diffs.join("\n"));
    let (original, info) = info_original(core, exe);
    assert!(original.contains("(SIGQUIT)"), "--info does not name SIGQUIT:\n{info}");
    let rec = triage(core, exe);
    assert_eq!(rec["original_signal"]["name"], "SIGQUIT", "{rec}");
    assert_eq!(rec["crashing_goroutine"].as_u64(), Some(1), "{rec}");
    row
}

/// The same modes built for arm64 and run under qemu-aarch64 (qemu-user),
/// which writes the guest's core itself (`qemu_<exe>_<date>_<pid>.core`)
/// when the guest dies of a signal, laying out the guest's signal frames as
/// the arm64 kernel does.
#[test]
fn arm64_under_qemu() {
    let tools = require_tools!("go" => "builds the fixture", "qemu-aarch64" => "runs the arm64 fixture");
    let (table, failures) = arm64_modes(&tools[1], None);
    eprintln!("\n{}\n", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The arm64 modes with every older toolchain too (qemu runs take a while:
/// `cargo test -p tests --test signals -- --ignored arm64 --nocapture`).
#[test]
#[ignore]
fn arm64_under_qemu_every_toolchain() {
    let tools = require_tools!("go" => "builds the fixture", "qemu-aarch64" => "runs the arm64 fixture");
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for v in OLDER_TOOLCHAINS.iter().map(|v| Some(*v)).chain([None]) {
        let (t, f) = arm64_modes(&tools[1], v);
        table.extend(t);
        failures.extend(f);
    }
    eprintln!("\n{}\n", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The arm64 modes on a build of `toolchain` (`None`: the go on PATH), run
/// under qemu-aarch64: each one's table row, and what disagreed.
fn arm64_modes(qemu: &Path, toolchain: Option<&str>) -> (Vec<String>, Vec<String>) {
    let label = toolchain.unwrap_or("local");
    let b = Build::new("signals").arch("arm64");
    let b = match toolchain {
        Some(v) => b.toolchain(v),
        None => b,
    };
    let fx = b.build().unwrap_or_else(|e| panic!("building signals for arm64 with {label}: {e:#}"));
    let exe = fx.exe.as_path();
    let mut failures = Vec::new();
    let mut table = Vec::new();
    // No "sigbus": qemu-user hands the guest that SIGBUS with si_addr 0 (the
    // runtime panics as on a nil dereference), and then its own core writer
    // reads the truncated mapping, takes a host SIGBUS and leaves the guest
    // core cut off there, without most of the heap.
    for (args, sig) in [
        (&["breakpoint"][..], "SIGTRAP"),
        (&["preempt"][..], "SIGQUIT"),
        (&["quit", "spin"][..], "SIGQUIT"),
        (&["quit", "memmove"][..], "SIGQUIT"),
        (&["quit", "syscall"][..], "SIGQUIT"),
    ] {
        let what = format!("{label} {}", args.join(" "));
        let made = producers::qemu_arm64_core(qemu, exe, args).unwrap_or_else(|e| panic!("qemu {what}: {e:#}"));
        let core = made.core.as_path();
        let runtime = oracle(&made.stderr);
        let diffs = stacks_diffs(core, exe, &runtime);
        let first = traceback::parse(&made.stderr).goroutines.first().cloned().unwrap_or_default();
        table.push(format!(
            "| arm64 {what} | goroutine {} from {} | {} goroutines | {} differences |",
            first.id,
            first.frames.first().map(|f| f.func.as_str()).unwrap_or(""),
            runtime.unique().len(),
            diffs.len()
        ));
        if !diffs.is_empty() {
            failures.push(format!("{what} --stacks:\n    {}", diffs.join("\n    ")));
        }
        let (original, info) = info_original(core, exe);
        if !original.contains(&format!("({sig})")) {
            failures.push(format!("{what} --info: {sig} not named:\n{info}"));
        }
        let rec = triage(core, exe);
        if rec["original_signal"]["name"] != sig {
            failures.push(format!("{what} --triage: original_signal {}", rec["original_signal"]));
        }
    }
    (table, failures)
}

/// The amd64 kernel-core modes of the toolchain matrix.
const MODES: [&str; 8] =
    ["quit spin", "quit memmove", "quit syscall", "breakpoint", "sigbus", "preempt", "cgo segv", "cgo abort"];

/// One mode on a build of `toolchain` (`None`: the go on PATH): its row,
/// or what disagreed. Each mode runs apart, so that one failing does not
/// hide the others.
fn matrix_mode(toolchain: Option<&str>, mode: &str) -> Result<String, String> {
    let build = |name: &str| {
        let b = Build::new(name);
        let b = match toolchain {
            Some(v) => b.toolchain(v),
            None => b,
        };
        b.build().map_err(|e| format!("building {name}: {e:#}"))
    };
    let caught = panic::catch_unwind(AssertUnwindSafe(|| -> Result<String, String> {
        let (kind, rest) = mode.split_once(' ').unwrap_or((mode, ""));
        match kind {
            "quit" => {
                let (target, func) = QUIT_TARGETS.iter().find(|(t, _)| *t == rest).ok_or("no such quit target")?;
                let o = quit_mode(&build("signals")?, target, func);
                if o.failures.is_empty() { Ok(o.row) } else { Err(o.failures.join("\n")) }
            }
            "cgo" => {
                let m = CGO_MODES.iter().find(|m| m.0 == rest).ok_or("no such cgo mode")?;
                let o = cgo_mode(&build("sigcgo")?, *m);
                if o.failures.is_empty() { Ok(o.row) } else { Err(o.failures.join("\n")) }
            }
            "breakpoint" => Ok(breakpoint_mode(&build("signals")?)),
            "sigbus" => Ok(sigbus_mode(&build("signals")?)),
            "preempt" => Ok(preempt_mode(&build("signals")?)),
            _ => Err(format!("unknown mode {mode}")),
        }
    }));
    caught.unwrap_or_else(|p| {
        Err(p.downcast_ref::<String>().cloned().or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default())
    })
}

/// Each (toolchain, mode) cell; prints the table (toolchain, row,
/// verdict) and fails with every disagreement.
fn matrix(cells: &[(Option<&str>, &str)]) {
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for (tc, mode) in cells {
        let name = tc.unwrap_or("local");
        match matrix_mode(*tc, mode) {
            Ok(row) => table.push(format!("| {name} {row} agree |")),
            Err(e) => {
                table.push(format!("| {name} | {mode} | | | DISAGREE |"));
                failures.push(format!("{name} {mode}:\n{e}"));
            }
        }
    }
    eprintln!("\n{}\n", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// The CI's share of the toolchain matrix: on each older toolchain a
/// SIGQUIT on a running goroutine and the breakpoint with its locals, and
/// every mode on go1.21, whose runtime re-raises on another thread than
/// the signalled one (the full cross-product is the ignored test below).
#[test]
fn signal_cores_on_older_toolchains() {
    require_tools!("go" => "builds the fixture", "gcc" => "compiles sigcgo's C");
    let mut cells: Vec<(Option<&str>, &str)> =
        OLDER_TOOLCHAINS.iter().flat_map(|v| [(Some(*v), "quit spin"), (Some(*v), "breakpoint")]).collect();
    // The oldest toolchain (go1.21) for the rest.
    let oldest = OLDER_TOOLCHAINS.first().copied();
    cells.extend(MODES.iter().filter(|m| !matches!(**m, "quit spin" | "breakpoint")).map(|m| (oldest, *m)));
    matrix(&cells);
}

/// Every amd64 mode on every toolchain: docs/COMPATIBILITY.md, "Signal-made
/// cores". Minutes; run with `cargo test -p tests --test signals -- --ignored`.
#[test]
#[ignore = "the full toolchain x mode matrix takes minutes; its table is in docs/COMPATIBILITY.md"]
fn signal_cores_every_toolchain_every_mode() {
    require_tools!("go" => "builds the fixture", "gcc" => "compiles sigcgo's C");
    // SIGNAL_MATRIX_TOOLCHAINS / SIGNAL_MATRIX_MODES (comma-separated,
    // "local" for the go on PATH) re-run a part of it.
    let only_tcs = std::env::var("SIGNAL_MATRIX_TOOLCHAINS").ok();
    let tcs: Vec<Option<&str>> = match &only_tcs {
        Some(t) => t.split(',').map(|v| (v != "local").then_some(v)).collect(),
        None => OLDER_TOOLCHAINS.iter().map(|v| Some(*v)).chain([None]).collect(),
    };
    let only = std::env::var("SIGNAL_MATRIX_MODES").ok();
    let modes: Vec<&str> = match &only {
        Some(m) => m.split(',').collect(),
        None => MODES.to_vec(),
    };
    let cells: Vec<(Option<&str>, &str)> = tcs.iter().flat_map(|tc| modes.iter().map(move |m| (*tc, *m))).collect();
    matrix(&cells);
}
