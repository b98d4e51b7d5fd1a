//! The `supervise/status` record and the `stat` and `pid` text files.
//!
//! `status` is 20 bytes (spec: supervise.md §5):
//!
//! | bytes | meaning |
//! |-------|---------|
//! | 0-11  | TAI64N of the last state change, big-endian |
//! | 12-15 | pid of the current process, little-endian, 0 if none |
//! | 16    | 1 if paused |
//! | 17    | `u` if want up, `d` if want down or exit |
//! | 18    | 1 if runsv sent TERM |
//! | 19    | 0 down, 1 run, 2 finish |
//!
//! Readers (runit's `sv`) require one `read` to return all 20 bytes;
//! anything shorter is "bad format". `stat` is one line in runsv's wording
//! (§6) and `pid` the decimal pid with a newline, or empty (§7).

use crate::tai::Tai64N;
use std::fmt;

/// Size of the record.
pub const STATUS_LEN: usize = 20;

/// Byte 17 for "want up".
pub const WANT_UP: u8 = b'u';
/// Byte 17 for "want down" (and for "want exit").
pub const WANT_DOWN: u8 = b'd';

/// Byte 19: what the service is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// No process (0).
    Down,
    /// `./run` is running (1).
    Run,
    /// `./finish` is running (2).
    Finish,
    /// Any other byte, kept so a foreign record round-trips.
    Other(u8),
}

impl State {
    /// The byte stored in the record.
    pub fn byte(self) -> u8 {
        match self {
            State::Down => 0,
            State::Run => 1,
            State::Finish => 2,
            State::Other(b) => b,
        }
    }

    /// Decodes byte 19.
    pub fn from_byte(b: u8) -> Self {
        match b {
            0 => State::Down,
            1 => State::Run,
            2 => State::Finish,
            other => State::Other(other),
        }
    }

    /// The word `stat` and `sv status` use (`None` for an unknown byte).
    pub fn word(self) -> Option<&'static str> {
        match self {
            State::Down => Some("down"),
            State::Run => Some("run"),
            State::Finish => Some("finish"),
            State::Other(_) => None,
        }
    }
}

/// What runsv wants for a service. The record only has room for `u`/`d`, so
/// `Exit` is written as `d`; `stat` tells the two apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Want {
    /// Keep it running.
    Up,
    /// Keep it stopped.
    Down,
    /// Stop it and let runsv exit.
    Exit,
}

impl Want {
    /// Byte 17 of the record.
    pub fn byte(self) -> u8 {
        match self {
            Want::Up => WANT_UP,
            Want::Down | Want::Exit => WANT_DOWN,
        }
    }
}

/// The record could not be decoded: fewer than 20 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadFormat;

impl fmt::Display for BadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad format")
    }
}

impl std::error::Error for BadFormat {}

/// A decoded `supervise/status` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    /// Time of the last state change.
    pub stamp: Tai64N,
    /// Pid of `./run` or `./finish`; 0 when none.
    pub pid: u32,
    /// Byte 16: runsv sent STOP (control `p`).
    pub paused: bool,
    /// Byte 17 as stored: [`WANT_UP`] or [`WANT_DOWN`] (kept raw because
    /// readers compare the byte itself).
    pub want: u8,
    /// Byte 18: runsv sent TERM to the current process.
    pub got_term: bool,
    /// Byte 19.
    pub state: State,
}

impl Status {
    /// Packs the record into its 20 bytes.
    pub fn encode(&self) -> [u8; STATUS_LEN] {
        let mut out = [0u8; STATUS_LEN];
        out[..12].copy_from_slice(&self.stamp.pack());
        out[12..16].copy_from_slice(&self.pid.to_le_bytes());
        out[16] = u8::from(self.paused);
        out[17] = self.want;
        out[18] = u8::from(self.got_term);
        out[19] = self.state.byte();
        out
    }

