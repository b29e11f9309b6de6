//! A parser for the Go runtime's traceback text (what `GOTRACEBACK=crash`
//! prints on a crash or on SIGQUIT), so tests can compare goanalyze's output
//! with the runtime's goroutine by goroutine. It parses goanalyze's
//! `--stacks` output too: the two share one format.

/// Everything the runtime printed: the lines before the first goroutine (the
/// panic message, `[signal ...]`, `fatal error: ...`) and the goroutines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Traceback {
    pub preamble: Vec<String>,
    pub goroutines: Vec<Goroutine>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Goroutine {
    pub id: u64,
    /// ` gp=0x..` (level >= 2 or a throwing goroutine).
    pub gp: Option<u64>,
    /// ` m=N`; `Some(None)` for ` m=nil`; `None` when not printed.
    pub m: Option<Option<u64>>,
    pub mp: Option<u64>,
    /// The status or wait reason: `running`, `chan receive`, `syscall`...
    pub status: String,
    pub scan: bool,
    pub wait_minutes: Option<u64>,
    pub locked_to_thread: bool,
    /// Any other bracketed qualifiers (`(leaked)`, `(durable)`), verbatim.
    pub extra: Vec<String>,
    pub frames: Vec<Frame>,
    /// `...N frames elided...`: N and the index in `frames` where it stood.
    pub elided: Option<(u64, usize)>,
    pub created_by: Option<CreatedBy>,
    /// `goroutine running on other thread; stack unavailable`: the M that
    /// printed this block could not walk a goroutine another M was running
    /// (that M prints it in full later, if it takes the relayed SIGQUIT).
    pub stack_unavailable: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Frame {
    /// As printed: `main.main`, `panic`, `main.genericWait[...]`.
    pub func: String,
    /// Between the parentheses: `0x1, 0x2`, `...` for inlined frames.
    pub args: String,
    pub file: String,
    pub line: u32,
    /// `+0x..`: pc minus function entry (absent for inlined frames).
    pub pc_offset: Option<u64>,
    pub fp: Option<u64>,
    pub sp: Option<u64>,
    pub pc: Option<u64>,
}

impl Frame {
    pub fn inlined(&self) -> bool {
        self.args == "..."
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CreatedBy {
    pub func: String,
    pub goid: Option<u64>,
    pub file: String,
    pub line: u32,
    pub pc_offset: Option<u64>,
}

impl Traceback {
    pub fn goroutine(&self, id: u64) -> Option<&Goroutine> {
        self.goroutines.iter().find(|g| g.id == id)
    }

    /// Each real goroutine once, in first-seen order. A crash or SIGQUIT
    /// traceback prints some goroutines twice: the first M lists a goroutine
    /// another M runs as "stack unavailable", and that M prints it in full
    /// when it takes the relayed signal. The block with frames is kept.
    /// Every idle thread's g0 (`goroutine 0`) is no goroutine of the program.
    pub fn unique(&self) -> Vec<&Goroutine> {
        let mut at = std::collections::HashMap::new();
        let mut out: Vec<&Goroutine> = Vec::new();
        for g in self.goroutines.iter().filter(|g| g.id != 0) {
            match at.get(&g.id) {
                None => {
                    at.insert(g.id, out.len());
                    out.push(g);
                }
                Some(&i) if out[i].frames.is_empty() && !g.frames.is_empty() => out[i] = g,
                Some(_) => {}
            }
        }
        out
    }
}

fn hex(s: &str) -> Option<u64> {
    u64::from_str_radix(s.strip_prefix("0x")?, 16).ok()
}

/// Parse `goroutine 1 gp=0x.. m=4 mp=0x.. [running, 3 minutes, locked to thread]:`.
pub fn parse_header(line: &str) -> Option<Goroutine> {
    let rest = line.strip_prefix("goroutine ")?;
    let rest = rest.strip_suffix(":")?;
    let open = rest.find(" [")?;
    let (head, bracket) = rest.split_at(open);
    let inner = bracket.trim_start().strip_prefix('[')?.strip_suffix(']')?;
    let mut words = head.split_whitespace();
    let mut g = Goroutine { id: words.next()?.parse().ok()?, ..Default::default() };
    for w in words {
        if let Some(v) = w.strip_prefix("gp=") {
            g.gp = hex(v);
        } else if let Some(v) = w.strip_prefix("mp=") {
            g.mp = hex(v);
        } else if let Some(v) = w.strip_prefix("m=") {
            g.m = Some(if v == "nil" { None } else { Some(v.parse().ok()?) });
        } else {
            return None;
        }
    }
    let mut parts = inner.split(", ");
    let mut status = parts.next()?.to_string();
    // The runtime appends these qualifiers to the status; other parentheses
    // ("force gc (idle)") belong to the wait reason itself.
    for q in [" (durable)", " (scan)", " (leaked)"] {
        if let Some(stripped) = status.strip_suffix(q) {
            status = stripped.to_string();
            if q == " (scan)" {
                g.scan = true;
            } else {
                g.extra.insert(0, q.trim_start().to_string());
            }
        }
    }
    g.status = status;
    for p in parts {
        if p == "locked to thread" {
            g.locked_to_thread = true;
        } else if let Some(n) = p.strip_suffix(" minutes") {
            g.wait_minutes = n.parse().ok();
        } else {
            g.extra.push(p.to_string());
        }
    }
    Some(g)
}

/// Parse `\t/path/file.go:123 +0x1f fp=0x.. sp=0x.. pc=0x..` into
/// (file, line, offset, fp, sp, pc).
#[allow(clippy::type_complexity)]
fn parse_location(
    line: &str,
) -> Option<(String, u32, Option<u64>, Option<u64>, Option<u64>, Option<u64>)> {
    let body = line.strip_prefix('\t')?;
    let mut words = body.split(' ');
    let fileline = words.next()?;
    let colon = fileline.rfind(':')?;
    let file = fileline[..colon].to_string();
    let lineno: u32 = fileline[colon + 1..].parse().ok()?;
    let (mut off, mut fp, mut sp, mut pc) = (None, None, None, None);
    for w in words {
        if let Some(v) = w.strip_prefix('+') {
            off = hex(v);
        } else if let Some(v) = w.strip_prefix("fp=") {
            fp = hex(v);
        } else if let Some(v) = w.strip_prefix("sp=") {
            sp = hex(v);
        } else if let Some(v) = w.strip_prefix("pc=") {
            pc = hex(v);
        }
    }
    Some((file, lineno, off, fp, sp, pc))
}

/// Split `main.f(0x1, 0x2)` into name and args. Generic names contain `[...]`
/// and method names `(*T)`, so the args are the last parenthesised group.
fn parse_call(line: &str) -> Option<(String, String)> {
    let line = line.strip_suffix(')')?;
    let mut depth = 0usize;
    for (i, c) in line.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => return Some((line[..i].to_string(), line[i + 1..].to_string())),
            '(' => depth -= 1,
            _ => {}
        }
    }
    None
}

/// Parse a whole traceback. Lines that are neither goroutine headers, frames
/// nor `created by` (register dumps, `exit status 2`, ...) are ignored once
/// the first goroutine has started.
pub fn parse(text: &str) -> Traceback {
    let mut tb = Traceback::default();
    let mut lines = text.lines().peekable();
    let mut cur: Option<Goroutine> = None;
    while let Some(line) = lines.next() {
        if let Some(g) = parse_header(line) {
            if let Some(done) = cur.take() {
                tb.goroutines.push(done);
            }
            cur = Some(g);
            continue;
        }
        let Some(g) = cur.as_mut() else {
            if !line.is_empty() {
                tb.preamble.push(line.to_string());
            }
            continue;
        };
        if line.is_empty() {
            if let Some(done) = cur.take() {
                tb.goroutines.push(done);
            }
            continue;
        }
        if let Some(n) = line
            .strip_prefix("...")
            .and_then(|r| r.strip_suffix(" frames elided..."))
        {
            if let Ok(n) = n.parse() {
                g.elided = Some((n, g.frames.len()));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("created by ") {
            let (func, goid) = match rest.split_once(" in goroutine ") {
                Some((f, id)) => (f.to_string(), id.trim().parse().ok()),
                None => (rest.to_string(), None),
            };
            let mut cb = CreatedBy { func, goid, ..Default::default() };
            if let Some(loc) = lines.peek().and_then(|l| parse_location(l)) {
                lines.next();
                cb.file = loc.0;
                cb.line = loc.1;
                cb.pc_offset = loc.2;
            }
            g.created_by = Some(cb);
            continue;
        }
        if line.starts_with('\t') {
            if line.contains("stack unavailable") {
                g.stack_unavailable = true;
            }
            continue; // otherwise a location line with no function line: not ours to judge
        }
        if let Some((func, args)) = parse_call(line) {
            let mut f = Frame { func, args, ..Default::default() };
            if let Some(loc) = lines.peek().and_then(|l| parse_location(l)) {
                lines.next();
                (f.file, f.line, f.pc_offset, f.fp, f.sp, f.pc) = loc;
            }
            g.frames.push(f);
        }
    }
    if let Some(done) = cur.take() {
        tb.goroutines.push(done);
    }
    tb
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let g = parse_header("goroutine 7 gp=0xc000007 m=nil [chan receive, 12 minutes, locked to thread]:").unwrap();
        assert_eq!(g.id, 7);
        assert_eq!(g.gp, Some(0xc000007));
        assert_eq!(g.m, Some(None));
        assert_eq!(g.status, "chan receive");
        assert_eq!(g.wait_minutes, Some(12));
        assert!(g.locked_to_thread);

        let g = parse_header("goroutine 1 gp=0x1 m=4 mp=0x2 [running]:").unwrap();
        assert_eq!((g.m, g.mp, g.status.as_str()), (Some(Some(4)), Some(2), "running"));

        let g = parse_header("goroutine 9 [GC worker (idle) (scan)]:").unwrap();
        assert_eq!(g.status, "GC worker (idle)");
        assert!(g.scan);
        assert_eq!(g.gp, None);

        assert!(parse_header("goroutine running on other thread; stack unavailable").is_none());
    }

    #[test]
    fn frames_and_creators() {
        let text = "panic: boom\n\ngoroutine 5 [select]:\n\
            main.(*T).run[...](0x1, {0x2, 0x3})\n\
            \t/src/main.go:10 +0x1f fp=0x10 sp=0x8 pc=0x401000\n\
            main.helper(...)\n\
            \t/src/main.go:20\n\
            ...3 frames elided...\n\
            created by main.start in goroutine 1\n\
            \t/src/main.go:30 +0x25\n";
        let tb = parse(text);
        assert_eq!(tb.preamble, vec!["panic: boom"]);
        let g = &tb.goroutines[0];
        assert_eq!(g.frames[0].func, "main.(*T).run[...]");
        assert_eq!(g.frames[0].args, "0x1, {0x2, 0x3}");
        assert_eq!((g.frames[0].line, g.frames[0].pc_offset, g.frames[0].pc), (10, Some(0x1f), Some(0x401000)));
        assert!(g.frames[1].inlined());
        assert_eq!(g.frames[1].pc_offset, None);
        assert_eq!(g.elided, Some((3, 2)));
        let cb = g.created_by.as_ref().unwrap();
        assert_eq!((cb.func.as_str(), cb.goid, cb.line), ("main.start", Some(1), 30));
    }

    #[test]
    fn unique_keeps_the_block_with_frames() {
        let text = "goroutine 1 [running]:\nmain.main()\n\t/m.go:3 +0x1\n\n\
            goroutine 7 [running]:\n\tgoroutine running on other thread; stack unavailable\n\n\
            goroutine 0 gp=0x1 m=2 mp=0x2 [idle]:\nruntime.futex()\n\t/f.s:1 +0x1\n\n\
            goroutine 7 gp=0x3 m=3 mp=0x4 [running]:\nmain.spin()\n\t/m.go:9 +0x5\n";
        let tb = parse(text);
        assert!(tb.goroutines[1].stack_unavailable);
        let u = tb.unique();
        assert_eq!(u.iter().map(|g| g.id).collect::<Vec<_>>(), [1, 7]);
        assert_eq!(u[1].frames[0].func, "main.spin");
        assert!(!u[1].stack_unavailable);
    }
}
