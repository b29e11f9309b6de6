//! Cores goanalyze cannot read goroutines from still get `--info` and
//! `--threads --bt`: a C program's (checked against gdb's `bt`), Python's
//! (`os.abort()`), and a Go program's whose executable is gone; each says
//! what is missing. And godump's permission hints say what is true.

use std::path::Path;
use std::process::{Command, Stdio};

use tests::bins::{goanalyze, godump};
use tests::fixture::Build;
use tests::producers;
use tests::require_tools;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn run(core: &Path, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(goanalyze()).arg(core).args(args).env_remove("DEBUGINFOD_URLS").output().unwrap();
    (o.status.success(), text(&o.stdout), text(&o.stderr))
}

/// The function names of gdb's `bt` of the crashed thread, innermost first.
fn gdb_bt(gdb: &Path, exe: &Path, core: &Path) -> Vec<String> {
    let out = Command::new(gdb)
        .args(["-batch", "-nx", "-ex", "set auto-load off", "-ex", "bt"])
        .arg(exe)
        .arg(core)
        .output()
        .expect("running gdb");
    text(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            // "#1  0x... in abort () at ..." or "#0  __pthread_kill_implementation (...) at ..."
            let rest = l.split_once(' ')?.1.trim_start();
            let rest = rest.split_once(" in ").map_or(rest, |(_, r)| r);
            Some(rest.split([' ', '(']).next()?.to_string())
        })
        .collect()
}

/// Ours for the crashed (`*`) thread from `--threads --bt`.
fn our_bt(out: &str) -> Vec<String> {
    let mut lines = out.lines().skip_while(|l| !l.starts_with('*')).skip(1);
    let mut v = Vec::new();
    for l in lines.by_ref() {
        if l.starts_with(' ') && !l.starts_with("    ") || l.starts_with('*') {
            break;
        }
        if let Some((_, rest)) = l.trim_start().strip_prefix('#').and_then(|r| r.split_once(" in ")) {
            v.push(rest.split(['+', ' ']).next().unwrap_or("").to_string());
        }
    }
    v
}

#[test]
fn a_c_programs_core_has_info_and_native_stacks_like_gdbs() {
    let t = require_tools!("gcc" => "building the C program", "gdb" => "the oracle");
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("crash.c");
    std::fs::write(
        &src,
        "#include <stdlib.h>\n\
         __attribute__((noinline)) void crash_here(int n) { if (n > 0) abort(); }\n\
         __attribute__((noinline)) void middle(int n) { crash_here(n + 1); }\n\
         int main(int argc, char **argv) { (void)argv; middle(argc); return 0; }\n",
    )
    .unwrap();
    let exe = dir.path().join("crash");
    let st = Command::new(&t[0]).args(["-O1", "-g", "-fno-omit-frame-pointer", "-o"]).arg(&exe).arg(&src).status().unwrap();
    assert!(st.success());
    let made = producers::kernel_core(&exe, &[]).unwrap_or_else(|e| panic!("C core: {e:#}"));

    let (ok, info, err) = run(&made.core, &["--info"]);
    assert!(ok, "{err}");
    assert!(info.contains("go:          no: ") && info.contains("has no Go pclntab"), "{info}");
    assert!(info.contains("signal:      6 (SIGABRT)"), "{info}");
    assert!(info.contains(&format!("executable:  {}", exe.display())), "{info}");

    let (ok, bt, err) = run(&made.core, &["--threads", "--bt"]);
    assert!(ok, "{err}");
    let ours = our_bt(&bt);
    let theirs = gdb_bt(&t[1], &exe, &made.core);
    // The program's own frames, as gdb shows them (gdb stops at main; inside
    // libc it has libc's DWARF, with inlined frames and internal names, where
    // we have ELF symbols only: those frames are not compared name by name).
    let own = ["crash_here", "middle", "main"];
    let theirs_own: Vec<&String> = theirs.iter().filter(|f| own.contains(&f.as_str())).collect();
    let ours_own: Vec<&String> = ours.iter().filter(|f| own.contains(&f.as_str())).collect();
    assert_eq!(theirs_own, ["crash_here", "middle", "main"], "gdb: {theirs:?}");
    assert_eq!(ours_own, theirs_own, "goanalyze --threads --bt vs gdb bt\n{bt}\ngdb: {theirs:?}");
    // Above them, libc's abort as both name it.
    let above = ours.iter().position(|f| f == "crash_here").unwrap();
    assert!(ours[..above].iter().any(|f| f == "abort"), "{bt}");
    assert!(theirs.iter().any(|f| f.ends_with("abort")), "gdb: {theirs:?}");

    // Goroutine views still need Go: an error that says so.
    let (ok, _, err) = run(&made.core, &["--goroutines"]);
    assert!(!ok && err.contains("goanalyze: "), "{err}");
}

