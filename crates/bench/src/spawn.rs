//! Processes the benchmark starts, and how it gets rid of them.
//!
//! Every program the benchmark runs is a [`Group`]: the leader of a new
//! process group, with a tag in its environment (`RUNIT_BENCH_TAG=<unique>`)
//! that every descendant inherits. Stopping a group SIGKILLs the process
//! group and then every live process still carrying the tag (services that
//! moved to their own session, as s6 starts them, are caught that way),
//! reaps what it killed, and fails loudly if anything survives. The
//! benchmark makes itself a child subreaper at start-up, so the orphans of a
//! killed tree (the `sleep`s of a dead runsv) become its children and are
//! reaped here instead of lingering as zombies.
//!
//! Waiting for a program uses a pidfd, so timing a 1-ms command costs no
//! polling, and `wait4` returns the program's CPU time (its `ru_maxrss` is
//! not used: a spawned child shares this process's memory until it execs,
//! and the kernel keeps that peak).
//!
//! SIGINT, SIGTERM and SIGHUP are caught with the workspace's one signal
//! mechanism, `runit_core::selfpipe`: they only write a byte into a pipe,
//! which [`interrupted`] reads; every wait checks it, so an interrupted run
//! unwinds through the normal clean-up.

use crate::procfs;
use runit_core::selfpipe::SignalPipe;
use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The environment variable that marks every process of a [`Group`].
pub const TAG_VAR: &str = "RUNIT_BENCH_TAG";

static SEQ: AtomicUsize = AtomicUsize::new(0);
/// The pipe SIGINT, SIGTERM and SIGHUP write to.
static SIGNALS: OnceLock<SignalPipe> = OnceLock::new();
/// Set once a stop signal was read from [`SIGNALS`].
static STOP: AtomicBool = AtomicBool::new(false);

/// Makes this process a child subreaper, catches SIGINT, SIGTERM and SIGHUP
/// for [`interrupted`], and ignores SIGPIPE (a logger that dies
/// must not kill the benchmark writing to it; `std::process::Command`
/// restores the default disposition in every child). Call once, first.
pub fn init() -> io::Result<()> {
    // SAFETY: setting a signal disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and no pointers.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if SIGNALS.get().is_some() {
        return Ok(());
    }
    let mut pipe = SignalPipe::new()?;
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        pipe.catch(sig)?;
    }
    // A second caller racing this one keeps the first pipe; the loser's is
    // dropped, which gives its handlers back.
    let _ = SIGNALS.set(pipe);
    Ok(())
}

/// True once the user asked the benchmark to stop (a caught signal's byte
/// was read; it stays true).
pub fn interrupted() -> bool {
    if STOP.load(Ordering::Relaxed) {
        return true;
    }
    let caught = SIGNALS.get().is_some_and(|p| !p.drain().is_empty());
    if caught {
        STOP.store(true, Ordering::Relaxed);
    }
    caught
}

/// Sleeps `d`, waking early with an error when interrupted.
pub fn pause(d: Duration) -> Result<(), String> {
    let end = Instant::now() + d;
    loop {
        if interrupted() {
            return Err("interrupted".into());
        }
        let now = Instant::now();
        if now >= end {
            return Ok(());
        }
        std::thread::sleep((end - now).min(Duration::from_millis(50)));
    }
}

/// Polls `f` every `every` until it returns `Some`, for at most `timeout`;
/// `what` names the condition in the error.
pub fn poll<T>(
    timeout: Duration,
    every: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if interrupted() {
            return Err("interrupted".into());
        }
        if Instant::now() >= end {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(every);
    }
}

/// A fresh tag for [`Group::spawn_tagged`].
pub fn new_tag() -> String {
    unique("bench")
}

fn unique(name: &str) -> String {
    format!("{name}-{}-{}", std::process::id(), SEQ.fetch_add(1, Ordering::Relaxed))
}

