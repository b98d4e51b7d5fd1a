//! The event loop: the only place that waits, scans and signals.
//!
//! runit's runsvdir wakes every 5 s (1 s after a failure), reaps by polling
//! and rescans when the directory's mtime changed (runsvdir.md §5). Ours
//! sleeps in `epoll` on three descriptors — the signal self-pipe (SIGCHLD,
//! SIGTERM, SIGHUP; SIGINT in graceful mode), the inotify descriptor and the
//! log pipe — and on one deadline, the earliest of the [`Timer`]s and of the
//! service table's own ([`Table::next_deadline`]: a dead runsv to restart,
//! a grace or a settle to end). When idle in inotify mode nothing is due, so
//! it never wakes (the proctitle log's 900-second dot excepted).
//!
//! runit's periodic check is kept as the fallback ([`Timer::Tick`]): every
//! 5 s, or 1 s after a failed scan, `stat` the directory and scan if it
//! changed. It runs when inotify cannot be used (`RUNSVDIR_POLL=1`,
//! `inotify_init` failed, no usable base path) and, next to inotify, while
//! some watch could not be added ("degraded", e.g. the watch limit).

use crate::args::Args;
use crate::exit::RunsvdirExit;
use crate::options::{Extensions, OptionWarning};
use crate::proctitle::{ArgvMemory, LogPipe, ProcTitle};
use crate::resolve::Place;
use crate::say::Say;
use crate::scan::{self, DirStat, ScanDir, ScanError};
use crate::shutdown::{self, Shutdown, Step};
use crate::spawn::Spawner;
use crate::table::{Action, Clock, Entry, Settle, Table};
use crate::tree;
use crate::watch::Watcher;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use runit_core::selfpipe::SignalPipe;
use std::collections::HashSet;
use std::ffi::OsString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// runit's wait when idle, in polling mode.
pub const TICK_IDLE: Duration = Duration::from_secs(5);
/// runit's wait after a failed check.
pub const TICK_RETRY: Duration = Duration::from_secs(1);
/// How often a `.` goes into the proctitle log.
pub const LOG_DOT: Duration = Duration::from_secs(900);

const SIGNALS: Token = Token(0);
const INOTIFY: Token = Token(1);
const LOG: Token = Token(2);

/// runsvdir's timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// runit's periodic check (polling mode, degraded mode, retry).
    Tick,
    /// The proctitle log's dot.
    LogDot,
    /// The graceful shutdown's next step.
    Shutdown,
}

/// One optional deadline per [`Timer`].
#[derive(Debug, Default, Clone)]
pub struct Timers([Option<Instant>; 3]);

impl Timers {
    fn slot(t: Timer) -> usize {
        match t {
            Timer::Tick => 0,
            Timer::LogDot => 1,
            Timer::Shutdown => 2,
        }
    }

    /// Arms (or with `None` disarms) a timer.
    pub fn set(&mut self, t: Timer, at: Option<Instant>) {
        if let Some(s) = self.0.get_mut(Self::slot(t)) {
            *s = at;
        }
    }

    /// When `t` is due, if armed.
    pub fn get(&self, t: Timer) -> Option<Instant> {
        self.0.get(Self::slot(t)).copied().flatten()
    }

    /// True (and disarmed) if `t` is due at `now`.
    pub fn fire(&mut self, t: Timer, now: Instant) -> bool {
        match self.0.get_mut(Self::slot(t)) {
            Some(s) if s.is_some_and(|at| at <= now) => {
                *s = None;
                true
            }
            _ => false,
        }
    }

    /// The earliest armed deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.0.iter().flatten().min().copied()
    }
}

/// The proctitle log in operation.
struct Log {
    pipe: LogPipe,
    title: ProcTitle,
    memory: Option<ArgvMemory>,
}

/// runsvdir.
struct Runsvdir {
    say: Say,
    ext: Extensions,
    scan_dir: ScanDir,
    base: Option<PathBuf>,
    table: Table,
    spawner: Spawner,
    signals: SignalPipe,
    poll: Poll,
    watcher: Option<Watcher>,
    log: Option<Log>,
    timers: Timers,
    last_dir: Option<DirStat>,
    /// A listing succeeded once (new directories settle from then on).
    listed: bool,
    /// runit's "check needed" flag: the last check failed.
    flag: bool,
    /// An event asked for a scan.
    rescan: bool,
    /// The last scan failed: the table's deadlines wait for a successful
    /// one (else a due restart would spin while the directory is missing).
    blocked: bool,
    shutdown: Option<Shutdown>,
}

