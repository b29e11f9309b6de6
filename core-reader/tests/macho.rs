//! Mach-O cores. No macOS machine can make one here, so a small writer
//! (tests only, below) builds them from real Linux cores of the crasher
//! (amd64 from the kernel, arm64 from qemu-user) and from `GOOS=darwin`
//! executables laid out at a slide. lldb, which reads Mach-O cores on any
//! host, is the independent oracle for the format: it must see the same
//! threads, registers and memory as our reader.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use core_reader::{Arch, Core, Format, OpenOptions, Os, Registers, REGSET_MACHO_FLAVOR};
use tests::fixture::Build;
use tests::producers::{self, kernel_core};
use object::{Object, ObjectSymbol};

/// Writes `MH_CORE` files the way xnu and lldb lay them out.
mod writer {
    use core_reader::{Amd64Regs, Arm64Regs};

    pub const CPU_TYPE_X86_64: u32 = 0x0100_0007;
    pub const CPU_TYPE_ARM64: u32 = 0x0100_000c;

    pub struct Seg {
        pub addr: u64,
        pub data: Vec<u8>,
        /// VM_PROT_READ 1 | WRITE 2 | EXECUTE 4.
        pub prot: u32,
    }

    pub enum State {
        Amd64 { regs: Amd64Regs, fp: Option<Vec<u8>>, exc: Option<(u16, u32, u64)> },
        Arm64 { regs: Arm64Regs, neon: Option<Vec<u8>>, exc: Option<(u64, u32, u32)> },
    }

    pub struct Note {
        pub owner: &'static str,
        pub payload: Vec<u8>,
    }

    fn p32(v: &mut Vec<u8>, x: u32) {
        v.extend_from_slice(&x.to_le_bytes());
    }
    fn p64(v: &mut Vec<u8>, x: u64) {
        v.extend_from_slice(&x.to_le_bytes());
    }

    fn flavor(out: &mut Vec<u8>, flavor: u32, state: &[u8]) {
        assert_eq!(state.len() % 4, 0);
        p32(out, flavor);
        p32(out, (state.len() / 4) as u32);
        out.extend_from_slice(state);
    }

    fn thread_cmd(s: &State) -> Vec<u8> {
        let mut body = Vec::new();
        match s {
            State::Amd64 { regs: r, fp, exc } => {
                let mut g = Vec::new();
                for v in [
                    r.rax, r.rbx, r.rcx, r.rdx, r.rdi, r.rsi, r.rbp, r.rsp, r.r8, r.r9, r.r10, r.r11, r.r12, r.r13,
                    r.r14, r.r15, r.rip, r.eflags, r.cs, r.fs, r.gs,
                ] {
                    p64(&mut g, v);
                }
                flavor(&mut body, 4, &g); // x86_THREAD_STATE64, count 42
                if let Some(fx) = fp {
                    // x86_FLOAT_STATE64: 2 reserved ints, FXSAVE image, 1 int.
                    let mut f = vec![0u8; 8];
                    f.extend_from_slice(fx);
                    f.extend_from_slice(&[0; 4]);
                    flavor(&mut body, 5, &f); // count 131
                }
                if let Some((trapno, err, addr)) = exc {
                    let mut e = Vec::new();
                    e.extend_from_slice(&trapno.to_le_bytes());
                    e.extend_from_slice(&0u16.to_le_bytes());
                    p32(&mut e, *err);
                    p64(&mut e, *addr);
                    flavor(&mut body, 6, &e); // x86_EXCEPTION_STATE64, count 4
                }
            }
            State::Arm64 { regs: r, neon, exc } => {
                let mut g = Vec::new();
                for v in r.x {
                    p64(&mut g, v);
                }
                p64(&mut g, r.sp);
                p64(&mut g, r.pc);
                p32(&mut g, r.pstate as u32);
                p32(&mut g, 0);
                flavor(&mut body, 6, &g); // ARM_THREAD_STATE64, count 68
                if let Some((far, esr, exception)) = exc {
                    let mut e = Vec::new();
                    p64(&mut e, *far);
                    p32(&mut e, *esr);
                    p32(&mut e, *exception);
                    flavor(&mut body, 7, &e); // ARM_EXCEPTION_STATE64, count 4
                }
                if let Some(n) = neon {
                    flavor(&mut body, 17, n); // ARM_NEON_STATE64, count 132
                }
            }
        }
        let mut cmd = Vec::new();
        p32(&mut cmd, 0x4); // LC_THREAD
        p32(&mut cmd, 8 + body.len() as u32);
        cmd.extend_from_slice(&body);
        cmd
    }

