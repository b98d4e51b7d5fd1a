//! `restart-policy`: an optional file in a service directory that replaces
//! runit's "restart after one second, forever" for a crash-looping service
//! (runit-rs extension, docs/health.md).
//!
//! Without the file runsv restarts exactly as runit does. With it, deaths
//! of `./run` that runsv did not cause (`died` in `supervise/deaths`) are
//! answered with an exponential back-off and, optionally, a give-up:
//!
//! ```text
//! # comments and blank lines are allowed
//! backoff 1 60     # wait 1 s, 2 s, 4 s, ... at most 60 s before restarting
//! stable 30        # a run of 30 s or more resets the back-off (default: the cap)
//! give-up 5 60     # 5 deaths within 60 s: stay down, marked failed
//! ```
//!
//! All numbers are whole seconds (1 to [`MAX_SECONDS`]); `give-up` counts
//! 1 to [`MAX_DEATHS`] deaths. Each setting may appear once; `stable` needs
//! `backoff`. runit's own one-second throttle still applies on top (a start
//! is never sooner than runit would make it). A file that breaks any rule
//! is ignored as a whole, with a warning naming the line: the service then
//! restarts as runit's does.

use crate::errtext;
use std::fmt;
use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

/// File name in the service directory.
pub const FILE: &str = "restart-policy";
/// Largest number of seconds accepted (one week).
pub const MAX_SECONDS: u64 = 7 * 24 * 3600;
/// Largest death count for `give-up` (the history keeps as many).
pub const MAX_DEATHS: u32 = crate::deaths::KEPT as u32;

/// Exponential back-off between restarts after unexpected deaths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first death.
    pub initial: Duration,
    /// Delays double up to this.
    pub cap: Duration,
    /// A run at least this long resets the doubling.
    pub stable: Duration,
}

impl Backoff {
    /// The delay after the `n`-th death in a row (`n` from 1):
    /// `initial * 2^(n-1)`, at most `cap`.
    pub fn delay(&self, n: u32) -> Duration {
        let shift = n.saturating_sub(1).min(31);
        self.initial.checked_mul(1u32 << shift).unwrap_or(self.cap).min(self.cap)
    }
}

/// "Give up after `deaths` deaths within `within`."
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp {
    /// How many deaths.
    pub deaths: u32,
    /// Within how long.
    pub within: Duration,
}

/// A parsed `restart-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Policy {
    /// `backoff` (with `stable`).
    pub backoff: Option<Backoff>,
    /// `give-up`.
    pub give_up: Option<GiveUp>,
}

/// Why a `restart-policy` file is ignored.
#[derive(Debug)]
pub enum PolicyError {
    /// It could not be read.
    Read(io::Error),
    /// It holds no setting.
    Empty,
    /// `stable` without `backoff`.
    StableWithoutBackoff,
    /// A line breaks a rule.
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        problem: Problem,
    },
}

/// What is wrong with one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Not UTF-8.
    NotText,
    /// An unknown first word.
    Unknown(String),
    /// A setting given twice.
    Duplicate(&'static str),
    /// Wrong arguments; the text says what the setting takes.
    Usage(&'static str),
    /// `backoff`'s cap below its initial delay.
    CapBelowInitial,
}

/// The reason, without the file's name: runsv prints
/// `ignoring restart-policy: <reason>`.
impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Read(e) => write!(f, "unable to read it: {}", errtext::io_text(e)),
            PolicyError::Empty => f.write_str("no setting"),
            PolicyError::StableWithoutBackoff => f.write_str("stable needs backoff"),
            PolicyError::Line { line, problem } => {
                write!(f, "line {line}: ")?;
                match problem {
                    Problem::NotText => f.write_str("not text"),
                    Problem::Unknown(w) => write!(f, "unknown setting {w}"),
                    Problem::Duplicate(w) => write!(f, "{w} given twice"),
                    Problem::Usage(u) => write!(f, "usage: {u}"),
                    Problem::CapBelowInitial => f.write_str("backoff: the cap is below the initial delay"),
                }
            }
        }
    }
}

impl std::error::Error for PolicyError {}

const BACKOFF: &str = "backoff <initial seconds> <cap seconds>";
const STABLE: &str = "stable <seconds>";
const GIVE_UP: &str = "give-up <deaths> <seconds>";

impl Policy {
    /// Parses the file's contents.
    pub fn parse(bytes: &[u8]) -> Result<Policy, PolicyError> {
        let mut policy = Policy::default();
        let mut stable: Option<Duration> = None;
        for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let fail = |problem| PolicyError::Line { line: i + 1, problem };
            let text = std::str::from_utf8(raw).map_err(|_| fail(Problem::NotText))?;
            let text = text.split('#').next().unwrap_or("");
            let words: Vec<&str> = text.split_ascii_whitespace().collect();
            match words.as_slice() {
                [] => {}
                ["backoff", rest @ ..] => {
                    if policy.backoff.is_some() {
                        return Err(fail(Problem::Duplicate("backoff")));
                    }
                    let [initial, cap] = seconds::<2>(rest).ok_or(fail(Problem::Usage(BACKOFF)))?;
                    if cap < initial {
                        return Err(fail(Problem::CapBelowInitial));
                    }
                    policy.backoff = Some(Backoff { initial, cap, stable: cap });
                }
                ["stable", rest @ ..] => {
                    if stable.is_some() {
                        return Err(fail(Problem::Duplicate("stable")));
                    }
                    let [s] = seconds::<1>(rest).ok_or(fail(Problem::Usage(STABLE)))?;
                    stable = Some(s);
                }
                ["give-up", rest @ ..] => {
                    if policy.give_up.is_some() {
                        return Err(fail(Problem::Duplicate("give-up")));
                    }
                    policy.give_up = Some(give_up(rest).ok_or(fail(Problem::Usage(GIVE_UP)))?);
                }
                [other, ..] => return Err(fail(Problem::Unknown((*other).to_string()))),
            }
        }
        match (&mut policy.backoff, stable) {
            (Some(b), Some(s)) => b.stable = s,
            (None, Some(_)) => return Err(PolicyError::StableWithoutBackoff),
            _ => {}
        }
        if policy == Policy::default() {
            return Err(PolicyError::Empty);
        }
        Ok(policy)
    }
}

