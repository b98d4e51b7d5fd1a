//! The system calls svlogd makes, as small safe functions.
//!
//! runit's svlogd changes into each log directory (`fchdir`) for every file
//! operation. We keep the directory open instead and use the `*at` calls on
//! its descriptor: the same files are touched (also if the directory is
//! renamed while svlogd runs) without ever changing the working directory.
//! Every descriptor we open is close-on-exec, so processors inherit only
//! the descriptors of runit's protocol.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn cstr(bytes: &[u8]) -> io::Result<CString> {
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

/// Retries `f` while it fails with EINTR.
fn retry<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Opens the directory `path` (relative to the working directory).
pub fn open_dir(path: &[u8]) -> io::Result<OwnedFd> {
    let p = cstr(path)?;
    // SAFETY: `p` is NUL-terminated; the returned descriptor is ours.
    retry(|| check(unsafe { libc::open(p.as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC) }))
        // SAFETY: open succeeded, so the descriptor is open and owned here.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `openat(dir, name, flags | O_CLOEXEC, mode)`.
pub fn open_at(dir: &OwnedFd, name: &CStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    retry(|| {
        // SAFETY: `name` is NUL-terminated and `dir` an open descriptor.
        check(unsafe { libc::openat(dir.as_raw_fd(), name.as_ptr(), flags | libc::O_CLOEXEC, mode) })
    })
    // SAFETY: openat succeeded, so the descriptor is open and owned here.
    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A non-blocking exclusive `flock`.
pub fn lock_nb(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: plain system call on an open descriptor.
    retry(|| check(unsafe { libc::flock(fd.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) })).map(drop)
}

/// Size and mode of `name` in `dir` (following symlinks, as runit's stat).
pub fn stat_at(dir: &OwnedFd, name: &CStr) -> io::Result<(u64, u32)> {
    // SAFETY: `st` is plain data filled in by fstatat; pointers are valid.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        check(libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, 0))?;
        Ok((u64::try_from(st.st_size).unwrap_or(0), st.st_mode))
    }
}

/// True if `name` exists in `dir` (without following a final symlink).
pub fn exists_at(dir: &OwnedFd, name: &CStr) -> bool {
    // SAFETY: `st` is plain data filled in by fstatat; pointers are valid.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        libc::fstatat(dir.as_raw_fd(), name.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) == 0
    }
}

/// `renameat` within `dir`.
pub fn rename_at(dir: &OwnedFd, from: &CStr, to: &CStr) -> io::Result<()> {
    let d = dir.as_raw_fd();
    // SAFETY: both names are NUL-terminated; `d` is open.
    check(unsafe { libc::renameat(d, from.as_ptr(), d, to.as_ptr()) }).map(drop)
}

/// `unlinkat` within `dir`.
pub fn unlink_at(dir: &OwnedFd, name: &[u8]) -> io::Result<()> {
    let n = cstr(name)?;
    // SAFETY: `n` is NUL-terminated; `dir` is open.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), n.as_ptr(), 0) }).map(drop)
}

/// `fchmodat` within `dir`.
pub fn chmod_at(dir: &OwnedFd, name: &CStr, mode: u32) -> io::Result<()> {
    // SAFETY: `name` is NUL-terminated; `dir` is open.
    check(unsafe { libc::fchmodat(dir.as_raw_fd(), name.as_ptr(), mode, 0) }).map(drop)
}

