//! Starting `runsv <name>` (runsvdir.md §4).
//!
//! The child is forked while runsvdir's working directory is the scan
//! directory, so the relative name is right. It restores the default action
//! of the signals runsvdir catches (before `exec` resets them anyway, so that
//! a signal arriving in between is not taken for runsvdir's own), unblocks
//! everything, becomes a session leader with `-P`, and executes `runsv`
//! through runit's `PATH` search. If that fails it prints runit's message
//! and exits 100.

use crate::say::Say;
use runit_core::process::{self, Program, child};
use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;

/// How runsv processes are started.
#[derive(Debug, Clone)]
pub struct Spawner {
    new_session: bool,
    say: Say,
    caught: Vec<i32>,
}

impl Spawner {
    /// A spawner; `caught` are the signals runsvdir has handlers for.
    pub fn new(new_session: bool, say: Say, caught: &[i32]) -> Self {
        Spawner { new_session, say, caught: caught.to_vec() }
    }

    /// Forks and executes `runsv <name>`; returns the child's pid.
    pub fn start(&self, name: &OsStr) -> io::Result<i32> {
        let program = Program::new(OsStr::new("runsv"), &[OsStr::new("runsv"), name])?;
        let failure = self.say.exec_failure_prefix(name.as_bytes());
        let caught = &self.caught;
        let new_session = self.new_session;
        // SAFETY: runsvdir is single-threaded; the child makes only system
        // calls on what was prepared above (signal, sigprocmask, setsid,
        // exec, writev, _exit).
        unsafe {
            process::fork(|| {
                for &sig in caught {
                    child::default_signal(sig);
                }
                child::unblock_all();
                if new_session {
                    child::setsid();
                }
                let e = program.exec(None);
                child::die(&failure, &e, crate::exit::RunsvdirExit::Fatal.code());
            })
        }
    }
}
