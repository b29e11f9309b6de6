//! Goroutines and Ms read from the process's memory: `runtime.allgs`,
//! `runtime.allm`, each g's status, wait reason, ids, creation site and
//! which OS thread it runs on.

use std::collections::HashMap;

use crate::binary::Binary;
use crate::error::{Error, Result};
use crate::memory::Memory;

/// `runtime._G*` status values (runtime2.go).
pub const G_IDLE: u32 = 0;
pub const G_RUNNABLE: u32 = 1;
pub const G_RUNNING: u32 = 2;
pub const G_SYSCALL: u32 = 3;
pub const G_WAITING: u32 = 4;
pub const G_DEAD: u32 = 6;
pub const G_COPYSTACK: u32 = 8;
pub const G_PREEMPTED: u32 = 9;
/// Go 1.26+: goroutine-leak detector's status.
pub const G_LEAKED: u32 = 10;
/// Go 1.26+: the extra M's g parked for cgo callbacks (treated as dead).
pub const G_DEADEXTRA: u32 = 11;
pub const G_SCAN: u32 = 0x1000;

/// More goroutines than this is taken as a corrupt `allgs`.
const MAX_GOROUTINES: u64 = 1 << 24;
/// Data sections larger than this are not scanned (a corrupt header could
/// claim any size).
const MAX_SCAN: u64 = 1 << 28;
/// Bound on the `allm` list walk (cycle protection).
const MAX_MS: usize = 1 << 14;
/// Unreadable gs in allgs warned about one by one; the rest are counted.
const MAX_G_WARNINGS: usize = 32;

/// One OS thread as the analyzer needs it.
#[derive(Debug, Clone)]
pub struct Thread {
    pub tid: u64,
    pub regs: core_reader::Registers,
}

