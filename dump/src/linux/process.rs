//! [`LinuxProcess`]: a live process, stopped, as a dump [`Target`].

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use elfwriter::elf::{NT_AUXV, NT_PRFPREG, NT_PRSTATUS, NT_SIGINFO, NT_X86_XSTATE};
use elfwriter::payload::SigInfo;
use elfwriter::{Machine, Note};
use nix::errno::Errno;
use nix::sys::uio::{process_vm_readv, RemoteIoVec};
use nix::unistd::Pid;

use super::clone;
use super::procfs::{self, proc_path, task_path};
use super::ptrace::{getregset, Stopped};
use crate::maps;
use crate::notes::{self, PrPsInfo, PrStatus, Times};
use crate::target::{MemoryMapEntry, Target};
use crate::{Error, Result};

/// How a live process is opened.
#[derive(Debug, Clone, Default)]
pub struct AttachOptions {
    /// Use this coredump filter instead of `/proc/PID/coredump_filter`.
    pub filter: Option<u32>,
    pub mode: SnapshotMode,
}

/// Where the memory of a live dump is read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SnapshotMode {
    /// From a copy-on-write clone, the target resumed as soon as it is made,
    /// where that is possible and safe; else as `Stop` (saying why).
    #[default]
    Auto,
    /// From the target itself, stopped until all of it is read.
    Stop,
    /// From a clone, or fail: also when the memory headroom looks short.
    Clone,
}

/// What the memory map says about cloning.
#[derive(Debug, Clone, Default)]
struct MapFacts {
    /// `MADV_DONTFORK` (absent in a clone) and `MADV_WIPEONFORK` (zeros in
    /// a clone) mappings: read from the target itself.
    live_only: Vec<(u64, u64)>,
    /// Private anonymous memory in kB: at worst, all of it is copied if the
    /// target rewrites it while the dump runs.
    private_anon_kb: u64,
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
    mode: SnapshotMode,
    facts: Mutex<MapFacts>,
    /// The clone memory is read from, once made.
    snap: OnceLock<clone::Snapshot>,
    /// The clone has been killed and reaped (or that was tried).
    snap_ended: AtomicBool,
    /// One-line remarks on how the dump was made, for the user.
    remarks: Mutex<Vec<String>>,
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
            mode: opts.mode,
            facts: Mutex::new(MapFacts::default()),
            snap: OnceLock::new(),
            snap_ended: AtomicBool::new(false),
            remarks: Mutex::new(Vec::new()),
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
        {
            let mut f = self.facts.lock().unwrap_or_else(|e| e.into_inner());
            f.live_only = smaps
                .iter()
                .filter(|m| m.vmflags.iter().any(|v| v == "dc" || v == "wf"))
                .map(|m| (m.start, m.end))
                .collect();
            f.private_anon_kb = smaps.iter().filter(|m| !m.perms.shared).map(|m| m.anon_kb).sum();
        }
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

    fn remark(&self, r: String) {
        self.remarks.lock().unwrap_or_else(|e| e.into_inner()).push(r);
    }

    /// Why this target must not be cloned, if so.
    fn why_not_clone(&self) -> Option<String> {
        let pid = self.pid;
        if !cfg!(target_arch = "x86_64") {
            return Some("copy-on-write snapshots are implemented for amd64 only".into());
        }
        if matches!(self.before.state, b'T' | b't') {
            return Some(format!("pid {pid} is stopped already: nothing to gain from a clone"));
        }
        // A filter could refuse clone (fine: we would fall back) or kill the
        // process for trying (not fine); we cannot tell which without
        // running it, so we do not try.
        if let Ok(st) = procfs::status(pid, task_path(pid, self.mm_tid, "status")) {
            if let Some(m) = procfs::status_field(&st, "Seccomp").filter(|m| *m != "0") {
                return Some(format!(
                    "pid {pid} runs under seccomp (mode {m}), which could refuse an injected clone or kill the process for it"
                ));
            }
        }
        if self.mode == SnapshotMode::Clone {
            return None;
        }
        // While the dump runs, every page the target writes is copied and
        // charged to it (its cgroup). At worst that is all of its private
        // memory; make sure that fits.
        let need = self.facts.lock().unwrap_or_else(|e| e.into_inner()).private_anon_kb * 1024;
        let (room, whose) = headroom(pid);
        if need > room {
            return Some(format!(
                "{whose} has {} MiB free but the target could copy up to {} MiB of private memory while the dump runs (--clone to clone anyway)",
                room >> 20,
                need >> 20
            ));
        }
        None
    }

