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
/// length 0 fails on Linux).
pub fn map_file(path: &Path) -> Result<Bytes> {
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

/// Decompress `data` (which `path` names, for errors) completely.
pub fn decompress(path: &Path, data: &[u8], c: Compression) -> Result<Bytes> {
    let reader: Box<dyn Read + '_> = match c {
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(data).map_err(|e| io(path, e))?),
        Compression::Xz => Box::new(xz2::read::XzDecoder::new_multi_decoder(data)),
        Compression::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(data)),
    };
    spill(path, reader, c)
}

fn spill(path: &Path, mut r: impl Read, c: Compression) -> Result<Bytes> {
    let bad = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(e.kind(), format!("{} decompression failed: {e}", c.name())),
    };
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 20];
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => return Ok(Arc::new(buf)),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad(e)),
        };
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > IN_MEMORY_LIMIT {
            break;
        }
    }
    let mut tmp = tempfile::tempfile().map_err(|e| io(Path::new("<temporary file>"), e))?;
    tmp.write_all(&buf).map_err(|e| io(Path::new("<temporary file>"), e))?;
    drop(buf);
    loop {
        let n = match r.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(bad(e)),
        };
        tmp.write_all(&chunk[..n]).map_err(|e| io(Path::new("<temporary file>"), e))?;
    }
    tmp.flush().map_err(|e| io(Path::new("<temporary file>"), e))?;
    Ok(Arc::new(map(&tmp).map_err(|e| io(Path::new("<temporary file>"), e))?))
}
