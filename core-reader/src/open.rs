//! Format sniffing: decompress by magic, then hand the bytes to the reader
//! for the format they are in.

use std::path::Path;

use crate::source::{decompress, map_file, Compression};
use crate::spliced::Bytes;
use crate::{elfcore, macho, minidump, Core, Error, OpenOptions, Result};

pub(crate) fn open(path: &Path, opts: &OpenOptions) -> Result<Core> {
    open_data(path, map_file(path)?, opts)
}

/// Open a core whose bytes are already in memory; `path` names it in
/// messages (and is where the executable is looked for next to it).
pub(crate) fn open_data(path: &Path, mut data: Bytes, opts: &OpenOptions) -> Result<Core> {
    let mut warnings = Vec::new();
    let mut compressed = None;
    if let Some(c) = Compression::sniff((*data).as_ref()) {
        let cap = opts.max_decompressed.unwrap_or(crate::DEFAULT_MAX_DECOMPRESSED);
        let (plain, warning) = decompress(path, (*data).as_ref(), c, cap)?;
        data = plain;
        warnings.extend(warning);
        compressed = Some(c);
    }
    let head: &[u8] = (*data).as_ref();
    if head.starts_with(b"\x7fELF") {
        return elfcore::open(path, data, opts, warnings);
    }
    if head.starts_with(b"MDMP") {
        return minidump::open(path, data, opts, warnings);
    }
    if head.starts_with(&[0xcf, 0xfa, 0xed, 0xfe]) {
        return macho::open(path, data, opts, warnings);
    }
    let what = if head.is_empty() {
        "the file is empty".to_string()
    } else {
        format!("unrecognised magic bytes {:02x?}", &head[..head.len().min(8)])
    };
    let what = match compressed {
        Some(c) => format!("{what} (after {} decompression)", c.name()),
        None => what,
    };
    Err(Error::UnknownFormat {
        path: path.to_path_buf(),
        what,
    })
}
