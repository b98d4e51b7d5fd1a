//! Processors (`!` config line, spec svlogd.md §6.4).
//!
//! For each rotated `@X.u` svlogd runs `/bin/sh -c <processor>` in the log
//! directory with runit's descriptor protocol:
//!
//! | fd | what |
//! |----|------|
//! | 0 | `@X.u`, the rotated file, read-only |
//! | 1 | `@X.t`, created/truncated 0644: the processed output |
//! | 2 | svlogd's standard error |
//! | 4 | `state` (created empty first if missing), read-only |
//! | 5 | `newstate`, created/truncated 0644 |
//!
//! TERM, ALRM and HUP are unblocked and at their default action; SIGCHLD
//! stays blocked, as runit leaves it. When the child exits with code 0 (or
//! is killed by a signal: runit tests only `status >> 8`), `@X.t` becomes
//! `@X.s` (mode 0744), `@X.u` is deleted and `newstate` replaces `state`.
//! Any other exit deletes `@X.t` and runs the processor again on the same
//! file, at once and without limit, as runit does.
//!
//! A processor keeps its own descriptor of the log directory, so its
//! bookkeeping works even if the directory could not be reopened after a
//! SIGHUP (runit 2.1.2 forgets a processor across SIGHUP and leaves its
//! `.u` and `.t` behind; we finish it).

use crate::message::{Reporter, Step, path};
use crate::rotation::{NAME_LEN, with_suffix};
use crate::sys;
use runit_core::process::{Program, WaitStatus, child, fork};
use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

/// A processor run for one rotated file.
#[derive(Debug)]
pub struct Processor {
    pid: i32,
    input: [u8; NAME_LEN],
    command: Vec<u8>,
    dir: OwnedFd,
    dirname: Vec<u8>,
    restore_sigpipe: bool,
}

impl Processor {
    /// Starts `command` on `input` (a `@….u` name) in `dir`, pausing and
    /// retrying while fork fails.
    pub fn start(
        dir: &OwnedFd,
        dirname: &[u8],
        input: [u8; NAME_LEN],
        command: &[u8],
        restore_sigpipe: bool,
        reporter: Reporter,
    ) -> io::Result<Processor> {
        let dir = dir.try_clone()?;
        let mut p = Processor {
            pid: 0,
            input,
            command: command.to_vec(),
            dir,
            dirname: dirname.to_vec(),
            restore_sigpipe,
        };
        p.spawn(reporter);
        Ok(p)
    }

    /// The child's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// The `@….u` file being processed.
    pub fn input(&self) -> &[u8; NAME_LEN] {
        &self.input
    }

    /// The log directory's name as given on the command line.
    pub fn dirname(&self) -> &[u8] {
        &self.dirname
    }

    fn spawn(&mut self, reporter: Reporter) {
        loop {
            match self.fork_child() {
                Ok(pid) => {
                    self.pid = pid;
                    reporter.info(&[b"processing: ", &path(&self.dirname, &self.input)]);
                    return;
                }
                Err(e) => reporter.pause(Step::ForkProcessor, &self.dirname, &e),
            }
        }
    }

    fn fork_child(&self) -> io::Result<i32> {
        let plan = ChildPlan::new(self)?;
        // Until it executes the shell, the child holds copies of our
        // descriptors, the directories' `lock` among them (close-on-exec):
        // a SIGHUP handled in that window could not lock the directory
        // again. So we return only once the child has executed (or died):
        // the write end of this pipe closes then, and we read end of file.
        let (exec_read, exec_write) = runit_core::selfpipe::pipe(libc::O_CLOEXEC)?;
        // Our handlers must not run in the child before exec (they would
        // write to the self-pipe it shares with us): block the signals
        // around fork; the child sets runit's mask itself.
        let old = mask(libc::SIG_BLOCK, &[libc::SIGTERM, libc::SIGALRM, libc::SIGHUP, libc::SIGCHLD]);
        // SAFETY: svlogd is single-threaded; `ChildPlan::run` makes only
        // system calls on what `ChildPlan::new` prepared (signals, fchdir,
        // open, dup2, close, exec, writev, _exit).
        let pid = unsafe { fork(|| plan.run()) };
        restore(&old);
        drop(exec_write);
        if pid.is_ok() {
            let mut byte = [0u8; 1];
            while let Err(e) = sys::read(exec_read.as_raw_fd(), &mut byte) {
                if e.kind() != io::ErrorKind::Interrupted {
                    break;
                }
            }
        }
        pid
    }

