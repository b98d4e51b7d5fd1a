//! Talking to runsv through its `supervise/` files (runit_core's client
//! side): liveness, status, control bytes, graceful stop with escalation,
//! and readiness.
//!
//! boot reads `supervise/status` and probes `supervise/ok` itself instead of
//! forking `sv`, so a no-op `boot up` costs a few file reads per service.
//! Waiting is client-side polling with deadlines (boot is a one-shot
//! client; runsv and runsvdir do not poll).
//!
//! Readiness ([`ready`], the one place that decides it) is what `sv check`
//! waits for: where the service declares a mechanism (`[ready]`, rendered
//! as `notification-fd` or `notify-socket`), runsv's `supervise/health`
//! record of its notification (`runit_core::health::awaited`); otherwise
//! `./check` (cwd = service dir, output discarded, exit 0 = ready).
//!
//! This is the bottom of boot's pipeline: it imports no other module of
//! boot. What a runsv that is gone left running (stage 3, a killed
//! supervision tree) is stopped by the `orphan` module, on top of this.

use runit_core::health::{self, HealthState, Readiness};
use runit_core::instance;
use runit_core::status::{State, Status};
use runit_core::supervise::{self, Supervise};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// True when a runsv holds `<dir>/[log/]supervise/ok`.
pub fn alive(dir: &Path, sup: Supervise) -> bool {
    supervise::probe(dir, sup).is_ok()
}

/// The status record, if readable.
pub fn status(dir: &Path, sup: Supervise) -> Option<Status> {
    supervise::read_status(dir, sup).ok()
}

/// True when the service has no process (or no runsv).
pub fn is_down(dir: &Path, sup: Supervise) -> bool {
    !alive(dir, sup) || status(dir, sup).is_none_or(|s| s.state == State::Down && s.pid == 0)
}

/// Polls `f` every 10–100 ms until it is true or `timeout` passes.
pub fn wait(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// How a stop went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stopped {
    /// Something was there to stop: a runsv, or a service process that
    /// outlived its runsv.
    pub found: bool,
    /// The process group of the stopped process (when group-stopped).
    pub pgid: Option<i32>,
    /// It had to be killed.
    pub killed: bool,
}

/// How a service is stopped (its manifest's `[stop]`): `control/t` sends
/// `signal` when runsv is there; boot sends it itself when runsv is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StopHow {
    /// The stop signal's number.
    pub signal: i32,
    /// To the process group (else to the pid alone).
    pub group: bool,
    /// Then SIGKILL.
    pub timeout: Duration,
}

impl StopHow {
    /// For a service directory boot has no record of: TERM to the group,
    /// KILL after 10 s (the manifest defaults).
    pub const UNKNOWN: StopHow =
        StopHow { signal: libc::SIGTERM, group: true, timeout: Duration::from_secs(10) };
}

/// `kill(2)`; true when the signal was sent.
pub fn kill(pid: i32, sig: i32) -> bool {
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(pid, sig) == 0 }
}

/// True when process group `pgid` still has a member that is not a
/// zombie. `kill(-pgid, 0)` alone also counts zombies, which an init that
/// reaps late (or a container's process 1 that never does) keeps around.
pub fn group_alive(pgid: i32) -> bool {
    pgid > 1 && kill(-pgid, 0) && group_has_live_member(pgid)
}

fn group_has_live_member(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else { return true };
    entries.flatten().any(|e| {
        let pid = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok());
        pid.and_then(|p| instance::proc_stat(p).ok()).is_some_and(|s| s.pgrp == pgid && s.state != 'Z')
    })
}

/// True when `pid` leads its own process group (chpst -P made it one).
pub fn group_leader(pid: i32) -> bool {
    // SAFETY: getpgid(2) has no memory-safety preconditions.
    pid > 1 && unsafe { libc::getpgid(pid) } == pid
}

/// SIGKILL to whatever is left in the process group `pgid` (stragglers
/// after the leader exited); marks `out` killed when there was any.
pub fn sweep(pgid: Option<i32>, out: &mut Stopped) {
    if let Some(p) = pgid
        && group_alive(p)
    {
        kill(-p, libc::SIGKILL);
        out.killed = true;
        wait(Duration::from_secs(2), || !group_alive(p));
    }
}

/// Stops the main service of `dir` through its runsv: `d` (runsv runs
/// `control/t`, which sends the stop signal), wait up to the timeout, then
/// escalate: SIGKILL to the whole process group when the service leads
/// one, else runsv's `k`. Both at once would race (a `k` that reaches runsv
/// after the KILL lands during `./finish` makes runsv run finish again and
/// can lose its output). Stragglers left in the group after the leader
/// exited get SIGKILL too, so nothing of the service survives.
///
/// Without a runsv this does nothing (`found` false): what a runsv that is
/// gone left running is the `orphan` module's job (its `stop_service` does
/// both).
pub fn stop(dir: &Path, how: StopHow) -> Stopped {
    if alive(dir, Supervise::MAIN) { stop_through_runsv(dir, how.timeout) } else { Stopped::default() }
}

