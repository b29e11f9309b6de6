//! Untyped constants and Go's arithmetic on them (exact integers within
//! i128, floats as f64), and the scalar arithmetic of typed values: wrap to
//! the type's width, truncating integer division, shifts, comparisons.

use super::parse::BinOp;
use super::ExprError;

#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    Bool(bool),
    /// An integer; `rune` when it came from a rune literal (default type int32).
    Int(i128, bool),
    Float(f64),
    Complex(f64, f64),
    Str(Vec<u8>),
}

fn err<T>(s: impl Into<String>) -> Result<T, ExprError> {
    Err(ExprError::Eval(s.into()))
}

impl Const {
    /// The type an untyped constant takes when nothing else decides.
    pub fn default_type(&self) -> &'static str {
        match self {
            Const::Bool(_) => "bool",
            Const::Int(_, true) => "int32",
            Const::Int(_, false) => "int",
            Const::Float(_) => "float64",
            Const::Complex(..) => "complex128",
            Const::Str(_) => "string",
        }
    }

    /// The constant as a value tree of its default type (an integer past
    /// 64 bits, which no Go type holds, is unavailable).
    pub fn tree(&self) -> crate::model::Value {
        use crate::model::{Float, Value, ValueKind};
        let kind = match self {
            Const::Bool(b) => ValueKind::Bool { value: *b },
            Const::Int(v, _) => match (i64::try_from(*v), u64::try_from(*v)) {
                (Ok(value), _) => ValueKind::Int { value },
                (_, Ok(value)) => ValueKind::Uint { value },
                _ => return Value::new("int", ValueKind::Unavailable { reason: format!("constant {v} overflows every integer type") }),
            },
            Const::Float(f) => ValueKind::Float { value: Float(*f) },
            Const::Complex(r, i) => ValueKind::Complex { real: Float(*r), imag: Float(*i) },
            Const::Str(s) => ValueKind::String { value: String::from_utf8_lossy(s).into_owned(), len: s.len() as u64, more: 0 },
        };
        Value::new(self.default_type(), kind)
    }

    pub fn text(&self) -> String {
        match self {
            Const::Bool(b) => b.to_string(),
            Const::Int(v, _) => v.to_string(),
            Const::Float(f) => crate::value::float(f.to_bits(), 8),
            Const::Complex(r, i) => format!("({} + {}i)", crate::value::float(r.to_bits(), 8), crate::value::float(i.to_bits(), 8)),
            Const::Str(s) => crate::value::quote(s),
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Const::Int(..) => 0,
            Const::Float(_) => 1,
            Const::Complex(..) => 2,
            _ => 3,
        }
    }

    fn as_f64(&self) -> Option<f64> {
        match self {
            Const::Int(v, _) => Some(*v as f64),
            Const::Float(f) => Some(*f),
            _ => None,
        }
    }

    fn as_complex(&self) -> Option<(f64, f64)> {
        match self {
            Const::Complex(r, i) => Some((*r, *i)),
            c => Some((c.as_f64()?, 0.0)),
        }
    }

    /// The exact integer value, when it has one (`2.0` has).
    pub fn as_int(&self) -> Option<i128> {
        match self {
            Const::Int(v, _) => Some(*v),
            Const::Float(f) if f.fract() == 0.0 && f.abs() < 1.7e38 => Some(*f as i128),
            Const::Complex(r, i) if *i == 0.0 && r.fract() == 0.0 && r.abs() < 1.7e38 => Some(*r as i128),
            _ => None,
        }
    }
}

