//! Finding the external tools tests need. In CI (`CI=true`) a missing tool is
//! a test failure; locally the test is skipped with a loud message, so a
//! developer without qemu can still run the rest.

use std::path::PathBuf;
use std::process::Command;

/// True when running under CI, where nothing may be skipped.
pub fn in_ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

/// Look a program up on PATH (and in `$HOME/go/bin`, where `go install` puts dlv).
pub fn find(program: &str) -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    if let Ok(out) = Command::new("go").args(["env", "GOPATH"]).output() {
        let gopath = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !gopath.is_empty() {
            dirs.push(PathBuf::from(gopath).join("bin"));
        }
    }
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join("go/bin"));
    }
    dirs.into_iter()
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// The path of a tool the test cannot do without. `None` means: skip this test
/// (only outside CI; in CI this panics so the run fails).
pub fn require(program: &str, why: &str) -> Option<PathBuf> {
    match find(program) {
        Some(p) => Some(p),
        None => {
            unavailable(&format!("{program} is not installed ({why}); .ci/run's set-up step installs it"));
            None
        }
    }
}

/// Something a test needs other than a program on PATH (a Go toolchain
/// that could not be fetched, say) is unavailable: in CI this panics, so
/// the run fails; elsewhere it says so loudly and returns true, and the
/// test returns.
pub fn unavailable(what: &str) -> bool {
    if in_ci() {
        panic!("required in CI, not available: {what}");
    }
    eprintln!("\n!!! SKIPPED: {what} !!!\n");
    true
}

/// Skip (outside CI) or fail (in CI) unless every tool is present; returns
/// their paths in order.
#[macro_export]
macro_rules! require_tools {
    ($($tool:expr => $why:expr),+ $(,)?) => {{
        let mut found = Vec::new();
        $(
            match $crate::tools::require($tool, $why) {
                Some(p) => found.push(p),
                None => return,
            }
        )+
        found
    }};
}
