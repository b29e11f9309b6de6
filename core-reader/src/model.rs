//! The format-independent model of a core: what every reader produces.

use std::path::{Path, PathBuf};

use crate::{Result, SplicedMemory};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Elf,
    Minidump,
    MachO,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    pub fn name(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
    pub fn ptr_size(self) -> u64 {
        8
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Linux,
    Windows,
    MacOs,
    Unknown,
}

/// amd64 general registers, in the kernel's `user_regs_struct` order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Amd64Regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

/// arm64 general registers, in the kernel's `user_pt_regs` order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Arm64Regs {
    pub x: [u64; 31],
    pub sp: u64,
    pub pc: u64,
    pub pstate: u64,
    /// TPIDR_EL0 (thread pointer), when the core records it.
    pub tpidr: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registers {
    Amd64(Amd64Regs),
    Arm64(Arm64Regs),
}

impl Registers {
    pub fn pc(&self) -> u64 {
        match self {
            Registers::Amd64(r) => r.rip,
            Registers::Arm64(r) => r.pc,
        }
    }
    pub fn sp(&self) -> u64 {
        match self {
            Registers::Amd64(r) => r.rsp,
            Registers::Arm64(r) => r.sp,
        }
    }
    /// Frame pointer: rbp on amd64, x29 on arm64.
    pub fn fp(&self) -> u64 {
        match self {
            Registers::Amd64(r) => r.rbp,
            Registers::Arm64(r) => r.x[29],
        }
    }
    /// Link register (x30) on arm64; none on amd64.
    pub fn lr(&self) -> Option<u64> {
        match self {
            Registers::Amd64(_) => None,
            Registers::Arm64(r) => Some(r.x[30]),
        }
    }
    /// A register by its DWARF number (amd64: 0..=16 with 16 = rip; arm64: 0..=30 x-regs, 31 sp, 32 pc).
    pub fn dwarf(&self, reg: u16) -> Option<u64> {
        match self {
            Registers::Amd64(r) => Some(match reg {
                0 => r.rax,
                1 => r.rdx,
                2 => r.rcx,
                3 => r.rbx,
                4 => r.rsi,
                5 => r.rdi,
                6 => r.rbp,
                7 => r.rsp,
                8 => r.r8,
                9 => r.r9,
                10 => r.r10,
                11 => r.r11,
                12 => r.r12,
                13 => r.r13,
                14 => r.r14,
                15 => r.r15,
                16 => r.rip,
                _ => return None,
            }),
            Registers::Arm64(r) => match reg {
                0..=30 => Some(r.x[reg as usize]),
                31 => Some(r.sp),
                32 => Some(r.pc),
                _ => None,
            },
        }
    }
    /// Every register by its conventional name, for display.
    pub fn named(&self) -> Vec<(&'static str, u64)> {
        match self {
            Registers::Amd64(r) => vec![
                ("rip", r.rip),
                ("rsp", r.rsp),
                ("rbp", r.rbp),
                ("rax", r.rax),
                ("rbx", r.rbx),
                ("rcx", r.rcx),
                ("rdx", r.rdx),
                ("rsi", r.rsi),
                ("rdi", r.rdi),
                ("r8", r.r8),
                ("r9", r.r9),
                ("r10", r.r10),
                ("r11", r.r11),
                ("r12", r.r12),
                ("r13", r.r13),
                ("r14", r.r14),
                ("r15", r.r15),
                ("eflags", r.eflags),
                ("cs", r.cs),
                ("ss", r.ss),
                ("fs_base", r.fs_base),
                ("gs_base", r.gs_base),
            ],
            Registers::Arm64(r) => {
                const X: [&str; 31] = [
                    "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11",
                    "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21", "x22",
                    "x23", "x24", "x25", "x26", "x27", "x28", "x29", "x30",
                ];
                let mut v: Vec<(&'static str, u64)> =
                    X.iter().zip(r.x.iter()).map(|(n, v)| (*n, *v)).collect();
                v.push(("sp", r.sp));
                v.push(("pc", r.pc));
                v.push(("pstate", r.pstate));
                v
            }
        }
    }
}

/// `Thread::extra_regsets` key of a Mach-O core's raw thread state: this
/// value OR the xnu flavor number (e.g. `| 5` for `x86_FLOAT_STATE64`).
/// Flavors whose layout matches a Linux regset are also given under that
/// note type (`NT_FPREGSET`).
pub const REGSET_MACHO_FLAVOR: u32 = 0x4d43_0000;

/// One OS thread of the process.
#[derive(Debug, Clone)]
pub struct Thread {
    pub tid: u64,
    pub regs: Registers,
    /// The signal recorded for this thread (ELF `pr_cursig`), 0 when none.
    pub signal: i32,
    /// Raw note payloads of the other register sets (`NT_FPREGSET`, `NT_X86_XSTATE`, `NT_ARM_*`), by note type;
    /// minidumps give their FP state as `NT_FPREGSET`, Mach-O cores also every raw flavor (see [`REGSET_MACHO_FLAVOR`]).
    pub extra_regsets: Vec<(u32, Vec<u8>)>,
}

/// One mapping of the process's address space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    /// Byte offset into `path`, when file-backed.
    pub file_offset: u64,
    pub path: Option<PathBuf>,
}

/// How and where the process died.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignalInfo {
    pub signo: i32,
    pub code: i32,
    pub errno: i32,
    /// The fault address (`si_addr`) for SIGSEGV/SIGBUS/SIGILL/SIGFPE.
    pub addr: Option<u64>,
    /// Index into `Core::threads` of the thread that took the signal.
    pub thread: Option<usize>,
}

