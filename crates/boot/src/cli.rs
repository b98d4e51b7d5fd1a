//! The command line: `boot [global options] <command> [options]`.
//!
//! Options may come before or after the command; `--opt=value` and
//! `--opt value` are both accepted; `-v`, `-q` may be repeated or grouped
//! (`-vv`). `--help`, `-h`, `help [command]` and `--version` are answered
//! on stdout with exit 0; anything else that does not parse is a usage
//! error (exit 100) before anything is read or written.

use crate::apply::UpOptions;
use crate::config::MAX_WAIT_S;
use crate::context::Allow;
pub use crate::status::StatusFormat;
use std::ffi::OsString;
use std::path::PathBuf;

/// The synopsis printed by usage errors.
pub const SYNOPSIS: &str = " [--root dir] [--config file] [--catalogue dir] [--source spec]... [--bin-dir dir] \
[--wait seconds] [-v|-q] plan|up|down|status|tags|render|help [--allow-mode-change] [--allow-service-change] \
[--spawn-runsvdir] [--purge] [--json] [--prometheus] [--out dir]";

/// The commands, in help order: name, arguments, one line.
pub const COMMANDS: [(&str, &str, &str); 7] = [
    ("plan", "[--allow-mode-change] [--allow-service-change]", "dry run: what up would do; writes nothing"),
    (
        "up",
        "[--allow-mode-change] [--allow-service-change] [--spawn-runsvdir]",
        "apply the set the tags ask for, atomically",
    ),
    ("down", "[--purge]", "stop everything and return to a first-boot state"),
    ("status", "[--json|--prometheus]", "the applied generation and each service's state"),
    ("tags", "[--json]", "the merged tags and where each came from"),
    ("render", "--out DIR", "write the service directories up would generate to DIR"),
    ("help", "[command]", "this text, or one command's"),
];

const GLOBAL_HELP: &str = "\
Global options (before or after the command):
  --root DIR         relocate boot's files and defaults below DIR (also BOOT_ROOT)
  --config FILE      configuration (default <root>/etc/boot/boot.toml)
  --catalogue DIR    the sv-templates catalogue
  --source SPEC      tag source, repeatable, replaces boot.toml's list:
                     imds | static[:PATH] | describe-tags:PATH | legacy:PATH | env,
                     a trailing ? makes it optional (default: imds only)
  --bin-dir DIR      where chpst, svlogd, sv, runsvdir, runsv are
  --wait SECONDS     keep retrying the metadata service while it is absent,
                     refuses connections or answers 5xx (default: wait_s, 0)
  -v, -vv            more log output (debug, trace); RUST_LOG works too
  -q, -qq            less log output (warnings only, errors only)
  -h, --help         this text;  --version  the version

Exit codes: 0 ok, 2 invalid input, 3 tag source unreachable, 4 tags not
enabled in instance metadata, 5 change refused, 6 new set failed (rolled
back), 7 down left things behind, 100 usage, 111 system error.
Logs go to stderr. See boot(8), boot.toml(5), service.toml(5), docs/boot.md.
";

/// The full help text (`boot --help`, `boot help`).
pub fn help() -> String {
    let mut s = String::from(
        "boot: one machine image, any role, from instance tags\n\nusage: boot [options] <command> [options]\n\nCommands:\n",
    );
    for (name, args, what) in COMMANDS {
        s += &format!("  {name} {args}\n      {what}\n");
    }
    s += "\n";
    s += GLOBAL_HELP;
    s
}

