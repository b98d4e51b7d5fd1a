//! runsv's I/O: the start-up sequence (supervise.md §2, §15), the event
//! loop (§9) and the effects of [`Supervisor`].
//!
//! The loop sleeps in `epoll_wait` (mio) on the self-pipe (SIGTERM,
//! SIGCHLD), the control FIFOs and the pidfds of groups being swept, with a
//! timeout only while a deadline is pending (a throttled restart, a sweep's
//! grace period). An idle runsv therefore never wakes up; runit's own loop
//! wakes every 1000 s for nothing.
//!
//! runit reads at most one byte per FIFO per loop pass and reaps children
//! before each pass's bytes; so do we. mio is edge-triggered, so a FIFO
//! stays marked ready until a read says it is empty, and the next wait is
//! then a non-blocking poll.
//!
//! Override scripts run synchronously, as in runit (a hanging `control/t`
//! hangs runsv, §16.6); they are rare and short, and this keeps runit's
//! ordering of TERM, CONT and the scripts exact.
//!
//! Extension (docs/health.md): after the locks, runsv reads the service's
//! readiness declaration and `restart-policy` (bad ones are reported and
//! ignored), and polls the readiness channel of [`crate::notify`] beside
//! the FIFOs. Notices are read after reaping, so one from a `./run` that
//! has just been reaped is dropped.

use crate::group::{self, Leftover, Sweep};
use crate::health::{Notice, parse_notify};
use crate::notify::{self, NotifyPipe, NotifySocket, PipeNews};
use crate::spawn::{self, LogPipe, Readiness};
use crate::supervisor::{Child, Effect, Event, HealthConfig, Layout, Now, Record, Supervisor, Which};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use runit_core::health::{self as health_file, Mechanism};
use runit_core::instance::{self, Instance, Kind};
use runit_core::process;
use runit_core::report::Diag;
use runit_core::selfpipe::{self, SignalPipe};
use runit_core::supervise::{Failure, Fifo, Supervise};
use runit_core::{deaths, policy};
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;
use std::time::Instant;

const SIGNALS: Token = Token(0);
const MAIN_CONTROL: Token = Token(1);
const LOG_CONTROL: Token = Token(2);
const NOTIFY_PIPE: Token = Token(3);
const NOTIFY_SOCKET: Token = Token(4);
/// Pidfds of swept group members use tokens from here on.
const FIRST_MEMBER: usize = 16;

/// A set-up runsv, ready to run its loop.
#[derive(Debug)]
pub struct Runsv {
    diag: Diag,
    signals: SignalPipe,
    poll: Poll,
    events: Events,
    main_control: Fifo,
    log_control: Option<Fifo>,
    /// Held open so clients' liveness probes succeed (§3.1).
    _ok: (File, Option<File>),
    /// Held for runsv's lifetime (§3.2).
    _locks: (File, Option<File>),
    log_pipe: Option<(OwnedFd, OwnedFd)>,
    sup: Supervisor,
    boot_id: Option<String>,
    /// Writers of `supervise/instance` and `log/supervise/instance`.
    instances: (instance::Writer, instance::Writer),
    sweeps: Vec<Sweep>,
    member_ids: usize,
    exit: Option<i32>,
    main_ready: bool,
    log_ready: bool,
    term: bool,
    /// `notification-fd`: the descriptor number `./run` gets.
    notification_fd: Option<i32>,
    /// The current `./run`'s notification pipe, until it reported or ended.
    notify_pipe: Option<NotifyPipe>,
    notify_socket: Option<NotifySocket>,
    /// The pipe or the socket has something to read.
    notify_ready: bool,
    /// `supervise/deaths` and `supervise/health` are written once the
    /// loop is about to sleep (or exit), after the status files and any
    /// restart: the death and the new start of a crash-looping service
    /// give one health write, and a respawn is not delayed by them; so do
    /// the initial record and the first start.
    deferred: Deferred,
}

/// Extension files waiting for the end of the loop's turn.
#[derive(Debug, Default)]
struct Deferred {
    /// Processes just started, for `supervise/instance`: recorded after
    /// the status files, so that a restart is visible in `supervise/pid`
    /// and `status` without waiting for the read of the new process's
    /// start time in `/proc/<pid>/stat`.
    instances: Vec<(Child, u32)>,
    health: Option<runit_core::health::Health>,
    deaths: Vec<deaths::Death>,
    recorder: deaths::Recorder,
}

