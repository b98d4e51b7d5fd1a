//! The proctitle log: runsvdir's `log` argument as a window on stderr
//! (runsvdir.md §7).
//!
//! daemontools' `readproctitle` idea: every byte written to runsvdir's
//! stderr (which is a pipe runsvdir reads) is appended to the `log`
//! argument in place, so `ps` shows the most recent error output. The first
//! five characters stay; the other `len - 5` are a window that shifts left
//! by one for every byte, NUL bytes excepted. [`ProcTitle`] is that window
//! (pure); [`ArgvMemory`] is the argument's bytes in our own memory, which
//! is what the kernel shows in `/proc/<pid>/cmdline`; [`LogPipe`] is the
//! pipe that becomes fd 2.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// The shortest `log` argument runit accepts.
pub const MIN_LEN: usize = 7;
/// Characters at the start of the argument that never change.
pub const FIXED: usize = 5;

/// The `log` argument's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcTitle {
    buf: Vec<u8>,
}

impl ProcTitle {
    /// The title for argument `arg`, or `None` when it is shorter than
    /// [`MIN_LEN`] (runit then disables the log).
    pub fn new(arg: &[u8]) -> Option<Self> {
        (arg.len() >= MIN_LEN).then(|| ProcTitle { buf: arg.to_vec() })
    }

    /// Appends `bytes` (NULs dropped) to the window.
    pub fn push(&mut self, bytes: &[u8]) {
        let incoming: Vec<u8> = bytes.iter().copied().filter(|&b| b != 0).collect();
        let window = &mut self.buf[FIXED..];
        let w = window.len();
        if incoming.len() >= w {
            window.copy_from_slice(&incoming[incoming.len() - w..]);
        } else {
            window.rotate_left(incoming.len());
            window[w - incoming.len()..].copy_from_slice(&incoming);
        }
    }

    /// The argument as it should now read.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// The `log` argument's bytes in our memory (the kernel's argument area).
#[derive(Debug)]
pub struct ArgvMemory {
    ptr: *mut u8,
    len: usize,
}

impl ArgvMemory {
    /// Finds argument `index` of `args` in the argument area that
    /// `/proc/self/stat` reports (fields `arg_start`, `arg_end`), after
    /// checking that the area holds exactly `args`. `None` if it cannot be
    /// found: the title is then not shown, everything else still works.
    pub fn locate(args: &[OsString], index: usize) -> Option<Self> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        let (start, end) = arg_area(&stat)?;
        let mut expected = Vec::new();
        let mut offset = None;
        for (i, a) in args.iter().enumerate() {
            if i == index {
                offset = Some(expected.len());
            }
            expected.extend_from_slice(a.as_bytes());
            expected.push(0);
        }
        let offset = offset?;
        let area = end.checked_sub(start)?;
        if area < expected.len() || start == 0 {
            return None;
        }
        // SAFETY: [start, end) is this process's argument area as the kernel
        // reports it (the initial stack holds the argv strings there, live
        // for the whole process); we read only `expected.len()` bytes of it.
        let actual = unsafe { std::slice::from_raw_parts(start as *const u8, expected.len()) };
        if actual != expected.as_slice() {
            return None;
        }
        let len = args.get(index)?.len();
        Some(ArgvMemory { ptr: (start + offset) as *mut u8, len })
    }

    /// Overwrites the argument with `title` (truncated to its length; the
    /// terminating NUL is never touched).
    pub fn show(&mut self, title: &[u8]) {
        let n = title.len().min(self.len);
        // SAFETY: `ptr..ptr+len` lies in the verified argument area, which
        // is writable stack memory nobody else references (the entry point
        // copied argv into owned strings).
        unsafe { std::ptr::copy_nonoverlapping(title.as_ptr(), self.ptr, n) };
    }
}

