//! Waking the wait loop when a `supervise/` directory changes.
//!
//! runit's sv re-reads every status record every 420 ms. We watch each
//! waited-for service's `supervise/` with inotify and re-read as soon as
//! runsv publishes a new record or goes away, so `sv -w 7 restart` returns
//! within milliseconds of the restart instead of on the next 420 ms tick.
//! The lines printed are the same; only the moment differs.
//!
//! Which events matter (everything else, notably our own probes and
//! reads, is ignored so that reading does not wake us up again):
//!
//! * `status` renamed into place (runsv's publish step) or written in place;
//! * `health` renamed into place: runit-rs's runsv records readiness there
//!   (docs/health.md), which `status` does not show;
//! * `lock` closed after writing, or `ok` closed after reading: a runsv
//!   exited (it holds both open for its whole life);
//! * the directory itself went away, or the event queue overflowed.
//!
//! The driver still polls at a bounded interval as a safety net (and
//! faster when a watch could not be added), so correctness never depends on
//! inotify.

use crate::check::poll_ms;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

/// The inotify instance of one wait loop.
#[derive(Debug)]
pub struct Watch {
    fd: Option<OwnedFd>,
    complete: bool,
}

impl Watch {
    /// Creates the inotify instance; without one, every wait is a plain
    /// timed sleep and [`Watch::complete`] is false.
    pub fn new() -> Self {
        // SAFETY: plain system call with flag arguments.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Watch { fd: None, complete: false };
        }
        // SAFETY: the kernel just returned this descriptor; we own it.
        Watch { fd: Some(unsafe { OwnedFd::from_raw_fd(fd) }), complete: true }
    }

    /// True while every directory asked for is watched.
    pub fn complete(&self) -> bool {
        self.complete
    }

    /// Watches `dir` (relative to the current directory).
    pub fn add(&mut self, dir: &Path) {
        let ok = match (&self.fd, CString::new(dir.as_os_str().as_bytes())) {
            (Some(fd), Ok(path)) => {
                let mask = libc::IN_MOVED_TO
                    | libc::IN_CLOSE_WRITE
                    | libc::IN_CLOSE_NOWRITE
                    | libc::IN_DELETE_SELF
                    | libc::IN_MOVE_SELF;
                // SAFETY: valid descriptor and NUL-terminated path.
                unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) >= 0 }
            }
            _ => false,
        };
        self.complete &= ok;
    }

    /// Sleeps until `until` or until a relevant change is seen.
    pub fn wait(&mut self, until: Instant) {
        loop {
            let now = Instant::now();
            if now >= until {
                return;
            }
            let timeout = poll_ms(until - now);
            let Some(fd) = &self.fd else {
                std::thread::sleep(until - now);
                return;
            };
            let mut pfd = libc::pollfd { fd: fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let n = unsafe { libc::poll(&mut pfd, 1, timeout) };
            if n > 0 && self.drain() {
                return;
            }
            if n < 0 && io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                std::thread::sleep(until.saturating_duration_since(Instant::now()));
                return;
            }
        }
    }

    /// Reads every queued event; true when one of them matters.
    fn drain(&mut self) -> bool {
        let Some(fd) = &self.fd else { return false };
        let mut relevant = false;
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: `buf` is valid for `buf.len()` bytes.
            let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            let Ok(n) = usize::try_from(n) else {
                if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return relevant;
            };
            if n == 0 {
                return relevant;
            }
            relevant |= events(&buf[..n]).any(|(mask, name)| matters(mask, name));
        }
    }
}

impl Default for Watch {
    fn default() -> Self {
        Self::new()
    }
}

/// True for the events listed in the module documentation.
pub fn matters(mask: u32, name: &[u8]) -> bool {
    if mask & (libc::IN_Q_OVERFLOW | libc::IN_IGNORED | libc::IN_DELETE_SELF | libc::IN_MOVE_SELF) != 0 {
        return true;
    }
    match name {
        b"status" | b"health" => mask & (libc::IN_MOVED_TO | libc::IN_CLOSE_WRITE) != 0,
        b"lock" => mask & libc::IN_CLOSE_WRITE != 0,
        b"ok" => mask & libc::IN_CLOSE_NOWRITE != 0,
        _ => false,
    }
}

/// Splits a buffer of `struct inotify_event`s into (mask, name) pairs.
fn events(mut buf: &[u8]) -> impl Iterator<Item = (u32, &[u8])> {
    const HEADER: usize = 16;
    std::iter::from_fn(move || {
        let header = buf.get(..HEADER)?;
        let word = |i: usize| u32::from_ne_bytes([header[i], header[i + 1], header[i + 2], header[i + 3]]);
        let mask = word(4);
        let len = usize::try_from(word(12)).ok()?;
        let raw = buf.get(HEADER..HEADER + len)?;
        let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
        buf = &buf[HEADER + len..];
        Some((mask, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(mask: u32, name: &[u8], pad: usize) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&1i32.to_ne_bytes());
        v.extend_from_slice(&mask.to_ne_bytes());
        v.extend_from_slice(&0u32.to_ne_bytes());
        v.extend_from_slice(&u32::try_from(name.len() + pad).expect("len").to_ne_bytes());
        v.extend_from_slice(name);
        v.extend(std::iter::repeat_n(0, pad));
        v
    }

    #[test]
    fn parses_events_and_filters_our_own_noise() {
        let mut buf = event(libc::IN_CLOSE_WRITE, b"ok", 2);
        buf.extend(event(libc::IN_CLOSE_NOWRITE, b"status", 10));
        buf.extend(event(libc::IN_MOVED_TO, b"status", 2));
        buf.extend(event(libc::IN_IGNORED, b"", 0));
        let got: Vec<_> = events(&buf).collect();
        assert_eq!(got.len(), 4);
        assert_eq!(got[1], (libc::IN_CLOSE_NOWRITE, &b"status"[..]));
        let relevant: Vec<_> = got.iter().map(|&(m, n)| matters(m, n)).collect();
        assert_eq!(relevant, vec![false, false, true, true]);
        assert!(matters(libc::IN_CLOSE_WRITE, b"lock"));
        assert!(matters(libc::IN_CLOSE_NOWRITE, b"ok"));
        assert!(matters(libc::IN_MOVED_TO, b"health"));
        assert!(!matters(libc::IN_CLOSE_NOWRITE, b"health"), "our own read");
        assert!(!matters(libc::IN_CLOSE_WRITE, b"control"));
        assert!(!matters(libc::IN_MOVED_TO, b"stat"));
        // A truncated buffer ends the iteration instead of panicking.
        assert_eq!(events(&buf[..18]).count(), 0);
        assert_eq!(events(&buf[..20]).count(), 1);
    }

    #[test]
    fn wakes_on_a_renamed_status() {
        let dir = std::env::temp_dir().join(format!("sv-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let mut w = Watch::new();
        w.add(&dir);
        assert!(w.complete());
        std::fs::write(dir.join("status.new"), b"x").expect("write");
        std::fs::rename(dir.join("status.new"), dir.join("status")).expect("rename");
        // With a deadline an hour away, only the event can end the wait;
        // the test's own deadline on that is generous.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            w.wait(Instant::now() + std::time::Duration::from_secs(3600));
            let _ = tx.send(());
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_secs(30)).is_ok(),
            "the rename did not wake the wait"
        );
        std::fs::remove_dir_all(&dir).expect("cleanup");
        let mut w = Watch::new();
        w.add(Path::new("/nonexistent/dir"));
        assert!(!w.complete());
    }
}
