//! `time.Time` as a time (`2024-03-15T10:30:00Z`), as Delve shows it before
//! its fields. A Time is `{wall uint64; ext int64; loc *Location}`: with
//! wall's top bit set, seconds since 1885 sit in wall's bits 30..62 (and
//! ext is the monotonic clock); otherwise ext holds seconds since year 1.
//! Nanoseconds are wall's low 30 bits. The zone offset comes from the
//! Location's one-entry cache when the instant is inside it, else from its
//! zone transitions as Location.lookup finds it; nil and UTC locations are
//! UTC.

use super::{Printer, Src, ValueError};
use crate::dwarf::Kind;

const HAS_MONOTONIC: u64 = 1 << 63;
/// time.zone {name string; offset int; isDST bool} and time.zoneTrans
/// {when int64; index uint8; isstd, isutc bool}, unchanged since go1.0.
const ZONE_SIZE: u64 = 32;
const ZONE_OFFSET: u64 = 16;
const ZONE_ISDST: u64 = 24;
const TX_SIZE: u64 = 16;
const TX_INDEX: u64 = 8;
/// More zones or transitions than this is not a Location the runtime built.
const MAX_ZONES: u64 = 1 << 12;
const MAX_TX: u64 = 1 << 20;
const NSEC_MASK: u64 = (1 << 30) - 1;
/// Seconds from year 1 to 1885 and to 1970 (Go's wallToInternal, unixToInternal).
const WALL_TO_INTERNAL: i64 = (1884 * 365 + 1884 / 4 - 1884 / 100 + 1884 / 400) * 86400;
const UNIX_TO_INTERNAL: i64 = (1969 * 365 + 1969 / 4 - 1969 / 100 + 1969 / 400) * 86400;