/// `fchmod`.
pub fn fchmod(fd: &OwnedFd, mode: u32) -> io::Result<()> {
    // SAFETY: plain system call on an open descriptor.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

/// `fsync`.
pub fn fsync(fd: &OwnedFd) -> io::Result<()> {
    // SAFETY: plain system call on an open descriptor.
    retry(|| check(unsafe { libc::fsync(fd.as_raw_fd()) })).map(drop)
}

/// One `write(2)` (retried on EINTR); returns the bytes written.
pub fn write(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    retry(|| {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
    })
}

/// One `read(2)`; EINTR is returned to the caller (it may have a signal to
/// look at).
pub fn read(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 { Err(io::Error::last_os_error()) } else { Ok(n as usize) }
}

/// The names in `dir` (without `.` and `..`).
pub fn list(dir: &OwnedFd) -> io::Result<Vec<Vec<u8>>> {
    // Read through a fresh descriptor of the same directory so that the
    // directory stream starts at the beginning every time.
    let here = open_at(dir, c".", libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    // SAFETY: fdopendir takes ownership of the descriptor on success.
    let stream = unsafe { libc::fdopendir(here.as_raw_fd()) };
    if stream.is_null() {
        return Err(io::Error::last_os_error());
    }
    std::mem::forget(here);
    let mut names = Vec::new();
    let result = loop {
        // readdir signals errors only through errno.
        // SAFETY: errno is thread-local; setting it is always valid.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `stream` is a valid DIR* until closedir below.
        let ent = unsafe { libc::readdir(stream) };
        if ent.is_null() {
            let e = io::Error::last_os_error();
            break if e.raw_os_error() == Some(0) { Ok(()) } else { Err(e) };
        }
        // SAFETY: d_name is a NUL-terminated array inside the entry.
        let name = unsafe { CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            names.push(name.to_vec());
        }
    };
    // SAFETY: `stream` came from fdopendir and is closed once.
    unsafe { libc::closedir(stream) };
    result.map(|()| names)
}

/// Waits until `fds` are ready or `timeout_ms` passes (-1: no limit);
/// returns the `revents` of each.
pub fn poll(fds: &[(RawFd, i16)], timeout_ms: i32) -> io::Result<Vec<i16>> {
    let mut p: Vec<libc::pollfd> =
        fds.iter().map(|&(fd, events)| libc::pollfd { fd, events, revents: 0 }).collect();
    // SAFETY: `p` holds `p.len()` initialised pollfd structures.
    let r = unsafe { libc::poll(p.as_mut_ptr(), p.len() as libc::nfds_t, timeout_ms) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(p.iter().map(|f| f.revents).collect())
}

/// Opens `/dev/null` on any of descriptors 0, 1 and 2 that is closed, so
/// that no file svlogd opens later (the signal pipe, a directory,
/// `current`) takes their place: with standard error closed, warnings
/// would otherwise land in a log file, and with standard input closed
/// svlogd would read its own descriptors.
pub fn ensure_std_fds() {
    for fd in 0..3 {
        // SAFETY: F_GETFD only inspects the descriptor table.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        let flags = if fd == 0 { libc::O_RDONLY } else { libc::O_WRONLY };
        // SAFETY: the path is NUL-terminated; the lowest free descriptor is
        // `fd` itself, since the lower ones are open.
        unsafe { libc::open(c"/dev/null".as_ptr(), flags) };
    }
}

/// Ignores SIGPIPE (for `-o`: a closed standard output must not kill us).
pub fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN is always valid.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_operations() {
        let base = std::env::temp_dir().join(format!("svlogd-sys-{}", std::process::id()));
        std::fs::create_dir_all(&base).expect("mkdir");
        let dir = open_dir(base.as_os_str().as_encoded_bytes()).expect("open dir");
        let f = open_at(&dir, c"a", libc::O_WRONLY | libc::O_CREAT, 0o600).expect("create");
        assert_eq!(write(f.as_raw_fd(), b"xyz").expect("write"), 3);
        fchmod(&f, 0o744).expect("fchmod");
        let (size, mode) = stat_at(&dir, c"a").expect("stat");
        assert_eq!((size, mode & 0o777), (3, 0o744));
        rename_at(&dir, c"a", c"b").expect("rename");
        assert!(!exists_at(&dir, c"a") && exists_at(&dir, c"b"));
        assert_eq!(list(&dir).expect("list"), vec![b"b".to_vec()]);
        unlink_at(&dir, b"b").expect("unlink");
        assert!(list(&dir).expect("list").is_empty());
        assert_eq!(open_dir(b"/nonexistent/dir").expect_err("missing").raw_os_error(), Some(libc::ENOENT));
        std::fs::remove_dir_all(&base).expect("cleanup");
    }
}
