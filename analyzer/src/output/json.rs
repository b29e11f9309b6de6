//! `--format json`: the versioned schema documented in analyzer-cli/JSON.md.

use std::io::Write as _;

use serde::Serialize;

use crate::analysis::{Analysis, Depth, GoroutineReport};
use crate::error::Result;
use crate::model::{Detail, Goroutine, Value};
use crate::output::report;
use crate::output::traceback::Options;

pub const SCHEMA_VERSION: u32 = 1;
/// Additions within version 1 (2: frame `vars`, the `goanalyze.print`
/// document; 3: `system_hidden`, the `goanalyze.groups` document; 4:
/// variable values as typed trees, VALUE in JSON.md, where minor 2 and 3
/// had their text; 5: a closure's captures, the `goanalyze.prints`
/// document of several `--print`).
pub const SCHEMA_MINOR: u32 = 5;

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
        a.try_for_each_chunk(|chunk| {
            let keep: Vec<&GoroutineReport> = chunk.iter().filter(|r| self.wanted(r)).collect();
            let walked: Vec<std::borrow::Cow<'_, GoroutineReport>> =
                keep.par_iter().map(|r| a.walked(r, want)).collect();
            for r in &walked {
                seq.serialize_element(&self.one(r, native.as_ref()))?;
            }
            a.core.release_pages();
            Ok(())
        })?;
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

    fn one(&self, r: &GoroutineReport, native: Option<&crate::unwind::native::NativeUnwinder<'_>>) -> Goroutine {
        Goroutine::of(self.a, r, self.opts, Detail { frames: self.with_frames, vars: self.vars }, native)
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
    pub value: Option<Value>,
    pub addr: Option<String>,
    pub error: Option<String>,
}

pub fn print(d: &PrintDoc) -> Result<String> {
    Ok(serde_json::to_string_pretty(d).map_err(|e| crate::Error::Other(e.to_string()))? + "\n")
}

/// One expression's answer in `goanalyze.prints` (PrintDoc's fields).
#[derive(Serialize)]
pub struct PrintResult {
    pub expr: String,
    #[serde(rename = "type")]
    pub ty: Option<String>,
    pub value: Option<Value>,
    pub addr: Option<String>,
    pub error: Option<String>,
}

/// Several `--print EXPR --format json`: one document, an answer each in
/// the order given.
#[derive(Serialize)]
pub struct PrintsDoc {
    pub schema: &'static str,
    pub version: u32,
    pub minor: u32,
    pub goroutine: Option<u64>,
    pub frame: Option<usize>,
    pub prints: Vec<PrintResult>,
}

impl PrintResult {
    /// From [`crate::vars::print_expr`]'s answer.
    pub fn new(expr: &str, r: std::result::Result<(Option<String>, Value, Option<u64>), impl std::fmt::Display>) -> Self {
        let (ty, value, addr, error) = match r {
            Ok((t, v, a)) => (t, Some(v), a.map(|x| format!("{x:#x}")), None),
            Err(e) => (None, None, None, Some(e.to_string())),
        };
        PrintResult { expr: expr.to_string(), ty, value, addr, error }
    }
}

pub fn prints(goroutine: Option<u64>, frame: Option<usize>, prints: Vec<PrintResult>) -> Result<String> {
    let d = PrintsDoc { schema: "goanalyze.prints", version: SCHEMA_VERSION, minor: SCHEMA_MINOR, goroutine, frame, prints };
    Ok(serde_json::to_string_pretty(&d).map_err(|e| crate::Error::Other(e.to_string()))? + "\n")
}
