//! `supervise/deaths`: the death history of the main service (runit-rs
//! extension, docs/health.md), s6's `death_tally` in text.
//!
//! runit records nothing about how `./run` ended beyond the arguments it
//! hands `./finish`. runit-rs's runsv appends one line per end of `./run`
//! and keeps the last [`KEPT`] (oldest first), rewriting the file
//! atomically (`deaths.new`, then rename; mode 0644). The file survives
//! runsv restarts. Line format:
//!
//! ```text
//! <stamp> <ran_ms> <how> <value> <cause>\n
//! 400000006b0844251920ee14 1204 exit 3 died
//! 400000006b0844291920ee14 50123 signal 15 stopped
//! 400000006b08442c1920ee14 12 core 11 died
//! ```
//!
//! * `stamp`: when `./run` ended, TAI64N in 24 hex digits;
//! * `ran_ms`: how long it ran, in milliseconds;
//! * `how value`: `exit <code>`, `signal <number>`, or `core <number>` (a
//!   signal death that dumped core) — what `./finish` gets as
//!   `<code> <status>`, spelt out;
//! * `cause`: `died` (it ended on its own while wanted up: this is what a
//!   restart policy counts), `stopped` (runsv had sent it TERM or KILL), or
//!   `ended` (it ended on its own while not wanted up, e.g. after `o`).

use crate::atomic;
use crate::health::hex;
use crate::process::WaitStatus;
use crate::supervise::Supervise;
use crate::tai::Tai64N;
use std::fs;
use std::path::Path;
use std::time::Duration;

/// File name inside `supervise/`.
pub const FILE: &str = "deaths";
/// How many deaths the file keeps.
pub const KEPT: usize = 100;

/// How `./run` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// A normal exit with this code.
    Exit(i32),
    /// Killed by this signal.
    Signal(i32),
    /// Killed by this signal, with a core dump.
    Core(i32),
}

impl How {
    /// Decodes a wait status.
    pub fn of(status: WaitStatus) -> Self {
        match (status.exit_code(), status.signal()) {
            (Some(code), _) => How::Exit(code),
            (None, Some(sig)) if libc::WCOREDUMP(status.0) => How::Core(sig),
            (None, Some(sig)) => How::Signal(sig),
            // Stopped/continued statuses are never reaped as deaths.
            (None, None) => How::Exit(status.finish_args().0),
        }
    }
}

/// Why `./run` ended, as far as runsv knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// On its own, while wanted up (counts for the restart policy).
    Died,
    /// runsv had sent it TERM or KILL.
    Stopped,
    /// On its own, while not wanted up.
    Ended,
}

impl Cause {
    /// The word in the file.
    pub fn word(self) -> &'static str {
        match self {
            Cause::Died => "died",
            Cause::Stopped => "stopped",
            Cause::Ended => "ended",
        }
    }
}

/// One line of the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Death {
    /// When `./run` ended.
    pub stamp: Tai64N,
    /// How long it ran (millisecond precision in the file).
    pub ran: Duration,
    /// How it ended.
    pub how: How,
    /// Why.
    pub cause: Cause,
}

impl Death {
    /// The line, newline included.
    pub fn encode(&self) -> String {
        let (how, value) = match self.how {
            How::Exit(c) => ("exit", c),
            How::Signal(s) => ("signal", s),
            How::Core(s) => ("core", s),
        };
        format!("{} {} {how} {value} {}\n", hex(self.stamp), self.ran.as_millis(), self.cause.word())
    }

    /// Decodes one line (without its newline); `None` if malformed.
    pub fn decode(line: &str) -> Option<Self> {
        let mut f = line.split(' ');
        let stamp = Tai64N::from_hex(f.next()?.as_bytes())?;
        let ran = Duration::from_millis(f.next()?.parse().ok()?);
        let (how, value) = (f.next()?, f.next()?.parse::<i32>().ok()?);
        let how = match how {
            "exit" => How::Exit(value),
            "signal" => How::Signal(value),
            "core" => How::Core(value),
            _ => return None,
        };
        let cause = match f.next()? {
            "died" => Cause::Died,
            "stopped" => Cause::Stopped,
            "ended" => Cause::Ended,
            _ => return None,
        };
        f.next().is_none().then_some(Death { stamp, ran, how, cause })
    }
}

/// Decodes a whole file, skipping malformed lines.
pub fn decode_all(bytes: &[u8]) -> Vec<Death> {
    String::from_utf8_lossy(bytes).lines().filter_map(Death::decode).collect()
}

/// Reads `<service_dir>/supervise/deaths`, oldest first (empty when
/// missing).
pub fn read(service_dir: &Path) -> Vec<Death> {
    fs::read(service_dir.join(Supervise::MAIN.path(FILE))).map(|b| decode_all(&b)).unwrap_or_default()
}

/// The file with `death` appended and only the last `kept` lines left.
pub fn appended(old: &[u8], death: &Death, kept: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(old);
    let valid: Vec<&str> = text.lines().filter(|l| Death::decode(l).is_some()).collect();
    let skip = (valid.len() + 1).saturating_sub(kept);
    let mut out = Vec::with_capacity(old.len() + 64);
    for line in valid.iter().skip(skip) {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    if kept > 0 {
        out.extend_from_slice(death.encode().as_bytes());
    }
    out
}

/// Appends `death` to `supervise/deaths` (relative to the current
/// directory, as runsv writes it), keeping the last [`KEPT`].
pub fn record(death: &Death) -> Result<(), atomic::ReplaceError> {
    let path = Supervise::MAIN.path(FILE);
    let old = fs::read(&path).unwrap_or_default();
    atomic::replace(&path, &appended(&old, death, KEPT), atomic::Options::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn death(s: u64, how: How, cause: Cause) -> Death {
        Death { stamp: Tai64N::from_unix_micros(s, 0), ran: Duration::from_millis(1204), how, cause }
    }

    #[test]
    fn lines_round_trip() {
        let d = death(0x6b08441b, How::Exit(3), Cause::Died);
        assert_eq!(d.encode(), "400000006b084425000001f4 1204 exit 3 died\n");
        assert_eq!(Death::decode(d.encode().trim_end()), Some(d));
        for how in [How::Signal(15), How::Core(11), How::Exit(-1)] {
            for cause in [Cause::Died, Cause::Stopped, Cause::Ended] {
                let d = death(5, how, cause);
                assert_eq!(Death::decode(d.encode().trim_end()), Some(d));
            }
        }
        for bad in [
            "",
            "x 1 exit 3 died",
            "400000006b084425000001f4 1 quit 3 died",
            "400000006b084425000001f4 1 exit 3 died x",
        ] {
            assert_eq!(Death::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn wait_statuses_are_spelt_out() {
        assert_eq!(How::of(WaitStatus::exited(111)), How::Exit(111));
        assert_eq!(How::of(WaitStatus::signaled(9, false)), How::Signal(9));
        assert_eq!(How::of(WaitStatus::signaled(11, true)), How::Core(11));
    }

    #[test]
    fn history_is_bounded_and_drops_garbage() {
        let mut file = b"garbage\n".to_vec();
        for i in 0..5 {
            file = appended(&file, &death(i, How::Exit(i as i32), Cause::Died), 3);
        }
        let all = decode_all(&file);
        assert_eq!(all.iter().map(|d| d.how).collect::<Vec<_>>(), [How::Exit(2), How::Exit(3), How::Exit(4)]);
        assert_eq!(String::from_utf8_lossy(&file).lines().count(), 3);
    }
}
