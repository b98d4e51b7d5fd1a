//! What each program accepts, found by asking the built binaries, and what
//! its man page and completion files say: shared by `tests/docs_man.rs`
//! and `tests/docs_completions.rs`.
//!
//! Every option letter (`a`-`z`, `A`-`Z`, `0`-`9`, `/`) is tried on every
//! program as `<name> -<c>` plus, where the program takes operands, enough
//! of them that the command line is complete exactly when `-<c>` is *not*
//! an option. Then the answer is plain: an option leaves the line one
//! operand short, so the program prints its usage; a letter that is not an
//! option draws runit's `illegal option -- c` or is taken as an operand (a
//! directory, an account, a program) that does not exist. No probe can do
//! anything: each runs with an empty environment in an empty scratch
//! directory, `PATH` names an empty directory, stdin is /dev/null, and the
//! paths runsvchdir and runit-init would touch point into the scratch
//! directory. Where probing is impossible (`runit` refuses to run unless it
//! is process 1) the spec's option set is used. boot's long options are
//! found the same way, trying every `--word` in its binary and its usage.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used, dead_code)]

use harness::{Outcome, Scratch, wait_for};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The repository's root.
pub fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every character runit's getopt could take as an option letter here.
pub const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/";

/// How a program's options are found.
#[derive(Debug, Clone, Copy)]
pub enum Probe {
    /// runit's getopt (or boot's parser): `<name> -c` with no operand; an
    /// option ends in the usage, anything else in a complaint.
    Getopt,
    /// No option parsing, operands only: `<name> -c <operands...>`.
    Operands(&'static [&'static str]),
    /// runsvdir: a letter that is not `-P` is the directory to scan, and
    /// runsvdir then runs until killed, so all letters run at once and are
    /// stopped as soon as they have said which they are.
    Runsvdir,
    /// runit-init: everything but `0`, `6` and `-V` prints the usage and
    /// exits 0, so a letter is an option when the outcome differs from the
    /// outcome for this plain operand. Digits are not tried (`0` and `6`
    /// would signal process 1).
    Unlike(&'static str),
    /// Cannot run outside process 1: the options of the spec.
    Documented(&'static [&'static str]),
}

/// A command of the suite and where it is documented.
#[derive(Debug, Clone, Copy)]
pub struct Subject {
    /// The command name (argv[0]; multi-call names are links to chpst).
    pub name: &'static str,
    /// The binary in the target directory.
    pub binary: &'static str,
    /// The man page in docs/man/ (without `.8`).
    pub page: &'static str,
    /// How its options are found.
    pub probe: Probe,
}

/// Every command, multi-call names included.
pub const SUBJECTS: &[Subject] = &[
    Subject { name: "runsv", binary: "runsv", page: "runsv", probe: Probe::Operands(&[]) },
    Subject { name: "runsvdir", binary: "runsvdir", page: "runsvdir", probe: Probe::Runsvdir },
    Subject { name: "runsvchdir", binary: "runsvchdir", page: "runsvchdir", probe: Probe::Operands(&[]) },
    Subject { name: "sv", binary: "sv", page: "sv", probe: Probe::Getopt },
    Subject { name: "chpst", binary: "chpst", page: "chpst", probe: Probe::Getopt },
    Subject { name: "envdir", binary: "chpst", page: "chpst", probe: Probe::Operands(&["prog"]) },
    Subject { name: "envuidgid", binary: "chpst", page: "chpst", probe: Probe::Operands(&["prog"]) },
    Subject { name: "setuidgid", binary: "chpst", page: "chpst", probe: Probe::Operands(&["prog"]) },
    Subject { name: "pgrphack", binary: "chpst", page: "chpst", probe: Probe::Operands(&[]) },
    Subject { name: "setlock", binary: "chpst", page: "chpst", probe: Probe::Getopt },
    Subject { name: "softlimit", binary: "chpst", page: "chpst", probe: Probe::Getopt },
    Subject { name: "svlogd", binary: "svlogd", page: "svlogd", probe: Probe::Getopt },
    Subject { name: "runit", binary: "runit", page: "runit", probe: Probe::Documented(&[]) },
    Subject { name: "runit-init", binary: "runit-init", page: "runit-init", probe: Probe::Unlike("x") },
    Subject { name: "boot", binary: "boot", page: "boot", probe: Probe::Getopt },
];

/// The subject called `name`.
pub fn subject(name: &str) -> Subject {
    *SUBJECTS.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no subject {name}"))
}

/// Our built binary; fails the test with a hint when it is not built.
pub fn built(binary: &str) -> PathBuf {
    harness::ours(binary)
}

