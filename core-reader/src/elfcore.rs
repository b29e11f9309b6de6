//! Opening an ELF core: notes into threads/auxv/signal, program headers into
//! mappings, and the layers of `SplicedMemory` (mapped files, then the
//! executable's segments, then the core's own data, each winning over the
//! previous).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use elfwriter::elf::{
    self as defs, ELF_NOTE_GDB, ELF_NOTE_GNU, ELF_NOTE_GO, EM_AARCH64, EM_X86_64, ET_CORE, NT_ARM_TLS, NT_AUXV,
    NT_DELVE_HEADER, NT_DELVE_THREAD, NT_FILE, NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO, PF_R, PF_W, PF_X, PT_LOAD, PT_NOTE,
};

use crate::delve;
use crate::elf::{self, Phdr};
use crate::exe::{self, ExeInfo, Match, AT_ENTRY, AT_EXECFN, AT_PHDR};
use crate::le::{bytes_at, u64_at};
use crate::model::*;
use crate::notes::{self, FileMapping, Note, Notes};
use crate::source::map_file;
use crate::spliced::{Backing, Builder, Bytes, Region};
use crate::{Error, Result, SplicedMemory, Warning};

/// Everything the notes say, before memory is assembled.
#[derive(Default)]
struct NoteFacts {
    threads: Vec<Thread>,
    prpsinfo: Option<notes::PrPsInfo>,
    /// (thread index the note followed, siginfo).
    siginfos: Vec<(Option<usize>, notes::SigInfo)>,
    auxv: Vec<(u64, u64)>,
    files: Vec<FileMapping>,
    prstatus_pid: Option<u64>,
    delve_header: Option<delve::Header>,
    delve_threads: Vec<Thread>,
}