/// The executable the core was made from, as found or given.
#[derive(Clone)]
pub struct Executable {
    pub path: PathBuf,
    /// The file's bytes, mapped once: the same map backs the core's memory
    /// where the kernel did not dump the executable, and the analyzer's
    /// reading of its pclntab and DWARF.
    pub bytes: crate::spliced::Bytes,
    /// What the executable's addresses must be shifted by (non-zero for PIE).
    pub load_bias: u64,
    /// The file's GNU build id, else its Go build id (as bytes of text).
    pub build_id: Option<Vec<u8>>,
    /// Why the file is not the one the core was made from (its build id,
    /// first page or entry point differ), when the reader could tell; a
    /// warning says so too. Pipelines that must not attribute a crash to
    /// the wrong build refuse such a core.
    pub mismatch: Option<String>,
}

impl std::fmt::Debug for Executable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executable")
            .field("path", &self.path)
            .field("load_bias", &self.load_bias)
            .field("build_id", &self.build_id)
            .field("mismatch", &self.mismatch)
            .field("len", &(*self.bytes).as_ref().len())
            .finish()
    }
}

/// What the core itself records about its executable, whether or not the
/// file was found: its path and the build ids in the core's copy of the
/// executable's first page (the kernel dumps that page of ELF mappings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedExe {
    pub path: Option<PathBuf>,
    /// Minidumps: the module's CodeView ELF id, which Breakpad-style
    /// writers take from `.text` when the file has no GNU build id.
    pub gnu_build_id: Option<Vec<u8>>,
    /// The Go toolchain's build id (`.note.go.buildid`), as text.
    pub go_build_id: Option<String>,
    /// The ELF package metadata note (`.note.package`, JSON) in the core's
    /// copy of the first page, else in the executable found.
    pub package: Option<String>,
    /// Every place the reader looked for the executable, in order (paths,
    /// `--exe-dir` directories, resolvers such as debuginfod), for the
    /// message when none of them held it.
    pub searched: Vec<String>,
}

/// Where a truncated core's data stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    pub file_size: u64,
    pub expected_size: u64,
    /// The first address of the process whose bytes are missing from the file.
    pub first_missing_addr: Option<u64>,
}

impl Truncation {
    /// The warning the readers give: `what` is "core file" or "minidump".
    pub(crate) fn warning(&self, path: &std::path::Path, what: &'static str) -> crate::Warning {
        crate::Warning::Truncated {
            path: path.to_path_buf(),
            what,
            file_size: self.file_size,
            expected_size: self.expected_size,
            first_missing: self.first_missing_addr,
        }
    }
}

/// Options for [`Core::open`]. `Default` is what a library caller wants;
/// [`OpenOptions::from_env`] adds what the user set in the environment.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Use this executable instead of the one the core names.
    pub exe: Option<PathBuf>,
    /// When the executable is not where the core says (nor `CORE.exe`, nor
    /// next to the core): directories searched for a file with the core's
    /// GNU build id, then its Go build id (the files in each directory and
    /// in its subdirectories, two levels deep, as a `.build-id/xx/` tree).
    pub exe_dirs: Vec<PathBuf>,
    /// Asked last, when no file found so far matches the core: gets the
    /// core's build ids, returns a file to try (a debuginfod client).
    pub exe_resolver: Option<ExeResolver>,
    /// Stop decompressing a compressed core past this many bytes (`None`:
    /// [`crate::DEFAULT_MAX_DECOMPRESSED`]): a bomb of a few KiB would
    /// otherwise fill the disk.
    pub max_decompressed: Option<u64>,
}

impl OpenOptions {
    /// The options a command-line tool opens cores with: the defaults, with
    /// the decompression cap from [`crate::MAX_DECOMPRESSED_ENV`] when set.
    pub fn from_env() -> OpenOptions {
        OpenOptions { max_decompressed: crate::source::max_decompressed_from_env(), ..OpenOptions::default() }
    }

    /// The same options with `exe` as the executable.
    pub fn exe(mut self, exe: Option<&std::path::Path>) -> OpenOptions {
        self.exe = exe.map(|p| p.to_path_buf());
        self
    }
}

