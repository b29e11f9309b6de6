//! Location descriptions: where a variable lives at a pc. Go describes stack
//! slots relative to DW_OP_call_frame_cfa (the frame base), which for Go is
//! the caller's SP: on amd64 the frame's sp + framesize + 8 (the return
//! address), i.e. exactly the unwinder's `fp`. Register-allocated values
//! (regabi arguments, the innermost frame) use DW_OP_regN, often as
//! DW_OP_piece lists mixing registers and stack slots.

use gimli::{AttributeValue, Location, Piece, Reader};

use super::{DebugInfo, R};
use crate::memory::Memory;

#[derive(Debug, Clone)]
pub enum VarLocation {
    None,
    Expr(gimli::Expression<R>),
    List(gimli::LocationListsOffset),
}

impl VarLocation {
    pub fn from_attr(v: Option<AttributeValue<R>>) -> VarLocation {
        match v {
            Some(AttributeValue::Exprloc(e)) => VarLocation::Expr(e),
            Some(AttributeValue::LocationListsRef(o)) => VarLocation::List(o),
            Some(AttributeValue::SecOffset(o)) => VarLocation::List(gimli::LocationListsOffset(o)),
            _ => VarLocation::None,
        }
    }
}

/// Where the bytes of a value are.
#[derive(Debug, Clone)]
pub enum Place {
    /// In memory at this (runtime) address.
    Memory(u64),
    /// Assembled from registers and memory pieces; `known` marks the bytes
    /// some piece described (None: all of them), `why` says why the others
    /// are missing.
    Bytes { bytes: Vec<u8>, known: Option<Vec<bool>>, why: String },
    /// Not available at this pc, with why.
    Unavailable(String),
}

/// What the evaluation may use besides memory.
pub struct FrameContext<'a> {
    /// The frame's CFA (the unwinder's fp).
    pub cfa: u64,
    /// Registers by DWARF number, only for a frame whose registers are known
    /// (the innermost frame of a thread's goroutine, or a signal frame).
    pub regs: Option<&'a dyn Fn(u16) -> Option<u64>>,
    pub mem: &'a dyn Memory,
    /// Runtime minus link-time address (PIE).
    pub bias: u64,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocError {
    #[error("location list at {offset:#x}: {source}")]
    List { offset: usize, source: gimli::Error },
    #[error("location expression: {0}")]
    Expr(gimli::Error),
    #[error("unsupported location operation: {0}")]
    Unsupported(String),
}

/// The address of a package variable: DW_OP_addr (link-time).
pub fn static_address(v: Option<AttributeValue<R>>, unit: &gimli::Unit<R>) -> Option<u64> {
    let AttributeValue::Exprloc(e) = v? else { return None };
    let mut ops = e.operations(unit.encoding());
    match ops.next().ok()?? {
        gimli::Operation::Address { address } => Some(address),
        _ => None,
    }
}

impl DebugInfo {
    /// Evaluate a variable's location at link-time `pc`; `size` is its type's size.
    pub fn place(&self, var: &super::Var, pc: u64, size: u64, cx: &FrameContext) -> Result<Place, LocError> {
        match self.pieces(var, pc, cx)? {
            Ok(pieces) => assemble(&pieces, size, cx),
            Err(p) => Ok(p),
        }
    }

    /// The parts of a variable (of `size` bytes) that are in memory at
    /// link-time `pc`: (offset in the value, runtime address, length), for
    /// naming the stack slots a frame's variables occupy. Register and
    /// optimized-away pieces are left out.
    pub fn memory_parts(&self, var: &super::Var, pc: u64, size: u64, cx: &FrameContext) -> Result<Vec<(u64, u64, u64)>, LocError> {
        let Ok(pieces) = self.pieces(var, pc, cx)? else { return Ok(Vec::new()) };
        let mut out = Vec::new();
        let mut off = 0u64;
        for p in &pieces {
            let n = match p.size_in_bits {
                Some(b) => b.div_ceil(8),
                None => size.saturating_sub(off),
            };
            if let Location::Address { address } = p.location {
                if n > 0 {
                    out.push((off, address, n));
                }
            }
            off = off.saturating_add(n);
        }
        Ok(out)
    }

