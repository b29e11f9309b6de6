//! Variables against the program's own printout: the `vars` fixture prints
//! (on stderr, before crashing with GOTRACEBACK=crash) every value it wants
//! found, formatted with fmt from the live values, then crashes; the kernel
//! writes the core. `goanalyze --vars --format json` must show each local and
//! argument with exactly that text, and `--print EXPR` each global
//! expression. Values Go's DWARF does not describe at the pc must print
//! `<unavailable: ...>`, never a wrong value.
//!
//! Covered: bool, ints, floats, complex, string, slice, array, nested
//! structs, pointers (and a cycle), Swiss maps (go1.24+) and classic maps
//! (go1.22/1.23), a buffered channel's contents, interfaces holding structs,
//! closures, a generic function's arguments, unsafe.Pointer, a named int,
//! and a running goroutine's string split across two registers (restored
//! from runtime.asyncPreempt's save area, or from its thread's signal frame
//! when async preemption is off).

use std::process::Command;

use tests::fixture::Build;
use tests::tools;

/// Variables whose location the compiler leaves (partly) undescribed at
/// the parked pc in some versions: these may be `<unavailable: ...>`.
const MAY_BE_UNAVAILABLE: &[(&str, &str)] = &[("main.genericHold[...]", "v")];

struct Want {
    kind: String,
    func: String,
    name: String,
    value: String,
}

fn wants(stderr: &str) -> Vec<Want> {
    let mut v = Vec::new();
    for l in stderr.lines() {
        let mut it = l.splitn(2, ' ');
        let kind = it.next().unwrap_or("");
        let rest = it.next().unwrap_or("");
        match kind {
            "want" | "want-reg" => {
                let mut p = rest.splitn(3, ' ');
                let (f, n, val) = (p.next().unwrap(), p.next().unwrap(), p.next().unwrap_or(""));
                v.push(Want { kind: kind.into(), func: f.into(), name: n.into(), value: val.into() });
            }
            "want-global" => {
                let (e, val) = rest.split_once(' ').unwrap();
                v.push(Want { kind: kind.into(), func: String::new(), name: e.into(), value: val.into() });
            }
            _ => {}
        }
    }
    v
}

/// A JSON value tree as the text views print it (the tree must hold
/// everything the text shows).
fn value_text(v: &serde_json::Value) -> String {
    match serde_json::from_value::<analyzer::model::Value>(v.clone()) {
        Ok(t) => t.to_string(),
        Err(e) => format!("<not a value tree: {e}: {v}>"),
    }
}

fn run(toolchain: Option<&str>, pie: bool) {
    run_arch(toolchain, pie, "amd64");
}

