//! The `supervise/` directory: how runsv sets it up and publishes state, and
//! how clients probe, read and command it (supervise.md §2-§7, §17; sv.md §4).
//!
//! Paths are relative to a service directory. runsv, which changes into the
//! service directory, uses [`Supervise::MAIN`] (`supervise/...`) and
//! [`Supervise::LOG`] (`log/supervise/...`); the message texts name those
//! paths exactly as runit's do. Clients pass the service directory to the
//! `probe`/`read_status`/`send_control` functions.

use crate::atomic::{self, Step};
use crate::errtext;
use crate::layout::supervise as files;
use crate::status::{STATUS_LEN, Status};
use std::ffi::CString;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A failure with runit's wording: `<what>[: <error text>]`.
#[derive(Debug)]
pub struct Failure {
    /// What was being done, in runit's words (`unable to lock supervise/lock`).
    pub what: String,
    /// The system error, when there is one.
    pub error: Option<io::Error>,
}

impl Failure {
    fn new(what: impl Into<String>, error: Option<io::Error>) -> Self {
        Failure { what: what.into(), error }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.error {
            Some(e) => write!(f, "{}: {}", self.what, errtext::io_text(e)),
            None => f.write_str(&self.what),
        }
    }
}

impl std::error::Error for Failure {}

/// The read end of a FIFO plus a write end held open so that reads never see
/// end-of-file when clients close.
#[derive(Debug)]
pub struct Fifo {
    /// Non-blocking read end.
    pub read: File,
    /// Write end, kept open and never written.
    pub keepalive: File,
}

/// One service's `supervise/` directory, as seen from the service directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supervise {
    /// `""` for the main service, `"log/"` for the log service.
    base: &'static str,
}

impl Supervise {
    /// The main service: `supervise/`.
    pub const MAIN: Supervise = Supervise { base: "" };
    /// The log service: `log/supervise/`.
    pub const LOG: Supervise = Supervise { base: "log/" };

    /// `supervise/<file>` (or `log/supervise/<file>`).
    pub fn path(&self, file: &str) -> PathBuf {
        PathBuf::from(format!("{}supervise/{file}", self.base))
    }

    fn name(&self, file: &str) -> String {
        format!("{}supervise/{file}", self.base)
    }

    /// Creates `supervise/` with mode 0700. If `supervise` is a symlink whose
    /// target does not exist, the target (one level, relative to the
    /// directory holding the link) is created instead (§2 step 5, §17).
    pub fn create(&self) -> Result<(), Failure> {
        let link = PathBuf::from(format!("{}supervise", self.base));
        if fs::DirBuilder::new().mode(0o700).create(&link).is_ok() {
            return Ok(());
        }
        match fs::read_link(&link) {
            Ok(target) => {
                if target.as_os_str().len() >= 256 {
                    return Err(Failure::new(
                        format!("unable to readlink ./{}supervise: name too long", self.base),
                        None,
                    ));
                }
                let dir = if target.is_absolute() {
                    target
                } else {
                    Path::new(if self.base.is_empty() { "." } else { "log" }).join(target)
                };
                let _ = fs::DirBuilder::new().mode(0o700).create(dir);
                Ok(())
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::EINVAL)) => Ok(()),
            Err(e) => Err(Failure::new(format!("unable to readlink ./{}supervise", self.base), Some(e))),
        }
    }

    /// Opens (creating, mode 0600) `supervise/lock` and takes an exclusive
    /// `flock`, non-blocking or blocking. The returned file holds the lock.
    pub fn lock(&self, blocking: bool) -> Result<File, Failure> {
        let name = self.name(files::LOCK);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NONBLOCK)
            .mode(0o600)
            .open(&name)
            .map_err(|e| Failure::new(format!("unable to open {name}"), Some(e)))?;
        flock(&file, blocking).map_err(|e| Failure::new(format!("unable to lock {name}"), Some(e)))?;
        Ok(file)
    }

    /// Creates `supervise/control` (0600) if missing, checks that it is a
    /// FIFO, and opens it for reading plus a keep-alive writer.
    pub fn open_control(&self) -> Result<Fifo, Failure> {
        let name = self.name(files::CONTROL);
        let _ = mkfifo(Path::new(&name), 0o600);
        let meta =
            fs::metadata(&name).map_err(|e| Failure::new(format!("unable to stat {name}"), Some(e)))?;
        if !meta.file_type().is_fifo() {
            return Err(Failure::new(format!("{name} exists but is not a fifo"), None));
        }
        let open_err = |e| Failure::new(format!("unable to open {name}"), Some(e));
        let read = open_fifo(Path::new(&name), false).map_err(open_err)?;
        let keepalive = open_fifo(Path::new(&name), true).map_err(open_err)?;
        Ok(Fifo { read, keepalive })
    }

    /// Creates `supervise/ok` (0600) if missing and opens its read end; while
    /// this descriptor is open, clients' liveness probes succeed.
    pub fn open_ok(&self) -> Result<File, Failure> {
        let name = self.name(files::OK);
        let _ = mkfifo(Path::new(&name), 0o600);
        open_fifo(Path::new(&name), false)
            .map_err(|e| Failure::new(format!("unable to read {name}"), Some(e)))
    }

    /// Publishes the service's state with runit's protocol (§4): `pid`
    /// (only when `pid` is `Some`), then `stat`, then `status`, each through
    /// a `.new` file and a rename. A failed `pid` or the opening of `stat`
    /// abandons the rest. Returns the warnings to print (without prefix).
    pub fn write_state(&self, pid: Option<u32>, stat: &str, status: &Status) -> Vec<String> {
        let mut warnings = Vec::new();
        let loose = atomic::Options { check_write: false, ..atomic::Options::default() };
        if let Some(pid) = pid {
            let text = crate::status::pid_text(pid);
            if let Err(e) = atomic::replace(&self.path(files::PID), text.as_bytes(), loose) {
                warnings.push(self.warning(files::PID, &e));
                return warnings;
            }
        }
        if let Err(e) = atomic::replace(&self.path(files::STAT), stat.as_bytes(), loose) {
            warnings.push(self.warning(files::STAT, &e));
            if e.step == Step::Open {
                return warnings;
            }
        }
        if let Err(e) =
            atomic::replace(&self.path(files::STATUS), &status.encode(), atomic::Options::default())
        {
            warnings.push(self.warning(files::STATUS, &e));
        }
        warnings
    }

    fn warning(&self, file: &str, e: &atomic::ReplaceError) -> String {
        let text = errtext::io_text(&e.error);
        let new = format!("{}.new", self.name(file));
        match e.step {
            Step::Open => format!("unable to open {new}: {text}"),
            Step::Write => format!("unable to write {new}: {text}"),
            Step::PartialWrite => format!("unable to write {new}: partial write."),
            Step::Rename => format!("unable to rename {file}.new to {}: {text}", self.name(file)),
        }
    }
}

