//! Go values read from the core as typed trees ([`crate::model::Value`]),
//! within [`Limits`] like Delve's LoadConfig; the text views print them the
//! way Delve's `print` does (`main.point {X: 3, Y: 4}`, `[]int len: 3, cap:
//! 4, [1,2,3]`, `map[string]int ["a": 1, ]`). A value that cannot be read
//! is an `unreadable` node (`<unreadable: reason>`) in its place; nothing
//! here allocates by a length read from memory without a cap.

mod chan;
mod hmap;
mod iface;
mod methods;
mod swiss;
mod error;
mod time;

pub use error::ValueError;
pub use methods::Implements;

use std::fmt::Write;
use std::sync::Arc;

use crate::model::value::{Entry, Field, Float, Value, ValueKind};

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

/// A value that could not be read, in the tree: `<unavailable: ..>` when
/// the compiler gave it no home, `<unreadable: ..>` otherwise.
pub(crate) fn from_error(ty: &str, e: ValueError) -> Value {
    match e {
        ValueError::Unavailable(reason) => Value::new(ty, ValueKind::Unavailable { reason }),
        e => Value::unreadable(ty, e.to_string()),
    }
}

/// A float as the tree holds it: a float32 as the float64 of its shortest
/// decimal form, so both print as Go prints them.
fn float_value(bits: u64, size: u64) -> Float {
    if size == 4 {
        let f = f32::from_bits(bits as u32);
        if f.is_finite() {
            if let Ok(v) = float(bits, 4).parse::<f64>() {
                return Float(v);
            }
        }
        return Float(f as f64);
    }
    Float(f64::from_bits(bits))
}

/// The walk of one printed value: the pointers followed on the way to the
/// node being read (cycle check) and the nodes read so far.
#[derive(Default)]
struct Chain {
    ptrs: Vec<u64>,
    nodes: usize,
}

