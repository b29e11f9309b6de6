//! `--format json`: the versioned schema documented in analyzer-cli/JSON.md.

use std::io::Write as _;

use serde::Serialize;

use crate::analysis::{Analysis, Depth, GoroutineReport};
use crate::error::Result;
use crate::output::report;
use crate::output::traceback::{self, Options};

pub const SCHEMA_VERSION: u32 = 1;
/// Additions within version 1 (2: frame `vars`, the `goanalyze.print`
/// document; 3: `system_hidden`, the `goanalyze.groups` document).
pub const SCHEMA_MINOR: u32 = 3;

#[derive(Serialize)]
struct Doc<'a> {
    schema: &'static str,
    version: u32,
    minor: u32,
    core: String,
    executable: String,
    go_version: Option<&'a str>,
    /// System goroutines left out (`--system=false`), so totals agree across views.
    system_hidden: usize,
    goroutines: Goroutines<'a>,
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
    /// With frames, for a goroutine whose thread is in (or crashed in) C:
    /// that thread's frames before the goroutine's own stack.
    #[serde(skip_serializing_if = "Option::is_none")]
    native_frames: Option<Vec<crate::unwind::native::JsonFrame>>,
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
    /// With --vars / --locals: the frame's arguments and locals.
    #[serde(skip_serializing_if = "Option::is_none")]
    vars: Option<Vec<crate::vars::VarValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    vars_error: Option<String>,
}

/// The `goroutines` array, made as it is written: the stacks are walked a
/// chunk at a time on every CPU (when the analysis has not walked them
/// already), so a 100,000-goroutine document never sits in memory whole.
struct Goroutines<'a> {
    a: &'a Analysis,
    opts: Options,
    with_frames: bool,
    vars: Option<crate::value::Limits>,
    only: Option<u64>,
}

impl Serialize for Goroutines<'_> {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> std::result::Result<S::Ok, S::Error> {
        use rayon::prelude::*;
        use serde::ser::SerializeSeq;
        let a = self.a;
        let want = if self.with_frames { Depth::Full } else { Depth::FirstUserFrame };
        let native = self.with_frames.then(|| crate::unwind::native::NativeUnwinder::new(a));
        let mut seq = ser.serialize_seq(None)?;
        for chunk in a.goroutines.chunks(crate::analysis::RELEASE_EVERY) {
            let keep: Vec<&GoroutineReport> = chunk.iter().filter(|r| self.wanted(r)).collect();
            let walked: Vec<std::borrow::Cow<'_, GoroutineReport>> =
                keep.par_iter().map(|r| a.walked(r, want)).collect();
            for r in &walked {
                seq.serialize_element(&self.one(r, native.as_ref()))?;
            }
            a.core.release_pages();
        }
        seq.end()
    }
}

impl Goroutines<'_> {
    fn wanted(&self, r: &GoroutineReport) -> bool {
        match self.only {
            Some(id) => r.g.goid == id,
            None => r.listed(self.opts.system),
        }
    }

    fn one(&self, r: &GoroutineReport, native: Option<&crate::unwind::native::NativeUnwinder<'_>>) -> JGoroutine {
        let (a, opts, with_frames, vars) = (self.a, self.opts, self.with_frames, self.vars);
        let u = a.unwinder();
        let g = &r.g;
        let status = crate::model::Status::of(a, g);
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
                let (fvars, verr) = match vars.map(|l| crate::vars::frame_values(a, r, f, lf, l)) {
                    Some(Ok(v)) => (Some(v), None),
                    Some(Err(e)) => (None, Some(e.to_string())),
                    None => (None, None),
                };
                v.push(JFrame {
                    vars: fvars,
                    vars_error: verr,
                    func: lf.name.to_string(),
                    file: lf.file.to_string(),
                    line: lf.line,
                    inlined: lf.inlined,
                    pc: format!("{:#x}", f.pc),
                    sp: format!("{:#x}", f.sp),
                    fp: format!("{:#x}", f.fp),
                    offset: f.offset,
                    args: (!lf.inlined).then(|| u.frame_args(f)),
                });
            }
            v
        });
        JGoroutine {
            id: g.goid,
            gp: format!("{:#x}", g.addr),
            status: crate::runtime::goroutine::status_string(g.status()).to_string(),
            status_code: g.raw_status,
            // As before the model: a leaked goroutine's reason is in `status`.
            wait_reason: status.wait_reason.filter(|_| !status.leaked),
            wait_minutes: status.wait_minutes,
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
            native_frames: native.and_then(|n| n.goroutine_native_frames(r)),
        }
    }
}

fn doc(a: &Analysis, opts: Options, with_frames: bool) -> Doc<'_> {
    doc_vars(a, opts, with_frames, None, None)
}

fn doc_vars(a: &Analysis, opts: Options, with_frames: bool, vars: Option<crate::value::Limits>, only: Option<u64>) -> Doc<'_> {
    Doc {
        schema: "goanalyze.goroutines",
        version: SCHEMA_VERSION,
        minor: SCHEMA_MINOR,
        core: a.core.path.display().to_string(),
        executable: a.bin.path.display().to_string(),
        go_version: a.bin.go_version.as_deref(),
        system_hidden: if only.is_some() { 0 } else { report::hidden_system(a, opts.system) },
        goroutines: Goroutines { a, opts, with_frames, vars, only },
    }
}

fn write_doc(d: &Doc<'_>, w: &mut dyn std::io::Write) -> Result<()> {
    let mut w = std::io::BufWriter::new(w);
    serde_json::to_writer_pretty(&mut w, d).map_err(|e| crate::Error::Other(e.to_string()))?;
    w.write_all(b"\n").and_then(|()| w.flush()).map_err(|e| crate::Error::Other(e.to_string()))
}

fn to_string(d: &Doc<'_>) -> Result<String> {
    let mut v = Vec::new();
    write_doc(d, &mut v)?;
    String::from_utf8(v).map_err(|e| crate::Error::Other(e.to_string()))
}

pub fn goroutines(a: &Analysis, opts: Options) -> Result<String> {
    to_string(&doc(a, opts, false))
}

pub fn stacks(a: &Analysis, opts: Options) -> Result<String> {
    to_string(&doc(a, opts, true))
}

/// [`goroutines`] written to `w` as it is made.
pub fn write_goroutines(a: &Analysis, opts: Options, w: &mut dyn std::io::Write) -> Result<()> {
    write_doc(&doc(a, opts, false), w)
}

/// [`stacks`] written to `w` as it is made.
pub fn write_stacks(a: &Analysis, opts: Options, w: &mut dyn std::io::Write) -> Result<()> {
    write_doc(&doc(a, opts, true), w)
}

/// `--vars --format json`: `--stacks`' document with each frame's `vars`.
pub fn vars(a: &Analysis, opts: Options, limits: crate::value::Limits, only: Option<u64>) -> Result<String> {
    to_string(&doc_vars(a, opts, true, Some(limits), only))
}

/// `--print EXPR --format json`.
#[derive(Serialize)]
pub struct PrintDoc {
    pub schema: &'static str,
    pub version: u32,
    pub minor: u32,
    pub expr: String,
    pub goroutine: Option<u64>,
    pub frame: Option<usize>,
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub value: Option<String>,
    pub addr: Option<String>,
    pub error: Option<String>,
}

pub fn print(d: &PrintDoc) -> Result<String> {
    Ok(serde_json::to_string_pretty(d).map_err(|e| crate::Error::Other(e.to_string()))? + "\n")
}
