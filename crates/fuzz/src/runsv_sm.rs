//! runsv's state machine (crates/runsv/src/supervisor.rs) driven by a
//! simulated driver: the fuzzer decides which control bytes arrive on
//! which FIFO, which children exit and how, when SIGTERM comes, whether
//! fork fails, whether override scripts succeed, readiness notices and how
//! time passes. The driver follows the calling protocol of the module
//! (LoopStart, reaps, one byte per FIFO, Term, LoopEnd; answers depth
//! first) and checks, after every effect:
//!
//! * no duplicate instance: `./run`/`./finish` is never started while one
//!   of them is alive, `log/run` never while one is alive;
//! * signals go only to live children runsv started, never to pid 0;
//! * every status record is self-consistent (a run or finish state names a
//!   live process of that kind, `stat` is the text of the record) and
//!   survives encode/decode;
//! * runsv exits only after `x` or SIGTERM, with code 0, and with no log
//!   process left; nothing happens after the exit;
//! * health and death records survive encode/decode;
//! * convergence: once the input is used up and time passes with no more
//!   faults, a service that is wanted up runs (unless a restart policy gave
//!   up on it), and so does a log service that is wanted up.

use crate::input::Input;
use runit_core::health::Mechanism;
use runit_core::policy::Policy;
use runit_core::process::WaitStatus;
use runit_core::status::{State, Status, stat_text};
use runit_core::tai::Tai64N;
use runsv::health::Notice;
use runsv::supervisor::{Child, Effect, Event, HealthConfig, Layout, Now, Record, Supervisor, Which};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The simulated driver.
struct Sim {
    sup: Supervisor,
    t0: Instant,
    clock: Duration,
    next_pid: u32,
    /// Live children: pid -> what it is.
    live: BTreeMap<u32, Child>,
    /// `control/<c>` scripts: success per byte (absent: no script).
    overrides: [Option<bool>; 128],
    finish: bool,
    fork_fails: bool,
    exit_asked: bool,
    exited: bool,
    gives_up: bool,
    last_main: Option<Record>,
    last_log: Option<Record>,
    depth: usize,
    /// runsv closed the log pipe (exit sequence, §12).
    pipe_closed: bool,
}

impl Sim {
    fn now(&self) -> Now {
        let c = self.clock;
        Now {
            mono: self.t0 + c,
            stamp: Tai64N::from_unix_micros(1_700_000_000 + c.as_secs(), c.subsec_micros()),
        }
    }

    fn feed(&mut self, ev: Event) {
        if self.exited {
            let effects = self.sup.handle(ev, self.now());
            assert!(effects.is_empty(), "effects after exit: {effects:?}");
            return;
        }
        if matches!(ev, Event::Term | Event::Control { which: Which::Main, byte: b'x' }) {
            self.exit_asked = true;
        }
        self.depth += 1;
        assert!(self.depth < 32, "answers nest too deep");
        let effects = self.sup.handle(ev, self.now());
        assert!(effects.len() < 64, "{} effects for one event", effects.len());
        for e in effects {
            self.perform(e);
        }
        self.depth -= 1;
    }

