//! The stage machine of process 1, without I/O (runit-init.md §2-§3, §6).
//!
//! [`Runit`] decides what process 1 does; it never forks, signals, reads a
//! file or the clock. The driver feeds it [`Event`]s with the current time
//! and a [`Flags`] snapshot (the flag files as they are now), and performs
//! the [`Effect`]s it queues. Calling protocol:
//!
//! 1. [`Runit::new`], then drain [`Runit::poll_effect`];
//! 2. perform each effect; a [`Effect::Spawn`] is answered at once with
//!    [`Runit::spawned`] (the pid, or the fork's errno);
//! 3. sleep until a signal arrives or [`Runit::next_deadline`] passes;
//!    reap every child and feed [`Event::Reaped`] for each, then the
//!    signals, then [`Event::Timeout`] if the deadline has passed; go to 2.
//!
//! runit 2.3.0 rules kept here: stages 1, 2, 3 in order; stage 1 crashing
//! or exiting 100 skips stage 2; stage 2 crashing (a signal death counts,
//! unlike 2.1.2) or exiting 111 has its process group killed and is
//! restarted after 5 s; CONT and INT only work in stage 2; CONT with the
//! stopit flag set consumes the flag, TERMs stage 2 and KILLs it after 5 s;
//! INT runs `ctrlaltdel` when it is executable and then acts as CONT; after
//! stage 3 everything is killed and the machine halts or reboots. runit
//! wakes at least every 14 s to reap ([`SWEEP`]).
//!
//! Container mode and the shutdown budget are configurations of the same
//! machine ([`Policy`]): SIGTERM becomes a shutdown request (in stage 1
//! too), a deadline bounds the whole shutdown, and the final halt may end
//! process 1 with an exit status.

#[cfg(test)]
mod tests;

use crate::exit::RunitExit;
use crate::message::Message;
use runit_core::process::WaitStatus;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long stage 2 (or, in container mode, stage 1) has after SIGTERM.
pub const STOP_WAIT: Duration = Duration::from_secs(5);
/// The pause before a crashed stage 2 starts again.
pub const RESTART_PAUSE: Duration = Duration::from_secs(5);
/// The pause before a failed fork is retried.
pub const FORK_RETRY: Duration = Duration::from_secs(5);
/// runit's longest sleep: it reaps at least this often.
pub const SWEEP: Duration = Duration::from_secs(14);

/// One of runit's three stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// `/etc/runit/1`: one-time initialisation.
    One,
    /// `/etc/runit/2`: normally execs runsvdir; runs until shutdown.
    Two,
    /// `/etc/runit/3`: stops the services.
    Three,
}

impl Stage {
    /// 1, 2 or 3.
    pub fn number(self) -> u8 {
        match self {
            Stage::One => 1,
            Stage::Two => 2,
            Stage::Three => 3,
        }
    }
}

/// A script process 1 runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// A stage script.
    Stage(Stage),
    /// `/etc/runit/ctrlaltdel`.
    CtrlAltDel,
}

/// The signals process 1 acts on (SIGCHLD only wakes it up to reap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    /// SIGCONT: shut down if the stopit flag is set.
    Cont,
    /// SIGINT: Ctrl-Alt-Del.
    Int,
    /// SIGTERM: a shutdown request in container mode; blocked otherwise.
    Term,
}

/// The flag files, as the driver found them when the event arrived.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `stopit` exists with the owner-execute bit.
    pub stopit: bool,
    /// `reboot` exists with the owner-execute bit.
    pub reboot: bool,
    /// `ctrlaltdel` exists with the owner-execute bit.
    pub ctrlaltdel: bool,
    /// `nosync` exists.
    pub nosync: bool,
}

/// Something that happened to process 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A child (any child: orphans are reaped too) was reaped.
    Reaped {
        /// Its pid.
        pid: i32,
        /// Its wait status.
        status: WaitStatus,
    },
    /// A signal arrived.
    Signal(Sig),
    /// [`Runit::next_deadline`] has passed.
    Timeout,
}

