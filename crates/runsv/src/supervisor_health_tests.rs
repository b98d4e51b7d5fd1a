//! Service health on the fake clock (docs/health.md): readiness notices,
//! the death history, back-off and give-up, and that none of it changes
//! what runit's files say. A child of the supervisor's test module, so it
//! drives the same [`Sim`].
#![allow(clippy::unwrap_used)]

use super::*;
use crate::health::Notice;
use runit_core::deaths::{Cause, How};
use runit_core::health::{HealthState, Mechanism};
use runit_core::policy::{Backoff, GiveUp, Policy};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn with(mechanism: Mechanism, policy: Policy) -> Sim {
    Sim::with_health(Layout::default(), HealthConfig { mechanism, policy })
}

fn backoff(initial: u64, cap: u64, stable: u64) -> Policy {
    Policy {
        backoff: Some(Backoff { initial: secs(initial), cap: secs(cap), stable: secs(stable) }),
        give_up: None,
    }
}

fn give_up(deaths: u32, within: u64) -> Policy {
    Policy { backoff: None, give_up: Some(GiveUp { deaths, within: secs(within) }) }
}

impl Sim {
    fn health_state(&self) -> HealthState {
        self.health.last().unwrap().state
    }

    fn notify(&mut self, pid: u32, notice: Notice) {
        self.step(&[Event::Notify { pid, notices: vec![notice] }]);
    }

    /// Runs until the next start and returns how long after `from` it
    /// happened (ms), following next_deadline like the driver does.
    fn restart_delay(&mut self, from: Duration) -> u64 {
        let deadline = self.sup.next_deadline().expect("a start is pending");
        self.clock = deadline - self.t0;
        self.iterate();
        let started = self.take().iter().any(|l| l.starts_with("run "));
        assert!(started, "started at the deadline");
        u64::try_from((self.clock - from).as_millis()).unwrap()
    }
}

#[test]
fn plain_service_records_run_and_down_without_mechanism() {
    let mut s = Sim::up();
    assert_eq!(s.health.len(), 1);
    let h0 = s.health[0].clone();
    assert_eq!((h0.state, h0.pid, h0.mechanism), (HealthState::Down, 0, Mechanism::None));
    s.iterate();
    assert_eq!(s.take(), ["run 100", "main: run"], "runit's trace is unchanged");
    let h = s.health.last().unwrap();
    assert_eq!((h.state, h.pid, h.since), (HealthState::Run, 100, s.now().stamp));
    s.advance(2500);
    s.exited(100, exit(3));
    assert_eq!(s.take(), ["main: down", "run 101", "main: run"], "long run restarts at once");
    assert_eq!(s.deaths.len(), 1);
    let d = s.deaths[0];
    assert_eq!(
        (d.ran, d.how, d.cause, d.stamp),
        (Duration::from_millis(2500), How::Exit(3), Cause::Died, s.now().stamp)
    );
}

#[test]
fn ready_after_a_newline_or_ready_1_and_reset_on_restart() {
    for mechanism in [Mechanism::NotificationFd(3), Mechanism::NotifySocket] {
        let mut s = with(mechanism, Policy::default());
        s.iterate();
        assert_eq!(s.health_state(), HealthState::Starting);
        s.advance(700);
        s.notify(999, Notice::Ready);
        assert_eq!(s.health_state(), HealthState::Starting, "a notice about another process is ignored");
        s.notify(100, Notice::Ready);
        let h = s.health.last().unwrap().clone();
        assert_eq!((h.state, h.pid, h.since), (HealthState::Ready, 100, s.now().stamp));
        let writes = s.health.len();
        s.notify(100, Notice::Ready);
        assert_eq!(s.health.len(), writes, "nothing new, nothing written");
        s.take();
        s.advance(1000);
        s.exited(100, exit(0));
        let states: Vec<_> = s.health[writes..].iter().map(|h| (h.state, h.pid)).collect();
        assert_eq!(states, [(HealthState::Down, 0), (HealthState::Starting, 101)], "{mechanism:?}");
        assert_eq!(s.take(), ["main: down", "run 101", "main: run"]);
    }
}