fn run_arch(toolchain: Option<&str>, pie: bool, arch: &str) {
    if tools::require("go", "building the vars fixture").is_none() {
        return;
    }
    let qemu = if arch == "arm64" {
        match tools::require("qemu-aarch64", "running the arm64 vars fixture") {
            Some(q) => Some(q),
            None => return,
        }
    } else {
        None
    };
    let mut b = Build::new("vars").arch(arch);
    if let Some(t) = toolchain {
        b = b.toolchain(t);
    }
    if pie {
        b = b.pie();
    }
    let fx = match b.build() {
        Ok(f) => f,
        Err(e) if toolchain.is_some() && !tools::in_ci() => {
            eprintln!("\n!!! SKIPPED: {} unavailable: {e:#} !!!\n", b.label());
            return;
        }
        Err(e) => panic!("{e:#}"),
    };
    let made = match &qemu {
        Some(q) => tests::producers::qemu_arm64_core(q, &fx.exe, &[]).expect("qemu core"),
        None => tests::producers::kernel_core(&fx.exe, &[]).expect("kernel core"),
    };
    let wants = wants(&made.stderr);
    assert!(wants.len() > 40, "the fixture printed only {} want lines:\n{}", wants.len(), made.stderr);
    let ga = tests::bins::goanalyze();
    let base = |args: &[&str]| {
        let out = Command::new(&ga).arg(&made.core).arg("--exe").arg(&fx.exe).args(args).output().unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };

    let (code, json, err) = base(&["--vars", "--format", "json"]);
    assert_eq!(code, Some(0), "goanalyze --vars failed: {err}");
    let doc: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(doc["schema"], "goanalyze.goroutines");
    assert!(doc["minor"].as_u64().unwrap() >= 4);
    let mut checked = 0;
    let mut unavailable = Vec::new();
    let mut bad = Vec::new();
    for w in wants.iter().filter(|w| w.kind != "want-global") {
        // Every frame of that function, in any goroutine, that has the variable.
        let mut found: Vec<String> = Vec::new();
        for g in doc["goroutines"].as_array().unwrap() {
            for f in g["frames"].as_array().into_iter().flatten() {
                let func = analyzer::output::traceback::print_name(f["func"].as_str().unwrap_or(""));
                if func != w.func {
                    continue;
                }
                for v in f["vars"].as_array().into_iter().flatten() {
                    if v["name"] == w.name.as_str() {
                        found.push(value_text(&v["value"]));
                    }
                }
            }
        }
        match found.first() {
            Some(v) if *v == w.value => checked += 1,
            Some(v) if v.contains("<unavailable: ") && MAY_BE_UNAVAILABLE.contains(&(w.func.as_str(), w.name.as_str())) => {
                unavailable.push(format!("{} {} = {v}", w.func, w.name));
            }
            other => bad.push(format!("{} {} {}: want {:?}, got {:?}", w.kind, w.func, w.name, w.value, other)),
        }
    }
    for w in wants.iter().filter(|w| w.kind == "want-global") {
        let (code, out, err) = base(&["--print", &w.name]);
        // A closure prints with its captured variables, as Delve does
        // (`main.main.func1 {base int = 100}`); the program prints its name.
        let got = out.trim_end();
        let closure = got.strip_prefix(w.value.as_str()).is_some_and(|rest| rest.starts_with(" {") && !w.value.contains(' '));
        if code == Some(0) && (got == w.value || closure) {
            checked += 1;
        } else {
            bad.push(format!("--print {}: want {:?}, got {:?} {err}", w.name, w.value, out.trim_end()));
        }
    }
    eprintln!(
        "vars {}: {checked} values match the program's printout; may-be-unavailable: {unavailable:?}",
        b.label()
    );
    assert!(bad.is_empty(), "{}\n--- program ---\n{}", bad.join("\n"), made.stderr);

    // The text form shows the same values under each frame.
    let (code, text, err) = base(&["--vars", "--system=false"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(text.contains("\t\targ s = \"spinning\"\n"), "{text}");
    assert!(text.contains("\t\tvar s = \"local string 7\"\n"), "{text}");

    // A pointer to unmapped memory: that value is unreadable, the rest prints.
    let (code, out, err) = base(&["--print", "main.gWild"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("(*main.point)(0xdead0000) <unreadable: "), "{out}");
    let (code, _, err) = base(&["--print", "main.gWild.X"]);
    assert_eq!(code, Some(0), "{err}");

    // A local by name in a goroutine's scope, and a frame that lacks it.
    let spin = doc["goroutines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["frames"].as_array().into_iter().flatten().any(|f| f["func"] == "main.spin"))
        .expect("spin goroutine")["id"]
        .as_u64()
        .unwrap()
        .to_string();
    let (code, out, err) = base(&["--print", "len(s)", "-g", &spin]);
    assert_eq!((code, out.trim_end()), (Some(0), "8"), "{err}");
    // The same in JSON, in an explicit frame (0 = innermost shown).
    let (code, out, err) = base(&["--print", "s", "-g", &spin, "-f", "0", "--system=false", "--format", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["schema"], "goanalyze.print");
    assert_eq!(p["type"], "string");
    assert_eq!(p["value"]["kind"], "string", "{p}");
    assert_eq!(p["value"]["value"], "spinning", "{p}");
    assert_eq!(value_text(&p["value"]), "\"spinning\"");
    assert_eq!(p["error"], serde_json::Value::Null);
    // --locals: that goroutine only.
    let (code, out, err) = base(&["--locals", "-g", &spin, "--system=false"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("goroutine ")).count(), 1, "{out}");
    assert!(out.contains("\t\targ n = 5\n"), "{out}");
    let (code, _, err) = base(&["--print", "nosuchvar", "-g", &spin]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("no variable named nosuchvar"), "{err}");
}

#[test]
fn vars_go_default() {
    run(None, false);
}

#[test]
fn vars_go_default_pie() {
    run(None, true);
}

/// Swiss maps with DWARF 4 (.debug_loc, .debug_ranges).
#[test]
fn vars_go1_24_swiss_dwarf4() {
    run(Some("go1.24.11"), false);
}

/// The first toolchain writing DWARF 5 (.debug_loclists, .debug_addr).
#[test]
fn vars_go1_25_dwarf5() {
    run(Some("go1.25.5"), false);
}

/// linux/arm64 under qemu: stack slots relative to the CFA with a link
/// register, and arm64's asyncPreempt save area for spin's registers.
#[test]
fn vars_arm64_qemu() {
    run_arch(None, false, "arm64");
}

#[test]
fn vars_go1_23_classic_maps() {
    run(Some("go1.23.12"), false);
}

#[test]
fn vars_go1_22() {
    run(Some("go1.22.12"), false);
}

/// Without DWARF there are no variables: --vars still prints the stacks and
/// says why under each frame; --print fails with a one-line reason.
#[test]
fn vars_stripped_says_why() {
    if tools::require("go", "building the vars fixture").is_none() {
        return;
    }
    let fx = Build::new("vars").stripped().build().expect("build");
    let made = tests::producers::kernel_core(&fx.exe, &[]).expect("kernel core");
    let ga = tests::bins::goanalyze();
    let run = |args: &[&str]| Command::new(&ga).arg(&made.core).arg("--exe").arg(&fx.exe).args(args).output().unwrap();
    let out = run(&["--vars", "--system=false"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("main.holdLocals("), "{text}");
    assert!(text.contains("<no variables: ") && text.contains("has no DWARF"), "{text}");
    let out = run(&["--print", "main.gInt"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("has no DWARF") && err.lines().count() == 1, "{err}");
}

/// Without async preemption spin is still running when the crash stops the
/// world: its innermost frame's registers come from its thread's signal
/// frame (the SIGQUIT the crashing thread sent), and its string argument,
/// split across RAX and RBX, prints whole.
#[test]
fn vars_running_goroutine_registers_from_signal_frame() {
    if tools::require("go", "building the vars fixture").is_none() {
        return;
    }
    let fx = Build::new("vars").build().expect("build");
    let made = tests::producers::kernel_core(&fx.exe, &["nopreempt"]).expect("kernel core");
    let out = Command::new(tests::bins::goanalyze())
        .arg(&made.core)
        .arg("--exe")
        .arg(&fx.exe)
        .args(["--vars", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let g = doc["goroutines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["frames"].as_array().into_iter().flatten().any(|f| f["func"] == "main.spin"))
        .expect("spin goroutine");
    assert_eq!(g["status"], "running", "{g:#}");
    let f = g["frames"].as_array().unwrap().iter().find(|f| f["func"] == "main.spin").unwrap();
    let val = |n: &str| {
        f["vars"].as_array().unwrap().iter().find(|v| v["name"] == n).map(|v| value_text(&v["value"]))
    };
    assert_eq!(val("s").as_deref(), Some("\"spinning\""), "{f:#}");
    assert_eq!(val("n").as_deref(), Some("5"), "{f:#}");
}
