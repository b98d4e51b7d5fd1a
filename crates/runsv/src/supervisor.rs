//! runsv's state machine: the main service and its log service, fed events,
//! returning effects (supervise.md §5, §8-§13, §16). It holds no descriptors,
//! reads no clock and starts nothing; [`crate::driver`] performs the effects.
//!
//! # Calling protocol
//!
//! The driver mirrors runit's main loop (supervise.md §9). Each iteration:
//!
//! 1. `handle(Event::LoopStart)`: start `log/run`, `./finish` or `./run`
//!    when due;
//! 2. wait for something to happen (until [`Supervisor::next_deadline`]);
//! 3. `handle(Event::ChildExited)` for every reaped child;
//! 4. at most one `handle(Event::Control)` per control FIFO, main first;
//! 5. `handle(Event::Term)` if runsv received SIGTERM;
//! 6. `handle(Event::LoopEnd)`: the exit check.
//!
//! The driver performs the returned effects in order. Two kinds need an
//! answer before the rest makes sense: [`Effect::Spawn`] (answered with
//! `Spawned` or `SpawnFailed`) and [`Effect::Override`] (answered with
//! `OverrideDone`). The driver feeds the answer back at once and performs the
//! effects it returns *before* the remaining ones (depth first), exactly as
//! if runit's synchronous calls had returned. `now` must not go backwards.
//!
//! # Deliberate difference: the restart throttle is a deadline
//!
//! runit sleeps (blocking) for one full second when a `./run` that lived less
//! than a second ends (§9, quirk §16.5). Here the service is held down until
//! `now + 1 s` instead, and everything else keeps being processed meanwhile.
//! What `sv` sees during that second is runit's: state down, want up, the
//! new timestamp. Control bytes take effect at once instead of a second
//! later; `u` and `o` never start `./run` before the second is over (the
//! start happens when it ends), `d` and `x` cancel a start that `o` asked
//! for, and `x` lets runsv exit without waiting for the second to pass.
//!
//! # Extension: service health (docs/health.md)
//!
//! The main service also has a [`Tracker`]: readiness notices
//! ([`Event::Notify`]) and the ends of `./run` feed it; it answers with a
//! restart decision when the service goes down. Holds before a start form a
//! small timer table per service ([`Holds`]): runit's throttle, the fork
//! retry, and the restart policy's back-off; the start waits for the last
//! of them. After each event the supervisor derives the `supervise/health`
//! record and asks for a write ([`Effect::WriteHealth`]) only when it
//! changed. The 20-byte status record keeps runit's meaning: a service that
//! the policy gave up on is down and wanted down (as after `sv down`), and a
//! back-off looks like runit's throttle second (down, want up), only longer.

pub use crate::health::HealthConfig;
use crate::health::{Notice, Tracker, View};
pub use crate::holds::Hold;
use crate::holds::Holds;
use runit_core::control::ControlByte;
use runit_core::deaths::{Cause, Death};
use runit_core::health::{Health, Mechanism};
use runit_core::process::WaitStatus;
use runit_core::status::{State, Status, Want, stat_text};
use runit_core::tai::Tai64N;
use std::time::{Duration, Instant};

/// A `./run` that lived less than this is followed by a pause of this length.
pub const THROTTLE: Duration = Duration::from_secs(1);
/// After a failed `fork`, runit waits this long before trying again.
pub const FORK_RETRY: Duration = Duration::from_secs(5);

/// The two services a runsv supervises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// `./run` (and `./finish`).
    Main,
    /// `log/run`.
    Log,
}

/// The current time, in both clocks runsv needs.
#[derive(Debug, Clone, Copy)]
pub struct Now {
    /// For deadlines (the throttle).
    pub mono: Instant,
    /// For the status record's timestamp.
    pub stamp: Tai64N,
}

impl Now {
    /// Reads both clocks.
    pub fn read() -> Self {
        Now { mono: Instant::now(), stamp: Tai64N::now() }
    }
}

