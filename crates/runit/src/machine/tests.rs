//! The stage machine on a fake clock: each runit rule is a scenario of a
//! few lines (runit-init.md §2-§3, conformance item 149).

use super::*;
use std::collections::HashMap;

const SEC: Duration = Duration::from_secs(1);

/// A driver stand-in: gives spawned jobs pids, records effects, keeps time.
struct Sim {
    m: Runit,
    now: Instant,
    flags: Flags,
    next_pid: i32,
    pids: HashMap<Job, i32>,
    fail_next_fork: Option<i32>,
    log: Vec<Effect>,
}

impl Sim {
    fn new(policy: Policy) -> Sim {
        let now = Instant::now();
        let mut s = Sim {
            m: Runit::new(policy, now),
            now,
            flags: Flags::default(),
            next_pid: 100,
            pids: HashMap::new(),
            fail_next_fork: None,
            log: Vec::new(),
        };
        s.drain();
        s
    }

    fn runit() -> Sim {
        Sim::new(Policy::runit(None))
    }

    fn container(budget: u64) -> Sim {
        Sim::new(Policy::container(Some(Duration::from_secs(budget)), PidNamespace::Child))
    }

    fn drain(&mut self) {
        while let Some(e) = self.m.poll_effect() {
            if let Effect::Spawn(job) = e {
                let result = match self.fail_next_fork.take() {
                    Some(errno) => Err(errno),
                    None => {
                        self.next_pid += 1;
                        self.pids.insert(job, self.next_pid);
                        Ok(self.next_pid)
                    }
                };
                self.m.spawned(job, result, self.now);
            }
            self.log.push(e);
        }
    }

    /// The effects since the last call.
    fn take(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.log)
    }

    fn pid(&self, job: Job) -> i32 {
        self.pids[&job]
    }

    fn feed(&mut self, e: Event) {
        let flags = self.flags;
        self.m.handle(e, self.now, &flags);
        self.drain();
    }

    fn exit(&mut self, job: Job, status: WaitStatus) {
        let pid = self.pid(job);
        self.feed(Event::Reaped { pid, status });
    }

    fn signal(&mut self, sig: Sig) {
        self.feed(Event::Signal(sig));
    }

    /// Moves the clock by `d`, firing whatever falls due on the way.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        while let Some(at) = self.m.next_deadline().filter(|&at| at <= end) {
            self.now = self.now.max(at);
            self.feed(Event::Timeout);
        }
        self.now = end;
    }

    /// Runs stage 1 to a normal end: stage 2 is running afterwards.
    fn boot_to_stage2(&mut self) {
        self.exit(S1, ok());
        self.take();
    }
}

const S1: Job = Job::Stage(Stage::One);
const S2: Job = Job::Stage(Stage::Two);
const S3: Job = Job::Stage(Stage::Three);

fn ok() -> WaitStatus {
    WaitStatus::exited(0)
}

fn say(m: Message) -> Effect {
    Effect::Say(m)
}

fn kill(pid: i32, sig: i32, group: bool) -> Effect {
    Effect::Kill { pid, sig, group }
}

fn runit_halt(action: HaltAction) -> Effect {
    Effect::Halt(Halt { action, sync: true, syscall: true, after: AfterHalt::Pause })
}

fn final_effects(halt: Effect) -> Vec<Effect> {
    vec![say(Message::SendingKill), Effect::KillAll, halt]
}

#[test]
fn boot_starts_stage_1() {
    let mut s = Sim::runit();
    assert_eq!(s.take(), vec![say(Message::Booting), Effect::Spawn(S1)]);
}

#[test]
fn stages_run_in_order_then_power_off() {
    let mut s = Sim::runit();
    s.take();
    s.exit(S1, ok());
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S1)), Effect::Spawn(S2)]);
    s.exit(S2, ok());
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
    s.exit(S3, ok());
    let mut want = vec![say(Message::LeaveStage(S3))];
    want.extend(final_effects(runit_halt(HaltAction::PowerOff)));
    assert_eq!(s.take(), want);
    assert!(s.m.is_final());
    assert_eq!(s.m.next_deadline(), None, "no wake-ups after the end");
}

