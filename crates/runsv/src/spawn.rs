//! Starting `./run`, `./finish`, `log/run` and `control/<c>` the way runsv
//! does (supervise.md §9.1, §10, §15).
//!
//! Everything a child needs (program, argv, message texts) is prepared
//! before `fork`. The child restores the default action of SIGTERM and
//! SIGCHLD (runsv catches both) before anything else, so a signal arriving
//! between fork and exec is not taken for one sent to runsv. Service
//! processes get them unblocked; override scripts keep them blocked, as
//! runit's do (observed SigBlk 0x14000). A failed exec makes the child print
//! runit's message and exit 111.
//!
//! Extension: service processes become process-group leaders (both the
//! child and the parent call `setpgid`, so the group exists as soon as
//! `fork` returns). Override scripts stay in runsv's group, as they are
//! waited for synchronously.
//!
//! Extension (docs/health.md): `./run` of a service that opted in gets the
//! write end of its notification pipe as the declared descriptor, or
//! `NOTIFY_SOCKET` in its environment ([`Readiness`]).

use crate::ExitCode;
use crate::supervisor::Child;
use runit_core::process::{self, Environ, Program, child};
use runit_core::report::Diag;
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::RawFd;
use std::os::unix::fs::PermissionsExt;

/// runsv's ends of the log pipe, when there is a log service.
#[derive(Debug, Clone, Copy)]
pub struct LogPipe {
    /// Read end: `log/run`'s standard input.
    pub read: RawFd,
    /// Write end: standard output of `./run`, `./finish` and overrides.
    pub write: RawFd,
}

/// What `./run` gets to report readiness (extension; empty for everything
/// else).
#[derive(Debug, Clone, Copy, Default)]
pub struct Readiness<'a> {
    /// `(write end, descriptor number)`: `notification-fd`.
    pub fd: Option<(RawFd, i32)>,
    /// The whole environment, with `NOTIFY_SOCKET`: `notify-socket`.
    pub env: Option<&'a Environ>,
}

/// Starts a service process; returns its pid.
pub fn start(what: Child, prefix: &[u8], pipe: Option<LogPipe>, ready: Readiness<'_>) -> io::Result<u32> {
    let code = ExitCode::Fatal as i32;
    let (argv, name): (Vec<String>, &str) = match what {
        Child::Run => (vec!["./run".into()], "./run"),
        Child::Finish { code, status } => {
            (vec!["./finish".into(), code.to_string(), status.to_string()], "./finish")
        }
        // runit's message names it literally `log/./run`.
        Child::Log => (vec!["./run".into()], "log/./run"),
    };
    let args: Vec<&OsStr> = argv.iter().map(OsStr::new).collect();
    let prog = Program::new(args[0], &args)?;
    let start_msg = message(prefix, &["fatal: unable to start ", name, ": "]);
    let is_log = what == Child::Log;
    let fd_name = if is_log { "./log/run" } else { "./run" };
    let fd_msg = message(prefix, &["fatal: unable to setup filedescriptor for ", fd_name, ": "]);
    let cd_msg = message(prefix, &["fatal: unable to change directory to ./log: "]);
    let log_dir = CString::from(c"log");
    // SAFETY: runsv is single-threaded; the child makes only system calls
    // on what was prepared above (signals, setpgid, chdir, dup2, exec,
    // writev and _exit), allocates nothing and ends in exec or _exit.
    let pid = unsafe {
        process::fork(|| {
            child_signals(false);
            child::new_process_group();
            if is_log && let Err(e) = child::chdir(&log_dir) {
                child::die(&cd_msg, &e, code);
            }
            if let Some(p) = pipe {
                let (from, to) = if is_log { (p.read, 0) } else { (p.write, 1) };
                if let Err(e) = child::dup2(from, to) {
                    child::die(&fd_msg, &e, code);
                }
            }
            // After stdout: the pipe's ends are above 2, so nothing set up
            // above can have replaced them.
            if let Some((from, to)) = ready.fd
                && let Err(e) = child::dup2(from, to)
            {
                child::die(&fd_msg, &e, code);
            }
            let e = prog.exec(ready.env);
            child::die(&start_msg, &e, code)
        })
    }?;
    // SAFETY: plain system call; failure (the child already exec'd after
    // doing it itself) is harmless.
    unsafe { libc::setpgid(pid, pid) };
    u32::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))
}

/// Runs `control/<byte>` if it exists with the owner-execute bit, waits for
/// it, and returns runit's "succeeded" (`(status >> 8) == 0`, which includes
/// a death by signal). Absent or failing to start: false.
pub fn run_override(byte: u8, diag: &Diag, pipe: Option<LogPipe>) -> bool {
    let c = char::from(byte);
    let path = format!("control/{c}");
    match std::fs::metadata(&path) {
        Ok(m) if m.permissions().mode() & 0o100 != 0 => {}
        Ok(_) => return false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return false,
        Err(e) => {
            diag.warn(&format!("unable to stat {path}"), Some(&e));
            return false;
        }
    }
    let Ok(prog) = Program::new(OsStr::new(&path), &[OsStr::new(&path)]) else { return false };
    // runit prints a literal `?` here.
    let run_msg = message(diag.prefix(), &["fatal: unable to run control/?: "]);
    let out_msg = message(diag.prefix(), &["warning: unable to setup stdout for ", &path, ": "]);
    // SAFETY: runsv is single-threaded; the child makes only system calls
    // on what was prepared above (signals, dup2, writev, exec, _exit).
    let forked = unsafe {
        process::fork(|| {
            child_signals(true);
            if let Some(p) = pipe
                && let Err(e) = child::dup2(p.write, 1)
            {
                child::warn(&out_msg, &e);
            }
            let e = prog.exec(None);
            child::die(&run_msg, &e, ExitCode::Fatal as i32)
        })
    };
    let pid = match forked {
        Ok(pid) => pid,
        Err(e) => {
            diag.warn(&format!("unable to fork for {path}"), Some(&e));
            return false;
        }
    };
    match process::wait_for(pid) {
        Ok(status) => status.runit_success(),
        Err(e) => {
            diag.warn(&format!("unable to wait for child {path}"), Some(&e));
            false
        }
    }
}

fn message(prefix: &[u8], parts: &[&str]) -> Vec<u8> {
    let mut m = prefix.to_vec();
    for p in parts {
        m.extend_from_slice(p.as_bytes());
    }
    m
}

/// In a forked child: default SIGTERM and SIGCHLD, blocked or unblocked.
fn child_signals(block: bool) {
    child::default_signal(libc::SIGTERM);
    child::default_signal(libc::SIGCHLD);
    // SAFETY: `set` is initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        let how = if block { libc::SIG_BLOCK } else { libc::SIG_UNBLOCK };
        libc::sigprocmask(how, &set, std::ptr::null_mut());
    }
}
