//! Evaluation over the core: names (locals, then the frame's package, then
//! qualified globals and functions), selectors with Go's promotion rule,
//! indexes and slices, conversions and address casts, builtins, type
//! assertions, Go's constant and typing rules for operators. Every step is
//! bounded: the AST's depth (the parser's), the embedding depth searched,
//! the bytes read for a string or a map scan.

use std::sync::Arc;

use super::consts::{self, Basic, Const, Scalar};
use super::parse::{BinOp, Expr, Lit, TypeExpr, UnOp};
use super::{ExprError, Scope};
use crate::dwarf::types::Field;
use crate::dwarf::{Kind, Type, TypeRef};
use crate::value::{Assembled, Printer, Src, ValueError};

/// A string's bytes read for an operation (comparison, concatenation).
const MAX_STRING_OP: u64 = 1 << 20;
/// More map entries than this are not searched for a key.
const MAX_MAP_SCAN: usize = 1 << 22;
/// Embedding levels searched for a promoted field.
const MAX_EMBED_DEPTH: usize = 32;
/// Nesting compared by `==` on structs and arrays, and elements compared.
const MAX_EQ_DEPTH: usize = 16;
const MAX_EQ_ELEMS: u64 = 1 << 16;

/// An evaluated operand.
#[derive(Debug, Clone)]
pub enum Val {
    Const(Const),
    Nil,
    /// A value of a type, in memory or computed.
    Typed(TypeRef, Src),
    /// A string computed by the expression (not in the core's memory).
    Str(TypeRef, Vec<u8>),
    /// A function named as a value.
    Func(String),
    /// A value only printable: (type name, text).
    /// A value computed whole (a conversion's result), as a tree.
    Tree(crate::model::Value),
}

pub(super) struct Eval<'a, 'p> {
    pub p: &'a Printer<'p>,
    pub scope: &'a dyn Scope,
}

fn err<T>(s: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError::Eval(s.into()))
}
fn verr(e: ValueError) -> ExprError {
    ExprError::Eval(match e {
        ValueError::Unavailable(w) => format!("unavailable: {w}"),
        e => e.to_string(),
    })
}

/// Why a name was not found, kept apart so selectors can try a package.
fn no_name(n: &str) -> ExprError {
    ExprError::Eval(format!("no variable named {n}"))
}

impl Eval<'_, '_> {
    fn ty(&self, r: TypeRef) -> Result<Arc<Type>, ExprError> {
        self.p.ty(r).ok_or_else(|| ExprError::Eval("no type information".into()))
    }
    fn resolved(&self, r: TypeRef) -> Result<Arc<Type>, ExprError> {
        self.p.di.resolve(r).ok_or_else(|| ExprError::Eval("no type information".into()))
    }
    fn word(&self, s: &Src) -> Result<u64, ExprError> {
        self.p.word(s).map_err(verr)
    }
    fn named(&self, name: &str) -> Result<TypeRef, ExprError> {
        self.p.di.type_by_name(name).ok_or_else(|| ExprError::Eval(format!("no type {name} in the binary's DWARF")))
    }
    fn computed(&self, ty: TypeRef, bytes: Vec<u8>) -> Val {
        Val::Typed(ty, Src::Bytes(Arc::new(Assembled { bytes, known: None, why: String::new() }), 0))
    }
    fn word_val(&self, ty: TypeRef, w: u64) -> Val {
        self.computed(ty, w.to_le_bytes().to_vec())
    }

    pub fn eval(&self, e: &Expr) -> Result<Val, ExprError> {
        match e {
            Expr::Paren(x) => self.eval(x),
            Expr::Lit(l) => Ok(Val::Const(match l {
                Lit::Int(v) => Const::Int(*v, false),
                Lit::Char(v) => Const::Int(*v, true),
                Lit::Float(f) => Const::Float(*f),
                Lit::Imag(f) => Const::Complex(0.0, *f),
                Lit::Str(s) => Const::Str(s.clone().into_bytes()),
            })),
            Expr::Ident(n) => self.ident(n),
            Expr::Qualified { path, name, alt } => match self.qualified(&format!("{path}.{name}")) {
                Some(v) => v,
                None => match alt {
                    Some(a) => self.eval(a),
                    None => Err(ExprError::Eval(format!("no variable or function named {path}.{name}"))),
                },
            },
            Expr::Selector(x, f) => {
                // `pkg.Name` when `pkg` is no local variable: package names
                // and package-level names live in different scopes.
                if let Expr::Ident(pkg) = &**x {
                    if self.scope.local(pkg).is_none() {
                        if let Some(v) = self.qualified(&format!("{pkg}.{f}")) {
                            return v;
                        }
                        return match self.ident(pkg) {
                            Err(e) if e == no_name(pkg) => err(format!("no variable named {pkg} and no package-level {pkg}.{f}")),
                            r => self.select(r?, f),
                        };
                    }
                }
                let v = self.eval(x)?;
                self.select(v, f)
            }
            Expr::Index(x, i) => {
                let v = self.eval(x)?;
                let i = self.eval(i)?;
                self.index(v, i)
            }
            Expr::Slice(x, lo, hi, max) => {
                let v = self.eval(x)?;
                let mut b = [None, None, None];
                for (k, e) in [lo, hi, max].into_iter().enumerate() {
                    if let Some(e) = e {
                        b[k] = Some(self.int_operand(self.eval(e)?, "slice index")?);
                    }
                }
                self.slice(v, b[0], b[1], b[2])
            }
            Expr::Unary(op, x) => {
                let v = self.eval(x)?;
                self.unary(*op, v)
            }
            Expr::Binary(op, a, b) => {
                let a = self.eval(a)?;
                // Go's && and || do not evaluate the right side when the left decides.
                if matches!(op, BinOp::AndAnd | BinOp::OrOr) {
                    let l = self.truth(&a)?;
                    if (*op == BinOp::AndAnd) != l {
                        return Ok(Val::Const(Const::Bool(l)));
                    }
                    let r = self.eval(b)?;
                    return Ok(Val::Const(Const::Bool(self.truth(&r)?)));
                }
                let b = self.eval(b)?;
                self.binary(*op, a, b)
            }
            Expr::Call(f, args) => self.call(f, args),
            Expr::Assert(x, t) => {
                let v = self.eval(x)?;
                self.assert(v, t)
            }
            Expr::Type(t) => err(format!("{} is a type, not an expression", t.name())),
        }
    }

    fn ident(&self, n: &str) -> Result<Val, ExprError> {
        if let Some(r) = self.scope.local(n) {
            let (t, s) = r.map_err(verr)?;
            let t = t.ok_or_else(|| ExprError::Eval(format!("{n}: no type information")))?;
            return Ok(Val::Typed(t, s));
        }
        match n {
            "true" => return Ok(Val::Const(Const::Bool(true))),
            "false" => return Ok(Val::Const(Const::Bool(false))),
            "nil" => return Ok(Val::Nil),
            _ => {}
        }
        let pkg = self.scope.package();
        if let Some(v) = self.qualified(&format!("{pkg}.{n}")) {
            return v;
        }
        if n.contains('.') {
            if let Some(v) = self.qualified(n) {
                return v;
            }
        }
        Err(no_name(n))
    }

    /// A package-level variable or function by its full name.
    fn qualified(&self, name: &str) -> Option<Result<Val, ExprError>> {
        if let Some((t, s)) = self.scope.global(name) {
            return Some(match t {
                Some(t) => Ok(Val::Typed(t, s)),
                None => err(format!("{name}: no type information")),
            });
        }
        if self.p.bin.pcln.lookup_name(name).is_some() {
            return Some(Ok(Val::Func(name.to_string())));
        }
        None
    }

