//! Minidumps (`godump create --format minidump`): the Breakpad flavour that
//! Linux tools read (rust-minidump, lldb, Crashpad), but with all of the
//! memory the ELF core would hold, in a `Memory64ListStream`.
//!
//! Built from the same inputs as the ELF core (the memory map and the
//! kernel-format notes), so it works for any [`Target`].
//!
//! Layout: header, stream directory, the small streams, padding to a page,
//! then the memory ranges back to back (the `SparseStream` the dumper fills).

use elfwriter::elf::{NT_AUXV, NT_PRFPREG, NT_PRPSINFO, NT_PRSTATUS};
use elfwriter::payload::{PrPsInfo, PrStatus};
use elfwriter::{Machine, Note};

use crate::target::{MemoryMapEntry, Target};
use crate::Result;

// Stream types as the reader (core-reader, through the minidump crate) knows them.
use minidump::format::MINIDUMP_STREAM_TYPE as Stream;

/// One thread, from its notes.
struct ThreadRegs<'a> {
    tid: u32,
    gregs: &'a [u8],
    fpregs: Option<&'a [u8]>,
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    b.get(i * 8..i * 8 + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or_default())).unwrap_or(0)
}

fn threads_from_notes(notes: &[Note], m: Machine) -> Vec<ThreadRegs<'_>> {
    let mut out: Vec<ThreadRegs> = Vec::new();
    for n in notes {
        let st = (n.ntype == NT_PRSTATUS).then(|| PrStatus::parse(&n.desc, m.gregs_len())).flatten();
        if let Some((st, gregs)) = st {
            out.push(ThreadRegs { tid: st.pid as u32, gregs, fpregs: None });
        } else if n.ntype == NT_PRFPREG && n.name == "CORE" {
            if let Some(t) = out.last_mut() {
                t.fpregs = Some(&n.desc);
            }
        }
    }
    out
}

/// Windows `CONTEXT` for amd64 (1232 bytes) from `user_regs_struct` + FXSAVE.
fn context_amd64(t: &ThreadRegs) -> Vec<u8> {
    let g = |i| u64_at(t.gregs, i);
    let mut c = vec![0u8; 1232];
    let mut put = |at: usize, v: &[u8]| c[at..at + v.len()].copy_from_slice(v);
    // CONTEXT_AMD64 | CONTROL | INTEGER | SEGMENTS | FLOATING_POINT
    put(48, &0x0010_000fu32.to_le_bytes());
    let seg = [(56, 17), (58, 23), (60, 24), (62, 25), (64, 26), (66, 20)]; // cs ds es fs gs ss
    for (at, i) in seg {
        put(at, &(g(i) as u16).to_le_bytes());
    }
    put(68, &(g(18) as u32).to_le_bytes()); // eflags
    // rax rcx rdx rbx rsp rbp rsi rdi r8..r15 rip, by user_regs_struct index.
    let order = [10, 11, 12, 5, 19, 4, 13, 14, 9, 8, 7, 6, 3, 2, 1, 0, 16];
    for (k, i) in order.into_iter().enumerate() {
        put(120 + 8 * k, &g(i).to_le_bytes());
    }
    if let Some(fp) = t.fpregs.filter(|f| f.len() >= 512) {
        put(52, &fp[24..28]); // MxCsr
        put(256, &fp[..512]); // FltSave is the FXSAVE image
    }
    c
}

/// Windows `CONTEXT` for arm64 (912 bytes) from `user_pt_regs` + fpsimd.
fn context_arm64(t: &ThreadRegs) -> Vec<u8> {
    let g = |i| u64_at(t.gregs, i);
    let mut c = vec![0u8; 912];
    let mut put = |at: usize, v: &[u8]| c[at..at + v.len()].copy_from_slice(v);
    put(0, &0x0040_0007u32.to_le_bytes()); // ARM64 | CONTROL | INTEGER | FLOATING_POINT
    put(4, &(g(33) as u32).to_le_bytes()); // cpsr = pstate
    for i in 0..31 {
        put(8 + 8 * i, &g(i).to_le_bytes()); // x0..x28, fp, lr
    }
    put(256, &g(31).to_le_bytes()); // sp
    put(264, &g(32).to_le_bytes()); // pc
    if let Some(fp) = t.fpregs.filter(|f| f.len() >= 520) {
        put(272, &fp[..512]); // v0..v31
        put(788, &fp[512..516]); // fpsr
        put(784, &fp[516..520]); // fpcr
    }
    c
}