/// Runs runsvdir with parsed arguments; returns how it exits.
pub fn run(argv: &[OsString], args: Args) -> RunsvdirExit {
    let say = Say::new(args.dir.as_bytes());
    let (ext, warnings) = Extensions::from_env();
    let mut caught = vec![libc::SIGTERM, libc::SIGHUP, libc::SIGCHLD];
    if ext.graceful.is_some() {
        caught.push(libc::SIGINT);
    }
    let Some((signals, poll)) = event_sources(&say, &caught) else { return RunsvdirExit::Fatal };
    let scan_dir = match ScanDir::open(&args.dir) {
        Ok(s) => s,
        Err(e) => {
            say.fatal(&[b"unable to open current directory"], Some(&e));
            return RunsvdirExit::Fatal;
        }
    };
    let log = args.log.as_ref().and_then(|l| start_log(&say, argv, l, args.log_index));
    for w in warnings {
        report_option(&say, &w);
    }
    let spawner = Spawner::new(args.new_session, say.clone(), &caught);
    let mut r = Runsvdir {
        base: scan_dir.base(),
        say,
        ext,
        scan_dir,
        table: Table::new(),
        spawner,
        signals,
        poll,
        watcher: None,
        log,
        timers: Timers::default(),
        last_dir: None,
        listed: false,
        flag: false,
        rescan: true,
        blocked: false,
        shutdown: None,
    };
    r.setup();
    r.run()
}

fn report_option(say: &Say, w: &OptionWarning) {
    say.warn(&[w.text().as_bytes()], None);
}

/// The signal self-pipe and the poller (runit has no failure mode here;
/// we treat one as fatal).
fn event_sources(say: &Say, caught: &[i32]) -> Option<(SignalPipe, Poll)> {
    let made = SignalPipe::new().and_then(|mut p| {
        for &sig in caught {
            p.catch(sig)?;
        }
        Ok(p)
    });
    let signals = match made {
        Ok(p) => p,
        Err(e) => {
            say.fatal(&[b"unable to create selfpipe"], Some(&e));
            return None;
        }
    };
    let poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => {
            say.fatal(&[b"unable to create poll"], Some(&e));
            return None;
        }
    };
    Some((signals, poll))
}

/// Sets up the proctitle log, or warns as runit does and runs without.
fn start_log(say: &Say, argv: &[OsString], arg: &OsString, index: usize) -> Option<Log> {
    let Some(title) = ProcTitle::new(arg.as_bytes()) else {
        say.warn(&[b"log must have at least seven characters."], None);
        say.warn(&[b"log service disabled."], None);
        return None;
    };
    match LogPipe::install() {
        Ok(pipe) => Some(Log { pipe, title, memory: ArgvMemory::locate(argv, index) }),
        Err(e) => {
            say.warn(&[e.text().as_bytes()], None);
            say.warn(&[b"log service disabled."], None);
            None
        }
    }
}

impl Runsvdir {
    /// Registers the event sources; becomes a subreaper; starts inotify.
    fn setup(&mut self) {
        let fd = self.signals.fd();
        if let Err(e) = self.poll.registry().register(&mut SourceFd(&fd), SIGNALS, Interest::READABLE) {
            self.say.warn(&[b"unable to poll selfpipe"], Some(&e));
        }
        if let Some(log) = &self.log {
            let fd = log.pipe.fd();
            if let Err(e) = self.poll.registry().register(&mut SourceFd(&fd), LOG, Interest::READABLE) {
                self.say.warn(&[b"unable to poll log pipe"], Some(&e));
            }
        }
        if self.ext.subreaper {
            become_subreaper(&self.say);
        }
        if self.ext.inotify {
            self.watcher = self.start_inotify();
        }
    }