    /// Decodes what one `read` returned. Fewer than 20 bytes is
    /// [`BadFormat`]; bytes past the 20th are ignored.
    pub fn decode(bytes: &[u8]) -> Result<Status, BadFormat> {
        let bytes: &[u8; STATUS_LEN] =
            bytes.get(..STATUS_LEN).and_then(|b| b.try_into().ok()).ok_or(BadFormat)?;
        let mut stamp = [0u8; 12];
        stamp.copy_from_slice(&bytes[..12]);
        let mut pid = [0u8; 4];
        pid.copy_from_slice(&bytes[12..16]);
        Ok(Status {
            stamp: Tai64N::unpack(&stamp),
            pid: u32::from_le_bytes(pid),
            paused: bytes[16] != 0,
            want: bytes[17],
            got_term: bytes[18] != 0,
            state: State::from_byte(bytes[19]),
        })
    }

    /// Seconds since the last state change, as `sv` shows them (clamped at 0).
    pub fn seconds_since(&self, now_unix: i64) -> u64 {
        u64::try_from(now_unix.saturating_sub(self.stamp.unix_seconds())).unwrap_or(0)
    }
}

/// The `supervise/stat` line: `<state>[, paused][, got TERM][, want down|, want exit]\n`.
/// The want part is written only when the state is not down (supervise.md §6).
pub fn stat_text(state: State, paused: bool, got_term: bool, want: Want) -> String {
    let mut s = String::with_capacity(32);
    s.push_str(state.word().unwrap_or(""));
    if paused {
        s.push_str(", paused");
    }
    if got_term {
        s.push_str(", got TERM");
    }
    if state != State::Down {
        match want {
            Want::Down => s.push_str(", want down"),
            Want::Exit => s.push_str(", want exit"),
            Want::Up => {}
        }
    }
    s.push('\n');
    s
}

/// The `supervise/pid` contents: the decimal pid and a newline, or nothing.
pub fn pid_text(pid: u32) -> String {
    if pid == 0 { String::new() } else { format!("{pid}\n") }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records written by Debian's C runsv 2.1.2; see
    /// `testdata/README.md` for how they were recorded.
    const OBSERVED_RUN: [u8; 20] = [
        0x40, 0x00, 0x00, 0x00, 0x6b, 0x08, 0x44, 0x25, 0x19, 0x20, 0xee, 0x14, 0x7c, 0x28, 0x00, 0x00, 0x00,
        0x75, 0x00, 0x01,
    ];

    #[test]
    fn decodes_the_worked_example() {
        let s = Status::decode(&OBSERVED_RUN).expect("20 bytes");
        assert_eq!(s.stamp.label, 0x4000_0000_6b08_4425);
        assert_eq!(s.stamp.nanos, 421_588_500);
        assert_eq!(s.pid, 10364);
        assert!(!s.paused);
        assert_eq!(s.want, WANT_UP);
        assert!(!s.got_term);
        assert_eq!(s.state, State::Run);
        assert_eq!(s.encode(), OBSERVED_RUN);
    }

    #[test]
    fn short_record_is_bad_format() {
        assert_eq!(Status::decode(&OBSERVED_RUN[..19]), Err(BadFormat));
        assert_eq!(Status::decode(&[]), Err(BadFormat));
        assert!(Status::decode(&[0u8; 25]).is_ok());
    }

    #[test]
    fn every_field_round_trips() {
        for state in [State::Down, State::Run, State::Finish, State::Other(7)] {
            for want in [WANT_UP, WANT_DOWN] {
                for (paused, got_term) in [(false, false), (true, false), (false, true), (true, true)] {
                    let s = Status {
                        stamp: Tai64N { label: 0x4000_0000_1234_5678, nanos: 999_999_500 },
                        pid: 0x0102_0304,
                        paused,
                        want,
                        got_term,
                        state,
                    };
                    let bytes = s.encode();
                    assert_eq!(&bytes[12..16], &[4, 3, 2, 1], "pid is little-endian");
                    assert_eq!(Status::decode(&bytes), Ok(s));
                }
            }
        }
    }

    #[test]
    fn want_exit_is_stored_as_down() {
        assert_eq!(Want::Exit.byte(), b'd');
        assert_eq!(Want::Down.byte(), b'd');
        assert_eq!(Want::Up.byte(), b'u');
    }

    #[test]
    fn stat_lines_match_runsv() {
        assert_eq!(stat_text(State::Run, false, false, Want::Up), "run\n");
        assert_eq!(stat_text(State::Down, false, false, Want::Down), "down\n");
        assert_eq!(stat_text(State::Run, true, false, Want::Up), "run, paused\n");
        assert_eq!(stat_text(State::Run, false, false, Want::Down), "run, want down\n");
        assert_eq!(stat_text(State::Run, false, true, Want::Down), "run, got TERM, want down\n");
        assert_eq!(stat_text(State::Run, false, true, Want::Exit), "run, got TERM, want exit\n");
        assert_eq!(stat_text(State::Finish, false, false, Want::Down), "finish, want down\n");
    }

    #[test]
    fn pid_text_is_empty_for_zero() {
        assert_eq!(pid_text(0), "");
        assert_eq!(pid_text(10364), "10364\n");
    }

    #[test]
    fn seconds_since_clamps() {
        let s = Status::decode(&OBSERVED_RUN).expect("20 bytes");
        assert_eq!(s.seconds_since(0x6b08441b + 4), 4);
        assert_eq!(s.seconds_since(0x6b08441b - 4), 0);
    }
}

