//! Comparing goanalyze's `--stacks` with the Go runtime's own traceback,
//! goroutine by goroutine. Each difference is reported as one line naming the
//! goroutine and the field, so a failing test says exactly what differs.

use crate::traceback::{Frame, Goroutine, Traceback};

/// What to hold ours to. By default everything the runtime printed must be
/// ours too: the header (status, wait minutes, `locked to thread` and the
/// other qualifiers), each frame's function, file, line, inlining and `+0x`
/// offset, where frames were elided, and the `created by` line with its
/// offset. The offset is the frame's pc minus its function's entry (the
/// return address for a caller frame), so it is a fact of the core, not of
/// the printer: a wrong offset means a wrong pc (or entry), even when the
/// line happens to match.
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
    /// The oracle was printed after a live dump of a process whose
    /// goroutines compute (SIGQUIT after gcore of a busy program): one
    /// running in the core or in the oracle has run on in between, so
    /// `running` and `runnable` are the same status for it, and only its
    /// functions outside the runtime are compared (its lines, offsets and
    /// the runtime frames of a preemption or a morestack change). Kernel
    /// cores need none of this: the runtime prints, then the kernel dumps
    /// the very same stopped threads.
    pub running_moved: bool,
}

impl Default for Rules {
    fn default() -> Self {
        Rules { crashing_goroutine: None, wait_minutes: true, moved_on: &[], running_moved: false }
    }
}

fn frame_key(f: &Frame) -> (&str, &str, u32, bool, Option<u64>) {
    (&f.func, &f.file, f.line, f.inlined(), f.pc_offset)
}

fn show(f: &Frame) -> String {
    let off = f.pc_offset.map(|o| format!(" +{o:#x}")).unwrap_or_default();
    format!("{}({}) {}:{}{off}", f.func, if f.inlined() { "..." } else { "" }, f.file, f.line)
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
    let running = want.status == "running" || got.status == "running";
    let live = |s: &str| s == "running" || s == "runnable";
    let moved = rules.running_moved && running && live(&want.status) && live(&got.status);
    if !moved {
        diff("status", want.status.clone(), got.status.clone());
    }
    diff("locked to thread", want.locked_to_thread.to_string(), got.locked_to_thread.to_string());
    diff("qualifiers", format!("{:?}", want.extra), format!("{:?}", got.extra));
    diff("scan", want.scan.to_string(), got.scan.to_string());
    if rules.wait_minutes {
        diff("wait minutes", format!("{:?}", want.wait_minutes), format!("{:?}", got.wait_minutes));
    }
    let cb = |g: &Goroutine| {
        g.created_by
            .as_ref()
            .map(|c| format!("{} in goroutine {:?} at {}:{} +{:?}", c.func, c.goid, c.file, c.line, c.pc_offset))
    };
    diff("created by", format!("{:?}", cb(want)), format!("{:?}", cb(got)));

    // The runtime could not walk it (running on another M that never
    // printed it): no oracle for the frames.
    if want.stack_unavailable && want.frames.is_empty() {
        return;
    }
    if moved {
        let names = |g: &Goroutine| -> Vec<String> {
            g.frames.iter().filter(|f| !f.func.starts_with("runtime.")).map(|f| f.func.clone()).collect()
        };
        diff("functions (running, moved on)", names(want).join(" < "), names(got).join(" < "));
        return;
    }

    let mut got_frames: &[Frame] = &got.frames;
    let mut skipped = 0;
    if rules.crashing_goroutine == Some(id) {
        if let Some(first) = want.frames.first() {
            if let Some(pos) = got.frames.iter().position(|f| frame_key(f) == frame_key(first)) {
                got_frames = &got.frames[pos..];
                skipped = pos;
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
    let el = |e: Option<(u64, usize)>, skip: usize| e.map(|(n, at)| format!("{n} after frame {}", at.saturating_sub(skip)));
    diff("frames elided", format!("{:?}", el(want.elided, 0)), format!("{:?}", el(got.elided, skipped)));
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

    #[test]
    fn offsets_count() {
        let rt = parse(RUNTIME);
        let ours = parse(&RUNTIME.replace("/m.go:25 +0x2", "/m.go:25 +0x3"));
        let d = stacks(&rt, &ours, &Rules::default());
        assert!(d.len() == 1 && d[0].contains("frame 2") && d[0].contains("+0x3"), "{d:?}");
        let ours = parse(&RUNTIME.replace("/m.go:8 +0x3", "/m.go:8 +0x4"));
        assert!(stacks(&rt, &ours, &Rules::default())[0].contains("created by"));
    }

    #[test]
    fn running_goroutines_that_moved_on() {
        let rt = parse(RUNTIME);
        let ours = parse(&RUNTIME.replace(
            "[running]:\nmain.main()\n\t/m.go:9 +0x1",
            "[runnable]:\nruntime.asyncPreempt2()\n\t/p.go:5 +0x9\nmain.main()\n\t/m.go:10 +0x7",
        ));
        assert_eq!(stacks(&rt, &ours, &Rules::default()).len(), 2);
        assert!(stacks(&rt, &ours, &Rules { running_moved: true, ..Rules::default() }).is_empty());
        // A parked goroutine is held to its frames all the same.
        let ours = parse(&RUNTIME.replace("/m.go:20", "/m.go:21"));
        assert_eq!(stacks(&rt, &ours, &Rules { running_moved: true, ..Rules::default() }).len(), 1);
    }

    #[test]
    fn no_oracle_for_a_stack_the_runtime_could_not_walk() {
        let text = "goroutine 3 gp=0x1 m=nil [running]:\n\tgoroutine running on other thread; stack unavailable\n";
        let ours = "goroutine 3 gp=0x1 m=nil [running]:\nmain.spin()\n\t/m.go:3 +0x4\n";
        assert!(stacks(&parse(text), &parse(ours), &Rules::default()).is_empty());
    }
}