    /// The basic shape of a type, if it is one.
    fn basic(&self, t: &Type) -> Option<Basic> {
        Some(match t.kind {
            Kind::Bool => Basic::Bool,
            Kind::Int => Basic::Int { size: t.size, signed: true },
            Kind::Uint => Basic::Int { size: t.size, signed: false },
            Kind::Float => Basic::Float(t.size),
            Kind::Complex => Basic::Complex(t.size),
            Kind::String => Basic::Str,
            _ => return None,
        })
    }

    fn read_n(&self, s: &Src, n: u64) -> Result<u128, ExprError> {
        let n = (n as usize).clamp(1, 16);
        let mut b = [0u8; 16];
        self.p.read(s, &mut b[..n]).map_err(verr)?;
        Ok(u128::from_le_bytes(b))
    }

    fn string_bytes(&self, s: &Src) -> Result<Vec<u8>, ExprError> {
        let ptr = self.word(s)?;
        let len = self.word(&s.at(8))?;
        if len > MAX_STRING_OP {
            return err(format!("string of {len} bytes is longer than an operation reads"));
        }
        let mut b = vec![0u8; len as usize];
        if len > 0 {
            self.p.mem.read(ptr, &mut b).map_err(|e| ExprError::Eval(e.to_string()))?;
        }
        Ok(b)
    }

    /// A typed basic value's scalar.
    fn scalar(&self, t: &Type, v: &Val) -> Result<Scalar, ExprError> {
        let b = self.basic(t).ok_or_else(|| ExprError::Eval(format!("{} is not a basic type", t.name)))?;
        let s = match v {
            Val::Typed(_, s) => s,
            Val::Str(_, bytes) => return Ok(Scalar::Str(bytes.clone())),
            _ => return err("not a value"),
        };
        Ok(match b {
            Basic::Bool => Scalar::Bool(self.read_n(s, 1)? & 0xff != 0),
            Basic::Int { size, .. } => Scalar::Int(b.wrap(self.read_n(s, size)? as i128)),
            Basic::Float(n) => {
                let bits = self.read_n(s, n)? as u64;
                Scalar::Float(if n == 4 { f32::from_bits(bits as u32) as f64 } else { f64::from_bits(bits) })
            }
            Basic::Complex(n) => {
                let h = n / 2;
                let f = |bits: u64| if h == 4 { f32::from_bits(bits as u32) as f64 } else { f64::from_bits(bits) };
                Scalar::Complex(f(self.read_n(s, h)? as u64), f(self.read_n(&s.at(h), h)? as u64))
            }
            Basic::Str => Scalar::Str(self.string_bytes(s)?),
        })
    }

    /// A scalar as a value of type `ty`.
    fn make(&self, ty: TypeRef, t: &Type, v: Scalar) -> Val {
        let size = t.size.clamp(1, 16) as usize;
        match v {
            Scalar::Bool(b) => self.computed(ty, vec![b as u8]),
            Scalar::Int(i) => self.computed(ty, (i as u128).to_le_bytes()[..size.min(8)].to_vec()),
            Scalar::Float(f) => {
                if t.size == 4 {
                    self.computed(ty, (f as f32).to_bits().to_le_bytes().to_vec())
                } else {
                    self.computed(ty, f.to_bits().to_le_bytes().to_vec())
                }
            }
            Scalar::Complex(r, i) => {
                if t.size == 8 {
                    self.computed(ty, [(r as f32).to_bits().to_le_bytes(), (i as f32).to_bits().to_le_bytes()].concat())
                } else {
                    self.computed(ty, [r.to_bits().to_le_bytes(), i.to_bits().to_le_bytes()].concat())
                }
            }
            Scalar::Str(s) => Val::Str(ty, s),
        }
    }

    fn type_of(&self, v: &Val) -> Option<TypeRef> {
        match v {
            Val::Typed(t, _) | Val::Str(t, _) => Some(*t),
            _ => None,
        }
    }

    /// An untyped constant given the type `ty`.
    fn const_to(&self, c: &Const, ty: TypeRef) -> Result<Val, ExprError> {
        let t = self.ty(ty)?;
        let rt = self.resolved(ty)?;
        let Some(b) = self.basic(&rt) else {
            return err(format!("cannot use {} as {} value", c.text(), t.name));
        };
        Ok(self.make(ty, &rt, consts::convert_const(c, b, &t.name)?))
    }

    /// A constant's default type, as a value.
    fn defaulted(&self, v: Val) -> Result<Val, ExprError> {
        match v {
            Val::Const(c) => {
                let ty = self.named(c.default_type())?;
                self.const_to(&c, ty)
            }
            v => Ok(v),
        }
    }

    fn truth(&self, v: &Val) -> Result<bool, ExprError> {
        match v {
            Val::Const(Const::Bool(b)) => Ok(*b),
            Val::Typed(t, _) => {
                let rt = self.resolved(*t)?;
                match self.scalar(&rt, v)? {
                    Scalar::Bool(b) => Ok(b),
                    _ => err(format!("{} is not a boolean", rt.name)),
                }
            }
            _ => err("not a boolean"),
        }
    }

    /// An integer operand (an index, a shift count, a slice bound).
    fn int_operand(&self, v: Val, what: &str) -> Result<i128, ExprError> {
        match &v {
            Val::Const(c) => c.as_int().ok_or_else(|| ExprError::Eval(format!("{what} {} is not an integer", c.text()))),
            Val::Typed(t, _) => {
                let rt = self.resolved(*t)?;
                match (self.basic(&rt), self.scalar(&rt, &v)) {
                    (Some(Basic::Int { .. }), Ok(Scalar::Int(i))) => Ok(i),
                    _ => err(format!("{what} of type {} is not an integer", rt.name)),
                }
            }
            _ => err(format!("{what} is not an integer")),
        }
    }

    // --- selectors -------------------------------------------------------

    fn select(&self, v: Val, f: &str) -> Result<Val, ExprError> {
        let (ty, src) = match v {
            Val::Typed(t, s) => (t, s),
            _ => return err(format!("cannot select .{f} of a value that is not a variable")),
        };
        let t = self.resolved(ty)?;
        match &t.kind {
            Kind::Interface { .. } => {
                let (dt, ds) = self.dynamic(&t, &src)?;
                self.select(Val::Typed(dt, ds), f)
            }
            Kind::Chan { elem, hdr } => self.chan_field(&t, &src, *elem, *hdr, f),
            _ => {
                // Fields and methods by one rule: the shallowest wins.
                let method = self.promoted_method(ty, f);
                let field_depth = self.field_path(ty, f).ok().map(|p| p.len().saturating_sub(1));
                match (method, field_depth) {
                    (Some((d, m)), fd) if fd.is_none_or(|fd| d < fd) => m,
                    (Some((d, _)), Some(fd)) if d == fd => err(format!("ambiguous selector .{f} in {}", self.ty(ty)?.name)),
                    _ => self.field(ty, src, f).map(|(ft, fs)| Val::Typed(ft, fs)),
                }
            }
        }
    }

