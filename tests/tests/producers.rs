//! Each producer makes a core of the zoo fixture; the core must be an ELF core
//! with threads, and the runtime's own traceback must parse into the
//! goroutines the zoo parks.

use tests::elfcore::{summarize, CoreSummary};
use tests::fixture::Build;
use tests::producers::{self, LiveProcess};
use tests::require_tools;
use tests::traceback::{self, Traceback};

/// What the zoo fixture parks, as the runtime names it.
fn check_zoo_traceback(tb: &Traceback, crashed: bool) {
    let gs = tb.unique();
    let statuses: Vec<&str> = gs.iter().map(|g| g.status.as_str()).collect();
    for want in [
        "chan receive",
        "chan send",
        "select",
        "sync.Mutex.Lock",
        "sync.Cond.Wait",
        "sleep",
        "IO wait",
        "syscall",
    ] {
        assert!(statuses.contains(&want), "no goroutine in {want:?}; statuses: {statuses:?}");
    }
    assert!(gs.iter().any(|g| g.locked_to_thread), "no goroutine locked to its thread");
    let frames = || gs.iter().flat_map(|g| g.frames.iter());
    assert!(
        frames().any(|f| f.func == "main.waitInlined" && f.inlined()),
        "no inlined main.waitInlined(...) frame"
    );
    assert!(frames().any(|f| f.func == "main.genericWait[...]"), "no generic frame");
    let deep = gs
        .iter()
        .find(|g| g.frames.iter().any(|f| f.func == "main.recurse"))
        .expect("the recursing goroutine");
    assert!(deep.elided.is_some(), "120 frames of recursion should be elided");
    assert!(gs.iter().all(|g| !g.frames.is_empty()), "a goroutine without frames");
    assert!(
        gs.iter().filter(|g| g.id != 1).all(|g| g.created_by.is_some()),
        "every goroutine but 1 says who created it"
    );
    let main = tb.goroutine(1).expect("goroutine 1");
    if crashed {
        assert_eq!(main.status, "running");
        assert!(tb.preamble.iter().any(|l| l.starts_with("[signal SIGSEGV")), "{:?}", tb.preamble);
    }
    assert!(main.frames.iter().any(|f| f.func == "main.main"));
    // GOTRACEBACK=crash prints frame pointers for every non-inlined frame.
    assert!(frames().filter(|f| !f.inlined()).all(|f| f.sp.is_some() && f.pc.is_some()));
}

fn check_core(s: &CoreSummary, machine: u16) {
    assert_eq!(s.machine, machine, "e_machine");
    assert!(s.loads > 5, "only {} PT_LOADs", s.loads);
    assert!(s.prstatus + s.delve_threads >= 2, "threads: {s:?}");
}

const EM_X86_64: u16 = object::elf::EM_X86_64.0;
const EM_AARCH64: u16 = object::elf::EM_AARCH64.0;

#[test]
fn kernel_core_of_zoo() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("zoo").build().unwrap();
    let made = producers::kernel_core(&fx.exe, &["crash"]).unwrap();
    let s = summarize(&made.core).unwrap();
    check_core(&s, EM_X86_64);
    // The kernel's order: the dumping thread's NT_PRSTATUS, then NT_PRPSINFO, NT_SIGINFO, NT_AUXV, NT_FILE.
    assert_eq!(&s.note_types[..5], &[1, 3, 0x5349_4749, 6, 0x4649_4c45], "{:x?}", s.note_types);
    check_zoo_traceback(&traceback::parse(&made.stderr), true);
}

#[test]
fn gcore_of_live_zoo() {
    let tools = require_tools!("go" => "builds the fixtures", "gcore" => "gdb's gcore is the producer");
    let fx = Build::new("zoo").build().unwrap();
    let live = LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    let made = producers::gcore(&tools[1], live.pid).unwrap();
    assert!(matches!(live.state(), Some('S') | Some('R')), "gcore left the target {:?}", live.state());
    check_core(&summarize(&made.core).unwrap(), EM_X86_64);
    check_zoo_traceback(&traceback::parse(&live.sigquit_traceback().unwrap()), false);
}

