//! The Go allocator's size classes (`class_to_size`, runtime/sizeclasses.go;
//! internal/runtime/gc/sizeclasses.go from Go 1.26). The table is the same
//! in every version from Go 1.21 through 1.27.

pub const PAGE_SIZE: u64 = 8192;
pub const NUM_SIZE_CLASSES: usize = 68;
/// Largest size served by a size class; larger objects get spans of their own.
pub const MAX_SMALL_SIZE: u64 = 32768;
/// Scan objects larger than this carry an 8-byte type header (Go 1.22+);
/// smaller ones keep a pointer bitmap at the end of their span.
pub const MIN_SIZE_FOR_MALLOC_HEADER: u64 = 512;
pub const MALLOC_HEADER_SIZE: u64 = 8;
/// The tiny allocator packs noscan allocations under this size into blocks of it.
pub const TINY_SIZE: u64 = 16;

pub const CLASS_TO_SIZE: [u16; NUM_SIZE_CLASSES] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416,
    448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200,
    3456, 4096, 4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384,
    18432, 19072, 20480, 21760, 24576, 27264, 28672, 32768,
];

/// The size the allocator gives a request of `size` bytes (no header
/// added): the smallest class that holds it, or whole pages for large ones.
pub fn round_up(size: u64) -> u64 {
    if size <= MAX_SMALL_SIZE {
        let i = CLASS_TO_SIZE.partition_point(|c| u64::from(*c) < size);
        CLASS_TO_SIZE.get(i).map_or(size, |c| u64::from(*c))
    } else {
        size.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn rounding() {
        use super::round_up;
        assert_eq!(round_up(1), 8);
        assert_eq!(round_up(24), 24);
        assert_eq!(round_up(25), 32);
        assert_eq!(round_up(700), 704);
        assert_eq!(round_up(32768), 32768);
        assert_eq!(round_up(32769), 40960);
    }
}