    /// The method `m` of the type at `ty` (or of what it points to), as the
    /// function the compiler named `pkg.T.m` or `pkg.(*T).m`.
    fn method(&self, ty: TypeRef, m: &str) -> Option<Val> {
        let mut names = vec![self.ty(ty).ok()?.name.clone()];
        if let Kind::Pointer(Some(e)) = self.resolved(ty).ok()?.kind {
            names.push(self.ty(e).ok()?.name.clone());
        }
        for n in names {
            // A value's method is T.m; (*T).m, when the binary has it, is
            // the compiler's wrapper for a T method, or a pointer method.
            let pointer = n.starts_with('*');
            let n = n.trim_start_matches('*');
            let slash = n.rfind('/').map(|i| i + 1).unwrap_or(0);
            let Some(dot) = n[slash..].find('.').map(|d| slash + d) else { continue };
            let (pkg, tname) = (&n[..dot], &n[dot + 1..]);
            let (by_ptr, by_val) = (format!("{pkg}.(*{tname}).{m}"), format!("{pkg}.{tname}.{m}"));
            let order = if pointer { [by_ptr, by_val] } else { [by_val, by_ptr] };
            for cand in order {
                if self.p.bin.pcln.lookup_name(&cand).is_some() {
                    return Some(Val::Func(cand));
                }
            }
        }
        None
    }

    /// A method value (`e.Error`, `w.Sum` promoted from an embedded field):
    /// the function it names, found breadth first over embedded fields, with
    /// its depth; two at the shallowest depth are ambiguous.
    fn promoted_method(&self, ty: TypeRef, m: &str) -> Option<(usize, Result<Val, ExprError>)> {
        let mut level = vec![ty];
        let mut seen = vec![ty];
        for depth in 0..MAX_EMBED_DEPTH {
            let mut found: Vec<Val> = level.iter().filter_map(|t| self.method(*t, m)).collect();
            match found.len() {
                0 => {}
                1 => return found.pop().map(|v| (depth, Ok(v))),
                _ => return Some((depth, err(format!("ambiguous selector .{m} in {}", self.p.type_name(Some(ty)))))),
            }
            let mut next = Vec::new();
            for t in &level {
                let Some(mut rt) = self.p.di.resolve(*t) else { continue };
                if let Kind::Pointer(Some(e)) = rt.kind {
                    let Some(x) = self.p.di.resolve(e) else { continue };
                    rt = x;
                }
                let Kind::Struct(fs) = &rt.kind else { continue };
                for f in fs.iter().filter(|f| f.embedded) {
                    if let Some(ft) = f.ty {
                        if !seen.contains(&ft) {
                            seen.push(ft);
                            next.push(ft);
                        }
                    }
                }
            }
            if next.is_empty() {
                return None;
            }
            level = next;
        }
        None
    }

    /// Delve's extension: a channel's `hchan` fields (`ch.qcount`, `ch.buf`).
    fn chan_field(&self, t: &Type, src: &Src, elem: Option<TypeRef>, hdr: Option<TypeRef>, f: &str) -> Result<Val, ExprError> {
        let c = self.word(src)?;
        if c == 0 {
            return err(format!("{} is nil", t.name));
        }
        let ht = hdr.and_then(|h| self.p.ty(h)).ok_or_else(|| ExprError::Eval("hchan type missing from DWARF".into()))?;
        let Kind::Struct(fs) = &ht.kind else { return err("hchan is not a struct") };
        let fld = fs.iter().find(|x| x.name == f).ok_or_else(|| ExprError::Eval(format!("{} has no field {f}", t.name)))?;
        let ft = fld.ty.ok_or_else(|| ExprError::Eval("no type information".into()))?;
        if f == "buf" {
            // The buffer as the array it is: *[dataqsiz]T.
            let n = fs.iter().find(|x| x.name == "dataqsiz").map(|x| self.p.mem.u64(c + x.offset)).transpose().map_err(|e| ExprError::Eval(e.to_string()))?;
            if let (Some(n), Some(e)) = (n, elem) {
                let et = self.ty(e)?;
                let arr = self.p.di.synth_type(Type {
                    name: format!("[{n}]{}", et.name),
                    size: et.size.saturating_mul(n),
                    kind: Kind::Array { elem: Some(e), len: n },
                    runtime_type: None,
                });
                if let Some(pt) = arr.and_then(|a| self.p.di.pointer_to(a)) {
                    return Ok(Val::Typed(pt, Src::Mem(c + fld.offset)));
                }
            }
        }
        Ok(Val::Typed(ft, Src::Mem(c + fld.offset)))
    }

    /// `x.f` through pointers and embedded fields, by Go's rule: the
    /// shallowest depth wins; two at that depth are ambiguous.
    pub fn field(&self, ty: TypeRef, src: Src, name: &str) -> Result<(TypeRef, Src), ExprError> {
        let (mut ty, mut src) = (ty, src);
        // One implicit dereference of the operand.
        let t = self.resolved(ty)?;
        if let Kind::Pointer(Some(e)) = t.kind {
            let a = self.word(&src)?;
            if a == 0 {
                return err(format!("nil pointer dereference selecting .{name}"));
            }
            (ty, src) = (e, Src::Mem(a));
        }
        let path = self.field_path(ty, name)?;
        let mut cur = (ty, src);
        for f in &path {
            let t = self.resolved(cur.0)?;
            if let Kind::Pointer(Some(e)) = t.kind {
                let a = self.word(&cur.1)?;
                if a == 0 {
                    return err(format!("nil pointer dereference selecting .{name} (through embedded *{})", self.p.type_name(Some(e))));
                }
                cur = (e, Src::Mem(a));
            }
            let ft = f.ty.ok_or_else(|| ExprError::Eval(format!("field {} has no type information", f.name)))?;
            cur = (ft, cur.1.at(f.offset));
        }
        Ok(cur)
    }

