//! `supervise/health`: readiness and crash-loop state of the main service
//! (runit-rs extension, docs/health.md), and the two opt-in files of a
//! service directory that declare how a service reports readiness.
//!
//! runit knows only "running"; its `sv` treats a running service as ready
//! when `./check` (if any) succeeds. A service directory may instead declare
//! a readiness mechanism, mirroring the two that daemons already speak:
//!
//! * `notification-fd` (s6's file of the same name): a descriptor number;
//!   `./run` gets the write end of a pipe there and writes a newline once
//!   it is ready;
//! * `notify-socket` (systemd's `Type=notify`): its presence makes runsv
//!   pass `NOTIFY_SOCKET` to `./run`; the daemon sends `READY=1` (and
//!   `STATUS=...`, `STOPPING=1`) as datagrams.
//!
//! runit-rs's runsv rewrites `supervise/health` atomically (`health.new`,
//! then rename; mode 0644) on every change. Format: one `key value` line
//! per fact, in this order, unknown keys to be ignored by readers:
//!
//! ```text
//! state ready
//! pid 1234
//! since 400000006b0844251920ee14
//! mechanism notify-socket
//! until 400000006b0844291920ee14      (state backoff only)
//! status Accepting connections        (only once the daemon sent STATUS=)
//! ```
//!
//! `pid` is the pid of `./run` the record is about (0 when none runs), so a
//! reader compares it with `supervise/status` to avoid mixing two runs.
//! Times are TAI64N labels in 24 hex digits, as svlogd prints them.
//! C runit never writes this file: when it is missing, or its pid differs
//! from the status record's, readers fall back to runit's `./check`.

use crate::atomic;
use crate::status::{State, Status};
use crate::supervise::Supervise;
use crate::tai::Tai64N;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

/// File name inside `supervise/`.
pub const FILE: &str = "health";
/// In the service directory: s6's readiness descriptor number.
pub const NOTIFICATION_FD: &str = "notification-fd";
/// In the service directory: opt in to systemd's `NOTIFY_SOCKET` protocol.
pub const NOTIFY_SOCKET: &str = "notify-socket";
/// Longest `STATUS=` text kept, in bytes.
pub const STATUS_MAX: usize = 256;

/// How a service tells that it is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// Neither file: readiness is `./check`'s business (runit's way).
    None,
    /// `notification-fd`: a newline on this descriptor.
    NotificationFd(u32),
    /// `notify-socket`: `READY=1` on `$NOTIFY_SOCKET`.
    NotifySocket,
}

impl Mechanism {
    /// The word in the file.
    pub fn word(self) -> &'static str {
        match self {
            Mechanism::None => "none",
            Mechanism::NotificationFd(_) => NOTIFICATION_FD,
            Mechanism::NotifySocket => NOTIFY_SOCKET,
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        match word {
            "none" => Some(Mechanism::None),
            // The file does not record the number; 0 stands for "some fd".
            NOTIFICATION_FD => Some(Mechanism::NotificationFd(0)),
            NOTIFY_SOCKET => Some(Mechanism::NotifySocket),
            _ => None,
        }
    }
}

/// Where the main service stands, beyond runit's run/down/finish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HealthState {
    /// No `./run`, and no start is pending (or only runit's 1 s throttle).
    Down,
    /// No `./run`; the restart policy holds the next start until `until`.
    Backoff,
    /// The restart policy gave up: no start until `u`, `o` (or `d`).
    Failed,
    /// `./run` runs; the service declares no mechanism.
    Run,
    /// `./run` runs and has not reported readiness yet.
    Starting,
    /// `./run` reported readiness.
    Ready,
    /// `./run` is being stopped (runsv sent TERM or KILL) or said
    /// `STOPPING=1`.
    Stopping,
}

