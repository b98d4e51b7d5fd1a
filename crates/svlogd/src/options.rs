//! svlogd's command line (spec svlogd.md §1), parsed with runit's getopt.
//!
//! runit's option string is `R:r:l:b:tvV`; we add two letters runit does not
//! use (documented in docs/svlogd.md as extensions): `-T` (RFC 3339
//! timestamps, `-TT` in local time) and `-o` (also copy lines to standard
//! output). Quirks kept from runit:
//!
//! * the usage message names the program by `argv[0]` as given (not its
//!   basename) and the usage exit code is 111;
//! * `-r` must be exactly one character; `-R` sets the replacement
//!   character to `_` unless a `-r` came *before* it;
//! * `-l` and `-b` take leading digits, and 0 means the default (1000 and
//!   1024); `buflen` must be greater than `len` (checked after defaulting);
//! * `-V` prints the `$Id$` line and the usage the moment it is seen.

use runit_core::getopt::{GetOpt, Opt, OptError, scan_ulong};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

/// The usage synopsis, after `usage: <argv[0]>`.
pub const SYNOPSIS: &str = " [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...";

/// runit's letters plus our extensions `T` and `o`.
const OPTSTRING: &str = "R:r:l:b:tvVTo";

/// Default `-l`: the longest line used for matching, stderr and UDP.
pub const DEFAULT_LINE_MAX: usize = 1000;
/// Default `-b`.
pub const DEFAULT_BUFLEN: usize = 1024;

/// How each line is stamped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StampStyle {
    /// No timestamp.
    None,
    /// `-t`: `@` + TAI64N in hex.
    Tai64N,
    /// `-tt`: `YYYY-MM-DD_HH:MM:SS.xxxxx` (UTC).
    Underscore,
    /// `-ttt`: `YYYY-MM-DDTHH:MM:SS.xxxxx` (UTC).
    Iso,
    /// `-T` (extension): RFC 3339 in UTC, microseconds, `Z`.
    Rfc3339Utc,
    /// `-TT` (extension): RFC 3339 in local time with its UTC offset.
    Rfc3339Local,
}

/// Character replacement (`-r`, `-R`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replace {
    /// The replacement character.
    pub with: u8,
    /// Extra characters to replace (`-R`).
    pub extra: Vec<u8>,
}

/// Everything the command line decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Timestamp prefix.
    pub stamp: StampStyle,
    /// Replacement of non-printable (and `-R`) characters, if enabled.
    pub replace: Option<Replace>,
    /// `-l`: line length for matching, stderr and UDP copies.
    pub line_max: usize,
    /// `-b`: buffer size (only checked against `line_max`; we read and
    /// write in larger blocks, see the driver).
    pub buflen: usize,
    /// `-v`: info messages on stderr.
    pub verbose: bool,
    /// `-o` (extension): copy every line to standard output too.
    pub copy_stdout: bool,
    /// The log directories, as given.
    pub dirs: Vec<OsString>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Run with these options.
    Run(Options),
    /// Print the usage (after the getopt complaint, if any) and exit 111.
    Usage(Option<OptError>),
    /// `-V`: print the version line and the usage, exit 111.
    Version,
}

/// Parses `args` (without `argv[0]`).
pub fn parse(args: &[OsString]) -> Parsed {
    let mut t = 0u32;
    let mut big_t = 0u32;
    let mut with: Option<u8> = None;
    let mut extra: Option<Vec<u8>> = None;
    let mut line_max = DEFAULT_LINE_MAX;
    let mut buflen = DEFAULT_BUFLEN;
    let mut verbose = false;
    let mut copy_stdout = false;
    let mut opts = GetOpt::new(args, OPTSTRING);
    for opt in opts.by_ref() {
        match opt {
            Err(e) => return Parsed::Usage(Some(e)),
            Ok(Opt::Flag(b't')) => t += 1,
            Ok(Opt::Flag(b'T')) => big_t += 1,
            Ok(Opt::Flag(b'v')) => verbose = true,
            Ok(Opt::Flag(b'o')) => copy_stdout = true,
            Ok(Opt::Flag(b'V')) => return Parsed::Version,
            Ok(Opt::Arg(b'r', v)) => match v.as_bytes() {
                [c] => with = Some(*c),
                _ => return Parsed::Usage(None),
            },
            Ok(Opt::Arg(b'R', v)) => {
                extra = Some(v.as_bytes().to_vec());
                // runit: -R without an earlier -r replaces with '_'.
                with.get_or_insert(b'_');
            }
            Ok(Opt::Arg(b'l', v)) => line_max = number_or(v.as_bytes(), DEFAULT_LINE_MAX),
            Ok(Opt::Arg(b'b', v)) => buflen = number_or(v.as_bytes(), DEFAULT_BUFLEN),
            Ok(_) => return Parsed::Usage(None),
        }
    }
    let dirs = opts.operands().to_vec();
    if dirs.is_empty() || buflen <= line_max {
        return Parsed::Usage(None);
    }
    let stamp = match (big_t, t) {
        (0, 0) => StampStyle::None,
        (0, 1) => StampStyle::Tai64N,
        (0, 2) => StampStyle::Underscore,
        (0, _) => StampStyle::Iso,
        (1, _) => StampStyle::Rfc3339Utc,
        (_, _) => StampStyle::Rfc3339Local,
    };
    let replace = with.map(|with| Replace { with, extra: extra.unwrap_or_default() });
    Parsed::Run(Options { stamp, replace, line_max, buflen, verbose, copy_stdout, dirs })
}

