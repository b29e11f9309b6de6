//! `--print EXPR`: Go's expression language over the core's values, as
//! Delve's `print` offers it minus function calls: locals, the frame's
//! package-level names, qualified globals and functions; selectors (with
//! Go's promotion rule, through pointers, through interfaces, into a
//! channel's `hchan`); indexes (arrays, slices, strings, map keys of any
//! comparable type) and slices; `*p`, `&x`; conversions and address casts
//! (`uint8(i)`, `(*T)(0xADDR)`, `*(*T)(unsafe.Pointer(p))`); type
//! assertions; the builtins `len cap real imag complex min max`; and
//! Go's operators with its constant and typing rules.
//!
//! `parse.rs` is the grammar, `consts.rs` the arithmetic, `eval.rs` the
//! evaluation against a [`Scope`].

mod consts;
mod eval;
mod parse;

pub use parse::{BinOp, Expr, Lit, TypeExpr, UnOp};

use crate::dwarf::TypeRef;
use crate::model::{Value, ValueKind};
use crate::value::{Printer, Src, ValueError};

#[derive(Debug, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum ExprError {
    #[error("parse error at byte {pos} of {expr:?}: {what}")]
    Parse { expr: String, pos: usize, what: String },
    #[error("{0}")]
    Eval(String),
}

pub fn parse(s: &str) -> Result<Expr, ExprError> {
    parse::Parser::new(s)?.whole()
}

/// The result of evaluating an expression.
pub enum Evaluated {
    /// A value of a type, in the core's memory or computed from it.
    Value(Option<TypeRef>, Src),
    /// A value computed by the evaluator, not read from one place in the
    /// core: a constant, a computed string, a function named as a value,
    /// `&x`'s address.
    Computed(crate::model::Value),
}

/// Names the evaluator can look up.
pub trait Scope {
    /// A local variable or argument of the chosen frame(s).
    fn local(&self, name: &str) -> Option<Result<(Option<TypeRef>, Src), ValueError>>;
    /// A package-level variable by its full name (`main.cfg`, `net/http.DefaultClient`).
    fn global(&self, name: &str) -> Option<(Option<TypeRef>, Src)>;
    /// The package of the frame's function, for unqualified package-level
    /// names (`main` when there is no frame).
    fn package(&self) -> String;
}

fn string_tree(ty: String, b: &[u8]) -> Value {
    Value::new(ty, ValueKind::String { value: String::from_utf8_lossy(b).into_owned(), len: b.len() as u64, more: 0 })
}

