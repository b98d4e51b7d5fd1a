//! A thin, safe wrapper over Linux inotify.

use std::ffi::{CString, OsString};
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// A watch descriptor.
pub type Wd = i32;

/// Events about names in a watched directory that can change what a name
/// leads to.
pub const NAME_EVENTS: u32 =
    libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO | libc::IN_ATTRIB;
/// Events about the watched directory itself.
pub const SELF_EVENTS: u32 = libc::IN_DELETE_SELF | libc::IN_MOVE_SELF;
/// The mask every watch gets (watches are per inode, so one mask for all).
pub const MASK: u32 = NAME_EVENTS | SELF_EVENTS | libc::IN_ONLYDIR;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The watch (-1 for a queue overflow).
    pub wd: Wd,
    /// The event bits.
    pub mask: u32,
    /// The name inside the watched directory, if the event is about one.
    pub name: Option<OsString>,
}

/// An inotify instance (non-blocking, close-on-exec).
#[derive(Debug)]
pub struct Inotify {
    file: File,
}

impl Inotify {
    /// `inotify_init1`.
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain system call.
        let fd = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the descriptor was just created and is owned by us alone.
        Ok(Inotify { file: unsafe { File::from_raw_fd(fd) } })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }

    /// Watches directory `dir` (following symlinks) with [`MASK`]. Adding
    /// the same inode again returns the same descriptor.
    pub fn add(&self, dir: &Path) -> io::Result<Wd> {
        let c = CString::new(dir.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a valid descriptor and NUL-terminated path.
        let wd = unsafe { libc::inotify_add_watch(self.file.as_raw_fd(), c.as_ptr(), MASK) };
        if wd < 0 { Err(io::Error::last_os_error()) } else { Ok(wd) }
    }

    /// Removes a watch (errors ignored: the watch may be gone already).
    pub fn remove(&self, wd: Wd) {
        // SAFETY: plain system call on our descriptor.
        unsafe { libc::inotify_rm_watch(self.file.as_raw_fd(), wd) };
    }

    /// Reads every queued event.
    pub fn read(&self) -> io::Result<Vec<Event>> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match (&self.file).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => parse(buf.get(..n).unwrap_or_default(), &mut out),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// Parses `struct inotify_event` records: wd (i32), mask, cookie, len (u32),
/// then `len` bytes of NUL-padded name.
fn parse(mut buf: &[u8], out: &mut Vec<Event>) {
    const HEADER: usize = 16;
    while buf.len() >= HEADER {
        let word = |i: usize| -> [u8; 4] {
            let mut w = [0u8; 4];
            w.copy_from_slice(buf.get(i..i + 4).unwrap_or(&[0; 4]));
            w
        };
        let wd = i32::from_ne_bytes(word(0));
        let mask = u32::from_ne_bytes(word(4));
        let len = u32::from_ne_bytes(word(12)) as usize;
        let Some(raw) = buf.get(HEADER..HEADER + len) else { break };
        let name_len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let name =
            (name_len > 0).then(|| OsString::from_vec(raw.get(..name_len).unwrap_or_default().to_vec()));
        out.push(Event { wd, mask, name });
        buf = buf.get(HEADER + len..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_records() {
        let mut buf = Vec::new();
        for (wd, mask, name) in
            [(1i32, libc::IN_CREATE, &b"web\0\0\0\0\0"[..]), (2, libc::IN_DELETE_SELF, &b""[..])]
        {
            buf.extend_from_slice(&wd.to_ne_bytes());
            buf.extend_from_slice(&mask.to_ne_bytes());
            buf.extend_from_slice(&0u32.to_ne_bytes());
            buf.extend_from_slice(&(name.len() as u32).to_ne_bytes());
            buf.extend_from_slice(name);
        }
        let mut out = Vec::new();
        parse(&buf, &mut out);
        assert_eq!(
            out,
            vec![
                Event { wd: 1, mask: libc::IN_CREATE, name: Some("web".into()) },
                Event { wd: 2, mask: libc::IN_DELETE_SELF, name: None },
            ]
        );
    }

    #[test]
    fn truncated_record_is_ignored() {
        let mut out = Vec::new();
        parse(&[1, 0, 0, 0, 0, 1], &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn sees_a_symlink_created() {
        let tmp = std::env::temp_dir().join(format!("runsvdir-inotify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).expect("mkdir");
        let ino = Inotify::new().expect("inotify");
        let wd = ino.add(&tmp).expect("watch");
        assert_eq!(ino.add(&tmp).expect("watch again"), wd, "one watch per inode");
        std::os::unix::fs::symlink("/nonexistent", tmp.join("x")).expect("symlink");
        let ev = ino.read().expect("read");
        assert!(
            ev.iter().any(|e| e.wd == wd
                && e.mask & libc::IN_CREATE != 0
                && e.name.as_deref() == Some("x".as_ref()))
        );
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }
}