/// Nodes of one printed value read at most; past it, composite values are
/// elided as at the depth limit. The element and depth limits multiply: on
/// a corrupt core (a length, a pointer into the wrong type) `--max-elems
/// 1000 --max-depth 10` once gave 877 MB of JSON (a million nodes a value
/// still gave 439 MB, 1 GiB of memory). 100,000 nodes is about 5 MB of
/// JSON: a thousand structs of a hundred fields.
const MAX_NODES: usize = 100_000;

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

    /// The whole value as a typed tree ([`crate::model::Value`]).
    pub fn value(&self, ty: Option<TypeRef>, src: &Src) -> Value {
        self.node(ty, src, 0, &mut Chain::default())
    }

    /// The whole value as the text views print it, its type shown as Delve
    /// does at the top level.
    pub fn format(&self, ty: Option<TypeRef>, src: &Src) -> String {
        self.value(ty, src).to_string()
    }

    fn node(&self, ty: Option<TypeRef>, src: &Src, depth: usize, chain: &mut Chain) -> Value {
        chain.nodes += 1;
        let depth = if chain.nodes > MAX_NODES { depth.max(self.limits.max_depth) } else { depth };
        let Some(t) = ty.and_then(|r| self.ty(r)) else {
            return Value::unreadable("", "no type information");
        };
        self.node_of(&t, src, depth, chain).unwrap_or_else(|e| from_error(&t.name, e))
    }

    fn node_of(&self, t: &Type, src: &Src, depth: usize, chain: &mut Chain) -> Result<Value, ValueError> {
        let l = self.limits;
        let v = |kind: ValueKind| Ok(Value::new(t.name.clone(), kind));
        match &t.kind {
            Kind::Named(inner) => {
                let it = self.ty(*inner).ok_or(ValueError::NoType)?;
                // The underlying value under the named type's name; the text
                // views print a defined basic type's value alone, as Delve does.
                let renamed = Type { name: t.name.clone(), ..(*it).clone() };
                self.node_of(&renamed, src, depth, chain)
            }
            Kind::Bool => v(ValueKind::Bool { value: self.uint(src, 1)? != 0 }),
            Kind::Int => {
                let x = self.uint(src, t.size)?;
                let shift = 64 - 8 * t.size.clamp(1, 8) as u32;
                v(ValueKind::Int { value: ((x << shift) as i64) >> shift })
            }
            Kind::Uint => v(ValueKind::Uint { value: self.uint(src, t.size)? }),
            Kind::Float => v(ValueKind::Float { value: float_value(self.uint(src, t.size)?, t.size) }),
            Kind::Complex => {
                let h = t.size / 2;
                let real = float_value(self.uint(src, h)?, h);
                let imag = float_value(self.uint(&src.at(h), h)?, h);
                v(ValueKind::Complex { real, imag })
            }
            Kind::String => {
                let ptr = self.word(src)?;
                let len = self.word(&src.at(8))?;
                let (value, more) = self.string(ptr, len)?;
                v(ValueKind::String { value, len, more })
            }
            Kind::UnsafePointer => v(ValueKind::UnsafePointer { addr: self.word(src)? }),
            Kind::Func => {
                let p = self.word(src)?;
                if p == 0 {
                    return v(ValueKind::Func { func: None, captures: Vec::new() });
                }
                let captures = if depth < l.max_depth { self.captures(p, depth, chain) } else { Vec::new() };
                v(ValueKind::Func { func: Some(self.func_name(p)?), captures })
            }
            Kind::Pointer(elem) => {
                let p = self.word(src)?;
                let et = elem.and_then(|e| self.di.resolve(e));
                let pointer = |target, unreadable| v(ValueKind::Pointer { addr: p, target, unreadable });
                if p == 0 {
                    return pointer(None, None);
                }
                // Every pointer is followed, as Delve does (`*5` for a *int),
                // within the depth limit and the cycle check.
                let deref = et.as_ref().is_some_and(|e| !matches!(e.kind, Kind::Unknown(_)));
                if !deref || depth >= l.max_depth || chain.ptrs.contains(&p) {
                    return pointer(None, None);
                }
                // A pointer into memory the core does not have (a truncated
                // core, a wild pointer): say so once, not once per field.
                if let Err(e) = self.mem.read(p, &mut [0u8; 1]) {
                    return pointer(None, Some(e.to_string()));
                }
                chain.ptrs.push(p);
                let target = self.node(*elem, &Src::Mem(p), depth + 1, chain);
                chain.ptrs.pop();
                pointer(Some(Box::new(target)), None)
            }
            Kind::Struct(fields) => {
                // time.Time: the instant it holds, shown before its fields (Delve's form).
                let time = if t.name == "time.Time" { self.time_text(fields, src).ok() } else { None };
                if depth >= l.max_depth {
                    return v(ValueKind::Struct { fields: None, more: 0, time });
                }
                let shown = fields.len().min(l.max_fields);
                let more = (fields.len() - shown) as u64;
                let fields = fields[..shown]
                    .iter()
                    .map(|f| Field { name: f.name.clone(), value: self.node(f.ty, &src.at(f.offset), depth + 1, chain) })
                    .collect();
                v(ValueKind::Struct { fields: Some(fields), more, time })
            }
            Kind::Array { elem, len } => {
                let esize = elem.and_then(|e| self.ty(e)).map(|e| e.size).unwrap_or(0);
                let (elements, more) = self.elems(*elem, src, esize, *len, depth, chain)?;
                v(ValueKind::Array { len: *len, elements, more })
            }
            Kind::Slice(elem) => {
                let ptr = self.word(src)?;
                let len = self.word(&src.at(8))?;
                let cap = self.word(&src.at(16))?;
                if ptr == 0 && len == 0 {
                    return v(ValueKind::Slice { addr: 0, len: 0, cap, elements: Some(Vec::new()), more: 0, unreadable: None });
                }
                let esize = elem.and_then(|e| self.ty(e)).map(|e| e.size).unwrap_or(0);
                let kind = match self.elems(*elem, &Src::Mem(ptr), esize, len, depth, chain) {
                    Ok((elements, more)) => ValueKind::Slice { addr: ptr, len, cap, elements, more, unreadable: None },
                    Err(e) => ValueKind::Slice { addr: ptr, len, cap, elements: None, more: len, unreadable: Some(e.to_string()) },
                };
                v(kind)
            }
            Kind::Map { key, elem, hdr } => {
                let p = self.word(src)?;
                let map = |len, entries, more, unreadable| v(ValueKind::Map { addr: p, len, entries, more, unreadable });
                if p == 0 {
                    return map(None, None, 0, None);
                }
                let total = match self.mem.u64(p) {
                    Ok(n) => n,
                    Err(e) => return map(None, None, 0, Some(e.to_string())),
                };
                if depth >= l.max_depth {
                    return map(Some(total), None, total, None);
                }
                let mut entries = Vec::new();
                let walked = self.map_entries(p, *key, *elem, *hdr, &mut |k, val| {
                    if entries.len() >= l.max_elems {
                        return false;
                    }
                    let key = self.node(*key, &k, depth + 1, chain);
                    let value = self.node(*elem, &val, depth + 1, chain);
                    entries.push(Entry { key, value });
                    true
                });
                let more = total.saturating_sub(entries.len() as u64);
                map(Some(total), Some(entries), more, walked.err().map(|e| e.to_string()))
            }
            Kind::Chan { elem, hdr } => {
                let p = self.word(src)?;
                if p == 0 {
                    let kind = ValueKind::Chan { addr: 0, len: None, cap: None, closed: false, elements: Vec::new(), more: 0, unreadable: None };
                    return v(kind);
                }
                v(self.chan(p, *elem, *hdr, depth, chain))
            }
            Kind::Interface { empty } => self.iface(t, *empty, src, depth, chain),
            Kind::Unknown(what) => Ok(Value::unreadable(t.name.clone(), format!("unsupported type {} ({what})", t.name))),
        }
    }

    /// Up to `max_elems` of `len` elements of `esize` bytes from `src`, and
    /// how many more there are; no list past the nesting limit.
    #[allow(clippy::too_many_arguments)]
    fn elems(&self, elem: Option<TypeRef>, src: &Src, esize: u64, len: u64, depth: usize, chain: &mut Chain) -> Result<(Option<Vec<Value>>, u64), ValueError> {
        if depth >= self.limits.max_depth && len > 0 {
            return Ok((None, len));
        }
        // Elements in memory the core does not have: one error for all of
        // them, not one per element.
        if len > 0 && esize > 0 {
            if let Src::Mem(a) = src {
                self.mem.read(*a, &mut [0u8; 1])?;
            }
        }
        let n = len.min(self.limits.max_elems as u64);
        let v = (0..n).map(|i| self.node(elem, &src.at(i.wrapping_mul(esize)), depth + 1, chain)).collect();
        Ok((Some(v), len - n))
    }

    /// A Go string's first `max_string` bytes (invalid UTF-8 replaced) and
    /// how many bytes were cut.
    pub fn string(&self, ptr: u64, len: u64) -> Result<(String, u64), ValueError> {
        let n = len.min(self.limits.max_string as u64) as usize;
        let mut b = vec![0u8; n];
        if n > 0 {
            self.mem.read(ptr, &mut b)?;
        }
        Ok((String::from_utf8_lossy(&b).into_owned(), len - n as u64))
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

    /// A closure's captured variables: the DWARF of the function it calls
    /// gives each one's offset in the closure object (go1.23+; none before).
    fn captures(&self, funcval: u64, depth: usize, chain: &mut Chain) -> Vec<Field> {
        let Ok(pc) = self.mem.u64(funcval) else { return Vec::new() };
        let Some(fv) = self.di.func_at(pc.wrapping_sub(self.bias)) else { return Vec::new() };
        if fv.low != pc.wrapping_sub(self.bias) {
            return Vec::new();
        }
        fv.vars
            .iter()
            .filter_map(|v| {
                let off = v.closure_offset?;
                let at = Src::Mem(funcval.wrapping_add(off));
                // Captured by reference: the compiler names it `&x` and
                // stores a pointer; shown as `x` and its value, as Delve does.
                if let Some(name) = v.name.strip_prefix('&') {
                    let elem = v.ty.and_then(|t| self.ty(t)).and_then(|t| match t.kind {
                        Kind::Pointer(e) => e,
                        _ => None,
                    });
                    let value = match self.word(&at) {
                        Ok(p) if p != 0 && elem.is_some() => self.node(elem, &Src::Mem(p), depth + 1, chain),
                        Ok(_) => Value::unreadable(self.type_name(elem), "nil reference to a captured variable"),
                        Err(e) => from_error(&self.type_name(elem), e),
                    };
                    return Some(Field { name: name.to_string(), value });
                }
                let value = self.node(v.ty, &at, depth + 1, chain);
                Some(Field { name: v.name.clone(), value })
            })
            .collect()
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
