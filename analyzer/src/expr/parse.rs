//! The grammar: Go's expressions (operands, selectors, indexes, slices,
//! type assertions, calls as conversions and builtins, unary and binary
//! operators with Go's precedence), plus types where a conversion or an
//! assertion needs one (`*T`, `[]T`, `[N]T`, `map[K]V`, `chan T`), and
//! package paths written as they are (`net/http.DefaultClient`) or quoted
//! (`"net/http".DefaultClient`).

use super::ExprError;

/// Nesting (parentheses, operands inside operators) the parser accepts: deep
/// enough for anything typed by hand, shallow enough for the stack.
const MAX_NESTING: usize = 256;
/// Longest expression accepted.
const MAX_LEN: usize = 1 << 14;

#[derive(Debug, Clone, PartialEq)]
pub enum Lit {
    Int(i128),
    Float(f64),
    Imag(f64),
    /// A rune literal: an integer constant whose default type is rune.
    Char(i128),
    Str(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Neg,
    Plus,
    Not,
    Xor,
    Deref,
    Addr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    OrOr,
    AndAnd,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Or,
    Xor,
    Mul,
    Div,
    Rem,
    Shl,
    Shr,
    And,
    AndNot,
}

impl BinOp {
    fn prec(self) -> u8 {
        use BinOp::*;
        match self {
            OrOr => 1,
            AndAnd => 2,
            Eq | Ne | Lt | Le | Gt | Ge => 3,
            Add | Sub | Or | Xor => 4,
            Mul | Div | Rem | Shl | Shr | And | AndNot => 5,
        }
    }
    pub fn text(self) -> &'static str {
        use BinOp::*;
        match self {
            OrOr => "||",
            AndAnd => "&&",
            Eq => "==",
            Ne => "!=",
            Lt => "<",
            Le => "<=",
            Gt => ">",
            Ge => ">=",
            Add => "+",
            Sub => "-",
            Or => "|",
            Xor => "^",
            Mul => "*",
            Div => "/",
            Rem => "%",
            Shl => "<<",
            Shr => ">>",
            And => "&",
            AndNot => "&^",
        }
    }
}

/// A type written in an expression.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeExpr {
    /// `int`, `main.cell`, `net/http.Client`, `main.pair[int]`.
    Name(String),
    Pointer(Box<TypeExpr>),
    Slice(Box<TypeExpr>),
    Array(u64, Box<TypeExpr>),
    Map(Box<TypeExpr>, Box<TypeExpr>),
    Chan(Box<TypeExpr>),
}

