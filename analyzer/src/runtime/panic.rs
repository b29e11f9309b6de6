//! The panic chain of a goroutine (`g._panic`, linked through
//! `runtime._panic.link`) and its values printed as the runtime prints them
//! (`printpanics` / `printpanicval` / `printanycustomtype` in
//! runtime/panic.go and error.go).
//!
//! Before a fatal panic prints anything, the runtime's `preprintpanics`
//! replaces every `error` or `Stringer` value in the chain by the string its
//! `Error`/`String` method returns. So in the core of a crash the values
//! are plain strings and we print exactly what the runtime printed. A core
//! taken while a panic is still unwinding (a live snapshot) still holds the
//! original values; we cannot call methods on them, so only error types
//! whose message is a field are printed by message (`*errors.errorString`,
//! `*fmt.wrapError`, `*fmt.wrapErrors`, `runtime.errorString`,
//! `runtime.plainError`, `runtime.boundsError`); any other type prints as
//! `(T) 0xADDR`, the runtime's own fallback for a type it cannot print.

use serde::{Deserialize, Serialize};

use crate::binary::Binary;
use crate::runtime::gotype::{GoType, Kind, TypeReader};
use crate::memory::Memory;

/// A chain longer than this is taken as a loop in a corrupt core.
const MAX_CHAIN: usize = 64;
/// Longest panic string we read.
const MAX_STRING: u64 = 1 << 16;

/// One `runtime._panic` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanicEntry {
    /// The dynamic type of `arg` as the runtime names it; `null` for a nil
    /// value or a type we could not read.
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    /// The value as `printpanicval` prints it.
    pub value: String,
    pub recovered: bool,
    /// Go 1.25+: re-panicked with the same value (printed once, as `[recovered, repanicked]`).
    pub repanicked: bool,
    /// A `runtime.Goexit` in progress, not a panic (not printed).
    pub goexit: bool,
    /// Best effort: the value's type before `preprintpanics` turned it into
    /// its message (`*fmt.wrapError`), from the `gopanic` frame's argument
    /// spill slot, which may be stale (the traceback marks it `?`).
    #[serde(default)]
    pub original_type: Option<String>,
}

/// Offsets of the `_panic` fields (from DWARF or the version table).
struct Offsets {
    arg: u64,
    link: u64,
    recovered: u64,
    repanicked: Option<u64>,
    goexit: u64,
}

fn offsets(bin: &Binary) -> Option<Offsets> {
    let l = &bin.layout;
    Some(Offsets {
        arg: l.opt("_panic.arg")?,
        link: l.opt("_panic.link")?,
        recovered: l.opt("_panic.recovered")?,
        repanicked: l.opt("_panic.repanicked"),
        goexit: l.opt("_panic.goexit")?,
    })
}

/// The chain starting at `g._panic` (`first`), newest first. `None` when
/// the layout of `_panic` is unknown for this Go version.
pub fn read_chain(bin: &Binary, mem: &dyn Memory, bias: u64, first: u64) -> Option<Vec<PanicEntry>> {
    let off = offsets(bin)?;
    let types = TypeReader { bin, mem, bias };
    let mut out = Vec::new();
    let mut p = first;
    let mut seen = std::collections::HashSet::new();
    while p != 0 && out.len() < MAX_CHAIN && seen.insert(p) {
        let Ok(typ) = mem.u64(p.wrapping_add(off.arg)) else { break };
        let data = mem.u64(p.wrapping_add(off.arg + 8)).unwrap_or(0);
        let flag = |o: u64| mem.u8(p.wrapping_add(o)).map(|b| b != 0).unwrap_or(false);
        let t = types.read(typ);
        let value = match (&t, typ) {
            (_, 0) => "nil".to_string(),
            (Some(t), _) => print_value(&types, t, data),
            // An unreadable type: the runtime would print something, we can
            // only say where the value is.
            (None, _) => format!("(?) {data:#x}"),
        };
        out.push(PanicEntry {
            type_name: t.map(|t| t.name),
            value,
            recovered: flag(off.recovered),
            repanicked: off.repanicked.map(flag).unwrap_or(false),
            goexit: flag(off.goexit),
            original_type: None,
        });
        p = mem.u64(p.wrapping_add(off.link)).unwrap_or(0);
    }
    Some(out)
}

