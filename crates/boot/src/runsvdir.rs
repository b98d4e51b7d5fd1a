//! The runsvdir boot starts with `up --spawn-runsvdir` (for boxes whose init
//! does not run one, and for the README's one-command demo).
//!
//! It scans `<root>/var/lib/boot/current`, runs in its own session with a
//! minimal environment (`PATH` with our binaries first, plus `pass_env`), so
//! runsvdir's environment does not leak into services. boot records its pid
//! and start time in `state.json` and recognises it later by both. `down`
//! stops it with HUP (runsvdir then TERMs every runsv and exits), never with
//! TERM, which would leave the runsv processes running (runsvdir.md §2).

use crate::error::{Context, Result};
use crate::state::Runsvdir;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Field 22 (start time) of `/proc/<pid>/stat`.
pub fn start_time(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the comm field: state is field 3, so start time (22) is index 19.
    if fields.first().is_some_and(|s| *s == "Z" || *s == "X") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// True when the recorded runsvdir still runs.
pub fn running(r: &Runsvdir) -> bool {
    start_time(r.pid) == Some(r.start_time)
}

/// Starts `runsvdir -P <scan>` detached.
pub fn spawn(runsvdir: &Path, scan: &Path, log: &Path, env: &[(String, String)]) -> Result<Runsvdir> {
    let logf = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(0o644)
        .open(log)
        .ctx(|| format!("unable to open {}", log.display()))?;
    let errf = logf.try_clone().ctx(|| "unable to duplicate log descriptor".into())?;
    let mut cmd = Command::new(runsvdir);
    cmd.arg("-P").arg(scan).env_clear().envs(env.iter().map(|(k, v)| (k, v)));
    cmd.stdin(Stdio::null()).stdout(Stdio::from(logf)).stderr(Stdio::from(errf)).current_dir("/");
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let child = cmd.spawn().ctx(|| format!("unable to start {}", runsvdir.display()))?;
    let pid = i32::try_from(child.id()).unwrap_or(0);
    // The child is not waited for: it outlives boot and is reparented.
    drop(child);
    let mut st = None;
    crate::svctl::wait(Duration::from_secs(2), || {
        st = start_time(pid);
        st.is_some()
    });
    Ok(Runsvdir { pid, start_time: st.unwrap_or(0) })
}

/// Sends HUP and waits for the runsvdir to exit (KILL after `timeout`).
pub fn hangup(r: &Runsvdir, timeout: Duration) {
    if !running(r) {
        return;
    }
    // SAFETY: kill(2) on a pid we verified by start time.
    unsafe { libc::kill(r.pid, libc::SIGHUP) };
    // It may be our child (spawned by this very process): reap it if so.
    let reaped = |pid: i32| {
        // SAFETY: waitpid with WNOHANG on one pid; status is a valid out pointer.
        unsafe {
            let mut st = 0;
            libc::waitpid(pid, &mut st, libc::WNOHANG);
        }
    };
    if !crate::svctl::wait(timeout, || {
        reaped(r.pid);
        !running(r)
    }) {
        // SAFETY: as above.
        unsafe { libc::kill(r.pid, libc::SIGKILL) };
        crate::svctl::wait(Duration::from_secs(2), || {
            reaped(r.pid);
            !running(r)
        });
    }
}
