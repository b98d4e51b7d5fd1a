//! The state machine on a fake clock: every quirk of supervise.md §8-§12 and
//! §16 as a scenario of a few lines. [`Sim`] plays the driver: it performs
//! effects depth first, hands out pids, answers overrides from a table and
//! records what a real runsv would have done as a trace of short strings.
#![allow(clippy::unwrap_used)]

use super::*;
use runit_core::status::{WANT_DOWN, WANT_UP};
use std::collections::HashMap;

struct Sim {
    sup: Supervisor,
    t0: Instant,
    clock: Duration,
    next_pid: u32,
    trace: Vec<String>,
    /// `control/<c>` scripts that exist, with their success.
    overrides: HashMap<u8, bool>,
    /// Whether `finish` is readable.
    finish: bool,
    fork_fails: bool,
    last: HashMap<&'static str, Record>,
    pid_file: HashMap<&'static str, Option<u32>>,
    /// `supervise/health` records written, in order (kept off the trace).
    health: Vec<Health>,
    /// `supervise/deaths` lines appended.
    deaths: Vec<Death>,
}

fn name(which: Which) -> &'static str {
    match which {
        Which::Main => "main",
        Which::Log => "log",
    }
}

impl Sim {
    fn new(layout: Layout) -> Sim {
        Sim::with_health(layout, HealthConfig::default())
    }

    fn with_health(layout: Layout, config: HealthConfig) -> Sim {
        let t0 = Instant::now();
        let now = Now { mono: t0, stamp: Tai64N::from_unix_micros(1_700_000_000, 0) };
        let mut sim = Sim {
            sup: Supervisor::with_health(layout, config, now),
            t0,
            clock: Duration::ZERO,
            next_pid: 100,
            trace: Vec::new(),
            overrides: HashMap::new(),
            finish: false,
            fork_fails: false,
            last: HashMap::new(),
            pid_file: HashMap::new(),
            health: Vec::new(),
            deaths: Vec::new(),
        };
        if let Some(h) = sim.sup.initial_health(now) {
            sim.health.push(h);
        }
        let main = sim.sup.initial_record(Which::Main).unwrap();
        sim.record(main);
        if sim.sup.has_log() {
            let log = sim.sup.initial_record(Which::Log).unwrap();
            sim.record(log);
        }
        sim.trace.clear();
        sim
    }

    fn up() -> Sim {
        Sim::new(Layout::default())
    }

    fn now(&self) -> Now {
        let c = self.clock;
        Now {
            mono: self.t0 + c,
            stamp: Tai64N::from_unix_micros(1_700_000_000 + c.as_secs(), c.subsec_micros()),
        }
    }

    fn advance(&mut self, ms: u64) {
        self.clock += Duration::from_millis(ms);
    }

    fn record(&mut self, r: Record) {
        let n = name(r.which);
        if let Some(pid) = r.pid {
            self.pid_file.insert(n, Some(pid));
        }
        self.pid_file.entry(n).or_insert(None);
        self.trace.push(format!("{n}: {}", r.stat.trim_end()));
        self.last.insert(n, r);
    }

    fn feed(&mut self, ev: Event) {
        let mut queue: std::collections::VecDeque<Effect> = self.sup.handle(ev, self.now()).into();
        while let Some(e) = queue.pop_front() {
            let answer = match e {
                Effect::Spawn(child) => Some(self.spawn(child)),
                Effect::Override { byte, then } => {
                    let success = self.overrides.get(&byte).copied();
                    if let Some(ok) = success {
                        self.trace.push(format!("control/{}={}", byte as char, if ok { 0 } else { 1 }));
                    }
                    Some(Event::OverrideDone { byte, then, success: success.unwrap_or(false) })
                }
                Effect::Signal { pid, sig } => {
                    self.trace.push(format!("{} {pid}", signame(sig)));
                    None
                }
                Effect::WriteStatus(r) => {
                    self.record(r);
                    None
                }
                Effect::Sweep { pgid } => {
                    // The driver's check, made when it performs the effect.
                    let due = self.sup.sweep_due(pgid);
                    self.trace.push(format!("{}sweep {pgid}", if due { "" } else { "no " }));
                    None
                }
                Effect::CloseLogPipe => {
                    self.trace.push("close logpipe".into());
                    None
                }
                Effect::Exit(code) => {
                    self.trace.push(format!("exit {code}"));
                    None
                }
                Effect::WriteHealth(h) => {
                    self.health.push(h);
                    None
                }
                Effect::RecordDeath(d) => {
                    self.deaths.push(d);
                    None
                }
            };
            if let Some(ev) = answer {
                let more = self.sup.handle(ev, self.now());
                for e in more.into_iter().rev() {
                    queue.push_front(e);
                }
            }
        }
    }