#[test]
fn stage_1_exit_100_skips_stage_2() {
    let mut s = Sim::runit();
    s.take();
    s.exit(S1, WaitStatus::exited(100));
    assert_eq!(
        s.take(),
        vec![
            say(Message::ChildFailed(Stage::One)),
            say(Message::LeaveStage(S1)),
            say(Message::SkippingStage2),
            Effect::Spawn(S3)
        ]
    );
}

#[test]
fn stage_1_crash_skips_stage_2() {
    // 2.3.0: a signal death is a crash (2.1.2 went on to stage 2).
    let mut s = Sim::runit();
    s.take();
    s.exit(S1, WaitStatus::signaled(libc::SIGSEGV, true));
    assert_eq!(
        s.take(),
        vec![
            say(Message::ChildCrashed(Stage::One)),
            say(Message::LeaveStage(S1)),
            say(Message::SkippingStage2),
            Effect::Spawn(S3)
        ]
    );
}

#[test]
fn stage_1_other_failure_goes_on_to_stage_2() {
    let mut s = Sim::runit();
    s.take();
    s.exit(S1, WaitStatus::exited(1));
    assert_eq!(
        s.take(),
        vec![say(Message::ChildFailed(Stage::One)), say(Message::LeaveStage(S1)), Effect::Spawn(S2)]
    );
}

#[test]
fn stage_2_exit_111_is_restarted_after_5_s() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    let first = s.pid(S2);
    s.exit(S2, WaitStatus::exited(111));
    assert_eq!(
        s.take(),
        vec![
            say(Message::ChildFailed(Stage::Two)),
            say(Message::KillingStage2),
            kill(first, libc::SIGKILL, true)
        ]
    );
    s.advance(Duration::from_millis(4999));
    assert_eq!(s.take(), vec![]);
    s.advance(Duration::from_millis(1));
    assert_eq!(s.take(), vec![say(Message::Restarting), Effect::Spawn(S2)]);
    assert_ne!(s.pid(S2), first);
}

#[test]
fn stage_2_crash_is_restarted() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    let pid = s.pid(S2);
    s.exit(S2, WaitStatus::signaled(libc::SIGKILL, false));
    assert_eq!(
        s.take(),
        vec![
            say(Message::ChildCrashed(Stage::Two)),
            say(Message::KillingStage2),
            kill(pid, libc::SIGKILL, true)
        ]
    );
    s.advance(RESTART_PAUSE);
    assert_eq!(s.take(), vec![say(Message::Restarting), Effect::Spawn(S2)]);
}

#[test]
fn stage_2_other_exit_goes_to_stage_3() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.exit(S2, WaitStatus::exited(3));
    assert_eq!(
        s.take(),
        vec![say(Message::ChildFailed(Stage::Two)), say(Message::LeaveStage(S2)), Effect::Spawn(S3)]
    );
}

#[test]
fn stage_3_failure_still_halts() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.exit(S2, ok());
    s.take();
    s.exit(S3, WaitStatus::exited(1));
    let mut want = vec![say(Message::ChildFailed(Stage::Three)), say(Message::LeaveStage(S3))];
    want.extend(final_effects(runit_halt(HaltAction::PowerOff)));
    assert_eq!(s.take(), want);
}

#[test]
fn cont_without_stopit_is_ignored() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.signal(Sig::Cont);
    assert_eq!(s.take(), vec![]);
}

#[test]
fn cont_with_stopit_terms_stage_2_then_runs_stage_3() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    let pid = s.pid(S2);
    s.flags.stopit = true;
    s.signal(Sig::Cont);
    // The flag is consumed; only the stage's own pid gets TERM.
    assert_eq!(s.take(), vec![Effect::ConsumeStopit, kill(pid, libc::SIGTERM, false)]);
    s.flags.stopit = false;
    s.advance(Duration::from_secs(2));
    s.exit(S2, WaitStatus::signaled(libc::SIGTERM, false));
    // No crash warning on this path, and no restart.
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
    s.advance(Duration::from_secs(10));
    assert_eq!(s.take(), vec![], "the stop timer was cancelled");
}