    fn start_inotify(&mut self) -> Option<Watcher> {
        if self.base.is_none() && !self.scan_dir.dir().is_absolute() {
            let e = io::Error::from_raw_os_error(libc::ENOENT);
            self.say.warn(&[b"unable to watch ", b"the current directory"], Some(&e));
            return None;
        }
        let w = match Watcher::new() {
            Ok(w) => w,
            Err(e) => {
                self.say.warn(&[b"unable to initialize inotify"], Some(&e));
                return None;
            }
        };
        let fd = w.fd();
        match self.poll.registry().register(&mut SourceFd(&fd), INOTIFY, Interest::READABLE) {
            Ok(()) => Some(w),
            Err(e) => {
                self.say.warn(&[b"unable to initialize inotify"], Some(&e));
                None
            }
        }
    }

    fn run(&mut self) -> RunsvdirExit {
        let mut events = Events::with_capacity(16);
        if self.log.is_some() {
            // The first dot follows the first scan, as in runit.
            self.timers.set(Timer::LogDot, Some(Instant::now()));
        }
        loop {
            let now = Instant::now();
            if self.shutdown.is_none() {
                self.check(now);
            }
            if self.timers.fire(Timer::LogDot, now) {
                runit_core::report::write_stderr(b".");
                self.timers.set(Timer::LogDot, Some(now + LOG_DOT));
            }
            if let Some(code) = self.wait(&mut events) {
                return code;
            }
            if let Some(code) = self.shutdown_progress(Instant::now()) {
                return code;
            }
        }
    }

    /// Scans if anything asks for it: an event, the table, runit's tick.
    fn check(&mut self, now: Instant) {
        let table_due = self.table_deadline().is_some_and(|t| t <= now);
        if std::mem::take(&mut self.rescan) || table_due {
            self.scan(now);
        } else if self.timers.fire(Timer::Tick, now) {
            self.tick(now);
        }
        self.arm_tick(now);
    }

    /// runit's check: scan when the directory changed or the flag is set.
    fn tick(&mut self, now: Instant) {
        if self.flag {
            self.scan(now);
            return;
        }
        match self.scan_dir.stat(&self.say) {
            Ok(st) if Some(st) == self.last_dir => {}
            Ok(_) => self.scan(now),
            Err(_) => self.flag = true,
        }
    }

    fn arm_tick(&mut self, now: Instant) {
        let polling = self.watcher.as_ref().is_none_or(Watcher::degraded);
        let at = if self.flag {
            Some(now + TICK_RETRY)
        } else if polling {
            Some(now + TICK_IDLE)
        } else {
            None
        };
        // Keep an earlier tick that is already armed.
        let armed = self.timers.get(Timer::Tick);
        self.timers.set(
            Timer::Tick,
            match (armed, at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (_, b) => b,
            },
        );
    }

    /// One full scan (runsvdir.md §3, §4), watching before looking (the
    /// first listing excepted, see [`Runsvdir::watch_first_listing`]).
    fn scan(&mut self, now: Instant) {
        let clock = Clock { now, wall: wall_now() };
        let target = self.watch_scan_dir();
        let first = !self.listed;
        let result = self.scan_listing(clock, target.as_ref());
        let stale = match &result {
            Ok(entries) if first => self.watch_first_listing(target.as_ref(), entries),
            _ => false,
        };
        if let Some(w) = self.watcher.as_mut() {
            for (path, e) in w.end() {
                self.say.warn(&[b"unable to watch ", path.as_os_str().as_bytes()], Some(&e));
            }
        }
        self.blocked = result.is_err();
        match result {
            Ok(_) => self.flag = false,
            Err(e) => self.flag = !self.watched(&e),
        }
        if stale {
            // Changed between the look and the watch: look again, watched.
            self.scan(Instant::now());
        }
    }

    /// The table's next deadline, while it may be acted on.
    fn table_deadline(&self) -> Option<Instant> {
        if self.blocked || self.shutdown.is_some() { None } else { self.table.next_deadline() }
    }

    /// True if a watch will report the fix of this failure.
    fn watched(&self, e: &ScanError) -> bool {
        let covered = matches!(e.errno(), Some(libc::ENOENT | libc::ENOTDIR));
        covered && self.watcher.as_ref().is_some_and(|w| !w.degraded())
    }

    /// Rebuilds the watches of the scan directory's path; returns where it
    /// leads.
    fn watch_scan_dir(&mut self) -> Option<Place> {
        let w = self.watcher.as_mut()?;
        w.begin();
        let base = Place::at(self.base.as_deref().unwrap_or(Path::new("/")));
        let target = w.chain(&base, self.scan_dir.dir()).ok()?;
        w.all(target.path());
        Some(target)
    }