impl Printer<'_> {
    /// The time a `time.Time` at `src` holds, RFC 3339 with nanoseconds.
    pub(super) fn time_text(&self, fields: &[crate::dwarf::types::Field], src: &Src) -> Result<String, ValueError> {
        let off = |n: &str| fields.iter().find(|f| f.name == n).map(|f| f.offset).ok_or_else(|| ValueError::Layout(format!("time.Time has no {n}")));
        let wall = self.word(&src.at(off("wall")?))?;
        let ext = self.word(&src.at(off("ext")?))? as i64;
        let loc = self.word(&src.at(off("loc")?))?;
        let sec = if wall & HAS_MONOTONIC != 0 { WALL_TO_INTERNAL + ((wall << 1) >> 31) as i64 } else { ext };
        let nsec = (wall & NSEC_MASK) as u32;
        let unix = sec.wrapping_sub(UNIX_TO_INTERNAL);
        let offset = if loc == 0 { Some(0) } else { self.zone_offset(fields, loc, unix) };
        Ok(format_time(unix, nsec, offset))
    }

    /// The offset of the Location at `loc` at `unix`, from its cache.
    fn zone_offset(&self, fields: &[crate::dwarf::types::Field], loc: u64, unix: i64) -> Option<i32> {
        let lt = fields.iter().find(|f| f.name == "loc")?.ty.and_then(|t| self.di.resolve(t))?;
        let Kind::Pointer(Some(l)) = lt.kind else { return None };
        let Kind::Struct(lf) = &self.di.resolve(l)?.kind else { return None };
        let off = |n: &str| lf.iter().find(|f| f.name == n).map(|f| f.offset);
        // UTC: the runtime's utcLoc, or a Location named "UTC" with no zones.
        let name_off = off("name")?;
        let ptr = self.mem.u64(loc + name_off).ok()?;
        let len = self.mem.u64(loc + name_off + 8).ok()?;
        if len == 3 {
            let mut b = [0u8; 3];
            if self.mem.read(ptr, &mut b).is_ok() && &b == b"UTC" {
                return Some(0);
            }
        }
        let start = self.mem.u64(loc + off("cacheStart")?).ok()? as i64;
        let end = self.mem.u64(loc + off("cacheEnd")?).ok()? as i64;
        let zone = self.mem.u64(loc + off("cacheZone")?).ok()?;
        if zone != 0 && unix >= start && unix < end {
            // zone {name string; offset int; isDST bool}
            return Some(self.mem.u64(zone + ZONE_OFFSET).ok()? as i64 as i32);
        }
        self.zone_lookup(loc, unix, off("zone")?, off("tx")?, off("extend")?)
    }

    /// Location.lookup without the cache: the last transition at or before
    /// `unix` names the zone; before the first, Go's lookupFirstZone. Past
    /// the last transition with a TZ rule (`extend`) the rule decides: not
    /// evaluated here (None: "zone unknown").
    fn zone_lookup(&self, loc: u64, unix: i64, zone_off: u64, tx_off: u64, extend_off: u64) -> Option<i32> {
        let zones = self.mem.u64(loc + zone_off).ok()?;
        let nzone = self.mem.u64(loc + zone_off + 8).ok()?;
        if nzone == 0 {
            return Some(0);
        }
        if nzone > MAX_ZONES {
            return None;
        }
        let txs = self.mem.u64(loc + tx_off).ok()?;
        let ntx = self.mem.u64(loc + tx_off + 8).ok()?.min(MAX_TX);
        let when = |i: u64| self.mem.u64(txs + i * TX_SIZE).ok().map(|w| w as i64);
        let index = |i: u64| self.mem.u8(txs + i * TX_SIZE + TX_INDEX).ok().map(u64::from);
        let is_dst = |z: u64| self.mem.u8(zones + z * ZONE_SIZE + ZONE_ISDST).ok().map(|b| b != 0);
        let offset = |z: u64| -> Option<i32> {
            if z >= nzone {
                return None;
            }
            Some(self.mem.u64(zones + z * ZONE_SIZE + ZONE_OFFSET).ok()? as i64 as i32)
        };
        if ntx == 0 || unix < when(0)? {
            // lookupFirstZone: zone 0 unless a transition uses it; then the
            // non-DST zone before the first transition's, or the first non-DST.
            let mut used = false;
            for i in 0..ntx {
                if index(i)? == 0 {
                    used = true;
                    break;
                }
            }
            if !used {
                return offset(0);
            }
            if ntx > 0 && is_dst(index(0)?)? {
                for z in (0..index(0)?).rev() {
                    if !is_dst(z)? {
                        return offset(z);
                    }
                }
            }
            for z in 0..nzone {
                if !is_dst(z)? {
                    return offset(z);
                }
            }
            return offset(0);
        }
        // The last transition at or before unix.
        let (mut lo, mut hi) = (0u64, ntx);
        while hi - lo > 1 {
            let m = lo + (hi - lo) / 2;
            if unix < when(m)? {
                hi = m;
            } else {
                lo = m;
            }
        }
        if lo == ntx - 1 && self.mem.u64(loc + extend_off + 8).ok()? != 0 {
            return None;
        }
        offset(index(lo)?)
    }
}

/// RFC 3339 with Go's trimmed nanoseconds; `offset` None: UTC, marked as
/// such since the zone could not be read.
fn format_time(unix: i64, nsec: u32, offset: Option<i32>) -> String {
    let off = offset.unwrap_or(0) as i64;
    let t = unix.saturating_add(off);
    let days = t.div_euclid(86400);
    let secs = t.rem_euclid(86400);
    let (y, m, d) = civil(days);
    let mut s = format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if nsec != 0 {
        let f = format!("{nsec:09}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    match offset {
        Some(0) => s.push('Z'),
        Some(o) => {
            let a = o.abs();
            s.push_str(&format!("{}{:02}:{:02}", if o < 0 { '-' } else { '+' }, a / 3600, a / 60 % 60));
        }
        None => s.push_str("Z (zone unknown)"),
    }
    s
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = z.div_euclid(146097);
    let doe = z.rem_euclid(146097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_like_go() {
        // time.Date(2024, 3, 15, 10, 30, 0, 0, time.UTC).Unix()
        assert_eq!(super::format_time(1710498600, 0, Some(0)), "2024-03-15T10:30:00Z");
        assert_eq!(super::format_time(0, 500_000_000, Some(3600)), "1970-01-01T01:00:00.5+01:00");
        assert_eq!(super::format_time(-86400, 0, Some(0)), "1969-12-31T00:00:00Z");
        assert_eq!(63846095400 - super::UNIX_TO_INTERNAL, 1710498600);
    }
}
