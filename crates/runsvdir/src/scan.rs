//! Reading the scan directory, in runit's order and with runit's messages
//! (runsvdir.md §3, §5).
//!
//! runit `stat`s `dir`, changes into it, reads `.` with `readdir`, `stat`s
//! every name not starting with a dot (following symlinks), starts the runsv
//! processes from there (so `runsv <name>` runs in `dir`), and changes back
//! to the directory it started in. Relative `dir`s are therefore resolved
//! against the initial working directory on every scan, which runsvdir keeps
//! open from start-up ("unable to open current directory" is its only fatal
//! error). [`ScanDir::enter`] returns a guard that changes back on drop.

use crate::say::Say;
use crate::table::{Identity, Kind};
use std::ffi::{CString, OsStr, OsString};
use std::fs::{self, File, Metadata};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The scan directory's own `stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirStat {
    /// Device and inode.
    pub id: Identity,
    /// Modification time since the epoch.
    pub mtime: Duration,
}

/// Why a scan could not list the directory (each already warned about).
#[derive(Debug)]
pub enum ScanError {
    /// `stat(dir)` failed.
    Stat(io::Error),
    /// `chdir(dir)` failed.
    Chdir(io::Error),
    /// `opendir(".")` failed.
    Open(io::Error),
    /// `readdir` failed.
    Read(io::Error),
}

impl ScanError {
    /// The underlying errno.
    pub fn errno(&self) -> Option<i32> {
        match self {
            ScanError::Stat(e) | ScanError::Chdir(e) | ScanError::Open(e) | ScanError::Read(e) => {
                e.raw_os_error()
            }
        }
    }
}

/// The scan directory as given, and the directory runsvdir started in.
#[derive(Debug)]
pub struct ScanDir {
    dir: OsString,
    dir_c: CString,
    cwd: OwnedFd,
}

impl ScanDir {
    /// Opens the current directory (runit: fatal if it cannot) and
    /// remembers `dir`.
    pub fn open(dir: &OsStr) -> io::Result<ScanDir> {
        let dir_c = CString::new(dir.as_bytes()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        // SAFETY: a NUL-terminated path; the result is checked.
        let fd = unsafe { libc::open(c".".as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just opened and is owned by nobody else.
        let cwd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(ScanDir { dir: dir.to_os_string(), dir_c, cwd })
    }

    /// The scan directory as given.
    pub fn dir(&self) -> &Path {
        Path::new(&self.dir)
    }

    /// A path naming the initial working directory for path resolution
    /// outside scans: `/proc/self/fd/<n>` (always right, even if the
    /// directory is renamed), else its current name, if either can be
    /// checked to be that directory.
    pub fn base(&self) -> Option<PathBuf> {
        let own = File::from(self.cwd.try_clone().ok()?).metadata().ok()?;
        let same = |p: &Path| fs::metadata(p).is_ok_and(|m| m.dev() == own.dev() && m.ino() == own.ino());
        let proc_path = PathBuf::from(format!("/proc/self/fd/{}", self.cwd.as_raw_fd()));
        if same(&proc_path) {
            return Some(proc_path);
        }
        std::env::current_dir().ok().filter(|p| same(p))
    }

    /// `stat(dir)`, warning on failure.
    pub fn stat(&self, say: &Say) -> Result<DirStat, ScanError> {
        match fs::metadata(&self.dir) {
            Ok(m) => Ok(DirStat { id: identity(&m), mtime: mtime(&m) }),
            Err(e) => {
                say.warn(&[b"unable to stat ", self.dir.as_bytes()], Some(&e));
                Err(ScanError::Stat(e))
            }
        }
    }

    /// Changes into `dir`, warning on failure.
    pub fn enter<'a>(&'a self, say: &'a Say) -> Result<InDir<'a>, ScanError> {
        // SAFETY: a NUL-terminated path; the result is checked.
        if unsafe { libc::chdir(self.dir_c.as_ptr()) } != 0 {
            let e = io::Error::last_os_error();
            say.warn(&[b"unable to change directory to ", self.dir.as_bytes()], Some(&e));
            return Err(ScanError::Chdir(e));
        }
        Ok(InDir { scan: self, say })
    }
}

/// runsvdir's working directory is the scan directory while this lives.
#[derive(Debug)]
pub struct InDir<'a> {
    scan: &'a ScanDir,
    say: &'a Say,
}

impl InDir<'_> {
    /// Opens the directory for listing, warning on failure.
    pub fn names(&self) -> Result<Names<'_>, ScanError> {
        let rd = fs::read_dir(".").map_err(|e| {
            self.say.warn(&[b"unable to open directory ", self.scan.dir.as_bytes()], Some(&e));
            ScanError::Open(e)
        })?;
        Ok(Names { rd, in_dir: self })
    }

