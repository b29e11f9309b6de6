//! DWARF call frame information (`.eh_frame`, `.debug_frame`) of one ELF
//! module: the rules that say, at a pc in C code, where the caller's
//! registers are. gimli parses the sections and runs the CFA programs; this
//! module indexes the FDEs once (so a lookup is a binary search, not a scan
//! of the section) and applies a row to a register set read from the core.

use std::cell::OnceCell;

use gimli::{
    BaseAddresses, CfaRule, DebugFrame, EhFrame, EndianSlice, EvaluationResult, Expression, LittleEndian, Register,
    RegisterRule, UnwindContext, UnwindSection, UnwindTableRow, Value,
};
use object::{Object, ObjectSection};

use crate::memory::Memory;

type R<'a> = EndianSlice<'a, LittleEndian>;

/// DWARF register numbers up to arm64's pc (32) fit in one set.
pub const MAX_REGS: usize = 33;

/// A DWARF-numbered register set where each register is known or not.
/// Unknown is not zero: a rule that needs an unknown register fails instead
/// of inventing a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Regs {
    vals: [u64; MAX_REGS],
    known: u64,
}

impl Default for Regs {
    fn default() -> Regs {
        Regs { vals: [0; MAX_REGS], known: 0 }
    }
}

impl Regs {
    pub fn get(&self, r: u16) -> Option<u64> {
        let i = usize::from(r);
        (i < MAX_REGS && self.known & (1 << i) != 0).then(|| self.vals[i])
    }
    pub fn set(&mut self, r: u16, v: u64) {
        let i = usize::from(r);
        if i < MAX_REGS {
            self.vals[i] = v;
            self.known |= 1 << i;
        }
    }
    pub fn clear(&mut self, r: u16) {
        let i = usize::from(r);
        if i < MAX_REGS {
            self.known &= !(1 << i);
        }
    }
    /// Every register the core recorded for a thread.
    pub fn from_core(regs: &core_reader::Registers) -> Regs {
        let mut out = Regs::default();
        for r in 0..MAX_REGS as u16 {
            if let Some(v) = regs.dwarf(r) {
                out.set(r, v);
            }
        }
        out
    }
}

/// Register roles by DWARF number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchRegs {
    pub sp: u16,
    pub fp: u16,
    /// The column CIEs use for the return address (rip on amd64, x30 on arm64).
    pub ra: u16,
    /// Where the pc itself lives in a [`Regs`] (rip = 16 on amd64, pc = 32 on arm64).
    pub pc: u16,
}

