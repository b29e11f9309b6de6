//! Opening a minidump: Windows' `MiniDumpWriteDump`, Breakpad and Crashpad,
//! and the `minidump-writer` crate on Linux all write this format.
//!
//! The `minidump` crate decodes the directory and the structured streams
//! (system info, misc info, threads and their contexts, the exception,
//! modules, memory info). The two memory lists we walk ourselves: the crate
//! drops a whole `Memory64List` when one range runs past the end of the file,
//! and we would rather keep what a truncated dump still holds and say what
//! is missing. The Linux text streams (`/proc` files) are read raw.
//!
//! Memory is layered like the ELF reader's: the executable's read-only
//! parts from its file on disk (where the dump has no copy), then thread
//! stacks, then the memory lists, each winning over the previous. Every
//! byte is borrowed from the mapped dump or file, never copied.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use minidump::{
    Minidump, MinidumpContext, MinidumpException, MinidumpMemoryInfoList, MinidumpMiscInfo, MinidumpModule,
    MinidumpModuleList, MinidumpRawContext, MinidumpStream, MinidumpSystemInfo, MinidumpThreadList,
};

use crate::exe::{self, Mismatch, AT_ENTRY};
use crate::image::{self, Image, ImageFormat};
use crate::le::{bytes_at, u32_at, u64_at};
use crate::model::*;
use elfwriter::elf::NT_FPREGSET;
use crate::source::map_file;
use crate::spliced::{Backing, Builder, Bytes, Missing, Region};
use crate::{Error, Result, SplicedMemory, Warning};

// Stream types (minidumpapiset.h; Breakpad's 0x4767 "Gg" range for Linux),
// as the minidump crate names them; dump's writer uses the same.
use minidump::format::MINIDUMP_STREAM_TYPE as Stream;
const MEMORY_LIST: u32 = Stream::MemoryListStream as u32;
const MEMORY64_LIST: u32 = Stream::Memory64ListStream as u32;
const LINUX_PROC_STATUS: u32 = Stream::LinuxProcStatus as u32;
const LINUX_CMD_LINE: u32 = Stream::LinuxCmdLine as u32;
const LINUX_AUXV: u32 = Stream::LinuxAuxv as u32;
const LINUX_MAPS: u32 = Stream::LinuxMaps as u32;

/// More threads, modules or memory ranges than this is not a real process.
const MAX_ENTRIES: u64 = 1 << 20;

fn malformed(path: &Path, what: impl Into<String>, offset: u64) -> Error {
    Error::Malformed {
        path: path.to_path_buf(),
        what: what.into(),
        offset,
    }
}

/// The directory: stream type -> (file offset, size), for raw streams and
/// for naming offsets in messages.
type Directory = HashMap<u32, (u64, u64)>;

/// Read a structured stream; a stream that is present but does not decode
/// becomes a warning (the rest of the dump is still worth reading).
fn stream<'a, S: MinidumpStream<'a>>(
    dump: &'a Minidump<'a, &'a [u8]>,
    dir: &Directory,
    path: &Path,
    what: &str,
    warnings: &mut Vec<Warning>,
) -> Option<S> {
    match dump.get_stream::<S>() {
        Ok(s) => Some(s),
        Err(minidump::Error::StreamNotFound) => None,
        Err(e) => {
            let at = dir.get(&S::STREAM_TYPE).map_or(0, |d| d.0);
            warnings.push(Warning::MalformedStream {
                path: path.to_path_buf(),
                stream: what.to_string(),
                offset: at,
                error: e.to_string(),
            });
            None
        }
    }
}

/// A raw stream's bytes, clipped to the file.
fn raw<'a>(d: &'a [u8], dir: &Directory, ty: u32) -> Option<(u64, &'a [u8])> {
    let &(off, size) = dir.get(&ty)?;
    let avail = size.min((d.len() as u64).saturating_sub(off));
    Some((off, bytes_at(d, off, avail)?))
}

/// Open the minidump in `data` (already decompressed): its directory, the
/// system (CPU, OS), the threads, the exception, the Linux streams, the
/// memory lists, the executable, the memory built from them, the mappings.
/// Each step is a function below; the order is the order of the warnings.
pub(crate) fn open(path: &Path, data: Bytes, opts: &OpenOptions, mut warnings: Vec<Warning>) -> Result<Core> {
    let d: &[u8] = (*data).as_ref();
    let file_size = d.len() as u64;
    let dump = Minidump::read(d).map_err(|e| malformed(path, format!("minidump header or stream directory ({e})"), 0))?;
    let dir: Directory = dump
        .all_streams()
        .map(|s| (s.stream_type, (u64::from(s.location.rva), u64::from(s.location.data_size))))
        .collect();
    let mut expected_size = dir.values().map(|(o, s)| o.saturating_add(*s)).max().unwrap_or(0);
    let r = Reader { path, dump: &dump, dir: &dir };

    let sys = system(&r, &mut warnings)?;
    let (mut threads, tebs, stacks) = threads(&r, &data, &sys, &mut warnings);
    let signal = exception(&r, &sys, &tebs, &mut threads, &mut warnings);
    let linux = linux_streams(d, &dir, sys.misc.as_ref());
    let (dumped, missing, first_missing) = dumped_memory(path, &data, &dir, &mut expected_size, &mut warnings);
    let mut core_only = Builder::new();
    for r in stacks.iter().chain(dumped.iter()) {
        core_only.add(r.clone());
    }
    let core_only = core_only.build();
    let (modules, recorded_exe, found) = executable(&r, opts, sys.arch, &linux.auxv, &core_only, &mut warnings);
    let (memory, exe_out, files) = memory(found.as_ref(), stacks, dumped, &missing, &mut warnings);
    let mappings = mappings(&r, linux.maps, &modules, found.as_ref(), &memory, &mut warnings);
    let truncated = truncation(path, file_size, expected_size, first_missing, &mut warnings);

    // The dump's own list of file-backed ranges (LinuxMaps / MemoryInfoList
    // with module paths) plays the part of NT_FILE.
    let file_mappings = mappings.iter().filter(|m| m.path.is_some()).cloned().collect();
    Ok(Core {
        path: path.to_path_buf(),
        format: Format::Minidump,
        arch: sys.arch,
        os: sys.os,
        pid: linux.pid,
        command: linux.command,
        exe: exe_out,
        recorded_exe,
        threads,
        mappings,
        auxv: linux.auxv,
        signal,
        memory,
        truncated,
        warnings,
        files,
        file_mappings,
    })
}

