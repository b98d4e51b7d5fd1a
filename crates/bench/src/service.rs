//! Service directories, the "up" test, and supervision trees.
//!
//! "Up" is what a client can observe, checked exactly:
//! * runit (ours and C): `supervise/ok` opens for writing without blocking
//!   (a runsv holds it) **and** `supervise/status` says state *run* with a
//!   non-zero pid (supervise.md §3.1, §5);
//! * s6: `supervise/status` (s6's 35- or 43-byte record) has a non-zero pid
//!   (bytes 24..32, big-endian) and the "finishing" flag (bit 1 of the last
//!   byte) clear. s6 has no `ok` FIFO; its control FIFO is opened by
//!   s6-supervise before it writes that record.
//!
//! A [`Tree`] is a scanner (runsvdir or s6-svscan) started as a
//! [`Group`] on a scan directory, with every service in its own directory.

use crate::procfs;
use crate::spawn::{self, Group};
use crate::suite::Suite;
use crate::table::Impl;
use runit_core::status::State;
use runit_core::supervise::{self, Supervise};
use std::ffi::CString;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A `run` that stays up: one `sh`, then `sleep` in its place.
pub const SLEEP_RUN: &str = "#!/bin/sh\nexec /bin/sleep 100000\n";
/// A `run` that fails at once, for crash loops.
pub const CRASH_RUN: &str = "#!/bin/sh\nexit 1\n";

/// Which supervise/ dialect an implementation speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// runit's (ours and C).
    Runit,
    /// s6's.
    S6,
}

impl Style {
    /// The dialect of `imp`.
    pub fn of(imp: Impl) -> Style {
        if imp == Impl::S6 { Style::S6 } else { Style::Runit }
    }
}

/// Creates `dir` with an executable `run` containing `run`.
pub fn write_service(dir: &Path, run: &str) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    let path = dir.join("run");
    fs::write(&path, run).map_err(|e| format!("write {}: {e}", path.display()))?;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).map_err(|e| format!("chmod: {e}"))
}

/// Creates `n` services `s0000`... in `scan`, returning their directories.
pub fn populate(scan: &Path, n: usize, run: &str) -> Result<Vec<PathBuf>, String> {
    (0..n)
        .map(|i| {
            let d = scan.join(format!("s{i:04}"));
            write_service(&d, run).map(|()| d)
        })
        .collect()
}

/// Sets the modification time of `path` to `secs_ago` seconds in the past
/// (0: now).
pub fn set_mtime(path: &Path, secs_ago: i64) -> Result<(), String> {
    let c = CString::new(path.as_os_str().as_bytes()).map_err(|_| "NUL in path".to_string())?;
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime with a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
    let t = libc::timespec { tv_sec: now.tv_sec - secs_ago, tv_nsec: now.tv_nsec };
    let times = [t, t];
    // SAFETY: a valid C path and two timespecs.
    if unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), times.as_ptr(), 0) } != 0 {
        return Err(format!("utimensat {}: {}", path.display(), std::io::Error::last_os_error()));
    }
    Ok(())
}

/// The pid of the service in `dir` when it is up (see the module docs).
pub fn up_pid(style: Style, dir: &Path) -> Option<u32> {
    match style {
        Style::Runit => {
            supervise::probe(dir, Supervise::MAIN).ok()?;
            let st = supervise::read_status(dir, Supervise::MAIN).ok()?;
            (st.state == State::Run && st.pid != 0).then_some(st.pid)
        }
        Style::S6 => s6_up_pid(&fs::read(dir.join("supervise/status")).ok()?),
    }
}

/// The pid in an s6 status record, if the service is up and not finishing.
pub fn s6_up_pid(rec: &[u8]) -> Option<u32> {
    if rec.len() < 35 {
        return None;
    }
    let pid = u64::from_be_bytes(rec.get(24..32)?.try_into().ok()?);
    let flags = *rec.last()?;
    (pid != 0 && flags & 2 == 0).then(|| u32::try_from(pid).ok()).flatten()
}