#[cfg(test)]
mod c_runsv_fixtures {
    //! Records written by Debian's C runsv (see `testdata/README.md`).
    use super::*;

    struct Fixture {
        status: &'static [u8],
        stat: &'static str,
        pid: &'static str,
    }

    macro_rules! fixture {
        ($name:literal) => {
            Fixture {
                status: include_bytes!(concat!("../testdata/c-runsv/", $name, ".status")),
                stat: include_str!(concat!("../testdata/c-runsv/", $name, ".stat")),
                pid: include_str!(concat!("../testdata/c-runsv/", $name, ".pid")),
            }
        };
    }

    fn want_from_stat(stat: &str, byte: u8) -> Want {
        if stat.contains("want exit") {
            Want::Exit
        } else if byte == WANT_UP {
            Want::Up
        } else {
            Want::Down
        }
    }

    fn check(f: &Fixture, state: State, paused: bool, want: u8, got_term: bool) {
        let s = Status::decode(f.status).expect("20 bytes");
        assert_eq!(s.state, state);
        assert_eq!(s.paused, paused);
        assert_eq!(s.want, want);
        assert_eq!(s.got_term, got_term);
        assert_eq!(s.stamp.nanos % 1000, 500, "runit's nanosecond quirk");
        assert!(s.stamp.unix_seconds() > 1_600_000_000);
        assert_eq!(pid_text(s.pid), f.pid, "pid file matches record");
        assert_eq!(
            stat_text(s.state, s.paused, s.got_term, want_from_stat(f.stat, s.want)),
            f.stat,
            "our stat line is runsv's"
        );
        assert_eq!(&s.encode()[..], f.status, "re-encodes byte for byte");
    }

    #[test]
    fn run() {
        check(&fixture!("run"), State::Run, false, WANT_UP, false);
    }

    #[test]
    fn paused() {
        check(&fixture!("paused"), State::Run, true, WANT_UP, false);
    }

    #[test]
    fn term_want_down() {
        check(&fixture!("term-want-down"), State::Run, false, WANT_DOWN, true);
    }

    #[test]
    fn finish_keeps_run_timestamp() {
        let f = fixture!("finish-want-down");
        check(&f, State::Finish, false, WANT_DOWN, false);
        let run = Status::decode(fixture!("run").status).expect("run");
        let fin = Status::decode(f.status).expect("finish");
        assert_eq!(run.stamp, fin.stamp);
        assert_ne!(run.pid, fin.pid);
    }

    #[test]
    fn down() {
        let f = fixture!("down");
        check(&f, State::Down, false, WANT_DOWN, false);
        assert_eq!(Status::decode(f.status).expect("down").pid, 0);
    }

    #[test]
    fn log_service() {
        let s = Status::decode(include_bytes!("../testdata/c-runsv/log-run.status")).expect("log");
        assert_eq!(s.state, State::Run);
        assert_eq!(s.want, WANT_UP);
        assert_eq!(include_str!("../testdata/c-runsv/log-run.stat"), "run\n");
    }
}