/// Finds an executable by the build ids the core records (see
/// [`OpenOptions::exe_resolver`]). `name` says where it looks, for the
/// "not found" message; `find` returns a file, or why there is none (the
/// resolver's own error: a network client's, say; its text becomes a
/// warning).
/// An [`ExeResolver`]'s failure: whatever error type the resolver has.
pub type ResolveError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Clone)]
pub struct ExeResolver {
    pub name: String,
    #[allow(clippy::type_complexity)]
    pub find: std::sync::Arc<dyn Fn(&crate::BuildIds) -> std::result::Result<PathBuf, ResolveError> + Send + Sync>,
}

impl std::fmt::Debug for ExeResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExeResolver({})", self.name)
    }
}

/// A core file, opened. Every format reader produces this.
#[derive(Debug)]
pub struct Core {
    pub path: PathBuf,
    pub format: Format,
    pub arch: Arch,
    pub os: Os,
    pub pid: Option<u64>,
    /// Program name and arguments as the core records them (`NT_PRPSINFO`).
    pub command: Option<String>,
    pub exe: Option<Executable>,
    /// What the core says about its executable, even when it was not found.
    pub recorded_exe: RecordedExe,
    pub threads: Vec<Thread>,
    pub mappings: Vec<Mapping>,
    pub auxv: Vec<(u64, u64)>,
    pub signal: Option<SignalInfo>,
    pub memory: SplicedMemory,
    pub truncated: Option<Truncation>,
    /// Things worth telling the user that did not stop the open.
    pub warnings: Vec<crate::Warning>,
    /// The files whose bytes back memory (the executable first, then
    /// libraries), each mapped once.
    pub files: Vec<MappedFile>,
    /// Every file-backed range of the process as `NT_FILE` lists it, also
    /// those the core holds no data for (gdb's gcore does not dump
    /// unmodified library text, so `mappings`, made from the core's
    /// segments, lacks them). `NT_FILE` has no permissions: read, write and
    /// exec are all false here. Empty when the core has no `NT_FILE`; for a
    /// minidump, its file-backed mappings; for a Mach-O core, empty.
    pub file_mappings: Vec<Mapping>,
}

/// A file the core's memory borrows from.
#[derive(Clone)]
pub struct MappedFile {
    pub path: PathBuf,
    pub bytes: crate::spliced::Bytes,
}

impl MappedFile {
    pub fn data(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MappedFile({}, {} bytes)", self.path.display(), self.data().len())
    }
}

impl Core {
    /// Open a core file of any supported format, compressed or not.
    ///
    /// Compression (zstd, xz, lz4 frame) is recognised by magic bytes, not by
    /// the file name. Problems that leave the core usable (a missing library,
    /// an executable that does not match, truncation) become `warnings`.
    pub fn open(path: &Path, opts: &OpenOptions) -> Result<Core> {
        crate::open::open(path, opts)
    }

    /// Open the core in file `path`, naming it `name` in messages and
    /// looking for its executable as if it were at `name` (`-`: the current
    /// directory): for a core spooled from standard input.
    pub fn open_as(path: &Path, name: &Path, opts: &OpenOptions) -> Result<Core> {
        crate::open::open_data(name, crate::source::map_file(path)?, opts)
    }

    /// Open a core from bytes in memory (compressed or not), as [`Core::open`]
    /// does a file; `name` stands for the file in messages. For callers that
    /// already hold the bytes, and for fuzzing.
    pub fn from_bytes(name: &Path, bytes: Vec<u8>, opts: &OpenOptions) -> Result<Core> {
        crate::open::open_data(name, std::sync::Arc::new(bytes), opts)
    }

    /// The executable's bytes, when it was found.
    pub fn exe_bytes(&self) -> Option<&[u8]> {
        let exe = self.exe.as_ref()?;
        self.files.iter().find(|f| f.path == exe.path).map(|f| f.data())
    }

    /// The thread that took the signal (or the first thread).
    pub fn crashed_thread(&self) -> Option<&Thread> {
        let i = self.signal.as_ref().and_then(|s| s.thread).unwrap_or(0);
        self.threads.get(i)
    }

    pub fn read_u32(&self, addr: u64) -> Result<u32> {
        self.memory.read_u32(addr)
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64> {
        self.memory.read_u64(addr)
    }

    /// A NUL-terminated string of at most `max` bytes.
    pub fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>> {
        self.memory.read_cstring(addr, max)
    }

    /// Give back the resident pages of the memory maps behind the core's
    /// memory ([`crate::SplicedMemory::release_pages`]).
    pub fn release_pages(&self) {
        self.memory.release_pages();
    }

    /// Read exactly `buf.len()` bytes at `addr`.
    pub fn read_memory(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.memory.read(addr, buf)
    }

    pub fn auxv_value(&self, key: u64) -> Option<u64> {
        self.auxv.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }
}