/// True when a supervisor answers on `dir` (runit: `supervise/ok` opens;
/// s6: the service is up, s6 having no `ok`).
pub fn supervised(style: Style, dir: &Path) -> bool {
    match style {
        Style::Runit => supervise::probe(dir, Supervise::MAIN).is_ok(),
        Style::S6 => up_pid(style, dir).is_some(),
    }
}

/// Waits until every one of `dirs` is up; returns the time it took from
/// `since`. Services stay up once up, so each is checked until it is and
/// never again: the waiting costs the machine little.
pub fn wait_all_up(
    style: Style,
    dirs: &[PathBuf],
    since: Instant,
    timeout: Duration,
) -> Result<Duration, String> {
    let end = since + timeout;
    let mut i = 0;
    while i < dirs.len() {
        if up_pid(style, &dirs[i]).is_some() {
            i += 1;
            continue;
        }
        if spawn::interrupted() {
            return Err("interrupted".into());
        }
        if Instant::now() >= end {
            let d = &dirs[i];
            return Err(format!(
                "{} of {} services up after {timeout:?}; {} is not: {}",
                i,
                dirs.len(),
                d.display(),
                describe(style, d)
            ));
        }
        std::thread::sleep(Duration::from_micros(500));
    }
    Ok(since.elapsed())
}

/// A short description of a service's state, for error messages.
pub fn describe(style: Style, dir: &Path) -> String {
    match style {
        Style::Runit => {
            let ok = match supervise::probe(dir, Supervise::MAIN) {
                Ok(()) => "ok opens".to_string(),
                Err(e) => format!("ok: {e}"),
            };
            match supervise::read_status(dir, Supervise::MAIN) {
                Ok(st) => format!("{ok}, status {:?} pid {}", st.state, st.pid),
                Err(e) => format!("{ok}, status: {e:?}"),
            }
        }
        Style::S6 => match fs::read(dir.join("supervise/status")) {
            Ok(rec) => format!("s6 status {} bytes, up pid {:?}", rec.len(), s6_up_pid(&rec)),
            Err(e) => format!("s6 status: {e}"),
        },
    }
}

/// A supervisor of one service directory (runsv or s6-supervise), started
/// directly without a scanner.
pub fn start_supervisor(suite: &Suite, dir: &Path, log: &Path) -> Result<Group, String> {
    let prog = match suite.imp {
        Impl::S6 => "s6-supervise",
        _ => "runsv",
    };
    let mut cmd = Command::new(suite.need(prog)?);
    cmd.arg(dir);
    let label = format!("{} {prog}", suite.imp.name());
    configure(&mut cmd, suite, log)?;
    Group::spawn(&mut cmd, &label)
}

fn configure(cmd: &mut Command, suite: &Suite, log: &Path) -> Result<(), String> {
    let out = fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| format!("dup: {e}"))?;
    cmd.env_clear().env("PATH", suite.path_env()).stdin(Stdio::null()).stdout(out).stderr(err);
    Ok(())
}

/// A running scanner with its services.
#[derive(Debug)]
pub struct Tree {
    /// The scanner's group.
    pub group: Group,
    /// The scan directory.
    pub scan: PathBuf,
    /// The service directories (in the scan directory or linked into it).
    pub services: Vec<PathBuf>,
    /// The dialect.
    pub style: Style,
    /// Where the scanner's stdout/stderr go.
    pub log: PathBuf,
    /// Just before the scanner was spawned.
    pub started: Instant,
}

impl Tree {
    /// Starts `suite`'s scanner on `scan` (which holds `services`). The
    /// output of the tree goes to `log`.
    pub fn start(suite: &Suite, scan: &Path, services: Vec<PathBuf>, log: &Path) -> Result<Tree, String> {
        let style = Style::of(suite.imp);
        let mut cmd = match style {
            Style::Runit => Command::new(suite.need("runsvdir")?),
            Style::S6 => {
                let mut c = Command::new(suite.need("s6-svscan")?);
                c.args(["-c", "2000"]);
                c
            }
        };
        cmd.arg(scan);
        configure(&mut cmd, suite, log)?;
        let started = Instant::now();
        let group = Group::spawn(&mut cmd, &format!("{} scanner", suite.imp.name()))?;
        Ok(Tree { group, scan: scan.to_path_buf(), services, style, log: log.to_path_buf(), started })
    }

