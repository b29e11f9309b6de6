//! The Go pclntab ("PC line table"): the function table the runtime itself
//! uses for tracebacks. It is present in every Go binary, stripped or not,
//! so it is our primary source of function names, file:line, frame sizes and
//! inlining. Layout facts come from runtime/symtab.go (`pcHeader`, `_func`,
//! `functab`, `pcvalue`/`step`) of Go 1.18..1.27.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Error, Result};

/// Which layout of the table this binary uses, from the header magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PclnVersion {
    /// 0xfffffff0: Go 1.18 and 1.19.
    Go118,
    /// 0xfffffff1: Go 1.20 and later (adds `_func.startLine`).
    Go120,
}

pub const MAGIC_GO12: u32 = 0xfffffffb;
pub const MAGIC_GO116: u32 = 0xfffffffa;
pub const MAGIC_GO118: u32 = 0xfffffff0;
pub const MAGIC_GO120: u32 = 0xfffffff1;

/// `abi.FuncFlag` bits.
pub const FUNC_FLAG_TOPFRAME: u8 = 1;
pub const FUNC_FLAG_SPWRITE: u8 = 2;
pub const FUNC_FLAG_ASM: u8 = 4;

pub const PCDATA_INL_TREE_INDEX: u32 = 2;
pub const FUNCDATA_INL_TREE: u32 = 3;

/// Cap on the length of a NUL-terminated name: the tables are untrusted input.
const MAX_NAME: usize = 1 << 16;

#[derive(Debug)]
pub struct Pclntab {
    /// Link-time address of the header.
    pub addr: u64,
    pub version: PclnVersion,
    pub quantum: u8,
    pub ptr_size: u8,
    pub nfunc: usize,
    /// Link-time address that `entryOff`s are relative to.
    pub text_start: u64,
    data: Vec<u8>,
    funcname_off: usize,
    cu_off: usize,
    filetab_off: usize,
    pctab_off: usize,
    pcln_off: usize,
    /// Identifies this table in the per-thread caches below (never reused,
    /// so a table opened later cannot see an earlier one's entries).
    id: u64,
}

static NEXT_TABLE_ID: AtomicU64 = AtomicU64::new(1);
/// Entries a thread's cache holds before it is emptied.
const CACHE_CAP: usize = 1 << 16;

type WordMap<K, V> = HashMap<K, V, BuildHasherDefault<WordHasher>>;

thread_local! {
    /// Decoded pc-value lookups, (table id, table offset, entry, pc) ->
    /// value: 100,000 goroutines stop at a handful of pcs, and each lookup
    /// otherwise decodes the table from the entry. Per thread, so the
    /// threads that walk goroutines never wait on one another.
    static PCVALUES: RefCell<WordMap<(u64, u32, u64, u64), Option<i32>>> = RefCell::default();
    /// Names and file names handed out as shared strings, (table id, where
    /// the string starts) -> string: every frame of 100,000 goroutines
    /// names one of a few functions.
    static STRINGS: RefCell<WordMap<(u64, usize), Arc<str>>> = RefCell::default();
}

/// A multiply-rotate hash for the caches' integer keys; SipHash's
/// protection against chosen keys buys nothing here and costs a lot.
#[derive(Default)]
struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u32(&mut self, v: u32) {
        self.write_u64(u64::from(v));
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
}

/// One function's `_func` record, decoded.
#[derive(Debug, Clone)]
pub struct Func {
    /// Link-time entry address.
    pub entry: u64,
    /// Link-time end (the next function's entry).
    pub end: u64,
    /// Offset of the `_func` record inside the pclntab data.
    pub(crate) off: usize,
    pub name_off: i32,
    pub args: i32,
    pub deferreturn: u32,
    pub pcsp: u32,
    pub pcfile: u32,
    pub pcln: u32,
    pub npcdata: u32,
    pub cu_offset: u32,
    pub start_line: i32,
    pub func_id: u8,
    pub flag: u8,
    pub nfuncdata: u8,
}

impl Func {
    pub fn is_topframe(&self) -> bool {
        self.flag & FUNC_FLAG_TOPFRAME != 0
    }
    pub fn is_spwrite(&self) -> bool {
        self.flag & FUNC_FLAG_SPWRITE != 0
    }
}