/// A process runsv starts for a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Child {
    /// `./run`.
    Run,
    /// `./finish <code> <status>` (supervise.md §11).
    Finish {
        /// Exit code of the ended process, or -1 for a signal death.
        code: i32,
        /// Its wait status `& 0xff`.
        status: i32,
    },
    /// `log/run`.
    Log,
}

impl Child {
    /// The service the process belongs to.
    pub fn which(self) -> Which {
        match self {
            Child::Run | Child::Finish { .. } => Which::Main,
            Child::Log => Which::Log,
        }
    }
}

/// What to do once an override script (`control/<c>`, §10) has run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Nothing: its result is ignored (`control/u`, `control/d`, `control/x`).
    Nothing,
    /// Send the byte's signal unless the script succeeded, then apply the
    /// byte's bookkeeping (`p`, `c`, `k`).
    Signal(ControlByte),
    /// Continue the stop procedure (§8.1) after `control/t`.
    Stop,
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Top of runit's main loop: start what should run.
    LoopStart,
    /// A child was reaped. `finish` tells whether the file `finish` can be
    /// opened for reading now (runit starts `./finish` only then).
    ChildExited {
        /// The reaped pid.
        pid: u32,
        /// Its wait status.
        status: WaitStatus,
        /// `open("finish", O_RDONLY)` succeeded.
        finish: bool,
    },
    /// One byte read from a control FIFO.
    Control {
        /// Whose FIFO.
        which: Which,
        /// The byte.
        byte: u8,
    },
    /// runsv received SIGTERM (acts as `x`, §12).
    Term,
    /// Answer to [`Effect::Spawn`]: the child runs with this pid.
    Spawned {
        /// What was started.
        child: Child,
        /// Its pid.
        pid: u32,
    },
    /// Answer to [`Effect::Spawn`]: `fork` failed.
    SpawnFailed {
        /// What could not be started.
        child: Child,
    },
    /// Answer to [`Effect::Override`]: `success` is runit's notion (the
    /// script exists, is owner-executable and `(status >> 8) == 0`).
    OverrideDone {
        /// The control byte.
        byte: u8,
        /// The continuation given in the effect.
        then: Then,
        /// Whether the script succeeded.
        success: bool,
    },
    /// Bottom of runit's main loop: the exit check (§12).
    LoopEnd,
    /// Extension: the `./run` with this pid (or a member of its process
    /// group) sent readiness notices. Ignored unless that `./run` is the
    /// current one. Notices read together come in one event, so that
    /// `supervise/health` shows them together (`READY=1` with its
    /// `STATUS=`).
    Notify {
        /// The `./run` the driver attributed the notices to.
        pid: u32,
        /// What it said, in order.
        notices: Vec<Notice>,
    },
}

/// One update of a service's `pid`/`stat`/`status` files (§4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Whose files.
    pub which: Which,
    /// `Some(pid)` when `pid` must be rewritten (runit's "pid changed" flag).
    pub pid: Option<u32>,
    /// The `stat` line.
    pub stat: String,
    /// The 20-byte record.
    pub status: Status,
}

/// Something for the driver to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Start a process; answer with `Spawned` or `SpawnFailed`.
    Spawn(Child),
    /// Run `control/<byte>` if it exists and is owner-executable, wait for
    /// it, and answer with `OverrideDone`.
    Override {
        /// The control byte (the script's name).
        byte: u8,
        /// Handed back in the answer.
        then: Then,
    },
    /// `kill(pid, sig)`: the process only, as runit does.
    Signal {
        /// Target pid (never 0).
        pid: u32,
        /// Signal number.
        sig: i32,
    },
    /// Rewrite the service's files.
    WriteStatus(Record),
    /// runit-rs extension: the process group `pgid` belonged to a service
    /// process that has ended for good (or was told to stop); TERM+CONT its
    /// remaining members now and KILL them after a bounded wait. An empty
    /// group (`kill(-pgid, 0)` fails with ESRCH) needs nothing more.
    ///
    /// Asked for after the restart that the same death may allow, never
    /// before it: at the end of the next [`Event::LoopStart`]'s effects
    /// (or, when runsv is about to exit, right before [`Effect::Exit`]),
    /// so that the work of a sweep is not on the path from a death to the
    /// new `./run`. The driver checks [`Supervisor::sweep_due`] first.
    Sweep {
        /// The group (the ended process's pid).
        pgid: u32,
    },
    /// Close both ends of the log pipe so `log/run` sees end-of-file.
    CloseLogPipe,
    /// Extension: replace `supervise/health`.
    WriteHealth(Health),
    /// Extension: append to `supervise/deaths`.
    RecordDeath(Death),
    /// Exit with this code.
    Exit(i32),
}

