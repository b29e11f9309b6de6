//! Opening a Mach-O core (`MH_CORE`) of a macOS process, amd64 or arm64, as
//! xnu and lldb write them: `LC_SEGMENT_64` per memory region, `LC_THREAD`
//! per thread (a run of `{flavor, count, state}` records), and `LC_NOTE`s
//! ("addrable bits", "main bin spec", "load binary", "process metadata").
//!
//! `object` parses the header and walks the load commands; it hands each
//! `LC_THREAD` over raw, with every flavor, which we decode here. Layouts
//! are xnu's (osfmk/mach/{i386,arm}/_structs.h, thread_status.h).

use std::path::{Path, PathBuf};

use object::macho::{MachHeader64, NoteCommand, LC_NOTE, LC_SEGMENT_64, LC_THREAD, LC_UUID, MH_CORE, MH_EXECUTE};
use object::read::macho::MachHeader;
use object::LittleEndian as LE;

use crate::exe::Mismatch;
use crate::image::{self, Image, ImageFormat, CPU_TYPE_ARM64, CPU_TYPE_X86_64};
use crate::le::{bytes_at, u16_at, u32_at, u64_at, until_nul};
use crate::model::*;
use crate::Warning;
use elfwriter::elf::NT_FPREGSET;
use crate::source::map_file;
use crate::spliced::{Backing, Builder, Bytes, Missing, Region};
use crate::{Error, Result, SplicedMemory};

/// `open` dispatches here on these bytes: 64-bit, little-endian.
const MH_MAGIC_64: u32 = 0xfeed_facf;
/// More load commands than this is not a real core.
const MAX_COMMANDS: u32 = 1 << 20;
/// A thread state flavor larger than this is not one xnu defines.
const MAX_STATE: usize = 64 << 10;

// amd64 flavors (osfmk/mach/i386/thread_status.h).
const X86_THREAD_STATE64: u32 = 4;
const X86_FLOAT_STATE64: u32 = 5;
const X86_EXCEPTION_STATE64: u32 = 6;
const X86_THREAD_STATE: u32 = 7;
const X86_FLOAT_STATE: u32 = 8;
const X86_EXCEPTION_STATE: u32 = 9;
const X86_THREAD_FULL_STATE64: u32 = 23;
// arm64 flavors (osfmk/mach/arm/thread_status.h).
const ARM_THREAD_STATE: u32 = 1;
const ARM_THREAD_STATE64: u32 = 6;
const ARM_EXCEPTION_STATE64: u32 = 7;
const ARM_NEON_STATE64: u32 = 17;

fn malformed(path: &Path, what: impl Into<String>, offset: u64) -> Error {
    Error::Malformed {
        path: path.to_path_buf(),
        what: what.into(),
        offset,
    }
}

/// A thread's exception state, when the core has one.
#[derive(Debug, Clone, Copy, Default)]
struct ExcState {
    /// amd64: trapno; arm64: ESR.
    code: u64,
    /// amd64: faultvaddr; arm64: FAR.
    addr: u64,
    /// amd64: err; arm64: the exception number.
    extra: u64,
}

#[derive(Default)]
struct ThreadState {
    regs: Option<Registers>,
    exc: Option<ExcState>,
    extra: Vec<(u32, Vec<u8>)>,
}

/// Decode one `LC_THREAD`'s payload (after `cmd` and `cmdsize`).
fn thread_state(arch: Arch, mut d: &[u8], warn: &mut Option<String>) -> ThreadState {
    let mut st = ThreadState::default();
    while d.len() >= 8 {
        let (Some(flavor), Some(count)) = (u32_at(d, 0), u32_at(d, 4)) else { break };
        let len = (count as usize).saturating_mul(4);
        let Some(state) = d.get(8..8usize.saturating_add(len)) else {
            *warn = Some(format!("thread state flavor {flavor} claims {len} bytes, {} remain", d.len() - 8));
            break;
        };
        flavor_state(arch, flavor, state, &mut st);
        d = &d[8 + len..];
    }
    st
}