fn le_u32(d: &[u8], off: usize) -> Option<u32> {
    d.get(off..off.checked_add(4)?).map(|b| u32::from_le_bytes(b.try_into().unwrap()))
}
fn le_u64(d: &[u8], off: usize) -> Option<u64> {
    d.get(off..off.checked_add(8)?).map(|b| u64::from_le_bytes(b.try_into().unwrap()))
}

impl Pclntab {
    /// Parse a pclntab whose header is at link address `addr`; `data` runs
    /// from the header to (at least) the end of the table.
    /// `text_hint` is used when the header's textStart is zero (PIE files
    /// whose header is filled in by a dynamic relocation).
    pub fn parse(addr: u64, data: Vec<u8>, text_hint: Option<u64>) -> Result<Pclntab> {
        let err = |what: &str| Error::Pclntab { addr, what: what.to_string() };
        let magic = le_u32(&data, 0).ok_or_else(|| err("truncated header"))?;
        let version = match magic {
            MAGIC_GO120 => PclnVersion::Go120,
            MAGIC_GO118 => PclnVersion::Go118,
            MAGIC_GO116 | MAGIC_GO12 => {
                return Err(err("Go 1.2-1.17 pclntab: Go older than 1.18 is not supported"))
            }
            m => return Err(err(&format!("bad magic {m:#x}"))),
        };
        if data.len() < 8 || data[4] != 0 || data[5] != 0 {
            return Err(err("bad header padding"));
        }
        let quantum = data[6];
        let ptr_size = data[7];
        if !matches!(quantum, 1 | 2 | 4) || ptr_size != 8 {
            return Err(err(&format!("unsupported quantum {quantum} / pointer size {ptr_size}")));
        }
        let word = |i: usize| le_u64(&data, 8 + 8 * i).ok_or_else(|| err("truncated header"));
        let nfunc = word(0)?;
        let mut text_start = word(2)?;
        if text_start == 0 {
            text_start = text_hint.unwrap_or(0);
        }
        let off = |i: usize| -> Result<usize> {
            let v = word(i)?;
            if v as usize >= data.len() {
                return Err(err(&format!("header offset {i} = {v:#x} past the table")));
            }
            Ok(v as usize)
        };
        let t = Pclntab {
            addr,
            version,
            quantum,
            ptr_size,
            nfunc: nfunc as usize,
            text_start,
            funcname_off: off(3)?,
            cu_off: off(4)?,
            filetab_off: off(5)?,
            pctab_off: off(6)?,
            pcln_off: off(7)?,
            data,
            id: NEXT_TABLE_ID.fetch_add(1, Ordering::Relaxed),
        };
        if !ftab_fits(nfunc, t.pcln_off, t.data.len()) {
            return Err(err(&format!("nfunc {nfunc} does not fit the table")));
        }
        Ok(t)
    }

    /// What [`parse`](Self::parse) checks of the header, without copying
    /// the table: for scans that try many candidate offsets.
    pub fn header_fits(d: &[u8]) -> bool {
        if !looks_like_header(d) || d[7] != 8 || !matches!(le_u32(d, 0), Some(MAGIC_GO120 | MAGIC_GO118)) {
            return false;
        }
        let word = |i: usize| le_u64(d, 8 + 8 * i);
        let (Some(nfunc), Some(pcln)) = (word(0), word(7)) else { return false };
        (3..=7).all(|i| word(i).is_some_and(|v| v < d.len() as u64)) && ftab_fits(nfunc, pcln as usize, d.len())
    }

    pub fn data(&self) -> &[u8] {
        &self.data
    }

    fn ftab_entry(&self, i: usize) -> (u32, u32) {
        let o = self.pcln_off + i * 8;
        (le_u32(&self.data, o).unwrap_or(0), le_u32(&self.data, o + 4).unwrap_or(0))
    }

    /// Lowest and highest link-time pc covered by the table.
    pub fn pc_range(&self) -> (u64, u64) {
        (
            self.text_start.wrapping_add(self.ftab_entry(0).0 as u64),
            self.text_start.wrapping_add(self.ftab_entry(self.nfunc).0 as u64),
        )
    }

    /// The function containing link-time `pc`.
    pub fn find_func(&self, pc: u64) -> Option<Func> {
        let (lo, hi) = self.pc_range();
        if pc < lo || pc >= hi {
            return None;
        }
        let rel = pc.wrapping_sub(self.text_start);
        // Binary search for the last entry <= rel.
        let (mut a, mut b) = (0usize, self.nfunc);
        while b - a > 1 {
            let m = (a + b) / 2;
            if self.ftab_entry(m).0 as u64 <= rel {
                a = m;
            } else {
                b = m;
            }
        }
        self.func_at(a)
    }

