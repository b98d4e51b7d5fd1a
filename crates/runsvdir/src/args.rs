//! runsvdir's command line: `runsvdir [-P] dir [log]` (runsvdir.md §1).
//!
//! runit parses it by hand, not with getopt: only the first argument may be
//! an option, and only its second character is looked at. `-P...` turns on
//! a new session per runsv, `--...` is skipped, and any other argument
//! (even `-x`) is the directory. Arguments after `log` are ignored.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The synopsis runit prints after `usage: <argv0>`.
pub const SYNOPSIS: &str = " [-P] dir";

/// A parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `-P`: each runsv becomes a session and process-group leader.
    pub new_session: bool,
    /// The scan directory, as given.
    pub dir: OsString,
    /// The proctitle log argument, as given.
    pub log: Option<OsString>,
    /// Where `log` is in `argv` (its bytes are rewritten in place).
    pub log_index: usize,
}

/// The command line is unusable: print the usage and exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage;

/// Parses `argv` (argv[0] included).
pub fn parse(argv: &[OsString]) -> Result<Args, Usage> {
    let mut rest = argv.iter().skip(1).map(OsString::as_os_str).peekable();
    let mut new_session = false;
    let mut skipped = 0;
    if let Some(first) = rest.peek() {
        match first.as_bytes() {
            [b'-', b'P', ..] => {
                new_session = true;
                skipped = 1;
            }
            [b'-', b'-', ..] => skipped = 1,
            _ => {}
        }
    }
    if skipped == 1 {
        rest.next();
    }
    let dir = rest.next().ok_or(Usage)?.to_os_string();
    let log = rest.next().map(OsStr::to_os_string);
    Ok(Args { new_session, dir, log, log_index: 2 + skipped })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, Usage> {
        let v: Vec<OsString> =
            std::iter::once("runsvdir").chain(args.iter().copied()).map(Into::into).collect();
        parse(&v)
    }

    #[test]
    fn usage_without_dir() {
        assert_eq!(p(&[]), Err(Usage));
        assert_eq!(p(&["-P"]), Err(Usage));
        assert_eq!(p(&["--"]), Err(Usage));
        assert_eq!(p(&["-Pxyz"]), Err(Usage));
    }

    #[test]
    fn dir_and_log() {
        let a = p(&["sv", "log:....", "ignored"]).expect("args");
        assert!(!a.new_session);
        assert_eq!(a.dir, "sv");
        assert_eq!(a.log.as_deref(), Some(OsStr::new("log:....")));
        assert_eq!(a.log_index, 2);
        assert_eq!(p(&["-P", "sv", "log:...."]).expect("args").log_index, 3);
    }

    #[test]
    fn only_second_character_counts() {
        let a = p(&["-Pxyz", "sv"]).expect("args");
        assert!(a.new_session);
        assert_eq!(a.dir, "sv");
        let a = p(&["--foo", "sv"]).expect("args");
        assert!(!a.new_session);
        assert_eq!(a.dir, "sv");
    }

    #[test]
    fn other_dash_argument_is_the_directory() {
        let a = p(&["-x", "sv"]).expect("args");
        assert!(!a.new_session);
        assert_eq!(a.dir, "-x");
        assert_eq!(a.log.as_deref(), Some(OsStr::new("sv")));
        let a = p(&["-", "sv"]).expect("args");
        assert_eq!(a.dir, "-");
        // Only the first argument may be an option.
        let a = p(&["-P", "-P", "sv"]).expect("args");
        assert!(a.new_session);
        assert_eq!(a.dir, "-P");
    }
}
