//! `supervise/instance`: which process runsv last started, precisely enough
//! to recognise it after runsv itself died (runit-rs extension).
//!
//! runit records only the pid of `./run` (`supervise/pid`). When runsv is
//! SIGKILLed, `./run` lives on as an orphan and a new runsv on the same
//! directory starts a second copy. runit-rs's runsv also writes this file
//! (and `log/supervise/instance` for the log service) every time it starts
//! a service process; a new runsv reads it at start-up and stops a
//! previous instance that is still alive before starting a fresh one
//! (`boot down` does the same for a service whose runsv is gone).
//!
//! Format: one text line, padded with spaces before its newline to
//! [`RECORD_LEN`] bytes (an empty or missing file: nothing was started)
//!
//! ```text
//! <kind> <pid> <starttime> <boot_id>\n
//! ```
//!
//! * `kind`: `run` (`./run`, or `log/run` in `log/supervise/instance`) or
//!   `finish` (`./finish`);
//! * `pid`: decimal pid, also the process-group id (runit-rs starts service
//!   processes as process-group leaders);
//! * `starttime`: field 22 of `/proc/<pid>/stat` (clock ticks after boot),
//!   which tells a reused pid apart from the recorded process;
//! * `boot_id`: `/proc/sys/kernel/random/boot_id`, so that a record that
//!   survived a reboot (a `supervise/` on persistent storage) never matches.
//!
//! With the padding each record fits exactly over the last: runsv's
//! [`Writer`] writes it in place with one `pwrite(2)` (mode 0644 when it
//! creates the file), no rename, as a crash-looping service starts every
//! second. The file is read only once its writer has died. A record is not
//! cleared when its process ends: the process it names is recognised only
//! while it runs (same boot, pid and start time, [`Instance::is_running`]),
//! so a stale record is harmless. C runit's `sv` ignores the file.

use crate::atomic;
use crate::supervise::Supervise;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// File name inside `supervise/`.
pub const FILE: &str = "instance";
/// Length of a padded record, newline included (the longest record,
/// `finish`, a 7-digit pid, a 20-digit start time and a 36-character boot
/// id, is 73 bytes).
pub const RECORD_LEN: usize = 80;

/// What kind of service process a record describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `./run` (or `log/run` in the log's file).
    Run,
    /// `./finish`.
    Finish,
}

impl Kind {
    /// The word in the file.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Run => "run",
            Kind::Finish => "finish",
        }
    }
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// What the process is.
    pub kind: Kind,
    /// Its pid (and process-group id).
    pub pid: u32,
    /// Field 22 of `/proc/<pid>/stat` when it was recorded.
    pub start_time: u64,
    /// The kernel's boot id when it was recorded.
    pub boot_id: String,
}

impl Instance {
    /// Describes the live process `pid` as it is now (reads `/proc`).
    pub fn of(kind: Kind, pid: u32, boot_id: &str) -> io::Result<Self> {
        Ok(Instance { kind, pid, start_time: start_time(pid)?, boot_id: boot_id.to_string() })
    }

    /// The file's line, newline included.
    pub fn encode(&self) -> String {
        format!("{} {} {} {}\n", self.kind.word(), self.pid, self.start_time, self.boot_id)
    }

    /// The line padded to [`RECORD_LEN`] bytes (spaces before the
    /// newline); `None` if it is longer (a boot id of unusual length).
    pub fn encode_padded(&self) -> Option<Vec<u8>> {
        let mut line = self.encode().into_bytes();
        line.pop();
        (line.len() < RECORD_LEN).then(|| {
            line.resize(RECORD_LEN - 1, b' ');
            line.push(b'\n');
            line
        })
    }

    /// Decodes the file's contents; `None` for an empty or malformed file.
    /// Padding spaces before the newline are allowed.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let line = text.strip_suffix('\n')?.trim_end_matches(' ');
        let mut fields = line.split(' ');
        let kind = match fields.next()? {
            "run" => Kind::Run,
            "finish" => Kind::Finish,
            _ => return None,
        };
        let pid = fields.next()?.parse::<u32>().ok().filter(|&p| p > 1)?;
        let start_time = fields.next()?.parse().ok()?;
        let boot_id = fields.next().filter(|b| !b.is_empty())?.to_string();
        if fields.next().is_some() || i32::try_from(pid).is_err() {
            return None;
        }
        Some(Instance { kind, pid, start_time, boot_id })
    }

    /// True while the recorded process itself still exists (not a zombie):
    /// same boot, same pid, same start time.
    pub fn is_running(&self, boot_id: &str) -> bool {
        self.boot_id == boot_id
            && proc_stat(self.pid).is_ok_and(|s| s.start_time == self.start_time && s.state != 'Z')
    }
}

/// Reads `<service_dir>/supervise/instance` (or the log's).
pub fn read(service_dir: &Path, sup: Supervise) -> Option<Instance> {
    fs::read(service_dir.join(sup.path(FILE))).ok().and_then(|b| Instance::decode(&b))
}

/// runsv's writer of `supervise/instance` (or the log's): every record is
/// written in place, over the last.
#[derive(Debug)]
pub struct Writer {
    sup: Supervise,
    /// The file is known to be no longer than a record.
    checked: bool,
}

impl Writer {
    /// A writer for `sup`'s file.
    pub fn new(sup: Supervise) -> Self {
        Writer { sup, checked: false }
    }

