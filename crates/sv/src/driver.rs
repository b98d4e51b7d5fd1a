//! The part of sv that touches the system: directories, `supervise/`
//! files, standard output and the wait loop (sv.md §3-§8).
//!
//! Like runit's sv it changes into each service directory, acts, and
//! returns to the directory it started in (held open; failing to return is
//! fatal). The decisions are made by the pure modules: [`crate::command`]
//! (what to send, when to wait), [`crate::resolve`] (where a name lives),
//! [`crate::line`] (what a status line says), [`crate::cond`] (when a
//! command has taken effect) and [`crate::ready`] (readiness where a
//! service declares a mechanism, in place of `./check`).
//!
//! Every problem line (`fail:`, `warning:`, `timeout:`, `kill:`) adds one to
//! the failure count that becomes the exit status. Two messages do not
//! count, as in runit: `ok: <name>: runsv not running` for exit commands,
//! and the stderr warning about an unreadable `down` file.

use crate::check;
use crate::cli::Invocation;
use crate::command::{Action, Control, OnTimeout};
use crate::cond;
use crate::exit::Exit;
use crate::history;
use crate::json::{self, Entry, Extras};
use crate::line;
use crate::out::Out;
use crate::ready;
use crate::resolve::{self, Pass};
use crate::watch::Watch;
use runit_core::deaths;
use runit_core::errtext;
use runit_core::health::{self, Readiness};
use runit_core::layout;
use runit_core::status::Status;
use runit_core::supervise::{self, ReadStatusError, SendError, Supervise};
use runit_core::tai::Tai64N;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Safety-net interval between wait rounds while inotify watches every
/// service (runit's own fixed interval).
const POLL_WATCHED: Duration = Duration::from_millis(420);
/// Interval between wait rounds when some `supervise/` is not watched.
const POLL_UNWATCHED: Duration = Duration::from_millis(50);
/// First delay before re-running a failed `./check` (doubles per failure).
const CHECK_RETRY_FIRST: Duration = Duration::from_millis(25);
/// Longest delay between runs of a failing `./check`.
const CHECK_RETRY_MAX: Duration = Duration::from_millis(200);
/// A `./check` started near or after the deadline may still run this long.
const CHECK_GRACE: Duration = Duration::from_secs(1);

/// A fatal error: sv cannot find its way back to where it started.
#[derive(Debug)]
pub struct Fatal {
    what: &'static str,
    error: io::Error,
}

impl Fatal {
    /// The stderr line, without a program-name prefix (as runit prints it).
    pub fn render(&self) -> Vec<u8> {
        format!("fatal: {}: {}\n", self.what, errtext::io_text(&self.error)).into_bytes()
    }
}

/// What probing and reading one `supervise/` gave (sv.md §4 steps 1-2).
enum Got {
    Record(Status),
    /// `supervise/ok` has no reader.
    NotRunning,
    /// Any other problem, in runit's words without the name.
    Problem(String),
}

/// Probes and reads the `supervise/` of the current directory.
fn read_supervise() -> Got {
    let here = Path::new("");
    match supervise::probe(here, Supervise::MAIN) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Got::NotRunning,
        Err(e) => return Got::Problem(with_err("unable to open supervise/ok", &e)),
    }
    match supervise::read_status(here, Supervise::MAIN) {
        Ok(st) => Got::Record(st),
        Err(ReadStatusError::Open(e)) => Got::Problem(with_err("unable to open supervise/status", &e)),
        Err(ReadStatusError::Read(e)) => Got::Problem(with_err("unable to read supervise/status", &e)),
        Err(ReadStatusError::BadFormat) => Got::Problem("unable to read supervise/status: bad format".into()),
    }
}

fn with_err(what: &str, e: &io::Error) -> String {
    format!("{what}: {}", errtext::io_text(e))
}

fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Whether the current directory holds a `down` file (`stat`, following
/// symlinks, any file type).
fn down_exists() -> io::Result<bool> {
    match std::fs::metadata(layout::DOWN) {
        Ok(_) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
        Err(e) => Err(e),
    }
}

fn fchdir(dir: &File) -> io::Result<()> {
    // SAFETY: fchdir on a descriptor owned by `dir`.
    if unsafe { libc::fchdir(dir.as_raw_fd()) } == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
}

/// Opens `SVDIR` once, as a path-only handle for `fchdir`: the same
/// permission checks and errors as runit's `chdir(SVDIR)` per service
/// (O_PATH needs no read permission; `fchdir` checks search permission),
/// without resolving the path again for every service. Relative to the
/// starting directory, where sv always is when it enters a service.
fn open_svdir(svdir: &[u8]) -> Result<File, i32> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_DIRECTORY)
        .open(Path::new(std::ffi::OsStr::from_bytes(svdir)))
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))
}

fn chdir(dir: &[u8]) -> io::Result<()> {
    std::env::set_current_dir(Path::new(std::ffi::OsStr::from_bytes(dir)))
}

/// One run of sv.
struct Sv<'a> {
    inv: &'a Invocation,
    out: Out,
    home: File,
    /// `SVDIR`, opened once (or why it could not be).
    svdir: Result<File, i32>,
    home_path: Vec<u8>,
    failures: u32,
    started: Instant,
    started_secs: i64,
    /// sv's start as a TAI64N label, to compare with `supervise/health`.
    started_tai: Tai64N,
}

/// Runs the validated command line; returns how sv ends.
pub fn run(inv: &Invocation) -> Exit {
    let home = match File::open(".") {
        Ok(home) => home,
        Err(e) => {
            let fatal = Fatal { what: "unable to open current directory", error: e };
            runit_core::report::write_stderr(&fatal.render());
            return Exit::Fatal;
        }
    };
    // Only `-j` shows paths, and only then is the start directory's name needed.
    let home_path =
        inv.json.then(|| std::env::current_dir().map(|p| p.into_os_string().into_vec()).ok()).flatten();
    let mut sv = Sv {
        inv,
        out: Out::new(),
        home,
        svdir: open_svdir(inv.svdir.as_bytes()),
        home_path: home_path.unwrap_or_else(|| b".".to_vec()),
        failures: 0,
        started: Instant::now(),
        started_secs: now_unix(),
        started_tai: Tai64N::now(),
    };
    match sv.run() {
        Ok(exit) => {
            sv.out.flush();
            exit
        }
        Err(fatal) => {
            sv.out.stderr(&fatal.render());
            Exit::Fatal
        }
    }
}