/// Something process 1 must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Print a line on the console.
    Say(Message),
    /// Fork and exec a script; answer with [`Runit::spawned`].
    Spawn(Job),
    /// `kill(pid, sig)`, or `kill(-pid, sig)` for the process group.
    Kill {
        /// The process (or group leader).
        pid: i32,
        /// The signal.
        sig: i32,
        /// Signal the process group `pid`.
        group: bool,
    },
    /// `chmod(stopit, 0)`: the request is consumed, not deleted.
    ConsumeStopit,
    /// `kill(-1, SIGKILL)`.
    KillAll,
    /// The last step; see [`Halt`].
    Halt(Halt),
}

/// What the kernel is asked for at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaltAction {
    /// `reboot(RB_AUTOBOOT)`.
    Reboot,
    /// `reboot(RB_POWER_OFF)`, then 2 s later `reboot(RB_HALT_SYSTEM)`.
    PowerOff,
}

/// What process 1 does once the reboot call returned (or was skipped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterHalt {
    /// runit: sleep forever.
    Pause,
    /// Container mode: exit with this status.
    Exit(RunitExit),
}

/// The final step after stage 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Halt {
    /// Reboot or power off.
    pub action: HaltAction,
    /// `sync()` first (unless the nosync flag exists).
    pub sync: bool,
    /// Call `reboot(2)` (from a child, as runit does).
    pub syscall: bool,
    /// Then pause or exit.
    pub after: AfterHalt,
}

/// Which PID namespace process 1 is in, as far as the driver can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PidNamespace {
    /// The machine's own: process 1 must never exit.
    Initial,
    /// A container's: `reboot(2)` would only end the namespace.
    Child,
    /// No evidence either way.
    Unknown,
}

/// How process 1 behaves: runit's way, or container mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// SIGTERM is a shutdown request (container mode).
    pub term_stops: bool,
    /// The time from the start of a shutdown to the final SIGKILL.
    pub budget: Option<Duration>,
    /// Exit instead of pausing when the halt cannot or should not be done
    /// (container mode outside the initial PID namespace).
    pub exit_at_halt: bool,
    /// Where process 1 runs.
    pub namespace: PidNamespace,
}

impl Policy {
    /// runit 2.3.0's behaviour, optionally with a shutdown budget.
    pub fn runit(budget: Option<Duration>) -> Self {
        Policy { term_stops: false, budget, exit_at_halt: false, namespace: PidNamespace::Unknown }
    }

    /// Container mode.
    pub fn container(budget: Option<Duration>, namespace: PidNamespace) -> Self {
        Policy { term_stops: true, budget, exit_at_halt: true, namespace }
    }

    /// The final step for these flags; `booted` is false when stage 1
    /// failed (crashed or exited 100) and stage 2 was skipped for it.
    fn halt(&self, flags: &Flags, booted: bool) -> Halt {
        let action = if flags.reboot { HaltAction::Reboot } else { HaltAction::PowerOff };
        let code = match action {
            HaltAction::Reboot => RunitExit::Reboot,
            HaltAction::PowerOff if booted => RunitExit::Halt,
            HaltAction::PowerOff => RunitExit::BootFailed,
        };
        let (syscall, after) = match (self.exit_at_halt, self.namespace) {
            // The kernel would end the namespace with a signal death; a
            // clean exit status tells the runtime more.
            (true, PidNamespace::Child) => (false, AfterHalt::Exit(code)),
            // Try as runit does; if process 1 is still here, exit.
            (true, PidNamespace::Unknown) => (true, AfterHalt::Exit(code)),
            // Process 1 of the machine must never exit.
            _ => (true, AfterHalt::Pause),
        };
        Halt { action, sync: !flags.nosync, syscall, after }
    }
}

/// Where the stages are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// A stage's process is being forked (or the fork is retried).
    Starting(Stage),
    /// A stage's process runs.
    Running { stage: Stage, pid: i32 },
    /// Stage 1 or 2 got SIGTERM for a shutdown; SIGKILL follows.
    Stopping { stage: Stage, pid: i32, killed: bool },
    /// Stage 2 crashed; its group was killed; it restarts after a pause.
    Restarting,
    /// After stage 3: everything killed, halting.
    Final,
}