    fn spawn(&mut self, child: Child) -> Event {
        if self.fork_fails {
            self.trace.push(format!("fork failed {child:?}"));
            return Event::SpawnFailed { child };
        }
        let pid = self.next_pid;
        self.next_pid += 1;
        self.trace.push(match child {
            Child::Run => format!("run {pid}"),
            Child::Finish { code, status } => format!("finish {pid} [{code} {status}]"),
            Child::Log => format!("log {pid}"),
        });
        Event::Spawned { child, pid }
    }

    /// The rest of one pass of runit's main loop after the wait: `events`,
    /// the exit check, then the top of the next pass (which the driver runs
    /// before it waits again).
    fn step(&mut self, events: &[Event]) {
        for e in events {
            self.feed(e.clone());
        }
        self.feed(Event::LoopEnd);
        self.feed(Event::LoopStart);
    }

    fn iterate(&mut self) {
        self.step(&[]);
    }

    fn byte(&mut self, b: u8) {
        self.step(&[Event::Control { which: Which::Main, byte: b }]);
    }

    fn log_byte(&mut self, b: u8) {
        self.step(&[Event::Control { which: Which::Log, byte: b }]);
    }

    fn exited(&mut self, pid: u32, status: WaitStatus) {
        let finish = self.finish;
        self.step(&[Event::ChildExited { pid, status, finish }]);
    }

    fn take(&mut self) -> Vec<String> {
        std::mem::take(&mut self.trace)
    }

    fn status(&self, which: &str) -> Status {
        self.last[which].status
    }

    fn stat(&self, which: &str) -> String {
        self.last[which].stat.clone()
    }

    /// Starts the main service (pid 100) and clears the trace.
    fn running() -> Sim {
        let mut s = Sim::up();
        s.iterate();
        assert_eq!(s.take(), ["run 100", "main: run"]);
        s
    }
}

fn signame(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "TERM",
        libc::SIGCONT => "CONT",
        libc::SIGKILL => "KILL",
        libc::SIGSTOP => "STOP",
        libc::SIGHUP => "HUP",
        libc::SIGALRM => "ALRM",
        libc::SIGINT => "INT",
        libc::SIGQUIT => "QUIT",
        libc::SIGUSR1 => "USR1",
        libc::SIGUSR2 => "USR2",
        _ => "?",
    }
}

fn exit(code: u8) -> WaitStatus {
    WaitStatus::exited(code)
}

#[test]
fn starts_up_and_runs() {
    let mut s = Sim::up();
    assert_eq!(s.stat("main"), "down\n");
    assert_eq!(s.status("main").want, WANT_UP);
    s.iterate();
    assert_eq!(s.take(), ["run 100", "main: run"]);
    let st = s.status("main");
    assert_eq!((st.pid, st.state, st.want), (100, State::Run, b'u'));
    // Nothing due: no wake-up.
    assert_eq!(s.sup.next_deadline(), None);
    s.iterate();
    assert!(s.take().is_empty());
}

#[test]
fn down_file_keeps_it_down_until_u() {
    let mut s = Sim::new(Layout { down: true, log: None });
    s.iterate();
    assert!(s.take().is_empty());
    assert_eq!(s.status("main").want, WANT_DOWN);
    s.byte(b'u');
    assert_eq!(s.take(), ["main: down", "run 100", "main: run"]);
}

