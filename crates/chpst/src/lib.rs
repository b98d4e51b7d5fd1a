//! chpst and its daemontools-style names: run a program with a changed process state (runit-compatible)
//!
//! Work in progress: this crate is being written now.
