//! Getting a file's bytes: memory-mapped, or decompressed into memory (or a
//! temporary file when large) for compressed cores.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::Arc;

use crate::spliced::Bytes;
use crate::{Error, Result};

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Map `path` read-only. An empty file gives an empty buffer (mmap of
/// length 0 fails on Linux). Only regular files: a core names the files it
/// had mapped, and a damaged or hostile one may name a FIFO (whose open
/// would block forever) or a device.
pub fn map_file(path: &Path) -> Result<Bytes> {
    let md = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !md.is_file() {
        return Err(io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    let file = File::open(path).map_err(|e| io(path, e))?;
    let len = file.metadata().map_err(|e| io(path, e))?.len();
    if len == 0 {
        return Ok(Arc::new(Vec::<u8>::new()));
    }
    Ok(Arc::new(map(&file).map_err(|e| io(path, e))?))
}

#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only; if another process truncates the file
    // while we read it we may get SIGBUS, the one risk every mmap-based core
    // reader accepts (gdb, Delve) to avoid copying gigabytes.
    unsafe { memmap2::Mmap::map(file) }
}

impl crate::spliced::Source for memmap2::Mmap {
    #[allow(unsafe_code)]
    fn release_pages(&self) {
        // SAFETY: the map is read-only and never written, so MADV_DONTNEED
        // only unmaps its pages: the next access reads the file's bytes
        // again, the same ones (the caveat of `map` above aside). No
        // reference into the map is invalidated.
        let _ = unsafe { self.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
    }
}

/// Compression formats recognised by their magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Zstd,
    Xz,
    Lz4,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Option<Compression> {
        if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Compression::Xz)
        } else if head.starts_with(&[0x04, 0x22, 0x4d, 0x18]) {
            Some(Compression::Lz4)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
            Compression::Lz4 => "lz4",
        }
    }
}

/// Above this, decompressed data goes to an unlinked temporary file that we
/// then map, instead of the heap.
const IN_MEMORY_LIMIT: usize = 256 << 20;

/// The default cap on a core's decompressed size (`OpenOptions::max_decompressed`).
/// Far above any core a triage pipeline meets; far below what a
/// compression bomb (a few KiB that inflate to terabytes) would fill.
pub const DEFAULT_MAX_DECOMPRESSED: u64 = 64 << 30;

/// The environment variable the tools read the cap from
/// ([`crate::OpenOptions::from_env`]): a number of bytes, with an optional
/// K, M, G or T suffix (powers of 1024).
pub const MAX_DECOMPRESSED_ENV: &str = "CORE_READER_MAX_DECOMPRESSED";

/// The cap `CORE_READER_MAX_DECOMPRESSED` sets, if it is set and valid.
pub(crate) fn max_decompressed_from_env() -> Option<u64> {
    std::env::var(MAX_DECOMPRESSED_ENV).ok().and_then(|v| parse_size(&v))
}

/// "1048576", "512M", "2G" -> bytes.
fn parse_size(v: &str) -> Option<u64> {
    let v = v.trim();
    let (num, shift) = match v.char_indices().last()? {
        (i, 'k' | 'K') => (&v[..i], 10),
        (i, 'm' | 'M') => (&v[..i], 20),
        (i, 'g' | 'G') => (&v[..i], 30),
        (i, 't' | 'T') => (&v[..i], 40),
        _ => (v, 0),
    };
    num.trim().parse::<u64>().ok()?.checked_mul(1 << shift).filter(|&n| n > 0)
}

/// Decompress `data` (which `path` names, for errors). A stream that breaks
/// off after producing output (a core cut short while being written) yields
/// what was decompressed and a warning; the ELF reader then reports the
/// truncation. No output at all is an error.
pub fn decompress(path: &Path, data: &[u8], c: Compression, cap: u64) -> Result<(Bytes, Option<crate::Warning>)> {
    let reader: Box<dyn Read + '_> = match c {
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(data).map_err(|e| io(path, e))?),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(data)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(data)),
    };
    spill(path, reader, c, IN_MEMORY_LIMIT, cap)
}

/// Where decompressed bytes go: the heap up to `limit`, then a temp file.
enum Sink {
    Heap(Vec<u8>),
    File(File, u64),
}

impl Sink {
    fn len(&self) -> u64 {
        match self {
            Sink::Heap(v) => v.len() as u64,
            Sink::File(_, n) => *n,
        }
    }

    fn write(&mut self, b: &[u8], limit: usize) -> std::io::Result<()> {
        match self {
            Sink::Heap(v) => {
                v.extend_from_slice(b);
                if v.len() > limit {
                    let mut f = tempfile::tempfile()?;
                    f.write_all(v)?;
                    *self = Sink::File(f, v.len() as u64);
                }
            }
            Sink::File(f, n) => {
                f.write_all(b)?;
                *n += b.len() as u64;
            }
        }
        Ok(())
    }

