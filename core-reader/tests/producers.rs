//! Cores from other producers and of other builds: gdb's gcore, Delve's
//! dump, PIE and stripped builds, compressed and truncated files, arm64
//! under qemu-user, and the wrong executable.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use core_reader::{Arch, Core, Error, OpenOptions, Registers};
use tests::fixture::Build;
use tests::producers::{self, kernel_core, LiveProcess};

fn open(p: &Path) -> Core {
    Core::open(p, &OpenOptions::default()).unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
}

fn tids_pcs(core: &Core) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = core.threads.iter().map(|t| (t.tid, t.regs.pc())).collect();
    v.sort();
    v
}

/// Text at every thread's pc equals the executable's bytes there.
fn text_matches_exe(core: &Core) {
    let exe = core.exe.as_ref().unwrap();
    let bytes = core.exe_bytes().unwrap();
    let info = elf_loads(bytes);
    let mut checked = 0;
    for t in &core.threads {
        let pc = t.regs.pc();
        let Some(vaddr) = pc.checked_sub(exe.load_bias) else { continue };
        // Only pcs inside the executable (not the vdso, say).
        let Some((off, _)) = info.iter().find(|(_, (v, sz))| *v <= vaddr && vaddr < v + sz).map(|(o, (v, _))| (o + (vaddr - v), ())) else {
            continue;
        };
        let mut b = [0u8; 8];
        core.read_memory(pc, &mut b).unwrap();
        assert_eq!(&b[..], &bytes[off as usize..off as usize + 8], "text at pc {pc:#x}");
        checked += 1;
    }
    assert!(checked > 0, "no thread pc inside the executable");
}

/// (p_offset, (p_vaddr, p_filesz)) of each PT_LOAD with execute permission.
fn elf_loads(d: &[u8]) -> Vec<(u64, (u64, u64))> {
    let u64_at = |o: usize| u64::from_le_bytes(d[o..o + 8].try_into().unwrap());
    let phoff = u64_at(32) as usize;
    let phnum = u16::from_le_bytes(d[56..58].try_into().unwrap()) as usize;
    (0..phnum)
        .map(|i| phoff + i * 56)
        .filter(|&o| u32::from_le_bytes(d[o..o + 4].try_into().unwrap()) == 1 && d[o + 4] & 1 != 0)
        .map(|o| (u64_at(o + 8), (u64_at(o + 16), u64_at(o + 32))))
        .collect()
}

/// Every thread pc inside a file mapping reads the file's bytes there (the
/// executable, libc, ld.so): checks NT_FILE offsets and the layering.
fn text_matches_files(core: &Core) -> usize {
    let mut checked = 0;
    for t in &core.threads {
        let pc = t.regs.pc();
        let Some(m) = core.mappings.iter().find(|m| m.start <= pc && pc < m.end && m.exec) else { continue };
        let Some(path) = &m.path else { continue };
        let Ok(file) = std::fs::read(path) else { continue };
        let off = (m.file_offset + (pc - m.start)) as usize;
        let mut b = [0u8; 16];
        core.read_memory(pc, &mut b).unwrap();
        assert_eq!(&b[..], &file[off..off + 16], "text at {pc:#x} in {}", path.display());
        checked += 1;
    }
    checked
}

