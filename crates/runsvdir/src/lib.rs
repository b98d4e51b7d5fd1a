//! runsvdir and runsvchdir: the supervision tree (runit-compatible).
//!
//! `runsvdir [-P] dir [log]` starts one `runsv` per service directory in
//! `dir`, restarts the ones that die, and stops the runsv of directories
//! that go away (spec/runsvdir.md); `runsvchdir dir` switches the runlevel
//! symlink `current` (spec/runit-init.md §5). The modules, from pure to
//! effectful:
//!
//! * [`args`], [`options`], [`exit`], [`say`]: command line, environment
//!   extensions, exit codes, messages;
//! * [`table`]: the service table, a pure mark-and-sweep by (dev, inode);
//! * [`proctitle`]: the `log` argument's rotating window;
//! * [`resolve`], [`inotify`], [`watch`]: what to watch so that changes are
//!   noticed at once, symlink chains included;
//! * [`scan`], [`spawn`], [`tree`], [`shutdown`]: reading the directory,
//!   starting runsv, the process tree, the graceful shutdown;
//! * [`driver`]: the event loop that ties them together;
//! * [`runsvchdir`]: the other program.
#![deny(missing_docs)]

pub mod args;
pub mod driver;
pub mod exit;
pub mod inotify;
pub mod options;
pub mod proctitle;
pub mod resolve;
pub mod runsvchdir;
pub mod say;
pub mod scan;
pub mod shutdown;
pub mod spawn;
pub mod table;
pub mod tree;
pub mod watch;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// The runsvdir program: `argv` in, exit code out.
pub fn runsvdir_main(argv: Vec<OsString>) -> i32 {
    match args::parse(&argv) {
        Ok(a) => driver::run(&argv, a).code(),
        Err(args::Usage) => {
            // `usage: <argv0> [-P] dir` and an empty line, argv0 as given.
            let mut usage = b"usage: ".to_vec();
            usage.extend_from_slice(argv.first().map(|a| a.as_bytes()).unwrap_or_default());
            usage.extend_from_slice(args::SYNOPSIS.as_bytes());
            usage.extend_from_slice(b"\n\n");
            runit_core::report::write_stderr(&usage);
            exit::RunsvdirExit::Usage.code()
        }
    }
}