    fn perform(&mut self, e: Effect) {
        assert!(!self.exited, "effect {e:?} after Exit");
        match e {
            Effect::Spawn(child) => {
                let dup = match child {
                    Child::Log => self.live.values().any(|c| *c == Child::Log),
                    _ => self.live.values().any(|c| *c != Child::Log),
                };
                assert!(!dup, "second instance: spawn {child:?} while {:?} live", self.live);
                // Finding 3 (docs/reliability.md, fixed): once the pipe is
                // closed, a ./run started would write to runsv's stdout,
                // unlogged.
                assert!(
                    !(self.pipe_closed && child != Child::Log && self.sup.has_log()),
                    "{child:?} started after the log pipe was closed"
                );
                if self.fork_fails {
                    self.feed(Event::SpawnFailed { child });
                } else {
                    let pid = self.next_pid;
                    self.next_pid += 1;
                    self.live.insert(pid, child);
                    self.feed(Event::Spawned { child, pid });
                }
            }
            Effect::Override { byte, then } => {
                let success = self.overrides.get(usize::from(byte)).copied().flatten().unwrap_or(false);
                self.feed(Event::OverrideDone { byte, then, success });
            }
            Effect::Signal { pid, sig } => {
                assert_ne!(pid, 0, "signal {sig} to pid 0");
                assert!(self.live.contains_key(&pid), "signal {sig} to {pid}, not a live child");
            }
            Effect::WriteStatus(r) => self.check_record(r),
            Effect::Sweep { pgid } => assert_ne!(pgid, 0, "sweep of group 0"),
            Effect::CloseLogPipe => {
                assert!(self.exit_asked, "log pipe closed without x");
                self.pipe_closed = true;
            }
            Effect::WriteHealth(h) => {
                let back = runit_core::health::Health::decode(h.encode().as_bytes());
                assert!(back.is_some(), "health record {h:?} does not decode");
            }
            Effect::RecordDeath(d) => {
                let line = d.encode();
                assert_eq!(runit_core::deaths::Death::decode(line.trim_end()), Some(d));
            }
            Effect::Exit(code) => {
                assert_eq!(code, 0);
                assert!(self.exit_asked, "runsv exited without x or TERM");
                assert!(!self.live.values().any(|c| *c == Child::Log), "exit with log/run alive");
                self.exited = true;
            }
        }
    }

    fn check_record(&mut self, r: Record) {
        let st: Status = r.status;
        assert_eq!(Status::decode(&st.encode()).ok(), Some(st));
        let want =
            if st.want == b'u' { runit_core::status::Want::Up } else { runit_core::status::Want::Down };
        let stat = stat_text(st.state, st.paused, st.got_term, want);
        // `want exit` is written as `d` in the record but named in stat.
        let exit_stat = stat_text(st.state, st.paused, st.got_term, runit_core::status::Want::Exit);
        assert!(r.stat == stat || r.stat == exit_stat, "stat {:?} for {st:?}", r.stat);
        if let Some(p) = r.pid {
            assert_eq!(p, st.pid, "pid file and record disagree");
        }
        if st.state != State::Down {
            let kind = self.live.get(&st.pid);
            let ok = match (r.which, st.state, kind) {
                (Which::Main, State::Run, Some(Child::Run)) => true,
                (Which::Main, State::Finish, Some(Child::Finish { .. })) => true,
                // Between ./run's end and ./finish's start (§9 step 4).
                (Which::Main, State::Finish, None) => st.pid == 0,
                (Which::Log, State::Run, Some(Child::Log)) => true,
                _ => false,
            };
            assert!(ok, "{:?} record says {:?} pid {} but that is {kind:?}", r.which, st.state, st.pid);
        }
        match r.which {
            Which::Main => self.last_main = Some(r),
            Which::Log => self.last_log = Some(r),
        }
    }

    /// One iteration of runit's loop with the given happenings.
    fn iteration(&mut self, exits: &[(u32, WaitStatus)], main: Option<u8>, log: Option<u8>, term: bool) {
        self.feed(Event::LoopStart);
        for &(pid, status) in exits {
            if self.live.remove(&pid).is_some() {
                self.feed(Event::ChildExited { pid, status, finish: self.finish });
            }
        }
        if let Some(byte) = main {
            self.feed(Event::Control { which: Which::Main, byte });
        }
        if let Some(byte) = log {
            self.feed(Event::Control { which: Which::Log, byte });
        }
        if term {
            self.feed(Event::Term);
        }
        self.feed(Event::LoopEnd);
    }
}

const BYTES: &[u8] = b"udoxtkpchaiq12\nXe";

fn policy(n: u8) -> (Policy, bool) {
    let text: &[u8] = match n % 4 {
        0 => b"",
        1 => b"backoff 1 8\n",
        2 => b"give-up 3 60\n",
        _ => b"backoff 2 30\nstable 10\ngive-up 5 120\n",
    };
    (Policy::parse(text).unwrap_or_default(), n % 4 >= 2)
}

