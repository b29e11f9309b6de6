//! "N minutes" in goroutine headers. The fixtures never block for minutes
//! (and the runtime only sets `waitsince` during a GC), so this test edits a
//! copy of a real core: goroutine A gets `waitsince` = T, goroutine B
//! T - 3.5 minutes. "Now" is then at least T (the newest runtime timestamp),
//! and B's header must carry the runtime's `(now - waitsince) / 60e9` = 3.

mod common;

use object::{Object, ObjectSegment};

use analyzer::binary::Binary;
use common::*;

#[test]
fn minutes_from_waitsince() {
    if tests::tools::require("go", "builds the fixtures").is_none() {
        return;
    }
    let fx = Build::new("zoo").build().unwrap();
    let MadeCore { core, dir, .. } = crash(&fx, &["crash"], &[]);
    let exe = fx.exe;
    let c = core.to_str().unwrap();
    let e = exe.to_str().unwrap();

    let (_, js, _) = goanalyze(&[c, "--exe", e, "--goroutines", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&js).unwrap();
    let find = |reason: &str| {
        let g = v["goroutines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["wait_reason"] == reason)
            .unwrap_or_else(|| panic!("a goroutine in {reason}"));
        let gp = u64::from_str_radix(g["gp"].as_str().unwrap().trim_start_matches("0x"), 16).unwrap();
        (g["id"].as_u64().unwrap(), gp)
    };
    let (_, gp_a) = find("sleep");
    let (id, gp_b) = find("sync.Mutex.Lock");
    let t: i64 = 3_600_000_000_000_000; // an uptime of 1000 hours, beyond any real timestamp

    let off = Binary::open(&exe).unwrap().layout.get("g.waitsince").unwrap();
    let mut bytes = std::fs::read(&core).unwrap();
    let file_off = |bytes: &[u8], a: u64| -> usize {
        let obj = object::File::parse(bytes).unwrap();
        obj.segments()
            .find_map(|s| {
                let (fo, fsz) = s.file_range();
                (a >= s.address() && a + 8 <= s.address() + fsz).then(|| fo + (a - s.address()))
            })
            .expect("g in the core's PT_LOADs") as usize
    };
    for (gp, when) in [(gp_a, t), (gp_b, t - 210_000_000_000)] {
        let o = file_off(&bytes, gp + off);
        bytes[o..o + 8].copy_from_slice(&when.to_le_bytes());
    }
    let patched = dir.path().join("aged.core");
    std::fs::write(&patched, &bytes).unwrap();

    let (code, out, err) = goanalyze(&[patched.to_str().unwrap(), "--exe", e, "--stacks"]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().find(|l| l.starts_with(&format!("goroutine {id} "))).unwrap();
    assert!(header.ends_with("[sync.Mutex.Lock, 3 minutes]:"), "{header}");
    assert!(out.contains("[sleep]:"), "the newest waiter is blocked 0 minutes");
}