    /// Lists the scan directory and starts runsv for each new service as it
    /// is listed (as runit does), then stops the runsv of services gone.
    /// Returns the first successful listing's entries (for
    /// [`Runsvdir::watch_first_listing`]); later listings watch each name's
    /// chain before they `stat` it and return nothing.
    fn scan_listing(&mut self, clock: Clock, target: Option<&Place>) -> Result<Vec<Entry>, ScanError> {
        let st = self.scan_dir.stat(&self.say)?;
        // Everything in the first successful listing starts at once.
        let first = !self.listed;
        self.last_dir = Some(st);
        // Directories moved in since the last scan are complete: no settle.
        let moved_in = match (self.watcher.as_mut(), target) {
            (Some(w), Some(t)) if !first => w.moved_in(t.path()),
            _ => HashSet::new(),
        };
        let settle = if first { Settle::Never } else { Settle::Fresh { moved_in: &moved_in } };
        let in_dir = self.scan_dir.enter(&self.say)?;
        let mut names = in_dir.names()?;
        let mut pass = Table::pass(clock, settle);
        let mut listed = Vec::new();
        while let Some(name) = names.next_name()? {
            if let (Some(w), Some(t), false) = (self.watcher.as_mut(), target, first) {
                let _ = w.chain(t, Path::new(&name));
            }
            let table = &self.table;
            let kind = in_dir.kind(&name, &|id| !first && table.needs_mtime(id));
            let entry = Entry { name, kind };
            if let Some(a) = self.table.entry(&mut pass, &entry) {
                perform(&self.spawner, &self.say, &mut self.table, a, clock.now);
            }
            if first {
                listed.push(entry);
            }
        }
        self.listed = true;
        for a in self.table.finish(pass) {
            perform(&self.spawner, &self.say, &mut self.table, a, clock.now);
        }
        drop(names);
        drop(in_dir);
        Ok(listed)
    }

    /// The first listing looks before it watches, so that the first runsv
    /// starts without waiting for every entry's watches (start-up,
    /// docs/runsvdir.md). This adds the watches of every listed name's
    /// chain afterwards and checks, under them, that each name still leads
    /// where the listing found it; true if one does not (that change fell
    /// between the look and the watch and has no event). A single name
    /// looked up in the scan directory needs no check: the scan directory
    /// was watched before the listing.
    fn watch_first_listing(&mut self, target: Option<&Place>, listed: &[Entry]) -> bool {
        let (Some(w), Some(t)) = (self.watcher.as_mut(), target) else { return false };
        let mut stale = false;
        for e in listed {
            let (now, lookups) = w.chain_lookups(t, Path::new(&e.name));
            if lookups > 1 && !stale {
                stale = !scan::still(now.as_ref().map(Place::path).map_err(|e| *e), &e.kind);
            }
        }
        stale
    }

