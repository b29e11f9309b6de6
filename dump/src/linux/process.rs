//! [`LinuxProcess`]: a live process, stopped, as a dump [`Target`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Mutex;
use std::time::Duration;

use elfwriter::{Machine, Note, NT_AUXV, NT_PRSTATUS, NT_SIGINFO};
use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

use super::procfs::{self, proc_path, task_path};
use super::ptrace::{getregset, Stopped};
use crate::maps;
use crate::notes::{self, PrPsInfo, PrStatus, Times, NT_PRFPREG, NT_X86_XSTATE};
use crate::target::{MemoryMapEntry, Target};
use crate::{Error, Result};

/// How a live process is opened.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Use this coredump filter instead of `/proc/PID/coredump_filter`.
    pub filter: Option<u32>,
}

/// A live process with every thread stopped. Dropping it (or
/// [`detach`](Self::detach)) lets it run on. Make, use and drop it on one
/// thread; only memory reads may come from others.
pub struct LinuxProcess {
    pid: i32,
    machine: Machine,
    page: u64,
    stopped: Mutex<Stopped>,
    mem: File,
    /// `/proc/PID/pagemap`, when readable: which pages exist at all.
    pagemap: Option<File>,
    /// A thread whose `/proc` files show the address space: the pid, or a
    /// live thread when the main thread has exited.
    mm_tid: i32,
    /// `/proc/PID/stat` before we stopped it: the state a core should show.
    before: procfs::Stat,
    filter: Option<u32>,
    maps: Mutex<Option<Vec<MemoryMapEntry>>>,
    attacher: std::thread::ThreadId,
    /// Set when the process was found dead while still stopped by us.
    died: Mutex<Option<String>>,
}

/// Most remote ranges one `process_vm_readv` takes (UIO_MAXIOV).
const IOV_MAX: usize = 1024;

impl LinuxProcess {
    /// Check the pid, then stop every thread of it.
    pub fn attach(pid: i32, opts: &AttachOptions) -> Result<LinuxProcess> {
        if pid <= 0 {
            return Err(Error::NoSuchProcess { pid });
        }
        let me = std::process::id() as i32;
        if pid == me || procfs::task_path(me, pid, "").exists() {
            return Err(Error::SelfDump { pid });
        }
        let mut before = procfs::stat(pid, proc_path(pid, "stat"))?;
        if super::permission::is_kernel_thread(pid) {
            return Err(Error::KernelThread { pid });
        }
        // A main thread that called pthread_exit shows as a zombie while the
        // other threads run on: that process is alive and dumpable, through
        // a live thread (the zombie has no memory of its own any more).
        let leader_gone = matches!(before.state, b'Z' | b'X' | b'x');
        let mut mm_tid = pid;
        if leader_gone {
            let others: Vec<i32> = procfs::tasks(pid)?.into_iter().filter(|&t| t != pid).collect();
            let Some(&other) = others.first() else { return Err(Error::Zombie { pid }) };
            before.state = procfs::stat(pid, task_path(pid, other, "stat"))?.state;
            mm_tid = other;
        }
        let status = procfs::status(pid, proc_path(pid, "status"))?;
        if let Some(tracer) = procfs::status_field(&status, "TracerPid").and_then(|t| t.parse::<i32>().ok()) {
            if tracer != 0 {
                return Err(Error::AlreadyTraced { pid, tracer });
            }
        }
        // A 32-bit process has 32-bit register sets; we only write 64-bit cores.
        if let Ok(mut f) = File::open(proc_path(pid, "exe")) {
            let mut id = [0u8; 5];
            if std::io::Read::read_exact(&mut f, &mut id).is_ok() && &id[..4] == b"\x7fELF" && id[4] != 2 {
                return Err(Error::UnsupportedArch);
            }
        }
        let machine = Machine::host().ok_or(Error::UnsupportedArch)?;
        let stopped = Stopped::stop_all(pid, leader_gone)?;
        let mem_path = task_path(pid, mm_tid, "mem");
        let mem = File::open(&mem_path).map_err(Error::io(mem_path))?;
        let pagemap = File::open(task_path(pid, mm_tid, "pagemap")).ok();
        let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
            .ok()
            .flatten()
            .unwrap_or(4096) as u64;
        Ok(LinuxProcess {
            pid,
            machine,
            page,
            stopped: Mutex::new(stopped),
            mem,
            pagemap,
            mm_tid,
            before,
            filter: opts.filter,
            maps: Mutex::new(None),
            attacher: std::thread::current().id(),
            died: Mutex::new(None),
        })
    }

    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Let the process run again; returns how long it was stopped. Idempotent.
    pub fn detach(&self) -> Duration {
        let mut s = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        s.detach()
    }

    pub fn is_detached(&self) -> bool {
        self.stopped.lock().map(|s| s.is_detached()).unwrap_or(true)
    }

