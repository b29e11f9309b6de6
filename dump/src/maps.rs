//! `/proc/PID/smaps` and `/proc/PID/coredump_filter`: which mappings a core
//! holds, decided the way the kernel's `vma_dump_size` (fs/coredump.c)
//! decides it, so that `godump create` and a crash write the same memory.

use std::path::Path;

use crate::target::{Dump, MemoryMapEntry, Perms};
use crate::{Error, Result};

/// `/proc/PID/coredump_filter` bits (MMF_DUMP_*).
pub mod filter {
    pub const ANON_PRIVATE: u32 = 1 << 0;
    pub const ANON_SHARED: u32 = 1 << 1;
    pub const MAPPED_PRIVATE: u32 = 1 << 2;
    pub const MAPPED_SHARED: u32 = 1 << 3;
    pub const ELF_HEADERS: u32 = 1 << 4;
    pub const HUGETLB_PRIVATE: u32 = 1 << 5;
    pub const HUGETLB_SHARED: u32 = 1 << 6;
    /// The kernel's default (0x33).
    pub const DEFAULT: u32 = ANON_PRIVATE | ANON_SHARED | ELF_HEADERS | HUGETLB_PRIVATE;
}

/// One mapping as smaps describes it: what `vma_dump_size` looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Smap {
    pub start: u64,
    pub end: u64,
    pub perms: Perms,
    pub offset: u64,
    pub inode: u64,
    pub path: Option<String>,
    /// `Anonymous:` + `Swap:` in kB. The kernel asks whether the VMA has an
    /// `anon_vma` (was ever written privately); resident or swapped
    /// anonymous pages are what userspace can see of that.
    pub anon_kb: u64,
    /// Two-letter `VmFlags:` (`dd` = VM_DONTDUMP, `io` = VM_IO, `ht` = hugetlb, `sh` = shared).
    pub vmflags: Vec<String>,
}

impl Smap {
    fn has_flag(&self, f: &str) -> bool {
        self.vmflags.iter().any(|x| x == f)
    }
    /// Named special mappings (`[vdso]`, `[vvar]`, `[vsyscall]`, ...) that
    /// are not files: the kernel's `always_dump_vma` dumps these whole.
    fn is_special(&self) -> bool {
        self.inode == 0
            && matches!(self.path.as_deref(), Some(p) if p.starts_with('[') && p.ends_with(']')
                && !matches!(p, "[heap]" | "[stack]") && !p.starts_with("[anon:") && !p.starts_with("[stack:"))
    }
    fn is_file(&self) -> bool {
        self.inode != 0 && self.path.is_some()
    }
}

/// Parse smaps text. Header lines look like `start-end perms offset dev inode [path]`.
pub fn parse_smaps(text: &str, path: &Path) -> Result<Vec<Smap>> {
    let bad = |what: &'static str, line: &str| Error::Parse {
        path: path.to_path_buf(),
        what,
        text: line.to_string(),
    };
    let mut out: Vec<Smap> = Vec::new();
    for line in text.lines() {
        let Some((first, _)) = line.split_once(' ') else { continue };
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                // splitn keeps spaces inside the path.
                let mut f = line.splitn(6, ' ');
                let _range = f.next();
                let perms = f.next().ok_or_else(|| bad("mapping permissions", line))?.as_bytes();
                if perms.len() < 4 {
                    return Err(bad("mapping permissions", line));
                }
                let offset = f.next().and_then(|o| u64::from_str_radix(o, 16).ok()).ok_or_else(|| bad("mapping offset", line))?;
                let _dev = f.next();
                let inode = f.next().and_then(|i| i.parse().ok()).ok_or_else(|| bad("mapping inode", line))?;
                let p = f.next().map(str::trim_start).filter(|p| !p.is_empty()).map(String::from);
                out.push(Smap {
                    start,
                    end,
                    perms: Perms {
                        read: perms[0] == b'r',
                        write: perms[1] == b'w',
                        exec: perms[2] == b'x',
                        shared: perms[3] == b's',
                    },
                    offset,
                    inode,
                    path: p,
                    ..Default::default()
                });
                continue;
            }
        }
        let Some(cur) = out.last_mut() else { continue };
        if let Some(rest) = line.strip_prefix("VmFlags:") {
            cur.vmflags = rest.split_whitespace().map(String::from).collect();
        } else if let Some(rest) = line.strip_prefix("Anonymous:").or_else(|| line.strip_prefix("Swap:")) {
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().map_err(|_| bad("smaps size", line))?;
            cur.anon_kb += kb;
        }
    }
    Ok(out)
}

/// Parse `/proc/PID/coredump_filter` (hex) or a `--filter` argument (`0x33`, `33`).
pub fn parse_filter(text: &str) -> Option<u32> {
    let t = text.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    u32::from_str_radix(t, 16).ok()
}

