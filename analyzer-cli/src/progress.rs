//! Progress bars on stderr for long work (the goroutine walk of a big
//! core; the triage batch has its own): drawn only when stderr is a
//! terminal, and only once the work has taken long enough to be worth one.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// Work shorter than this shows no bar.
const QUIET_FOR: Duration = Duration::from_millis(500);

pub struct Bar {
    bar: ProgressBar,
    what: &'static str,
    started: Instant,
}

impl Bar {
    /// A bar counting `what` (`goroutines`); hidden when stderr is not a terminal.
    pub fn new(what: &'static str) -> Bar {
        let bar = if std::io::stderr().is_terminal() { ProgressBar::new(0) } else { ProgressBar::hidden() };
        if let Ok(style) = ProgressStyle::with_template("{prefix} {bar:40} {pos}/{len} {elapsed}") {
            bar.set_style(style);
        }
        Bar { bar, what, started: Instant::now() }
    }

    /// `done` of `total`, as the library's progress callback gives them.
    pub fn update(&self, done: usize, total: usize) {
        if self.started.elapsed() < QUIET_FOR && done < total {
            return;
        }
        if self.bar.length() != Some(total as u64) {
            self.bar.set_length(total as u64);
            self.bar.set_prefix(self.what);
        }
        self.bar.set_position(done as u64);
    }

    /// A callback for the library's `progress` arguments.
    pub fn callback(&self) -> impl Fn(usize, usize) + Sync + '_ {
        move |done, total| self.update(done, total)
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
