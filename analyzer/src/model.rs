//! The facts every view shows, computed once from the runtime's structures
//! and rendered by each view in its own format: a goroutine ([`Goroutine`]),
//! its [`Status`], its frames ([`Frame`], whose source [`Location`] is what
//! grouping and triage compare), where it was started ([`Creator`]), and
//! the values of its variables as typed trees ([`Value`]). The text views
//! (the runtime's traceback, `--goroutines`, `--vars`, `--group`, triage)
//! and `--format json` all print these types; JSON serializes them.

pub mod info;
pub mod value;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

use crate::analysis::{Analysis, GoroutineReport};
use crate::binary::inline::LogicalFrame;
use crate::output::traceback::Options;
use crate::runtime::goroutine::{self, Goroutine as G, G_LEAKED, G_SYSCALL, G_WAITING};

pub use value::{Entry, Field, Float, Value, ValueKind};

/// A goroutine's status, as the runtime's traceback header states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `running`, `syscall`, `runnable`..., or for a waiting goroutine the
    /// wait reason's text (`chan receive`) as the runtime's own table has it.
    pub text: String,
    /// The wait reason, for a waiting (or leaked) goroutine that has one.
    pub wait_reason: Option<String>,
    /// Whole minutes waiting or in a syscall, when the runtime recorded when
    /// it started and the core's clock is known.
    pub wait_minutes: Option<i64>,
    /// Go 1.26's `leaked` status: blocked forever on something unreachable.
    pub leaked: bool,
    /// The GC was scanning its stack.
    pub scan: bool,
    pub locked_to_thread: bool,
}

impl Status {
    pub fn of(a: &Analysis, g: &G) -> Status {
        let st = g.status();
        let wait_reason = ((st == G_WAITING || st == G_LEAKED) && g.wait_reason != 0)
            .then(|| a.state.wait_reason_text(g.wait_reason).unwrap_or("waiting").to_string());
        let wait_minutes = ((st == G_WAITING || st == G_SYSCALL) && g.waitsince != 0 && a.state.now > 0)
            .then(|| a.state.now.saturating_sub(g.waitsince) / 60_000_000_000);
        Status {
            text: wait_reason.clone().unwrap_or_else(|| goroutine::status_string(st).to_string()),
            wait_reason,
            wait_minutes,
            leaked: st == G_LEAKED,
            scan: g.is_scan(),
            locked_to_thread: g.lockedm != 0,
        }
    }

    /// What the runtime prints between the header's brackets:
    /// `chan receive (scan), 3 minutes, locked to thread`.
    pub fn bracketed(&self) -> String {
        let mut s = self.text.clone();
        if self.leaked {
            s += " (leaked)";
        }
        if self.scan {
            s += " (scan)";
        }
        if let Some(m) = self.wait_minutes.filter(|&m| m >= 1) {
            s += &format!(", {m} minutes");
        }
        if self.locked_to_thread {
            s += ", locked to thread";
        }
        s
    }
}

/// Where a logical frame is in the source: what grouping and the triage
/// signature compare (no addresses, no argument values).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Location {
    /// The function's full name as the pclntab has it (`main.(*T).m`,
    /// `main.f[go.shape.int]`); the text views print it as the runtime does.
    #[serde(with = "arc_str")]
    pub func: Arc<str>,
    #[serde(with = "arc_str")]
    pub file: Arc<str>,
    pub line: i64,
    /// An inlined call (shares its physical frame's pc, sp and fp).
    pub inlined: bool,
}

impl Location {
    pub fn of(lf: &LogicalFrame) -> Location {
        Location { func: lf.name.clone(), file: lf.file.clone(), line: lf.line, inlined: lf.inlined }
    }
}

/// One logical frame of a goroutine's stack, as the runtime's traceback
/// shows it (inlined calls expanded, innermost first).
#[derive(Debug, Clone, Serialize)]
pub struct Frame {
    #[serde(flatten)]
    pub location: Location,
    /// The physical frame's pc (a return address except for the innermost
    /// or a trapping frame), stack pointer, and frame pointer as the
    /// runtime defines it (the caller's sp).
    #[serde(with = "value::hex")]
    pub pc: u64,
    #[serde(with = "value::hex")]
    pub sp: u64,
    #[serde(with = "value::hex")]
    pub fp: u64,
    /// pc minus the function's entry.
    pub offset: u64,
    /// The argument words the runtime prints (`0x1, {0xc000010000?, 0x3}`);
    /// None for an inlined frame.
    pub args: Option<String>,
    /// The frame's arguments then locals, when variables were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vars: Option<Vec<Var>>,
    /// Why there are no variables (the executable has no DWARF, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vars_error: Option<String>,
}

/// One variable of one frame.
#[derive(Debug, Clone, Serialize)]
pub struct Var {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: String,
    /// An argument (formal parameter) rather than a local.
    pub arg: bool,
    pub value: Value,
    /// Where it lives, when in memory.
    #[serde(with = "value::hex_opt")]
    pub addr: Option<u64>,
}

