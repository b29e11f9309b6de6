//! Hand-built cores for what the real producers here do not write: Delve's
//! own note format, PN_XNUM, arm64 NT_ARM_TLS, gdb-style NT_FILE; and damaged
//! input, which must never panic.

use std::path::{Path, PathBuf};

use core_reader::{Arch, Core, Error, OpenOptions, Registers};

const EM_X86_64: u16 = object::elf::EM_X86_64.0;
const EM_AARCH64: u16 = object::elf::EM_AARCH64.0;

struct Seg {
    vaddr: u64,
    data: Vec<u8>,
    memsz: u64,
}

fn note(out: &mut Vec<u8>, name: &[u8], t: u32, desc: &[u8]) {
    out.extend_from_slice(&(name.len() as u32).to_le_bytes());
    out.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    out.extend_from_slice(&t.to_le_bytes());
    out.extend_from_slice(name);
    while out.len() & 3 != 0 {
        out.push(0);
    }
    out.extend_from_slice(desc);
    while out.len() & 3 != 0 {
        out.push(0);
    }
}

/// A little ELF64 core: header, program headers, one PT_NOTE, PT_LOADs (RW).
fn core(machine: u16, notes: &[u8], segs: &[Seg], xnum: bool) -> Vec<u8> {
    core_with_flags(machine, notes, segs, xnum, 6)
}

fn core_with_flags(machine: u16, notes: &[u8], segs: &[Seg], xnum: bool, flags: u32) -> Vec<u8> {
    let phnum = 1 + segs.len();
    let notes_at = 64 + 56 * phnum;
    let mut data_at = notes_at + notes.len();
    let mut out = vec![0u8; 64];
    out[..4].copy_from_slice(b"\x7fELF");
    out[4] = 2;
    out[5] = 1;
    out[6] = 1;
    out[16..18].copy_from_slice(&4u16.to_le_bytes());
    out[18..20].copy_from_slice(&machine.to_le_bytes());
    out[20..24].copy_from_slice(&1u32.to_le_bytes());
    out[32..40].copy_from_slice(&64u64.to_le_bytes());
    out[52..54].copy_from_slice(&64u16.to_le_bytes());
    out[54..56].copy_from_slice(&56u16.to_le_bytes());
    out[56..58].copy_from_slice(&(if xnum { 0xffff } else { phnum as u16 }).to_le_bytes());
    out[58..60].copy_from_slice(&64u16.to_le_bytes());
    let ph = |out: &mut Vec<u8>, t: u32, flags: u32, off: usize, vaddr: u64, filesz: usize, memsz: u64| {
        for v in [t, flags] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for v in [off as u64, vaddr, 0, filesz as u64, memsz, 0x1000] {
            out.extend_from_slice(&v.to_le_bytes());
        }
    };
    ph(&mut out, 4, 0, notes_at, 0, notes.len(), 0);
    for s in segs {
        ph(&mut out, 1, flags, data_at, s.vaddr, s.data.len(), s.memsz);
        data_at += s.data.len();
    }
    out.extend_from_slice(notes);
    for s in segs {
        out.extend_from_slice(&s.data);
    }
    if xnum {
        // Section header 0 carries the real program header count in sh_info.
        let shoff = out.len() as u64;
        out[40..48].copy_from_slice(&shoff.to_le_bytes());
        let mut sh = vec![0u8; 64];
        sh[44..48].copy_from_slice(&(phnum as u32).to_le_bytes());
        out.extend_from_slice(&sh);
    }
    out
}

fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    (dir, p)
}

fn open(p: &Path) -> Core {
    Core::open(p, &OpenOptions::default()).unwrap()
}

fn delve_thread(tid: u64, regs: &[(&str, u64)]) -> Vec<u8> {
    let mut d = Vec::new();
    for v in [tid, 0xdead, 0xbeef, 0xcafe, 0x7000] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d.push(0);
    d.extend_from_slice(&0u64.to_le_bytes());
    d.extend_from_slice(&(regs.len() as u32).to_le_bytes());
    for (n, v) in regs {
        d.extend_from_slice(&(n.len() as u16).to_le_bytes());
        d.extend_from_slice(n.as_bytes());
        d.extend_from_slice(&8u16.to_le_bytes());
        d.extend_from_slice(&v.to_le_bytes());
    }
    // A 16-byte vector register is skipped, not misread.
    d[49..53].copy_from_slice(&((regs.len() + 1) as u32).to_le_bytes());
    d.extend_from_slice(&4u16.to_le_bytes());
    d.extend_from_slice(b"XMM0");
    d.extend_from_slice(&16u16.to_le_bytes());
    d.extend_from_slice(&[0xab; 16]);
    d
}