#[test]
fn status_text_stopping_and_reloading() {
    let mut s = with(Mechanism::NotifySocket, Policy::default());
    s.iterate();
    s.notify(100, Notice::Status("loading".into()));
    let h = s.health.last().unwrap();
    assert_eq!((h.state, h.status.as_deref()), (HealthState::Starting, Some("loading")));
    s.notify(100, Notice::Ready);
    s.notify(100, Notice::Reloading);
    assert_eq!(s.health_state(), HealthState::Starting);
    s.notify(100, Notice::Ready);
    s.notify(100, Notice::Stopping);
    assert_eq!(s.health_state(), HealthState::Stopping);
    s.take();
    s.byte(b'd');
    assert_eq!(s.take(), ["main: run, want down", "TERM 100", "main: run, got TERM, want down", "CONT 100"]);
    s.exited(100, WaitStatus::signaled(libc::SIGTERM, false));
    let h = s.health.last().unwrap();
    assert_eq!((h.state, h.pid, h.status.as_deref()), (HealthState::Down, 0, None));
    assert_eq!(s.deaths.last().map(|d| (d.how, d.cause)), Some((How::Signal(libc::SIGTERM), Cause::Stopped)));
}

#[test]
fn notices_read_together_are_written_together() {
    let mut s = with(Mechanism::NotifySocket, Policy::default());
    s.iterate();
    let writes = s.health.len();
    s.step(&[Event::Notify { pid: 100, notices: vec![Notice::Ready, Notice::Status("warm".into())] }]);
    assert_eq!(s.health.len(), writes + 1, "one write");
    let h = s.health.last().unwrap();
    assert_eq!((h.state, h.status.as_deref()), (HealthState::Ready, Some("warm")));
}

#[test]
fn term_from_runsv_is_stopping_and_the_death_is_not_a_crash() {
    let mut s = with(Mechanism::NotificationFd(3), backoff(5, 5, 5));
    s.iterate();
    s.notify(100, Notice::Ready);
    s.byte(b't');
    assert_eq!(s.health_state(), HealthState::Stopping);
    s.advance(200);
    s.exited(100, WaitStatus::signaled(libc::SIGTERM, false));
    assert_eq!(s.deaths[0].cause, Cause::Stopped);
    // Only runit's throttle: a restart that runsv caused is not backed off.
    assert_eq!(s.sup.next_deadline(), Some(s.t0 + Duration::from_millis(1200)));
}

#[test]
fn backoff_doubles_to_the_cap_with_runits_second_as_floor() {
    let mut s = with(Mechanism::None, backoff(1, 8, 60));
    s.iterate();
    let mut delays = Vec::new();
    for pid in 100..106 {
        s.take();
        s.advance(100);
        s.exited(pid, exit(1));
        assert_eq!(s.take(), ["main: down"], "held, not restarted");
        let h = s.health.last().unwrap().clone();
        assert_eq!(h.state, HealthState::Backoff);
        let from = s.clock;
        let delay = s.restart_delay(from);
        let until = h.until.unwrap();
        assert_eq!(until.unix_seconds() - h.since.unix_seconds(), i64::try_from(delay / 1000).unwrap());
        delays.push(delay);
    }
    assert_eq!(delays, [1000, 2000, 4000, 8000, 8000, 8000]);
    assert_eq!(s.status("main").want, WANT_UP, "the status record is runit's: down, want up");
}

#[test]
fn a_stable_run_resets_the_backoff() {
    let mut s = with(Mechanism::None, backoff(2, 16, 10));
    s.iterate();
    s.advance(100);
    s.exited(100, exit(1));
    let from = s.clock;
    assert_eq!(s.restart_delay(from), 2000);
    s.advance(100);
    s.exited(101, exit(1));
    let from = s.clock;
    assert_eq!(s.restart_delay(from), 4000);
    s.advance(10_000);
    s.exited(102, exit(1));
    let from = s.clock;
    assert_eq!(s.restart_delay(from), 2000, "ran 10 s: back to the initial delay");
}

#[test]
fn u_cuts_the_backoff_short_and_d_resets_the_count() {
    let mut s = with(Mechanism::None, backoff(30, 120, 60));
    s.iterate();
    s.advance(5000);
    s.exited(100, exit(1));
    s.advance(10_000);
    s.iterate();
    assert_eq!(s.health_state(), HealthState::Backoff);
    s.take();
    // `sv restart` is `tcu`: t and c start nothing (c rewrites the status).
    s.byte(b't');
    s.byte(b'c');
    assert_eq!(s.take(), ["main: down"]);
    s.byte(b'u');
    assert_eq!(s.take(), ["main: down", "run 101", "main: run"]);
    s.advance(5000);
    s.exited(101, exit(1));
    assert_eq!(s.sup.next_deadline(), Some(s.t0 + secs(20 + 60)), "the count was kept: 60 s");
    s.byte(b'd');
    assert_eq!(s.health_state(), HealthState::Down);
    s.byte(b'u');
    s.advance(5000);
    s.take();
    s.exited(102, exit(1));
    assert_eq!(s.sup.next_deadline(), Some(s.t0 + secs(25 + 30)), "d reset the count: 30 s");
}

