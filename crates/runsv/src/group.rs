//! Process-group containment and the stop of leftovers (runit-rs
//! extensions; docs/runsv.md "Beyond runit").
//!
//! runsv starts every service process as a process-group leader. When a
//! service has ended for good (see [`crate::supervisor::Effect::Sweep`]),
//! the members its group still has get SIGTERM and SIGCONT; whatever is left
//! after [`GRACE`] gets SIGKILL. Whether anyone is left is one
//! `kill(-pgid, 0)`; only then are the members found by scanning `/proc`,
//! and watched through pidfds, so runsv learns of their exit without
//! polling and never signals a pid that was reused meanwhile.
//!
//! The same machinery, blocking and bounded, stops a service process that a
//! previous runsv (killed with SIGKILL) left running: see
//! [`stop_leftover`].

use runit_core::instance::{self, Instance};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// How long members get to exit after SIGTERM before SIGKILL.
pub const GRACE: Duration = Duration::from_secs(5);

/// `pidfd_open(pid, 0)`: a descriptor that becomes readable when `pid` exits.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: pidfd_open returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `pidfd_send_signal(fd, sig)`: signals exactly the process behind `fd`.
pub fn pidfd_signal(fd: &OwnedFd, sig: i32) {
    // SAFETY: `fd` is an open pidfd; a null siginfo is allowed.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            sig,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
}

/// Whether process group `pgid` has a member (zombies included): one
/// `kill(-pgid, 0)`, which fails with ESRCH only for an empty group. Any
/// other answer (EPERM: members runsv may not signal) counts as members.
pub fn occupied(pgid: u32) -> bool {
    let Ok(pgid) = libc::pid_t::try_from(pgid) else { return false };
    if pgid <= 1 {
        return false;
    }
    // SAFETY: plain system call; signal 0 only checks, it delivers nothing.
    let r = unsafe { libc::kill(-pgid, 0) };
    r == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

/// Live (not zombie) members of process group `pgid`, from `/proc`: a walk
/// of every process on the machine, so only for a group that
/// [`occupied`] says has members.
pub fn members(pgid: u32) -> Vec<u32> {
    let Ok(pgid) = i32::try_from(pgid) else { return Vec::new() };
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|&pid| instance::proc_stat(pid).is_ok_and(|s| s.pgrp == pgid && s.state != 'Z'))
        .collect()
}

/// A group (or single process) being stopped: TERM and CONT were sent, the
/// members are watched until they exit or the grace period ends.
#[derive(Debug)]
pub struct Sweep {
    /// The group, or 0 for a single process.
    pub pgid: u32,
    /// When the rest gets SIGKILL.
    pub deadline: Instant,
    /// Pidfds of the members not yet seen exiting, with the driver's ids.
    pub members: Vec<(usize, OwnedFd)>,
}

impl Sweep {
    /// Sends TERM and CONT to what is left of group `pgid` and watches the
    /// members; `None` when the group is empty. `id` numbers the members.
    /// An empty group costs one system call ([`occupied`]); only a group
    /// with members is looked for in `/proc`.
    pub fn group(pgid: u32, now: Instant, id: &mut usize) -> Option<Sweep> {
        if !occupied(pgid) {
            return None;
        }
        let fds = members(pgid).into_iter().filter_map(|pid| {
            // The pidfd pins the process: re-check it after opening.
            let fd = pidfd_open(pid).ok()?;
            instance::proc_stat(pid).ok().filter(|s| u32::try_from(s.pgrp) == Ok(pgid)).map(|_| fd)
        });
        let members: Vec<_> = fds.map(|fd| (next(id), fd)).collect();
        if members.is_empty() {
            return None;
        }
        for (_, fd) in &members {
            pidfd_signal(fd, libc::SIGTERM);
            pidfd_signal(fd, libc::SIGCONT);
        }
        Some(Sweep { pgid, deadline: now + GRACE, members })
    }

    /// The same for one process (already pinned by `fd`).
    pub fn process(fd: OwnedFd, now: Instant, id: &mut usize) -> Sweep {
        pidfd_signal(&fd, libc::SIGTERM);
        pidfd_signal(&fd, libc::SIGCONT);
        Sweep { pgid: 0, deadline: now + GRACE, members: vec![(next(id), fd)] }
    }

    /// Forgets member `id` (its pidfd became readable: it exited).
    pub fn exited(&mut self, id: usize) -> Option<OwnedFd> {
        let at = self.members.iter().position(|(i, _)| *i == id)?;
        Some(self.members.swap_remove(at).1)
    }

    /// True when every watched member has exited.
    pub fn done(&self) -> bool {
        self.members.is_empty()
    }

    /// The grace period is over: SIGKILL to the members still watched and
    /// to any that joined the group since. Returns whether anything was
    /// left to kill.
    pub fn kill_rest(&mut self) -> bool {
        let mut killed = false;
        for (_, fd) in self.members.drain(..) {
            pidfd_signal(&fd, libc::SIGKILL);
            killed = true;
        }
        if self.pgid != 0 {
            for pid in members(self.pgid) {
                if let Ok(fd) = pidfd_open(pid) {
                    pidfd_signal(&fd, libc::SIGKILL);
                    killed = true;
                }
            }
        }
        killed
    }