/// Fill `original_type` from the goroutine's `gopanic` frames: innermost
/// first, as the chain is newest first. `argp` of each frame is where its
/// `e any` argument was spilled, when it was.
pub fn original_types(types: &TypeReader<'_>, chain: &mut [PanicEntry], argps: &[u64]) {
    let live: Vec<&mut PanicEntry> = chain.iter_mut().filter(|p| !p.goexit).collect();
    for (p, argp) in live.into_iter().zip(argps) {
        let Ok(typ) = types.mem.u64(*argp) else { continue };
        // Only a type whose message the chain holds is worth naming.
        if let Some(t) = types.read(typ) {
            if p.type_name.as_deref() != Some(t.name.as_str()) {
                p.original_type = Some(t.name);
            }
        }
    }
}

/// The lines `printpanics` prints for a chain given newest first: the oldest
/// panic first, later ones indented by a tab, Goexits skipped.
pub fn format_chain(chain: &[PanicEntry]) -> String {
    fn rec(chain: &[PanicEntry], i: usize, out: &mut String) {
        if let Some(link) = chain.get(i + 1) {
            rec(chain, i + 1, out);
            if link.repanicked {
                return;
            }
            if !link.goexit {
                out.push('\t');
            }
        }
        let p = &chain[i];
        if p.goexit {
            return;
        }
        out.push_str("panic: ");
        out.push_str(&p.value);
        if p.recovered && p.repanicked {
            out.push_str(" [recovered, repanicked]");
        } else if p.recovered {
            out.push_str(" [recovered]");
        }
        out.push('\n');
    }
    let mut out = String::new();
    if !chain.is_empty() {
        rec(chain, 0, &mut out);
    }
    out
}

/// `printindented`: a newline in a panic string continues on a tab-indented line.
fn indented(s: &str) -> String {
    s.replace('\n', "\n\t")
}

fn read_string(mem: &dyn Memory, header: u64) -> Option<String> {
    mem.go_string(header, MAX_STRING).ok()
}

/// `printpanicval` for a value of type `t` whose interface data word is `data`.
fn print_value(types: &TypeReader<'_>, t: &GoType, data: u64) -> String {
    let mem = types.mem;
    // Errors whose message is in their fields (see the module comment).
    if let Some(msg) = known_error(types, t, data) {
        return indented(&msg);
    }
    let basic = basic_name(t.kind) == Some(t.name.as_str());
    // Non-pointer-shaped values are boxed: data points at them.
    let word = |n: usize| -> Option<u64> {
        let mut b = [0u8; 8];
        mem.read(data, &mut b[..n]).ok()?;
        Some(u64::from_le_bytes(b))
    };
    let scalar = match t.kind {
        Kind::String => read_string(mem, data).map(|s| {
            if basic {
                indented(&s)
            } else {
                format!("(\"{}\")", indented(&s))
            }
        }),
        Kind::Bool => word(1).map(|v| if v != 0 { "true".into() } else { "false".into() }),
        Kind::Int | Kind::Int64 => word(8).map(|v| (v as i64).to_string()),
        Kind::Int8 => word(1).map(|v| (v as u8 as i8).to_string()),
        Kind::Int16 => word(2).map(|v| (v as u16 as i16).to_string()),
        Kind::Int32 => word(4).map(|v| (v as u32 as i32).to_string()),
        Kind::Uint | Kind::Uint64 | Kind::Uintptr => word(8).map(|v| v.to_string()),
        Kind::Uint8 => word(1).map(|v| v.to_string()),
        Kind::Uint16 => word(2).map(|v| v.to_string()),
        Kind::Uint32 => word(4).map(|v| v.to_string()),
        Kind::Float32 => word(4).map(|v| format_float(f32::from_bits(v as u32) as f64, true, types.bin)),
        Kind::Float64 => word(8).map(|v| format_float(f64::from_bits(v), false, types.bin)),
        Kind::Complex64 => {
            let re = word(4).map(|v| f32::from_bits(v as u32) as f64);
            let im = mem.u32(data.wrapping_add(4)).ok().map(|v| f32::from_bits(v) as f64);
            re.zip(im).map(|(r, i)| format_complex(r, i, true, types.bin))
        }
        Kind::Complex128 => {
            let re = word(8).map(f64::from_bits);
            let im = mem.u64(data.wrapping_add(8)).ok().map(f64::from_bits);
            re.zip(im).map(|(r, i)| format_complex(r, i, false, types.bin))
        }
        _ => None,
    };
    match scalar {
        // Basic types print bare; named ones as `T(v)` (printanycustomtype),
        // complex ones without parentheses around the value's own.
        Some(v) if basic => v,
        Some(v) if t.kind == Kind::String => format!("{}{v}", t.name),
        Some(v) if matches!(t.kind, Kind::Complex64 | Kind::Complex128) => format!("{}{v}", t.name),
        Some(v) => format!("{}({v})", t.name),
        None => format!("({}) {data:#x}", t.name),
    }
}