#[derive(Debug, Clone, Default)]
pub struct MInfo {
    pub addr: u64,
    pub id: i64,
    pub procid: u64,
    pub curg: u64,
    pub g0: u64,
    pub gsignal: u64,
    pub throwing: u32,
    pub vdso_sp: u64,
    pub vdso_pc: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gobuf {
    pub sp: u64,
    pub pc: u64,
    pub lr: u64,
    pub bp: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Goroutine {
    pub addr: u64,
    pub goid: u64,
    /// Raw `atomicstatus`, scan bit included.
    pub raw_status: u32,
    pub wait_reason: u8,
    pub waitsince: i64,
    pub m: u64,
    pub lockedm: u64,
    pub gopc: u64,
    pub startpc: u64,
    pub parent_goid: u64,
    pub sched: Gobuf,
    pub syscallsp: u64,
    pub syscallpc: u64,
    pub stack_lo: u64,
    pub stack_hi: u64,
    pub labels: Vec<(String, String)>,
    /// GODEBUG=tracebackancestors: the creating goroutines' stacks.
    pub ancestors: Vec<Ancestor>,
}

/// `runtime.ancestorInfo`: {pcs []uintptr, goid uint64, gopc uintptr}.
#[derive(Debug, Clone, Default)]
pub struct Ancestor {
    pub goid: u64,
    pub gopc: u64,
    /// Return pcs, one per logical frame (inlined calls expanded).
    pub pcs: Vec<u64>,
}

/// More pprof labels than this on one goroutine is taken as garbage.
const MAX_LABELS: u64 = 64;
/// `tracebackInnerFrames`: saveAncestors keeps at most this many pcs.
const MAX_ANCESTOR_PCS: u64 = 50;
/// GODEBUG=tracebackancestors=N keeps N ancestors; any real N is small.
const MAX_ANCESTORS: u64 = 1 << 12;

impl Goroutine {
    pub fn status(&self) -> u32 {
        self.raw_status & !G_SCAN
    }
    pub fn is_scan(&self) -> bool {
        self.raw_status & G_SCAN != 0
    }
    pub fn is_dead(&self) -> bool {
        matches!(self.status(), G_DEAD | G_DEADEXTRA)
    }
}

/// The text the runtime prints for a status (traceback.go gStatusStrings).
pub fn status_string(s: u32) -> &'static str {
    match s {
        G_IDLE => "idle",
        G_RUNNABLE => "runnable",
        G_RUNNING => "running",
        G_SYSCALL => "syscall",
        G_WAITING => "waiting",
        5 | 7 => "",
        G_DEAD => "dead",
        G_COPYSTACK => "copystack",
        G_PREEMPTED => "preempted",
        G_LEAKED => "leaked",
        G_DEADEXTRA => "waiting for cgo callback",
        _ => "???",
    }
}

/// Everything read from the runtime's globals.
#[derive(Debug, Default)]
pub struct RuntimeState {
    /// allgs as read, dead ones too. [`crate::analysis::Analysis`] moves
    /// them into its reports, so there this is empty.
    pub goroutines: Vec<Goroutine>,
    /// The length of allgs (exited goroutines included).
    pub allgs_len: u64,
    pub ms: Vec<MInfo>,
    /// `runtime.waitReasonStrings`, read from memory; index = waitReason.
    pub wait_reasons: Vec<String>,
    /// Where the wait reason texts came from, for --info.
    pub wait_reasons_source: String,
    /// The nanotime taken as "now" for the minutes in headers, and why.
    pub now: i64,
    pub now_source: String,
    pub warnings: Vec<crate::Warning>,
}

impl RuntimeState {
    pub fn m_by_addr(&self, addr: u64) -> Option<&MInfo> {
        self.ms.iter().find(|m| m.addr == addr && addr != 0)
    }
    pub fn wait_reason_text(&self, r: u8) -> Option<&str> {
        self.wait_reasons.get(r as usize).map(|s| s.as_str())
    }
}

/// A g's bytes read at once; every runtime so far keeps the fields we read
/// well inside this (g is about 450 bytes in Go 1.26).
const G_READ_MAX: usize = 1024;

/// Offsets in `runtime.g` of the fields [`Reader::read_g_with`] reads.
#[derive(Debug, Clone, Copy)]
pub struct GOffsets {
    goid: u64,
    status: u64,
    wait_reason: u64,
    waitsince: u64,
    m: u64,
    lockedm: u64,
    gopc: u64,
    startpc: u64,
    parent_goid: Option<u64>,
    sched_sp: u64,
    sched_pc: u64,
    sched_lr: u64,
    sched_bp: u64,
    syscallsp: u64,
    syscallpc: u64,
    stack_lo: u64,
    stack_hi: u64,
    ancestors: Option<u64>,
    labels: Option<u64>,
    /// Bytes from the g's start to the end of the last field read.
    span: u64,
}

impl GOffsets {
    fn words(&self) -> [Option<u64>; 19] {
        [
            Some(self.goid),
            Some(self.status),
            Some(self.wait_reason),
            Some(self.waitsince),
            Some(self.m),
            Some(self.lockedm),
            Some(self.gopc),
            Some(self.startpc),
            self.parent_goid,
            Some(self.sched_sp),
            Some(self.sched_pc),
            Some(self.sched_lr),
            Some(self.sched_bp),
            Some(self.syscallsp),
            Some(self.syscallpc),
            Some(self.stack_lo),
            Some(self.stack_hi),
            self.ancestors,
            self.labels,
        ]
    }
}

pub struct Reader<'a> {
    pub bin: &'a Binary,
    pub mem: &'a dyn Memory,
    /// Runtime address minus link-time address of the executable.
    pub bias: u64,
}

impl<'a> Reader<'a> {
    fn off(&self, k: &str) -> Result<u64> {
        self.bin.layout.get(k)
    }

    /// Runtime address of a runtime global, by symbol.
    fn global(&self, name: &str) -> Option<u64> {
        self.bin.symbol(name).map(|a| a.wrapping_add(self.bias))
    }