fn flavor_state(arch: Arch, flavor: u32, state: &[u8], st: &mut ThreadState) {
    if state.len() <= MAX_STATE {
        st.extra.push((REGSET_MACHO_FLAVOR | flavor, state.to_vec()));
    }
    // The "unified" flavors wrap another: {flavor, count} then its state.
    let nested = match arch {
        Arch::Amd64 => matches!(flavor, X86_THREAD_STATE | X86_FLOAT_STATE | X86_EXCEPTION_STATE),
        Arch::Arm64 => flavor == ARM_THREAD_STATE,
    };
    if nested {
        if let (Some(inner), Some(count)) = (u32_at(state, 0), u32_at(state, 4)) {
            let len = (count as usize).saturating_mul(4);
            if let Some(s) = state.get(8..8usize.saturating_add(len)) {
                // The wrapped copy is not kept raw a second time.
                let mut inner_st = ThreadState::default();
                flavor_state(arch, inner, s, &mut inner_st);
                st.regs = inner_st.regs.or(st.regs);
                st.exc = inner_st.exc.or(st.exc);
                st.extra.extend(inner_st.extra.into_iter().filter(|(k, _)| *k == NT_FPREGSET.0));
            }
        }
        return;
    }
    let q = |i: usize| u64_at(state, i * 8).unwrap_or(0);
    match (arch, flavor) {
        (Arch::Amd64, X86_THREAD_STATE64 | X86_THREAD_FULL_STATE64) if state.len() >= 21 * 8 => {
            // rax rbx rcx rdx rdi rsi rbp rsp r8..r15 rip rflags cs fs gs;
            // the full state adds ds es ss gsbase.
            let full = flavor == X86_THREAD_FULL_STATE64 && state.len() >= 25 * 8;
            let prev_gs_base = match st.regs {
                Some(Registers::Amd64(r)) => r.gs_base,
                _ => 0,
            };
            st.regs = Some(Registers::Amd64(Amd64Regs {
                rax: q(0),
                rbx: q(1),
                rcx: q(2),
                rdx: q(3),
                rdi: q(4),
                rsi: q(5),
                rbp: q(6),
                rsp: q(7),
                r8: q(8),
                r9: q(9),
                r10: q(10),
                r11: q(11),
                r12: q(12),
                r13: q(13),
                r14: q(14),
                r15: q(15),
                rip: q(16),
                eflags: q(17),
                cs: q(18),
                fs: q(19),
                gs: q(20),
                ds: if full { q(21) } else { 0 },
                es: if full { q(22) } else { 0 },
                ss: if full { q(23) } else { 0 },
                orig_rax: u64::MAX,
                fs_base: 0,
                // macOS keeps thread-local storage (and Go its g) off GS.
                gs_base: if full { q(24) } else { prev_gs_base },
            }));
        }
        (Arch::Amd64, X86_FLOAT_STATE64) if state.len() >= 8 + 512 => {
            // Two reserved ints, then exactly FXSAVE's 512-byte image:
            // the layout of Linux's NT_PRFPREG.
            st.extra.push((NT_FPREGSET.0, state[8..520].to_vec()));
        }
        (Arch::Amd64, X86_EXCEPTION_STATE64) if state.len() >= 16 => {
            st.exc = Some(ExcState {
                code: u64::from(u16_at(state, 0).unwrap_or(0)),
                extra: u64::from(u32_at(state, 4).unwrap_or(0)),
                addr: q(1),
            });
        }
        (Arch::Arm64, ARM_THREAD_STATE64) if state.len() >= 33 * 8 + 4 => {
            // x0..x28, fp, lr, sp, pc, cpsr (u32), flags (u32).
            let mut x = [0u64; 31];
            for (i, r) in x.iter_mut().enumerate() {
                *r = q(i);
            }
            st.regs = Some(Registers::Arm64(Arm64Regs {
                x,
                sp: q(31),
                pc: q(32),
                pstate: u64::from(u32_at(state, 33 * 8).unwrap_or(0)),
                tpidr: None,
            }));
        }
        (Arch::Arm64, ARM_EXCEPTION_STATE64) if state.len() >= 16 => {
            st.exc = Some(ExcState {
                addr: q(0),
                code: u64::from(u32_at(state, 8).unwrap_or(0)),
                extra: u64::from(u32_at(state, 12).unwrap_or(0)),
            });
        }
        (Arch::Arm64, ARM_NEON_STATE64) if state.len() >= 520 => {
            // v0..v31, fpsr, fpcr: Linux's user_fpsimd_state plus its padding.
            let mut fp = state[..520].to_vec();
            fp.extend_from_slice(&[0; 8]);
            st.extra.push((NT_FPREGSET.0, fp));
        }
        _ => {}
    }
}

