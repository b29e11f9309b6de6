//! Minidumps: a real Windows full-memory dump (dbghelp's MiniDumpWriteDump
//! of the Go zoo under wine), a real Linux dump (the `minidump-writer`
//! crate on a live zoo), and small synthetic dumps for the edges (reads
//! across adjacent memory ranges, the exception stream, damaged input).

use std::path::Path;

use core_reader::{Arch, Core, Error, Format, OpenOptions, Os, Registers};
use object::{Object, ObjectSymbol};
use tests::fixture::Build;
use tests::producers;

fn open(p: &Path) -> Core {
    Core::open(p, &OpenOptions::default()).unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
}

/// A Go string `{ptr, len}` at `addr`, read through the core.
fn go_string(core: &Core, addr: u64) -> String {
    let ptr = core.read_u64(addr).unwrap();
    let len = core.read_u64(addr + 8).unwrap();
    assert!(len < 4096, "string length {len}");
    let mut b = vec![0u8; len as usize];
    core.read_memory(ptr, &mut b).unwrap();
    String::from_utf8(b).unwrap()
}

/// `runtime.buildVersion` read from the core's memory at the symbol the
/// executable's symbol table gives (PE or ELF), shifted by the load bias.
fn build_version(core: &Core) -> String {
    let exe = core.exe.as_ref().expect("executable found");
    let file = object::File::parse(core.exe_bytes().unwrap()).unwrap();
    let sym = file
        .symbols()
        .find(|s| s.name() == Ok("runtime.buildVersion"))
        .expect("runtime.buildVersion symbol");
    go_string(core, sym.address().wrapping_add(exe.load_bias))
}

/// Two dump-backed regions that touch: a read across the seam must return
/// both sides' bytes (the minidump crate itself never spans ranges).
fn check_spanning_read(core: &Core) -> bool {
    let rs = core.memory.regions();
    for w in rs.windows(2) {
        if w[0].end() != w[1].start {
            continue;
        }
        let (Some(a), Some(b)) = (w[0].bytes(), w[1].bytes()) else { continue };
        let n = 16.min(a.len()).min(b.len());
        let mut buf = vec![0u8; 2 * n];
        core.read_memory(w[1].start - n as u64, &mut buf).unwrap();
        assert_eq!(&buf[..n], &a[a.len() - n..]);
        assert_eq!(&buf[n..], &b[..n]);
        return true;
    }
    false
}