/// One supervised service (main or log).
#[derive(Debug, Clone)]
struct Service {
    state: State,
    want: Want,
    paused: bool,
    got_term: bool,
    /// runsv signalled the process to stop (TERM or KILL): its group gets
    /// swept when it ends, even if the service is wanted up.
    stop_sent: bool,
    pid: u32,
    stamp: Tai64N,
    /// When the current or last `./run` started (for the throttle).
    run_started: Option<Instant>,
    wait_status: WaitStatus,
    /// No start before the latest of these (the timer table).
    holds: Holds,
    /// The restart policy gave up (main only, extension): want is down
    /// until `u` or `o` starts it again (`d` clears it too).
    failed: bool,
    /// `o` asked for one start while the service was down.
    once: bool,
    /// The exit sequence closed the log pipe (log only).
    closing: bool,
}

impl Service {
    fn new(down: bool, now: Now) -> Self {
        Service {
            state: State::Down,
            want: if down { Want::Down } else { Want::Up },
            paused: false,
            got_term: false,
            stop_sent: false,
            pid: 0,
            stamp: now.stamp,
            run_started: None,
            wait_status: WaitStatus(0),
            holds: Holds::default(),
            failed: false,
            once: false,
            closing: false,
        }
    }

    fn running(&self) -> bool {
        self.state == State::Run
    }

    fn held(&self, now: Now) -> bool {
        self.holds.holding(now.mono)
    }

    /// A start is due once every hold has passed.
    fn wants_start(&self) -> bool {
        self.pid == 0
            && (self.state == State::Finish || (!self.failed && (self.want == Want::Up || self.once)))
    }

    fn status(&self) -> Status {
        Status {
            stamp: self.stamp,
            pid: self.pid,
            paused: self.paused,
            want: self.want.byte(),
            got_term: self.got_term,
            state: self.state,
        }
    }
}

/// How the service directory looked at start-up (§2 steps 3-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Layout {
    /// `down` exists.
    pub down: bool,
    /// `log/` is a directory: `Some(log/down exists)`.
    pub log: Option<bool>,
}

/// The state of one runsv: main service, optional log service.
#[derive(Debug)]
pub struct Supervisor {
    main: Service,
    log: Option<Service>,
    /// runit's single "pid changed" flag, shared by both services (§4):
    /// set at start-up, consumed by whichever service writes next.
    pid_changed: bool,
    exiting: bool,
    /// The main pid is a `./run` (not `./finish`).
    main_is_run: bool,
    health: Tracker,
    /// Groups to sweep, asked for at the end of the next loop start (see
    /// [`Effect::Sweep`]).
    sweeps: Vec<u32>,
    out: Vec<Effect>,
}

impl Supervisor {
    /// The initial state (§2 step 3-4): down, want up unless `down` exists,
    /// timestamps = now.
    pub fn new(layout: Layout, now: Now) -> Self {
        Self::with_health(layout, HealthConfig::default(), now)
    }

    /// As [`Supervisor::new`], for a main service with a readiness
    /// mechanism and/or a restart policy (extension).
    pub fn with_health(layout: Layout, health: HealthConfig, now: Now) -> Self {
        Supervisor {
            main: Service::new(layout.down, now),
            log: layout.log.map(|down| Service::new(down, now)),
            pid_changed: true,
            exiting: false,
            main_is_run: false,
            health: Tracker::new(health.mechanism, health.policy),
            sweeps: Vec::new(),
            out: Vec::new(),
        }
    }