/// The decoded dump and its directory, which every step reads streams from.
struct Reader<'a> {
    path: &'a Path,
    dump: &'a Minidump<'a, &'a [u8]>,
    dir: &'a Directory,
}

impl<'a> Reader<'a> {
    /// A structured stream, as [`stream`] reads it.
    fn stream<S: MinidumpStream<'a>>(&self, what: &str, warnings: &mut Vec<Warning>) -> Option<S> {
        stream(self.dump, self.dir, self.path, what, warnings)
    }
}

/// What the system streams say.
struct System {
    info: MinidumpSystemInfo,
    misc: Option<MinidumpMiscInfo>,
    arch: Arch,
    os: Os,
}

/// Step 1: the CPU and OS (`SystemInfo`: without it no context decodes)
/// and `MiscInfo`.
fn system(r: &Reader<'_>, warnings: &mut Vec<Warning>) -> Result<System> {
    let path = r.path;
    let info: MinidumpSystemInfo = r.stream("SystemInfo", warnings).ok_or_else(|| {
        malformed(path, "minidump without a readable SystemInfo stream (its CPU is unknown)", 0)
    })?;
    let arch = match info.cpu {
        minidump::system_info::Cpu::X86_64 => Arch::Amd64,
        minidump::system_info::Cpu::Arm64 => Arch::Arm64,
        other => {
            return Err(Error::UnknownFormat {
                path: path.to_path_buf(),
                what: format!("a minidump of a {other:?} process; only amd64 and arm64 are read"),
            })
        }
    };
    let os = match info.os {
        minidump::system_info::Os::Windows => Os::Windows,
        minidump::system_info::Os::Linux | minidump::system_info::Os::Android => Os::Linux,
        minidump::system_info::Os::MacOs | minidump::system_info::Os::Ios => Os::MacOs,
        _ => Os::Unknown,
    };
    let misc: Option<MinidumpMiscInfo> = r.stream("MiscInfo", warnings);
    Ok(System { info, misc, arch, os })
}

/// Step 2: the threads with their registers, each one's TEB (kept aside:
/// the exception context replaces a thread's registers but must keep its
/// gs_base) and its stack memory.
fn threads(r: &Reader<'_>, data: &Bytes, sys: &System, warnings: &mut Vec<Warning>) -> (Vec<Thread>, Vec<u64>, Vec<Region>) {
    let mut threads = Vec::new();
    let mut tebs = Vec::new();
    let list: Option<MinidumpThreadList> = r.stream("ThreadList", warnings);
    let mut stacks = Vec::new();
    for t in list.iter().flat_map(|l| l.threads.iter()).take(MAX_ENTRIES as usize) {
        let tid = u64::from(t.raw.thread_id);
        stacks.extend(stack_region(data, t));
        match t.context(&sys.info, sys.misc.as_ref()).and_then(|c| thread_regs(&c, sys.os, t.raw.teb)) {
            Some((regs, extra)) => {
                threads.push(Thread {
                    tid,
                    regs,
                    signal: 0,
                    extra_regsets: extra,
                });
                tebs.push(t.raw.teb);
            }
            None => warnings.push(Warning::NoThreadContext {
                path: r.path.to_path_buf(),
                tid: t.raw.thread_id,
                arch: sys.arch.name(),
                offset: u64::from(t.raw.thread_context.rva),
            }),
        }
    }
    if threads.is_empty() {
        warnings.push(Warning::NoThreads { path: r.path.to_path_buf(), container: "minidump" });
    }
    (threads, tebs, stacks)
}

/// Step 3: the exception: which thread, why, and its registers at the
/// fault (the thread list holds them as of the dump, inside the handler).
fn exception(
    r: &Reader<'_>,
    sys: &System,
    tebs: &[u64],
    threads: &mut [Thread],
    warnings: &mut Vec<Warning>,
) -> Option<SignalInfo> {
    let exc = r.stream::<MinidumpException>("Exception", warnings)?;
    let rec = &exc.raw.exception_record;
    let index = threads.iter().position(|t| t.tid == u64::from(exc.thread_id));
    let si = exception_signal(sys.os, rec, index);
    if let (Some(i), Some(ctx)) = (index, exc.context(&sys.info, sys.misc.as_ref())) {
        if let Some((regs, extra)) = thread_regs(&ctx, sys.os, tebs[i]) {
            threads[i].regs = regs;
            threads[i].extra_regsets = extra;
        }
    }
    // A dump taken on request, not at a crash, still has an exception
    // stream: all zeros, Breakpad's "dump requested" (0xFFFFFFFF) or
    // Crashpad's "simulated" (0x0517a7ed) code. That is no signal.
    let requested = matches!(rec.exception_code, 0xFFFF_FFFF | 0x0517_a7ed)
        || (rec.exception_code == 0 && rec.exception_address == 0);
    if requested {
        return None;
    }
    if let Some(i) = index {
        threads[i].signal = si.signo;
    }
    Some(si)
}

