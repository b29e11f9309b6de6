//! `goanalyze --print` against Delve's `print` on the same core. The
//! `exprs` fixture holds a value of every Go kind in main.main's locals and
//! its globals; `testdata/go/exprs/exprs.txt` lists the expressions. For
//! each core (the kernel's, of a `-N -l` build and of an optimised one,
//! and Delve's own `dump` of the live process) Delve evaluates every
//! expression in main.main's frame of goroutine 1 (`dlv core` with an init
//! script) and so do we (one `goanalyze -g 1 --print E ...` run). The
//! kernel's cores are made the way a Delve user stops a program: main.main
//! calls `runtime.Breakpoint()` (through a `stop()` kept out of line), the SIGTRAP is fatal and GOTRACEBACK=crash
//! has the kernel write the core, so the frame is below the signal frames
//! of the thread that runs goroutine 1 (Delve numbers those handler frames,
//! we start at the goroutine's own pc: each tool's frame number of main.main
//! is found in its own stack listing). The
//! answers are compared after normalising layout (Delve breaks long values
//! over lines and puts a top-level pointer's address on a line of its
//! own); two errors agree whatever their words. Every answer is put in
//! one category, each printed with its count: identical to Delve's; the
//! same value loaded to another depth (checked part by part: only what one
//! tool elided may differ); the same channel in Delve's hchan form (checked
//! against its qcount, dataqsiz and ring buffer); Go's rule where Delve
//! differs; Delve wrong; ours wrong; unavailable to us only (optimised
//! builds); unexplained. The last fails the test; the other kinds of
//! difference must be in `KNOWN` with their reason. Agreement as the issue
//! counts it is the first five.
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

/// Why an answer knowingly differs from Delve's.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Why {
    /// Our own choice that the issue does not ask for: counts against us.
    /// (None today: the channel summary and the deeper default nesting are
    /// checked to be the same values as Delve's, see `compare`.)
    #[allow(dead_code)]
    Ours,
    /// Go's rule, which the issue asks for (name resolution like the
    /// compiler's, Go's typing rules, every Go form: the program itself would
    /// compute our answer); Delve fails or differs.
    Go,
    /// Delve's answer is wrong (checked against the program's own values).
    DelveWrong,
}
use Why::*;