/// The signal a Unix kernel sends for a thread's hardware exception.
fn exception_signal(arch: Arch, e: &ExcState) -> (i32, Option<u64>) {
    match arch {
        Arch::Amd64 => match e.code {
            11..=14 => (11, Some(e.addr)), // segment, stack, GP, page fault: SIGSEGV
            17 => (7, Some(e.addr)),                // alignment check: SIGBUS
            0 | 16 | 19 => (8, None),               // divide, x87, SIMD: SIGFPE
            6 => (4, None),                         // invalid opcode: SIGILL
            1 | 3 => (5, None),                     // debug, breakpoint: SIGTRAP
            _ => (0, Some(e.addr)),
        },
        Arch::Arm64 => match e.code >> 26 {
            // Instruction and data aborts: SIGSEGV at FAR.
            0x20 | 0x21 | 0x24 | 0x25 => (11, Some(e.addr)),
            0x22 | 0x26 => (7, Some(e.addr)), // pc or sp misaligned: SIGBUS
            0x3c => (5, None),                // BRK: SIGTRAP
            0x28 | 0x2c => (8, None),         // FP exception: SIGFPE
            0x00 | 0x0e => (4, None),         // undefined / illegal state: SIGILL
            _ => (0, Some(e.addr)),
        },
    }
}

/// A "load binary" note: a binary the process had loaded.
#[derive(Debug)]
struct LoadBinary {
    address: Option<u64>,
    name: String,
}

/// What the LC_NOTEs say.
#[derive(Default, Debug)]
struct Notes {
    /// Bits of a user-space address; the rest of pc/lr may be a pointer
    /// authentication code.
    addr_bits: Option<u32>,
    main_addr: Option<u64>,
    main_slide: Option<u64>,
    main_uuid: Option<[u8; 16]>,
    binaries: Vec<LoadBinary>,
    thread_ids: Vec<u64>,
}

fn known(v: Option<u64>) -> Option<u64> {
    v.filter(|&a| a != u64::MAX)
}

fn uuid(b: Option<&[u8]>) -> Option<[u8; 16]> {
    let u: [u8; 16] = b?.try_into().ok()?;
    (u != [0; 16]).then_some(u)
}

fn note(owner: &[u8], p: &[u8], n: &mut Notes) {
    match owner {
        b"addrable bits" => {
            // v3: {version, bits, unused}; v4: {version, low-memory bits,
            // high-memory bits, reserved}. User space is low memory.
            let bits = u32_at(p, 4).filter(|b| (1..64).contains(b));
            n.addr_bits = bits.or(n.addr_bits);
        }
        b"main bin spec" => {
            // v1 (xnu): {version, type, address, uuid, log2_pagesize, unused};
            // v2 (lldb): {version, type, address, slide, uuid, log2_pagesize, platform}.
            let v = u32_at(p, 0).unwrap_or(0);
            n.main_addr = known(u64_at(p, 8));
            if v >= 2 {
                n.main_slide = known(u64_at(p, 16));
                n.main_uuid = uuid(p.get(24..40));
            } else {
                n.main_uuid = uuid(p.get(16..32));
            }
        }
        b"load binary" => {
            // {version, uuid, address, slide, name (NUL-terminated)}; the
            // name is what we use, to find the main binary's file.
            let name = p.get(36..).map(until_nul).unwrap_or_default();
            n.binaries.push(LoadBinary {
                address: known(u64_at(p, 20)),
                name: String::from_utf8_lossy(name).into_owned(),
            });
        }
        b"process metadata" => {
            // lldb's JSON: {"threads":[{"thread_id":N},...]}, in LC_THREAD order.
            n.thread_ids = json_numbers(p, b"\"thread_id\"");
        }
        _ => {}
    }
}