/// What Breakpad's Linux streams say.
struct LinuxStreams {
    auxv: Vec<(u64, u64)>,
    command: Option<String>,
    pid: Option<u64>,
    maps: Option<Vec<Mapping>>,
}

/// Step 4: /proc/PID/{status,cmdline,auxv,maps} as the writer read them
/// (the pid from `MiscInfo` when it has one).
fn linux_streams(d: &[u8], dir: &Directory, misc: Option<&MinidumpMiscInfo>) -> LinuxStreams {
    LinuxStreams {
        auxv: raw(d, dir, LINUX_AUXV).map(|(_, b)| auxv(b)).unwrap_or_default(),
        command: raw(d, dir, LINUX_CMD_LINE).and_then(|(_, b)| cmdline(b)),
        pid: misc
            .and_then(|m| m.raw.process_id().copied())
            .map(u64::from)
            .or_else(|| raw(d, dir, LINUX_PROC_STATUS).and_then(|(_, b)| status_pid(b))),
        maps: raw(d, dir, LINUX_MAPS).map(|(_, b)| linux_maps(b)),
    }
}

/// Step 5: the modules, what the dump records of the main one, and the
/// executable's file, looked for with the dump's own memory (`core_only`).
fn executable(
    r: &Reader<'_>,
    opts: &OpenOptions,
    arch: Arch,
    auxv: &[(u64, u64)],
    core_only: &SplicedMemory,
    warnings: &mut Vec<Warning>,
) -> (Vec<MinidumpModule>, RecordedExe, Option<FoundExe>) {
    let modules: Vec<MinidumpModule> = r
        .stream::<MinidumpModuleList>("ModuleList", warnings)
        .map(|l| l.iter().take(MAX_ENTRIES as usize).cloned().collect())
        .unwrap_or_default();
    let main = main_module(&modules, auxv);
    let recorded_exe = recorded_exe(main, core_only);
    let found = find_exe(r.path, opts, arch, main, core_only, warnings);
    (modules, recorded_exe, found)
}

/// Step 6: the memory, in layers: the executable's read-only parts from its
/// file, the stacks, the memory lists; what a truncation cut off is
/// unreadable. With the executable for the model and the files backing memory.
fn memory(
    found: Option<&FoundExe>,
    stacks: Vec<Region>,
    dumped: Vec<Region>,
    missing: &[Missing],
    warnings: &mut Vec<Warning>,
) -> (SplicedMemory, Option<Executable>, Vec<MappedFile>) {
    let mut memory = Builder::new();
    let mut files = Vec::new();
    let mut exe_out = None;
    if let Some(fx) = found {
        fx.image.back_read_only(&mut memory, fx.bias, &fx.bytes);
        if fx.image.format == ImageFormat::Pe && fx.bias != 0 {
            warnings.push(Warning::NotRelocated {
                exe: fx.path.clone(),
                loaded: fx.image.link_base.wrapping_add(fx.bias),
                preferred: fx.image.link_base,
            });
        }
        exe_out = Some(Executable {
            bytes: fx.bytes.clone(),
            path: fx.path.clone(),
            load_bias: fx.bias,
            build_id: fx
                .image
                .elf
                .as_ref()
                .and_then(|i| i.gnu_build_id.clone().or_else(|| i.go_build_id.clone()))
                .or_else(|| fx.image.uuid.map(|u| u.to_vec())),
            mismatch: fx.mismatch.clone(),
        });
        files.push(MappedFile {
            path: fx.path.clone(),
            bytes: fx.bytes.clone(),
        });
    }
    for r in stacks.into_iter().chain(dumped) {
        memory.add(r);
    }
    for m in missing {
        memory.remove(m.start, m.end.saturating_sub(m.start));
        memory.add_missing(m.start, m.end, m.reason.clone());
    }
    (memory.build(), exe_out, files)
}

/// Step 7: the mappings: Linux's maps stream, else Windows'
/// `MemoryInfoList`, else the modules and the memory ranges.
fn mappings(
    r: &Reader<'_>,
    linux_maps: Option<Vec<Mapping>>,
    modules: &[MinidumpModule],
    found: Option<&FoundExe>,
    memory: &SplicedMemory,
    warnings: &mut Vec<Warning>,
) -> Vec<Mapping> {
    let info = r.stream::<MinidumpMemoryInfoList>("MemoryInfoList", warnings);
    match (linux_maps, info) {
        (Some(maps), _) if !maps.is_empty() => maps,
        (_, Some(info)) => windows_mappings(&info, modules, found),
        _ => fallback_mappings(modules, memory),
    }
}