    /// The pid of the current `./run` (0 if none, or `./finish` runs).
    pub fn run_pid(&self) -> u32 {
        if self.main_is_run && self.main.state == State::Run { self.main.pid } else { 0 }
    }

    /// The `supervise/health` record to write at start-up (extension).
    pub fn initial_health(&mut self, now: Now) -> Option<Health> {
        self.health.changed(self.health_view(), now)
    }

    /// True if there is a log service.
    pub fn has_log(&self) -> bool {
        self.log.is_some()
    }

    /// The pid of a service's current process (0 if none).
    pub fn pid(&self, which: Which) -> u32 {
        self.service(which).map_or(0, |s| s.pid)
    }

    /// The record to write at start-up (§2 steps 9-10).
    pub fn initial_record(&mut self, which: Which) -> Option<Record> {
        self.write(which);
        match self.out.pop() {
            Some(Effect::WriteStatus(r)) => Some(r),
            _ => None,
        }
    }

    /// When the driver must wake up even if nothing happens: the end of a
    /// hold on a service that has a start due. `None`: sleep until an event.
    pub fn next_deadline(&self) -> Option<Instant> {
        [Some(&self.main), self.log.as_ref()]
            .into_iter()
            .flatten()
            .filter(|s| s.wants_start() && !(s.closing || self.exiting))
            .filter_map(|s| s.holds.release())
            .min()
    }

    /// Feeds one event; returns the effects to perform, in order.
    pub fn handle(&mut self, event: Event, now: Now) -> Vec<Effect> {
        if self.exiting {
            return Vec::new();
        }
        match event {
            Event::LoopStart => {
                self.start_due(now);
                self.queue_sweeps();
            }
            Event::ChildExited { pid, status, finish } => self.reaped(pid, status, finish, now),
            Event::Control { which, byte } => self.control(which, byte),
            Event::Term => self.control(Which::Main, b'x'),
            Event::Spawned { child, pid } => self.spawned(child, pid, now),
            Event::SpawnFailed { child } => self.spawn_failed(child, now),
            Event::OverrideDone { byte, then, success } => self.override_done(byte, then, success),
            Event::LoopEnd => self.exit_check(),
            Event::Notify { pid, notices } => self.notified(pid, notices),
        }
        if !self.exiting
            && let Some(h) = self.health.changed(self.health_view(), now)
        {
            // A service that declares readiness is awaited through this
            // record (sv's `check`): it must be on disk before the status
            // record that names the new process, or sv would read "no
            // record" for it, take it for C runsv's service and run
            // `./check` instead of waiting.
            let at = if h.mechanism == Mechanism::None {
                self.out.len()
            } else {
                self.out.iter().position(|e| matches!(e, Effect::WriteStatus(_))).unwrap_or(self.out.len())
            };
            self.out.insert(at, Effect::WriteHealth(h));
        }
        std::mem::take(&mut self.out)
    }

    // ----- starting (§9 steps 1-2) -----

    fn start_due(&mut self, now: Now) {
        if let Some(log) = &self.log
            && log.pid == 0
            && log.want == Want::Up
            && !log.held(now)
        {
            self.out.push(Effect::Spawn(Child::Log));
        }
        let main = &self.main;
        if !main.wants_start() || main.held(now) {
            return;
        }
        if main.state == State::Finish {
            let (code, status) = main.wait_status.finish_args();
            self.out.push(Effect::Spawn(Child::Finish { code, status }));
        } else {
            // control/u runs before every start of ./run; its result is ignored.
            self.out.push(Effect::Override { byte: b'u', then: Then::Nothing });
            self.out.push(Effect::Spawn(Child::Run));
        }
    }

    /// The sweeps asked for since the last loop start, after whatever this
    /// one restarted.
    fn queue_sweeps(&mut self) {
        for pgid in std::mem::take(&mut self.sweeps) {
            self.out.push(Effect::Sweep { pgid });
        }
    }

