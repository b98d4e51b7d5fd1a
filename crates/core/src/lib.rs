//! The runit contract, defined once for every program of the suite.
//!
//! runit's programs talk to each other only through the file system: a
//! service directory, its `supervise/` files, the 20-byte status record and
//! the control FIFO. This crate owns every byte of that contract (see
//! `spec/supervise.md`) plus the conventions all runit programs share:
//! runit's own error texts, its getopt rules, its message format, TAI64N
//! labels, the self-pipe for signals, fork/exec of children and the
//! program entry point that leaves signal dispositions as inherited.
#![deny(missing_docs)]

pub mod atomic;
pub mod control;
pub mod deaths;
pub mod entry;
pub mod errtext;
pub mod getopt;
pub mod health;
pub mod instance;
pub mod layout;
pub mod policy;
pub mod process;
pub mod report;
pub mod selfpipe;
pub mod status;
pub mod supervise;
pub mod tai;

/// Our version, printed by `-V` where runit prints its `$Id$` string.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The version line in runit's `$Id: ... $` shape.
pub fn version_id() -> String {
    format!("$Id: runit-rs {VERSION} $")
}
