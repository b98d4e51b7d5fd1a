//! sv: control and status client for runsv (runit-compatible)
//!
//! Work in progress: this crate is being written now.
