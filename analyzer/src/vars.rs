//! Frame variables: for each frame the traceback shows, its arguments and
//! locals read through DWARF at the frame's pc (as [`crate::model::Var`]s),
//! and the text of `--vars`: the `--stacks` block with each frame's
//! variables under it.

use std::fmt::Write;

use crate::analysis::{Analysis, GoroutineReport};
use crate::dwarf::locations::{FrameContext, Place};
use crate::dwarf::{DebugInfo, Var};
use crate::binary::inline::LogicalFrame;
use crate::memory::Memory;
use crate::output::traceback::{self, Options};
use crate::unwind::Frame;
use crate::model::{self, Value};
use crate::value::{Limits, Printer, Src, ValueError};

/// The registers a frame's variables may use. Only two kinds of frame have
/// them: the innermost frame of a goroutine walked from a thread's registers
/// or a signal frame, and a frame interrupted by async preemption, whose
/// registers `runtime.asyncPreempt` saved on the goroutine's stack.
pub fn registers_for(a: &Analysis, r: &GoroutineReport, f: &Frame) -> Option<core_reader::Registers> {
    let idx = r.stack.frames.iter().position(|x| std::ptr::eq(x, f))?;
    if idx == 0 {
        return frame_registers(a, r);
    }
    let callee = &r.stack.frames[idx - 1];
    if a.bin.pcln.func_name(&callee.func) != "runtime.asyncPreempt" {
        return None;
    }
    preempt_registers(a, callee.sp, f)
}

/// runtime/preempt_amd64.s saves AX, CX, DX, BX, SI, DI, R8..R15 at 0..104
/// off its sp; preempt_arm64.s saves R0..R17 at 8.. and R19..R26 at 152..
/// (R18 is the platform register, R27 REGTMP and R28 g are not saved).
/// Both since async preemption came in (Go 1.14).
fn preempt_registers(a: &Analysis, base: u64, f: &Frame) -> Option<core_reader::Registers> {
    let r = |i: u64| a.core.u64(base.wrapping_add(8 * i)).ok();
    if a.bin.arch == crate::binary::BinArch::Arm64 {
        let mut x = [0u64; 31];
        for (i, v) in x.iter_mut().enumerate().take(18) {
            *v = r(1 + i as u64)?;
        }
        for (i, v) in x.iter_mut().enumerate().take(27).skip(19) {
            *v = r(19 + (i as u64 - 19))?;
        }
        return Some(core_reader::Registers::Arm64(core_reader::Arm64Regs {
            x,
            sp: f.sp,
            pc: f.pc,
            pstate: 0,
            tpidr: None,
        }));
    }
    Some(core_reader::Registers::Amd64(core_reader::Amd64Regs {
        rax: r(0)?,
        rcx: r(1)?,
        rdx: r(2)?,
        rbx: r(3)?,
        rsi: r(4)?,
        rdi: r(5)?,
        r8: r(6)?,
        r9: r(7)?,
        r10: r(8)?,
        r11: r(9)?,
        r12: r(10)?,
        r13: r(11)?,
        r14: r(12)?,
        r15: r(13)?,
        rsp: f.sp,
        rip: f.pc,
        ..Default::default()
    }))
}

/// The innermost frame's registers: those the walk started from (a
/// thread's, or the context a signal frame saved; see [`crate::unwind::sigframe`]).
pub fn frame_registers(_a: &Analysis, r: &GoroutineReport) -> Option<core_reader::Registers> {
    if r.trimmed > 0 {
        return None;
    }
    r.start_regs.as_deref().copied()
}

/// Every variable DWARF lists for a (logical) frame, compiler's own
/// (`.dict`, `~r0`) included.
fn all_vars(di: &DebugInfo, a: &Analysis, f: &Frame, lf: &LogicalFrame) -> Vec<Var> {
    let link = f.sym_pc.wrapping_sub(a.bias);
    let Some(fv) = di.func_at(link) else { return Vec::new() };
    let idx = f.logical.iter().position(|l| std::ptr::eq(l, lf)).unwrap_or(f.logical.len() - 1);
    let depth = f.logical.len() - 1 - idx;
    if depth == 0 {
        fv.vars.clone()
    } else {
        match fv.inline_chain(link).get(depth - 1) {
            Some(c) => c.vars.clone(),
            None => Vec::new(),
        }
    }
}