#[test]
fn cgo_build_with_shared_libraries() {
    tests::require_tools!("go" => "builds the fixtures", "gdb" => "the oracle for threads", "gcc" => "links the cgo fixture");
    for build in [Build::new("cgo"), Build::new("cgo").pie()] {
        let exe = build.build().unwrap().exe;
        let made = kernel_core(&exe, &[]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
        let core = open(&path);
        assert!(core.warnings.is_empty(), "{:?}", core.warnings);
        assert_eq!(tids_pcs(&core), gdb_threads(&exe, &path));
        // The executable plus at least libc and the dynamic loader.
        assert!(core.files.len() >= 3, "{:?}", core.files);
        let in_libc = core.threads.iter().any(|t| {
            core.mappings.iter().any(|m| {
                m.start <= t.regs.pc() && t.regs.pc() < m.end && m.path.as_ref().is_some_and(|p| p.to_string_lossy().contains("libc"))
            })
        });
        assert!(in_libc, "a thread sleeps in libc");
        assert!(text_matches_files(&core) >= 2);
        text_matches_exe(&core);
    }
}

#[test]
fn pie_build_has_load_bias() {
    tests::require_tools!("go" => "builds the fixtures", "gdb" => "the oracle for threads");
    let exe = crasher(Build::new("crasher").pie());
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let core = open(&path);
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    assert_eq!(tids_pcs(&core), gdb_threads(&exe, &path));
    let x = core.exe.as_ref().unwrap();
    assert_ne!(x.load_bias, 0);
    let entry = u64::from_le_bytes(core.exe_bytes().unwrap()[24..32].try_into().unwrap());
    assert_eq!(core.auxv_value(9), Some(entry + x.load_bias));
    text_matches_exe(&core);
    assert!(text_matches_files(&core) >= 1);
}

#[test]
fn stripped_build() {
    tests::require_tools!("go" => "builds the fixtures", "gdb" => "the oracle for threads");
    let exe = crasher(Build::new("crasher").stripped());
    let made = kernel_core(&exe, &["panic"]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let core = open(&path);
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    assert_eq!(tids_pcs(&core), gdb_threads(&exe, &path));
    text_matches_exe(&core);
}

#[test]
fn gcore_of_live_process() {
    let tools = tests::require_tools!("go" => "builds the fixtures", "gdb" => "the oracle for threads", "gcore" => "makes the core");
    let exe = crasher_for("amd64");
    let l = LiveProcess::start(&exe, &["block"]).unwrap();
    let made = producers::gcore(&tools[2], l.pid).unwrap();
    let path = made.core.clone();
    drop(l);
    let core = open(&path);
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    assert_eq!(tids_pcs(&core), gdb_threads(&exe, &path));
    assert!(core.threads.len() >= 4);
    let mut sps: Vec<(u64, u64)> = core.threads.iter().map(|t| (t.tid, t.regs.sp())).collect();
    sps.sort();
    assert_eq!(sps, gdb_sps(&exe, &path));
    assert_eq!(core.exe.as_ref().unwrap().path, exe);
    text_matches_exe(&core);
    // gdb writes NT_FILE with page size 1 and byte offsets.
    assert!(text_matches_files(&core) >= 1);
    // gcore copies the writable data; runtime.buildVersion etc. live there.
    let data = core.mappings.iter().find(|m| m.write && m.path.is_some()).unwrap();
    core.read_memory(data.start, &mut [0u8; 64]).unwrap();
}

#[test]
fn dlv_dump_of_live_process() {
    let tools = tests::require_tools!("go" => "builds the fixtures", "gdb" => "the oracle for threads", "dlv" => "makes the core");
    let dlv = &tools[2];
    let exe = crasher_for("amd64");
    let l = LiveProcess::start(&exe, &["block"]).unwrap();
    let made = producers::dlv_dump(dlv, l.pid).unwrap();
    let path = made.core.clone();
    let pid = l.pid;
    drop(l);
    let core = open(&path);
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    assert_eq!(core.pid, Some(u64::from(pid)));
    assert_eq!(tids_pcs(&core), gdb_threads(&exe, &path));
    // No NT_FILE in Delve's cores: the executable comes from AT_EXECFN.
    assert_eq!(core.exe.as_ref().unwrap().path, exe);
    text_matches_exe(&core);
}

#[test]
fn compressed_cores_by_magic() {
    tests::require_tools!("go" => "builds the fixtures");
    let exe = crasher_for("amd64");
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let plain = open(&path);
    for (tool, args) in [("zstd", &["-q", "-1", "-c"][..]), ("xz", &["-0", "-T2", "-c"][..]), ("lz4", &["-q", "-1", "-c"][..])] {
        if tests::tools::require(tool, "compresses the core").is_none() {
            continue;
        }
        // A name that says nothing: the magic decides.
        let out = path.with_file_name(format!("compressed-{tool}"));
        let st = Command::new("sh")
            .arg("-c")
            .arg(format!("{tool} {} < '{}' > '{}'", args.join(" "), path.display(), out.display()))
            .status()
            .unwrap();
        assert!(st.success());
        let c = open(&out);
        assert!(c.warnings.is_empty(), "{tool}: {:?}", c.warnings);
        assert_eq!(tids_pcs(&c), tids_pcs(&plain), "{tool}");
        let sp = plain.threads[0].regs.sp();
        let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
        plain.read_memory(sp, &mut a).unwrap();
        c.read_memory(sp, &mut b).unwrap();
        assert_eq!(a, b, "{tool}");
        // Cut short (say, the disk filled while systemd-coredump wrote it):
        // what decompresses opens as a truncated core.
        // Cut off the tail: the trailing blocks of zeros, the checksum.
        let z = std::fs::read(&out).unwrap();
        std::fs::write(&out, &z[..z.len() - 256]).unwrap();
        let c = open(&out);
        assert!(c.warnings.iter().any(|w| w.to_string().contains("cut short")), "{tool}: {:?}", c.warnings);
        assert_eq!(tids_pcs(&c), tids_pcs(&plain), "{tool}");
        std::fs::remove_file(&out).unwrap();
    }
}

#[test]
fn truncated_core_reads_what_is_there() {
    tests::require_tools!("go" => "builds the fixtures");
    let exe = crasher_for("amd64");
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let full = open(&path);
    let data = std::fs::read(&path).unwrap();
    let cut = path.with_file_name("truncated");
    std::fs::write(&cut, &data[..data.len() / 2]).unwrap();
    let core = open(&cut);
    // Notes are at the front: threads survive.
    assert_eq!(tids_pcs(&core), tids_pcs(&full));
    let t = core.truncated.clone().expect("truncation reported");
    assert_eq!(t.file_size, data.len() as u64 / 2);
    assert_eq!(t.expected_size, data.len() as u64);
    let addr = t.first_missing_addr.unwrap();
    assert!(core.warnings.iter().any(|w| w.to_string().contains("truncated")), "{:?}", core.warnings);
    match core.read_memory(addr, &mut [0u8; 8]) {
        Err(Error::Unreadable { addr: a, reason }) => {
            assert_eq!(a, addr);
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("read at {addr:#x}: {other:?}"),
    }
    // Bytes before the cut are the same as in the full core.
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    full.read_memory(addr - 16, &mut a).unwrap();
    core.read_memory(addr - 16, &mut b).unwrap();
    assert_eq!(a, b);
    // A read that runs into the cut names the first missing address.
    match core.read_memory(addr - 8, &mut [0u8; 16]) {
        Err(Error::Unreadable { addr: a, .. }) => assert_eq!(a, addr),
        other => panic!("{other:?}"),
    }
    // Cut inside the notes: still opens, with a warning.
    let tiny = path.with_file_name("tiny");
    std::fs::write(&tiny, &data[..0x800]).unwrap();
    let core = open(&tiny);
    assert!(core.truncated.is_some());
}

#[test]
fn wrong_executable_is_a_warning() {
    tests::require_tools!("go" => "builds the fixtures");
    let exe = crasher_for("amd64");
    let other = crasher(Build::new("crasher").stripped());
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let core = Core::open(&path, &OpenOptions { exe: Some(other.clone()), ..Default::default() }).unwrap();
    assert_eq!(core.exe.as_ref().unwrap().path, other);
    assert!(
        core.warnings.iter().any(|w| w.to_string().contains("does not match")),
        "{:?}",
        core.warnings
    );
    // The right one, given explicitly, is quiet.
    let core = Core::open(&path, &OpenOptions { exe: Some(exe.clone()), ..Default::default() }).unwrap();
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    // A missing one is an error naming it.
    let err = Core::open(&path, &OpenOptions { exe: Some("/nonexistent/exe".into()), ..Default::default() }).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/exe"), "{err}");
}

#[test]
fn arm64_core_from_qemu_user() {
    let tools = tests::require_tools!("go" => "builds the fixtures", "qemu-aarch64" => "runs the arm64 fixture");
    let exe = crasher_for("arm64");
    let made = producers::qemu_arm64_core(&tools[1], &exe, &["nil"]).unwrap();
    let (path, _) = (made.core.clone(), made.stderr.clone());
    let core = open(&path);
    assert_eq!(core.arch, Arch::Arm64);
    assert!(!core.threads.is_empty());
    // qemu dumps neither NT_FILE nor the executable's first page.
    assert!(core.warnings.iter().all(|w| w.to_string().contains("could not check")), "{:?}", core.warnings);
    let exe_info = core.exe.as_ref().expect("exe found");
    assert_eq!(exe_info.load_bias, 0);
    for t in &core.threads {
        let Registers::Arm64(r) = t.regs else { panic!("arm64 registers") };
        assert_ne!(r.pc, 0);
        assert_ne!(r.sp, 0);
    }
    assert!(core.signal.is_some());
    text_matches_exe(&core);
    // The local gdb reads no arm64; elfutils decodes arm64 prstatus.
    if tests::tools::require("eu-readelf", "the oracle").is_some() {
        assert_eq!(tids_pcs(&core), eu_readelf_threads(&path));
    }
    // The crashing thread (SIGABRT raised by the runtime) is listed first.
    assert_eq!(core.signal.as_ref().unwrap().thread, Some(0));
    assert_eq!(core.threads[0].signal, 6);
}