impl TypeExpr {
    /// The name Go's DWARF gives the type.
    pub fn name(&self) -> String {
        match self {
            TypeExpr::Name(n) => n.clone(),
            TypeExpr::Pointer(t) => format!("*{}", t.name()),
            TypeExpr::Slice(t) => format!("[]{}", t.name()),
            TypeExpr::Array(n, t) => format!("[{n}]{}", t.name()),
            TypeExpr::Map(k, v) => format!("map[{}]{}", k.name(), v.name()),
            TypeExpr::Chan(t) => format!("chan {}", t.name()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Ident(String),
    /// A package-qualified name written with its path (`net/http.Client`);
    /// `alt` is the same text read as arithmetic (`a/b.c`), tried when no
    /// such package-level name exists.
    Qualified { path: String, name: String, alt: Option<Box<Expr>> },
    Lit(Lit),
    Selector(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
    Slice(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>, Option<Box<Expr>>),
    Assert(Box<Expr>, TypeExpr),
    Call(Box<Expr>, Vec<Expr>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    Paren(Box<Expr>),
    /// A type that can only be a type (`[]byte`, `map[string]int`).
    Type(TypeExpr),
}

impl Expr {
    /// This expression read as a type name, when it can be one
    /// (`main.cell`, `*main.cell`, `(*int)`, `pair[int]`).
    pub fn as_type(&self) -> Option<TypeExpr> {
        match self {
            Expr::Ident(n) => Some(TypeExpr::Name(n.clone())),
            Expr::Qualified { path, name, .. } => Some(TypeExpr::Name(format!("{path}.{name}"))),
            Expr::Selector(x, n) => match &**x {
                Expr::Ident(p) => Some(TypeExpr::Name(format!("{p}.{n}"))),
                _ => None,
            },
            Expr::Unary(UnOp::Deref, x) => Some(TypeExpr::Pointer(Box::new(x.as_type()?))),
            Expr::Paren(x) => x.as_type(),
            Expr::Type(t) => Some(t.clone()),
            Expr::Index(x, i) => {
                let TypeExpr::Name(base) = x.as_type()? else { return None };
                Some(TypeExpr::Name(format!("{base}[{}]", i.as_type()?.name())))
            }
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// A package path followed by `.Name`, written without spaces.
    Path(String, String, usize),
    Int(i128),
    Float(f64),
    Imag(f64),
    Char(i128),
    Str(String),
    Op(&'static str),
    Eof,
}

const OPS: &[&str] = &[
    "&^", "<<", ">>", "&&", "||", "==", "!=", "<=", ">=", "...", "+", "-", "*", "/", "%", "&", "|", "^", "<", ">", "!", "(",
    ")", "[", "]", "{", "}", ",", ".", ":",
];

struct Lexer<'s> {
    s: &'s str,
    pos: usize,
}

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}
fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

impl Lexer<'_> {
    fn err<T>(&self, pos: usize, what: impl Into<String>) -> Result<T, ExprError> {
        Err(ExprError::Parse { expr: self.s.to_string(), pos, what: what.into() })
    }

    fn ident_end(&self, from: usize) -> usize {
        let rest = &self.s[from..];
        from + rest.char_indices().find(|(_, c)| !is_ident_char(*c)).map(|(i, _)| i).unwrap_or(rest.len())
    }

    /// `a/b/c.Name` or `github.com/x-y/z.Name` at `start`: a path holding a
    /// '/' whose last element is followed by `.Ident`.
    fn path_at(&self, start: usize) -> Option<(String, String, usize)> {
        let b = self.s.as_bytes();
        let mut i = start;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'_' | b'/' | b'-' | b'.' | b'~')) {
            i += 1;
        }
        let text = &self.s[start..i];
        let slash = text.rfind('/')?;
        // The name is what follows the first '.' after the last '/'.
        let dot = slash + text[slash..].find('.')?;
        let (path, name) = (&text[..dot], &text[dot + 1..]);
        let name_end = name.find(|c: char| !is_ident_char(c)).unwrap_or(name.len());
        let name = &name[..name_end];
        if name.is_empty() || !name.starts_with(is_ident_start) || path.ends_with('/') || path.starts_with('/') {
            return None;
        }
        Some((path.to_string(), name.to_string(), start + dot + 1 + name_end))
    }

    fn next(&mut self) -> Result<(Tok, usize), ExprError> {
        let rest = &self.s[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let start = self.pos;
        let Some(c) = trimmed.chars().next() else { return Ok((Tok::Eof, start)) };
        if is_ident_start(c) {
            if let Some((path, name, end)) = self.path_at(start) {
                self.pos = end;
                return Ok((Tok::Path(path, name, start), start));
            }
            let end = self.ident_end(start);
            self.pos = end;
            return Ok((Tok::Ident(self.s[start..end].to_string()), start));
        }
        if c.is_ascii_digit() || (c == '.' && trimmed[1..].starts_with(|c: char| c.is_ascii_digit())) {
            return self.number(start);
        }
        if c == '"' {
            let mut out = String::new();
            let mut it = trimmed[1..].char_indices();
            while let Some((i, ch)) = it.next() {
                match ch {
                    '"' => {
                        self.pos = start + 1 + i + 1;
                        return Ok((Tok::Str(out), start));
                    }
                    '\\' => match it.next() {
                        Some((_, e)) => match escape(e, &mut it) {
                            Some(v) => out.push_str(&v),
                            None => return self.err(start + 1 + i, "bad escape in string"),
                        },
                        None => break,
                    },
                    c => out.push(c),
                }
            }
            return self.err(start, "unterminated string");
        }
        if c == '`' {
            let Some(end) = trimmed[1..].find('`') else { return self.err(start, "unterminated raw string") };
            self.pos = start + 1 + end + 1;
            return Ok((Tok::Str(trimmed[1..1 + end].replace('\r', "")), start));
        }
        if c == '\'' {
            let mut it = trimmed[1..].char_indices();
            let v = match it.next() {
                Some((_, '\\')) => match it.next().and_then(|(_, e)| escape(e, &mut it)) {
                    Some(s) => {
                        let mut cs = s.chars();
                        match (cs.next(), cs.next()) {
                            (Some(c), None) => c as i128,
                            _ => return self.err(start, "bad rune literal"),
                        }
                    }
                    None => return self.err(start, "bad escape in rune literal"),
                },
                Some((_, c)) if c != '\'' => c as i128,
                _ => return self.err(start, "empty rune literal"),
            };
            return match it.next() {
                Some((i, '\'')) => {
                    self.pos = start + 1 + i + 1;
                    Ok((Tok::Char(v), start))
                }
                _ => self.err(start, "rune literal not terminated"),
            };
        }
        for op in OPS {
            if trimmed.starts_with(op) {
                self.pos += op.len();
                return Ok((Tok::Op(op), start));
            }
        }
        self.err(start, format!("unexpected character {c:?}"))
    }

    fn number(&mut self, start: usize) -> Result<(Tok, usize), ExprError> {
        let b = self.s.as_bytes();
        let hex = self.s[start..].starts_with("0x") || self.s[start..].starts_with("0X");
        let mut i = start;
        while i < b.len() {
            let c = b[i];
            let exp_sign = (c == b'+' || c == b'-')
                && i > start
                && if hex { matches!(b[i - 1], b'p' | b'P') } else { matches!(b[i - 1], b'e' | b'E') };
            if !(c.is_ascii_alphanumeric() || c == b'_' || c == b'.' || exp_sign) {
                break;
            }
            i += 1;
        }
        let text: String = self.s[start..i].chars().filter(|c| *c != '_').collect();
        self.pos = i;
        let bad = || ExprError::Parse { expr: self.s.to_string(), pos: start, what: format!("bad number {:?}", &self.s[start..i]) };
        if let Some(m) = text.strip_suffix('i') {
            let v = parse_int(m).map(|v| v as f64).or_else(|| m.parse::<f64>().ok()).ok_or_else(bad)?;
            return Ok((Tok::Imag(v), start));
        }
        if let Some(v) = parse_int(&text) {
            return Ok((Tok::Int(v), start));
        }
        let is_hex = text.starts_with("0x") || text.starts_with("0X");
        if !is_hex && text.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-')) {
            if let Ok(v) = text.parse::<f64>() {
                return Ok((Tok::Float(v), start));
            }
        }
        Err(bad())
    }
}

/// The escape after a backslash (Go's: \n \t \\ \' \" \xNN \uNNNN \UNNNNNNNN \NNN ...).
fn escape(e: char, it: &mut std::str::CharIndices) -> Option<String> {
    let mut hex = |n: usize| -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = v.checked_mul(16)? + it.next()?.1.to_digit(16)?;
        }
        Some(v)
    };
    Some(match e {
        'n' => "\n".into(),
        't' => "\t".into(),
        'r' => "\r".into(),
        'a' => "\x07".into(),
        'b' => "\x08".into(),
        'f' => "\x0c".into(),
        'v' => "\x0b".into(),
        '\\' => "\\".into(),
        '\'' => "'".into(),
        '"' => "\"".into(),
        'x' => char::from_u32(hex(2)?)?.to_string(),
        'u' => char::from_u32(hex(4)?)?.to_string(),
        'U' => char::from_u32(hex(8)?)?.to_string(),
        d @ '0'..='7' => {
            let mut v = d.to_digit(8)?;
            for _ in 0..2 {
                v = v * 8 + it.next()?.1.to_digit(8)?;
            }
            char::from_u32(v.min(255))?.to_string()
        }
        _ => return None,
    })
}

fn parse_int(t: &str) -> Option<i128> {
    let (digits, radix) = if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (h, 16)
    } else if let Some(o) = t.strip_prefix("0o").or_else(|| t.strip_prefix("0O")) {
        (o, 8)
    } else if let Some(b) = t.strip_prefix("0b").or_else(|| t.strip_prefix("0B")) {
        (b, 2)
    } else if t.len() > 1 && t.starts_with('0') && t.bytes().all(|c| c.is_ascii_digit()) {
        (&t[1..], 8)
    } else {
        (t, 10)
    };
    if digits.is_empty() {
        return None;
    }
    i128::from_str_radix(digits, radix).ok()
}