    fn finish(self) -> std::io::Result<Bytes> {
        Ok(match self {
            Sink::Heap(v) => Arc::new(v),
            Sink::File(mut f, _) => {
                f.flush()?;
                Arc::new(map(&f)?)
            }
        })
    }
}

fn spill(path: &Path, mut r: impl Read, c: Compression, limit: usize, cap: u64) -> Result<(Bytes, Option<crate::Warning>)> {
    let tmp_err = |e| io(Path::new("<temporary file for the decompressed core>"), e);
    let mut sink = Sink::Heap(Vec::new());
    let mut chunk = vec![0u8; 1 << 20];
    let mut warning = None;
    loop {
        match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if sink.len().saturating_add(n as u64) > cap {
                    return Err(Error::Malformed {
                        path: path.to_path_buf(),
                        what: format!(
                            "{} stream: it decompresses to more than the limit of {cap} bytes (a compression bomb?); \
                             if the core really is that big, raise the limit with {MAX_DECOMPRESSED_ENV}=BYTES \
                             or decompress it yourself",
                            c.name()
                        ),
                        offset: 0,
                    });
                }
                sink.write(&chunk[..n], limit).map_err(tmp_err)?
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) if sink.len() > 0 => {
                warning = Some(crate::Warning::DamagedCompression {
                    path: path.to_path_buf(),
                    format: c.name(),
                    recovered: sink.len(),
                    error: e.to_string(),
                });
                break;
            }
            Err(e) => {
                return Err(Error::Io {
                    path: path.to_path_buf(),
                    source: std::io::Error::new(e.kind(), format!("{} decompression failed: {e}", c.name())),
                })
            }
        }
    }
    Ok((sink.finish().map_err(tmp_err)?, warning))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spills_to_a_file_past_the_limit_and_keeps_partial_output() {
        let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let z = zstd::encode_all(&data[..], 1).unwrap();
        let p = Path::new("x.zst");
        let (b, w) = spill(p, zstd::stream::read::Decoder::new(&z[..]).unwrap(), Compression::Zstd, 1000, u64::MAX).unwrap();
        assert_eq!((*b).as_ref(), &data[..]);
        assert!(w.is_none());
        // Cut the compressed stream: what came out before the cut is kept.
        let cut = &z[..z.len() * 2 / 3];
        let (b, w) = spill(p, zstd::stream::read::Decoder::new(cut).unwrap(), Compression::Zstd, 1000, u64::MAX).unwrap();
        let got: &[u8] = (*b).as_ref();
        assert!(!got.is_empty() && got.len() < data.len());
        assert_eq!(got, &data[..got.len()]);
        assert!(w.unwrap().to_string().contains("cut short"));
        // Garbage from the start is an error naming the file.
        let Err(e) = decompress(p, &[0x28, 0xb5, 0x2f, 0xfd, 0xff, 0xff, 0xff], Compression::Zstd, u64::MAX) else {
            panic!("garbage decompressed");
        };
        assert!(e.to_string().contains("x.zst"), "{e}");
        assert_eq!(Compression::sniff(&[0xfd, b'7', b'z', b'X', b'Z', 0, 1]), Some(Compression::Xz));
        assert_eq!(Compression::sniff(&[0x04, 0x22, 0x4d, 0x18]), Some(Compression::Lz4));
        assert_eq!(Compression::sniff(b"\x7fELF"), None);
    }

    /// A compression bomb: 1 GiB of zeros in about 40 KiB of zstd stops at
    /// the cap with an error that names the file and the way out, having
    /// written no more than the cap.
    #[test]
    fn compression_bomb_stops_at_the_cap() {
        let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..1024 {
            std::io::Write::write_all(&mut enc, &zeros).unwrap();
        }
        let z = enc.finish().unwrap();
        assert!(z.len() < 1 << 20, "{}", z.len());
        let p = Path::new("bomb.core.zst");
        let t = std::time::Instant::now();
        let Err(e) = spill(p, zstd::stream::read::Decoder::new(&z[..]).unwrap(), Compression::Zstd, 1 << 20, 16 << 20)
        else {
            panic!("a 1 GiB bomb decompressed under a 16 MiB cap");
        };
        let msg = e.to_string();
        assert!(msg.contains("bomb.core.zst") && msg.contains("limit of 16777216 bytes"), "{msg}");
        assert!(msg.contains(MAX_DECOMPRESSED_ENV), "{msg}");
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
        // Exactly at the cap is fine.
        let small = zstd::encode_all(&vec![7u8; 4096][..], 1).unwrap();
        assert!(spill(p, zstd::stream::read::Decoder::new(&small[..]).unwrap(), Compression::Zstd, 1 << 20, 4096).is_ok());
        assert!(spill(p, zstd::stream::read::Decoder::new(&small[..]).unwrap(), Compression::Zstd, 1 << 20, 4095).is_err());
    }

    #[test]
    fn size_suffixes() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size(" 2g "), Some(2 << 30));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("99999999999T"), None);
    }
}