/// One command's help (`boot help up`, `boot up --help`); `None` for an
/// unknown command.
pub fn command_help(name: &str) -> Option<String> {
    let (name, args, what) = COMMANDS.iter().find(|c| c.0 == name)?;
    let detail = match *name {
        "plan" => {
            "Fetches the tags, resolves and renders in memory, and prints mode,\n\
             environment, the service directories and unchanged/changed/added/removed.\n\
             --allow-mode-change, --allow-service-change: as for up.\n"
        }
        "up" => {
            "Fetches the tags, renders the set and switches to it atomically; waits\n\
             for every service to be ready (else rolls back, exit 6). A second up with\n\
             the same inputs prints \"no changes\".\n\
             --allow-mode-change      accept a mode change against the applied state\n\
             --allow-service-change   accept a service/component change\n\
             --spawn-runsvdir         start a runsvdir on the set if none runs\n"
        }
        "down" => {
            "Stops every service gracefully (loggers drain), stops a runsvdir boot\n\
             started, removes what boot generated.\n\
             --purge   also remove the services' data and logs\n"
        }
        "status" => {
            "The applied generation and per service the sv-status-style line.\n\
             --json         machine-readable\n\
             --prometheus   Prometheus text format for node_exporter's textfile collector\n"
        }
        "tags" => {
            "The merged tags, escaped, with their source; the instance id.\n--json   machine-readable\n"
        }
        "render" => "Writes DIR/<name>@<hash>/ for each service up would run; boot's state is not touched.\n",
        _ => "boot help [command]: the general help, or one command's.\n",
    };
    Some(format!("usage: boot [options] {name} {args}\n\n{what}.\n\n{detail}\n{GLOBAL_HELP}"))
}

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
        /// The output format.
        format: StatusFormat,
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
    /// `--wait` seconds (replaces `wait_s`).
    pub wait: Option<u64>,
    /// `-v` counts up, `-q` down; 0 is the default level.
    pub verbosity: i8,
    /// The command.
    pub command: Option<Command>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Invocation {
    /// Run a command.
    Run(Args),
    /// Print this on stdout and exit 0 (help, version).
    Print(String),
}

