//! The live Linux process as a [`Target`](crate::Target): ptrace to stop it
//! and read registers, `/proc` for everything else.

pub mod clone;
pub mod exe;
pub mod permission;
pub mod procfs;
pub mod process;
pub mod ptrace;

pub use process::LinuxProcess;
