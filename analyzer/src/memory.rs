//! Reading the process's memory. Everything the analyzer reads from the
//! target goes through [`Memory`], so the goroutine and unwinding code works
//! the same on any core format (and on synthetic memory in unit tests).

use crate::error::{Error, Result};

/// `Sync`: goroutines are read and walked on several threads at once.
pub trait Memory: Sync {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()>;

    /// Memory read once and not needed soon may be given back (a memory
    /// map drops its resident pages); reads stay correct either way.
    fn release_pages(&self) {}

    /// The bytes at `[addr, addr + len)` without copying, when the memory
    /// holds them in one piece (a core's mapping); `None` means "use `read`".
    fn slice(&self, _addr: u64, _len: usize) -> Option<&[u8]> {
        None
    }

    fn u64(&self, addr: u64) -> Result<u64> {
        let mut b = [0u8; 8];
        self.read(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
    fn u32(&self, addr: u64) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read(addr, &mut b)?;
        Ok(u32::from_le_bytes(b))
    }
    fn u8(&self, addr: u64) -> Result<u8> {
        let mut b = [0u8; 1];
        self.read(addr, &mut b)?;
        Ok(b[0])
    }
    /// A Go string header `{ptr, len}` at `addr`; `max` caps the length
    /// because the header may be garbage.
    fn go_string(&self, addr: u64, max: u64) -> Result<String> {
        let ptr = self.u64(addr)?;
        let len = self.u64(addr.wrapping_add(8))?;
        self.string_at(ptr, len, max)
    }
    fn string_at(&self, ptr: u64, len: u64, max: u64) -> Result<String> {
        if len > max {
            return Err(Error::Memory {
                addr: ptr,
                len: len as usize,
                reason: format!("string length {len} exceeds the cap of {max}"),
            });
        }
        let mut v = vec![0u8; len as usize];
        self.read(ptr, &mut v)?;
        Ok(String::from_utf8_lossy(&v).into_owned())
    }
}

impl Memory for core_reader::Core {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        self.read_memory(addr, buf).map_err(|e| Error::Memory {
            addr,
            len: buf.len(),
            reason: e.to_string(),
        })
    }
    fn release_pages(&self) {
        core_reader::Core::release_pages(self);
    }
    fn slice(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.memory.slice(addr, len)
    }
}

/// Memory made of owned regions; for tests and for static data.
#[derive(Default, Clone)]
pub struct VecMemory {
    pub regions: Vec<(u64, Vec<u8>)>,
}

impl Memory for VecMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<()> {
        for (start, data) in &self.regions {
            if addr >= *start {
                let off = addr - start;
                if off as usize <= data.len() && data.len() - off as usize >= buf.len() {
                    buf.copy_from_slice(&data[off as usize..off as usize + buf.len()]);
                    return Ok(());
                }
            }
        }
        Err(Error::Memory { addr, len: buf.len(), reason: "not mapped".into() })
    }
}
