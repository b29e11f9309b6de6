//! Any bytes as the executable: the analyzer's binary-info entry point
//! (object parsing, pclntab and moduledata discovery, Go version, DWARF or
//! the layout table) must return a Binary or an error; a Binary's tables
//! must then answer lookups without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

use analyzer::binary::Binary;

fuzz_target!(|data: &[u8]| {
    // Binary::open maps a file: give it one in memory-backed /dev/shm when
    // there is one.
    let dir = if std::path::Path::new("/dev/shm").is_dir() { "/dev/shm" } else { "/tmp" };
    let Ok(mut f) = tempfile::NamedTempFile::new_in(dir) else { return };
    if std::io::Write::write_all(&mut f, data).is_err() {
        return;
    }
    let Ok(bin) = Binary::open(f.path()) else { return };
    let tab = &bin.pcln;
    let (lo, hi) = tab.pc_range();
    let _ = bin.go_minor();
    let _ = bin.layout.as_table_source(bin.go_minor().unwrap_or(0));
    for i in 0..tab.nfunc.min(256) {
        let Some(f) = tab.func_at(i) else { continue };
        let _ = tab.func_name(&f);
        for pc in [f.entry, f.entry.wrapping_add(1), f.end.wrapping_sub(1)] {
            let _ = tab.sp_delta(&f, pc);
            let _ = tab.file_line(&f, pc);
            let read = |a: u64, b: &mut [u8]| bin.read_static(a, b);
            let _ = analyzer::binary::inline::expand(tab, &f, pc, bin.moduledata.as_ref().map(|m| m.gofunc), &read);
        }
    }
    for pc in [lo, hi, lo.wrapping_add(hi.wrapping_sub(lo) / 2), 0, u64::MAX] {
        let _ = tab.find_func(pc);
    }
    let _ = tab.lookup_name("main.main");
});