#[test]
fn short_run_waits_a_full_second() {
    let mut s = Sim::running();
    s.advance(600);
    s.exited(100, exit(0));
    assert_eq!(s.take(), ["main: down"]);
    let st = s.status("main");
    assert_eq!((st.state, st.want, st.pid), (State::Down, b'u', 0));
    assert_eq!(st.stamp, s.now().stamp, "timestamp is the time it went down");
    assert_eq!(s.sup.next_deadline(), Some(s.t0 + Duration::from_millis(1600)));
    s.advance(999);
    s.iterate();
    assert!(s.take().is_empty(), "not restarted before a full second");
    s.advance(1);
    s.iterate();
    assert_eq!(s.take(), ["run 101", "main: run"]);
}

#[test]
fn long_run_restarts_at_once() {
    let mut s = Sim::running();
    s.advance(1500);
    s.exited(100, exit(1));
    s.iterate();
    assert_eq!(s.take(), ["main: down", "run 101", "main: run"]);
}

#[test]
fn throttle_counts_from_run_start_to_end_of_finish() {
    let mut s = Sim::running();
    s.finish = true;
    s.advance(100);
    s.exited(100, exit(3));
    s.iterate();
    assert_eq!(s.take(), ["main: finish", "finish 101 [3 0]", "main: finish"]);
    s.advance(2000);
    s.exited(101, exit(0));
    s.iterate();
    assert_eq!(s.take(), ["main: down", "run 102", "main: run"], "run+finish lasted > 1 s");
}

#[test]
fn finish_arguments_and_status() {
    let mut s = Sim::running();
    s.finish = true;
    let run_stamp = s.status("main").stamp;
    s.advance(5000);
    s.exited(100, WaitStatus::signaled(libc::SIGKILL, false));
    s.iterate();
    assert_eq!(s.take(), ["main: finish", "finish 101 [-1 9]", "main: finish"]);
    let st = s.status("main");
    assert_eq!((st.pid, st.state, st.stamp), (101, State::Finish, run_stamp), "finish keeps run's stamp");
    assert_eq!(s.pid_file["main"], Some(101));
    s.take();
    s.advance(10);
    s.exited(101, exit(0));
    assert_eq!(s.take(), ["main: down", "run 102", "main: run"]);
    assert_ne!(s.status("main").stamp, run_stamp, "down updates the stamp");
}

#[test]
fn core_dump_argument() {
    let mut s = Sim::running();
    s.finish = true;
    s.advance(2000);
    s.exited(100, WaitStatus::signaled(libc::SIGSEGV, true));
    s.iterate();
    assert!(s.take().contains(&"finish 101 [-1 139]".to_string()));
}

#[test]
fn kill_during_finish_runs_finish_twice() {
    let mut s = Sim::running();
    s.finish = true;
    s.advance(2000);
    s.exited(100, exit(7));
    s.iterate();
    s.take();
    s.byte(b'k');
    assert!(s.take().is_empty(), "finish is not signalled and no status is written");
    s.exited(101, exit(5));
    s.iterate();
    assert_eq!(s.take(), ["main: finish", "finish 102 [5 0]", "main: finish"]);
}

#[test]
fn exit_then_kill_exits_at_once() {
    let mut s = Sim::running();
    s.byte(b'x');
    assert_eq!(s.take(), ["main: run, want exit", "TERM 100", "main: run, got TERM, want exit", "CONT 100"]);
    s.byte(b'k');
    assert_eq!(s.take(), ["KILL 100", "sweep 100", "exit 0"]);
    assert_eq!(s.stat("main"), "run, got TERM, want exit\n");
    // Nothing more happens once exiting.
    s.exited(100, WaitStatus::signaled(libc::SIGKILL, false));
    assert!(s.take().is_empty());
}

