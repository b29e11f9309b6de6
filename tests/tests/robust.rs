//! Robustness of the time budgets and of `godump convert`, on real cores:
//!
//! - `--timeout-per-core` (triage) and `--timeout` (one core) give up on a
//!   core that honestly takes long: another process holds a write lease on
//!   it (`fcntl(F_SETLEASE, F_WRLCK)`, what an SMB or NFS server does for an
//!   oplock or a delegation), so the kernel blocks every `open(2)` of it
//!   until the holder lets go or `/proc/sys/fs/lease-break-time` (45 s by
//!   default) passes. Once the holder lets go, the same core analyses
//!   cleanly under the same options: the time budget, not the core, failed.
//! - `godump convert` of a kernel core with a terabyte `PROT_NONE`
//!   reservation writes the reservation as one program header with no
//!   bytes, as the kernel did, instead of a terabyte of holes.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tests::bins::{goanalyze, godump};
use tests::fixture::Build;
use tests::producers::{self, MadeCore};
use tests::tools;

/// A process holding a write lease on a file: every other `open(2)` of the
/// file blocks until it is dropped (the holder ignores the kernel's SIGIO
/// asking it to let go, as a busy file server would).
struct Lease {
    child: Child,
}

const HOLDER: &str = r#"
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
print("leased", flush=True)
sys.stdin.read()
"#;

