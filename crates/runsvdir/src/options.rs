//! Our extensions, switched on through the environment.
//!
//! runsvdir's command line cannot grow options without breaking runit's
//! rule that any first argument other than `-P...`/`--...` is the directory
//! (`runsvdir -x sv` scans `-x`), so the extensions are environment
//! variables. runsvdir does not alter its environment (runsvdir.md §8), so
//! they are passed on to runsv and the services unchanged.
//!
//! * `RUNSVDIR_GRACEFUL=<seconds>`: graceful mode. SIGTERM (and SIGINT) stop
//!   every service, wait up to that many seconds, then KILL what is left and
//!   exit 0. Implies `RUNSVDIR_SUBREAPER`.
//! * `RUNSVDIR_SUBREAPER=1`: become a child subreaper, so orphans of the
//!   services are reparented to runsvdir and reaped by it.
//! * `RUNSVDIR_POLL=1`: do not use inotify; check the directory every 5
//!   seconds as runit does.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::time::Duration;

/// Environment variable: graceful-shutdown budget in seconds.
pub const GRACEFUL: &str = "RUNSVDIR_GRACEFUL";
/// Environment variable: become a child subreaper.
pub const SUBREAPER: &str = "RUNSVDIR_SUBREAPER";
/// Environment variable: periodic scanning only (no inotify).
pub const POLL: &str = "RUNSVDIR_POLL";

/// The extensions in effect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extensions {
    /// Graceful mode and its budget (TERM to KILL).
    pub graceful: Option<Duration>,
    /// Become a child subreaper.
    pub subreaper: bool,
    /// Use inotify (else runit's periodic check only).
    pub inotify: bool,
}

/// A problem with an extension variable, reported as a warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionWarning {
    /// `RUNSVDIR_GRACEFUL` does not start with a number.
    GracefulNotNumber,
}

impl OptionWarning {
    /// The warning text.
    pub fn text(&self) -> &'static str {
        match self {
            OptionWarning::GracefulNotNumber => {
                "RUNSVDIR_GRACEFUL is not a number of seconds, graceful mode disabled."
            }
        }
    }
}

impl Extensions {
    /// Reads the extensions from the process environment.
    pub fn from_env() -> (Extensions, Vec<OptionWarning>) {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the extensions through `get` (for tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<std::ffi::OsString>) -> (Extensions, Vec<OptionWarning>) {
        let mut warnings = Vec::new();
        let graceful = match get(GRACEFUL) {
            None => None,
            Some(v) if v.is_empty() => None,
            Some(v) => match leading_number(&v) {
                Some(secs) => Some(Duration::from_secs(secs)),
                None => {
                    warnings.push(OptionWarning::GracefulNotNumber);
                    None
                }
            },
        };
        let subreaper = graceful.is_some() || flag(get(SUBREAPER).as_deref());
        let inotify = !flag(get(POLL).as_deref());
        (Extensions { graceful, subreaper, inotify }, warnings)
    }
}

/// A boolean variable: set, non-empty and not `0`.
fn flag(v: Option<&OsStr>) -> bool {
    v.is_some_and(|v| !v.is_empty() && v.as_bytes() != b"0")
}

/// runit's number rule: the leading decimal digits (at least one).
fn leading_number(v: &OsStr) -> Option<u64> {
    let digits: Vec<u8> = v.as_bytes().iter().copied().take_while(u8::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    // Saturate absurd values instead of failing: "wait forever" is meant.
    Some(digits.iter().fold(0u64, |n, &d| n.saturating_mul(10).saturating_add(u64::from(d - b'0'))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    fn ext(vars: &[(&str, &str)]) -> (Extensions, Vec<OptionWarning>) {
        let m: HashMap<String, OsString> = vars.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
        Extensions::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_runit() {
        let (e, w) = ext(&[]);
        assert_eq!(e, Extensions { graceful: None, subreaper: false, inotify: true });
        assert!(w.is_empty());
    }

    #[test]
    fn graceful_implies_subreaper() {
        let (e, _) = ext(&[(GRACEFUL, "8")]);
        assert_eq!(e.graceful, Some(Duration::from_secs(8)));
        assert!(e.subreaper);
        let (e, _) = ext(&[(GRACEFUL, "0")]);
        assert_eq!(e.graceful, Some(Duration::ZERO));
        let (e, _) = ext(&[(GRACEFUL, "12s")]);
        assert_eq!(e.graceful, Some(Duration::from_secs(12)));
    }

    #[test]
    fn graceful_garbage_warns() {
        let (e, w) = ext(&[(GRACEFUL, "yes")]);
        assert_eq!(e.graceful, None);
        assert_eq!(w, vec![OptionWarning::GracefulNotNumber]);
        let (e, w) = ext(&[(GRACEFUL, "")]);
        assert_eq!(e.graceful, None);
        assert!(w.is_empty());
    }

    #[test]
    fn flags() {
        assert!(ext(&[(SUBREAPER, "1")]).0.subreaper);
        assert!(!ext(&[(SUBREAPER, "0")]).0.subreaper);
        assert!(!ext(&[(SUBREAPER, "")]).0.subreaper);
        assert!(!ext(&[(POLL, "yes")]).0.inotify);
        assert!(ext(&[(POLL, "0")]).0.inotify);
    }
}