/// The `ctrlaltdel` script, which runs beside the stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CtrlAltDel {
    Idle,
    Starting,
    Running(i32),
}

/// The named timers (the discriminant is the slot in [`Timers`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// runit's 14-second reap.
    Sweep,
    /// Retry forking the current stage.
    Retry,
    /// Retry forking ctrlaltdel.
    CtrlAltDelRetry,
    /// SIGKILL for a stage that got SIGTERM.
    Stop,
    /// Start stage 2 again.
    Restart,
    /// The shutdown budget runs out.
    Budget,
}

const TIMERS: [Timer; 6] =
    [Timer::Sweep, Timer::Retry, Timer::CtrlAltDelRetry, Timer::Stop, Timer::Restart, Timer::Budget];

/// Deadlines indexed by [`Timer`].
#[derive(Debug, Clone, Default)]
struct Timers([Option<Instant>; TIMERS.len()]);

impl Timers {
    fn set(&mut self, t: Timer, at: Instant) {
        self.0[t as usize] = Some(at);
    }

    fn clear(&mut self, t: Timer) {
        self.0[t as usize] = None;
    }

    fn next(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }

    /// The timers due at `now`, cleared, in table order.
    fn take_due(&mut self, now: Instant) -> Vec<Timer> {
        let due: Vec<Timer> =
            TIMERS.into_iter().filter(|&t| self.0[t as usize].is_some_and(|at| at <= now)).collect();
        for &t in &due {
            self.clear(t);
        }
        due
    }
}

/// Process 1's decisions (see the module documentation for the protocol).
#[derive(Debug)]
pub struct Runit {
    policy: Policy,
    phase: Phase,
    ctrlaltdel: CtrlAltDel,
    /// When the shutdown budget runs out, once a shutdown has begun.
    deadline: Option<Instant>,
    /// Stage 1 crashed or exited 100 (container mode reports it).
    boot_failed: bool,
    timers: Timers,
    effects: VecDeque<Effect>,
}

impl Runit {
    /// Boots: queues the banner and the start of stage 1.
    pub fn new(policy: Policy, now: Instant) -> Self {
        let mut r = Runit {
            policy,
            phase: Phase::Final,
            ctrlaltdel: CtrlAltDel::Idle,
            deadline: None,
            boot_failed: false,
            timers: Timers::default(),
            effects: VecDeque::new(),
        };
        r.say(Message::Booting);
        r.start(Stage::One);
        r.timers.set(Timer::Sweep, now + SWEEP);
        r
    }

    /// The next effect to perform.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// When [`Event::Timeout`] is due, if ever.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// True once the final step was queued.
    pub fn is_final(&self) -> bool {
        self.phase == Phase::Final
    }

    /// Feeds one event.
    pub fn handle(&mut self, event: Event, now: Instant, flags: &Flags) {
        if self.phase == Phase::Final {
            return;
        }
        match event {
            Event::Reaped { pid, status } => self.reaped(pid, status, now, flags),
            Event::Signal(sig) => self.signal(sig, now, flags),
            Event::Timeout => {
                for t in self.timers.take_due(now) {
                    self.fire(t, flags);
                }
            }
        }
        if self.phase != Phase::Final {
            self.timers.set(Timer::Sweep, now + SWEEP);
        }
    }

