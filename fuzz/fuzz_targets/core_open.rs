//! Any bytes as a core file (ELF, compressed, or whatever the sniffer
//! takes): `Core::from_bytes` must return a core or an error, and whatever
//! opened must read without panicking.
#![no_main]

use std::path::Path;

use core_reader::{Core, OpenOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // No compression bomb may take the fuzzer's memory: 64 MiB is plenty.
    let opts = OpenOptions { max_decompressed: Some(64 << 20), ..Default::default() };
    // A name in a directory with nothing else: the executable is searched
    // next to the core, and paths recorded in the core are tried as they are.
    let Ok(core) = Core::from_bytes(Path::new("/nonexistent-fuzz-dir/core"), data.to_vec(), &opts) else {
        return;
    };
    let mut buf = [0u8; 64];
    for r in core.memory.regions().iter().take(64) {
        let _ = core.memory.read(r.start, &mut buf);
        let _ = core.memory.read(r.end().wrapping_sub(8), &mut buf);
        let _ = core.memory.read_cstring(r.start, 100);
    }
    for t in core.threads.iter().take(64) {
        let _ = core.read_u64(t.regs.sp());
        let _ = core.read_memory(t.regs.pc(), &mut buf);
        let _ = t.regs.named();
    }
    let _ = core.crashed_thread();
    let _ = core.exe_bytes();
    let _ = format!("{:?} {:?} {:?}", core.mappings.len(), core.signal, core.truncated);
});