    /// The fields leading to `name`, breadth first over embedded fields.
    fn field_path(&self, ty: TypeRef, name: &str) -> Result<Vec<Field>, ExprError> {
        let struct_fields = |r: TypeRef| -> Option<Vec<Field>> {
            let mut t = self.p.di.resolve(r)?;
            if let Kind::Pointer(Some(e)) = t.kind {
                t = self.p.di.resolve(e)?;
            }
            match &t.kind {
                Kind::Struct(fs) => Some(fs.clone()),
                _ => None,
            }
        };
        let top = self.ty(ty)?;
        if struct_fields(ty).is_none() {
            return err(format!("{} has no field {name}", top.name));
        }
        // (path so far, type at its end); types already searched are not again
        // (a self-embedding type would otherwise never end).
        let mut level: Vec<(Vec<Field>, TypeRef)> = vec![(Vec::new(), ty)];
        let mut seen: Vec<TypeRef> = vec![ty];
        for _ in 0..MAX_EMBED_DEPTH {
            let mut found: Vec<Vec<Field>> = Vec::new();
            let mut next = Vec::new();
            for (path, t) in &level {
                let Some(fs) = struct_fields(*t) else { continue };
                for f in fs {
                    if f.name == name {
                        let mut p = path.clone();
                        p.push(f.clone());
                        found.push(p);
                    } else if f.embedded {
                        if let Some(ft) = f.ty {
                            let target = match self.p.di.resolve(ft).map(|x| x.kind.clone()) {
                                Some(Kind::Pointer(Some(e))) => e,
                                _ => ft,
                            };
                            if !seen.contains(&target) {
                                seen.push(target);
                                let mut p = path.clone();
                                p.push(f.clone());
                                next.push((p, ft));
                            }
                        }
                    }
                }
            }
            match found.len() {
                0 => {}
                1 => return Ok(found.pop().unwrap_or_default()),
                _ => return err(format!("ambiguous selector .{name} in {}", top.name)),
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        err(format!("{} has no field or method {name}", top.name))
    }

    // --- indexes and slices ------------------------------------------------

    fn elem_size(&self, e: Option<TypeRef>) -> Result<u64, ExprError> {
        Ok(self.ty(e.ok_or_else(|| ExprError::Eval("no element type".into()))?)?.size)
    }

    fn index(&self, v: Val, i: Val) -> Result<Val, ExprError> {
        if let Val::Const(Const::Str(s)) = &v {
            let k = self.int_operand(i, "index")?;
            return match usize::try_from(k).ok().and_then(|k| s.get(k)) {
                Some(b) => Ok(Val::Const(Const::Int(*b as i128, false))),
                None => err(format!("index {k} out of range [0:{}]", s.len())),
            };
        }
        if let Val::Str(_, s) = &v {
            let k = self.int_operand(i, "index")?;
            let u8t = self.named("uint8")?;
            return match usize::try_from(k).ok().and_then(|k| s.get(k)) {
                Some(b) => Ok(self.computed(u8t, vec![*b])),
                None => err(format!("index {k} out of range [0:{}]", s.len())),
            };
        }
        let Val::Typed(ty, src) = v else { return err("cannot index this value") };
        let t = self.resolved(ty)?;
        let bound = |len: u64, i: Val| -> Result<u64, ExprError> {
            let k = self.int_operand(i, "index")?;
            if k < 0 || k as u128 >= len as u128 {
                return err(format!("index {k} out of range [0:{len}]"));
            }
            Ok(k as u64)
        };
        match &t.kind {
            Kind::Array { elem, len } => {
                let k = bound(*len, i)?;
                Ok(Val::Typed(elem.ok_or_else(|| ExprError::Eval("no element type".into()))?, src.at(k.wrapping_mul(self.elem_size(*elem)?))))
            }
            Kind::Pointer(Some(e)) if matches!(self.resolved(*e)?.kind, Kind::Array { .. }) => {
                let a = self.word(&src)?;
                if a == 0 {
                    return err("nil pointer dereference");
                }
                self.index(Val::Typed(*e, Src::Mem(a)), i)
            }
            Kind::Slice(elem) => {
                let ptr = self.word(&src)?;
                let len = self.word(&src.at(8))?;
                let k = bound(len, i)?;
                Ok(Val::Typed(elem.ok_or_else(|| ExprError::Eval("no element type".into()))?, Src::Mem(ptr.wrapping_add(k.wrapping_mul(self.elem_size(*elem)?)))))
            }
            Kind::String => {
                let ptr = self.word(&src)?;
                let len = self.word(&src.at(8))?;
                let k = bound(len, i)?;
                Ok(Val::Typed(self.named("uint8")?, Src::Mem(ptr.wrapping_add(k))))
            }
            Kind::Map { key, elem, hdr } => {
                let kt = key.ok_or_else(|| ExprError::Eval("map key type missing".into()))?;
                let want = match i {
                    Val::Const(c) => self.const_to(&c, kt)?,
                    Val::Nil => return err("nil map key"),
                    other => {
                        self.same_type(kt, &other, "map key")?;
                        other
                    }
                };
                let m = self.word(&src)?;
                if m == 0 {
                    return err("key not found (nil map)");
                }
                let mut found = None;
                let mut seen = 0usize;
                let mut failure = None;
                self.p
                    .map_entries(m, *key, *elem, *hdr, &mut |k, v| {
                        seen += 1;
                        match self.equal(kt, &Val::Typed(kt, k), &want, 0) {
                            Ok(true) => {
                                found = Some(v);
                                return false;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                failure = Some(e);
                                return false;
                            }
                        }
                        seen < MAX_MAP_SCAN
                    })
                    .map_err(verr)?;
                if let Some(e) = failure {
                    return Err(e);
                }
                match found {
                    Some(v) => Ok(Val::Typed(elem.ok_or_else(|| ExprError::Eval("map value type missing".into()))?, v)),
                    None => err("key not found"),
                }
            }
            _ => err(format!("cannot index {} (type {})", "value", t.name)),
        }
    }

    fn slice(&self, v: Val, lo: Option<i128>, hi: Option<i128>, max: Option<i128>) -> Result<Val, ExprError> {
        let check = |lo: i128, hi: i128, max: i128, cap: u64| -> Result<(u64, u64, u64), ExprError> {
            if lo < 0 || hi < lo || max < hi || max as u128 > cap as u128 {
                return err(format!("slice bounds out of range [{lo}:{hi}:{max}] with capacity {cap}"));
            }
            Ok((lo as u64, hi as u64, max as u64))
        };
        let strs = |s: &[u8]| -> Result<Vec<u8>, ExprError> {
            if max.is_some() {
                return err("3-index slice of string");
            }
            let (l, h, _) = check(lo.unwrap_or(0), hi.unwrap_or(s.len() as i128), hi.unwrap_or(s.len() as i128), s.len() as u64)?;
            Ok(s[l as usize..h as usize].to_vec())
        };
        match v {
            Val::Const(Const::Str(s)) => return Ok(Val::Const(Const::Str(strs(&s)?))),
            Val::Str(t, s) => return Ok(Val::Str(t, strs(&s)?)),
            _ => {}
        }
        let Val::Typed(ty, src) = v else { return err("cannot slice this value") };
        let t = self.resolved(ty)?;
        match &t.kind {
            Kind::String => {
                if max.is_some() {
                    return err("3-index slice of string");
                }
                let ptr = self.word(&src)?;
                let len = self.word(&src.at(8))?;
                let (l, h, _) = check(lo.unwrap_or(0), hi.unwrap_or(len as i128), hi.unwrap_or(len as i128), len)?;
                Ok(self.computed(ty, [ptr.wrapping_add(l).to_le_bytes(), (h - l).to_le_bytes()].concat()))
            }
            Kind::Slice(elem) => {
                let ptr = self.word(&src)?;
                let len = self.word(&src.at(8))?;
                let cap = self.word(&src.at(16))?;
                let hi = hi.unwrap_or(len as i128);
                let (l, h, m) = check(lo.unwrap_or(0), hi, max.unwrap_or(cap as i128), cap)?;
                let es = self.elem_size(*elem)?;
                Ok(self.computed(ty, [ptr.wrapping_add(l.wrapping_mul(es)).to_le_bytes(), (h - l).to_le_bytes(), (m - l).to_le_bytes()].concat()))
            }
            Kind::Array { elem, len } => {
                let Some(a) = src.addr() else { return err("cannot slice an array that is not in memory") };
                let e = elem.ok_or_else(|| ExprError::Eval("no element type".into()))?;
                let et = self.ty(e)?;
                let st = self
                    .p
                    .di
                    .synth_type(Type { name: format!("[]{}", et.name), size: 24, kind: Kind::Slice(Some(e)), runtime_type: None })
                    .ok_or_else(|| ExprError::Eval("too many made-up types".into()))?;
                let hi = hi.unwrap_or(*len as i128);
                let (l, h, m) = check(lo.unwrap_or(0), hi, max.unwrap_or(*len as i128), *len)?;
                Ok(self.computed(st, [a.wrapping_add(l.wrapping_mul(et.size)).to_le_bytes(), (h - l).to_le_bytes(), (m - l).to_le_bytes()].concat()))
            }
            Kind::Pointer(Some(e)) if matches!(self.resolved(*e)?.kind, Kind::Array { .. }) => {
                let a = self.word(&src)?;
                if a == 0 {
                    return err("nil pointer dereference");
                }
                self.slice(Val::Typed(*e, Src::Mem(a)), lo, hi, max)
            }
            _ => err(format!("cannot slice {}", t.name)),
        }
    }

    // --- operators ------------------------------------------------------------

    fn unary(&self, op: UnOp, v: Val) -> Result<Val, ExprError> {
        match op {
            UnOp::Deref => {
                let Val::Typed(ty, src) = v else { return err("cannot dereference a value that is not a pointer") };
                let t = self.resolved(ty)?;
                match t.kind {
                    Kind::Pointer(Some(e)) => {
                        let a = self.word(&src)?;
                        if a == 0 {
                            return err("nil pointer dereference");
                        }
                        Ok(Val::Typed(e, Src::Mem(a)))
                    }
                    _ => err(format!("cannot dereference {} (not a pointer)", t.name)),
                }
            }
            UnOp::Addr => {
                let Val::Typed(ty, src) = v else { return err("cannot take the address of this value") };
                let Some(a) = src.addr() else {
                    return err("cannot take the address of a value that is not in memory");
                };
                let pt = self.p.di.pointer_to(ty).ok_or_else(|| ExprError::Eval("too many made-up types".into()))?;
                Ok(self.word_val(pt, a))
            }
            UnOp::Plus | UnOp::Neg | UnOp::Xor | UnOp::Not => {
                if let Val::Const(c) = &v {
                    return Ok(Val::Const(match (op, c) {
                        (UnOp::Plus, Const::Int(..) | Const::Float(_) | Const::Complex(..)) => c.clone(),
                        (UnOp::Neg, Const::Int(x, r)) => Const::Int(-x, *r),
                        (UnOp::Neg, Const::Float(x)) => Const::Float(-x),
                        (UnOp::Neg, Const::Complex(a, b)) => Const::Complex(-a, -b),
                        (UnOp::Xor, Const::Int(x, r)) => Const::Int(!x, *r),
                        (UnOp::Not, Const::Bool(b)) => Const::Bool(!b),
                        _ => return err(format!("invalid operation on {}", c.text())),
                    }));
                }
                let Val::Typed(ty, _) = &v else { return err("invalid operand") };
                let t = self.resolved(*ty)?;
                let b = self.basic(&t).ok_or_else(|| ExprError::Eval(format!("invalid operation on {}", t.name)))?;
                let s = self.scalar(&t, &v)?;
                let r = match (op, s) {
                    (UnOp::Plus, s @ (Scalar::Int(_) | Scalar::Float(_) | Scalar::Complex(..))) => s,
                    (UnOp::Neg, Scalar::Int(x)) => Scalar::Int(b.wrap(x.wrapping_neg())),
                    (UnOp::Neg, Scalar::Float(x)) => Scalar::Float(-x),
                    (UnOp::Neg, Scalar::Complex(a, c)) => Scalar::Complex(-a, -c),
                    (UnOp::Xor, Scalar::Int(x)) => Scalar::Int(b.wrap(!x)),
                    (UnOp::Not, Scalar::Bool(x)) => Scalar::Bool(!x),
                    _ => return err(format!("invalid operation on {}", t.name)),
                };
                Ok(self.make(*ty, &t, r))
            }
        }
    }

    /// Go needs identical types on both sides of an operator.
    fn same_type(&self, want: TypeRef, v: &Val, what: &str) -> Result<(), ExprError> {
        let Some(t) = self.type_of(v) else { return err(format!("{what}: not a typed value")) };
        let (a, b) = (self.ty(want)?, self.ty(t)?);
        if t != want && a.name != b.name {
            return err(format!("mismatched types {} and {}", a.name, b.name));
        }
        Ok(())
    }

    fn nilable(&self, t: &Type) -> bool {
        matches!(
            t.kind,
            Kind::Pointer(_) | Kind::UnsafePointer | Kind::Slice(_) | Kind::Map { .. } | Kind::Chan { .. } | Kind::Func | Kind::Interface { .. }
        )
    }

    /// Whether a nilable value is nil.
    fn is_nil(&self, _t: &Type, src: &Src) -> Result<bool, ExprError> {
        Ok(self.word(src)? == 0)
    }

    fn binary(&self, op: BinOp, a: Val, b: Val) -> Result<Val, ExprError> {
        use BinOp::*;
        let cmp = matches!(op, Eq | Ne | Lt | Le | Gt | Ge);
        match (&a, &b) {
            (Val::Const(x), Val::Const(y)) => return Ok(Val::Const(consts::binary(op, x, y)?)),
            (Val::Nil, Val::Nil) => return err("invalid operation: nil == nil (operator not defined on nil)"),
            (Val::Nil, Val::Typed(t, s)) | (Val::Typed(t, s), Val::Nil) => {
                let rt = self.resolved(*t)?;
                if !self.nilable(&rt) || !matches!(op, Eq | Ne) {
                    return err(format!("invalid operation: comparing {} with nil", rt.name));
                }
                let n = self.is_nil(&rt, s)?;
                return Ok(Val::Const(Const::Bool(n == (op == Eq))));
            }
            (Val::Func(x), Val::Func(y)) if cmp => {
                return err(format!("invalid operation: {x} {} {y} (func can only be compared to nil)", op.text()))
            }
            _ => {}
        }
        // Shifts: the left operand's type rules.
        if matches!(op, Shl | Shr) {
            let s = self.int_operand(b, "shift count")?;
            let a = self.defaulted(a)?;
            let Val::Typed(ty, _) = &a else { return err("invalid shift") };
            let t = self.resolved(*ty)?;
            let (Some(bt @ Basic::Int { .. }), Scalar::Int(x)) = (self.basic(&t), self.scalar(&t, &a)?) else {
                return err(format!("invalid shift of {}", t.name));
            };
            return Ok(self.make(*ty, &t, Scalar::Int(consts::shift(op, bt, x, s)?)));
        }
        // One side untyped: it takes the other's type.
        let (a, b) = match (a, b) {
            (Val::Const(c), v) => {
                let ty = self.type_of(&v).ok_or_else(|| ExprError::Eval("invalid operands".into()))?;
                (self.const_to(&c, ty)?, v)
            }
            (v, Val::Const(c)) => {
                let ty = self.type_of(&v).ok_or_else(|| ExprError::Eval("invalid operands".into()))?;
                let c = self.const_to(&c, ty)?;
                (v, c)
            }
            p => p,
        };
        let ty = self.type_of(&a).ok_or_else(|| ExprError::Eval("invalid operands".into()))?;
        self.same_type(ty, &b, "operand")?;
        let t = self.resolved(ty)?;
        if let Some(bt) = self.basic(&t) {
            let (x, y) = (self.scalar(&t, &a)?, self.scalar(&t, &b)?);
            if matches!(op, AndAnd | OrOr) && bt != Basic::Bool {
                return err(format!("operator {} not defined on {}", op.text(), t.name));
            }
            return match consts::scalar_binary(op, bt, &x, &y)? {
                Scalar::Bool(r) if cmp => Ok(Val::Const(Const::Bool(r))),
                r => Ok(self.make(ty, &t, r)),
            };
        }
        if matches!(op, Eq | Ne) {
            let e = self.equal(ty, &a, &b, 0)?;
            return Ok(Val::Const(Const::Bool(e == (op == Eq))));
        }
        err(format!("invalid operation: operator {} not defined on {}", op.text(), t.name))
    }

    /// Go's `==` on two values of type `ty`.
    fn equal(&self, ty: TypeRef, a: &Val, b: &Val, depth: usize) -> Result<bool, ExprError> {
        if depth > MAX_EQ_DEPTH {
            return err("values nested too deeply to compare");
        }
        let t = self.resolved(ty)?;
        if self.basic(&t).is_some() {
            return Ok(self.scalar(&t, a)? == self.scalar(&t, b)?);
        }
        let (Val::Typed(_, sa), Val::Typed(_, sb)) = (a, b) else { return err("cannot compare these values") };
        match &t.kind {
            Kind::Pointer(_) | Kind::UnsafePointer | Kind::Chan { .. } => Ok(self.word(sa)? == self.word(sb)?),
            Kind::Struct(fs) => {
                for f in fs {
                    let Some(ft) = f.ty else { return err("no type information") };
                    if f.name == "_" {
                        continue;
                    }
                    if !self.equal(ft, &Val::Typed(ft, sa.at(f.offset)), &Val::Typed(ft, sb.at(f.offset)), depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Kind::Array { elem: Some(e), len } => {
                if *len > MAX_EQ_ELEMS {
                    return err("array too long to compare");
                }
                let es = self.ty(*e)?.size;
                for i in 0..*len {
                    if !self.equal(*e, &Val::Typed(*e, sa.at(i * es)), &Val::Typed(*e, sb.at(i * es)), depth + 1)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Kind::Interface { .. } => {
                let (ta, tb) = (self.word(sa)?, self.word(sb)?);
                let (da, db) = (self.word(&sa.at(8))?, self.word(&sb.at(8))?);
                if ta == 0 || tb == 0 {
                    return Ok(ta == tb);
                }
                let (xa, xb) = (self.dynamic(&t, sa)?, self.dynamic(&t, sb)?);
                if xa.0 != xb.0 {
                    return Ok(false);
                }
                if da == db {
                    return Ok(true);
                }
                self.equal(xa.0, &Val::Typed(xa.0, xa.1), &Val::Typed(xb.0, xb.1), depth + 1)
            }
            _ => err(format!("{} values cannot be compared", t.name)),
        }
    }

    // --- interfaces -----------------------------------------------------------

    /// An interface's dynamic type and value.
    fn dynamic(&self, t: &Type, src: &Src) -> Result<(TypeRef, Src), ExprError> {
        match self.p.iface_dynamic(t, src).map_err(verr)? {
            Some(x) => Ok(x),
            None => err(format!("{} is nil", t.name)),
        }
    }

    fn assert(&self, v: Val, te: &TypeExpr) -> Result<Val, ExprError> {
        let Val::Typed(ty, src) = v else { return err("type assertion of a value that is not an interface") };
        let t = self.resolved(ty)?;
        let Kind::Interface { .. } = t.kind else {
            return err(format!("invalid type assertion: {} is not an interface", t.name));
        };
        let want = self.type_ref(te)?;
        let wt = self.ty(want)?;
        let it = self.ty(ty)?;
        match self.p.iface_dynamic(&t, &src).map_err(verr)? {
            None => err(format!("interface conversion: {} is nil, not {}", it.name, wt.name)),
            Some((dt, ds)) => {
                let dname = self.ty(dt)?.name.clone();
                if dt == want || dname == wt.name {
                    Ok(Val::Typed(dt, ds))
                } else if let Kind::Interface { empty } = self.resolved(want)?.kind {
                    self.assert_iface(&t, &src, want, &wt, empty, &dname)
                } else {
                    err(format!("interface conversion: {} is {dname}, not {}", it.name, wt.name))
                }
            }
        }
    }

    /// `x.(I)` for an interface type I: the dynamic type's method set (from
    /// the runtime's descriptors) must hold I's; the result is an I holding
    /// x's dynamic value, or Go's "missing method" error.
    #[allow(clippy::too_many_arguments)]
    fn assert_iface(&self, t: &Type, src: &Src, want: TypeRef, wt: &Type, empty: bool, dname: &str) -> Result<Val, ExprError> {
        let Kind::Interface { empty: src_empty } = t.kind else { return err("not an interface") };
        let w0 = self.word(src)?;
        let data = self.word(&src.at(8))?;
        let rtype = if src_empty { w0 } else { self.p.mem.u64(w0.wrapping_add(8)).map_err(|e| ExprError::Eval(e.to_string()))? };
        let two = |a: u64| [a.to_le_bytes(), data.to_le_bytes()].concat();
        if empty {
            return Ok(self.computed(want, two(rtype)));
        }
        let idesc = self
            .p
            .descriptor_of(wt)
            .or_else(|| self.resolved(want).ok().and_then(|r| self.p.descriptor_of(&r)))
            .ok_or_else(|| ExprError::Eval(format!("{}: no runtime type descriptor in the DWARF: its method set is unknown", wt.name)))?;
        match self.p.implements(rtype, idesc).map_err(verr)? {
            crate::value::Implements::Missing(m) => err(format!("interface conversion: {dname} is not {}: missing method {m}", wt.name)),
            // A non-empty interface's first word is an itab: only its type
            // word (+8) is read, and it is the same dynamic type.
            crate::value::Implements::Yes if !src_empty => Ok(self.computed(want, two(w0))),
            crate::value::Implements::Yes => {
                // From an empty interface: the linker's itab for the pair
                // when the program made one, else an I laid out as an `any`
                // (type word, data word), which further selectors and
                // assertions read like any interface.
                if let Some(itab) = self.p.bin.symbol(&format!("go:itab.{dname},{}", wt.name)) {
                    return Ok(self.computed(want, two(itab.wrapping_add(self.p.bias))));
                }
                let ety = self.p.di.eface_named(&wt.name).ok_or_else(|| ExprError::Eval("too many made-up types".into()))?;
                Ok(self.computed(ety, two(rtype)))
            }
        }
    }

    // --- types, conversions, builtins ----------------------------------------

    /// A type written in the expression.
    fn type_ref(&self, te: &TypeExpr) -> Result<TypeRef, ExprError> {
        self.try_type(te).ok_or_else(|| ExprError::Eval(format!("no type {} in the binary's DWARF", te.name())))
    }

    fn try_type(&self, te: &TypeExpr) -> Option<TypeRef> {
        let di = self.p.di;
        if let Some(r) = di.type_by_name(&te.name()) {
            return Some(r);
        }
        match te {
            TypeExpr::Name(n) if !n.contains('.') => di.type_by_name(&format!("{}.{n}", self.scope.package())),
            TypeExpr::Name(_) => None,
            TypeExpr::Pointer(e) => di.pointer_to(self.try_type(e)?),
            TypeExpr::Slice(e) => {
                let e = self.try_type(e)?;
                let name = format!("[]{}", di.type_at(e)?.name);
                di.synth_type(Type { name, size: 24, kind: Kind::Slice(Some(e)), runtime_type: None })
            }
            TypeExpr::Array(n, e) => {
                let er = self.try_type(e)?;
                let et = di.type_at(er)?;
                di.synth_type(Type {
                    name: format!("[{n}]{}", et.name),
                    size: et.size.checked_mul(*n)?,
                    kind: Kind::Array { elem: Some(er), len: *n },
                    runtime_type: None,
                })
            }
            TypeExpr::Map(..) | TypeExpr::Chan(_) => None,
        }
    }

    fn call(&self, f: &Expr, args: &[Expr]) -> Result<Val, ExprError> {
        if let Expr::Ident(name) = f {
            if self.scope.local(name).is_none() {
                if let Some(v) = self.builtin(name, args)? {
                    return Ok(v);
                }
            }
        }
        // A conversion when the callee names a type (and no variable).
        let callee_is_var = match f {
            Expr::Ident(n) => self.scope.local(n).is_some(),
            _ => false,
        };
        if !callee_is_var {
            if let Some(ty) = f.as_type().and_then(|te| self.try_type(&te)) {
                if args.len() != 1 {
                    return err(format!("conversion to {} needs one argument", self.ty(ty)?.name));
                }
                let v = self.eval(&args[0])?;
                return self.convert(v, ty);
            }
        }
        err("function calls are not possible on a core file")
    }

    fn builtin(&self, name: &str, args: &[Expr]) -> Result<Option<Val>, ExprError> {
        let one = || -> Result<Val, ExprError> {
            if args.len() != 1 {
                return err(format!("{name} takes one argument"));
            }
            self.eval(&args[0])
        };
        let int = |n: u64| Val::Const(Const::Int(n as i128, false));
        Ok(Some(match name {
            "len" | "cap" => {
                let is_cap = name == "cap";
                let v = one()?;
                match &v {
                    Val::Const(Const::Str(s)) if !is_cap => return Ok(Some(int(s.len() as u64))),
                    Val::Str(_, s) if !is_cap => return Ok(Some(int(s.len() as u64))),
                    _ => {}
                }
                let Val::Typed(ty, src) = v else { return err(format!("invalid argument to {name}")) };
                let t = self.resolved(ty)?;
                let n = match &t.kind {
                    Kind::String if !is_cap => self.word(&src.at(8))?,
                    Kind::Slice(_) => self.word(&src.at(if is_cap { 16 } else { 8 }))?,
                    Kind::Array { len, .. } => *len,
                    Kind::Pointer(Some(e)) if matches!(self.resolved(*e)?.kind, Kind::Array { .. }) => match self.resolved(*e)?.kind {
                        Kind::Array { len, .. } => len,
                        _ => 0,
                    },
                    Kind::Map { .. } if !is_cap => {
                        let m = self.word(&src)?;
                        if m == 0 {
                            0
                        } else {
                            self.p.mem.u64(m).map_err(|e| ExprError::Eval(e.to_string()))?
                        }
                    }
                    Kind::Chan { .. } => {
                        if self.word(&src)? == 0 {
                            0
                        } else {
                            let f = self.chan_field(&t, &src, None, match t.kind {
                                Kind::Chan { hdr, .. } => hdr,
                                _ => None,
                            }, if is_cap { "dataqsiz" } else { "qcount" })?;
                            let Val::Typed(_, s) = f else { return err("bad hchan") };
                            self.word(&s)?
                        }
                    }
                    _ => return err(format!("invalid argument: {} for {name}", t.name)),
                };
                int(n)
            }
            "real" | "imag" => {
                let v = one()?;
                let im = name == "imag";
                match v {
                    Val::Const(c) => {
                        let (r, i) = match c {
                            Const::Complex(r, i) => (r, i),
                            Const::Int(..) | Const::Float(_) => (c.as_int().map(|x| x as f64).unwrap_or(match c {
                                Const::Float(f) => f,
                                _ => 0.0,
                            }), 0.0),
                            _ => return err(format!("invalid argument to {name}")),
                        };
                        Val::Const(Const::Float(if im { i } else { r }))
                    }
                    Val::Typed(ty, _) => {
                        let t = self.resolved(ty)?;
                        let Scalar::Complex(r, i) = self.scalar(&t, &v)? else {
                            return err(format!("invalid argument: {} for {name}", t.name));
                        };
                        let ft = self.named(if t.size == 8 { "float32" } else { "float64" })?;
                        let ftt = self.resolved(ft)?;
                        self.make(ft, &ftt, Scalar::Float(if im { i } else { r }))
                    }
                    _ => return err(format!("invalid argument to {name}")),
                }
            }
            "complex" => {
                if args.len() != 2 {
                    return err("complex takes two arguments");
                }
                let (a, b) = (self.eval(&args[0])?, self.eval(&args[1])?);
                match (&a, &b) {
                    (Val::Const(x), Val::Const(y)) => {
                        let (Some((r, 0.0)), Some((i, 0.0))) = (as_real(x), as_real(y)) else {
                            return err("invalid arguments to complex");
                        };
                        Val::Const(Const::Complex(r, i))
                    }
                    _ => {
                        let ty = self.type_of(&a).or_else(|| self.type_of(&b)).ok_or_else(|| ExprError::Eval("invalid arguments".into()))?;
                        let conv = |v: Val| match v {
                            Val::Const(c) => self.const_to(&c, ty),
                            v => Ok(v),
                        };
                        let (a, b) = (conv(a)?, conv(b)?);
                        self.same_type(ty, &b, "complex")?;
                        let t = self.resolved(ty)?;
                        let (Scalar::Float(r), Scalar::Float(i)) = (self.scalar(&t, &a)?, self.scalar(&t, &b)?) else {
                            return err(format!("invalid arguments to complex: {}", t.name));
                        };
                        let ct = self.named(if t.size == 4 { "complex64" } else { "complex128" })?;
                        let ctt = self.resolved(ct)?;
                        self.make(ct, &ctt, Scalar::Complex(r, i))
                    }
                }
            }
            "min" | "max" => {
                if args.is_empty() {
                    return err(format!("{name} needs arguments"));
                }
                let op = if name == "min" { BinOp::Lt } else { BinOp::Gt };
                let mut best = self.eval(&args[0])?;
                for a in &args[1..] {
                    let v = self.eval(a)?;
                    // Typed beats untyped: compare in the common type.
                    let better = self.truth(&self.binary(op, v.clone(), best.clone())?)?;
                    let (v, b) = match (&v, &best) {
                        (Val::Const(c), x) if self.type_of(x).is_some() => (self.const_to(c, self.type_of(x).unwrap_or(TypeRef(0)))?, best.clone()),
                        (x, Val::Const(c)) if self.type_of(x).is_some() => (v.clone(), self.const_to(c, self.type_of(x).unwrap_or(TypeRef(0)))?),
                        (Val::Const(x), Val::Const(y)) if x.rank_max(y) => (Val::Const(x.widen(y)), Val::Const(y.widen(x))),
                        _ => (v.clone(), best.clone()),
                    };
                    best = if better { v } else { b };
                }
                best
            }
            "new" | "make" | "append" | "copy" | "delete" | "panic" | "print" | "println" | "close" | "clear" | "recover" => {
                return err(format!("{name} cannot be called on a core file"))
            }
            _ => return Ok(None),
        }))
    }

    /// `T(v)`.
    fn convert(&self, v: Val, ty: TypeRef) -> Result<Val, ExprError> {
        let t = self.resolved(ty)?;
        let tn = self.ty(ty)?.name.clone();
        // Constants: representable in T.
        if let Val::Const(c) = &v {
            match (&t.kind, c) {
                (Kind::String, Const::Int(r, _)) => {
                    let s = char::from_u32(u32::try_from(*r).unwrap_or(0xfffd)).unwrap_or('\u{fffd}').to_string();
                    return Ok(Val::Str(ty, s.into_bytes()));
                }
                (Kind::Pointer(_) | Kind::UnsafePointer, Const::Int(a, _)) if *a >= 0 && *a <= u64::MAX as i128 => {
                    // Delve's address cast: (*T)(0xADDR).
                    return Ok(self.word_val(ty, *a as u64));
                }
                _ => return self.const_to(c, ty),
            }
        }
        if let Val::Nil = v {
            return if self.nilable(&t) { Ok(self.word_val_nil(ty, &t)) } else { err(format!("cannot convert nil to {tn}")) };
        }
        if let Val::Str(_, s) = &v {
            return match t.kind {
                Kind::String => Ok(Val::Str(ty, s.clone())),
                _ => err(format!("cannot convert a computed string to {tn}")),
            };
        }
        let Val::Typed(vty, src) = &v else { return err(format!("cannot convert this value to {tn}")) };
        let vt = self.resolved(*vty)?;
        // Numbers.
        if let (Some(to), Some(_)) = (self.basic(&t), self.basic(&vt)) {
            let s = self.scalar(&vt, &v)?;
            let r = match (to, s) {
                (Basic::Int { .. }, Scalar::Int(i)) => Scalar::Int(to.wrap(i)),
                (Basic::Int { .. }, Scalar::Float(f)) => Scalar::Int(to.wrap(f.trunc() as i128)),
                (Basic::Float(_), Scalar::Int(i)) => Scalar::Float(to.round(i as f64)),
                (Basic::Float(_), Scalar::Float(f)) => Scalar::Float(to.round(f)),
                (Basic::Complex(_), Scalar::Complex(r, i)) => Scalar::Complex(to.round(r), to.round(i)),
                (Basic::Bool, s @ Scalar::Bool(_)) => s,
                // Same bytes in memory: keep them there.
                (Basic::Str, Scalar::Str(_)) => return Ok(Val::Typed(ty, src.clone())),
                (Basic::Str, Scalar::Int(r)) => {
                    let c = char::from_u32(u32::try_from(r).unwrap_or(0xfffd)).unwrap_or('\u{fffd}');
                    return Ok(Val::Str(ty, c.to_string().into_bytes()));
                }
                _ => return err(format!("cannot convert {} to {tn}", vt.name)),
            };
            return Ok(self.make(ty, &t, r));
        }
        match (&t.kind, &vt.kind) {
            // string <-> []byte / []rune.
            (Kind::Slice(Some(e)), Kind::String) => {
                let et = self.resolved(*e)?;
                match (&et.kind, et.size) {
                    (Kind::Uint, 1) => {
                        let ptr = self.word(src)?;
                        let len = self.word(&src.at(8))?;
                        Ok(self.computed(ty, [ptr.to_le_bytes(), len.to_le_bytes(), len.to_le_bytes()].concat()))
                    }
                    (Kind::Int, 4) => {
                        let b = self.string_bytes(src)?;
                        let s = String::from_utf8_lossy(&b);
                        use crate::model::{Value, ValueKind};
                        let rs: Vec<char> = s.chars().collect();
                        let n = rs.len() as u64;
                        let shown = rs.len().min(self.p.limits.max_elems);
                        let elements = rs[..shown].iter().map(|&c| Value::new("int32", ValueKind::Int { value: c as i64 })).collect();
                        // A computed slice lives nowhere in the core: no address.
                        let kind = ValueKind::Slice { addr: 0, len: n, cap: n, elements: Some(elements), more: n - shown as u64, unreadable: None };
                        Ok(Val::Tree(Value::new(tn.clone(), kind)))
                    }
                    _ => err(format!("cannot convert {} to {tn}", vt.name)),
                }
            }
            (Kind::String, Kind::Slice(Some(e))) => {
                let et = self.resolved(*e)?;
                let ptr = self.word(src)?;
                let len = self.word(&src.at(8))?;
                match (&et.kind, et.size) {
                    (Kind::Uint, 1) => Ok(self.computed(ty, [ptr.to_le_bytes(), len.to_le_bytes()].concat())),
                    (Kind::Int, 4) => {
                        if len > MAX_STRING_OP / 4 {
                            return err("slice too long to convert");
                        }
                        let mut b = vec![0u8; 4 * len as usize];
                        self.p.mem.read(ptr, &mut b).map_err(|e| ExprError::Eval(e.to_string()))?;
                        let s: String = b
                            .chunks(4)
                            .map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('\u{fffd}'))
                            .collect();
                        Ok(Val::Str(ty, s.into_bytes()))
                    }
                    _ => err(format!("cannot convert {} to {tn}", vt.name)),
                }
            }
            // Address casts: unsafe.Pointer and uintptr to and from pointers.
            (Kind::UnsafePointer, Kind::Pointer(_) | Kind::UnsafePointer)
            | (Kind::Pointer(_), Kind::UnsafePointer)
            | (Kind::UnsafePointer, Kind::Uint)
            | (Kind::Uint, Kind::UnsafePointer) => Ok(self.word_val(ty, self.word(src)?)),
            (Kind::Pointer(_), Kind::Uint | Kind::Int) => Ok(self.word_val(ty, self.word(src)?)),
            // Interface to interface: the words differ (an `any` holds the
            // type, any other interface an itab), so only the same layout of
            // the same interface is a copy; the rest goes as an assertion
            // (which Go's compiler would have proved).
            (Kind::Interface { empty: to_empty }, Kind::Interface { empty: from_empty }) => {
                let vn = &self.ty(*vty)?.name;
                if to_empty == from_empty && (*to_empty || *vn == tn) {
                    return Ok(Val::Typed(ty, src.clone()));
                }
                match self.p.iface_dynamic(&vt, src).map_err(verr)? {
                    None => Ok(self.computed(ty, vec![0u8; 16])),
                    Some((dt, _)) => {
                        let dname = self.ty(dt)?.name.clone();
                        self.assert_iface(&vt, src, ty, &*self.ty(ty)?, *to_empty, &dname)
                    }
                }
            }
            // Same underlying layout (named <-> unnamed, a struct to an identical one).
            _ if t.size == vt.size && std::mem::discriminant(&t.kind) == std::mem::discriminant(&vt.kind) && self.underlying_same(&t, &vt) => {
                Ok(Val::Typed(ty, src.clone()))
            }
            _ => err(format!("cannot convert {} to {tn}", self.ty(*vty)?.name)),
        }
    }

    fn word_val_nil(&self, ty: TypeRef, t: &Type) -> Val {
        self.computed(ty, vec![0u8; t.size.clamp(8, 24) as usize])
    }

    fn underlying_same(&self, a: &Type, b: &Type) -> bool {
        match (&a.kind, &b.kind) {
            (Kind::Struct(x), Kind::Struct(y)) => {
                x.len() == y.len()
                    && x.iter().zip(y).all(|(f, g)| {
                        f.name == g.name && f.offset == g.offset && self.p.type_name(f.ty) == self.p.type_name(g.ty)
                    })
            }
            (Kind::Pointer(x), Kind::Pointer(y)) | (Kind::Slice(x), Kind::Slice(y)) => {
                self.p.type_name(*x) == self.p.type_name(*y)
            }
            (Kind::Array { elem: x, len: n }, Kind::Array { elem: y, len: m }) => n == m && self.p.type_name(*x) == self.p.type_name(*y),
            (Kind::Map { key: k1, elem: e1, .. }, Kind::Map { key: k2, elem: e2, .. }) => {
                self.p.type_name(*k1) == self.p.type_name(*k2) && self.p.type_name(*e1) == self.p.type_name(*e2)
            }
            (Kind::Chan { elem: x, .. }, Kind::Chan { elem: y, .. }) => self.p.type_name(*x) == self.p.type_name(*y),
            (Kind::Func, Kind::Func) | (Kind::Interface { .. }, Kind::Interface { .. }) => true,
            _ => false,
        }
    }
}

fn as_real(c: &Const) -> Option<(f64, f64)> {
    match c {
        Const::Int(v, _) => Some((*v as f64, 0.0)),
        Const::Float(f) => Some((*f, 0.0)),
        Const::Complex(r, i) => Some((*r, *i)),
        _ => None,
    }
}

impl Const {
    fn rank_max(&self, other: &Const) -> bool {
        matches!((self, other), (Const::Int(..) | Const::Float(_), Const::Int(..) | Const::Float(_)))
    }
    /// This numeric constant in the wider kind of the two (int -> float).
    fn widen(&self, other: &Const) -> Const {
        match (self, other) {
            (Const::Int(v, _), Const::Float(_)) => Const::Float(*v as f64),
            (c, _) => c.clone(),
        }
    }
}