    /// Make the clone and let the target go, or say why not (the target
    /// then stays stopped and is read directly).
    fn clone_and_resume(&self) -> Result<()> {
        let why = match self.why_not_clone() {
            Some(w) => w,
            None => {
                let mut s = self.stopped.lock().unwrap_or_else(|e| e.into_inner());
                match self.clone_through(&mut s) {
                    Ok(snap) => {
                        let _ = self.snap.set(snap);
                        s.detach();
                        return Ok(());
                    }
                    Err(w) => w.to_string(),
                }
            }
        };
        if self.mode == SnapshotMode::Clone {
            return Err(Error::Target(format!("pid {}: no copy-on-write clone: {why}", self.pid)));
        }
        self.remark(format!("no copy-on-write clone ({why}): the target stayed stopped while its memory was read"));
        Ok(())
    }

    fn clone_through(&self, s: &mut Stopped) -> std::result::Result<clone::Snapshot, clone::CloneError> {
        // A thread with no signal of its own in hand: a held signal would
        // have to be re-delivered with different siginfo.
        let t = s
            .tracees
            .iter()
            .position(|t| t.pending.is_none())
            .ok_or(clone::CloneError::AllSignalled)?;
        let tid = s.tracees[t].tid;
        let rip = thread_pc(tid).map_err(|source| clone::CloneError::Registers { tid, source })?;
        let maps = self.memory_map().map_err(|e| clone::CloneError::MemoryMap(Box::new(e)))?;
        let insn = clone::find_syscall_insn(&self.mem, rip, &maps).ok_or(clone::CloneError::NoSyscallInTarget)?;
        let (r, signals) = clone::make(self.pid, tid, insn);
        let mut extra = signals.into_iter();
        s.tracees[t].pending = extra.next();
        for sig in extra {
            let _ = nix::sys::signal::kill(Pid::from_raw(self.pid), sig);
        }
        r
    }

