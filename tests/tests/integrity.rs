//! Output integrity: the tools write only what the user named, and a failed
//! write is never a success.
//!
//! - `godump create PID OUT`: a character device or a FIFO is written
//!   through and stays what it was; `-` is standard output (a pipe that
//!   goanalyze then reads); a symlink is followed; a file that only looks
//!   like ours (`OUT.partial`) is left alone; a new core is mode 0600; an
//!   error names the path the user gave, once.
//! - goanalyze: a write error on stdout (`/dev/full`) is one line and a
//!   non-zero exit in every mode; a closed pipe is quiet and ends every mode
//!   with the same status; `--triage` with an executable that does not
//!   match the core fails that core.
//!
//! Device nodes and FIFOs are made in a temporary directory, never in /dev.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;

use tests::bins::{goanalyze, godump};
use tests::fixture::Build;
use tests::producers::LiveProcess;

/// A small process to dump (not a Go program: these tests are about where
/// the bytes go). Killed when dropped.
struct Sleeper(Child);

impl Sleeper {
    fn start() -> Sleeper {
        Sleeper(Command::new("sleep").arg("600").stdin(Stdio::null()).spawn().expect("starting sleep"))
    }
    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn create(pid: &str, out: &Path, extra: &[&str]) -> Output {
    Command::new(godump())
        .args(["create", "--quiet"])
        .args(extra)
        .arg(pid)
        .arg(out)
        .stdin(Stdio::null())
        .output()
        .expect("running godump")
}

fn assert_ok(out: &Output, what: &str) {
    assert!(out.status.success(), "{what}: godump failed: {}", text(&out.stderr));
}

/// The entries of `dir`, sorted: to see that nothing else was left there.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

/// Whether `b` is a whole ELF core: the header, and every segment's bytes
/// inside the data (a stream must not stop short where a file has holes).
fn assert_whole_core(b: &[u8], what: &str) {
    use object::read::elf::{FileHeader, ProgramHeader};
    assert!(b.starts_with(b"\x7fELF"), "{what}: not an ELF file ({} bytes)", b.len());
    let h = object::elf::FileHeader64::<object::Endianness>::parse(b).expect("ELF header");
    let e = h.endian().unwrap();
    assert_eq!(h.e_type(e), object::elf::ET_CORE, "{what}");
    let phs = h.program_headers(e, b).expect("program headers");
    let end = phs.iter().map(|p| p.p_offset(e) + p.p_filesz(e)).max().unwrap_or(0);
    assert!(phs.iter().any(|p| p.p_type(e) == object::elf::PT_LOAD && p.p_filesz(e) > 0), "{what}: no memory");
    assert_eq!(b.len() as u64, end, "{what}: the data ends at {}, the segments at {end}", b.len());
}

fn mknod(path: &Path, args: &[&str]) -> bool {
    let st = Command::new("mknod").arg(path).args(args).status().expect("running mknod");
    if !st.success() {
        assert!(!tests::tools::in_ci(), "mknod {} {args:?} failed (CI runs as root)", path.display());
        eprintln!("\n!!! SKIPPED: mknod failed (not root?) !!!\n");
    }
    st.success()
}

/// A character device with /dev/null's numbers, in a temporary directory:
/// godump writes the core into it (the device swallows it) and the node is
/// still a character device afterwards, not a regular file renamed over it.
#[test]
fn a_character_device_is_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("null");
    let rdev = std::fs::metadata("/dev/null").unwrap().rdev();
    let (major, minor) = (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff), (rdev & 0xff) | ((rdev >> 12) & !0xff));
    if !mknod(&node, &["c", &major.to_string(), &minor.to_string()]) {
        return;
    }
    let p = Sleeper::start();
    let out = create(&p.pid(), &node, &[]);
    assert_ok(&out, "char device");
    let m = std::fs::symlink_metadata(&node).unwrap();
    assert!(m.file_type().is_char_device(), "the device node was replaced: {:?}", m.file_type());
    assert_eq!(m.rdev(), rdev);
    assert_eq!(entries(dir.path()), ["null"], "something else was left");
}