/// `a op b` for two untyped constants.
pub fn binary(op: BinOp, a: &Const, b: &Const) -> Result<Const, ExprError> {
    use BinOp::*;
    let bad = || err(format!("invalid operation: {} {} {}", a.text(), op.text(), b.text()));
    match (a, b) {
        (Const::Bool(x), Const::Bool(y)) => {
            return Ok(Const::Bool(match op {
                AndAnd => *x && *y,
                OrOr => *x || *y,
                Eq => x == y,
                Ne => x != y,
                _ => return bad(),
            }))
        }
        (Const::Str(x), Const::Str(y)) => {
            return Ok(match op {
                Add => Const::Str([x.as_slice(), y.as_slice()].concat()),
                Eq | Ne | Lt | Le | Gt | Ge => Const::Bool(compare(op, x.cmp(y))),
                _ => return bad(),
            })
        }
        (Const::Bool(_) | Const::Str(_), _) | (_, Const::Bool(_) | Const::Str(_)) => return bad(),
        _ => {}
    }
    if matches!(op, Shl | Shr) {
        let (Some(x), Some(s)) = (a.as_int(), b.as_int()) else { return err("invalid shift: operands must be integers") };
        if s < 0 {
            return err(format!("invalid shift count {s}"));
        }
        let rune = matches!(a, Const::Int(_, true));
        return Ok(Const::Int(
            if op == Shl {
                if s >= 127 || (x != 0 && (x.unsigned_abs().leading_zeros() as i128) <= s) {
                    return err("constant shift overflow");
                }
                x << s
            } else if s >= 127 {
                if x < 0 { -1 } else { 0 }
            } else {
                x >> s
            },
            rune,
        ));
    }
    match a.rank().max(b.rank()) {
        0 => {
            let (Const::Int(x, rx), Const::Int(y, ry)) = (a, b) else { return bad() };
            let rune = *rx || *ry;
            let ov = || ExprError::Eval("constant overflow".into());
            Ok(match op {
                Add => Const::Int(x.checked_add(*y).ok_or_else(ov)?, rune),
                Sub => Const::Int(x.checked_sub(*y).ok_or_else(ov)?, rune),
                Mul => Const::Int(x.checked_mul(*y).ok_or_else(ov)?, rune),
                Div | Rem if *y == 0 => return err("division by zero"),
                Div => Const::Int(x.checked_div(*y).ok_or_else(ov)?, rune),
                Rem => Const::Int(x.checked_rem(*y).ok_or_else(ov)?, rune),
                And => Const::Int(x & y, rune),
                Or => Const::Int(x | y, rune),
                Xor => Const::Int(x ^ y, rune),
                AndNot => Const::Int(x & !y, rune),
                Eq | Ne | Lt | Le | Gt | Ge => Const::Bool(compare(op, x.cmp(y))),
                _ => return bad(),
            })
        }
        1 => {
            let (Some(x), Some(y)) = (a.as_f64(), b.as_f64()) else { return bad() };
            Ok(match op {
                Add => Const::Float(x + y),
                Sub => Const::Float(x - y),
                Mul => Const::Float(x * y),
                Div if y == 0.0 => return err("division by zero"),
                Div => Const::Float(x / y),
                Eq | Ne | Lt | Le | Gt | Ge => {
                    Const::Bool(compare(op, x.partial_cmp(&y).unwrap_or(std::cmp::Ordering::Less)))
                }
                _ => return bad(),
            })
        }
        _ => {
            let (Some((ar, ai)), Some((br, bi))) = (a.as_complex(), b.as_complex()) else { return bad() };
            Ok(match op {
                Add => Const::Complex(ar + br, ai + bi),
                Sub => Const::Complex(ar - br, ai - bi),
                Mul => Const::Complex(ar * br - ai * bi, ar * bi + ai * br),
                Div => {
                    let d = br * br + bi * bi;
                    if d == 0.0 {
                        return err("division by zero");
                    }
                    Const::Complex((ar * br + ai * bi) / d, (ai * br - ar * bi) / d)
                }
                Eq => Const::Bool(ar == br && ai == bi),
                Ne => Const::Bool(ar != br || ai != bi),
                _ => return bad(),
            })
        }
    }
}

pub fn compare(op: BinOp, o: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq => o == Equal,
        BinOp::Ne => o != Equal,
        BinOp::Lt => o == Less,
        BinOp::Le => o != Greater,
        BinOp::Gt => o == Greater,
        BinOp::Ge => o != Less,
        _ => false,
    }
}

/// A value of a basic type, read from memory or computed.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Bool(bool),
    /// Integers of any width, signed or not, widened.
    Int(i128),
    Float(f64),
    Complex(f64, f64),
    Str(Vec<u8>),
}

/// The shape of a basic type, what arithmetic needs to know.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Basic {
    Bool,
    Int { size: u64, signed: bool },
    Float(u64),
    Complex(u64),
    Str,
}

impl Basic {
    /// `v` cut to the type's width (Go's wrap-around).
    pub fn wrap(self, v: i128) -> i128 {
        let Basic::Int { size, signed } = self else { return v };
        let bits = 8 * size.clamp(1, 8) as u32;
        let m = (v as u128) & (u128::MAX >> (128 - bits));
        if signed && m >> (bits - 1) & 1 == 1 {
            (m as i128) - (1i128 << bits)
        } else {
            m as i128
        }
    }

    pub fn fits(self, v: i128) -> bool {
        self.wrap(v) == v
    }

    pub fn round(self, f: f64) -> f64 {
        match self {
            Basic::Float(4) | Basic::Complex(8) => f as f32 as f64,
            _ => f,
        }
    }
}