fn cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// `mkfifo(2)`.
pub fn mkfifo(path: &Path, mode: u32) -> io::Result<()> {
    let c = cstring(path)?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::mkfifo(c.as_ptr(), mode as libc::mode_t) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `flock(LOCK_EX)`, with `LOCK_NB` unless `blocking`.
pub fn flock(file: &File, blocking: bool) -> io::Result<()> {
    let op = if blocking { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
    loop {
        // SAFETY: the descriptor is owned by `file` and open.
        if unsafe { libc::flock(file.as_raw_fd(), op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Opens a FIFO without blocking: for reading, or for writing (which fails
/// with ENXIO when nobody holds the read end).
pub fn open_fifo(path: &Path, write: bool) -> io::Result<File> {
    OpenOptions::new().read(!write).write(write).custom_flags(libc::O_NONBLOCK).open(path)
}

/// The liveness probe: opens `<dir>/supervise/ok` for writing without
/// blocking and closes it. `Ok` means a runsv holds the read end; an error
/// with ENXIO means no runsv is running (§3.1).
pub fn probe(service_dir: &Path, sup: Supervise) -> io::Result<()> {
    open_fifo(&service_dir.join(sup.path(files::OK)), true).map(drop)
}

/// Why [`read_status`] failed.
#[derive(Debug)]
pub enum ReadStatusError {
    /// `supervise/status` could not be opened.
    Open(io::Error),
    /// The read failed.
    Read(io::Error),
    /// Fewer than 20 bytes.
    BadFormat,
}

/// Reads `<dir>/supervise/status` with one `read` of 20 bytes, as `sv` does.
pub fn read_status(service_dir: &Path, sup: Supervise) -> Result<Status, ReadStatusError> {
    let mut f = File::open(service_dir.join(sup.path(files::STATUS))).map_err(ReadStatusError::Open)?;
    let mut buf = [0u8; STATUS_LEN];
    let n = loop {
        match f.read(&mut buf) {
            Ok(n) => break n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ReadStatusError::Read(e)),
        }
    };
    Status::decode(&buf[..n]).map_err(|_| ReadStatusError::BadFormat)
}

/// Why [`send_control`] failed.
#[derive(Debug)]
pub enum SendError {
    /// `supervise/control` could not be opened (ENXIO: no runsv).
    Open(io::Error),
    /// The write failed or was short.
    Write(io::Error),
}

/// Writes `bytes` into `<dir>/supervise/control` with one `write`, opening
/// the FIFO without blocking (§8).
pub fn send_control(service_dir: &Path, sup: Supervise, bytes: &[u8]) -> Result<(), SendError> {
    let mut f = open_fifo(&service_dir.join(sup.path(files::CONTROL)), true).map_err(SendError::Open)?;
    match f.write(bytes) {
        Ok(n) if n == bytes.len() => Ok(()),
        Ok(_) => Err(SendError::Write(io::ErrorKind::WriteZero.into())),
        Err(e) => Err(SendError::Write(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::{State, WANT_UP};
    use crate::tai::Tai64N;
    use std::os::unix::fs::PermissionsExt;

    /// Runs `f` with the current directory set to a fresh temp dir. Tests
    /// that change directory are serialised by this lock.
    fn in_temp_dir(name: &str, f: impl FnOnce(&Path)) {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _g = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        let dir = std::env::temp_dir().join(format!("runit-core-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("log")).expect("temp dir");
        let old = std::env::current_dir().expect("cwd");
        std::env::set_current_dir(&dir).expect("chdir");
        f(&dir);
        std::env::set_current_dir(old).expect("chdir back");
        fs::remove_dir_all(&dir).expect("cleanup");
    }

    #[test]
    fn setup_creates_runit_modes_and_probe_works() {
        in_temp_dir("setup", |dir| {
            let s = Supervise::MAIN;
            s.create().expect("create");
            let _lock = s.lock(false).expect("lock");
            let control = s.open_control().expect("control");
            assert!(matches!(probe(dir, s), Err(e) if e.raw_os_error() == Some(libc::ENOENT)));
            mkfifo(Path::new("supervise/ok"), 0o600).expect("mkfifo");
            assert!(matches!(probe(dir, s), Err(e) if e.raw_os_error() == Some(libc::ENXIO)));
            let _ok = s.open_ok().expect("ok");
            probe(dir, s).expect("runsv alive");
            let mode = |p: &str| fs::metadata(p).expect(p).permissions().mode() & 0o7777;
            assert_eq!(mode("supervise") & 0o077, 0, "supervise is private");
            assert_eq!(mode("supervise/control") & 0o077, 0);
            send_control(dir, s, b"tcu").expect("send");
            let mut buf = [0u8; 8];
            let n = (&control.read).read(&mut buf).expect("read");
            assert_eq!(&buf[..n], b"tcu");
        });
    }

    #[test]
    fn second_lock_fails_with_temporary_failure() {
        in_temp_dir("lock", |_| {
            let s = Supervise::MAIN;
            s.create().expect("create");
            let _held = s.lock(false).expect("lock");
            let err = s.lock(false).expect_err("second lock");
            assert_eq!(err.to_string(), "unable to lock supervise/lock: temporary failure");
        });
    }

    #[test]
    fn control_that_is_a_file_is_fatal() {
        in_temp_dir("notfifo", |_| {
            let s = Supervise::MAIN;
            s.create().expect("create");
            fs::write("supervise/control", b"").expect("file");
            let err = s.open_control().expect_err("not a fifo");
            assert_eq!(err.to_string(), "supervise/control exists but is not a fifo");
        });
    }

    #[test]
    fn symlinked_supervise_target_is_created() {
        in_temp_dir("symlink", |_| {
            std::os::unix::fs::symlink("foo", "supervise").expect("link");
            std::os::unix::fs::symlink("bar", "log/supervise").expect("log link");
            Supervise::MAIN.create().expect("create");
            Supervise::LOG.create().expect("create log");
            assert!(Path::new("foo").is_dir());
            assert!(Path::new("log/bar").is_dir());
            let _l = Supervise::LOG.lock(true).expect("log lock through link");
            assert!(Path::new("log/bar/lock").exists());
        });
    }

    #[test]
    fn state_round_trips_through_files() {
        in_temp_dir("state", |dir| {
            let s = Supervise::LOG;
            s.create().expect("create");
            let st = Status {
                stamp: Tai64N::from_unix_micros(1_700_000_000, 5),
                pid: 4242,
                paused: false,
                want: WANT_UP,
                got_term: false,
                state: State::Run,
            };
            assert!(s.write_state(Some(4242), "run\n", &st).is_empty());
            assert_eq!(fs::read("log/supervise/pid").expect("pid"), b"4242\n");
            assert_eq!(fs::read("log/supervise/stat").expect("stat"), b"run\n");
            assert_eq!(read_status(dir, s).expect("status"), st);
            assert!(!Path::new("log/supervise/status.new").exists());
            fs::write("log/supervise/status", [0u8; 7]).expect("short");
            assert!(matches!(read_status(dir, s), Err(ReadStatusError::BadFormat)));
        });
    }

    #[test]
    fn write_warnings_use_runit_words() {
        in_temp_dir("warn", |_| {
            let st = Status {
                stamp: Tai64N::default(),
                pid: 0,
                paused: false,
                want: WANT_UP,
                got_term: false,
                state: State::Down,
            };
            // No supervise/ directory: the pid step fails and the update is abandoned.
            let w = Supervise::MAIN.write_state(Some(0), "down\n", &st);
            assert_eq!(w, vec!["unable to open supervise/pid.new: file does not exist".to_string()]);
            let w = Supervise::LOG.write_state(None, "down\n", &st);
            assert_eq!(w, vec!["unable to open log/supervise/stat.new: file does not exist".to_string()]);
        });
    }
}