#[test]
fn term_with_want_up_sends_no_cont() {
    let mut s = Sim::running();
    s.overrides.insert(b'd', true);
    s.byte(b't');
    assert_eq!(s.take(), ["TERM 100", "main: run, got TERM"]);
    s.advance(2000);
    s.exited(100, WaitStatus::signaled(libc::SIGTERM, false));
    s.iterate();
    assert_eq!(
        s.take(),
        ["main: down", "run 101", "main: run", "sweep 100"],
        "restart first, then the sweep"
    );
}

#[test]
fn term_with_want_down_sends_cont_and_control_d() {
    let mut s = Sim::new(Layout { down: true, log: None });
    s.byte(b'o');
    s.take();
    s.overrides.insert(b'd', false);
    s.byte(b't');
    assert_eq!(s.take(), ["TERM 100", "main: run, got TERM, want down", "CONT 100", "control/d=1"]);
}

#[test]
fn down_order_with_failing_overrides() {
    let mut s = Sim::running();
    s.overrides.insert(b't', false);
    s.overrides.insert(b'd', false);
    s.byte(b'd');
    assert_eq!(
        s.take(),
        [
            "main: run, want down",
            "control/t=1",
            "TERM 100",
            "main: run, got TERM, want down",
            "CONT 100",
            "control/d=1"
        ]
    );
    s.exited(100, WaitStatus::signaled(libc::SIGTERM, false));
    assert_eq!(s.take(), ["main: down", "sweep 100"]);
    let st = s.status("main");
    assert_eq!((st.paused, st.want, st.got_term, st.state), (false, b'd', false, State::Down));
    assert_eq!(s.pid_file["main"], Some(0));
    s.advance(5000);
    s.iterate();
    assert!(s.take().is_empty(), "not restarted");
}

#[test]
fn control_t_success_suppresses_term_only() {
    let mut s = Sim::running();
    s.overrides.insert(b't', true);
    s.overrides.insert(b'd', true);
    s.byte(b'd');
    assert_eq!(s.take(), ["main: run, want down", "control/t=0", "CONT 100", "control/d=0"]);
    assert!(!s.status("main").got_term);
}

#[test]
fn exit_order_with_overrides() {
    let mut s = Sim::running();
    s.overrides.insert(b't', false);
    s.overrides.insert(b'x', true);
    s.byte(b'x');
    assert_eq!(
        s.take(),
        [
            "main: run, want exit",
            "control/t=1",
            "TERM 100",
            "main: run, got TERM, want exit",
            "CONT 100",
            "control/x=0"
        ]
    );
    s.exited(100, exit(0));
    assert_eq!(s.take(), ["main: down", "sweep 100", "exit 0"]);
}

#[test]
fn sigterm_is_x() {
    let mut s = Sim::running();
    s.step(&[Event::Term]);
    assert_eq!(s.take(), ["main: run, want exit", "TERM 100", "main: run, got TERM, want exit", "CONT 100"]);
}

#[test]
fn exit_when_down_is_immediate() {
    let mut s = Sim::new(Layout { down: true, log: None });
    s.byte(b'x');
    assert_eq!(s.take(), ["main: down", "exit 0"]);
}

#[test]
fn signals_with_and_without_overrides() {
    let mut s = Sim::running();
    s.overrides.insert(b'h', true);
    s.overrides.insert(b'i', false);
    for b in *b"hai12q" {
        s.byte(b);
    }
    assert_eq!(
        s.take(),
        ["control/h=0", "ALRM 100", "control/i=1", "INT 100", "USR1 100", "USR2 100", "QUIT 100"]
    );
}

#[test]
fn overrides_killed_by_signal_count_as_success() {
    // The driver reports runit's success rule; a signal death is success.
    assert!(WaitStatus::signaled(libc::SIGKILL, false).runit_success());
}

