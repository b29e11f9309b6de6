//! `goanalyze --print` against Delve's `print` on the same core. The
//! `exprs` fixture holds a value of every Go kind in main.main's locals and
//! its globals; `testdata/go/exprs/exprs.txt` lists the expressions. For
//! each core (the kernel's, of a `-N -l` build and of an optimised one,
//! and Delve's own `dump` of the live process) Delve evaluates every
//! expression in main.main's frame of goroutine 1 (`dlv core` with an init
//! script) and so do we (one `goanalyze -g 1 --print E ...` run). The
//! answers are compared after normalising layout (Delve breaks long values
//! over lines and puts a top-level pointer's address on a line of its
//! own); two errors agree whatever their words. Every disagreement must be
//! in `KNOWN` (with its reason); the test prints the agreement count.
//!
//! And no expression may crash or hang goanalyze: random token soup and
//! pathological nesting over the same core must each end in a value or an
//! error.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use tests::fixture::Build;
use tests::tools;

/// Where we knowingly differ from Delve, and why.
const KNOWN: &[(&str, &str)] = &[
    // Delve prints a channel as its runtime.hchan struct; we print Go's view
    // (`chan int 2/4 [1,2]`: length/capacity and the buffered values).
    ("ch1", "channel summary instead of the hchan struct"),
    ("ch2", "channel summary instead of the hchan struct"),
    ("nilch", "channel summary instead of the hchan struct"),
    // Delve stops after one level of nesting at the top (and shows an
    // address there); --max-depth 3 shows three.
    ("w", "deeper default nesting than Delve's"),
    ("t", "deeper default nesting than Delve's"),
    ("err2", "deeper default nesting than Delve's"),
    // A closure: Delve lists its captured variables; we print its name.
    ("fn2", "closure captures not shown"),
    // Go's rules where Delve is lax or fails.
    ("aw.Z", "Go: ambiguous selector (Delve picks amb1.Z)"),
    ("sl[1:3:4]", "Delve has no 3-index slices"),
    ("i8 - 200", "Go: constant 200 overflows int8 (Delve wraps it)"),
    ("complex(f64, 1)", "Delve prints nothing"),
    ("unsafe.Pointer(pc)", "Delve prints an unreadable target"),
    ("uintptr(up)", "Delve cannot convert unsafe.Pointer to uintptr; Go can"),
    ("parr[1:2]", "Delve cannot slice a pointer to an array; Go can"),
    ("counter(i3)", "Delve needs the package name (main.counter); Go resolves it in the frame's package"),
    ("label(str1)", "Delve needs the package name (main.label)"),
    ("label(\"x\")", "Delve needs the package name (main.label)"),
    ("(*cell)(up)", "Delve needs the package name (main.cell)"),
    ("*(*cell)(up)", "Delve needs the package name (main.cell)"),
    ("(*cell)(up).Text", "Delve needs the package name (main.cell)"),
    ("e2.(cell)", "Delve needs the package name (main.cell)"),
    ("e2.(cell).Text", "Delve needs the package name (main.cell)"),
    ("e3.(*cell)", "Delve needs the package name (main.cell)"),
    ("e3.(*cell).Num", "Delve needs the package name (main.cell)"),
    ("sh.(rect)", "Delve needs the package name (main.rect)"),
    ("sh.(rect).W", "Delve needs the package name (main.rect)"),
    ("err1.(*myErr)", "Delve needs the package name (main.myErr)"),
    ("err1.(*myErr).Code", "Delve needs the package name (main.myErr)"),
];

fn expressions() -> Vec<String> {
    let path = tests::workspace_root().join("testdata/go/exprs/exprs.txt");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// What one tool answered.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Value(String),
    Error(String),
}