/// Step 8: whether the file is shorter than its directory and memory lists
/// say, with a warning naming the first address lost.
fn truncation(
    path: &Path,
    file_size: u64,
    expected_size: u64,
    first_missing: Option<u64>,
    warnings: &mut Vec<Warning>,
) -> Option<Truncation> {
    let truncated = (file_size < expected_size).then_some(Truncation {
        file_size,
        expected_size,
        first_missing_addr: first_missing,
    });
    if let Some(t) = &truncated {
        warnings.push(t.warning(path, "minidump"));
    }
    truncated
}

/// Other register sets of a thread, by ELF note type.
type Regsets = Vec<(u32, Vec<u8>)>;

/// Registers and the raw FP state from a CPU context.
fn thread_regs(ctx: &MinidumpContext, os: Os, teb: u64) -> Option<(Registers, Regsets)> {
    match &ctx.raw {
        MinidumpRawContext::Amd64(c) => {
            let regs = Amd64Regs {
                r15: c.r15,
                r14: c.r14,
                r13: c.r13,
                r12: c.r12,
                rbp: c.rbp,
                rbx: c.rbx,
                r11: c.r11,
                r10: c.r10,
                r9: c.r9,
                r8: c.r8,
                rax: c.rax,
                rcx: c.rcx,
                rdx: c.rdx,
                rsi: c.rsi,
                rdi: c.rdi,
                orig_rax: u64::MAX,
                rip: c.rip,
                cs: u64::from(c.cs),
                eflags: u64::from(c.eflags),
                rsp: c.rsp,
                ss: u64::from(c.ss),
                // Minidumps do not record FS/GS bases. On Windows x64 GS
                // points at the thread's TEB, which the thread list records:
                // that is where Go finds its g (a TLS slot of the TEB).
                fs_base: 0,
                gs_base: if os == Os::Windows { teb } else { 0 },
                ds: u64::from(c.ds),
                es: u64::from(c.es),
                fs: u64::from(c.fs),
                gs: u64::from(c.gs),
            };
            // The FP area is FXSAVE's layout, the same 512 bytes as Linux's
            // NT_PRFPREG, so a converted core can carry it as is.
            Some((Registers::Amd64(regs), vec![(NT_FPREGSET.0, c.float_save.to_vec())]))
        }
        MinidumpRawContext::Arm64(c) => Some(arm64(&c.iregs, c.sp, c.pc, c.cpsr, &c.float_regs, c.fpsr, c.fpcr)),
        MinidumpRawContext::OldArm64(c) => Some(arm64(&c.iregs, c.sp, c.pc, c.cpsr, &c.float_regs, c.fpsr, c.fpcr)),
        _ => None,
    }
}

fn arm64(
    x: &[u64; 31],
    sp: u64,
    pc: u64,
    cpsr: u32,
    v: &[u128; 32],
    fpsr: u32,
    fpcr: u32,
) -> (Registers, Regsets) {
    let regs = Arm64Regs {
        x: *x,
        sp,
        pc,
        pstate: u64::from(cpsr),
        tpidr: None,
    };
    // Linux's NT_PRFPREG for arm64 (struct user_fpsimd_state): v0..v31,
    // fpsr, fpcr, 8 bytes of padding.
    let mut fp = Vec::with_capacity(528);
    for r in v {
        fp.extend_from_slice(&r.to_le_bytes());
    }
    fp.extend_from_slice(&fpsr.to_le_bytes());
    fp.extend_from_slice(&fpcr.to_le_bytes());
    fp.extend_from_slice(&[0; 8]);
    (Registers::Arm64(regs), vec![(NT_FPREGSET.0, fp)])
}

// Windows exception codes (ntstatus.h) that have a Unix signal counterpart.
const EXCEPTION_ACCESS_VIOLATION: u32 = 0xC000_0005;
const EXCEPTION_IN_PAGE_ERROR: u32 = 0xC000_0006;
const EXCEPTION_ILLEGAL_INSTRUCTION: u32 = 0xC000_001D;
const EXCEPTION_PRIV_INSTRUCTION: u32 = 0xC000_0096;
const EXCEPTION_INT_DIVIDE_BY_ZERO: u32 = 0xC000_0094;
const EXCEPTION_INT_OVERFLOW: u32 = 0xC000_0095;
const EXCEPTION_BREAKPOINT: u32 = 0x8000_0003;
const EXCEPTION_SINGLE_STEP: u32 = 0x8000_0004;
const EXCEPTION_STACK_OVERFLOW: u32 = 0xC000_00FD;
const STATUS_STACK_BUFFER_OVERRUN: u32 = 0xC000_0409; // __fastfail
const DBG_CONTROL_C: u32 = 0x4001_0005;