    /// For the driver, right before it performs [`Effect::Sweep`]: false
    /// when `pgid` has become the group of a service process started since
    /// the sweep was asked for. The kernel hands out a pid only while no
    /// group uses it as its id, so the group the sweep was meant for was
    /// empty: there is nothing to sweep, and the new process must not be
    /// touched. (The pids wrap around for this to happen; it is a corner,
    /// but a sweep asked for before a restart and performed after it must
    /// not hit the restarted process.) When runsv is exiting nothing is
    /// started any more, and the group of a killed `./run` not yet reaped
    /// (`x` then `k`) is swept as asked.
    pub fn sweep_due(&self, pgid: u32) -> bool {
        if self.exiting {
            return pgid != 0;
        }
        pgid != 0 && pgid != self.main.pid && self.log.as_ref().is_none_or(|l| l.pid != pgid)
    }

    fn spawned(&mut self, child: Child, pid: u32, now: Now) {
        let which = child.which();
        self.pid_changed = true;
        if which == Which::Main {
            self.main_is_run = child == Child::Run;
            if child == Child::Run {
                self.health.started();
            }
        }
        let Some(s) = self.service_mut(which) else { return };
        s.pid = pid;
        s.paused = false;
        s.got_term = false;
        s.stop_sent = false;
        s.holds.clear();
        if let Child::Finish { .. } = child {
            // The finish state keeps the run's timestamp (§5).
            s.state = State::Finish;
        } else {
            s.state = State::Run;
            s.stamp = now.stamp;
            s.run_started = Some(now.mono);
            s.once = false;
        }
        self.write(which);
    }

    fn spawn_failed(&mut self, child: Child, now: Now) {
        if let Some(s) = self.service_mut(child.which()) {
            s.holds.set(Hold::ForkRetry, Some(now.mono + FORK_RETRY));
        }
    }

    // ----- reaping (§9 step 4) -----

    fn reaped(&mut self, pid: u32, status: WaitStatus, finish: bool, now: Now) {
        if pid == 0 {
            return;
        }
        if self.main.pid == pid {
            self.main_ended(status, finish, now);
        } else if self.log.as_ref().is_some_and(|l| l.pid == pid) {
            self.log_ended(now);
        }
    }

    fn main_ended(&mut self, status: WaitStatus, finish: bool, now: Now) {
        let pgid = self.main.pid;
        self.pid_changed = true;
        let was_run = std::mem::take(&mut self.main_is_run);
        let m = &mut self.main;
        m.pid = 0;
        m.wait_status = status;
        let stopped = m.got_term || m.stop_sent;
        m.got_term = false;
        m.stop_sent = false;
        if was_run {
            let cause = match (stopped, m.want) {
                (true, _) => Cause::Stopped,
                (false, Want::Up) => Cause::Died,
                (false, _) => Cause::Ended,
            };
            let death = self.health.run_ended(now, m.run_started, status, cause, pgid);
            self.out.push(Effect::RecordDeath(death));
        }
        let m = &mut self.main;
        let down = !(m.state != State::Finish && finish);
        if down {
            m.state = State::Down;
            Self::throttle(m, now);
        } else {
            m.state = State::Finish;
        }
        let sweep = m.want != Want::Up || stopped;
        let given_up = if down { self.weigh_death(now) } else { None };
        self.write(Which::Main);
        if let Some(pgid) = given_up.or(sweep.then_some(pgid)) {
            self.sweeps.push(pgid);
        }
    }

    fn log_ended(&mut self, now: Now) {
        self.pid_changed = true;
        let Some(l) = self.log.as_mut() else { return };
        let pgid = l.pid;
        let sweep = l.want != Want::Up || l.got_term || l.stop_sent;
        l.pid = 0;
        l.state = State::Down;
        l.got_term = false;
        l.stop_sent = false;
        Self::throttle(l, now);
        self.write(Which::Log);
        if sweep {
            self.sweeps.push(pgid);
        }
    }

    /// The service became down: new timestamp, and a hold of one full second
    /// if `./run` started less than a second ago (§9).
    fn throttle(s: &mut Service, now: Now) {
        if s.run_started.is_some_and(|t| now.mono < t + THROTTLE) {
            s.holds.set(Hold::Throttle, Some(now.mono + THROTTLE));
        }
        s.stamp = now.stamp;
    }

