//! Binary info without a core: the pclntab against `go tool nm` and
//! `go tool addr2line`, stripped against unstripped, and the built-in runtime
//! layout table against each toolchain's DWARF.

mod common;

use std::process::Command;

use analyzer::binary::Binary;
use common::*;


#[test]
fn pclntab_agrees_with_go_tool_nm_and_addr2line() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let exe = Build::new("zoo").build().unwrap().exe;
    let stripped = Build::new("zoo").stripped().pie().build().unwrap().exe;
    let bin = Binary::open(&exe).unwrap();
    assert!(bin.has_dwarf);
    assert!(bin.go_version.as_deref().unwrap().starts_with("go1."));

    // Every Go text symbol is a function of the table with that entry.
    let nm = Command::new("go").args(["tool", "nm", "-sort", "address"]).arg(&exe).output().unwrap();
    let nm = String::from_utf8_lossy(&nm.stdout);
    // Several symbols may share an address (runtime.text is an alias).
    let mut by_addr: std::collections::HashMap<u64, Vec<String>> = Default::default();
    for l in nm.lines() {
        let w: Vec<&str> = l.split_whitespace().collect();
        if w.len() < 3 || !(w[1] == "T" || w[1] == "t") {
            continue;
        }
        let addr = u64::from_str_radix(w[0], 16).unwrap();
        by_addr.entry(addr).or_default().push(w[2..].join(" "));
    }
    let mut checked = 0;
    let mut pcs = Vec::new();
    for f in bin.pcln.funcs() {
        let name = bin.pcln.func_name(&f);
        let syms = by_addr.get(&f.entry).unwrap_or_else(|| panic!("{name} at {:#x} not in go tool nm", f.entry));
        // Assembly functions carry an ABI suffix in the symbol table only.
        assert!(
            syms.iter().any(|s| {
                // The symbol table also spells the middle dot as '.'.
                let s = s.strip_suffix(".abi0").unwrap_or(s);
                s == name || s == name.replace('·', ".")
            }),
            "{name} at {:#x}: nm has {syms:?}",
            f.entry
        );
        checked += 1;
        if checked % 50 == 0 && f.end > f.entry + 1 {
            pcs.push(f.entry + 1);
        }
    }
    assert!(checked > 1000, "only {checked} functions checked");

    // file:line at a sample of pcs.
    let input: String = pcs.iter().map(|p| format!("{p:#x}\n")).collect();
    let mut child = Command::new("go")
        .args(["tool", "addr2line"])
        .arg(&exe)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = out.lines().collect();
    for (i, pc) in pcs.iter().enumerate() {
        let f = bin.pcln.find_func(*pc).unwrap();
        let (file, line) = bin.pcln.file_line(&f, *pc);
        assert_eq!(lines[2 * i + 1], format!("{file}:{line}"), "pc {pc:#x}");
    }

    // The stripped PIE has the same table: names and entry offsets.
    let sbin = Binary::open(&stripped).unwrap();
    assert!(!sbin.has_dwarf && !sbin.symbols.contains_key("runtime.allgs"));
    assert_eq!(sbin.go_version, bin.go_version);
    assert!(sbin.moduledata.is_some(), "moduledata not found in the stripped binary");
    let names = |b: &Binary| -> Vec<String> { b.pcln.funcs().map(|f| b.pcln.func_name(&f).to_string()).collect() };
    assert_eq!(names(&bin).len(), names(&sbin).len());
    assert_eq!(sbin.layout.fields, bin.layout.fields, "table ({}) vs DWARF", sbin.layout.source);
}

/// The built-in layout table against DWARF, for every toolchain we can get.
#[test]
fn layout_table_matches_dwarf() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let mut checked = 0;
    for t in [None, Some("go1.19.13"), Some("go1.20.14"), Some("go1.21.13"), Some("go1.22.12"), Some("go1.23.12"), Some("go1.24.11"), Some("go1.25.5")] {
        let b = Build::new("zoo");
        let Some(fx) = t.map_or(b.clone(), |t| b.toolchain(t)).build_or_skip() else { continue };
        let exe = fx.exe;
        let bin = Binary::open(&exe).unwrap();
        assert_eq!(bin.layout.source, "DWARF");
        let table = analyzer::binary::runtime_types::from_table(bin.go_version.as_deref()).unwrap();
        for (k, required) in analyzer::binary::runtime_types::NEEDED {
            assert_eq!(
                bin.layout.fields.get(*k),
                table.fields.get(*k),
                "{k} for {:?} ({})",
                bin.go_version,
                table.source
            );
            if *required {
                assert!(bin.layout.fields.contains_key(*k), "{k} missing from DWARF of {:?}", bin.go_version);
            }
        }
        checked += 1;
    }
    eprintln!("layout table checked against DWARF of {checked} toolchains");
}

