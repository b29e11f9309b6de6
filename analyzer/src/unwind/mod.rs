//! Stack unwinding the way the runtime's `unwinder` (traceback.go) does it:
//! frame size from pcsp, the return address at fp-8 on amd64 or saved at
//! `sp[0]` / in LR on arm64, TOPFRAME and SPWRITE functions end the walk, and
//! frames called by an injected call (sigpanic, asyncPreempt) are "trap"
//! frames whose pc is not backed up into the call instruction.

pub mod args;
pub mod cfi;
pub mod native;
pub mod sigframe;

use crate::binary::{BinArch, Binary};
use crate::binary::inline::{self, LogicalFrame};
use crate::memory::Memory;
use crate::binary::pclntab::Func;

/// More physical frames than this means a loop or a corrupt stack.
pub const MAX_FRAMES: usize = 100_000;

/// Where to start unwinding.
#[derive(Debug, Clone, Copy, Default)]
pub struct Start {
    pub pc: u64,
    pub sp: u64,
    /// arm64 only: the link register, 0 when unknown.
    pub lr: u64,
    /// The pc is where the thread was interrupted (a signal or a live
    /// thread), not a return address: do not back it up.
    pub trap: bool,
    /// Started from syscallpc/syscallsp: SPWRITE does not stop the walk.
    pub syscall: bool,
}

#[derive(Debug, Clone)]
pub struct Frame {
    /// Runtime addresses, as the runtime prints them.
    pub pc: u64,
    pub sp: u64,
    pub fp: u64,
    /// The function, with link-time addresses.
    pub func: Func,
    /// Offset of pc from the function's entry.
    pub offset: u64,
    /// The pc used for symbolization (backed up into the call for return addresses).
    pub sym_pc: u64,
    /// Inlined callees first, the physical function last.
    pub logical: Vec<LogicalFrame>,
    /// Where the frame's arguments start (the runtime's argp); the words
    /// it would print are formatted on demand by [`Unwinder::frame_args`].
    pub argp: u64,
}

#[derive(Debug, Clone, Default)]
pub struct Stack {
    pub frames: Vec<Frame>,
    /// Why the walk ended early, if it did (not for a normal end at goexit).
    pub stopped: Option<String>,
    /// The pc outside Go code that ended the walk, if that is why.
    pub stopped_at_pc: Option<u64>,
    /// The walk was ended on purpose before the stack's end
    /// ([`Unwinder::unwind_until`]); `stopped` says nothing about the rest.
    pub truncated: bool,
}

pub struct Unwinder<'a> {
    pub bin: &'a Binary,
    pub mem: &'a dyn Memory,
    pub bias: u64,
}

fn injected(name: &str) -> bool {
    matches!(name, "runtime.sigpanic" | "runtime.asyncPreempt" | "runtime.debugCallV2")
}

impl<'a> Unwinder<'a> {
    pub fn find_func(&self, pc: u64) -> Option<Func> {
        self.bin.pcln.find_func(pc.wrapping_sub(self.bias))
    }

    pub fn func_name(&self, f: &Func) -> &str {
        self.bin.pcln.func_name(f)
    }

    /// The argument words the runtime would print for `fr`, e.g.
    /// "0x1, 0xc000010000?".
    pub fn frame_args(&self, fr: &Frame) -> String {
        let gofunc = self.bin.moduledata.as_ref().map(|m| m.gofunc);
        let link_sym = fr.sym_pc.wrapping_sub(self.bias);
        crate::unwind::args::format_args(self.bin, self.mem, &fr.func, fr.argp, link_sym, gofunc)
    }

    /// Walk a goroutine's stack from `start`.
    pub fn unwind(&self, start: Start) -> Stack {
        self.unwind_until(start, |_| false)
    }

