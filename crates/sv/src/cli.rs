//! The command line: raw arguments to a validated [`Invocation`] (sv.md §1).
//!
//! runit's getopt rules (options before the command, bundling, `-w5` or
//! `-w 5`), its option string `w:vV` plus our `j` and `H`, the environment
//! (`SVDIR`, `SVWAIT`) and the LSB init-script mode, which is on whenever
//! the program's basename is not exactly `sv`: then the service is the
//! program name, extra operands are ignored, and usage errors exit 2.

use crate::command::{self, Action};
use runit_core::getopt::{GetOpt, Opt, OptError, scan_ulong};
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

/// Options: runit's `w:vV` plus `j` (JSON status) and `H` (death
/// history), our extensions.
pub const OPTIONS: &str = "w:vVjH";

/// The services directory when `SVDIR` is unset. runit 2.3.0 uses
/// `/service/`; distributions set `RUNIT_SV_DIR` at build time (Debian
/// `/etc/service/`, Void `/var/service/`).
pub const DEFAULT_SVDIR: &str = match option_env!("RUNIT_SV_DIR") {
    Some(dir) => dir,
    None => "/service/",
};

/// The wait timeout in seconds when neither `SVWAIT` nor `-w` is given.
pub const DEFAULT_WAIT: u64 = 7;

/// The environment variables sv reads.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `SVDIR`.
    pub svdir: Option<OsString>,
    /// `SVWAIT`.
    pub svwait: Option<OsString>,
}

impl Env {
    /// Reads the process environment.
    pub fn from_process() -> Self {
        Env { svdir: std::env::var_os("SVDIR"), svwait: std::env::var_os("SVWAIT") }
    }
}

/// A validated command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The basename of `argv[0]`.
    pub prog: Vec<u8>,
    /// Init-script mode (`prog` is not `sv`).
    pub lsb: bool,
    /// `-v` (or `-w`): wait for commands to take effect.
    pub verbose: bool,
    /// `-j`: print `status` as JSON (our extension).
    pub json: bool,
    /// `-H`: `status` also shows the death history (our extension).
    pub history: bool,
    /// The wait timeout in seconds.
    pub wait_secs: u64,
    /// What to do.
    pub action: Action,
    /// The service names as typed (LSB: the program name).
    pub services: Vec<OsString>,
    /// Where plain service names live.
    pub svdir: OsString,
}

/// A command line sv refuses: it prints the complaint (if any), the
/// version (for `-V`) and the usage, and exits with the usage code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageError {
    /// The basename of `argv[0]`.
    pub prog: Vec<u8>,
    /// Init-script mode.
    pub lsb: bool,
    /// The getopt complaint, if an option was at fault.
    pub complaint: Option<OptError>,
    /// `-V` was given: print the version line first.
    pub version: bool,
}

impl UsageError {
    /// Everything sv prints on stderr for this error, in one buffer.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(c) = self.complaint {
            out.extend_from_slice(&self.prog);
            out.extend_from_slice(format!(": {c}\n").as_bytes());
        }
        if self.version {
            out.extend_from_slice(runit_core::version_id().as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"usage: ");
        out.extend_from_slice(&self.prog);
        out.extend_from_slice(if self.lsb {
            b" [-w sec] command\n\n"
        } else {
            b" [-v] [-w sec] command service ...\n\n"
        });
        out
    }
}

/// The basename of `argv[0]`, as bytes.
pub fn basename(argv0: &[u8]) -> &[u8] {
    match argv0.iter().rposition(|&b| b == b'/') {
        Some(i) => &argv0[i + 1..],
        None => argv0,
    }
}

