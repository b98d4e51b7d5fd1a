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

/// Formats one diagnostic line: `<prefix>[<kind>: ]<parts...>[: <err>]\n`
/// (no kind part when `kind` is empty).
pub fn format_line(prefix: &[u8], kind: &str, parts: &[&[u8]], err: Option<&io::Error>) -> Vec<u8> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(prefix.len() + kind.len() + len + 40);
    out.extend_from_slice(prefix);
    if !kind.is_empty() {
        out.extend_from_slice(kind.as_bytes());
        out.extend_from_slice(b": ");
    }
    for p in parts {
        out.extend_from_slice(p);
    }
    if let Some(e) = err {
        out.extend_from_slice(b": ");
        out.extend_from_slice(errtext::io_text(e).as_bytes());
    }
    out.push(b'\n');
    out
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
        format_line(&self.prefix, kind, &[msg.as_bytes()], err)
    }

    /// As [`Diag::line`], with the message given as byte parts (entry
    /// names and paths are bytes, not text).
    pub fn line_parts(&self, kind: &str, parts: &[&[u8]], err: Option<&io::Error>) -> Vec<u8> {
        format_line(&self.prefix, kind, parts, err)
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
    fn byte_parts() {
        let d = Diag::new(&b"runsvdir /service: "[..]);
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            d.line_parts("warning", &[b"unable to stat ", b"d\xffng"], Some(&e)),
            b"runsvdir /service: warning: unable to stat d\xffng: file does not exist\n".to_vec()
        );
        assert_eq!(format_line(b"svlogd: ", "", &[b"x"], None), b"svlogd: x\n".to_vec());
    }

    #[test]
    fn usage_has_empty_line() {
        assert_eq!(usage_text("runsv", " dir"), "usage: runsv dir\n\n");
    }
}
