//! Environment directories: `chpst -e dir`, `-E dir` and `envdir dir`.
//!
//! spec/chpst.md §5. Each entry of the directory whose name does not start
//! with `.` names a variable; its value is the file's first line (up to the
//! first `\n`, the whole file if there is none) with trailing spaces and
//! tabs removed (not CR, not leading blanks) and every NUL byte turned into
//! a newline. An empty (0-byte) file removes the variable; a file holding
//! just `\n` sets it to the empty string.
//!
//! The directory is read as runit reads it, system call for system call,
//! because the permissions those calls need are observable: the current
//! directory is opened (so it must be readable), then chpst changes into
//! the directory (search permission), lists it (read permission), opens
//! each entry without blocking (a FIFO without a writer reads as empty), and
//! finally changes back. Each failure has its own runit message.
//!
//! A subdirectory is skipped by `chpst -e` (with `-v`: a warning) but is
//! fatal for `envdir`. Where we deliberately differ from runit:
//!
//! * an entry that vanishes between listing and opening (or a dangling
//!   symbolic link) is skipped; runit reuses the previous file's value plus
//!   a newline for it (spec §5 "Quirk");
//! * only the first line is read, never the rest of the file, and at most
//!   [`VALUE_CAP`] bytes of it are kept. A longer value could never be
//!   passed to a program (Linux refuses any environment string longer than
//!   `MAX_ARG_STRLEN`, so the exec fails with "argument list too long", as
//!   runit's does); keeping a prefix of that length preserves the failure
//!   without holding an unbounded line in memory.

use crate::environ::EnvChange;
use crate::error::Fatal;
use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;

/// The longest value kept: Linux's `MAX_ARG_STRLEN` (32 pages of 4 KiB), the
/// limit on one `name=value` string. A value of this length never fits.
pub const VALUE_CAP: usize = 32 * 4096;

/// What to do with a subdirectory inside the envdir.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subdirs {
    /// `chpst -e`/`-E`: skip it (the caller may warn).
    Skip,
    /// `envdir`: fail with `unable to read <dir>/<name>: is a directory`.
    Fatal,
}

/// The value of an envdir file, from the bytes `input` yields: `None` for an
/// empty file (remove the variable), else the first line as runit uses it.
/// Reads no further than the first newline.
pub fn first_line(mut input: impl Read) -> io::Result<Option<Vec<u8>>> {
    let mut value = Vec::new();
    let mut buf = [0u8; 4096];
    let mut empty = true;
    // Bytes of the line beyond VALUE_CAP: only whether one is not blank
    // matters (then the value is too long to ever be passed on).
    let mut overflow = false;
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        empty = false;
        let chunk = &buf[..n];
        let (line, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        let room = VALUE_CAP - value.len();
        if line.len() <= room {
            value.extend_from_slice(line);
        } else {
            value.extend_from_slice(&line[..room]);
            overflow = line[room..].iter().any(|&b| !is_blank(b));
        }
        // Once the value is known to be too long, the rest cannot matter.
        if done || overflow {
            break;
        }
    }
    if empty {
        return Ok(None);
    }
    if !overflow {
        let end = value.iter().rposition(|&b| !is_blank(b)).map_or(0, |i| i + 1);
        value.truncate(end);
    }
    for b in &mut value {
        if *b == 0 {
            *b = b'\n';
        }
    }
    Ok(Some(value))
}

/// runit trims only spaces and tabs from the end of a value.
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Reads the directory `dir` (relative to the current directory) into
/// changes, in directory order. `skipped` is called for each subdirectory
/// skipped under [`Subdirs::Skip`], before any later failure is returned.
pub fn read(dir: &OsStr, subdirs: Subdirs, skipped: &mut dyn FnMut(&[u8])) -> Result<Vec<EnvChange>, Fatal> {
    let d = dir.as_bytes();
    let start = File::open(".").map_err(Fatal::OpenCwd)?;
    std::env::set_current_dir(dir).map_err(|e| Fatal::SwitchDir(d.to_vec(), e))?;
    let listing = fs::read_dir(".").map_err(|e| Fatal::OpenDir(d.to_vec(), e))?;
    let mut changes = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| Fatal::ReadDir(d.to_vec(), e))?;
        let name = entry.file_name();
        let name = name.as_bytes();
        if name.first() == Some(&b'.') {
            continue;
        }
        match read_entry(name) {
            Ok(Some(change)) => changes.push(change),
            Ok(None) => {}
            Err(e) if e.raw_os_error() == Some(libc::EISDIR) && subdirs == Subdirs::Skip => skipped(name),
            Err(err) => return Err(Fatal::ReadFile { dir: d.to_vec(), name: name.to_vec(), err }),
        }
    }
    // SAFETY: fchdir on a descriptor we own and keep open.
    if unsafe { libc::fchdir(start.as_raw_fd()) } < 0 {
        return Err(Fatal::SwitchBack(io::Error::last_os_error()));
    }
    Ok(changes)
}