/// Every number following `key:` in a JSON text, in order. Enough for
/// lldb's thread ids without a JSON parser.
fn json_numbers(text: &[u8], key: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.windows(key.len()).position(|w| w == key) {
        rest = &rest[i + key.len()..];
        let digits: Vec<u8> = rest
            .iter()
            .skip_while(|c| c.is_ascii_whitespace() || **c == b':')
            .take_while(|c| c.is_ascii_digit())
            .copied()
            .collect();
        if let Ok(v) = std::str::from_utf8(&digits).unwrap_or("").parse() {
            out.push(v);
        }
        if out.len() >= 1 << 16 {
            break;
        }
    }
    out
}

struct Segment {
    vmaddr: u64,
    vmsize: u64,
    fileoff: u64,
    filesize: u64,
    prot: u32,
}

/// Open the Mach-O core in `data` (already decompressed): its load
/// commands, the threads, the core's own memory, the executable, the
/// memory built from them, the mappings. Each step is a function below; the
/// order is the order of the warnings.
pub(crate) fn open(path: &Path, data: Bytes, opts: &OpenOptions, mut warnings: Vec<Warning>) -> Result<Core> {
    let file_size = (*data).as_ref().len() as u64;
    let mut cmds = load_commands(path, &data, &mut warnings)?;
    let arch = cmds.arch;
    let (threads, signal) = threads(path, arch, std::mem::take(&mut cmds.states), &cmds.notes, &mut warnings);
    let core = core_data(path, &data, &cmds.segments, file_size, &mut cmds.expected_size);
    let (main_name, found) = executable(path, opts, arch, &cmds, &core.only, &mut warnings);
    let (memory, exe_out, files) = memory(found.as_ref(), core.regions, &core.missing);
    let mappings = mappings(&cmds.segments, found.as_ref());
    let truncated = (file_size < cmds.expected_size).then_some(Truncation {
        file_size,
        expected_size: cmds.expected_size,
        first_missing_addr: core.first_cut.map(|(_, a)| a),
    });
    if let Some(t) = &truncated {
        warnings.push(t.warning(path, "core file"));
    }
    Ok(Core {
        path: path.to_path_buf(),
        format: Format::MachO,
        arch,
        os: Os::MacOs,
        pid: None,
        command: None,
        exe: exe_out,
        recorded_exe: RecordedExe {
            path: main_name.map(PathBuf::from),
            ..Default::default()
        },
        threads,
        mappings,
        auxv: Vec::new(),
        signal,
        memory,
        truncated,
        warnings,
        files,
        // Mach-O cores record no list of mapped files beyond the load notes.
        file_mappings: Vec::new(),
    })
}

/// What the header and load commands say.
struct Commands {
    arch: Arch,
    segments: Vec<Segment>,
    /// Each `LC_THREAD`'s file offset and decoded state.
    states: Vec<(u64, ThreadState)>,
    notes: Notes,
    /// The end of the load commands, the notes and (later) the segments.
    expected_size: u64,
}

