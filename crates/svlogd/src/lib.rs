//! svlogd: the rotating logger (runit-compatible)
//!
//! Work in progress: this crate is being written now.
