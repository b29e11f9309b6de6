//! Nothing panics or loops on bad input: a real core whose goroutine
//! structures and stacks are overwritten with pseudo-random words must give
//! exit status 0 or 1, promptly, never a panic.

mod common;

use std::time::{Duration, Instant};

use object::{Object, ObjectSegment};

use common::*;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }
}

#[test]
fn corrupted_goroutines_and_stacks_do_not_panic() {
    if !have("go") && missing("go") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = dir.path().join("zoo");
    build("zoo", Variant { pie: false, stripped: true, goarch: "amd64" }, None, &exe).unwrap();
    let (core, _) = crash_core(dir.path(), &exe, "crash", false).unwrap();
    let e = exe.to_str().unwrap();
    let (_, js, _) = goanalyze(&[core.to_str().unwrap(), "--exe", e, "--stacks", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    let hex = |s: &serde_json::Value| u64::from_str_radix(s.as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
    // Targets: every g (first 0x200 bytes) and every frame's stack words.
    let mut targets: Vec<(u64, u64)> = Vec::new();
    for g in v["goroutines"].as_array().unwrap() {
        targets.push((hex(&g["gp"]), 0x200));
        for f in g["frames"].as_array().unwrap() {
            let (sp, fp) = (hex(&f["sp"]), hex(&f["fp"]));
            if fp > sp {
                targets.push((sp, fp - sp));
            }
        }
    }
    // And the runtime's globals (allgs, allm, sched, waitReasonStrings...):
    // the executable's writable data as it is in the core.
    let exe_bytes = std::fs::read(&exe).unwrap();
    {
        use object::ObjectSection;
        let obj = object::File::parse(&exe_bytes[..]).unwrap();
        for s in obj.sections() {
            if matches!(s.name(), Ok(".data" | ".bss" | ".noptrbss" | ".noptrdata")) {
                targets.push((s.address(), s.size()));
                targets.push((s.address(), s.size()));
            }
        }
    }
    let original = std::fs::read(&core).unwrap();
    let segs: Vec<(u64, u64, u64)> = {
        let obj = object::File::parse(&original[..]).unwrap();
        obj.segments().map(|s| (s.address(), s.file_range().0, s.file_range().1)).collect()
    };
    let file_off = |a: u64| {
        segs.iter()
            .find(|(va, _, sz)| a >= *va && a + 8 <= va + sz)
            .map(|(va, fo, _)| (fo + a - va) as usize)
    };
    let bad = dir.path().join("bad.core");
    for seed in 1..=16u64 {
        let mut rng = Rng(seed.wrapping_mul(0x9E3779B97F4A7C15));
        let mut bytes = original.clone();
        for _ in 0..300 {
            let (start, len) = targets[(rng.next() % targets.len() as u64) as usize];
            let a = start + (rng.next() % len.max(8)) / 8 * 8;
            if let Some(o) = file_off(a) {
                let w = match rng.next() % 4 {
                    0 => 0,
                    1 => u64::MAX,
                    2 => rng.next(),
                    _ => a ^ (rng.next() & 0xfff), // plausible nearby pointer
                };
                bytes[o..o + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        std::fs::write(&bad, &bytes).unwrap();
        let t = Instant::now();
        for mode in ["--stacks", "--goroutines", "--threads"] {
            let (code, _, err) = goanalyze(&[bad.to_str().unwrap(), "--exe", e, mode]);
            assert!(code == 0 || code == 1, "seed {seed} {mode}: exit {code}: {err}");
            assert!(!err.contains("panicked"), "seed {seed} {mode}: {err}");
        }
        assert!(t.elapsed() < Duration::from_secs(60), "seed {seed}: too slow");
    }
}
