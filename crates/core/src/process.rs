//! Starting and reaping children the way runit's programs do.
//!
//! runit forks, adjusts descriptors, directory and session in the child, and
//! `execve`s; when the exec fails, the child itself prints a runit message
//! and exits with a program-specific code (runsv: 111, runsvdir: 100). That
//! shape is kept here: [`fork`] runs a closure in the child, and the helpers
//! below are the only calls such a closure needs. Everything the child uses
//! (C strings, pointer arrays, candidate paths, message bytes) is prepared
//! before the fork, so the child does not allocate. Our programs are
//! single-threaded; [`fork`] is `unsafe` because it relies on both.
//!
//! Wait statuses stay raw `int`s ([`WaitStatus`]) because runit passes them
//! to `./finish` as numbers.

use crate::errtext;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// A raw `wait(2)` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WaitStatus(pub i32);

impl WaitStatus {
    /// A normal exit with `code`.
    pub fn exited(code: u8) -> Self {
        WaitStatus(i32::from(code) << 8)
    }

    /// Death by `sig` (with `core` set when a core was dumped).
    pub fn signaled(sig: i32, core: bool) -> Self {
        WaitStatus((sig & 0x7f) | if core { 0x80 } else { 0 })
    }

    /// The exit code, if the process exited normally.
    pub fn exit_code(self) -> Option<i32> {
        libc::WIFEXITED(self.0).then(|| libc::WEXITSTATUS(self.0))
    }

    /// The signal, if the process was killed by one.
    pub fn signal(self) -> Option<i32> {
        libc::WIFSIGNALED(self.0).then(|| libc::WTERMSIG(self.0))
    }

    /// runit's "succeeded" test for override scripts and `./check`:
    /// `(status >> 8) == 0`, which is also true for a death by signal.
    pub fn runit_success(self) -> bool {
        (self.0 >> 8) & 0xff == 0
    }

    /// The two arguments runsv gives `./finish`: the exit code (or `-1` for
    /// a signal death) and `status & 0xff` (signal number, plus 128 when a
    /// core was dumped; 0 for a normal exit).
    pub fn finish_args(self) -> (i32, i32) {
        let low = self.0 & 0xff;
        if libc::WIFSIGNALED(self.0) { (-1, low) } else { ((self.0 >> 8) & 0xff, low) }
    }
}

/// Reaps one exited child without blocking: `Ok(None)` when none is ready
/// (or there are no children).
pub fn reap_nohang() -> io::Result<Option<(i32, WaitStatus)>> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid > 0 {
            return Ok(Some((pid, WaitStatus(status))));
        }
        if pid == 0 {
            return Ok(None);
        }
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINTR) => continue,
            Some(libc::ECHILD) => return Ok(None),
            _ => return Err(e),
        }
    }
}

/// Waits for `pid` specifically (blocking), retrying on EINTR.
pub fn wait_for(pid: i32) -> io::Result<WaitStatus> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(WaitStatus(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Forks. The child runs `child`, which should end in an exec or
/// [`child::exit`] (if it returns, the child exits 127); the parent gets the
/// child's pid.
///
/// # Safety
///
/// * The calling process must be single-threaded. After a `fork` only the
///   calling thread exists in the child; a lock another thread held (in
///   the allocator, in stdio) would stay locked for good.
/// * Until it execs or calls [`child::exit`], `child` may do only
///   async-signal-safe work: system calls on data prepared before the
///   fork ([`Program::exec`], with an [`Environ`] or none, and the
///   functions of [`child`] are such calls); no allocation, no locks, no
///   buffered I/O, no panic. (If it returns, `fork` exits the child with
///   127; it never returns into the caller.)
pub unsafe fn fork(child: impl FnOnce()) -> io::Result<i32> {
    // SAFETY: forwarded from the caller: single-threaded, and the child
    // only makes async-signal-safe calls before it execs or exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        child();
        // The closure should have exec'd or exited; never return into the
        // parent's code from a child.
        child::exit(127);
    }
    Ok(pid)
}

/// A null-terminated array of pointers to the strings of `strings`, for
/// `execve`. The pointers stay valid while `strings` is neither dropped
/// nor changed: a `CString` keeps its bytes where they are when it moves.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    strings.iter().map(|s| s.as_ptr()).chain(std::iter::once(std::ptr::null())).collect()
}

