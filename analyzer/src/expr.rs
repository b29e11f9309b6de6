//! `--print EXPR`: a small Go expression language over the core's values:
//! globals by `pkg.Name`, locals and arguments of a chosen frame, field
//! access `a.b` (through pointers), indexing `a[3]`, map lookup `m["k"]` /
//! `m[3]`, dereference `*p`, `len(x)` and `cap(x)`.

use crate::dwarf::{Kind, TypeRef};
use crate::value::{Printer, Src, ValueError};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A dotted name as written (`main.gOuter.In`), resolved at evaluation:
    /// the longest prefix naming a variable, the rest fields.
    Name(Vec<String>),
    Field(Box<Expr>, String),
    Index(Box<Expr>, Lit),
    Deref(Box<Expr>),
    Len(Box<Expr>),
    Cap(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Int(i64),
    Str(String),
}

#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ExprError {
    #[error("parse error at byte {pos} of {expr:?}: {what}")]
    Parse { expr: String, pos: usize, what: String },
    #[error("{0}")]
    Eval(String),
}

struct Parser<'s> {
    s: &'s str,
    pos: usize,
}

impl Parser<'_> {
    fn err<T>(&self, what: &str) -> Result<T, ExprError> {
        Err(ExprError::Parse { expr: self.s.to_string(), pos: self.pos, what: what.to_string() })
    }
    fn ws(&mut self) {
        while self.s[self.pos..].starts_with(' ') {
            self.pos += 1;
        }
    }
    fn eat(&mut self, c: char) -> bool {
        self.ws();
        if self.s[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }
    fn ident(&mut self) -> Option<String> {
        self.ws();
        let rest = &self.s[self.pos..];
        // Package paths may hold '/', '-' and '.'; '.' separates segments here.
        let n = rest
            .char_indices()
            .find(|(_, c)| !(c.is_alphanumeric() || matches!(c, '_' | '/' | '-')))
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        if n == 0 || rest.starts_with(|c: char| c.is_ascii_digit()) {
            return None;
        }
        self.pos += n;
        Some(rest[..n].to_string())
    }
    fn unary(&mut self) -> Result<Expr, ExprError> {
        if self.eat('*') {
            return Ok(Expr::Deref(Box::new(self.unary()?)));
        }
        self.postfix()
    }
    fn primary(&mut self) -> Result<Expr, ExprError> {
        if self.eat('(') {
            let e = self.unary()?;
            if !self.eat(')') {
                return self.err("expected ')'");
            }
            return Ok(e);
        }
        let Some(id) = self.ident() else { return self.err("expected a name") };
        if (id == "len" || id == "cap") && self.eat('(') {
            let e = self.unary()?;
            if !self.eat(')') {
                return self.err("expected ')'");
            }
            return Ok(if id == "len" { Expr::Len(Box::new(e)) } else { Expr::Cap(Box::new(e)) });
        }
        let mut segs = vec![id];
        loop {
            let save = self.pos;
            if self.eat('.') {
                if let Some(n) = self.ident() {
                    segs.push(n);
                    continue;
                }
            }
            self.pos = save;
            break;
        }
        Ok(Expr::Name(segs))
    }
    fn postfix(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.primary()?;
        loop {
            if self.eat('[') {
                self.ws();
                let rest = &self.s[self.pos..];
                let lit = if let Some(body) = rest.strip_prefix('"') {
                    let Some(end) = body.find('"') else { return self.err("unterminated string") };
                    let l = Lit::Str(body[..end].to_string());
                    self.pos += end + 2;
                    l
                } else {
                    let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '-')).unwrap_or(rest.len());
                    let Ok(v) = rest[..n].parse() else { return self.err("expected an integer or a string") };
                    self.pos += n;
                    Lit::Int(v)
                };
                if !self.eat(']') {
                    return self.err("expected ']'");
                }
                e = Expr::Index(Box::new(e), lit);
            } else if self.eat('.') {
                let Some(n) = self.ident() else { return self.err("expected a field name") };
                e = Expr::Field(Box::new(e), n);
            } else {
                return Ok(e);
            }
        }
    }
}

pub fn parse(s: &str) -> Result<Expr, ExprError> {
    let mut p = Parser { s, pos: 0 };
    let e = p.unary()?;
    p.ws();
    if p.pos != s.len() {
        return p.err("unexpected text");
    }
    Ok(e)
}

/// The result of evaluating an expression.
pub enum Evaluated {
    Value(Option<TypeRef>, Src),
    Int(u64),
}

