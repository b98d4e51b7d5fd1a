//! The command line: `boot [global options] <command> [options]`.
//!
//! Options may come before or after the command; `--opt=value` and
//! `--opt value` are both accepted.

use crate::apply::UpOptions;
use crate::context::Allow;
use std::ffi::OsString;
use std::path::PathBuf;

/// The synopsis printed by usage errors.
pub const SYNOPSIS: &str = " [--root dir] [--config file] [--catalogue dir] [--source spec]... [--bin-dir dir] \
plan|up|down|status|tags|render [--allow-mode-change] [--allow-service-change] [--spawn-runsvdir] [--purge] [--json] [--out dir]";

/// A command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// Dry run.
    Plan(Allow),
    /// Apply.
    Up(UpOptions),
    /// Tear down.
    Down {
        /// Also remove data and logs.
        purge: bool,
    },
    /// Report.
    Status {
        /// JSON output.
        json: bool,
    },
    /// Merged tags.
    Tags {
        /// JSON output.
        json: bool,
    },
    /// Render into a directory.
    Render {
        /// Output directory.
        out: PathBuf,
    },
}

/// Parsed arguments.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Args {
    /// `--root` (else `BOOT_ROOT`, else `/`).
    pub root: Option<PathBuf>,
    /// `--config`.
    pub config: Option<PathBuf>,
    /// `--catalogue`.
    pub catalogue: Option<PathBuf>,
    /// `--source` (replaces the configured list).
    pub sources: Vec<String>,
    /// `--bin-dir`.
    pub bin_dir: Option<PathBuf>,
    /// The command.
    pub command: Option<Command>,
}

/// Parses `args` (without argv[0]).
pub fn parse(args: &[OsString]) -> Result<Args, String> {
    let mut a = Args::default();
    let mut cmd: Option<String> = None;
    let mut flags: Vec<String> = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let s = arg.to_str().ok_or_else(|| "arguments must be UTF-8".to_string())?;
        let (name, inline) = match s.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (s, None),
        };
        let mut value = |what: &str| -> Result<String, String> {
            match inline.clone() {
                Some(v) => Ok(v),
                None => it
                    .next()
                    .and_then(|v| v.to_str())
                    .map(str::to_string)
                    .ok_or_else(|| format!("option {what} needs a value")),
            }
        };
        match name {
            "--root" => a.root = Some(value(name)?.into()),
            "--config" => a.config = Some(value(name)?.into()),
            "--catalogue" => a.catalogue = Some(value(name)?.into()),
            "--source" => a.sources.push(value(name)?),
            "--bin-dir" => a.bin_dir = Some(value(name)?.into()),
            "--out" => out = Some(value(name)?.into()),
            "--allow-mode-change" | "--allow-service-change" | "--spawn-runsvdir" | "--purge" | "--json" => {
                flags.push(name.to_string())
            }
            _ if name.starts_with('-') => return Err(format!("unknown option {name}")),
            _ if cmd.is_none() => cmd = Some(name.to_string()),
            _ => return Err(format!("unexpected argument {name}")),
        }
    }
    let has = |f: &str| flags.iter().any(|x| x == f);
    let allowed = |ok: &[&str]| -> Result<(), String> {
        match flags.iter().find(|f| !ok.contains(&f.as_str())) {
            Some(f) => Err(format!("option {f} does not apply to {}", cmd.as_deref().unwrap_or(""))),
            None => Ok(()),
        }
    };
    let allow =
        Allow { mode_change: has("--allow-mode-change"), service_change: has("--allow-service-change") };
    let c = match cmd.as_deref() {
        None => return Err("no command".into()),
        Some("plan") => {
            allowed(&["--allow-mode-change", "--allow-service-change"])?;
            Command::Plan(allow)
        }
        Some("up") => {
            allowed(&["--allow-mode-change", "--allow-service-change", "--spawn-runsvdir"])?;
            Command::Up(UpOptions { allow, spawn_runsvdir: has("--spawn-runsvdir") })
        }
        Some("down") => {
            allowed(&["--purge"])?;
            Command::Down { purge: has("--purge") }
        }
        Some("status") => {
            allowed(&["--json"])?;
            Command::Status { json: has("--json") }
        }
        Some("tags") => {
            allowed(&["--json"])?;
            Command::Tags { json: has("--json") }
        }
        Some("render") => {
            allowed(&[])?;
            Command::Render { out: out.take().ok_or_else(|| "render needs --out DIR".to_string())? }
        }
        Some(other) => return Err(format!("unknown command {other}")),
    };
    if out.is_some() {
        return Err("--out only applies to render".into());
    }
    a.command = Some(c);
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn commands_and_options() {
        let a =
            p(&["--root", "/r", "up", "--spawn-runsvdir", "--source=imds", "--source", "env"]).expect("up");
        assert_eq!(a.root, Some("/r".into()));
        assert_eq!(a.sources, ["imds", "env"]);
        assert_eq!(a.command, Some(Command::Up(UpOptions { allow: Allow::default(), spawn_runsvdir: true })));
        assert_eq!(p(&["down", "--purge"]).expect("down").command, Some(Command::Down { purge: true }));
        assert_eq!(
            p(&["render", "--out", "x"]).expect("render").command,
            Some(Command::Render { out: "x".into() })
        );
        assert!(p(&[]).is_err());
        assert!(p(&["up", "--purge"]).is_err());
        assert!(p(&["frobnicate"]).is_err());
        assert!(p(&["render"]).is_err());
        assert!(p(&["up", "--root"]).is_err());
        assert!(p(&["up", "--bogus"]).is_err());
        assert!(p(&["up", "extra"]).is_err());
    }
}
