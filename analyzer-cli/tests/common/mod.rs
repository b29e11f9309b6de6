//! What analyzer-cli's integration tests share beyond the `tests` crate
//! (which builds the fixtures, makes the cores, parses and compares the
//! runtime's traceback and decides what a missing tool means): running this
//! package's own `goanalyze`, and crashing a fixture in one call.

#![allow(dead_code)]

pub use tests::fixture::{Build, Fixture};
pub use tests::producers::MadeCore;

/// A core of `fx` run with `args` (and `env`): the kernel's, or
/// qemu-aarch64's for an arm64 build. Panics with the producer's error.
pub fn crash(fx: &Fixture, args: &[&str], env: &[(&str, &str)]) -> MadeCore {
    tests::producers::crash(fx, args, env).unwrap_or_else(|e| panic!("crashing {}: {e:#}", fx.build.label()))
}

/// `goanalyze args` (the binary cargo built for this package's tests):
/// (exit code, stdout, stderr).
pub fn goanalyze(args: &[&str]) -> (i32, String, String) {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_goanalyze")).args(args).output().expect("run goanalyze");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}