/// A FIFO: the core streams through it, whole and in order (no holes to
/// seek over), to the reader on the other side; the FIFO stays a FIFO.
#[test]
fn a_fifo_is_written_through_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("running mkfifo");
    assert!(st.success(), "mkfifo failed");
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut b = Vec::new();
            std::fs::File::open(fifo).unwrap().read_to_end(&mut b).unwrap();
            b
        })
    };
    let p = Sleeper::start();
    let out = create(&p.pid(), &fifo, &[]);
    let got = reader.join().unwrap();
    assert_ok(&out, "fifo");
    assert!(std::fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo(), "the FIFO was replaced");
    assert_whole_core(&got, "through the FIFO");
    assert_eq!(entries(dir.path()), ["pipe"]);
}

/// A symlink is followed: its target becomes the core, the link stays a link.
#[test]
fn a_symlink_is_followed() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.core");
    let link = dir.path().join("link.core");
    std::fs::write(&real, b"old").unwrap();
    std::os::unix::fs::symlink("real.core", &link).unwrap();
    let p = Sleeper::start();
    assert_ok(&create(&p.pid(), &link, &[]), "symlink");
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert_eq!(std::fs::read_link(&link).unwrap(), PathBuf::from("real.core"));
    assert_whole_core(&std::fs::read(&real).unwrap(), "the link's target");
    assert_eq!(entries(dir.path()), ["link.core", "real.core"]);

    // A dangling link: its target is created.
    let new = dir.path().join("new.core");
    std::os::unix::fs::symlink("made.core", &new).unwrap();
    assert_ok(&create(&p.pid(), &new, &[]), "dangling symlink");
    assert_whole_core(&std::fs::read(dir.path().join("made.core")).unwrap(), "the dangling link's target");
    assert!(std::fs::symlink_metadata(&new).unwrap().file_type().is_symlink());
}

/// A file next to OUT that only has the name godump once used for its
/// temporary (`OUT.partial`) belongs to the user: it survives, and the
/// new core gets mode 0600 (it holds the process's secrets) unless
/// `--mode` says otherwise.
#[test]
fn only_out_is_touched_and_it_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("c.core");
    let mine = dir.path().join("c.core.partial");
    std::fs::write(&mine, b"the user's own file").unwrap();
    std::fs::set_permissions(&mine, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p = Sleeper::start();
    assert_ok(&create(&p.pid(), &core, &[]), "next to OUT.partial");
    assert_eq!(std::fs::read(&mine).unwrap(), b"the user's own file", "OUT.partial was touched");
    assert_eq!(entries(dir.path()), ["c.core", "c.core.partial"], "a temporary was left");
    assert_eq!(std::fs::metadata(&core).unwrap().mode() & 0o777, 0o600, "a core holds secrets");
    assert_whole_core(&std::fs::read(&core).unwrap(), "c.core");

    // Replacing an existing core: still 0600, and --mode may widen it.
    assert_ok(&create(&p.pid(), &core, &["--mode", "640"]), "--mode 640");
    assert_eq!(std::fs::metadata(&core).unwrap().mode() & 0o077, 0o040 & !umask(), "--mode 640");
}

/// The process's umask (read from /proc: changing it would race with the
/// other tests' threads).
fn umask() -> u32 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    let v = s.lines().find_map(|l| l.strip_prefix("Umask:")).expect("Umask in /proc/self/status");
    u32::from_str_radix(v.trim(), 8).unwrap()
}