/// Step 1: the header (a core, for a CPU we read) and the load commands:
/// segments, thread states, notes. A damaged command ends the list with a
/// warning.
fn load_commands(path: &Path, data: &Bytes, warnings: &mut Vec<Warning>) -> Result<Commands> {
    let d: &[u8] = (**data).as_ref();
    let h = MachHeader64::<LE>::parse(d, 0).map_err(|e| malformed(path, format!("Mach-O header ({e})"), 0))?;
    let filetype = h.filetype(LE);
    if filetype != MH_CORE {
        return Err(Error::UnknownFormat {
            path: path.to_path_buf(),
            what: if filetype == MH_EXECUTE {
                "a Mach-O executable, not a core (MH_CORE); pass it with --exe".to_string()
            } else {
                format!("a Mach-O file of type {}, not a core (MH_CORE)", filetype.0)
            },
        });
    }
    let arch = match h.cputype(LE).0 {
        CPU_TYPE_X86_64 => Arch::Amd64,
        CPU_TYPE_ARM64 => Arch::Arm64,
        c => {
            return Err(Error::UnknownFormat {
                path: path.to_path_buf(),
                what: format!("a Mach-O core for CPU type {c:#x}; only x86_64 and arm64 are read"),
            })
        }
    };
    let mut expected_size = 32u64.saturating_add(u64::from(h.sizeofcmds.get(LE)));
    if h.ncmds(LE) > MAX_COMMANDS {
        return Err(malformed(path, format!("Mach-O header claiming {} load commands", h.ncmds(LE)), 0));
    }
    let mut cmds = h
        .load_commands(LE, d, 0)
        .map_err(|e| malformed(path, format!("Mach-O load commands ({e})"), 32))?;

    let mut segments = Vec::new();
    let mut states = Vec::new();
    let mut notes = Notes::default();
    loop {
        let c = match cmds.next() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                warnings.push(Warning::DamagedLoadCommands { path: path.to_path_buf(), error: e.to_string() });
                break;
            }
        };
        let at = c.offset();
        match c.cmd() {
            LC_SEGMENT_64 => match c.segment_64() {
                Ok(Some((s, _))) => segments.push(Segment {
                    vmaddr: s.vmaddr.get(LE),
                    vmsize: s.vmsize.get(LE),
                    fileoff: s.fileoff.get(LE),
                    filesize: s.filesize.get(LE),
                    prot: s.initprot.get(LE).0,
                }),
                _ => warnings.push(Warning::ShortLoadCommand { path: path.to_path_buf(), command: "LC_SEGMENT_64", offset: at }),
            },
            LC_THREAD => {
                let raw = c.raw_data();
                let mut warn = None;
                let st = thread_state(arch, raw.get(8..).unwrap_or_default(), &mut warn);
                if let Some(w) = warn {
                    warnings.push(Warning::ThreadState { path: path.to_path_buf(), offset: at, what: w.to_string() });
                }
                states.push((at, st));
            }
            LC_NOTE => match c.data::<NoteCommand<LE>>() {
                Ok(n) => {
                    let (off, size) = (n.offset.get(LE), n.size.get(LE));
                    expected_size = expected_size.max(off.saturating_add(size));
                    match bytes_at(d, off, size) {
                        Some(p) => note(until_nul(&n.data_owner), p, &mut notes),
                        None => warnings.push(Warning::NotePastEnd {
                            path: path.to_path_buf(),
                            owner: String::from_utf8_lossy(until_nul(&n.data_owner)).into_owned(),
                            offset: at,
                        }),
                    }
                }
                Err(_) => warnings.push(Warning::ShortLoadCommand { path: path.to_path_buf(), command: "LC_NOTE", offset: at }),
            },
            _ => {}
        }
    }
    Ok(Commands {
        arch,
        segments,
        states,
        notes,
        expected_size,
    })
}

/// Step 2: the threads and the first one's exception as the signal.
/// Mach-O cores record no thread ids; lldb numbers them by position, and
/// its own cores list the real ids in a note.
fn threads(
    path: &Path,
    arch: Arch,
    states: Vec<(u64, ThreadState)>,
    notes: &Notes,
    warnings: &mut Vec<Warning>,
) -> (Vec<Thread>, Option<SignalInfo>) {
    let mask = notes.addr_bits.map(|b| (1u64 << b) - 1);
    let mut threads = Vec::new();
    let mut signal = None;
    for (i, (at, st)) in states.into_iter().enumerate() {
        let Some(mut regs) = st.regs else {
            warnings.push(Warning::NoGeneralRegisters { path: path.to_path_buf(), offset: at });
            continue;
        };
        if let (Registers::Arm64(r), Some(m)) = (&mut regs, mask) {
            // Strip pointer authentication bits from the code addresses.
            r.pc &= m;
            r.x[30] &= m;
        }
        let mut sig = 0;
        if let Some(e) = st.exc.filter(|e| e.code != 0 || e.addr != 0 || e.extra != 0) {
            let (signo, addr) = exception_signal(arch, &e);
            sig = signo;
            if signal.is_none() {
                signal = Some(SignalInfo {
                    signo,
                    code: e.code as i32,
                    errno: 0,
                    addr,
                    thread: Some(threads.len()),
                });
            }
        }
        threads.push(Thread {
            tid: notes.thread_ids.get(i).copied().unwrap_or(i as u64),
            regs,
            signal: sig,
            extra_regsets: st.extra,
        });
    }
    if threads.is_empty() {
        warnings.push(Warning::NoThreads { path: path.to_path_buf(), container: "core" });
    }
    (threads, signal)
}