    /// Records `record` in `service_dir` (empty: the current directory,
    /// as runsv writes it): one `pwrite(2)` of [`RECORD_LEN`] bytes at the
    /// start of the file, created if missing (mode 0644). The first time,
    /// anything longer (not written by this version) is cut to a record.
    pub fn record(&mut self, service_dir: &Path, record: &Instance) -> io::Result<()> {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        let path = service_dir.join(self.sup.path(FILE));
        let Some(line) = record.encode_padded() else {
            self.checked = false;
            let text = record.encode();
            return atomic::replace(&path, text.as_bytes(), atomic::Options::default()).map_err(|e| e.error);
        };
        let file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .mode(0o644)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(&path)?;
        file.write_all_at(&line, 0)?;
        if !self.checked {
            if file.metadata()?.len() > RECORD_LEN as u64 {
                file.set_len(RECORD_LEN as u64)?;
            }
            self.checked = true;
        }
        Ok(())
    }
}

/// The kernel's boot id (`/proc/sys/kernel/random/boot_id`, trimmed).
pub fn boot_id() -> io::Result<String> {
    let bytes = read_proc("/proc/sys/kernel/random/boot_id", 64)?;
    Ok(String::from_utf8_lossy(&bytes).trim().to_string())
}

/// Reads a `/proc` file expected to hold about `size` bytes: one `read`
/// into a buffer of that size and one that sees the end. (`fs::read` takes
/// the size from `stat`, which is 0 in `/proc`, and grows its buffer from
/// 32 bytes, a `read` per doubling; runsv reads such a file per start.)
pub fn read_proc(path: impl AsRef<Path>, size: usize) -> io::Result<Vec<u8>> {
    let mut file = fs::File::open(path)?;
    // Not `read_to_end`, which asks `fstat` and `lseek` for a size hint
    // first: two system calls that tell nothing in /proc.
    let mut buf = vec![0u8; size.max(64)];
    let mut len = 0;
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        match file.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(len);
    Ok(buf)
}

/// The fields of `/proc/<pid>/stat` runit-rs cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `Z`, ...
    pub state: char,
    /// Field 4: parent pid.
    pub ppid: i32,
    /// Field 5: process-group id.
    pub pgrp: i32,
    /// Field 22: start time in clock ticks after boot.
    pub start_time: u64,
}

/// Reads and parses `/proc/<pid>/stat`.
pub fn proc_stat(pid: u32) -> io::Result<ProcStat> {
    let text = read_proc(format!("/proc/{pid}/stat"), 512)?;
    parse_stat(&text).ok_or_else(|| io::Error::from_raw_os_error(libc::EPROTO))
}

/// Field 22 of `/proc/<pid>/stat`.
pub fn start_time(pid: u32) -> io::Result<u64> {
    proc_stat(pid).map(|s| s.start_time)
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat(text: &[u8]) -> Option<ProcStat> {
    let close = text.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(text.get(close + 1..)?).ok()?;
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    // Fields 6..21 lie between pgrp (5) and starttime (22).
    let start_time = fields.nth(16)?.parse().ok()?;
    Some(ProcStat { state, ppid, pgrp, start_time })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let i = Instance { kind: Kind::Finish, pid: 4242, start_time: 987654, boot_id: "abc-def".into() };
        assert_eq!(i.encode(), "finish 4242 987654 abc-def\n");
        assert_eq!(Instance::decode(i.encode().as_bytes()), Some(i));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &b""[..],
            b"run 12 34 b",
            b"run 12 34\n",
            b"walk 12 34 b\n",
            b"run x 34 b\n",
            b"run 1 34 b\n",
            b"run 12 34 b extra\n",
            b"run 99999999999 34 b\n",
        ] {
            assert_eq!(Instance::decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn parses_stat_with_odd_command_names() {
        let line = b"77 (a) b (c) S 1 77 77 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 123456 1000 10";
        let s = parse_stat(line).expect("parse");
        assert_eq!(s, ProcStat { state: 'S', ppid: 1, pgrp: 77, start_time: 123456 });
    }

    #[test]
    fn describes_this_process() {
        let me = std::process::id();
        let boot = boot_id().expect("boot id");
        let i = Instance::of(Kind::Run, me, &boot).expect("self");
        assert!(i.is_running(&boot));
        assert!(!i.is_running("another-boot"));
        let reused = Instance { start_time: i.start_time + 1, ..i.clone() };
        assert!(!reused.is_running(&boot));
    }

    #[test]
    fn the_writer_pads_and_overwrites_in_place() {
        let dir = std::env::temp_dir().join(format!("instance-writer-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("supervise")).expect("scratch dir");
        let file = dir.join("supervise/instance");
        // Longer than a record: the first write cuts it to one.
        fs::write(&file, vec![b'x'; 200]).expect("scratch file");
        let boot = "0123456789abcdef0123456789abcdef0123";
        let long =
            Instance { kind: Kind::Finish, pid: 4_194_304, start_time: u64::MAX, boot_id: boot.into() };
        let short = Instance { kind: Kind::Run, pid: 7, start_time: 1, boot_id: boot.into() };
        let mut w = Writer::new(Supervise::MAIN);
        for rec in [&long, &short, &long, &short] {
            w.record(&dir, rec).expect("record");
            let bytes = fs::read(&file).expect("read back");
            assert_eq!(bytes.len(), RECORD_LEN);
            assert_eq!(Instance::decode(&bytes).as_ref(), Some(rec));
            assert_eq!(read(&dir, Supervise::MAIN).as_ref(), Some(rec));
        }
        // Removed behind its back: made afresh, mode 0644 (umask allowing).
        fs::remove_file(&file).expect("remove");
        w.record(&dir, &long).expect("record");
        assert_eq!(read(&dir, Supervise::MAIN), Some(long.clone()));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&file).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode & !0o644, 0, "mode {mode:o}");
        // A boot id too long to pad: written unpadded, still readable.
        let odd = Instance { boot_id: "b".repeat(100), ..short };
        assert_eq!(odd.encode_padded(), None);
        w.record(&dir, &odd).expect("record");
        assert_eq!(read(&dir, Supervise::MAIN), Some(odd));
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