/// lldb reads minidumps too: the same thread ids and pcs, in order.
fn lldb_agrees(path: &Path, core: &Core) {
    tests::require_tools!("lldb" => "the oracle for minidumps");
    let out = std::process::Command::new("lldb")
        .args(["--batch", "--no-lldbinit", "--core"])
        .arg(path)
        .args(["-o", "thread list"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // "  thread #2: tid = 1839, 0x0000000000486497 zoo`runtime.usleep..."
    let theirs: Vec<(u64, u64)> = text
        .lines()
        .filter_map(|l| {
            let rest = l.split("tid = ").nth(1)?;
            let (tid, rest) = rest.split_once(", ")?;
            let pc = rest.split_whitespace().next()?;
            let num = |s: &str| match s.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => s.parse().ok(),
            };
            Some((num(tid)?, num(pc)?))
        })
        .collect();
    let ours: Vec<(u64, u64)> = core.threads.iter().map(|t| (t.tid, t.regs.pc())).collect();
    assert_eq!(ours, theirs, "threads (tid, pc): ours vs lldb's\n{text}");
}

fn pc_in_exec_mapping(core: &Core, pc: u64) -> bool {
    core.mappings.iter().any(|m| m.exec && m.start <= pc && pc < m.end)
}

#[test]
fn wine_full_memory_minidump_of_windows_zoo() {
    tests::require_tools!("go" => "builds the fixtures");
    let Some(wine) = producers::wine64() else {
        assert!(!tests::tools::in_ci(), "wine64 is required (runs the Windows fixture)");
        eprintln!("\n*** SKIPPED: wine64 is not installed; this test did not run ***\n");
        return;
    };
    let win = |name: &str| Build::new(name).os("windows").toolchain(tests::fixture::WINE_TOOLCHAIN).build().unwrap();
    let (zoo, windump) = (win("zoo"), win("windump"));
    let made = producers::wine_minidump(&wine, &zoo.exe, &windump.exe).unwrap();
    let core = open(&made.core);
    assert_eq!(core.format, Format::Minidump);
    assert_eq!(core.arch, Arch::Amd64);
    assert_eq!(core.os, Os::Windows);
    assert!(core.pid.is_some_and(|p| p > 0), "MiscInfo pid: {:?}", core.pid);
    assert!(core.truncated.is_none());

    // The executable, named by a wine path (Z:\...), found on this machine.
    let exe = core.exe.as_ref().unwrap_or_else(|| panic!("exe not found: {:?}", core.warnings));
    assert_eq!(exe.path, zoo.exe, "{:?}", core.warnings);
    assert!(
        !core.warnings.iter().any(|w| w.to_string().contains("does not match") || w.to_string().contains("could not check")),
        "{:?}",
        core.warnings
    );

    // Threads: a Go program has several; every pc is in an image's code
    // (under wine, all of them wait in ntdll), every sp in memory the dump
    // holds, and GS points at the thread's TEB.
    assert!(core.threads.len() >= 3 && core.threads.len() < 200, "{} threads", core.threads.len());
    for t in &core.threads {
        let Registers::Amd64(r) = t.regs else { panic!("amd64 registers") };
        assert!(pc_in_exec_mapping(&core, r.rip), "thread {} pc {:#x} outside executable memory", t.tid, r.rip);
        assert!(core.memory.contains(r.rsp), "thread {} sp {:#x} not in the dump", t.tid, r.rsp);
        assert_ne!(r.gs_base, 0, "thread {} TEB", t.tid);
        assert_eq!(t.extra_regsets.first().map(|(_, v)| v.len()), Some(512));
        let m = core.mappings.iter().find(|m| m.start <= r.rip && r.rip < m.end).unwrap();
        assert!(m.path.is_some(), "thread {} pc {:#x} in no module", t.tid, r.rip);
    }
    lldb_agrees(&made.core, &core);

    // A Go global, through the PE symbol table, and the image against the file.
    assert_eq!(build_version(&core), zoo.go_version);
    let base = exe.load_bias.wrapping_add(pe_image_base(core.exe_bytes().unwrap()));
    let mut head = vec![0u8; 0x200];
    core.read_memory(base, &mut head).unwrap();
    assert_eq!(&head[..0x40], &core.exe_bytes().unwrap()[..0x40], "PE header in memory");
    assert!(check_spanning_read(&core), "no two adjacent dumped ranges to read across");

    // The same dump compressed opens the same way.
    let z = made.dir.path().join("fixture.dmp.zst");
    let raw = std::fs::read(&made.core).unwrap();
    std::fs::write(&z, zstd::encode_all(&raw[..], 1).unwrap()).unwrap();
    let zc = Core::open(&z, &OpenOptions { exe: Some(zoo.exe.clone()), ..Default::default() }).unwrap();
    assert_eq!(zc.format, Format::Minidump);
    assert_eq!(zc.threads.len(), core.threads.len());
    assert_eq!(build_version(&zc), zoo.go_version);

    // Cut in half: still opens, says it is truncated, and reads past the
    // cut fail with the reason.
    let half = made.dir.path().join("half.dmp");
    std::fs::write(&half, &raw[..raw.len() / 2]).unwrap();
    let hc = Core::open(&half, &OpenOptions { exe: Some(zoo.exe.clone()), ..Default::default() }).unwrap();
    let t = hc.truncated.as_ref().expect("truncation noticed");
    let cut = t.first_missing_addr.expect("first missing address");
    assert!(matches!(hc.memory.read_u8(cut), Err(Error::Unreadable { .. })));
}

fn pe_image_base(d: &[u8]) -> u64 {
    let nt = u32::from_le_bytes(d[0x3c..0x40].try_into().unwrap()) as usize;
    u64::from_le_bytes(d[nt + 24 + 24..nt + 24 + 32].try_into().unwrap())
}

#[test]
fn minidump_writer_dump_of_live_linux_zoo() {
    tests::require_tools!("go" => "builds the fixtures");
    let fx = Build::new("zoo").build().unwrap();
    let live = producers::LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    let tasks = || {
        let mut v: Vec<u64> = std::fs::read_dir(format!("/proc/{}/task", live.pid))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().parse().unwrap())
            .collect();
        v.sort();
        v
    };
    // The runtime may still be starting threads; dump once they hold still.
    let (made, tasks) = (0..5)
        .find_map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(300));
            let before = tasks();
            let made = producers::minidump_writer_dump(live.pid).unwrap();
            (tasks() == before).then_some((made, before))
        })
        .expect("the live process's threads kept changing");
    let core = open(&made.core);
    assert_eq!(core.format, Format::Minidump);
    assert_eq!(core.arch, Arch::Amd64);
    assert_eq!(core.os, Os::Linux);
    assert_eq!(core.pid, Some(u64::from(live.pid)));
    let mut tids: Vec<u64> = core.threads.iter().map(|t| t.tid).collect();
    tids.sort();
    assert_eq!(tids, tasks, "thread ids against /proc/PID/task");
    for t in &core.threads {
        let pc = t.regs.pc();
        assert!(pc_in_exec_mapping(&core, pc), "thread {} pc {pc:#x} not in an executable mapping", t.tid);
        assert!(core.memory.contains(t.regs.sp()), "thread {} stack not dumped", t.tid);
        // minidump-writer dumps the code around each pc; ours must match it.
        let mut b = [0u8; 4];
        core.read_memory(pc, &mut b).unwrap();
    }
    let exe = core.exe.as_ref().unwrap_or_else(|| panic!("exe not found: {:?}", core.warnings));
    assert_eq!(exe.path, fx.exe);
    assert_eq!(exe.load_bias, 0, "a static non-PIE Go binary");
    assert!(core.auxv_value(9).is_some(), "AT_ENTRY from the LinuxAuxv stream");
    assert!(core.command.as_deref().is_some_and(|c| c.ends_with(" wait")), "{:?}", core.command);
    assert!(core.mappings.iter().any(|m| m.path.as_deref() == Some(fx.exe.as_path())));
    // The string header is in the writable data minidump-writer was given;
    // its bytes in read-only data come from the executable file.
    assert_eq!(build_version(&core), fx.go_version);
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    lldb_agrees(&made.core, &core);
    drop(live);
}

