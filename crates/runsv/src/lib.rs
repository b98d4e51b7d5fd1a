//! runsv: supervises one service directory, a drop-in for runit 2.3.0's
//! runsv (spec: supervise.md).
//!
//! * [`supervisor`]: the sans-IO state machine (main and log service);
//! * [`driver`]: start-up (§2), the event loop and the system calls;
//! * [`spawn`]: how `./run`, `./finish`, `log/run` and `control/<c>` are
//!   started (§9.1, §10);
//! * [`group`]: process-group containment and the stop of a previous
//!   instance left running by a killed runsv (runit-rs extensions, see
//!   docs/runsv.md);
//! * [`holds`]: the timer table of reasons to hold a start back;
//! * [`health`] and [`notify`]: readiness notification and crash-loop
//!   control (runit-rs extensions, see docs/health.md).
#![deny(missing_docs)]

pub mod driver;
pub mod group;
pub mod health;
pub mod holds;
pub mod notify;
pub mod spawn;
pub mod supervisor;

use runit_core::report::{Diag, usage_text, write_stderr};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// runsv's exit codes (supervise.md §1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ExitCode {
    /// Told to exit (`x` or SIGTERM) and everything is down.
    Done = 0,
    /// Not exactly one operand.
    Usage = 1,
    /// A fatal start-up error; also the exit code of a forked child whose
    /// exec (or descriptor set-up) failed.
    Fatal = 111,
}

/// `runsv dir`: the whole program. `args` is argv, `argv[0]` included.
pub fn entry(args: Vec<OsString>) -> i32 {
    let [argv0, dir] = args.as_slice() else {
        // runit prints argv[0] as given, not its basename.
        let prog = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
        write_stderr(usage_text(&prog, " dir").as_bytes());
        return ExitCode::Usage as i32;
    };
    let _ = argv0;
    let mut prefix = b"runsv ".to_vec();
    prefix.extend_from_slice(dir.as_bytes());
    prefix.extend_from_slice(b": ");
    let diag = Diag::new(prefix);
    match &mut driver::Runsv::setup(dir, diag.clone()) {
        Ok(runsv) => runsv.run(),
        Err(f) => {
            diag.fatal(&f.what, f.error.as_ref());
            ExitCode::Fatal as i32
        }
    }
}
