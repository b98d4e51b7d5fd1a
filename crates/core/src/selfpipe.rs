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

/// A self-pipe fed by signal handlers.
#[derive(Debug)]
pub struct SignalPipe {
    read: File,
    write: OwnedFd,
    ids: Vec<signal_hook::SigId>,
}

impl SignalPipe {
    /// Creates the pipe (both ends non-blocking and close-on-exec).
    pub fn new() -> io::Result<Self> {
        let (read, write) = pipe(libc::O_NONBLOCK | libc::O_CLOEXEC)?;
        Ok(SignalPipe { read: File::from(read), write, ids: Vec::new() })
    }

    /// Installs a handler for `sig` that writes `sig` into the pipe.
    pub fn catch(&mut self, sig: i32) -> io::Result<()> {
        let fd = self.write.as_raw_fd();
        let byte = u8::try_from(sig).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: the handler only calls write(2), which is async-signal-safe,
        // on a descriptor that lives as long as the registration (both are
        // dropped together); signal-hook preserves errno around it.
        let id = unsafe {
            signal_hook::low_level::register(sig, move || {
                let b = byte;
                libc::write(fd, (&raw const b).cast(), 1);
            })
        }?;
        self.ids.push(id);
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
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            signal_hook::low_level::unregister(id);
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
    fn raised_signal_arrives_as_byte() {
        let mut p = SignalPipe::new().expect("pipe");
        p.catch(libc::SIGUSR2).expect("catch");
        // SAFETY: raising a signal we just installed a handler for.
        unsafe { libc::raise(libc::SIGUSR2) };
        assert_eq!(p.drain(), vec![libc::SIGUSR2]);
        assert!(p.drain().is_empty());
    }
}