    pub fn write(cputype: u32, threads: &[State], segs: &[Seg], notes: &[Note]) -> Vec<u8> {
        let thread_cmds: Vec<Vec<u8>> = threads.iter().map(thread_cmd).collect();
        let sizeofcmds = thread_cmds.iter().map(|c| c.len()).sum::<usize>() + notes.len() * 40 + segs.len() * 72;
        let ncmds = thread_cmds.len() + notes.len() + segs.len();
        // Segment data starts on a page, as xnu writes it; notes follow.
        let mut off = (32 + sizeofcmds).next_multiple_of(4096) as u64;
        let mut cmds = Vec::new();
        for s in segs {
            p32(&mut cmds, 0x19); // LC_SEGMENT_64
            p32(&mut cmds, 72);
            cmds.extend_from_slice(&[0; 16]);
            p64(&mut cmds, s.addr);
            p64(&mut cmds, s.data.len() as u64);
            p64(&mut cmds, off);
            p64(&mut cmds, s.data.len() as u64);
            p32(&mut cmds, s.prot);
            p32(&mut cmds, s.prot);
            p32(&mut cmds, 0);
            p32(&mut cmds, 0);
            off += (s.data.len() as u64).next_multiple_of(4096);
        }
        for c in &thread_cmds {
            cmds.extend_from_slice(c);
        }
        for n in notes {
            p32(&mut cmds, 0x31); // LC_NOTE
            p32(&mut cmds, 40);
            let mut owner = [0u8; 16];
            owner[..n.owner.len()].copy_from_slice(n.owner.as_bytes());
            cmds.extend_from_slice(&owner);
            p64(&mut cmds, off);
            p64(&mut cmds, n.payload.len() as u64);
            off += n.payload.len() as u64;
        }
        assert_eq!(cmds.len(), sizeofcmds);
        let mut out = Vec::new();
        p32(&mut out, 0xfeed_facf);
        p32(&mut out, cputype);
        p32(&mut out, if cputype == CPU_TYPE_X86_64 { 3 } else { 0 });
        p32(&mut out, 4); // MH_CORE
        p32(&mut out, ncmds as u32);
        p32(&mut out, sizeofcmds as u32);
        p32(&mut out, 0);
        p32(&mut out, 0);
        out.extend_from_slice(&cmds);
        for s in segs {
            out.resize(out.len().next_multiple_of(4096), 0);
            out.extend_from_slice(&s.data);
        }
        out.resize(out.len().next_multiple_of(4096), 0);
        for n in notes {
            out.extend_from_slice(&n.payload);
        }
        out
    }

    /// lldb's "main bin spec" v2: {version, type, address, slide, uuid, log2 page size, platform}.
    pub fn main_bin_spec(address: u64, uuid: [u8; 16]) -> Note {
        let mut p = Vec::new();
        p32(&mut p, 2);
        p32(&mut p, 2); // a user process
        p64(&mut p, address);
        p64(&mut p, u64::MAX); // slide unknown: derive it from the address
        p.extend_from_slice(&uuid);
        p32(&mut p, 12);
        p32(&mut p, 1); // PLATFORM_MACOS
        Note { owner: "main bin spec", payload: p }
    }

    /// {version, uuid, address, slide, name}.
    pub fn load_binary(address: u64, name: &str) -> Note {
        let mut p = Vec::new();
        p32(&mut p, 1);
        p.extend_from_slice(&[0; 16]);
        p64(&mut p, address);
        p64(&mut p, u64::MAX);
        p.extend_from_slice(name.as_bytes());
        p.push(0);
        Note { owner: "load binary", payload: p }
    }
}

use writer::{Seg, State};

fn open(p: &Path) -> Core {
    Core::open(p, &OpenOptions::default()).unwrap_or_else(|e| panic!("open {}: {e}", p.display()))
}