impl Lease {
    fn take(python: &Path, file: &Path) -> Lease {
        let mut child = Command::new(python)
            .args(["-c", HOLDER])
            .arg(file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting the lease holder");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        if line.trim() != "leased" {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("the lease holder could not take a write lease on {}: {err}", file.display());
        }
        Lease { child }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the lease tests need: python3 for the holder, leases enabled and a
/// lease-break time well above the budgets tested (2 s), a Go toolchain.
fn lease_setup() -> Option<PathBuf> {
    let python = tools::require("python3", "holding a lease on a core")?;
    tools::require("go", "building the fixture")?;
    let enabled = std::fs::read_to_string("/proc/sys/fs/leases-enable").unwrap_or_default();
    let brk: u64 = std::fs::read_to_string("/proc/sys/fs/lease-break-time").unwrap_or_default().trim().parse().unwrap_or(0);
    if enabled.trim() != "1" || brk < 20 {
        let why = format!("file leases are off or break after {brk} s (/proc/sys/fs/leases-enable, lease-break-time)");
        assert!(!tools::in_ci(), "{why}");
        eprintln!("\n!!! SKIPPED: {why} !!!\n");
        return None;
    }
    Some(python)
}

fn panic_core() -> MadeCore {
    let fx = Build::new("panic").build().expect("building the panic fixture");
    producers::kernel_core(&fx.exe, &[]).expect("kernel core of the panic fixture")
}

/// Run goanalyze, killed after `guard` (a hang guard far above anything
/// expected; the test fails if it fires).
fn goanalyze_guarded(args: &[&std::ffi::OsStr], guard: Duration) -> Output {
    let mut c = Command::new(goanalyze())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running goanalyze");
    let start = Instant::now();
    while c.try_wait().unwrap().is_none() {
        if start.elapsed() > guard {
            let _ = c.kill();
            let out = c.wait_with_output().unwrap();
            panic!("goanalyze {args:?} still running after {guard:?}; stderr: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    c.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn triage_timeout_per_core_gives_up_on_a_core_that_cannot_be_opened_yet() {
    let Some(python) = lease_setup() else { return };
    let held = panic_core();
    let free = panic_core();
    let guard = Duration::from_secs(40); // below the 45 s lease-break time
    let args = |extra: &[&str]| -> Vec<std::ffi::OsString> {
        let mut v: Vec<std::ffi::OsString> = vec![held.core.clone().into(), free.core.clone().into()];
        v.extend(["--triage", "--format", "json", "--jobs", "2"].iter().chain(extra).map(Into::into));
        v
    };
    let records = |o: &Output| -> Vec<serde_json::Value> {
        text(&o.stdout).lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))).collect()
    };
    {
        let _lease = Lease::take(&python, &held.core);
        let a: Vec<_> = args(&["--timeout-per-core", "2"]);
        let out = goanalyze_guarded(&a.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(), guard);
        let r = records(&out);
        assert_eq!(out.status.code(), Some(1), "stderr: {}", text(&out.stderr));
        assert_eq!(r.len(), 2, "{r:?}");
        let err = r[0]["errors"][0].as_str().unwrap_or_default();
        assert!(err.contains("timed out after 2 s") && err.contains("--timeout-per-core"), "{}", r[0]);
        // The other core of the batch is not held up by it.
        assert_eq!(r[1]["errors"].as_array().map(Vec::len), Some(0), "{}", r[1]);
        assert_eq!(r[1]["reason"]["kind"], "panic", "{}", r[1]);
        assert!(text(&out.stderr).contains("1 of 2 cores could not be analysed"), "{}", text(&out.stderr));
    }
    // Let go: the same core, the same budget, analysed.
    let a: Vec<_> = args(&["--timeout-per-core", "2"]);
    let out = goanalyze_guarded(&a.iter().map(|s| s.as_os_str()).collect::<Vec<_>>(), guard);
    let r = records(&out);
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    assert_eq!(r[0]["reason"]["kind"], "panic", "{}", r[0]);
    assert_eq!(r[0]["signature"], r[1]["signature"], "same program, same crash");
}

#[test]
fn timeout_gives_up_on_one_core_that_cannot_be_opened_yet() {
    let Some(python) = lease_setup() else { return };
    let made = panic_core();
    let core = made.core.as_os_str();
    let guard = Duration::from_secs(40);
    {
        let _lease = Lease::take(&python, &made.core);
        for mode in ["--stacks", "--vars"] {
            let out = goanalyze_guarded(&[core, mode.as_ref(), "--timeout".as_ref(), "2".as_ref()], guard);
            let err = text(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{mode}: {err}");
            assert!(out.stdout.is_empty(), "{mode}: partial output: {}", text(&out.stdout));
            assert!(
                err.contains(&format!("{}: the analysis did not finish within --timeout 2 s", made.core.display())),
                "{mode}: {err}"
            );
            assert_eq!(err.lines().count(), 1, "{mode}: one error line: {err}");
        }
    }
    let out = goanalyze_guarded(&[core, "--stacks".as_ref(), "--timeout".as_ref(), "2".as_ref()], guard);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("goroutine 1 ") && text(&out.stdout).contains("[running]"), "{}", text(&out.stdout));
    // Usage errors: no zero budget; triage has its own option.
    for bad in [&["--stacks", "--timeout", "0"][..], &["--triage", "--timeout", "5"][..]] {
        let mut a: Vec<&std::ffi::OsStr> = vec![core];
        a.extend(bad.iter().map(|s| std::ffi::OsStr::new(*s)));
        let out = goanalyze_guarded(&a, guard);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }
}

const RESERVE_C: &str = r#"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
int main(void) {
    /* A terabyte of address space, never touched: what the race detector
       and some allocators reserve. */
    void *r = mmap(NULL, 1UL << 40, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (r == MAP_FAILED) { perror("mmap"); return 2; }
    char *p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    strcpy(p + 4096, "marker: still here after convert");
    fprintf(stderr, "reserved %p %lu\nmarker %p\n", r, 1UL << 40, p + 4096);
    fflush(stderr);
    abort();
}
"#;

/// (vaddr, memsz, filesz, offset) of every PT_LOAD.
fn loads(core: &Path) -> Vec<(u64, u64, u64, u64)> {
    use object::read::elf::{FileHeader, ProgramHeader};
    let data = std::fs::read(core).unwrap();
    let h = object::elf::FileHeader64::<object::Endianness>::parse(&data[..]).unwrap();
    let e = h.endian().unwrap();
    h.program_headers(e, &data[..])
        .unwrap()
        .iter()
        .filter(|p| p.p_type(e) == object::elf::PT_LOAD)
        .map(|p| (p.p_vaddr(e), p.p_memsz(e), p.p_filesz(e), p.p_offset(e)))
        .collect()
}

#[test]
fn convert_writes_a_terabyte_reservation_as_one_header() {
    let Some(cc) = tools::require("gcc", "building the reserving C program") else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("reserve.c"), RESERVE_C).unwrap();
    let exe = dir.path().join("reserve");
    let out = Command::new(cc).arg("-o").arg(&exe).arg(dir.path().join("reserve.c")).output().unwrap();
    assert!(out.status.success(), "gcc: {}", text(&out.stderr));
    let made = producers::kernel_core(&exe, &[]).expect("kernel core");
    let hex = |key: &str| {
        let l = made.stderr.lines().find(|l| l.starts_with(key)).unwrap_or_else(|| panic!("no {key} in {}", made.stderr));
        u64::from_str_radix(l.split_whitespace().nth(1).unwrap().trim_start_matches("0x"), 16).unwrap()
    };
    let (reserved, marker) = (hex("reserved"), hex("marker"));
    let before = loads(&made.core);
    let r = before.iter().find(|l| l.0 == reserved).expect("the kernel's core has the reservation");
    assert_eq!((r.1, r.2), (1 << 40, 0), "the kernel wrote the reservation without bytes");

    let conv = dir.path().join("converted.core");
    let start = Instant::now();
    let mut c = Command::new(godump())
        .args(["convert", "--quiet", "--exe"])
        .arg(&exe)
        .arg(&made.core)
        .arg(&conv)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Hang guard only: before the fix this read and checked 2^40 bytes of zeros.
    while c.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = c.kill();
            panic!("godump convert of a core with a 1 TiB reservation still running after 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = c.wait_with_output().unwrap();
    assert!(out.status.success(), "convert: {}", text(&out.stderr));
    let after = loads(&conv);
    let covering: Vec<_> = after.iter().filter(|l| l.0 < reserved + (1 << 40) && l.0 + l.1 > reserved).collect();
    assert_eq!(covering.len(), 1, "one header for the reservation: {covering:x?}");
    assert_eq!((covering[0].0, covering[0].1, covering[0].2), (reserved, 1 << 40, 0), "{:x?}", covering[0]);
    // Every byte the kernel's core held is in the converted one.
    let bytes_before: u64 = before.iter().map(|l| l.2).sum();
    let bytes_after: u64 = after.iter().map(|l| l.2).sum();
    assert!(bytes_after >= bytes_before && bytes_after < bytes_before + (64 << 20), "{bytes_before} -> {bytes_after}");
    let apparent = std::fs::metadata(&conv).unwrap().len();
    assert!(apparent < 1 << 30, "the converted core is {apparent} bytes long");
    // And the memory around the reservation is intact.
    let data = std::fs::read(&conv).unwrap();
    let l = after.iter().find(|l| marker >= l.0 && marker + 32 <= l.0 + l.2).expect("the marker page is dumped");
    let o = (l.3 + marker - l.0) as usize;
    assert_eq!(&data[o..o + 32], b"marker: still here after convert");
}