#[test]
fn delve_format_core() {
    let mut n = Vec::new();
    note(&mut n, b"Delve Header", 0x444C_5645, b"linux/amd64\n1.27.2\nTarget Pid: 4242\nEntry Point: 0x401000\n");
    note(&mut n, b"", 0x444C_5654, &delve_thread(11, &[("Rip", 0x401234), ("Rsp", 0xc000), ("Rbp", 0xc008), ("Fs_base", 0x77), ("Rflags", 0x246)]));
    note(&mut n, b"", 0x444C_5654, &delve_thread(12, &[]));
    let segs = [Seg { vaddr: 0xc000, data: vec![7; 0x100], memsz: 0x100 }];
    let (_d, p) = write("delve.core", &core(EM_X86_64, &n, &segs, false));
    let c = open(&p);
    assert_eq!(c.pid, Some(4242));
    assert_eq!(c.threads.len(), 2);
    let Registers::Amd64(r) = c.threads[0].regs else { panic!() };
    assert_eq!((r.rip, r.rsp, r.rbp, r.fs_base, r.eflags), (0x401234, 0xc000, 0xc008, 0x77, 0x246));
    // Without named registers the fixed header fields stand in.
    let t = &c.threads[1];
    assert_eq!((t.tid, t.regs.pc(), t.regs.sp(), t.regs.fp()), (12, 0xdead, 0xbeef, 0xcafe));
    // No auxv, no NT_FILE, no NT_PRPSINFO: nothing names the executable.
    assert!(c.exe.is_none());
    assert!(c.warnings.iter().all(|w| matches!(w, core_reader::Warning::ExeUnnamed { container: "core" })), "{:?}", c.warnings);
    assert_eq!(c.read_u64(0xc000).unwrap(), 0x0707070707070707);
}

fn prstatus_arm64(tid: u32, pc: u64, sp: u64) -> Vec<u8> {
    let mut d = vec![0u8; 0x188];
    d[12..14].copy_from_slice(&11u16.to_le_bytes());
    d[32..36].copy_from_slice(&tid.to_le_bytes());
    for i in 0..31u64 {
        d[112 + 8 * i as usize..][..8].copy_from_slice(&(0x100 + i).to_le_bytes());
    }
    d[112 + 31 * 8..][..8].copy_from_slice(&sp.to_le_bytes());
    d[112 + 32 * 8..][..8].copy_from_slice(&pc.to_le_bytes());
    d
}

