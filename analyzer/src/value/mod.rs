//! Go values read from the core and printed the way Delve's `print` prints
//! them (`main.point {X: 3, Y: 4}`, `[]int len: 3, cap: 4, [1,2,3]`,
//! `map[string]int ["a": 1, ]`), within [`Limits`] like Delve's LoadConfig.
//! A value that cannot be read prints `<unreadable: reason>` in its place;
//! nothing here allocates by a length read from memory without a cap.

mod chan;
mod hmap;
mod iface;
mod swiss;
mod error;
mod time;

pub use error::ValueError;

use std::fmt::Write;
use std::sync::Arc;

use crate::binary::Binary;
use crate::dwarf::{DebugInfo, Kind, Type, TypeRef};
use crate::memory::Memory;

/// How much of a value to load, like Delve's LoadConfig.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Bytes of a string shown.
    pub max_string: usize,
    /// Elements of a slice, array, map or channel shown.
    pub max_elems: usize,
    /// Nesting of structs, elements and followed pointers.
    pub max_depth: usize,
    /// Fields of one struct shown (Delve's MaxStructFields).
    pub max_fields: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_string: 64, max_elems: 64, max_depth: 3, max_fields: 64 }
    }
}

/// A value assembled from pieces; bytes no piece described are unknown.
#[derive(Debug, Clone)]
pub struct Assembled {
    pub bytes: Vec<u8>,
    pub known: Option<Vec<bool>>,
    /// Why unknown bytes are unknown ("optimized away", "in register").
    pub why: String,
}

impl Assembled {
    pub fn word(v: u64) -> Arc<Assembled> {
        Arc::new(Assembled { bytes: v.to_le_bytes().to_vec(), known: None, why: String::new() })
    }
}

/// Where a value's bytes are.
#[derive(Debug, Clone)]
pub enum Src {
    /// In the target's memory at this runtime address.
    Mem(u64),
    /// Bytes already assembled (from registers), with an offset into them.
    Bytes(Arc<Assembled>, usize),
}

impl Src {
    pub fn at(&self, off: u64) -> Src {
        match self {
            Src::Mem(a) => Src::Mem(a.wrapping_add(off)),
            Src::Bytes(b, o) => Src::Bytes(b.clone(), o.saturating_add(off as usize)),
        }
    }
    pub fn addr(&self) -> Option<u64> {
        match self {
            Src::Mem(a) => Some(*a),
            Src::Bytes(..) => None,
        }
    }
}

/// Reads and prints values; holds what the readers need.
pub struct Printer<'a> {
    pub di: &'a DebugInfo,
    pub bin: &'a Binary,
    pub mem: &'a dyn Memory,
    pub bias: u64,
    pub limits: Limits,
}

/// Pointers followed on the way to the value being printed (cycle check).
type Chain = Vec<u64>;

