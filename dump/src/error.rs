//! The crate's error type. Every variant names the pid, path or address it
//! is about and, where there is one, what the user can do next.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("pid {pid}: no such process")]
    NoSuchProcess { pid: i32 },
    #[error("pid {pid} is godump itself; a process cannot stop and dump itself (run godump from another process)")]
    SelfDump { pid: i32 },
    #[error("pid {pid} is a zombie: it has exited and its memory is gone (its parent has not reaped it yet); nothing to dump")]
    Zombie { pid: i32 },
    #[error("pid {pid} is already being traced by pid {tracer} (a debugger?); detach it first")]
    AlreadyTraced { pid: i32, tracer: i32 },
    /// `hint` says what is true for this target and this godump: a kernel
    /// thread, Yama's ptrace_scope, a missing CAP_SYS_PTRACE, another user,
    /// a non-dumpable target.
    #[error("pid {pid}: permission denied attaching with ptrace ({detail}); {hint}")]
    PermissionDenied { pid: i32, detail: String, hint: String },
    #[error("pid {pid} is a kernel thread: it has no user memory, nothing to dump")]
    KernelThread { pid: i32 },
    #[error("pid {pid}, thread {tid}: {what}: {source}")]
    Ptrace {
        pid: i32,
        tid: i32,
        what: &'static str,
        #[source]
        source: nix::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot parse {what}: {text:?}")]
    Parse { path: PathBuf, what: &'static str, text: String },
    #[error("interrupted by signal {signal}; the target was detached and left running, the partial core removed")]
    Interrupted { signal: i32 },
    #[error("writing {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: elfwriter::Error,
    },
    #[error("the target's architecture is not one godump writes (amd64, arm64)")]
    UnsupportedArch,
    #[error("{0}")]
    Target(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { path, source }
    }
}
