//! Standard output's two ways to fail. A write error (a full disk,
//! `/dev/full`, EIO) is a failure: one line on stderr and exit 1, in every
//! mode. A reader that went away (`| head -1`) is not: the process ends at
//! once, quietly, with [`CLOSED`], whatever it was doing: computing
//! (watched by [`watch`]) or writing.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::FileTypeExt;
use std::process::ExitCode;

/// The exit status when the reader of stdout went away: the reader chose
/// to stop reading, that is no failure of ours (and the same in every mode).
pub const CLOSED: u8 = 0;

/// If stdout is a pipe, a thread that waits for its reader to close it
/// and then ends the process: nothing more we compute can reach anyone.
/// (The batch's children are watched the same way: their stdout is a pipe
/// to the batch, so they stop when it does.)
pub fn watch() {
    let Ok(fd) = std::io::stdout().as_fd().try_clone_to_owned() else { return };
    let is_pipe = std::fs::File::from(fd).metadata().map(|m| m.file_type().is_fifo()).unwrap_or(false);
    if !is_pipe {
        return;
    }
    let _ = std::thread::Builder::new().name("stdout-watch".into()).spawn(|| {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        let out = std::io::stdout();
        loop {
            // No events asked for: poll returns only for POLLERR (the read
            // end was closed) or POLLHUP.
            let mut fds = [PollFd::new(out.as_fd(), PollFlags::empty())];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {
                    let r = fds[0].revents().unwrap_or(PollFlags::empty());
                    if r.intersects(PollFlags::POLLERR | PollFlags::POLLHUP) {
                        std::process::exit(CLOSED.into());
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(_) => return,
            }
        }
    });
}

/// Records the first error of the writer it wraps, so that whoever
/// formats into it (and wraps the error in its own type) cannot hide that
/// it was stdout that failed.
pub struct Checked<W: Write> {
    inner: W,
    pub error: Option<std::io::Error>,
}

impl<W: Write> Checked<W> {
    pub fn new(inner: W) -> Self {
        Checked { inner, error: None }
    }
    fn keep<T>(&mut self, r: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &r {
            if self.error.is_none() {
                self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl<W: Write> Write for Checked<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let r = self.inner.write(buf);
        self.keep(r)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let r = self.inner.flush();
        self.keep(r)
    }
}

/// Write all of `text` to stdout and flush it.
pub fn write_all(text: &[u8]) -> std::io::Result<()> {
    let mut so = std::io::stdout().lock();
    so.write_all(text)?;
    so.flush()
}

/// The exit for a failed write to stdout: quiet for a closed pipe, else
/// one line on stderr and status 1.
pub fn failed(e: &std::io::Error) -> ExitCode {
    ExitCode::from(status_of(e))
}

/// [`failed`], for a place that cannot return: ends the process.
pub fn exit_failed(e: &std::io::Error) -> ! {
    std::process::exit(status_of(e).into())
}

/// The status for a failed write to stdout, saying why when it is a failure.
fn status_of(e: &std::io::Error) -> u8 {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        return CLOSED;
    }
    eprintln!("goanalyze: writing to standard output: {e}");
    1
}