/// The change for entry `name` of the current directory; `None` when it
/// vanished (or is a dangling link).
fn read_entry(name: &[u8]) -> io::Result<Option<EnvChange>> {
    let file =
        match OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(OsStr::from_bytes(name)) {
            Ok(f) => f,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(e),
        };
    Ok(Some(match first_line(file)? {
        Some(value) => EnvChange::set(name, &value),
        None => EnvChange::unset(name),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(bytes: &[u8]) -> Option<Vec<u8>> {
        first_line(bytes).expect("read")
    }

    /// A reader handing out `bytes` in pieces of `step`, counting reads.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
        reads: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn first_line_trailing_blanks_trimmed() {
        assert_eq!(value(b"first line  \t \nsecond\n"), Some(b"first line".to_vec()));
        assert_eq!(value(b"first  \t\nsecond"), Some(b"first".to_vec()));
    }

    #[test]
    fn nul_becomes_newline_cr_and_leading_blanks_kept() {
        assert_eq!(value(b"a\0b\0c"), Some(b"a\nb\nc".to_vec()));
        assert_eq!(value(b"x\r\n"), Some(b"x\r".to_vec()));
        assert_eq!(value(b"  lead"), Some(b"  lead".to_vec()));
        assert_eq!(value(b"a \0"), Some(b"a \n".to_vec()));
        assert_eq!(value(b"v\x0b\x0c"), Some(b"v\x0b\x0c".to_vec()));
    }

    #[test]
    fn empty_file_removes_newline_only_sets_empty() {
        assert_eq!(value(b""), None);
        assert_eq!(value(b"\n"), Some(Vec::new()));
        assert_eq!(value(b"   \t\n"), Some(Vec::new()));
        assert_eq!(value(b"\nsecond"), Some(Vec::new()));
    }

    #[test]
    fn binary_content() {
        let bytes: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
        let got = value(&bytes).expect("value");
        assert_eq!(got.len(), bytes.len());
        assert_eq!(got[0], b'\n');
        assert_eq!(&got[1..], &bytes[1..]);
    }

    #[test]
    fn reads_stop_at_the_first_newline() {
        let mut big = b"short\n".to_vec();
        big.resize(1 << 20, b'x');
        let mut t = Trickle { bytes: &big, step: 4096, reads: 0 };
        assert_eq!(first_line(&mut t).expect("read"), Some(b"short".to_vec()));
        assert_eq!(t.reads, 1);
    }

    #[test]
    fn lines_split_over_reads() {
        let mut t = Trickle { bytes: b"abc  \t def \nrest", step: 3, reads: 0 };
        assert_eq!(first_line(&mut t).expect("read"), Some(b"abc  \t def".to_vec()));
    }

    #[test]
    fn huge_line_is_capped_but_never_fits() {
        let big = vec![b'a'; 3 * VALUE_CAP];
        let mut t = Trickle { bytes: &big, step: 4096, reads: 0 };
        assert_eq!(first_line(&mut t).expect("read").map(|v| v.len()), Some(VALUE_CAP));
        // Reading stops as soon as the value is known to be too long.
        assert_eq!(t.reads, VALUE_CAP / 4096 + 1);
    }

    #[test]
    fn huge_run_of_trailing_blanks_is_trimmed_exactly() {
        let mut line = b"x".to_vec();
        line.resize(2 * VALUE_CAP, b' ');
        line.extend_from_slice(b"\nrest");
        assert_eq!(value(&line), Some(b"x".to_vec()));
        // A non-blank after the blanks makes the value too long: keep the cap.
        let mut line = b"x".to_vec();
        line.resize(2 * VALUE_CAP, b' ');
        line.push(b'y');
        assert_eq!(value(&line).expect("value").len(), VALUE_CAP);
    }

    #[test]
    fn value_of_exactly_the_cap_is_kept_whole() {
        let mut line = vec![b'a'; VALUE_CAP];
        line.extend_from_slice(b"  \n");
        assert_eq!(value(&line).expect("value").len(), VALUE_CAP);
    }

    #[test]
    fn read_errors_propagate() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::from_raw_os_error(libc::EISDIR))
            }
        }
        assert_eq!(first_line(Broken).expect_err("error").raw_os_error(), Some(libc::EISDIR));
    }
}
