//! Go values as typed trees: what [`crate::value::Printer`] reads from the
//! core, before any view formats it. The text views print a tree the way
//! Delve's `print` does ([`Value`]'s `Display`); `--format json` writes the
//! tree itself (analyzer-cli/JSON.md, VALUE).

use std::fmt::{self, Write};

use serde::{Deserialize, Serialize};

/// One Go value: its static type's name and what was read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Value {
    /// The Go type as DWARF names it (`main.point`, `[]int`, `*main.node`);
    /// empty when the value has no type information.
    #[serde(rename = "type")]
    pub ty: String,
    #[serde(flatten)]
    pub kind: ValueKind,
}

/// What a value is, by its type's kind. Limits ([`crate::value::Limits`])
/// cut strings, element lists and nesting: `more` counts what was left out,
/// and a `None` list means the nesting limit was reached before it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ValueKind {
    Bool {
        value: bool,
    },
    Int {
        value: i64,
    },
    Uint {
        value: u64,
    },
    Float {
        value: Float,
    },
    Complex {
        real: Float,
        imag: Float,
    },
    /// `value` holds the bytes shown (invalid UTF-8 replaced), `len` is the
    /// string's whole length in bytes and `more` how many were cut.
    String {
        value: String,
        len: u64,
        more: u64,
    },
    UnsafePointer {
        #[serde(with = "hex")]
        addr: u64,
    },
    /// A func value: the function it points at, `None` for nil; for a
    /// closure, the variables it captured (as Delve lists them).
    Func {
        func: Option<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        captures: Vec<Field>,
    },
    /// `addr` 0 is nil. `target` is the value pointed at when it was
    /// followed (pointers to structs and arrays, within the nesting limit,
    /// not back into a value being printed); `unreadable` says why memory
    /// at `addr` could not be read.
    Pointer {
        #[serde(with = "hex")]
        addr: u64,
        target: Option<Box<Value>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unreadable: Option<String>,
    },
    Struct {
        fields: Option<Vec<Field>>,
        /// Fields past `--max-struct-fields`, not read.
        #[serde(default, skip_serializing_if = "is_zero")]
        more: u64,
        /// For a `time.Time`, the instant it holds (RFC 3339, as Delve shows it).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time: Option<String>,
    },
    Array {
        len: u64,
        elements: Option<Vec<Value>>,
        more: u64,
    },
    /// A nil slice has `addr` 0 and `len` 0.
    Slice {
        #[serde(with = "hex")]
        addr: u64,
        len: u64,
        cap: u64,
        elements: Option<Vec<Value>>,
        more: u64,
        /// The elements' memory is not in the core.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unreadable: Option<String>,
    },
    /// `addr` is the map header (0: nil); `len` its count, `None` when the
    /// header could not be read; `unreadable` says why the walk of the
    /// entries (or of the header) stopped, the entries before it stay.
    Map {
        #[serde(with = "hex")]
        addr: u64,
        len: Option<u64>,
        entries: Option<Vec<Entry>>,
        more: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unreadable: Option<String>,
    },
    /// `addr` is the hchan (0: nil); `len`/`cap` are qcount/dataqsiz;
    /// `elements` the queued values from the receive index.
    Chan {
        #[serde(with = "hex")]
        addr: u64,
        len: Option<u64>,
        cap: Option<u64>,
        closed: bool,
        elements: Vec<Value>,
        more: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unreadable: Option<String>,
    },
    /// `dynamic_type` is None for a nil interface; `value` is the dynamic
    /// value when DWARF describes its type (else only `data`, the data word).
    Interface {
        dynamic_type: Option<String>,
        value: Option<Box<Value>>,
        #[serde(with = "hex")]
        data: u64,
    },
    /// The compiler left the value no home at this pc (optimised away,
    /// dead), or it is in a register the core does not have for the frame.
    Unavailable {
        reason: String,
    },
    /// The core, or its DWARF, lacks what the value needs.
    Unreadable {
        reason: String,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Field {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub key: Value,
    pub value: Value,
}

/// A float: a JSON number, or `"NaN"`, `"+Inf"`, `"-Inf"`. A float32 is
/// held as the float64 of its shortest decimal form, so it prints as Go
/// prints the float32.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Float(pub f64);

impl Serialize for Float {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.is_finite() {
            s.serialize_f64(self.0)
        } else {
            s.serialize_str(&crate::value::float(self.0.to_bits(), 8))
        }
    }
}

