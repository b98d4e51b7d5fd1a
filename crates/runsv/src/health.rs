//! Service health for the main service: readiness notices and crash-loop
//! control (runit-rs extension, docs/health.md). Pure bookkeeping, owned by
//! [`crate::supervisor::Supervisor`]; formats in `runit_core::health`,
//! `runit_core::deaths` and `runit_core::policy`.
//!
//! * Readiness: the driver turns a newline on the `notification-fd` pipe,
//!   or a verified `NOTIFY_SOCKET` datagram, into [`Notice`]s about the
//!   current `./run`; they only change what `supervise/health` says.
//! * Crash loops: every end of `./run` becomes a [`Death`]. When the service
//!   then goes down while wanted up, a death that runsv did not cause
//!   (`died`) is weighed by the `restart-policy` ([`Tracker::went_down`]):
//!   a back-off hold before the next start, or giving up. Without a policy
//!   nothing changes: runit's one-second throttle is the only hold.

use runit_core::deaths::{Cause, Death, How};
use runit_core::health::{Health, HealthState, Mechanism, clean_status};
use runit_core::policy::Policy;
use runit_core::process::WaitStatus;
use runit_core::tai::Tai64N;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What a service said about itself (systemd's keys; s6's newline is
/// `Ready`). Unknown keys never become notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// `READY=1`, or a newline on the notification descriptor.
    Ready,
    /// `RELOADING=1`: not ready until the next `READY=1`.
    Reloading,
    /// `STOPPING=1`.
    Stopping,
    /// `STATUS=<text>` (already cleaned to one bounded line).
    Status(String),
}

/// Parses one `NOTIFY_SOCKET` datagram: newline-separated `KEY=VALUE`
/// assignments (sd_notify(3)); unknown keys and malformed lines are
/// ignored.
pub fn parse_notify(datagram: &[u8]) -> Vec<Notice> {
    datagram
        .split(|&b| b == b'\n')
        .filter_map(|line| {
            let eq = line.iter().position(|&b| b == b'=')?;
            let (key, value) = (&line[..eq], &line[eq + 1..]);
            match (key, value) {
                (b"READY", b"1") => Some(Notice::Ready),
                (b"RELOADING", b"1") => Some(Notice::Reloading),
                (b"STOPPING", b"1") => Some(Notice::Stopping),
                (b"STATUS", text) => Some(Notice::Status(clean_status(text))),
                _ => None,
            }
        })
        .collect()
}

/// The main service's health configuration, read from the service
/// directory at start-up (extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthConfig {
    /// The declared readiness mechanism.
    pub mechanism: Mechanism,
    /// The restart policy (empty: runit's behaviour).
    pub policy: Policy,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig { mechanism: Mechanism::None, policy: Policy::default() }
    }
}

/// What the restart policy decided when the service went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Restart as runit would.
    Restart,
    /// Hold the next start for this long (back-off).
    Hold(Duration),
    /// Give up: leave the service down, marked failed; `pgid` is the group
    /// of the last `./run`, to be swept.
    GiveUp {
        /// The last `./run`'s process group.
        pgid: u32,
    },
}

/// The last `./run`'s end, kept until the service is down (after
/// `./finish`).
#[derive(Debug, Clone, Copy)]
struct Pending {
    at: Instant,
    ran: Duration,
    cause: Cause,
    pgid: u32,
}

/// Readiness and crash-loop state of the main service.
#[derive(Debug)]
pub struct Tracker {
    mechanism: Mechanism,
    policy: Policy,
    /// The current `./run` reported readiness.
    ready: bool,
    /// The current `./run` said `STOPPING=1`.
    stopping: bool,
    /// The current `./run`'s last `STATUS=`.
    status: Option<String>,
    /// Unexpected deaths in a row (reset by a stable run, `d`, or clearing
    /// a failure): the back-off exponent.
    in_a_row: u32,
    /// Times of the last unexpected deaths (only with `give-up`).
    window: VecDeque<Instant>,
    pending: Option<Pending>,
    /// The last record handed to the driver.
    written: Option<Health>,
}