/// Names the evaluator can look up: the frame's variables, then globals.
pub trait Scope {
    fn lookup(&self, name: &str) -> Option<Result<(Option<TypeRef>, Src), ValueError>>;
}

/// More map entries than this are not searched for a key.
const MAX_MAP_SCAN: usize = 1 << 22;

pub fn eval(p: &Printer, scope: &dyn Scope, e: &Expr) -> Result<Evaluated, ExprError> {
    let err = |s: String| ExprError::Eval(s);
    let verr = |e: ValueError| ExprError::Eval(e.to_string());
    let value = |e: &Expr| -> Result<(Option<TypeRef>, Src), ExprError> {
        match eval(p, scope, e)? {
            Evaluated::Value(t, s) => Ok((t, s)),
            Evaluated::Int(_) => Err(ExprError::Eval("not addressable".into())),
        }
    };
    let resolved = |t: Option<TypeRef>| t.and_then(|t| p.di.resolve(t)).ok_or_else(|| err("no type information".into()));
    match e {
        Expr::Name(segs) => {
            for n in (1..=segs.len()).rev() {
                let name = segs[..n].join(".");
                if let Some(r) = scope.lookup(&name) {
                    let (mut t, mut s) = r.map_err(|e| err(e.shown()))?;
                    for f in &segs[n..] {
                        (t, s) = field(p, t, s, f)?;
                    }
                    return Ok(Evaluated::Value(t, s));
                }
            }
            Err(err(format!("no variable named {}", segs.join("."))))
        }
        Expr::Field(x, f) => {
            let (t, s) = value(x)?;
            let (t, s) = field(p, t, s, f)?;
            Ok(Evaluated::Value(t, s))
        }
        Expr::Deref(x) => {
            let (t, s) = value(x)?;
            match resolved(t)?.kind {
                Kind::Pointer(elem) => {
                    let a = p.word(&s).map_err(verr)?;
                    if a == 0 {
                        return Err(err("nil pointer dereference".into()));
                    }
                    Ok(Evaluated::Value(elem, Src::Mem(a)))
                }
                _ => Err(err("cannot dereference a non-pointer".into())),
            }
        }
        Expr::Len(x) | Expr::Cap(x) => {
            let is_cap = matches!(e, Expr::Cap(_));
            let (t, s) = value(x)?;
            let ty = resolved(t)?;
            let w = |o: u64| p.word(&s.at(o)).map_err(verr);
            let n = match ty.kind {
                Kind::String if !is_cap => w(8)?,
                Kind::Slice(_) => w(if is_cap { 16 } else { 8 })?,
                Kind::Array { len, .. } => len,
                Kind::Map { .. } if !is_cap => {
                    let m = w(0)?;
                    if m == 0 { 0 } else { p.mem.u64(m).map_err(|e| err(e.to_string()))? }
                }
                Kind::Chan { hdr, .. } => {
                    let c = w(0)?;
                    if c == 0 {
                        0
                    } else {
                        let ht = hdr.and_then(|h| p.ty(h)).ok_or_else(|| err("no hchan type".into()))?;
                        let Kind::Struct(fs) = &ht.kind else { return Err(err("hchan is not a struct".into())) };
                        let want = if is_cap { "dataqsiz" } else { "qcount" };
                        let o = fs.iter().find(|f| f.name == want).map(|f| f.offset).unwrap_or(0);
                        p.mem.u64(c + o).map_err(|e| err(e.to_string()))?
                    }
                }
                _ => return Err(err(format!("invalid argument to {}: {}", if is_cap { "cap" } else { "len" }, ty.name))),
            };
            Ok(Evaluated::Int(n))
        }
        Expr::Index(x, lit) => {
            let (t, s) = value(x)?;
            let ty = resolved(t)?;
            let idx = |len: u64| -> Result<u64, ExprError> {
                match lit {
                    Lit::Int(i) if *i >= 0 && (*i as u64) < len => Ok(*i as u64),
                    Lit::Int(i) => Err(err(format!("index {i} out of range [0:{len}]"))),
                    Lit::Str(_) => Err(err("string index into a non-map".into())),
                }
            };
            let esize = |e: Option<TypeRef>| e.and_then(|e| p.ty(e)).map(|t| t.size).unwrap_or(0);
            match ty.kind {
                Kind::Slice(elem) => {
                    let ptr = p.word(&s).map_err(verr)?;
                    let len = p.word(&s.at(8)).map_err(verr)?;
                    let i = idx(len)?;
                    Ok(Evaluated::Value(elem, Src::Mem(ptr + i * esize(elem))))
                }
                Kind::Array { elem, len } => {
                    let i = idx(len)?;
                    Ok(Evaluated::Value(elem, s.at(i * esize(elem))))
                }
                Kind::Map { key, elem, hdr } => {
                    let m = p.word(&s).map_err(verr)?;
                    if m == 0 {
                        return Err(err("key not found (nil map)".into()));
                    }
                    let mut found = None;
                    let mut seen = 0usize;
                    let kt = key.and_then(|k| p.di.resolve(k));
                    p.map_entries(m, key, elem, hdr, &mut |k, v| {
                        seen += 1;
                        if key_matches(p, kt.as_deref(), &k, lit) {
                            found = Some(v);
                            return false;
                        }
                        seen < MAX_MAP_SCAN
                    })
                    .map_err(verr)?;
                    match found {
                        Some(v) => Ok(Evaluated::Value(elem, v)),
                        None => Err(err("key not found".into())),
                    }
                }
                _ => Err(err(format!("cannot index {}", ty.name))),
            }
        }
    }
}