/// The bytes before the memory: everything but the ranges' contents, which
/// follow at `head.len()` in the order of `ranges`.
pub fn head(t: &dyn Target, map: &[MemoryMapEntry], notes: &[Note], ranges: &[(u64, u64)], page: u64) -> Result<Vec<u8>> {
    let m = t.machine();
    let threads = threads_from_notes(notes, m);
    let psinfo = notes.iter().find(|n| n.ntype == NT_PRPSINFO).and_then(|n| PrPsInfo::parse(&n.desc));
    let pid = psinfo.as_ref().map_or(0, |p| p.pid as u32);
    let comm = psinfo.as_ref().map(|p| String::from_utf8_lossy(&p.fname).into_owned()).unwrap_or_default();
    let args = psinfo.as_ref().map(|p| String::from_utf8_lossy(&p.psargs).into_owned()).unwrap_or_default();

    // The blob grows as streams are appended; RVAs are offsets into it.
    let mut b = vec![0u8; 32];
    let mut dir: Vec<(u32, u32, u32)> = Vec::new();
    fn append(b: &mut Vec<u8>, data: &[u8]) -> u32 {
        b.resize(b.len().div_ceil(8) * 8, 0);
        let rva = b.len() as u32;
        b.extend_from_slice(data);
        rva
    }
    fn mdstring(b: &mut Vec<u8>, s: &str) -> u32 {
        let u: Vec<u16> = s.encode_utf16().collect();
        let mut d = ((u.len() * 2) as u32).to_le_bytes().to_vec();
        for c in u.iter().chain(std::iter::once(&0)) {
            d.extend_from_slice(&c.to_le_bytes());
        }
        append(b, &d)
    }
    // Where each range's bytes will be: needed up front for thread stacks.
    // Memory starts on a page after everything else; the exact start is
    // only known at the end, so stacks are placed with a fixed-point pass.
    let stream = |b: &mut Vec<u8>, dir: &mut Vec<(u32, u32, u32)>, ty: Stream, data: &[u8]| {
        let ty = ty as u32;
        let rva = append(b, data);
        dir.push((ty, data.len() as u32, rva));
    };

    // SystemInfo
    let mut si = vec![0u8; 56];
    let arch: u16 = match m {
        Machine::Amd64 => 9,
        Machine::Arm64 => 12,
    };
    si[0..2].copy_from_slice(&arch.to_le_bytes());
    si[6] = std::thread::available_parallelism().map(|n| n.get().min(255) as u8).unwrap_or(1);
    si[20..24].copy_from_slice(&0x8201u32.to_le_bytes()); // Linux (Breakpad's platform id)
    let os = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let csd = mdstring(&mut b, os.trim());
    si[24..28].copy_from_slice(&csd.to_le_bytes());
    stream(&mut b, &mut dir, Stream::SystemInfoStream, &si);

    // MiscInfo: just the pid.
    let mut mi = vec![0u8; 24];
    mi[0..4].copy_from_slice(&24u32.to_le_bytes());
    mi[4..8].copy_from_slice(&1u32.to_le_bytes()); // MINIDUMP_MISC1_PROCESS_ID
    mi[8..12].copy_from_slice(&pid.to_le_bytes());
    stream(&mut b, &mut dir, Stream::MiscInfoStream, &mi);

    // Linux streams.
    let status = format!("Name:\t{comm}\nState:\tS (sleeping)\nTgid:\t{pid}\nPid:\t{pid}\nPPid:\t0\nThreads:\t{}\n", threads.len());
    stream(&mut b, &mut dir, Stream::LinuxProcStatus, status.as_bytes());
    let mut cmd = args.replace(' ', "\0").into_bytes();
    cmd.push(0);
    stream(&mut b, &mut dir, Stream::LinuxCmdLine, &cmd);
    if let Some(a) = notes.iter().find(|n| n.ntype == NT_AUXV) {
        stream(&mut b, &mut dir, Stream::LinuxAuxv, &a.desc);
    }
    let mut maps = String::new();
    for e in map {
        let p = e.perms;
        maps.push_str(&format!(
            "{:x}-{:x} {}{}{}{} {:08x} 00:00 {} {}\n",
            e.start,
            e.end,
            if p.read { 'r' } else { '-' },
            if p.write { 'w' } else { '-' },
            if p.exec { 'x' } else { '-' },
            if p.shared { 's' } else { 'p' },
            e.offset,
            if e.file_backed { 1 } else { 0 },
            e.path.as_deref().unwrap_or("")
        ));
    }
    stream(&mut b, &mut dir, Stream::LinuxMaps, maps.as_bytes());

    // ModuleList: each file mapped at offset 0, spanning its mappings.
    let mut mods: Vec<(u64, u64, &str)> = Vec::new();
    for e in map.iter().filter(|e| e.file_backed) {
        let p = e.path.as_deref().unwrap_or("");
        if let Some(last) = mods.iter_mut().rev().find(|x| x.2 == p && e.offset != 0) {
            last.1 = last.1.max(e.end);
        } else if e.offset == 0 {
            mods.push((e.start, e.end, p));
        }
    }
    let mut ml = (mods.len() as u32).to_le_bytes().to_vec();
    for (start, end, p) in &mods {
        let name = mdstring(&mut b, p);
        let mut md = vec![0u8; 108];
        md[0..8].copy_from_slice(&start.to_le_bytes());
        md[8..12].copy_from_slice(&((end - start).min(u32::MAX as u64) as u32).to_le_bytes());
        md[20..24].copy_from_slice(&name.to_le_bytes());
        ml.extend_from_slice(&md);
    }
    stream(&mut b, &mut dir, Stream::ModuleListStream, &ml);

    // Contexts.
    let mut ctx = Vec::new();
    for th in &threads {
        let c = match m {
            Machine::Amd64 => context_amd64(th),
            Machine::Arm64 => context_arm64(th),
        };
        let len = c.len() as u32;
        ctx.push((append(&mut b, &c), len));
    }

    // Memory64List and the thread list need the memory's start, which
    // depends on their own sizes: both are fixed-size, so compute it.
    let tl_len = 4 + 48 * threads.len();
    let m64_len = 16 + 16 * ranges.len();
    let dir_len = 12 * (dir.len() + 2);
    let mut end = b.len();
    for len in [tl_len, m64_len, dir_len] {
        end = end.div_ceil(8) * 8 + len;
    }
    let mem_start = (end as u64).div_ceil(page) * page;
    let mut offs = Vec::with_capacity(ranges.len());
    let mut o = mem_start;
    for r in ranges {
        offs.push(o);
        o += r.1;
    }

    let mut tl = (threads.len() as u32).to_le_bytes().to_vec();
    for (th, (crva, clen)) in threads.iter().zip(&ctx) {
        let sp = match m {
            Machine::Amd64 => u64_at(th.gregs, 19),
            Machine::Arm64 => u64_at(th.gregs, 31),
        };
        // The stack: sp to the end of its range, when that lies below 4 GiB
        // of file (the descriptor is 32-bit); else only the address.
        let (mut start, mut size, mut rva) = (sp, 0u32, 0u32);
        if let Some(i) = ranges.iter().position(|r| r.0 <= sp && sp < r.0 + r.1) {
            let off = offs[i] + (sp - ranges[i].0);
            let len = ranges[i].0 + ranges[i].1 - sp;
            if off + len <= u32::MAX as u64 {
                (start, size, rva) = (sp, len as u32, off as u32);
            }
        }
        let mut e = vec![0u8; 48];
        e[0..4].copy_from_slice(&th.tid.to_le_bytes());
        e[24..32].copy_from_slice(&start.to_le_bytes());
        e[32..36].copy_from_slice(&size.to_le_bytes());
        e[36..40].copy_from_slice(&rva.to_le_bytes());
        e[40..44].copy_from_slice(&clen.to_le_bytes());
        e[44..48].copy_from_slice(&crva.to_le_bytes());
        tl.extend_from_slice(&e);
    }
    stream(&mut b, &mut dir, Stream::ThreadListStream, &tl);

    let mut m64 = (ranges.len() as u64).to_le_bytes().to_vec();
    m64.extend_from_slice(&mem_start.to_le_bytes());
    for r in ranges {
        m64.extend_from_slice(&r.0.to_le_bytes());
        m64.extend_from_slice(&r.1.to_le_bytes());
    }
    stream(&mut b, &mut dir, Stream::Memory64ListStream, &m64);

    let mut d = Vec::new();
    for (ty, len, rva) in &dir {
        d.extend_from_slice(&ty.to_le_bytes());
        d.extend_from_slice(&len.to_le_bytes());
        d.extend_from_slice(&rva.to_le_bytes());
    }
    let dir_rva = append(&mut b, &d);
    debug_assert!(b.len() as u64 <= mem_start);
    b.resize(mem_start as usize, 0);

    b[0..4].copy_from_slice(b"MDMP");
    b[4..8].copy_from_slice(&0xa793u32.to_le_bytes());
    b[8..12].copy_from_slice(&(dir.len() as u32).to_le_bytes());
    b[12..16].copy_from_slice(&dir_rva.to_le_bytes());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as u32).unwrap_or(0);
    b[20..24].copy_from_slice(&now.to_le_bytes());
    Ok(b)
}
