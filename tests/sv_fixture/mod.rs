//! Shared fixture of sv's end-to-end tests (`tests/sv.rs`,
//! `tests/sv_diff.rs`): a services directory in a scratch dir, runsv
//! processes (ours or Debian's) supervising its services, and a way to run
//! an `sv` binary against it and normalise its output.
#![allow(dead_code, clippy::unwrap_used)]

use harness::{Outcome, Proc, Scratch};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Generous bound for anything that should happen "soon" on a busy box.
pub const PATIENT: Duration = Duration::from_secs(10);
/// Bound for an sv invocation (the longest wait in these tests is 20 s).
pub const SV_LIMIT: Duration = Duration::from_secs(60);
/// `SVWAIT` for every sv run unless a test sets it: waits that should
/// succeed must not time out on a busy machine.
pub const SVWAIT: &str = "20";

/// A service that runs until stopped.
pub const RUN: &str = "exec sleep 1000\n";
/// A service that ignores TERM (only KILL stops it).
pub const RUN_IGNORING_TERM: &str = "trap '' TERM\nexec sleep 1000\n";
/// A service that ignores every signal sv's plain signal commands send, so
/// that it survives them and outputs stay deterministic.
pub const RUN_STUBBORN: &str = "trap '' HUP INT QUIT USR1 USR2 ALRM\nexec sleep 1000\n";
/// A log service that swallows its input.
pub const LOG_RUN: &str = "exec cat >/dev/null\n";

/// Which runsv supervises a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runsv {
    /// Debian's C runsv (2.1.2).
    C,
    /// Ours.
    Ours,
}

impl Runsv {
    /// The binary (fails with a hint when it is missing).
    pub fn path(self) -> PathBuf {
        match self {
            Runsv::C => harness::theirs_required("runsv"),
            Runsv::Ours => harness::ours("runsv"),
        }
    }
}

/// Both runsvs: ours and Debian's (required: tests/run installs it).
pub fn runsvs() -> Vec<(Runsv, PathBuf)> {
    [Runsv::Ours, Runsv::C].into_iter().map(|r| (r, r.path())).collect()
}

/// Our sv.
pub fn our_sv() -> PathBuf {
    harness::ours("sv")
}

/// A scratch dir with a services directory `svc/` and the runsv processes
/// supervising it (killed on drop).
pub struct Tree {
    pub svdir: PathBuf,
    procs: Vec<Proc>,
    /// Last: fields drop in order, so the supervisors are dead before the
    /// directory they write into is removed.
    pub scratch: Scratch,
}

impl Tree {
    /// An empty tree.
    pub fn new(name: &str) -> Tree {
        let scratch = Scratch::new(name);
        let svdir = scratch.join("svc");
        std::fs::create_dir_all(&svdir).unwrap();
        Tree { svdir, procs: Vec::new(), scratch }
    }

    /// `svc/<name>` with `run` = `#!/bin/sh` + `body`.
    pub fn service(&self, name: &str, body: &str) -> PathBuf {
        let dir = self.svdir.join(name);
        harness::script(dir.join("run"), &format!("#!/bin/sh\n{body}"));
        dir
    }

    /// Adds `log/run` to a service.
    pub fn with_log(&self, name: &str) {
        harness::script(self.svdir.join(name).join("log/run"), &format!("#!/bin/sh\n{LOG_RUN}"));
    }

    /// Starts `runsv svc/<name>` and waits until it answers the probe.
    pub fn start(&mut self, runsv: &Path, name: &str) {
        let dir = self.svdir.join(name);
        let log = self.scratch.join(format!("runsv-{name}.stderr"));
        let p = Proc::spawn_logging(Command::new(runsv).arg(&dir), log);
        harness::wait_until(PATIENT, &format!("runsv on {name}"), || harness::supervised(&dir));
        self.procs.push(p);
    }

    /// Starts runsv and waits until `./run` has become `sleep` (see
    /// [`wait_sleeping`]); returns its pid.
    pub fn start_running(&mut self, runsv: &Path, name: &str) -> u32 {
        self.start(runsv, name);
        wait_sleeping(&self.svdir.join(name))
    }