#[test]
fn pause_sets_paused_even_when_suppressed_or_down() {
    let mut s = Sim::running();
    s.overrides.insert(b'p', true);
    s.byte(b'p');
    assert_eq!(s.take(), ["control/p=0", "main: run, paused"]);
    assert!(s.status("main").paused);
    s.byte(b'c');
    assert_eq!(s.take(), ["CONT 100", "main: run"]);
    let mut d = Sim::new(Layout { down: true, log: None });
    d.byte(b'p');
    assert_eq!(d.take(), ["main: down, paused"]);
    assert!(d.status("main").paused);
    d.byte(b'u');
    assert!(!d.status("main").paused, "a start clears paused");
}

#[test]
fn unknown_bytes_are_ignored() {
    let mut s = Sim::running();
    for b in [b'e', b'z', b'\n', b'w', b's', b'U', 0, 0xff] {
        s.byte(b);
    }
    assert!(s.take().is_empty());
}

#[test]
fn several_bytes_apply_in_order() {
    let mut s = Sim::running();
    for b in *b"tcu" {
        s.byte(b);
    }
    assert_eq!(
        s.take(),
        ["TERM 100", "main: run, got TERM", "CONT 100", "main: run, got TERM", "main: run, got TERM"]
    );
}

#[test]
fn once_runs_once() {
    let mut s = Sim::new(Layout { down: true, log: None });
    s.byte(b'o');
    assert_eq!(s.take(), ["main: down", "run 100", "main: run, want down"]);
    s.advance(3000);
    s.exited(100, exit(0));
    s.advance(3000);
    s.iterate();
    assert_eq!(s.take(), ["main: down", "sweep 100"]);
    assert_eq!(s.status("main").want, WANT_DOWN);
}

#[test]
fn once_while_running_only_stops_restarts() {
    let mut s = Sim::running();
    s.byte(b'o');
    assert_eq!(s.take(), ["main: run, want down"]);
    s.advance(2000);
    s.exited(100, exit(0));
    s.iterate();
    assert_eq!(s.take(), ["main: down", "sweep 100"]);
}

#[test]
fn control_bytes_during_throttle() {
    let mut s = Sim::running();
    s.advance(100);
    s.exited(100, exit(0));
    s.take();
    // u does not bypass the throttle.
    s.byte(b'u');
    assert_eq!(s.take(), ["main: down"]);
    // o then d within the second: nothing starts.
    s.byte(b'o');
    s.byte(b'd');
    s.advance(2000);
    s.iterate();
    assert_eq!(s.take(), ["main: down", "main: down"]);
    // o alone within the second: one start when the second is over.
    let mut s = Sim::running();
    s.advance(100);
    s.exited(100, exit(0));
    s.byte(b'o');
    s.take();
    assert_eq!(s.sup.next_deadline(), Some(s.t0 + Duration::from_millis(1100)));
    s.advance(1000);
    s.iterate();
    assert_eq!(s.take(), ["run 101", "main: run, want down"]);
}

#[test]
fn exit_during_throttle_is_immediate() {
    let mut s = Sim::running();
    s.advance(100);
    s.exited(100, exit(0));
    s.take();
    s.byte(b'x');
    assert_eq!(s.take(), ["main: down", "exit 0"]);
}

#[test]
fn control_u_before_every_run_start() {
    let mut s = Sim::up();
    s.overrides.insert(b'u', false);
    s.iterate();
    assert_eq!(s.take(), ["control/u=1", "run 100", "main: run"]);
    s.finish = true;
    s.advance(2000);
    s.exited(100, exit(0));
    s.iterate();
    assert_eq!(s.take(), ["main: finish", "finish 101 [0 0]", "main: finish"], "not before finish");
    s.exited(101, exit(0));
    s.iterate();
    assert_eq!(s.take(), ["main: down", "control/u=1", "run 102", "main: run"]);
}

#[test]
fn scripts_are_only_consulted_when_running() {
    let mut s = Sim::new(Layout { down: true, log: None });
    s.overrides.insert(b'h', true);
    s.overrides.insert(b't', true);
    s.byte(b'h');
    s.byte(b't');
    s.byte(b'd');
    assert_eq!(s.take(), ["main: down"]);
}

