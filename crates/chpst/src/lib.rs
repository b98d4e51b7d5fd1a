//! chpst and its daemontools-style names: run a program with a changed
//! process state, as runit 2.3.0's chpst does (spec/chpst.md).
//!
//! The flow is the same for every personality:
//!
//! * [`name`] picks the personality from `argv[0]` (chpst, envdir,
//!   envuidgid, pgrphack, setlock, setuidgid, softlimit);
//! * [`options`] parses that personality's command line into a [`Plan`] or a
//!   usage error;
//! * [`execute`] carries the plan out in runit's order of operations, using
//!   [`envdir`], [`environ`], [`account`] and [`limits`], and executes the
//!   program;
//! * [`error`] renders whatever went wrong with runit's wording and exit code.
//!
//! Beyond runit, chpst takes `-E dir` (several envdirs in one call, later
//! ones winning) and `-H` (set `HOME`, `USER`, `LOGNAME` from the account's
//! password entry); see docs/chpst.md.
#![deny(missing_docs)]

pub mod account;
pub mod envdir;
pub mod environ;
pub mod error;
pub mod execute;
pub mod limits;
pub mod name;
pub mod options;
pub mod plan;

pub use name::NAMES;
pub use plan::Plan;

use error::Exit;
use name::Invocation;
use runit_core::report::write_stderr;
use std::ffi::{OsStr, OsString};

/// The whole program: `args` is argv (argv[0] included); returns the exit
/// code when the program could not be executed.
pub fn main(args: Vec<OsString>) -> i32 {
    let argv0 = args.first().map_or(OsStr::new(""), |a| a.as_os_str());
    let invocation = Invocation::from_argv0(argv0);
    let plan = match options::parse(&invocation, args.get(1..).unwrap_or_default()) {
        Ok(plan) => plan,
        Err(usage) => {
            write_stderr(&usage.text());
            return Exit::Usage.code();
        }
    };
    let failure = execute::run(&plan, &mut account::System);
    if plan.quiet_failure && failure.quiet_under_setlock_x() {
        return Exit::Quiet.code();
    }
    write_stderr(&failure.line());
    Exit::Fatal.code()
}
