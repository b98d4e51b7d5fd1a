//! Where runit looks, and how process 1 behaves.
//!
//! runit compiles its paths in (runit-init.md §1): the stage scripts and
//! flag files live in `/etc/runit`, and `runit-init` execs `/sbin/runit`.
//! We keep those defaults and follow **runit 2.3.0** for the flag files:
//! `/etc/runit/stopit` and `/etc/runit/reboot` (Debian's 2.1.2 package
//! patched them to `/run/runit.stopit` and `/run/runit.reboot`).
//!
//! Both roots can be moved, for tests and for images (our extension):
//!
//! * at build time, with the environment variables `RUNIT_RS_ETC` and
//!   `RUNIT_RS_BIN` seen by `cargo build` (they replace `/etc/runit` and
//!   `/sbin/runit` in the binaries);
//! * at run time, with `RUNIT_ETC` and `RUNIT_BIN` in the environment of
//!   `runit` and `runit-init`. Process 1 passes its environment on to the
//!   stage scripts, so a `runit-init 0` run from a stage script finds the
//!   same root.
//!
//! Container mode (also our extension, off by default) is chosen here too:
//! `RUNIT_CONTAINER`, `RUNIT_SHUTDOWN_TIMEOUT` and `RUNIT_CONSOLE` (see
//! `docs/containers.md`). A bad value never stops process 1: it is
//! reported as a warning and the default is used.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The directory of the stage scripts and flag files, as compiled in.
pub const DEFAULT_ETC: &str = match option_env!("RUNIT_RS_ETC") {
    Some(p) => p,
    None => "/etc/runit",
};

/// The runit binary `runit-init` execs when it is process 1, as compiled in.
pub const DEFAULT_BIN: &str = match option_env!("RUNIT_RS_BIN") {
    Some(p) => p,
    None => "/sbin/runit",
};

/// runit's console.
pub const DEFAULT_CONSOLE: &str = "/dev/console";

/// Run-time override of [`DEFAULT_ETC`].
pub const ENV_ETC: &str = "RUNIT_ETC";
/// Run-time override of [`DEFAULT_BIN`].
pub const ENV_BIN: &str = "RUNIT_BIN";
/// Turns container mode on (`1`, `yes`, `true`, `on`).
pub const ENV_CONTAINER: &str = "RUNIT_CONTAINER";
/// Seconds from a shutdown request to the final SIGKILL (`0`: no limit).
pub const ENV_SHUTDOWN_TIMEOUT: &str = "RUNIT_SHUTDOWN_TIMEOUT";
/// The console device (empty: keep the inherited descriptors).
pub const ENV_CONSOLE: &str = "RUNIT_CONSOLE";

/// The shutdown budget container mode uses when none is set: it fits in
/// `docker stop`'s default 10-second grace period with a second to spare.
pub const CONTAINER_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(9);

/// The files under the runit directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    etc: PathBuf,
}

impl Paths {
    /// Paths under `etc` (normally `/etc/runit`).
    pub fn new(etc: impl Into<PathBuf>) -> Self {
        Paths { etc: etc.into() }
    }

    /// The directory itself.
    pub fn etc(&self) -> &Path {
        &self.etc
    }

    /// Stage script `n` (1, 2 or 3).
    pub fn stage(&self, n: u8) -> PathBuf {
        self.etc.join(n.to_string())
    }

    /// The shutdown request flag (runit 2.3.0: `/etc/runit/stopit`).
    pub fn stopit(&self) -> PathBuf {
        self.etc.join("stopit")
    }

    /// The reboot flag (runit 2.3.0: `/etc/runit/reboot`).
    pub fn reboot(&self) -> PathBuf {
        self.etc.join("reboot")
    }

    /// The Ctrl-Alt-Del script.
    pub fn ctrlaltdel(&self) -> PathBuf {
        self.etc.join("ctrlaltdel")
    }

    /// The "do not sync" flag (runit 2.2.0).
    pub fn nosync(&self) -> PathBuf {
        self.etc.join("nosync")
    }
}

/// Everything `runit` takes from its build and its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The runit directory.
    pub paths: Paths,
    /// The console to open, or `None` to keep the inherited descriptors.
    pub console: Option<PathBuf>,
    /// Container mode (our extension).
    pub container: bool,
    /// The shutdown budget, if any.
    pub shutdown_timeout: Option<Duration>,
    /// Settings that were ignored, one complaint each.
    pub warnings: Vec<String>,
}

impl Config {
    /// Reads the settings through `get` (normally `std::env::var_os`).
    pub fn from_env(get: impl Fn(&str) -> Option<OsString>) -> Config {
        let mut warnings = Vec::new();
        let paths = Paths::new(etc_from(&get, &mut warnings));
        let container = match get(ENV_CONTAINER) {
            None => false,
            Some(v) => switch(&v).unwrap_or_else(|| {
                warnings.push(format!("{ENV_CONTAINER}: not a yes/no value: {}", v.to_string_lossy()));
                false
            }),
        };
        let console = match get(ENV_CONSOLE) {
            Some(v) if v.is_empty() => None,
            Some(v) => Some(PathBuf::from(v)),
            // A container's console, when it has one, is the terminal its
            // descriptors already point at; without one, /dev/console is
            // absent or belongs to the host.
            None if container => None,
            None => Some(PathBuf::from(DEFAULT_CONSOLE)),
        };
        let default_timeout = container.then_some(CONTAINER_SHUTDOWN_TIMEOUT);
        let shutdown_timeout = match get(ENV_SHUTDOWN_TIMEOUT) {
            None => default_timeout,
            Some(v) => match seconds(&v) {
                Some(0) => None,
                Some(s) => Some(Duration::from_secs(s)),
                None => {
                    warnings.push(format!(
                        "{ENV_SHUTDOWN_TIMEOUT}: not a number of seconds: {}",
                        v.to_string_lossy()
                    ));
                    default_timeout
                }
            },
        };
        Config { paths, console, container, shutdown_timeout, warnings }
    }
}

