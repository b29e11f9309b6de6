//! The ELF definitions of a Linux core, one set for the writers (`dump`
//! through this crate) and the reader (`core-reader`): object's `elf`
//! constants where it has them, re-exported so that both sides name the same
//! typed values, and the few it lacks (newer kernel regsets, Delve's notes)
//! defined here the same way.

pub use object::elf::{
    FileType, NoteType, ProgramFlags, ProgramType, ELF_NOTE_CORE, ELF_NOTE_GNU, ELF_NOTE_GO, ELF_NOTE_LINUX,
    EM_AARCH64, EM_X86_64, ET_CORE, ET_DYN, NT_386_IOPERM, NT_ARM_HW_BREAK, NT_ARM_HW_WATCH, NT_ARM_SVE,
    NT_ARM_SYSTEM_CALL, NT_ARM_TLS, NT_AUXV, NT_FILE, NT_FPREGSET, NT_GNU_BUILD_ID, NT_GO_BUILD_ID, NT_PRFPREG,
    NT_PRPSINFO, NT_PRSTATUS, NT_SIGINFO, NT_X86_XSTATE, PF_R, PF_W, PF_X, PN_XNUM, PT_LOAD, PT_NOTE,
};

/// x86 shadow-stack pointer (`NT_X86_SHSTK`, Linux 6.6).
pub const NT_X86_SHSTK: NoteType = NoteType(0x204);
/// Where each XSAVE component sits in `NT_X86_XSTATE` (Linux 6.11).
pub const NT_X86_XSAVE_LAYOUT: NoteType = NoteType(0x205);
/// arm64 pointer-authentication masks.
pub const NT_ARM_PAC_MASK: NoteType = NoteType(0x406);
/// arm64 tagged-address control (`PR_SET_TAGGED_ADDR_CTRL`).
pub const NT_ARM_TAGGED_ADDR_CTRL: NoteType = NoteType(0x409);
/// arm64 enabled pointer-authentication keys.
pub const NT_ARM_PAC_ENABLED_KEYS: NoteType = NoteType(0x40a);

/// Delve's (`dlv dump`) header note, "DLVE", named [`ELF_NOTE_DELVE_HEADER`]:
/// `GOOS/GOARCH`, the Go version, the pid and entry point, as text.
pub const NT_DELVE_HEADER: NoteType = NoteType(0x444C_5645);
/// Delve's per-thread note, "DLVT", with an empty name: the thread's
/// registers by Delve's names.
pub const NT_DELVE_THREAD: NoteType = NoteType(0x444C_5654);
/// The name of Delve's header note.
pub const ELF_NOTE_DELVE_HEADER: &[u8] = b"Delve Header";
/// systemd's ELF package metadata note (`.note.package`, JSON), named
/// [`ELF_NOTE_FDO`].
pub const NT_FDO_PACKAGING_METADATA: NoteType = NoteType(0xcafe_1a7e);
/// The name of the FreeDesktop.org notes.
pub const ELF_NOTE_FDO: &[u8] = b"FDO";
/// The name gdb gives its own notes (`NT_GDB_TDESC`): they are not the kernel's.
pub const ELF_NOTE_GDB: &[u8] = b"GDB";

/// Whether a note of this type belongs to the thread whose `NT_PRSTATUS`
/// precedes it: the FP registers, the x86 (0x2xx) and arm64 (0x4xx) regsets.
pub fn is_thread_regset(t: NoteType) -> bool {
    t == NT_FPREGSET || (0x200..0x300).contains(&t.0) || (0x400..0x500).contains(&t.0)
}

/// The name of note type `t` in a note named `owner`, for messages
/// (`NT_PRSTATUS`); the numbers overlap between owners (3 is `NT_PRPSINFO`
/// for "CORE" and `NT_GNU_BUILD_ID` for "GNU").
pub fn note_type_name(owner: &[u8], t: NoteType) -> Option<&'static str> {
    let known: &[(NoteType, &str)] = match owner {
        ELF_NOTE_GNU => &[(NT_GNU_BUILD_ID, "NT_GNU_BUILD_ID")],
        ELF_NOTE_GO => &[(NT_GO_BUILD_ID, "NT_GO_BUILD_ID")],
        ELF_NOTE_DELVE_HEADER => &[(NT_DELVE_HEADER, "NT_DELVE_HEADER")],
        b"" => &[(NT_DELVE_THREAD, "NT_DELVE_THREAD")],
        ELF_NOTE_CORE | ELF_NOTE_LINUX => &[
            (NT_PRSTATUS, "NT_PRSTATUS"),
            (NT_FPREGSET, "NT_FPREGSET"),
            (NT_PRPSINFO, "NT_PRPSINFO"),
            (NT_AUXV, "NT_AUXV"),
            (NT_SIGINFO, "NT_SIGINFO"),
            (NT_FILE, "NT_FILE"),
            (NT_386_IOPERM, "NT_386_IOPERM"),
            (NT_X86_XSTATE, "NT_X86_XSTATE"),
            (NT_X86_SHSTK, "NT_X86_SHSTK"),
            (NT_X86_XSAVE_LAYOUT, "NT_X86_XSAVE_LAYOUT"),
            (NT_ARM_TLS, "NT_ARM_TLS"),
            (NT_ARM_HW_BREAK, "NT_ARM_HW_BREAK"),
            (NT_ARM_HW_WATCH, "NT_ARM_HW_WATCH"),
            (NT_ARM_SYSTEM_CALL, "NT_ARM_SYSTEM_CALL"),
            (NT_ARM_SVE, "NT_ARM_SVE"),
            (NT_ARM_PAC_MASK, "NT_ARM_PAC_MASK"),
            (NT_ARM_TAGGED_ADDR_CTRL, "NT_ARM_TAGGED_ADDR_CTRL"),
            (NT_ARM_PAC_ENABLED_KEYS, "NT_ARM_PAC_ENABLED_KEYS"),
        ],
        _ => &[],
    };
    known.iter().find(|(k, _)| *k == t).map(|(_, n)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_depend_on_the_owner() {
        assert_eq!(note_type_name(ELF_NOTE_CORE, NoteType(3)), Some("NT_PRPSINFO"));
        assert_eq!(note_type_name(ELF_NOTE_GNU, NoteType(3)), Some("NT_GNU_BUILD_ID"));
        assert_eq!(note_type_name(ELF_NOTE_LINUX, NT_X86_XSTATE), Some("NT_X86_XSTATE"));
        assert_eq!(note_type_name(b"", NT_DELVE_THREAD), Some("NT_DELVE_THREAD"));
        assert_eq!(note_type_name(b"XYZ", NT_PRSTATUS), None);
        assert!(is_thread_regset(NT_FPREGSET) && is_thread_regset(NT_ARM_PAC_MASK));
        assert!(!is_thread_regset(NT_PRPSINFO) && !is_thread_regset(NT_SIGINFO));
    }
}
