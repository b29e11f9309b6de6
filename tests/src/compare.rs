//! Comparing goanalyze's `--stacks` with the Go runtime's own traceback,
//! goroutine by goroutine. Each difference is reported as one line naming the
//! goroutine and the field, so a failing test says exactly what differs.

use crate::traceback::{Frame, Goroutine, Traceback};

/// What to hold ours to.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The goroutine that was running when the process crashed may show
    /// extra frames on top (the signal handler's, or frames the runtime
    /// skips when it prints its own panic): compare its innermost frames
    /// only from the first frame the runtime printed.
    pub crashing_goroutine: Option<u64>,
    /// Compare `N minutes` in the header.
    pub wait_minutes: bool,
    /// The oracle was printed after the core was made (SIGQUIT after a
    /// live dump): the goroutine that handled the signal, and goroutine 1
    /// when it was released to crash, have moved on; skip their frames.
    pub moved_on: &'static [u64],
}

impl Default for Rules {
    fn default() -> Self {
        Rules { crashing_goroutine: None, wait_minutes: true, moved_on: &[] }
    }
}

fn frame_key(f: &Frame) -> (String, String, u32, bool) {
    (f.func.clone(), f.file.clone(), f.line, f.inlined())
}

fn show(f: &Frame) -> String {
    format!("{}({}) {}:{}", f.func, if f.inlined() { "..." } else { "" }, f.file, f.line)
}

fn compare_goroutine(want: &Goroutine, got: &Goroutine, rules: &Rules, out: &mut Vec<String>) {
    let id = want.id;
    let mut diff = |what: &str, w: String, g: String| {
        if w != g {
            out.push(format!("goroutine {id}: {what}: runtime {w:?}, ours {g:?}"));
        }
    };
    if rules.moved_on.contains(&id) {
        return;
    }
    diff("status", want.status.clone(), got.status.clone());
    diff("locked to thread", want.locked_to_thread.to_string(), got.locked_to_thread.to_string());
    if rules.wait_minutes {
        diff("wait minutes", format!("{:?}", want.wait_minutes), format!("{:?}", got.wait_minutes));
    }
    let cb = |g: &Goroutine| g.created_by.as_ref().map(|c| format!("{} in goroutine {:?} at {}:{}", c.func, c.goid, c.file, c.line));
    diff("created by", format!("{:?}", cb(want)), format!("{:?}", cb(got)));

    let mut got_frames: &[Frame] = &got.frames;
    if rules.crashing_goroutine == Some(id) {
        if let Some(first) = want.frames.first() {
            if let Some(pos) = got.frames.iter().position(|f| frame_key(f) == frame_key(first)) {
                got_frames = &got.frames[pos..];
            }
        }
    }
    let n = want.frames.len().max(got_frames.len());
    for i in 0..n {
        match (want.frames.get(i), got_frames.get(i)) {
            (Some(w), Some(g)) if frame_key(w) == frame_key(g) => {}
            (w, g) => {
                out.push(format!(
                    "goroutine {id}: frame {i}: runtime {}, ours {}",
                    w.map(show).unwrap_or_else(|| "none".into()),
                    g.map(show).unwrap_or_else(|| "none".into())
                ));
                return; // one line per goroutine is enough to find it
            }
        }
    }
    let el = |g: &Goroutine| g.elided.map(|(n, _)| n);
    diff("frames elided", format!("{:?}", el(want)), format!("{:?}", el(got)));
}

/// Every difference between the runtime's traceback and ours; empty when
/// they agree on every goroutine.
pub fn stacks(runtime: &Traceback, ours: &Traceback, rules: &Rules) -> Vec<String> {
    let mut out = Vec::new();
    let want = runtime.unique();
    let got = ours.unique();
    for w in &want {
        match got.iter().find(|g| g.id == w.id) {
            Some(g) => compare_goroutine(w, g, rules, &mut out),
            None => out.push(format!("goroutine {}: missing from ours", w.id)),
        }
    }
    for g in &got {
        if !want.iter().any(|w| w.id == g.id) {
            out.push(format!("goroutine {}: ours only ({})", g.id, g.status));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::traceback::parse;

    const RUNTIME: &str = "goroutine 1 gp=0x1 m=0 mp=0x2 [running]:\n\
        main.main()\n\t/m.go:9 +0x1 fp=0x1 sp=0x1 pc=0x1\n\n\
        goroutine 5 gp=0x3 m=nil [chan receive, 3 minutes]:\n\
        runtime.gopark(0x0?)\n\t/p.go:1 +0x1 fp=0x1 sp=0x1 pc=0x1\n\
        main.wait(...)\n\t/m.go:20\n\
        main.worker()\n\t/m.go:25 +0x2 fp=0x1 sp=0x1 pc=0x1\n\
        created by main.main in goroutine 1\n\t/m.go:8 +0x3\n";

    #[test]
    fn identical_agrees_and_extra_top_frames_are_allowed_when_crashing() {
        let rt = parse(RUNTIME);
        assert!(stacks(&rt, &rt, &Rules::default()).is_empty());
        let ours = parse(&RUNTIME.replace(
            "[running]:\nmain.main()",
            "[running]:\nruntime.raise()\n\t/s.s:1 +0x1\nmain.main()",
        ));
        assert_eq!(stacks(&rt, &ours, &Rules::default()).len(), 1);
        let rules = Rules { crashing_goroutine: Some(1), ..Rules::default() };
        assert!(stacks(&rt, &ours, &rules).is_empty());
    }

    #[test]
    fn differences_are_named() {
        let rt = parse(RUNTIME);
        let ours = parse(&RUNTIME.replace("/m.go:20", "/m.go:21").replace(", 3 minutes", ""));
        let d = stacks(&rt, &ours, &Rules::default());
        assert!(d.iter().any(|l| l.contains("wait minutes")), "{d:?}");
        assert!(d.iter().any(|l| l.contains("frame 1") && l.contains("/m.go:21")), "{d:?}");
        let d = stacks(&rt, &parse(""), &Rules::default());
        assert_eq!(d, vec!["goroutine 1: missing from ours", "goroutine 5: missing from ours"]);
    }
}
