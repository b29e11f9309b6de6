//! What the targets that damage a real core share (`goroutine_walk`,
//! `value_print`): the seed core's `PT_LOAD` table and the overwriting of
//! its words as the input's records say.

pub fn u64_at(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

/// The seed's bytes and where its segments are.
pub struct SeedCore {
    pub bytes: Vec<u8>,
    /// (vaddr, file offset, file size) of every PT_LOAD.
    pub loads: Vec<(u64, u64, u64)>,
}

impl SeedCore {
    /// Read an ELF core the fuzz targets' seed script made (trusted input).
    pub fn read(path: &std::path::Path) -> SeedCore {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("seed core {}: {e}", path.display()));
        let phoff = u64_at(&bytes, 32) as usize;
        let phnum = u16::from_le_bytes([bytes[56], bytes[57]]) as usize;
        let mut loads = Vec::new();
        for i in 0..phnum {
            let o = phoff + 56 * i;
            if u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) == 1 {
                loads.push((u64_at(&bytes, o + 16), u64_at(&bytes, o + 8), u64_at(&bytes, o + 32)));
            }
        }
        SeedCore { bytes, loads }
    }

    fn file_off(&self, a: u64) -> Option<usize> {
        self.loads
            .iter()
            .find(|(va, _, sz)| a >= *va && a - va + 8 <= *sz)
            .map(|(va, fo, _)| (fo + a - va) as usize)
    }

    /// A copy of the core with words overwritten: `records` are 16 bytes
    /// each, {u16 target, u8 mode, u8 _, u32 offset, u64 value}, at most 64.
    /// A word of `targets[target]` becomes, by `mode % modes`: the value,
    /// 0, all ones, a pointer near itself (a cycle), a pointer into another
    /// target, a power of two (a huge length), or (mode 6) only its low
    /// byte replaced (a map's B, a type's kind, a small count).
    pub fn damaged(&self, targets: &[(u64, u64)], records: &[u8], modes: u8) -> Vec<u8> {
        let mut bytes = self.bytes.clone();
        for r in records.chunks_exact(16).take(64) {
            let sel = u16::from_le_bytes([r[0], r[1]]) as usize;
            let mode = r[2];
            let off = u32::from_le_bytes(r[4..8].try_into().unwrap()) as u64;
            let val = u64::from_le_bytes(r[8..16].try_into().unwrap());
            let (start, len) = targets[sel % targets.len()];
            let a = start.wrapping_add(off % len / 8 * 8);
            let Some(o) = self.file_off(a) else { continue };
            let w = match mode % modes {
                0 => val,
                1 => 0,
                2 => u64::MAX,
                3 => a ^ (val & 0xff8),
                4 => {
                    let (t, l) = targets[(val as usize) % targets.len()];
                    t.wrapping_add((val >> 32) % l / 8 * 8)
                }
                5 => 1u64 << (val % 64),
                _ => (u64_at(&bytes, o) & !0xff) | (val & 0xff),
            };
            bytes[o..o + 8].copy_from_slice(&w.to_le_bytes());
        }
        bytes
    }
}