/// Whole seconds, 1 to [`MAX_SECONDS`], digits only.
fn number(word: &str, max: u64) -> Option<u64> {
    if word.is_empty() || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse::<u64>().ok().filter(|&n| (1..=max).contains(&n))
}

fn seconds<const N: usize>(words: &[&str]) -> Option<[Duration; N]> {
    if words.len() != N {
        return None;
    }
    let mut out = [Duration::ZERO; N];
    for (slot, w) in out.iter_mut().zip(words) {
        *slot = Duration::from_secs(number(w, MAX_SECONDS)?);
    }
    Some(out)
}

fn give_up(words: &[&str]) -> Option<GiveUp> {
    let [deaths, within] = words else { return None };
    let deaths = u32::try_from(number(deaths, u64::from(MAX_DEATHS))?).ok()?;
    let within = Duration::from_secs(number(within, MAX_SECONDS)?);
    Some(GiveUp { deaths, within })
}

/// Reads `<service_dir>/restart-policy`: `Ok(None)` when there is none.
pub fn read(service_dir: &Path) -> Result<Option<Policy>, PolicyError> {
    match fs::read(service_dir.join(FILE)) {
        Ok(bytes) => Policy::parse(&bytes).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(PolicyError::Read(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn parses_the_documented_example() {
        let p = Policy::parse(b"# comment\n\nbackoff 1 60     # doubling\nstable 30\n  give-up 5 60\n")
            .expect("valid");
        assert_eq!(p.backoff, Some(Backoff { initial: secs(1), cap: secs(60), stable: secs(30) }));
        assert_eq!(p.give_up, Some(GiveUp { deaths: 5, within: secs(60) }));
    }

    #[test]
    fn stable_defaults_to_the_cap_and_give_up_stands_alone() {
        let p = Policy::parse(b"backoff 2 16").expect("valid");
        assert_eq!(p.backoff.map(|b| b.stable), Some(secs(16)));
        let p = Policy::parse(b"give-up 3 10\n").expect("valid");
        assert_eq!((p.backoff, p.give_up.map(|g| g.deaths)), (None, Some(3)));
    }

    #[test]
    fn delays_double_up_to_the_cap() {
        let b = Backoff { initial: secs(1), cap: secs(10), stable: secs(10) };
        let d: Vec<u64> = (1..=6).map(|n| b.delay(n).as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.delay(0), secs(1));
        assert_eq!(b.delay(u32::MAX), secs(10));
        let big = Backoff { initial: secs(MAX_SECONDS), cap: secs(MAX_SECONDS), stable: secs(1) };
        assert_eq!(big.delay(100), secs(MAX_SECONDS));
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        let msg = |b: &[u8]| Policy::parse(b).expect_err("invalid").to_string();
        assert_eq!(msg(b""), "no setting");
        assert_eq!(msg(b"# only\n\n"), "no setting");
        assert_eq!(msg(b"backoff 1 60\nretry 3\n"), "line 2: unknown setting retry");
        assert_eq!(msg(b"backoff 1\n"), "line 1: usage: backoff <initial seconds> <cap seconds>");
        assert_eq!(msg(b"backoff 10 5\n"), "line 1: backoff: the cap is below the initial delay");
        assert_eq!(msg(b"backoff 1 5\nbackoff 1 5\n"), "line 2: backoff given twice");
        assert_eq!(msg(b"stable 5\n"), "stable needs backoff");
        assert_eq!(msg(b"give-up 0 10\n"), "line 1: usage: give-up <deaths> <seconds>");
        assert_eq!(msg(b"give-up 101 10\n"), "line 1: usage: give-up <deaths> <seconds>");
        assert_eq!(msg(b"give-up 3 1.5\n"), "line 1: usage: give-up <deaths> <seconds>");
        assert_eq!(msg(b"backoff -1 5\n"), "line 1: usage: backoff <initial seconds> <cap seconds>");
        assert_eq!(msg(b"backoff 1 604801\n"), "line 1: usage: backoff <initial seconds> <cap seconds>");
        assert_eq!(msg(b"stable 1\nbackoff \xff\n"), "line 2: not text");
    }

    #[test]
    fn missing_file_is_no_policy() {
        let dir = std::env::temp_dir().join(format!("runit-core-policy-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("dir");
        assert!(matches!(read(&dir), Ok(None)));
        fs::write(dir.join(FILE), b"give-up 2 5\n").expect("write");
        assert!(matches!(read(&dir), Ok(Some(_))));
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