#[test]
fn dlv_dump_of_live_zoo() {
    let tools = require_tools!("go" => "builds the fixtures", "dlv" => "Delve's dump is the producer");
    let fx = Build::new("zoo").build().unwrap();
    let live = LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    let made = producers::dlv_dump(&tools[1], live.pid).unwrap();
    assert!(matches!(live.state(), Some('S') | Some('R')), "dlv left the target {:?}", live.state());
    let s = summarize(&made.core).unwrap();
    check_core(&s, EM_X86_64);
    assert!(s.note_types.contains(&0x444C_5645), "no Delve header note: {:x?}", s.note_types);
    check_zoo_traceback(&traceback::parse(&live.sigquit_traceback().unwrap()), false);
}

#[test]
fn qemu_arm64_core_of_zoo() {
    let tools = require_tools!("go" => "builds the fixtures", "qemu-aarch64" => "runs the arm64 build and writes its core");
    let fx = Build::new("zoo").arch("arm64").build().unwrap();
    let made = producers::qemu_arm64_core(&tools[1], &fx.exe, &["crash"]).unwrap();
    check_core(&summarize(&made.core).unwrap(), EM_AARCH64);
    check_zoo_traceback(&traceback::parse(&made.stderr), true);
}

#[test]
fn fixtures_build_stripped_and_pie() {
    require_tools!("go" => "builds the fixtures");
    for b in [Build::new("zoo").stripped(), Build::new("zoo").pie(), Build::new("panic")] {
        let fx = b.build().unwrap();
        assert!(fx.exe.is_file(), "{}", b.label());
        assert!(fx.go_version.starts_with("go1."), "{}", fx.go_version);
    }
}

#[test]
fn sigquit_traceback_parses_once_per_goroutine() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("zoo").build().unwrap();
    let live = LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    let tb = traceback::parse(&live.sigquit_traceback().unwrap());
    // SIGQUIT prints idle threads' g0s as goroutine 0 and repeats running ones.
    assert!(tb.goroutines.iter().any(|g| g.id == 0 && g.status == "idle"));
    let unique = tb.unique();
    let mut ids: Vec<u64> = unique.iter().map(|g| g.id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), unique.len());
    assert!(unique.len() >= 20, "{} goroutines", unique.len());
}

#[test]
fn wine_minidump_of_windows_zoo() {
    require_tools!("go" => "builds the fixtures");
    let Some(wine) = tests::producers::wine64() else {
        assert!(!tests::tools::in_ci(), "wine64 is required (runs the Windows fixture); .ci/setup installs it");
        eprintln!("\n!!! SKIPPED: wine64 is not installed !!!\n");
        return;
    };
    let win = |name: &str| Build::new(name).os("windows").toolchain(tests::fixture::WINE_TOOLCHAIN).build().unwrap();
    let (zoo, windump) = (win("zoo"), win("windump"));
    let made = producers::wine_minidump(&wine, &zoo.exe, &windump.exe).unwrap();
    let bytes = std::fs::read(&made.core).unwrap();
    assert_eq!(&bytes[..4], b"MDMP", "not a minidump");
    // Released after the dump, the zoo crashed and printed every goroutine.
    let tb = traceback::parse(&made.stderr);
    let user = tb.unique().iter().filter(|g| g.frames.iter().any(|f| f.func.starts_with("main."))).count();
    assert_eq!(user, 15, "{}", made.stderr);
}

#[test]
fn minidump_writer_of_live_zoo() {
    require_tools!("go" => "builds the fixtures");
    let fx = Build::new("zoo").build().unwrap();
    let live = LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    let made = producers::minidump_writer_dump(live.pid).unwrap();
    // minidump-writer stops the target with SIGSTOP; it must be running again.
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(matches!(live.state(), Some('S') | Some('R')), "left the target {:?}", live.state());
    let bytes = std::fs::read(&made.core).unwrap();
    assert_eq!(&bytes[..4], b"MDMP");
    assert!(bytes.len() > 1 << 20, "the Go heap was not added: {} bytes", bytes.len());
    check_zoo_traceback(&traceback::parse(&live.sigquit_traceback().unwrap()), false);
}
