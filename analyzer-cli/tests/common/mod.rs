//! Shared helpers of analyzer-cli's integration tests: the fixture builds
//! and crashes of the `tests` crate in the shape these tests use them, and
//! a small parser of the Go runtime's traceback text, the oracle. Missing
//! tools are `tests::tools`' business (one definition of CI).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tests::fixture::Build;
use tests::producers;

#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub pie: bool,
    pub stripped: bool,
    pub goarch: &'static str,
}

impl Variant {
    pub fn name(&self) -> String {
        format!(
            "{}{}{}",
            self.goarch,
            if self.pie { "-pie" } else { "" },
            if self.stripped { "-stripped" } else { "" }
        )
    }
}

/// `testdata/go/<fixture>` as `v` says, built by the tests crate (cached),
/// copied to `out`; `toolchain` like "go1.22.12" or None for the machine's.
pub fn build(fixture: &str, v: Variant, toolchain: Option<&str>, out: &Path) -> Result<(), String> {
    let mut b = Build::new(fixture).arch(v.goarch);
    if v.pie {
        b = b.pie();
    }
    if v.stripped {
        b = b.stripped();
    }
    if let Some(t) = toolchain {
        b = b.toolchain(t);
    }
    let fx = b.build().map_err(|e| format!("{e:#}"))?;
    std::fs::copy(&fx.exe, out).map_err(|e| format!("copying {} to {}: {e}", fx.exe.display(), out.display()))?;
    Ok(())
}

/// Crash `exe args` (under qemu-aarch64 if `qemu`) with the tests crate's
/// producers; the core is moved into `dir`. Returns (core path, stderr).
pub fn crash_core(dir: &Path, exe: &Path, args: &str, qemu: bool) -> Result<(PathBuf, String), String> {
    crash_core_env(dir, exe, args, qemu, "")
}

/// As [`crash_core`], with extra `NAME=value` settings for the program.
pub fn crash_core_env(dir: &Path, exe: &Path, args: &str, qemu: bool, env: &str) -> Result<(PathBuf, String), String> {
    let args: Vec<&str> = args.split_whitespace().collect();
    let env: Vec<(&str, &str)> = env.split_whitespace().filter_map(|kv| kv.split_once('=')).collect();
    let made = if qemu {
        let q = tests::tools::find("qemu-aarch64").ok_or("qemu-aarch64 is not installed")?;
        producers::qemu_arm64_core_env(&q, exe, &args, &env)
    } else {
        producers::kernel_core_env(exe, &args, &env)
    }
    .map_err(|e| format!("{e:#}"))?;
    let core = dir.join(made.core.file_name().unwrap_or_default());
    std::fs::rename(&made.core, &core).map_err(|e| format!("moving {}: {e}", made.core.display()))?;
    Ok((core, made.stderr))
}

/// One goroutine block of a traceback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TbGoroutine {
    pub id: u64,
    /// The bracketed status text, e.g. "chan receive, 2 minutes, locked to thread".
    pub status: String,
    pub frames: Vec<TbFrame>,
    /// (function, "file:line") of the go statement.
    pub created_by: Option<(String, String)>,
    /// "goroutine running on other thread; stack unavailable".
    pub unavailable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TbFrame {
    /// Function name without the argument list.
    pub func: String,
    pub inlined: bool,
    /// "file:line".
    pub pos: String,
    /// "+0x.." or "" (inlined / at entry).
    pub offset: String,
}

