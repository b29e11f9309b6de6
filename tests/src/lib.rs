//! Test support: building the Go fixtures ([`fixture`]), producing cores with
//! producers this project did not write ([`producers`]: the kernel, gdb's
//! gcore, Delve's dump, qemu-aarch64), parsing the Go runtime's own traceback
//! text, the oracle every stack test compares against ([`traceback`]), and
//! finding the external tools a test needs ([`tools`]).

pub mod bins;
pub mod compare;
pub mod elfcore;
pub mod fixture;
pub mod producers;
pub mod tools;
pub mod traceback;

use std::path::PathBuf;

/// The workspace root (the directory holding the top-level Cargo.toml).
pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Where built fixtures and other test artifacts are cached between runs.
pub fn cache_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("fixture-cache")
}