/// The exception as a `SignalInfo`. Windows: `code` is the exception code
/// (NTSTATUS) and `signo` the signal a Unix kernel would have sent for the
/// same fault, so crash grouping treats them alike. Breakpad on Linux stores
/// the signal number as the code and `si_code` as the flags.
fn exception_signal(os: Os, rec: &minidump::format::MINIDUMP_EXCEPTION, thread: Option<usize>) -> SignalInfo {
    let code = rec.exception_code;
    match os {
        Os::Windows => {
            let signo = match code {
                // Bad memory access: SIGSEGV.
                EXCEPTION_ACCESS_VIOLATION | EXCEPTION_STACK_OVERFLOW => 11,
                // A page of a mapped file could not be read in: SIGBUS.
                EXCEPTION_IN_PAGE_ERROR => 7,
                EXCEPTION_ILLEGAL_INSTRUCTION | EXCEPTION_PRIV_INSTRUCTION => 4,
                // Integer and the float exceptions 0xC000008C..=0xC0000093: SIGFPE.
                EXCEPTION_INT_DIVIDE_BY_ZERO | EXCEPTION_INT_OVERFLOW | 0xC000_008C..=0xC000_0093 => 8,
                EXCEPTION_BREAKPOINT | EXCEPTION_SINGLE_STEP => 5,
                STATUS_STACK_BUFFER_OVERRUN => 6,
                DBG_CONTROL_C => 2,
                _ => 0,
            };
            // For access violations the faulting data address is the second
            // parameter (the first says read/write/execute); that is what
            // si_addr would hold. Otherwise the faulting instruction.
            let params = rec.number_parameters.min(15) as usize;
            let addr = if matches!(code, EXCEPTION_ACCESS_VIOLATION | EXCEPTION_IN_PAGE_ERROR) && params >= 2 {
                rec.exception_information[1]
            } else {
                rec.exception_address
            };
            SignalInfo {
                signo,
                code: code as i32,
                errno: 0,
                addr: Some(addr),
                thread,
            }
        }
        Os::MacOs => {
            // Breakpad on macOS: the Mach exception type, kern code in flags.
            let signo = match code {
                1 => 11, // EXC_BAD_ACCESS
                2 => 4,  // EXC_BAD_INSTRUCTION
                3 => 8,  // EXC_ARITHMETIC
                6 => 5,  // EXC_BREAKPOINT
                _ => 0,
            };
            SignalInfo {
                signo,
                code: rec.exception_flags as i32,
                errno: 0,
                addr: Some(rec.exception_address),
                thread,
            }
        }
        _ => SignalInfo {
            signo: code as i32,
            code: rec.exception_flags as i32,
            errno: 0,
            addr: Some(rec.exception_address),
            thread,
        },
    }
}

/// The memory lists, as regions borrowing from the dump; the ranges a
/// truncated file lacks; and the first address of those.
fn dumped_memory(
    path: &Path,
    data: &Bytes,
    dir: &Directory,
    expected_size: &mut u64,
    warnings: &mut Vec<Warning>,
) -> (Vec<Region>, Vec<Missing>, Option<u64>) {
    let d: &[u8] = (**data).as_ref();
    let file_size = d.len() as u64;
    // (address, file offset, size) of every range.
    let mut ranges: Vec<(u64, u64, u64)> = Vec::new();
    if let Some((off, s)) = raw(d, dir, MEMORY_LIST) {
        // u32 count, then {u64 start, u32 size, u32 rva}. Some writers pad
        // the count to 8 bytes; the stream size tells which.
        let count = u64::from(u32_at(s, 0).unwrap_or(0));
        let at = if s.len() as u64 == 8 + 16 * count { 8 } else { 4 };
        let fits = (s.len().saturating_sub(at) / 16) as u64;
        if count > fits {
            warnings.push(Warning::ShortMemoryList { path: path.to_path_buf(), list: "MemoryList", offset: off, count, fits });
        }
        for i in 0..count.min(fits).min(MAX_ENTRIES) as usize {
            let e = at + i * 16;
            if let (Some(start), Some(size), Some(rva)) = (u64_at(s, e), u32_at(s, e + 8), u32_at(s, e + 12)) {
                ranges.push((start, u64::from(rva), u64::from(size)));
            }
        }
    }
    if let Some((off, s)) = raw(d, dir, MEMORY64_LIST) {
        // u64 count, u64 base rva, then {u64 start, u64 size}; the data of
        // the ranges follows one another from the base rva.
        let count = u64_at(s, 0).unwrap_or(0);
        let mut rva = u64_at(s, 8).unwrap_or(0);
        let fits = (s.len().saturating_sub(16) / 16) as u64;
        if count > fits {
            warnings.push(Warning::ShortMemoryList { path: path.to_path_buf(), list: "Memory64List", offset: off, count, fits });
        }
        for i in 0..count.min(fits).min(MAX_ENTRIES) as usize {
            let e = 16 + i * 16;
            if let (Some(start), Some(size)) = (u64_at(s, e), u64_at(s, e + 8)) {
                ranges.push((start, rva, size));
                rva = rva.saturating_add(size);
            }
        }
    }
    let reason = format!(
        "minidump {} is truncated ({file_size} bytes); these bytes are not in it",
        path.display()
    );
    let mut regions = Vec::with_capacity(ranges.len());
    let mut missing = Vec::new();
    let mut first_cut: Option<(u64, u64)> = None; // (file offset, address)
    for (start, off, size) in ranges {
        *expected_size = (*expected_size).max(off.saturating_add(size));
        let avail = size.min(file_size.saturating_sub(off));
        if avail > 0 {
            regions.push(Region {
                start,
                len: avail,
                backing: Backing::Bytes {
                    bytes: data.clone(),
                    offset: off as usize, // < file_size, so it fits
                },
            });
        }
        if avail < size {
            let at = start.saturating_add(avail);
            missing.push(Missing {
                start: at,
                end: start.saturating_add(size),
                reason: reason.clone(),
            });
            let cut = off.saturating_add(avail);
            if !matches!(first_cut, Some((o, _)) if o <= cut) {
                first_cut = Some((cut, at));
            }
        }
    }
    (regions, missing, first_cut.map(|(_, a)| a))
}

