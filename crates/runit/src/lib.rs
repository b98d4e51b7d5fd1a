//! `runit` (process 1: stages 1-3) and `runit-init`, runit 2.3.0-compatible.
//!
//! The crate is split the way runit's behaviour is (spec: runit-init.md):
//!
//! * [`config`]: compiled-in paths (`/etc/runit`, `/sbin/runit`), their
//!   build-time and run-time overrides, and container mode's settings;
//! * [`machine`]: the stage machine, without I/O, tested on a fake clock;
//! * [`message`]: every console line, rendered in one place;
//! * [`driver`]: process 1's system calls (console, signals, fork/exec,
//!   reaping, `reboot(2)`), feeding the machine;
//! * [`init`]: `runit-init 0|6` and its exec of runit when it is process 1;
//! * [`exit`]: the exit statuses of both programs;
//! * [`cli`]: the two entry points.
//!
//! Container mode (SIGTERM starts the shutdown, a time budget bounds it,
//! process 1 exits at the end) is our extension, off by default; see
//! `docs/containers.md`.
#![deny(missing_docs)]

pub mod cli;
pub mod config;
pub mod driver;
pub mod exit;
pub mod init;
pub mod machine;
pub mod message;

pub use cli::{init_main, runit_main};