/// A path token's text read as plain Go, '/' and '-' as operators.
fn plain(text: &str) -> Option<Expr> {
    let spaced: String = text.chars().flat_map(|c| if c == '/' || c == '-' { vec![' ', c, ' '] } else { vec![c] }).collect();
    Parser::new(&spaced).ok()?.whole().ok()
}

pub(super) struct Parser<'s> {
    lex: Lexer<'s>,
    tok: Tok,
    tok_pos: usize,
    depth: usize,
}

impl<'s> Parser<'s> {
    pub(super) fn new(s: &'s str) -> Result<Self, ExprError> {
        if s.len() > MAX_LEN {
            return Err(ExprError::Parse { expr: s[..64].to_string(), pos: MAX_LEN, what: "expression too long".into() });
        }
        let mut lex = Lexer { s, pos: 0 };
        let (tok, tok_pos) = lex.next()?;
        Ok(Parser { lex, tok, tok_pos, depth: 0 })
    }

    fn err<T>(&self, what: impl Into<String>) -> Result<T, ExprError> {
        self.lex.err(self.tok_pos, what)
    }

    fn bump(&mut self) -> Result<Tok, ExprError> {
        let (t, p) = self.lex.next()?;
        self.tok_pos = p;
        Ok(std::mem::replace(&mut self.tok, t))
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.tok, Tok::Op(o) if o == op)
    }

    fn eat(&mut self, op: &str) -> Result<bool, ExprError> {
        if self.is_op(op) {
            self.bump()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, op: &str) -> Result<(), ExprError> {
        if !self.eat(op)? {
            return self.err(format!("expected {op:?}"));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err("expression nested too deeply");
        }
        Ok(())
    }

    pub(super) fn whole(mut self) -> Result<Expr, ExprError> {
        let e = self.expr()?;
        if self.tok != Tok::Eof {
            return self.err("unexpected text");
        }
        Ok(e)
    }

    fn expr(&mut self) -> Result<Expr, ExprError> {
        self.binary(1)
    }

    fn binop(&self) -> Option<BinOp> {
        use BinOp::*;
        let Tok::Op(o) = self.tok else { return None };
        Some(match o {
            "||" => OrOr,
            "&&" => AndAnd,
            "==" => Eq,
            "!=" => Ne,
            "<" => Lt,
            "<=" => Le,
            ">" => Gt,
            ">=" => Ge,
            "+" => Add,
            "-" => Sub,
            "|" => Or,
            "^" => Xor,
            "*" => Mul,
            "/" => Div,
            "%" => Rem,
            "<<" => Shl,
            ">>" => Shr,
            "&" => And,
            "&^" => AndNot,
            _ => return None,
        })
    }

    fn binary(&mut self, min: u8) -> Result<Expr, ExprError> {
        self.enter()?;
        let mut lhs = self.unary()?;
        let mut chain = 0;
        while let Some(op) = self.binop() {
            if op.prec() < min {
                break;
            }
            // `a+b+c+...` nests to the left: its length is depth too.
            chain += 1;
            if self.depth + chain > MAX_NESTING {
                return self.err("expression nested too deeply");
            }
            self.bump()?;
            let rhs = self.binary(op.prec() + 1)?;
            lhs = Expr::Binary(op, Box::new(lhs), Box::new(rhs));
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        let op = match self.tok {
            Tok::Op("-") => UnOp::Neg,
            Tok::Op("+") => UnOp::Plus,
            Tok::Op("!") => UnOp::Not,
            Tok::Op("^") => UnOp::Xor,
            Tok::Op("*") => UnOp::Deref,
            Tok::Op("&") => UnOp::Addr,
            _ => return self.postfix(),
        };
        self.bump()?;
        self.enter()?;
        let x = self.unary()?;
        self.depth -= 1;
        Ok(Expr::Unary(op, Box::new(x)))
    }

    fn postfix(&mut self) -> Result<Expr, ExprError> {
        let mut e = self.operand()?;
        let mut chain = 0;
        loop {
            chain += 1;
            if self.depth + chain > MAX_NESTING {
                return self.err("expression nested too deeply");
            }
            if self.eat(".")? {
                if self.eat("(")? {
                    let t = self.type_expr()?;
                    self.expect(")")?;
                    e = Expr::Assert(Box::new(e), t);
                    continue;
                }
                match self.bump()? {
                    Tok::Ident(n) => e = Expr::Selector(Box::new(e), n),
                    _ => return self.err("expected a field name or '(' after '.'"),
                }
            } else if self.eat("[")? {
                self.enter()?;
                let lo = if self.is_op(":") { None } else { Some(Box::new(self.expr()?)) };
                if self.eat(":")? {
                    let hi = if self.is_op("]") || self.is_op(":") { None } else { Some(Box::new(self.expr()?)) };
                    let max = if self.eat(":")? {
                        if hi.is_none() {
                            return self.err("middle index required in 3-index slice");
                        }
                        if self.is_op("]") {
                            return self.err("final index required in 3-index slice");
                        }
                        Some(Box::new(self.expr()?))
                    } else {
                        None
                    };
                    self.expect("]")?;
                    e = Expr::Slice(Box::new(e), lo, hi, max);
                } else {
                    self.expect("]")?;
                    let Some(lo) = lo else { return self.err("expected an index") };
                    e = Expr::Index(Box::new(e), lo);
                }
                self.depth -= 1;
            } else if self.eat("(")? {
                self.enter()?;
                let mut args = Vec::new();
                while !self.is_op(")") {
                    args.push(self.expr()?);
                    if !self.eat(",")? {
                        break;
                    }
                }
                self.expect(")")?;
                self.depth -= 1;
                e = Expr::Call(Box::new(e), args);
            } else {
                return Ok(e);
            }
        }
    }

    fn operand(&mut self) -> Result<Expr, ExprError> {
        match &self.tok {
            Tok::Op("(") => {
                self.bump()?;
                self.enter()?;
                let e = self.expr()?;
                self.expect(")")?;
                self.depth -= 1;
                Ok(Expr::Paren(Box::new(e)))
            }
            Tok::Op("[") | Tok::Ident(_) if self.type_start() => Ok(Expr::Type(self.type_expr()?)),
            Tok::Ident(_) => {
                let Tok::Ident(n) = self.bump()? else { unreachable!() };
                Ok(Expr::Ident(n))
            }
            Tok::Path(..) => {
                let Tok::Path(path, name, start) = self.bump()? else { unreachable!() };
                // The same text as Go reads it, for when no package has that path.
                let alt = plain(&self.lex.s[start..self.lex.pos]);
                Ok(Expr::Qualified { path, name, alt: alt.map(Box::new) })
            }
            Tok::Str(_) => {
                let Tok::Str(s) = self.bump()? else { unreachable!() };
                // `"pkg/path".Name`: a quoted package path.
                if self.is_op(".") {
                    let save = (self.lex.pos, self.tok.clone(), self.tok_pos);
                    self.bump()?;
                    if let Tok::Ident(n) = &self.tok {
                        let n = n.clone();
                        self.bump()?;
                        return Ok(Expr::Qualified { path: s, name: n, alt: None });
                    }
                    (self.lex.pos, self.tok, self.tok_pos) = save;
                }
                Ok(Expr::Lit(Lit::Str(s)))
            }
            Tok::Int(_) | Tok::Float(_) | Tok::Imag(_) | Tok::Char(_) => Ok(Expr::Lit(match self.bump()? {
                Tok::Int(v) => Lit::Int(v),
                Tok::Float(v) => Lit::Float(v),
                Tok::Imag(v) => Lit::Imag(v),
                Tok::Char(v) => Lit::Char(v),
                _ => unreachable!(),
            })),
            Tok::Eof => self.err("expected an operand, found the end"),
            t => {
                let t = format!("{t:?}");
                self.err(format!("expected an operand, found {t}"))
            }
        }
    }

    /// A type that cannot be an expression starts here: `[]T`, `[N]T`,
    /// `map[`, `chan `.
    fn type_start(&self) -> bool {
        match &self.tok {
            Tok::Op("[") => true,
            Tok::Ident(n) => (n == "map" && self.lex.s[self.lex.pos..].trim_start().starts_with('['))
                || (n == "chan" && self.lex.s[self.lex.pos..].starts_with(|c: char| c.is_whitespace())),
            _ => false,
        }
    }

    fn type_expr(&mut self) -> Result<TypeExpr, ExprError> {
        self.enter()?;
        let t = match self.bump()? {
            Tok::Op("*") => TypeExpr::Pointer(Box::new(self.type_expr()?)),
            Tok::Op("(") => {
                let t = self.type_expr()?;
                self.expect(")")?;
                t
            }
            Tok::Op("[") => {
                if self.eat("]")? {
                    TypeExpr::Slice(Box::new(self.type_expr()?))
                } else {
                    let Tok::Int(n) = self.bump()? else { return self.err("expected an array length") };
                    self.expect("]")?;
                    let n = u64::try_from(n).map_err(|_| self.err::<()>("bad array length").unwrap_err())?;
                    TypeExpr::Array(n, Box::new(self.type_expr()?))
                }
            }
            Tok::Ident(n) if n == "map" => {
                self.expect("[")?;
                let k = self.type_expr()?;
                self.expect("]")?;
                TypeExpr::Map(Box::new(k), Box::new(self.type_expr()?))
            }
            Tok::Ident(n) if n == "chan" => TypeExpr::Chan(Box::new(self.type_expr()?)),
            Tok::Ident(n) if n == "interface" => {
                self.expect("{")?;
                self.expect("}")?;
                TypeExpr::Name("interface {}".into())
            }
            Tok::Ident(mut n) => {
                if self.is_op(".") {
                    self.bump()?;
                    let Tok::Ident(m) = self.bump()? else { return self.err("expected a type name") };
                    n = format!("{n}.{m}");
                }
                self.type_args(n)?
            }
            Tok::Path(p, n, _) => self.type_args(format!("{p}.{n}"))?,
            Tok::Str(p) => {
                self.expect(".")?;
                let Tok::Ident(m) = self.bump()? else { return self.err("expected a type name") };
                self.type_args(format!("{p}.{m}"))?
            }
            _ => return self.err("expected a type"),
        };
        self.depth -= 1;
        Ok(t)
    }

    /// `pair[int,string]` after a generic type's name.
    fn type_args(&mut self, name: String) -> Result<TypeExpr, ExprError> {
        if !self.is_op("[") {
            return Ok(TypeExpr::Name(name));
        }
        self.bump()?;
        let mut args = Vec::new();
        loop {
            args.push(self.type_expr()?.name());
            if !self.eat(",")? {
                break;
            }
        }
        self.expect("]")?;
        Ok(TypeExpr::Name(format!("{name}[{}]", args.join(","))))
    }
}
