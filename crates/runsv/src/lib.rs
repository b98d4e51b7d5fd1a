//! runsv: supervises one service directory, a drop-in for runit 2.3.0's
//! runsv (spec: supervise.md).
//!
//! * [`supervisor`]: the sans-IO state machine (main and log service);
//! * [`driver`]: start-up (§2), the event loop and the system calls;
//! * `spawn`: how `./run`, `./finish`, `log/run` and `control/<c>` are
//!   started;
//! * `group`: process-group containment and the stop of a previous
//!   instance left running by a runsv that was killed (runit-rs extensions,
//!   see docs/runsv.md).
#![deny(missing_docs)]

pub mod supervisor;