    /// Waits for the processor (blocking) and does its bookkeeping,
    /// restarting it until it succeeds.
    pub fn wait(mut self, reporter: Reporter) {
        loop {
            let status = match runit_core::process::wait_for(self.pid) {
                Ok(s) => s,
                Err(e) => {
                    // No child to wait for (ECHILD): nothing left to do but
                    // to treat the run as over.
                    reporter.warn(&[Step::WaitProcessor.text().as_bytes(), b": ", &self.dirname], Some(&e));
                    return;
                }
            };
            match self.finished(status, reporter) {
                Some(again) => self = again,
                None => return,
            }
        }
    }

    /// Bookkeeping after the child exited with `status`: `None` when done,
    /// or the restarted processor after a failure.
    pub fn finished(mut self, status: WaitStatus, reporter: Reporter) -> Option<Processor> {
        let output = with_suffix(&self.input, b't');
        if !status.runit_success() {
            reporter.warn(&[b"processor failed, restart: ", &self.dirname], None);
            let _ = sys::unlink_at(&self.dir, &output);
            self.spawn(reporter);
            return Some(self);
        }
        self.commit(&output, reporter);
        None
    }

    fn commit(&self, output: &[u8; NAME_LEN], reporter: Reporter) {
        let done = with_suffix(&self.input, b's');
        let (t, s, u) = (name_c(output), name_c(&done), name_c(&self.input));
        // A step failing with ENOENT means the processor removed the file:
        // waiting cannot bring it back, so we warn and go on (runit pauses
        // forever).
        if !self.retry(Step::RenameProcessed, reporter, || sys::rename_at(&self.dir, &t, &s)) {
            return;
        }
        self.retry(Step::SetModeProcessed, reporter, || sys::chmod_at(&self.dir, &s, 0o744));
        if let Err(e) = sys::unlink_at(&self.dir, &self.input) {
            reporter.warn_step(Step::Unlink, &path(&self.dirname, u.as_bytes()), &e);
        }
        self.retry(Step::RenameState, reporter, || sys::rename_at(&self.dir, c"newstate", c"state"));
        reporter.info(&[b"processed: ", &path(&self.dirname, &done)]);
    }

    /// Runs `op` until it succeeds (pausing between tries) or fails with
    /// ENOENT (warning); true on success.
    fn retry(&self, step: Step, reporter: Reporter, mut op: impl FnMut() -> io::Result<()>) -> bool {
        loop {
            match op() {
                Ok(()) => return true,
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                    reporter.warn_step(step, &self.dirname, &e);
                    return false;
                }
                Err(e) => reporter.pause(step, &self.dirname, &e),
            }
        }
    }
}

fn name_c(name: &[u8; NAME_LEN]) -> CString {
    // Rotated names are `@`, hex digits, `.` and a letter: never a NUL.
    CString::new(name.to_vec()).unwrap_or_default()
}

/// Everything the child needs, prepared before fork so the child only
/// makes system calls.
struct ChildPlan {
    dir: i32,
    input: CString,
    output: CString,
    program: Program,
    restore_sigpipe: bool,
    /// `svlogd: fatal: unable to <step>: <dir>/<file>: ` per step.
    msgs: [Vec<u8>; 8],
}

