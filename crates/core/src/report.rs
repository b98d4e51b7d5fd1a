//! Diagnostics in runit's format.
//!
//! runit's messages are `<prefix><kind>: <message>[: <error text>]\n` on
//! standard error, written with a single `write` so that lines from several
//! processes sharing a log pipe do not interleave. The prefix is per program:
//! `runsv <dir>: `, `runsvdir <dir>: `, `chpst: `, `svlogd: `, `- runit: `.
//! Usage messages are `usage: <prog><synopsis>\n` followed by an empty line.

use crate::errtext;
use std::io;

/// Writes `bytes` to standard error in one `write` (retrying only on EINTR
/// and short writes); errors are ignored, as runit ignores them.
pub fn write_stderr(bytes: &[u8]) {
    write_fd(2, bytes);
}

/// Writes all of `bytes` to `fd`, ignoring errors.
pub fn write_fd(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a valid buffer of `bytes.len()` bytes.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        let n = usize::try_from(n).unwrap_or(0);
        if n == 0 {
            return;
        }
        bytes = &bytes[n..];
    }
}

/// Builds runit's usage text: `usage: <prog><synopsis>\n\n`.
pub fn usage_text(prog: &str, synopsis: &str) -> String {
    format!("usage: {prog}{synopsis}\n\n")
}

/// A program's diagnostic printer: holds the prefix and formats lines.
#[derive(Debug, Clone)]
pub struct Diag {
    prefix: Vec<u8>,
}

impl Diag {
    /// A printer whose lines start with `prefix` (e.g. `"runsv web: "`).
    pub fn new(prefix: impl Into<Vec<u8>>) -> Self {
        Diag { prefix: prefix.into() }
    }

    /// The prefix.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix
    }

    /// Formats `<prefix><kind>: <msg>[: <err>]\n`.
    pub fn line(&self, kind: &str, msg: &str, err: Option<&io::Error>) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.prefix.len() + kind.len() + msg.len() + 40);
        out.extend_from_slice(&self.prefix);
        if !kind.is_empty() {
            out.extend_from_slice(kind.as_bytes());
            out.extend_from_slice(b": ");
        }
        out.extend_from_slice(msg.as_bytes());
        if let Some(e) = err {
            out.extend_from_slice(b": ");
            out.extend_from_slice(errtext::io_text(e).as_bytes());
        }
        out.push(b'\n');
        out
    }

    /// Prints a `fatal:` line (the caller decides the exit code).
    pub fn fatal(&self, msg: &str, err: Option<&io::Error>) {
        write_stderr(&self.line("fatal", msg, err));
    }

    /// Prints a `warning:` line.
    pub fn warn(&self, msg: &str, err: Option<&io::Error>) {
        write_stderr(&self.line("warning", msg, err));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_format() {
        let d = Diag::new("runsv web: ");
        let e = io::Error::from_raw_os_error(libc::EAGAIN);
        assert_eq!(
            d.line("fatal", "unable to lock supervise/lock", Some(&e)),
            b"runsv web: fatal: unable to lock supervise/lock: temporary failure\n".to_vec()
        );
        assert_eq!(
            d.line("warning", "./log: not a directory.", None),
            b"runsv web: warning: ./log: not a directory.\n".to_vec()
        );
    }

    #[test]
    fn usage_has_empty_line() {
        assert_eq!(usage_text("runsv", " dir"), "usage: runsv dir\n\n");
    }
}
