//! Why ptrace refused: the hint godump prints is the one true for this
//! target and this godump (not "run as root" to root).

use std::os::unix::fs::MetadataExt;

use super::procfs::{self, proc_path};

/// `PF_KTHREAD` in `/proc/PID/stat`'s flags.
const PF_KTHREAD: u64 = 0x0020_0000;
/// `CAP_SYS_PTRACE`'s bit in the capability masks.
const CAP_SYS_PTRACE: u32 = 19;

/// Whether pid is a kernel thread (kthreadd and its children): no user
/// memory, nothing to dump.
pub fn is_kernel_thread(pid: i32) -> bool {
    procfs::stat(pid, proc_path(pid, "stat")).is_ok_and(|s| s.flags & PF_KTHREAD != 0)
}

fn has_cap_sys_ptrace() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    procfs::status_field(&status, "CapEff")
        .and_then(|v| u64::from_str_radix(v, 16).ok())
        .is_some_and(|caps| caps & (1 << CAP_SYS_PTRACE) != 0)
}

fn yama_scope() -> Option<u32> {
    std::fs::read_to_string("/proc/sys/kernel/yama/ptrace_scope").ok()?.trim().parse().ok()
}

/// The real uid of pid (`Uid:` in its status), and the owner of its
/// `/proc/PID` directory: the kernel makes that root when the process is
/// not dumpable (`prctl(PR_SET_DUMPABLE, 0)`, or it changed credentials,
/// as a setuid program does).
fn owners(pid: i32) -> Option<(u32, u32)> {
    let status = std::fs::read_to_string(proc_path(pid, "status")).ok()?;
    let uid = procfs::status_field(&status, "Uid")?.split_whitespace().next()?.parse().ok()?;
    let dir_owner = std::fs::metadata(proc_path(pid, "")).ok()?.uid();
    Some((uid, dir_owner))
}

/// What to do about EPERM from ptrace on pid, for this case.
pub fn hint(pid: i32) -> String {
    // Our effective uid, the second field of Uid: (no unsafe geteuid needed).
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let me: u32 = procfs::status_field(&status, "Uid")
        .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(u32::MAX);
    let cap = has_cap_sys_ptrace();
    let scope = yama_scope();
    if is_kernel_thread(pid) {
        return format!("pid {pid} is a kernel thread: it has no user memory to dump");
    }
    if scope == Some(3) {
        return "Yama's ptrace_scope is 3 (/proc/sys/kernel/yama/ptrace_scope): no process may attach, not even root, until reboot".into();
    }
    if me == 0 && !cap {
        return "godump runs as root but without CAP_SYS_PTRACE (a container drops it: docker run --cap-add=SYS_PTRACE, \
                or securityContext.capabilities.add: [SYS_PTRACE] in Kubernetes)"
            .into();
    }
    if scope == Some(2) && !cap {
        return "Yama's ptrace_scope is 2 (/proc/sys/kernel/yama/ptrace_scope): only a process with CAP_SYS_PTRACE may attach; \
                run godump as root or give it the capability (setcap cap_sys_ptrace+ep godump)"
            .into();
    }
    let (uid, dir_owner) = owners(pid).unwrap_or((me, me));
    if uid != me && !cap {
        return format!(
            "pid {pid} belongs to uid {uid} and godump runs as uid {me}: run it as that user, as root, \
             or with CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep godump)"
        );
    }
    // The kernel shows a non-dumpable process's /proc/PID as root's; in a
    // user namespace without root mapped that is the overflow uid, so a
    // same-user target that is refused without Yama is taken as the same case.
    if (dir_owner != uid || (uid == me && scope.is_none())) && !cap {
        return format!(
            "pid {pid} is not dumpable (prctl PR_SET_DUMPABLE 0, or it changed credentials as a setuid program does; \
             else a security module forbids ptrace): only a process with CAP_SYS_PTRACE (root) may attach"
        );
    }
    if scope == Some(1) && !cap {
        return "Yama's ptrace_scope is 1 (/proc/sys/kernel/yama/ptrace_scope): only an ancestor may attach; \
                run godump as root, give it CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep godump), or write 0 there"
            .into();
    }
    if cap {
        return "godump has CAP_SYS_PTRACE; a security module (SELinux, AppArmor, a seccomp filter) may forbid ptrace".into();
    }
    "run godump as the target's user or as root, or give it CAP_SYS_PTRACE (setcap cap_sys_ptrace+ep godump)".into()
}
