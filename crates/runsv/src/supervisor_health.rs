//! The health extension's rules inside the supervisor (docs/health.md): how
//! the restart policy's decision lands on the main service, which bytes
//! clear a failure, and what the supervisor tells the [`Tracker`] when it
//! derives `supervise/health`. A child module of [`crate::supervisor`], so
//! runit's own transitions stay together in that file.

use super::{Hold, Notice, Supervisor, View, Which};
use crate::health::Decision;
use crate::supervisor::Now;
use runit_core::status::Want;

#[cfg(doc)]
use crate::health::Tracker;

impl Supervisor {
    /// Extension: the main service is down; the restart policy weighs the
    /// last death: a back-off hold, or giving up. A service given up on is
    /// recorded as down and wanted down, so that `sv up` (which skips `u`
    /// when want is already up, sv.md §4) sends the `u` that clears it.
    /// Returns the group to sweep when giving up.
    pub(super) fn weigh_death(&mut self, now: Now) -> Option<u32> {
        let m = &mut self.main;
        match self.health.went_down(m.want == Want::Up) {
            Decision::Restart => None,
            Decision::Hold(delay) => {
                m.holds.set(Hold::Backoff, Some(now.mono + delay));
                None
            }
            Decision::GiveUp { pgid } => {
                m.failed = true;
                m.want = Want::Down;
                Some(pgid)
            }
        }
    }

    /// Extension: `u`, `o` and `d` clear a given-up failure and its count.
    pub(super) fn clear_failure(&mut self, which: Which) {
        if which == Which::Main && std::mem::take(&mut self.main.failed) {
            self.health.reset();
        }
    }

    /// Extension: notices count only if they are about the current `./run`
    /// (the driver read them after reaping, but a pid may be stale).
    pub(super) fn notified(&mut self, pid: u32, notices: Vec<Notice>) {
        if pid != 0 && pid == self.run_pid() {
            for notice in notices {
                self.health.notice(notice);
            }
        }
    }

    /// Extension: what the [`Tracker`] needs to derive `supervise/health`.
    /// A back-off shows only while a start is due; its end is the last hold.
    pub(super) fn health_view(&self) -> View {
        let m = &self.main;
        let run_pid = self.run_pid();
        View {
            run_pid,
            stop_sent: run_pid != 0 && m.stop_sent,
            failed: m.failed,
            backoff_until: m.holds.get(Hold::Backoff).filter(|_| m.wants_start()).and(m.holds.release()),
        }
    }
}
