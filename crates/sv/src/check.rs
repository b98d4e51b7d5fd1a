//! Running `./check`, the readiness test (sv.md §6, supervise.md §14).
//!
//! runit's rules, kept exactly:
//!
//! * no `check` file (ENOENT) passes; any other `stat` error prints
//!   `warning: unable to stat <name>/check: <err>` and fails;
//! * the child closes standard output and `execve`s `./check` (argv[0]
//!   `./check`) in the service directory with sv's environment, stdin and
//!   stderr; the execute bit is not tested beforehand;
//! * if the exec fails the child prints `warning: unable to run
//!   <name>/check: <err>` and exits 0 — so a non-executable `check` passes;
//! * it passes iff `(wait status >> 8) == 0`: exit 0, or death by signal.
//!
//! One difference: runit waits for `./check` without limit, so a hanging
//! check hangs `sv -w 7` forever. We stop waiting at a deadline and kill
//! the check (SIGKILL); that run counts as failed.

use crate::out::Out;
use runit_core::errtext;
use runit_core::layout;
use runit_core::process::{self, Program, WaitStatus, child};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// Runs `./check` in the current directory for service `name`; true when
/// it passes. A run still going at `kill_at` is killed and fails.
pub fn passes(name: &[u8], kill_at: Option<Instant>, out: &mut Out) -> bool {
    match std::fs::metadata(layout::CHECK) {
        Ok(_) => {}
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return true,
        Err(e) => {
            out.stderr(&warning(b"unable to stat ", name, Some(&e)));
            return false;
        }
    }
    let prog = match Program::new(OsStr::new("./check"), &[OsStr::new("./check")]) {
        Ok(p) => p,
        Err(e) => {
            out.stderr(&warning(b"unable to run ", name, Some(&e)));
            return false;
        }
    };
    // Prepared before forking: the child does not allocate.
    let exec_failed = warning(b"unable to run ", name, None);
    out.flush();
    // SAFETY: sv is single-threaded; the child makes only system calls on
    // what was prepared above (close, exec, writev, _exit).
    let pid = unsafe {
        process::fork(|| {
            child::close(1);
            let e = prog.exec(None);
            child::die(&exec_failed, &e, 0)
        })
    };
    let pid = match pid {
        Ok(pid) => pid,
        Err(e) => {
            out.stderr(&warning(b"unable to fork for ", name, Some(&e)));
            return false;
        }
    };
    match wait(pid, kill_at) {
        Ok(Some(status)) => status.runit_success(),
        Ok(None) => false,
        Err(e) => {
            out.stderr(&warning(b"unable to wait for child ", name, Some(&e)));
            false
        }
    }
}

/// `warning: <what><name>/check[: <err>]`, with a newline when `err` is
/// given and with a trailing `": "` (for the child to append the error
/// text) when it is not.
fn warning(what: &[u8], name: &[u8], err: Option<&io::Error>) -> Vec<u8> {
    let mut m = b"warning: ".to_vec();
    m.extend_from_slice(what);
    m.extend_from_slice(name);
    m.extend_from_slice(b"/check: ");
    if let Some(e) = err {
        m.extend_from_slice(errtext::io_text(e).as_bytes());
        m.push(b'\n');
    }
    m
}

/// Waits for `pid`; at `kill_at` kills it and returns `None`.
fn wait(pid: i32, kill_at: Option<Instant>) -> io::Result<Option<WaitStatus>> {
    let Some(kill_at) = kill_at else { return process::wait_for(pid).map(Some) };
    match pidfd_open(pid) {
        Ok(fd) => {
            if readable_before(&fd, kill_at) {
                return process::wait_for(pid).map(Some);
            }
        }
        // Kernels before 5.3: poll the child without blocking.
        Err(_) => loop {
            if let Some(status) = try_wait(pid)? {
                return Ok(Some(status));
            }
            if Instant::now() >= kill_at {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        },
    }
    // SAFETY: `pid` is our unreaped child, so the pid cannot have been reused.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    process::wait_for(pid).map(|_| None)
}

/// `pidfd_open(2)`: a descriptor that becomes readable when `pid` exits.
fn pidfd_open(pid: i32) -> io::Result<OwnedFd> {
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = i32::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
    // SAFETY: the kernel just returned this descriptor and nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Polls `fd` for readability until `deadline`.
fn readable_before(fd: &OwnedFd, deadline: Instant) -> bool {
    loop {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, poll_ms(deadline - now)) };
        if n > 0 {
            return true;
        }
        if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
            return false;
        }
    }
}

/// `waitpid(pid, WNOHANG)`.
fn try_wait(pid: i32) -> io::Result<Option<WaitStatus>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return Ok(Some(WaitStatus(status)));
        }
        if r == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// A poll(2) timeout in milliseconds, rounded up so that the wake-up is
/// never early.
pub fn poll_ms(d: Duration) -> i32 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    i32::try_from(ms).unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warning_texts() {
        let e = io::Error::from_raw_os_error(libc::ELOOP);
        assert_eq!(
            warning(b"unable to stat ", b"web", Some(&e)),
            b"warning: unable to stat web/check: symbolic link loop\n"
        );
        assert_eq!(warning(b"unable to run ", b"./x", None), b"warning: unable to run ./x/check: ");
    }

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(poll_ms(Duration::from_micros(1)), 1);
        assert_eq!(poll_ms(Duration::from_millis(420)), 420);
        assert_eq!(poll_ms(Duration::ZERO), 0);
        assert_eq!(poll_ms(Duration::from_secs(u64::MAX / 4)), i32::MAX);
    }

    #[test]
    fn waiting_with_a_deadline_kills_a_hung_child() {
        // Children started by std (posix_spawn or fork+exec with nothing
        // else in between), not by `process::fork`: the test harness runs
        // several threads. `wait` reaps them itself, so std never does.
        #[allow(clippy::zombie_processes)] // `wait` below reaps it
        let spawn = |script: &str| {
            let child = std::process::Command::new("/bin/sh").args(["-c", script]).spawn().expect("spawn sh");
            i32::try_from(child.id()).expect("pid")
        };
        let pid = spawn("exec sleep 30");
        // `None` means the deadline passed (the child's own exit, after
        // 30 s, would be `Some`); the child was killed and reaped.
        assert_eq!(wait(pid, Some(Instant::now() + Duration::from_millis(50))).expect("wait"), None);
        // SAFETY: signal 0 only checks that the pid exists.
        let gone = unsafe { libc::kill(pid, 0) } == -1
            && io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        assert!(gone, "the hung child was not killed and reaped");
        let pid = spawn("exit 3");
        let st = wait(pid, Some(Instant::now() + Duration::from_secs(30))).expect("wait").expect("exited");
        assert_eq!(st.exit_code(), Some(3));
    }
}
