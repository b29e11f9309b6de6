//! Cores written by the Linux kernel for a crashing Go program.

mod common;

use common::*;
use core_reader::{Core, Error, OpenOptions};
use tests::fixture::Build;
use tests::producers::kernel_core;

const SIGABRT: i32 = 6;
const AT_ENTRY: u64 = 9;

fn check_against_gdb(exe: &std::path::Path, core: &Core) {
    let mut ours: Vec<(u64, u64)> = core.threads.iter().map(|t| (t.tid, t.regs.pc())).collect();
    ours.sort();
    assert_eq!(ours, gdb_threads(exe, &core.path), "threads (tid, pc) differ from gdb's");
    let mut sps: Vec<(u64, u64)> = core.threads.iter().map(|t| (t.tid, t.regs.sp())).collect();
    sps.sort();
    assert_eq!(sps, gdb_sps(exe, &core.path), "threads (tid, sp) differ from gdb's");
}

fn elf_entry(exe: &[u8]) -> u64 {
    u64::from_le_bytes(exe[24..32].try_into().unwrap())
}

#[test]
fn kernel_core_amd64() {
    tests::require_tools!("go" => "builds the fixtures", "gdb" => "the oracle for threads");
    let exe = crasher_for("amd64");
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let (path, stderr) = (made.core.clone(), made.stderr.clone());
    let core = Core::open(&path, &OpenOptions::default()).unwrap();
    assert!(core.warnings.is_empty(), "warnings: {:?}", core.warnings);
    assert!(core.truncated.is_none());
    assert!(core.threads.len() >= 4, "{} threads", core.threads.len());
    check_against_gdb(&exe, &core);

    // The runtime re-raises SIGABRT on the faulting thread; the kernel lists it first.
    let sig = core.signal.clone().unwrap();
    assert_eq!(sig.signo, SIGABRT);
    assert_eq!(sig.thread, Some(0));
    assert!(core.threads.iter().any(|t| Some(t.tid) == core.pid), "pid is one of the tids");
    assert!(core.command.as_deref().unwrap().contains("crasher"));
    assert!(stderr.contains("SIGSEGV"));

    let x = core.exe.as_ref().expect("executable found via NT_FILE");
    assert_eq!(x.load_bias, 0);
    assert!(x.build_id.is_some());
    let bytes = core.exe_bytes().unwrap();
    assert_eq!(core.auxv_value(AT_ENTRY), Some(elf_entry(bytes)));

    // Text at each pc reads back from the executable file (non-PIE: address = vaddr).
    for t in &core.threads {
        let mut b = [0u8; 16];
        core.read_memory(t.regs.pc(), &mut b).unwrap();
        let sp = core.read_u64(t.regs.sp()).unwrap();
        let _ = sp;
    }
    // The mapped data tail reads as zeros only where the process had no file.
    let m = core.mappings.iter().find(|m| m.exec).unwrap();
    assert!(m.path.as_ref().unwrap().ends_with("crasher"));
    // Unmapped addresses name themselves.
    match core.read_memory(0x10, &mut [0u8; 4]) {
        Err(Error::Unmapped { addr }) => assert_eq!(addr, 0x10),
        other => panic!("{other:?}"),
    }
}

/// A C program's SIGSEGV: the kernel's NT_SIGINFO carries the fault address.
#[test]
fn kernel_core_sigsegv_fault_address() {
    tests::require_tools!("gcc" => "builds the C programs");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("segv.c"), "int main(void) { *(volatile int *)0x18 = 1; return 0; }\n").unwrap();
    let st = std::process::Command::new("gcc")
        .args(["-O0", "-o", "segv", "segv.c"])
        .current_dir(dir)
        .status()
        .unwrap();
    assert!(st.success());
    let made = kernel_core(&dir.join("segv"), &[]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let core = Core::open(&path, &OpenOptions::default()).unwrap();
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    let sig = core.signal.clone().unwrap();
    // SIGSEGV, SEGV_MAPERR, at the address written.
    assert_eq!((sig.signo, sig.code, sig.addr, sig.thread), (11, 1, Some(0x18), Some(0)));
    assert_eq!(core.threads.len(), 1);
    assert_eq!(core.threads[0].signal, 11);
    // A PIE C program: the bias comes from AT_ENTRY, and gdb agrees on pc.
    if tests::tools::require("gdb", "the oracle").is_some() {
        let ours = vec![(core.threads[0].tid, core.threads[0].regs.pc())];
        assert_eq!(ours, gdb_threads(&dir.join("segv"), &path));
    }
    assert!(core.recorded_exe.gnu_build_id.is_some());
    assert_eq!(core.exe.as_ref().unwrap().build_id, core.recorded_exe.gnu_build_id);
}

