//! `godump`: the command line. Argument parsing, the progress bar and
//! messages live here; the work is in the `dump` library.

#![forbid(unsafe_code)]

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use dump::{AttachOptions, DumpOptions, DumpState, LinuxProcess};

#[derive(Parser)]
#[command(
    name = "godump",
    version,
    about = "Write core files of live Linux processes (a gcore for Go programs), or convert cores",
    after_help = "Examples:\n  \
    godump create 4242 app.core            snapshot pid 4242; it keeps running\n  \
    godump create --filter 0x37 4242 a.core   also dump private file mappings\n  \
    godump create -q $(pidof server) s.core   no progress bar\n  \
    godump convert core.zst plain.core     a core goanalyze opens -> plain ELF core\n  \
    dlv core ./server s.core               then look at it with Delve, gdb or goanalyze\n\n\
    Exit status: 0 done, 1 the dump failed, 2 bad usage."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Snapshot a live process into an ELF core; it is stopped for a copy-on-write clone (or, with --stop, while its memory is copied), then resumed.
    #[command(after_help = "Examples:\n  \
        godump create 4242 app.core\n  \
        godump create --filter 0x33 --quiet 4242 app.core\n  \
        godump create --format minidump 4242 app.dmp\n\n\
        A file OUT is written under a temporary name in its directory and renamed to OUT when\n\
        complete (a symlink is followed: its target is replaced); on failure or SIGINT/SIGTERM/\n\
        SIGHUP the process is detached (left running) and the temporary removed, OUT untouched.\n\
        OUT `-` (stdout), a FIFO or a character device is written straight through, in order:\n\
          godump create 4242 - | zstd > app.core.zst\n\
        A new core is created with mode 0600, as the kernel does: it holds the process's secrets.\n\
        When the target's executable was deleted or replaced since it started (a deploy), the\n\
        running one is saved from /proc/PID/exe as OUT.exe, where goanalyze looks for it; for `-`,\n\
        a FIFO or a device nothing is saved unless --exe-out names a file.\n\
        Which mappings are dumped follows /proc/PID/coredump_filter, as for a crash.\n\n\
        By default the process is stopped only while its registers are read and a copy-on-write\n\
        clone of it is made (a clone syscall injected with ptrace; the clone never runs and is\n\
        killed and reaped afterwards); the core is then written from the clone while the process\n\
        runs. Pages it writes meanwhile are copied by the kernel and charged to it. When a clone\n\
        is impossible or unsafe (seccomp, too little memory headroom, not amd64) it is dumped\n\
        stopped, as with --stop, and godump says why.")]
    Create {
        /// Process id of the process to dump.
        pid: i32,
        /// Core file to write; `-` for standard output.
        out: PathBuf,
        /// Permission bits (octal) of a new core file, before the umask.
        #[arg(long, value_parser = parse_mode, default_value = "600")]
        mode: u32,
        /// Coredump filter bits (hex, like /proc/PID/coredump_filter) instead of the process's own.
        /// 0x1 anon private, 0x2 anon shared, 0x4 file private, 0x8 file shared, 0x10 ELF headers,
        /// 0x20/0x40 hugetlb private/shared.
        #[arg(long, value_parser = parse_filter)]
        filter: Option<u32>,
        /// No progress bar.
        #[arg(short, long)]
        quiet: bool,
        /// Threads reading memory.
        #[arg(long, default_value_t = DumpOptions::default().readers)]
        readers: usize,
        /// Output format.
        #[arg(long, value_enum, default_value = "elf")]
        format: FormatArg,
        /// MiB of memory reading may run ahead of writing (default: a quarter of
        /// the available memory, 64..1024; at most 64 for a dump small enough for the
        /// page cache). The target resumes once all is read.
        #[arg(long)]
        buffer_mib: Option<usize>,
        /// Write through the page cache whatever the size. By default only a dump that
        /// the cache holds without starting writeback goes there; a bigger one is
        /// written with O_DIRECT (less CPU; the machine's page cache is left alone).
        #[arg(long, conflicts_with = "direct")]
        buffered: bool,
        /// Write with O_DIRECT whatever the size.
        #[arg(long)]
        direct: bool,
        /// Keep the process stopped until all its memory is read; no clone.
        #[arg(long, conflicts_with = "clone")]
        stop: bool,
        /// Dump from a clone or fail: no fall-back, and no memory headroom check.
        #[arg(long)]
        clone: bool,
        /// Save the running executable (from /proc/PID/exe) as FILE, whether or not it
        /// changed (default: OUT.exe, only when the file at its path was deleted or replaced).
        #[arg(long, value_name = "FILE")]
        exe_out: Option<PathBuf>,
    },
    /// Rewrite any core goanalyze can open (through core-reader) as a Linux ELF core or a minidump.
    #[command(after_help = "Examples:\n  \
        godump convert --exe ./server core.zst app.core   a zstd-compressed core, naming the executable\n  \
        godump convert --format minidump app.core app.dmp  ELF core -> minidump (lldb, crash pipelines)\n  \
        godump convert dlv-dump.core app.core              Delve's dump -> kernel-style notes for gdb")]
    Convert {
        /// Core to read.
        input: PathBuf,
        /// Core to write; `-` for standard output.
        out: PathBuf,
        /// Permission bits (octal) of a new core file, before the umask.
        #[arg(long, value_parser = parse_mode, default_value = "600")]
        mode: u32,
        /// The executable, when the core's own record of it is not enough.
        #[arg(long)]
        exe: Option<PathBuf>,
        /// No progress bar.
        #[arg(short, long)]
        quiet: bool,
        /// Output format.
        #[arg(long, value_enum, default_value = "elf")]
        format: FormatArg,
    },
}