/// Leading digits, with 0 (or none) meaning `default`.
fn number_or(s: &[u8], default: usize) -> usize {
    match usize::try_from(scan_ulong(s).0) {
        Ok(0) => default,
        Ok(n) => n,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(words: &[&str]) -> Options {
        let a: Vec<OsString> = words.iter().map(OsString::from).collect();
        match parse(&a) {
            Parsed::Run(o) => o,
            other => panic!("{words:?}: {other:?}"),
        }
    }

    fn usage(words: &[&str]) -> bool {
        let a: Vec<OsString> = words.iter().map(OsString::from).collect();
        matches!(parse(&a), Parsed::Usage(_))
    }

    #[test]
    fn defaults() {
        let o = run(&["d"]);
        assert_eq!(o.stamp, StampStyle::None);
        assert_eq!((o.line_max, o.buflen, o.verbose, o.copy_stdout), (1000, 1024, false, false));
        assert_eq!(o.replace, None);
        assert_eq!(o.dirs, vec![OsString::from("d")]);
    }

    #[test]
    fn t_counts() {
        assert_eq!(run(&["-t", "d"]).stamp, StampStyle::Tai64N);
        assert_eq!(run(&["-tt", "d"]).stamp, StampStyle::Underscore);
        assert_eq!(run(&["-t", "-t", "-t", "d"]).stamp, StampStyle::Iso);
        assert_eq!(run(&["-ttttt", "d"]).stamp, StampStyle::Iso);
        assert_eq!(run(&["-T", "d"]).stamp, StampStyle::Rfc3339Utc);
        assert_eq!(run(&["-ttTT", "d"]).stamp, StampStyle::Rfc3339Local);
    }

    #[test]
    fn replacement_rules() {
        assert_eq!(run(&["-r", ":", "d"]).replace, Some(Replace { with: b':', extra: vec![] }));
        assert_eq!(run(&["-R", "fb", "d"]).replace, Some(Replace { with: b'_', extra: b"fb".to_vec() }));
        // A later -r overrides -R's underscore; an earlier one is kept.
        assert_eq!(
            run(&["-R", "fb", "-r", ":", "d"]).replace,
            Some(Replace { with: b':', extra: b"fb".to_vec() })
        );
        assert_eq!(run(&["-r:", "-Rfb", "d"]).replace, Some(Replace { with: b':', extra: b"fb".to_vec() }));
        assert!(usage(&["-r", "ab", "d"]));
        assert!(usage(&["-r", "", "d"]));
    }

    #[test]
    fn lengths() {
        assert_eq!(run(&["-l", "0", "d"]).line_max, 1000);
        assert_eq!(run(&["-b", "0", "-l", "1023", "d"]).buflen, 1024);
        assert!(usage(&["-b", "0", "-l", "1024", "d"]));
        assert!(usage(&["-l", "2000", "d"]));
        let o = run(&["-b", "5x", "-l", "4", "d"]);
        assert_eq!((o.line_max, o.buflen), (4, 5));
    }

    #[test]
    fn usage_cases() {
        assert!(usage(&[]));
        assert!(usage(&["-t"]));
        let a: Vec<OsString> = ["-x", "d"].iter().map(OsString::from).collect();
        assert_eq!(parse(&a), Parsed::Usage(Some(OptError::Illegal(b'x'))));
        let a: Vec<OsString> = ["-v", "-V", "d"].iter().map(OsString::from).collect();
        assert_eq!(parse(&a), Parsed::Version);
    }
}