impl ChildPlan {
    fn new(p: &Processor) -> io::Result<Self> {
        let sh = OsStr::new("/bin/sh");
        let program = Program::new(sh, &[sh, OsStr::new("-c"), OsStr::from_bytes(&p.command)])?;
        let msg = |what: &str, file: &[u8]| {
            let mut m = b"svlogd: fatal: ".to_vec();
            m.extend_from_slice(what.as_bytes());
            m.extend_from_slice(b": ");
            m.extend_from_slice(&p.dirname);
            if !file.is_empty() {
                m.push(b'/');
                m.extend_from_slice(file);
            }
            m.extend_from_slice(b": ");
            m
        };
        let output = with_suffix(&p.input, b't');
        Ok(ChildPlan {
            dir: p.dir.as_raw_fd(),
            input: name_c(&p.input),
            output: name_c(&output),
            program,
            restore_sigpipe: p.restore_sigpipe,
            msgs: [
                msg("unable to change directory, want processor", b""),
                msg("unable to open input for processor", &p.input),
                msg("unable to move filedescriptor for processor", b""),
                msg("unable to open output for processor", &output),
                msg("unable to create empty state for processor", b"state"),
                msg("unable to open state for processor", b"state"),
                msg("unable to open newstate for processor", b"newstate"),
                msg("unable to run processor", b""),
            ],
        })
    }

    /// The child: set up descriptors and exec; exits 111 on failure.
    fn run(&self) {
        child_signals(self.restore_sigpipe);
        // SAFETY: fchdir on a descriptor number; failure is reported.
        if unsafe { libc::fchdir(self.dir) } < 0 {
            self.die(0);
        }
        let input = self.open(&self.input, libc::O_RDONLY, 0).unwrap_or_else(|_| self.die(1));
        self.place(input, 0);
        let out = libc::O_WRONLY | libc::O_NDELAY | libc::O_TRUNC | libc::O_CREAT;
        let output = self.open(&self.output, out, 0o644).unwrap_or_else(|_| self.die(3));
        self.place(output, 1);
        let state = match self.open(c"state", libc::O_RDONLY | libc::O_NDELAY, 0) {
            Ok(fd) => fd,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
                let empty = self.open(c"state", out, 0o644).unwrap_or_else(|_| self.die(4));
                child::close(empty);
                self.open(c"state", libc::O_RDONLY | libc::O_NDELAY, 0).unwrap_or_else(|_| self.die(5))
            }
            Err(_) => self.die(5),
        };
        self.place(state, 4);
        let newstate = self.open(c"newstate", out, 0o644).unwrap_or_else(|_| self.die(6));
        self.place(newstate, 5);
        let e = self.program.exec(None);
        child::die(&self.msgs[7], &e, 111);
    }

    fn open(&self, name: &std::ffi::CStr, flags: i32, mode: u32) -> io::Result<i32> {
        // SAFETY: `name` is NUL-terminated; relative to the directory we
        // changed into.
        let fd = unsafe { libc::open(name.as_ptr(), flags, mode) };
        if fd < 0 { Err(io::Error::last_os_error()) } else { Ok(fd) }
    }

    /// Moves `fd` to `to` (inheritable).
    fn place(&self, fd: i32, to: i32) {
        if child::dup2(fd, to).is_err() {
            self.die(2);
        }
        if fd != to {
            child::close(fd);
        }
    }

    fn die(&self, which: usize) -> ! {
        let e = io::Error::last_os_error();
        child::die(&self.msgs[which], &e, 111)
    }
}

/// runit's processor signal state: TERM, ALRM and HUP at their default
/// action and unblocked, SIGCHLD blocked (the caller blocked all four).
fn child_signals(restore_sigpipe: bool) {
    for sig in [libc::SIGTERM, libc::SIGALRM, libc::SIGHUP] {
        child::default_signal(sig);
    }
    if restore_sigpipe {
        child::default_signal(libc::SIGPIPE);
    }
    mask(libc::SIG_UNBLOCK, &[libc::SIGTERM, libc::SIGALRM, libc::SIGHUP]);
}

/// `sigprocmask(how, signals)`; returns the previous mask.
fn mask(how: i32, signals: &[i32]) -> libc::sigset_t {
    // SAFETY: the sets are initialised by sigemptyset before use and the
    // pointers are valid for the call.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for &sig in signals {
            libc::sigaddset(&mut set, sig);
        }
        libc::sigprocmask(how, &set, &mut old);
        old
    }
}

/// Puts back a mask returned by [`mask`].
fn restore(old: &libc::sigset_t) {
    // SAFETY: `old` is a mask sigprocmask filled in.
    unsafe { libc::sigprocmask(libc::SIG_SETMASK, old, std::ptr::null_mut()) };
}