/// Parses `args` (with `argv[0]`) in the environment `env`.
pub fn parse(args: &[OsString], env: &Env) -> Result<Invocation, UsageError> {
    let prog = basename(args.first().map_or(&b""[..], |a| a.as_bytes())).to_vec();
    let lsb = prog != b"sv";
    let usage = |complaint, version| UsageError { prog: prog.clone(), lsb, complaint, version };
    let mut verbose = false;
    let mut json = false;
    let mut history = false;
    let mut wait_secs = env.svwait.as_ref().map_or(DEFAULT_WAIT, |w| scan_ulong(w.as_bytes()).0);
    let rest = args.get(1..).unwrap_or(&[]);
    let mut opts = GetOpt::new(rest, OPTIONS);
    for opt in opts.by_ref() {
        match opt {
            Ok(Opt::Flag(b'v')) => verbose = true,
            Ok(Opt::Flag(b'j')) => json = true,
            Ok(Opt::Flag(b'H')) => history = true,
            Ok(Opt::Arg(b'w', value)) => {
                wait_secs = scan_ulong(value.as_bytes()).0;
                verbose = true;
            }
            Ok(_) => return Err(usage(None, true)),
            Err(e) => return Err(usage(Some(e), false)),
        }
    }
    let operands = opts.operands();
    let Some((word, names)) = operands.split_first() else { return Err(usage(None, false)) };
    let services = if lsb {
        vec![OsString::from_vec(prog.clone())]
    } else if names.is_empty() {
        return Err(usage(None, false));
    } else {
        names.to_vec()
    };
    let action = command::parse(word.as_bytes(), lsb).ok_or_else(|| usage(None, false))?;
    let svdir = env.svdir.clone().unwrap_or_else(|| OsString::from(DEFAULT_SVDIR));
    Ok(Invocation { prog, lsb, verbose, json, history, wait_secs, action, services, svdir })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Control;

    fn args(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    fn ok(words: &[&str]) -> Invocation {
        parse(&args(words), &Env::default()).expect("valid")
    }

    fn err(words: &[&str]) -> String {
        let e = parse(&args(words), &Env::default()).expect_err("usage");
        String::from_utf8(e.render()).expect("utf8")
    }

    const USAGE: &str = "usage: sv [-v] [-w sec] command service ...\n\n";

    #[test]
    fn plain_status() {
        let inv = ok(&["/usr/bin/sv", "status", "a", "./b"]);
        assert!(!inv.lsb && !inv.verbose && !inv.json);
        assert_eq!(inv.action, Action::Status);
        assert_eq!(inv.services, args(&["a", "./b"]));
        assert_eq!(inv.wait_secs, DEFAULT_WAIT);
        assert_eq!(inv.svdir, OsString::from(DEFAULT_SVDIR));
    }

    #[test]
    fn wait_option_implies_verbose_and_beats_svwait() {
        let env = Env { svdir: Some("/tmp/s".into()), svwait: Some("3x".into()) };
        let inv = parse(&args(&["sv", "up", "a"]), &env).expect("valid");
        assert_eq!((inv.wait_secs, inv.verbose), (3, false));
        assert_eq!(inv.svdir, OsString::from("/tmp/s"));
        let inv = parse(&args(&["sv", "-w", "5", "up", "a"]), &env).expect("valid");
        assert_eq!((inv.wait_secs, inv.verbose), (5, true));
        let inv = parse(&args(&["sv", "-vw12s", "up", "a"]), &env).expect("valid");
        assert_eq!((inv.wait_secs, inv.verbose), (12, true));
        let inv = parse(&args(&["sv", "-w", "soon", "up", "a"]), &env).expect("valid");
        assert_eq!(inv.wait_secs, 0, "non-numeric is 0");
        let env = Env { svdir: None, svwait: Some("".into()) };
        assert_eq!(parse(&args(&["sv", "up", "a"]), &env).expect("valid").wait_secs, 0);
    }

    #[test]
    fn usage_errors() {
        assert_eq!(err(&["sv"]), USAGE);
        assert_eq!(err(&["sv", "status"]), USAGE);
        assert_eq!(err(&["sv", "-v"]), USAGE);
        assert_eq!(err(&["sv", "bogus", "x"]), USAGE);
        assert_eq!(err(&["sv", "restartx", "x"]), USAGE);
        assert_eq!(err(&["sv", "force-bogus", "x"]), USAGE);
        assert_eq!(err(&["sv", "-x", "up", "a"]), format!("sv: illegal option -- x\n{USAGE}"));
        assert_eq!(err(&["sv", "-w"]), format!("sv: option requires an argument -- w\n{USAGE}"));
        let v = err(&["sv", "-V"]);
        assert!(v.starts_with("$Id: ") && v.ends_with(&format!(" $\n{USAGE}")), "{v:?}");
        let v = err(&["sv", "-V", "status", "x"]);
        assert!(v.starts_with("$Id: "));
    }

    #[test]
    fn options_stop_at_the_command() {
        let inv = ok(&["sv", "status", "-v"]);
        assert_eq!(inv.services, args(&["-v"]));
        assert!(!inv.verbose);
        let inv = ok(&["sv", "--", "up", "a"]);
        assert_eq!(inv.services, args(&["a"]));
        let inv = ok(&["sv", "-j", "status", "a"]);
        assert!(inv.json && !inv.history);
        let inv = ok(&["sv", "-Hj", "status", "a"]);
        assert!(inv.json && inv.history);
    }

    #[test]
    fn lsb_mode() {
        let inv = ok(&["/etc/init.d/foo", "start", "ignored", "extra"]);
        assert!(inv.lsb);
        assert_eq!(inv.services, args(&["foo"]));
        assert!(matches!(inv.action, Action::Control(Control { send: b"u", .. })));
        let inv = ok(&["foo", "-w", "3", "stop"]);
        assert_eq!((inv.wait_secs, inv.verbose), (3, true));
        assert_eq!(ok(&["foo", "status"]).action, Action::Status);
        let lsb_usage = "usage: foo [-w sec] command\n\n";
        assert_eq!(err(&["foo"]), lsb_usage);
        assert_eq!(err(&["foo", "stat"]), lsb_usage);
        assert_eq!(err(&["foo", "bogus"]), lsb_usage);
        assert_eq!(err(&["foo", "-x", "status"]), format!("foo: illegal option -- x\n{lsb_usage}"));
        let e = parse(&args(&["foo"]), &Env::default()).expect_err("usage");
        assert!(e.lsb);
        // The name decides, not the path: `/usr/bin/sv` is sv, `sv2` is LSB.
        assert!(!ok(&["./sv", "s", "x"]).lsb);
        assert!(ok(&["sv2", "status"]).lsb);
    }

    #[test]
    fn no_argv0_is_lsb_with_empty_name() {
        let e = parse(&[], &Env::default()).expect_err("usage");
        assert_eq!(e.render(), b"usage:  [-w sec] command\n\n");
    }

    #[test]
    fn basename_of_bytes() {
        assert_eq!(basename(b"/etc/init.d/web"), b"web");
        assert_eq!(basename(b"sv"), b"sv");
        assert_eq!(basename(b"dir/"), b"");
    }
}
