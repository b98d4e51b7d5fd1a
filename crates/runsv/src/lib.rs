//! runsv: supervises one service directory (runit-compatible)
//!
//! Work in progress: this crate is being written now.