/// Where we knowingly differ from Delve, and why.
const KNOWN: &[(&str, Why, &str)] = &[
    // Go's rules where Delve is lax or fails.
    ("aw.Z", Go, "Go: ambiguous selector (Delve picks amb1.Z)"),
    ("sl[1:3:4]", Go, "Delve has no 3-index slices"),
    ("i8 - 200", Go, "Go: constant 200 overflows int8 (Delve wraps it)"),
    ("complex(f64, 1)", Go, "Delve prints nothing"),
    ("unsafe.Pointer(pc)", Go, "Delve prints an unreadable target"),
    ("uintptr(up)", Go, "Delve cannot convert unsafe.Pointer to uintptr; Go can"),
    ("parr[1:2]", Go, "Delve cannot slice a pointer to an array; Go can"),
    ("counter(i3)", Go, "Delve needs the package name (main.counter); Go resolves it in the frame's package"),
    ("label(str1)", Go, "Delve needs the package name (main.label)"),
    ("label(\"x\")", Go, "Delve needs the package name (main.label)"),
    ("(*cell)(up)", Go, "Delve needs the package name (main.cell)"),
    ("*(*cell)(up)", Go, "Delve needs the package name (main.cell)"),
    ("(*cell)(up).Text", Go, "Delve needs the package name (main.cell)"),
    ("e2.(cell)", Go, "Delve needs the package name (main.cell)"),
    ("e2.(cell).Text", Go, "Delve needs the package name (main.cell)"),
    ("e3.(*cell)", Go, "Delve needs the package name (main.cell)"),
    ("e3.(*cell).Num", Go, "Delve needs the package name (main.cell)"),
    ("sh.(rect)", Go, "Delve needs the package name (main.rect)"),
    ("sh.(rect).W", Go, "Delve needs the package name (main.rect)"),
    ("err1.(*myErr)", Go, "Delve needs the package name (main.myErr)"),
    ("err1.(*myErr).Code", Go, "Delve needs the package name (main.myErr)"),
    // Assertions to interface types: Delve compares type names only, so it
    // refuses every one whose dynamic type is not the interface itself.
    ("e5.(fmt.Stringer)", DelveWrong, "Delve: \"interface {} is main.named, not fmt.Stringer\"; main.named has String()"),
    ("e5.(fmt.Stringer).(main.named)", DelveWrong, "Delve refuses the inner assertion (as above)"),
    ("err1.(error)", DelveWrong, "Delve: \"error is *main.myErr, not error\""),
    ("err1.(error).(*main.myErr).Code", DelveWrong, "Delve refuses the inner assertion (as above)"),
    ("e6.(fmt.Stringer)", DelveWrong, "Delve: \"interface {} is main.loud, not fmt.Stringer\"; main.loud has String()"),
    ("e6.(fmt.Stringer).V", DelveWrong, "Delve refuses the assertion (as above)"),
    ("e6.(fmt.Stringer).(main.loud).V", DelveWrong, "Delve refuses the assertion (as above)"),
    ("e6.(fmt.Stringer).(fmt.Stringer)", DelveWrong, "Delve refuses the assertion (as above)"),
    ("e5.(fmt.Stringer).N", DelveWrong, "Delve refuses the assertion (as above)"),
    ("e6.(fmt.Stringer).String", DelveWrong, "Delve refuses the assertion (as above)"),
    ("e6.(main.loud).String", DelveWrong, "Delve shows the receiver unloaded: {data main.loud = {}}"),
    ("st.String", DelveWrong, "Delve shows the receiver unloaded: {data main.named = {}}"),
    // Go's predeclared `any` as a conversion: Delve does not know the name.
    ("any(err1)", Go, "Delve has no `any` (\"could not find symbol value for any\")"),
    ("any(err1).(*main.myErr).Code", Go, "Delve has no `any`"),
    // Method values: Delve shows the receiver as a capture but does not load
    // it (`w main.deep = {}`, `data *main.myErr = nil` for a non-nil err1).
    ("w.Sum", DelveWrong, "Delve shows the receiver unloaded: {w main.deep = {}}"),
    ("w.Get", DelveWrong, "Delve shows the receiver as nil: {w *main.inner2 = nil}"),
    ("w.inner1.Sum", DelveWrong, "Delve shows the receiver unloaded"),
    ("w.deep.Sum", DelveWrong, "Delve shows the receiver unloaded"),
    ("err1.Error", DelveWrong, "Delve shows the receiver as nil: {data *main.myErr = nil}"),
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
    for (_, c, in_literal) in with_literals(s) {
        match c {
            c if in_literal => out.push(c),
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

/// Each character of a value text with its byte offset and whether it is
/// part of a string literal (quotes included), so scanners skip brackets
/// and commas inside strings.
fn with_literals(s: &str) -> impl Iterator<Item = (usize, char, bool)> + '_ {
    let (mut in_str, mut esc) = (false, false);
    s.char_indices().map(move |(i, c)| {
        if !in_str {
            in_str = c == '"';
            return (i, c, in_str);
        }
        if esc {
            esc = false;
        } else if c == '\\' {
            esc = true;
        } else if c == '"' {
            in_str = false;
        }
        (i, c, true)
    })
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

/// Whether a frame's function is `func`, or an instance of the generic
/// `func` when that ends in `[` (`main.hold[` matches `main.hold[go.shape.int]`).
fn is_func(name: &str, func: &str) -> bool {
    name == func || (func.ends_with('[') && name.starts_with(func))
}

/// `func`'s frame number in Delve's stack of goroutine `g`.
fn dlv_frame(dlv: &Path, exe: &Path, core: &Path, dir: &Path, g: u64, func: &str) -> usize {
    let init = dir.join("stack.init");
    std::fs::write(&init, format!("goroutine {g} stack\nexit\n")).unwrap();
    let out = dlv_run(dlv, exe, core, &init);
    for l in out.lines() {
        let t = l.trim();
        if t.split_once(" in ").is_some_and(|(_, f)| is_func(f, func)) {
            if let Some(n) = t.split_whitespace().next().and_then(|n| n.parse().ok()) {
                return n;
            }
        }
    }
    panic!("no {func} in Delve's stack of goroutine {g}:\n{out}");
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

/// Delve's answer to each expression in main.main of goroutine 1.
fn delve(dlv: &Path, exe: &Path, core: &Path, exprs: &[String]) -> Vec<Answer> {
    delve_in(dlv, exe, core, 1, "main.main", exprs)
}

/// Delve's answer to each expression in `func`'s frame of goroutine `g`.
fn delve_in(dlv: &Path, exe: &Path, core: &Path, g: u64, func: &str, exprs: &[String]) -> Vec<Answer> {
    let dir = tempfile::tempdir().unwrap();
    let frame = dlv_frame(dlv, exe, core, dir.path(), g, func);
    let init = dir.path().join("print.init");
    let mut script = String::new();
    for (i, e) in exprs.iter().enumerate() {
        script += &format!("print \"@@@ {i}\"\ngoroutine {g} frame {frame} print {e}\n");
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
    (0..exprs.len())
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
        .collect()
}

/// `func`'s frame number in our stack of goroutine `g` (`--locals`: one
/// unindented line a frame after the goroutine's header).
fn our_frame(exe: &Path, core: &Path, g: u64, func: &str) -> usize {
    let out = Command::new(tests::bins::goanalyze())
        .arg(core)
        .arg("--exe")
        .arg(exe)
        .args(["-g", &g.to_string(), "--locals"])
        .output()
        .expect("running goanalyze --locals");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .skip(1)
        .filter(|l| !l.starts_with(char::is_whitespace) && !l.is_empty())
        .position(|l| l.split_once('(').is_some_and(|(f, _)| is_func(f, func) || (func.ends_with('[') && f.starts_with(func))))
        .unwrap_or_else(|| panic!("no {func} in our stack of goroutine {g}:\n{text}"))
}

/// Our answer to each expression, from one goanalyze run.
fn ours(exe: &Path, core: &Path, exprs: &[String], g: u64, frame: usize) -> Vec<Answer> {
    let mut cmd = Command::new(tests::bins::goanalyze());
    cmd.arg(core).arg("--exe").arg(exe).args(["-g", &g.to_string(), "-f", &frame.to_string()]);
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

/// Every answer falls in exactly one of these, printed with its count.
struct Tally {
    total: usize,
    /// The same text as Delve's.
    identical: usize,
    /// The same value where both tools show it: one stopped loading at a
    /// shallower depth (Delve's default recursion is 1 level, ours
    /// `--max-depth 3` pointers), checked part by part.
    depth: Vec<String>,
    /// The same channel as Delve's runtime.hchan struct: our summary's
    /// length, capacity and buffered values (queue order) are its qcount,
    /// dataqsiz and ring `buf` from recvx.
    chan_form: Vec<String>,
    /// Go's answer where the issue asks for Go's rule and Delve differs.
    go: Vec<String>,
    /// Delve's answer is wrong (reason given).
    delve_wrong: Vec<String>,
    /// Ours is wrong or our own choice: counts against us.
    ours: Vec<String>,
    /// We say unavailable/error where Delve has a value (allowed in optimised builds).
    weaker: Vec<String>,
    /// Unexplained: fails the test.
    bad: Vec<String>,
}

impl Tally {
    /// Agreement as the issue counts it: with Delve (the same text, or the
    /// same value in another form or depth, checked) or, where Delve
    /// differs from Go's rule or is wrong, with Go's answer.
    fn issue_agree(&self) -> usize {
        self.identical + self.depth.len() + self.chan_form.len() + self.go.len() + self.delve_wrong.len()
    }
    fn percent(n: usize, total: usize) -> f64 {
        n as f64 * 100.0 / total.max(1) as f64
    }
}

fn compare(label: &str, exprs: &[String], d: &[Answer], o: &[Answer], lax: bool) -> Tally {
    let known: HashMap<&str, (Why, &str)> = KNOWN.iter().map(|(e, w, r)| (*e, (*w, *r))).collect();
    let mut t = Tally {
        total: exprs.len(),
        identical: 0,
        depth: Vec::new(),
        chan_form: Vec::new(),
        go: Vec::new(),
        delve_wrong: Vec::new(),
        ours: Vec::new(),
        weaker: Vec::new(),
        bad: Vec::new(),
    };
    for ((e, d), o) in exprs.iter().zip(d).zip(o) {
        let line = format!("{e}: delve {d:?}, ours {o:?}");
        match (d, o) {
            (Answer::Error(_), Answer::Error(_)) => t.identical += 1,
            (Answer::Value(a), Answer::Value(b)) if a == b => t.identical += 1,
            (Answer::Value(a), Answer::Value(b)) if same_channel(a, b) => t.chan_form.push(line),
            (Answer::Value(a), Answer::Value(b))
                if !known.contains_key(e.as_str()) && !elided(a) && !elided(b) && same_where_both_show(a, b) =>
            {
                t.depth.push(line)
            }
            _ => match known.get(e.as_str()) {
                Some((why, reason)) => {
                    let l = format!("{line} ({reason})");
                    match why {
                        Ours => t.ours.push(l),
                        Go => t.go.push(l),
                        DelveWrong => t.delve_wrong.push(l),
                    }
                }
                None if lax && matches!((d, o), (Answer::Value(_), Answer::Error(_))) => t.weaker.push(line),
                None => t.bad.push(line),
            },
        }
    }
    let n = t.total;
    let pc = |k: usize| format!("{k} ({:.1}%)", Tally::percent(k, n));
    eprintln!("{label}: {n} expressions");
    eprintln!("  identical to Delve's answer:                       {}", pc(t.identical));
    eprintln!("  the same value, loaded to another depth (checked):  {}", pc(t.depth.len()));
    eprintln!("  the same channel, Delve's hchan form (checked):     {}", pc(t.chan_form.len()));
    eprintln!("  Go's rule where Delve differs:                     {}", pc(t.go.len()));
    eprintln!("  Delve wrong:                                       {}", pc(t.delve_wrong.len()));
    eprintln!("  ours wrong or our own choice:                      {}", pc(t.ours.len()));
    eprintln!("  unavailable to us only (optimised code):           {}", pc(t.weaker.len()));
    eprintln!("  unexplained (fails the test):                      {}", pc(t.bad.len()));
    eprintln!("  agreement as the issue counts (the first five):    {}", pc(t.issue_agree()));
    for (tag, list) in [
        ("depth", &t.depth),
        ("chan form", &t.chan_form),
        ("go", &t.go),
        ("delve wrong", &t.delve_wrong),
        ("ours", &t.ours),
        ("weaker", &t.weaker),
    ] {
        for k in list {
            eprintln!("  {tag}: {k}");
        }
    }
    t
}

/// Splits a normalised value text at its top-level commas (outside string
/// literals and brackets).
fn top_items(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c, in_literal) in with_literals(s) {
        if in_literal {
            continue;
        }
        match c {
            '{' | '[' | '(' => depth += 1,
            '}' | ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

/// A value text ending in a bracketed group: (what precedes it, its inside).
fn trailing_group(s: &str) -> Option<(&str, &str)> {
    let close = s.chars().last()?;
    let open = match close {
        '}' => '{',
        ']' => '[',
        _ => return None,
    };
    // The opener matching the last character, scanning forwards (string
    // literals may hold brackets).
    let mut depth = 0i32;
    let mut opens: Vec<(usize, char)> = Vec::new();
    let mut last_top = None;
    for (i, c, in_literal) in with_literals(s) {
        if in_literal {
            continue;
        }
        match c {
            '{' | '[' | '(' => {
                opens.push((i, c));
                depth += 1;
            }
            '}' | ']' | ')' => {
                let (o, oc) = opens.pop()?;
                depth -= 1;
                if depth == 0 && i == s.len() - 1 && oc == open {
                    last_top = Some(o);
                }
            }
            _ => {}
        }
    }
    let o = last_top?;
    Some((&s[..o], &s[o + 1..s.len() - 1]))
}

/// A part one tool did not load: `{...}`, `...+N more`, a struct or a
/// pointer shown by its address only (`(*T)(0x...)`), Delve's
/// `*(*T)(0x...)` for a pointer it has already shown.
fn elided(s: &str) -> bool {
    if s == "..." || s.ends_with("{...}") || s.starts_with("...+") {
        return true;
    }
    let s = s.strip_prefix('*').unwrap_or(s);
    s.starts_with("(*")
        && s.ends_with(')')
        && s.rfind(")(0x").is_some_and(|i| s[i + 4..s.len() - 1].chars().all(|c| c.is_ascii_hexdigit()))
}

/// `Name:value` (a struct field) split at the colon.
fn field(s: &str) -> Option<(&str, &str)> {
    let (k, v) = s.split_once(':')?;
    (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some((k, v))
}

/// Whether two normalised value texts agree wherever both show a value:
/// what one tool elided (it stopped loading at its depth or element limit)
/// matches whatever the other shows there; everything else must be equal.
fn same_where_both_show(a: &str, b: &str) -> bool {
    if a == b || elided(a) || elided(b) {
        return true;
    }
    if let (Some((ka, va)), Some((kb, vb))) = (field(a), field(b)) {
        return ka == kb && same_where_both_show(va, vb);
    }
    let (Some((ha, ba)), Some((hb, bb))) = (trailing_group(a), trailing_group(b)) else { return false };
    if ha != hb {
        return false;
    }
    let (ia, ib) = (top_items(ba), top_items(bb));
    let cut = |v: &[&str]| v.last().is_some_and(|l| l.starts_with("...+"));
    if ia.len() != ib.len() && !cut(&ia) && !cut(&ib) {
        return false;
    }
    ia.iter().zip(&ib).all(|(x, y)| same_where_both_show(x, y))
}

/// Our channel summary (`chanint2/4[1,2]`, normalised) against Delve's
/// runtime.hchan struct for it: the same length (qcount), capacity
/// (dataqsiz) and buffered values, in queue order (the ring `buf` read
/// from `recvx`); a nil channel is Delve's empty struct.
fn same_channel(delve: &str, ours: &str) -> bool {
    let Some((head, body)) = trailing_group(delve) else { return false };
    if !head.starts_with("chan") && !head.starts_with("<-chan") {
        return false;
    }
    let Some(rest) = ours.strip_prefix(head) else { return false };
    if body.is_empty() {
        return rest == "nil";
    }
    let fields: HashMap<&str, &str> = top_items(body).into_iter().filter_map(field).collect();
    let num = |k: &str| fields.get(k).and_then(|v| v.parse::<usize>().ok());
    let (Some(qcount), Some(cap), Some(recvx)) = (num("qcount"), num("dataqsiz"), num("recvx")) else { return false };
    let buf: Vec<&str> = match fields.get("buf").and_then(|b| trailing_group(b)) {
        Some((_, inner)) => top_items(inner),
        None => return false,
    };
    if buf.len() != cap {
        return false;
    }
    let queued: Vec<&str> = (0..qcount).map(|i| buf[(recvx + i) % cap.max(1)]).collect();
    let Some(after) = rest.strip_prefix(&format!("{qcount}/{cap}")) else { return false };
    let (closed, vals) = match after.strip_prefix("closed") {
        Some(v) => (true, v),
        None => (false, after),
    };
    if closed != fields.get("closed").is_some_and(|c| *c != "0") {
        return false;
    }
    if vals.is_empty() {
        return qcount == 0;
    }
    let Some(("", inner)) = trailing_group(vals) else { return false };
    let items = top_items(inner);
    let cut = items.last().is_some_and(|l| l.starts_with("...+"));
    let shown: Vec<&str> = items.into_iter().filter(|i| !i.starts_with("...+")).collect();
    // Delve may show an element only by its address (its depth limit).
    shown.len() <= queued.len()
        && (cut || shown.len() == queued.len())
        && shown.iter().zip(&queued).all(|(o, d)| same_where_both_show(d, o))
}

/// The comparators on answers seen from Delve 1.27 and from us (normalised).
#[test]
fn comparators_accept_only_what_one_side_elided() {
    // Delve stops at depth 1 with an address, we show the struct.
    let d = "main.outerW{inner1:main.inner1{F:1,deep:(*main.deep)(0xc00001a0a0)},inner2:*main.inner2{H:4},Own:\"own\"}";
    let o = "main.outerW{inner1:main.inner1{F:1,deep:main.deep{F:2,G:3}},inner2:*main.inner2{H:4},Own:\"own\"}";
    assert!(same_where_both_show(d, o));
    assert!(!same_where_both_show(d, &o.replace("H:4", "H:5")));
    assert!(!same_where_both_show(d, &o.replace("Own:", "Other:")));
    // We stop first ({...}); Delve's `*(*T)(addr)` for a pointer seen before.
    let d = "*main.tree{Left:*main.tree{Left:*main.treenil,Right:*(*main.tree)(0x55a1394a330),Val:2},Right:*main.tree{Left:*main.treenil,Right:*main.treenil,Val:3},Val:1}";
    let o = "*main.tree{Left:*main.tree{...},Right:*main.tree{...},Val:1}";
    assert!(same_where_both_show(d, o));
    assert!(!same_where_both_show(d, &o.replace("Val:1", "Val:7")));
    // Elements: `[...+1 more]` against addresses.
    let d = "[]time.zonelen:1,cap:1,[(*time.zone)(0x55a1394e0c0)]";
    assert!(same_where_both_show(d, "[]time.zonelen:1,cap:1,[...+1more]"));
    assert!(!same_where_both_show(d, "[]time.zonelen:2,cap:1,[...+1more]"));
    // Strings may hold brackets and commas.
    assert!(!same_where_both_show("main.cell{Num:1,Text:\"a,}\"}", "main.cell{Num:1,Text:\"a,]\"}"));
    // Channels: our summary against Delve's hchan, queue order from recvx.
    let d = "chanint{qcount:2,dataqsiz:4,buf:*[4]int[1,2,0,0],elemsize:8,closed:0,sendx:2,recvx:0}";
    assert!(same_channel(d, "chanint2/4[1,2]"));
    assert!(!same_channel(d, "chanint2/4[2,1]"));
    assert!(!same_channel(d, "chanint1/4[1]"));
    assert!(same_channel("chanint{qcount:2,dataqsiz:4,buf:*[4]int[9,0,7,8],closed:0,recvx:3}", "chanint2/4[8,9]"));
    assert!(same_channel("chanint{}", "chanintnil"));
    let d = "chanmain.cell{qcount:1,dataqsiz:2,buf:*[2]main.cell[(*main.cell)(0x10c0a1d94cc0),(*main.cell)(0x10c0a1d94cd8)],closed:0,recvx:0}";
    assert!(same_channel(d, "chanmain.cell1/2[{Num:21,Text:\"generic\"}]"));
    assert!(same_channel("chanstring{qcount:0,dataqsiz:0,buf:*[0]string[],closed:0,recvx:0}", "chanstring0/0"));
    assert!(!same_channel("chanstring{qcount:0,dataqsiz:0,buf:*[0]string[],closed:1,recvx:0}", "chanstring0/0"));
}

/// The kernel's core of the fixture stopped by `runtime.Breakpoint()` in
/// main.main (SIGTRAP, fatal; GOTRACEBACK=crash makes the runtime abort
/// from its handler and the kernel write the core).
fn trap_core(exe: &Path) -> tests::producers::MadeCore {
    let made = tests::producers::kernel_core(exe, &["trap"]).expect("kernel core");
    assert!(made.stderr.contains("SIGTRAP: trace trap"), "not stopped by SIGTRAP:\n{}", made.stderr);
    made
}

fn needs() -> Option<std::path::PathBuf> {
    tools::require("go", "building the exprs fixture")?;
    tools::require("dlv", "Delve is the oracle of --print")
}

#[test]
fn kernel_core_debug_build_agrees_with_delve() {
    let Some(dlv) = needs() else { return };
    let fx = Build::new("exprs").gcflags("all=-N -l").build().expect("build");
    let made = trap_core(&fx.exe);
    let exprs = expressions();
    let d = delve(&dlv, &fx.exe, &made.core, &exprs);
    let o = ours(&fx.exe, &made.core, &exprs, 1, our_frame(&fx.exe, &made.core, 1, "main.main"));
    let t = compare("kernel core (SIGTRAP), -N -l", &exprs, &d, &o, false);
    assert!(t.bad.is_empty(), "disagreements with Delve:\n{}", t.bad.join("\n"));
    assert!(t.issue_agree() * 100 >= t.total * 95, "only {} of {} agree", t.issue_agree(), t.total);
    generic_frames_agree(&dlv, &fx.exe, &made);
    several_prints_in_json(&fx.exe, &made.core, &o, &exprs);
}

/// Several `--print` with `--format json`: one `goanalyze.prints` document,
/// an answer per expression in order, each rendering to the text answer;
/// and `--print --stacks` (no expression) is a usage error, not an
/// expression "--stacks".
fn several_prints_in_json(exe: &Path, core: &Path, text: &[Answer], exprs: &[String]) {
    let frame = our_frame(exe, core, 1, "main.main");
    let pick: Vec<usize> = (0..exprs.len()).step_by(7).collect();
    let mut cmd = Command::new(tests::bins::goanalyze());
    cmd.arg(core).arg("--exe").arg(exe).args(["-g", "1", "-f", &frame.to_string(), "--format", "json"]);
    for &i in &pick {
        cmd.arg("--print").arg(&exprs[i]);
    }
    let out = cmd.output().expect("running goanalyze");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(doc["schema"], "goanalyze.prints");
    let prints = doc["prints"].as_array().expect("prints");
    assert_eq!(prints.len(), pick.len());
    for (p, &i) in prints.iter().zip(&pick) {
        assert_eq!(p["expr"], exprs[i].as_str());
        match &text[i] {
            Answer::Value(v) => {
                let tree: analyzer::model::Value = serde_json::from_value(p["value"].clone()).expect("a VALUE tree");
                assert_eq!(&normalise(&tree.to_string()), v, "{}", exprs[i]);
            }
            Answer::Error(_) => assert!(p["error"].is_string(), "{}: {p}", exprs[i]),
        }
    }
    let out = Command::new(tests::bins::goanalyze()).arg(core).arg("--exe").arg(exe).args(["--print", "--stacks"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--print needs an expression before --stacks"));
}

/// In the frames of the generic `main.hold[T]` (parked goroutines; DWARF
/// types its variables as shapes), the instantiated types from the
/// dictionary: those of T's values (`42`, `main.cell {...}`) and of the
/// types built from T (`*T`, `[]T`, `map[string]T`, `chan T`, `pair[T]`,
/// and `local`, which escaped: DWARF has only `&local`, of type `*shape`).
/// Oracles: the program's own `%T` of each (the `hold-types` line it
/// printed), and Delve, which agrees except where it shows the shape
/// (escaped variables), and on the channel's form (checked as in `compare`).
fn generic_frames_agree(dlv: &Path, exe: &Path, made: &tests::producers::MadeCore) {
    // The goroutines in main.hold, from the runtime's own traceback.
    let gs: Vec<u64> = made
        .stderr
        .split("\n\n")
        .filter(|b| b.contains("\nmain.hold["))
        .filter_map(|b| b.strip_prefix("goroutine ")?.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(gs.len(), 2, "two goroutines in main.hold in:\n{}", made.stderr);
    // `hold-types|v=int|local=int|p=*int|...`: name -> %T, a line per T.
    let printed: Vec<Vec<(String, String)>> = made
        .stderr
        .lines()
        .filter_map(|l| l.strip_prefix("hold-types|"))
        .map(|l| l.split('|').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect())
        .collect();
    assert_eq!(printed.len(), 2, "two hold-types lines in:\n{}", made.stderr);
    let typed = ["v", "local", "p", "s", "m", "c", "pr"];
    let exprs: Vec<String> =
        typed.iter().chain(&["*p", "s[1]", "m[\"k\"]", "pr.B", "v == local"]).map(|s| s.to_string()).collect();
    let mut seen = Vec::new();
    for g in gs {
        let frame = our_frame(exe, &made.core, g, "main.hold[");
        let d = delve_in(dlv, exe, &made.core, g, "main.hold[", &exprs);
        let o = ours(exe, &made.core, &exprs, g, frame);
        eprintln!("goroutine {g} in main.hold: delve {d:?}, ours {o:?}");
        let types = our_types(exe, &made.core, g, frame, &typed);
        let line = printed
            .iter()
            .position(|l| l.iter().any(|(k, t)| k == "v" && Some(t) == types[0].as_ref()))
            .unwrap_or_else(|| panic!("goroutine {g}: our type of v {:?} is not in the program's printout {printed:?}", types[0]));
        seen.push(line);
        for (name, ty) in typed.iter().zip(&types) {
            let want = printed[line].iter().find(|(k, _)| k == name).map(|(_, t)| t);
            assert_eq!(ty.as_ref(), want, "goroutine {g}: the type of {name} against the program's %T");
        }
        for ((e, d), o) in exprs.iter().zip(&d).zip(&o) {
            if d == o {
                continue;
            }
            // Delve's shape where the program printed the instantiated type
            // (checked above; with it Delve also refuses `v == local`,
            // "mismatched types int and go.shape.int"), or Delve's hchan
            // form of the same channel.
            let shape = matches!(d, Answer::Value(v) | Answer::Error(v) if v.contains("go.shape."));
            let chan = matches!((d, o), (Answer::Value(a), Answer::Value(b)) if same_channel(a, b));
            assert!(shape || chan, "goroutine {g}: {e}: delve {d:?}, ours {o:?}");
            eprintln!("  {e}: Delve {}", if shape { "shows the shape type" } else { "prints the channel as its hchan" });
        }
        assert!(matches!(&o[0], Answer::Value(v) if v == "42" || v.starts_with("main.cell{")), "{o:?}");
        // local := v, by construction.
        assert_eq!(o.last(), Some(&Answer::Value("true".into())), "goroutine {g}: v == local");
    }
    seen.sort();
    assert_eq!(seen, [0, 1], "each goroutine matches its own hold-types line");
}

/// The `type` of each expression's answer in `--format json`.
fn our_types(exe: &Path, core: &Path, g: u64, frame: usize, exprs: &[&str]) -> Vec<Option<String>> {
    let mut cmd = Command::new(tests::bins::goanalyze());
    cmd.arg(core).arg("--exe").arg(exe).args(["-g", &g.to_string(), "-f", &frame.to_string(), "--format", "json"]);
    for e in exprs {
        cmd.arg("--print").arg(e);
    }
    let out = cmd.output().expect("running goanalyze");
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    doc["prints"].as_array().expect("prints").iter().map(|p| p["type"].as_str().map(str::to_string)).collect()
}

#[test]
fn delve_dump_agrees_with_delve() {
    let Some(dlv) = needs() else { return };
    let fx = Build::new("exprs").gcflags("all=-N -l").build().expect("build");
    let live = tests::producers::LiveProcess::start(&fx.exe, &["wait"]).expect("start");
    let made = tests::producers::dlv_dump(&dlv, live.pid).expect("dlv dump");
    drop(live);
    let exprs = expressions();
    let d = delve(&dlv, &fx.exe, &made.core, &exprs);
    let o = ours(&fx.exe, &made.core, &exprs, 1, our_frame(&fx.exe, &made.core, 1, "main.main"));
    let t = compare("Delve's dump, -N -l", &exprs, &d, &o, false);
    assert!(t.bad.is_empty(), "disagreements with Delve:\n{}", t.bad.join("\n"));
    assert!(t.issue_agree() * 100 >= t.total * 95, "only {} of {} agree", t.issue_agree(), t.total);
}

/// Optimised: many locals have no home at the parked pc. Unavailable is
/// fine; a value that differs from Delve's is not.
#[test]
fn kernel_core_optimised_build_never_wrong() {
    let Some(dlv) = needs() else { return };
    let fx = Build::new("exprs").build().expect("build");
    let made = trap_core(&fx.exe);
    let exprs = expressions();
    let d = delve(&dlv, &fx.exe, &made.core, &exprs);
    let o = ours(&fx.exe, &made.core, &exprs, 1, our_frame(&fx.exe, &made.core, 1, "main.main"));
    let t = compare("kernel core (SIGTRAP), optimised", &exprs, &d, &o, true);
    assert!(t.bad.is_empty(), "disagreements with Delve:\n{}", t.bad.join("\n"));
}

/// Random token soup, mutants of the real expressions, deep nesting and
/// long inputs: each ends in a value or an error, and goanalyze never dies.
#[test]
fn garbage_expressions_end_in_a_value_or_an_error() {
    if tools::require("go", "building the exprs fixture").is_none() {
        return;
    }
    let fx = Build::new("exprs").gcflags("all=-N -l").build().expect("build");
    let made = trap_core(&fx.exe);
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
    // Mutants of the real expressions (a byte deleted, doubled or swapped,
    // a token spliced in, two expressions crossed): near-valid input that
    // reaches deep into the evaluator.
    let real = expressions();
    for _ in 0..1000 {
        let mut b = real[next(real.len())].clone().into_bytes();
        for _ in 0..1 + next(3) {
            let i = if b.is_empty() { 0 } else { next(b.len()) };
            match next(5) {
                0 if !b.is_empty() => {
                    b.remove(i);
                }
                1 if !b.is_empty() => {
                    let c = b[i];
                    b.insert(i, c);
                }
                2 if b.len() > 1 => {
                    let j = next(b.len());
                    b.swap(i, j);
                }
                3 => {
                    let t = if next(2) == 0 { glue[next(glue.len())] } else { atoms[next(atoms.len())] };
                    b.splice(i..i, t.bytes());
                }
                _ => {
                    let o = real[next(real.len())].as_bytes();
                    let k = next(o.len().max(1));
                    b.truncate(i);
                    b.extend_from_slice(&o[k.min(o.len())..]);
                }
            }
        }
        exprs.push(String::from_utf8_lossy(&b).into_owned());
    }
    // `--x` (not Go) would be a usage error: goanalyze takes it for a flag.
    exprs.retain(|e| !e.trim().is_empty() && !e.strip_prefix("--").is_some_and(|r| r.starts_with(|c: char| c.is_ascii_alphabetic())));
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
