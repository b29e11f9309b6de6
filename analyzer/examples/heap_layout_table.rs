//! Developer aid: print the heap structure offsets read from EXE's DWARF as
//! an entry of analyzer/src/heap/layout_table.rs.
//!
//!     cargo run -p analyzer --example heap_layout_table -- EXE

fn main() {
    let Some(exe) = std::env::args_os().nth(1) else {
        eprintln!("usage: heap_layout_table EXE");
        std::process::exit(2);
    };
    let bin = match analyzer::Binary::open(std::path::Path::new(&exe)) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let minor = bin.go_minor().unwrap_or(0);
    match bin.with_dwarf_loader(analyzer::heap::layout::from_dwarf) {
        Some(Ok(Some(l))) => print!("{}", l.as_table_source(minor)),
        _ => {
            eprintln!("no DWARF heap layout in {}", std::path::Path::new(&exe).display());
            std::process::exit(1);
        }
    }
}