    /// Evaluate a variable's location expression at `pc` to its pieces, or
    /// the place it has when it has none (not live, optimized away).
    fn pieces(&self, var: &super::Var, pc: u64, cx: &FrameContext) -> Result<Result<Vec<Piece<R>>, Place>, LocError> {
        let unit = self.unit(var.unit);
        let expr = match &var.loc {
            VarLocation::None => return Ok(Err(Place::Unavailable("optimized away".into()))),
            VarLocation::Expr(e) => e.clone(),
            VarLocation::List(off) => {
                let mut it = self
                    .dwarf
                    .locations(unit, *off)
                    .map_err(|source| LocError::List { offset: off.0, source })?;
                let mut found = None;
                while let Some(entry) = it.next().map_err(|source| LocError::List { offset: off.0, source })? {
                    if pc >= entry.range.begin && pc < entry.range.end {
                        found = Some(entry.data);
                        break;
                    }
                }
                match found {
                    Some(e) => e,
                    None => return Ok(Err(Place::Unavailable("not live at this pc".into()))),
                }
            }
        };
        if expr.0.is_empty() {
            return Ok(Err(Place::Unavailable("optimized away".into())));
        }
        let mut eval = expr.evaluation(unit.encoding());
        let mut res = eval.evaluate().map_err(LocError::Expr)?;
        loop {
            use gimli::EvaluationResult as E;
            res = match res {
                E::Complete => break,
                E::RequiresCallFrameCfa => eval.resume_with_call_frame_cfa(cx.cfa),
                E::RequiresFrameBase => eval.resume_with_frame_base(cx.cfa),
                E::RequiresRelocatedAddress(a) => eval.resume_with_relocated_address(a.wrapping_add(cx.bias)),
                E::RequiresRegister { register, .. } => match cx.regs.and_then(|r| r(register.0)) {
                    Some(v) => eval.resume_with_register(gimli::Value::Generic(v)),
                    None => return Ok(Err(Place::Unavailable("in register".into()))),
                },
                E::RequiresMemory { address, size, .. } => {
                    let mut b = [0u8; 8];
                    let n = (size as usize).min(8);
                    if cx.mem.read(address, &mut b[..n]).is_err() {
                        return Ok(Err(Place::Unavailable(format!("unreadable address {address:#x} in location"))));
                    }
                    eval.resume_with_memory(gimli::Value::Generic(u64::from_le_bytes(b)))
                }
                other => return Err(LocError::Unsupported(format!("{other:?}"))),
            }
            .map_err(LocError::Expr)?;
        }
        Ok(Ok(eval.result()))
    }
}

/// Turn the evaluation's pieces into a place.
fn assemble(pieces: &[Piece<R>], size: u64, cx: &FrameContext) -> Result<Place, LocError> {
    if let [Piece { location: Location::Address { address }, size_in_bits: None, .. }] = pieces {
        return Ok(Place::Memory(*address));
    }
    // Pieces, in order; a lone location without a size covers the whole
    // value. A piece with no location (optimized away) or in a register the
    // frame does not have leaves its bytes unknown: the rest still prints.
    let mut bytes = Vec::new();
    let mut known = Vec::new();
    let mut why = String::new();
    let mut missing = |bytes: &mut Vec<u8>, known: &mut Vec<bool>, n: usize, reason: &str| {
        if why.is_empty() {
            why = reason.to_string();
        }
        bytes.extend(std::iter::repeat_n(0, n));
        known.extend(std::iter::repeat_n(false, n));
    };
    for p in pieces {
        let n = match p.size_in_bits {
            Some(b) => b.div_ceil(8),
            None => size.saturating_sub(bytes.len() as u64),
        }
        .min(1 << 16) as usize;
        match &p.location {
            Location::Empty => missing(&mut bytes, &mut known, n, "optimized away"),
            Location::Register { register } => match cx.regs.and_then(|r| r(register.0)) {
                Some(v) => {
                    let b = v.to_le_bytes();
                    for i in 0..n {
                        bytes.push(*b.get(i).unwrap_or(&0));
                        known.push(true);
                    }
                }
                None => missing(&mut bytes, &mut known, n, "in register"),
            },
            Location::Address { address } => {
                let mut b = vec![0u8; n];
                match cx.mem.read(*address, &mut b) {
                    Ok(()) => {
                        bytes.extend_from_slice(&b);
                        known.extend(std::iter::repeat_n(true, n));
                    }
                    Err(e) => missing(&mut bytes, &mut known, n, &format!("unreadable: {e}")),
                }
            }
            Location::Value { value } => {
                let v = match value {
                    gimli::Value::Generic(v) | gimli::Value::U64(v) => *v,
                    gimli::Value::I64(v) => *v as u64,
                    gimli::Value::F64(f) => f.to_bits(),
                    other => return Err(LocError::Unsupported(format!("{other:?}"))),
                };
                let b = v.to_le_bytes();
                for i in 0..n {
                    bytes.push(*b.get(i).unwrap_or(&0));
                    known.push(true);
                }
            }
            Location::Bytes { value } => {
                let v = value.to_slice().map_err(LocError::Expr)?;
                known.extend(std::iter::repeat_n(true, v.len()));
                bytes.extend_from_slice(&v);
            }
            Location::ImplicitPointer { .. } => return Err(LocError::Unsupported("implicit pointer".into())),
        }
    }
    let len = size.min(1 << 16) as usize;
    bytes.resize(len, 0);
    known.resize(len, false);
    if !known.iter().any(|k| *k) {
        return Ok(Place::Unavailable(if why.is_empty() { "optimized away".into() } else { why }));
    }
    let all = known.iter().all(|k| *k);
    Ok(Place::Bytes { bytes, known: (!all).then_some(known), why })
}
