//! Shared set-up of the runsvdir end-to-end tests: a scratch tree with a
//! scan directory and a store of service directories, a runsvdir (ours or
//! Debian's) started on it through a harness `Proc`, and views of its runsv
//! children read from `/proc`.
#![allow(dead_code)]

use harness::{Proc, Scratch, cmd, script, wait_for};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Generous deadline for things ours does at once.
pub const SOON: Duration = Duration::from_secs(5);
/// Deadline for things runit does within its 5-second period (+ settle).
pub const RUNIT_PERIOD: Duration = Duration::from_secs(10);

/// A `run` that stays up.
pub const SLEEP: &str = "#!/bin/sh\nexec sleep 1000\n";

/// Which runsvdir (and runsv) to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imp {
    /// Ours, with our runsv first in `PATH`.
    Ours,
    /// Debian's C runsvdir with the C runsv.
    Theirs,
}

impl Imp {
    /// The runsvdir binary (fails with a hint when it is missing).
    pub fn runsvdir(self) -> PathBuf {
        match self {
            Imp::Ours => harness::ours("runsvdir"),
            Imp::Theirs => harness::theirs_required("runsvdir"),
        }
    }

    /// The `PATH` that finds the matching runsv.
    pub fn path(self) -> String {
        match self {
            Imp::Ours => {
                harness::ours("runsv");
                harness::path_with_ours()
            }
            Imp::Theirs => harness::path_with_theirs(),
        }
    }
}

/// A runsv child of runsvdir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runsv {
    /// Its pid.
    pub pid: i32,
    /// The name it was started with (`runsv <name>`).
    pub name: String,
}

/// A scratch tree: `scan/` (what runsvdir scans) and `store/` (service
/// directories linked into it), plus runsvdir once started.
pub struct Tree {
    pub scan: PathBuf,
    pub store: PathBuf,
    pub proc: Option<Proc>,
    pub imp: Imp,
    /// Last: fields drop in order, so runsvdir and its runsvs are dead
    /// before the directory they write into is removed.
    pub scratch: Scratch,
}

impl Tree {
    /// An empty tree.
    pub fn new(name: &str, imp: Imp) -> Tree {
        let scratch = Scratch::new(name);
        let scan = scratch.join("scan");
        let store = scratch.join("store");
        fs::create_dir_all(&scan).unwrap();
        fs::create_dir_all(&store).unwrap();
        Tree { scratch, scan, store, proc: None, imp }
    }

    /// Creates a service directory `dir` with an executable `run`.
    pub fn service(&self, dir: &Path, run: &str) -> PathBuf {
        script(dir.join("run"), run);
        dir.to_path_buf()
    }

    /// A service in the store (not yet linked).
    pub fn stored(&self, name: &str) -> PathBuf {
        self.service(&self.store.join(name), SLEEP)
    }

    /// A service directory created directly in the scan directory.
    pub fn in_scan(&self, name: &str) -> PathBuf {
        self.service(&self.scan.join(name), SLEEP)
    }

    /// `ln -s <target> scan/<name>`.
    pub fn link(&self, target: &Path, name: &str) {
        symlink(target, self.scan.join(name)).unwrap();
    }

    /// Replaces `scan/<name>` atomically with a symlink to `target`.
    pub fn relink(&self, target: &Path, name: &str) {
        let tmp = self.scan.join(format!(".{name}.new"));
        let _ = fs::remove_file(&tmp);
        symlink(target, &tmp).unwrap();
        fs::rename(&tmp, self.scan.join(name)).unwrap();
    }

    /// Starts runsvdir with `args` (the scan directory is added where
    /// `{}` appears, else appended) and extra environment.
    pub fn start(&mut self, args: &[&str], env: &[(&str, &str)]) -> bool {
        let scan = self.scan.to_string_lossy().into_owned();
        let mut argv: Vec<String> =
            args.iter().map(|a| if *a == "{}" { scan.clone() } else { a.to_string() }).collect();
        if !args.contains(&"{}") {
            argv.push(scan);
        }
        self.start_raw(&argv, env)
    }

