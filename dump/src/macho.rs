//! Mach-O cores (`--format macho`): `MH_CORE` with one `LC_SEGMENT_64` per
//! dumped mapping and one `LC_THREAD` per thread, the layout macOS and lldb
//! use. For a Linux process it carries the same memory and registers as the
//! ELF core; only readers that accept Mach-O cores (lldb) take it.
//!
//! Layout: header, load commands, padding to a page, then the segments'
//! bytes back to back (the `SparseStream` the dumper fills).

use elfwriter::elf::NT_PRSTATUS;
use elfwriter::payload::PrStatus;
use elfwriter::{Machine, Note};

use crate::target::MemoryMapEntry;

const MH_MAGIC_64: u32 = 0xfeed_facf;
const MH_CORE: u32 = 4;
const LC_SEGMENT_64: u32 = 0x19;
const LC_THREAD: u32 = 4;
const VM_PROT_READ: u32 = 1;
const VM_PROT_WRITE: u32 = 2;
const VM_PROT_EXECUTE: u32 = 4;

fn u64_at(b: &[u8], i: usize) -> u64 {
    b.get(i * 8..i * 8 + 8).map(|s| u64::from_le_bytes(s.try_into().unwrap_or_default())).unwrap_or(0)
}

/// The `LC_THREAD` state of one thread from its `NT_PRSTATUS` registers:
/// (flavor, 32-bit words).
fn thread_state(m: Machine, gregs: &[u8]) -> (u32, Vec<u8>) {
    let g = |i| u64_at(gregs, i);
    let mut b = Vec::new();
    match m {
        Machine::Amd64 => {
            // x86_THREAD_STATE64: rax rbx rcx rdx rdi rsi rbp rsp r8..r15 rip
            // rflags cs fs gs, by user_regs_struct index.
            for i in [10, 5, 11, 12, 14, 13, 4, 19, 9, 8, 7, 6, 3, 2, 1, 0, 16, 18, 17, 25, 26] {
                b.extend_from_slice(&g(i).to_le_bytes());
            }
            (4, b)
        }
        Machine::Arm64 => {
            // ARM_THREAD_STATE64: x0..x28, fp, lr, sp, pc, cpsr (u32), flags (u32).
            for i in 0..33 {
                b.extend_from_slice(&g(i).to_le_bytes());
            }
            b.extend_from_slice(&(g(33) as u32).to_le_bytes());
            b.extend_from_slice(&0u32.to_le_bytes());
            (6, b)
        }
    }
}

/// The bytes before the memory; the dumped mappings' bytes follow at
/// `head.len()`, in map order.
pub fn head(m: Machine, map: &[MemoryMapEntry], notes: &[Note], page: u64) -> Vec<u8> {
    let threads: Vec<&[u8]> = notes
        .iter()
        .filter(|n| n.ntype == NT_PRSTATUS)
        .filter_map(|n| PrStatus::parse(&n.desc, m.gregs_len()).map(|(_, regs)| regs))
        .collect();
    let dumped: Vec<&MemoryMapEntry> = map.iter().filter(|e| e.dump_len(page) > 0).collect();

    let mut cmds = Vec::new();
    let mut ncmds = 0u32;
    for t in &threads {
        let (flavor, state) = thread_state(m, t);
        let size = 8 + 8 + state.len() as u32;
        cmds.extend_from_slice(&LC_THREAD.to_le_bytes());
        cmds.extend_from_slice(&size.to_le_bytes());
        cmds.extend_from_slice(&flavor.to_le_bytes());
        cmds.extend_from_slice(&((state.len() / 4) as u32).to_le_bytes());
        cmds.extend_from_slice(&state);
        ncmds += 1;
    }
    let seg_cmds_len = 72 * dumped.len() as u64;
    let data_start = (32 + cmds.len() as u64 + seg_cmds_len).div_ceil(page) * page;
    let mut off = data_start;
    let mut segs = Vec::new();
    for e in &dumped {
        let len = e.dump_len(page);
        let prot = (e.perms.read as u32 * VM_PROT_READ)
            | (e.perms.write as u32 * VM_PROT_WRITE)
            | (e.perms.exec as u32 * VM_PROT_EXECUTE);
        segs.extend_from_slice(&LC_SEGMENT_64.to_le_bytes());
        segs.extend_from_slice(&72u32.to_le_bytes());
        segs.extend_from_slice(&[0u8; 16]); // segname
        segs.extend_from_slice(&e.start.to_le_bytes());
        segs.extend_from_slice(&len.to_le_bytes()); // vmsize: what the file holds
        segs.extend_from_slice(&off.to_le_bytes());
        segs.extend_from_slice(&len.to_le_bytes());
        segs.extend_from_slice(&prot.to_le_bytes()); // maxprot
        segs.extend_from_slice(&prot.to_le_bytes()); // initprot
        segs.extend_from_slice(&0u32.to_le_bytes()); // nsects
        segs.extend_from_slice(&0u32.to_le_bytes()); // flags
        off += len;
        ncmds += 1;
    }
    let (cputype, cpusubtype): (u32, u32) = match m {
        Machine::Amd64 => (0x0100_0007, 3),
        Machine::Arm64 => (0x0100_000c, 0),
    };
    let mut b = Vec::with_capacity(data_start as usize);
    b.extend_from_slice(&MH_MAGIC_64.to_le_bytes());
    b.extend_from_slice(&cputype.to_le_bytes());
    b.extend_from_slice(&cpusubtype.to_le_bytes());
    b.extend_from_slice(&MH_CORE.to_le_bytes());
    b.extend_from_slice(&ncmds.to_le_bytes());
    b.extend_from_slice(&((cmds.len() + segs.len()) as u32).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // flags
    b.extend_from_slice(&0u32.to_le_bytes()); // reserved
    // Segments first, then threads: the order macOS's own cores use.
    b.extend_from_slice(&segs);
    b.extend_from_slice(&cmds);
    b.resize(data_start as usize, 0);
    b
}