/// A hand-made minidump: SystemInfo, MiscInfo, one thread, two adjacent
/// memory ranges, and optionally an exception.
mod synth {
    pub const CONTEXT_AMD64_SIZE: usize = 1232;
    pub const CONTEXT_ARM64_SIZE: usize = 912;

    pub struct Dump {
        pub arm64: bool,
        pub platform: u32,
        pub exception: Option<(u32, u64, Vec<u64>)>,
    }

    fn put32(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn put64(v: &mut Vec<u8>, x: u64) {
        v.extend_from_slice(&x.to_le_bytes());
    }

    /// Memory: 0x10000..0x10010 = 0..16, 0x10010..0x10020 = 16..32.
    pub fn build(d: &Dump) -> Vec<u8> {
        let ctx_size = if d.arm64 { CONTEXT_ARM64_SIZE } else { CONTEXT_AMD64_SIZE };
        let mut streams: Vec<(u32, Vec<u8>)> = Vec::new();
        // SystemInfo: AMD64.
        let mut si = Vec::new();
        // PROCESSOR_ARCHITECTURE_ARM64 or _AMD64.
        si.extend_from_slice(&(if d.arm64 { 12u16 } else { 9 }).to_le_bytes());
        si.extend_from_slice(&[0; 4]);
        si.extend_from_slice(&[1, 1]);
        put32(&mut si, 10);
        put32(&mut si, 0);
        put32(&mut si, 19041);
        put32(&mut si, d.platform);
        put32(&mut si, 0); // no CSD version string
        si.extend_from_slice(&[0; 4 + 24]);
        streams.push((7, si));
        let mut misc = Vec::new();
        for v in [24u32, 1, 4242, 0, 0, 0] {
            put32(&mut misc, v);
        }
        streams.push((15, misc));
        streams.push((3, Vec::new())); // ThreadList, filled below
        streams.push((5, Vec::new())); // MemoryList, filled below
        if d.exception.is_some() {
            streams.push((6, Vec::new()));
        }
        // Layout: header, directory, streams, then context and memory.
        let dir_at = 32usize;
        let mut at = dir_at + 12 * streams.len();
        let sizes: Vec<usize> = streams
            .iter()
            .map(|(t, s)| match t {
                3 => 4 + 48,
                5 => 4 + 2 * 16,
                6 => 168,
                _ => s.len(),
            })
            .collect();
        let mut rvas = Vec::new();
        for s in &sizes {
            rvas.push(at);
            at += s;
        }
        let ctx_at = at;
        let mem_at = ctx_at + ctx_size;
        for (i, (t, s)) in streams.iter_mut().enumerate() {
            match t {
                3 => {
                    put32(s, 1);
                    put32(s, 77); // tid
                    s.extend_from_slice(&[0; 12]);
                    put64(s, 0x7000_0000); // teb
                    put64(s, 0x10000); // stack start
                    put32(s, 32);
                    put32(s, mem_at as u32);
                    put32(s, ctx_size as u32);
                    put32(s, ctx_at as u32);
                }
                5 => {
                    put32(s, 2);
                    put64(s, 0x10000);
                    put32(s, 16);
                    put32(s, mem_at as u32);
                    put64(s, 0x10010);
                    put32(s, 16);
                    put32(s, (mem_at + 16) as u32);
                }
                6 => {
                    let (code, addr, params) = d.exception.clone().unwrap();
                    put32(s, 77);
                    put32(s, 0);
                    put32(s, code);
                    put32(s, 0);
                    put64(s, 0);
                    put64(s, addr);
                    put32(s, params.len() as u32);
                    put32(s, 0);
                    for i in 0..15 {
                        put64(s, params.get(i).copied().unwrap_or(0));
                    }
                    put32(s, ctx_size as u32);
                    put32(s, ctx_at as u32);
                }
                _ => {}
            }
            assert_eq!(s.len(), sizes[i], "stream {t}");
        }
        let mut out = Vec::new();
        out.extend_from_slice(b"MDMP");
        put32(&mut out, 0xa793);
        put32(&mut out, streams.len() as u32);
        put32(&mut out, dir_at as u32);
        out.extend_from_slice(&[0; 16]);
        for (i, (t, s)) in streams.iter().enumerate() {
            put32(&mut out, *t);
            put32(&mut out, s.len() as u32);
            put32(&mut out, rvas[i] as u32);
        }
        for (_, s) in &streams {
            out.extend_from_slice(s);
        }
        let mut ctx = vec![0u8; ctx_size];
        if d.arm64 {
            // {flags, cpsr, x0..x30, sp, pc, v0..v31, fpcr, fpsr, debug regs}
            ctx[0..4].copy_from_slice(&0x0040_0007u32.to_le_bytes()); // CONTEXT_ARM64 | control, integer, float
            for i in 0..31u64 {
                let at = 8 + 8 * i as usize;
                ctx[at..at + 8].copy_from_slice(&(0x100 + i).to_le_bytes());
            }
            ctx[8 + 29 * 8..8 + 30 * 8].copy_from_slice(&0x10018u64.to_le_bytes()); // fp
            ctx[256..264].copy_from_slice(&0x10008u64.to_le_bytes()); // sp
            ctx[264..272].copy_from_slice(&0x40_1234u64.to_le_bytes()); // pc
            ctx[272..288].copy_from_slice(&[0xab; 16]); // v0
        } else {
            ctx[0x30..0x34].copy_from_slice(&0x0010_001fu32.to_le_bytes()); // CONTEXT_AMD64 | ALL
            ctx[0x98..0xa0].copy_from_slice(&0x10008u64.to_le_bytes()); // rsp
            ctx[0xa0..0xa8].copy_from_slice(&0x10018u64.to_le_bytes()); // rbp
            ctx[0xf8..0x100].copy_from_slice(&0x40_1234u64.to_le_bytes()); // rip
        }
        out.extend_from_slice(&ctx);
        out.extend((0u8..32).collect::<Vec<u8>>());
        out
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn synthetic_reads_span_adjacent_memory_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "a.dmp", &synth::build(&synth::Dump { arm64: false, platform: 2, exception: None }));
    let core = open(&p);
    assert_eq!((core.format, core.arch, core.os, core.pid), (Format::Minidump, Arch::Amd64, Os::Windows, Some(4242)));
    assert_eq!(core.threads.len(), 1);
    let Registers::Amd64(r) = core.threads[0].regs else { panic!() };
    assert_eq!((core.threads[0].tid, r.rip, r.rsp, r.rbp, r.gs_base), (77, 0x40_1234, 0x10008, 0x10018, 0x7000_0000));
    // 8 bytes on each side of the seam between the two descriptors.
    let mut b = [0u8; 16];
    core.read_memory(0x10008, &mut b).unwrap();
    assert_eq!(b, std::array::from_fn::<u8, 16, _>(|i| 8 + i as u8));
    assert_eq!(core.memory.read_u8(0x10010).unwrap_or(0xff), 16, "a read at the seam belongs to the later range");
    assert!(core.signal.is_none());
    assert!(matches!(core.memory.read_u8(0x10020), Err(Error::Unmapped { addr: 0x10020 })));
}

#[test]
fn synthetic_windows_access_violation_is_sigsegv() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = synth::build(&synth::Dump { arm64: false, platform: 2, exception: Some((0xC000_0005, 0x40_1234, vec![0, 0x18])) });
    let core = open(&write(dir.path(), "av.dmp", &bytes));
    let s = core.signal.as_ref().expect("exception");
    assert_eq!((s.signo, s.code as u32, s.addr, s.thread), (11, 0xC000_0005, Some(0x18), Some(0)));
    assert_eq!(core.threads[0].signal, 11);
    // Breakpad on Linux: the code is the signal number itself.
    let bytes = synth::build(&synth::Dump { arm64: false, platform: 0x8201, exception: Some((7, 0xdead, vec![])) });
    let core = open(&write(dir.path(), "bus.dmp", &bytes));
    assert_eq!(core.os, Os::Linux);
    let s = core.signal.as_ref().unwrap();
    assert_eq!((s.signo, s.addr), (7, Some(0xdead)));
}

