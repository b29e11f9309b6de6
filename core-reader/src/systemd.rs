//! What systemd-coredump puts in a core's file name:
//! `core.COMM.UID.BOOTID.PID.TIME` (TIME in microseconds since the epoch),
//! then `.zst`, `.xz` or `.lz4` when compressed (the readers recognise the
//! compression by magic, not by this name).

use std::path::Path;

/// The fields of a systemd-coredump file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemdCoreName {
    /// The process's `comm` (escaped by systemd as it was in the name).
    pub comm: String,
    pub uid: u32,
    /// The boot id (32 hex digits, `journalctl --list-boots` shows it).
    pub boot_id: String,
    pub pid: u64,
    /// When the core was taken, in microseconds since the epoch.
    pub time_usec: u64,
    /// `zst`, `xz`, `lz4`, or `None` for an uncompressed core.
    pub compression: Option<String>,
}

/// The fields of `path`'s file name if it is one systemd-coredump writes.
pub fn systemd_core_name(path: &Path) -> Option<SystemdCoreName> {
    let name = path.file_name()?.to_str()?;
    let rest = name.strip_prefix("core.")?;
    let (rest, compression) = match rest.rsplit_once('.') {
        Some((r, c)) if matches!(c, "zst" | "xz" | "lz4") => (r, Some(c.to_string())),
        _ => (rest, None),
    };
    // COMM may itself hold dots: take the fixed fields from the right.
    let mut it = rest.rsplitn(5, '.');
    let time_usec = it.next()?.parse().ok()?;
    let pid = it.next()?.parse().ok()?;
    let boot_id = it.next()?;
    let uid = it.next()?.parse().ok()?;
    let comm = it.next()?;
    if boot_id.len() != 32 || !boot_id.bytes().all(|b| b.is_ascii_hexdigit()) || comm.is_empty() {
        return None;
    }
    Some(SystemdCoreName { comm: comm.to_string(), uid, boot_id: boot_id.to_string(), pid, time_usec, compression })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let n = systemd_core_name(Path::new(
            "/var/lib/systemd/coredump/core.my.server.1000.5d1c2e3f4a5b6c7d8e9f00112233aabb.4242.1764590000123456.zst",
        ))
        .unwrap();
        assert_eq!(n.comm, "my.server");
        assert_eq!((n.uid, n.pid, n.time_usec), (1000, 4242, 1764590000123456));
        assert_eq!(n.compression.as_deref(), Some("zst"));
        assert!(systemd_core_name(Path::new("core.4242")).is_none());
        assert!(systemd_core_name(Path::new("core.a.0.nothex.1.2")).is_none());
        let plain = systemd_core_name(Path::new("core.x.0.00000000000000000000000000000000.1.2")).unwrap();
        assert_eq!(plain.compression, None);
    }
}
