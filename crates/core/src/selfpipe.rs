//! Signals delivered as bytes on a pipe, for poll-based event loops.
//!
//! Each caught signal writes its number (one byte) into a non-blocking,
//! close-on-exec pipe; the event loop polls the read end and drains it. Only
//! the signals passed to [`SignalPipe::catch`] get a handler, so
//! `/proc/<pid>/status` shows exactly runit's caught set (SigCgt), and every
//! other disposition stays as inherited.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Signal numbers below this can be caught (Linux's `_NSIG`).
const NSIG: i32 = 65;
/// How many (signal, pipe) pairs a process may have at once: a program
/// catches a handful of signals with one pipe; unit tests run a few loops.
const ENTRIES: usize = 16;
/// How many signals a process may catch at once.
const SIGNALS: usize = 8;

/// The (signal, write end) pairs: `signal << 32 | fd`, 0 when free. The
/// handler reads this and nothing else. Small on purpose: it is static
/// data of every program, runsv's included (docs/runsv.md, "Memory").
static PAIRS: [AtomicU64; ENTRIES] = [const { AtomicU64::new(0) }; ENTRIES];

/// For each signal with our handler: the handler and flags it replaced
/// (put back, with an empty mask, when the last pipe catching the signal
/// goes). Held while pairs are added or removed.
static REPLACED: Mutex<[(i32, usize, i32); SIGNALS]> = Mutex::new([(0, 0, 0); SIGNALS]);

fn pair(sig: i32, fd: RawFd) -> u64 {
    (u64::from(sig as u32) << 32) | u64::from(fd as u32)
}

/// The handler: writes the signal's number into every pipe catching it;
/// `write(2)` is async-signal-safe, and `errno` is kept as it was.
extern "C" fn on_signal(sig: libc::c_int) {
    // SAFETY: errno is thread-local; reading and restoring it is what a
    // handler must do around a system call.
    let errno = unsafe { *libc::__errno_location() };
    let byte = sig as u8;
    for p in &PAIRS {
        let v = p.load(Ordering::Acquire);
        if v >> 32 == u64::from(sig as u32) {
            // SAFETY: one byte from a live local into the write end of a
            // registered pipe.
            unsafe { libc::write((v & 0xffff_ffff) as i32, (&raw const byte).cast(), 1) };
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// A self-pipe fed by signal handlers.
#[derive(Debug)]
pub struct SignalPipe {
    read: File,
    write: OwnedFd,
    /// Bit `n` set: this pipe catches signal `n`.
    caught: u128,
}

impl SignalPipe {
    /// Creates the pipe (both ends non-blocking and close-on-exec).
    pub fn new() -> io::Result<Self> {
        let (read, write) = pipe(libc::O_NONBLOCK | libc::O_CLOEXEC)?;
        Ok(SignalPipe { read: File::from(read), write, caught: 0 })
    }

    /// Installs a handler for `sig` that writes `sig` into the pipe.
    /// Signals that cannot be caught (KILL, STOP, out of range) are
    /// `EINVAL`; more signals or pipes than the tables hold, `EBUSY`.
    pub fn catch(&mut self, sig: i32) -> io::Result<()> {
        let invalid = || io::Error::from_raw_os_error(libc::EINVAL);
        let busy = || io::Error::from_raw_os_error(libc::EBUSY);
        if !(1..NSIG).contains(&sig) || sig == libc::SIGKILL || sig == libc::SIGSTOP {
            return Err(invalid());
        }
        if self.caught & (1 << sig) != 0 {
            return Ok(());
        }
        let mut replaced = REPLACED.lock().unwrap_or_else(|p| p.into_inner());
        let free = PAIRS.iter().find(|p| p.load(Ordering::Acquire) == 0).ok_or_else(busy)?;
        if !replaced.iter().any(|r| r.0 == sig) {
            let entry = replaced.iter_mut().find(|r| r.0 == 0).ok_or_else(busy)?;
            // SAFETY: plain sigaction with a handler that only writes to
            // pipes; `old` receives the replaced action.
            let old = unsafe {
                let mut new: libc::sigaction = std::mem::zeroed();
                new.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                new.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&mut new.sa_mask);
                let mut old: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &new, &mut old) != 0 {
                    return Err(io::Error::last_os_error());
                }
                old
            };
            *entry = (sig, old.sa_sigaction, old.sa_flags);
        }
        free.store(pair(sig, self.write.as_raw_fd()), Ordering::Release);
        self.caught |= 1 << sig;
        Ok(())
    }

    /// The descriptor to poll for readability.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Reads every pending signal number, in arrival order.
    pub fn drain(&self) -> Vec<i32> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match (&self.read).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend(buf[..n].iter().map(|&b| i32::from(b))),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        out
    }
}