/// A frame's variables in scope: arguments first, then locals.
pub fn scope_vars(di: &DebugInfo, a: &Analysis, f: &Frame, lf: &LogicalFrame) -> Vec<Var> {
    let link = f.sym_pc.wrapping_sub(a.bias);
    let mut vars: Vec<Var> = all_vars(di, a, f, lf)
        .into_iter()
        .filter(|v| v.scope.as_ref().is_none_or(|s| s.iter().any(|(l, h)| link >= *l && link < *h)))
        .filter(|v| !v.name.is_empty() && !v.name.starts_with('.') && !v.name.starts_with('~'))
        .collect();
    vars.sort_by_key(|v| !v.is_param);
    vars
}

/// Where a variable's value is in a frame, or why it is not available.
pub fn var_src(a: &Analysis, di: &DebugInfo, v: &Var, f: &Frame, regs: Option<&core_reader::Registers>) -> Result<Src, ValueError> {
    let size = v.ty.and_then(|t| di.type_at(t)).map(|t| t.size).unwrap_or(0);
    let regf = |n: u16| regs.and_then(|r| r.dwarf(n));
    let cx = FrameContext {
        cfa: f.fp,
        regs: if regs.is_some() { Some(&regf) } else { None },
        mem: &a.core,
        bias: a.bias,
    };
    match di.place(v, f.sym_pc.wrapping_sub(a.bias), size, &cx) {
        Ok(Place::Memory(addr)) => Ok(Src::Mem(addr)),
        Ok(Place::Bytes { bytes, known, why }) => {
            Ok(Src::Bytes(std::sync::Arc::new(crate::value::Assembled { bytes, known, why }), 0))
        }
        Ok(Place::Unavailable(why)) => Err(ValueError::Unavailable(why)),
        Err(e) => Err(ValueError::Location(e)),
    }
}

pub fn printer<'a>(a: &'a Analysis, di: &'a DebugInfo, limits: Limits) -> Printer<'a> {
    Printer { di, bin: &a.bin, mem: &a.core, bias: a.bias, limits }
}

/// The variables of one (logical) frame, their values read as trees.
pub fn frame_values(a: &Analysis, r: &GoroutineReport, f: &Frame, lf: &LogicalFrame, limits: Limits) -> crate::Result<Vec<model::Var>> {
    let di = a.bin.debug_info()?;
    let regs = registers_for(a, r, f);
    let p = printer(a, di, limits);
    Ok(scope_vars(di, a, f, lf)
        .iter()
        .map(|v| {
            let (name, ty, src) = escaped(&p, v, var_src(a, di, v, f, regs.as_ref()));
            let ty = instantiated(a, di, &p, f, lf, regs.as_ref(), v, ty).or(ty);
            let type_name = p.type_name(ty);
            let (value, addr) = match src {
                Ok(src) => (p.value(ty, &src), src.addr()),
                Err(e) => (crate::value::from_error(&type_name, e), None),
            };
            model::Var { name, ty: type_name, arg: v.is_param, value, addr }
        })
        .collect())
}