/// An empty place to run probes in.
pub struct Sandbox {
    scratch: Scratch,
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new(name: &str) -> Sandbox {
        let scratch = Scratch::new(name);
        for d in ["cwd", "empty-path", "runsvdir", "etc", "root", "sv", "home"] {
            fs::create_dir_all(scratch.join(d)).unwrap();
        }
        Sandbox { scratch }
    }

    /// `binary` run as `name`: empty environment but for harmless paths.
    pub fn command(&self, binary: &Path, name: &str, args: &[String]) -> Command {
        let mut c = Command::new(binary);
        c.arg0(name)
            .args(args)
            .env_clear()
            .env("PATH", self.scratch.join("empty-path"))
            .env("HOME", self.scratch.join("home"))
            .env("SVDIR", self.scratch.join("sv"))
            .env("RUNSVDIR", self.scratch.join("runsvdir"))
            .env("RUNIT_ETC", self.scratch.join("etc"))
            .env("RUNIT_BIN", self.scratch.join("etc/no-runit"))
            .env("BOOT_ROOT", self.scratch.join("root"))
            .current_dir(self.scratch.join("cwd"))
            .stdin(Stdio::null());
        c
    }

    /// Runs `binary` as `name` with `args` (10 s at most).
    pub fn run(&self, binary: &Path, name: &str, args: &[String]) -> Outcome {
        quick(&mut self.command(binary, name, args), Duration::from_secs(10))
    }

    /// The scratch directory.
    pub fn path(&self) -> &Path {
        self.scratch.path()
    }
}

/// Runs a probe in its own process group, killing the group if it takes
/// longer than `timeout`. (`harness::run` also hunts for escaped
/// descendants through every process's environment, which costs more than
/// the probe itself; a probe starts nothing, so its group is all there is.)
pub fn quick(cmd: &mut Command, timeout: Duration) -> Outcome {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = i32::try_from(child.id()).unwrap();
    let (tx, rx) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let out = child.wait_with_output();
        let _ = tx.send(());
        out
    });
    if rx.recv_timeout(timeout).is_err() {
        // Not reaped yet, so the group is still this probe's.
        // SAFETY: signalling the process group we created.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = waiter.join();
        panic!("{cmd:?} did not finish within {timeout:?}");
    }
    let out = waiter.join().unwrap().unwrap();
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A process in its own group, killed with its group on drop unless it
/// has already been reaped.
struct Group {
    child: Child,
    reaped: bool,
}

impl Group {
    fn spawn(cmd: &mut Command) -> Group {
        let child = cmd.process_group(0).spawn().unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        Group { child, reaped: false }
    }

    fn try_wait(&mut self) -> Option<i32> {
        let st = self.child.try_wait().ok().flatten()?;
        self.reaped = true;
        Some(st.code().unwrap_or(-1))
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if !self.reaped {
            let pid = i32::try_from(self.child.id()).unwrap_or(0);
            // SAFETY: the leader is not reaped, so the group is still ours.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            let _ = self.child.wait();
        }
    }
}

/// True when the output is a usage message.
fn usage(o: &Outcome) -> bool {
    o.stderr.contains("usage:") || o.stdout.contains("usage:")
}

/// True when the program complained about an option.
fn complaint(o: &Outcome) -> bool {
    ["illegal option", "unknown option", "unrecognized option", "invalid option"]
        .iter()
        .any(|m| o.stderr.contains(m))
}

/// True when the output names `arg` (as an operand it failed on).
fn names(o: &Outcome, arg: &str) -> bool {
    o.stderr.contains(arg) || o.stdout.contains(arg)
}

fn describe(o: &Outcome) -> String {
    format!("exit {:?}, stdout {:?}, stderr {:?}", o.code, o.stdout, o.stderr)
}

/// Decides one probe of `-c` for getopt and operand programs.
fn classify(s: &Subject, arg: &str, o: &Outcome) -> bool {
    match s.probe {
        Probe::Getopt => {
            if complaint(o) {
                false
            } else if usage(o) {
                true
            } else if o.code == Some(0) && !o.stdout.is_empty() && o.stderr.is_empty() {
                // An option answered on its own (boot --version).
                true
            } else {
                panic!("{} {arg}: neither usage nor a complaint: {}", s.name, describe(o))
            }
        }
        Probe::Operands(_) => {
            if usage(o) && !complaint(o) {
                true
            } else if names(o, arg) || complaint(o) {
                false
            } else {
                panic!("{} {arg}: neither usage nor about {arg}: {}", s.name, describe(o))
            }
        }
        _ => unreachable!(),
    }
}