/// Parse every `goroutine N ...]:` block; later blocks with an id already seen
/// (the SIGQUIT dumps of other Ms after a crash) are ignored, and so is
/// goroutine 0 (an M's g0).
pub fn parse_traceback(text: &str) -> Vec<TbGoroutine> {
    let mut out: Vec<TbGoroutine> = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let l = lines[i];
        i += 1;
        let Some(rest) = l.strip_prefix("goroutine ") else { continue };
        if !l.ends_with("]:") {
            continue;
        }
        let id: u64 = match rest.split(' ').next().and_then(|s| s.parse().ok()) {
            Some(id) => id,
            None => continue,
        };
        let open = l.find(" [").unwrap_or(0);
        let status = l[open + 2..l.len() - 2].to_string();
        let mut g = TbGoroutine { id, status, frames: vec![], created_by: None, unavailable: false };
        while i < lines.len() && !lines[i].is_empty() && !lines[i].starts_with("goroutine ") {
            let f = lines[i];
            if f.starts_with('\t') {
                if f.contains("stack unavailable") {
                    g.unavailable = true;
                }
                i += 1;
                continue;
            }
            if let Some(c) = f.strip_prefix("created by ") {
                let func = c.split(" in goroutine").next().unwrap().to_string();
                let pos = lines.get(i + 1).map(|p| pos_of(p)).unwrap_or_default();
                g.created_by = Some((c.to_string(), pos));
                let _ = func;
                i += 2;
                continue;
            }
            if f.starts_with("...") && f.ends_with("frames elided...") {
                g.frames.push(TbFrame { func: f.to_string(), inlined: false, pos: String::new(), offset: String::new() });
                i += 1;
                continue;
            }
            if f.starts_with("(unwinding stopped") || f.starts_with("runtime: ") || f.starts_with("stack: ") || f.starts_with("0x") {
                i += 1;
                continue;
            }
            // A function line: name(args)
            let Some(paren) = f.rfind('(') else {
                i += 1;
                continue;
            };
            let func = f[..paren].to_string();
            let inlined = f.ends_with("(...)");
            let loc = lines.get(i + 1).copied().unwrap_or("");
            let offset = loc.split_whitespace().find(|w| w.starts_with("+0x")).unwrap_or("").to_string();
            g.frames.push(TbFrame { func, inlined, pos: pos_of(loc), offset });
            i += 2;
        }
        if id == 0 {
            continue;
        }
        match out.iter_mut().find(|o| o.id == id) {
            None => out.push(g),
            // The runtime first says "stack unavailable" for a goroutine
            // running on another M, then prints it from that M's SIGQUIT.
            Some(o) if o.unavailable && !g.frames.is_empty() => {
                o.frames = g.frames;
                o.unavailable = false;
            }
            Some(_) => {}
        }
    }
    out
}

fn pos_of(loc: &str) -> String {
    loc.trim_start_matches('\t').split(' ').next().unwrap_or("").to_string()
}

/// Compare our goroutines with the runtime's; returns (compared, mismatch descriptions).
pub fn compare(runtime: &[TbGoroutine], ours: &[TbGoroutine]) -> (usize, Vec<String>) {
    let mut bad = Vec::new();
    let mut n = 0;
    for r in runtime {
        let Some(o) = ours.iter().find(|o| o.id == r.id) else {
            bad.push(format!("goroutine {}: missing from our output", r.id));
            continue;
        };
        n += 1;
        // "running" goroutines on another thread: the runtime has no stack to compare.
        let live = |s: &str| s == "running" || s == "runnable";
        let moving = (r.status == "running" || o.status == "running") && live(&r.status) && live(&o.status);
        if r.status != o.status && !moving {
            bad.push(format!("goroutine {}: status {:?} vs ours {:?}", r.id, r.status, o.status));
        }
        if r.unavailable {
            continue;
        }
        // A goroutine that was running when a live process was dumped has
        // moved on (or been preempted) by the time the runtime prints it:
        // compare its non-runtime functions only.
        if moving && !r.frames.is_empty() {
            let names = |f: &[TbFrame]| {
                f.iter().filter(|f| !f.func.starts_with("runtime.")).map(|f| f.func.clone()).collect::<Vec<_>>()
            };
            if names(&r.frames) != names(&o.frames) {
                bad.push(format!("goroutine {}: running frames differ: {:?} vs ours {:?}", r.id, names(&r.frames), names(&o.frames)));
            }
            continue;
        }
        if r.frames != o.frames {
            bad.push(format!(
                "goroutine {}: frames differ\n runtime: {:#?}\n ours: {:#?}",
                r.id, r.frames, o.frames
            ));
        }
        if r.created_by != o.created_by {
            bad.push(format!("goroutine {}: created by {:?} vs ours {:?}", r.id, r.created_by, o.created_by));
        }
    }
    for o in ours {
        if !runtime.iter().any(|r| r.id == o.id) {
            bad.push(format!("goroutine {}: only in our output", o.id));
        }
    }
    (n, bad)
}

pub fn goanalyze(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_goanalyze")).args(args).output().expect("run goanalyze");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