    /// The i-th function of the table.
    pub fn func_at(&self, i: usize) -> Option<Func> {
        if i >= self.nfunc {
            return None;
        }
        let (entry_off, func_off) = self.ftab_entry(i);
        let end_off = self.ftab_entry(i + 1).0;
        let o = self.pcln_off.checked_add(func_off as usize)?;
        let d = &self.data;
        let u = |k: usize| le_u32(d, o + k);
        let (start_line, id_off) = match self.version {
            PclnVersion::Go120 => (u(36)? as i32, 40),
            PclnVersion::Go118 => (0, 36),
        };
        let f = Func {
            entry: self.text_start.wrapping_add(u(0)? as u64),
            end: self.text_start.wrapping_add(end_off as u64),
            off: o,
            name_off: u(4)? as i32,
            args: u(8)? as i32,
            deferreturn: u(12)?,
            pcsp: u(16)?,
            pcfile: u(20)?,
            pcln: u(24)?,
            npcdata: u(28)?,
            cu_offset: u(32)?,
            start_line,
            func_id: *d.get(o + id_off)?,
            flag: *d.get(o + id_off + 1)?,
            nfuncdata: *d.get(o + id_off + 3)?,
        };
        // The ftab and the record must agree; a mismatch means we are not
        // reading what we think we are.
        if u(0)? != entry_off {
            return None;
        }
        Some(f)
    }

    fn pcdata_base(&self, f: &Func) -> usize {
        f.off
            + match self.version {
                PclnVersion::Go120 => 44,
                PclnVersion::Go118 => 40,
            }
    }

    /// Offset of pcdata table `i` of `f` (0 when absent).
    pub fn pcdata_off(&self, f: &Func, i: u32) -> u32 {
        if i >= f.npcdata {
            return 0;
        }
        le_u32(&self.data, self.pcdata_base(f) + 4 * i as usize).unwrap_or(0)
    }

    /// Offset of funcdata `i` relative to moduledata.gofunc, if present.
    pub fn funcdata_off(&self, f: &Func, i: u32) -> Option<u32> {
        if i >= f.nfuncdata as u32 {
            return None;
        }
        let o = self.pcdata_base(f) + 4 * f.npcdata as usize + 4 * i as usize;
        match le_u32(&self.data, o)? {
            u32::MAX => None,
            v => Some(v),
        }
    }

    /// A NUL-terminated name from the function name table.
    pub fn name_at(&self, name_off: i32) -> Option<&str> {
        if name_off < 0 {
            return None;
        }
        let start = self.funcname_off.checked_add(name_off as usize)?;
        cstr(&self.data, start)
    }

    pub fn func_name(&self, f: &Func) -> &str {
        self.name_at(f.name_off).unwrap_or("?")
    }