/// The options `s` accepts, as `-c` (and boot's `--word`); fails the test
/// when its binary is not built.
pub fn accepted(s: &Subject) -> BTreeSet<String> {
    let bin = built(s.binary);
    let sandbox = Sandbox::new(&format!("probe-{}", s.name));
    let mut found = BTreeSet::new();
    match s.probe {
        Probe::Documented(opts) => found.extend(opts.iter().map(|o| o.to_string())),
        Probe::Runsvdir => found = probe_runsvdir(&sandbox, &bin, s.name),
        Probe::Unlike(plain) => {
            let control = sandbox.run(&bin, s.name, &[plain.to_string()]);
            for c in LETTERS.chars().filter(|c| !c.is_ascii_digit()) {
                let arg = format!("-{c}");
                let o = sandbox.run(&bin, s.name, std::slice::from_ref(&arg));
                if (o.code, &o.stdout, &o.stderr) != (control.code, &control.stdout, &control.stderr) {
                    found.insert(arg);
                }
            }
        }
        Probe::Getopt | Probe::Operands(_) => {
            let tail: Vec<String> = match s.probe {
                Probe::Operands(rest) => rest.iter().map(|r| r.to_string()).collect(),
                _ => Vec::new(),
            };
            // boot reads its root from --root too: keep it in the sandbox.
            let head: Vec<String> = if s.name == "boot" {
                vec!["--root".into(), sandbox.path().join("root").display().to_string()]
            } else {
                Vec::new()
            };
            let mut try_arg = |arg: String| {
                let args: Vec<String> =
                    head.iter().cloned().chain([arg.clone()]).chain(tail.clone()).collect();
                let o = sandbox.run(&bin, s.name, &args);
                if classify(s, &arg, &o) {
                    found.insert(arg);
                }
            };
            for c in LETTERS.chars() {
                try_arg(format!("-{c}"));
            }
            if s.name == "boot" {
                for word in long_candidates(&bin) {
                    try_arg(word);
                }
            }
        }
    }
    found
}