/// How a waited-for program ended, with its resource usage.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    /// The raw wait status.
    pub status: i32,
    /// User + system CPU time of the program (and of children it reaped).
    pub cpu: Duration,
}

impl Exit {
    /// The exit code, or `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        libc::WIFEXITED(self.status).then(|| libc::WEXITSTATUS(self.status))
    }

    /// `exit N` / `signal N`, for messages.
    pub fn describe(&self) -> String {
        match self.code() {
            Some(c) => format!("exit {c}"),
            None => format!("signal {}", libc::WTERMSIG(self.status)),
        }
    }
}

fn timeval(t: libc::timeval) -> Duration {
    let secs = u64::try_from(t.tv_sec).unwrap_or(0);
    let micros = u32::try_from(t.tv_usec).unwrap_or(0);
    Duration::from_secs(secs) + Duration::from_micros(u64::from(micros))
}

/// A started program: leader of its own process group, tagged.
#[derive(Debug)]
pub struct Group {
    pid: i32,
    tag: String,
    label: String,
    reaped: bool,
    stopped: bool,
}

impl Group {
    /// Starts `cmd` as a new group; `label` names it in messages.
    pub fn spawn(cmd: &mut Command, label: &str) -> Result<Group, String> {
        Group::spawn_tagged(cmd, label, &new_tag())
    }

    /// Starts `cmd` as a new group carrying `tag` (from [`new_tag`]), which
    /// several groups may share.
    pub fn spawn_tagged(cmd: &mut Command, label: &str, tag: &str) -> Result<Group, String> {
        let tag = tag.to_string();
        cmd.env(TAG_VAR, &tag).process_group(0);
        let child = cmd.spawn().map_err(|e| format!("{label}: cannot start {:?}: {e}", cmd.get_program()))?;
        let pid = i32::try_from(child.id()).map_err(|_| format!("{label}: pid out of range"))?;
        // The Child handle is dropped: waiting is done with wait4 below, and
        // its stdio (if any was piped) is not used.
        drop(child);
        Ok(Group { pid, tag, label: label.to_string(), reaped: false, stopped: false })
    }

    /// The leader's pid.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Waits at most `timeout` for the leader to exit.
    pub fn wait(&mut self, timeout: Duration) -> Result<Exit, String> {
        self.wait_watching(timeout, Duration::from_millis(100), || {})
    }

    /// Like [`Group::wait`], calling `watch` at least every `every` while
    /// the leader runs (to sample its `/proc` files).
    pub fn wait_watching(
        &mut self,
        timeout: Duration,
        every: Duration,
        mut watch: impl FnMut(),
    ) -> Result<Exit, String> {
        if self.reaped {
            return Err(format!("{}: already waited for", self.label));
        }
        let end = Instant::now() + timeout;
        let pidfd = pidfd_open(self.pid);
        loop {
            if let Some(exit) = self.try_reap()? {
                return Ok(exit);
            }
            if interrupted() {
                return Err("interrupted".into());
            }
            let now = Instant::now();
            if now >= end {
                return Err(format!("{}: still running after {timeout:?}", self.label));
            }
            watch();
            let slice = (end - now).min(every);
            match &pidfd {
                Some(fd) => wait_readable(fd, slice),
                None => std::thread::sleep(slice.min(Duration::from_millis(1))),
            }
        }
    }