impl Sv<'_> {
    fn run(&mut self) -> Result<Exit, Fatal> {
        let inv = self.inv;
        let mut pending = Vec::new();
        for (i, name) in inv.services.iter().enumerate() {
            let name = name.as_bytes();
            if let Err(e) = self.enter(name, Pass::Send) {
                if inv.json && inv.action == Action::Status {
                    self.failures += 1;
                    let err =
                        Entry::Error(with_err("unable to change to service directory", &e).into_bytes());
                    let path = self.display_path(name);
                    json::service_line(
                        self.out.buf(),
                        name,
                        &path,
                        &err,
                        None,
                        Extras::default(),
                        now_unix(),
                    );
                } else {
                    self.fail_chdir(name, &e);
                }
                self.go_home()?;
                continue;
            }
            let early = match inv.action {
                Action::Status if inv.json => self.json_status(name),
                Action::Status => self.status(name),
                Action::Control(c) => {
                    if self.control(name, &c) {
                        pending.push(i);
                    }
                    None
                }
            };
            self.go_home()?;
            if let Some(exit) = early {
                return Ok(exit);
            }
        }
        if let Action::Control(c) = inv.action
            && c.waits(inv.verbose)
        {
            self.wait(&c, pending)?;
        }
        Ok(Exit::Failures(self.failures))
    }

    /// Changes into the service directory by the rule of `pass`.
    fn enter(&self, name: &[u8], pass: Pass) -> io::Result<()> {
        if resolve::under_svdir(name, pass) {
            match &self.svdir {
                Ok(dir) => fchdir(dir)?,
                Err(errno) => return Err(io::Error::from_raw_os_error(*errno)),
            }
        }
        chdir(name)
    }

    fn go_home(&self) -> Result<(), Fatal> {
        fchdir(&self.home).map_err(|error| Fatal { what: "unable to change to original directory", error })
    }

    // --- messages (stdout) ---------------------------------------------

    fn message(&mut self, kind: &[u8], name: &[u8], suffix: &[u8], text: &[u8]) {
        let b = self.out.buf();
        b.extend_from_slice(kind);
        b.extend_from_slice(name);
        b.extend_from_slice(suffix);
        b.extend_from_slice(b": ");
        b.extend_from_slice(text);
        b.push(b'\n');
        self.out.flush_if_full();
    }

    fn warning(&mut self, name: &[u8], suffix: &[u8], text: &str) {
        self.failures += 1;
        self.message(b"warning: ", name, suffix, text.as_bytes());
    }

    fn fail_chdir(&mut self, name: &[u8], e: &io::Error) {
        self.failures += 1;
        self.message(b"fail: ", name, b"", with_err("unable to change to service directory", e).as_bytes());
    }

    /// `fail: <name>: runsv not running`, or `ok:` (not counted) when the
    /// command was meant to stop runsv anyway.
    fn not_running(&mut self, name: &[u8], suffix: &[u8], exit_ok: bool) {
        if exit_ok {
            self.message(b"ok: ", name, suffix, b"runsv not running");
        } else {
            self.failures += 1;
            self.message(b"fail: ", name, suffix, b"runsv not running");
        }
    }

    /// Reads the current directory's record, printing and counting
    /// problems the way runit's sv does.
    fn get(&mut self, name: &[u8], suffix: &[u8], exit_ok: bool) -> Option<Status> {
        match read_supervise() {
            Got::Record(st) => Some(st),
            Got::NotRunning => {
                self.not_running(name, suffix, exit_ok);
                None
            }
            Got::Problem(p) => {
                self.warning(name, suffix, &p);
                None
            }
        }
    }

    /// Appends the status line of `st` labelled `label`, checking `down`
    /// in the current directory; false (and a stderr warning naming the
    /// service `name`) when `down` cannot be examined.
    fn record_line(&mut self, label: &[u8], name: &[u8], st: &Status) -> bool {
        match down_exists() {
            Ok(down) => {
                line::status_line(self.out.buf(), label, st, down, now_unix());
                true
            }
            Err(e) => {
                let mut m = b"warning: unable to stat ".to_vec();
                m.extend_from_slice(name);
                m.extend_from_slice(b"/down: ");
                m.extend_from_slice(errtext::io_text(&e).as_bytes());
                m.push(b'\n');
                self.out.stderr(&m);
                false
            }
        }
    }

    // --- status ----------------------------------------------------------

    /// `sv status` for one service (cwd = its directory), with `-H` its
    /// death history after the status line.
    fn status(&mut self, name: &[u8]) -> Option<Exit> {
        let deaths = self.inv.history.then(|| deaths::read(Path::new("")));
        let exit = self.status_line(name);
        if let Some(deaths) = deaths {
            history::lines(self.out.buf(), name, &deaths);
            self.out.flush_if_full();
        }
        exit
    }

    /// The status line of one service (cwd = its directory). In LSB mode
    /// the answer ends sv: the returned exit is 0/3/4 from the main service
    /// (2.3.0; 2.1.2 took it from the log service).
    fn status_line(&mut self, name: &[u8]) -> Option<Exit> {
        let lsb = self.inv.lsb;
        let st = match read_supervise() {
            Got::Record(st) => st,
            Got::NotRunning => {
                self.not_running(name, b"", false);
                return None;
            }
            Got::Problem(p) => {
                self.warning(name, b"", &p);
                return lsb.then_some(Exit::LsbUnknown);
            }
        };
        let printed = self.record_line(name, name, &st);
        match chdir(layout::LOG.as_bytes()) {
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => self.out.put(b"\n"),
            Err(e) => {
                self.out.put(b"; ");
                self.warning(name, b"/log", &with_err("unable to change directory", &e));
            }
            Ok(()) => {
                self.out.put(b"; ");
                match read_supervise() {
                    Got::Record(log) => {
                        self.record_line(b"log", name, &log);
                        self.out.put(b"\n");
                    }
                    Got::NotRunning => self.not_running(name, b"/log", false),
                    Got::Problem(p) => {
                        // runit's quirk: the record buffer still holds the
                        // main service's record, printed as the log's.
                        self.warning(name, b"/log", &p);
                        self.record_line(b"log", name, &st);
                        self.out.put(b"\n");
                    }
                }
            }
        }
        lsb.then_some(match (printed, st.pid) {
            (false, _) => Exit::LsbUnknown,
            (true, 0) => Exit::LsbDown,
            (true, _) => Exit::LsbRunning,
        })
    }

    /// `sv -j status` for one service: one JSON object, no text lines.
    /// Problems count as in text mode, and LSB mode answers as for text.
    fn json_status(&mut self, name: &[u8]) -> Option<Exit> {
        let (main, lsb_exit) = self.json_entry();
        let here = Path::new("");
        let record = health::read(here);
        let deaths = self.inv.history.then(|| deaths::read(here));
        let log = match &main {
            Entry::Error(_) => None,
            Entry::Record { .. } => match chdir(layout::LOG.as_bytes()) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => None,
                Err(e) => {
                    self.failures += 1;
                    Some(Entry::Error(with_err("unable to change directory", &e).into_bytes()))
                }
                Ok(()) => Some(self.json_entry().0),
            },
        };
        let path = self.display_path(name);
        let extras = Extras { health: record.as_ref(), deaths: deaths.as_deref() };
        json::service_line(self.out.buf(), name, &path, &main, log.as_ref(), extras, now_unix());
        self.out.flush_if_full();
        if self.inv.lsb { lsb_exit } else { None }
    }

    /// The current directory's record as JSON, and the LSB `status` exit
    /// it implies (`None` when runsv is not running: the error count).
    fn json_entry(&mut self) -> (Entry, Option<Exit>) {
        match read_supervise() {
            Got::Record(status) => {
                let down = down_exists().ok();
                let exit = match down {
                    None => Exit::LsbUnknown,
                    Some(_) if status.pid != 0 => Exit::LsbRunning,
                    Some(_) => Exit::LsbDown,
                };
                (Entry::Record { status, down }, Some(exit))
            }
            Got::NotRunning => {
                self.failures += 1;
                (Entry::Error(b"runsv not running".to_vec()), None)
            }
            Got::Problem(p) => {
                self.failures += 1;
                (Entry::Error(p.into_bytes()), Some(Exit::LsbUnknown))
            }
        }
    }

    fn display_path(&self, name: &[u8]) -> Vec<u8> {
        resolve::display_path(name, self.inv.svdir.as_bytes(), &self.home_path)
    }

    // --- sending ---------------------------------------------------------

    /// Sends `c` to one service (cwd = its directory); true when the
    /// service is to be waited for.
    fn control(&mut self, name: &[u8], c: &Control) -> bool {
        let Some(st) = self.get(name, b"", c.is_exit()) else { return false };
        if c.is_redundant(st.want, st.got_term) {
            return true;
        }
        self.send(name, c.send, c.is_exit())
    }

    fn send(&mut self, name: &[u8], bytes: &[u8], exit_ok: bool) -> bool {
        match supervise::send_control(Path::new(""), Supervise::MAIN, bytes) {
            Ok(()) => true,
            Err(SendError::Open(e)) if e.raw_os_error() == Some(libc::ENXIO) => {
                self.not_running(name, b"", exit_ok);
                false
            }
            Err(SendError::Open(e)) => {
                self.warning(name, b"", &with_err("unable to open supervise/control", &e));
                false
            }
            Err(SendError::Write(e)) => {
                self.warning(name, b"", &with_err("unable to write to supervise/control", &e));
                false
            }
        }
    }

    // --- waiting ---------------------------------------------------------

    /// The wait loop (sv.md §6) over the services in `pending` (indices
    /// into the service list, in command-line order).
    fn wait(&mut self, c: &Control, mut pending: Vec<usize>) -> Result<(), Fatal> {
        let deadline = self.started.checked_add(Duration::from_secs(self.inv.wait_secs));
        let mut watch = Watch::new();
        let mut watched = vec![false; self.inv.services.len()];
        let mut check_retry = CHECK_RETRY_FIRST;
        while !pending.is_empty() {
            let mut check_failed = false;
            let mut still = Vec::with_capacity(pending.len());
            for i in pending {
                let name = self.inv.services[i].as_bytes();
                if let Err(e) = self.enter(name, Pass::Wait) {
                    self.fail_chdir(name, &e);
                } else {
                    if !std::mem::replace(&mut watched[i], true) {
                        watch.add(Path::new(layout::SUPERVISE));
                    }
                    if self.wait_one(name, c, deadline, &mut check_failed) {
                        still.push(i);
                    }
                }
                self.go_home()?;
            }
            pending = still;
            if pending.is_empty() {
                break;
            }
            self.out.flush();
            let now = Instant::now();
            let mut until = now + if watch.complete() { POLL_WATCHED } else { POLL_UNWATCHED };
            if let Some(d) = deadline {
                until = until.min(d + Duration::from_millis(1));
            }
            if check_failed {
                until = until.min(now + check_retry);
                check_retry = (check_retry * 2).min(CHECK_RETRY_MAX);
            } else {
                check_retry = CHECK_RETRY_FIRST;
            }
            watch.wait(until);
        }
        Ok(())
    }

    /// One service in one round; true while it is still pending.
    fn wait_one(
        &mut self,
        name: &[u8],
        c: &Control,
        deadline: Option<Instant>,
        check_failed: &mut bool,
    ) -> bool {
        let Some(st) = self.get(name, b"", c.is_exit()) else { return false };
        let record = health::read(Path::new(""));
        if ready::gave_up(record.as_ref(), c.expect, self.started_tai) {
            self.failures += 1;
            self.message(b"fail: ", name, b"", ready::GAVE_UP);
            return false;
        }
        // A check is killed at the deadline, but one started close to or
        // after it (e.g. with `-w 0`) still gets CHECK_GRACE to answer.
        let kill_at = deadline.map(|d| (d + Duration::from_millis(1)).max(Instant::now() + CHECK_GRACE));
        let out = &mut self.out;
        // Where runit runs ./check: the readiness record first.
        let mut check = || match ready::of(record.as_ref(), &st) {
            Readiness::Ready { .. } => true,
            Readiness::NotReady => false,
            Readiness::Unknown => {
                let ok = check::passes(name, kill_at, out);
                *check_failed |= !ok;
                ok
            }
        };
        if cond::all_hold(c.expect, &st, self.started_secs, &mut check) {
            self.result(b"ok: ", name, &st);
            return false;
        }
        if deadline.is_some_and(|d| Instant::now() > d) {
            self.failures += 1;
            match c.on_timeout {
                OnTimeout::Report => self.result(b"timeout: ", name, &st),
                OnTimeout::Kill => {
                    self.result(b"kill: ", name, &st);
                    self.send(name, b"k", false);
                }
            }
            return false;
        }
        true
    }

    /// `<word><status line>\n` (no log part).
    fn result(&mut self, word: &[u8], name: &[u8], st: &Status) {
        self.out.put(word);
        self.record_line(name, name, st);
        self.out.put(b"\n");
    }
}