    /// The directory of service `name`.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.svdir.join(name)
    }

    /// Runs `bin args` with `SVDIR` = `svc/`, cwd = the scratch dir and
    /// `SVWAIT` = [`SVWAIT`].
    pub fn sv(&self, bin: &Path, args: &[&str]) -> Outcome {
        self.sv_env(bin, args, &[])
    }

    /// As [`Tree::sv`] with extra environment variables.
    pub fn sv_env(&self, bin: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let mut c = Command::new(bin);
        c.args(args).env("SVDIR", &self.svdir).env("SVWAIT", SVWAIT).current_dir(self.scratch.path());
        for (k, v) in env {
            c.env(k, v);
        }
        harness::run(&mut c, SV_LIMIT)
    }

    /// A symlink `bin/<name>` -> `target` (sv's LSB mode).
    pub fn lsb(&self, name: &str, target: &Path) -> PathBuf {
        let dir = self.scratch.join(format!("bin-{}", target.display().to_string().replace('/', "_")));
        std::fs::create_dir_all(&dir).unwrap();
        let link = dir.join(name);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(target, &link).unwrap();
        link
    }

    /// Waits until the service runs and has run for more than a second, so
    /// that a restart is not delayed by runsv's one-second throttle.
    pub fn settle(&self, name: &str) {
        let dir = self.dir(name);
        harness::wait_until(PATIENT, "service older than 1 s", || {
            harness::status_of(&dir, false).is_some_and(|s| s.pid != 0 && now() - s.stamp.unix_seconds() >= 2)
        });
    }

    /// Waits until the service's status record is at least `secs` whole
    /// seconds old (sv compares stamps in whole seconds).
    pub fn age(&self, name: &str, secs: i64) {
        let dir = self.dir(name);
        harness::wait_until(PATIENT, "status record ages", || {
            harness::status_of(&dir, false).is_some_and(|s| now() - s.stamp.unix_seconds() >= secs)
        });
    }
}

/// Waits until the service in `dir` runs and its `./run` has exec'ed
/// `sleep`; returns the pid. Until then the script's `trap`s may not be in
/// place, and a signal sent by a test could kill a service meant to ignore
/// it (seen on a loaded machine).
pub fn wait_sleeping(dir: &Path) -> u32 {
    harness::wait_for(PATIENT, || {
        let st = harness::status_of(dir, false)?;
        let pid = st.pid;
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
        (pid != 0 && st.state == runit_core::status::State::Run && comm.trim_end() == "sleep").then_some(pid)
    })
    .unwrap_or_else(|| panic!("{}: ./run never became sleep", dir.display()))
}

/// Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A fake `supervise/` whose FIFOs the test holds open itself: the test
/// plays runsv, so it can see exactly which bytes sv writes.
pub struct FakeRunsv {
    pub control: std::fs::File,
    _ok: std::fs::File,
}

impl FakeRunsv {
    /// Creates `dir/supervise/{ok,control,status}` with `status` = `record`.
    pub fn new(dir: &Path, record: &[u8]) -> FakeRunsv {
        let sup = dir.join("supervise");
        std::fs::create_dir_all(&sup).unwrap();
        for f in ["ok", "control"] {
            let _ = std::fs::remove_file(sup.join(f));
            runit_core::supervise::mkfifo(&sup.join(f), 0o600).unwrap();
        }
        std::fs::write(sup.join("status"), record).unwrap();
        let ok = runit_core::supervise::open_fifo(&sup.join("ok"), false).unwrap();
        let control = runit_core::supervise::open_fifo(&sup.join("control"), false).unwrap();
        FakeRunsv { control, _ok: ok }
    }

    /// The bytes sv wrote into `control` so far.
    pub fn received(&mut self) -> Vec<u8> {
        use std::io::Read;
        let mut buf = [0u8; 64];
        match self.control.read(&mut buf) {
            Ok(n) => buf[..n].to_vec(),
            Err(_) => Vec::new(),
        }
    }
}

/// A 20-byte record: `ago` seconds old, `pid`, paused, want, got TERM, state.
pub fn record(ago: u64, pid: u32, paused: bool, want: u8, got_term: bool, state: u8) -> [u8; 20] {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    runit_core::status::Status {
        stamp: runit_core::tai::Tai64N::from_unix_micros(now - ago, 0),
        pid,
        paused,
        want,
        got_term,
        state: runit_core::status::State::from_byte(state),
    }
    .encode()
}

/// Replaces pids and second counts with `N` so that outputs of two runs
/// can be compared: `run: x: (pid 123) 4s` -> `run: x: (pid N) Ns`.
pub fn normalize(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"(pid ") {
            let digits = b[i + 5..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 && b.get(i + 5 + digits) == Some(&b')') {
                out.push_str("(pid N)");
                i += 6 + digits;
                continue;
            }
        }
        if b[i].is_ascii_digit() && (i == 0 || b[i - 1] == b' ') {
            let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
            if b.get(i + digits) == Some(&b's') {
                out.push_str("Ns");
                i += digits + 1;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap();
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// Asserts exit code, stdout and stderr of an outcome.
#[track_caller]
pub fn assert_outcome(o: &Outcome, code: i32, stdout: &str, stderr: &str) {
    assert_eq!(
        (o.code, normalize(&o.stdout).as_str(), o.stderr.as_str()),
        (Some(code), stdout, stderr),
        "raw stdout: {:?}",
        o.stdout
    );
}

#[test]
fn normalize_pids_and_seconds() {
    assert_eq!(
        normalize("run: x: (pid 123) 4s; run: log: (pid 9) 10s\n"),
        "run: x: (pid N) Ns; run: log: (pid N) Ns\n"
    );
    assert_eq!(normalize("down: s12: 0s, normally up"), "down: s12: Ns, normally up");
    assert_eq!(normalize("ok: x2: runsv not running"), "ok: x2: runsv not running");
}