/// The kernel's `vma_dump_size`, on what smaps shows. `elf_magic` says
/// whether the mapping's first bytes are `\x7fELF` (only asked when it matters).
pub fn decide(m: &Smap, filt: u32, file_is_executable: bool, elf_magic: &mut dyn FnMut() -> bool) -> Dump {
    use filter::*;
    // The vDSO, vvar and vsyscall pages: always, whole (always_dump_vma).
    if m.is_special() {
        return Dump::Whole;
    }
    // madvise(MADV_DONTDUMP) and device memory: never.
    if m.has_flag("dd") || m.has_flag("io") {
        return Dump::Skip;
    }
    let shared = m.perms.shared || m.has_flag("sh");
    if m.has_flag("ht") {
        let bit = if shared { HUGETLB_SHARED } else { HUGETLB_PRIVATE };
        return if filt & bit != 0 { Dump::Whole } else { Dump::Skip };
    }
    if shared {
        // Shared memory whose file has no links (anonymous shared, memfd,
        // SysV shm, a deleted file) counts as anonymous.
        let unlinked = !m.is_file() || m.path.as_deref().is_some_and(|p| p.ends_with(" (deleted)"));
        let bit = if unlinked { ANON_SHARED } else { MAPPED_SHARED };
        return if filt & bit != 0 { Dump::Whole } else { Dump::Skip };
    }
    if m.anon_kb > 0 && filt & ANON_PRIVATE != 0 {
        return Dump::Whole;
    }
    if !m.is_file() {
        return Dump::Skip;
    }
    if filt & MAPPED_PRIVATE != 0 {
        return Dump::Whole;
    }
    // One page of ELF headers lets a debugger match the build id.
    if filt & ELF_HEADERS != 0 && m.offset == 0 && m.perms.read && (file_is_executable || elf_magic()) {
        return Dump::FirstPage;
    }
    Dump::Skip
}

/// Turn smaps into the memory map, deciding each entry's include flag.
pub fn memory_map(
    smaps: &[Smap],
    filt: u32,
    elf_magic_at: &mut dyn FnMut(u64) -> bool,
) -> Vec<MemoryMapEntry> {
    smaps
        .iter()
        .map(|m| {
            let exe = m.is_file()
                && m.path.as_deref().is_some_and(|p| {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::metadata(p).map(|md| md.permissions().mode() & 0o111 != 0).unwrap_or(false)
                });
            let dump = decide(m, filt, exe, &mut || elf_magic_at(m.start));
            MemoryMapEntry {
                start: m.start,
                end: m.end,
                perms: m.perms,
                offset: m.offset,
                path: m.path.clone(),
                file_backed: m.is_file(),
                dump,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
00400000-00401000 r--p 00000000 fe:00 123   /usr/bin/prog with space
Size:                  4 kB
Anonymous:             0 kB
VmFlags: rd mr mw me dw
00401000-00402000 rw-p 00001000 fe:00 123   /usr/bin/prog with space
Anonymous:             4 kB
Swap:                  4 kB
VmFlags: rd wr mr mw me ac
7f0000000000-7f0000004000 r--p 00000000 00:00 0                          [vvar]
VmFlags: rd mr pf io de dd
7f0000010000-7f0000020000 rw-s 00000000 00:01 99                          /dev/zero (deleted)
VmFlags: rd wr sh mr mw me ms
7f0000020000-7f0000030000 ---p 00000000 00:00 0
Anonymous:             0 kB
VmFlags: mr mw me
7f0000030000-7f0000040000 rw-p 00000000 00:00 0
Anonymous:             8 kB
VmFlags: rd wr mr mw me ac dd
";

    #[test]
    fn parses_and_decides_like_the_kernel() {
        let s = parse_smaps(SMAPS, Path::new("smaps")).unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s[0].path.as_deref(), Some("/usr/bin/prog with space"));
        assert_eq!(s[1].anon_kb, 8);
        assert!(s[2].vmflags.contains(&"dd".to_string()));
        let d: Vec<Dump> = s.iter().map(|m| decide(m, filter::DEFAULT, false, &mut || true)).collect();
        assert_eq!(
            d,
            vec![Dump::FirstPage, Dump::Whole, Dump::Whole, Dump::Whole, Dump::Skip, Dump::Skip]
        );
        // Filter 0: only the special mapping is left.
        let d: Vec<Dump> = s.iter().map(|m| decide(m, 0, false, &mut || true)).collect();
        assert_eq!(d, vec![Dump::Skip, Dump::Skip, Dump::Whole, Dump::Skip, Dump::Skip, Dump::Skip]);
        // Mapped private on: the whole file mapping.
        assert_eq!(decide(&s[0], filter::MAPPED_PRIVATE, false, &mut || false), Dump::Whole);
        // ELF headers without magic and not executable: nothing.
        assert_eq!(decide(&s[0], filter::DEFAULT, false, &mut || false), Dump::Skip);
    }

    #[test]
    fn filter_parsing() {
        assert_eq!(parse_filter("00000033\n"), Some(0x33));
        assert_eq!(parse_filter("0x7f"), Some(0x7f));
        assert_eq!(parse_filter("zz"), None);
    }
}