    /// Walk from `start` and end the walk after the first frame `enough`
    /// accepts (listing goroutines needs only the top user frame).
    pub fn unwind_until(&self, start: Start, enough: impl Fn(&Frame) -> bool) -> Stack {
        let arch = self.bin.arch;
        let tab = &self.bin.pcln;
        let mut st = Stack::default();
        let (mut pc, mut sp, mut lr) = (start.pc, start.sp, start.lr);
        if pc == 0 {
            // As initAt: a zero pc means the return address is on the stack.
            let Ok(v) = self.mem.u64(sp) else {
                st.stopped = Some(format!("pc is 0 and sp {sp:#x} is unreadable"));
                return st;
            };
            pc = v;
            if arch.uses_lr() {
                lr = 0;
            } else {
                sp = sp.wrapping_add(8);
            }
        }
        let mut trap = start.trap;
        let mut innermost = true;
        for _ in 0..MAX_FRAMES {
            let Some(f) = self.find_func(pc) else {
                st.stopped = Some(format!("unknown pc {pc:#x}"));
                st.stopped_at_pc = Some(pc);
                return st;
            };
            let link_pc = pc.wrapping_sub(self.bias);
            let name: &str = tab.func_name(&f);
            if f.pcsp == 0 {
                // No frame information (the runtime stops here too).
                st.stopped = Some(format!("{name} has no pcsp table"));
                return st;
            }
            let Some(delta) = tab.sp_delta(&f, link_pc) else {
                st.stopped = Some(format!("no pcsp entry for pc {pc:#x} in {name}"));
                return st;
            };
            let mut fp = sp.wrapping_add(delta as i64 as u64);
            if !arch.uses_lr() {
                fp = fp.wrapping_add(8);
            }
            let mut spwrite = f.is_spwrite();
            if (innermost && start.syscall) || name == "runtime.cgocallback" {
                spwrite = false;
            }
            let mut next_lr = 0u64;
            let mut stop_reason = None;
            if f.is_topframe() {
                next_lr = 0;
            } else if spwrite {
                stop_reason = Some(format!("{name} writes SP; cannot unwind past it"));
            } else if arch.uses_lr() {
                next_lr = lr;
                if (innermost && sp < fp) || lr == 0 {
                    match self.mem.u64(sp) {
                        Ok(v) => next_lr = v,
                        Err(e) => stop_reason = Some(format!("return address: {e}")),
                    }
                }
            } else {
                match self.mem.u64(fp.wrapping_sub(8)) {
                    Ok(v) => next_lr = v,
                    Err(e) => stop_reason = Some(format!("return address: {e}")),
                }
            }
            let sym_pc = if !trap && link_pc > f.entry { pc.wrapping_sub(1) } else { pc };
            let link_sym = sym_pc.wrapping_sub(self.bias);
            let read = |a: u64, b: &mut [u8]| self.bin.read_static(a, b);
            let gofunc = self.bin.moduledata.as_ref().map(|m| m.gofunc);
            let logical = inline::expand(tab, &f, link_sym, gofunc, &read);
            let argp = fp.wrapping_add(if arch.uses_lr() { 8 } else { 0 });
            st.frames.push(Frame {
                pc,
                sp,
                fp,
                offset: link_pc.wrapping_sub(f.entry),
                func: f.clone(),
                sym_pc,
                logical,
                argp,
            });
            if let Some(r) = stop_reason {
                st.stopped = Some(r);
                return st;
            }
            if st.frames.last().is_some_and(&enough) {
                st.truncated = true;
                return st;
            }
            if next_lr == 0 {
                return st;
            }
            let Some(caller) = self.find_func(next_lr) else {
                st.stopped = Some(format!("unexpected return pc {next_lr:#x} for {name}"));
                st.stopped_at_pc = Some(next_lr);
                return st;
            };
            if fp < sp {
                st.stopped = Some(format!("frame pointer {fp:#x} below sp {sp:#x} in {name}"));
                return st;
            }
            if pc == next_lr && sp == fp {
                st.stopped = Some(format!("traceback stuck at pc {pc:#x} sp {sp:#x}"));
                return st;
            }
            trap = injected(name);
            pc = next_lr;
            sp = fp;
            lr = 0;
            innermost = false;
            if arch == BinArch::Arm64 && trap {
                // An injected call on arm64 leaves the interrupted function's LR
                // in the slot the injected frame pushed.
                let x = self.mem.u64(sp).unwrap_or(0);
                sp = sp.wrapping_add(16);
                if tab.sp_delta(&caller, pc.wrapping_sub(self.bias)) == Some(0) {
                    lr = x;
                }
            }
        }
        st.stopped = Some(format!("more than {MAX_FRAMES} frames"));
        st
    }
}