/// A Mach-O core with the same threads, registers and (byte-backed) memory
/// as an ELF core, and its crashing thread's fault as an exception state.
fn macho_from_elf(elf: &Core) -> Vec<u8> {
    let mut segs: Vec<Seg> = Vec::new();
    for r in elf.memory.regions() {
        let Some(b) = r.bytes() else { continue };
        let prot = elf
            .mappings
            .iter()
            .find(|m| m.start <= r.start && r.start < m.end)
            .map_or(1, |m| u32::from(m.read) | u32::from(m.write) << 1 | u32::from(m.exec) << 2);
        match segs.last_mut() {
            Some(last) if last.addr + last.data.len() as u64 == r.start && last.prot == prot => {
                last.data.extend_from_slice(b)
            }
            _ => segs.push(Seg { addr: r.start, data: b.to_vec(), prot }),
        }
    }
    let fault = elf.signal.as_ref().and_then(|s| Some((s.thread?, s.addr.unwrap_or(0))));
    let states: Vec<State> = elf
        .threads
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let exc = fault.filter(|f| f.0 == i).map(|f| f.1);
            match t.regs {
                Registers::Amd64(regs) => State::Amd64 {
                    regs,
                    fp: t.extra_regsets.iter().find(|(k, _)| *k == 2).map(|(_, v)| v[..512].to_vec()),
                    exc: exc.map(|a| (14, 4, a)), // page fault, user-mode read
                },
                Registers::Arm64(regs) => State::Arm64 {
                    regs,
                    neon: t.extra_regsets.iter().find(|(k, _)| *k == 2).map(|(_, v)| v[..528].to_vec()),
                    exc: exc.map(|a| (a, 0x9200_0006, 0)), // data abort (EC 0x24)
                },
            }
        })
        .collect();
    let cpu = match elf.arch {
        Arch::Amd64 => writer::CPU_TYPE_X86_64,
        Arch::Arm64 => writer::CPU_TYPE_ARM64,
    };
    let addrable = writer::Note { owner: "addrable bits", payload: [3u32.to_le_bytes(), 47u32.to_le_bytes(), [0; 4], [0; 4]].concat() };
    writer::write(cpu, &states, &segs, &[addrable])
}

/// Our Mach-O reader sees what the ELF reader saw in the original core.
fn same_as_elf(elf: &Core, mo: &Core) {
    assert_eq!(mo.format, Format::MachO);
    assert_eq!(mo.os, Os::MacOs);
    assert_eq!(mo.arch, elf.arch);
    assert_eq!(mo.threads.len(), elf.threads.len());
    for (a, b) in elf.threads.iter().zip(&mo.threads) {
        match (a.regs, b.regs) {
            (Registers::Amd64(_), Registers::Amd64(_)) => {
                assert_eq!(a.regs.named()[..17], b.regs.named()[..17], "general registers");
            }
            (Registers::Arm64(x), Registers::Arm64(y)) => {
                assert_eq!((x.x, x.sp, x.pc, x.pstate as u32), (y.x, y.sp, y.pc, y.pstate as u32));
            }
            _ => panic!("architecture changed"),
        }
        assert!(b.extra_regsets.iter().any(|(k, _)| *k & 0xffff_0000 == REGSET_MACHO_FLAVOR), "raw flavors kept");
        let fp_a = a.extra_regsets.iter().find(|(k, _)| *k == 2).map(|(_, v)| &v[..512]);
        let fp_b = b.extra_regsets.iter().find(|(k, _)| *k == 2).map(|(_, v)| &v[..512]);
        assert_eq!(fp_a, fp_b, "FP state as NT_FPREGSET");
    }
    let (s, t) = (elf.signal.as_ref().unwrap(), mo.signal.as_ref().expect("exception state read as a signal"));
    assert_eq!((t.signo, t.thread), (11, s.thread));
    if s.addr.is_some() {
        assert_eq!(t.addr, s.addr);
    }
    let mut compared = 0;
    for r in elf.memory.regions() {
        let Some(b) = r.bytes() else { continue };
        let mut got = vec![0u8; b.len()];
        mo.read_memory(r.start, &mut got).unwrap_or_else(|e| panic!("{:#x}: {e}", r.start));
        assert!(got == b, "memory at {:#x}", r.start);
        compared += b.len();
    }
    assert!(compared > 1 << 20, "compared {compared} bytes");
}

