//! boot: one machine image, any role, from instance tags
//!
//! Work in progress: this crate is being written now.