    fn try_reap(&mut self) -> Result<Option<Exit>, String> {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to overwrite.
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: wait4 on our own child, with valid out-pointers.
        let r = unsafe { libc::wait4(self.pid, &mut status, libc::WNOHANG, &mut ru) };
        if r == self.pid {
            self.reaped = true;
            return Ok(Some(Exit { status, cpu: timeval(ru.ru_utime) + timeval(ru.ru_stime) }));
        }
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(format!("{}: wait4: {e}", self.label));
            }
        }
        Ok(None)
    }

    /// Kills everything in the group and everything carrying its tag,
    /// reaps it, and checks that nothing is left.
    pub fn stop(&mut self) -> Result<(), String> {
        if self.stopped {
            return Ok(());
        }
        self.stopped = true;
        let leader = (!self.reaped).then_some(self.pid);
        self.reaped = true;
        exterminate(&self.label, Some(self.pid), &self.tag, leader)
    }

    /// Forgets a leader that has been waited for, leaving whatever it
    /// started (and tagged) running, for a later [`sweep`] of the tag.
    pub fn release(mut self) -> Result<(), String> {
        if !self.reaped {
            return self.stop();
        }
        self.stopped = true;
        Ok(())
    }
}

/// Kills every live process carrying `tag` (started with
/// [`Group::spawn_tagged`]), reaps them, and checks that none is left.
pub fn sweep(tag: &str, label: &str) -> Result<(), String> {
    exterminate(label, None, tag, None)
}

/// SIGKILLs process group `pgid` and every live process whose environment
/// carries `tag`, reaps the zombies among our children that belonged to
/// them (and `leader`), until none is left or 10 seconds passed.
fn exterminate(label: &str, pgid: Option<i32>, tag: &str, leader: Option<i32>) -> Result<(), String> {
    let me = i32::try_from(std::process::id()).unwrap_or(0);
    let entry = format!("{TAG_VAR}={tag}").into_bytes();
    let mut seen: HashSet<i32> = leader.into_iter().collect();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(g) = pgid {
            // SAFETY: signalling the process group we created.
            unsafe { libc::kill(-g, libc::SIGKILL) };
        }
        let mut live = Vec::new();
        let mut zombies = Vec::new();
        for pid in procfs::pids() {
            let Some(st) = procfs::stat(pid) else { continue };
            let member = Some(st.pgrp) == pgid || seen.contains(&pid);
            if st.is_zombie() {
                if st.ppid == me && member {
                    zombies.push(pid);
                }
            } else if member || procfs::environ_has(pid, &entry) {
                live.push(pid);
            }
        }
        for pid in &live {
            seen.insert(*pid);
            // SAFETY: signalling a process of our group or carrying our tag.
            unsafe { libc::kill(*pid, libc::SIGKILL) };
        }
        for pid in &zombies {
            // SAFETY: reaping a zombie child of ours; the status is not needed.
            unsafe { libc::waitpid(*pid, std::ptr::null_mut(), libc::WNOHANG) };
        }
        if live.is_empty() && zombies.is_empty() {
            return Ok(());
        }
        if Instant::now() >= end {
            return Err(format!("{label}: {} processes still alive after SIGKILL: {live:?}", live.len()));
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("runit-bench: warning: {e}");
        }
    }
}

fn pidfd_open(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the syscall returned a fresh descriptor that we now own.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

fn wait_readable(fd: &std::os::fd::OwnedFd, timeout: Duration) {
    use std::os::fd::AsRawFd;
    let mut p = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX).max(1);
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) };
}

/// Reaps any zombie children left (orphans handed to us as subreaper).
/// Call only when no [`Group`] is waiting to be reaped.
pub fn reap_strays() {
    loop {
        // SAFETY: non-blocking wait for any child; the status is not needed.
        let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
        if r <= 0 {
            return;
        }
    }
}

/// Runs `cmd` to completion (at most `timeout`) and returns the wall time
/// from just before the spawn to the reaped exit, and how it exited.
pub fn run_timed(cmd: &mut Command, label: &str, timeout: Duration) -> Result<(Duration, Exit), String> {
    let t0 = Instant::now();
    let mut g = Group::spawn(cmd, label)?;
    let exit = g.wait(timeout)?;
    let took = t0.elapsed();
    g.stop()?;
    Ok((took, exit))
}