/// lldb's view of a core: per thread, the named registers; and 8-byte
/// words at the given addresses.
fn lldb_view(core: &Path, regs: &[&str], nthreads: usize, addrs: &[u64]) -> (Vec<Vec<u64>>, Vec<Option<u64>>, String) {
    let mut cmd = Command::new("lldb");
    cmd.arg("--batch").arg("--no-lldbinit").arg("--core").arg(core);
    for i in 1..=nthreads {
        cmd.arg("-o").arg(format!("thread select {i}"));
        cmd.arg("-o").arg(format!("register read {}", regs.join(" ")));
    }
    for a in addrs {
        cmd.arg("-o").arg(format!("memory read --size 8 --count 1 --format x {a:#x}"));
    }
    let out = cmd.output().expect("run lldb");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // Sections start at each "(lldb) " command echo.
    let mut thread_regs = Vec::new();
    let mut words = Vec::new();
    for chunk in text.split("(lldb) ").skip(1) {
        if chunk.starts_with("register read") {
            let vals: Vec<u64> = regs
                .iter()
                .map(|r| {
                    let line = chunk
                        .lines()
                        .find(|l| l.trim_start().starts_with(&format!("{r} = ")))
                        .unwrap_or_else(|| panic!("lldb printed no {r}:\n{chunk}\n--- all output:\n{text}"));
                    let v = line.split('=').nth(1).unwrap().split_whitespace().next().unwrap();
                    u64::from_str_radix(v.trim_start_matches("0x"), 16).unwrap()
                })
                .collect();
            thread_regs.push(vals);
        } else if chunk.starts_with("memory read") {
            // "0xADDR: 0xVALUE"; lldb prints the stop info of `thread
            // select` asynchronously, so it may land among these lines.
            let v = chunk
                .lines()
                .skip(1)
                .find(|l| l.starts_with("0x") && l.contains(": "))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| u64::from_str_radix(v.trim_start_matches("0x"), 16).ok());
            words.push(v);
        }
    }
    (thread_regs, words, text)
}

fn check_with_lldb(path: &Path, mo: &Core) {
    let regs: &[&str] = match mo.arch {
        Arch::Amd64 => &["rip", "rsp", "rbp", "rax", "rbx", "r14"],
        Arch::Arm64 => &["pc", "sp", "fp", "lr", "x0", "x28"],
    };
    // Words at each thread's sp and pc, which lldb reads from the segments.
    let addrs: Vec<u64> = mo.threads.iter().flat_map(|t| [t.regs.sp(), t.regs.pc()]).collect();
    let (lregs, words, text) = lldb_view(path, regs, mo.threads.len(), &addrs);
    assert_eq!(lregs.len(), mo.threads.len(), "lldb's thread count");
    for (t, l) in mo.threads.iter().zip(&lregs) {
        let ours: Vec<u64> = regs
            .iter()
            .map(|r| match (r, t.regs) {
                (&"fp", Registers::Arm64(a)) => a.x[29],
                (&"lr", Registers::Arm64(a)) => a.x[30],
                (&"x0", Registers::Arm64(a)) => a.x[0],
                (&"x28", Registers::Arm64(a)) => a.x[28],
                (name, r) => r.named().iter().find(|(n, _)| n == name).unwrap().1,
            })
            .collect();
        assert_eq!(&ours, l, "thread {}: ours vs lldb ({regs:?})", t.tid);
    }
    for (a, w) in addrs.iter().zip(&words) {
        assert_eq!(*w, mo.read_u64(*a).ok(), "word at {a:#x}: lldb vs ours; lldb said:\n{text}");
    }
    let read = words.iter().filter(|w| w.is_some()).count();
    assert!(read >= mo.threads.len(), "lldb read only {read} words:\n{text}");
    eprintln!("lldb agrees: {} threads x {} registers, {read} words", lregs.len(), regs.len());
}