/// The core file's own memory, alone.
struct CoreData {
    /// The bytes of each segment that the file holds.
    regions: Vec<Region>,
    /// What a truncation cut off.
    missing: Vec<Missing>,
    /// (file offset, address) where the file first runs out.
    first_cut: Option<(u64, u64)>,
    /// `regions` as memory, to look for the executable in.
    only: SplicedMemory,
}

/// Step 3: the segments' bytes as the file holds them, and what it lacks;
/// `expected_size` grows to the end of the last segment.
fn core_data(path: &Path, data: &Bytes, segments: &[Segment], file_size: u64, expected_size: &mut u64) -> CoreData {
    let reason = format!("core file {} is truncated ({file_size} bytes); these bytes are not in it", path.display());
    let mut regions = Vec::with_capacity(segments.len());
    let mut missing: Vec<Missing> = Vec::new();
    let mut first_cut: Option<(u64, u64)> = None;
    for s in segments {
        *expected_size = (*expected_size).max(s.fileoff.saturating_add(s.filesize));
        // Bytes the segment says it has, and those the file really holds.
        let want = s.filesize.min(s.vmsize);
        let avail = want.min(file_size.saturating_sub(s.fileoff));
        if avail > 0 {
            regions.push(Region {
                start: s.vmaddr,
                len: avail,
                backing: Backing::Bytes {
                    bytes: data.clone(),
                    offset: s.fileoff as usize, // < file_size, so it fits
                },
            });
        }
        if avail < want {
            let at = s.vmaddr.saturating_add(avail);
            missing.push(Missing {
                start: at,
                end: s.vmaddr.saturating_add(want),
                reason: reason.clone(),
            });
            let cut = s.fileoff.saturating_add(avail);
            if !matches!(first_cut, Some((o, _)) if o <= cut) {
                first_cut = Some((cut, at));
            }
        }
    }
    let mut only = Builder::new();
    for r in &regions {
        only.add(r.clone());
    }
    CoreData {
        regions,
        missing,
        first_cut,
        only: only.build(),
    }
}

/// Step 4: the main binary (where the notes or the first Mach-O header in
/// memory put it, its UUID and name) and the file found for it.
fn executable(
    path: &Path,
    opts: &OpenOptions,
    arch: Arch,
    cmds: &Commands,
    core_only: &SplicedMemory,
    warnings: &mut Vec<Warning>,
) -> (Option<String>, Option<FoundExe>) {
    let notes = &cmds.notes;
    let main_addr = notes.main_addr.or_else(|| find_executable_header(&cmds.segments, core_only));
    let main_uuid = notes.main_uuid.or_else(|| main_addr.and_then(|a| uuid_in_memory(core_only, a)));
    let main_name = notes
        .binaries
        .iter()
        .find(|b| b.address.is_some() && b.address == main_addr && !b.name.is_empty())
        .map(|b| b.name.clone());
    let found = find_exe(path, opts, arch, main_addr, notes.main_slide, main_uuid, main_name.as_deref(), warnings);
    (main_name, found)
}

/// Step 5: the memory: the executable's read-only parts from its file,
/// then the core's segments; what a truncation cut off is unreadable. With
/// the executable for the model and the files backing memory.
fn memory(
    found: Option<&FoundExe>,
    core_regions: Vec<Region>,
    missing: &[Missing],
) -> (SplicedMemory, Option<Executable>, Vec<MappedFile>) {
    let mut memory = Builder::new();
    let mut files = Vec::new();
    let mut exe_out = None;
    if let Some(fx) = found {
        fx.image.back_read_only(&mut memory, fx.bias, &fx.bytes);
        exe_out = Some(Executable {
            bytes: fx.bytes.clone(),
            path: fx.path.clone(),
            load_bias: fx.bias,
            build_id: fx.image.uuid.map(|u| u.to_vec()),
            mismatch: fx.mismatch.clone(),
        });
        files.push(MappedFile {
            path: fx.path.clone(),
            bytes: fx.bytes.clone(),
        });
    }
    for r in core_regions {
        memory.add(r);
    }
    for m in missing {
        memory.remove(m.start, m.end.saturating_sub(m.start));
        memory.add_missing(m.start, m.end, m.reason.clone());
    }
    (memory.build(), exe_out, files)
}

