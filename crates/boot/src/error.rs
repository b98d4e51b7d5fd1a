//! boot's errors and exit codes, rendered in one place.
//!
//! Exit codes are a typed table ([`Exit`]). Usage errors and system failures
//! use runit's 100 and 111; the rest are boot's own, so that a caller (a
//! cloud-init script, a test) can tell "the tags are bad, nothing changed"
//! from "the metadata service is down, nothing changed" from "the new set
//! failed its checks and was rolled back".

use std::io;

/// boot's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success (including "no changes").
    Ok = 0,
    /// Invalid input: tags, catalogue, configuration. Nothing was written.
    Invalid = 2,
    /// A required tag source is unreachable or timed out. Nothing changed.
    Unavailable = 3,
    /// The metadata service answers but instance tags are not enabled.
    TagsDisabled = 4,
    /// A mode or service change was refused (not explicitly allowed).
    Refused = 5,
    /// The new set failed (check timeout, no supervisor); rolled back.
    Failed = 6,
    /// `down` finished but processes, listeners or FIFOs are left over.
    Leftovers = 7,
    /// Bad command line (runit's usage code).
    Usage = 100,
    /// A system call failed (runit's fatal code).
    System = 111,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// Everything that can stop boot.
#[derive(Debug, thiserror::Error)]
pub enum BootError {
    /// Bad command line; the text is printed before the usage.
    #[error("{0}")]
    Usage(String),
    /// Invalid configuration, catalogue, tags or env layers.
    #[error("{0}")]
    Invalid(String),
    /// A tag source could not be reached.
    #[error("{0}")]
    Unavailable(String),
    /// Instance tags are not enabled in the metadata service.
    #[error("{0}")]
    TagsDisabled(String),
    /// A change that needs an explicit `--allow-…` flag.
    #[error("{0}")]
    Refused(String),
    /// Apply failed after the switch and was rolled back.
    #[error("{0}")]
    Failed(String),
    /// `down` left things behind.
    #[error("{0}")]
    Leftovers(String),
    /// A system call failed while doing `what`.
    #[error("{what}: {}", runit_core::errtext::io_text(.err))]
    Io {
        /// What boot was doing, in runit's `unable to …` wording.
        what: String,
        /// The error.
        #[source]
        err: io::Error,
    },
}

impl BootError {
    /// The exit code for this error.
    pub fn exit(&self) -> Exit {
        match self {
            BootError::Usage(_) => Exit::Usage,
            BootError::Invalid(_) => Exit::Invalid,
            BootError::Unavailable(_) => Exit::Unavailable,
            BootError::TagsDisabled(_) => Exit::TagsDisabled,
            BootError::Refused(_) => Exit::Refused,
            BootError::Failed(_) => Exit::Failed,
            BootError::Leftovers(_) => Exit::Leftovers,
            BootError::Io { .. } => Exit::System,
        }
    }

    /// An I/O failure while doing `what` (e.g. `unable to write state`).
    pub fn io(what: impl Into<String>, err: io::Error) -> Self {
        BootError::Io { what: what.into(), err }
    }

    /// Shorthand for [`BootError::Invalid`].
    pub fn invalid(msg: impl Into<String>) -> Self {
        BootError::Invalid(msg.into())
    }
}

/// `Result` with [`BootError`].
pub type Result<T> = std::result::Result<T, BootError>;

/// Adds an `unable to …` context to I/O results.
pub trait Context<T> {
    /// Maps an I/O error to [`BootError::Io`] with `what`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| BootError::io(what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_a_std_error_with_its_source() {
        let e = BootError::io("unable to write state", io::Error::from_raw_os_error(libc::ENOSPC));
        let dyn_err: &dyn std::error::Error = &e;
        assert!(dyn_err.to_string().starts_with("unable to write state: "), "{dyn_err}");
        assert!(dyn_err.source().is_some());
        assert_eq!(e.exit(), Exit::System);
        assert_eq!(BootError::TagsDisabled("x".into()).to_string(), "x");
    }
}