/// An environment for [`Program::exec`], prepared before forking: the
/// `KEY=value` strings and the pointer array `execve` takes, so the child
/// does not allocate.
#[derive(Debug)]
pub struct Environ {
    vars: Vec<CString>,
    /// Points into `vars`, which is never changed after construction.
    ptrs: Vec<*const libc::c_char>,
}

impl Environ {
    /// The environment made of `vars` (`KEY=value` each).
    pub fn new(vars: Vec<CString>) -> Self {
        let ptrs = pointers(&vars);
        Environ { vars, ptrs }
    }

    /// The strings, in order.
    pub fn vars(&self) -> &[CString] {
        &self.vars
    }
}

/// A program to execute, prepared before forking.
#[derive(Debug)]
pub struct Program {
    /// Owns the strings `argv_ptrs` points to.
    _argv: Vec<CString>,
    /// Points into `argv`, which is never changed after construction.
    argv_ptrs: Vec<*const libc::c_char>,
    /// Paths to try in order (one for a path with a `/`, one per `PATH`
    /// element otherwise).
    candidates: Vec<CString>,
}

impl Program {
    /// `file` with `argv` (argv[0] included). A `file` without `/` is looked
    /// up in `PATH` (or `/bin:/usr/bin` when unset), runit's rule.
    pub fn new(file: &OsStr, argv: &[&OsStr]) -> io::Result<Self> {
        let path = std::env::var_os("PATH");
        Self::with_path(file, argv, path.as_deref())
    }

    /// As [`Program::new`] with an explicit search path.
    pub fn with_path(file: &OsStr, argv: &[&OsStr], path: Option<&OsStr>) -> io::Result<Self> {
        let argv = argv.iter().map(|a| c_string(a.as_bytes())).collect::<io::Result<Vec<_>>>()?;
        let name = file.as_bytes();
        let candidates = if name.contains(&b'/') {
            vec![c_string(name)?]
        } else {
            let search = path.map_or(&b"/bin:/usr/bin"[..], |p| p.as_bytes());
            search
                .split(|&b| b == b':')
                .map(|dir| {
                    let dir = if dir.is_empty() { &b"."[..] } else { dir };
                    let mut full = dir.to_vec();
                    full.push(b'/');
                    full.extend_from_slice(name);
                    c_string(&full)
                })
                .collect::<io::Result<Vec<_>>>()?
        };
        let argv_ptrs = pointers(&argv);
        Ok(Program { _argv: argv, argv_ptrs, candidates })
    }

    /// Executes the program with the current environment (or `env`). Only
    /// returns on failure, with runit's choice of error: ENOENT moves on to
    /// the next `PATH` element; EACCES, EPERM and EISDIR are remembered and
    /// reported if nothing else works; any other error stops the search.
    ///
    /// Async-signal-safe: it allocates nothing (everything was prepared by
    /// the constructors), so a forked child may call it.
    pub fn exec(&self, env: Option<&Environ>) -> io::Error {
        let mut saved: Option<io::Error> = None;
        for path in &self.candidates {
            // SAFETY: every pointer is to a NUL-terminated string owned by
            // `self` or `env`, and both arrays end with a null pointer.
            unsafe {
                match env {
                    Some(e) => libc::execve(path.as_ptr(), self.argv_ptrs.as_ptr(), e.ptrs.as_ptr()),
                    None => libc::execv(path.as_ptr(), self.argv_ptrs.as_ptr()),
                };
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::ENOENT) => {}
                Some(libc::EACCES | libc::EPERM | libc::EISDIR) => saved = Some(e),
                _ => return e,
            }
        }
        saved.unwrap_or_else(|| io::Error::from_raw_os_error(libc::ENOENT))
    }
}