/// Layout out of the way: whitespace outside string literals, a trailing
/// comma before a closing bracket.
fn normalise(s: &str) -> String {
    let mut out = String::new();
    let mut in_str = false;
    let mut esc = false;
    for c in s.chars() {
        if in_str {
            out.push(c);
            if esc {
                esc = false;
            } else if c == '\\' {
                esc = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            c if c.is_whitespace() => {}
            '}' | ']' if out.ends_with(',') => {
                out.pop();
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\x1b' {
            for d in it.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// main.main's frame number in Delve's stack of goroutine 1.
fn dlv_frame(dlv: &Path, exe: &Path, core: &Path, dir: &Path) -> usize {
    let init = dir.join("stack.init");
    std::fs::write(&init, "goroutine 1 stack\nexit\n").unwrap();
    let out = dlv_run(dlv, exe, core, &init);
    for l in out.lines() {
        let t = l.trim();
        if t.ends_with(" in main.main") {
            if let Some(n) = t.split_whitespace().next().and_then(|n| n.parse().ok()) {
                return n;
            }
        }
    }
    panic!("no main.main in Delve's stack of goroutine 1:\n{out}");
}

fn dlv_run(dlv: &Path, exe: &Path, core: &Path, init: &Path) -> String {
    let out = Command::new(dlv)
        .arg("core")
        .arg(exe)
        .arg(core)
        .arg("--init")
        .arg(init)
        .arg("--allow-non-terminal-interactive=true")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running dlv");
    strip_ansi(&format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

/// Delve's answer to each expression, and main.main's frame number.
fn delve(dlv: &Path, exe: &Path, core: &Path, exprs: &[String]) -> (Vec<Answer>, usize) {
    let dir = tempfile::tempdir().unwrap();
    let frame = dlv_frame(dlv, exe, core, dir.path());
    let init = dir.path().join("print.init");
    let mut script = String::new();
    for (i, e) in exprs.iter().enumerate() {
        script += &format!("print \"@@@ {i}\"\ngoroutine 1 frame {frame} print {e}\n");
    }
    script += "print \"@@@ end\"\nexit\n";
    std::fs::write(&init, script).unwrap();
    let out = dlv_run(dlv, exe, core, &init);
    let mut blocks: HashMap<usize, Vec<&str>> = HashMap::new();
    let mut cur = None;
    for l in out.lines() {
        if let Some(n) = l.strip_prefix("\"@@@ ").and_then(|r| r.strip_suffix('"')) {
            cur = n.parse::<usize>().ok();
            continue;
        }
        if let Some(c) = cur {
            blocks.entry(c).or_default().push(l);
        }
    }
    let init_name = init.display().to_string();
    let answers = (0..exprs.len())
        .map(|i| {
            let lines = blocks.remove(&i).unwrap_or_default();
            let text = lines.join("\n");
            if lines.first().is_some_and(|l| l.starts_with(&init_name) || l.starts_with("Command failed")) {
                return Answer::Error(text);
            }
            // A pointer at the top: its address, then `*target` on the next line.
            if lines.len() >= 2 && lines[0].starts_with("(*") && lines[0].ends_with(')') && lines[1].starts_with('*') {
                return Answer::Value(normalise(&lines[1..].join("\n")));
            }
            // "Goroutines waiting on this channel:" follows a channel.
            let body: Vec<&str> = lines.iter().copied().take_while(|l| !l.starts_with("Goroutines waiting on this channel")).collect();
            let v = normalise(&body.join("\n"));
            // Delve's way of saying it has no value.
            if v.starts_with("(unreadable") {
                return Answer::Error(v);
            }
            Answer::Value(v)
        })
        .collect();
    (answers, frame)
}

/// Our answer to each expression, from one goanalyze run.
fn ours(exe: &Path, core: &Path, exprs: &[String], frame: usize) -> Vec<Answer> {
    let mut cmd = Command::new(tests::bins::goanalyze());
    cmd.arg(core).arg("--exe").arg(exe).args(["-g", "1", "-f", &frame.to_string()]);
    for e in exprs {
        cmd.arg("--print").arg(e);
    }
    let out = cmd.output().expect("running goanalyze");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "goanalyze died ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines = stdout.lines();
    exprs
        .iter()
        .map(|e| {
            let l = lines.next().unwrap_or_else(|| panic!("no answer for {e:?} in:\n{stdout}"));
            if let Some(v) = l.strip_prefix(&format!("{e} = ")) {
                Answer::Value(normalise(v))
            } else if let Some(m) = l.strip_prefix(&format!("{e}: error: ")) {
                Answer::Error(m.to_string())
            } else {
                panic!("answer for {e:?} is {l:?}")
            }
        })
        .collect()
}

struct Tally {
    agree: usize,
    known: Vec<String>,
    /// We say unavailable/error where Delve has a value (allowed in optimised builds).
    weaker: Vec<String>,
    bad: Vec<String>,
}

fn compare(label: &str, exprs: &[String], d: &[Answer], o: &[Answer], lax: bool) -> Tally {
    let known: HashMap<&str, &str> = KNOWN.iter().copied().collect();
    let mut t = Tally { agree: 0, known: Vec::new(), weaker: Vec::new(), bad: Vec::new() };
    for ((e, d), o) in exprs.iter().zip(d).zip(o) {
        let same = match (d, o) {
            (Answer::Error(_), Answer::Error(_)) => true,
            (Answer::Value(a), Answer::Value(b)) => a == b,
            _ => false,
        };
        let line = format!("{e}: delve {d:?}, ours {o:?}");
        if same {
            t.agree += 1;
        } else if let Some(why) = known.get(e.as_str()) {
            t.known.push(format!("{line} ({why})"));
        } else if lax && matches!((d, o), (Answer::Value(_), Answer::Error(_))) {
            t.weaker.push(line);
        } else {
            t.bad.push(line);
        }
    }
    eprintln!(
        "{label}: {} of {} expressions agree with Delve; {} known differences; {} unavailable to us only",
        t.agree,
        exprs.len(),
        t.known.len(),
        t.weaker.len()
    );
    for k in &t.known {
        eprintln!("  known: {k}");
    }
    for k in &t.weaker {
        eprintln!("  weaker: {k}");
    }
    t
}

fn needs() -> Option<std::path::PathBuf> {
    tools::require("go", "building the exprs fixture")?;
    tools::require("dlv", "Delve is the oracle of --print")
}

#[test]
fn kernel_core_debug_build_agrees_with_delve() {
    let Some(dlv) = needs() else { return };
    let fx = Build::new("exprs").gcflags("all=-N -l").build().expect("build");
    let made = tests::producers::kernel_core(&fx.exe, &["crash"]).expect("kernel core");
    let exprs = expressions();
    let (d, frame) = delve(&dlv, &fx.exe, &made.core, &exprs);
    let o = ours(&fx.exe, &made.core, &exprs, frame);
    let t = compare("kernel core, -N -l", &exprs, &d, &o, false);
    assert!(t.bad.is_empty(), "disagreements with Delve:\n{}", t.bad.join("\n"));
    assert!(t.agree * 100 >= exprs.len() * 90, "only {} of {} agree", t.agree, exprs.len());
}

#[test]
fn delve_dump_agrees_with_delve() {
    let Some(dlv) = needs() else { return };
    let fx = Build::new("exprs").gcflags("all=-N -l").build().expect("build");
    let live = tests::producers::LiveProcess::start(&fx.exe, &["wait"]).expect("start");
    let made = tests::producers::dlv_dump(&dlv, live.pid).expect("dlv dump");
    drop(live);
    let exprs = expressions();
    let (d, frame) = delve(&dlv, &fx.exe, &made.core, &exprs);
    let o = ours(&fx.exe, &made.core, &exprs, frame);
    let t = compare("Delve's dump, -N -l", &exprs, &d, &o, false);
    assert!(t.bad.is_empty(), "disagreements with Delve:\n{}", t.bad.join("\n"));
}

/// Optimised: many locals have no home at the parked pc. Unavailable is
/// fine; a value that differs from Delve's is not.
#[test]
fn kernel_core_optimised_build_never_wrong() {
    let Some(dlv) = needs() else { return };
    let fx = Build::new("exprs").build().expect("build");
    let made = tests::producers::kernel_core(&fx.exe, &["crash"]).expect("kernel core");
    let exprs = expressions();
    let (d, frame) = delve(&dlv, &fx.exe, &made.core, &exprs);
    let o = ours(&fx.exe, &made.core, &exprs, frame);
    let t = compare("kernel core, optimised", &exprs, &d, &o, true);
    assert!(t.bad.is_empty(), "disagreements with Delve:\n{}", t.bad.join("\n"));
}

/// Random token soup, deep nesting and long inputs: each ends in a value
/// or an error, quickly, and goanalyze never dies.
#[test]
fn garbage_expressions_end_in_a_value_or_an_error() {
    if tools::require("go", "building the exprs fixture").is_none() {
        return;
    }
    let fx = Build::new("exprs").gcflags("all=-N -l").build().expect("build");
    let made = tests::producers::kernel_core(&fx.exe, &["crash"]).expect("kernel core");
    let atoms = [
        "i1", "sl", "m1", "pc", "sr", "t", "e2", "sh", "str1", "arr", "parr", "ch1", "nilp", "nilmap", "w", "aw", "main",
        "gCount", "1", "0", "-1", "1.5", "\"k\"", "'a'", "nil", "true", "1<<62", "0xc000000000", "len", "cap", "min", "int",
        "uint8", "string", "unsafe.Pointer", "*main.cell", "main.cell", "[]byte", "selfRef", "F", "Left", "Next",
    ];
    let glue = [
        "+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "&^", "==", "!=", "<", ">=", "&&", "||", "!", ".", "[", "]",
        "(", ")", ":", ",", ".(", " ",
    ];
    // A small deterministic generator: the same soup every run.
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut next = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let mut exprs: Vec<String> = (0..400)
        .map(|_| {
            let mut s = String::new();
            for _ in 0..1 + next(8) {
                if next(2) == 0 {
                    s += atoms[next(atoms.len())];
                } else {
                    s += glue[next(glue.len())];
                }
            }
            s
        })
        .collect();
    exprs.retain(|e| !e.trim().is_empty());
    // Self-reference, cycles and depth.
    exprs.push(format!("sr{}", ".selfRef".repeat(200)));
    exprs.push(format!("t{}", ".Left.Right".repeat(200)));
    exprs.push(format!("{}i1{}", "(".repeat(5000), ")".repeat(5000)));
    exprs.push(format!("{}i1", "*".repeat(5000)));
    exprs.push(format!("{}i1", "-".repeat(5000)));
    exprs.push(format!("i1{}", "+i1".repeat(3000)));
    exprs.push("sr.nosuch".into());
    exprs.push("*(*[1<<40]int)(unsafe.Pointer(pc))".into());
    exprs.push("(*[1<<40]int)(unsafe.Pointer(pc))[1<<39]".into());
    exprs.push("(*main.tree)(0x10)".into());
    exprs.push("*(*main.tree)(0x10)".into());
    exprs.push("(*main.selfRef)(0x10).F".into());
    // Built (or found) before the clock starts: the figure printed below is
    // goanalyze's own time. A hang is goanalyze's --timeout's to catch; the
    // suite asserts no wall-clock limit (the machine may be loaded).
    let goanalyze = tests::bins::goanalyze();
    let start = Instant::now();
    let mut cmd = Command::new(goanalyze);
    cmd.arg(&made.core).arg("--exe").arg(&fx.exe).args(["-g", "1", "--timeout", "120"]);
    for e in &exprs {
        cmd.arg("--print").arg(e);
    }
    let out = cmd.output().expect("running goanalyze");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.code().is_some_and(|c| c == 0 || c == 1),
        "goanalyze died on garbage ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answered = stdout.lines().filter(|l| !l.is_empty()).count();
    assert!(answered >= exprs.len(), "{answered} answers to {} expressions:\n{stdout}", exprs.len());
    eprintln!("{} garbage expressions answered in {:?}", exprs.len(), start.elapsed());
}