/// A thread's stack as its descriptor in the thread list says. Most
/// writers also put the stacks in the memory list; some only here.
fn stack_region(data: &Bytes, t: &minidump::MinidumpThread<'_>) -> Option<Region> {
    let m = &t.raw.stack.memory;
    let (rva, size) = (u64::from(m.rva), u64::from(m.data_size));
    // rva 0 means "in the memory list"; full-memory dumps do that.
    (rva != 0 && bytes_at((**data).as_ref(), rva, size).is_some()).then(|| Region {
        start: t.raw.stack.start_of_memory_range,
        len: size,
        backing: Backing::Bytes {
            bytes: data.clone(),
            offset: rva as usize,
        },
    })
}

/// The executable's module: the one holding `AT_ENTRY` when the dump has
/// the auxv (Linux), else the first one (Windows and Breakpad list it first).
fn main_module<'a>(modules: &'a [MinidumpModule], auxv: &[(u64, u64)]) -> Option<&'a MinidumpModule> {
    let entry = auxv.iter().find(|(k, _)| *k == AT_ENTRY).map(|(_, v)| *v);
    entry
        .and_then(|e| {
            modules
                .iter()
                .find(|m| m.raw.base_of_image <= e && e - m.raw.base_of_image < u64::from(m.raw.size_of_image))
        })
        .or_else(|| modules.first())
}

/// The GNU build id a Breakpad-style writer put in the module's CodeView
/// record (`BpEL` signature), if any.
fn codeview_build_id(m: &MinidumpModule) -> Option<Vec<u8>> {
    match &m.codeview_info {
        Some(minidump::CodeView::Elf(e)) if !e.build_id.is_empty() => Some(e.build_id.clone()),
        _ => None,
    }
}