/// What the supervisor knows about the main service when health is
/// derived.
#[derive(Debug, Clone, Copy)]
pub struct View {
    /// The pid of the current `./run`, 0 when none runs (`./finish`
    /// running counts as none).
    pub run_pid: u32,
    /// runsv sent the current `./run` TERM or KILL.
    pub stop_sent: bool,
    /// The restart policy gave up.
    pub failed: bool,
    /// `Some(when)`: a start is due, held by the back-off until `when`.
    pub backoff_until: Option<Instant>,
}

impl Tracker {
    /// A tracker for a service declaring `mechanism`, with `policy` (the
    /// default, empty policy is runit's behaviour).
    pub fn new(mechanism: Mechanism, policy: Policy) -> Self {
        Tracker {
            mechanism,
            policy,
            ready: false,
            stopping: false,
            status: None,
            in_a_row: 0,
            window: VecDeque::new(),
            pending: None,
            written: None,
        }
    }

    /// The declared mechanism.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// A new `./run` started: nothing reported yet.
    pub fn started(&mut self) {
        self.ready = false;
        self.stopping = false;
        self.status = None;
    }

    /// A notice from the current `./run`.
    pub fn notice(&mut self, notice: Notice) {
        match notice {
            Notice::Ready => {
                self.ready = true;
                self.stopping = false;
            }
            Notice::Reloading => self.ready = false,
            Notice::Stopping => self.stopping = true,
            Notice::Status(text) => self.status = Some(text),
        }
    }

    /// `./run` (pid `pgid`, started at `started`) ended with `status`;
    /// returns the line for the death history.
    pub fn run_ended(
        &mut self,
        ended: Now,
        started: Option<Instant>,
        status: WaitStatus,
        cause: Cause,
        pgid: u32,
    ) -> Death {
        let ran = started.map_or(Duration::ZERO, |t| ended.mono.saturating_duration_since(t));
        self.started();
        self.pending = Some(Pending { at: ended.mono, ran, cause, pgid });
        Death { stamp: ended.stamp, ran, how: How::of(status), cause }
    }

    /// The service went down (after `./finish`, if any); `want_up` tells
    /// whether it is still wanted up. Weighs the last death by the policy.
    pub fn went_down(&mut self, want_up: bool) -> Decision {
        let Some(p) = self.pending.take() else { return Decision::Restart };
        let backoff = self.policy.backoff;
        if backoff.is_some_and(|b| p.ran >= b.stable) {
            self.in_a_row = 0;
        }
        if p.cause != Cause::Died || !want_up {
            return Decision::Restart;
        }
        if let Some(g) = self.policy.give_up {
            self.window.push_back(p.at);
            while self.window.len() > g.deaths as usize {
                self.window.pop_front();
            }
            let first = self.window.front().copied().unwrap_or(p.at);
            if self.window.len() >= g.deaths as usize && p.at.saturating_duration_since(first) <= g.within {
                return Decision::GiveUp { pgid: p.pgid };
            }
        }
        match backoff {
            Some(b) => {
                self.in_a_row = self.in_a_row.saturating_add(1);
                Decision::Hold(b.delay(self.in_a_row))
            }
            None => Decision::Restart,
        }
    }

    /// Forget the crash loop: a failure was cleared or the service was
    /// taken down (`u`/`o` after giving up, `d`).
    pub fn reset(&mut self) {
        self.in_a_row = 0;
        self.window.clear();
    }

    /// The record for `view` at `now`, if it differs from the last one
    /// handed out (then it is remembered as written).
    pub fn changed(&mut self, view: View, now: Now) -> Option<Health> {
        let next = self.derive(view, now);
        let same = self.written.as_ref().is_some_and(|w| *w == next);
        if same {
            return None;
        }
        self.written = Some(next.clone());
        Some(next)
    }