/// An untyped constant given the basic type `b` (Go's representability).
pub fn convert_const(c: &Const, b: Basic, tname: &str) -> Result<Scalar, ExprError> {
    let cannot = || err(format!("cannot use {} as {tname} value", c.text()));
    Ok(match b {
        Basic::Bool => match c {
            Const::Bool(v) => Scalar::Bool(*v),
            _ => return cannot(),
        },
        Basic::Str => match c {
            Const::Str(s) => Scalar::Str(s.clone()),
            _ => return cannot(),
        },
        Basic::Int { .. } => {
            let v = match c {
                Const::Int(v, _) => *v,
                Const::Float(_) | Const::Complex(..) => match c.as_int() {
                    Some(v) => v,
                    None => return err(format!("constant {} truncated to integer", c.text())),
                },
                _ => return cannot(),
            };
            if !b.fits(v) {
                return err(format!("constant {v} overflows {tname}"));
            }
            Scalar::Int(v)
        }
        Basic::Float(_) => match c {
            Const::Int(..) | Const::Float(_) => Scalar::Float(b.round(c.as_f64().unwrap_or(0.0))),
            Const::Complex(r, 0.0) => Scalar::Float(b.round(*r)),
            Const::Complex(..) => return err(format!("constant {} truncated to real", c.text())),
            _ => return cannot(),
        },
        Basic::Complex(_) => match c.as_complex() {
            Some((r, i)) if !matches!(c, Const::Bool(_) | Const::Str(_)) => Scalar::Complex(b.round(r), b.round(i)),
            _ => return cannot(),
        },
    })
}

/// `a op b` for two values of the basic type `b`; comparisons give a bool.
pub fn scalar_binary(op: BinOp, t: Basic, a: &Scalar, b: &Scalar) -> Result<Scalar, ExprError> {
    use BinOp::*;
    let bad = || err(format!("operator {} not defined on this type", op.text()));
    Ok(match (a, b) {
        (Scalar::Bool(x), Scalar::Bool(y)) => Scalar::Bool(match op {
            Eq => x == y,
            Ne => x != y,
            AndAnd => *x && *y,
            OrOr => *x || *y,
            _ => return bad(),
        }),
        (Scalar::Str(x), Scalar::Str(y)) => match op {
            Add => Scalar::Str([x.as_slice(), y.as_slice()].concat()),
            Eq | Ne | Lt | Le | Gt | Ge => Scalar::Bool(compare(op, x.cmp(y))),
            _ => return bad(),
        },
        (Scalar::Int(x), Scalar::Int(y)) => {
            let (x, y) = (*x, *y);
            match op {
                Eq | Ne | Lt | Le | Gt | Ge => Scalar::Bool(compare(op, x.cmp(&y))),
                Div | Rem if y == 0 => return err("runtime error: integer divide by zero"),
                _ => Scalar::Int(t.wrap(match op {
                    Add => x.wrapping_add(y),
                    Sub => x.wrapping_sub(y),
                    Mul => x.wrapping_mul(y),
                    Div => x.wrapping_div(y),
                    Rem => x.wrapping_rem(y),
                    And => x & y,
                    Or => x | y,
                    Xor => x ^ y,
                    AndNot => x & !y,
                    _ => return bad(),
                })),
            }
        }
        (Scalar::Float(x), Scalar::Float(y)) => {
            let (x, y) = (*x, *y);
            match op {
                Eq | Ne | Lt | Le | Gt | Ge => match x.partial_cmp(&y) {
                    Some(o) => Scalar::Bool(compare(op, o)),
                    None => Scalar::Bool(op == Ne),
                },
                Add => Scalar::Float(t.round(x + y)),
                Sub => Scalar::Float(t.round(x - y)),
                Mul => Scalar::Float(t.round(x * y)),
                Div => Scalar::Float(t.round(x / y)),
                _ => return bad(),
            }
        }
        (Scalar::Complex(ar, ai), Scalar::Complex(br, bi)) => {
            let (ar, ai, br, bi) = (*ar, *ai, *br, *bi);
            let (r, i) = match op {
                Eq => return Ok(Scalar::Bool(ar == br && ai == bi)),
                Ne => return Ok(Scalar::Bool(ar != br || ai != bi)),
                Add => (ar + br, ai + bi),
                Sub => (ar - br, ai - bi),
                Mul => (ar * br - ai * bi, ar * bi + ai * br),
                Div => {
                    let d = br * br + bi * bi;
                    ((ar * br + ai * bi) / d, (ai * br - ar * bi) / d)
                }
                _ => return bad(),
            };
            Scalar::Complex(t.round(r), t.round(i))
        }
        _ => return bad(),
    })
}

/// `x << s` / `x >> s` in the type `t`.
pub fn shift(op: BinOp, t: Basic, x: i128, s: i128) -> Result<i128, ExprError> {
    if s < 0 {
        return err(format!("runtime error: negative shift amount {s}"));
    }
    let s = s.min(127) as u32;
    Ok(t.wrap(if op == BinOp::Shl { if s >= 127 { 0 } else { x.wrapping_shl(s) } } else { x >> s.min(127) }))
}