#[test]
fn fork_failure_retries_after_five_seconds() {
    let mut s = Sim::up();
    s.fork_fails = true;
    s.iterate();
    assert_eq!(s.take(), ["fork failed Run"]);
    assert_eq!(s.sup.next_deadline(), Some(s.t0 + FORK_RETRY));
    s.fork_fails = false;
    s.advance(4999);
    s.iterate();
    assert!(s.take().is_empty());
    s.advance(1);
    s.iterate();
    assert_eq!(s.take(), ["run 100", "main: run"]);
}

fn with_log() -> Sim {
    let mut s = Sim::new(Layout { down: false, log: Some(false) });
    s.iterate();
    assert_eq!(s.take(), ["log 100", "log: run", "run 101", "main: run"]);
    s
}

#[test]
fn log_starts_first_and_pid_flag_is_shared() {
    let mut s = Sim::new(Layout { down: false, log: Some(false) });
    // The main service's first update consumed the flag: no log/supervise/pid yet.
    assert_eq!(s.pid_file["main"], Some(0));
    assert_eq!(s.pid_file["log"], None);
    s.iterate();
    assert_eq!(s.pid_file["log"], Some(100));
    assert_eq!(s.pid_file["main"], Some(101));
}

#[test]
fn log_down_file() {
    let mut s = Sim::new(Layout { down: false, log: Some(true) });
    s.iterate();
    assert_eq!(s.take(), ["run 100", "main: run"]);
    assert_eq!(s.pid_file["log"], None);
}

#[test]
fn exit_with_log_closes_the_pipe_and_waits() {
    let mut s = with_log();
    s.byte(b'x');
    s.take();
    s.exited(101, exit(0));
    assert_eq!(s.take(), ["main: down", "log: run, want exit", "close logpipe", "sweep 101"]);
    s.iterate();
    assert!(s.take().is_empty(), "log not signalled, runsv waits");
    s.exited(100, exit(0));
    assert_eq!(s.take(), ["log: down", "sweep 100", "exit 0"]);
}

#[test]
fn no_byte_undoes_an_exit_once_the_log_pipe_is_closed() {
    // Found by the soak test: `x`, then `u` while the logger drains, used to
    // restart ./run with the log pipe gone and no logger, for good.
    let mut s = with_log();
    s.byte(b'x');
    s.take();
    s.exited(101, exit(0));
    assert_eq!(s.take(), ["main: down", "log: run, want exit", "close logpipe", "sweep 101"]);
    for b in [b'u', b'o', b'd'] {
        s.byte(b);
        s.log_byte(b);
        s.iterate();
        assert!(s.take().is_empty(), "{} is ignored", char::from(b));
    }
    s.exited(100, exit(0));
    assert_eq!(s.take(), ["log: down", "sweep 100", "exit 0"]);
}

#[test]
fn kill_then_exit_keeps_the_log_pipe_for_finish() {
    // Found by fuzzing (runsv_sm): after `k` the state is down while the
    // killed ./run is not reaped yet; an `x` then closed the pipe at once,
    // and the ./finish that followed the reap wrote to runsv's stdout.
    let mut s = with_log();
    s.finish = true;
    s.byte(b'k');
    assert_eq!(s.take(), ["KILL 101"]);
    s.byte(b'x');
    assert_eq!(s.take(), ["main: down"]);
    s.exited(101, WaitStatus::signaled(libc::SIGKILL, false));
    assert_eq!(
        s.take(),
        ["main: finish, want exit", "finish 102 [-1 9]", "main: finish, want exit", "sweep 101"]
    );
    s.exited(102, exit(0));
    assert_eq!(s.take(), ["main: down", "log: run, want exit", "close logpipe", "sweep 102"]);
    s.exited(100, exit(0));
    assert_eq!(s.take(), ["log: down", "sweep 100", "exit 0"]);
}