#[test]
fn finish_runs_first_and_the_backoff_counts_from_its_end() {
    let mut s = with(Mechanism::None, backoff(4, 4, 60));
    s.finish = true;
    s.iterate();
    s.take();
    s.advance(100);
    s.exited(100, exit(2));
    assert_eq!(s.take(), ["main: finish", "finish 101 [2 0]", "main: finish"]);
    assert_eq!(s.deaths.len(), 1, "the death of ./run, not of ./finish");
    s.advance(3000);
    s.exited(101, exit(0));
    assert_eq!(s.deaths.len(), 1);
    assert_eq!(s.health_state(), HealthState::Backoff);
    let from = s.clock;
    assert_eq!(s.restart_delay(from), 4000);
}

#[test]
fn kill_during_finish_records_one_death() {
    let mut s = Sim::running();
    s.finish = true;
    s.exited(100, exit(7));
    s.byte(b'k');
    s.exited(101, exit(5));
    assert_eq!(s.deaths.len(), 1, "./finish's end is not a death of ./run");
    assert_eq!(s.deaths[0].how, How::Exit(7));
}

#[test]
fn gives_up_leaves_it_down_want_down_and_u_starts_again() {
    let mut s = with(Mechanism::None, give_up(3, 10));
    s.iterate();
    for pid in [100, 101] {
        s.advance(100);
        s.exited(pid, exit(1));
        let from = s.clock;
        assert_eq!(s.restart_delay(from), 1000, "runit's throttle only");
    }
    s.take();
    s.advance(100);
    s.exited(102, exit(1));
    assert_eq!(s.take(), ["main: down", "sweep 102"]);
    let h = s.health.last().unwrap();
    assert_eq!((h.state, h.pid), (HealthState::Failed, 0));
    let st = s.status("main");
    assert_eq!((st.state, st.want, st.pid), (State::Down, WANT_DOWN, 0), "sv up will send u");
    assert_eq!(s.stat("main"), "down\n");
    assert_eq!(s.sup.next_deadline(), None, "nothing pending: an idle runsv sleeps");
    s.advance(60_000);
    s.iterate();
    assert!(s.take().is_empty(), "stays down");
    s.byte(b'u');
    assert_eq!(s.take(), ["main: down", "run 103", "main: run"]);
    assert_eq!(s.health_state(), HealthState::Run);
    // The count starts afresh.
    s.advance(100);
    s.exited(103, exit(1));
    assert_eq!(s.health_state(), HealthState::Down);
}

#[test]
fn once_and_down_clear_a_failure() {
    let mut s = with(Mechanism::None, give_up(1, 10));
    s.iterate();
    s.advance(2000);
    s.exited(100, exit(1));
    assert_eq!(s.health_state(), HealthState::Failed);
    s.take();
    s.byte(b'o');
    assert_eq!(s.take(), ["main: down", "run 101", "main: run, want down"]);
    s.advance(2000);
    s.exited(101, exit(1));
    assert_eq!(s.deaths.last().unwrap().cause, Cause::Ended);
    assert_eq!(s.health_state(), HealthState::Down, "want down: not weighed");
    s.byte(b'u');
    s.advance(2000);
    s.exited(102, exit(1));
    assert_eq!(s.health_state(), HealthState::Failed);
    s.byte(b'd');
    assert_eq!(s.health_state(), HealthState::Down);
}

#[test]
fn exit_while_failed_exits() {
    let mut s = with(Mechanism::None, give_up(1, 10));
    s.iterate();
    s.advance(2000);
    s.exited(100, exit(1));
    s.take();
    s.byte(b'x');
    assert_eq!(s.take(), ["main: down", "exit 0"]);
}

#[test]
fn a_declared_service_has_its_health_record_before_the_status_naming_it() {
    // sv's `check` reads the status record, then the health record: with a
    // declared mechanism, a new pid must never be in the first before the
    // second is about it. Without one the health record comes last (and
    // the driver writes it after the start, off the restart's path).
    let kinds = |effects: &[Effect]| {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::WriteStatus(_) => Some("status"),
                Effect::WriteHealth(_) => Some("health"),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    for (mechanism, order) in
        [(Mechanism::None, ["status", "health"]), (Mechanism::NotifySocket, ["health", "status"])]
    {
        let mut s = with(mechanism, Policy::default());
        let now = s.now();
        let start = s.sup.handle(Event::LoopStart, now);
        assert!(start.iter().any(|e| matches!(e, Effect::Spawn(Child::Run))), "{start:?}");
        let spawned = s.sup.handle(Event::Spawned { child: Child::Run, pid: 100 }, now);
        assert_eq!(kinds(&spawned), order, "{mechanism:?}: {spawned:?}");
    }
}