    /// Kill and reap the clone, once; only on the attaching thread.
    fn end_clone(&self) {
        let Some(snap) = self.snap.get() else { return };
        if std::thread::current().id() != self.attacher || self.snap_ended.swap(true, Ordering::AcqRel) {
            return;
        }
        // Still there, stopped, before we kill it? Else the dump read a
        // clone that someone (the OOM killer?) killed under us.
        let alive = procfs::stat(snap.child, proc_path(snap.child, "stat")).is_ok_and(|s| matches!(s.state, b't' | b'T'));
        if !alive {
            *self.died.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!(
                "the copy-on-write clone of pid {} (pid {}) was killed while it was being dumped, so no core was written",
                self.pid, snap.child
            ));
        }
        clone::kill_child(snap.child);
        if let Err(e) = clone::reap_in_target(self.pid, snap.child, snap.insn) {
            self.remark(e.to_string());
        }
        if self.dead_now().is_some() {
            self.remark(format!(
                "pid {} exited while its clone was being dumped; the core is the snapshot taken before",
                self.pid
            ));
        }
    }

    /// The pid whose memory holds the snapshot of `addr`: the clone's, but
    /// the target's own for memory a clone does not get.
    fn source_of(&self, addr: u64) -> Option<&clone::Snapshot> {
        let snap = self.snap.get()?;
        let f = self.facts.lock().unwrap_or_else(|e| e.into_inner());
        (!f.live_only.iter().any(|&(a, b)| (a..b).contains(&addr))).then_some(snap)
    }

    fn readv(&self, pid: i32, ranges: &[(u64, usize)], buf: &mut [u8]) -> usize {
        let mut done = 0;
        for batch in ranges.chunks(IOV_MAX) {
            let total: usize = batch.iter().map(|r| r.1).sum();
            let remote: Vec<RemoteIoVec> = batch.iter().map(|&(a, l)| RemoteIoVec { base: a as usize, len: l }).collect();
            let mut local = [std::io::IoSliceMut::new(&mut buf[done..done + total])];
            match process_vm_readv(Pid::from_raw(pid), &mut local, &remote) {
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

/// Read `/proc/PID/mem` at `addr` until `buf` is full or a byte is unreadable.
fn read_all_at(mem: &File, addr: u64, buf: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buf.len() {
        let Some(off) = addr.checked_add(done as u64).filter(|a| *a <= i64::MAX as u64) else { break };
        match mem.read_at(&mut buf[done..], off) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    done
}

/// Where thread `tid` (stopped by us) is.
fn thread_pc(tid: i32) -> nix::Result<u64> {
    #[cfg(target_arch = "x86_64")]
    {
        Ok(nix::sys::ptrace::getregs(Pid::from_raw(tid))?.rip)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = tid;
        Err(Errno::ENOSYS)
    }
}

/// Memory the target may still take: the tightest of its memory cgroup
/// and that cgroup's ancestors (v2 `memory.max - memory.current`, v1
/// `memory.limit_in_bytes - memory.usage_in_bytes`), and the machine's
/// MemAvailable + SwapFree. With whose room that is.
fn headroom(pid: i32) -> (u64, String) {
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kb = |k: &str| {
        meminfo
            .lines()
            .find_map(|l| l.strip_prefix(k))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let mut best = ((kb("MemAvailable:") + kb("SwapFree:")) * 1024, "the machine".to_string());
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
    for line in cg.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("").trim().trim_start_matches('/'));
        let (roots, max, cur): (&[&str], _, _) = if ctrls.is_empty() {
            (&["/sys/fs/cgroup", "/sys/fs/cgroup/unified"], "memory.max", "memory.current")
        } else if ctrls.split(',').any(|c| c == "memory") {
            (&["/sys/fs/cgroup/memory"], "memory.limit_in_bytes", "memory.usage_in_bytes")
        } else {
            continue;
        };
        for root in roots {
            let mut dir = std::path::PathBuf::from(root).join(path);
            loop {
                let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok().and_then(|t| t.trim().parse::<u64>().ok());
                // "max" (v2) does not parse: no limit.
                if let (Some(max), Some(cur)) = (read(max), read(cur)) {
                    let room = max.saturating_sub(cur);
                    if room < best.0 {
                        best = (room, format!("memory cgroup {}", dir.display()));
                    }
                }
                if dir.as_os_str().len() <= root.len() || !dir.pop() {
                    break;
                }
            }
        }
    }
    best
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
            let regs = match getregset(t.tid, NT_PRSTATUS.0, 512) {
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
                if let Ok(b) = getregset(t.tid, nt.0, cap) {
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
            let [utime, stime, cutime, cstime] =
                Times { utime: tstat.utime, stime: tstat.stime, cutime: tstat.cutime, cstime: tstat.cstime }.timevals(hz);
            let st = PrStatus {
                signo: 0,
                cursig: 0,
                sigpend: hex_field(&tstatus, "SigPnd") | hex_field(&tstatus, "ShdPnd") | about_to_take,
                sighold: hex_field(&tstatus, "SigBlk"),
                pid: t.tid,
                ppid: self.before.ppid,
                pgrp: self.before.pgrp,
                sid: self.before.session,
                utime,
                stime,
                cutime,
                cstime,
                fpvalid: extras.iter().any(|(nt, _)| *nt == NT_PRFPREG),
                ..Default::default()
            };
            out.push(notes::prstatus(&st, &regs));
            if first {
                first = false;
                out.push(notes::prpsinfo(&self.psinfo()?));
                // No signal killed a live process: an empty siginfo (si_signo 0),
                // as for pr_cursig.
                out.push(Note::new("CORE", NT_SIGINFO, SigInfo::default().encode()));
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
        read_all_at(self.source_of(addr).map_or(&self.mem, |s| &s.mem), addr, buf)
    }

    /// The fast path: `process_vm_readv`, up to IOV_MAX ranges a call, all
    /// into one contiguous buffer.
    fn read_memory_batch(&self, ranges: &[(u64, usize)], buf: &mut [u8]) -> usize {
        let Some(snap) = self.snap.get() else { return self.readv(self.mm_tid, ranges, buf) };
        // Runs of ranges from one source (the clone, or the target for what
        // a clone does not get): one range never spans two mappings.
        let mut done = 0;
        let mut i = 0;
        while i < ranges.len() {
            let live = self.source_of(ranges[i].0).is_none();
            let mut j = i + 1;
            while j < ranges.len() && (self.source_of(ranges[j].0).is_none()) == live {
                j += 1;
            }
            let len: usize = ranges[i..j].iter().map(|r| r.1).sum();
            // The clone through /proc/PID/mem, not process_vm_readv: that
            // pins the pages (FOLL_PIN), and pinning a page the clone
            // shares copy-on-write with the target makes the kernel give
            // the clone its own copy first: reading would copy everything.
            let n = if live {
                self.readv(self.mm_tid, &ranges[i..j], &mut buf[done..done + len])
            } else {
                let mut n = 0;
                for &(a, l) in &ranges[i..j] {
                    let got = read_all_at(&snap.mem, a, &mut buf[done + n..done + n + l]);
                    n += got;
                    if got < l {
                        break;
                    }
                }
                n
            };
            done += n;
            if n < len {
                return done;
            }
            i = j;
        }
        done
    }

    /// From `/proc/PID/pagemap`: 8 bytes a page, bit 63 present, bit 62
    /// swapped. (Unprivileged readers get the PFNs zeroed, not these bits.)
    fn resident_pages(&self, start: u64, len: u64) -> Option<Vec<bool>> {
        let pm = match self.source_of(start) {
            Some(s) => s.pagemap.as_ref()?,
            None => self.pagemap.as_ref()?,
        };
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

    fn notes_taken(&self) -> Result<()> {
        if self.mode == SnapshotMode::Stop || self.is_detached() {
            return Ok(());
        }
        self.clone_and_resume()?;
        if self.snap.get().is_some() {
            let m = self.memory_map()?;
            let f = self.facts.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let dumped = |a: u64, b: u64| m.iter().filter(|e| e.start >= a && e.end <= b).map(|e| e.dump_len(self.page)).sum::<u64>();
            let live: u64 = f.live_only.iter().map(|&(a, b)| dumped(a, b)).sum();
            if live > 0 {
                let list: Vec<String> = f.live_only.iter().map(|(a, b)| format!("{a:#x}-{b:#x}")).collect();
                self.remark(format!(
                    "{} KiB of MADV_DONTFORK/MADV_WIPEONFORK memory ({}) was read from the running target, not the snapshot",
                    live >> 10,
                    list.join(" ")
                ));
            }
            let shared: Vec<&MemoryMapEntry> = m.iter().filter(|e| e.perms.shared && e.dump_len(self.page) > 0).collect();
            if !shared.is_empty() {
                self.remark(format!(
                    "{} KiB of MAP_SHARED memory in {} mappings is shared with the running target, not copied: it may have changed during the dump",
                    shared.iter().map(|e| e.dump_len(self.page)).sum::<u64>() >> 10,
                    shared.len()
                ));
            }
        }
        Ok(())
    }

    fn stopped_for(&self) -> Option<Duration> {
        self.is_detached().then(|| self.detach())
    }

    fn cloned(&self) -> bool {
        self.snap.get().is_some()
    }

    fn remarks(&self) -> Vec<String> {
        self.remarks.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn memory_read_done(&self) {
        // Resume it now rather than after the last write; only the thread
        // that attached may do so. First see whether it survived the
        // reading: once resumed, an exit is its own business.
        if std::thread::current().id() == self.attacher {
            if self.snap.get().is_some() {
                self.end_clone();
                return;
            }
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
        // The clone not ended yet (the dump failed before all was read):
        // only its death matters.
        if let Some(snap) = self.snap.get() {
            if !self.snap_ended.load(Ordering::Acquire)
                && !procfs::stat(snap.child, proc_path(snap.child, "stat")).is_ok_and(|s| matches!(s.state, b't' | b'T'))
            {
                return Some(format!(
                    "the copy-on-write clone of pid {} (pid {}) was killed while it was being dumped, so no core was written",
                    self.pid, snap.child
                ));
            }
            return None;
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
        self.end_clone();
        self.detach();
    }
}