impl<'a> Printer<'a> {
    pub fn read(&self, src: &Src, buf: &mut [u8]) -> Result<(), ValueError> {
        match src {
            Src::Mem(a) => Ok(self.mem.read(*a, buf)?),
            Src::Bytes(b, o) => {
                let r = *o..o.saturating_add(buf.len());
                let s = b.bytes.get(r.clone()).ok_or(ValueError::Short)?;
                if let Some(k) = &b.known {
                    if k.get(r).is_none_or(|k| k.iter().any(|x| !x)) {
                        // Marked so value() prints it as unavailable, not unreadable.
                        return Err(ValueError::Unavailable(b.why.clone()));
                    }
                }
                buf.copy_from_slice(s);
                Ok(())
            }
        }
    }
    pub fn word(&self, src: &Src) -> Result<u64, ValueError> {
        let mut b = [0u8; 8];
        self.read(src, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn uint(&self, src: &Src, size: u64) -> Result<u64, ValueError> {
        let n = (size as usize).clamp(1, 8);
        let mut b = [0u8; 8];
        self.read(src, &mut b[..n])?;
        Ok(u64::from_le_bytes(b))
    }

    pub fn ty(&self, r: TypeRef) -> Option<Arc<Type>> {
        self.di.type_at(r)
    }

    pub fn type_name(&self, r: Option<TypeRef>) -> String {
        r.and_then(|r| self.ty(r)).map(|t| t.name.clone()).unwrap_or_else(|| "?".into())
    }

    /// The whole value, with its type shown as Delve does at the top level.
    pub fn format(&self, ty: Option<TypeRef>, src: &Src) -> String {
        let mut s = String::new();
        self.value(ty, src, 0, true, &mut Vec::new(), &mut s);
        s
    }

    fn value(&self, ty: Option<TypeRef>, src: &Src, depth: usize, show_type: bool, chain: &mut Chain, out: &mut String) {
        let Some(t) = ty.and_then(|r| self.ty(r)) else {
            out.push_str("<unreadable: no type information>");
            return;
        };
        if let Err(e) = self.value_inner(&t, src, depth, show_type, chain, out) {
            out.push_str(&e.shown());
        }
    }

    fn value_inner(&self, t: &Type, src: &Src, depth: usize, show_type: bool, chain: &mut Chain, out: &mut String) -> Result<(), ValueError> {
        let l = self.limits;
        // A defined type over a basic one (`type myInt int`, a generic's
        // `go.shape.int`) prints as its value alone, as Delve prints it:
        // the type is in the name column, or in the interface's `T(dyn)`.
        match &t.kind {
            Kind::Named(inner) => {
                let it = self.ty(*inner).ok_or(ValueError::NoType)?;
                match it.kind {
                    Kind::Bool | Kind::Int | Kind::Uint | Kind::Float | Kind::Complex | Kind::String => {
                        self.value_inner(&it, src, depth, false, chain, out)?;
                    }
                    _ => {
                        let renamed = Type { name: t.name.clone(), ..(*it).clone() };
                        self.value_inner(&renamed, src, depth, show_type, chain, out)?;
                    }
                }
            }
            Kind::Bool => out.push_str(if self.uint(src, 1)? != 0 { "true" } else { "false" }),
            Kind::Int => {
                let v = self.uint(src, t.size)?;
                let shift = 64 - 8 * t.size.clamp(1, 8) as u32;
                let _ = write!(out, "{}", ((v << shift) as i64) >> shift);
            }
            Kind::Uint => {
                let v = self.uint(src, t.size)?;
                let _ = write!(out, "{v}");
            }
            Kind::Float => out.push_str(&float(self.uint(src, t.size)?, t.size)),
            Kind::Complex => {
                let h = t.size / 2;
                let re = float(self.uint(src, h)?, h);
                let im = float(self.uint(&src.at(h), h)?, h);
                let _ = write!(out, "({re} + {im}i)");
            }
            Kind::String => {
                let ptr = self.word(src)?;
                let len = self.word(&src.at(8))?;
                out.push_str(&self.string(ptr, len)?);
            }
            Kind::UnsafePointer => {
                let _ = write!(out, "unsafe.Pointer({:#x})", self.word(src)?);
            }
            Kind::Func => {
                let p = self.word(src)?;
                if p == 0 {
                    out.push_str("nil");
                } else {
                    out.push_str(&self.func_name(p)?);
                }
            }
            Kind::Pointer(elem) => {
                let p = self.word(src)?;
                let et = elem.and_then(|e| self.di.resolve(e));
                if p == 0 {
                    // Delve's `*nil` where types are not shown (elements).
                    if show_type {
                        let _ = write!(out, "{} nil", t.name);
                    } else {
                        out.push_str("*nil");
                    }
                    return Ok(());
                }
                // Every pointer is followed, as Delve does (`*5` for a *int),
                // within the depth limit and the cycle check.
                let deref = et.as_ref().is_some_and(|e| !matches!(e.kind, Kind::Unknown(_)));
                if !deref || depth >= l.max_depth || chain.contains(&p) {
                    let _ = write!(out, "({})({p:#x})", t.name);
                    return Ok(());
                }
                // A pointer into memory the core does not have (a truncated
                // core, a wild pointer): say so once, not once per field.
                if let Err(e) = self.mem.read(p, &mut [0u8; 1]) {
                    let _ = write!(out, "({})({p:#x}) <unreadable: {e}>", t.name);
                    return Ok(());
                }
                out.push('*');
                chain.push(p);
                self.value(*elem, &Src::Mem(p), depth + 1, show_type, chain, out);
                chain.pop();
            }
            Kind::Struct(fields) => {
                // time.Time shows the time it holds, then its fields (Delve's form).
                let when = if t.name == "time.Time" { self.time_text(fields, src).ok() } else { None };
                match (&when, show_type) {
                    (Some(w), _) => {
                        let _ = write!(out, "time.Time({w})");
                    }
                    (None, true) => {
                        let _ = write!(out, "{} ", t.name);
                    }
                    (None, false) => {}
                }
                if depth >= l.max_depth {
                    out.push_str("{...}");
                    return Ok(());
                }
                out.push('{');
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    if i >= l.max_fields {
                        let _ = write!(out, "...+{} more", fields.len() - i);
                        break;
                    }
                    let _ = write!(out, "{}: ", f.name);
                    self.value(f.ty, &src.at(f.offset), depth + 1, true, chain, out);
                }
                out.push('}');
            }
            Kind::Array { elem, len } => {
                if show_type {
                    let _ = write!(out, "{} ", t.name);
                }
                let esize = elem.and_then(|e| self.ty(e)).map(|e| e.size).unwrap_or(0);
                self.elems(*elem, src, esize, *len, depth, chain, out);
            }
            Kind::Slice(elem) => {
                let ptr = self.word(src)?;
                let len = self.word(&src.at(8))?;
                let cap = self.word(&src.at(16))?;
                if show_type {
                    let _ = write!(out, "{} ", t.name);
                }
                if ptr == 0 && len == 0 {
                    out.push_str("len: 0, cap: 0, nil");
                    return Ok(());
                }
                let _ = write!(out, "len: {len}, cap: {cap}, ");
                let esize = elem.and_then(|e| self.ty(e)).map(|e| e.size).unwrap_or(0);
                self.elems(*elem, &Src::Mem(ptr), esize, len, depth, chain, out);
            }
            Kind::Map { key, elem, hdr } => {
                let p = self.word(src)?;
                if show_type {
                    let _ = write!(out, "{} ", t.name);
                }
                if p == 0 {
                    out.push_str("nil");
                    return Ok(());
                }
                let total = self.mem.u64(p)?;
                if depth >= l.max_depth {
                    let _ = write!(out, "[...+{total} more]");
                    return Ok(());
                }
                out.push('[');
                let mut shown = 0usize;
                self.map_entries(p, *key, *elem, *hdr, &mut |k, v| {
                    if shown >= l.max_elems {
                        return false;
                    }
                    self.value(*key, &k, depth + 1, false, chain, out);
                    out.push_str(": ");
                    self.value(*elem, &v, depth + 1, false, chain, out);
                    out.push_str(", ");
                    shown += 1;
                    true
                })?;
                if (shown as u64) < total {
                    let _ = write!(out, "...+{} more", total - shown as u64);
                }
                out.push(']');
            }
            Kind::Chan { elem, hdr } => {
                let p = self.word(src)?;
                if show_type {
                    let _ = write!(out, "{} ", t.name);
                }
                if p == 0 {
                    out.push_str("nil");
                    return Ok(());
                }
                self.chan(p, *elem, *hdr, depth, chain, out)?;
            }
            Kind::Interface { empty } => self.iface(t, *empty, src, depth, show_type, chain, out)?,
            Kind::Unknown(what) => {
                let _ = write!(out, "<unreadable: unsupported type {} ({what})>", t.name);
            }
        }
        Ok(())
    }

    /// `[e0,e1,...+N more]` for `len` elements of `esize` bytes from `src`.
    #[allow(clippy::too_many_arguments)]
    fn elems(&self, elem: Option<TypeRef>, src: &Src, esize: u64, len: u64, depth: usize, chain: &mut Chain, out: &mut String) {
        if depth >= self.limits.max_depth && len > 0 {
            let _ = write!(out, "[...+{len} more]");
            return;
        }
        // Elements in memory the core does not have: one error for all of
        // them, not one per element.
        if len > 0 && esize > 0 {
            if let Src::Mem(a) = src {
                if let Err(e) = self.mem.read(*a, &mut [0u8; 1]) {
                    out.push_str(&ValueError::from(e).shown());
                    return;
                }
            }
        }
        out.push('[');
        let n = len.min(self.limits.max_elems as u64);
        for i in 0..n {
            if i > 0 {
                out.push(',');
            }
            self.value(elem, &src.at(i.wrapping_mul(esize)), depth + 1, false, chain, out);
        }
        if len > n {
            let _ = write!(out, ",...+{} more", len - n);
        }
        out.push(']');
    }

    /// A Go string: quoted, cut at `max_string` bytes.
    pub fn string(&self, ptr: u64, len: u64) -> Result<String, ValueError> {
        let n = len.min(self.limits.max_string as u64) as usize;
        let mut b = vec![0u8; n];
        if n > 0 {
            self.mem.read(ptr, &mut b)?;
        }
        let mut s = quote(&b);
        if len > n as u64 {
            let _ = write!(s, "...+{} more", len - n as u64);
        }
        Ok(s)
    }

    /// The function a funcval points at: its first word is the code pointer.
    fn func_name(&self, funcval: u64) -> Result<String, ValueError> {
        let pc = self.mem.u64(funcval)?;
        let f = self
            .bin
            .pcln
            .find_func(pc.wrapping_sub(self.bias))
            .ok_or(ValueError::NoFunc { pc })?;
        Ok(self.bin.pcln.func_name(&f).to_string())
    }

    /// Type alignment (Go's rules: a struct aligns to its widest field).
    pub fn align_of(&self, r: Option<TypeRef>, depth: usize) -> u64 {
        let Some(t) = r.and_then(|r| self.ty(r)) else { return 8 };
        if depth > 16 {
            return 8;
        }
        match &t.kind {
            Kind::Bool | Kind::Int | Kind::Uint | Kind::Float => t.size.clamp(1, 8),
            Kind::Complex => (t.size / 2).clamp(1, 8),
            Kind::Struct(fs) => fs.iter().map(|f| self.align_of(f.ty, depth + 1)).max().unwrap_or(1),
            Kind::Array { elem, .. } => self.align_of(*elem, depth + 1),
            Kind::Named(n) => self.align_of(Some(*n), depth + 1),
            _ => 8,
        }
    }

    /// Every entry of the map whose header is at `p`, until `f` says stop.
    pub fn map_entries(
        &self,
        p: u64,
        key: Option<TypeRef>,
        elem: Option<TypeRef>,
        hdr: Option<TypeRef>,
        f: &mut dyn FnMut(Src, Src) -> bool,
    ) -> Result<(), ValueError> {
        let hdr_t = hdr.and_then(|h| self.ty(h));
        let field = |n: &str| match hdr_t.as_ref().map(|t| &t.kind) {
            Some(Kind::Struct(fs)) => fs.iter().find(|f| f.name == n).cloned(),
            _ => None,
        };
        if field("dirPtr").is_some() || (field("buckets").is_none() && self.bin.go_minor().is_some_and(|m| m >= 24)) {
            swiss::entries(self, p, key, elem, f)
        } else {
            hmap::entries(self, p, hdr_t.as_deref(), key, f)
        }
    }
}

/// Go's strconv.Quote, close enough: printable runes as they are.
pub fn quote(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// strconv.FormatFloat(f, 'g', -1, bits): shortest representation, with
/// an exponent outside [1e-4, 1e21).
pub fn float(bits: u64, size: u64) -> String {
    let f = if size == 4 { f32::from_bits(bits as u32) as f64 } else { f64::from_bits(bits) };
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let a = f.abs();
    let s = if size == 4 { format!("{}", f as f32) } else { format!("{f}") };
    if a != 0.0 && !(1e-4..1e21).contains(&a) {
        let e = if size == 4 { format!("{:e}", f as f32) } else { format!("{f:e}") };
        // Rust: 1e21, 1.5e-7; Go: 1e+21, 1.5e-07.
        if let Some((m, x)) = e.split_once('e') {
            let (sign, digits) = match x.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', x),
            };
            return format!("{m}e{sign}{digits:0>2}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn floats_like_go() {
        assert_eq!(super::float(2.5f64.to_bits(), 8), "2.5");
        assert_eq!(super::float(3.0f64.to_bits(), 8), "3");
        assert_eq!(super::float(1e21f64.to_bits(), 8), "1e+21");
        assert_eq!(super::float(1.5e-7f64.to_bits(), 8), "1.5e-07");
        assert_eq!(super::float((-2.0f64).to_bits(), 8), "-2");
    }
    #[test]
    fn quotes_like_go() {
        assert_eq!(super::quote(b"a\"b\n"), "\"a\\\"b\\n\"");
    }
}
