//! `supervise/deaths`: the death history of the main service (runit-rs
//! extension, docs/health.md), s6's `death_tally` in text.
//!
//! runit records nothing about how `./run` ended beyond the arguments it
//! hands `./finish`. runit-rs's runsv appends one line per end of `./run`
//! (oldest first) with one `write(2)` in append mode; the first time a
//! runsv records a death, and whenever the file has grown to twice
//! [`KEPT`] lines, it rewrites the file atomically (`deaths.new`, then
//! rename; mode 0644) with the last [`KEPT`]. Readers take the last
//! [`KEPT`] well-formed lines ([`read`]). The file survives runsv
//! restarts. Line format:
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
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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

/// Reads `<service_dir>/supervise/deaths`: the last [`KEPT`] deaths,
/// oldest first (empty when missing).
pub fn read(service_dir: &Path) -> Vec<Death> {
    let mut all =
        fs::read(service_dir.join(Supervise::MAIN.path(FILE))).map(|b| decode_all(&b)).unwrap_or_default();
    all.drain(..all.len().saturating_sub(KEPT));
    all
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

/// runsv's writer of `supervise/deaths`. A crash-looping service dies every
/// second, so a death costs one appending `write(2)`, not a read and a
/// rewrite of the whole file.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Lines in the file as this recorder last left it (`None`: unknown,
    /// the next death rewrites it).
    lines: Option<usize>,
}

impl Recorder {
    /// Records `death`: appended in place while the file holds fewer than
    /// twice [`KEPT`] lines this recorder knows of; otherwise (and after
    /// any failure to append) the file is rewritten with the last [`KEPT`].
    /// `service_dir` may be empty: runsv writes relative to its directory.
    pub fn record(&mut self, service_dir: &Path, death: &Death) -> Result<(), atomic::ReplaceError> {
        let path = service_dir.join(Supervise::MAIN.path(FILE));
        if let Some(n) = self.lines.take().filter(|&n| n < 2 * KEPT) {
            // No O_CREAT: a file removed behind our back is rewritten whole.
            let append = OpenOptions::new()
                .append(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&path)
                .and_then(|mut f| f.write_all(death.encode().as_bytes()));
            if append.is_ok() {
                self.lines = Some(n + 1);
                return Ok(());
            }
        }
        let old = fs::read(&path).unwrap_or_default();
        let new = appended(&old, death, KEPT);
        atomic::replace(&path, &new, atomic::Options::default())?;
        self.lines = Some(new.iter().filter(|&&b| b == b'\n').count());
        Ok(())
    }
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

    #[test]
    fn recorder_appends_then_rewrites_at_twice_kept() {
        let dir = std::env::temp_dir().join(format!("deaths-rec-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("supervise")).expect("scratch file");
        fs::write(dir.join("supervise/deaths"), b"garbage\n").expect("scratch file");
        let file = dir.join("supervise/deaths");
        let mut r = Recorder::default();
        let mut sizes = Vec::new();
        for i in 0..(2 * KEPT + 5) as u64 {
            r.record(&dir, &death(i, How::Exit(i as i32), Cause::Died)).expect("scratch file");
            sizes.push(fs::read_to_string(&file).expect("scratch file").lines().count());
        }
        // Removed behind its back: recreated with the one new line.
        fs::remove_file(&file).expect("scratch file");
        r.record(&dir, &death(999, How::Exit(7), Cause::Died)).expect("scratch file");
        let after_removal = fs::read_to_string(&file).expect("scratch file");
        // First death: rewritten (garbage dropped); then appended up to
        // 2 * KEPT lines; the next one rewrites to KEPT.
        assert_eq!(sizes[0], 1);
        assert_eq!(sizes[2 * KEPT - 1], 2 * KEPT);
        assert_eq!(sizes[2 * KEPT], KEPT);
        assert_eq!(sizes[2 * KEPT + 4], KEPT + 4);
        assert_eq!(after_removal.lines().count(), 1);
        let mut long = Vec::new();
        for i in 0..(KEPT + 10) as u64 {
            long.extend_from_slice(death(i, How::Exit(i as i32), Cause::Died).encode().as_bytes());
        }
        fs::write(&file, &long).expect("scratch file");
        let read = read(&dir);
        assert_eq!(read.len(), KEPT, "readers take the last KEPT");
        assert_eq!(read[0].how, How::Exit(10));
        fs::remove_dir_all(&dir).expect("scratch file");
    }
}