impl HealthState {
    /// The word in the file.
    pub fn word(self) -> &'static str {
        match self {
            HealthState::Down => "down",
            HealthState::Backoff => "backoff",
            HealthState::Failed => "failed",
            HealthState::Run => "run",
            HealthState::Starting => "starting",
            HealthState::Ready => "ready",
            HealthState::Stopping => "stopping",
        }
    }

    fn from_word(word: &str) -> Option<Self> {
        [
            HealthState::Down,
            HealthState::Backoff,
            HealthState::Failed,
            HealthState::Run,
            HealthState::Starting,
            HealthState::Ready,
            HealthState::Stopping,
        ]
        .into_iter()
        .find(|s| s.word() == word)
    }
}

/// One `supervise/health` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The state.
    pub state: HealthState,
    /// The `./run` this is about, 0 when none runs.
    pub pid: u32,
    /// When `state` (or `pid`) last changed.
    pub since: Tai64N,
    /// The service's declared mechanism.
    pub mechanism: Mechanism,
    /// `Backoff` only: when the next start is due.
    pub until: Option<Tai64N>,
    /// The last `STATUS=` text of this run (single line, at most
    /// [`STATUS_MAX`] bytes).
    pub status: Option<String>,
}

/// Readiness of a running service, as `sv` should see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// The service reported readiness at `since`.
    Ready {
        /// When.
        since: Tai64N,
    },
    /// It declares a mechanism and has not reported readiness (or is not
    /// running, or is stopping).
    NotReady,
    /// No mechanism, no health record, or one about another process: fall
    /// back to runit's `./check`.
    Unknown,
}

impl Health {
    /// The file's contents.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(96);
        let _ = write!(
            out,
            "state {}\npid {}\nsince {}\nmechanism {}\n",
            self.state.word(),
            self.pid,
            hex(self.since),
            self.mechanism.word()
        );
        if let Some(until) = self.until {
            let _ = writeln!(out, "until {}", hex(until));
        }
        if let Some(status) = &self.status {
            let _ = writeln!(out, "status {}", clean_status(status.as_bytes()));
        }
        out
    }

    /// Decodes the file; `None` when a required line is missing or bad.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let (mut state, mut pid, mut since, mut mechanism) = (None, None, None, None);
        let (mut until, mut status) = (None, None);
        for line in text.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "state" => state = HealthState::from_word(value),
                "pid" => pid = value.parse::<u32>().ok(),
                "since" => since = Tai64N::from_hex(value.as_bytes()),
                "mechanism" => mechanism = Mechanism::from_word(value),
                "until" => until = Tai64N::from_hex(value.as_bytes()),
                "status" => status = Some(value.to_string()),
                _ => {}
            }
        }
        Some(Health { state: state?, pid: pid?, since: since?, mechanism: mechanism?, until, status })
    }

    /// What this record says about the process in `status` (the service's
    /// 20-byte record, read just before or after this file).
    pub fn readiness(&self, status: &Status) -> Readiness {
        if self.mechanism == Mechanism::None || self.pid != status.pid {
            return Readiness::Unknown;
        }
        match (status.state, self.state) {
            (State::Run, HealthState::Ready) => Readiness::Ready { since: self.since },
            _ => Readiness::NotReady,
        }
    }
}

impl Health {
    /// Readiness as a client that *waits* for it sees it (`sv -w`, boot):
    /// as [`Health::readiness`], except that a record about another
    /// process means "not ready yet" when the service declares a
    /// mechanism, instead of "ask `./check`". runsv publishes `status`
    /// first and `health` just after it; a reader woken by the new status
    /// record may still read the previous run's health record, and must not
    /// take the new run for ready because its `./check` passes or is
    /// missing.
    pub fn awaited(&self, status: &Status) -> Readiness {
        match self.readiness(status) {
            Readiness::Unknown if self.mechanism != Mechanism::None => Readiness::NotReady,
            r => r,
        }
    }
}