pub const AMD64: ArchRegs = ArchRegs { sp: 7, fp: 6, ra: 16, pc: 16 };
pub const ARM64: ArchRegs = ArchRegs { sp: 31, fp: 29, ra: 30, pc: 32 };

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CfiError {
    #[error("{section} of {module}: cannot unwind pc {pc:#x}: {source}")]
    Parse { module: String, section: &'static str, pc: u64, source: gimli::Error },
    #[error("{module}: the CFA rule at pc {pc:#x} needs register {reg}, which is unknown in this frame")]
    UnknownRegister { module: String, pc: u64, reg: u16 },
    #[error("{module}: the register saved at {addr:#x} (pc {pc:#x}) is unreadable")]
    Memory { module: String, pc: u64, addr: u64 },
    #[error("{module}: DWARF expression at pc {pc:#x}: {what}")]
    Expression { module: String, pc: u64, what: ExprFailure },
}

/// Why a CFI expression gave no value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExprFailure {
    #[error(transparent)]
    Gimli(#[from] gimli::Error),
    #[error(transparent)]
    Memory(#[from] crate::Error),
    #[error("needs unknown register {0}")]
    NeedsRegister(u16),
    #[error("names unknown register {0}")]
    NamesRegister(u16),
    /// An operation the evaluator leaves to its caller that CFI never needs
    /// (TLS, entry values, typed stack values).
    #[error("unsupported operation ({0})")]
    Unsupported(String),
    #[error("unexpected result {0}")]
    Unexpected(String),
    #[error("the CFA expression gave a register, not an address")]
    CfaNotAnAddress,
}

/// The caller's registers, one CFI step up.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    pub caller: Regs,
    pub cfa: u64,
    /// The FDE is a signal trampoline ("S" augmentation): the caller's pc
    /// is where the signal interrupted it, not a return address.
    pub signal_frame: bool,
    /// The return address is undefined: the outermost frame (`_start`,
    /// `clone3`), a normal end of the stack.
    pub outermost: bool,
}

#[derive(Debug, Clone, Copy)]
struct FdeRef {
    start: u64,
    end: u64,
    offset: usize,
}

/// The CFI sections of one module, indexed on first use.
pub struct ModuleCfi {
    module: String,
    /// Link-time address and file range of `.eh_frame`.
    eh_frame: Option<(u64, std::ops::Range<usize>)>,
    text_addr: u64,
    got_addr: u64,
    /// `.debug_frame`, decompressed when the file compresses it.
    debug_frame: Option<Vec<u8>>,
    eh_index: OnceCell<Vec<FdeRef>>,
    debug_index: OnceCell<Vec<FdeRef>>,
}

/// Upper bound of CFI entries read from one section: a corrupt length
/// field must not make indexing loop.
const MAX_ENTRIES: usize = 4_000_000;
/// Steps a DWARF expression may take (a loop in a corrupt expression).
const MAX_EXPR_STEPS: u32 = 10_000;

impl ModuleCfi {
    /// Find the CFI sections of the ELF file `data`; `module` names it in errors.
    pub fn new(module: &str, data: &[u8]) -> ModuleCfi {
        let mut m = ModuleCfi {
            module: module.to_string(),
            eh_frame: None,
            text_addr: 0,
            got_addr: 0,
            debug_frame: None,
            eh_index: OnceCell::new(),
            debug_index: OnceCell::new(),
        };
        let Ok(obj) = object::File::parse(data) else { return m };
        if let Some(s) = obj.section_by_name(".eh_frame") {
            if let Some((off, len)) = s.file_range() {
                let (Ok(o), Ok(l)) = (usize::try_from(off), usize::try_from(len)) else { return m };
                if o.checked_add(l).is_some_and(|e| e <= data.len()) {
                    m.eh_frame = Some((s.address(), o..o + l));
                }
            }
        }
        m.text_addr = obj.section_by_name(".text").map_or(0, |s| s.address());
        m.got_addr = obj.section_by_name(".got").map_or(0, |s| s.address());
        if let Some(s) = obj.section_by_name(".debug_frame") {
            // Capped decompression (see binary::sections).
            if let Ok(d) = crate::binary::sections::section_bytes(&s) {
                m.debug_frame = Some(d);
            }
        }
        m
    }

    pub fn has_cfi(&self) -> bool {
        self.eh_frame.is_some() || self.debug_frame.is_some()
    }

    fn bases(&self) -> BaseAddresses {
        let b = BaseAddresses::default().set_text(self.text_addr).set_got(self.got_addr);
        match &self.eh_frame {
            Some((addr, _)) => b.set_eh_frame(*addr),
            None => b,
        }
    }

    /// One step up from `regs`, whose pc is at link-time address
    /// `link_pc` in this module (already backed up into the call for a
    /// return address). `Ok(None)`: no FDE covers the pc.
    pub fn step(
        &self,
        data: &[u8],
        link_pc: u64,
        regs: &Regs,
        arch: ArchRegs,
        mem: &dyn Memory,
    ) -> Result<Option<Step>, CfiError> {
        let bases = self.bases();
        if let Some((_, range)) = &self.eh_frame {
            if let Some(bytes) = data.get(range.clone()) {
                let sec = EhFrame::new(bytes, LittleEndian);
                let index = self.eh_index.get_or_init(|| index(&sec, &bases));
                if let Some(f) = find(index, link_pc) {
                    return self.apply(&sec, ".eh_frame", &bases, f.offset, link_pc, regs, arch, mem).map(Some);
                }
            }
        }
        if let Some(bytes) = &self.debug_frame {
            let mut sec = DebugFrame::new(bytes, LittleEndian);
            sec.set_address_size(8);
            let index = self.debug_index.get_or_init(|| index(&sec, &bases));
            if let Some(f) = find(index, link_pc) {
                return self.apply(&sec, ".debug_frame", &bases, f.offset, link_pc, regs, arch, mem).map(Some);
            }
        }
        Ok(None)
    }

    #[allow(clippy::too_many_arguments)]
    fn apply<'a, S: UnwindSection<R<'a>>>(
        &self,
        sec: &S,
        section: &'static str,
        bases: &BaseAddresses,
        offset: usize,
        link_pc: u64,
        regs: &Regs,
        arch: ArchRegs,
        mem: &dyn Memory,
    ) -> Result<Step, CfiError> {
        let parse = |source| CfiError::Parse { module: self.module.clone(), section, pc: link_pc, source };
        let fde = sec.fde_from_offset(bases, S::Offset::from(offset), S::cie_from_offset).map_err(parse)?;
        let mut ctx = UnwindContext::new();
        let row: &UnwindTableRow<usize> =
            fde.unwind_info_for_address(sec, bases, &mut ctx, link_pc).map_err(parse)?;
        let encoding = fde.cie().encoding();
        let eval = |e: Expression<R<'a>>, initial: Option<u64>| -> Result<(u64, bool), CfiError> {
            evaluate(e, encoding, initial, regs, mem)
                .map_err(|what| CfiError::Expression { module: self.module.clone(), pc: link_pc, what })
        };
        let cfa = match row.cfa() {
            CfaRule::RegisterAndOffset { register, offset } => regs
                .get(register.0)
                .ok_or(CfiError::UnknownRegister { module: self.module.clone(), pc: link_pc, reg: register.0 })?
                .wrapping_add(*offset as u64),
            CfaRule::Expression(e) => {
                let e = e.get(sec).map_err(parse)?;
                let (v, is_addr) = eval(e, None)?;
                if is_addr {
                    v
                } else {
                    return Err(CfiError::Expression {
                        module: self.module.clone(),
                        pc: link_pc,
                        what: ExprFailure::CfaNotAnAddress,
                    });
                }
            }
        };
        let read = |addr: u64| {
            mem.u64(addr).map_err(|_| CfiError::Memory { module: self.module.clone(), pc: link_pc, addr })
        };
        // Registers the row does not mention keep their values: callee-saved
        // by convention, and the rest is never needed to find a caller.
        let mut caller = *regs;
        let mut ra_undefined = false;
        let mut ra_seen = false;
        for (reg, rule) in row.registers() {
            let v = match rule {
                RegisterRule::Undefined => None,
                RegisterRule::SameValue => regs.get(reg.0),
                RegisterRule::Offset(n) => Some(read(cfa.wrapping_add(*n as u64))?),
                RegisterRule::ValOffset(n) => Some(cfa.wrapping_add(*n as u64)),
                RegisterRule::Register(r) => regs.get(r.0),
                RegisterRule::Expression(e) => {
                    let (a, _) = eval(e.get(sec).map_err(parse)?, Some(cfa))?;
                    Some(read(a)?)
                }
                RegisterRule::ValExpression(e) => Some(eval(e.get(sec).map_err(parse)?, Some(cfa))?.0),
                RegisterRule::Constant(c) => Some(*c),
                RegisterRule::Architectural => None,
            };
            if *reg == Register(arch.ra) {
                ra_seen = true;
                ra_undefined = v.is_none();
            }
            match v {
                Some(v) => caller.set(reg.0, v),
                None => caller.clear(reg.0),
            }
        }
        // On amd64 the return address column is rip itself; an FDE that does
        // not describe it leaves the return address unknown. On arm64 a leaf
        // keeps it in x30.
        if !ra_seen && arch.ra == arch.pc {
            ra_undefined = true;
        }
        caller.set(arch.sp, cfa);
        match caller.get(arch.ra) {
            Some(ra) if !ra_undefined => caller.set(arch.pc, ra),
            _ => {
                ra_undefined = true;
                caller.clear(arch.pc);
            }
        }
        Ok(Step { caller, cfa, signal_frame: fde.is_signal_trampoline(), outermost: ra_undefined })
    }
}

