//! `SplicedMemory`: the process's address space as ordered, non-overlapping
//! regions, each backed by mapped bytes (the core, the executable, a library)
//! or zeros. A region added later cuts into those it overlaps.
//!
//! Lookups are a binary search over the sorted regions; reads copy straight
//! from the backing bytes into the caller's buffer, with no allocation.

use std::sync::Arc;

use crate::{Error, Result};

/// Bytes a region can borrow from: a memory map or an owned buffer.
pub type Bytes = Arc<dyn Source>;

/// What backs [`Bytes`]. A memory map can give back the pages a walk has
/// touched, so reading a 100,000-goroutine core does not leave hundreds of
/// MiB of it resident; an owned buffer cannot.
pub trait Source: AsRef<[u8]> + Send + Sync {
    /// Drop the pages of this source from the process's resident set; the
    /// next read faults them in again (from the page cache).
    fn release_pages(&self) {}
}

impl Source for Vec<u8> {}

#[derive(Clone)]
pub enum Backing {
    /// `bytes[offset..offset + len]` of the region.
    Bytes { bytes: Bytes, offset: usize },
    Zeros,
}

#[derive(Clone)]
pub struct Region {
    pub start: u64,
    pub len: u64,
    pub backing: Backing,
}

impl Region {
    /// One past the last address. `add` keeps `start + len` from wrapping.
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }

    /// The region's bytes when it is backed by bytes (not zeros).
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.backing {
            Backing::Bytes { bytes, offset } => {
                let all: &[u8] = (**bytes).as_ref();
                let end = offset.checked_add(usize::try_from(self.len).ok()?)?;
                all.get(*offset..end)
            }
            Backing::Zeros => None,
        }
    }

    /// The part `[start, end)` of this region (which must lie inside it).
    fn slice(&self, start: u64, end: u64) -> Region {
        debug_assert!(self.start <= start && start <= end && end <= self.end());
        let skip = start - self.start;
        let backing = match &self.backing {
            Backing::Bytes { bytes, offset } => Backing::Bytes {
                bytes: bytes.clone(),
                // Fits: `add` clipped the region to its backing's length.
                offset: offset + skip as usize,
            },
            Backing::Zeros => Backing::Zeros,
        };
        Region {
            start,
            len: end - start,
            backing,
        }
    }
}

impl std::fmt::Debug for Region {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.backing {
            Backing::Bytes { offset, .. } => format!("bytes+{offset:#x}"),
            Backing::Zeros => "zeros".to_string(),
        };
        write!(f, "{:#x}..{:#x} {kind}", self.start, self.end())
    }
}

/// A range of addresses the process had but whose bytes are known to be
/// missing (a truncated core), so a read there can say why it failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    pub start: u64,
    pub end: u64,
    pub reason: String,
}

#[derive(Clone, Default)]
pub struct SplicedMemory {
    regions: Vec<Region>,
    missing: Vec<Missing>,
}

impl std::fmt::Debug for SplicedMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SplicedMemory({} regions)", self.regions.len())
    }
}

impl SplicedMemory {
    pub fn new() -> Self {
        Self::default()
    }

    /// The regions, sorted by address, never overlapping.
    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Give back the resident pages of every memory map behind the regions
    /// (see [`Source::release_pages`]); reads stay correct, they only fault
    /// again. Long walks over a big core call this now and then.
    pub fn release_pages(&self) {
        let mut seen = std::collections::HashSet::new();
        for r in &self.regions {
            if let Backing::Bytes { bytes, .. } = &r.backing {
                if seen.insert(Arc::as_ptr(bytes) as *const u8 as usize) {
                    bytes.release_pages();
                }
            }
        }
    }

    /// Address ranges known to be absent, with the reason (e.g. truncation).
    pub fn missing(&self) -> &[Missing] {
        &self.missing
    }