fn c_string(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Calls a forked child may make: system calls only, none of them
/// allocates (async-signal-safe).
pub mod child {
    use super::*;

    /// `_exit(code)`.
    pub fn exit(code: i32) -> ! {
        // SAFETY: _exit is always safe to call; it does not return.
        unsafe { libc::_exit(code) }
    }

    /// Prints `<msg><error text>\n` on stderr in one write and exits with
    /// `code`. `msg` carries runit's prefix and trailing `": "`.
    pub fn die(msg: &[u8], err: &io::Error, code: i32) -> ! {
        warn(msg, err);
        exit(code)
    }

    /// Prints `<msg><error text>\n` on stderr in one write (`writev`, no
    /// buffer to allocate).
    pub fn warn(msg: &[u8], err: &io::Error) {
        let text = errtext::io_text(err).as_bytes();
        let iov = [
            libc::iovec { iov_base: msg.as_ptr() as *mut _, iov_len: msg.len() },
            libc::iovec { iov_base: text.as_ptr() as *mut _, iov_len: text.len() },
            libc::iovec { iov_base: b"\n".as_ptr() as *mut _, iov_len: 1 },
        ];
        // SAFETY: the iovecs point at live buffers of the stated lengths.
        unsafe { libc::writev(2, iov.as_ptr(), 3) };
    }

    /// `dup2(from, to)` (a no-op when equal); clears close-on-exec on `to`.
    pub fn dup2(from: i32, to: i32) -> io::Result<()> {
        if from == to {
            // SAFETY: fcntl on a descriptor number; failure is reported.
            let r = unsafe { libc::fcntl(to, libc::F_SETFD, 0) };
            return if r < 0 { Err(io::Error::last_os_error()) } else { Ok(()) };
        }
        // SAFETY: dup2 on descriptor numbers; failure is reported.
        if unsafe { libc::dup2(from, to) } < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// `close(fd)`.
    pub fn close(fd: i32) {
        // SAFETY: closing a descriptor number in the child only.
        unsafe { libc::close(fd) };
    }

    /// `chdir(dir)`.
    pub fn chdir(dir: &CStr) -> io::Result<()> {
        // SAFETY: `dir` is NUL-terminated.
        if unsafe { libc::chdir(dir.as_ptr()) } < 0 { Err(io::Error::last_os_error()) } else { Ok(()) }
    }

    /// `setsid()` (errors ignored, as runit ignores them).
    pub fn setsid() {
        // SAFETY: plain system call.
        unsafe { libc::setsid() };
    }

    /// `setpgid(0, 0)`: become a process-group leader.
    pub fn new_process_group() {
        // SAFETY: plain system call.
        unsafe { libc::setpgid(0, 0) };
    }

    /// Restores the default action of `sig` (a caught signal is reset by
    /// exec anyway; this matters for signals the parent ignores).
    pub fn default_signal(sig: i32) {
        // SAFETY: installing SIG_DFL is always valid.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }

    /// Unblocks every signal.
    pub fn unblock_all() {
        // SAFETY: `set` is initialised by sigemptyset before use.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finish_args_follow_runit() {
        assert_eq!(WaitStatus::exited(3).finish_args(), (3, 0));
        assert_eq!(WaitStatus::signaled(libc::SIGKILL, false).finish_args(), (-1, 9));
        assert_eq!(WaitStatus::signaled(libc::SIGSEGV, true).finish_args(), (-1, 139));
        assert_eq!(WaitStatus::exited(111).finish_args(), (111, 0));
    }

    #[test]
    fn success_includes_signal_death() {
        assert!(WaitStatus::exited(0).runit_success());
        assert!(!WaitStatus::exited(1).runit_success());
        assert!(WaitStatus::signaled(libc::SIGTERM, false).runit_success());
    }

    #[test]
    fn path_candidates() {
        let p = Program::with_path(OsStr::new("runsv"), &[OsStr::new("runsv")], Some(OsStr::new("/a::/b")))
            .expect("program");
        let c: Vec<_> = p.candidates.iter().map(|c| c.to_string_lossy().into_owned()).collect();
        assert_eq!(c, vec!["/a/runsv", "./runsv", "/b/runsv"]);
        let p = Program::with_path(OsStr::new("./run"), &[OsStr::new("./run")], None).expect("program");
        assert_eq!(p.candidates.len(), 1);
    }

    // `fork` itself is tested in a single-threaded process of its own:
    // tests/fork.rs (no test harness, no threads).

    #[test]
    fn exec_failure_is_reported() {
        let prog = Program::new(OsStr::new("/nonexistent/prog"), &[OsStr::new("x")]).expect("program");
        let e = prog.exec(None);
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }
}
