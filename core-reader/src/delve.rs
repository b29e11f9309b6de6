//! Delve's own core notes (`dlv dump`): a text header and one binary note
//! per thread carrying registers by Delve's names. Layout facts from Delve's
//! pkg/proc/dump.go and pkg/proc/core/delve_core.go.

use crate::le::{u16_at, u32_at, u64_at};
use crate::model::{Amd64Regs, Arch, Arm64Regs, Registers, Thread};

#[derive(Debug, Clone, Default)]
pub struct Header {
    pub goos: String,
    pub goarch: String,
    pub version: String,
    pub pid: Option<u64>,
    pub entry: Option<u64>,
}

/// `GOOS/GOARCH\n<version>\nTarget Pid: <dec>\nEntry Point: 0x<hex>\n`.
pub fn header(desc: &[u8]) -> Header {
    let text = String::from_utf8_lossy(desc);
    let mut lines = text.lines();
    let mut h = Header::default();
    if let Some((os, arch)) = lines.next().and_then(|l| l.split_once('/')) {
        h.goos = os.to_string();
        h.goarch = arch.to_string();
    }
    h.version = lines.next().unwrap_or_default().to_string();
    for l in lines {
        if let Some(v) = l.strip_prefix("Target Pid: ") {
            h.pid = v.trim().parse().ok();
        } else if let Some(v) = l.strip_prefix("Entry Point: ") {
            let v = v.trim();
            h.entry = match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => v.parse().ok(),
            };
        }
    }
    h
}

/// One thread note: u64 tid, pc, sp, bp, tls; u8 hasGAddr; u64 gaddr; u32 n;
/// n x {u16 len, name, u16 len, value (little-endian)}.
pub fn thread(arch: Arch, d: &[u8]) -> Option<Thread> {
    let tid = u64_at(d, 0)?;
    let pc = u64_at(d, 8)?;
    let sp = u64_at(d, 16)?;
    let bp = u64_at(d, 24)?;
    let tls = u64_at(d, 32)?;
    let n = u32_at(d, 49)?;
    let mut at = 53usize;
    let mut named: Vec<(&[u8], u64)> = Vec::new();
    // Each register takes at least 4 bytes, which bounds `n` by the note size.
    for _ in 0..n.min((d.len() / 4) as u32) {
        let nl = usize::from(u16_at(d, at)?);
        let name = d.get(at + 2..at + 2 + nl)?;
        at += 2 + nl;
        let vl = usize::from(u16_at(d, at)?);
        let value = d.get(at + 2..at + 2 + vl)?;
        at += 2 + vl;
        // Registers wider than 8 bytes (vector regs) are not general registers.
        if vl <= 8 {
            let mut b = [0u8; 8];
            b[..vl].copy_from_slice(value);
            named.push((name, u64::from_le_bytes(b)));
        }
    }
    let get = |want: &str| {
        named
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(want.as_bytes()))
            .map(|(_, v)| *v)
    };
    let regs = match arch {
        Arch::Amd64 => {
            let g = |n: &str| get(n).unwrap_or(0);
            Registers::Amd64(Amd64Regs {
                r15: g("R15"),
                r14: g("R14"),
                r13: g("R13"),
                r12: g("R12"),
                rbp: get("Rbp").unwrap_or(bp),
                rbx: g("Rbx"),
                r11: g("R11"),
                r10: g("R10"),
                r9: g("R9"),
                r8: g("R8"),
                rax: g("Rax"),
                rcx: g("Rcx"),
                rdx: g("Rdx"),
                rsi: g("Rsi"),
                rdi: g("Rdi"),
                orig_rax: g("Orig_rax"),
                rip: get("Rip").unwrap_or(pc),
                cs: g("Cs"),
                eflags: get("Rflags").or_else(|| get("Eflags")).unwrap_or(0),
                rsp: get("Rsp").unwrap_or(sp),
                ss: g("Ss"),
                fs_base: get("Fs_base").unwrap_or(tls),
                gs_base: g("Gs_base"),
                ds: g("Ds"),
                es: g("Es"),
                fs: g("Fs"),
                gs: g("Gs"),
            })
        }
        Arch::Arm64 => {
            let mut x = [0u64; 31];
            for (i, v) in x.iter_mut().enumerate() {
                *v = get(&format!("X{i}")).unwrap_or(0);
            }
            if x[29] == 0 {
                x[29] = bp;
            }
            Registers::Arm64(Arm64Regs {
                x,
                sp: get("SP").unwrap_or(sp),
                pc: get("PC").unwrap_or(pc),
                pstate: get("PSTATE").unwrap_or(0),
                tpidr: (tls != 0).then_some(tls),
            })
        }
    };
    Some(Thread {
        tid,
        regs,
        signal: 0,
        extra_regsets: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_thread() {
        let h = header(b"linux/amd64\n1.27.2\nTarget Pid: 1234\nEntry Point: 0x401000\n");
        assert_eq!((h.goos.as_str(), h.goarch.as_str()), ("linux", "amd64"));
        assert_eq!(h.pid, Some(1234));
        assert_eq!(h.entry, Some(0x401000));

        let mut d = Vec::new();
        for v in [7u64, 0x10, 0x20, 0x30, 0x40] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.push(1);
        d.extend_from_slice(&0x50u64.to_le_bytes());
        d.extend_from_slice(&2u32.to_le_bytes());
        for (name, v) in [("Rip", 0x1111u64), ("Rax", 0x2222)] {
            d.extend_from_slice(&(name.len() as u16).to_le_bytes());
            d.extend_from_slice(name.as_bytes());
            d.extend_from_slice(&8u16.to_le_bytes());
            d.extend_from_slice(&v.to_le_bytes());
        }
        let t = thread(Arch::Amd64, &d).unwrap();
        assert_eq!(t.tid, 7);
        let Registers::Amd64(r) = t.regs else { panic!() };
        assert_eq!((r.rip, r.rax, r.rsp, r.fs_base), (0x1111, 0x2222, 0x20, 0x40));
        assert!(thread(Arch::Amd64, &d[..d.len() - 1]).is_none());
    }
}