#[test]
fn a_python_core_has_info_and_native_stacks() {
    let t = require_tools!("python3" => "the program that aborts");
    let py = std::fs::canonicalize(&t[0]).unwrap();
    let made = producers::kernel_core(&py, &["-c", "import os; os.abort()"]).unwrap_or_else(|e| panic!("python core: {e:#}"));
    let (ok, info, err) = run(&made.core, &["--info"]);
    assert!(ok, "{err}");
    assert!(info.contains("has no Go pclntab"), "{info}");
    assert!(info.contains("signal:      6 (SIGABRT)"), "{info}");
    let (ok, bt, err) = run(&made.core, &["--threads", "--bt"]);
    assert!(ok, "{err}");
    let ours = our_bt(&bt);
    assert!(ours.len() >= 3, "{bt}");
    assert!(bt.contains("(libc.so.6)"), "{bt}");
}

#[test]
fn a_go_core_without_its_executable_has_info_and_threads() {
    let fx = Build::new("zoo").build().unwrap_or_else(|e| panic!("zoo: {e:#}"));
    let run_dir = tempfile::tempdir().unwrap();
    let copy = run_dir.path().join("zoo-gone");
    std::fs::copy(&fx.exe, &copy).unwrap();
    let made = producers::kernel_core(&copy, &["crash"]).unwrap_or_else(|e| panic!("kernel core: {e:#}"));
    std::fs::remove_file(&copy).unwrap();
    let (ok, info, err) = run(&made.core, &["--info"]);
    assert!(ok, "{err}");
    assert!(info.contains("go:          unknown: the executable was not found (looked in "), "{info}");
    assert!(info.contains(&copy.display().to_string()), "{info}");
    assert!(info.contains("executable:  not found (the core names "), "{info}");
    let (ok, threads, err) = run(&made.core, &["--threads", "--bt"]);
    assert!(ok, "{err}");
    assert!(threads.lines().filter(|l| l.contains(" thread ")).count() >= 2, "{threads}");
}

/// godump's hints for EPERM: true for the case, never "run as root" to root.
#[test]
fn permission_hints_say_what_is_true() {
    let t = require_tools!("setpriv" => "dropping CAP_SYS_PTRACE, running as another user", "gcc" => "a non-dumpable target");
    let setpriv = &t[0];
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.core");
    let godump_as = |prefix: &[&str], pid: u32| {
        let mut c = Command::new(setpriv);
        c.args(prefix).arg(godump()).args(["create", "--quiet", &pid.to_string()]).arg(&out).stdin(Stdio::null());
        let o = c.output().unwrap();
        (o.status.success(), text(&o.stderr))
    };

    // A kernel thread (kthreadd): nothing to dump, said as such.
    let o = Command::new(godump()).args(["create", "--quiet", "2"]).arg(&out).output().unwrap();
    let err = text(&o.stderr);
    assert!(!o.status.success() && err.contains("kernel thread"), "{err}");
    assert!(!err.contains("as root"), "{err}");

    let root = Command::new("id").arg("-u").output().map(|o| text(&o.stdout).trim() == "0").unwrap_or(false);
    if !root {
        assert!(!tests::tools::in_ci(), "CI runs as root");
        eprintln!("\n!!! SKIPPED the rest: it needs root (setpriv to another user) !!!\n");
        return;
    }
    // A process of another user (nobody), dumped by root without CAP_SYS_PTRACE.
    let sleeper = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "sleep", "600"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (ok, err) = godump_as(&["--bounding-set=-sys_ptrace", "--inh-caps=-sys_ptrace"], sleeper.id());
    assert!(!ok && err.contains("as root but without CAP_SYS_PTRACE"), "{err}");
    // godump as nobody against root's process: another user.
    let mine = Command::new("sleep").arg("600").stdin(Stdio::null()).spawn().unwrap();
    let (ok, err) = godump_as(&["--reuid=65534", "--regid=65534", "--clear-groups"], mine.id());
    assert!(!ok && err.contains("belongs to uid 0 and godump runs as uid 65534"), "{err}");
    // A non-dumpable process of nobody's, dumped by nobody (a C program:
    // nobody may not read root's Python installation).
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let src = dir.path().join("nd.c");
    std::fs::write(
        &src,
        "#include <stdio.h>\n#include <unistd.h>\n#include <sys/prctl.h>\n\
         int main(void) { prctl(PR_SET_DUMPABLE, 0, 0, 0, 0); puts(\"ready\"); fflush(stdout); sleep(600); return 0; }\n",
    )
    .unwrap();
    let nd_exe = dir.path().join("nd");
    assert!(Command::new("gcc").arg("-o").arg(&nd_exe).arg(&src).status().unwrap().success());
    let mut nd = Command::new(setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&nd_exe)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(nd.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "ready");
    let (ok, err) = godump_as(&["--reuid=65534", "--regid=65534", "--clear-groups"], nd.id());
    assert!(!ok && err.contains("is not dumpable"), "{err}");
    for mut c in [sleeper, mine, nd] {
        let _ = c.kill();
        let _ = c.wait();
    }
}