/// Runs the simulation on `data`.
pub fn runsv_sm(data: &[u8]) {
    let mut input = Input::new(data);
    let flags = input.byte();
    let layout = Layout { down: flags & 1 != 0, log: (flags & 2 != 0).then_some(flags & 4 != 0) };
    let (policy, gives_up) = policy(flags >> 3);
    let mechanism = match flags >> 5 & 3 {
        0 => Mechanism::None,
        1 => Mechanism::NotificationFd(3),
        _ => Mechanism::NotifySocket,
    };
    let t0 = Instant::now();
    let now = Now { mono: t0, stamp: Tai64N::from_unix_micros(1_700_000_000, 0) };
    let mut overrides = [None; 128];
    let script_bits = input.u16();
    for (i, &b) in b"utdxkpchaiq12".iter().enumerate() {
        if script_bits & (1 << i) != 0 {
            overrides[usize::from(b)] = Some(input.byte() & 1 == 0);
        }
    }
    let mut sim = Sim {
        sup: Supervisor::with_health(layout, HealthConfig { mechanism, policy }, now),
        t0,
        clock: Duration::ZERO,
        next_pid: 100,
        live: BTreeMap::new(),
        overrides,
        finish: false,
        fork_fails: false,
        exit_asked: false,
        exited: false,
        gives_up,
        last_main: None,
        last_log: None,
        depth: 0,
        pipe_closed: false,
    };
    let _ = sim.sup.initial_health(now);
    if let Some(r) = sim.sup.initial_record(Which::Main) {
        sim.check_record(r);
    }
    if sim.sup.has_log()
        && let Some(r) = sim.sup.initial_record(Which::Log)
    {
        sim.check_record(r);
    }
    let mut steps = 0;
    while !input.is_empty() && steps < 512 && !sim.exited {
        steps += 1;
        let op = input.byte();
        sim.finish = op & 0x80 != 0;
        sim.fork_fails = op & 0x40 == 0x40 && op & 0x20 == 0x20;
        // Time: none, a little, about a second, or more than the fork retry.
        sim.clock += match op & 3 {
            0 => Duration::ZERO,
            1 => Duration::from_millis(u64::from(input.byte()) * 4),
            2 => Duration::from_millis(900 + u64::from(input.byte()) * 2),
            _ => Duration::from_secs(6),
        };
        if let Some(deadline) = sim.sup.next_deadline() {
            assert!(deadline >= t0, "deadline before the start");
        }
        let mut exits = Vec::new();
        if op & 4 != 0 {
            // One live child ends, by exit code or signal.
            let pick = usize::from(input.byte());
            let how = input.byte();
            if !sim.live.is_empty() {
                let pid = *sim.live.keys().nth(pick % sim.live.len()).unwrap_or(&0);
                let status = if how & 1 == 0 {
                    WaitStatus::exited(how >> 1)
                } else {
                    WaitStatus::signaled(i32::from(how >> 1) % 32, how & 2 != 0)
                };
                exits.push((pid, status));
            }
        }
        let main = (op & 8 != 0).then(|| BYTES[usize::from(input.byte()) % BYTES.len()]);
        let log = (op & 16 != 0).then(|| BYTES[usize::from(input.byte()) % BYTES.len()]);
        let term = op & 0x60 == 0x20;
        if op & 0x60 == 0x40 {
            let notices = (0..1 + input.byte() % 3)
                .map(|_| match input.byte() % 4 {
                    0 => Notice::Ready,
                    1 => Notice::Reloading,
                    2 => Notice::Stopping,
                    _ => Notice::Status("x".into()),
                })
                .collect();
            let pid = sim.sup.run_pid();
            sim.feed(Event::Notify { pid, notices });
        }
        sim.iteration(&exits, main, log, term);
    }
    converge(&mut sim);
}

/// No more faults: time passes, every start succeeds, nothing exits.
fn converge(sim: &mut Sim) {
    sim.fork_fails = false;
    for _ in 0..3 {
        sim.clock += Duration::from_secs(7 * 24 * 3600);
        sim.iteration(&[], None, None, false);
    }
    if sim.exited || sim.exit_asked {
        return;
    }
    let main_up = sim.last_main.as_ref().is_some_and(|r| r.status.want == b'u');
    if main_up && !sim.gives_up {
        assert_ne!(sim.sup.pid(Which::Main), 0, "main wanted up but not running: {:?}", sim.last_main);
    }
    let log_up = sim.last_log.as_ref().is_some_and(|r| r.status.want == b'u');
    if sim.sup.has_log() && log_up {
        assert_ne!(sim.sup.pid(Which::Log), 0, "log wanted up but not running: {:?}", sim.last_log);
    }
}