    /// Add a region; it wins over whatever it overlaps.
    ///
    /// A region that would run past the end of the address space, or past the
    /// end of its backing bytes, is clipped rather than trusted.
    pub fn add(&mut self, mut region: Region) {
        region.len = region.len.min(u64::MAX - region.start);
        if let Backing::Bytes { bytes, offset } = &region.backing {
            let avail = (**bytes).as_ref().len().saturating_sub(*offset) as u64;
            region.len = region.len.min(avail);
        }
        if region.len == 0 {
            return;
        }
        let (start, end) = (region.start, region.end());
        // Fast path: regions usually arrive in address order.
        if !matches!(self.regions.last(), Some(last) if last.end() > start) {
            self.regions.push(region);
            return;
        }
        let (first, last) = self.overlapping(start, end);
        let mut replacement = Vec::with_capacity(3);
        if first < last {
            let head = &self.regions[first];
            if head.start < start {
                replacement.push(head.slice(head.start, start));
            }
        }
        replacement.push(region);
        if first < last {
            let tail = &self.regions[last - 1];
            if tail.end() > end {
                replacement.push(tail.slice(end, tail.end()));
            }
        }
        self.regions.splice(first..last, replacement);
    }

    /// Forget whatever covers `[start, start + len)`.
    pub fn remove(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        if start >= end {
            return;
        }
        let (first, last) = self.overlapping(start, end);
        if first == last {
            return;
        }
        let mut keep = Vec::with_capacity(2);
        let head = &self.regions[first];
        if head.start < start {
            keep.push(head.slice(head.start, start));
        }
        let tail = &self.regions[last - 1];
        if tail.end() > end {
            keep.push(tail.slice(end, tail.end()));
        }
        self.regions.splice(first..last, keep);
    }

    /// Record that `[start, end)` belongs to the process but its bytes are
    /// absent; reads there fail with `reason` instead of a bare "unmapped".
    pub fn add_missing(&mut self, start: u64, end: u64, reason: impl Into<String>) {
        if start < end {
            self.missing.push(Missing {
                start,
                end,
                reason: reason.into(),
            });
        }
    }

    /// Indices `first..last` of the regions that overlap `[start, end)`.
    fn overlapping(&self, start: u64, end: u64) -> (usize, usize) {
        let first = self.regions.partition_point(|r| r.end() <= start);
        let last = first + self.regions[first..].partition_point(|r| r.start < end);
        (first, last)
    }

    /// Index of the region containing `addr`, if any.
    fn find(&self, addr: u64) -> Option<usize> {
        // First region ending after `addr`; a region ending exactly at `addr`
        // does not contain it, so a read at a boundary goes to the next one.
        let i = self.regions.partition_point(|r| r.end() <= addr);
        (i < self.regions.len() && self.regions[i].start <= addr).then_some(i)
    }

    /// Whether `addr` is readable.
    pub fn contains(&self, addr: u64) -> bool {
        self.find(addr).is_some()
    }

    fn unreadable(&self, addr: u64) -> Error {
        match self.missing.iter().find(|m| m.start <= addr && addr < m.end) {
            Some(m) => Error::Unreadable {
                addr,
                reason: m.reason.clone(),
            },
            None => Error::Unmapped { addr },
        }
    }