    /// Decode the pc-value table at `off` and return the value at link-time
    /// `pc` (the runtime's `pcvalue`).
    pub fn pcvalue(&self, off: u32, entry: u64, pc: u64) -> Option<i32> {
        if off == 0 {
            return None;
        }
        // The linker shares identical tables between functions: the entry
        // is part of the key.
        let key = (self.id, off, entry, pc);
        if let Some(v) = PCVALUES.with(|c| c.borrow().get(&key).copied()) {
            return v;
        }
        let v = self.decode_pcvalue(off, entry, pc);
        PCVALUES.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CACHE_CAP {
                c.clear();
            }
            c.insert(key, v);
        });
        v
    }

    fn decode_pcvalue(&self, off: u32, entry: u64, pc: u64) -> Option<i32> {
        let mut p = self.pctab_off.checked_add(off as usize)?;
        let mut val: i32 = -1;
        let mut cur = entry;
        let mut first = true;
        // Each step consumes at least one byte, so the table length bounds the loop.
        for _ in 0..self.data.len() {
            let (uv, n) = varint(&self.data, p)?;
            p += n;
            if uv == 0 && !first {
                return None;
            }
            first = false;
            let delta = ((uv >> 1) as i64) ^ -((uv & 1) as i64);
            val = val.wrapping_add(delta as i32);
            let (pcd, n) = varint(&self.data, p)?;
            p += n;
            cur = cur.checked_add(pcd.checked_mul(self.quantum as u64)?)?;
            if pc < cur {
                return Some(val);
            }
        }
        None
    }

    /// SP offset at `pc` relative to the function's entry SP (pcsp).
    pub fn sp_delta(&self, f: &Func, pc: u64) -> Option<i32> {
        self.pcvalue(f.pcsp, f.entry, pc)
    }

    pub fn line(&self, f: &Func, pc: u64) -> Option<i32> {
        self.pcvalue(f.pcln, f.entry, pc)
    }

    pub fn file(&self, f: &Func, pc: u64) -> Option<&str> {
        cstr(&self.data, self.file_start(f, pc)?)
    }

    /// Where in the table the name of the file at `pc` starts.
    fn file_start(&self, f: &Func, pc: u64) -> Option<usize> {
        let fileno = self.pcvalue(f.pcfile, f.entry, pc)?;
        if fileno < 0 {
            return None;
        }
        let ci = self.cu_off.checked_add(4 * (f.cu_offset as usize + fileno as usize))?;
        let foff = le_u32(&self.data, ci)?;
        if foff == u32::MAX {
            return None;
        }
        self.filetab_off.checked_add(foff as usize)
    }

    /// The NUL-terminated string at `start` in the table as a shared
    /// string, "?" when there is none.
    fn shared_at(&self, start: Option<usize>) -> Arc<str> {
        let text = |st: Option<usize>| st.and_then(|st| cstr(&self.data, st)).unwrap_or("?");
        let Some(key) = start else { return Arc::from("?") };
        STRINGS.with(|c| {
            let mut c = c.borrow_mut();
            if c.len() >= CACHE_CAP {
                c.clear();
            }
            c.entry((self.id, key)).or_insert_with(|| Arc::from(text(start))).clone()
        })
    }

    /// [`Pclntab::name_at`] as a shared string ("?" when unreadable).
    pub fn shared_name(&self, name_off: i32) -> Arc<str> {
        let start = usize::try_from(name_off).ok().and_then(|o| self.funcname_off.checked_add(o));
        self.shared_at(start)
    }

    /// [`Pclntab::file_line`] with the file as a shared string.
    pub fn shared_file_line(&self, f: &Func, pc: u64) -> (Arc<str>, i64) {
        (self.shared_at(self.file_start(f, pc)), self.line(f, pc).map(|l| l as i64).unwrap_or(0))
    }

    /// file:line at `pc`, "?" and 0 when unknown (as the runtime prints).
    pub fn file_line(&self, f: &Func, pc: u64) -> (String, i64) {
        (
            self.file(f, pc).unwrap_or("?").to_string(),
            self.line(f, pc).map(|l| l as i64).unwrap_or(0),
        )
    }

    /// Iterate every function (for lookups by name).
    pub fn funcs(&self) -> impl Iterator<Item = Func> + '_ {
        (0..self.nfunc).filter_map(move |i| self.func_at(i))
    }

    pub fn lookup_name(&self, name: &str) -> Option<Func> {
        self.funcs().find(|f| self.func_name(f) == name)
    }
}

/// The function table (`nfunc + 1` entries of 8 bytes at `pcln_off`) lies
/// inside a table of `len` bytes; no arithmetic on the header's numbers may
/// overflow (they come from the file).
fn ftab_fits(nfunc: u64, pcln_off: usize, len: usize) -> bool {
    nfunc != 0
        && nfunc
            .checked_add(1)
            .and_then(|n| n.checked_mul(8))
            .and_then(|n| n.checked_add(pcln_off as u64))
            .is_some_and(|end| end <= len as u64)
}

fn cstr(d: &[u8], start: usize) -> Option<&str> {
    let rest = d.get(start..)?;
    let rest = &rest[..rest.len().min(MAX_NAME)];
    let end = rest.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&rest[..end]).ok()
}

fn varint(d: &[u8], mut p: usize) -> Option<(u64, usize)> {
    let start = p;
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *d.get(p)?;
        p += 1;
        v |= ((b & 0x7f) as u64) << shift;
        if b & 0x80 == 0 {
            return Some((v, p - start));
        }
        shift += 7;
        if shift > 63 {
            return None;
        }
    }
}