/// A generic function's variable of a shape type (`go.shape.int`) or of a
/// type built from one (`*go.shape.int`, `[]go.shape.int`,
/// `pair[go.shape.int]`): its instantiated type, from the frame's dictionary
/// (`.dict`). The compiler gives every variable of such a type a dictionary
/// entry holding its runtime type descriptor (type arguments and derived
/// types alike) and names it in DWARF by a `.paramN` typedef with
/// DW_AT_go_dict_index N, as Delve reads it. A variable the compiler made
/// itself, `&x` for an escaped `x`, has the plain shape-built type: its
/// entry is found by that type among the function's typedefs, as `x`'s type
/// or as the pointer `&x`'s. `None` when there is no dictionary at this pc,
/// or no entry describes the type (the shape is printed then, once).
#[allow(clippy::too_many_arguments)]
fn instantiated(
    a: &Analysis,
    di: &DebugInfo,
    p: &Printer,
    f: &Frame,
    lf: &LogicalFrame,
    regs: Option<&core_reader::Registers>,
    v: &Var,
    ty: Option<crate::dwarf::TypeRef>,
) -> Option<crate::dwarf::TypeRef> {
    let ty = ty?;
    // The function's own typedefs describe its own frame, not an inlined
    // call's (whose variables name their abstract origin's types).
    let outermost = f.logical.last().is_some_and(|l| std::ptr::eq(l, lf));
    let fv = if outermost { di.func_at(f.sym_pc.wrapping_sub(a.bias)) } else { None };
    // The entries describing a type: its own index when it is a `.paramN`,
    // else every typedef naming it. Two type parameters of one shape
    // (`[K, V int | counter]`) name the same shape type with different
    // entries: those must hold the same descriptor, or the type is unknown.
    let indexes = |t: crate::dwarf::TypeRef| -> Vec<u64> {
        match di.dict_index(t) {
            Some(i) => vec![i],
            None => fv.as_ref().map(|fv| fv.dict_types.iter().filter(|(x, _)| *x == t).map(|(_, i)| *i).collect()).unwrap_or_default(),
        }
    };
    let (idx, through_pointer) = match indexes(ty) {
        i if !i.is_empty() => (i, false),
        _ if v.name.starts_with('&') && v.ty != Some(ty) => (indexes(v.ty?), true),
        _ => return None,
    };
    if idx.is_empty() {
        return None;
    }
    let dict = all_vars(di, a, f, lf).into_iter().find(|v| v.name == ".dict")?;
    let dsrc = var_src(a, di, &dict, f, regs).ok()?;
    let d = p.word(&dsrc).ok()?;
    if d == 0 || idx.iter().any(|&i| i > 1 << 16) {
        return None;
    }
    let rtypes: Vec<u64> = idx.iter().map(|&i| a.core.u64(d.wrapping_add(8 * i)).ok()).collect::<Option<_>>()?;
    if rtypes.iter().any(|&r| r != rtypes[0]) {
        return None;
    }
    let t = p.dwarf_type_of(rtypes[0])?;
    if !through_pointer {
        return Some(t);
    }
    match di.type_at(t)?.kind.clone() {
        crate::dwarf::Kind::Pointer(e) => e,
        _ => None,
    }
}

/// A variable that escaped to the heap appears in DWARF as `&x`, a pointer
/// to it: show it as `x`, through the pointer, as Delve does.
fn escaped(
    p: &Printer,
    v: &Var,
    src: Result<Src, ValueError>,
) -> (String, Option<crate::dwarf::TypeRef>, Result<Src, ValueError>) {
    let Some(name) = v.name.strip_prefix('&') else { return (v.name.clone(), v.ty, src) };
    let elem = match v.ty.and_then(|t| p.di.type_at(t)).map(|t| t.kind.clone()) {
        Some(crate::dwarf::Kind::Pointer(e)) => e,
        _ => return (v.name.clone(), v.ty, src),
    };
    let src = src.and_then(|s| match p.word(&s) {
        Ok(0) => Err(ValueError::NilHeap),
        Ok(a) => Ok(Src::Mem(a)),
        Err(e) => Err(e),
    });
    (name.to_string(), elem, src)
}

/// `--vars`: one goroutine's traceback block with every frame's variables
/// under its frame, indented.
pub fn format_goroutine(a: &Analysis, r: &GoroutineReport, opts: Options, limits: Limits) -> String {
    let mut s = traceback::header(a, r, opts);
    s.push('\n');
    for f in crate::model::frames(a, r, opts, Some(limits)) {
        let (l1, l2) = traceback::frame_text(&f, opts);
        let _ = writeln!(s, "{l1}\n{l2}");
        for v in f.vars.iter().flatten() {
            let _ = writeln!(s, "\t\t{} {} = {}", if v.arg { "arg" } else { "var" }, v.name, v.value);
        }
        if let Some(e) = &f.vars_error {
            let _ = writeln!(s, "\t\t<no variables: {e}>");
        }
    }
    if let Some(why) = &r.stack.stopped {
        let _ = writeln!(s, "(unwinding stopped: {why})");
    }
    if let Some((l1, l2)) = traceback::created_by(a, r, opts) {
        let _ = writeln!(s, "{l1}\n{l2}");
    }
    s
}