    fn load_maps(&self) -> Result<Vec<MemoryMapEntry>> {
        let path = task_path(self.pid, self.mm_tid, "smaps");
        let text = String::from_utf8_lossy(&procfs::read(self.pid, path.clone())?).into_owned();
        let smaps = maps::parse_smaps(&text, &path)?;
        let filt = match self.filter {
            Some(f) => f,
            None => {
                let p = proc_path(self.pid, "coredump_filter");
                let t = String::from_utf8_lossy(&procfs::read(self.pid, p.clone())?).into_owned();
                // Empty when the main thread has exited (it reads the filter
                // through the leader's mm): then the kernel's default.
                if t.trim().is_empty() && self.mm_tid != self.pid {
                    maps::filter::DEFAULT
                } else {
                    maps::parse_filter(&t).ok_or(Error::Parse { path: p, what: "coredump filter", text: t })?
                }
            }
        };
        Ok(maps::memory_map(&smaps, filt, &mut |addr| {
            let mut m = [0u8; 4];
            self.read_memory(addr, &mut m) == 4 && &m == b"\x7fELF"
        }))
    }

    /// Whether the process has exited: the thread we read its memory
    /// through is gone or a zombie. (While we hold it stopped, nothing but
    /// SIGKILL ends it.)
    fn dead_now(&self) -> Option<String> {
        let alive = procfs::stat(self.pid, task_path(self.pid, self.mm_tid, "stat"))
            .is_ok_and(|s| !matches!(s.state, b'Z' | b'X' | b'x'));
        (!alive).then(|| {
            format!(
                "pid {} exited while it was being dumped (killed?): its memory is gone, so no core was written",
                self.pid
            )
        })
    }

    fn psinfo(&self) -> Result<PrPsInfo> {
        let pid = self.pid;
        let status = procfs::status(pid, proc_path(pid, "status"))?;
        let first = |k: &str| -> u32 {
            procfs::status_field(&status, k)
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
                .unwrap_or(0)
        };
        let comm = procfs::read(pid, proc_path(pid, "comm"))?;
        let mut args = procfs::read(pid, task_path(pid, self.mm_tid, "cmdline"))?;
        while args.last() == Some(&0) {
            args.pop();
        }
        for b in &mut args {
            if *b == 0 {
                *b = b' ';
            }
        }
        let b = &self.before;
        Ok(PrPsInfo {
            sname: b.state,
            nice: b.nice as i8,
            flag: b.flags,
            uid: first("Uid"),
            gid: first("Gid"),
            pid,
            ppid: b.ppid,
            pgrp: b.pgrp,
            sid: b.session,
            fname: comm.strip_suffix(b"\n").unwrap_or(&comm).to_vec(),
            psargs: args,
        })
    }
}

fn hex_field(status: &str, key: &str) -> u64 {
    procfs::status_field(status, key).and_then(|v| u64::from_str_radix(v, 16).ok()).unwrap_or(0)
}

impl Target for LinuxProcess {
    fn machine(&self) -> Machine {
        self.machine
    }

    fn page_size(&self) -> u64 {
        self.page
    }

    fn memory_map(&self) -> Result<Vec<MemoryMapEntry>> {
        let mut cache = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        if cache.is_none() {
            *cache = Some(self.load_maps()?);
        }
        Ok(cache.clone().unwrap_or_default())
    }

    fn threads(&self) -> Vec<u64> {
        let s = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
        s.tracees.iter().map(|t| t.tid as u64).collect()
    }

