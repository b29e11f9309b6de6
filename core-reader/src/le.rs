//! Bounds-checked little-endian field access over borrowed bytes. Every
//! architecture this crate reads is little-endian.

pub(crate) fn u16_at(d: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(off..off.checked_add(2)?)?.try_into().ok()?))
}

pub(crate) fn u32_at(d: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(off..off.checked_add(4)?)?.try_into().ok()?))
}

pub(crate) fn u64_at(d: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(off..off.checked_add(8)?)?.try_into().ok()?))
}

/// `d[off..off + len]`, with offsets that may come from the file.
pub(crate) fn bytes_at(d: &[u8], off: u64, len: u64) -> Option<&[u8]> {
    let off = usize::try_from(off).ok()?;
    let len = usize::try_from(len).ok()?;
    d.get(off..off.checked_add(len)?)
}

/// The bytes before the first NUL (all of them if there is none).
pub(crate) fn until_nul(d: &[u8]) -> &[u8] {
    d.iter().position(|&b| b == 0).map_or(d, |n| &d[..n])
}