impl<'de> Deserialize<'de> for Float {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum F {
            N(f64),
            S(String),
        }
        Ok(Float(match F::deserialize(d)? {
            F::N(v) => v,
            F::S(s) => match s.as_str() {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                _ => f64::NAN,
            },
        }))
    }
}

/// Addresses as `"0x..."` strings, as everywhere in the JSON documents.
pub(crate) mod hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{v:#x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(s.trim_start_matches("0x"), 16).map_err(serde::de::Error::custom)
    }
}

/// An address or nothing: `"0x..."` or null.
pub(crate) mod hex_opt {
    use serde::Serializer;

    pub fn serialize<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(v) => super::hex::serialize(v, s),
            None => s.serialize_none(),
        }
    }
}

impl Value {
    pub fn new(ty: impl Into<String>, kind: ValueKind) -> Value {
        Value { ty: ty.into(), kind }
    }

    pub fn unreadable(ty: impl Into<String>, reason: impl Into<String>) -> Value {
        Value::new(ty, ValueKind::Unreadable { reason: reason.into() })
    }

    /// The value as the text views print it: Delve's `print` format, the
    /// type shown where Delve shows it (`show_type` for this level).
    pub fn write_text(&self, show_type: bool, out: &mut String) {
        let ty = &self.ty;
        let typed = |out: &mut String| {
            if show_type {
                let _ = write!(out, "{ty} ");
            }
        };
        // A defined type over a basic one prints as its value alone, as
        // Delve prints it (the type is in the name column, or the interface's).
        let basic = |out: &mut String, v: &dyn fmt::Display| {
            let _ = write!(out, "{v}");
        };
        match &self.kind {
            ValueKind::Bool { value } => basic(out, value),
            ValueKind::Int { value } => basic(out, value),
            ValueKind::Uint { value } => basic(out, value),
            ValueKind::Float { value } => basic(out, &crate::value::float(value.0.to_bits(), 8)),
            ValueKind::Complex { real, imag } => basic(
                out,
                &format_args!(
                    "({} + {}i)",
                    crate::value::float(real.0.to_bits(), 8),
                    crate::value::float(imag.0.to_bits(), 8)
                ),
            ),
            ValueKind::String { value, more, .. } => {
                let mut s = crate::value::quote(value.as_bytes());
                if *more > 0 {
                    let _ = write!(s, "...+{more} more");
                }
                basic(out, &s)
            }
            ValueKind::UnsafePointer { addr } => {
                let _ = write!(out, "unsafe.Pointer({addr:#x})");
            }
            ValueKind::Func { func, captures } => {
                out.push_str(func.as_deref().unwrap_or("nil"));
                // Delve's form: `main.f.func1 {k int = 3}`, a capture a line.
                if !captures.is_empty() {
                    out.push_str(" {");
                    for (i, c) in captures.iter().enumerate() {
                        if i > 0 {
                            out.push_str(", ");
                        }
                        let _ = write!(out, "{} {} = ", c.name, c.value.ty);
                        c.value.write_text(false, out);
                    }
                    out.push('}');
                }
            }
            ValueKind::Pointer { addr: 0, .. } => {
                // Delve's `*nil` where types are not shown (elements); the
                // untyped nil (type "") is just `nil`.
                if show_type && !ty.is_empty() {
                    let _ = write!(out, "{ty} nil");
                } else if show_type {
                    out.push_str("nil");
                } else {
                    out.push_str("*nil");
                }
            }
            ValueKind::Pointer { addr, target, unreadable } => match (target, unreadable) {
                (Some(t), _) => {
                    out.push('*');
                    t.write_text(show_type, out);
                }
                (None, Some(why)) => {
                    let _ = write!(out, "({ty})({addr:#x}) <unreadable: {why}>");
                }
                (None, None) => {
                    let _ = write!(out, "({ty})({addr:#x})");
                }
            },
            ValueKind::Struct { fields, more, time } => {
                match time {
                    Some(w) => {
                        let _ = write!(out, "time.Time({w})");
                    }
                    None => typed(out),
                }
                let Some(fields) = fields else {
                    out.push_str("{...}");
                    return;
                };
                out.push('{');
                for (i, f) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "{}: ", f.name);
                    f.value.write_text(true, out);
                }
                if *more > 0 {
                    if !fields.is_empty() {
                        out.push_str(", ");
                    }
                    let _ = write!(out, "...+{more} more");
                }
                out.push('}');
            }
            ValueKind::Array { len, elements, more } => {
                typed(out);
                elems(*len, elements.as_deref(), *more, out);
            }
            ValueKind::Slice { addr, len, cap, elements, more, unreadable } => {
                typed(out);
                if *addr == 0 && *len == 0 {
                    out.push_str("len: 0, cap: 0, nil");
                    return;
                }
                let _ = write!(out, "len: {len}, cap: {cap}, ");
                if let Some(why) = unreadable {
                    let _ = write!(out, "<unreadable: {why}>");
                    return;
                }
                elems(*len, elements.as_deref(), *more, out);
            }
            ValueKind::Map { addr, len, entries, more, unreadable } => {
                typed(out);
                if *addr == 0 {
                    out.push_str("nil");
                    return;
                }
                let Some(len) = len else {
                    let _ = write!(out, "<unreadable: {}>", unreadable.as_deref().unwrap_or("?"));
                    return;
                };
                let Some(entries) = entries else {
                    let _ = write!(out, "[...+{len} more]");
                    return;
                };
                out.push('[');
                for e in entries {
                    e.key.write_text(false, out);
                    out.push_str(": ");
                    e.value.write_text(false, out);
                    out.push_str(", ");
                }
                // A walk that failed part way ends where it failed.
                if let Some(why) = unreadable {
                    let _ = write!(out, "<unreadable: {why}>");
                    return;
                }
                if *more > 0 {
                    let _ = write!(out, "...+{more} more");
                }
                out.push(']');
            }
            ValueKind::Chan { addr, len, cap, closed, elements, more, unreadable } => {
                typed(out);
                if *addr == 0 {
                    out.push_str("nil");
                    return;
                }
                let (Some(q), Some(size)) = (len, cap) else {
                    let _ = write!(out, "<unreadable: {}>", unreadable.as_deref().unwrap_or("?"));
                    return;
                };
                let _ = write!(out, "{q}/{size}");
                if *closed {
                    out.push_str(" closed");
                }
                if *q == 0 || *size == 0 || q > size {
                    return;
                }
                out.push_str(" [");
                for (i, e) in elements.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    e.write_text(false, out);
                }
                if *more > 0 {
                    let _ = write!(out, ",...+{more} more");
                }
                out.push(']');
            }
            ValueKind::Interface { dynamic_type, value, data } => match (dynamic_type, value) {
                (None, _) => {
                    if show_type {
                        let _ = write!(out, "{ty} nil");
                    } else {
                        out.push_str("nil");
                    }
                }
                (Some(d), Some(v)) => {
                    // Where types are not shown (elements, map entries), the
                    // dynamic value alone, as Delve prints it.
                    if show_type {
                        let _ = write!(out, "{ty}({d}) ");
                    }
                    v.write_text(false, out);
                }
                (Some(d), None) => {
                    let _ = write!(out, "{ty}({d}) {data:#x}");
                }
            },
            ValueKind::Unavailable { reason } => {
                let _ = write!(out, "<unavailable: {reason}>");
            }
            ValueKind::Unreadable { reason } => {
                let _ = write!(out, "<unreadable: {reason}>");
            }
        }
    }
}