#[test]
fn stage_2_ignoring_term_is_killed_after_5_s() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    let pid = s.pid(S2);
    s.flags.stopit = true;
    s.signal(Sig::Cont);
    s.take();
    s.advance(Duration::from_millis(4999));
    assert_eq!(s.take(), vec![]);
    s.advance(Duration::from_millis(1));
    assert_eq!(s.take(), vec![say(Message::NotTerminated(Stage::Two)), kill(pid, libc::SIGKILL, false)]);
    s.exit(S2, WaitStatus::signaled(libc::SIGKILL, false));
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
}

#[test]
fn stopped_stage_2_exiting_111_is_not_restarted() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.flags.stopit = true;
    s.signal(Sig::Cont);
    s.take();
    s.exit(S2, WaitStatus::exited(111));
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
}

#[test]
fn signals_only_work_in_stage_2() {
    let mut s = Sim::runit();
    s.take();
    s.flags = Flags { stopit: true, ctrlaltdel: true, ..Flags::default() };
    s.signal(Sig::Cont);
    s.signal(Sig::Int);
    assert_eq!(s.take(), vec![say(Message::SignalsOnlyStage2), say(Message::SignalsOnlyStage2)]);
    s.exit(S1, WaitStatus::exited(100));
    s.take();
    s.signal(Sig::Cont);
    assert_eq!(s.take(), vec![say(Message::SignalsOnlyStage2)]);
}

#[test]
fn sigterm_has_no_effect_by_default() {
    let mut s = Sim::runit();
    s.take();
    s.signal(Sig::Term);
    s.boot_to_stage2();
    s.signal(Sig::Term);
    assert_eq!(s.take(), vec![]);
}

#[test]
fn int_without_ctrlaltdel_is_ignored() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.signal(Sig::Int);
    assert_eq!(s.take(), vec![]);
}

#[test]
fn ctrlaltdel_runs_then_acts_as_cont() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    let stage2 = s.pid(S2);
    s.flags.ctrlaltdel = true;
    s.signal(Sig::Int);
    assert_eq!(s.take(), vec![say(Message::CtrlAltDelRequest), Effect::Spawn(Job::CtrlAltDel)]);
    // The script sets stopit; signals meanwhile change nothing.
    s.flags.stopit = true;
    s.signal(Sig::Cont);
    s.signal(Sig::Int);
    assert_eq!(s.take(), vec![]);
    s.exit(Job::CtrlAltDel, ok());
    assert_eq!(
        s.take(),
        vec![
            say(Message::LeaveStage(Job::CtrlAltDel)),
            Effect::ConsumeStopit,
            kill(stage2, libc::SIGTERM, false)
        ]
    );
}

#[test]
fn ctrlaltdel_without_stopit_leaves_stage_2_running() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.flags.ctrlaltdel = true;
    s.signal(Sig::Int);
    s.take();
    s.exit(Job::CtrlAltDel, WaitStatus::exited(1));
    assert_eq!(s.take(), vec![say(Message::LeaveStage(Job::CtrlAltDel))]);
    // A second request works again.
    s.signal(Sig::Int);
    assert_eq!(s.take(), vec![say(Message::CtrlAltDelRequest), Effect::Spawn(Job::CtrlAltDel)]);
}

#[test]
fn cont_during_restart_pause_goes_to_stage_3() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.exit(S2, WaitStatus::exited(111));
    s.take();
    s.flags.stopit = true;
    s.signal(Sig::Cont);
    assert_eq!(s.take(), vec![Effect::ConsumeStopit, say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
    s.advance(RESTART_PAUSE);
    assert_eq!(s.take(), vec![], "no restart after the stop");
}

#[test]
fn orphans_are_reaped_silently() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.feed(Event::Reaped { pid: 4242, status: WaitStatus::exited(7) });
    assert_eq!(s.take(), vec![]);
}

#[test]
fn reboot_flag_and_nosync() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.exit(S2, ok());
    s.take();
    s.flags = Flags { reboot: true, nosync: true, ..Flags::default() };
    s.exit(S3, ok());
    let halt = Halt { action: HaltAction::Reboot, sync: false, syscall: true, after: AfterHalt::Pause };
    assert_eq!(s.take().last(), Some(&Effect::Halt(halt)));
}