/// An error names the path the user gave, once, with its cause once.
#[test]
fn an_error_names_the_path_once() {
    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("no/such/dir/y.core");
    let p = Sleeper::start();
    let out = create(&p.pid(), &core, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(err.matches("y.core").count(), 1, "{err}");
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(!err.contains("partial") && !err.contains(".godump"), "names a temporary: {err}");
}

/// `-` when stdout is a terminal (a pty from `script`): refused, nothing written.
#[test]
fn dash_on_a_terminal_is_refused() {
    let tools = tests::require_tools!("script" => "a pseudo-terminal for stdout");
    let script = &tools[0];
    let dir = tempfile::tempdir().unwrap();
    let p = Sleeper::start();
    let cmd = format!("{} create --quiet {} -", godump().display(), p.pid());
    let out = Command::new(script)
        .args(["-qec", &cmd])
        .arg(dir.path().join("typescript"))
        .stdin(Stdio::null())
        .output()
        .expect("running script");
    let all = text(&std::fs::read(dir.path().join("typescript")).unwrap_or_default()) + &text(&out.stdout);
    assert!(!out.status.success(), "{all}");
    assert!(all.contains("standard output is a terminal"), "{all}");
    assert!(!all.contains("ELF"), "a core went to the terminal");
}

/// A Go program's core, made once for the goanalyze tests below.
fn go_core() -> &'static (PathBuf, PathBuf) {
    static CORE: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    CORE.get_or_init(|| {
        let fx = Build::new("zoo").build().unwrap_or_else(|e| panic!("building the zoo fixture: {e:#}"));
        let live = LiveProcess::start(&fx.exe, &["wait"]).unwrap();
        let dir = tests::cache_dir().join("integrity");
        std::fs::create_dir_all(&dir).unwrap();
        // One core a test process (they may run at once); those of test
        // processes that are gone are removed here, as no static is dropped.
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let pid = name.strip_prefix("zoo-").and_then(|n| n.strip_suffix(".core"));
            if pid.is_some_and(|p| !Path::new("/proc").join(p).exists()) {
                let _ = std::fs::remove_file(e.path());
            }
        }
        let core = dir.join(format!("zoo-{}.core", std::process::id()));
        assert_ok(&create(&live.pid.to_string(), &core, &[]), "zoo");
        (core, fx.exe)
    })
}