#[test]
fn amd64_macho_core_from_kernel_core_matches_elf_and_lldb() {
    tests::require_tools!("go" => "builds the fixtures");
    let exe = crasher_for("amd64");
    let made = kernel_core(&exe, &["nil"]).unwrap();
    let elf = open(&made.core);
    let p = made.dir.path().join("crasher.macho.core");
    std::fs::write(&p, macho_from_elf(&elf)).unwrap();
    let mo = open(&p);
    same_as_elf(&elf, &mo);
    if tests::tools::require("lldb", "the oracle").is_some() {
        check_with_lldb(&p, &mo);
    }
    // The executable given explicitly is taken even though it is ELF here.
    let with_exe = Core::open(&p, &OpenOptions { exe: Some(exe.clone()), ..Default::default() }).unwrap();
    assert_eq!(with_exe.exe.as_ref().map(|x| (x.path.clone(), x.load_bias)), Some((exe.clone(), 0)));
    assert!(with_exe.warnings.iter().any(|w| w.to_string().contains("could not check")), "{:?}", with_exe.warnings);
    // Compressed, through the same path as ELF cores.
    let z = made.dir.path().join("crasher.macho.core.xz");
    let mut enc = xz2::write::XzEncoder::new(Vec::new(), 1);
    std::io::Write::write_all(&mut enc, &std::fs::read(&p).unwrap()).unwrap();
    std::fs::write(&z, enc.finish().unwrap()).unwrap();
    same_as_elf(&elf, &open(&z));
}

#[test]
fn arm64_macho_core_from_qemu_core_matches_elf_and_lldb() {
    let tools = tests::require_tools!("go" => "builds the fixtures", "qemu-aarch64" => "runs the arm64 fixture");
    let exe = crasher_for("arm64");
    let made = producers::qemu_arm64_core(&tools[1], &exe, &["nil"]).unwrap();
    let elf = open(&made.core);
    let p = made.dir.path().join("crasher.macho.core");
    std::fs::write(&p, macho_from_elf(&elf)).unwrap();
    let mo = open(&p);
    same_as_elf(&elf, &mo);
    if tests::tools::require("lldb", "the oracle").is_some() {
        check_with_lldb(&p, &mo);
    }
}

/// `GOOS=darwin go build` of the crasher.
fn darwin_exe(goarch: &str) -> PathBuf {
    crasher(Build::new("crasher").os("darwin").arch(goarch))
}

/// A core of a darwin executable loaded at `slide`: its segments as in the
/// file, a stack, and one thread stopped in `main.main`.
fn darwin_core(exe: &[u8], arch: Arch, slide: u64, notes: Vec<writer::Note>) -> (Vec<u8>, u64) {
    let f = object::File::parse(exe).unwrap();
    let mut segs = Vec::new();
    for s in object::Object::segments(&f) {
        use object::ObjectSegment;
        let (addr, size) = (s.address(), s.size());
        if size == 0 || addr == 0 {
            continue; // __PAGEZERO
        }
        let mut data = s.data().unwrap().to_vec();
        data.resize(size as usize, 0);
        let name = s.name().unwrap().unwrap_or("");
        let prot = if name == "__TEXT" { 5 } else { 3 };
        segs.push(Seg { addr: addr + slide, data, prot });
    }
    // Where macOS puts a main thread's stack (arm64 lldb masks addresses
    // above its default addressable bits when no note gives them).
    let stack = 0x1_6f00_0000u64;
    segs.push(Seg { addr: stack, data: (0..0x4000u32).map(|i| i as u8).collect(), prot: 3 });
    let main = symbol(&f, "main.main") + slide;
    let sp = stack + 0x3000;
    let state = match arch {
        Arch::Amd64 => State::Amd64 {
            regs: core_reader::Amd64Regs { rip: main, rsp: sp, rbp: sp + 0x40, ..Default::default() },
            fp: None,
            exc: None,
        },
        Arch::Arm64 => {
            let mut x = [0u64; 31];
            x[29] = sp + 0x40;
            x[30] = main + 0x10;
            State::Arm64 { regs: core_reader::Arm64Regs { x, sp, pc: main, pstate: 0, tpidr: None }, neon: None, exc: None }
        }
    };
    let cpu = match arch {
        Arch::Amd64 => writer::CPU_TYPE_X86_64,
        Arch::Arm64 => writer::CPU_TYPE_ARM64,
    };
    (writer::write(cpu, &[state], &segs, &notes), main)
}