/// linux/arm64 uses the same offsets (the table is shared across arches).
#[test]
fn layout_table_matches_arm64_dwarf() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let exe = Build::new("zoo").arch("arm64").build().unwrap().exe;
    let bin = Binary::open(&exe).unwrap();
    let table = analyzer::binary::runtime_types::from_table(bin.go_version.as_deref()).unwrap();
    assert_eq!(bin.layout.fields, table.fields);
}

/// PE and Mach-O executables, with and without symbols and DWARF: the
/// pclntab, moduledata, Go version and runtime layout are found in each.
#[test]
fn pe_and_macho_binaries() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    for (goos, goarch) in [("windows", "amd64"), ("darwin", "amd64"), ("darwin", "arm64")] {
        for stripped in [false, true] {
            let b = Build::new("zoo").os(goos).arch(goarch);
            let exe = if stripped { b.stripped() } else { b }.build().unwrap().exe;
            let bin = Binary::open(&exe).unwrap_or_else(|e| panic!("{goos}/{goarch} stripped={stripped}: {e}"));
            let what = format!("{goos}/{goarch} stripped={stripped}");
            assert!(bin.go_version.as_deref().is_some_and(|v| v.starts_with("go1.")), "{what}");
            assert_eq!(bin.has_dwarf, !stripped, "{what}");
            let md = bin.moduledata.as_ref().unwrap_or_else(|| panic!("{what}: no moduledata"));
            let main = bin.pcln.lookup_name("main.main").unwrap_or_else(|| panic!("{what}: no main.main"));
            assert_eq!(bin.pcln.find_func(main.entry + 1).unwrap().entry, main.entry, "{what}");
            let (file, line) = bin.pcln.file_line(&main, main.entry);
            assert!(file.ends_with("zoo/main.go") && line > 0, "{what}: {file}:{line}");
            assert!(md.text <= main.entry && main.entry < md.etext, "{what}");
            assert!(bin.layout.get("g.goid").is_ok(), "{what}: {}", bin.layout.source);
        }
    }
}

/// The unwinder on synthetic memory: a frame whose return address is not Go
/// code ends the walk with that pc recorded, and nothing is invented past it.
#[test]
fn unwinder_stops_cleanly_at_non_go_return_address() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let exe = Build::new("zoo").build().unwrap().exe;
    let bin = Binary::open(&exe).unwrap();
    let f = bin.pcln.lookup_name("main.recurse").unwrap();
    let sp = 0x00c0_0001_0000_u64;
    let c_pc = 0x7f00_0000_1234u64;
    let mut stack = vec![0u8; 64];
    stack[..8].copy_from_slice(&c_pc.to_le_bytes()); // at entry, [sp] is the return address
    let mem = analyzer::memory::VecMemory { regions: vec![(sp, stack)] };
    let u = analyzer::unwind::Unwinder { bin: &bin, mem: &mem, bias: 0 };
    let st = u.unwind(analyzer::unwind::Start { pc: f.entry, sp, lr: 0, trap: true, syscall: false });
    assert_eq!(st.frames.len(), 1, "{st:?}");
    assert_eq!(&*st.frames[0].logical.last().unwrap().name, "main.recurse");
    assert_eq!((st.frames[0].sp, st.frames[0].fp), (sp, sp + 8));
    assert_eq!(st.stopped_at_pc, Some(c_pc));
    assert!(st.stopped.as_deref().unwrap().contains("unexpected return pc"), "{st:?}");

    // An unmapped stack: one frame, then a clear reason, no panic.
    let empty = analyzer::memory::VecMemory::default();
    let u = analyzer::unwind::Unwinder { bin: &bin, mem: &empty, bias: 0 };
    let st = u.unwind(analyzer::unwind::Start { pc: f.entry, sp, lr: 0, trap: true, syscall: false });
    assert!(st.stopped.as_deref().unwrap().contains("return address"), "{st:?}");
}