/// A scratch directory under `$TMPDIR/runit-bench-<pid>/`, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A fresh, empty directory named after `name`.
    pub fn new(name: &str) -> Result<Scratch, String> {
        let path = scratch_root().join(unique(name));
        // Another scratch dir's drop may remove the empty root meanwhile.
        let mut made = fs::create_dir_all(&path);
        for _ in 0..3 {
            if made.is_ok() {
                break;
            }
            made = fs::create_dir_all(&path);
        }
        made.map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        Ok(Scratch { path })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path().join(rel)`.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.path.join(rel)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
        // The root goes with its last scratch directory.
        let _ = fs::remove_dir(scratch_root());
    }
}

/// The parent of every scratch directory of this run.
pub fn scratch_root() -> PathBuf {
    std::env::temp_dir().join(format!("runit-bench-{}", std::process::id()))
}

/// Removes [`scratch_root`] (call at exit).
pub fn remove_scratch_root() {
    let _ = fs::remove_dir_all(scratch_root());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_and_times_a_command() {
        let (took, exit) =
            run_timed(Command::new("true").env_clear(), "true", Duration::from_secs(10)).expect("true runs");
        assert_eq!(exit.code(), Some(0));
        assert!(took < Duration::from_secs(10));
        let (_, exit) =
            run_timed(Command::new("sh").args(["-c", "exit 3"]), "sh", Duration::from_secs(10)).expect("sh");
        assert_eq!(exit.code(), Some(3));
        assert_eq!(exit.describe(), "exit 3");
    }

    #[test]
    fn stop_kills_the_group_and_escaped_descendants() {
        // The shell starts one sleep in its group and one in a new session.
        let mut g =
            Group::spawn(Command::new("sh").args(["-c", "sleep 100 & setsid sleep 100 & wait"]), "tree")
                .expect("spawn");
        let entry = format!("{TAG_VAR}={}", g.tag).into_bytes();
        let tagged = || procfs::pids().into_iter().filter(|p| procfs::environ_has(*p, &entry)).count();
        poll(Duration::from_secs(10), Duration::from_millis(10), "three processes", || {
            (tagged() >= 3).then_some(())
        })
        .expect("tree up");
        g.stop().expect("stop");
        assert_eq!(tagged(), 0);
    }

    #[test]
    fn released_groups_leave_their_tree_to_the_sweep() {
        let tag = new_tag();
        let mut g = Group::spawn_tagged(Command::new("sh").args(["-c", "setsid sleep 100 &"]), "sh", &tag)
            .expect("spawn");
        assert_eq!(g.wait(Duration::from_secs(10)).expect("sh exits").code(), Some(0));
        g.release().expect("release");
        let entry = format!("{TAG_VAR}={tag}").into_bytes();
        let tagged = || procfs::pids().into_iter().filter(|p| procfs::environ_has(*p, &entry)).count();
        // The background sleep may still be between fork and exec (its
        // environ briefly unreadable): poll for it.
        poll(Duration::from_secs(10), Duration::from_millis(10), "the sleep", || {
            (tagged() == 1).then_some(())
        })
        .expect("the sleep survives the release");
        sweep(&tag, "sweep").expect("sweep");
        assert_eq!(tagged(), 0);
    }

    #[test]
    fn wait_times_out() {
        let mut g = Group::spawn(Command::new("sleep").arg("100"), "sleep").expect("spawn");
        let e = g.wait(Duration::from_millis(50)).expect_err("must time out");
        assert!(e.contains("still running"), "{e}");
        g.stop().expect("stop");
    }

    #[test]
    fn scratch_is_removed() {
        let s = Scratch::new("t").expect("scratch");
        let p = s.path().to_path_buf();
        fs::write(s.join("f"), "x").expect("write");
        drop(s);
        assert!(!p.exists());
    }

    #[test]
    fn poll_gives_up() {
        let e = poll(Duration::from_millis(20), Duration::from_millis(5), "never", || None::<()>)
            .expect_err("timeout");
        assert!(e.contains("never"));
    }
}