/// Step 6: a mapping per non-empty segment, named by the executable's part
/// that holds it.
fn mappings(segments: &[Segment], found: Option<&FoundExe>) -> Vec<Mapping> {
    segments
        .iter()
        .filter(|s| s.vmsize > 0)
        .map(|s| {
            let (path, file_offset) = found
                .and_then(|fx| {
                    let link = s.vmaddr.wrapping_sub(fx.bias);
                    let p = fx.image.parts.iter().find(|p| p.addr <= link && link < p.addr.saturating_add(p.mem_len))?;
                    Some((Some(fx.path.clone()), p.file_offset.saturating_add(link - p.addr)))
                })
                .unwrap_or((None, 0));
            Mapping {
                start: s.vmaddr,
                end: s.vmaddr.saturating_add(s.vmsize),
                read: s.prot & 1 != 0,
                write: s.prot & 2 != 0,
                exec: s.prot & 4 != 0,
                file_offset,
                path,
            }
        })
        .collect()
}

/// The first segment that starts with the header of a Mach-O executable:
/// where the main binary was loaded, when no note says so (lldb does the same).
fn find_executable_header(segments: &[Segment], mem: &SplicedMemory) -> Option<u64> {
    segments.iter().map(|s| s.vmaddr).find(|&a| {
        let mut h = [0u8; 16];
        mem.read(a, &mut h).is_ok() && u32_at(&h, 0) == Some(MH_MAGIC_64) && u32_at(&h, 12) == Some(MH_EXECUTE.0)
    })
}

/// `LC_UUID` of the Mach-O header loaded at `addr`, read from the core.
fn uuid_in_memory(mem: &SplicedMemory, addr: u64) -> Option<[u8; 16]> {
    let mut h = [0u8; 32];
    mem.read(addr, &mut h).ok()?;
    if u32_at(&h, 0) != Some(MH_MAGIC_64) {
        return None;
    }
    let size = u32_at(&h, 20)?.min(1 << 20) as usize;
    let mut cmds = vec![0u8; size];
    mem.read(addr.checked_add(32)?, &mut cmds).ok()?;
    let mut off = 0usize;
    for _ in 0..u32_at(&h, 16)?.min(4096) {
        let (cmd, cmdsize) = (u32_at(&cmds, off)?, u32_at(&cmds, off + 4)? as usize);
        if cmd == LC_UUID.0 {
            return uuid(cmds.get(off + 8..off + 24));
        }
        if cmdsize < 8 {
            return None;
        }
        off = off.checked_add(cmdsize)?;
    }
    None
}

struct FoundExe {
    path: PathBuf,
    bytes: Bytes,
    image: Image,
    bias: u64,
    /// Why it is not the dump's executable, when it was taken anyway.
    mismatch: Option<String>,
}

