//! Reading the memory a core holds: the dumped part of every mapping as one
//! stream, cut into chunks of several MiB that may span many small mappings
//! (one `process_vm_readv` for all of them), and filled so that one
//! unreadable page costs one page of zeros, never a whole chunk.

use crate::target::Target;

/// One unit of reading: consecutive pieces of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chunk {
    pub ranges: Vec<(u64, usize)>,
    /// Parallel to `ranges`: pieces known to be zero (never-touched
    /// anonymous pages), which are not read at all.
    pub zero: Vec<bool>,
    pub len: usize,
}

/// Cut `(address, length, read)` pieces (in stream order) into chunks of at
/// most `chunk` bytes; `read == false` marks pieces known to be zero.
/// Chunk boundaries inside a piece fall on multiples of `chunk` from the
/// start of the stream, so pages stay whole.
pub fn plan(pieces: &[(u64, u64, bool)], chunk: usize) -> Vec<Chunk> {
    let mut out = Vec::new();
    let mut cur = Chunk::default();
    for &(start, len, read) in pieces {
        let mut off = 0u64;
        while off < len {
            let room = chunk - cur.len;
            let n = room.min((len - off) as usize);
            cur.ranges.push((start + off, n));
            cur.zero.push(!read);
            cur.len += n;
            off += n as u64;
            if cur.len == chunk {
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    if cur.len > 0 {
        out.push(cur);
    }
    out
}

/// Split `(start, len)` at page granularity by `resident` (one flag a page,
/// or `None` for "read all of it") into `(address, length, read)` pieces.
pub fn split_resident(start: u64, len: u64, page: u64, resident: Option<&[bool]>) -> Vec<(u64, u64, bool)> {
    let Some(res) = resident else { return vec![(start, len, true)] };
    let mut out: Vec<(u64, u64, bool)> = Vec::new();
    let mut a = start;
    let end = start + len;
    let mut i = 0;
    while a < end {
        let n = page.min(end - a);
        let read = res.get(i).copied().unwrap_or(true);
        match out.last_mut() {
            Some(l) if l.2 == read => l.1 += n,
            _ => out.push((a, n, read)),
        }
        a += n;
        i += 1;
    }
    out
}

/// Where stream offset `at` of a chunk is: (range index, offset in it).
fn locate(c: &Chunk, mut at: usize) -> (usize, usize) {
    for (i, &(_, len)) in c.ranges.iter().enumerate() {
        if at < len {
            return (i, at);
        }
        at -= len;
    }
    (c.ranges.len(), 0)
}

/// Fill `buf[..c.len]` with the chunk's memory. The batch read goes as far
/// as it can; at the first unreadable byte the rest of that page is tried
/// through the target's slow path and zeroed if that fails too; then the
/// batch read resumes. Returns the addresses where a page (or the rest of
/// one) had to be zeroed.
pub fn fill(t: &dyn Target, c: &Chunk, buf: &mut [u8], page: u64) -> Vec<u64> {
    if !c.zero.iter().any(|&z| z) {
        return fill_run(t, c, buf, page);
    }
    // Runs of pieces to read, separated by pieces that are zero.
    let mut zeroed = Vec::new();
    let mut off = 0;
    let mut i = 0;
    while i < c.ranges.len() {
        let j = (i..c.ranges.len()).find(|&k| c.zero[k] != c.zero[i]).unwrap_or(c.ranges.len());
        let len: usize = c.ranges[i..j].iter().map(|r| r.1).sum();
        if c.zero[i] {
            buf[off..off + len].fill(0);
        } else {
            let run = Chunk { ranges: c.ranges[i..j].to_vec(), zero: vec![false; j - i], len };
            zeroed.extend(fill_run(t, &run, &mut buf[off..off + len], page));
        }
        off += len;
        i = j;
    }
    zeroed
}

fn fill_run(t: &dyn Target, c: &Chunk, buf: &mut [u8], page: u64) -> Vec<u64> {
    let buf = &mut buf[..c.len];
    let mut done = 0usize;
    let mut zeroed = Vec::new();
    while done < c.len {
        let (i, off) = locate(c, done);
        let mut rest: Vec<(u64, usize)> = Vec::with_capacity(c.ranges.len() - i);
        rest.push((c.ranges[i].0 + off as u64, c.ranges[i].1 - off));
        rest.extend_from_slice(&c.ranges[i + 1..]);
        done += t.read_memory_batch(&rest, &mut buf[done..]);
        if done >= c.len {
            break;
        }
        let (i, off) = locate(c, done);
        let addr = c.ranges[i].0 + off as u64;
        let to_page_end = (page - addr % page) as usize;
        let n = to_page_end.min(c.ranges[i].1 - off);
        let got = t.read_memory(addr, &mut buf[done..done + n]);
        if got < n {
            buf[done + got..done + n].fill(0);
            zeroed.push(addr);
        }
        done += n;
    }
    zeroed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::MemoryMapEntry;
    use elfwriter::{Machine, Note};

    #[test]
    fn plan_spans_ranges() {
        let p = plan(&[(0x1000, 0x1000, true), (0x5000, 0x3000, false), (0x10000, 0x1000, true)], 0x2000);
        assert_eq!(
            p,
            vec![
                Chunk { ranges: vec![(0x1000, 0x1000), (0x5000, 0x1000)], zero: vec![false, true], len: 0x2000 },
                Chunk { ranges: vec![(0x6000, 0x2000)], zero: vec![true], len: 0x2000 },
                Chunk { ranges: vec![(0x10000, 0x1000)], zero: vec![false], len: 0x1000 },
            ]
        );
        assert_eq!(
            split_resident(0x1000, 0x4000, 0x1000, Some(&[true, false, false, true])),
            vec![(0x1000, 0x1000, true), (0x2000, 0x2000, false), (0x4000, 0x1000, true)]
        );
    }

    /// Memory where every byte is its address's low byte, except for holes.
    struct Fake {
        bad: Vec<(u64, u64)>,
        slow_ok: Vec<u64>,
    }
    impl Fake {
        fn ok(&self, a: u64) -> bool {
            !self.bad.iter().any(|&(s, e)| a >= s && a < e)
        }
    }
    impl Target for Fake {
        fn machine(&self) -> Machine {
            Machine::Amd64
        }
        fn page_size(&self) -> u64 {
            0x1000
        }
        fn memory_map(&self) -> crate::Result<Vec<MemoryMapEntry>> {
            Ok(vec![])
        }
        fn threads(&self) -> Vec<u64> {
            vec![]
        }
        fn dump_process_notes(&self, _: &mut Vec<Note>, _: &mut dyn FnMut()) -> crate::Result<bool> {
            Ok(false)
        }
        fn read_memory(&self, addr: u64, buf: &mut [u8]) -> usize {
            for (i, b) in buf.iter_mut().enumerate() {
                let a = addr + i as u64;
                if !self.ok(a) && !self.slow_ok.contains(&(a & !0xfff)) {
                    return i;
                }
                *b = a as u8 | 1;
            }
            buf.len()
        }
        fn read_memory_batch(&self, ranges: &[(u64, usize)], buf: &mut [u8]) -> usize {
            let mut done = 0;
            for &(a, l) in ranges {
                for i in 0..l {
                    if !self.ok(a + i as u64) {
                        return done;
                    }
                    buf[done] = (a + i as u64) as u8 | 1;
                    done += 1;
                }
            }
            done
        }
    }

    #[test]
    fn unreadable_pages_cost_one_page_each() {
        let f = Fake { bad: vec![(0x3000, 0x5000)], slow_ok: vec![0x4000] };
        let c = &plan(&[(0x1000, 0x2000, true), (0x3000, 0x4000, true)], 1 << 20)[0];
        let mut buf = vec![0xeeu8; c.len];
        let z = fill(&f, c, &mut buf, 0x1000);
        assert_eq!(z, vec![0x3000]);
        // 0x1000..0x3000 from range 0, then 0x3000 (zeroed), 0x4000 (slow path), 0x5000.. fast
        assert!(buf[0..0x2000].iter().all(|&b| b != 0));
        assert!(buf[0x2000..0x3000].iter().all(|&b| b == 0));
        assert!(buf[0x3000..].iter().all(|&b| b & 1 == 1));

        // Pieces known to be zero are not read (here they would fail).
        let c = &plan(&[(0x1000, 0x1000, true), (0x3000, 0x2000, false), (0x5000, 0x1000, true)], 1 << 20)[0];
        let mut buf = vec![0xeeu8; c.len];
        assert!(fill(&f, c, &mut buf, 0x1000).is_empty());
        assert!(buf[0x1000..0x3000].iter().all(|&b| b == 0));
        assert!(buf[..0x1000].iter().chain(&buf[0x3000..]).all(|&b| b & 1 == 1));
    }
}