fn basic_name(k: Kind) -> Option<&'static str> {
    Some(match k {
        Kind::Bool => "bool",
        Kind::Int => "int",
        Kind::Int8 => "int8",
        Kind::Int16 => "int16",
        Kind::Int32 => "int32",
        Kind::Int64 => "int64",
        Kind::Uint => "uint",
        Kind::Uint8 => "uint8",
        Kind::Uint16 => "uint16",
        Kind::Uint32 => "uint32",
        Kind::Uint64 => "uint64",
        Kind::Uintptr => "uintptr",
        Kind::Float32 => "float32",
        Kind::Float64 => "float64",
        Kind::Complex64 => "complex64",
        Kind::Complex128 => "complex128",
        Kind::String => "string",
        _ => return None,
    })
}

/// The message of an error value whose `Error` method only returns (or
/// formats) its fields. `None` for anything else.
fn known_error(types: &TypeReader<'_>, t: &GoType, data: u64) -> Option<String> {
    let mem = types.mem;
    match t.name.as_str() {
        // struct { s string }
        "*errors.errorString" => read_string(mem, data),
        // struct { msg string; err error } and struct { msg string; errs []error }
        "*fmt.wrapError" | "*fmt.wrapErrors" => read_string(mem, data),
        "runtime.errorString" => read_string(mem, data).map(|s| format!("runtime error: {s}")),
        "runtime.plainError" => read_string(mem, data),
        "runtime.boundsError" => bounds_error(mem, data),
        _ => None,
    }
}

