//! runsvdir and runsvchdir: the supervision tree (runit-compatible)
//!
//! Work in progress: this crate is being written now.