fn recorded_exe(main: Option<&MinidumpModule>, mem: &SplicedMemory) -> RecordedExe {
    let Some(m) = main else {
        return RecordedExe::default();
    };
    let page = exe::first_page(mem, m.raw.base_of_image);
    let info = page.as_deref().filter(|p| p.starts_with(b"\x7fELF")).and_then(exe::inspect);
    RecordedExe {
        path: Some(PathBuf::from(&m.name)),
        gnu_build_id: codeview_build_id(m).or_else(|| info.as_ref().and_then(|i| i.gnu_build_id.clone())),
        go_build_id: info
            .as_ref()
            .and_then(|i| i.go_build_id.as_ref())
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        package: info.as_ref().and_then(|i| i.package.clone()),
        ..Default::default()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A found executable.
struct FoundExe {
    path: PathBuf,
    bytes: Bytes,
    image: Image,
    bias: u64,
    /// Why it is not the dump's executable, when it was taken anyway.
    mismatch: Option<String>,
}

/// Where a module's file might be on this machine: a Unix path as is; a
/// wine path (`Z:\` is wine's view of `/`) as the Unix path; and the file
/// name next to the dump, where dumps from other machines travel with it.
pub(crate) fn module_candidates(dump_path: &Path, name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if name.starts_with('/') {
        out.push(PathBuf::from(name));
    }
    let b = name.as_bytes();
    if b.len() > 3 && b[0].eq_ignore_ascii_case(&b'z') && b[1] == b':' && (b[2] == b'\\' || b[2] == b'/') {
        out.push(PathBuf::from(name[2..].replace('\\', "/")));
    }
    let base = name.rsplit(['\\', '/']).next().unwrap_or(name);
    if !base.is_empty() {
        out.push(dump_path.parent().unwrap_or(Path::new(".")).join(base));
    }
    out.dedup();
    out
}

/// How a candidate file compares with the module the dump recorded and the
/// bytes the dump holds of it. `Err` says what differs.
fn check_exe(arch: Arch, m: Option<&MinidumpModule>, fx: &FoundExe, mem: &SplicedMemory) -> std::result::Result<&'static str, Mismatch> {
    if !fx.image.is_for(arch) {
        return Err(Mismatch::Arch(arch.name()));
    }
    if let Some(m) = m {
        if fx.image.format == ImageFormat::Pe {
            // Windows writers copy these two from the loaded PE header.
            if m.raw.size_of_image != 0 && m.raw.size_of_image != fx.image.pe_size_of_image {
                return Err(Mismatch::SizeOfImage { file: fx.image.pe_size_of_image, dump: m.raw.size_of_image });
            }
            if m.raw.time_date_stamp != fx.image.pe_timestamp {
                return Err(Mismatch::TimeDateStamp { file: fx.image.pe_timestamp, dump: m.raw.time_date_stamp });
            }
        }
        if let (Some(id), Some(info)) = (codeview_build_id(m), fx.image.elf.as_ref()) {
            // The writer's id is the GNU build id (Breakpad keeps at most its
            // first bytes) when it finds one in a PT_NOTE segment of the
            // loaded image, else a hash of the start of .text. Go's
            // `-B gobuildid` note sits outside PT_NOTE: we find it (in the
            // first page), the writer does not. So either id may be the one.
            let text_id = || image::breakpad_text_id((*fx.bytes).as_ref());
            let ids: Vec<Vec<u8>> = info.gnu_build_id.iter().cloned().chain(text_id()).collect();
            if let Some(first) = ids.first() {
                return if ids.iter().any(|f| f.starts_with(&id)) {
                    Ok("build id")
                } else {
                    Err(Mismatch::BuildId { dump: hex(&id), file: hex(first) })
                };
            }
        }
    }
    // Code is the same in memory as in the file; compare whatever the dump
    // holds of it (all of it in full dumps, a little around each pc in
    // Breakpad-style ones).
    let mut compared = 0u64;
    for p in fx.image.parts.iter().filter(|p| p.exec) {
        let start = p.addr.wrapping_add(fx.bias);
        let end = start.saturating_add(p.len);
        let file: &[u8] = (*fx.bytes).as_ref();
        for r in mem.regions().iter().filter(|r| r.start < end && r.end() > start) {
            let (a, b) = (r.start.max(start), r.end().min(end));
            let (Some(in_dump), Some(in_file)) = (
                mem.slice(a, (b - a) as usize),
                bytes_at(file, p.file_offset.saturating_add(a - start), b - a),
            ) else {
                continue;
            };
            if let Some(i) = in_dump.iter().zip(in_file).position(|(x, y)| x != y) {
                return Err(Mismatch::Code { addr: a + i as u64 });
            }
            compared += b - a;
        }
    }
    if compared > 0 {
        Ok("code bytes")
    } else {
        Err(Mismatch::Unverifiable)
    }
}

fn evaluate(path: &Path, m: Option<&MinidumpModule>) -> Result<FoundExe> {
    let bytes = map_file(path)?;
    let image = image::parse((*bytes).as_ref())
        .ok_or_else(|| Error::Other(format!("{}: not an ELF, PE or Mach-O executable", path.display())))?;
    let bias = match m {
        Some(m) => image.bias_for_base(m.raw.base_of_image),
        None => 0,
    };
    Ok(FoundExe {
        path: path.to_path_buf(),
        bytes,
        image,
        bias,
        mismatch: None,
    })
}

/// The option if given, else the first candidate that matches the dump,
/// else the first that exists (with a warning).
fn find_exe(
    dump_path: &Path,
    opts: &OpenOptions,
    arch: Arch,
    main: Option<&MinidumpModule>,
    mem: &SplicedMemory,
    warnings: &mut Vec<Warning>,
) -> Option<FoundExe> {
    let candidates: Vec<PathBuf> = match &opts.exe {
        Some(p) => vec![p.clone()],
        None => main.map(|m| module_candidates(dump_path, &m.name)).unwrap_or_default(),
    };
    let mut fallback: Option<(FoundExe, Mismatch)> = None;
    for c in &candidates {
        if opts.exe.is_none() && !c.is_file() {
            continue;
        }
        match evaluate(c, main) {
            Ok(fx) => match check_exe(arch, main, &fx, mem) {
                Ok(_) => return Some(fx),
                Err(why) => {
                    if fallback.is_none() {
                        fallback = Some((fx, why));
                    }
                }
            },
            Err(e) => warnings.push(Warning::CandidateUnreadable { error: e.to_string() }),
        }
    }
    match fallback {
        Some((mut fx, why)) => {
            if !matches!(why, Mismatch::Unverifiable) {
                fx.mismatch = Some(why.to_string());
            }
            warnings.push(if matches!(why, Mismatch::Unverifiable) {
                Warning::ExeUnchecked { exe: fx.path.clone(), container: "dump", why: "the dump holds none of its code".into() }
            } else {
                Warning::ExeMismatch { exe: fx.path.clone(), container: "dump", why: why.to_string() }
            });
            Some(fx)
        }
        None => {
            if opts.exe.is_none() {
                let names: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
                warnings.push(if names.is_empty() {
                    Warning::ExeUnnamed { container: "minidump" }
                } else {
                    Warning::ExeNotFoundByName { names }
                });
            }
            None
        }
    }
}

/// Mappings from the Windows memory info list: committed regions, with
/// their protection, named by the module image they belong to.
fn windows_mappings(info: &MinidumpMemoryInfoList<'_>, modules: &[MinidumpModule], exe: Option<&FoundExe>) -> Vec<Mapping> {
    const MEM_COMMIT: u32 = 0x1000;
    const PAGE_GUARD: u32 = 0x100;
    let mut out = Vec::new();
    for r in info.iter().take(MAX_ENTRIES as usize) {
        let raw = &r.raw;
        if raw.state != MEM_COMMIT || raw.region_size == 0 {
            continue;
        }
        let prot = raw.protection & 0xff;
        let guard = raw.protection & PAGE_GUARD != 0;
        let (read, write, exec) = match prot {
            0x02 => (true, false, false),        // PAGE_READONLY
            0x04 | 0x08 => (true, true, false),  // PAGE_READWRITE, PAGE_WRITECOPY
            0x10 => (false, false, true),        // PAGE_EXECUTE
            0x20 => (true, false, true),         // PAGE_EXECUTE_READ
            0x40 | 0x80 => (true, true, true),   // PAGE_EXECUTE_READWRITE, _WRITECOPY
            _ => (false, false, false),          // PAGE_NOACCESS and unknown
        };
        let start = raw.base_address;
        let module = modules
            .iter()
            .find(|m| m.raw.base_of_image <= start && start - m.raw.base_of_image < u64::from(m.raw.size_of_image));
        // A file offset only where we know the file's layout: inside the
        // executable's own module.
        let file_offset = exe
            .filter(|fx| module.is_some_and(|m| m.raw.base_of_image == fx.image.link_base.wrapping_add(fx.bias)))
            .and_then(|fx| {
                let link = start.wrapping_sub(fx.bias);
                fx.image
                    .parts
                    .iter()
                    .find(|p| p.addr <= link && link < p.addr.saturating_add(p.len))
                    .map(|p| p.file_offset + (link - p.addr))
            })
            .unwrap_or(0);
        out.push(Mapping {
            start,
            end: start.saturating_add(raw.region_size),
            read: read && !guard,
            write: write && !guard,
            exec,
            file_offset,
            path: module.map(|m| PathBuf::from(&m.name)),
        });
    }
    out
}

/// Without a map of the address space: one mapping per module (read-only
/// and executable as far as we know) and per run of dumped memory.
fn fallback_mappings(modules: &[MinidumpModule], memory: &SplicedMemory) -> Vec<Mapping> {
    let mut out: Vec<Mapping> = modules
        .iter()
        .map(|m| Mapping {
            start: m.raw.base_of_image,
            end: m.raw.base_of_image.saturating_add(u64::from(m.raw.size_of_image)),
            read: true,
            write: false,
            exec: true,
            file_offset: 0,
            path: Some(PathBuf::from(&m.name)),
        })
        .collect();
    let mut runs: Vec<(u64, u64)> = Vec::new();
    for r in memory.regions() {
        match runs.last_mut() {
            Some(last) if last.1 == r.start => last.1 = r.end(),
            _ => runs.push((r.start, r.end())),
        }
    }
    for (s, e) in runs {
        if !out.iter().any(|m| m.start <= s && s < m.end) {
            out.push(Mapping {
                start: s,
                end: e,
                read: true,
                write: true,
                exec: false,
                file_offset: 0,
                path: None,
            });
        }
    }
    out.sort_by_key(|m| m.start);
    out
}

/// `/proc/PID/auxv`: (key, value) pairs of u64, up to `AT_NULL`.
fn auxv(b: &[u8]) -> Vec<(u64, u64)> {
    b.chunks_exact(16)
        .map(|c| (u64_at(c, 0).unwrap_or(0), u64_at(c, 8).unwrap_or(0)))
        .take_while(|(k, _)| *k != 0)
        .collect()
}

/// `/proc/PID/cmdline`: NUL-separated arguments.
fn cmdline(b: &[u8]) -> Option<String> {
    let args: Vec<String> = b
        .split(|&c| c == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    (!args.is_empty()).then(|| args.join(" "))
}

/// The `Pid:` line of `/proc/PID/status`.
fn status_pid(b: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(b);
    let line = text.lines().find(|l| l.starts_with("Pid:"))?;
    line["Pid:".len()..].trim().parse().ok()
}

/// `/proc/PID/maps` text: `start-end perms offset dev inode [path]`.
fn linux_maps(b: &[u8]) -> Vec<Mapping> {
    let text = String::from_utf8_lossy(b);
    let mut out = Vec::new();
    for line in text.lines().take(MAX_ENTRIES as usize) {
        let mut f = line.split_ascii_whitespace();
        let (Some(range), Some(perms), Some(offset), Some(_dev), Some(_inode)) = (f.next(), f.next(), f.next(), f.next(), f.next())
        else {
            continue;
        };
        let Some((a, z)) = range.split_once('-') else { continue };
        let (Ok(start), Ok(end), Ok(offset)) =
            (u64::from_str_radix(a, 16), u64::from_str_radix(z, 16), u64::from_str_radix(offset, 16))
        else {
            continue;
        };
        // The path is the rest of the line and may hold spaces.
        let path = line.find('/').map(|i| line[i..].trim_end().trim_end_matches(" (deleted)").to_string());
        let p = perms.as_bytes();
        out.push(Mapping {
            start,
            end: end.max(start),
            read: p.first() == Some(&b'r'),
            write: p.get(1) == Some(&b'w'),
            exec: p.get(2) == Some(&b'x'),
            file_offset: offset,
            path: path.map(PathBuf::from),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines() {
        let m = linux_maps(
            b"00400000-00401000 r-xp 00000000 08:01 42 /usr/bin/a b\n7ffd0000-7ffd1000 rw-p 00000000 00:00 0 [stack]\nbad\n",
        );
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].path.as_deref(), Some(Path::new("/usr/bin/a b")));
        assert!(m[0].read && m[0].exec && !m[0].write);
        assert_eq!(m[1].path, None);
    }

    #[test]
    fn wine_paths() {
        let c = module_candidates(Path::new("/d/x.dmp"), "Z:\\tmp\\go\\zoo.exe");
        assert_eq!(c, [PathBuf::from("/tmp/go/zoo.exe"), PathBuf::from("/d/zoo.exe")]);
        let c = module_candidates(Path::new("x.dmp"), "C:\\prog\\a.exe");
        assert_eq!(c, [PathBuf::from("a.exe")]);
    }

    #[test]
    fn proc_streams() {
        assert_eq!(status_pid(b"Name:\tzoo\nPid:\t1234\n"), Some(1234));
        assert_eq!(cmdline(b"/bin/zoo\0wait\0"), Some("/bin/zoo wait".to_string()));
        let mut a = Vec::new();
        for v in [9u64, 0x401000, 0, 0, 5, 5] {
            a.extend_from_slice(&v.to_le_bytes());
        }
        assert_eq!(auxv(&a), [(9, 0x401000)]);
    }
}