    /// Waits (blocking) until every member exited or the deadline passed,
    /// then kills the rest. Returns whether SIGKILL was needed.
    pub fn wait_blocking(mut self) -> bool {
        while !self.done() {
            let left = self.deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return self.kill_rest();
            }
            let mut fds: Vec<libc::pollfd> = self
                .members
                .iter()
                .map(|(_, fd)| libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 })
                .collect();
            let ms = i32::try_from(left.as_millis().saturating_add(1)).unwrap_or(i32::MAX);
            let n = libc::nfds_t::try_from(fds.len()).unwrap_or(0);
            // SAFETY: `fds` is a live array of `n` pollfd structures.
            if unsafe { libc::poll(fds.as_mut_ptr(), n, ms) } < 0 {
                continue;
            }
            let gone: Vec<usize> = fds
                .iter()
                .zip(&self.members)
                .filter(|(p, _)| p.revents != 0)
                .map(|(_, (id, _))| *id)
                .collect();
            for id in gone {
                self.exited(id);
            }
        }
        false
    }
}

fn next(id: &mut usize) -> usize {
    *id += 1;
    *id
}

/// What [`stop_leftover`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftover {
    /// The recorded process no longer runs.
    Gone,
    /// It (and its group) stopped after TERM.
    Stopped,
    /// Something was still there after [`GRACE`] and got SIGKILL.
    Killed,
}

/// Stops the process `rec` describes if it is still running in this boot
/// with the recorded start time: TERM and CONT to its process group (to the
/// process alone if it is no longer a group leader), SIGKILL after
/// [`GRACE`]. `announce` is called before anything is signalled.
///
/// With `drain` true (a log service), the process first gets up to
/// [`GRACE`] to end by itself: its input pipe has no writer left once the
/// main service's leftovers are gone, so a logger reads what the pipe
/// still holds, sees end of file and exits. A TERM at once would lose
/// those lines (svlogd stops at the next newline). Blocks for at most
/// [`GRACE`], twice that with `drain`.
pub fn stop_leftover(rec: &Instance, boot_id: &str, drain: bool, announce: impl FnOnce()) -> Leftover {
    let Ok(fd) = pidfd_open(rec.pid) else { return Leftover::Gone };
    // Checked after pinning the pid, so a reused pid is never signalled.
    if !rec.is_running(boot_id) {
        return Leftover::Gone;
    }
    announce();
    let leader = instance::proc_stat(rec.pid).is_ok_and(|s| u32::try_from(s.pgrp) == Ok(rec.pid));
    if drain {
        exits_within(&fd, GRACE);
    }
    let mut id = 0;
    let now = Instant::now();
    let sweep = if leader { Sweep::group(rec.pid, now, &mut id) } else { None };
    let sweep = sweep.unwrap_or_else(|| Sweep::process(fd, now, &mut id));
    if sweep.wait_blocking() { Leftover::Killed } else { Leftover::Stopped }
}

/// Waits until the process behind pidfd `fd` exits, for at most `limit`;
/// true if it did.
fn exits_within(fd: &OwnedFd, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        let ms = i32::try_from(left.as_millis().saturating_add(1)).unwrap_or(i32::MAX);
        // SAFETY: `p` is one live pollfd structure.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        if r > 0 {
            return true;
        }
        if r == 0 || left.is_zero() {
            return false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    #[test]
    fn sweep_stops_a_group_and_kills_what_ignores_term() {
        // sh ignores TERM, so does its background child; KILL is needed.
        let mut child = Command::new("/bin/sh")
            .args(["-c", "trap '' TERM; sleep 1000 & wait"])
            .process_group(0)
            .spawn()
            .expect("spawn");
        let pgid = child.id();
        let mut id = 0;
        // Wait until the background sleep exists.
        let deadline = Instant::now() + Duration::from_secs(5);
        while members(pgid).len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(members(pgid).len(), 2);
        assert!(occupied(pgid));
        let mut sweep = Sweep::group(pgid, Instant::now(), &mut id).expect("members");
        sweep.deadline = Instant::now() + Duration::from_millis(200);
        assert!(sweep.wait_blocking(), "TERM was ignored: KILL needed");
        let status = child.wait().expect("wait");
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        let deadline = Instant::now() + Duration::from_secs(5);
        while !members(pgid).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(members(pgid).is_empty());
        // Zombies still count until their parent reaps them (the
        // background sleep's parent is init or a subreaper).
        let deadline = Instant::now() + Duration::from_secs(5);
        while occupied(pgid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!occupied(pgid), "an empty group answers ESRCH");
    }

    #[test]
    fn empty_group_needs_no_sweep() {
        let mut id = 0;
        // No pid is this large.
        assert!(Sweep::group(u32::MAX - 1, Instant::now(), &mut id).is_none());
        assert!(!occupied(u32::MAX - 1) && !occupied(0) && !occupied(1));
    }

    #[test]
    fn exits_within_tells_an_ended_process_from_a_running_one() {
        let mut child = Command::new("/bin/sh")
            .args(["-c", "read x"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let fd = pidfd_open(child.id()).expect("pidfd");
        assert!(!exits_within(&fd, Duration::from_millis(100)), "still reading");
        drop(child.stdin.take());
        assert!(exits_within(&fd, Duration::from_secs(10)), "end of file: it ends");
        child.wait().expect("wait");
    }
}