/// A place in the code with its pc: a goroutine's first user frame, its
/// innermost frame, its `go` statement.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    #[serde(with = "arc_str")]
    pub func: Arc<str>,
    #[serde(with = "arc_str")]
    pub file: Arc<str>,
    pub line: i64,
    #[serde(with = "value::hex")]
    pub pc: u64,
}

impl Site {
    /// The logical frame `lf` of the physical frame at `pc`.
    pub fn of(pc: u64, lf: &LogicalFrame) -> Site {
        Site { func: lf.name.clone(), file: lf.file.clone(), line: lf.line, pc }
    }
}

/// The `go` statement that started a goroutine (g.gopc).
#[derive(Debug, Clone, Serialize)]
pub struct Creator {
    /// Its function and line; `pc` is g.gopc, the call's return address.
    #[serde(flatten)]
    pub site: Site,
    /// The goroutine that ran the `go` statement (Go 1.21+).
    pub parent_id: Option<u64>,
    /// The return address's offset in `func`, 0 when gopc is its entry.
    #[serde(skip)]
    pub offset: u64,
}

impl Creator {
    /// The function and line of `g`'s `go` statement; None when gopc is in
    /// no function.
    pub fn of(a: &Analysis, g: &G) -> Option<Creator> {
        let u = a.unwinder();
        let f = u.find_func(g.gopc)?;
        let link = g.gopc.wrapping_sub(a.bias);
        // gopc is a return address: the call is the instruction before it.
        let trace = if link > f.entry { link - a.bin.arch.pc_quantum() } else { link };
        let (file, line) = a.bin.pcln.file_line(&f, trace);
        Some(Creator {
            site: Site { func: u.func_name(&f).into(), file: file.into(), line, pc: g.gopc },
            parent_id: (g.parent_goid != 0).then_some(g.parent_goid),
            offset: link.saturating_sub(f.entry),
        })
    }

    /// The creator as grouping compares it.
    pub fn location(&self) -> Location {
        Location { func: self.site.func.clone(), file: self.site.file.clone(), line: self.site.line, inlined: false }
    }
}

/// The innermost frame outside the runtime: where the user's code is.
pub fn user_site(r: &GoroutineReport) -> Option<Site> {
    r.stack.frames.iter().find_map(|f| {
        f.logical.iter().find(|lf| crate::analysis::is_user_func(&lf.name)).map(|lf| Site::of(f.pc, lf))
    })
}

/// The logical frames the runtime's traceback would show (`opts`), with
/// each frame's variables when `vars` gives the limits.
pub fn frames(a: &Analysis, r: &GoroutineReport, opts: Options, vars: Option<crate::value::Limits>) -> Vec<Frame> {
    let u = a.unwinder();
    crate::output::traceback::visible_frames(a, r, opts)
        .into_iter()
        .map(|(f, lf)| {
            let (vars, vars_error) = match vars.map(|l| crate::vars::frame_values(a, r, f, lf, l)) {
                Some(Ok(v)) => (Some(v), None),
                Some(Err(e)) => (None, Some(e.to_string())),
                None => (None, None),
            };
            Frame {
                location: Location::of(lf),
                pc: f.pc,
                sp: f.sp,
                fp: f.fp,
                offset: f.offset,
                args: (!lf.inlined).then(|| u.frame_args(f)),
                vars,
                vars_error,
            }
        })
        .collect()
}

/// What [`Goroutine::of`] includes beyond the one-line facts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Detail {
    /// The frames the traceback shows (`--stacks`).
    pub frames: bool,
    /// With the frames, each frame's variables within these limits.
    pub vars: Option<crate::value::Limits>,
}

/// One goroutine, as every view sees it. Its JSON form is the GOROUTINE
/// object of analyzer-cli/JSON.md.
#[derive(Debug, Clone)]
pub struct Goroutine {
    pub id: u64,
    /// The address of its `runtime.g`.
    pub gp: u64,
    pub status: Status,
    /// The runtime's name of its atomicstatus (`waiting`, `leaked`...).
    pub status_name: &'static str,
    /// The raw atomicstatus, `_Gscan` bit included.
    pub status_code: u32,
    /// The runtime's isSystemGoroutine.
    pub system: bool,
    /// Run by the crashing (signalled) thread.
    pub crashing: bool,
    /// `m.id` of its M.
    pub m: Option<i64>,
    /// The OS thread id of that M, when the core has the thread.
    pub thread: Option<u64>,
    /// The innermost frame outside the runtime.
    pub user_location: Option<Site>,
    /// The innermost frame, whatever it is (for a goroutine with no user frame).
    pub top: Option<Site>,
    /// The function it started in (g.startpc) and that pc.
    pub start_func: Option<Arc<str>>,
    pub start_pc: u64,
    /// pprof labels, in the order the runtime keeps them.
    pub labels: Vec<(String, String)>,
    /// Its `go` statement (every goroutine's, goroutine 1's included:
    /// the runtime's traceback leaves that one out).
    pub go_statement: Option<Creator>,
    /// With [`Detail::frames`]: the frames the traceback shows.
    pub frames: Option<Vec<Frame>>,
    /// Why the walk of its stack ended early.
    pub unwinding_stopped: Option<String>,
    /// With [`Detail::frames`], for a goroutine whose thread is in (or
    /// crashed in) C: that thread's frames before the goroutine's stack.
    pub native_frames: Option<Vec<NativeFrame>>,
}