/// A Go symbol's address; Mach-O names carry a leading underscore.
fn symbol(f: &object::File, name: &str) -> u64 {
    let under = format!("_{name}");
    f.symbols()
        .find(|s| s.name().is_ok_and(|n| n == name || n == under))
        .unwrap_or_else(|| panic!("no symbol {name}"))
        .address()
}

fn macho_uuid(exe: &[u8]) -> [u8; 16] {
    object::File::parse(exe).unwrap().mach_uuid().unwrap().expect("Go writes LC_UUID")
}

fn darwin_exe_found_by_uuid_and_read(goarch: &str, arch: Arch) {
    tests::require_tools!("go" => "builds the fixtures");
    let exe_path = darwin_exe(goarch);
    let exe = std::fs::read(&exe_path).unwrap();
    let slide = 0x3a_0000u64;
    let text = object::File::parse(&*exe)
        .unwrap()
        .segments()
        .map(|s| object::ObjectSegment::address(&s))
        .find(|&a| a != 0)
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(&exe_path, dir.join("crasher")).unwrap();

    // 1. A "main bin spec" with the address and UUID; the executable beside
    //    the core is found by its UUID.
    let (bytes, main) = darwin_core(&exe, arch, slide, vec![writer::main_bin_spec(text + slide, macho_uuid(&exe))]);
    let p = dir.join("a.core");
    std::fs::write(&p, bytes).unwrap();
    let core = open(&p);
    assert_eq!((core.format, core.os, core.arch), (Format::MachO, Os::MacOs, arch));
    let x = core.exe.as_ref().unwrap_or_else(|| panic!("exe not found: {:?}", core.warnings));
    assert_eq!(x.path, dir.join("crasher"));
    assert_eq!(x.load_bias, slide);
    assert_eq!(x.build_id.as_deref(), Some(&macho_uuid(&exe)[..]));
    assert!(core.warnings.is_empty(), "{:?}", core.warnings);
    assert_eq!(core.threads[0].regs.pc(), main);
    let m = core.mappings.iter().find(|m| m.start <= main && main < m.end).unwrap();
    assert!(m.exec && m.path.as_deref() == Some(dir.join("crasher").as_path()));
    // runtime.buildVersion through the symbol table, shifted by the slide.
    let f = object::File::parse(&*exe).unwrap();
    let sym = symbol(&f, "runtime.buildVersion") + slide;
    let (ptr, len) = (core.read_u64(sym).unwrap(), core.read_u64(sym + 8).unwrap());
    let mut v = vec![0u8; len as usize];
    // The writer copied __DATA as in the file, without dyld's rebasing:
    // the pointer is still the link-time one.
    core.read_memory(ptr + slide, &mut v).unwrap();
    assert!(String::from_utf8(v).unwrap().starts_with("go1."));
    // The pclntab helper finds __gopclntab, and memory holds the same bytes there.
    let (addr, tab) = core_reader::gopclntab(core.exe_bytes().unwrap()).expect("__gopclntab");
    assert_eq!(&tab[..4], &0xffff_fff1u32.to_le_bytes());
    let mut head = [0u8; 64];
    core.read_memory(addr + slide, &mut head).unwrap();
    assert_eq!(&head[..], &tab[..64]);
    if tests::tools::require("lldb", "the oracle").is_some() {
        check_with_lldb(&p, &core);
    }

    // 2. No notes at all: the header is found in the segments, its UUID read
    //    from memory, the file beside the core matched by it.
    let (bytes, _) = darwin_core(&exe, arch, slide, vec![]);
    let p = dir.join("b.core");
    std::fs::write(&p, bytes).unwrap();
    let core = open(&p);
    assert_eq!(core.exe.as_ref().map(|x| (x.path.clone(), x.load_bias)), Some((dir.join("crasher"), slide)));

    // 3. A "load binary" name; elsewhere on disk, given as is.
    let (bytes, _) = darwin_core(&exe, arch, slide, vec![writer::main_bin_spec(text + slide, [0; 16]), writer::load_binary(text + slide, exe_path.to_str().unwrap())]);
    let other = tempfile::tempdir().unwrap();
    let p = other.path().join("c.core");
    std::fs::write(&p, bytes).unwrap();
    let core = open(&p);
    assert_eq!(core.exe.as_ref().map(|x| x.path.clone()), Some(exe_path.clone()));
    assert_eq!(core.recorded_exe.path.as_deref(), Some(exe_path.as_path()));
}