/// `arg_start` and `arg_end` from the text of `/proc/self/stat` (fields 48
/// and 49; the command name in field 2 may contain spaces and parentheses).
fn arg_area(stat: &str) -> Option<(usize, usize)> {
    let after = stat.rsplit_once(')')?.1;
    let mut fields = after.split_whitespace().skip(48 - 3);
    let start = fields.next()?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    Some((start, end))
}

/// The pipe that is runsvdir's (and its children's) stderr.
#[derive(Debug)]
pub struct LogPipe {
    read: File,
}

/// Why the log could not be set up (runit's wording).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPipeError {
    /// `pipe` failed.
    Pipe,
    /// `dup2` onto fd 2 failed.
    Dup,
}

impl LogPipeError {
    /// runit's warning text.
    pub fn text(self) -> &'static str {
        match self {
            LogPipeError::Pipe => "unable to create pipe for log.",
            LogPipeError::Dup => "unable to set filedescriptor for log.",
        }
    }
}

impl LogPipe {
    /// Creates the pipe (non-blocking, close-on-exec) and makes its write
    /// end fd 2, inherited by everything runsvdir starts.
    pub fn install() -> Result<Self, LogPipeError> {
        let (read, write): (OwnedFd, OwnedFd) =
            runit_core::selfpipe::pipe(libc::O_NONBLOCK | libc::O_CLOEXEC).map_err(|_| LogPipeError::Pipe)?;
        // SAFETY: dup2 on two open descriptors; fd 2 gets no close-on-exec.
        if unsafe { libc::dup2(write.as_raw_fd(), 2) } < 0 {
            return Err(LogPipeError::Dup);
        }
        Ok(LogPipe { read: File::from(read) })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> RawFd {
        self.read.as_raw_fd()
    }

    /// Reads everything available now.
    pub fn drain(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match (&self.read).read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(buf.get(..n).unwrap_or_default()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_short_is_refused() {
        assert!(ProcTitle::new(b"log:..").is_none());
        assert!(ProcTitle::new(b"log:...").is_some());
    }

    #[test]
    fn window_shifts_one_byte_at_a_time() {
        let mut t = ProcTitle::new(b"log:.......").expect("title");
        t.push(b"ab");
        assert_eq!(t.as_bytes(), b"log:.....ab");
        t.push(b"c");
        assert_eq!(t.as_bytes(), b"log:....abc");
    }

    #[test]
    fn first_five_characters_never_change() {
        let mut t = ProcTitle::new(b"log: xxxxxx").expect("title");
        t.push(b"0123456789");
        assert_eq!(t.as_bytes(), b"log: 456789");
    }

    #[test]
    fn nul_bytes_are_skipped() {
        let mut t = ProcTitle::new(b"log:......").expect("title");
        t.push(b"a\0b\0\0c");
        assert_eq!(t.as_bytes(), b"log:...abc");
    }

    #[test]
    fn matches_observed_runit_window() {
        // runsvdir.md §7 (observed with Debian's runsvdir): the start-up dot,
        // then a warning, then nothing more; a 57-character argument.
        let arg = format!("log:{}", ".".repeat(53));
        let mut t = ProcTitle::new(arg.as_bytes()).expect("title");
        t.push(b"runsvdir /tmp/rsd/s: warning: unable to stat dang: file does not exist\n");
        t.push(b".");
        assert_eq!(t.as_bytes(), b"log:. warning: unable to stat dang: file does not exist\n.");
    }

    #[test]
    fn same_result_bytewise_and_in_one_push() {
        let input = b"runsvdir sv: warning: unable to stat x: file does not exist\nmore";
        let mut a = ProcTitle::new(b"log:....................").expect("title");
        let mut b = a.clone();
        a.push(input);
        for byte in input {
            b.push(std::slice::from_ref(byte));
        }
        assert_eq!(a, b);
    }

    #[test]
    fn arg_area_parses_stat() {
        let mut stat = String::from("123 (a) b) S");
        for i in 4..=52 {
            stat.push_str(&format!(" {i}"));
        }
        assert_eq!(arg_area(&stat), Some((48, 49)));
    }
}