/// `[e0,e1,...+N more]`, or `[...+len more]` past the nesting limit.
fn elems(len: u64, elements: Option<&[Value]>, more: u64, out: &mut String) {
    let Some(elements) = elements else {
        let _ = write!(out, "[...+{len} more]");
        return;
    };
    out.push('[');
    for (i, e) in elements.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        e.write_text(false, out);
    }
    if more > 0 {
        let _ = write!(out, ",...+{more} more");
    }
    out.push(']');
}

/// Delve's `print` text of the value, its type shown at the top level.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        self.write_text(true, &mut s);
        f.write_str(&s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(ty: &str, kind: ValueKind) -> Value {
        Value::new(ty, kind)
    }
    fn int(n: i64) -> Value {
        v("int", ValueKind::Int { value: n })
    }

    /// The text of each kind of node, and the same text after a JSON round trip.
    #[test]
    fn trees_print_like_delve_and_survive_json() {
        let point = v(
            "main.point",
            ValueKind::Struct {
                fields: Some(vec![Field { name: "X".into(), value: int(3) }, Field { name: "Y".into(), value: int(4) }]),
                more: 0,
                time: None,
            },
        );
        let cases: Vec<(Value, &str)> = vec![
            (point.clone(), "main.point {X: 3, Y: 4}"),
            (v("main.myInt", ValueKind::Int { value: -17 }), "-17"),
            (v("float32", ValueKind::Float { value: Float(0.1) }), "0.1"),
            (v("float64", ValueKind::Float { value: Float(1e21) }), "1e+21"),
            (v("float64", ValueKind::Float { value: Float(f64::NAN) }), "NaN"),
            (v("complex128", ValueKind::Complex { real: Float(1.5), imag: Float(-2.0) }), "(1.5 + -2i)"),
            (v("string", ValueKind::String { value: "a\"b".into(), len: 13, more: 10 }), "\"a\\\"b\"...+10 more"),
            (v("*main.point", ValueKind::Pointer { addr: 0xc000, target: Some(Box::new(point.clone())), unreadable: None }), "*main.point {X: 3, Y: 4}"),
            (v("*main.point", ValueKind::Pointer { addr: 0, target: None, unreadable: None }), "*main.point nil"),
            (v("*int", ValueKind::Pointer { addr: 0x10, target: None, unreadable: Some("no memory".into()) }), "(*int)(0x10) <unreadable: no memory>"),
            (v("[]int", ValueKind::Slice { addr: 0x20, len: 3, cap: 4, elements: Some(vec![int(1), int(2)]), more: 1, unreadable: None }), "[]int len: 3, cap: 4, [1,2,...+1 more]"),
            (v("[]int", ValueKind::Slice { addr: 0, len: 0, cap: 0, elements: Some(vec![]), more: 0, unreadable: None }), "[]int len: 0, cap: 0, nil"),
            (v("[2]main.point", ValueKind::Array { len: 2, elements: None, more: 2 }), "[2]main.point [...+2 more]"),
            (
                v("map[string]int", ValueKind::Map {
                    addr: 0x30,
                    len: Some(2),
                    entries: Some(vec![Entry { key: v("string", ValueKind::String { value: "a".into(), len: 1, more: 0 }), value: int(1) }]),
                    more: 1,
                    unreadable: None,
                }),
                "map[string]int [\"a\": 1, ...+1 more]",
            ),
            (
                v("map[int]int", ValueKind::Map { addr: 0x30, len: Some(5), entries: Some(vec![]), more: 5, unreadable: Some("bad bucket".into()) }),
                "map[int]int [<unreadable: bad bucket>",
            ),
            (
                v("chan int", ValueKind::Chan { addr: 0x40, len: Some(3), cap: Some(5), closed: true, elements: vec![int(11), int(22)], more: 1, unreadable: None }),
                "chan int 3/5 closed [11,22,...+1 more]",
            ),
            (
                v("interface {}", ValueKind::Interface { dynamic_type: Some("main.point".into()), value: Some(Box::new(point)), data: 0x50 }),
                "interface {}(main.point) {X: 3, Y: 4}",
            ),
            (v("error", ValueKind::Interface { dynamic_type: Some("*errors.errorString".into()), value: None, data: 0x60 }), "error(*errors.errorString) 0x60"),
            (v("int", ValueKind::Unavailable { reason: "optimized away".into() }), "<unavailable: optimized away>"),
        ];
        for (val, text) in cases {
            assert_eq!(val.to_string(), text);
            let json = serde_json::to_value(&val).unwrap();
            assert!(json["kind"].is_string() && json["type"].is_string(), "{json}");
            let back: Value = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(back.to_string(), text, "{json}");
        }
    }

    #[test]
    fn json_shape() {
        let p = v("*int", ValueKind::Pointer { addr: 0x10, target: None, unreadable: None });
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"type":"*int","kind":"pointer","addr":"0x10","target":null}"#
        );
        let f = v("float64", ValueKind::Float { value: Float(f64::INFINITY) });
        assert_eq!(serde_json::to_string(&f).unwrap(), r#"{"type":"float64","kind":"float","value":"+Inf"}"#);
    }
}