fn key_matches(p: &Printer, kt: Option<&crate::dwarf::Type>, k: &Src, lit: &Lit) -> bool {
    let Some(kt) = kt else { return false };
    match (&kt.kind, lit) {
        (Kind::String, Lit::Str(want)) => {
            let (Ok(ptr), Ok(len)) = (p.word(k), p.word(&k.at(8))) else { return false };
            if len != want.len() as u64 {
                return false;
            }
            let mut b = vec![0u8; want.len()];
            p.mem.read(ptr, &mut b).is_ok() && b == want.as_bytes()
        }
        (Kind::Int | Kind::Uint, Lit::Int(want)) => {
            let n = (kt.size as usize).clamp(1, 8);
            let mut b = [0u8; 8];
            if p.read(k, &mut b[..n]).is_err() {
                return false;
            }
            let v = u64::from_le_bytes(b);
            let shift = 64 - 8 * n as u32;
            let v = if matches!(kt.kind, Kind::Int) { ((v << shift) as i64) >> shift } else { v as i64 };
            v == *want
        }
        _ => false,
    }
}

/// `x.f`, through pointers (as Go's selector does) and embedded fields.
fn field(p: &Printer, t: Option<TypeRef>, s: Src, name: &str) -> Result<(Option<TypeRef>, Src), ExprError> {
    let err = |m: String| ExprError::Eval(m);
    let verr = |e: ValueError| ExprError::Eval(e.to_string());
    let mut ty = t.and_then(|t| p.di.resolve(t)).ok_or_else(|| err("no type information".into()))?;
    let mut s = s;
    for _ in 0..8 {
        match &ty.kind {
            Kind::Pointer(elem) => {
                let a = p.word(&s).map_err(verr)?;
                if a == 0 {
                    return Err(err(format!("nil pointer dereference selecting .{name}")));
                }
                s = Src::Mem(a);
                ty = elem.and_then(|e| p.di.resolve(e)).ok_or_else(|| err("no type information".into()))?;
            }
            Kind::Struct(fs) => {
                if let Some(f) = fs.iter().find(|f| f.name == name) {
                    return Ok((f.ty, s.at(f.offset)));
                }
                for f in fs.iter().filter(|f| f.embedded) {
                    if let Ok(r) = field(p, f.ty, s.at(f.offset), name) {
                        return Ok(r);
                    }
                }
                return Err(err(format!("{} has no field {name}", ty.name)));
            }
            _ => return Err(err(format!("{} has no field {name}", ty.name))),
        }
    }
    Err(err("too many pointer levels".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(
            parse("*main.gOuter.Ptr").unwrap(),
            Expr::Deref(Box::new(Expr::Name(vec!["main".into(), "gOuter".into(), "Ptr".into()])))
        );
        assert_eq!(
            parse("main.m[\"a\"].X").unwrap(),
            Expr::Field(
                Box::new(Expr::Index(Box::new(Expr::Name(vec!["main".into(), "m".into()])), Lit::Str("a".into()))),
                "X".into()
            )
        );
        assert_eq!(parse("len(s)").unwrap(), Expr::Len(Box::new(Expr::Name(vec!["s".into()]))));
        assert_eq!(
            parse("net/http.DefaultClient").unwrap(),
            Expr::Name(vec!["net/http".into(), "DefaultClient".into()])
        );
        assert!(parse("a[").is_err());
        assert!(parse("a b").is_err());
    }
}
