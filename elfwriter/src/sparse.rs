//! [`SparseStream`]: a fixed number of bytes written in order to a file,
//! where runs of zero pages become holes (a seek, not a write). ELF cores
//! use it for their segment data; other formats with one contiguous memory
//! area (minidump's Memory64List) can use it too.

use std::io::{Seek, SeekFrom, Write};

use crate::writer::{io, Error};

pub struct SparseStream<W: Write + Seek> {
    out: W,
    total: u64,
    written: u64,
    /// Bytes skipped but not yet seeked over: seeks are coalesced so a long
    /// run of zero pages costs one `lseek`.
    pending_skip: u64,
}

impl<W: Write + Seek> SparseStream<W> {
    /// `out` is positioned where the stream starts; `total` bytes will follow.
    pub fn new(out: W, total: u64) -> Self {
        SparseStream { out, total, written: 0, pending_skip: 0 }
    }

    /// Bytes still expected.
    pub fn remaining(&self) -> u64 {
        self.total - self.written
    }

    fn claim(&mut self, n: u64) -> Result<(), Error> {
        if n > self.remaining() {
            return Err(Error::TooMuchData { extra: n - self.remaining(), total: self.total });
        }
        self.written += n;
        Ok(())
    }

    fn flush_skip(&mut self) -> Result<(), Error> {
        if self.pending_skip > 0 {
            self.out
                .seek(SeekFrom::Current(self.pending_skip as i64))
                .map_err(io("segment data (seeking over zeros)"))?;
            self.pending_skip = 0;
        }
        Ok(())
    }

    /// Append the next bytes of segment data.
    pub fn write_data(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.claim(bytes.len() as u64)?;
        self.flush_skip()?;
        self.out.write_all(bytes).map_err(io("segment data"))
    }

    /// Append `n` zero bytes as a hole: nothing is written, the file stays sparse.
    pub fn skip(&mut self, n: u64) -> Result<(), Error> {
        self.claim(n)?;
        self.pending_skip += n;
        Ok(())
    }

    /// Append `bytes`, turning every whole `page`-sized, page-aligned (relative
    /// to the data start) run of zeros into a hole.
    pub fn write_sparse(&mut self, bytes: &[u8], page: usize) -> Result<(), Error> {
        let mut done = 0;
        // Pages counted from the stream's start, so holes line up with file
        // system blocks; each run of non-zero pages is one write.
        for (start, end) in data_runs(bytes, self.written, page) {
            self.skip((start - done) as u64)?;
            self.write_data(&bytes[start..end])?;
            done = end;
        }
        self.skip((bytes.len() - done) as u64)
    }

    /// Check that every promised byte came, make a trailing hole part of the
    /// file (by writing its last byte), flush, and hand back the output.
    pub fn finish(mut self) -> Result<W, Error> {
        if self.written != self.total {
            return Err(Error::Incomplete { written: self.written, total: self.total });
        }
        if self.pending_skip > 0 {
            self.pending_skip -= 1;
            self.flush_skip()?;
            self.out.write_all(&[0]).map_err(io("segment data (last byte)"))?;
        }
        self.out.flush().map_err(io("file"))?;
        Ok(self.out)
    }
}

/// Offsets `(start, end)` within `bytes` of the runs that hold data, when
/// it is cut into `page`-sized pieces counted from `base` (the bytes'
/// position in their stream): whole zero pieces are left out.
pub fn data_runs(bytes: &[u8], base: u64, page: usize) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let at = ((base % page as u64) as usize + i) % page;
        let n = (page - at).min(bytes.len() - i);
        if !is_zero(&bytes[i..i + n]) {
            match out.last_mut() {
                Some(l) if l.1 == i => l.1 = i + n,
                _ => out.push((i, i + n)),
            }
        }
        i += n;
    }
    out
}

/// Whether every byte is zero. Blocks of 256 bytes are folded with OR (no
/// branch inside, so the compiler vectorises it) and the scan stops at the
/// first block with data: a page of data costs one block, not 16.
pub fn is_zero(b: &[u8]) -> bool {
    let mut blocks = b.chunks_exact(256);
    for c in &mut blocks {
        let mut acc = 0u64;
        for w in c.chunks_exact(8) {
            acc |= u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        }
        if acc != 0 {
            return false;
        }
    }
    blocks.remainder().iter().all(|&x| x == 0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_skip_whole_zero_pages_only() {
        let mut b = vec![0u8; 6 * 16];
        b[0] = 1; // page 0
        b[2 * 16 + 15] = 1; // page 2
        b[3 * 16] = 1; // page 3
        assert_eq!(super::data_runs(&b, 0, 16), vec![(0, 16), (32, 64)]);
        // Pages counted from the stream: this piece starts 8 bytes into one.
        assert_eq!(super::data_runs(&b[..24], 8, 16), vec![(0, 8)]);
        assert!(super::data_runs(&[0; 64], 0, 16).is_empty());
    }

    #[test]
    fn is_zero_sees_any_byte() {
        let mut b = vec![0u8; 4096 + 7];
        assert!(super::is_zero(&b));
        for at in [0, 255, 256, 4095, 4096, 4102] {
            b[at] = 1;
            assert!(!super::is_zero(&b), "{at}");
            b[at] = 0;
        }
        assert!(super::is_zero(&[]));
    }
}
