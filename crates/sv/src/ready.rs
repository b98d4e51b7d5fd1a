//! Readiness in the wait loop (our extension, issue 12; docs/health.md).
//!
//! runit's sv takes a running service for ready when `./check` passes (or
//! does not exist). A service directory may instead declare a readiness
//! mechanism (`notification-fd`, `notify-socket`); runit-rs's runsv then
//! records in `supervise/health` when the service said it is ready. Where
//! `./check` would be run, sv asks that record first:
//!
//! * ready (the record is about the status record's pid and says `ready`):
//!   the condition holds, `./check` is not run;
//! * not ready yet (a mechanism is declared, but no `ready` for this pid):
//!   the condition does not hold, `./check` is not run; sv waits for runsv's
//!   next record (it watches `supervise/` for it);
//! * no mechanism, or no record at all (C runsv): runit's `./check`.
//!
//! A restart policy that gave up (`failed`) ends a wait that cannot
//! succeed any more: `check` on a failed service, and `start`, `up` or
//! `restart` when the policy gave up after sv sent its command. sv then
//! reports `fail: <name>: restart policy gave up` (runit's `check` would
//! have said `ok:`, the failed service being wanted down).

use runit_core::health::{Health, HealthState, Readiness};
use runit_core::status::Status;
use runit_core::tai::Tai64N;

/// The message after `fail: <name>: ` for a failed service.
pub const GAVE_UP: &[u8] = b"restart policy gave up";

/// What the health record says about `st`'s readiness.
pub fn of(health: Option<&Health>, st: &Status) -> Readiness {
    health.map_or(Readiness::Unknown, |h| h.awaited(st))
}

/// True when waiting for `expect` (the condition letters) cannot succeed
/// because the restart policy gave up: on `check` (`C`) whenever the
/// service is failed; on `u` when it failed after `sent`, the moment sv
/// sent its command (an earlier failure is what `u` clears).
pub fn gave_up(health: Option<&Health>, expect: &[u8], sent: Tai64N) -> bool {
    let Some(h) = health.filter(|h| h.state == HealthState::Failed) else { return false };
    expect.contains(&crate::cond::CHECK) || (expect.contains(&b'u') && h.since >= sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runit_core::health::Mechanism;
    use runit_core::status::{State, WANT_UP};

    fn at(s: u64) -> Tai64N {
        Tai64N::from_unix_micros(1_700_000_000 + s, 0)
    }

    fn health(state: HealthState, pid: u32, since: u64, mechanism: Mechanism) -> Health {
        Health { state, pid, since: at(since), mechanism, until: None, status: None }
    }

    fn status(pid: u32, state: State, want: u8) -> Status {
        Status { stamp: at(0), pid, paused: false, want, got_term: false, state }
    }

    #[test]
    fn readiness_of_a_run() {
        let fd = Mechanism::NotificationFd(0);
        let run = status(7, State::Run, WANT_UP);
        assert_eq!(of(None, &run), Readiness::Unknown, "C runsv: ./check");
        assert_eq!(of(Some(&health(HealthState::Ready, 7, 3, fd)), &run), Readiness::Ready { since: at(3) });
        assert_eq!(of(Some(&health(HealthState::Starting, 7, 1, fd)), &run), Readiness::NotReady);
        assert_eq!(of(Some(&health(HealthState::Ready, 6, 1, fd)), &run), Readiness::NotReady, "old run");
        let plain = health(HealthState::Run, 7, 1, Mechanism::None);
        assert_eq!(of(Some(&plain), &run), Readiness::Unknown);
    }

    #[test]
    fn a_failed_service_ends_check_and_a_later_failure_ends_start() {
        let failed = health(HealthState::Failed, 0, 10, Mechanism::None);
        assert!(gave_up(Some(&failed), b"C", at(20)), "check: whenever failed");
        assert!(!gave_up(Some(&failed), b"u", at(20)), "start: u clears an earlier failure");
        assert!(gave_up(Some(&failed), b"u", at(5)), "start: it failed again since");
        assert!(gave_up(Some(&failed), b"tcu", at(10)));
        assert!(!gave_up(Some(&failed), b"d", at(5)), "down is reached anyway");
        let backoff = health(HealthState::Backoff, 0, 10, Mechanism::None);
        assert!(!gave_up(Some(&backoff), b"C", at(5)));
        assert!(!gave_up(None, b"C", at(5)));
    }
}