    /// Waits until every service is up; returns the time since the
    /// scanner was spawned.
    pub fn wait_up(&self, timeout: Duration) -> Result<Duration, String> {
        wait_all_up(self.style, &self.services, self.started, timeout).map_err(|e| {
            let scanner = match procfs::stat(self.group.pid()) {
                Some(st) => format!("scanner state {}", st.state),
                None => "scanner gone".to_string(),
            };
            let sups = self.supervisors().len().saturating_sub(1);
            format!("{e}; {scanner}, {sups} supervisor processes{}", self.log_tail())
        })
    }

    /// The supervisor processes: the scanner and its children (runsv or
    /// s6-supervise; the services are their children, not counted).
    pub fn supervisors(&self) -> Vec<i32> {
        let mut v = vec![self.group.pid()];
        v.extend(procfs::children(self.group.pid()));
        v
    }

    /// The last lines the tree printed, for error messages.
    pub fn log_tail(&self) -> String {
        let text = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(3).collect();
        if lines.is_empty() {
            String::new()
        } else {
            format!(" (tree said: {})", lines.into_iter().rev().collect::<Vec<_>>().join(" / "))
        }
    }

    /// Kills the tree and verifies nothing of it is left.
    pub fn stop(mut self) -> Result<(), String> {
        self.group.stop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s6_record(pid: u64, flags: u8, len: usize) -> Vec<u8> {
        let mut r = vec![0u8; len];
        r[24..32].copy_from_slice(&pid.to_be_bytes());
        r[len - 1] = flags;
        r
    }

    #[test]
    fn s6_records() {
        assert_eq!(s6_up_pid(&s6_record(4242, 0b0100, 35)), Some(4242));
        assert_eq!(s6_up_pid(&s6_record(4242, 0b1100, 43)), Some(4242));
        assert_eq!(s6_up_pid(&s6_record(0, 0b0100, 35)), None, "down");
        assert_eq!(s6_up_pid(&s6_record(77, 0b0110, 35)), None, "finishing");
        assert_eq!(s6_up_pid(&[0u8; 20]), None, "short");
    }

    #[test]
    fn runit_up_needs_ok_and_run_state() {
        let dir = spawn::Scratch::new("svc").expect("scratch");
        let svc = dir.join("a");
        write_service(&svc, SLEEP_RUN).expect("service");
        assert!(up_pid(Style::Runit, &svc).is_none());
        assert!(!supervised(Style::Runit, &svc));
        assert!(describe(Style::Runit, &svc).contains("ok:"));
        // A status record saying run, but nobody holds supervise/ok.
        let st = runit_core::status::Status {
            stamp: runit_core::tai::Tai64N::now(),
            pid: 12,
            paused: false,
            want: b'u',
            got_term: false,
            state: State::Run,
        };
        fs::create_dir_all(svc.join("supervise")).expect("mkdir");
        fs::write(svc.join("supervise/status"), st.encode()).expect("status");
        assert!(up_pid(Style::Runit, &svc).is_none(), "stale status is not up");
    }

    #[test]
    fn populate_and_mtime() {
        let dir = spawn::Scratch::new("pop").expect("scratch");
        let dirs = populate(dir.path(), 3, SLEEP_RUN).expect("populate");
        assert_eq!(dirs.len(), 3);
        assert!(dirs[2].ends_with("s0002"));
        let mode = fs::metadata(dirs[0].join("run")).expect("run").permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        set_mtime(dir.path(), 60).expect("mtime");
        let age =
            fs::metadata(dir.path()).and_then(|m| m.modified()).expect("mtime").elapsed().expect("past");
        assert!(age >= Duration::from_secs(59), "{age:?}");
    }
}