#[test]
fn arm64_notes_tls_siginfo_and_gdb_nt_file() {
    let mut n = Vec::new();
    note(&mut n, b"CORE", 1, &prstatus_arm64(100, 0x1234, 0x8000));
    note(&mut n, b"LINUX", 0x401, &0xabcdu64.to_le_bytes()); // NT_ARM_TLS
    note(&mut n, b"LINUX", 0x405, &[1, 2, 3, 4]); // NT_ARM_PAC_MASK, kept raw
    // siginfo: SIGSEGV, errno 0, code SEGV_MAPERR, si_addr 0x18.
    let mut si = vec![0u8; 128];
    si[0..4].copy_from_slice(&11i32.to_le_bytes());
    si[8..12].copy_from_slice(&1i32.to_le_bytes());
    si[16..24].copy_from_slice(&0x18u64.to_le_bytes());
    note(&mut n, b"CORE", 0x5349_4749, &si);
    note(&mut n, b"CORE", 1, &prstatus_arm64(101, 0x5678, 0x9000));
    // gdb style NT_FILE: page size 1, byte offsets; the file does not exist.
    let mut f = Vec::new();
    for v in [1u64, 1, 0x10000, 0x12000, 0x1000] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(b"/nonexistent/lib.so\0");
    note(&mut n, b"CORE", 0x4649_4c45, &f);
    let segs = [
        // Dumped first page of the file mapping, then an undumped tail.
        Seg { vaddr: 0x10000, data: vec![1; 0x1000], memsz: 0x2000 },
        // Anonymous: the undumped tail reads as zeros.
        Seg { vaddr: 0x20000, data: vec![2; 0x10], memsz: 0x1000 },
    ];
    let (_d, p) = write("arm64.core", &core(EM_AARCH64, &n, &segs, false));
    let c = open(&p);
    assert_eq!(c.arch, Arch::Arm64);
    assert_eq!(c.threads.len(), 2);
    let Registers::Arm64(r) = c.threads[0].regs else { panic!() };
    assert_eq!(r.tpidr, Some(0xabcd));
    assert_eq!(c.threads[0].regs.lr(), Some(0x100 + 30));
    assert_eq!(c.threads[0].regs.fp(), 0x100 + 29);
    assert_eq!(c.threads[0].extra_regsets.len(), 2);
    assert_eq!(c.threads[1].extra_regsets.len(), 0);
    let sig = c.signal.clone().unwrap();
    assert_eq!((sig.signo, sig.code, sig.addr, sig.thread), (11, 1, Some(0x18), Some(0)));
    let m = &c.mappings[0];
    assert_eq!((m.file_offset, m.path.as_deref()), (0x1000, Some(Path::new("/nonexistent/lib.so"))));
    assert!(c.warnings.iter().any(|w| matches!(w, core_reader::Warning::MappedFilesMissing { files } if files.iter().any(|f| f == "/nonexistent/lib.so"))), "{:?}", c.warnings);
    assert_eq!(c.memory.read_u8(0x10fff).unwrap(), 1);
    // The file's undumped part is not silently zeros.
    assert!(matches!(c.memory.read_u8(0x11000), Err(Error::Unmapped { addr: 0x11000 })));
    assert_eq!(c.read_u64(0x20ff0).unwrap(), 0);
    let mut b = [9u8; 0x20];
    c.read_memory(0x20000, &mut b).unwrap();
    assert_eq!(&b[..0x10], &[2; 0x10]);
    assert_eq!(&b[0x10..], &[0; 0x10]);
}

#[test]
fn undumped_read_only_memory_without_nt_file_is_not_zeros() {
    let mut n = Vec::new();
    note(&mut n, b"CORE", 1, &[0u8; 0x150]);
    let segs = [Seg { vaddr: 0x10000, data: vec![5; 0x10], memsz: 0x1000 }];
    let (_d, p) = write("ro.core", &core_with_flags(EM_X86_64, &n, &segs, false, 5));
    let c = open(&p);
    assert_eq!(c.memory.read_u8(0x1000f).unwrap(), 5);
    assert!(matches!(c.memory.read_u8(0x10010), Err(Error::Unmapped { addr: 0x10010 })));
}

#[test]
fn pn_xnum_many_segments() {
    // More than 0xffff segments: e_phnum = PN_XNUM, count in section 0.
    let count = 70_000u64;
    let mut n = Vec::new();
    note(&mut n, b"CORE", 1, &[0u8; 0x150]);
    let segs: Vec<Seg> = (0..count)
        .map(|i| Seg { vaddr: 0x1000_0000 + i * 0x1000, data: (i as u32).to_le_bytes().to_vec(), memsz: 0x1000 })
        .collect();
    let (_d, p) = write("xnum.core", &core(EM_X86_64, &n, &segs, true));
    // How fast this opens is a benchmark's business (docs/BENCHMARKS.md), not a test's.
    let c = open(&p);
    assert_eq!(c.mappings.len() as u64, count);
    assert_eq!(c.memory.read_u32(0x1000_0000 + 69_999 * 0x1000).unwrap(), 69_999);
    // One read across every segment boundary of the first few: data, zeros, data.
    let mut b = vec![0u8; 0x1004];
    c.read_memory(0x1000_0000, &mut b).unwrap();
    assert_eq!(&b[0x1000..], &1u32.to_le_bytes());
}

#[test]
fn not_a_core() {
    let (_d, p) = write("text", b"hello world, not a core");
    let e = Core::open(&p, &OpenOptions::default()).unwrap_err();
    assert!(matches!(e, Error::UnknownFormat { .. }), "{e}");
    assert!(e.to_string().contains("text"), "{e}");
    let (_d, p) = write("empty", b"");
    assert!(Core::open(&p, &OpenOptions::default()).is_err());
    let e = Core::open(Path::new("/nonexistent/core"), &OpenOptions::default()).unwrap_err();
    assert!(e.to_string().contains("/nonexistent/core"), "{e}");
    // A core whose program headers are gone says so.
    let mut n = Vec::new();
    note(&mut n, b"CORE", 1, &[0u8; 0x150]);
    let mut b = core(EM_X86_64, &n, &[], false);
    b[32..40].copy_from_slice(&0x10_0000u64.to_le_bytes());
    let (_d, p) = write("nophdrs", &b);
    let e = Core::open(&p, &OpenOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Malformed { offset: 0x10_0000, .. }), "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
    // An executable is ELF but not a core.
    let exe = std::env::current_exe().unwrap();
    let e = Core::open(&exe, &OpenOptions::default()).unwrap_err();
    assert!(e.to_string().contains("not a core"), "{e}");
}