impl Drop for SignalPipe {
    /// Gives back this pipe's pairs; the last pipe catching a signal puts
    /// back the handler and flags ours replaced.
    fn drop(&mut self) {
        let mut replaced = REPLACED.lock().unwrap_or_else(|p| p.into_inner());
        let fd = self.write.as_raw_fd();
        for sig in (1..NSIG).filter(|&n| self.caught & (1 << n) != 0) {
            let mine = pair(sig, fd);
            for p in &PAIRS {
                let _ = p.compare_exchange(mine, 0, Ordering::AcqRel, Ordering::Acquire);
            }
            let still = PAIRS.iter().any(|p| p.load(Ordering::Acquire) >> 32 == u64::from(sig as u32));
            if let (false, Some(entry)) = (still, replaced.iter_mut().find(|r| r.0 == sig)) {
                // SAFETY: putting back a handler and flags sigaction gave us.
                unsafe {
                    let mut old: libc::sigaction = std::mem::zeroed();
                    old.sa_sigaction = entry.1;
                    old.sa_flags = entry.2;
                    libc::sigemptyset(&mut old.sa_mask);
                    libc::sigaction(sig, &old, std::ptr::null_mut());
                }
                *entry = (0, 0, 0);
            }
        }
    }
}

/// `pipe2(2)` with `flags`, as owned descriptors (read end, write end).
pub fn pipe(flags: i32) -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), flags) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both descriptors are open and ours.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_pipes_both_get_it_and_the_last_one_restores_the_disposition() {
        let mut a = SignalPipe::new().expect("pipe");
        let mut b = SignalPipe::new().expect("pipe");
        a.catch(libc::SIGWINCH).expect("catch");
        b.catch(libc::SIGWINCH).expect("catch");
        // SAFETY: raising a signal we installed a handler for.
        unsafe { libc::raise(libc::SIGWINCH) };
        assert_eq!(a.drain(), vec![libc::SIGWINCH]);
        assert_eq!(b.drain(), vec![libc::SIGWINCH]);
        drop(a);
        // SAFETY: as above; b still catches it.
        unsafe { libc::raise(libc::SIGWINCH) };
        assert_eq!(b.drain(), vec![libc::SIGWINCH]);
        drop(b);
        // SAFETY: reading the current action only.
        let now = unsafe {
            let mut cur: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGWINCH, std::ptr::null(), &mut cur);
            cur.sa_sigaction
        };
        assert_eq!(now, libc::SIG_DFL, "the default action is back");
    }

    #[test]
    fn uncatchable_signals_are_refused() {
        let mut p = SignalPipe::new().expect("pipe");
        for sig in [libc::SIGKILL, libc::SIGSTOP, 0, -1, 65, 200] {
            assert_eq!(p.catch(sig).err().and_then(|e| e.raw_os_error()), Some(libc::EINVAL), "{sig}");
        }
    }

    #[test]
    fn raised_signal_arrives_as_byte() {
        let mut p = SignalPipe::new().expect("pipe");
        p.catch(libc::SIGUSR2).expect("catch");
        // SAFETY: raising a signal we just installed a handler for.
        unsafe { libc::raise(libc::SIGUSR2) };
        assert_eq!(p.drain(), vec![libc::SIGUSR2]);
        assert!(p.drain().is_empty());
    }
}
