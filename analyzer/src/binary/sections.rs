//! The executable's DWARF sections, each decompressed (`SHF_COMPRESSED` or
//! `.zdebug_*`) once and shared by every reader: the runtime layouts read
//! at open and the variables and types read later. Sizes come from the
//! file, so each is capped: a compression bomb must not take the memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use object::{Object, ObjectSection};

use crate::dwarf::{DwarfError, R};

/// Largest section decompressed (Go's own are a few MiB).
pub const MAX_DWARF_SECTION: u64 = 512 << 20;

/// Why a section's bytes cannot be had.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SectionError {
    #[error("claims {0} bytes uncompressed, more than the {MAX_DWARF_SECTION} read")]
    TooLarge(u64),
    #[error(transparent)]
    Object(#[from] object::Error),
}

/// A section's bytes, decompressed, refusing one that claims more than
/// [`MAX_DWARF_SECTION`] uncompressed. Every DWARF/CFI section the analyzer
/// reads goes through here.
pub(crate) fn section_bytes<'d>(s: &impl ObjectSection<'d>) -> Result<Vec<u8>, SectionError> {
    let c = s.compressed_data()?;
    if c.uncompressed_size > MAX_DWARF_SECTION {
        return Err(SectionError::TooLarge(c.uncompressed_size));
    }
    let d = c.decompress()?.into_owned();
    Ok(zdebug(&d)?.unwrap_or(d))
}

/// `.zdebug_*` sections ("ZLIB", 8-byte big-endian size, zlib stream), as
/// Go writes them into PE and Mach-O files, where `object` does not
/// decompress them by itself.
pub(crate) fn zdebug(d: &[u8]) -> Result<Option<Vec<u8>>, SectionError> {
    let (Some(b"ZLIB"), Some(size)) = (d.get(..4), d.get(4..12)) else { return Ok(None) };
    let size = u64::from_be_bytes(size.try_into().unwrap_or_default());
    if size > MAX_DWARF_SECTION {
        return Err(SectionError::TooLarge(size));
    }
    let c = object::CompressedData {
        format: object::CompressionFormat::Zlib,
        data: &d[12..],
        uncompressed_size: size,
    };
    Ok(Some(c.decompress()?.into_owned()))
}

/// The DWARF sections of one file, decompressed on first use.
#[derive(Default)]
pub(crate) struct DwarfSections {
    cache: Mutex<HashMap<gimli::SectionId, Arc<[u8]>>>,
}

impl DwarfSections {
    /// Section `id` of `obj` (empty when the file has none).
    pub(crate) fn get(&self, obj: &object::File, id: gimli::SectionId) -> Result<R, DwarfError> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(d) = cache.get(&id) {
            return Ok(R::new(d.clone(), gimli::LittleEndian));
        }
        let name = id.name();
        let zname = format!(".zdebug_{}", name.strip_prefix(".debug_").unwrap_or(name));
        let data = match obj.section_by_name(name).or_else(|| obj.section_by_name(&zname)) {
            Some(s) => section_bytes(&s).map_err(|reason| DwarfError::Section { section: name, reason })?,
            None => Vec::new(),
        };
        let data: Arc<[u8]> = Arc::from(data.into_boxed_slice());
        cache.insert(id, data.clone());
        Ok(R::new(data, gimli::LittleEndian))
    }
}

impl std::fmt::Debug for DwarfSections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.cache.lock().map(|c| c.len()).unwrap_or(0);
        f.debug_struct("DwarfSections").field("loaded", &n).finish()
    }
}

#[cfg(test)]
mod tests {
    /// A `.zdebug_*` header claiming a terabyte is refused before any
    /// allocation (bounds audit).
    #[test]
    fn zdebug_claiming_a_terabyte_is_refused() {
        let mut d = b"ZLIB".to_vec();
        d.extend_from_slice(&(1u64 << 40).to_be_bytes());
        d.extend_from_slice(&[0x78, 0x9c, 3, 0]);
        assert!(matches!(super::zdebug(&d), Err(super::SectionError::TooLarge(n)) if n == 1 << 40));
        assert!(matches!(super::zdebug(b"not zlib"), Ok(None)));
    }
}