    // ----- control bytes (§8) -----

    fn control(&mut self, which: Which, byte: u8) {
        let Some(c) = ControlByte::from_byte(byte) else { return };
        // Once the exit sequence closed the log pipe runsv is committed to
        // exiting: ./run could never be given its logger again, so no byte
        // on either FIFO may change that. (runit would restart ./run after
        // `x` then `u` with its stdout gone, failing every second, for good;
        // a fresh runsv from runsvdir is the way back.)
        let closing = self.log.as_ref().is_some_and(|l| l.closing);
        if closing || self.service(which).is_none() {
            return;
        }
        match c {
            ControlByte::Up => self.up(which),
            ControlByte::Down => self.down(which),
            ControlByte::Once => self.once(which),
            ControlByte::Exit => self.exit(which),
            ControlByte::Term => self.term(which),
            ControlByte::Kill
            | ControlByte::Pause
            | ControlByte::Cont
            | ControlByte::Hup
            | ControlByte::Alarm
            | ControlByte::Interrupt
            | ControlByte::Quit
            | ControlByte::Usr1
            | ControlByte::Usr2 => self.signal(which, c),
        }
    }

    /// `u`: want up; the start happens at the top of the next iteration.
    /// Extension: clears a given-up failure and cuts a back-off short (the
    /// count is kept). `sv up`/`sv start` never send `u` while want is
    /// already up (sv.md §4), so during a back-off only a deliberate `u`
    /// arrives: `sv restart`'s `tcu`.
    fn up(&mut self, which: Which) {
        self.clear_failure(which);
        if which == Which::Main {
            self.main.holds.set(Hold::Backoff, None);
        }
        self.set_want(which, Want::Up);
        self.write(which);
    }

    /// `d`: want down; stop a running process. Extension: also ends any
    /// crash loop (failure, back-off and its count).
    fn down(&mut self, which: Which) {
        self.clear_failure(which);
        if which == Which::Main {
            self.main.holds.set(Hold::Backoff, None);
            self.health.reset();
        }
        self.set_want(which, Want::Down);
        self.write(which);
        self.stop_if_running(which);
    }

    /// `o`: want down; start once if no process exists.
    fn once(&mut self, which: Which) {
        self.clear_failure(which);
        self.set_want(which, Want::Down);
        if let Some(s) = self.service_mut(which)
            && s.pid == 0
            && s.state == State::Down
        {
            s.once = true;
        }
        self.write(which);
    }

    /// `x`: want exit (main only; ignored on the log's FIFO).
    fn exit(&mut self, which: Which) {
        if which == Which::Log {
            return;
        }
        self.set_want(which, Want::Exit);
        self.write(which);
        self.stop_if_running(which);
    }

    /// `t`: the stop procedure, whatever is wanted.
    fn term(&mut self, which: Which) {
        self.stop_if_running(which);
    }

    fn set_want(&mut self, which: Which, want: Want) {
        if let Some(s) = self.service_mut(which) {
            s.want = want;
            if want != Want::Up {
                s.once = false;
            }
        }
    }

    /// §8.1 step 1: `control/t` (main only), then TERM unless it succeeded.
    fn stop_if_running(&mut self, which: Which) {
        if !self.service(which).is_some_and(Service::running) {
            return;
        }
        match which {
            Which::Main => self.out.push(Effect::Override { byte: b't', then: Then::Stop }),
            Which::Log => self.stop_continue(which, false),
        }
    }

    /// §8.1 steps 1 (TERM) to 3 (CONT and `control/d` or `control/x`).
    fn stop_continue(&mut self, which: Which, suppressed: bool) {
        let Some(s) = self.service_mut(which) else { return };
        let pid = s.pid;
        if pid == 0 {
            return;
        }
        if !suppressed {
            s.got_term = true;
            s.stop_sent = true;
            self.out.push(Effect::Signal { pid, sig: libc::SIGTERM });
            self.write(which);
        }
        let after = match self.service(which).map(|s| s.want) {
            Some(Want::Down) => b'd',
            Some(Want::Exit) => b'x',
            _ => return,
        };
        // CONT is sent without consulting control/c (§8.1).
        self.out.push(Effect::Signal { pid, sig: libc::SIGCONT });
        if which == Which::Main {
            self.out.push(Effect::Override { byte: after, then: Then::Nothing });
        }
    }