    /// The offsets `read_g` needs, looked up once per walk of allgs.
    pub fn g_offsets(&self) -> Result<GOffsets> {
        let sched = self.off("g.sched")?;
        let stack = self.off("g.stack")?;
        let mut o = GOffsets {
            goid: self.off("g.goid")?,
            status: self.off("g.atomicstatus")?,
            wait_reason: self.off("g.waitreason")?,
            waitsince: self.off("g.waitsince")?,
            m: self.off("g.m")?,
            lockedm: self.off("g.lockedm")?,
            gopc: self.off("g.gopc")?,
            startpc: self.off("g.startpc")?,
            parent_goid: self.bin.layout.opt("g.parentGoid"),
            sched_sp: sched.wrapping_add(self.off("gobuf.sp")?),
            sched_pc: sched.wrapping_add(self.off("gobuf.pc")?),
            sched_lr: sched.wrapping_add(self.off("gobuf.lr")?),
            sched_bp: sched.wrapping_add(self.off("gobuf.bp")?),
            syscallsp: self.off("g.syscallsp")?,
            syscallpc: self.off("g.syscallpc")?,
            stack_lo: stack.wrapping_add(self.off("stack.lo")?),
            stack_hi: stack.wrapping_add(self.off("stack.hi")?),
            ancestors: self.bin.layout.opt("g.ancestors"),
            labels: self.bin.layout.opt("g.labels"),
            span: 0,
        };
        o.span = o.words().into_iter().flatten().map(|w| w.saturating_add(8)).max().unwrap_or(0);
        Ok(o)
    }

    pub fn read_g(&self, addr: u64) -> Result<Goroutine> {
        self.read_g_with(&self.g_offsets()?, addr)
    }

    /// One read of the g's bytes, then the fields out of them (100,000
    /// goroutines are 100,000 reads, not two million). A g whose bytes are
    /// not all readable is read field by field, so an unreadable gap
    /// between fields does not lose it.
    pub fn read_g_with(&self, o: &GOffsets, addr: u64) -> Result<Goroutine> {
        let mut buf = [0u8; G_READ_MAX];
        let whole = usize::try_from(o.span).ok().filter(|&n| n <= G_READ_MAX);
        let bytes = whole.filter(|&n| self.mem.read(addr, &mut buf[..n]).is_ok()).map(|n| &buf[..n]);
        let word = |off: u64, size: usize| -> Result<u64> {
            if let Some(b) = bytes {
                let at = off as usize;
                let mut w = [0u8; 8];
                w[..size].copy_from_slice(&b[at..at + size]);
                return Ok(u64::from_le_bytes(w));
            }
            let a = addr.wrapping_add(off);
            Ok(match size {
                1 => u64::from(self.mem.u8(a)?),
                4 => u64::from(self.mem.u32(a)?),
                _ => self.mem.u64(a)?,
            })
        };
        let mut g = Goroutine {
            addr,
            goid: word(o.goid, 8)?,
            raw_status: word(o.status, 4)? as u32,
            wait_reason: word(o.wait_reason, 1)? as u8,
            waitsince: word(o.waitsince, 8)? as i64,
            m: word(o.m, 8)?,
            lockedm: word(o.lockedm, 8)?,
            gopc: word(o.gopc, 8)?,
            startpc: word(o.startpc, 8)?,
            parent_goid: match o.parent_goid {
                Some(off) => word(off, 8)?,
                None => 0,
            },
            sched: Gobuf {
                sp: word(o.sched_sp, 8)?,
                pc: word(o.sched_pc, 8)?,
                lr: word(o.sched_lr, 8)?,
                bp: word(o.sched_bp, 8)?,
            },
            syscallsp: word(o.syscallsp, 8)?,
            syscallpc: word(o.syscallpc, 8)?,
            stack_lo: word(o.stack_lo, 8)?,
            stack_hi: word(o.stack_hi, 8)?,
            labels: Vec::new(),
            ancestors: Vec::new(),
        };
        if let Some(off) = o.ancestors {
            if let Ok(p) = word(off, 8) {
                if p != 0 {
                    g.ancestors = self.read_ancestors(p).unwrap_or_default();
                }
            }
        }
        if let Some(off) = o.labels {
            if let Ok(p) = word(off, 8) {
                if p != 0 {
                    g.labels = self.read_labels(p).unwrap_or_default();
                }
            }
        }
        Ok(g)
    }

