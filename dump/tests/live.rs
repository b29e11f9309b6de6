//! End-to-end: start real Go and C programs, dump them with `godump create`,
//! and let readers we did not write (readelf, gdb, dlv, eu-stack) judge the
//! cores. The targets must still be running, unstopped, afterwards.
//!
//! A missing tool fails the test when `CI=true`, and prints a loud skip otherwise.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const GODUMP: &str = env!("CARGO_BIN_EXE_godump");

fn have(tool: &str) -> bool {
    let found = if tool.contains('/') {
        Path::new(tool).exists()
    } else {
        Command::new("sh").arg("-c").arg(format!("command -v {tool}")).output().map(|o| o.status.success()).unwrap_or(false)
    };
    if !found {
        if tests::tools::in_ci() {
            panic!("{tool} is required in CI but is not installed");
        }
        eprintln!("\n!!!!!!!! SKIPPING part of this test: {tool} is not installed !!!!!!!!\n");
    }
    found
}

fn dlv() -> String {
    let home = std::env::var("HOME").unwrap_or_default();
    let p = format!("{home}/go/bin/dlv");
    if Path::new(&p).exists() {
        p
    } else {
        "dlv".into()
    }
}

/// A directory for the whole test binary, under cargo's target/tmp so
/// that runs reuse (overwrite) it instead of piling cores up in /tmp.
fn scratch() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("godump-live");
        std::fs::create_dir_all(&d).unwrap();
        d
    })
}

const GO_SRC: &str = r#"package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

var heap [][]byte

func blocked(ch chan int) { <-ch }
func sleeper()            { time.Sleep(time.Hour) }

func main() {
	mb, _ := strconv.Atoi(os.Args[1])
	for i := 0; i < mb; i++ {
		b := make([]byte, 1<<20)
		for j := range b {
			b[j] = byte(i + j)
		}
		heap = append(heap, b)
	}
	ch := make(chan int)
	for i := 0; i < 8; i++ {
		go blocked(ch)
		go sleeper()
	}
	fmt.Println("ready")
	select {}
}
"#;

const C_SRC: &str = r#"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
static void *idle(void *a) { for (;;) pause(); return a; }
/* "storm": threads that live a moment, and mappings that come and go. */
static void *brief(void *a) { usleep(50); return a; }
/* Four at a time, joined. */
static void *spawner(void *a) {
    for (;;) {
        pthread_t t[4]; int n = 0;
        for (int i = 0; i < 4; i++) if (pthread_create(&t[n], 0, brief, 0) == 0) n++;
        usleep(100);
        for (int i = 0; i < n; i++) pthread_join(t[i], 0);
    }
    return a;
}
static void *mapper(void *a) {
    unsigned n = 1;
    for (;;) {
        n = n * 1103515245u + 12345u;
        size_t len = ((n >> 8) % 64 + 1) * 4096;
        char *p = mmap(0, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) continue;
        memset(p, (int)n, len);
        if (n & 1) mprotect(p, 4096, PROT_NONE);
        if ((n & 2) && len > 2 * 4096) munmap(p + 4096, 4096); /* a hole: two mappings */
        munmap(p, len);
    }
    return a;
}
/* Keeps creating short-lived threads, to catch threads born during the stop. */
static void *churn(void *a) {
    for (;;) { pthread_t t; if (pthread_create(&t, 0, idle, 0) == 0) pthread_detach(t); usleep(1000);
               pthread_cancel(t); }
    return a;
}
int main(int argc, char **argv) {
    pthread_t t;
    for (int i = 0; i < 3; i++) pthread_create(&t, 0, idle, 0);
    if (argc > 1 && strcmp(argv[1], "churn") == 0) pthread_create(&t, 0, churn, 0);
    int storm = argc > 1 && strcmp(argv[1], "storm") == 0;
    if (storm) { pthread_create(&t, 0, spawner, 0); pthread_create(&t, 0, mapper, 0); }
    size_t big = storm ? 1 << 20 : 32 << 20;
    char *p = malloc(big); memset(p, 0x5a, big);
    printf("ready\n"); fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "exitmain") == 0) pthread_exit(0);
    for (;;) pause();
}
"#;