    /// `k p c h a i q 1 2`: when running, `control/<c>` (main only) and the
    /// signal unless it succeeded; then the byte's bookkeeping.
    fn signal(&mut self, which: Which, c: ControlByte) {
        if !self.service(which).is_some_and(Service::running) {
            self.after_signal(which, c);
        } else if which == Which::Main {
            self.out.push(Effect::Override { byte: c.byte(), then: Then::Signal(c) });
        } else {
            self.signal_continue(which, c, false);
        }
    }

    fn signal_continue(&mut self, which: Which, c: ControlByte, suppressed: bool) {
        let pid = self.pid(which);
        if let (false, Some(sig), true) = (suppressed, c.signal(), pid != 0) {
            if c == ControlByte::Kill
                && let Some(s) = self.service_mut(which)
            {
                s.stop_sent = true;
            }
            self.out.push(Effect::Signal { pid, sig });
        }
        self.after_signal(which, c);
    }

    /// What `p`, `c` and `k` do whether or not a signal was sent (§8, §16).
    fn after_signal(&mut self, which: Which, c: ControlByte) {
        let Some(s) = self.service_mut(which) else { return };
        match c {
            // Paused is set even when nothing runs or control/p succeeded.
            ControlByte::Pause => s.paused = true,
            ControlByte::Cont => s.paused = false,
            // Quirk §16.1/2: the state becomes down without a status update.
            ControlByte::Kill => {
                s.state = State::Down;
                return;
            }
            _ => return,
        }
        self.write(which);
    }

    fn override_done(&mut self, _byte: u8, then: Then, success: bool) {
        match then {
            Then::Nothing => {}
            Then::Signal(c) => self.signal_continue(Which::Main, c, success),
            Then::Stop => self.stop_continue(Which::Main, success),
        }
    }

    // ----- exit (§12) -----

    fn exit_check(&mut self) {
        if self.main.want != Want::Exit || self.main.state != State::Down {
            return;
        }
        match self.log.as_mut() {
            // After `k` the state is down before ./run is reaped (§16.1):
            // keep the pipe until it is, and until the ./finish that
            // follows has ended, so that neither writes anywhere but to
            // the logger (runit closes the pipe at once, and then fails to
            // start ./finish: "unable to setup filedescriptor").
            Some(log) if log.pid != 0 && self.main.pid != 0 => {}
            Some(log) if log.pid != 0 => {
                if !log.closing {
                    log.closing = true;
                    log.want = Want::Exit;
                    self.write(Which::Log);
                    self.out.push(Effect::CloseLogPipe);
                }
            }
            _ => {
                // After `x` then `k` the killed ./run is not reaped (§16.1);
                // its process group is still swept (extension).
                if self.main.pid != 0 {
                    self.sweeps.push(self.main.pid);
                }
                self.queue_sweeps();
                self.exiting = true;
                self.out.push(Effect::Exit(0));
            }
        }
    }

    // ----- status -----

    fn write(&mut self, which: Which) {
        let Some(s) = self.service(which) else { return };
        let status = s.status();
        let stat = stat_text(s.state, s.paused, s.got_term, s.want);
        let pid = std::mem::take(&mut self.pid_changed).then_some(status.pid);
        self.out.push(Effect::WriteStatus(Record { which, pid, stat, status }));
    }

    fn service(&self, which: Which) -> Option<&Service> {
        match which {
            Which::Main => Some(&self.main),
            Which::Log => self.log.as_ref(),
        }
    }

    fn service_mut(&mut self, which: Which) -> Option<&mut Service> {
        match which {
            Which::Main => Some(&mut self.main),
            Which::Log => self.log.as_mut(),
        }
    }
}

#[path = "supervisor_health.rs"]
mod health_rules;

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