/// `godump create PID -` writes the core to standard output (a pipe here,
/// as in `godump create PID - | zstd`), no file named `-`, and goanalyze
/// reads what came through.
#[test]
fn dash_is_standard_output_and_goanalyze_reads_it() {
    let fx = Build::new("zoo").build().unwrap_or_else(|e| panic!("building the zoo fixture: {e:#}"));
    let live = LiveProcess::start(&fx.exe, &["wait"]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(godump())
        .args(["create", "--quiet", &live.pid.to_string(), "-"])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .output()
        .expect("running godump");
    assert_ok(&out, "-");
    assert!(entries(dir.path()).is_empty(), "files were left: {:?}", entries(dir.path()));
    assert_whole_core(&out.stdout, "stdout");
    let core = dir.path().join("from-stdout.core");
    std::fs::write(&core, &out.stdout).unwrap();
    let g = Command::new(goanalyze()).arg(&core).arg("--exe").arg(&fx.exe).arg("--goroutines").output().unwrap();
    assert!(g.status.success(), "{}", text(&g.stderr));
    assert!(text(&g.stdout).lines().count() >= 3, "{}", text(&g.stdout));
}

/// Every mode, text and JSON, for the goanalyze tests below.
const MODES: &[&[&str]] = &[
    &["--stacks"],
    &["--goroutines"],
    &["--info"],
    &["--vars"],
    &["--group"],
    &["--threads", "--bt"],
    &["--triage"],
    &["--stacks", "--format", "json"],
    &["--goroutines", "--format", "json"],
    &["--vars", "--format", "json"],
    &["--group", "--format", "json"],
    &["--triage", "--format", "json"],
];

fn goanalyze_cmd(mode: &[&str]) -> Command {
    let (core, exe) = go_core();
    let mut c = Command::new(goanalyze());
    c.arg(core).arg("--exe").arg(exe).args(mode).stdin(Stdio::null());
    c
}

/// stderr's lines that are not warnings.
fn errors(stderr: &[u8]) -> Vec<String> {
    text(stderr).lines().filter(|l| !l.starts_with("goanalyze: warning:")).map(String::from).collect()
}

/// stdout is a full device (a copy of /dev/full's node, in a temporary
/// directory): every mode fails with one line that says so.
#[test]
fn a_full_stdout_fails_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let node = dir.path().join("full");
    let rdev = std::fs::metadata("/dev/full").unwrap().rdev();
    let (major, minor) = (((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff), (rdev & 0xff) | ((rdev >> 12) & !0xff));
    if !mknod(&node, &["c", &major.to_string(), &minor.to_string()]) {
        return;
    }
    for mode in MODES {
        let full = std::fs::OpenOptions::new().write(true).open(&node).unwrap();
        let out = goanalyze_cmd(mode).stdout(full).stderr(Stdio::piped()).output().unwrap();
        let errs = errors(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{mode:?}: {}", text(&out.stderr));
        assert_eq!(errs.len(), 1, "{mode:?}: {errs:?}");
        assert!(errs[0].contains("No space left on device") && errs[0].contains("standard output"), "{mode:?}: {errs:?}");
    }
}

/// The reader of stdout is gone before anything is written (`| head -0`):
/// every mode ends quietly with the same status.
#[test]
fn a_closed_pipe_is_quiet_and_the_same_in_every_mode() {
    let mut statuses = Vec::new();
    for mode in MODES {
        let mut child = goanalyze_cmd(mode).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let errs = errors(&out.stderr);
        assert!(errs.is_empty(), "{mode:?}: {errs:?}");
        statuses.push((mode, out.status.code()));
    }
    assert!(statuses.iter().all(|s| s.1 == Some(0)), "{statuses:?}");
}

/// A closed pipe stops the work at once: goanalyze is gone well before it
/// could have finished the analysis it was doing (a batch of many cores,
/// each analysed in full, here).
#[test]
fn a_closed_pipe_stops_the_work() {
    let (core, exe) = go_core();
    let cores: Vec<&Path> = std::iter::repeat_n(core.as_path(), 200).collect();
    let t0 = std::time::Instant::now();
    let whole = Command::new(goanalyze()).args(&cores[..20]).arg("--exe").arg(exe).args(["--triage", "--jobs", "1"]).output().unwrap();
    assert!(whole.status.success(), "{}", text(&whole.stderr));
    // 200 cores would take ten times as long as these 20.
    let twenty = t0.elapsed();
    let mut child = Command::new(goanalyze())
        .args(&cores)
        .arg("--exe")
        .arg(exe)
        .args(["--triage", "--jobs", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    child.stdout.as_mut().unwrap().read_exact(&mut first).unwrap();
    let t1 = std::time::Instant::now();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(t1.elapsed() < twenty * 2, "went on for {:?} after the pipe closed (20 cores take {twenty:?})", t1.elapsed());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
}

/// `--triage` with an executable that is not the core's (another build):
/// no signature, an error in the record, and the core counts as failed.
#[test]
fn triage_refuses_an_executable_that_does_not_match() {
    let (core, _) = go_core();
    let other = Build::new("hang").build().unwrap_or_else(|e| panic!("building the hang fixture: {e:#}"));
    let out = Command::new(goanalyze()).arg(core).arg("--exe").arg(&other.exe).args(["--triage", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON record");
    assert!(r["signature"].is_null(), "a signature from the wrong executable: {r}");
    let errs = r["errors"].as_array().expect("errors");
    assert!(errs.iter().any(|e| e.as_str().unwrap_or("").contains("not the one this core was made from")), "{r}");
}

/// Modes that cannot be combined are a usage error, not one of them
/// dropped; an executable given as the core gets a hint.
#[test]
fn conflicting_modes_and_an_executable_as_the_core_are_usage_errors() {
    let (core, exe) = go_core();
    for args in [
        &["--stacks", "--print", "main.x"][..],
        &["--goroutines", "--vars"],
        &["--vars", "--print", "main.x"],
        &["-g", "1"],
    ] {
        let out = Command::new(goanalyze()).arg(core).arg("--exe").arg(exe).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?}: printed {}", text(&out.stdout));
        assert_eq!(errors(&out.stderr).len(), 1, "{args:?}: {}", text(&out.stderr));
    }
    let out = Command::new(goanalyze()).arg(exe).arg("--goroutines").output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("did you mean `goanalyze CORE --exe"), "{err}");
}