fn go_exe() -> Option<&'static Path> {
    static EXE: OnceLock<Option<PathBuf>> = OnceLock::new();
    EXE.get_or_init(|| {
        if !have("go") {
            return None;
        }
        let dir = scratch().join("goprog");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("main.go"), GO_SRC).unwrap();
        std::fs::write(dir.join("go.mod"), "module goprog\n\ngo 1.21\n").unwrap();
        let out = Command::new("go").args(["build", "-o", "goprog", "."]).current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "go build: {}", String::from_utf8_lossy(&out.stderr));
        Some(dir.join("goprog"))
    })
    .as_deref()
}

fn c_exe() -> Option<&'static Path> {
    static EXE: OnceLock<Option<PathBuf>> = OnceLock::new();
    EXE.get_or_init(|| {
        if !have("gcc") {
            return None;
        }
        let dir = scratch().join("cprog");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("prog.c"), C_SRC).unwrap();
        let out = Command::new("gcc").args(["-g", "-O0", "-pthread", "-o", "cprog", "prog.c"]).current_dir(&dir).output().unwrap();
        assert!(out.status.success(), "gcc: {}", String::from_utf8_lossy(&out.stderr));
        Some(dir.join("cprog"))
    })
    .as_deref()
}

/// A running target; killed when dropped.
struct Proc(Child);

impl Proc {
    fn start(exe: &Path, args: &[&str]) -> Proc {
        let mut c = Command::new(exe).args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
        let mut line = String::new();
        BufReader::new(c.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ready");
        // "ready" is read before the write that printed it has returned;
        // give main time to reach its final wait.
        std::thread::sleep(Duration::from_millis(200));
        Proc(c)
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    /// Every thread of it is neither stopped nor traced, and it is alive.
    fn assert_running(&self) {
        let pid = self.pid();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        assert!(status.contains("TracerPid:\t0"), "still traced:\n{status}");
        for t in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
            let t = t.unwrap();
            let leader = t.file_name().to_string_lossy() == pid.to_string();
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            let state = stat.rsplit(')').next().unwrap_or("").trim_start().chars().next();
            assert!(!matches!(state, Some('t' | 'T')), "thread left stopped ({state:?}): {stat}");
            // A thread that is exiting passes through Z and X on its own (the
            // storm test's threads do all the time); only the leader's would
            // mean the process died.
            if leader {
                assert!(!matches!(state, Some('Z' | 'X')), "the process is gone ({state:?}): {stat}");
            }
        }
    }
    fn threads(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/task", self.pid())).unwrap().count()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn godump(args: &[&str]) -> Output {
    Command::new(GODUMP).args(args).output().unwrap()
}

fn create(pid: u32, core: &Path) {
    let out = godump(&["create", &pid.to_string(), core.to_str().unwrap()]);
    assert!(out.status.success(), "godump failed: {}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("was stopped for"), "{err}");
    assert!(!partial(core).exists());
}

/// godump's temporary next to `core` while it writes it (a name that
/// does not exist when there is none).
fn partial(core: &Path) -> PathBuf {
    let prefix = format!(".{}.godump-", core.file_name().unwrap().to_string_lossy());
    std::fs::read_dir(core.parent().unwrap())
        .ok()
        .and_then(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with(&prefix)))
        .unwrap_or_else(|| core.with_extension("no-temporary"))
}

fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).stdin(Stdio::null()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd} {args:?} failed:\n{text}");
    text
}

/// (owner, type description) of every note, from `readelf -n`.
fn readelf_notes(core: &Path) -> Vec<(String, String)> {
    let text = run("readelf", &["-nW", core.to_str().unwrap()]);
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let (owner, rest) = l.split_once(char::is_whitespace)?;
            if owner != "CORE" && owner != "LINUX" {
                return None;
            }
            let rest = rest.trim_start();
            let (_size, desc) = rest.split_once(char::is_whitespace)?;
            let desc = desc.trim();
            Some((owner.to_string(), desc.split_whitespace().next().unwrap_or("").to_string()))
        })
        .collect()
}

