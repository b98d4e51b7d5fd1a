//! runit's own error texts.
//!
//! runit never calls `strerror`; it prints the texts of its own table (the
//! djb `error_str` heritage), and a compatible program must print the same
//! words: `access denied` for EACCES, `permission denied` for EPERM,
//! `temporary failure` for EAGAIN, `file does not exist` for ENOENT. The table
//! is the one in `spec/README.md`; an errno that is not in it reads
//! `unknown error`, exactly as runit prints it.

use std::io;

/// The text runit prints for `errno`.
pub fn text(errno: i32) -> &'static str {
    match errno {
        0 => "no error",
        libc::EINTR => "interrupted system call",
        libc::ENOMEM => "out of memory",
        libc::ENOENT => "file does not exist",
        libc::ETXTBSY => "text busy",
        libc::EIO => "input/output error",
        libc::EEXIST => "file already exists",
        libc::ETIMEDOUT => "timed out",
        libc::EINPROGRESS => "operation in progress",
        libc::EAGAIN => "temporary failure",
        libc::EPIPE => "broken pipe",
        libc::EPERM => "permission denied",
        libc::EACCES => "access denied",
        libc::ENXIO => "device not configured",
        libc::EPROTO => "protocol error",
        libc::EISDIR => "is a directory",
        libc::ECONNREFUSED => "connection refused",
        libc::ENOTDIR => "not a directory",
        libc::ESRCH => "no such process",
        libc::E2BIG => "argument list too long",
        libc::ENOEXEC => "exec format error",
        libc::EBADF => "file descriptor not open",
        libc::ECHILD => "no child processes",
        libc::EDEADLK => "operation would cause deadlock",
        libc::EFAULT => "bad address",
        libc::EBUSY => "device busy",
        libc::EXDEV => "cross-device link",
        libc::ENODEV => "device does not support operation",
        libc::EINVAL => "invalid argument",
        libc::ENFILE => "system cannot open more files",
        libc::EMFILE => "process cannot open more files",
        libc::ENOTTY => "not a tty",
        libc::EFBIG => "file too big",
        libc::ENOSPC => "out of disk space",
        libc::ESPIPE => "unseekable descriptor",
        libc::EROFS => "read-only file system",
        libc::EMLINK => "too many links",
        libc::ELOOP => "symbolic link loop",
        libc::ENAMETOOLONG => "file name too long",
        libc::ENOTEMPTY => "directory not empty",
        libc::EDQUOT => "disk quota exceeded",
        libc::ESTALE => "stale NFS file handle",
        libc::ENOLCK => "no locks available",
        libc::ENOSYS => "system call not available",
        libc::EADDRINUSE => "address already used",
        libc::EADDRNOTAVAIL => "address not available",
        libc::ENETUNREACH => "network unreachable",
        libc::EHOSTUNREACH => "host unreachable",
        libc::ECONNRESET => "connection reset",
        _ => "unknown error",
    }
}

/// The runit text for an I/O error (`unknown error` when it carries no errno).
pub fn io_text(err: &io::Error) -> &'static str {
    match err.raw_os_error() {
        Some(errno) => text(errno),
        None => match err.kind() {
            // Errors std makes up without an errno: name the closest text.
            io::ErrorKind::UnexpectedEof | io::ErrorKind::WriteZero => "input/output error",
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => "invalid argument",
            _ => "unknown error",
        },
    }
}

/// The runit text of the calling thread's current `errno`.
pub fn last_os_text() -> &'static str {
    io_text(&io::Error::last_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wording_differs_from_strerror_where_runit_does() {
        assert_eq!(text(libc::EACCES), "access denied");
        assert_eq!(text(libc::EPERM), "permission denied");
        assert_eq!(text(libc::EAGAIN), "temporary failure");
        assert_eq!(text(libc::EWOULDBLOCK), "temporary failure");
        assert_eq!(text(libc::ENOENT), "file does not exist");
    }

    #[test]
    fn unknown_errno_is_unknown_error() {
        assert_eq!(text(libc::ENOTSOCK), "unknown error");
        assert_eq!(text(9999), "unknown error");
        assert_eq!(text(-1), "unknown error");
    }

    #[test]
    fn io_errors_map_through_errno() {
        let e = io::Error::from_raw_os_error(libc::ENXIO);
        assert_eq!(io_text(&e), "device not configured");
        let e = io::Error::other("no errno");
        assert_eq!(io_text(&e), "unknown error");
    }
}
