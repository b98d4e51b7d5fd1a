//! `sv`: control and status client for runsv, a drop-in for runit 2.3.0's.
//!
//! The program is split the way its behaviour is specified
//! (`spec/sv.md`):
//!
//! * [`cli`] — raw arguments to a validated [`cli::Invocation`] (runit's
//!   getopt rules, `SVDIR`/`SVWAIT`, LSB mode by program name);
//! * [`command`] — the command table (exact LSB words, first-letter
//!   dispatch) and the redundant-command rule;
//! * [`resolve`] — where a service name lives, in each of sv's two passes;
//! * [`line`] — the status line, a pure function of the 20-byte record;
//! * [`cond`] — the wait condition of each control byte;
//! * [`json`] — `-j`, the machine-readable status (our extension);
//! * [`history`] — `-H`, the death history (our extension);
//! * [`ready`] — readiness where a service declares a mechanism (our
//!   extension, issue 12), asked where runit runs `./check`;
//! * [`exit`] — the exit statuses;
//! * [`driver`], [`check`], [`watch`], [`out`] — the system side:
//!   directories and `supervise/` files, `./check`, inotify, stdout.
#![deny(missing_docs)]

pub mod check;
pub mod cli;
pub mod command;
pub mod cond;
pub mod driver;
pub mod exit;
pub mod history;
pub mod json;
pub mod line;
pub mod out;
pub mod ready;
pub mod resolve;
pub mod watch;

use std::ffi::OsString;

/// The program: parses `args` (with `argv[0]`), runs, returns the exit code.
pub fn main(args: Vec<OsString>) -> i32 {
    match cli::parse(&args, &cli::Env::from_process()) {
        Ok(inv) => driver::run(&inv).code(inv.lsb),
        Err(usage) => {
            runit_core::report::write_stderr(&usage.render());
            exit::Exit::Usage.code(usage.lsb)
        }
    }
}