fn count(notes: &[(String, String)], ty: &str) -> usize {
    notes.iter().filter(|n| n.1 == ty).count()
}

fn check_readelf(core: &Path, threads: usize) {
    if !have("readelf") {
        return;
    }
    let notes = readelf_notes(core);
    assert_eq!(count(&notes, "NT_PRSTATUS"), threads, "{notes:?}");
    for t in ["NT_PRPSINFO", "NT_SIGINFO", "NT_AUXV", "NT_FILE"] {
        assert_eq!(count(&notes, t), 1, "{t}: {notes:?}");
    }
    // Kernel order: PRSTATUS, PRPSINFO, SIGINFO, AUXV, FILE, then FP regs.
    let first: Vec<&str> = notes.iter().take(6).map(|n| n.1.as_str()).collect();
    assert_eq!(first, ["NT_PRSTATUS", "NT_PRPSINFO", "NT_SIGINFO", "NT_AUXV", "NT_FILE", "NT_FPREGSET"]);
    if cfg!(target_arch = "x86_64") {
        assert_eq!(count(&notes, "NT_FPREGSET"), threads);
        assert_eq!(count(&notes, "NT_X86_XSTATE"), threads);
        assert!(notes.iter().any(|n| n.0 == "LINUX" && n.1 == "NT_X86_XSTATE"));
    }
    let l = run("readelf", &["-lW", core.to_str().unwrap()]);
    assert!(l.contains("Elf file type is CORE"), "{l}");
    assert!(l.contains("NOTE") && l.contains("LOAD"), "{l}");
}

/// gdb: same thread count, and frames with symbols.
fn check_gdb(exe: &Path, core: &Path, threads: usize, want_frame: &str) -> Option<String> {
    if !have("gdb") {
        return None;
    }
    let text = run(
        "gdb",
        &["-nx", "-batch", "-ex", "info threads", "-ex", "thread apply all bt", exe.to_str().unwrap(), core.to_str().unwrap()],
    );
    let listed = text.lines().filter(|l| l.trim_start().trim_start_matches('*').trim_start().starts_with(|c: char| c.is_ascii_digit()) && l.contains("LWP")).count();
    assert_eq!(listed, threads, "gdb info threads:\n{text}");
    assert!(text.contains(want_frame), "no {want_frame} frame in gdb's backtraces:\n{text}");
    assert!(!text.contains("not in executable format") && !text.contains("is truncated"), "{text}");
    Some(text)
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")))
        .unwrap_or(false)
}

/// lldb: as many threads as the process had.
fn check_lldb(exe: &Path, core: &Path, threads: usize) {
    if !have("lldb") {
        return;
    }
    let text = run("lldb", &["--batch", "-c", core.to_str().unwrap(), exe.to_str().unwrap(), "-o", "thread list"]);
    let listed = text.lines().filter(|l| l.trim_start().trim_start_matches('*').trim_start().starts_with("thread #")).count();
    assert_eq!(listed, threads, "lldb:\n{text}");
}