    /// `stat`s one listed name (following symlinks), warning on failure;
    /// `needs_mtime` says for which identities [`Kind::Dir::modified`] is
    /// wanted.
    pub fn kind(&self, name: &OsStr, needs_mtime: &dyn Fn(&Identity) -> bool) -> Kind {
        let m = match fs::metadata(name) {
            Ok(m) => m,
            Err(e) => {
                self.say.warn(&[b"unable to stat ", name.as_bytes()], Some(&e));
                return Kind::Unstatable;
            }
        };
        if !m.is_dir() {
            return Kind::Other;
        }
        let id = identity(&m);
        if !needs_mtime(&id) {
            return Kind::Dir { id, symlink: false, modified: None };
        }
        let symlink = fs::symlink_metadata(name).is_ok_and(|l| l.file_type().is_symlink());
        let modified = (!symlink).then(|| last_modified(name, &m));
        Kind::Dir { id, symlink, modified }
    }
}

/// The names in the scan directory, in `readdir` order, without those
/// starting with a dot.
#[derive(Debug)]
pub struct Names<'a> {
    rd: fs::ReadDir,
    in_dir: &'a InDir<'a>,
}

impl Names<'_> {
    /// The next name, `None` at the end; a read error is warned about.
    pub fn next_name(&mut self) -> Result<Option<OsString>, ScanError> {
        for de in self.rd.by_ref() {
            let de = de.map_err(|e| {
                self.in_dir
                    .say
                    .warn(&[b"unable to read directory ", self.in_dir.scan.dir.as_bytes()], Some(&e));
                ScanError::Read(e)
            })?;
            let name = de.file_name();
            if name.as_bytes().first() != Some(&b'.') {
                return Ok(Some(name));
            }
        }
        Ok(None)
    }
}

/// True if `path` (where a listed name resolves to now, or why it does not)
/// is still what the listing's `stat` found as `kind`.
pub fn still(path: Result<&Path, i32>, kind: &Kind) -> bool {
    let now = path.map_err(io::Error::from_raw_os_error).and_then(fs::metadata);
    match (now, kind) {
        (Ok(m), Kind::Dir { id, .. }) => m.is_dir() && identity(&m) == *id,
        (Ok(m), Kind::Other) => !m.is_dir(),
        (Err(_), Kind::Unstatable) => true,
        _ => false,
    }
}

impl Drop for InDir<'_> {
    fn drop(&mut self) {
        // runit: warn and retry every 5 s until it works (runsvdir.md §2).
        // SAFETY: fchdir on the descriptor we keep open.
        while unsafe { libc::fchdir(self.scan.cwd.as_raw_fd()) } != 0 {
            let e = io::Error::last_os_error();
            self.say.warn(&[b"unable to change directory, pausing"], Some(&e));
            std::thread::sleep(Duration::from_secs(5));
        }
    }
}

/// The later modification time of a new service directory and its `log/`
/// (what runsv reads when it starts).
fn last_modified(name: &OsStr, m: &Metadata) -> Duration {
    let mut log = PathBuf::from(OsString::from_vec(name.as_bytes().to_vec()));
    log.push("log");
    let own = mtime(m);
    match fs::metadata(&log) {
        Ok(l) if l.is_dir() => own.max(mtime(&l)),
        _ => own,
    }
}

fn identity(m: &Metadata) -> Identity {
    Identity { dev: m.dev(), ino: m.ino() }
}

fn mtime(m: &Metadata) -> Duration {
    let secs = u64::try_from(m.mtime()).unwrap_or(0);
    let nanos = u32::try_from(m.mtime_nsec()).unwrap_or(0).min(999_999_999);
    Duration::new(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn still_compares_what_a_name_leads_to_now_with_the_listing() {
        let tmp = std::env::temp_dir().join(format!("runsvdir-still-{}", std::process::id()));
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(tmp.join("a")).expect("mkdir");
        fs::create_dir_all(tmp.join("b")).expect("mkdir");
        fs::write(tmp.join("f"), b"").expect("write");
        let id_of = |p: &Path| identity(&fs::metadata(p).expect("stat"));
        let a = Kind::Dir { id: id_of(&tmp.join("a")), symlink: true, modified: None };
        assert!(still(Ok(&tmp.join("a")), &a));
        assert!(!still(Ok(&tmp.join("b")), &a), "another directory");
        assert!(!still(Err(libc::ENOENT), &a), "gone");
        assert!(!still(Ok(&tmp.join("missing")), &a));
        assert!(still(Ok(&tmp.join("f")), &Kind::Other));
        assert!(!still(Ok(&tmp.join("b")), &Kind::Other), "now a directory");
        assert!(still(Err(libc::ENOENT), &Kind::Unstatable));
        assert!(!still(Ok(&tmp.join("a")), &Kind::Unstatable), "the dangling target appeared");
        fs::remove_dir_all(&tmp).expect("cleanup");
    }
}
