//! Graceful shutdown (our extension, `RUNSVDIR_GRACEFUL=<seconds>`), and
//! reaping.
//!
//! runit's runsvdir exits 0 on SIGTERM at once and leaves its runsv
//! processes running (runsvdir.md §6); as a container's PID 1 that means
//! `docker stop` kills every service without `./finish` and without letting
//! svlogd flush. In graceful mode SIGTERM instead:
//!
//! 1. sends SIGTERM to every runsv, which runsv treats as `x`: `control/t`
//!    (if any), TERM and CONT to `./run`, `./finish`, then the log service
//!    sees end of file, drains and exits, and runsv exits 0
//!    (supervise.md §12);
//! 2. once every runsv has exited, sends TERM and CONT to the children that
//!    remain (orphans adopted as a subreaper or as PID 1);
//! 3. exits 0 as soon as runsvdir has no children left;
//! 4. at the deadline (or on a second SIGTERM/SIGINT) sends SIGKILL to every
//!    process below runsvdir, reaps them and exits 0.
//!
//! [`Shutdown`] is the state of that sequence; the driver feeds it what it
//! reaps and the time, and performs what it asks.

use std::collections::HashSet;
use std::time::{Duration, Instant};

/// How often SIGKILL is repeated while processes are left (a runsv may
/// start a new child between two kills).
pub const KILL_REPEAT: Duration = Duration::from_millis(100);

/// How long to wait for killed processes to be reaped before exiting
/// anyway (a process in uninterruptible sleep cannot die at once).
pub const KILL_WAIT: Duration = Duration::from_secs(5);

/// What the driver must do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Nothing yet; wait until the deadline (or an event).
    Wait(Instant),
    /// Send TERM and CONT to the remaining children (orphans).
    TermOrphans,
    /// Send SIGKILL to every process below runsvdir (repeated every
    /// [`KILL_REPEAT`] while children are left).
    KillAll,
    /// Exit 0.
    Exit,
}

/// The graceful shutdown in progress.
#[derive(Debug, Clone)]
pub struct Shutdown {
    deadline: Instant,
    runsv: HashSet<i32>,
    orphans_termed: bool,
    killed: Option<Instant>,
}

impl Shutdown {
    /// Starts a shutdown at `now` with `budget`; `runsv` have been sent
    /// SIGTERM.
    pub fn new(now: Instant, budget: Duration, runsv: Vec<i32>) -> Self {
        Shutdown {
            deadline: now + budget,
            runsv: runsv.into_iter().collect(),
            orphans_termed: false,
            killed: None,
        }
    }

    /// A child was reaped.
    pub fn reaped(&mut self, pid: i32) {
        self.runsv.remove(&pid);
    }

    /// A second TERM/INT: do not wait any longer.
    pub fn hurry(&mut self, now: Instant) {
        self.deadline = self.deadline.min(now);
    }

    /// The next step, given whether any child is left.
    pub fn step(&mut self, now: Instant, children_left: bool) -> Step {
        if !children_left {
            return Step::Exit;
        }
        if let Some(t) = self.killed {
            return if now >= t + KILL_WAIT { Step::Exit } else { Step::KillAll };
        }
        if now >= self.deadline {
            self.killed = Some(now);
            return Step::KillAll;
        }
        if self.runsv.is_empty() && !self.orphans_termed {
            self.orphans_termed = true;
            return Step::TermOrphans;
        }
        Step::Wait(self.deadline)
    }
}

/// What one round of reaping found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Reaped {
    /// The pids reaped.
    pub pids: Vec<i32>,
    /// True if runsvdir has no child left at all.
    pub none_left: bool,
}

/// Reaps every exited child without blocking.
pub fn reap() -> Reaped {
    let mut out = Reaped::default();
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            out.pids.push(pid);
            continue;
        }
        if pid < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ECHILD) => out.none_left = true,
                _ => {}
            }
        }
        return out;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn orderly_shutdown() {
        let t0 = Instant::now();
        let mut s = Shutdown::new(t0, 10 * S, vec![10, 11]);
        assert_eq!(s.step(t0, true), Step::Wait(t0 + 10 * S));
        s.reaped(10);
        assert_eq!(s.step(t0 + S, true), Step::Wait(t0 + 10 * S));
        s.reaped(11);
        assert_eq!(s.step(t0 + 2 * S, true), Step::TermOrphans, "only orphans are left");
        assert_eq!(s.step(t0 + 2 * S, true), Step::Wait(t0 + 10 * S), "once");
        assert_eq!(s.step(t0 + 3 * S, false), Step::Exit);
    }

    #[test]
    fn nothing_to_stop_exits_at_once() {
        let t0 = Instant::now();
        assert_eq!(Shutdown::new(t0, 10 * S, vec![]).step(t0, false), Step::Exit);
    }

    #[test]
    fn deadline_kills_everything() {
        let t0 = Instant::now();
        let mut s = Shutdown::new(t0, 3 * S, vec![10]);
        assert_eq!(s.step(t0 + 3 * S, true), Step::KillAll);
        assert_eq!(s.step(t0 + 3 * S, true), Step::KillAll, "again while children are left");
        assert_eq!(s.step(t0 + 4 * S, false), Step::Exit);
    }

    #[test]
    fn unkillable_leftovers_do_not_hang_the_exit() {
        let t0 = Instant::now();
        let mut s = Shutdown::new(t0, S, vec![10]);
        assert_eq!(s.step(t0 + S, true), Step::KillAll);
        assert_eq!(s.step(t0 + S + KILL_WAIT, true), Step::Exit);
    }

    #[test]
    fn second_signal_hurries() {
        let t0 = Instant::now();
        let mut s = Shutdown::new(t0, 30 * S, vec![10]);
        s.hurry(t0 + S);
        assert_eq!(s.step(t0 + S, true), Step::KillAll);
    }
}