fn stop_through_runsv(dir: &Path, timeout: Duration) -> Stopped {
    let mut out = Stopped { found: true, ..Stopped::default() };
    let pid = status(dir, Supervise::MAIN)
        .filter(|s| s.state == State::Run)
        .and_then(|s| i32::try_from(s.pid).ok())
        .filter(|p| *p > 1);
    out.pgid = pid.filter(|p| group_leader(*p));
    let _ = supervise::send_control(dir, Supervise::MAIN, b"d");
    if !wait(timeout, || is_down(dir, Supervise::MAIN)) {
        out.killed = true;
        match out.pgid {
            Some(p) => {
                kill(-p, libc::SIGKILL);
            }
            None => {
                let _ = supervise::send_control(dir, Supervise::MAIN, b"k");
            }
        }
        wait(Duration::from_secs(5), || is_down(dir, Supervise::MAIN));
    }
    sweep(out.pgid, &mut out);
    out
}

/// Asks runsv to exit (`x`) once its service is down: runsv closes the log
/// pipe, the logger drains to end of input and exits, then runsv exits.
pub fn exit(dir: &Path) {
    let _ = supervise::send_control(dir, Supervise::MAIN, b"x");
}

/// True once no runsv holds `dir`'s main or log `supervise/ok`.
pub fn gone(dir: &Path) -> bool {
    !alive(dir, Supervise::MAIN) && !alive(dir, Supervise::LOG)
}

/// Runs `./check` once with at most `limit`; exit 0 = ready.
fn check_once(dir: &Path, limit: Duration) -> bool {
    let child = Command::new("./check")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let Ok(mut child) = child else { return false };
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(st)) => return st.success(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return false;
            }
        }
    }
}

/// What the last look at a service that is not ready saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NotReady {
    NotRunning,
    CheckFailed,
    NoNotification,
}

impl NotReady {
    fn word(self) -> &'static str {
        match self {
            NotReady::NotRunning => "it is not running",
            NotReady::CheckFailed => "its check did not pass",
            NotReady::NoNotification => "it did not report ready",
        }
    }
}

/// How often [`ready`] says it is still waiting.
pub const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// One look at the service of `dir`: `Ok(())` when it is ready, i.e.
/// running (state run, a pid) and, with a declared mechanism, recorded
/// ready by runsv for that pid; without one, passing its `./check` (if
/// any). `Err(None)` when its restart policy gave up (no point waiting).
fn look(dir: &Path, has_check: bool, check_limit: Duration) -> Result<(), Option<NotReady>> {
    let record = health::read(dir);
    if record.as_ref().is_some_and(|h| h.state == HealthState::Failed) {
        return Err(None);
    }
    let st = status(dir, Supervise::MAIN).filter(|s| s.state == State::Run && s.pid != 0);
    let Some(st) = st else { return Err(Some(NotReady::NotRunning)) };
    match record.map_or(Readiness::Unknown, |h| h.awaited(&st)) {
        Readiness::Ready { .. } => Ok(()),
        Readiness::NotReady => Err(Some(NotReady::NoNotification)),
        Readiness::Unknown if !has_check || check_once(dir, check_limit) => Ok(()),
        Readiness::Unknown => Err(Some(NotReady::CheckFailed)),
    }
}

/// Waits until the service of `dir` is ready (see `look`). `None` on
/// success, else what was last seen.
/// Every [`PROGRESS_EVERY`] it logs that it still waits for `name`, what
/// it last saw, and how long is left.
pub fn ready(name: &str, dir: &Path, timeout: Duration) -> Option<String> {
    let has_check = dir.join("check").exists();
    let start = Instant::now();
    let deadline = start + timeout;
    let mut pause = Duration::from_millis(20);
    let mut next_note = start + PROGRESS_EVERY;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let seen = match look(dir, has_check, left.max(Duration::from_millis(100))) {
            Ok(()) => return None,
            Err(None) => return Some("its restart policy gave up".into()),
            Err(Some(seen)) => seen,
        };
        let now = Instant::now();
        if now >= next_note && now < deadline {
            log::info!(
                "still waiting for {name} to be ready ({}; {:.0} s of {} s)",
                seen.word(),
                (now - start).as_secs_f64(),
                timeout.as_secs()
            );
            next_note = now + PROGRESS_EVERY;
        }
        if Instant::now() >= deadline {
            return Some(seen.word().into());
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
