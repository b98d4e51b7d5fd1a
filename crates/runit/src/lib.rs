//! runit and runit-init: process 1, stages 1-3 (runit-compatible)
//!
//! Work in progress: this crate is being written now.