fn check_eu_stack(exe: &Path, core: &Path, want: &str) {
    if !have("eu-stack") {
        return;
    }
    let out = Command::new("eu-stack").args(["--core", core.to_str().unwrap(), "--executable", exe.to_str().unwrap()]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TID ") && text.contains(want), "eu-stack:\n{text}\n{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn go_program_core_is_read_by_gdb_dlv_readelf_eu_stack() {
    let Some(exe) = go_exe() else { return };
    let p = Proc::start(exe, &["48"]);
    let core = scratch().join("go.core");
    create(p.pid(), &core);
    p.assert_running();
    let threads = p.threads();

    check_readelf(&core, threads);
    // A snapshot is not a crash: no thread carries a signal.
    if have("eu-readelf") {
        let text = run("eu-readelf", &["-n", core.to_str().unwrap()]);
        assert_eq!(text.matches("cursig: 0").count(), threads, "{text}");
        assert!(text.contains(&format!("pid: {}", p.pid())), "{text}");
    }
    check_gdb(exe, &core, threads, "runtime.");
    check_eu_stack(exe, &core, "runtime.");
    check_lldb(exe, &core, threads);

    let dlv = dlv();
    if have(&dlv) {
        let init = scratch().join("dlv-init");
        std::fs::write(&init, "goroutines\nprint len(main.heap)\nprint main.heap[3][5]\nprint main.heap[47][1000]\nexit\n").unwrap();
        let text = run(&dlv, &["core", exe.to_str().unwrap(), core.to_str().unwrap(), "--init", init.to_str().unwrap(), "--allow-non-terminal-interactive=true"]);
        assert!(text.contains("main.main"), "dlv:\n{text}");
        assert!(text.matches("main.blocked").count() + text.matches("main.main.gowrap").count() >= 8, "dlv:\n{text}");
        assert!(text.contains("[chan receive]") && text.contains("[sleep]"), "dlv:\n{text}");
        // The heap made it: len 48, heap[i][j] == byte(i+j).
        let vals: Vec<&str> = text.lines().map(str::trim).filter(|l| l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty()).collect();
        assert_eq!(vals, ["48", "8", &((47 + 1000) % 256).to_string()], "dlv:\n{text}");

        // godump convert: our core read back by core-reader and rewritten
        // must still satisfy dlv, with the same heap.
        let conv = scratch().join("go-converted.core");
        let out = godump(&["convert", "--quiet", core.to_str().unwrap(), conv.to_str().unwrap()]);
        assert!(out.status.success(), "convert: {}", String::from_utf8_lossy(&out.stderr));
        let text2 = run(&dlv, &["core", exe.to_str().unwrap(), conv.to_str().unwrap(), "--init", init.to_str().unwrap(), "--allow-non-terminal-interactive=true"]);
        let vals2: Vec<&str> = text2.lines().map(str::trim).filter(|l| l.chars().all(|c| c.is_ascii_digit()) && !l.is_empty()).collect();
        assert_eq!(vals2, vals, "dlv on the converted core:\n{text2}");
        assert_eq!(text2.matches("Goroutine ").count(), text.matches("Goroutine ").count());
        check_readelf(&conv, threads);
    }

    // The same process through gdb's gcore: the same threads and kinds of notes.
    if have("gcore") && have("readelf") {
        let prefix = scratch().join("gcore-go");
        run("gcore", &["-o", prefix.to_str().unwrap(), &p.pid().to_string()]);
        let gcore_file = PathBuf::from(format!("{}.{}", prefix.display(), p.pid()));
        let theirs = readelf_notes(&gcore_file);
        let _ = std::fs::remove_file(&gcore_file);
        let ours = readelf_notes(&core);
        for t in ["NT_PRSTATUS", "NT_FPREGSET", "NT_X86_XSTATE"] {
            assert_eq!(count(&ours, t), count(&theirs, t), "{t}: ours {ours:?}\ngcore {theirs:?}");
        }
        for t in ["NT_PRPSINFO", "NT_AUXV", "NT_FILE"] {
            assert_eq!(count(&ours, t), count(&theirs, t), "{t}");
        }
        p.assert_running();
    }
}

#[test]
fn c_program_core_is_read_by_gdb_and_eu_stack() {
    let Some(exe) = c_exe() else { return };
    let p = Proc::start(exe, &[]);
    let core = scratch().join("c.core");
    create(p.pid(), &core);
    p.assert_running();
    let threads = p.threads();
    check_readelf(&core, threads);
    if let Some(text) = check_gdb(exe, &core, threads, " main (") {
        assert!(text.contains("idle"), "{text}");
    }
    check_eu_stack(exe, &core, "main");
    check_lldb(exe, &core, threads);
    // The 32 MiB of 0x5a is in the file, not a hole; the file is sparse.
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(&core).unwrap();
    assert!(md.len() > 32 << 20);
    assert!(md.blocks() * 512 < md.len(), "not sparse: {} blocks for {} bytes", md.blocks(), md.len());
}

#[test]
fn threads_born_during_the_stop_are_caught() {
    let Some(exe) = c_exe() else { return };
    let p = Proc::start(exe, &["churn"]);
    for i in 0..5 {
        let core = scratch().join(format!("churn{i}.core"));
        create(p.pid(), &core);
        p.assert_running();
        if have("readelf") {
            let notes = readelf_notes(&core);
            assert!(count(&notes, "NT_PRSTATUS") >= 5, "{notes:?}");
            assert_eq!(count(&notes, "NT_PRSTATUS"), count(&notes, "NT_FPREGSET"));
        }
        std::fs::remove_file(&core).unwrap();
    }
}

fn interrupted_by(sig: &str) {
    let Some(exe) = go_exe() else { return };
    // Big enough that the dump is still running when the signal comes.
    let p = Proc::start(exe, &["1024"]);
    let core = scratch().join(format!("killed-{sig}.core"));
    let mut g = Command::new(GODUMP)
        .args(["create", "--quiet", &p.pid().to_string(), core.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::fs::metadata(partial(&core)).map(|m| m.len() < (64 << 20)).unwrap_or(true) {
        assert!(t0.elapsed() < Duration::from_secs(60), "no partial core appeared");
        if g.try_wait().unwrap().is_some() {
            panic!("godump finished before it could be interrupted");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    run("kill", &["-s", sig, &g.id().to_string()]);
    let out = g.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("interrupted by signal"), "{err}");
    assert!(!partial(&core).exists(), "partial core left behind");
    assert!(!core.exists());
    p.assert_running();
}

#[test]
fn sigterm_mid_dump_leaves_the_target_running_and_no_partial() {
    interrupted_by("TERM");
}

#[test]
fn sigint_mid_dump_leaves_the_target_running_and_no_partial() {
    interrupted_by("INT");
}

#[test]
fn clear_errors() {
    // A pid that does not exist (above pid_max's usual range).
    let out = godump(&["create", "999999999", "/tmp/x.core"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("pid 999999999: no such process"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");

    // godump's own pid: exec keeps the shell's pid.
    let out = Command::new("sh").arg("-c").arg(format!("exec {GODUMP} create $$ /tmp/self.core")).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is godump itself"), "{err}");

    // A zombie: a child that exited and was not waited for.
    let mut z = Command::new("true").spawn().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let out = godump(&["create", &z.id().to_string(), "/tmp/zombie.core"]);
    let _ = z.wait();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("zombie"), "{err}");

    // Not allowed to ptrace: godump as nobody against a root process.
    if have("setpriv") && nix_is_root() {
        let mut target = Command::new("sleep").arg("100").spawn().unwrap();
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", GODUMP, "create", &target.id().to_string(), "/tmp/eperm.core"])
            .output()
            .unwrap();
        let _ = target.kill();
        let _ = target.wait();
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        // The hint names the case that is true here (another user's process),
        // not every possibility (Yama's ptrace_scope only where Yama is on).
        assert!(err.contains("permission denied") && err.contains("CAP_SYS_PTRACE") && err.contains("belongs to uid 0"), "{err}");
    }

    // Usage errors exit 2.
    assert_eq!(godump(&["create", "notapid", "x"]).status.code(), Some(2));
    assert_eq!(godump(&["create", "--filter", "xyz", "1", "x"]).status.code(), Some(2));
    let help = godump(&["create", "--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("godump create 4242 app.core"));
}

#[test]
fn a_stopped_process_stays_stopped() {
    let Some(exe) = c_exe() else { return };
    let p = Proc::start(exe, &[]);
    let pid = p.pid().to_string();
    run("kill", &["-STOP", &pid]);
    let state = || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        stat.rsplit(')').next().unwrap().trim_start().chars().next().unwrap()
    };
    let t0 = Instant::now();
    while state() != 'T' {
        assert!(t0.elapsed() < Duration::from_secs(60), "SIGSTOP never took effect");
        std::thread::sleep(Duration::from_millis(10));
    }
    let core = scratch().join("stopped.core");
    create(p.pid(), &core);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(state(), 'T', "godump resumed a process that was stopped");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(status.contains("TracerPid:\t0"));
    run("kill", &["-CONT", &pid]);
    std::thread::sleep(Duration::from_millis(100));
    p.assert_running();
    if have("readelf") {
        assert_eq!(count(&readelf_notes(&core), "NT_PRSTATUS"), p.threads());
    }
}

#[test]
fn minidump_format_is_read_by_lldb() {
    let Some(exe) = c_exe() else { return };
    if !have("lldb") {
        return;
    }
    let p = Proc::start(exe, &[]);
    std::thread::sleep(Duration::from_millis(100));
    let dmp = scratch().join("c.dmp");
    let out = godump(&["create", "--format", "minidump", &p.pid().to_string(), dmp.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    p.assert_running();
    assert_eq!(&std::fs::read(&dmp).unwrap()[..4], b"MDMP");
    let text = run("lldb", &["--batch", "-c", dmp.to_str().unwrap(), exe.to_str().unwrap(), "-o", "thread list", "-o", "bt all"]);
    let listed = text.lines().filter(|l| l.trim_start().trim_start_matches('*').trim_start().starts_with("thread #") && l.contains("tid =")).count();
    assert_eq!(listed, p.threads(), "lldb:\n{text}");
    assert!(text.contains("`main at prog.c") && text.contains("`idle"), "lldb:\n{text}");
    assert!(text.contains(&format!("Process {} stopped", p.pid())), "lldb:\n{text}");
}

/// A kernel core of the C program, converted by `godump convert`: gdb must
/// show the same threads and the same crashing backtrace in both.
#[test]
fn convert_keeps_a_kernel_core_readable() {
    let Some(exe) = c_exe() else { return };
    if !have("gdb") {
        return;
    }
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if pattern.trim() != "core" {
        eprintln!("\n!!!!!!!! SKIPPING convert_keeps_a_kernel_core_readable: core_pattern is {pattern:?}, not \"core\" !!!!!!!!\n");
        return;
    }
    let dir = scratch().join("kernel-core");
    std::fs::create_dir_all(&dir).unwrap();
    // The kernel will not replace a core left by an earlier run.
    let _ = std::fs::remove_file(dir.join("core"));
    let mut c = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -c unlimited && cd {} && exec {}", dir.display(), exe.display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(c.stdout.take().unwrap()).read_line(&mut line).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    run("kill", &["-SEGV", &c.id().to_string()]);
    let _ = c.wait();
    let core = dir.join("core");
    assert!(core.exists(), "the kernel wrote no core in {}", dir.display());
    let conv = dir.join("converted.core");
    let out = godump(&["convert", "--quiet", core.to_str().unwrap(), conv.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let gdb = |c: &Path| {
        let t = run("gdb", &["-nx", "-batch", "-ex", "info threads", "-ex", "thread apply all bt", exe.to_str().unwrap(), c.to_str().unwrap()]);
        // Frames and thread lines only: the header names the core file.
        t.lines().filter(|l| l.starts_with('#') || l.contains("LWP")).map(String::from).collect::<Vec<_>>()
    };
    let (a, b) = (gdb(&core), gdb(&conv));
    assert!(a.iter().any(|l| l.contains(" main (")), "{a:#?}");
    assert_eq!(a, b, "gdb sees the kernel core and the converted one differently");
    if have("readelf") {
        let n = readelf_notes(&conv);
        assert_eq!(count(&n, "NT_PRSTATUS"), count(&readelf_notes(&core), "NT_PRSTATUS"));
    }
}

/// main() called pthread_exit: the leader is a zombie, the process is not.
#[test]
fn a_process_whose_main_thread_exited_is_dumped() {
    let Some(exe) = c_exe() else { return };
    let p = Proc::start(exe, &["exitmain"]);
    let core = scratch().join("exitmain.core");
    create(p.pid(), &core);
    let live = std::fs::read_dir(format!("/proc/{}/task", p.pid()))
        .unwrap()
        .filter(|t| {
            let stat = std::fs::read_to_string(t.as_ref().unwrap().path().join("stat")).unwrap_or_default();
            !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z')
        })
        .count();
    assert_eq!(live, 3);
    if have("readelf") {
        assert_eq!(count(&readelf_notes(&core), "NT_PRSTATUS"), live);
    }
    if have("gdb") {
        let t = run("gdb", &["-nx", "-batch", "-ex", "thread apply all bt", exe.to_str().unwrap(), core.to_str().unwrap()]);
        assert_eq!(t.matches(" idle (").count(), 3, "{t}");
    }
    let status = std::fs::read_to_string(format!("/proc/{}/status", p.pid())).unwrap();
    assert!(status.contains("TracerPid:\t0"));
}

#[test]
fn sighup_mid_dump_leaves_the_target_running_and_no_partial() {
    interrupted_by("HUP");
}

/// The last line of a debugger's output that starts with `prefix`, with its
/// hex words.
fn hex_words(text: &str, prefix: &str) -> Vec<u64> {
    let line = text.lines().rev().find(|l| l.starts_with(prefix)).unwrap_or("");
    line.split(|c: char| c.is_whitespace() || c == ':')
        .filter_map(|w| w.strip_prefix("0x").and_then(|h| u64::from_str_radix(h, 16).ok()))
        .collect()
}

/// `--format macho`: lldb opens it and sees the registers and stack memory
/// gdb sees in the ELF core of the same (job-control stopped) process.
#[test]
fn macho_format_is_read_by_lldb() {
    let Some(exe) = c_exe() else { return };
    if !have("lldb") || !have("gdb") {
        return;
    }
    let p = Proc::start(exe, &[]);
    let pid = p.pid().to_string();
    // Job-control stop it, so both dumps see the very same registers.
    run("kill", &["-STOP", &pid]);
    std::thread::sleep(Duration::from_millis(100));
    let (macho, elf) = (scratch().join("c.macho"), scratch().join("c-for-macho.core"));
    for (fmt, out) in [("macho", &macho), ("elf", &elf)] {
        let o = godump(&["create", "--format", fmt, &pid, out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    run("kill", &["-CONT", &pid]);
    std::thread::sleep(Duration::from_millis(100));
    p.assert_running();
    assert_eq!(&std::fs::read(&macho).unwrap()[..4], &0xfeed_facfu32.to_le_bytes());

    let l = run("lldb", &["--batch", "-c", macho.to_str().unwrap(), "-o", "thread list", "-o", "x/2gx $rsp", "-o", "p/x $rip"]);
    let listed = l.lines().filter(|x| x.trim_start().trim_start_matches('*').trim_start().starts_with("thread #")).count();
    assert_eq!(listed, p.threads(), "lldb:\n{l}");
    let g = run("gdb", &["-nx", "-batch", "-ex", "x/2gx $rsp", "-ex", "p/x $rip", exe.to_str().unwrap(), elf.to_str().unwrap()]);
    let (lw, gw) = (hex_words(&l, "0x7"), hex_words(&g, "0x7"));
    assert_eq!(lw.len(), 3, "lldb:\n{l}");
    assert_eq!(lw, gw, "lldb on the Mach-O core:\n{l}\ngdb on the ELF core:\n{g}");
    let rip = |t: &str| t.lines().rev().find_map(|x| x.split(" = ").nth(1).and_then(|v| v.trim().strip_prefix("0x")).and_then(|h| u64::from_str_radix(h, 16).ok()));
    assert!(rip(&l).is_some() && rip(&l) == rip(&g), "rip: lldb {:?} gdb {:?}\n{l}\n{g}", rip(&l), rip(&g));
}

/// A target that creates and ends threads and maps and unmaps memory as
/// fast as it can, dumped 100 times: godump survives every time, the target
/// keeps running, and every core opens with core-reader and lists threads.
#[test]
fn a_storm_of_threads_and_mappings_dumped_100_times() {
    let Some(exe) = c_exe() else { return };
    let p = Proc::start(exe, &["storm"]);
    let core = scratch().join("storm.core");
    let t0 = Instant::now();
    let mut threads_seen = (usize::MAX, 0);
    for i in 0..100 {
        let out = godump(&["create", "--quiet", &p.pid().to_string(), core.to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "dump {i}: {err}");
        assert!(!partial(&core).exists(), "dump {i}: partial left");
        let c = core_reader::Core::open(&core, &core_reader::OpenOptions::default())
            .unwrap_or_else(|e| panic!("dump {i}: core-reader cannot open it: {e}"));
        // main, 3 idle threads, the spawner, the mapper; plus the brief ones.
        assert!(c.threads.len() >= 6, "dump {i}: {} threads", c.threads.len());
        assert!(c.threads.iter().all(|t| t.tid != 0 && t.regs.sp() != 0), "dump {i}: a thread without registers");
        assert!(!c.mappings.is_empty());
        threads_seen = (threads_seen.0.min(c.threads.len()), threads_seen.1.max(c.threads.len()));
        p.assert_running();
    }
    let _ = std::fs::remove_file(&core);
    eprintln!("100 dumps of a storm in {:?}; {}..{} threads", t0.elapsed(), threads_seen.0, threads_seen.1);
}

/// Root and a tmpfs are needed to fill a disk on purpose: fail in CI,
/// skip loudly elsewhere.
fn need_root_tmpfs(dir: &Path) -> bool {
    let why = if !nix_is_root() {
        Some("not root".to_string())
    } else {
        let _ = Command::new("umount").arg(dir).output();
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount").args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"]).arg(dir).output();
        match o {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(format!("mount -t tmpfs failed: {}", String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => Some(format!("mount: {e}")),
        }
    };
    match why {
        None => true,
        Some(why) => {
            if tests::tools::in_ci() {
                panic!("the disk-full test needs root and a tmpfs mount in CI: {why}");
            }
            eprintln!("\n!!!!!!!! SKIPPING the disk-full test: {why} !!!!!!!!\n");
            false
        }
    }
}

/// Unmounts the tmpfs however the test ends.
struct Mounted(PathBuf);
impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

/// The disk fills up mid-dump (an 8 MiB tmpfs, a 32 MiB target): a clear
/// error naming the file and the cause, exit 1, the target running on, and
/// no partial file taking the space.
#[test]
fn disk_full_mid_dump() {
    let Some(exe) = c_exe() else { return };
    let dir = scratch().join("full");
    if !need_root_tmpfs(&dir) {
        return;
    }
    let _m = Mounted(dir.clone());
    let p = Proc::start(exe, &[]);
    let core = dir.join("c.core");
    let out = godump(&["create", "--quiet", &p.pid().to_string(), core.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("No space left on device") && err.contains("c.core"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!partial(&core).exists() && !core.exists(), "a file was left on the full disk");
    p.assert_running();
    // The space is free again: a small file fits.
    std::fs::write(dir.join("after"), vec![1u8; 4 << 20]).unwrap();
}

/// The target is SIGKILLed while godump (`--stop`: reading the target
/// itself) is reading it: godump says so and leaves no file. (From a clone,
/// the dump completes instead: tests/tests/clone_snapshot.rs.) To make the timing certain, godump itself is held with
/// SIGSTOP once it has written a little (with a 1 MiB read-ahead it has read
/// at most a few chunks of the 256 MiB by then), the target is killed, and
/// godump continued.
#[test]
fn target_killed_mid_dump() {
    let Some(exe) = go_exe() else { return };
    let p = Proc::start(exe, &["256"]);
    let core = scratch().join("killed-target.core");
    let _ = std::fs::remove_file(&core);
    let mut g = Command::new(GODUMP)
        .args(["create", "--stop", "--quiet", "--readers", "1", "--buffer-mib", "1", &p.pid().to_string(), core.to_str().unwrap()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while std::fs::metadata(partial(&core)).map(|m| m.len() < (8 << 20)).unwrap_or(true) {
        assert!(t0.elapsed() < Duration::from_secs(60), "no partial core appeared");
        assert!(g.try_wait().unwrap().is_none(), "godump finished before the target could be killed");
        std::thread::sleep(Duration::from_millis(2));
    }
    run("kill", &["-STOP", &g.id().to_string()]);
    // Not waited for here: a traced child is reaped only after its tracer
    // (godump, stopped) lets go of it. `Proc`'s drop reaps it.
    run("kill", &["-KILL", &p.pid().to_string()]);
    std::thread::sleep(Duration::from_millis(50));
    run("kill", &["-CONT", &g.id().to_string()]);
    let out = g.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("exited while it was being dumped"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!partial(&core).exists() && !core.exists(), "a file was left for a dead target");
}