#[test]
fn log_fifo_ignores_x_and_has_no_overrides() {
    let mut s = with_log();
    s.overrides.insert(b'h', true);
    s.overrides.insert(b't', true);
    s.log_byte(b'x');
    assert!(s.take().is_empty());
    s.log_byte(b'h');
    s.log_byte(b'd');
    assert_eq!(
        s.take(),
        ["HUP 100", "log: run, want down", "TERM 100", "log: run, got TERM, want down", "CONT 100"]
    );
}

#[test]
fn log_restarts_with_throttle() {
    let mut s = with_log();
    s.advance(200);
    s.step(&[Event::ChildExited { pid: 100, status: exit(1), finish: true }]);
    assert_eq!(s.take(), ["log: down"], "log/finish is never run");
    s.advance(1000);
    s.iterate();
    assert_eq!(s.take(), ["log 102", "log: run"]);
}

#[test]
fn unknown_pids_are_ignored() {
    let mut s = Sim::running();
    s.exited(4242, exit(0));
    assert!(s.take().is_empty());
}

#[test]
fn crash_with_want_up_keeps_the_group() {
    let mut s = Sim::running();
    s.advance(2000);
    s.exited(100, exit(1));
    assert_eq!(s.take(), ["main: down", "run 101", "main: run"], "no sweep: runit semantics for restarts");
    let mut s = Sim::running();
    s.byte(b'k');
    s.exited(100, WaitStatus::signaled(libc::SIGKILL, false));
    assert_eq!(s.take(), ["KILL 100", "main: down", "sweep 100"]);
}

#[test]
fn a_sweep_waits_for_the_restart_but_not_for_the_throttle() {
    // `t`: ./run stopped by runsv, wanted up. The death is written at
    // once; the sweep of its group comes after the new ./run started.
    let mut s = Sim::running();
    s.advance(2000);
    s.byte(b't');
    assert_eq!(s.take(), ["TERM 100", "main: run, got TERM"]);
    s.advance(5);
    s.step(&[Event::ChildExited {
        pid: 100,
        status: WaitStatus::signaled(libc::SIGTERM, false),
        finish: false,
    }]);
    assert_eq!(s.take(), ["main: down", "run 101", "main: run", "sweep 100"]);
    // A ./run that lived under a second is throttled: the sweep does not
    // wait for the second, it comes at the next loop start.
    s.byte(b't');
    assert_eq!(s.take(), ["TERM 101", "main: run, got TERM"]);
    s.exited(101, WaitStatus::signaled(libc::SIGTERM, false));
    assert_eq!(s.take(), ["main: down", "sweep 101"]);
    s.advance(1000);
    s.iterate();
    assert_eq!(s.take(), ["run 102", "main: run"], "each group is swept once");
}

#[test]
fn a_sweep_asked_before_a_restart_spares_a_process_reusing_the_id() {
    // The kernel gives out a pid only while no group uses it: a new
    // ./run with the old group's id means that group was empty, and the
    // sweep performed after the restart must not touch the new ./run.
    let mut s = Sim::running();
    s.advance(2000);
    s.byte(b'k');
    s.take();
    s.next_pid = 100;
    s.exited(100, WaitStatus::signaled(libc::SIGKILL, false));
    assert_eq!(s.take(), ["main: down", "run 100", "main: run", "no sweep 100"]);
    // The log's group likewise.
    let mut s = with_log();
    s.log_byte(b'k');
    s.take();
    s.next_pid = 100;
    s.advance(2000);
    s.step(&[Event::ChildExited {
        pid: 100,
        status: WaitStatus::signaled(libc::SIGKILL, false),
        finish: false,
    }]);
    assert_eq!(s.take(), ["log: down", "log 100", "log: run", "no sweep 100"]);
}

#[test]
fn exiting_sweeps_the_killed_run_and_every_pending_group() {
    // `x` then `k`: runit exits without reaping the killed ./run; its
    // group is swept (it is the current pid, and is swept all the same).
    let mut s = Sim::running();
    s.byte(b'x');
    s.take();
    s.byte(b'k');
    assert_eq!(s.take(), ["KILL 100", "sweep 100", "exit 0"]);
}

#[path = "supervisor_health_tests.rs"]
mod health;