/// `--format`.
#[derive(Clone, Copy, ValueEnum)]
enum FormatArg {
    /// Linux ELF core (gdb, dlv, lldb, eu-stack, goanalyze).
    Elf,
    /// Breakpad-style minidump holding all dumped memory (lldb, rust-minidump).
    Minidump,
    /// Mach-O MH_CORE: segments and thread states (lldb).
    Macho,
}

impl From<FormatArg> for dump::Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Elf => dump::Format::Elf,
            FormatArg::Minidump => dump::Format::Minidump,
            FormatArg::Macho => dump::Format::MachO,
        }
    }
}

fn parse_filter(s: &str) -> Result<u32, String> {
    dump::maps::parse_filter(s).ok_or_else(|| format!("{s:?} is not a hex coredump filter such as 0x33"))
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("{s:?} is not octal permission bits such as 600"))
}

/// The error and its causes on one line, each said once: our errors already
/// carry their cause in their own message.
fn one_line(e: &anyhow::Error) -> String {
    let mut s = e.to_string();
    for cause in e.chain().skip(1) {
        let c = cause.to_string();
        if !s.contains(&c) {
            s += ": ";
            s += &c;
        }
    }
    s
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // clap's own exit codes: 0 for --help/--version, 2 for usage errors.
            e.exit();
        }
    };
    if let Err(e) = run(cli) {
        eprintln!("godump: error: {}", one_line(&e));
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.cmd {
        Cmd::Create { pid, out, mode, filter, quiet, readers, format, buffer_mib, buffered, direct, stop, clone, exe_out } => {
            let mut opts = DumpOptions {
                mode,
                readers: readers.max(1),
                format: format.into(),
                direct: !buffered,
                cache_bytes: direct.then_some(0),
                ..DumpOptions::default()
            };
            if let Some(m) = buffer_mib {
                opts.buffer_bytes = m << 20;
            }
            let snap = if stop {
                dump::SnapshotMode::Stop
            } else if clone {
                dump::SnapshotMode::Clone
            } else {
                dump::SnapshotMode::Auto
            };
            create(pid, out, AttachOptions { filter, mode: snap }, quiet, opts, exe_out)
        }
        Cmd::Convert { input, out, mode, exe, quiet, format } => {
            convert(input, out, exe, quiet, DumpOptions { format: format.into(), mode, ..DumpOptions::default() })
        }
    }
}

fn human(b: u64) -> String {
    indicatif::HumanBytes(b).to_string()
}