    /// The result of a [`Effect::Spawn`]: the child's pid or the fork's
    /// errno.
    pub fn spawned(&mut self, job: Job, result: Result<i32, i32>, now: Instant) {
        match (job, result) {
            (Job::Stage(s), Ok(pid)) if self.phase == Phase::Starting(s) => {
                self.phase = Phase::Running { stage: s, pid };
            }
            (Job::Stage(s), Err(errno)) if self.phase == Phase::Starting(s) => {
                self.say(Message::UnableToFork(job, errno));
                self.timers.set(Timer::Retry, now + FORK_RETRY);
            }
            (Job::CtrlAltDel, Ok(pid)) if self.ctrlaltdel == CtrlAltDel::Starting => {
                self.ctrlaltdel = CtrlAltDel::Running(pid);
            }
            (Job::CtrlAltDel, Err(errno)) if self.ctrlaltdel == CtrlAltDel::Starting => {
                self.say(Message::UnableToFork(job, errno));
                self.timers.set(Timer::CtrlAltDelRetry, now + FORK_RETRY);
            }
            // Answers that no longer match the phase cannot happen with a
            // synchronous driver; there is nothing to do with them.
            _ => {}
        }
    }

    fn say(&mut self, m: Message) {
        self.effects.push_back(Effect::Say(m));
    }

    fn kill(&mut self, pid: i32, sig: i32, group: bool) {
        self.effects.push_back(Effect::Kill { pid, sig, group });
    }

    fn start(&mut self, stage: Stage) {
        self.phase = Phase::Starting(stage);
        self.effects.push_back(Effect::Spawn(Job::Stage(stage)));
    }

    /// True while CONT and INT are honoured.
    fn in_stage2(&self) -> bool {
        matches!(
            self.phase,
            Phase::Starting(Stage::Two) | Phase::Running { stage: Stage::Two, .. } | Phase::Restarting
        )
    }

    fn reaped(&mut self, pid: i32, status: WaitStatus, now: Instant, flags: &Flags) {
        if self.ctrlaltdel == CtrlAltDel::Running(pid) {
            self.ctrlaltdel = CtrlAltDel::Idle;
            self.say(Message::LeaveStage(Job::CtrlAltDel));
            // runit then behaves as if SIGCONT had arrived too.
            self.signal(Sig::Cont, now, flags);
            return;
        }
        match self.phase {
            Phase::Running { stage, pid: p } if p == pid => self.stage_ended(stage, pid, status, now, flags),
            Phase::Stopping { stage, pid: p, .. } if p == pid => {
                self.timers.clear(Timer::Stop);
                self.say(Message::LeaveStage(Job::Stage(stage)));
                if stage == Stage::One {
                    self.say(Message::SkippingStage2);
                }
                self.enter_stage3(now);
            }
            // An orphan: reaping it was all there was to do.
            _ => {}
        }
    }

    fn stage_ended(&mut self, stage: Stage, pid: i32, status: WaitStatus, now: Instant, flags: &Flags) {
        let crashed = status.signal().is_some();
        let code = status.exit_code();
        if crashed {
            self.say(Message::ChildCrashed(stage));
        } else if code != Some(0) {
            self.say(Message::ChildFailed(stage));
        }
        match stage {
            Stage::One => {
                self.say(Message::LeaveStage(Job::Stage(Stage::One)));
                if crashed || code == Some(100) {
                    self.boot_failed = true;
                    self.say(Message::SkippingStage2);
                    self.enter_stage3(now);
                } else {
                    self.start(Stage::Two);
                }
            }
            Stage::Two if crashed || code == Some(111) => {
                self.say(Message::KillingStage2);
                // Stage 2 is a session leader: its pid names its group.
                self.kill(pid, libc::SIGKILL, true);
                self.phase = Phase::Restarting;
                self.timers.set(Timer::Restart, now + RESTART_PAUSE);
            }
            Stage::Two => {
                self.say(Message::LeaveStage(Job::Stage(Stage::Two)));
                self.enter_stage3(now);
            }
            Stage::Three => {
                self.say(Message::LeaveStage(Job::Stage(Stage::Three)));
                self.finish(flags);
            }
        }
    }

