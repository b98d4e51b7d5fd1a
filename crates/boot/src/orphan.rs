//! Service processes that outlived their runsv.
//!
//! `boot down` normally stops a service through its runsv (`d`, which runs
//! `control/t`). In stage 3 of runit, or in a container whose stage 2 was
//! killed, runsvdir is gone and its runsv processes may be gone too
//! (a stage 2 killed with its process group takes them along), while the
//! service processes live on: runit-rs's runsv starts each as the leader
//! of its own process group, so a KILL of the supervision tree does not
//! reach them. boot then stops them itself.
//!
//! They are found through runit-rs's `supervise/instance` record (pid,
//! start time, boot id: see `runit_core::instance`), never through the pid
//! alone, so a pid the kernel has since given to another process is left
//! alone. C runsv writes no such record: what it leaves behind is not
//! touched here, and the leak check of `down` reports it.
//!
//! The main service gets what `control/t` would have sent: the manifest's
//! stop signal (to the process group, or the pid alone with `group =
//! false`), then CONT as runsv sends it, SIGKILL of the group after the stop
//! timeout, and SIGKILL for stragglers left in the group. A `./finish` that
//! was running is left to end, within the same timeout. The logger is not
//! signalled at first: once the service's processes, the last writers of
//! the log pipe, are gone, svlogd reads to end of input, writes what it
//! holds and exits (see [`drain_loggers`]).

use crate::svctl::{self, StopHow, Stopped};
use runit_core::instance::{self, Instance, Kind};
use runit_core::supervise::Supervise;
use std::path::Path;
use std::time::Duration;

/// How long a logger that does not exit at end of input gets after TERM.
const LOGGER_TERM_GRACE: Duration = Duration::from_secs(5);

/// The process runsv last started for `sup` in `dir`, if no runsv
/// supervises `dir` and that very process (same pid, start time and boot)
/// still runs.
pub fn find(dir: &Path, sup: Supervise) -> Option<Instance> {
    if svctl::alive(dir, sup) {
        return None;
    }
    let boot_id = instance::boot_id().ok()?;
    instance::read(dir, sup).filter(|i| i.is_running(&boot_id))
}

/// True while the recorded process itself runs (`false` also when the
/// boot id cannot be read: then nothing is signalled any more).
fn running(i: &Instance) -> bool {
    instance::boot_id().is_ok_and(|b| i.is_running(&b))
}

/// Pid as a signal target (recorded pids fit, see `Instance::decode`).
fn pid_of(i: &Instance) -> i32 {
    i32::try_from(i.pid).unwrap_or(0)
}

/// Stops the main service of `dir` whichever way it runs: through its
/// runsv ([`svctl::stop`]), then, when no runsv supervises `dir` (any more),
/// the service process it last started, directly ([`stop`]). Says what it
/// stops and how long it may wait (nothing when nothing runs).
pub fn stop_service(dir: &Path, how: StopHow) -> Stopped {
    let say = |what: &str| {
        log::info!(
            "stopping {}{what}: signal {}, waiting up to {} s before SIGKILL",
            dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
            how.signal,
            how.timeout.as_secs()
        )
    };
    if svctl::alive(dir, Supervise::MAIN) {
        say("");
    }
    let mut out = svctl::stop(dir, how);
    // runsv gone before or during the stop: what it left behind.
    if let Some(left) = find(dir, Supervise::MAIN) {
        say(" (its runsv is gone)");
        let r = stop(&left, how);
        out = Stopped { found: true, pgid: r.pgid.or(out.pgid), killed: out.killed || r.killed };
    }
    out
}

/// Stops a main service process found by [`find`], as `control/t` and
/// runsv would have, escalating to SIGKILL of its process group.
pub fn stop(left: &Instance, how: StopHow) -> Stopped {
    let pid = pid_of(left);
    let mut out = Stopped { found: true, ..Stopped::default() };
    if pid <= 1 || !running(left) {
        return out;
    }
    out.pgid = svctl::group_leader(pid).then_some(pid);
    let all = out.pgid.map_or(pid, |p| -p);
    if left.kind == Kind::Run {
        let target = if how.group { all } else { pid };
        svctl::kill(target, how.signal);
        svctl::kill(target, libc::SIGCONT);
    }
    if !svctl::wait(how.timeout, || !running(left)) {
        out.killed = true;
        svctl::kill(all, libc::SIGKILL);
        svctl::wait(Duration::from_secs(5), || !running(left));
    }
    svctl::sweep(out.pgid, &mut out);
    out
}

/// Waits up to `timeout` for loggers found by [`find`] to exit at end of
/// input; sends the rest TERM and CONT (svlogd then writes what it has
/// read and exits), then KILL. Returns the pids that had to be signalled.
pub fn drain_loggers(loggers: &[Instance], timeout: Duration) -> Vec<u32> {
    let all_gone = || loggers.iter().all(|l| !running(l));
    if svctl::wait(timeout, all_gone) {
        return Vec::new();
    }
    let stuck: Vec<&Instance> = loggers.iter().filter(|l| running(l)).collect();
    for l in &stuck {
        svctl::kill(pid_of(l), libc::SIGTERM);
        svctl::kill(pid_of(l), libc::SIGCONT);
    }
    if !svctl::wait(LOGGER_TERM_GRACE, all_gone) {
        for l in stuck.iter().filter(|l| running(l)) {
            svctl::kill(pid_of(l), libc::SIGKILL);
        }
        svctl::wait(Duration::from_secs(2), all_gone);
    }
    stuck.iter().map(|l| l.pid).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_only_the_recorded_process_itself() {
        let dir = std::env::temp_dir().join(format!("boot-orphan-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("supervise")).expect("dir");
        let boot_id = instance::boot_id().expect("boot id");
        let me = Instance::of(Kind::Run, std::process::id(), &boot_id).expect("self");
        let record =
            |i: &Instance| std::fs::write(dir.join("supervise/instance"), i.encode()).expect("write");
        record(&me);
        assert_eq!(find(&dir, Supervise::MAIN), Some(me.clone()), "no runsv: left behind");
        // The same pid with another start time is a recycled pid.
        record(&Instance { start_time: me.start_time + 1, ..me.clone() });
        assert_eq!(find(&dir, Supervise::MAIN), None);
        record(&Instance { boot_id: "another-boot".into(), ..me.clone() });
        assert_eq!(find(&dir, Supervise::MAIN), None);
        std::fs::write(dir.join("supervise/instance"), b"").expect("empty");
        assert_eq!(find(&dir, Supervise::MAIN), None, "runsv recorded nothing running");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