fn read_notes(path: &Path, arch: Arch, all: &[Note<'_>], warnings: &mut Vec<Warning>) -> NoteFacts {
    let mut f = NoteFacts::default();
    for n in all {
        let core_name = n.name != ELF_NOTE_GNU && n.name != ELF_NOTE_GDB && n.name != ELF_NOTE_GO;
        match n.n_type {
            NT_PRSTATUS if core_name => match notes::prstatus(arch, n.desc) {
                Some(st) => {
                    f.prstatus_pid.get_or_insert(u64::from(st.pid));
                    f.threads.push(Thread {
                        tid: u64::from(st.pid),
                        regs: st.regs,
                        signal: i32::from(st.cursig),
                        extra_regsets: Vec::new(),
                    });
                }
                None => warnings.push(Warning::ShortThreadNote {
                    path: path.to_path_buf(),
                    note: note_name(n).to_string(),
                    offset: n.offset,
                    len: n.desc.len(),
                }),
            },
            NT_PRPSINFO if core_name => f.prpsinfo = notes::prpsinfo(n.desc),
            NT_AUXV => f.auxv = notes::auxv(n.desc),
            NT_FILE => match notes::nt_file(n.desc) {
                Some(files) => f.files = files,
                None => warnings.push(Warning::MalformedFileNote {
                    path: path.to_path_buf(),
                    note: note_name(n).to_string(),
                    offset: n.offset,
                }),
            },
            NT_SIGINFO => {
                if let Some(si) = notes::siginfo(n.desc) {
                    f.siginfos.push((f.threads.len().checked_sub(1), si));
                }
            }
            NT_DELVE_HEADER => f.delve_header = Some(delve::header(n.desc)),
            NT_DELVE_THREAD => match delve::thread(arch, n.desc) {
                Some(t) => f.delve_threads.push(t),
                None => warnings.push(Warning::MalformedDelveThread { path: path.to_path_buf(), offset: n.offset }),
            },
            t if defs::is_thread_regset(t) && core_name => {
                if let Some(th) = f.threads.last_mut() {
                    if t == NT_ARM_TLS {
                        if let (Registers::Arm64(r), Some(tp)) = (&mut th.regs, u64_at(n.desc, 0)) {
                            r.tpidr = Some(tp);
                        }
                    }
                    th.extra_regsets.push((t.0, n.desc.to_vec()));
                }
            }
            _ => {}
        }
    }
    f
}

/// A note's type by name, for warnings.
fn note_name(n: &Note<'_>) -> String {
    defs::note_type_name(n.name, n.n_type).map_or_else(|| format!("note type {:#x}", n.n_type.0), str::to_string)
}

/// Which thread took the signal, and how: the first non-empty `NT_SIGINFO`
/// (the kernel writes it after the dumping thread's `NT_PRSTATUS`, gdb after
/// each thread's), else the first thread with a current signal.
fn signal_info(f: &NoteFacts) -> Option<SignalInfo> {
    if let Some((thread, si)) = f.siginfos.iter().find(|(_, si)| si.signo != 0) {
        return Some(SignalInfo {
            signo: si.signo,
            code: si.code,
            errno: si.errno,
            addr: si.fault_addr(),
            thread: *thread,
        });
    }
    let (i, t) = f.threads.iter().enumerate().find(|(_, t)| t.signal != 0)?;
    Some(SignalInfo {
        signo: t.signal,
        thread: Some(i),
        ..Default::default()
    })
}

fn strip_deleted(p: &[u8]) -> PathBuf {
    let p = p.strip_suffix(b" (deleted)").unwrap_or(p);
    PathBuf::from(String::from_utf8_lossy(p).into_owned())
}

/// A found executable, before memory is assembled.
struct FoundExe {
    /// The path the core recorded for it (to swap in our copy), if any.
    recorded: Option<PathBuf>,
    path: PathBuf,
    bytes: Bytes,
    info: ExeInfo,
    bias: u64,
    verdict: Match,
}

/// Where the executable might be: `CORE.exe` (what godump saves beside a
/// core when the target's executable was deleted or replaced; for
/// `core.zst`, also `core.exe`), then the file mapping holding `AT_ENTRY`,
/// the first file mapping, `AT_EXECFN`, `NT_PRPSINFO`'s name; each as
/// recorded and next to the core (cores travel with their binary more often
/// than with their original paths). Pairs of (path to try, path recorded).
fn exe_candidates(core_path: &Path, recorded: &[PathBuf]) -> Vec<(PathBuf, PathBuf)> {
    let dir = core_path.parent().unwrap_or(Path::new("."));
    let mut out: Vec<(PathBuf, PathBuf)> = Vec::new();
    let first = recorded.first().cloned().unwrap_or_default();
    if core_path.file_name().is_some_and(|n| n != "-") {
        let mut saved = vec![PathBuf::from(format!("{}.exe", core_path.display()))];
        if let Some(ext) = core_path.extension().and_then(|e| e.to_str()) {
            if matches!(ext, "zst" | "xz" | "lz4") {
                saved.push(core_path.with_extension("exe"));
            }
        }
        out.extend(saved.into_iter().map(|p| (p, first.clone())));
    }
    for r in recorded {
        let mut tries = Vec::new();
        if r.is_absolute() {
            tries.push(r.clone());
        }
        if let Some(base) = r.file_name() {
            tries.push(dir.join(base));
        }
        for t in tries {
            if !out.iter().any(|(p, _)| *p == t) {
                out.push((t, r.clone()));
            }
        }
    }
    out
}

/// The executable's names as the core records them, best first.
fn recorded_names(f: &NoteFacts, mem: &SplicedMemory) -> Vec<PathBuf> {
    let at = |k| f.auxv.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    let mut recorded: Vec<PathBuf> = Vec::new();
    if let Some(entry) = at(AT_ENTRY) {
        if let Some(m) = f.files.iter().find(|m| m.start <= entry && entry < m.end) {
            recorded.push(strip_deleted(&m.path));
        }
    }
    if let Some(m) = f.files.first() {
        recorded.push(strip_deleted(&m.path));
    }
    if let Some(addr) = at(AT_EXECFN) {
        if let Ok(s) = mem.read_cstring(addr, 4096) {
            if !s.is_empty() {
                recorded.push(strip_deleted(&s));
            }
        }
    }
    if let Some(p) = &f.prpsinfo {
        if !p.fname.is_empty() {
            recorded.push(PathBuf::from(&p.fname));
        }
    }
    recorded
}

/// The core's copy of the executable's first page: at the recorded file's
/// offset-0 mapping, else on the page holding `AT_PHDR` (the program
/// headers follow the ELF header), if it starts with ELF magic.
fn recorded_page(f: &NoteFacts, recorded: Option<&PathBuf>, mem: &SplicedMemory) -> Option<Vec<u8>> {
    let base = recorded
        .and_then(|r| f.files.iter().find(|m| m.offset == 0 && strip_deleted(&m.path) == *r))
        .map(|m| m.start)
        .or_else(|| {
            let phdr = f.auxv.iter().find(|(k, _)| *k == AT_PHDR)?.1;
            Some(phdr & !0xfff)
        })?;
    let page = exe::first_page(mem, base)?;
    page.starts_with(b"\x7fELF").then_some(page)
}

/// Map `path` and compare it with the core: load bias and match verdict.
fn evaluate(
    path: &Path,
    recorded: Option<PathBuf>,
    f: &NoteFacts,
    core_only: &SplicedMemory,
    recorded_page: Option<&[u8]>,
) -> Result<FoundExe> {
    let bytes = map_file(path)?;
    let info = exe::inspect((*bytes).as_ref())
        .ok_or_else(|| Error::Other(format!("{}: not an ELF64 executable", path.display())))?;
    let at = |k| f.auxv.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    // The exe's mapping of file offset 0, by the recorded path.
    let base = recorded
        .as_ref()
        .and_then(|r| f.files.iter().find(|m| m.offset == 0 && strip_deleted(&m.path) == *r))
        .map(|m| m.start);
    let entry = at(AT_ENTRY).or_else(|| f.delve_header.as_ref().and_then(|h| h.entry));
    let bias = exe::load_bias(&info, entry, at(AT_PHDR), base);
    let page_at = base.or_else(|| {
        info.loads
            .iter()
            .find(|p| p.offset == 0)
            .map(|p| p.vaddr.wrapping_add(bias))
    });
    let page = page_at.and_then(|b| exe::first_page(core_only, b));
    let page = page.as_deref().filter(|p| p.starts_with(b"\x7fELF")).or(recorded_page);
    let mut verdict = exe::check((*bytes).as_ref(), &info, page);
    // Without a page to compare, a fixed-address executable must at least
    // have the entry point the kernel recorded.
    if let (Match::Unknown, false, Some(e)) = (&verdict, info.pie, entry) {
        if e != info.entry {
            verdict = Match::Different(format!(
                "entry point {:#x} in the file, {e:#x} in the core",
                info.entry
            ));
        }
    }
    Ok(FoundExe {
        recorded,
        path: path.to_path_buf(),
        bytes,
        info,
        bias,
        verdict,
    })
}

/// Find the executable: the option if given, else the first candidate that
/// matches the core, else a file with the core's build id in
/// `opts.exe_dirs`, else what `opts.exe_resolver` fetches, else the first
/// candidate that exists (with a warning later). `searched` gets every
/// place looked.
#[allow(clippy::too_many_arguments)]
fn find_exe(
    core_path: &Path,
    opts: &OpenOptions,
    f: &NoteFacts,
    core_only: &SplicedMemory,
    warnings: &mut Vec<Warning>,
    recorded: &[PathBuf],
    recorded_page: Option<&[u8]>,
    ids: &crate::BuildIds,
    searched: &mut Vec<String>,
) -> Result<Option<FoundExe>> {
    if let Some(p) = &opts.exe {
        return evaluate(p, recorded.first().cloned(), f, core_only, recorded_page).map(Some);
    }
    let candidates = exe_candidates(core_path, recorded);
    let mut fallback = None;
    for (path, recorded) in &candidates {
        searched.push(path.display().to_string());
        if !path.is_file() {
            continue;
        }
        match evaluate(path, Some(recorded.clone()), f, core_only, recorded_page) {
            Ok(fx) if matches!(fx.verdict, Match::Same(_)) => return Ok(Some(fx)),
            Ok(fx) => {
                fallback.get_or_insert(fx);
            }
            Err(e) => warnings.push(Warning::CandidateUnreadable { error: e.to_string() }),
        }
    }
    let recorded0 = recorded.first().cloned();
    let by_id = ids.gnu.is_some() || ids.go.is_some();
    for dir in &opts.exe_dirs {
        searched.push(format!("{} (by build id)", dir.display()));
        if !by_id {
            continue;
        }
        if let Some(p) = crate::exedir::find(dir, ids) {
            match evaluate(&p, recorded0.clone(), f, core_only, recorded_page) {
                Ok(fx) if matches!(fx.verdict, Match::Same(_)) => return Ok(Some(fx)),
                Ok(_) => {}
                Err(e) => warnings.push(Warning::CandidateUnreadable { error: e.to_string() }),
            }
        }
    }
    if let Some(r) = &opts.exe_resolver {
        searched.push(r.name.clone());
        if by_id {
            match (r.find)(ids) {
                Ok(p) => match evaluate(&p, recorded0.clone(), f, core_only, recorded_page) {
                    Ok(fx) if matches!(fx.verdict, Match::Same(_)) => return Ok(Some(fx)),
                    Ok(fx) => warnings.push(Warning::ResolvedMismatch { resolver: r.name.clone(), path: fx.path.clone() }),
                    Err(e) => warnings.push(Warning::ResolvedUnreadable { resolver: r.name.clone(), error: e.to_string() }),
                },
                Err(why) => warnings.push(Warning::ResolverFailed { resolver: r.name.clone(), error: why.to_string() }),
            }
        }
    }
    if fallback.is_none() {
        warnings.push(if recorded.is_empty() && opts.exe_dirs.is_empty() && opts.exe_resolver.is_none() {
            Warning::ExeUnnamed { container: "core" }
        } else {
            Warning::ExeNotFound { searched: searched.clone() }
        });
    }
    Ok(fallback)
}

/// Open the ELF core in `data` (already decompressed): its headers, its
/// notes, the core's own data, the executable, the memory built from all
/// of them, then the process facts. Each step is a function below; the
/// order is the order of the warnings.
pub(crate) fn open(path: &Path, data: Bytes, opts: &OpenOptions, mut warnings: Vec<Warning>) -> Result<Core> {
    let layout = headers(path, &data, &mut warnings)?;
    let f = notes(path, &data, &layout, &mut warnings);
    let signal = signal_info(&f);
    let core_data = core_data(path, &data, &layout);
    let (recorded_exe, found) = executable(path, opts, &f, &core_data, &mut warnings)?;
    let mut exe = exe_parts(layout.arch, found.as_ref(), &mut warnings);
    let exe_ranges = exe_ranges(found.as_ref());
    let truncated = core_data.truncated.clone();
    let memory = memory(path, &f, &layout.loads, found.as_ref(), core_data, &mut exe, &mut warnings);
    let mappings = mappings(&layout.loads, &f.files, &exe_ranges);
    let (pid, command, os) = process(&f);
    Ok(Core {
        path: path.to_path_buf(),
        format: Format::Elf,
        arch: layout.arch,
        os,
        pid,
        command,
        exe: exe.executable,
        recorded_exe,
        threads: f.threads,
        mappings,
        auxv: f.auxv,
        signal,
        memory,
        truncated,
        warnings,
        files: exe.files,
        // NT_FILE records no permissions; readers that need them look at
        // the file's own program headers.
        file_mappings: f
            .files
            .iter()
            .map(|m| Mapping {
                start: m.start,
                end: m.end,
                read: false,
                write: false,
                exec: false,
                file_offset: m.offset,
                path: Some(strip_deleted(&m.path)),
            })
            .collect(),
    })
}

/// What the ELF and program headers say.
struct Layout {
    arch: Arch,
    file_size: u64,
    /// Every program header the file holds.
    phdrs: Vec<Phdr>,
    /// The `PT_LOAD`s among them.
    loads: Vec<Phdr>,
    /// How long the file should be: the end of the last segment or of the
    /// program header table.
    expected_size: u64,
}

/// Step 1: the file header (a core, for a machine we read) and the program
/// headers; an error when there are none, a warning for those cut off.
fn headers(path: &Path, data: &Bytes, warnings: &mut Vec<Warning>) -> Result<Layout> {
    let d: &[u8] = (**data).as_ref();
    let h = elf::parse_header(d).map_err(|e| Error::UnknownFormat {
        path: path.to_path_buf(),
        what: e.to_string(),
    })?;
    if h.e_type != ET_CORE {
        return Err(Error::ElfNotCore { path: path.to_path_buf(), e_type: h.e_type.0 });
    }
    let arch = match h.machine {
        m if m == EM_X86_64.0 => Arch::Amd64,
        m if m == EM_AARCH64.0 => Arch::Arm64,
        m => {
            return Err(Error::UnknownFormat {
                path: path.to_path_buf(),
                what: format!("an ELF core for machine {m}; only x86-64 and arm64 are read"),
            })
        }
    };
    let file_size = d.len() as u64;
    let (phdrs, phdrs_missing) = elf::program_headers(d, &h);
    if phdrs.is_empty() {
        // Nothing to go on. Delve writes its program headers last, so a cut
        // Delve core ends up here.
        return Err(Error::Malformed {
            path: path.to_path_buf(),
            what: format!(
                "program header table ({} entries; the file is only {file_size} bytes: truncated?)",
                h.phnum
            ),
            offset: h.phoff,
        });
    }
    if phdrs_missing > 0 {
        warnings.push(Warning::HeadersBeyondEnd { path: path.to_path_buf(), missing: phdrs_missing, total: h.phnum });
    }
    let expected_size = phdrs
        .iter()
        .map(|p| p.offset.saturating_add(p.filesz))
        .chain(std::iter::once(h.phoff.saturating_add(h.phnum.saturating_mul(56))))
        .max()
        .unwrap_or(0);
    let loads = phdrs.iter().copied().filter(|p| p.p_type == PT_LOAD).collect();
    Ok(Layout {
        arch,
        file_size,
        phdrs,
        loads,
        expected_size,
    })
}

/// Step 2: the notes of every `PT_NOTE`, as far as the file holds them,
/// decoded; a Delve-format core's threads come from Delve's notes.
fn notes(path: &Path, data: &Bytes, layout: &Layout, warnings: &mut Vec<Warning>) -> NoteFacts {
    let d: &[u8] = (**data).as_ref();
    let mut all_notes = Vec::new();
    for p in layout.phdrs.iter().filter(|p| p.p_type == PT_NOTE) {
        let avail = p.filesz.min(layout.file_size.saturating_sub(p.offset));
        let Some(b) = bytes_at(d, p.offset, avail) else { continue };
        let mut it = Notes::new(b, p.offset);
        all_notes.extend(it.by_ref());
        if let Some(at) = it.truncated_at {
            warnings.push(Warning::DamagedNotes { path: path.to_path_buf(), offset: at });
        }
    }
    let mut f = read_notes(path, layout.arch, &all_notes, warnings);

    // A Delve-format core has Delve notes and no NT_PRSTATUS.
    let delve_format = f.threads.is_empty() && !f.delve_threads.is_empty();
    if delve_format {
        f.threads = std::mem::take(&mut f.delve_threads);
    }
    if f.threads.is_empty() {
        warnings.push(Warning::NoThreads { path: path.to_path_buf(), container: "core" });
    }
    f
}

/// The core file's own memory, alone.
struct CoreData {
    /// The bytes of each `PT_LOAD` that the file holds.
    layer: Vec<Region>,
    /// What a truncation cut off.
    missing: Vec<crate::spliced::Missing>,
    truncated: Option<Truncation>,
    /// `layer` and `missing` as memory, to look for the executable in.
    only: SplicedMemory,
}

/// Step 3: the core's data first, alone: finding the executable reads
/// `AT_EXECFN` and the executable's first page from it.
fn core_data(path: &Path, data: &Bytes, layout: &Layout) -> CoreData {
    let (layer, missing, truncated) = core_layer(path, data, &layout.loads, layout.file_size, layout.expected_size);
    let mut only = Builder::new();
    for r in &layer {
        only.add(r.clone());
    }
    for m in &missing {
        only.add_missing(m.start, m.end, m.reason.clone());
    }
    CoreData {
        layer,
        missing,
        truncated,
        only: only.build(),
    }
}

/// Step 4: what the core records of its executable (name, build ids from
/// its first page) and the file found for it, if any.
fn executable(
    path: &Path,
    opts: &OpenOptions,
    f: &NoteFacts,
    core: &CoreData,
    warnings: &mut Vec<Warning>,
) -> Result<(RecordedExe, Option<FoundExe>)> {
    let names = recorded_names(f, &core.only);
    let page = recorded_page(f, names.first(), &core.only);
    let page_info = page.as_deref().and_then(exe::inspect);
    let mut recorded_exe = RecordedExe {
        path: names.first().cloned(),
        gnu_build_id: page_info.as_ref().and_then(|i| i.gnu_build_id.clone()),
        go_build_id: page_info
            .as_ref()
            .and_then(|i| i.go_build_id.as_ref())
            .map(|b| String::from_utf8_lossy(b).into_owned()),
        package: page_info.as_ref().and_then(|i| i.package.clone()),
        searched: Vec::new(),
    };
    let ids = crate::BuildIds {
        gnu: recorded_exe.gnu_build_id.clone(),
        go: recorded_exe.go_build_id.clone(),
        package: None,
    };
    let found = find_exe(
        path,
        opts,
        f,
        &core.only,
        warnings,
        &names,
        page.as_deref(),
        &ids,
        &mut recorded_exe.searched,
    )?;
    if recorded_exe.package.is_none() {
        recorded_exe.package = found.as_ref().and_then(|fx| fx.info.package.clone());
    }
    Ok((recorded_exe, found))
}

/// The found executable as the model has it, and its segments as memory.
struct ExeParts {
    executable: Option<Executable>,
    /// Its `PT_LOAD`s, relocated.
    layer: Vec<Region>,
    /// The files backing memory, the executable first.
    files: Vec<MappedFile>,
}

/// Step 5: the found executable for the model, its segments relocated, and
/// what is doubtful about it (a mismatch, an unchecked file, another machine).
fn exe_parts(arch: Arch, found: Option<&FoundExe>, warnings: &mut Vec<Warning>) -> ExeParts {
    let mut out = ExeParts {
        executable: None,
        layer: Vec::new(),
        files: Vec::new(),
    };
    let Some(fx) = found else { return out };
    let bias = fx.bias;
    match &fx.verdict {
        Match::Same(_) => {}
        Match::Different(why) => warnings.push(Warning::ExeMismatch { exe: fx.path.clone(), container: "core", why: why.to_string() }),
        Match::Unknown => warnings.push(Warning::ExeUnchecked {
            exe: fx.path.clone(),
            container: "core",
            why: format!(
                "the core has no copy of its first page{}",
                if fx.info.pie { "" } else { " (its entry point does match)" }
            ),
        }),
    }
    let exe_machine_ok = match arch {
        Arch::Amd64 => fx.info.machine == EM_X86_64.0,
        Arch::Arm64 => fx.info.machine == EM_AARCH64.0,
    };
    if !exe_machine_ok {
        warnings.push(Warning::ExeMachine { exe: fx.path.clone(), machine: fx.info.machine, arch: arch.name() });
    }
    for p in &fx.info.loads {
        out.layer.push(Region {
            start: p.vaddr.wrapping_add(bias),
            len: p.filesz,
            backing: Backing::Bytes {
                bytes: fx.bytes.clone(),
                offset: usize::try_from(p.offset).unwrap_or(usize::MAX),
            },
        });
    }
    out.executable = Some(Executable {
        bytes: fx.bytes.clone(),
        path: fx.path.clone(),
        load_bias: bias,
        build_id: fx.info.gnu_build_id.clone().or_else(|| fx.info.go_build_id.clone()),
        mismatch: match &fx.verdict {
            Match::Different(why) => Some(why.clone()),
            _ => None,
        },
    });
    out.files.push(MappedFile {
        path: fx.path.clone(),
        bytes: fx.bytes.clone(),
    });
    out
}

/// The executable's segments as (start, end, file offset, path), to name
/// the mappings of a core without `NT_FILE`.
fn exe_ranges(found: Option<&FoundExe>) -> Vec<(u64, u64, u64, PathBuf)> {
    found
        .iter()
        .flat_map(|fx| {
            fx.info.loads.iter().map(move |p| {
                let start = p.vaddr.wrapping_add(fx.bias);
                (start, start.saturating_add(p.filesz), p.offset, fx.path.clone())
            })
        })
        .collect()
}

/// Step 6: the process's memory, in layers, each winning over the ones
/// before: zeros for never-dumped anonymous tails, the files `NT_FILE`
/// names (each mapped once, added to `exe.files`), the executable's
/// segments, the core's own data; what a truncation cut off is unreadable.
fn memory(
    path: &Path,
    f: &NoteFacts,
    loads: &[Phdr],
    found: Option<&FoundExe>,
    core: CoreData,
    exe: &mut ExeParts,
    warnings: &mut Vec<Warning>,
) -> SplicedMemory {
    // Layer 0: never-dumped tails of anonymous mappings read as zeros. A tail
    // that a file mapping covers holds file data, not zeros: leave it to
    // the file (or unreadable if the file is missing). Without NT_FILE
    // (qemu, Delve) only writable tails are taken as anonymous; read-only
    // ones are likely file text, which must not read as zeros.
    let mut memory = Builder::new();
    let know_files = !f.files.is_empty();
    for p in loads {
        if p.memsz > p.filesz && (know_files || p.flags.contains(PF_W)) {
            memory.add(Region {
                start: p.vaddr.saturating_add(p.filesz),
                len: p.memsz - p.filesz,
                backing: Backing::Zeros,
            });
        }
    }
    for m in &f.files {
        memory.remove(m.start, m.end - m.start);
    }

    // Layer 1: files named by NT_FILE, each mapped once.
    let mut maps: HashMap<PathBuf, Option<Bytes>> = HashMap::new();
    if let Some(fx) = found {
        if let Some(r) = &fx.recorded {
            maps.insert(r.clone(), Some(fx.bytes.clone()));
        }
    }
    let mut missing_files = Vec::new();
    for m in &f.files {
        let p = strip_deleted(&m.path);
        let bytes = maps
            .entry(p.clone())
            .or_insert_with(|| match map_file(&p) {
                Ok(b) => {
                    exe.files.push(MappedFile {
                        path: p.clone(),
                        bytes: b.clone(),
                    });
                    Some(b)
                }
                Err(_) => {
                    missing_files.push(p.display().to_string());
                    None
                }
            })
            .clone();
        if let Some(b) = bytes {
            memory.add(Region {
                start: m.start,
                len: m.end - m.start,
                backing: Backing::Bytes {
                    bytes: b,
                    offset: usize::try_from(m.offset).unwrap_or(usize::MAX),
                },
            });
        }
    }
    if !missing_files.is_empty() {
        warnings.push(Warning::MappedFilesMissing { files: missing_files });
    }
    // Layer 2: the executable's segments, relocated.
    for r in std::mem::take(&mut exe.layer) {
        memory.add(r);
    }
    // Layer 3: the core's own data wins over everything.
    for r in core.layer {
        memory.add(r);
    }
    if let Some(t) = &core.truncated {
        for m in &core.missing {
            memory.remove(m.start, m.end - m.start);
            memory.add_missing(m.start, m.end, m.reason.clone());
        }
        warnings.push(t.warning(path, "core file"));
    }
    memory.build()
}

/// Step 7: the process: its pid (`NT_PRPSINFO`, Delve's header, else the
/// first thread's), its command line, its OS (Delve's header says).
fn process(f: &NoteFacts) -> (Option<u64>, Option<String>, Os) {
    let pid = f
        .prpsinfo
        .as_ref()
        .map(|p| u64::from(p.pid))
        .filter(|&p| p != 0)
        .or_else(|| f.delve_header.as_ref().and_then(|h| h.pid))
        .or(f.prstatus_pid);
    let command = f.prpsinfo.as_ref().map(|p| if p.psargs.is_empty() { p.fname.clone() } else { p.psargs.clone() });
    let os = match f.delve_header.as_ref().map(|h| h.goos.as_str()) {
        Some("linux") | None => Os::Linux,
        Some("windows") => Os::Windows,
        Some("darwin") => Os::MacOs,
        Some(_) => Os::Unknown,
    };
    (pid, command, os)
}

/// The core's PT_LOAD data as regions, cut where the file ends; plus what
/// the truncation (if any) hides.
fn core_layer(
    path: &Path,
    data: &Bytes,
    loads: &[Phdr],
    file_size: u64,
    expected_size: u64,
) -> (Vec<Region>, Vec<crate::spliced::Missing>, Option<Truncation>) {
    let mut out = Vec::with_capacity(loads.len());
    let mut first_cut: Option<(u64, u64)> = None; // (file offset, address)
    let reason = format!(
        "core file {} is truncated ({file_size} of {expected_size} bytes); these bytes are not in it",
        path.display()
    );
    let mut missing = Vec::new();
    for p in loads {
        let avail = p.filesz.min(file_size.saturating_sub(p.offset));
        if avail > 0 {
            out.push(Region {
                start: p.vaddr,
                len: avail,
                backing: Backing::Bytes {
                    bytes: data.clone(),
                    offset: p.offset as usize, // < file_size, so fits
                },
            });
        }
        if avail < p.filesz {
            let at = p.vaddr.saturating_add(avail);
            missing.push(crate::spliced::Missing {
                start: at,
                end: p.vaddr.saturating_add(p.filesz),
                reason: reason.clone(),
            });
            let off = p.offset.saturating_add(avail);
            if !matches!(first_cut, Some((o, _)) if o <= off) {
                first_cut = Some((off, at));
            }
        }
    }
    let truncated = (file_size < expected_size).then(|| Truncation {
        file_size,
        expected_size,
        first_missing_addr: first_cut.map(|(_, a)| a),
    });
    (out, missing, truncated)
}

/// One mapping per PT_LOAD, named by the NT_FILE entry that holds it, or
/// (for cores without NT_FILE) by the executable segment it falls in.
fn mappings(loads: &[Phdr], files: &[FileMapping], exe: &[(u64, u64, u64, PathBuf)]) -> Vec<Mapping> {
    loads
        .iter()
        .map(|p| {
            let file = files.iter().find(|m| m.start <= p.vaddr && p.vaddr < m.end);
            if file.is_none() && files.is_empty() {
                if let Some((s, _, off, path)) = exe.iter().find(|(s, e, _, _)| *s <= p.vaddr && p.vaddr < *e) {
                    return Mapping {
                        start: p.vaddr,
                        end: p.vaddr.saturating_add(p.memsz),
                        read: p.flags.contains(PF_R),
                        write: p.flags.contains(PF_W),
                        exec: p.flags.contains(PF_X),
                        file_offset: off.saturating_add(p.vaddr - s),
                        path: Some(path.clone()),
                    };
                }
            }
            Mapping {
                start: p.vaddr,
                end: p.vaddr.saturating_add(p.memsz),
                read: p.flags.contains(PF_R),
                write: p.flags.contains(PF_W),
                exec: p.flags.contains(PF_X),
                file_offset: file.map_or(0, |m| m.offset.saturating_add(p.vaddr - m.start)),
                path: file.map(|m| strip_deleted(&m.path)),
            }
        })
        .collect()
}
