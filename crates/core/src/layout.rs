//! Names of the files in a service directory and its `supervise/`.
//!
//! runsv works with paths relative to the service directory it changed
//! into; these constants are those relative names, so every program spells
//! them once, here.

/// The service program.
pub const RUN: &str = "run";
/// Run after `./run` exits, with its exit code and wait status.
pub const FINISH: &str = "finish";
/// If present at runsv start-up, the service starts wanted down.
pub const DOWN: &str = "down";
/// Readiness test used by `sv` (runsv never runs it).
pub const CHECK: &str = "check";
/// The attached log service directory.
pub const LOG: &str = "log";
/// Directory of `control/<c>` override scripts.
pub const CONTROL_DIR: &str = "control";
/// runsv's state directory (may be a symlink).
pub const SUPERVISE: &str = "supervise";
/// The log service's state directory, relative to the service directory.
pub const LOG_SUPERVISE: &str = "log/supervise";

/// Files inside `supervise/`.
pub mod supervise {
    /// Held with an exclusive `flock` by the owning runsv.
    pub const LOCK: &str = "lock";
    /// FIFO of command bytes.
    pub const CONTROL: &str = "control";
    /// FIFO whose read end runsv keeps open: the liveness probe.
    pub const OK: &str = "ok";
    /// The 20-byte record.
    pub const STATUS: &str = "status";
    /// One text line of state.
    pub const STAT: &str = "stat";
    /// The current pid, or empty.
    pub const PID: &str = "pid";
}