fn fatal(what: &str, error: io::Error) -> Failure {
    Failure { what: what.to_string(), error: Some(error) }
}

impl Runsv {
    /// runit's start-up sequence (§2); any error is fatal (exit 111).
    pub fn setup(dir: &OsStr, diag: Diag) -> Result<Runsv, Failure> {
        let mut signals = SignalPipe::new().map_err(|e| fatal("unable to create selfpipe", e))?;
        for sig in [libc::SIGTERM, libc::SIGCHLD] {
            signals.catch(sig).map_err(|e| fatal("unable to create selfpipe", e))?;
        }
        let poll = Poll::new().map_err(|e| fatal("unable to create epoll instance", e))?;
        std::env::set_current_dir(dir).map_err(|e| fatal("unable to change to directory", e))?;
        let now = Now::read();
        let log = log_layout(&diag);
        let layout = Layout { down: fs::metadata("down").is_ok(), log };
        let log_pipe = match log {
            Some(_) => {
                Some(selfpipe::pipe(libc::O_CLOEXEC).map_err(|e| fatal("unable to create log pipe", e))?)
            }
            None => None,
        };
        Supervise::MAIN.create()?;
        let main_lock = Supervise::MAIN.lock(false)?;
        let log_lock = match log {
            Some(_) => {
                Supervise::LOG.create()?;
                Some(Supervise::LOG.lock(true)?)
            }
            None => None,
        };
        let (config, notify_socket) = health_config(&diag);
        let mut sup = Supervisor::with_health(layout, config, now);
        let main_control = Supervise::MAIN.open_control()?;
        write_record(&diag, sup.initial_record(Which::Main));
        // Like every health record, written when the loop is about to
        // sleep: by then the first start has usually replaced it, and one
        // write (a file created and renamed, the costliest calls of
        // start-up) does for both.
        let deferred = Deferred { health: sup.initial_health(now), ..Deferred::default() };
        let log_control = match log {
            Some(_) => {
                let c = Supervise::LOG.open_control()?;
                write_record(&diag, sup.initial_record(Which::Log));
                Some(c)
            }
            None => None,
        };
        let main_ok = Supervise::MAIN.open_ok()?;
        let log_ok = if log.is_some() { Some(Supervise::LOG.open_ok()?) } else { None };
        let registry = poll.registry();
        let register = |fd: i32, token| {
            registry
                .register(&mut SourceFd(&fd), token, Interest::READABLE)
                .map_err(|e| fatal("unable to create epoll instance", e))
        };
        register(signals.fd(), SIGNALS)?;
        register(main_control.read.as_raw_fd(), MAIN_CONTROL)?;
        if let Some(c) = &log_control {
            register(c.read.as_raw_fd(), LOG_CONTROL)?;
        }
        if let Some(s) = &notify_socket {
            register(s.fd(), NOTIFY_SOCKET)?;
        }
        let notification_fd = match config.mechanism {
            Mechanism::NotificationFd(n) => i32::try_from(n).ok(),
            _ => None,
        };
        Ok(Runsv {
            diag,
            signals,
            poll,
            events: Events::with_capacity(8),
            main_control,
            log_control,
            _ok: (main_ok, log_ok),
            _locks: (main_lock, log_lock),
            log_pipe,
            sup,
            boot_id: instance::boot_id().ok(),
            instances: (instance::Writer::new(Supervise::MAIN), instance::Writer::new(Supervise::LOG)),
            sweeps: Vec::new(),
            member_ids: FIRST_MEMBER,
            exit: None,
            main_ready: false,
            log_ready: false,
            term: false,
            notification_fd,
            notify_pipe: None,
            notify_socket,
            notify_ready: false,
            deferred,
        })
    }

    /// Runs until told to exit; returns the exit code.
    pub fn run(&mut self) -> i32 {
        self.stop_leftovers();
        loop {
            self.apply(Event::LoopStart);
            self.wait();
            self.reap();
            if std::mem::take(&mut self.notify_ready) {
                self.read_notices();
            }
            if self.main_ready {
                self.read_control(Which::Main);
            }
            if self.log_ready {
                self.read_control(Which::Log);
            }
            if std::mem::take(&mut self.term) {
                self.apply(Event::Term);
            }
            self.apply(Event::LoopEnd);
            self.expire_sweeps();
            if let Some(code) = self.exit
                && self.sweeps.is_empty()
            {
                self.flush_deferred();
                return code;
            }
        }
    }