    fn dump_process_notes(&self, out: &mut Vec<Note>, thread_done: &mut dyn FnMut()) -> Result<bool> {
        debug_assert_eq!(self.attacher, std::thread::current().id(), "ptrace from another thread");
        let pid = self.pid;
        let tracees = self.stopped.lock().unwrap_or_else(|e| e.into_inner()).tracees.clone();
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100) as u64;
        let maps = self.memory_map()?;
        let mut first_xstate: Option<Vec<u8>> = None;
        let mut first = true;
        for t in &tracees {
            let regs = match getregset(t.tid, NT_PRSTATUS, 512) {
                Ok(r) => r,
                // SIGKILLed while stopped: it is gone, and so is its state.
                Err(Errno::ESRCH) if t.tid != pid => {
                    thread_done();
                    continue;
                }
                Err(source) => return Err(Error::Ptrace { pid, tid: t.tid, what: "PTRACE_GETREGSET(NT_PRSTATUS)", source }),
            };
            let tstat = procfs::stat(pid, task_path(pid, t.tid, "stat")).unwrap_or_default();
            let tstatus = procfs::status(pid, task_path(pid, t.tid, "status")).unwrap_or_default();
            let mut extras = Vec::new();
            for &nt in notes::extra_regsets(self.machine) {
                let cap = if nt == NT_X86_XSTATE { notes::xsave_size() } else { 1024 };
                // Sets the thread does not use (IOPERM, shadow stack, SVE...)
                // fail with ENODEV/ENXIO/EINVAL; the kernel leaves them out too.
                if let Ok(b) = getregset(t.tid, nt, cap) {
                    if !b.is_empty() {
                        extras.push((nt, b));
                    }
                }
            }
            // A signal the thread was about to take when we stopped it (Go's
            // SIGURG preemption, usually) is not why a core exists: it goes
            // in the pending mask, and pr_cursig stays 0 so no reader takes a
            // live snapshot for a crash.
            let about_to_take = t.pending.map(|s| 1u64 << ((s as i32 - 1) & 63)).unwrap_or(0);
            let st = PrStatus {
                cursig: 0,
                sigpend: hex_field(&tstatus, "SigPnd") | hex_field(&tstatus, "ShdPnd") | about_to_take,
                sighold: hex_field(&tstatus, "SigBlk"),
                pid: t.tid,
                ppid: self.before.ppid,
                pgrp: self.before.pgrp,
                sid: self.before.session,
                times: Times { utime: tstat.utime, stime: tstat.stime, cutime: tstat.cutime, cstime: tstat.cstime },
                ticks_per_sec: hz,
                fpvalid: extras.iter().any(|(nt, _)| *nt == NT_PRFPREG),
            };
            out.push(notes::prstatus(&st, &regs));
            if first {
                first = false;
                out.push(notes::prpsinfo(&self.psinfo()?));
                // No signal killed a live process: an empty siginfo (si_signo 0),
                // as for pr_cursig.
                out.push(Note::new("CORE", NT_SIGINFO, vec![0; 128]));
                out.push(Note::new("CORE", NT_AUXV, procfs::read(pid, task_path(pid, self.mm_tid, "auxv"))?));
                out.push(notes::nt_file(&maps, self.page));
            }
            for (nt, b) in extras {
                if nt == NT_X86_XSTATE && first_xstate.is_none() {
                    first_xstate = Some(b.clone());
                }
                out.push(notes::regset_note(nt, b));
            }
            thread_done();
        }
        if let Some(layout) = first_xstate.as_deref().and_then(notes::xsave_layout) {
            out.push(layout);
        }
        Ok(true)
    }

    /// The slow path: `/proc/PID/mem`, which (like the kernel's dump) also
    /// reads pages the process itself may not (`PROT_NONE`, exec-only).
    fn read_memory(&self, addr: u64, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            let Some(off) = addr.checked_add(done as u64).filter(|a| *a <= i64::MAX as u64) else { break };
            match self.mem.read_at(&mut buf[done..], off) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        done
    }

    /// The fast path: `process_vm_readv`, up to IOV_MAX ranges a call, all
    /// into one contiguous buffer.
    fn read_memory_batch(&self, ranges: &[(u64, usize)], buf: &mut [u8]) -> usize {
        let mut done = 0;
        for batch in ranges.chunks(IOV_MAX) {
            let total: usize = batch.iter().map(|r| r.1).sum();
            let remote: Vec<RemoteIoVec> = batch.iter().map(|&(a, l)| RemoteIoVec { base: a as usize, len: l }).collect();
            let mut local = [std::io::IoSliceMut::new(&mut buf[done..done + total])];
            match process_vm_readv(Pid::from_raw(self.mm_tid), &mut local, &remote) {
                Ok(n) => {
                    done += n;
                    if n < total {
                        return done;
                    }
                }
                Err(_) => return done,
            }
        }
        done
    }

    /// From `/proc/PID/pagemap`: 8 bytes a page, bit 63 present, bit 62
    /// swapped. (Unprivileged readers get the PFNs zeroed, not these bits.)
    fn resident_pages(&self, start: u64, len: u64) -> Option<Vec<bool>> {
        let pm = self.pagemap.as_ref()?;
        let pages = len.div_ceil(self.page) as usize;
        let mut raw = vec![0u8; pages * 8];
        let mut done = 0;
        while done < raw.len() {
            match pm.read_at(&mut raw[done..], (start / self.page) * 8 + done as u64) {
                Ok(0) => return None,
                Ok(n) => done += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => return None,
            }
        }
        Some(
            raw.chunks_exact(8)
                .map(|e| u64::from_le_bytes(e.try_into().unwrap_or_default()) & (3 << 62) != 0)
                .collect(),
        )
    }

    fn memory_read_done(&self) {
        // Resume it now rather than after the last write; only the thread
        // that attached may do so. First see whether it survived the
        // reading: once resumed, an exit is its own business.
        if std::thread::current().id() == self.attacher {
            if !self.is_detached() {
                if let Some(why) = self.dead_now() {
                    *self.died.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
                }
            }
            self.detach();
        }
    }

    fn gone(&self) -> Option<String> {
        if let Some(why) = self.died.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Some(why);
        }
        // Still stopped by us (the dump failed before all was read): look now.
        if !self.is_detached() {
            return self.dead_now();
        }
        None
    }
}

impl Drop for LinuxProcess {
    fn drop(&mut self) {
        self.detach();
    }
}
