//! boot's errors and exit codes, rendered in one place.
//!
//! Exit codes are a typed table ([`Exit`]). Usage errors and system failures
//! use runit's 100 and 111; the rest are boot's own, so that a caller (a
//! cloud-init script, a test) can tell "the tags are bad, nothing changed"
//! from "the metadata service is down, nothing changed" from "the new set
//! failed its checks and was rolled back".

use std::fmt;
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
#[derive(Debug)]
pub enum BootError {
    /// Bad command line; the text is printed before the usage.
    Usage(String),
    /// Invalid configuration, catalogue, tags or env layers.
    Invalid(String),
    /// A tag source could not be reached.
    Unavailable(String),
    /// Instance tags are not enabled in the metadata service.
    TagsDisabled(String),
    /// A change that needs an explicit `--allow-…` flag.
    Refused(String),
    /// Apply failed after the switch and was rolled back.
    Failed(String),
    /// `down` left things behind.
    Leftovers(String),
    /// A system call failed while doing `what`.
    Io {
        /// What boot was doing, in runit's `unable to …` wording.
        what: String,
        /// The error.
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

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::Usage(m) | BootError::Invalid(m) | BootError::Unavailable(m) => f.write_str(m),
            BootError::TagsDisabled(m) | BootError::Refused(m) | BootError::Failed(m) => f.write_str(m),
            BootError::Leftovers(m) => f.write_str(m),
            BootError::Io { what, err } => write!(f, "{what}: {}", runit_core::errtext::io_text(err)),
        }
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
