//! The facts every view shows, computed once from the runtime's structures
//! and rendered by each view in its own format. (A start: a goroutine's
//! status; frames and values still have a type per view.)

use serde::Serialize;

use crate::analysis::Analysis;
use crate::runtime::goroutine::{self, Goroutine, G_LEAKED, G_SYSCALL, G_WAITING};

/// A goroutine's status, as the runtime's traceback header states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `running`, `syscall`, `runnable`..., or for a waiting goroutine the
    /// wait reason's text (`chan receive`) as the runtime's own table has it.
    pub text: String,
    /// The wait reason, for a waiting (or leaked) goroutine that has one.
    pub wait_reason: Option<String>,
    /// Whole minutes waiting or in a syscall, when the runtime recorded when
    /// it started and the core's clock is known.
    pub wait_minutes: Option<i64>,
    /// Go 1.26's `leaked` status: blocked forever on something unreachable.
    pub leaked: bool,
    /// The GC was scanning its stack.
    pub scan: bool,
    pub locked_to_thread: bool,
}

impl Status {
    pub fn of(a: &Analysis, g: &Goroutine) -> Status {
        let st = g.status();
        let wait_reason = ((st == G_WAITING || st == G_LEAKED) && g.wait_reason != 0)
            .then(|| a.state.wait_reason_text(g.wait_reason).unwrap_or("waiting").to_string());
        let wait_minutes = ((st == G_WAITING || st == G_SYSCALL) && g.waitsince != 0 && a.state.now > 0)
            .then(|| a.state.now.saturating_sub(g.waitsince) / 60_000_000_000);
        Status {
            text: wait_reason.clone().unwrap_or_else(|| goroutine::status_string(st).to_string()),
            wait_reason,
            wait_minutes,
            leaked: st == G_LEAKED,
            scan: g.is_scan(),
            locked_to_thread: g.lockedm != 0,
        }
    }

    /// What the runtime prints between the header's brackets:
    /// `chan receive (scan), 3 minutes, locked to thread`.
    pub fn bracketed(&self) -> String {
        let mut s = self.text.clone();
        if self.leaked {
            s += " (leaked)";
        }
        if self.scan {
            s += " (scan)";
        }
        if let Some(m) = self.wait_minutes.filter(|&m| m >= 1) {
            s += &format!(", {m} minutes");
        }
        if self.locked_to_thread {
            s += ", locked to thread";
        }
        s
    }
}
