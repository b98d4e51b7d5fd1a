//! runit's command-line option rules (its own getopt clone).
//!
//! Options come before operands. Parsing stops at the first argument that
//! does not start with `-`, or at a lone `-` (which is left as an operand);
//! `--` ends the options and is consumed. Letters may be bundled (`-012`) and
//! an option argument may be attached (`-w5`) or separate (`-w 5`). On an
//! unknown letter runit prints `<prog>: illegal option -- <c>`, on a missing
//! argument `<prog>: option requires an argument -- <c>`; the caller then
//! prints its usage and exits with its own usage code.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// One parsed option.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Opt {
    /// A letter that takes no argument.
    Flag(u8),
    /// A letter with its argument (attached or the next word).
    Arg(u8, OsString),
}

/// An option the program does not accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptError {
    /// The letter is not in the option string.
    Illegal(u8),
    /// The letter needs an argument and none followed.
    MissingArgument(u8),
}

impl OptError {
    /// The complaint line runit prints, without the trailing newline.
    pub fn message(&self, prog: &str) -> String {
        format!("{prog}: {self}")
    }
}

impl fmt::Display for OptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            OptError::Illegal(c) => write!(f, "illegal option -- {}", char::from(c)),
            OptError::MissingArgument(c) => {
                write!(f, "option requires an argument -- {}", char::from(c))
            }
        }
    }
}

/// Iterates over the options of `args` (which excludes `argv[0]`).
///
/// `spec` lists the accepted letters; a letter followed by `:` takes an
/// argument, as in POSIX getopt. After the iterator returns `None` (or an
/// error), [`GetOpt::operands`] gives the remaining words.
#[derive(Debug)]
pub struct GetOpt<'a> {
    args: &'a [OsString],
    spec: &'static [u8],
    index: usize,
    offset: usize,
    done: bool,
}

impl<'a> GetOpt<'a> {
    /// Starts parsing `args` (without `argv[0]`) against `spec`.
    pub fn new(args: &'a [OsString], spec: &'static str) -> Self {
        GetOpt { args, spec: spec.as_bytes(), index: 0, offset: 0, done: false }
    }

    /// The operands: every word after the options.
    pub fn operands(&self) -> &'a [OsString] {
        &self.args[self.index.min(self.args.len())..]
    }

    fn takes_argument(&self, c: u8) -> Option<bool> {
        let pos = self.spec.iter().position(|&s| s == c && s != b':')?;
        Some(self.spec.get(pos + 1) == Some(&b':'))
    }
}

impl Iterator for GetOpt<'_> {
    type Item = Result<Opt, OptError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if self.offset == 0 {
            let word = self.args.get(self.index)?.as_bytes();
            if word.len() < 2 || word[0] != b'-' {
                self.done = true;
                return None;
            }
            if word == b"--" {
                self.index += 1;
                self.done = true;
                return None;
            }
            self.offset = 1;
        }
        let word = self.args[self.index].as_bytes();
        let c = word[self.offset];
        self.offset += 1;
        let at_end = self.offset >= word.len();
        let Some(wants_arg) = self.takes_argument(c) else {
            if at_end {
                self.index += 1;
                self.offset = 0;
            }
            self.done = true;
            return Some(Err(OptError::Illegal(c)));
        };
        if !wants_arg {
            if at_end {
                self.index += 1;
                self.offset = 0;
            }
            return Some(Ok(Opt::Flag(c)));
        }
        let value = if !at_end {
            let v = OsStr::from_bytes(&word[self.offset..]).to_os_string();
            self.index += 1;
            v
        } else if let Some(next) = self.args.get(self.index + 1) {
            self.index += 2;
            next.clone()
        } else {
            self.index += 1;
            self.offset = 0;
            self.done = true;
            return Some(Err(OptError::MissingArgument(c)));
        };
        self.offset = 0;
        Some(Ok(Opt::Arg(c, value)))
    }
}

/// runit's number parsing: the value of the leading decimal digits (no sign,
/// no hex), saturating; 0 when there are none. Returns the value and how many
/// bytes were digits.
pub fn scan_ulong(s: &[u8]) -> (u64, usize) {
    let mut value: u64 = 0;
    let mut n = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            break;
        }
        value = value.saturating_mul(10).saturating_add(u64::from(b - b'0'));
        n += 1;
    }
    (value, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn parse(words: &[&str], spec: &'static str) -> (Vec<Result<Opt, OptError>>, Vec<String>) {
        let a = args(words);
        let mut g = GetOpt::new(&a, spec);
        let opts: Vec<_> = g.by_ref().collect();
        let rest = g.operands().iter().map(|s| s.to_string_lossy().into_owned()).collect();
        (opts, rest)
    }

    #[test]
    fn bundled_flags_and_attached_argument() {
        let (opts, rest) = parse(&["-vw5", "up", "x"], "w:vV");
        assert_eq!(opts, vec![Ok(Opt::Flag(b'v')), Ok(Opt::Arg(b'w', "5".into()))]);
        assert_eq!(rest, vec!["up", "x"]);
    }

    #[test]
    fn separate_argument() {
        let (opts, rest) = parse(&["-w", "5", "-v", "down", "x"], "w:vV");
        assert_eq!(opts, vec![Ok(Opt::Arg(b'w', "5".into())), Ok(Opt::Flag(b'v'))]);
        assert_eq!(rest, vec!["down", "x"]);
    }

    #[test]
    fn double_dash_is_consumed_lone_dash_is_not() {
        let (_, rest) = parse(&["-v", "--", "-x"], "v");
        assert_eq!(rest, vec!["-x"]);
        let (opts, rest) = parse(&["-", "x"], "v");
        assert!(opts.is_empty());
        assert_eq!(rest, vec!["-", "x"]);
    }

    #[test]
    fn options_stop_at_first_operand() {
        let (opts, rest) = parse(&["status", "-v"], "v");
        assert!(opts.is_empty());
        assert_eq!(rest, vec!["status", "-v"]);
    }

    #[test]
    fn illegal_and_missing() {
        let (opts, _) = parse(&["-x"], "w:v");
        assert_eq!(opts, vec![Err(OptError::Illegal(b'x'))]);
        assert_eq!(OptError::Illegal(b'x').message("sv"), "sv: illegal option -- x");
        let (opts, _) = parse(&["-w"], "w:v");
        assert_eq!(opts, vec![Err(OptError::MissingArgument(b'w'))]);
        assert_eq!(OptError::MissingArgument(b'w').message("sv"), "sv: option requires an argument -- w");
    }

    #[test]
    fn colon_is_never_an_option_letter() {
        let (opts, _) = parse(&["-:"], "w:v");
        assert_eq!(opts, vec![Err(OptError::Illegal(b':'))]);
    }

    #[test]
    fn digits_and_slash_letters() {
        let (opts, rest) = parse(&["-012", "-/", "/root", "true"], "/:012");
        assert_eq!(
            opts,
            vec![
                Ok(Opt::Flag(b'0')),
                Ok(Opt::Flag(b'1')),
                Ok(Opt::Flag(b'2')),
                Ok(Opt::Arg(b'/', "/root".into()))
            ]
        );
        assert_eq!(rest, vec!["true"]);
    }

    #[test]
    fn scan_ulong_reads_leading_digits() {
        assert_eq!(scan_ulong(b"12x"), (12, 2));
        assert_eq!(scan_ulong(b"x12"), (0, 0));
        assert_eq!(scan_ulong(b""), (0, 0));
        assert_eq!(scan_ulong(b"99999999999999999999999").0, u64::MAX);
    }
}