#[test]
fn synthetic_arm64_context() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = synth::build(&synth::Dump { arm64: true, platform: 0x8201, exception: None });
    let core = open(&write(dir.path(), "a64.dmp", &bytes));
    assert_eq!((core.arch, core.os), (Arch::Arm64, Os::Linux));
    let Registers::Arm64(r) = core.threads[0].regs else { panic!("arm64 registers") };
    assert_eq!((r.pc, r.sp, r.x[0], r.x[28], r.x[29], r.x[30]), (0x40_1234, 0x10008, 0x100, 0x11c, 0x10018, 0x11e));
    assert_eq!(core.threads[0].regs.fp(), 0x10018);
    // The FP state as Linux's NT_PRFPREG (user_fpsimd_state, 528 bytes).
    let (k, fp) = &core.threads[0].extra_regsets[0];
    assert_eq!((*k, fp.len(), &fp[..16]), (2, 528, &[0xab; 16][..]));
    assert_eq!(core.read_u64(0x10008).unwrap(), u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]));
}

#[test]
fn damaged_minidumps_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    for arm64 in [false, true] {
        let good = synth::build(&synth::Dump { arm64, platform: 2, exception: Some((0xC000_0005, 1, vec![0, 2])) });
        // Every truncation, and byte corruptions everywhere.
        for n in 0..good.len() {
            let p = write(dir.path(), "t.dmp", &good[..n]);
            let _ = Core::open(&p, &OpenOptions::default());
        }
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut b = good.clone();
            for k in 0..4 {
                let i = ((seed >> (k * 16)) as usize) % b.len();
                b[i] = (seed >> (k * 8 + 3)) as u8;
            }
            let p = write(dir.path(), "f.dmp", &b);
            if let Ok(c) = Core::open(&p, &OpenOptions::default()) {
                let mut buf = [0u8; 64];
                let _ = c.read_memory(0x10000, &mut buf);
            }
        }
    }
}