pub fn eval(p: &Printer, scope: &dyn Scope, e: &Expr) -> Result<Evaluated, ExprError> {
    use eval::Val;
    let ev = eval::Eval { p, scope };
    let v = ev.eval(e)?;
    // `&x` is asked for its address: shown as one, as Delve does.
    let mut top = e;
    while let Expr::Paren(x) = top {
        top = x;
    }
    if let (Expr::Unary(UnOp::Addr, _), Val::Typed(t, s)) = (top, &v) {
        if let Ok(a) = p.word(s) {
            let kind = ValueKind::Pointer { addr: a, target: None, unreadable: None };
            return Ok(Evaluated::Computed(Value::new(p.type_name(Some(*t)), kind)));
        }
    }
    Ok(match v {
        Val::Typed(t, s) => Evaluated::Value(Some(t), s),
        Val::Const(c) => Evaluated::Computed(c.tree()),
        // The untyped nil has no type.
        Val::Nil => Evaluated::Computed(Value::new("", ValueKind::Pointer { addr: 0, target: None, unreadable: None })),
        Val::Str(t, b) => Evaluated::Computed(string_tree(p.type_name(Some(t)), &b)),
        Val::Func(name) => Evaluated::Computed(Value::new("func", ValueKind::Func { func: Some(name), captures: Vec::new() })),
        Val::Tree(v) => Evaluated::Computed(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> Box<Expr> {
        Box::new(Expr::Ident(s.into()))
    }

    #[test]
    fn parses() {
        assert_eq!(
            parse("*main.gOuter.Ptr").unwrap(),
            Expr::Unary(UnOp::Deref, Box::new(Expr::Selector(Box::new(Expr::Selector(id("main"), "gOuter".into())), "Ptr".into())))
        );
        assert_eq!(
            parse("m[\"a\"].X").unwrap(),
            Expr::Selector(Box::new(Expr::Index(id("m"), Box::new(Expr::Lit(Lit::Str("a".into()))))), "X".into())
        );
        assert_eq!(parse("len(s)").unwrap(), Expr::Call(id("len"), vec![Expr::Ident("s".into())]));
        assert!(matches!(parse("net/http.DefaultClient").unwrap(), Expr::Qualified { path, name, .. } if path == "net/http" && name == "DefaultClient"));
        assert!(matches!(parse("\"net/http\".DefaultClient").unwrap(), Expr::Qualified { path, .. } if path == "net/http"));
        assert_eq!(parse("i3/i2").unwrap(), Expr::Binary(BinOp::Div, id("i3"), id("i2")));
        assert_eq!(
            parse("1 + 2*3").unwrap(),
            Expr::Binary(
                BinOp::Add,
                Box::new(Expr::Lit(Lit::Int(1))),
                Box::new(Expr::Binary(BinOp::Mul, Box::new(Expr::Lit(Lit::Int(2))), Box::new(Expr::Lit(Lit::Int(3)))))
            )
        );
        assert_eq!(parse("-i2").unwrap(), Expr::Unary(UnOp::Neg, id("i2")));
        assert_eq!(parse("a[1:2:3]").unwrap(), Expr::Slice(id("a"), Some(Box::new(Expr::Lit(Lit::Int(1)))), Some(Box::new(Expr::Lit(Lit::Int(2)))), Some(Box::new(Expr::Lit(Lit::Int(3))))));
        assert_eq!(parse("e.(*main.T)").unwrap(), Expr::Assert(id("e"), TypeExpr::Pointer(Box::new(TypeExpr::Name("main.T".into())))));
        assert_eq!(parse("[]byte(s)").unwrap(), Expr::Call(Box::new(Expr::Type(TypeExpr::Slice(Box::new(TypeExpr::Name("byte".into()))))), vec![Expr::Ident("s".into())]));
        assert_eq!(parse("'a'").unwrap(), Expr::Lit(Lit::Char(97)));
        assert_eq!(parse("0x10 + 1e3 + 1i").is_ok(), true);
        for bad in ["a[", "a b", "(1", "1 +", ")", "sl[1:2:]", "'ab'", "\"x", "a.", "0x"] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}1{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse(&deep).is_err());
        let unary = format!("{}1", "-".repeat(100_000));
        assert!(parse(&unary).is_err());
    }

    #[test]
    fn constants() {
        use consts::Const;
        let c = |s: &str| -> Const {
            struct NoScope;
            let _ = NoScope;
            match parse(s).unwrap() {
                e => const_eval(&e).unwrap(),
            }
        };
        assert_eq!(c("7/2"), Const::Int(3, false));
        assert_eq!(c("-7%3"), Const::Int(-1, false));
        assert_eq!(c("7.0/2"), Const::Float(3.5));
        assert_eq!(c("1<<62"), Const::Int(1 << 62, false));
        assert_eq!(c("\"a\" + \"b\""), Const::Str(b"ab".to_vec()));
        assert_eq!(c("1 + 2i"), Const::Complex(1.0, 2.0));
        assert_eq!(c("'a' + 1"), Const::Int(98, true));
    }

    /// Constant folding alone (no core).
    fn const_eval(e: &Expr) -> Option<consts::Const> {
        use consts::Const;
        match e {
            Expr::Lit(Lit::Int(v)) => Some(Const::Int(*v, false)),
            Expr::Lit(Lit::Char(v)) => Some(Const::Int(*v, true)),
            Expr::Lit(Lit::Float(v)) => Some(Const::Float(*v)),
            Expr::Lit(Lit::Imag(v)) => Some(Const::Complex(0.0, *v)),
            Expr::Lit(Lit::Str(s)) => Some(Const::Str(s.clone().into_bytes())),
            Expr::Paren(x) => const_eval(x),
            Expr::Binary(op, a, b) => consts::binary(*op, &const_eval(a)?, &const_eval(b)?).ok(),
            Expr::Unary(UnOp::Neg, x) => match const_eval(x)? {
                Const::Int(v, r) => Some(Const::Int(-v, r)),
                _ => None,
            },
            _ => None,
        }
    }
}