    /// pprof labels. Go 1.24+ stores `*labelMap` = `struct{ LabelSet{ list []label } }`
    /// with `label{key, value string}`; Go 1.19..1.23 a `*labelMap` that is a
    /// `map[string]string` (the classic hash map, decoded by `read_string_map`).
    fn read_labels(&self, p: u64) -> Result<Vec<(String, String)>> {
        if self.bin.go_minor().unwrap_or(0) < 24 {
            let mut v = self.read_string_map(self.mem.u64(p)?)?;
            v.sort();
            return Ok(v);
        }
        let list = self.mem.u64(p)?;
        let len = self.mem.u64(p.wrapping_add(8))?;
        if len > MAX_LABELS {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for i in 0..len {
            let e = list.wrapping_add(i * 32);
            out.push((self.mem.go_string(e, 4096)?, self.mem.go_string(e.wrapping_add(16), 4096)?));
        }
        Ok(out)
    }

    /// A `map[string]string` in the pre-1.24 layout (runtime/map.go): `hmap`
    /// {count int, flags u8, B u8, noverflow u16, hash0 u32, buckets,
    /// oldbuckets, ...}; each bucket is 8 tophash bytes, 8 keys, 8 values,
    /// then the overflow pointer. A tophash >= 5 (minTopHash) marks a live
    /// slot. A map in the middle of growing is read from its new buckets only.
    fn read_string_map(&self, h: u64) -> Result<Vec<(String, String)>> {
        const BUCKET_CNT: u64 = 8;
        const MIN_TOP_HASH: u8 = 5;
        const BUCKET_SIZE: u64 = 8 + BUCKET_CNT * 16 * 2 + 8;
        let mut out = Vec::new();
        if h == 0 {
            return Ok(out);
        }
        let count = self.mem.u64(h)?;
        let b = self.mem.u8(h.wrapping_add(9))?;
        let buckets = self.mem.u64(h.wrapping_add(16))?;
        if count == 0 || count > MAX_LABELS || b > 6 || buckets == 0 {
            return Ok(out);
        }
        for i in 0..(1u64 << b) {
            let mut bucket = buckets.wrapping_add(i * BUCKET_SIZE);
            for _ in 0..MAX_LABELS {
                let mut top = [0u8; 8];
                self.mem.read(bucket, &mut top)?;
                for (j, t) in top.iter().enumerate() {
                    if *t >= MIN_TOP_HASH {
                        let k = bucket.wrapping_add(8 + 16 * j as u64);
                        let v = bucket.wrapping_add(8 + 16 * BUCKET_CNT + 16 * j as u64);
                        out.push((self.mem.go_string(k, 4096)?, self.mem.go_string(v, 4096)?));
                    }
                }
                bucket = self.mem.u64(bucket.wrapping_add(BUCKET_SIZE - 8))?;
                if bucket == 0 || out.len() as u64 >= MAX_LABELS {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// `*[]ancestorInfo` at `p`.
    fn read_ancestors(&self, p: u64) -> Result<Vec<Ancestor>> {
        let m = self.mem;
        let arr = m.u64(p)?;
        let len = m.u64(p.wrapping_add(8))?.min(MAX_ANCESTORS);
        let mut out = Vec::new();
        for i in 0..len {
            let e = arr.wrapping_add(40 * i);
            let pcs_ptr = m.u64(e)?;
            let n = m.u64(e.wrapping_add(8))?.min(MAX_ANCESTOR_PCS);
            let mut pcs = Vec::new();
            for j in 0..n {
                pcs.push(m.u64(pcs_ptr.wrapping_add(8 * j))?);
            }
            out.push(Ancestor { goid: m.u64(e.wrapping_add(24))?, gopc: m.u64(e.wrapping_add(32))?, pcs });
        }
        Ok(out)
    }

    pub fn read_m(&self, addr: u64) -> Result<MInfo> {
        let m = self.mem;
        Ok(MInfo {
            addr,
            id: m.u64(addr.wrapping_add(self.off("m.id")?))? as i64,
            procid: m.u64(addr.wrapping_add(self.off("m.procid")?))?,
            curg: m.u64(addr.wrapping_add(self.off("m.curg")?))?,
            g0: m.u64(addr.wrapping_add(self.off("m.g0")?))?,
            gsignal: m.u64(addr.wrapping_add(self.off("m.gsignal")?))?,
            throwing: match self.bin.layout.opt("m.throwing") {
                Some(o) => m.u32(addr.wrapping_add(o))?,
                None => 0,
            },
            vdso_sp: m.u64(addr.wrapping_add(self.off("m.vdsoSP")?))?,
            vdso_pc: m.u64(addr.wrapping_add(self.off("m.vdsoPC")?))?,
        })
    }

    /// Read every goroutine, M, and the wait reason table.
    /// The runtime's state; with `read_gs` false the goroutines are not
    /// read (only the length of allgs is taken).
    pub fn read_state(&self, threads: &[Thread], read_gs: bool) -> Result<RuntimeState> {
        self.read_state_into(threads, read_gs, None)
    }

    /// [`Reader::read_state`], giving the goroutines to `sink` a chunk at a
    /// time (in allgs order) instead of keeping them in the state.
    pub fn read_state_into(
        &self,
        threads: &[Thread],
        read_gs: bool,
        mut sink: Option<&mut dyn FnMut(Vec<Goroutine>)>,
    ) -> Result<RuntimeState> {
        let mut st = RuntimeState::default();

        // Ms: from `runtime.allm`, else from the threads' g (TLS / x28).
        let mut m_heads = Vec::new();
        if let Some(a) = self.global("runtime.allm") {
            m_heads.push(self.mem.u64(a)?);
        } else {
            for t in threads {
                if let Some(g) = self.thread_g(t) {
                    if let Ok(mp) = self.mem.u64(g.wrapping_add(self.off("g.m")?)) {
                        m_heads.push(mp);
                    }
                }
            }
        }
        let alllink = self.off("m.alllink")?;
        let mut seen = std::collections::HashSet::new();
        for head in m_heads {
            let mut p = head;
            while p != 0 && seen.len() < MAX_MS && seen.insert(p) {
                match self.read_m(p) {
                    Ok(m) => st.ms.push(m),
                    Err(e) => {
                        st.warnings.push(crate::Warning::UnreadableM { addr: p, error: e.to_string() });
                        break;
                    }
                }
                p = self.mem.u64(p.wrapping_add(alllink)).unwrap_or(0);
            }
        }
        st.ms.sort_by_key(|m| m.id);

        // allgs: a slice {ptr, len, cap}.
        let (gptr, glen) = match self.global("runtime.allgs") {
            Some(a) => (self.mem.u64(a)?, self.mem.u64(a.wrapping_add(8))?),
            None => self.scan_allgs()?,
        };
        if glen > MAX_GOROUTINES {
            return Err(Error::Other(format!(
                "runtime.allgs at {gptr:#x} claims {glen} goroutines; the core is corrupt or the executable does not match it"
            )));
        }
        st.allgs_len = glen;
        if !read_gs {
            self.read_wait_reasons(&mut st);
            self.choose_now(&mut st, None);
            // Without the goroutines (--info), the runtime's own timestamps
            // are the clock; only when there are none (a stripped binary has
            // no runtime.sched or runtime.allp) is it worth touching every g
            // for its `waitsince`: 100,000 gs are 100,000 pages of the core.
            if st.now == 0 {
                let newest = self.newest_waitsince(gptr, glen);
                self.choose_now(&mut st, newest);
            }
            return Ok(st);
        }
        let mut ptrs = vec![0u8; (glen * 8) as usize];
        self.mem.read(gptr, &mut ptrs)?;
        let mut unreadable = 0usize;
        // The same g twice means a corrupt allgs; walking it once is enough
        // (a slice of 16M copies of one pointer must not cost 16M walks).
        let mut seen_g = std::collections::HashSet::new();
        let unique: Vec<u64> = ptrs
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .filter(|gp| seen_g.insert(*gp))
            .collect();
        let offs = self.g_offsets()?;
        if sink.is_none() {
            st.goroutines.reserve(unique.len());
        }
        let mut newest: Option<(i64, u64)> = None;
        for chunk in unique.chunks(crate::analysis::RELEASE_EVERY) {
            // gs are independent; read them on every CPU, keeping allgs order.
            use rayon::prelude::*;
            let read: Vec<Result<Goroutine>> =
                chunk.par_iter().with_min_len(256).map(|&gp| self.read_g_with(&offs, gp)).collect();
            let mut gs = Vec::with_capacity(chunk.len());
            for (gp, r) in chunk.iter().zip(read) {
                match r {
                    Ok(g) => {
                        // The last of equal maxima, as max_by_key over them all picks.
                        if newest.is_none_or(|(w, _)| g.waitsince >= w) {
                            newest = Some((g.waitsince, g.goid));
                        }
                        gs.push(g)
                    }
                    // A corrupt allgs can name millions of bad gs: a warning
                    // each for the first few, then a count.
                    Err(e) => {
                        unreadable += 1;
                        if unreadable <= MAX_G_WARNINGS {
                            st.warnings.push(crate::Warning::UnreadableG { addr: *gp, error: e.to_string() });
                        }
                    }
                }
            }
            match sink.as_mut() {
                Some(f) => f(gs),
                None => st.goroutines.extend(gs),
            }
            // Each g is read once; its pages need not stay resident.
            self.mem.release_pages();
        }
        if unreadable > MAX_G_WARNINGS {
            st.warnings.push(crate::Warning::MoreUnreadableGs {
                count: unreadable - MAX_G_WARNINGS,
                allgs: gptr,
                len: glen,
            });
        }

        self.read_wait_reasons(&mut st);
        self.choose_now(&mut st, newest);
        Ok(st)
    }

    /// The largest `waitsince` of the gs in allgs (and that g's goid), read
    /// one field at a time; `None` when none is set or readable.
    fn newest_waitsince(&self, gptr: u64, glen: u64) -> Option<(i64, u64)> {
        let (ws, goid) = (self.off("g.waitsince").ok()?, self.off("g.goid").ok()?);
        let mut best: Option<(i64, u64)> = None;
        for i in 0..glen {
            // Each g is read once; its page need not stay resident.
            if i > 0 && i % crate::analysis::RELEASE_EVERY as u64 == 0 {
                self.mem.release_pages();
            }
            let Ok(g) = self.mem.u64(gptr.wrapping_add(8 * i)) else { break };
            let Ok(v) = self.mem.u64(g.wrapping_add(ws)) else { continue };
            if (v as i64) > best.map_or(0, |b| b.0) {
                best = Some((v as i64, self.mem.u64(g.wrapping_add(goid)).unwrap_or(0)));
            }
        }
        best
    }

    /// The g a thread was running, from its thread-local storage: on
    /// linux/amd64 Go keeps g at -8(FS); on arm64 in x28.
    pub fn thread_g(&self, t: &Thread) -> Option<u64> {
        match t.regs {
            core_reader::Registers::Amd64(r) if r.fs_base != 0 => self.mem.u64(r.fs_base.wrapping_sub(8)).ok(),
            core_reader::Registers::Arm64(r) => Some(r.x[28]),
            _ => None,
        }
        .filter(|g| *g != 0)
    }

    /// Stripped binaries have no `runtime.allgs` symbol: look in the
    /// executable's writable data, in memory, for a `{ptr, len, cap}` whose
    /// first element is a g with goid 1 (allgs[0] is always the main goroutine).
    fn scan_allgs(&self) -> Result<(u64, u64)> {
        let goid = self.off("g.goid")?;
        for (_, buf) in self.sections_in_memory(&[".data", ".bss", ".noptrbss", ".noptrdata", "__data", "__bss"]) {
            let w = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap());
            let mut i = 0;
            while i + 24 <= buf.len() {
                let (p, l, c) = (w(i), w(i + 8), w(i + 16));
                if p != 0 && p % 8 == 0 && l >= 1 && l <= c && c <= MAX_GOROUTINES {
                    if let Ok(g0) = self.mem.u64(p) {
                        if g0 % 8 == 0 && self.mem.u64(g0.wrapping_add(goid)).ok() == Some(1) {
                            if let Ok(g) = self.read_g(g0) {
                                if g.stack_lo < g.stack_hi && g.stack_hi - g.stack_lo <= 1 << 30 {
                                    return Ok((p, l));
                                }
                            }
                        }
                    }
                }
                i += 8;
            }
        }
        Err(Error::Other("cannot find runtime.allgs (stripped binary, and no slice of goroutines found in its data)".into()))
    }

    fn read_wait_reasons(&self, st: &mut RuntimeState) {
        let (addr, n) = match self.bin.symbols.get("runtime.waitReasonStrings") {
            Some((a, sz)) if *sz >= 16 => (a.wrapping_add(self.bias), (*sz / 16).min(256)),
            // PE and some Mach-O symbol tables carry no sizes: count the
            // entries by their shape, as for a stripped binary.
            Some((a, _)) => {
                let addr = a.wrapping_add(self.bias);
                (addr, self.count_wait_reasons(addr, u64::MAX))
            }
            None => match self.scan_wait_reasons() {
                Some(x) => x,
                None => {
                    st.wait_reasons_source = "not found: wait reasons print as \"waiting\"".into();
                    st.warnings.push(crate::Warning::NoWaitReasons);
                    return;
                }
            },
        };
        for i in 0..n {
            match self.mem.go_string(addr.wrapping_add(16 * i), 256) {
                Ok(s) => st.wait_reasons.push(s),
                Err(_) => break,
            }
        }
        st.wait_reasons_source = format!("runtime.waitReasonStrings at {addr:#x} ({} entries)", st.wait_reasons.len());
    }

    /// How many entries the array at `addr` has: entry 0 is "", then short
    /// strings until something that is not one, or `end` (the end of the
    /// section holding it, when known).
    fn count_wait_reasons(&self, addr: u64, end: u64) -> u64 {
        let mut n: u64 = 1;
        while n < 128 && addr.saturating_add(16 * (n + 1)) <= end {
            match self.mem.u64(addr.wrapping_add(16 * n + 8)) {
                Ok(l) if (1..=64).contains(&l) => n += 1,
                _ => break,
            }
        }
        n
    }

    /// The executable's sections of these names as they are in the core's
    /// memory (relocated), one at a time, skipping any too large to scan or
    /// unreadable.
    fn sections_in_memory<'s>(&'s self, names: &'s [&str]) -> impl Iterator<Item = (u64, Vec<u8>)> + 's {
        self.bin
            .sections
            .iter()
            .filter(move |s| names.contains(&s.name.as_str()) && s.size <= MAX_SCAN)
            .filter_map(move |s| {
                let start = s.addr.wrapping_add(self.bias);
                let mut buf = vec![0u8; s.size as usize];
                self.mem.read(start, &mut buf).ok().map(|_| (start, buf))
            })
    }

    /// Stripped: find the array by its shape. Entry 0 is "" and entry 1 is
    /// "GC assist marking" in every Go version since 1.11; find those bytes
    /// in the read-only data, then the array of string headers pointing at them.
    fn scan_wait_reasons(&self) -> Option<(u64, u64)> {
        const FIRST: &[u8] = b"GC assist marking";
        let mut targets = Vec::new();
        for (lo, hi) in self.bin.data_ranges() {
            let bytes = self.bin.static_bytes(lo, (hi - lo) as usize)?;
            let mut from = 0;
            while let Some(i) = find(&bytes[from..], FIRST) {
                targets.push(lo.wrapping_add((from + i) as u64).wrapping_add(self.bias));
                from += i + 1;
                if targets.len() > 64 {
                    break;
                }
            }
        }
        for (start, buf) in self.sections_in_memory(&[".data", ".noptrdata", "__data", "__noptrdata"]) {
            let w = |i: usize| u64::from_le_bytes(buf[i..i + 8].try_into().unwrap());
            let mut i = 0;
            while i + 32 <= buf.len() {
                if w(i + 8) == 0 && w(i + 24) == FIRST.len() as u64 && targets.contains(&w(i + 16)) {
                    let addr = start.wrapping_add(i as u64);
                    let end = start.wrapping_add(buf.len() as u64);
                    return Some((addr, self.count_wait_reasons(addr, end)));
                }
                i += 8;
            }
        }
        None
    }

    /// "Now" for `waitfor = (nanotime() - waitsince) / 60e9`. A core has no
    /// clock; the latest nanotime the runtime itself recorded is the best
    /// lower bound: `sched.lastpoll` (sysmon refreshes it every 10ms while
    /// the program runs, and netpoll sets it when it returns), each P's
    /// `sysmontick.schedwhen`/`syscallwhen` (when sysmon last saw that P
    /// switch goroutines or enter a syscall) and the newest `waitsince` of
    /// any goroutine (set by the GC). We take the maximum; minutes can only
    /// come out too small, never too large, and for a process that was busy
    /// until it died they agree with the runtime's.
    ///
    /// Stripped binaries have neither `runtime.sched` nor `runtime.allp`
    /// symbols; there the goroutines' `waitsince` is what remains. When no
    /// timestamp at all is found, `now` stays 0 and `now_source` says it is
    /// unavailable: no minutes are printed rather than wrong ones.
    fn choose_now(&self, st: &mut RuntimeState, newest_waitsince: Option<(i64, u64)>) {
        let mut now = 0i64;
        let mut src = String::from("unavailable: the core holds no timestamp the runtime recorded");
        if let (Some(a), Ok(o)) = (self.global("runtime.sched"), self.off("schedt.lastpoll")) {
            if let Ok(v) = self.mem.u64(a.wrapping_add(o)) {
                if v as i64 > now {
                    now = v as i64;
                    src = "runtime.sched.lastpoll".into();
                }
            }
        }
        if let (Some(a), Some(tick), Some(sw), Some(yw)) = (
            self.global("runtime.allp"),
            self.bin.layout.opt("p.sysmontick"),
            self.bin.layout.opt("sysmontick.schedwhen"),
            self.bin.layout.opt("sysmontick.syscallwhen"),
        ) {
            let ptr = self.mem.u64(a).unwrap_or(0);
            let len = self.mem.u64(a.wrapping_add(8)).unwrap_or(0).min(1024);
            for i in 0..len {
                let Ok(p) = self.mem.u64(ptr.wrapping_add(8 * i)) else { break };
                for (o, what) in [(sw, "schedwhen"), (yw, "syscallwhen")] {
                    if let Ok(v) = self.mem.u64(p.wrapping_add(tick + o)) {
                        if v as i64 > now {
                            now = v as i64;
                            src = format!("runtime.allp[{i}].sysmontick.{what}");
                        }
                    }
                }
            }
        }
        if let Some((ws, goid)) = newest_waitsince.filter(|(ws, _)| *ws > now) {
            now = ws;
            src = format!("waitsince of goroutine {goid}");
        }
        st.now = now;
        st.now_source = src;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Which thread each M runs on: m.procid is the OS thread id on Linux.
pub fn thread_of_m<'t>(m: &MInfo, threads: &'t [Thread]) -> Option<&'t Thread> {
    threads.iter().find(|t| t.tid == m.procid && m.procid != 0)
}

pub fn ms_by_addr(st: &RuntimeState) -> HashMap<u64, &MInfo> {
    st.ms.iter().map(|m| (m.addr, m)).collect()
}