    /// Starts runsvdir with exactly `argv` (after argv[0]), in the scratch
    /// directory (so `scan` names the scan directory relatively).
    pub fn start_raw(&mut self, argv: &[String], env: &[(&str, &str)]) -> bool {
        let bin = self.imp.runsvdir();
        let mut c = cmd(bin, argv);
        c.env("PATH", self.imp.path()).current_dir(self.scratch.path());
        for (k, v) in env {
            c.env(k, v);
        }
        let log = self.scratch.join("runsvdir.stderr");
        self.proc = Some(Proc::spawn_logging(&mut c, log));
        true
    }

    /// runsvdir.
    pub fn proc(&self) -> &Proc {
        self.proc.as_ref().expect("runsvdir started")
    }

    /// runsvdir's pid.
    pub fn pid(&self) -> i32 {
        self.proc().pid()
    }

    /// What runsvdir wrote to stderr.
    pub fn stderr(&self) -> String {
        self.proc().stderr()
    }

    /// runsvdir's live runsv children, sorted by name.
    pub fn runsv(&self) -> Vec<Runsv> {
        let mut out: Vec<Runsv> = children(self.pid())
            .into_iter()
            .filter_map(|pid| {
                let argv = cmdline(pid)?;
                let base = argv.first()?.rsplit('/').next()?.to_string();
                (base == "runsv" && argv.len() == 2).then(|| Runsv { pid, name: argv[1].clone() })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Names of the running runsv children.
    pub fn names(&self) -> Vec<String> {
        self.runsv().into_iter().map(|r| r.name).collect()
    }

    /// Waits until the runsv children are exactly `names`, each holding
    /// its `supervise/ok`; returns them.
    pub fn wait_names(&self, names: &[&str], timeout: Duration) -> Vec<Runsv> {
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        let found = wait_for(timeout, || {
            let r = self.runsv();
            let ok = r.iter().map(|x| x.name.clone()).collect::<Vec<_>>() == want
                && want.iter().all(|n| harness::supervised(&self.scan.join(n)));
            ok.then_some(r)
        });
        found.unwrap_or_else(|| {
            panic!("runsv children {:?}, wanted {want:?}; stderr: {}", self.names(), self.stderr())
        })
    }

    /// The pid of the runsv running as `name`.
    pub fn pid_of(&self, name: &str) -> Option<i32> {
        self.runsv().into_iter().find(|r| r.name == name).map(|r| r.pid)
    }

    /// Waits for runsvdir to exit; its exit code (None: killed by a signal).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        self.proc.as_mut().and_then(|p| p.wait_timeout(timeout))
    }
}

/// Live (non-zombie) children of `pid`.
pub fn children(pid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| harness::ppid(p) == Some(pid) && harness::alive(p))
        .collect()
}

/// Zombie children of `pid`.
pub fn zombies(pid: i32) -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| harness::ppid(p) == Some(pid) && harness::proc_state(p) == Some('Z'))
        .collect()
}

/// `/proc/<pid>/cmdline` split at NULs.
pub fn cmdline(pid: i32) -> Option<Vec<String>> {
    let raw = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut parts: Vec<String> =
        raw.split(|&b| b == 0).map(|s| String::from_utf8_lossy(s).into_owned()).collect();
    if parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    Some(parts)
}

/// Process group and session of `pid` (fields 5 and 6 of its stat).
pub fn pgid_sid(pid: i32) -> Option<(i32, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = stat.rsplit_once(')')?.1.split_whitespace().skip(2);
    Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
}

/// Sends `sig` to `pid`.
pub fn kill(pid: i32, sig: i32) {
    // SAFETY: signalling a process of the test's own tree.
    unsafe { libc::kill(pid, sig) };
}

/// Waits until `pid` is gone (or a zombie).
pub fn wait_gone(pid: i32, timeout: Duration) -> bool {
    wait_for(timeout, || (!harness::alive(pid)).then_some(())).is_some()
}