/// Where the executable may be: the option; the "load binary" name as is
/// and next to the core; else any Mach-O executable beside the core whose
/// UUID is the one the core records.
#[allow(clippy::too_many_arguments)]
fn find_exe(
    core_path: &Path,
    opts: &OpenOptions,
    arch: Arch,
    main_addr: Option<u64>,
    main_slide: Option<u64>,
    main_uuid: Option<[u8; 16]>,
    name: Option<&str>,
    warnings: &mut Vec<Warning>,
) -> Option<FoundExe> {
    let dir = core_path.parent().unwrap_or(Path::new("."));
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = &opts.exe {
        candidates.push(p.clone());
    } else if let Some(n) = name {
        if n.starts_with('/') {
            candidates.push(PathBuf::from(n));
        }
        if let Some(base) = Path::new(n).file_name() {
            candidates.push(dir.join(base));
        }
    }
    let evaluate = |p: &Path| -> Result<FoundExe> {
        let bytes = map_file(p)?;
        let image = image::parse((*bytes).as_ref())
            // One given explicitly is taken in any format we can place.
            .filter(|i| i.format == ImageFormat::MachO || opts.exe.is_some())
            .ok_or_else(|| Error::Other(format!("{}: not a 64-bit Mach-O executable", p.display())))?;
        let bias = match (main_addr, main_slide) {
            (Some(a), _) => image.bias_for_base(a),
            (None, Some(s)) => s,
            (None, None) => 0,
        };
        Ok(FoundExe {
            path: p.to_path_buf(),
            bytes,
            image,
            bias,
            mismatch: None,
        })
    };
    let check = |fx: &FoundExe| -> std::result::Result<(), Mismatch> {
        if !fx.image.is_for(arch) {
            return Err(Mismatch::Arch(arch.name()));
        }
        match (fx.image.uuid, main_uuid) {
            (Some(a), Some(b)) if a == b => Ok(()),
            (Some(_), Some(_)) => Err(Mismatch::Uuid),
            _ => Err(Mismatch::Unverifiable),
        }
    };
    let mut fallback: Option<(FoundExe, Mismatch)> = None;
    for c in &candidates {
        if opts.exe.is_none() && !c.is_file() {
            continue;
        }
        match evaluate(c) {
            Ok(fx) => match check(&fx) {
                Ok(()) => return Some(fx),
                Err(why) => {
                    if fallback.is_none() {
                        fallback = Some((fx, why));
                    }
                }
            },
            Err(e) => warnings.push(Warning::CandidateUnreadable { error: e.to_string() }),
        }
    }
    if fallback.is_none() && opts.exe.is_none() {
        if let Some(u) = main_uuid {
            if let Some(p) = scan_dir_for_uuid(dir, &u) {
                if let Ok(fx) = evaluate(&p) {
                    return Some(fx);
                }
            }
        }
    }
    match fallback {
        Some((mut fx, why)) => {
            if !matches!(why, Mismatch::Unverifiable) {
                fx.mismatch = Some(why.to_string());
            }
            warnings.push(if matches!(why, Mismatch::Unverifiable) {
                Warning::ExeUnchecked { exe: fx.path.clone(), container: "core", why: "no UUID to compare".into() }
            } else {
                Warning::ExeMismatch { exe: fx.path.clone(), container: "core", why: why.to_string() }
            });
            Some(fx)
        }
        None => {
            warnings.push(match name {
                Some(n) => Warning::ExeNameNotFound { name: n.to_string() },
                None => Warning::ExeUnnamed { container: "core" },
            });
            None
        }
    }
}

/// A Mach-O executable in `dir` with this UUID. Looks at a bounded number
/// of files, reading only their headers.
fn scan_dir_for_uuid(dir: &Path, want: &[u8; 16]) -> Option<PathBuf> {
    use std::io::Read;
    let entries = std::fs::read_dir(dir).ok()?;
    for e in entries.flatten().take(256) {
        let p = e.path();
        let Ok(mut f) = std::fs::File::open(&p) else { continue };
        if !e.file_type().is_ok_and(|t| t.is_file()) {
            continue;
        }
        let mut head = [0u8; 4];
        if f.read_exact(&mut head).is_err() || u32::from_le_bytes(head) != MH_MAGIC_64 {
            continue;
        }
        let Ok(bytes) = map_file(&p) else { continue };
        if let Some(img) = image::parse((*bytes).as_ref()) {
            if img.uuid.as_ref() == Some(want) {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_thread_ids() {
        let j = br#"{"threads":[{"thread_id":7},{"thread_id": 12345}]}"#;
        assert_eq!(json_numbers(j, b"\"thread_id\""), [7, 12345]);
    }

    #[test]
    fn nested_arm_state_and_truncated_flavor() {
        let mut d = Vec::new();
        d.extend_from_slice(&ARM_THREAD_STATE.to_le_bytes());
        d.extend_from_slice(&(2u32 + 68).to_le_bytes());
        d.extend_from_slice(&ARM_THREAD_STATE64.to_le_bytes());
        d.extend_from_slice(&68u32.to_le_bytes());
        for i in 0..34u64 {
            d.extend_from_slice(&(i + 100).to_le_bytes());
        }
        // A flavor claiming more than there is.
        d.extend_from_slice(&ARM_EXCEPTION_STATE64.to_le_bytes());
        d.extend_from_slice(&1000u32.to_le_bytes());
        let mut warn = None;
        let st = thread_state(Arch::Arm64, &d, &mut warn);
        let Some(Registers::Arm64(r)) = st.regs else { panic!() };
        assert_eq!((r.x[0], r.x[29], r.sp, r.pc), (100, 129, 131, 132));
        assert!(warn.is_some());
    }
}
