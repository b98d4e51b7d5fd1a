//! The validated plan: what chpst will do, before it does any of it.
//!
//! Every personality (chpst proper and each multi-call name) parses its
//! command line into one [`Plan`]; [`crate::execute`] then carries it out in
//! runit's order of operations (spec/chpst.md §3). A plan holds only what
//! the command line says: lookups, directory reads and number checks whose
//! failures runit reports as fatal errors (exit 111) happen when the plan is
//! executed, at the step where runit makes them, so that the first error
//! reported is the one runit would report.

use crate::account::AccountArg;
use crate::envdir::Subdirs;
use crate::limits::Limits;
use std::ffi::OsString;

/// An environment directory to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvDir {
    /// The directory (relative to the starting directory).
    pub path: OsString,
    /// Whether a subdirectory in it is skipped or fatal.
    pub subdirs: Subdirs,
}

/// The lock to take before executing the program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockSpec {
    /// The lock file (created mode 0600 if missing).
    pub path: OsString,
    /// Wait for the lock (`-l`, `setlock -n`) instead of failing at once.
    pub wait: bool,
}

/// Everything a command line asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// `-P`, `pgrphack`: `setsid()` first.
    pub setsid: bool,
    /// `-E` layers in order, then the last `-e` (or `envdir`'s directory);
    /// later directories win.
    pub envdirs: Vec<EnvDir>,
    /// `-/ root`: change into it and make it the root.
    pub root: Option<OsString>,
    /// `-C pwd`: working directory (inside the new root).
    pub pwd: Option<OsString>,
    /// `-n inc`: niceness increment (0: leave it).
    pub nice: i32,
    /// `-U`, `envuidgid`: export `UID`/`GID` of this account.
    pub env_account: Option<AccountArg>,
    /// `-u`, `setuidgid`: switch to this account.
    pub account: Option<AccountArg>,
    /// `-H` (our extension): export `HOME`, `USER`, `LOGNAME` of the account.
    pub login_env: bool,
    /// `-l`/`-L`, `setlock`.
    pub lock: Option<LockSpec>,
    /// `-0`, `-1`, `-2`: close descriptors 0, 1, 2.
    pub close: [bool; 3],
    /// Resource limits.
    pub limits: Limits,
    /// `-v`: warn about skipped envdir subdirectories.
    pub verbose: bool,
    /// `-b argv0`: the program's `argv[0]`.
    pub argv0: Option<OsString>,
    /// The program to run (looked up in the original `PATH`).
    pub program: OsString,
    /// Its arguments (after `argv[0]`).
    pub args: Vec<OsString>,
    /// `setlock -x`: lock or exec failure exits 0 without a message.
    pub quiet_failure: bool,
}