impl Goroutine {
    /// The facts of `r` (walked as deep as the view needs) that the views print.
    pub fn of(
        a: &Analysis,
        r: &GoroutineReport,
        opts: Options,
        detail: Detail,
        native: Option<&crate::unwind::native::NativeUnwinder<'_>>,
    ) -> Goroutine {
        let u = a.unwinder();
        let g = &r.g;
        let top = r.stack.frames.first().and_then(|f| f.logical.first().map(|lf| Site::of(f.pc, lf)));
        Goroutine {
            id: g.goid,
            gp: g.addr,
            status: Status::of(a, g),
            status_name: goroutine::status_string(g.status()),
            status_code: g.raw_status,
            system: r.system,
            crashing: r.crashing,
            m: r.m.as_ref().map(|m| m.id),
            thread: r.thread,
            user_location: user_site(r),
            top,
            start_func: u.find_func(g.startpc).map(|f| u.func_name(&f).into()),
            start_pc: g.startpc,
            labels: g.labels.clone(),
            go_statement: Creator::of(a, g),
            frames: detail.frames.then(|| frames(a, r, opts, detail.vars)),
            unwinding_stopped: r.stack.stopped.clone(),
            native_frames: native.filter(|_| detail.frames).and_then(|n| n.goroutine_native_frames(r)),
        }
    }

    /// The `go` statement as the runtime's traceback shows it (`created
    /// by`): every goroutine's but goroutine 1's.
    pub fn created_by(&self) -> Option<&Creator> {
        self.go_statement.as_ref().filter(|_| self.id != 1)
    }
}

/// The GOROUTINE object of analyzer-cli/JSON.md.
impl Serialize for Goroutine {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        struct Hex(u64);
        impl Serialize for Hex {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                value::hex::serialize(&self.0, s)
            }
        }
        let labels: BTreeMap<&str, &str> = self.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let mut s = ser.serialize_struct("Goroutine", 18)?;
        s.serialize_field("id", &self.id)?;
        s.serialize_field("gp", &Hex(self.gp))?;
        s.serialize_field("status", self.status_name)?;
        s.serialize_field("status_code", &self.status_code)?;
        // A leaked goroutine's reason is in its status, not here.
        s.serialize_field("wait_reason", &self.status.wait_reason.as_ref().filter(|_| !self.status.leaked))?;
        s.serialize_field("wait_minutes", &self.status.wait_minutes)?;
        s.serialize_field("locked_to_thread", &self.status.locked_to_thread)?;
        s.serialize_field("system", &self.system)?;
        s.serialize_field("crashing", &self.crashing)?;
        s.serialize_field("m", &self.m)?;
        s.serialize_field("thread", &self.thread)?;
        s.serialize_field("user_location", &self.user_location)?;
        s.serialize_field("start_func", &self.start_func.as_deref())?;
        s.serialize_field("labels", &labels)?;
        s.serialize_field("created_by", &self.created_by())?;
        if let Some(f) = &self.frames {
            s.serialize_field("frames", f)?;
        }
        s.serialize_field("unwinding_stopped", &self.unwinding_stopped)?;
        if let Some(n) = &self.native_frames {
            s.serialize_field("native_frames", n)?;
        }
        s.end()
    }
}

/// One frame of an OS thread's native stack (`native_frames` in JSON):
/// C code, Go code on the system stack, or the kernel's signal frame. The
/// native unwinder's own record ([`crate::unwind::native::BtFrame`]) keeps
/// what only its walk and `--threads --bt` need (how the frame was found,
/// link-time pcs, the Go frame with its inlined calls).
#[derive(Debug, Clone, Serialize)]
pub struct NativeFrame {
    /// `"c"`, `"go"` or `"signal"`.
    pub kind: &'static str,
    /// The ELF symbol (C) or pclntab function (Go); null when unknown.
    pub func: Option<String>,
    /// The file the pc is in (`libc.so.6`), for C frames.
    pub module: Option<String>,
    /// pc minus the symbol's start.
    pub offset: Option<u64>,
    #[serde(with = "value::hex")]
    pub pc: u64,
    #[serde(with = "value::hex")]
    pub sp: u64,
}

/// Names shared between frames (`Arc<str>`) as JSON strings.
mod arc_str {
    use std::sync::Arc;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
        String::deserialize(d).map(Into::into)
    }
}