    fn derive(&self, view: View, now: Now) -> Health {
        let state = if view.failed {
            HealthState::Failed
        } else if view.run_pid != 0 {
            if view.stop_sent || self.stopping {
                HealthState::Stopping
            } else if self.mechanism == Mechanism::None {
                HealthState::Run
            } else if self.ready {
                HealthState::Ready
            } else {
                HealthState::Starting
            }
        } else if view.backoff_until.is_some_and(|t| t > now.mono) {
            HealthState::Backoff
        } else {
            HealthState::Down
        };
        let until = match (state, view.backoff_until) {
            (HealthState::Backoff, Some(t)) => Some(later(now.stamp, t.saturating_duration_since(now.mono))),
            _ => None,
        };
        // `since` moves only when the state or the process changes.
        let since = match &self.written {
            Some(w) if w.state == state && w.pid == view.run_pid => w.since,
            _ => now.stamp,
        };
        let status = if view.run_pid != 0 { self.status.clone() } else { None };
        Health { state, pid: view.run_pid, since, mechanism: self.mechanism, until, status }
    }
}

/// The current time in both clocks (see [`crate::supervisor::Now`]).
pub type Now = crate::supervisor::Now;

/// `stamp + d` in runit's TAI64N arithmetic.
fn later(stamp: Tai64N, d: Duration) -> Tai64N {
    let nanos = u64::from(stamp.nanos) + u64::from(d.subsec_nanos());
    let label = stamp.label.wrapping_add(d.as_secs()).wrapping_add(nanos / 1_000_000_000);
    Tai64N { label, nanos: u32::try_from(nanos % 1_000_000_000).unwrap_or(0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use runit_core::policy::{Backoff, GiveUp};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn parses_sd_notify_datagrams() {
        let n = parse_notify(b"READY=1\nSTATUS=Listening on\t:80\nMAINPID=7\nbogus\nSTOPPING=1\nRELOADING=1");
        assert_eq!(
            n,
            [Notice::Ready, Notice::Status("Listening on :80".into()), Notice::Stopping, Notice::Reloading]
        );
        assert!(parse_notify(b"READY=0\nWATCHDOG=1\n").is_empty());
        assert!(parse_notify(b"").is_empty());
    }

    #[test]
    fn later_carries_nanoseconds() {
        let t = Tai64N { label: 10, nanos: 999_999_500 };
        assert_eq!(later(t, Duration::from_millis(1)), Tai64N { label: 11, nanos: 999_500 });
        assert_eq!(later(t, secs(2)), Tai64N { label: 12, nanos: 999_999_500 });
    }

    fn now(t0: Instant, ms: u64) -> Now {
        Now { mono: t0 + Duration::from_millis(ms), stamp: Tai64N::from_unix_micros(ms / 1000, 0) }
    }

    fn die(t: &mut Tracker, t0: Instant, start_ms: u64, end_ms: u64, cause: Cause) -> Decision {
        t.run_ended(
            now(t0, end_ms),
            Some(t0 + Duration::from_millis(start_ms)),
            WaitStatus::exited(1),
            cause,
            9,
        );
        t.went_down(true)
    }

    #[test]
    fn backoff_doubles_and_a_stable_run_resets_it() {
        let b = Backoff { initial: secs(1), cap: secs(4), stable: secs(10) };
        let mut t = Tracker::new(Mechanism::None, Policy { backoff: Some(b), give_up: None });
        let t0 = Instant::now();
        let holds: Vec<Decision> =
            (0..4).map(|i| die(&mut t, t0, i * 100, i * 100 + 50, Cause::Died)).collect();
        assert_eq!(holds, [1, 2, 4, 4].map(|s| Decision::Hold(secs(s))));
        assert_eq!(die(&mut t, t0, 1000, 12_000, Cause::Died), Decision::Hold(secs(1)), "stable run");
        assert_eq!(die(&mut t, t0, 12_000, 12_100, Cause::Stopped), Decision::Restart, "runsv stopped it");
        assert_eq!(die(&mut t, t0, 12_100, 12_200, Cause::Died), Decision::Hold(secs(2)));
        t.reset();
        assert_eq!(die(&mut t, t0, 12_200, 12_300, Cause::Died), Decision::Hold(secs(1)));
    }

    #[test]
    fn gives_up_after_n_deaths_within_t() {
        let g = GiveUp { deaths: 3, within: secs(10) };
        let mut t = Tracker::new(Mechanism::None, Policy { backoff: None, give_up: Some(g) });
        let t0 = Instant::now();
        assert_eq!(die(&mut t, t0, 0, 100, Cause::Died), Decision::Restart);
        assert_eq!(die(&mut t, t0, 1000, 1100, Cause::Died), Decision::Restart);
        assert_eq!(die(&mut t, t0, 20_000, 20_100, Cause::Died), Decision::Restart, "window slid");
        assert_eq!(die(&mut t, t0, 21_000, 21_100, Cause::Ended), Decision::Restart, "not counted");
        assert_eq!(die(&mut t, t0, 22_000, 22_100, Cause::Died), Decision::Restart, "two within 10 s");
        assert_eq!(die(&mut t, t0, 23_000, 23_100, Cause::Died), Decision::GiveUp { pgid: 9 });
    }

    #[test]
    fn not_wanted_up_is_never_held() {
        let b = Backoff { initial: secs(5), cap: secs(5), stable: secs(5) };
        let mut t = Tracker::new(Mechanism::None, Policy { backoff: Some(b), give_up: None });
        let t0 = Instant::now();
        t.run_ended(now(t0, 10), Some(t0), WaitStatus::exited(1), Cause::Died, 9);
        assert_eq!(t.went_down(false), Decision::Restart);
        assert_eq!(t.went_down(true), Decision::Restart, "one decision per death");
    }

    #[test]
    fn derived_states_and_since() {
        let mut t = Tracker::new(Mechanism::NotifySocket, Policy::default());
        let t0 = Instant::now();
        let v = View { run_pid: 0, stop_sent: false, failed: false, backoff_until: None };
        assert_eq!(t.changed(v, now(t0, 0)).map(|h| h.state), Some(HealthState::Down));
        assert_eq!(t.changed(v, now(t0, 5)), None, "unchanged: nothing to write");
        let run = View { run_pid: 7, ..v };
        t.started();
        let h = t.changed(run, now(t0, 1000)).expect("starting");
        assert_eq!((h.state, h.pid, h.since), (HealthState::Starting, 7, now(t0, 1000).stamp));
        t.notice(Notice::Status("warming".into()));
        let h = t.changed(run, now(t0, 1500)).expect("status");
        assert_eq!(
            (h.state, h.since, h.status.as_deref()),
            (HealthState::Starting, now(t0, 1000).stamp, Some("warming"))
        );
        t.notice(Notice::Ready);
        let h = t.changed(run, now(t0, 2000)).expect("ready");
        assert_eq!((h.state, h.since), (HealthState::Ready, now(t0, 2000).stamp));
        let h = t.changed(View { stop_sent: true, ..run }, now(t0, 3000)).expect("stopping");
        assert_eq!(h.state, HealthState::Stopping);
        let held = View { backoff_until: Some(t0 + secs(9)), ..v };
        let h = t.changed(held, now(t0, 4000)).expect("backoff");
        assert_eq!((h.state, h.until, h.status), (HealthState::Backoff, Some(now(t0, 9000).stamp), None));
        let h = t.changed(View { failed: true, ..v }, now(t0, 9000)).expect("failed");
        assert_eq!(h.state, HealthState::Failed);
    }

    #[test]
    fn no_mechanism_runs_instead_of_starting() {
        let mut t = Tracker::new(Mechanism::None, Policy::default());
        let v = View { run_pid: 3, stop_sent: false, failed: false, backoff_until: None };
        let h = t.changed(v, now(Instant::now(), 0)).expect("run");
        assert_eq!((h.state, h.mechanism), (HealthState::Run, Mechanism::None));
    }
}