/// xorshift: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn damaged_input_never_panics() {
    let mut n = Vec::new();
    note(&mut n, b"CORE", 1, &[0u8; 0x150]);
    note(&mut n, b"CORE", 3, &[0u8; 0x88]);
    note(&mut n, b"CORE", 6, &[1u8; 0x40]);
    let mut f = Vec::new();
    for v in [1u64, 0x1000, 0x10000, 0x11000, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(b"/bin/sh\0");
    note(&mut n, b"CORE", 0x4649_4c45, &f);
    note(&mut n, b"Delve Header", 0x444C_5645, b"linux/amd64\n");
    note(&mut n, b"", 0x444C_5654, &delve_thread(1, &[("Rip", 1)]));
    let segs = [Seg { vaddr: 0x10000, data: vec![3; 0x200], memsz: 0x1000 }];
    let good = core(EM_X86_64, &n, &segs, false);
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("fuzz.core");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for i in 0..600 {
        let mut b = good.clone();
        match i % 3 {
            // Flip a few bytes anywhere in the headers and notes.
            0 | 1 => {
                for _ in 0..1 + rng.next() % 8 {
                    let at = (rng.next() as usize) % (b.len() - 0x200);
                    b[at] = match rng.next() % 4 {
                        0 => 0xff,
                        1 => 0,
                        _ => rng.next() as u8,
                    };
                }
            }
            // Cut anywhere.
            _ => b.truncate((rng.next() as usize) % b.len()),
        }
        std::fs::write(&p, &b).unwrap();
        if let Ok(c) = Core::open(&p, &OpenOptions::default()) {
            // Whatever opened must be readable without panics too.
            for r in c.memory.regions() {
                let _ = c.memory.read(r.start, &mut [0u8; 64]);
                let _ = c.memory.read_cstring(r.start, 100);
            }
            for t in &c.threads {
                let _ = c.read_u64(t.regs.sp());
                let _ = t.regs.named();
            }
        }
    }
}

/// A core whose NT_FILE names a FIFO, a device and a directory: opening it
/// must not block on the FIFO (open(2) of a FIFO waits for a writer) nor map
/// the others; they are missing files with a warning (bounds audit).
#[test]
fn nt_file_naming_a_fifo_or_a_device_does_not_hang() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) && tests::tools::unavailable("mkfifo (makes the FIFO)") {
        return;
    }
    let mut n = Vec::new();
    note(&mut n, b"CORE", 1, &[0u8; 0x150]);
    let mut f = Vec::new();
    for v in [3u64, 0x1000, 0x10000, 0x11000, 0, 0x20000, 0x21000, 0, 0x30000, 0x31000, 0] {
        f.extend_from_slice(&v.to_le_bytes());
    }
    f.extend_from_slice(fifo.to_str().unwrap().as_bytes());
    f.extend_from_slice(b"\0/dev/zero\0/\0");
    note(&mut n, b"CORE", 0x4649_4c45, &f);
    let segs = [Seg { vaddr: 0x10000, data: vec![3; 0x200], memsz: 0x1000 }];
    let bytes = core(EM_X86_64, &n, &segs, false);
    let p = dir.path().join("fifo.core");
    std::fs::write(&p, &bytes).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = Core::open(&p, &OpenOptions::default()).map(|c| c.warnings);
        let _ = tx.send(r);
    });
    let warnings = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("Core::open blocked on a FIFO named by NT_FILE")
        .unwrap();
    assert!(warnings.iter().any(|w| w.to_string().contains("not found") && w.to_string().contains("fifo")), "{warnings:?}");
    // And from bytes in memory, the same.
    let c = Core::from_bytes(Path::new("mem.core"), bytes, &OpenOptions::default()).unwrap();
    assert_eq!(c.threads.len(), 1);
}