    fn signal(&mut self, sig: Sig, now: Instant, flags: &Flags) {
        match sig {
            Sig::Term => self.term(now),
            // While ctrlaltdel runs, runit is busy waiting for it; its end
            // acts as CONT anyway.
            _ if self.ctrlaltdel != CtrlAltDel::Idle => {}
            _ if !self.in_stage2() => self.say(Message::SignalsOnlyStage2),
            Sig::Cont => {
                if flags.stopit {
                    self.effects.push_back(Effect::ConsumeStopit);
                    self.stop(now);
                }
            }
            Sig::Int => {
                if flags.ctrlaltdel {
                    self.say(Message::CtrlAltDelRequest);
                    self.ctrlaltdel = CtrlAltDel::Starting;
                    self.effects.push_back(Effect::Spawn(Job::CtrlAltDel));
                }
            }
        }
    }

    /// Container mode's SIGTERM: stopit + CONT, also honoured in stage 1.
    fn term(&mut self, now: Instant) {
        if !self.policy.term_stops {
            return;
        }
        let stoppable = matches!(
            self.phase,
            Phase::Starting(Stage::One | Stage::Two)
                | Phase::Running { stage: Stage::One | Stage::Two, .. }
                | Phase::Restarting
        );
        if stoppable {
            self.say(Message::ShutdownRequest);
            self.stop(now);
        }
    }

    /// Begins a shutdown from stage 1 or 2.
    fn stop(&mut self, now: Instant) {
        if let (None, Some(budget)) = (self.deadline, self.policy.budget) {
            let deadline = now + budget;
            self.deadline = Some(deadline);
            self.timers.set(Timer::Budget, deadline);
        }
        match self.phase {
            Phase::Running { stage, pid } => {
                self.kill(pid, libc::SIGTERM, false);
                self.phase = Phase::Stopping { stage, pid, killed: false };
                self.timers.set(Timer::Stop, now + STOP_WAIT);
            }
            Phase::Starting(stage) => {
                self.timers.clear(Timer::Retry);
                if stage == Stage::One {
                    self.say(Message::SkippingStage2);
                }
                self.enter_stage3(now);
            }
            Phase::Restarting => {
                self.timers.clear(Timer::Restart);
                self.say(Message::LeaveStage(Job::Stage(Stage::Two)));
                self.enter_stage3(now);
            }
            Phase::Stopping { .. } | Phase::Final => {}
        }
    }

    fn enter_stage3(&mut self, now: Instant) {
        self.start(Stage::Three);
        if let Some(budget) = self.policy.budget {
            let deadline = *self.deadline.get_or_insert(now + budget);
            self.timers.set(Timer::Budget, deadline);
        }
    }

    fn fire(&mut self, timer: Timer, flags: &Flags) {
        match (timer, self.phase) {
            (Timer::Sweep, _) => {}
            (Timer::Retry, Phase::Starting(stage)) => {
                self.effects.push_back(Effect::Spawn(Job::Stage(stage)));
            }
            (Timer::CtrlAltDelRetry, _) if self.ctrlaltdel == CtrlAltDel::Starting => {
                self.effects.push_back(Effect::Spawn(Job::CtrlAltDel));
            }
            (Timer::Stop | Timer::Budget, Phase::Stopping { stage, pid, killed: false }) => {
                self.say(Message::NotTerminated(stage));
                self.kill(pid, libc::SIGKILL, false);
                self.phase = Phase::Stopping { stage, pid, killed: true };
            }
            (Timer::Restart, Phase::Restarting) => {
                self.say(Message::Restarting);
                self.start(Stage::Two);
            }
            (Timer::Budget, Phase::Running { stage: Stage::Three, .. }) => {
                // The final kill(-1, SIGKILL) takes stage 3 with it.
                self.say(Message::NotTerminated(Stage::Three));
                self.finish(flags);
            }
            (Timer::Budget, Phase::Starting(Stage::Three)) => self.finish(flags),
            _ => {}
        }
    }

    /// After stage 3: kill everything and halt.
    fn finish(&mut self, flags: &Flags) {
        self.phase = Phase::Final;
        self.timers = Timers::default();
        self.say(Message::SendingKill);
        self.effects.push_back(Effect::KillAll);
        let halt = self.policy.halt(flags, !self.boot_failed);
        self.effects.push_back(Effect::Halt(halt));
    }
}