/// Check whether `d` (at link address `addr`) starts with a plausible
/// pclntab header; used when scanning binaries that have no section name for it.
pub fn looks_like_header(d: &[u8]) -> bool {
    matches!(le_u32(d, 0), Some(MAGIC_GO120 | MAGIC_GO118 | MAGIC_GO116 | MAGIC_GO12))
        && d.len() > 8
        && d[4] == 0
        && d[5] == 0
        && matches!(d[6], 1 | 2 | 4)
        && matches!(d[7], 4 | 8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_and_zigzag() {
        assert_eq!(varint(&[0x96, 0x01], 0), Some((150, 2)));
        assert_eq!(varint(&[0xff; 12], 0), None);
    }

    /// A one-function table built by hand: header, pctab, names, functab,
    /// one `_func` whose pcsp table says frame size 0 for 4 bytes, then 16.
    fn tiny_table() -> Pclntab {
        let mut d = vec![0u8; 200];
        d[..4].copy_from_slice(&MAGIC_GO120.to_le_bytes());
        d[6] = 1; // quantum
        d[7] = 8; // pointer size
        let put = |d: &mut Vec<u8>, off: usize, v: u64| d[off..off + 8].copy_from_slice(&v.to_le_bytes());
        put(&mut d, 8, 1); // nfunc
        put(&mut d, 24, 0x1000); // textStart
        put(&mut d, 32, 88); // funcnametab
        put(&mut d, 40, 100); // cutab
        put(&mut d, 48, 104); // filetab
        put(&mut d, 56, 72); // pctab
        put(&mut d, 64, 112); // functab (pclntable)
        // pctab: offset 0 is reserved; the pcsp table starts at 1:
        // value -1+1=0 for 4 bytes, then 0+16=16 for 8 bytes, end.
        d[73..78].copy_from_slice(&[2, 4, 32, 8, 0]);
        d[88..95].copy_from_slice(b"main.f\0");
        d[104..110].copy_from_slice(b"f.go\0\0");
        // functab: {entryoff 0, funcoff 16}, {end 0x0c, 0}.
        d[112..116].copy_from_slice(&0u32.to_le_bytes());
        d[116..120].copy_from_slice(&16u32.to_le_bytes());
        d[120..124].copy_from_slice(&0x0cu32.to_le_bytes());
        // _func at 112+16: entryOff 0, nameOff 0, args 8, deferreturn 0, pcsp 1.
        let f = 128;
        d[f + 8..f + 12].copy_from_slice(&8u32.to_le_bytes());
        d[f + 16..f + 20].copy_from_slice(&1u32.to_le_bytes());
        d[f + 40] = 0; // funcID
        d[f + 41] = FUNC_FLAG_TOPFRAME;
        Pclntab::parse(0x5000, d, None).unwrap()
    }

    #[test]
    fn decodes_a_hand_built_table() {
        let t = tiny_table();
        assert_eq!(t.pc_range(), (0x1000, 0x100c));
        let f = t.find_func(0x1005).unwrap();
        assert_eq!((f.entry, f.end, f.args), (0x1000, 0x100c, 8));
        assert_eq!(t.func_name(&f), "main.f");
        assert!(f.is_topframe() && !f.is_spwrite());
        assert_eq!(t.sp_delta(&f, 0x1000), Some(0));
        assert_eq!(t.sp_delta(&f, 0x1003), Some(0));
        assert_eq!(t.sp_delta(&f, 0x1004), Some(16));
        assert_eq!(t.sp_delta(&f, 0x100b), Some(16));
        assert_eq!(t.sp_delta(&f, 0x100c), None);
        assert!(t.find_func(0xfff).is_none() && t.find_func(0x100c).is_none());
        // No pcfile/pcln tables: the runtime's "?" and 0.
        assert_eq!(t.file_line(&f, 0x1000), ("?".to_string(), 0));
        assert_eq!(t.lookup_name("main.f").map(|f| f.entry), Some(0x1000));
    }

    #[test]
    fn bad_magic_is_an_error_not_a_panic() {
        assert!(Pclntab::parse(0x1000, vec![0; 64], None).is_err());
        assert!(Pclntab::parse(0x1000, vec![], None).is_err());
        let mut h = vec![0u8; 80];
        h[..4].copy_from_slice(&MAGIC_GO120.to_le_bytes());
        h[6] = 1;
        h[7] = 8;
        h[8] = 0xff; // absurd nfunc
        assert!(Pclntab::parse(0x1000, h.clone(), None).is_err());
        // nfunc = u64::MAX: `nfunc + 1` must not overflow (bounds audit).
        h[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(Pclntab::parse(0x1000, h.clone(), None).is_err());
        assert!(!Pclntab::header_fits(&h));
        assert!(Pclntab::header_fits(tiny_table().data()));
    }
}
