//! `SplicedMemory`: the process's address space as ordered, non-overlapping
//! regions, each backed by mapped bytes (the core, the executable, a library)
//! or zeros. A region added later cuts into those it overlaps.

use std::sync::Arc;

use crate::{Error, Result};

/// Bytes a region can borrow from: a memory map or an owned buffer.
pub type Bytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

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

#[derive(Clone, Default)]
pub struct SplicedMemory {
    regions: Vec<Region>,
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

    pub fn regions(&self) -> &[Region] {
        &self.regions
    }

    /// Add a region; it wins over whatever it overlaps.
    pub fn add(&mut self, region: Region) {
        let _ = region;
        unimplemented!("core-reader: SplicedMemory::add")
    }

    /// Read exactly `buf.len()` bytes at `addr`, across contiguous regions.
    pub fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        let _ = buf;
        Err(Error::Unmapped { addr })
    }
}