/// [`Health::awaited`] for `<service_dir>/supervise/health`; `Unknown`
/// without a record (C runsv, or runit-rs's before this file existed).
pub fn awaited(service_dir: &Path, status: &Status) -> Readiness {
    read(service_dir).map_or(Readiness::Unknown, |h| h.awaited(status))
}

/// The 24 hex digits of a label.
pub fn hex(t: Tai64N) -> String {
    t.to_hex().iter().map(|&b| char::from(b)).collect()
}

/// A `STATUS=` value made fit for one line: control characters become
/// spaces, and it is cut to [`STATUS_MAX`] bytes on a character boundary.
pub fn clean_status(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let mut out = String::with_capacity(text.len().min(STATUS_MAX));
    for c in text.chars().map(|c| if c.is_control() { ' ' } else { c }) {
        if out.len() + c.len_utf8() > STATUS_MAX {
            break;
        }
        out.push(c);
    }
    out
}

/// Reads `<service_dir>/supervise/health`.
pub fn read(service_dir: &Path) -> Option<Health> {
    fs::read(service_dir.join(Supervise::MAIN.path(FILE))).ok().and_then(|b| Health::decode(&b))
}

/// What `sv` should believe about a running service's readiness: the
/// health record checked against `status` (see [`Health::readiness`]).
pub fn readiness(service_dir: &Path, status: &Status) -> Readiness {
    read(service_dir).map_or(Readiness::Unknown, |h| h.readiness(status))
}

/// Replaces `supervise/health` (relative to the current directory, as
/// runsv writes it).
pub fn write(health: &Health) -> Result<(), atomic::ReplaceError> {
    let path = Supervise::MAIN.path(FILE);
    atomic::replace(&path, health.encode().as_bytes(), atomic::Options::default())
}

/// Why a declaration file is ignored (the service then behaves as runit's).
#[derive(Debug)]
pub enum DeclarationError {
    /// `notification-fd` could not be read.
    Read(io::Error),
    /// `notification-fd` does not hold a descriptor number of 3 or more.
    BadNumber,
}

/// The reason, without the file's name: runsv prints
/// `ignoring notification-fd: <reason>`.
impl std::fmt::Display for DeclarationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeclarationError::Read(e) => write!(f, "unable to read it: {}", crate::errtext::io_text(e)),
            DeclarationError::BadNumber => f.write_str("not a descriptor number of 3 or more"),
        }
    }
}

/// Parses `notification-fd`'s contents: decimal digits, optionally followed
/// by white space (a trailing newline). 0-2 are refused: they are `./run`'s
/// standard descriptors.
pub fn parse_notification_fd(bytes: &[u8]) -> Option<u32> {
    let text = std::str::from_utf8(bytes).ok()?.trim_end();
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<u32>().ok().filter(|&fd| fd >= 3 && i32::try_from(fd).is_ok())
}

