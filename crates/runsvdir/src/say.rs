//! runsvdir's diagnostics: `runsvdir <dir>: warning: <message>[: <error>]`.
//!
//! runsvdir names itself by the literal word `runsvdir` and the scan
//! directory exactly as given on the command line (runsvdir.md §2), not by
//! `argv[0]`. Messages are bytes because entry names and `dir` are bytes; each
//! line goes out in one `write(2)` so that lines of runsvdir and of the runsv
//! processes sharing the log pipe do not interleave.

use runit_core::report::{self, Diag};
use std::io;

/// The printer of runsvdir's `warning:` lines.
#[derive(Debug, Clone)]
pub struct Say {
    diag: Diag,
}

impl Say {
    /// A printer for scan directory `dir` (as given on the command line).
    pub fn new(dir: &[u8]) -> Self {
        Say { diag: Diag::new([&b"runsvdir "[..], dir, b": "].concat()) }
    }

    /// `<prefix><kind>: <parts...>[: <error text>]\n`.
    pub fn line(&self, kind: &str, parts: &[&[u8]], err: Option<&io::Error>) -> Vec<u8> {
        self.diag.line_parts(kind, parts, err)
    }

    /// Prints a `warning:` line on standard error.
    pub fn warn(&self, parts: &[&[u8]], err: Option<&io::Error>) {
        report::write_stderr(&self.line("warning", parts, err));
    }

    /// Prints a `fatal:` line on standard error (the caller exits).
    pub fn fatal(&self, parts: &[&[u8]], err: Option<&io::Error>) {
        report::write_stderr(&self.line("fatal", parts, err));
    }

    /// The bytes a forked child prints before its error text when `runsv`
    /// cannot be executed: `runsvdir <dir>: fatal: unable to start runsv
    /// <name>: ` (runsvdir.md §2).
    pub fn exec_failure_prefix(&self, name: &[u8]) -> Vec<u8> {
        let mut out = self.diag.prefix().to_vec();
        out.extend_from_slice(b"fatal: unable to start runsv ");
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_format_matches_runit() {
        let s = Say::new(b"/etc/service");
        let e = io::Error::from_raw_os_error(libc::ENOENT);
        assert_eq!(
            s.line("warning", &[b"unable to stat ", b"dang"], Some(&e)),
            b"runsvdir /etc/service: warning: unable to stat dang: file does not exist\n".to_vec()
        );
        assert_eq!(
            s.line("warning", &[b"log must have at least seven characters."], None),
            b"runsvdir /etc/service: warning: log must have at least seven characters.\n".to_vec()
        );
    }

    #[test]
    fn exec_failure_prefix() {
        assert_eq!(
            Say::new(b"sv").exec_failure_prefix(b"web"),
            b"runsvdir sv: fatal: unable to start runsv web: ".to_vec()
        );
    }
}