/// Index the FDEs of a section by address. Entries that do not parse are
/// left out (their pcs fall back to frame pointers); a broken entry chain
/// ends the index.
fn index<'a, S: UnwindSection<R<'a>>>(sec: &S, bases: &BaseAddresses) -> Vec<FdeRef> {
    let mut out = Vec::new();
    let mut entries = sec.entries(bases);
    for _ in 0..MAX_ENTRIES {
        match entries.next() {
            Ok(Some(gimli::CieOrFde::Fde(partial))) => {
                let offset = partial.offset();
                if let Ok(fde) = partial.parse(S::cie_from_offset) {
                    if fde.len() > 0 {
                        out.push(FdeRef { start: fde.initial_address(), end: fde.end_address(), offset });
                    }
                }
            }
            Ok(Some(gimli::CieOrFde::Cie(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    out.sort_by_key(|f| (f.start, f.end));
    out
}

fn find(index: &[FdeRef], pc: u64) -> Option<FdeRef> {
    let i = index.partition_point(|f| f.start <= pc);
    // FDEs do not nest; the nearest start at or below pc is the only candidate.
    let f = *index.get(i.checked_sub(1)?)?;
    (pc < f.end).then_some(f)
}

/// Run a CFI expression; `initial` is pushed first (the CFA, for register
/// rules). Returns the value and whether it is an address (a memory
/// location) rather than a value.
fn evaluate(
    e: Expression<R<'_>>,
    encoding: gimli::Encoding,
    initial: Option<u64>,
    regs: &Regs,
    mem: &dyn Memory,
) -> Result<(u64, bool), ExprFailure> {
    let mut ev = e.evaluation(encoding);
    ev.set_max_iterations(MAX_EXPR_STEPS);
    if let Some(v) = initial {
        ev.set_initial_value(v);
    }
    let mut res = ev.evaluate()?;
    loop {
        res = match res {
            EvaluationResult::Complete => break,
            EvaluationResult::RequiresMemory { address, size, .. } => {
                let mut b = [0u8; 8];
                let n = usize::from(size).min(8);
                mem.read(address, &mut b[..n])?;
                ev.resume_with_memory(Value::Generic(u64::from_le_bytes(b)))?
            }
            EvaluationResult::RequiresRegister { register, .. } => {
                let v = regs.get(register.0).ok_or(ExprFailure::NeedsRegister(register.0))?;
                ev.resume_with_register(Value::Generic(v))?
            }
            other => return Err(ExprFailure::Unsupported(format!("{other:?}"))),
        };
    }
    let pieces = ev.result();
    match pieces.first().map(|p| &p.location) {
        Some(gimli::Location::Address { address }) => Ok((*address, true)),
        Some(gimli::Location::Value { value }) => Ok((value.to_u64(u64::MAX)?, false)),
        Some(gimli::Location::Register { register }) => {
            regs.get(register.0).map(|v| (v, false)).ok_or(ExprFailure::NamesRegister(register.0))
        }
        other => Err(ExprFailure::Unexpected(format!("{other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regs_track_known_values() {
        let mut r = Regs::default();
        assert_eq!(r.get(7), None);
        r.set(7, 0x1000);
        assert_eq!(r.get(7), Some(0x1000));
        r.clear(7);
        assert_eq!(r.get(7), None);
        r.set(200, 1); // out of range: ignored, no panic
        assert_eq!(r.get(200), None);
    }

    #[test]
    fn fde_index_lookup() {
        let idx = [FdeRef { start: 0x100, end: 0x180, offset: 1 }, FdeRef { start: 0x200, end: 0x210, offset: 2 }];
        assert_eq!(find(&idx, 0x17f).map(|f| f.offset), Some(1));
        assert_eq!(find(&idx, 0x180).map(|f| f.offset), None);
        assert_eq!(find(&idx, 0x205).map(|f| f.offset), Some(2));
        assert_eq!(find(&idx, 0x50).map(|f| f.offset), None);
    }

    /// The real `.eh_frame` of the machine's libc: at a function's entry
    /// the CFA is rsp+8 and the return address sits at rsp.
    #[test]
    fn libc_function_entry() {
        use object::ObjectSymbol;
        let path = "/lib/x86_64-linux-gnu/libc.so.6";
        let Ok(data) = std::fs::read(path) else {
            assert!(!::tests::tools::in_ci(), "{path} missing in CI");
            eprintln!("\n!!!!! SKIPPED: {path} is not available !!!!!\n");
            return;
        };
        let obj = object::File::parse(&data[..]).unwrap();
        let sleep = obj.dynamic_symbols().find(|s| s.name() == Ok("sleep")).unwrap().address();
        let m = ModuleCfi::new("libc.so.6", &data);
        assert!(m.has_cfi());
        let (sp, ra) = (0x7000_0000u64, 0x40_1234u64);
        let mem = crate::memory::VecMemory { regions: vec![(sp, ra.to_le_bytes().to_vec())] };
        let mut regs = Regs::default();
        regs.set(AMD64.sp, sp);
        regs.set(AMD64.pc, sleep);
        let step = m.step(&data, sleep, &regs, AMD64, &mem).unwrap().expect("an FDE covers sleep");
        assert_eq!(step.cfa, sp + 8);
        assert_eq!(step.caller.get(AMD64.pc), Some(ra));
        assert_eq!(step.caller.get(AMD64.sp), Some(sp + 8));
        assert!(!step.outermost && !step.signal_frame);
        // The same pc with an unreadable stack: an error naming the address.
        let empty = crate::memory::VecMemory::default();
        let e = m.step(&data, sleep, &regs, AMD64, &empty).unwrap_err().to_string();
        assert!(e.contains("0x70000000"), "{e}");
    }

    #[test]
    fn garbage_is_no_cfi() {
        let m = ModuleCfi::new("junk", b"\x7fELF garbage");
        assert!(!m.has_cfi());
        let mem = crate::memory::VecMemory::default();
        assert!(m.step(b"", 0x1000, &Regs::default(), AMD64, &mem).unwrap().is_none());
    }
}
