//! Command-line options of `runit-bench`.

use std::ffi::OsString;
use std::path::PathBuf;

/// The usage text (`--help` prints it to stdout, a bad option to stderr).
pub const USAGE: &str = "\
usage: runit-bench [--quick] [--only LIST] [--reps N] [--ours DIR] [--no-build]
                   [--runit DIR] [--no-s6] [--list] [--help]

Runs our runit suite and Debian's C runit side by side (s6 as an extra
column), alternating A B A B, and prints one table of medians, spreads,
ratios ours/runit and targets.

  --quick       small sizes and few repetitions (about a minute)
  --only LIST   run only these scenarios (comma-separated keys, see --list)
  --reps N      repetitions per implementation for every scenario
  --ours DIR    take our binaries from DIR (no build); `--ours /usr/bin`
                runs C runit in both columns, to check the harness
  --no-build    do not run `cargo build --release` for our binaries first
  --runit DIR   where Debian's C runit is (default /usr/bin)
  --no-s6       leave out the s6 column
  --list        list the scenarios and their figures, then exit
  --help        this text
";

/// Parsed options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Small sizes, few repetitions.
    pub quick: bool,
    /// Scenario keys to run (all when `None`).
    pub only: Option<Vec<String>>,
    /// Repetitions override.
    pub reps: Option<usize>,
    /// Directory of our binaries (implies no build).
    pub ours: Option<PathBuf>,
    /// Skip building our binaries.
    pub no_build: bool,
    /// Directory of C runit.
    pub runit: PathBuf,
    /// Include s6.
    pub s6: bool,
    /// List scenarios and exit.
    pub list: bool,
    /// Print usage and exit.
    pub help: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quick: false,
            only: None,
            reps: None,
            ours: None,
            no_build: false,
            runit: PathBuf::from("/usr/bin"),
            s6: true,
            list: false,
            help: false,
        }
    }
}

/// Parses `args` (without the program name). The error is one line.
pub fn parse(args: &[OsString]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let arg = arg.to_str().ok_or_else(|| format!("argument is not UTF-8: {arg:?}"))?;
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (arg, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            match &inline {
                Some(v) => Ok(v.clone()),
                None => it
                    .next()
                    .and_then(|v| v.to_str())
                    .map(str::to_string)
                    .ok_or_else(|| format!("option {name} needs a value")),
            }
        };
        match name {
            "--quick" => o.quick = true,
            "--no-build" => o.no_build = true,
            "--no-s6" => o.s6 = false,
            "--list" => o.list = true,
            "--help" | "-h" => o.help = true,
            "--only" => {
                let v = value(name)?;
                let keys: Vec<String> =
                    v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(str::to_string).collect();
                if keys.is_empty() {
                    return Err("option --only needs at least one scenario".into());
                }
                o.only = Some(keys);
            }
            "--reps" => {
                let v = value(name)?;
                let n: usize = v.parse().map_err(|_| format!("--reps: not a number: {v}"))?;
                if n == 0 {
                    return Err("--reps must be at least 1".into());
                }
                o.reps = Some(n);
            }
            "--ours" => o.ours = Some(PathBuf::from(value(name)?)),
            "--runit" => o.runit = PathBuf::from(value(name)?),
            _ => return Err(format!("unknown option: {arg}")),
        }
        if inline.is_some()
            && matches!(name, "--quick" | "--no-build" | "--no-s6" | "--list" | "--help" | "-h")
        {
            return Err(format!("option {name} takes no value"));
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let o = p(&[]).expect("no args");
        assert_eq!(o, Options::default());
        assert!(o.s6 && !o.quick && o.only.is_none());
        assert_eq!(o.runit, PathBuf::from("/usr/bin"));
    }

    #[test]
    fn every_option() {
        let o = p(&[
            "--quick",
            "--only",
            "svlogd,chpst",
            "--reps=3",
            "--ours",
            "/x",
            "--no-build",
            "--runit=/y",
            "--no-s6",
            "--list",
        ])
        .expect("parse");
        assert!(o.quick && o.no_build && o.list && !o.s6);
        assert_eq!(o.only, Some(vec!["svlogd".to_string(), "chpst".to_string()]));
        assert_eq!(o.reps, Some(3));
        assert_eq!(o.ours, Some(PathBuf::from("/x")));
        assert_eq!(o.runit, PathBuf::from("/y"));
        assert!(p(&["--help"]).expect("help").help);
        assert!(p(&["-h"]).expect("help").help);
    }

    #[test]
    fn bad_options() {
        assert_eq!(p(&["--fast"]).expect_err("unknown"), "unknown option: --fast");
        assert_eq!(p(&["--only"]).expect_err("missing"), "option --only needs a value");
        assert!(p(&["--only", ","]).is_err());
        assert!(p(&["--reps", "x"]).expect_err("nan").contains("not a number"));
        assert!(p(&["--reps", "0"]).is_err());
        assert!(p(&["--quick=yes"]).expect_err("value").contains("takes no value"));
        assert!(p(&["extra"]).is_err());
    }
}
