//! `runit-init`: ask process 1 to halt or reboot (runit-init.md §4).
//!
//! Run as process 1 (the kernel's `init=`), it execs runit. Otherwise only
//! the first character of its first argument matters: `0` makes the
//! stopit flag executable and takes the executable bit off the reboot
//! flag; `6` makes both executable; either then sends SIGCONT to process 1
//! without checking the result. Anything else prints the usage and exits
//! 0, as runit does.

use crate::config::Paths;
use crate::exit::InitExit;
use runit_core::errtext;
use runit_core::process::Program;
use std::ffi::{OsStr, OsString};
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// What the command line asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `0`: halt (power off).
    Halt,
    /// `6`: reboot.
    Reboot,
    /// `-V`: the version, then the usage.
    Version,
    /// Anything else.
    Usage,
}

/// Reads the first argument (argv[0] excluded from `operands`).
pub fn parse(operands: &[OsString]) -> Request {
    let Some(first) = operands.first() else { return Request::Usage };
    match first.as_bytes() {
        [b'0', ..] => Request::Halt,
        [b'6', ..] => Request::Reboot,
        b"-V" => Request::Version,
        _ => Request::Usage,
    }
}

/// Why runit-init failed.
#[derive(Debug)]
pub enum InitError {
    /// A flag file could not be created.
    Create(PathBuf, io::Error),
    /// A flag file's mode could not be set.
    Chmod(PathBuf, io::Error),
    /// As process 1: runit could not be exec'd.
    StartRunit(io::Error),
}

impl InitError {
    /// runit-init's line: `init: fatal: <what>: <error text>\n`.
    pub fn line(&self) -> Vec<u8> {
        let (what, path, err): (&str, Option<&Path>, &io::Error) = match self {
            InitError::Create(p, e) => ("unable to create ", Some(p), e),
            InitError::Chmod(p, e) => ("unable to chmod ", Some(p), e),
            InitError::StartRunit(e) => ("unable to start runit", None, e),
        };
        let mut out = b"init: fatal: ".to_vec();
        out.extend_from_slice(what.as_bytes());
        if let Some(p) = path {
            out.extend_from_slice(p.as_os_str().as_bytes());
        }
        out.extend_from_slice(b": ");
        out.extend_from_slice(errtext::io_text(err).as_bytes());
        out.push(b'\n');
        out
    }

    /// The exit status.
    pub fn exit(&self) -> InitExit {
        InitExit::Fatal
    }
}

/// runit-init's usage text; `argv0` is shown verbatim.
pub fn usage(argv0: &OsStr) -> Vec<u8> {
    let mut out = b"usage: ".to_vec();
    out.extend_from_slice(argv0.as_bytes());
    out.extend_from_slice(b" 0|6\n\n");
    out
}

/// Sets the flag files for a halt or reboot request.
pub fn write_flags(paths: &Paths, request: Request) -> Result<(), InitError> {
    match request {
        Request::Halt => {
            make_executable(&paths.stopit())?;
            let reboot = paths.reboot();
            match fs::set_permissions(&reboot, fs::Permissions::from_mode(0o000)) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => Err(InitError::Chmod(reboot, e)),
                _ => Ok(()),
            }
        }
        Request::Reboot => {
            make_executable(&paths.stopit())?;
            make_executable(&paths.reboot())
        }
        Request::Version | Request::Usage => Ok(()),
    }
}

/// Creates (truncating) `path` and gives it mode 0100, the owner-execute
/// bit that makes a runit flag "set".
fn make_executable(path: &Path) -> Result<(), InitError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(path)
        .map_err(|e| InitError::Create(path.to_path_buf(), e))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o100))
        .map_err(|e| InitError::Chmod(path.to_path_buf(), e))
}

/// `kill(1, SIGCONT)`; runit does not check the result.
pub fn wake_process_1() {
    // SAFETY: plain system call.
    unsafe { libc::kill(1, libc::SIGCONT) };
}

/// As process 1: exec runit with argv[0] `runit` and our environment.
/// Returns only on failure.
pub fn exec_runit(bin: &Path) -> InitError {
    match Program::new(bin.as_os_str(), &[OsStr::new("runit")]) {
        Ok(p) => InitError::StartRunit(p.exec(None)),
        Err(e) => InitError::StartRunit(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ops(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    #[test]
    fn only_the_first_character_matters() {
        assert_eq!(parse(&ops(&["0"])), Request::Halt);
        assert_eq!(parse(&ops(&["0junk", "x"])), Request::Halt);
        assert_eq!(parse(&ops(&["6"])), Request::Reboot);
        assert_eq!(parse(&ops(&["60"])), Request::Reboot);
        assert_eq!(parse(&ops(&["-V"])), Request::Version);
        assert_eq!(parse(&ops(&[])), Request::Usage);
        assert_eq!(parse(&ops(&["1"])), Request::Usage);
        assert_eq!(parse(&ops(&[""])), Request::Usage);
        assert_eq!(parse(&ops(&["-0"])), Request::Usage);
    }

    #[test]
    fn usage_shows_argv0_verbatim() {
        assert_eq!(usage(OsStr::new("runit-init")), b"usage: runit-init 0|6\n\n".to_vec());
        assert_eq!(usage(OsStr::new("/sbin/init")), b"usage: /sbin/init 0|6\n\n".to_vec());
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("runit-init-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("mkdir");
        dir
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).expect("stat").permissions().mode() & 0o7777
    }

    #[test]
    fn halt_sets_stopit_and_clears_reboot() {
        let dir = scratch("halt");
        let paths = Paths::new(&dir);
        write_flags(&paths, Request::Halt).expect("flags");
        assert_eq!(mode(&paths.stopit()), 0o100);
        assert!(!paths.reboot().exists(), "a missing reboot flag is not created");
        fs::write(paths.reboot(), "").expect("write");
        fs::set_permissions(paths.reboot(), fs::Permissions::from_mode(0o100)).expect("chmod");
        write_flags(&paths, Request::Halt).expect("flags");
        assert_eq!(mode(&paths.reboot()), 0);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn reboot_sets_both_flags() {
        let dir = scratch("reboot");
        let paths = Paths::new(&dir);
        fs::write(paths.stopit(), "old").expect("write");
        write_flags(&paths, Request::Reboot).expect("flags");
        assert_eq!(mode(&paths.stopit()), 0o100);
        assert_eq!(mode(&paths.reboot()), 0o100);
        assert_eq!(fs::read(paths.stopit()).expect("read"), b"", "truncated");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn errors_in_runits_words() {
        let paths = Paths::new("/nonexistent/runit");
        let e = write_flags(&paths, Request::Halt).expect_err("no directory");
        assert_eq!(
            e.line(),
            b"init: fatal: unable to create /nonexistent/runit/stopit: file does not exist\n"
        );
        assert_eq!(e.exit(), InitExit::Fatal);
        let e = exec_runit(Path::new("/nonexistent/runit"));
        assert_eq!(e.line(), b"init: fatal: unable to start runit: file does not exist\n");
    }
}