fn create(pid: i32, out: PathBuf, attach: AttachOptions, quiet: bool, opts: DumpOptions, exe_out: Option<PathBuf>) -> Result<()> {
    dump::interrupt::install().context("installing signal handlers")?;
    if out.is_dir() {
        bail!("{}: is a directory; give the core file's name", out.display());
    }
    refuse_terminal(&out)?;
    let state = Arc::new(DumpState::new());
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| spawn_bar(state.clone()));

    // Before the target stops: the descriptor keeps the running file even
    // if the process exits before it is copied (after the dump).
    let running = dump::linux::exe::RunningExe::open(pid);
    let result = (|| {
        let target = LinuxProcess::attach(pid, &attach)?;
        let r = dump::dump(&target, &out, &opts, &state);
        let stopped = target.detach();
        r.map(|s| (s, stopped))
    })();
    state.all_done.store(true, Ordering::Release);
    if let Some(h) = bar {
        let _ = h.join();
    }
    // Errors already name the pid or path.
    let (s, stopped) = result?;
    let on_disk = if s.stream {
        String::new()
    } else {
        let b = std::fs::metadata(&s.path).map(|m| {
            use std::os::unix::fs::MetadataExt;
            m.blocks() * 512
        });
        format!(", {} on disk", b.map(human).unwrap_or_else(|_| "?".into()))
    };
    for r in &s.remarks {
        eprintln!("godump: note: {r}");
    }
    eprintln!(
        "godump: wrote {} ({} threads, {} mappings, {} of memory{on_disk}); pid {pid} was stopped for {:.3}s{}",
        s.path.display(),
        s.threads,
        s.mappings,
        human(s.memory_bytes),
        stopped.as_secs_f64(),
        if s.cloned { ", then dumped from a copy-on-write clone" } else { "" },
    );
    if s.unreadable_pages > 0 {
        eprintln!("godump: {} unreadable pages were written as zeros", s.unreadable_pages);
    }
    save_exe(pid, &out, s.stream, running.as_ref(), exe_out.as_deref())
}

/// The executable beside the core when the file at its path is no longer
/// the one the process runs (or wherever `--exe-out` says).
fn save_exe(
    pid: i32,
    out: &std::path::Path,
    stream: bool,
    running: Option<&dump::linux::exe::RunningExe>,
    exe_out: Option<&std::path::Path>,
) -> Result<()> {
    let Some(r) = running else {
        if let Some(p) = exe_out {
            bail!("{}: /proc/{pid}/exe could not be read; the executable was not saved", p.display());
        }
        return Ok(());
    };
    if let Some(why) = &r.changed {
        eprintln!("godump: warning: pid {pid}'s executable {}: {why}", r.path.display());
    }
    let dest = match exe_out {
        Some(p) => p.to_path_buf(),
        None if r.changed.is_none() => return Ok(()),
        None if stream => {
            eprintln!(
                "godump: warning: the core went to a stream, so the running executable was not saved beside it; \
                 dump again with --exe-out FILE to keep it (then goanalyze CORE --exe FILE)"
            );
            return Ok(());
        }
        None => std::path::PathBuf::from(format!("{}.exe", out.display())),
    };
    match r.save(&dest) {
        Ok(n) => {
            eprintln!("godump: saved the running executable ({}) as {}", human(n), dest.display());
            Ok(())
        }
        // The core itself is complete: a default copy that failed is a
        // warning, one the user asked for is a failure.
        Err(e) if exe_out.is_none() => {
            eprintln!("godump: warning: {}: {e}; the running executable was not saved", dest.display());
            Ok(())
        }
        Err(e) => bail!("{}: {e}; the running executable was not saved", dest.display()),
    }
}

/// `-` on a terminal: a core is no text to show there.
fn refuse_terminal(out: &std::path::Path) -> Result<()> {
    if out.as_os_str() == "-" && std::io::stdout().is_terminal() {
        bail!("-: standard output is a terminal; redirect it (godump create PID - | zstd > core.zst) or name a file");
    }
    Ok(())
}

fn convert(input: PathBuf, out: PathBuf, exe: Option<PathBuf>, quiet: bool, opts: DumpOptions) -> Result<()> {
    refuse_terminal(&out)?;
    dump::interrupt::install().context("installing signal handlers")?;
    let core = core_reader::Core::open(&input, &core_reader::OpenOptions { exe, ..core_reader::OpenOptions::from_env() })?;
    for w in &core.warnings {
        eprintln!("godump: warning: {}: {w}", input.display());
    }
    let state = Arc::new(DumpState::new());
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| spawn_bar(state.clone()));
    let r = dump::dump(&core, &out, &opts, &state);
    state.all_done.store(true, Ordering::Release);
    if let Some(h) = bar {
        let _ = h.join();
    }
    let s = r?;
    eprintln!(
        "godump: wrote {} ({} threads, {} mappings, {} of memory)",
        s.path.display(),
        s.threads,
        s.mappings,
        human(s.memory_bytes)
    );
    Ok(())
}

/// Draw a bar from the shared state until the dump ends.
fn spawn_bar(state: Arc<DumpState>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let pb = indicatif::ProgressBar::new(0);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        while !state.is_done() {
            let (done, total) = state.mem();
            let (td, tt) = state.threads();
            pb.set_length(total);
            pb.set_position(done);
            pb.set_message(format!("threads {td}/{tt}"));
            std::thread::sleep(Duration::from_millis(100));
        }
        pb.finish_and_clear();
    })
}