/// Parses `args` (without `argv[0]`). `Err` is a usage error's message.
pub fn parse(args: &[OsString]) -> Result<Invocation, String> {
    let mut a = Args::default();
    let mut cmd: Option<String> = None;
    let mut operands: Vec<String> = Vec::new();
    let mut flags: Vec<String> = Vec::new();
    let mut out: Option<PathBuf> = None;
    let mut want_help = false;
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
            "--wait" => {
                let v = value(name)?;
                let n = v
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= MAX_WAIT_S)
                    .ok_or_else(|| format!("--wait needs whole seconds, 0 to {MAX_WAIT_S}, not {v:?}"))?;
                a.wait = Some(n);
            }
            "--help" | "--version" | "--verbose" | "--quiet" if inline.is_some() => {
                return Err(format!("option {name} takes no value"));
            }
            "--help" | "-h" => want_help = true,
            "--version" => {
                return Ok(Invocation::Print(format!("boot (runit-rs) {}\n", runit_core::VERSION)));
            }
            "--verbose" => a.verbosity = a.verbosity.saturating_add(1),
            "--quiet" => a.verbosity = a.verbosity.saturating_sub(1),
            "--allow-mode-change"
            | "--allow-service-change"
            | "--spawn-runsvdir"
            | "--purge"
            | "--json"
            | "--prometheus" => {
                if inline.is_some() {
                    return Err(format!("option {name} takes no value"));
                }
                flags.push(name.to_string())
            }
            _ if name.len() > 1
                && name.starts_with('-')
                && !name.starts_with("--")
                && name.bytes().skip(1).all(|b| b == b'v' || b == b'q') =>
            {
                for b in name.bytes().skip(1) {
                    a.verbosity =
                        if b == b'v' { a.verbosity.saturating_add(1) } else { a.verbosity.saturating_sub(1) };
                }
            }
            _ if name.starts_with('-') => return Err(format!("unknown option {name}")),
            _ if cmd.is_none() => cmd = Some(name.to_string()),
            _ => operands.push(name.to_string()),
        }
    }
    if cmd.as_deref() == Some("help") || want_help {
        let topic = match cmd.as_deref() {
            Some("help") if operands.is_empty() && want_help => Some("help".to_string()),
            Some("help") => operands.first().cloned(),
            _ => cmd.clone(),
        };
        if operands.len() > 1 || (cmd.as_deref() != Some("help") && !operands.is_empty()) {
            return Err(format!("unexpected argument {}", operands.last().map(String::as_str).unwrap_or("")));
        }
        return match topic {
            None => Ok(Invocation::Print(help())),
            Some(t) => command_help(&t).map(Invocation::Print).ok_or_else(|| format!("unknown command {t}")),
        };
    }
    if let Some(extra) = operands.first() {
        return Err(format!("unexpected argument {extra}"));
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
    let fetches = matches!(cmd.as_deref(), Some("plan" | "up" | "tags" | "render"));
    if a.wait.is_some() && !fetches && cmd.is_some() {
        return Err(format!("option --wait does not apply to {}", cmd.as_deref().unwrap_or("")));
    }
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
            allowed(&["--json", "--prometheus"])?;
            let format = match (has("--json"), has("--prometheus")) {
                (true, true) => return Err("--json and --prometheus exclude each other".into()),
                (true, false) => StatusFormat::Json,
                (false, true) => StatusFormat::Prometheus,
                (false, false) => StatusFormat::Text,
            };
            Command::Status { format }
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
    Ok(Invocation::Run(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        match parse(&args.iter().map(OsString::from).collect::<Vec<_>>())? {
            Invocation::Run(a) => Ok(a),
            Invocation::Print(t) => Err(format!("printed: {t}")),
        }
    }

    fn printed(args: &[&str]) -> Option<String> {
        match parse(&args.iter().map(OsString::from).collect::<Vec<_>>()) {
            Ok(Invocation::Print(t)) => Some(t),
            _ => None,
        }
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
        assert_eq!(
            p(&["status", "--prometheus"]).expect("status").command,
            Some(Command::Status { format: StatusFormat::Prometheus })
        );
        assert!(p(&[]).is_err());
        assert!(p(&["up", "--purge"]).is_err());
        assert!(p(&["frobnicate"]).is_err());
        assert!(p(&["render"]).is_err());
        assert!(p(&["up", "--root"]).is_err());
        assert!(p(&["up", "--bogus"]).is_err());
        assert!(p(&["up", "extra"]).is_err());
        assert!(p(&["status", "--json", "--prometheus"]).is_err());
        assert!(p(&["up", "--json=1"]).is_err());
        for flag in ["--help=x", "--version=1", "--verbose=2", "--quiet="] {
            assert!(parse(&[OsString::from(flag)]).is_err(), "{flag}");
        }
    }

    #[test]
    fn wait_and_verbosity() {
        let a = p(&["--wait", "30", "-vv", "up"]).expect("wait");
        assert_eq!((a.wait, a.verbosity), (Some(30), 2));
        assert_eq!(p(&["tags", "--wait=0", "-q"]).expect("q").verbosity, -1);
        assert_eq!(p(&["-qvq", "tags"]).expect("mixed").verbosity, -1);
        for bad in ["abc", "-1", "1.5", "", "86401"] {
            assert!(p(&["up", "--wait", bad]).is_err(), "{bad}");
        }
        assert!(p(&["status", "--wait", "3"]).is_err());
        assert!(p(&["up", "-vx"]).is_err());
    }

    #[test]
    fn help_and_version() {
        let all = printed(&["--help"]).expect("help");
        assert!(all.starts_with("boot: ") && all.contains("--wait SECONDS"));
        assert_eq!(printed(&["help"]), Some(all.clone()));
        assert_eq!(printed(&["-h"]), Some(all));
        let up = printed(&["help", "up"]).expect("help up");
        assert!(up.starts_with("usage: boot [options] up "));
        assert_eq!(printed(&["up", "--help"]), Some(up));
        assert!(printed(&["--version"]).expect("version").starts_with("boot (runit-rs) "));
        assert!(parse(&[OsString::from("help"), OsString::from("nope")]).is_err());
    }
}