#[test]
fn darwin_amd64_executable_found_and_read() {
    darwin_exe_found_by_uuid_and_read("amd64", Arch::Amd64);
}

#[test]
fn darwin_arm64_executable_found_and_read() {
    darwin_exe_found_by_uuid_and_read("arm64", Arch::Arm64);
}

#[test]
fn damaged_macho_cores_never_panic() {
    let regs = core_reader::Amd64Regs { rip: 0x1000, rsp: 0x2008, ..Default::default() };
    let good = writer::write(
        writer::CPU_TYPE_X86_64,
        &[State::Amd64 { regs, fp: Some(vec![7; 512]), exc: Some((14, 4, 0x18)) }],
        &[Seg { addr: 0x2000, data: vec![1; 64], prot: 3 }],
        &[writer::main_bin_spec(0x1000, [1; 16]), writer::load_binary(0x1000, "/nonexistent/x")],
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("f.core");
    let core = {
        std::fs::write(&p, &good).unwrap();
        open(&p)
    };
    assert_eq!(core.signal.as_ref().map(|s| (s.signo, s.addr)), Some((11, Some(0x18))));
    assert_eq!(core.read_u64(0x2000).unwrap(), 0x0101_0101_0101_0101);
    // Cut inside the segment's data: truncated, the rest unreadable.
    std::fs::write(&p, &good[..4096 + 32]).unwrap();
    let c = open(&p);
    assert!(c.truncated.is_some());
    assert_eq!(c.read_u64(0x2018).unwrap(), 0x0101_0101_0101_0101);
    assert!(c.read_u64(0x2020).is_err());
    for n in (0..good.len()).step_by(7) {
        std::fs::write(&p, &good[..n]).unwrap();
        let _ = Core::open(&p, &OpenOptions::default());
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..3000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut b = good.clone();
        for k in 0..4 {
            // Corrupt mostly the header and load commands, where the counts are.
            let i = ((seed >> (k * 16)) as usize) % 600.min(b.len());
            b[i] = (seed >> (k * 8 + 5)) as u8;
        }
        std::fs::write(&p, &b).unwrap();
        if let Ok(c) = Core::open(&p, &OpenOptions::default()) {
            let _ = c.read_u64(0x2000);
        }
    }
}

#[test]
fn addrable_bits_strip_pointer_authentication_from_pc_and_lr() {
    let mut x = [0u64; 31];
    x[30] = 0x00a5_0001_0000_4010; // lr signed with a PAC in the top bits
    let regs = core_reader::Arm64Regs { x, sp: 0x1_6f00_0100, pc: 0x0021_0001_0000_4000, pstate: 0, tpidr: None };
    let bits = writer::Note { owner: "addrable bits", payload: [4u32.to_le_bytes(), 47u32.to_le_bytes(), 47u32.to_le_bytes(), [0; 4]].concat() };
    let bytes = writer::write(
        writer::CPU_TYPE_ARM64,
        &[State::Arm64 { regs, neon: None, exc: Some((0x18, 0x9200_0006, 0)) }],
        &[Seg { addr: 0x1_6f00_0000, data: vec![0; 0x1000], prot: 3 }],
        &[bits],
    );
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pac.core");
    std::fs::write(&p, bytes).unwrap();
    let core = open(&p);
    let Registers::Arm64(r) = core.threads[0].regs else { panic!("arm64") };
    assert_eq!((r.pc, r.x[30], r.sp), (0x1_0000_4000, 0x1_0000_4010, 0x1_6f00_0100));
    // A data abort (ESR class 0x24) at FAR: SIGSEGV there.
    assert_eq!(core.signal.as_ref().map(|s| (s.signo, s.addr, s.thread)), Some((11, Some(0x18), Some(0))));
}