/// `--vars` for every goroutine (or the one `only` names).
pub fn format_all(a: &Analysis, opts: Options, limits: Limits, only: Option<u64>) -> String {
    let mut out = String::new();
    for r in &a.goroutines {
        if let Some(id) = only {
            if r.g.goid != id {
                continue;
            }
        } else if !r.listed(opts.system) {
            continue;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format_goroutine(a, r, opts, limits));
    }
    out
}

/// `--print`'s scope: a frame's variables (when one is chosen), then globals.
pub struct FrameScope<'a> {
    pub a: &'a Analysis,
    pub di: &'a DebugInfo,
    /// Frames searched in order for a local (one with `-f`, all otherwise).
    pub frames: Vec<(&'a GoroutineReport, &'a Frame, &'a LogicalFrame)>,
}

impl crate::expr::Scope for FrameScope<'_> {
    fn local(&self, name: &str) -> Option<Result<(Option<crate::dwarf::TypeRef>, Src), ValueError>> {
        for &(r, f, lf) in &self.frames {
            let regs = registers_for(self.a, r, f);
            // The innermost declaration wins (later in DWARF order).
            let vars = scope_vars(self.di, self.a, f, lf);
            if let Some(v) = vars.into_iter().rev().find(|v| v.name.strip_prefix('&').unwrap_or(&v.name) == name) {
                let p = printer(self.a, self.di, Limits::default());
                let (_, ty, src) = escaped(&p, &v, var_src(self.a, self.di, &v, f, regs.as_ref()));
                let ty = instantiated(self.a, self.di, &p, f, lf, regs.as_ref(), &v, ty).or(ty);
                return Some(src.map(|s| (ty, s)));
            }
        }
        None
    }

    fn global(&self, name: &str) -> Option<(Option<crate::dwarf::TypeRef>, Src)> {
        let g = self.di.globals().get(name)?;
        Some((g.ty, Src::Mem(g.addr.wrapping_add(self.a.bias))))
    }

    fn package(&self) -> String {
        // The frame's own package; with every frame of a goroutine in
        // scope, the first one that is not the runtime's (a parked
        // goroutine's innermost frames are runtime.gopark and the like).
        let first = self.frames.first().map(|(_, _, lf)| package_of(&lf.name));
        let user = self.frames.iter().map(|(_, _, lf)| package_of(&lf.name)).find(|p| *p != "runtime" && !p.starts_with("internal/"));
        user.or(first).unwrap_or("main").to_string()
    }
}

/// The package path of a function name: `main` of `main.(*T).m`,
/// `net/http` of `net/http.(*Client).Do`, `a.b/c` of `a.b/c.F[...]`.
fn package_of(func: &str) -> &str {
    let slash = func.rfind('/').map(|i| i + 1).unwrap_or(0);
    match func[slash..].find('.') {
        Some(d) => &func[..slash + d],
        None => func,
    }
}

/// `--print EXPR [-g N [-f M]]`: (type name, value, address).
pub fn print_expr(
    a: &Analysis,
    expr: &str,
    goroutine: Option<u64>,
    frame: Option<usize>,
    opts: Options,
    limits: Limits,
) -> crate::Result<(Option<String>, Value, Option<u64>)> {
    let di = a.bin.debug_info()?;
    let e = crate::expr::parse(expr)?;
    let mut frames = Vec::new();
    if let Some(id) = goroutine {
        let r = a.goroutines.iter().find(|r| r.g.goid == id).ok_or(crate::Error::NoGoroutine { id })?;
        let vis = traceback::visible_frames(a, r, opts);
        match frame {
            Some(m) => {
                let (f, lf) = *vis.get(m).ok_or(crate::Error::NoFrame { id, frames: vis.len(), frame: m })?;
                frames.push((r, f, lf));
            }
            // No frame given: the innermost frame that has the name.
            None => frames.extend(vis.into_iter().map(|(f, lf)| (r, f, lf))),
        }
    }
    let scope = FrameScope { a, di, frames };
    let p = printer(a, di, limits);
    match crate::expr::eval(&p, &scope, &e)? {
        crate::expr::Evaluated::Computed(v) => Ok((Some(v.ty.clone()), v, None)),
        crate::expr::Evaluated::Value(t, s) => Ok((Some(p.type_name(t)), p.value(t, &s), s.addr())),
    }
}
