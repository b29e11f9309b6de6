//! The workspace's binaries (`goanalyze`, `godump`) for end-to-end tests.
//! `cargo test --workspace` has built them already; the `cargo build` here is
//! then a no-op, and it makes `cargo test -p tests` work on its own too.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

use crate::workspace_root;

fn build(package: &str, bin: &str) -> Result<PathBuf> {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.current_dir(workspace_root())
        .args(["build", "--quiet", "-p", package, "--bin", bin]);
    let profile = if cfg!(debug_assertions) { "debug" } else { "release" };
    if profile == "release" {
        cmd.arg("--release");
    }
    let out = cmd.output().context("running cargo build")?;
    if !out.status.success() {
        bail!("cargo build --bin {bin} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    Ok(target.join(profile).join(bin))
}

/// The `goanalyze` binary, built once per test process.
pub fn goanalyze() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build("analyzer-cli", "goanalyze").expect("building goanalyze"))
        .clone()
}

/// The `godump` binary, built once per test process.
pub fn godump() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| build("dump", "godump").expect("building godump")).clone()
}

/// Run goanalyze with `args`; the output whatever the exit status.
pub fn run_goanalyze(args: &[&std::ffi::OsStr]) -> Output {
    Command::new(goanalyze())
        .args(args)
        .output()
        .expect("running goanalyze")
}