    /// Read exactly `buf.len()` bytes at `addr`, across contiguous regions.
    /// On failure the error names the first address that could not be read.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let Some(mut i) = self.find(addr) else {
            return Err(self.unreadable(addr));
        };
        let mut cur = addr;
        let mut done = 0usize;
        loop {
            let r = &self.regions[i];
            let skip = cur - r.start;
            let n = (r.len - skip).min((buf.len() - done) as u64) as usize;
            let out = &mut buf[done..done + n];
            match &r.backing {
                Backing::Zeros => out.fill(0),
                Backing::Bytes { bytes, offset } => {
                    // In range: `add` clipped the region to its backing.
                    let from = offset + skip as usize;
                    out.copy_from_slice(&(**bytes).as_ref()[from..from + n]);
                }
            }
            done += n;
            if done == buf.len() {
                return Ok(());
            }
            cur = r.end();
            i += 1;
            if i == self.regions.len() || self.regions[i].start != cur {
                return Err(self.unreadable(cur));
            }
        }
    }

    /// The bytes at `[addr, addr + len)` without copying, when they lie in
    /// one byte-backed region.
    pub fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        let r = &self.regions[self.find(addr)?];
        let skip = usize::try_from(addr - r.start).ok()?;
        r.bytes()?.get(skip..skip.checked_add(len)?)
    }

    pub fn read_u8(&self, addr: u64) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }

    /// Little-endian, like every architecture this crate reads.
    pub fn read_u16(&self, addr: u64) -> Result<u16> {
        let mut b = [0u8; 2];
        self.read(addr, &mut b)?;
        Ok(u16::from_le_bytes(b))
    }

    pub fn read_u32(&self, addr: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    pub fn read_u64(&self, addr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A NUL-terminated string at `addr`, at most `max` bytes (without the
    /// NUL). Stops early at unreadable memory only if something was read.
    pub fn read_cstring(&self, addr: u64, max: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let mut cur = addr;
        while out.len() < max {
            let Some(i) = self.find(cur) else {
                if out.is_empty() {
                    return Err(self.unreadable(cur));
                }
                break;
            };
            let r = &self.regions[i];
            let want = (r.end() - cur).min((max - out.len()) as u64).min(4096) as usize;
            let start = out.len();
            out.resize(start + want, 0);
            self.read(cur, &mut out[start..])?;
            if let Some(nul) = out[start..].iter().position(|&b| b == 0) {
                out.truncate(start + nul);
                return Ok(out);
            }
            cur += want as u64;
        }
        out.truncate(max);
        Ok(out)
    }
}

/// Builds a `SplicedMemory` from many regions in any order: each `add` is
/// O(log n) (a `BTreeMap` keyed by start), where `SplicedMemory::add` may
/// shift the whole vector. Cores can have 65535+ segments.
#[derive(Default)]
pub struct Builder {
    map: std::collections::BTreeMap<u64, Region>,
    missing: Vec<Missing>,
}

impl Builder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a region; it wins over whatever it overlaps (same rules as
    /// [`SplicedMemory::add`]).
    pub fn add(&mut self, mut region: Region) {
        region.len = region.len.min(u64::MAX - region.start);
        if let Backing::Bytes { bytes, offset } = &region.backing {
            let avail = (**bytes).as_ref().len().saturating_sub(*offset) as u64;
            region.len = region.len.min(avail);
        }
        if region.len == 0 {
            return;
        }
        self.cut(region.start, region.end());
        self.map.insert(region.start, region);
    }

    /// Forget whatever covers `[start, start + len)`.
    pub fn remove(&mut self, start: u64, len: u64) {
        let end = start.saturating_add(len);
        if start < end {
            self.cut(start, end);
        }
    }

    pub fn add_missing(&mut self, start: u64, end: u64, reason: impl Into<String>) {
        if start < end {
            self.missing.push(Missing {
                start,
                end,
                reason: reason.into(),
            });
        }
    }

    /// Remove `[start, end)` from every region, keeping heads and tails.
    fn cut(&mut self, start: u64, end: u64) {
        // A region starting before `start` may reach into the range.
        let before = self.map.range(..start).next_back().map(|(_, r)| r.clone());
        if let Some(r) = before {
            if r.end() > start {
                self.map.insert(r.start, r.slice(r.start, start));
                if r.end() > end {
                    self.map.insert(end, r.slice(end, r.end()));
                    return;
                }
            }
        }
        let inside: Vec<u64> = self.map.range(start..end).map(|(k, _)| *k).collect();
        for k in inside {
            if let Some(r) = self.map.remove(&k) {
                if r.end() > end {
                    self.map.insert(end, r.slice(end, r.end()));
                }
            }
        }
    }

    pub fn build(self) -> SplicedMemory {
        SplicedMemory {
            regions: self.map.into_values().collect(),
            missing: self.missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(fill: u8, len: usize) -> Backing {
        Backing::Bytes {
            bytes: Arc::new((0..len).map(|i| fill.wrapping_add(i as u8)).collect::<Vec<u8>>()),
            offset: 0,
        }
    }

    fn region(start: u64, len: u64, fill: u8) -> Region {
        Region {
            start,
            len,
            backing: bytes(fill, len as usize),
        }
    }

    fn layout(m: &SplicedMemory) -> Vec<(u64, u64)> {
        m.regions().iter().map(|r| (r.start, r.end())).collect()
    }

    fn byte(m: &SplicedMemory, addr: u64) -> Option<u8> {
        m.read_u8(addr).ok()
    }

    #[test]
    fn overlap_at_head() {
        let mut m = SplicedMemory::new();
        m.add(region(100, 100, 0));
        m.add(region(50, 100, 200));
        assert_eq!(layout(&m), [(50, 150), (150, 200)]);
        assert_eq!(byte(&m, 149), Some(200u8.wrapping_add(99)));
        assert_eq!(byte(&m, 150), Some(50)); // old region, skipped 50 bytes
    }

    #[test]
    fn overlap_at_tail() {
        let mut m = SplicedMemory::new();
        m.add(region(100, 100, 0));
        m.add(region(0, 10, 0));
        m.add(region(150, 100, 100));
        assert_eq!(layout(&m), [(0, 10), (100, 150), (150, 250)]);
        assert_eq!(byte(&m, 149), Some(49));
        assert_eq!(byte(&m, 150), Some(100));
    }

    #[test]
    fn overlap_inside_splits() {
        let mut m = SplicedMemory::new();
        m.add(region(100, 100, 0));
        m.add(region(120, 10, 200));
        assert_eq!(layout(&m), [(100, 120), (120, 130), (130, 200)]);
        assert_eq!(byte(&m, 119), Some(19));
        assert_eq!(byte(&m, 120), Some(200));
        assert_eq!(byte(&m, 130), Some(30));
    }

    #[test]
    fn covering_replaces_several() {
        let mut m = SplicedMemory::new();
        m.add(region(100, 10, 0));
        m.add(region(120, 10, 0));
        m.add(region(140, 10, 0));
        m.add(region(105, 40, 7));
        assert_eq!(layout(&m), [(100, 105), (105, 145), (145, 150)]);
        m.add(region(0, 1000, 9));
        assert_eq!(layout(&m), [(0, 1000)]);
    }

    #[test]
    fn contiguous_reads_span_regions() {
        let mut m = SplicedMemory::new();
        m.add(region(0x1000, 0x10, 0));
        m.add(region(0x1010, 0x10, 0x10));
        m.add(Region {
            start: 0x1020,
            len: 0x10,
            backing: Backing::Zeros,
        });
        let mut buf = [0xffu8; 0x30];
        m.read(0x1000, &mut buf).unwrap();
        let want: Vec<u8> = (0..0x20).chain(vec![0; 0x10]).collect();
        assert_eq!(&buf[..], &want[..]);
        // A read starting exactly at a boundary belongs to the later region.
        assert_eq!(m.read_u8(0x1010).unwrap(), 0x10);
        assert_eq!(m.read_u32(0x100e).unwrap(), u32::from_le_bytes([0xe, 0xf, 0x10, 0x11]));
    }

    #[test]
    fn unmapped_names_first_missing_address() {
        let mut m = SplicedMemory::new();
        m.add(region(0x1000, 0x10, 0));
        m.add(region(0x1020, 0x10, 0));
        let mut buf = [0u8; 0x30];
        match m.read(0x1000, &mut buf) {
            Err(Error::Unmapped { addr }) => assert_eq!(addr, 0x1010),
            other => panic!("{other:?}"),
        }
        match m.read(0xfff, &mut buf[..2]) {
            Err(Error::Unmapped { addr }) => assert_eq!(addr, 0xfff),
            other => panic!("{other:?}"),
        }
        m.add_missing(0x1010, 0x1020, "core truncated");
        match m.read(0x1000, &mut buf) {
            Err(Error::Unreadable { addr, reason }) => {
                assert_eq!(addr, 0x1010);
                assert!(reason.contains("truncated"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn zero_tail_and_end_of_address_space() {
        let mut m = SplicedMemory::new();
        m.add(Region {
            start: u64::MAX - 4,
            len: 100,
            backing: Backing::Zeros,
        });
        assert_eq!(layout(&m), [(u64::MAX - 4, u64::MAX)]);
        let mut buf = [1u8; 4];
        m.read(u64::MAX - 4, &mut buf).unwrap();
        assert_eq!(buf, [0; 4]);
        assert!(m.read(u64::MAX - 4, &mut [0u8; 5]).is_err());
        // A backing shorter than the region is clipped, not trusted.
        m.add(Region {
            start: 0,
            len: 100,
            backing: bytes(0, 10),
        });
        assert_eq!(m.regions()[0].end(), 10);
    }

    #[test]
    fn cstring_and_remove() {
        let mut m = SplicedMemory::new();
        m.add(Region {
            start: 0x10,
            len: 6,
            backing: Backing::Bytes {
                bytes: Arc::new(b"xhello\0".to_vec()),
                offset: 1,
            },
        });
        assert_eq!(m.read_cstring(0x10, 100).unwrap(), b"hello");
        assert_eq!(m.read_cstring(0x10, 3).unwrap(), b"hel");
        assert_eq!(m.slice(0x11, 2), Some(&b"el"[..]));
        m.remove(0x12, 2);
        assert_eq!(layout(&m), [(0x10, 0x12), (0x14, 0x16)]);
        assert_eq!(m.read_u8(0x14).unwrap(), b'o');
    }

    mod against_model {
        use super::*;
        use proptest::prelude::*;

        // A naive model: one optional byte per address in a small space.
        fn check(ops: &[(u64, u64, bool, u8)], reads: &[(u64, usize)]) {
            const SPACE: usize = 256;
            let mut model: Vec<Option<u8>> = vec![None; SPACE];
            let mut m = SplicedMemory::new();
            let mut b = Builder::new();
            for &(start, len, zeros, fill) in ops {
                let backing = if zeros { Backing::Zeros } else { bytes(fill, len as usize + 3) };
                // Offset into the backing exercises `offset` arithmetic.
                let backing = match backing {
                    Backing::Bytes { bytes, .. } => Backing::Bytes { bytes, offset: 3 },
                    z => z,
                };
                b.add(Region { start, len, backing: backing.clone() });
                m.add(Region { start, len, backing });
                for i in 0..len {
                    let v = if zeros { 0 } else { fill.wrapping_add((i + 3) as u8) };
                    model[(start + i) as usize] = Some(v);
                }
            }
            let built = b.build();
            assert_eq!(format!("{:?}", built.regions()), format!("{:?}", m.regions()));
            let rs = m.regions();
            for w in rs.windows(2) {
                assert!(w[0].end() <= w[1].start, "{rs:?}");
            }
            for &(addr, len) in reads {
                let mut buf = vec![0u8; len];
                let got = m.read(addr, &mut buf);
                let want: Option<Vec<u8>> =
                    (addr as usize..addr as usize + len).map(|a| model.get(a).copied().flatten()).collect();
                match (got, want) {
                    (Ok(()), Some(w)) => assert_eq!(buf, w),
                    (Err(Error::Unmapped { addr: bad }), None) => {
                        let first = (addr as usize..).find(|&a| model.get(a).copied().flatten().is_none());
                        assert_eq!(Some(bad as usize), first);
                    }
                    (got, want) => panic!("read {addr}+{len}: got {got:?}, model {want:?}"),
                }
            }
        }

        proptest! {
            #[test]
            fn matches_byte_model(
                ops in prop::collection::vec((0u64..200, 1u64..40, any::<bool>(), any::<u8>()), 0..12),
                reads in prop::collection::vec((0u64..240, 1usize..16), 1..20),
            ) {
                check(&ops, &reads);
            }
        }
    }
}