    /// Waits for the next event or deadline and handles it.
    fn wait(&mut self, events: &mut Events) -> Option<RunsvdirExit> {
        let now = Instant::now();
        let deadline = [self.timers.next_deadline(), self.table_deadline()].into_iter().flatten().min();
        let timeout = deadline.map(|d| d.saturating_duration_since(now));
        if let Err(e) = self.poll.poll(events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                self.say.warn(&[b"unable to poll"], Some(&e));
                std::thread::sleep(TICK_RETRY);
            }
            return None;
        }
        let mut ready = [false; 3];
        for ev in events.iter() {
            if let Some(r) = ready.get_mut(ev.token().0) {
                *r = true;
            }
        }
        if ready[LOG.0] {
            self.drain_log();
        }
        if ready[INOTIFY.0] {
            self.inotify_events();
        }
        if ready[SIGNALS.0] {
            return self.signals();
        }
        None
    }

    fn drain_log(&mut self) {
        if let Some(log) = self.log.as_mut() {
            let bytes = log.pipe.drain();
            log.title.push(&bytes);
            if let Some(m) = log.memory.as_mut() {
                m.show(log.title.as_bytes());
            }
        }
    }

    fn inotify_events(&mut self) {
        let Some(w) = self.watcher.as_mut() else { return };
        match w.relevant() {
            Ok(relevant) => self.rescan |= relevant && self.shutdown.is_none(),
            Err(e) => {
                self.say.warn(&[b"unable to read inotify events"], Some(&e));
                let fd = w.fd();
                let _ = self.poll.registry().deregister(&mut SourceFd(&fd));
                self.watcher = None;
                self.rescan = true;
            }
        }
    }

    fn signals(&mut self) -> Option<RunsvdirExit> {
        for sig in self.signals.drain() {
            match sig {
                libc::SIGCHLD => self.reap(),
                libc::SIGHUP => {
                    for pid in self.table.pids() {
                        signal(pid, libc::SIGTERM);
                    }
                    return Some(RunsvdirExit::Hup);
                }
                libc::SIGTERM | libc::SIGINT => {
                    let Some(budget) = self.ext.graceful else { return Some(RunsvdirExit::Term) };
                    self.begin_shutdown(budget);
                }
                _ => {}
            }
        }
        None
    }

    fn reap(&mut self) {
        let r = shutdown::reap();
        for pid in r.pids {
            self.table.reaped(pid);
            if let Some(s) = self.shutdown.as_mut() {
                s.reaped(pid);
            }
        }
    }

    fn begin_shutdown(&mut self, budget: Duration) {
        let now = Instant::now();
        if let Some(s) = self.shutdown.as_mut() {
            s.hurry(now);
            return;
        }
        let pids = self.table.drain();
        for &pid in &pids {
            signal(pid, libc::SIGTERM);
        }
        self.timers.set(Timer::Tick, None);
        self.shutdown = Some(Shutdown::new(now, budget, pids));
    }

    /// Advances a graceful shutdown; `Some` when runsvdir should exit.
    fn shutdown_progress(&mut self, now: Instant) -> Option<RunsvdirExit> {
        let s = self.shutdown.as_mut()?;
        let r = shutdown::reap();
        for &pid in &r.pids {
            s.reaped(pid);
        }
        match s.step(now, !r.none_left) {
            Step::Exit => return Some(RunsvdirExit::Term),
            Step::Wait(at) => self.timers.set(Timer::Shutdown, Some(at)),
            Step::TermOrphans => {
                // SAFETY: getpid has no preconditions.
                let me = unsafe { libc::getpid() };
                for pid in tree::children(me) {
                    signal(pid, libc::SIGTERM);
                    signal(pid, libc::SIGCONT);
                }
                self.timers.set(Timer::Shutdown, Some(now));
            }
            Step::KillAll => {
                tree::signal_all_below(libc::SIGKILL);
                self.timers.set(Timer::Shutdown, Some(now + shutdown::KILL_REPEAT));
            }
        }
        None
    }
}

/// Performs one action of a scan (runsvdir's working directory is the scan
/// directory).
fn perform(spawner: &Spawner, say: &Say, table: &mut Table, action: Action, now: Instant) {
    match action {
        Action::Start { id, name } => match spawner.start(&name) {
            Ok(pid) => table.started(id, pid, now),
            Err(e) => {
                say.warn(&[b"unable to fork for ", name.as_bytes()], Some(&e));
                table.start_failed(id, now);
            }
        },
        Action::Term { pid } => signal(pid, libc::SIGTERM),
    }
}

/// Becomes a child subreaper (our extension), warning on failure.
fn become_subreaper(say: &Say) {
    // SAFETY: prctl with integer arguments.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        let e = io::Error::last_os_error();
        say.warn(&[b"unable to become a subreaper"], Some(&e));
    }
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill on a pid of ours; failures (already gone) do not matter.
    unsafe { libc::kill(pid, sig) };
}

fn wall_now() -> Duration {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timers_fire_once_and_report_the_earliest() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        assert_eq!(t.next_deadline(), None, "idle: no wake-up");
        t.set(Timer::LogDot, Some(t0 + LOG_DOT));
        t.set(Timer::Tick, Some(t0 + TICK_IDLE));
        assert_eq!(t.next_deadline(), Some(t0 + TICK_IDLE));
        assert!(!t.fire(Timer::Tick, t0));
        assert!(t.fire(Timer::Tick, t0 + TICK_IDLE));
        assert!(!t.fire(Timer::Tick, t0 + TICK_IDLE), "disarmed");
        assert_eq!(t.get(Timer::Tick), None);
        assert_eq!(t.next_deadline(), Some(t0 + LOG_DOT));
        t.set(Timer::LogDot, None);
        assert_eq!(t.next_deadline(), None);
    }
}