/// The core moved to another directory with its executable, and something
/// else now sits at the recorded path: the copy next to the core wins,
/// because it is the one that matches.
#[test]
fn executable_next_to_the_core_when_it_matches() {
    tests::require_tools!("go" => "builds the fixtures");
    // This test overwrites and then deletes the executable the core
    // names: crash a copy, never the cached build.
    let copy_tmp = tempfile::tempdir().unwrap();
    let exe = copy_tmp.path().join("crasher");
    std::fs::copy(crasher_for("amd64"), &exe).unwrap();
    let other = crasher(Build::new("crasher").stripped());
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let recorded = Core::open(&path, &OpenOptions::default()).unwrap().exe.unwrap().path;
    let moved_tmp = tempfile::tempdir().unwrap();
    let moved = moved_tmp.path();
    std::fs::copy(&path, moved.join("core")).unwrap();
    std::fs::copy(&recorded, moved.join(recorded.file_name().unwrap())).unwrap();
    std::fs::copy(&other, &recorded).unwrap();
    let core = Core::open(&moved.join("core"), &OpenOptions::default()).unwrap();
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    assert_eq!(core.exe.as_ref().unwrap().path, moved.join(recorded.file_name().unwrap()));
    assert_eq!(core.recorded_exe.path.as_ref(), Some(&recorded));
    // Nothing matches: the recorded path is used, with a warning saying so.
    std::fs::remove_file(moved.join(recorded.file_name().unwrap())).unwrap();
    let core = Core::open(&moved.join("core"), &OpenOptions::default()).unwrap();
    assert_eq!(core.exe.as_ref().unwrap().path, recorded);
    assert!(core.warnings.iter().any(|w| w.to_string().contains("does not match")), "{:?}", core.warnings);
    // Nothing at all: no executable, a warning, and memory still reads.
    std::fs::remove_file(&recorded).unwrap();
    let core = Core::open(&moved.join("core"), &OpenOptions::default()).unwrap();
    assert!(core.exe.is_none());
    assert!(core.warnings.iter().any(|w| w.to_string().contains("not found")), "{:?}", core.warnings);
    assert!(core.recorded_exe.go_build_id.is_some());
    let sp = core.threads[0].regs.sp();
    core.read_u64(sp).unwrap();
}

#[test]
fn core_is_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Core>();
}

/// Damage a real core's headers and notes every which way: errors and
/// warnings, never a panic.
#[test]
fn damaged_real_core_never_panics() {
    tests::require_tools!("go" => "builds the fixtures");
    let exe = crasher_for("amd64");
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let data = std::fs::read(&made.core).unwrap();
    // Headers, notes and the first pages of data.
    let head = &data[..data.len().min(0x20000)];
    let notes_end = 0x5000.min(head.len());
    let p = made.dir.path().join("damaged");
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..300 {
        let mut b = head.to_vec();
        for _ in 0..1 + rnd() % 6 {
            let at = (rnd() as usize) % notes_end;
            b[at] = if i % 2 == 0 { rnd() as u8 } else { 0xff };
        }
        std::fs::write(&p, &b).unwrap();
        if let Ok(c) = Core::open(&p, &OpenOptions::default()) {
            for t in &c.threads {
                let _ = c.read_memory(t.regs.pc(), &mut [0u8; 32]);
                let _ = c.read_u64(t.regs.sp());
            }
            let _ = c.exe_bytes();
        }
    }
}
