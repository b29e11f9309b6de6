//! `--format json`: the versioned schema documented in analyzer-cli/JSON.md.

use serde::Serialize;

use crate::analysis::Analysis;
use crate::error::Result;
use crate::report;
use crate::traceback::{self, Options};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    version: u32,
    core: String,
    executable: String,
    go_version: Option<&'a str>,
    goroutines: Vec<JGoroutine>,
}

#[derive(Serialize)]
struct JGoroutine {
    id: u64,
    gp: String,
    status: String,
    status_code: u32,
    wait_reason: Option<String>,
    wait_minutes: Option<i64>,
    locked_to_thread: bool,
    system: bool,
    crashing: bool,
    m: Option<i64>,
    thread: Option<u64>,
    user_location: Option<JLoc>,
    start_func: Option<String>,
    /// pprof labels (empty when absent or not decodable).
    labels: std::collections::BTreeMap<String, String>,
    created_by: Option<JCreated>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frames: Option<Vec<JFrame>>,
    unwinding_stopped: Option<String>,
}

#[derive(Serialize)]
struct JLoc {
    func: String,
    file: String,
    line: i64,
    pc: String,
}

#[derive(Serialize)]
struct JCreated {
    func: String,
    file: String,
    line: i64,
    pc: String,
    parent_id: Option<u64>,
}

#[derive(Serialize)]
struct JFrame {
    func: String,
    file: String,
    line: i64,
    inlined: bool,
    pc: String,
    sp: String,
    fp: String,
    offset: u64,
    args: Option<String>,
}

fn doc(a: &Analysis, opts: Options, with_frames: bool) -> Doc<'_> {
    let u = a.unwinder();
    let mut gs = Vec::new();
    for r in &a.goroutines {
        if !opts.system && r.system && !r.crashing {
            continue;
        }
        let g = &r.g;
        let st = g.status();
        let waiting = st == crate::goroutine::G_WAITING;
        let minutes = if (waiting || st == crate::goroutine::G_SYSCALL) && g.waitsince != 0 {
            Some(a.state.now.saturating_sub(g.waitsince) / 60_000_000_000)
        } else {
            None
        };
        let created = traceback::created_by(a, r, Options { system: true }).and_then(|_| {
            let f = u.find_func(g.gopc)?;
            let link = g.gopc.wrapping_sub(a.bias);
            let trace = if link > f.entry { link - a.bin.arch.pc_quantum() } else { link };
            let (file, line) = a.bin.pcln.file_line(&f, trace);
            Some(JCreated {
                func: u.func_name(&f).to_string(),
                file,
                line,
                pc: format!("{:#x}", g.gopc),
                parent_id: (g.parent_goid != 0).then_some(g.parent_goid),
            })
        });
        let frames = with_frames.then(|| {
            let mut v = Vec::new();
            for (f, lf) in traceback::visible_frames(a, r, opts) {
                v.push(JFrame {
                    func: lf.name.clone(),
                    file: lf.file.clone(),
                    line: lf.line,
                    inlined: lf.inlined,
                    pc: format!("{:#x}", f.pc),
                    sp: format!("{:#x}", f.sp),
                    fp: format!("{:#x}", f.fp),
                    offset: f.offset,
                    args: (!lf.inlined).then(|| f.args.clone()),
                });
            }
            v
        });
        gs.push(JGoroutine {
            id: g.goid,
            gp: format!("{:#x}", g.addr),
            status: crate::goroutine::status_string(st).to_string(),
            status_code: g.raw_status,
            wait_reason: (waiting && g.wait_reason != 0)
                .then(|| a.state.wait_reason_text(g.wait_reason).unwrap_or("waiting").to_string()),
            wait_minutes: minutes,
            locked_to_thread: g.lockedm != 0,
            system: r.system,
            crashing: r.crashing,
            m: r.m.as_ref().map(|m| m.id),
            thread: r.thread,
            user_location: report::user_frame(r).map(|(func, file, line, pc)| JLoc {
                func,
                file,
                line,
                pc: format!("{pc:#x}"),
            }),
            start_func: u.find_func(g.startpc).map(|f| u.func_name(&f).to_string()),
            labels: g.labels.iter().cloned().collect(),
            created_by: created,
            frames,
            unwinding_stopped: r.stack.stopped.clone(),
        });
    }
    Doc {
        schema: "goanalyze.goroutines",
        version: SCHEMA_VERSION,
        core: a.core.path.display().to_string(),
        executable: a.bin.path.display().to_string(),
        go_version: a.bin.go_version.as_deref(),
        goroutines: gs,
    }
}

pub fn goroutines(a: &Analysis, opts: Options) -> Result<String> {
    Ok(serde_json::to_string_pretty(&doc(a, opts, false)).map_err(|e| crate::Error::Other(e.to_string()))? + "\n")
}

pub fn stacks(a: &Analysis, opts: Options) -> Result<String> {
    Ok(serde_json::to_string_pretty(&doc(a, opts, true)).map_err(|e| crate::Error::Other(e.to_string()))? + "\n")
}