    /// Extension: stop what a killed predecessor left running, before the
    /// first start (main service first, then the log service).
    fn stop_leftovers(&mut self) {
        let Some(boot) = self.boot_id.clone() else { return };
        let mut sups = vec![(Supervise::MAIN, false)];
        if self.sup.has_log() {
            sups.push((Supervise::LOG, true));
        }
        for (sup, log) in sups {
            let Some(rec) = instance::read(Path::new("."), sup) else { continue };
            let what = match (log, rec.kind) {
                (true, _) => "log/run",
                (false, Kind::Run) => "./run",
                (false, Kind::Finish) => "./finish",
            };
            let pid = rec.pid;
            let announce = || {
                let msg = format!("{what} (pid {pid}) left running by a previous runsv: stopping it");
                self.diag.warn(&msg, None);
            };
            if group::stop_leftover(&rec, &boot, log, announce) == Leftover::Killed {
                let msg = format!("{what} (pid {pid}) did not stop within 5 seconds: killed");
                self.diag.warn(&msg, None);
            }
            // The record stays: it names a process that no longer runs,
            // and the first start writes over it.
        }
    }

    /// Waits for events: without timeout unless a deadline is pending, or
    /// not at all while a FIFO may still hold bytes.
    fn wait(&mut self) {
        self.flush_deferred();
        let now = Instant::now();
        let deadline = self
            .exit
            .is_none()
            .then(|| self.sup.next_deadline())
            .flatten()
            .into_iter()
            .chain(self.sweeps.iter().map(|s| s.deadline))
            .min();
        let timeout = if self.main_ready || self.log_ready || self.notify_ready {
            Some(std::time::Duration::ZERO)
        } else {
            deadline.map(|d| d.saturating_duration_since(now))
        };
        if self.poll.poll(&mut self.events, timeout).is_err() {
            return;
        }
        let tokens: Vec<Token> = self.events.iter().map(|e| e.token()).collect();
        for token in tokens {
            match token {
                SIGNALS => {
                    if self.signals.drain().contains(&libc::SIGTERM) {
                        self.term = true;
                    }
                }
                MAIN_CONTROL => self.main_ready = true,
                LOG_CONTROL => self.log_ready = true,
                NOTIFY_PIPE | NOTIFY_SOCKET => self.notify_ready = true,
                Token(id) => self.member_exited(id),
            }
        }
    }

    fn reap(&mut self) {
        while let Ok(Some((pid, status))) = process::reap_nohang() {
            let Ok(pid) = u32::try_from(pid) else { continue };
            if pid == self.sup.run_pid() {
                self.close_notify_pipe();
            }
            // runit starts ./finish only if it can open the file for reading.
            let finish = File::open("finish").is_ok();
            self.apply(Event::ChildExited { pid, status, finish });
        }
    }

    /// Extension: whatever the notification pipe or socket holds, as
    /// notices about the current `./run`.
    fn read_notices(&mut self) {
        let run = self.sup.run_pid();
        let news = self.notify_pipe.as_ref().map(NotifyPipe::read);
        if matches!(news, Some(PipeNews::Ready | PipeNews::Closed)) {
            self.close_notify_pipe();
        }
        let mut notices = Vec::new();
        if news == Some(PipeNews::Ready) {
            notices.push(Notice::Ready);
        }
        if let Some(s) = &self.notify_socket {
            s.receive(|sender, bytes| {
                if notify::belongs_to(sender, run) {
                    notices.extend(parse_notify(bytes));
                }
            });
        }
        if !notices.is_empty() {
            self.apply(Event::Notify { pid: run, notices });
        }
    }

    fn close_notify_pipe(&mut self) {
        if let Some(p) = self.notify_pipe.take() {
            let _ = self.poll.registry().deregister(&mut SourceFd(&p.read.as_raw_fd()));
        }
    }

    /// Reads at most one byte from a control FIFO (§8).
    fn read_control(&mut self, which: Which) {
        let fifo = match which {
            Which::Main => Some(&self.main_control),
            Which::Log => self.log_control.as_ref(),
        };
        let mut byte = [0u8; 1];
        let read = fifo.map(|f| (&f.read).read(&mut byte));
        match read {
            Some(Ok(1)) => self.apply(Event::Control { which, byte: byte[0] }),
            Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            _ => match which {
                Which::Main => self.main_ready = false,
                Which::Log => self.log_ready = false,
            },
        }
    }