/// Every `--word` in `bin` and in its usage, with the prefixes of each
/// (strings in a binary run together: `--root--config`).
fn long_candidates(bin: &Path) -> BTreeSet<String> {
    let mut text = fs::read(bin).unwrap();
    let sandbox = Sandbox::new("probe-usage");
    let o = sandbox.run(bin, "boot", &[]);
    text.extend_from_slice(o.stderr.as_bytes());
    let mut out = BTreeSet::new();
    let mut i = 0;
    while i + 2 < text.len() {
        if text[i] == b'-' && text[i + 1] == b'-' && text[i + 2].is_ascii_lowercase() {
            let mut j = i + 2;
            while j < text.len()
                && (text[j].is_ascii_lowercase() || text[j].is_ascii_digit() || text[j] == b'-')
            {
                if text[j] == b'-' && text.get(j + 1) == Some(&b'-') {
                    break;
                }
                j += 1;
            }
            let word = &text[i..j];
            for end in 4..=word.len() {
                if word[end - 1] != b'-' {
                    out.insert(String::from_utf8_lossy(&word[..end]).into_owned());
                }
            }
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// runsvdir: every letter at once; `-P` exits with the usage, any other
/// letter is a directory to scan and runsvdir keeps running.
fn probe_runsvdir(sandbox: &Sandbox, bin: &Path, name: &str) -> BTreeSet<String> {
    let mut procs = Vec::new();
    for c in LETTERS.chars() {
        let arg = format!("-{c}");
        let err = sandbox.path().join(format!("stderr-{}", c as u32));
        let mut cmd = sandbox.command(bin, name, std::slice::from_ref(&arg));
        cmd.stdout(Stdio::null()).stderr(fs::File::create(&err).unwrap());
        procs.push((arg, err.clone(), Group::spawn(&mut cmd)));
    }
    let mut exited: Vec<Option<i32>> = vec![None; procs.len()];
    let settled = wait_for(Duration::from_secs(10), || {
        let mut all = true;
        for (k, (_, err, p)) in procs.iter_mut().enumerate() {
            if exited[k].is_none() {
                if let Some(code) = p.try_wait() {
                    exited[k] = Some(code);
                } else if harness::read(err.as_path()).is_empty() {
                    all = false;
                }
            }
        }
        all.then_some(())
    });
    assert!(settled.is_some(), "runsvdir probes: some neither exited nor spoke within 10 s");
    let mut found = BTreeSet::new();
    for (k, (arg, err, _)) in procs.iter().enumerate() {
        let text = harness::read(err.as_path());
        match exited[k] {
            Some(_) if text.contains("usage:") => {
                found.insert(arg.clone());
            }
            None if text.contains(arg.as_str()) => {}
            other => panic!("runsvdir {arg}: exit {other:?}, stderr {text:?}"),
        }
    }
    found
}

/// The man page `docs/man/<page>.8` as plain text (font escapes removed,
/// `\-` as `-`, comments dropped), or `None` if it does not exist.
pub fn page_text(page: &str) -> Option<String> {
    let raw = fs::read_to_string(top().join("docs/man").join(format!("{page}.8"))).ok()?;
    Some(roff_to_text(&raw))
}

/// Strips what roff adds around words, keeping the words.
pub fn roff_to_text(raw: &str) -> String {
    let mut out = String::new();
    for line in raw.lines() {
        if line.starts_with(".\\\"") || line.starts_with("'\\\"") || line.starts_with(".\\#") {
            continue;
        }
        let mut s = line.to_string();
        // A request line: drop the request name, keep its arguments.
        if let Some(rest) = s.strip_prefix('.') {
            s = rest.split_once(char::is_whitespace).map(|(_, a)| a.to_string()).unwrap_or_default();
        }
        let mut t = String::new();
        let mut chars = s.chars().peekable();
        while let Some(ch) = chars.next() {
            if ch != '\\' {
                t.push(ch);
                continue;
            }
            match chars.next() {
                Some('-') => t.push('-'),
                Some('e') | Some('\\') => t.push('\\'),
                Some('f') => match chars.next() {
                    Some('(') => {
                        chars.next();
                        chars.next();
                    }
                    Some('[') => {
                        for c in chars.by_ref() {
                            if c == ']' {
                                break;
                            }
                        }
                    }
                    _ => {}
                },
                Some('(') => {
                    let a = chars.next();
                    let b = chars.next();
                    if (a, b) == (Some('e'), Some('m')) || (a, b) == (Some('e'), Some('n')) {
                        t.push('-');
                    }
                }
                Some('&') | Some('|') | Some('^') | Some(',') | Some('/') => {}
                Some(' ') | Some('~') => t.push(' '),
                Some(other) => t.push(other),
                None => {}
            }
        }
        out.push_str(&t);
        out.push('\n');
    }
    out
}

/// True when `word` (an option like `-c`, `--root`, or a command word)
/// stands in `text` as a word of its own: not inside a longer option or
/// word (`-vVP012` documents none of its letters one by one).
pub fn mentions(text: &str, word: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut from = 0;
    while let Some(k) = text[from..].find(word) {
        let at = from + k;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let starts_clean = match before {
            None => true,
            Some(b) => !part(b) || (word.starts_with('-') && b == '|'),
        };
        if starts_clean && after.is_none_or(|a| !part(a)) {
            return true;
        }
        from = at + word.len();
    }
    false
}

/// The sections (`.SH` names) of a man page.
pub fn sections(page: &str) -> Vec<String> {
    let raw = fs::read_to_string(top().join("docs/man").join(format!("{page}.8"))).unwrap_or_default();
    raw.lines()
        .filter_map(|l| l.strip_prefix(".SH "))
        .map(|s| s.trim().trim_matches('"').to_string())
        .collect()
}

/// sv's commands (sv.md §2), each of which sv.8 must name.
pub const SV_COMMANDS: &[&str] = &[
    "status",
    "up",
    "down",
    "once",
    "pause",
    "cont",
    "hup",
    "alarm",
    "interrupt",
    "quit",
    "1",
    "2",
    "term",
    "kill",
    "exit",
    "start",
    "stop",
    "reload",
    "restart",
    "shutdown",
    "force-stop",
    "force-reload",
    "force-restart",
    "force-shutdown",
    "try-restart",
    "check",
];

/// boot's commands, read from its usage line (`plan|up|down|...`).
pub fn boot_commands(bin: &Path) -> Vec<String> {
    let sandbox = Sandbox::new("probe-boot-usage");
    let o = sandbox.run(bin, "boot", &[]);
    let usage = o.stderr.lines().find(|l| l.starts_with("usage:")).unwrap_or_else(|| {
        panic!("boot without arguments printed no usage line: {}", describe(&o));
    });
    usage
        .split_whitespace()
        .filter(|w| w.contains('|') && !w.starts_with('[') && !w.starts_with('-'))
        .flat_map(|w| w.split('|').map(str::to_string).collect::<Vec<_>>())
        .collect()
}