/// The runit directory for `runit-init` (same rules as for `runit`).
pub fn init_paths(get: impl Fn(&str) -> Option<OsString>) -> Paths {
    Paths::new(etc_from(&get, &mut Vec::new()))
}

/// The runit binary `runit-init` execs.
pub fn runit_bin(get: impl Fn(&str) -> Option<OsString>) -> PathBuf {
    match get(ENV_BIN) {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => PathBuf::from(DEFAULT_BIN),
    }
}

fn etc_from(get: &impl Fn(&str) -> Option<OsString>, warnings: &mut Vec<String>) -> PathBuf {
    match get(ENV_ETC) {
        // An empty root would turn "1" into a PATH search: refuse it.
        Some(v) if v.is_empty() => {
            warnings.push(format!("{ENV_ETC}: empty, using {DEFAULT_ETC}"));
            PathBuf::from(DEFAULT_ETC)
        }
        Some(v) => PathBuf::from(v),
        None => PathBuf::from(DEFAULT_ETC),
    }
}

fn switch(v: &OsStr) -> Option<bool> {
    match v.as_bytes() {
        b"1" | b"yes" | b"true" | b"on" => Some(true),
        b"" | b"0" | b"no" | b"false" | b"off" => Some(false),
        _ => None,
    }
}

fn seconds(v: &OsStr) -> Option<u64> {
    let b = v.as_bytes();
    if b.is_empty() || b.len() > 9 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> =
            pairs.iter().map(|(k, v)| ((*k).to_string(), OsString::from(v))).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_are_runits() {
        let c = Config::from_env(env(&[]));
        assert_eq!(c.paths.etc(), Path::new(DEFAULT_ETC));
        assert_eq!(c.console.as_deref(), Some(Path::new("/dev/console")));
        assert!(!c.container);
        assert_eq!(c.shutdown_timeout, None);
        assert!(c.warnings.is_empty());
    }

    #[test]
    fn flag_files_follow_2_3_0() {
        let p = Paths::new("/etc/runit");
        assert_eq!(p.stage(2), Path::new("/etc/runit/2"));
        assert_eq!(p.stopit(), Path::new("/etc/runit/stopit"));
        assert_eq!(p.reboot(), Path::new("/etc/runit/reboot"));
        assert_eq!(p.ctrlaltdel(), Path::new("/etc/runit/ctrlaltdel"));
        assert_eq!(p.nosync(), Path::new("/etc/runit/nosync"));
    }

    #[test]
    fn root_is_relocatable() {
        let c = Config::from_env(env(&[("RUNIT_ETC", "/tmp/x/etc")]));
        assert_eq!(c.paths.stage(1), Path::new("/tmp/x/etc/1"));
        let c = Config::from_env(env(&[("RUNIT_ETC", "")]));
        assert_eq!(c.paths.etc(), Path::new(DEFAULT_ETC));
        assert_eq!(c.warnings.len(), 1);
        assert_eq!(runit_bin(env(&[("RUNIT_BIN", "/x/runit")])), Path::new("/x/runit"));
        assert_eq!(runit_bin(env(&[])), Path::new(DEFAULT_BIN));
    }

    #[test]
    fn container_mode_defaults() {
        let c = Config::from_env(env(&[("RUNIT_CONTAINER", "1")]));
        assert!(c.container);
        assert_eq!(c.console, None);
        assert_eq!(c.shutdown_timeout, Some(Duration::from_secs(9)));
        let c = Config::from_env(env(&[("RUNIT_CONTAINER", "0")]));
        assert!(!c.container);
        let c = Config::from_env(env(&[("RUNIT_CONTAINER", "maybe")]));
        assert!(!c.container);
        assert_eq!(c.warnings, vec!["RUNIT_CONTAINER: not a yes/no value: maybe".to_string()]);
    }

    #[test]
    fn shutdown_timeout_and_console() {
        let c = Config::from_env(env(&[("RUNIT_CONTAINER", "yes"), ("RUNIT_SHUTDOWN_TIMEOUT", "25")]));
        assert_eq!(c.shutdown_timeout, Some(Duration::from_secs(25)));
        let c = Config::from_env(env(&[("RUNIT_CONTAINER", "yes"), ("RUNIT_SHUTDOWN_TIMEOUT", "0")]));
        assert_eq!(c.shutdown_timeout, None);
        let c = Config::from_env(env(&[("RUNIT_SHUTDOWN_TIMEOUT", "-3")]));
        assert_eq!(c.shutdown_timeout, None);
        assert_eq!(c.warnings.len(), 1);
        let c = Config::from_env(env(&[("RUNIT_SHUTDOWN_TIMEOUT", "12")]));
        assert_eq!(c.shutdown_timeout, Some(Duration::from_secs(12)));
        let c = Config::from_env(env(&[("RUNIT_CONSOLE", "")]));
        assert_eq!(c.console, None);
        let c = Config::from_env(env(&[("RUNIT_CONTAINER", "1"), ("RUNIT_CONSOLE", "/dev/tty9")]));
        assert_eq!(c.console.as_deref(), Some(Path::new("/dev/tty9")));
    }
}