    /// Feeds `event` and performs the effects, answering spawns and
    /// overrides at once (depth first, see the supervisor's protocol).
    fn apply(&mut self, event: Event) {
        let mut queue: VecDeque<Effect> = self.sup.handle(event, Now::read()).into();
        while let Some(effect) = queue.pop_front() {
            if let Some(answer) = self.perform(effect) {
                for e in self.sup.handle(answer, Now::read()).into_iter().rev() {
                    queue.push_front(e);
                }
            }
        }
    }

    fn perform(&mut self, effect: Effect) -> Option<Event> {
        match effect {
            Effect::Spawn(child) => Some(self.spawn(child)),
            Effect::Override { byte, then } => {
                let success = spawn::run_override(byte, &self.diag, self.pipe());
                Some(Event::OverrideDone { byte, then, success })
            }
            Effect::Signal { pid, sig } => {
                if let Ok(pid) = i32::try_from(pid)
                    && pid > 0
                {
                    // SAFETY: plain system call on a positive pid.
                    unsafe { libc::kill(pid, sig) };
                }
                None
            }
            Effect::WriteStatus(record) => {
                write_record(&self.diag, Some(record));
                None
            }
            Effect::Sweep { pgid } => {
                if self.sup.sweep_due(pgid) {
                    self.sweep(pgid);
                }
                None
            }
            Effect::CloseLogPipe => {
                self.log_pipe = None;
                None
            }
            // Deferred past the next start unless the service declares
            // readiness: then sv waits on it (see the supervisor's order).
            Effect::WriteHealth(h) if h.mechanism == Mechanism::None => {
                self.deferred.health = Some(h);
                None
            }
            Effect::WriteHealth(h) => {
                self.deferred.health = None;
                write_health(&self.diag, &h);
                None
            }
            Effect::RecordDeath(d) => {
                self.deferred.deaths.push(d);
                None
            }
            Effect::Exit(code) => {
                self.exit = Some(code);
                None
            }
        }
    }

    fn pipe(&self) -> Option<LogPipe> {
        self.log_pipe.as_ref().map(|(r, w)| LogPipe { read: r.as_raw_fd(), write: w.as_raw_fd() })
    }

    fn spawn(&mut self, child: Child) -> Event {
        let is_run = child == Child::Run;
        let fd = self.notification_fd.filter(|_| is_run);
        let pipe = fd.and_then(|n| match notify::pipe() {
            Ok((read, write)) => Some((read, write, n)),
            Err(e) => {
                self.diag.warn("unable to create notification pipe", Some(&e));
                None
            }
        });
        let env = self.notify_socket.as_ref().filter(|_| is_run).map(NotifySocket::environment);
        let ready = Readiness { fd: pipe.as_ref().map(|(_, w, n)| (w.as_raw_fd(), *n)), env: env.as_ref() };
        let started = spawn::start(child, self.diag.prefix(), self.pipe(), ready);
        // The child holds its copy of the write end; runsv's goes now.
        if let (Ok(_), Some((read, _write, _))) = (&started, pipe) {
            self.watch_notify_pipe(read);
        }
        match started {
            Ok(pid) => {
                self.deferred.instances.push((child, pid));
                Event::Spawned { child, pid }
            }
            Err(e) => {
                self.diag.warn("unable to fork, sleeping", Some(&e));
                Event::SpawnFailed { child }
            }
        }
    }

    fn watch_notify_pipe(&mut self, read: NotifyPipe) {
        self.close_notify_pipe();
        let fd = read.read.as_raw_fd();
        if self.poll.registry().register(&mut SourceFd(&fd), NOTIFY_PIPE, Interest::READABLE).is_ok() {
            self.notify_pipe = Some(read);
        }
    }

    /// Extension: `supervise/instance` names the process just started.
    fn record_instance(&mut self, child: Child, pid: u32) {
        let Some(boot) = &self.boot_id else { return };
        let (writer, kind) = match child {
            Child::Run => (&mut self.instances.0, Kind::Run),
            Child::Finish { .. } => (&mut self.instances.0, Kind::Finish),
            Child::Log => (&mut self.instances.1, Kind::Run),
        };
        if let Ok(rec) = Instance::of(kind, pid, boot) {
            let _ = writer.record(Path::new(""), &rec);
        }
    }

