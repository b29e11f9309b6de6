//! Every Go toolchain the fixture builder knows builds the zoo, and each
//! runtime's crash traceback parses: the base of the compatibility matrix
//! (docs/COMPATIBILITY.md).

use tests::fixture::{Build, OLDER_TOOLCHAINS};
use tests::producers;
use tests::require_tools;
use tests::traceback;

#[test]
fn every_toolchain_builds_and_crashes_the_zoo() {
    require_tools!("go" => "builds the fixtures");
    let mut table = Vec::new();
    let mut failures = Vec::new();
    let builds = OLDER_TOOLCHAINS
        .iter()
        .map(|v| Build::new("zoo").toolchain(v))
        .chain([Build::new("zoo")]);
    for b in builds {
        let outcome = b.build().and_then(|fx| {
            let made = producers::kernel_core(&fx.exe, &["crash"])?;
            let tb = traceback::parse(&made.stderr);
            // The runtime's own goroutines differ by version; the zoo's 14 plus main do not.
            let user = tb.unique().iter().filter(|g| g.frames.iter().any(|f| f.func.starts_with("main."))).count();
            Ok((fx.go_version, user, tb.goroutine(1).map(|g| g.status.clone())))
        });
        match outcome {
            Ok((v, n, main_status)) => {
                table.push(format!("{:<12} {v:<10} {n:>3} user goroutines", b.toolchain.as_deref().unwrap_or("local")));
                if n != 15 || main_status.as_deref() != Some("running") {
                    failures.push(format!("{v}: {n} user goroutines (want 15), goroutine 1 {main_status:?}"));
                }
            }
            Err(e) => failures.push(format!("{}: {e:#}", b.label())),
        }
    }
    eprintln!("toolchain matrix:\n{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