#[test]
fn failed_fork_is_retried_every_5_s() {
    let mut s = Sim::runit();
    s.take();
    s.fail_next_fork = Some(libc::EAGAIN);
    s.exit(S1, ok());
    assert_eq!(
        s.take(),
        vec![say(Message::LeaveStage(S1)), Effect::Spawn(S2), say(Message::UnableToFork(S2, libc::EAGAIN))]
    );
    s.advance(FORK_RETRY);
    assert_eq!(s.take(), vec![Effect::Spawn(S2)]);
    s.exit(S2, ok());
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
}

#[test]
fn idle_wakes_only_for_the_14_s_sweep() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    assert_eq!(s.m.next_deadline(), Some(s.now + SWEEP));
    s.advance(Duration::from_secs(60));
    assert_eq!(s.take(), vec![]);
}

#[test]
fn container_sigterm_in_stage_2_is_a_shutdown_request() {
    let mut s = Sim::container(9);
    s.boot_to_stage2();
    let pid = s.pid(S2);
    s.signal(Sig::Term);
    assert_eq!(s.take(), vec![say(Message::ShutdownRequest), kill(pid, libc::SIGTERM, false)]);
    s.signal(Sig::Term);
    assert_eq!(s.take(), vec![], "a second TERM changes nothing");
    s.exit(S2, ok());
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
    s.exit(S3, ok());
    let halt = Halt {
        action: HaltAction::PowerOff,
        sync: true,
        syscall: false,
        after: AfterHalt::Exit(RunitExit::Halt),
    };
    let mut want = vec![say(Message::LeaveStage(S3))];
    want.extend(final_effects(Effect::Halt(halt)));
    assert_eq!(s.take(), want);
}

#[test]
fn container_sigterm_in_stage_1_skips_stage_2() {
    let mut s = Sim::container(9);
    s.take();
    let pid = s.pid(S1);
    s.signal(Sig::Term);
    assert_eq!(s.take(), vec![say(Message::ShutdownRequest), kill(pid, libc::SIGTERM, false)]);
    s.exit(S1, WaitStatus::signaled(libc::SIGTERM, false));
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S1)), say(Message::SkippingStage2), Effect::Spawn(S3)]);
}

#[test]
fn container_sigterm_in_stage_3_is_ignored() {
    let mut s = Sim::container(9);
    s.boot_to_stage2();
    s.exit(S2, ok());
    s.take();
    s.signal(Sig::Term);
    assert_eq!(s.take(), vec![]);
}

#[test]
fn budget_bounds_the_whole_shutdown() {
    let mut s = Sim::container(9);
    s.boot_to_stage2();
    let stage2 = s.pid(S2);
    s.signal(Sig::Term);
    s.take();
    // Stage 2 ignores TERM: runit's 5 s, then KILL.
    s.advance(STOP_WAIT);
    assert_eq!(s.take(), vec![say(Message::NotTerminated(Stage::Two)), kill(stage2, libc::SIGKILL, false)]);
    s.exit(S2, WaitStatus::signaled(libc::SIGKILL, false));
    s.take();
    // Stage 3 hangs: it gets what is left of the 9 s.
    s.advance(Duration::from_millis(3999));
    assert_eq!(s.take(), vec![]);
    s.advance(Duration::from_millis(1));
    let halt = Halt {
        action: HaltAction::PowerOff,
        sync: true,
        syscall: false,
        after: AfterHalt::Exit(RunitExit::Halt),
    };
    let mut want = vec![say(Message::NotTerminated(Stage::Three))];
    want.extend(final_effects(Effect::Halt(halt)));
    assert_eq!(s.take(), want);
}