    /// Writes what [`Deferred`] holds: the instance records, the deaths,
    /// then the health record.
    fn flush_deferred(&mut self) {
        for (child, pid) in std::mem::take(&mut self.deferred.instances) {
            self.record_instance(child, pid);
        }
        let d = &mut self.deferred;
        // Taken, not drained: an idle runsv keeps no heap for it.
        for death in std::mem::take(&mut d.deaths) {
            if let Err(e) = d.recorder.record(Path::new(""), &death) {
                self.diag.warn("unable to write supervise/deaths", Some(&e.error));
            }
        }
        if let Some(h) = d.health.take() {
            write_health(&self.diag, &h);
        }
    }

    fn sweep(&mut self, pgid: u32) {
        let Some(sweep) = Sweep::group(pgid, Instant::now(), &mut self.member_ids) else { return };
        let registry = self.poll.registry();
        for (id, fd) in &sweep.members {
            let _ = registry.register(&mut SourceFd(&fd.as_raw_fd()), Token(*id), Interest::READABLE);
        }
        self.sweeps.push(sweep);
    }

    fn member_exited(&mut self, id: usize) {
        for s in &mut self.sweeps {
            if let Some(fd) = s.exited(id) {
                let _ = self.poll.registry().deregister(&mut SourceFd(&fd.as_raw_fd()));
            }
        }
        self.sweeps.retain(|s| !s.done());
    }

    fn expire_sweeps(&mut self) {
        let now = Instant::now();
        for s in &mut self.sweeps {
            if s.deadline <= now {
                for (_, fd) in &s.members {
                    let _ = self.poll.registry().deregister(&mut SourceFd(&fd.as_raw_fd()));
                }
                s.kill_rest();
            }
        }
        self.sweeps.retain(|s| !s.done());
    }
}

/// Extension: the readiness declaration and the restart policy of the
/// service directory (the current directory). Problems are warnings; the
/// service then behaves as runit's. A notify socket is created here.
fn health_config(diag: &Diag) -> (HealthConfig, Option<NotifySocket>) {
    let here = Path::new(".");
    let (declared, both) = health_file::declared(here);
    let mut mechanism = match declared {
        Ok(m) => {
            if both {
                let (fd, sock) = (health_file::NOTIFICATION_FD, health_file::NOTIFY_SOCKET);
                diag.warn(&format!("ignoring {sock}: {fd} takes precedence"), None);
            }
            m
        }
        Err(e) => {
            diag.warn(&format!("ignoring {}: {e}", health_file::NOTIFICATION_FD), None);
            if both { Mechanism::NotifySocket } else { Mechanism::None }
        }
    };
    let mut socket = None;
    if mechanism == Mechanism::NotifySocket {
        match NotifySocket::bind() {
            Ok(s) => socket = Some(s),
            Err(e) => {
                diag.warn(
                    &format!("ignoring {}: unable to create socket", health_file::NOTIFY_SOCKET),
                    Some(&e),
                );
                mechanism = Mechanism::None;
            }
        }
    }
    let policy = policy::read(here).unwrap_or_else(|e| {
        diag.warn(&format!("ignoring {}: {e}", policy::FILE), None);
        None
    });
    (HealthConfig { mechanism, policy: policy.unwrap_or_default() }, socket)
}

/// §2 step 4: is there a log service, and does `log/down` exist?
fn log_layout(diag: &Diag) -> Option<bool> {
    match fs::metadata("log") {
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => {
            // runit's message has the doubled ": " (sic).
            diag.warn("unable to stat() ./log: ", Some(&e));
            None
        }
        Ok(m) if !m.is_dir() => {
            diag.warn("./log: not a directory.", None);
            None
        }
        Ok(_) => Some(fs::metadata("log/down").is_ok()),
    }
}

fn write_health(diag: &Diag, health: &runit_core::health::Health) {
    if let Err(e) = health_file::write(health) {
        diag.warn("unable to write supervise/health", Some(&e.error));
    }
}

fn write_record(diag: &Diag, record: Option<Record>) {
    let Some(r) = record else { return };
    let sup = match r.which {
        Which::Main => Supervise::MAIN,
        Which::Log => Supervise::LOG,
    };
    for w in sup.write_state(r.pid, &r.stat, &r.status) {
        diag.warn(&w, None);
    }
}