/// The mechanism `service_dir` declares. `notification-fd` wins when both
/// files exist (the second value is then true, so the caller can say so).
pub fn declared(service_dir: &Path) -> (Result<Mechanism, DeclarationError>, bool) {
    let socket = fs::symlink_metadata(service_dir.join(NOTIFY_SOCKET)).is_ok();
    match fs::read(service_dir.join(NOTIFICATION_FD)) {
        Ok(bytes) => {
            let fd = parse_notification_fd(&bytes).ok_or(DeclarationError::BadNumber);
            (fd.map(Mechanism::NotificationFd), socket)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            (Ok(if socket { Mechanism::NotifySocket } else { Mechanism::None }), false)
        }
        Err(e) => (Err(DeclarationError::Read(e)), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::WANT_UP;

    fn stamp(s: u64) -> Tai64N {
        Tai64N::from_unix_micros(1_700_000_000 + s, 0)
    }

    #[test]
    fn encodes_the_documented_lines() {
        let h = Health {
            state: HealthState::Backoff,
            pid: 0,
            since: stamp(0),
            mechanism: Mechanism::NotificationFd(3),
            until: Some(stamp(4)),
            status: Some("x".into()),
        };
        assert_eq!(
            h.encode(),
            "state backoff\npid 0\nsince 400000006553f10a000001f4\nmechanism notification-fd\n\
             until 400000006553f10e000001f4\nstatus x\n"
        );
        let back = Health::decode(h.encode().as_bytes()).expect("decode");
        assert_eq!(back, Health { mechanism: Mechanism::NotificationFd(0), ..h });
    }

    #[test]
    fn decode_ignores_unknown_keys_and_needs_the_required_ones() {
        let ok = b"state ready\npid 7\nsince 400000006553f10a000001f4\nmechanism notify-socket\nfuture 1\n";
        let h = Health::decode(ok).expect("decode");
        assert_eq!((h.state, h.pid, h.mechanism), (HealthState::Ready, 7, Mechanism::NotifySocket));
        assert_eq!(h.status, None);
        for bad in [
            &b""[..],
            b"state ready\npid 7\n",
            b"state odd\npid 7\nsince 400000006553f10a000001f4\nmechanism none\n",
        ] {
            assert_eq!(Health::decode(bad), None);
        }
    }

    #[test]
    fn readiness_matches_the_status_pid() {
        let h = Health {
            state: HealthState::Ready,
            pid: 42,
            since: stamp(1),
            mechanism: Mechanism::NotifySocket,
            until: None,
            status: None,
        };
        let mut st = Status {
            stamp: stamp(0),
            pid: 42,
            paused: false,
            want: WANT_UP,
            got_term: false,
            state: State::Run,
        };
        assert_eq!(h.readiness(&st), Readiness::Ready { since: stamp(1) });
        st.pid = 43;
        assert_eq!(h.readiness(&st), Readiness::Unknown, "another run: ask ./check");
        st.pid = 42;
        let starting = Health { state: HealthState::Starting, ..h.clone() };
        assert_eq!(starting.readiness(&st), Readiness::NotReady);
        let none = Health { mechanism: Mechanism::None, state: HealthState::Run, ..h };
        assert_eq!(none.readiness(&st), Readiness::Unknown);
    }

    #[test]
    fn a_waiting_reader_never_falls_back_to_check_for_a_declared_mechanism() {
        let h = Health {
            state: HealthState::Ready,
            pid: 42,
            since: stamp(1),
            mechanism: Mechanism::NotificationFd(0),
            until: None,
            status: None,
        };
        let st = Status {
            stamp: stamp(2),
            pid: 43,
            paused: false,
            want: WANT_UP,
            got_term: false,
            state: State::Run,
        };
        assert_eq!(h.readiness(&st), Readiness::Unknown);
        assert_eq!(h.awaited(&st), Readiness::NotReady, "runsv has not published pid 43's record yet");
        assert_eq!(h.awaited(&Status { pid: 42, ..st }), Readiness::Ready { since: stamp(1) });
        let none = Health { mechanism: Mechanism::None, state: HealthState::Run, ..h };
        assert_eq!(none.awaited(&st), Readiness::Unknown, "no mechanism: ./check decides");
    }

    #[test]
    fn status_text_is_one_bounded_line() {
        assert_eq!(clean_status(b"a\nb\tc"), "a b c");
        let long = "é".repeat(200);
        let c = clean_status(long.as_bytes());
        assert!(c.len() <= STATUS_MAX && c.len() >= STATUS_MAX - 1);
        assert_eq!(clean_status(b"\xff"), "\u{fffd}");
    }

    #[test]
    fn notification_fd_numbers() {
        assert_eq!(parse_notification_fd(b"3\n"), Some(3));
        assert_eq!(parse_notification_fd(b"12"), Some(12));
        for bad in [&b""[..], b"\n", b"2\n", b"0", b"-3", b"+3", b" 3", b"3x", b"99999999999"] {
            assert_eq!(parse_notification_fd(bad), None, "{bad:?}");
        }
    }
}