/// `runtime.boundsError.Error`: `struct { x int64; y int; signed bool; code uint8 }`.
fn bounds_error(mem: &dyn Memory, data: u64) -> Option<String> {
    let x = mem.u64(data).ok()? as i64;
    let y = mem.u64(data.wrapping_add(8)).ok()? as i64;
    let signed = mem.u8(data.wrapping_add(16)).ok()? != 0;
    let code = mem.u8(data.wrapping_add(17)).ok()? as usize;
    // runtime.boundsErrorFmts / boundsNegErrorFmts, by abi.BoundsErrorCode.
    const FMTS: [&str; 10] = [
        "index out of range [%x] with length %y",
        "slice bounds out of range [:%x] with length %y",
        "slice bounds out of range [:%x] with capacity %y",
        "slice bounds out of range [%x:%y]",
        "slice bounds out of range [::%x] with length %y",
        "slice bounds out of range [::%x] with capacity %y",
        "slice bounds out of range [:%x:%y]",
        "slice bounds out of range [%x:%y:]",
        "cannot convert slice with length %x to array or pointer to array with length %y",
        "index out of range [%x] with length %y",
    ];
    const NEG: [&str; 10] = [
        "index out of range [%x]",
        "slice bounds out of range [:%x]",
        "slice bounds out of range [:%x]",
        "slice bounds out of range [%x:]",
        "slice bounds out of range [::%x]",
        "slice bounds out of range [::%x]",
        "slice bounds out of range [:%x:]",
        "slice bounds out of range [%x::]",
        "cannot convert slice with length %x to array or pointer to array with length %y",
        "index out of range [%x]",
    ];
    let fmt = if signed && x < 0 { NEG.get(code)? } else { FMTS.get(code)? };
    let xs = if signed { x.to_string() } else { (x as u64).to_string() };
    Some(format!("runtime error: {}", fmt.replace("%x", &xs).replace("%y", &y.to_string())))
}

/// The runtime's float printing: Go 1.26 prints the shortest `%g` form
/// (strconv 'g', -1); earlier versions `+d.dddddde+ddd`.
fn format_float(v: f64, is32: bool, bin: &Binary) -> String {
    if bin.go_minor().unwrap_or(26) >= 26 {
        shortest_g(v, is32)
    } else {
        legacy_float(v)
    }
}

fn format_complex(re: f64, im: f64, is32: bool, bin: &Binary) -> String {
    let f = |v: f64| format_float(v, is32, bin);
    let im_s = f(im);
    let sign = if im_s.starts_with('+') || im_s.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{im_s}i)", f(re))
}

/// strconv.FormatFloat(v, 'g', -1, bits).
fn shortest_g(v: f64, is32: bool) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits, like strconv.
    let e = if is32 { format!("{:e}", v as f32) } else { format!("{v:e}") };
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    // strconv uses %e when the exponent is < -4 or >= the precision, which
    // is 6 for the shortest form.
    if !(-4..6).contains(&exp) {
        return format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    if is32 {
        format!("{}", v as f32)
    } else {
        format!("{v}")
    }
}

/// The pre-1.26 runtime's printfloat: sign, 7 significant digits, `e`, sign, 3 exponent digits.
fn legacy_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let s = format!("{:.6e}", v.abs());
    let (mant, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    format!(
        "{}{mant}e{}{:03}",
        if v.is_sign_negative() { '-' } else { '+' },
        if exp < 0 { '-' } else { '+' },
        exp.abs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(v: &str) -> PanicEntry {
        PanicEntry {
            type_name: Some("string".into()),
            value: v.into(),
            recovered: false,
            repanicked: false,
            goexit: false,
            original_type: None,
        }
    }

    #[test]
    fn chain_printing() {
        // Newest first, as linked from g._panic.
        let mut old = e("A");
        old.recovered = true;
        assert_eq!(format_chain(&[e("B"), old.clone()]), "panic: A [recovered]\n\tpanic: B\n");
        let mut rep = old.clone();
        rep.repanicked = true;
        assert_eq!(format_chain(&[e("A"), rep]), "panic: A [recovered, repanicked]\n");
        let mut gx = e("");
        gx.goexit = true;
        assert_eq!(format_chain(&[e("C"), gx]), "panic: C\n");
        assert_eq!(format_chain(&[]), "");
    }

    #[test]
    fn floats() {
        assert_eq!(shortest_g(21.5, false), "21.5");
        assert_eq!(shortest_g(1e6, false), "1e+06");
        assert_eq!(shortest_g(123456.0, false), "123456");
        assert_eq!(shortest_g(0.0001, false), "0.0001");
        assert_eq!(shortest_g(0.00001, false), "1e-05");
        assert_eq!(legacy_float(21.5), "+2.150000e+001");
        assert_eq!(legacy_float(-0.5), "-5.000000e-001");
    }
}