#[test]
fn budget_shorter_than_the_stop_wait_kills_stage_2_early() {
    let mut s = Sim::container(3);
    s.boot_to_stage2();
    let stage2 = s.pid(S2);
    s.signal(Sig::Term);
    s.take();
    s.advance(3 * SEC);
    assert_eq!(s.take(), vec![say(Message::NotTerminated(Stage::Two)), kill(stage2, libc::SIGKILL, false)]);
    s.advance(5 * SEC);
    assert_eq!(s.take(), vec![], "one KILL only");
    s.exit(S2, WaitStatus::signaled(libc::SIGKILL, false));
    // The budget is spent: stage 3 starts and is cut off at once.
    assert_eq!(s.take(), vec![say(Message::LeaveStage(S2)), Effect::Spawn(S3)]);
    s.advance(Duration::ZERO);
    assert_eq!(s.take().first(), Some(&say(Message::NotTerminated(Stage::Three))));
}

#[test]
fn budget_counts_from_stage_3_when_stage_2_ends_by_itself() {
    let mut s = Sim::new(Policy::runit(Some(4 * SEC)));
    s.boot_to_stage2();
    s.advance(100 * SEC);
    s.exit(S2, ok());
    s.take();
    s.advance(Duration::from_millis(3999));
    assert_eq!(s.take(), vec![]);
    s.advance(Duration::from_millis(1));
    assert_eq!(s.take().first(), Some(&say(Message::NotTerminated(Stage::Three))));
}

#[test]
fn no_budget_means_stage_3_may_take_forever() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.exit(S2, ok());
    s.take();
    s.advance(Duration::from_secs(3600));
    assert_eq!(s.take(), vec![]);
}

#[test]
fn container_reboot_request_exits_129() {
    let mut s = Sim::container(9);
    s.boot_to_stage2();
    s.exit(S2, ok());
    s.take();
    s.flags.reboot = true;
    s.exit(S3, ok());
    let halt = Halt {
        action: HaltAction::Reboot,
        sync: true,
        syscall: false,
        after: AfterHalt::Exit(RunitExit::Reboot),
    };
    assert_eq!(s.take().last(), Some(&Effect::Halt(halt)));
}

#[test]
fn container_halt_depends_on_the_namespace() {
    let flags = Flags::default();
    let p = Policy::container(None, PidNamespace::Unknown);
    assert_eq!(
        p.halt(&flags, true),
        Halt {
            action: HaltAction::PowerOff,
            sync: true,
            syscall: true,
            after: AfterHalt::Exit(RunitExit::Halt)
        }
    );
    // On the machine itself process 1 must never exit.
    let p = Policy::container(None, PidNamespace::Initial);
    assert_eq!(p.halt(&flags, true).after, AfterHalt::Pause);
    assert!(p.halt(&flags, true).syscall);
    let p = Policy::runit(None);
    assert_eq!(p.halt(&flags, false).after, AfterHalt::Pause);
}

#[test]
fn events_after_the_end_are_ignored() {
    let mut s = Sim::runit();
    s.boot_to_stage2();
    s.exit(S2, ok());
    s.exit(S3, ok());
    s.take();
    s.flags.stopit = true;
    s.signal(Sig::Cont);
    s.feed(Event::Reaped { pid: 1, status: ok() });
    assert_eq!(s.take(), vec![]);
}

#[test]
fn container_halt_after_a_failed_stage_1_exits_100() {
    let mut s = Sim::container(9);
    s.take();
    s.exit(S1, WaitStatus::exited(100));
    s.exit(S3, ok());
    let halt = Halt {
        action: HaltAction::PowerOff,
        sync: true,
        syscall: false,
        after: AfterHalt::Exit(RunitExit::BootFailed),
    };
    assert_eq!(s.take().last(), Some(&Effect::Halt(halt)));
}

#[test]
fn container_sigterm_in_stage_1_is_not_a_failed_boot() {
    let mut s = Sim::container(9);
    s.take();
    s.signal(Sig::Term);
    s.exit(S1, WaitStatus::signaled(libc::SIGTERM, false));
    s.exit(S3, ok());
    let last = s.take().pop();
    assert!(matches!(last, Some(Effect::Halt(Halt { after: AfterHalt::Exit(RunitExit::Halt), .. }))));
}

#[test]
fn timer_table_matches_the_slots() {
    for (i, t) in TIMERS.iter().enumerate() {
        assert_eq!(*t as usize, i, "{t:?}");
    }
}
