//! chpst's failures, its exit codes, and the one place they are rendered.
//!
//! runit's chpst prints every failure as `chpst: fatal: <what>[: <error
//! text>]` and exits 111, in every personality (also when it was called as
//! `envdir`, `setlock`, ...): spec/chpst.md §7. Usage errors print a usage
//! text and exit 100 (see [`crate::options::Usage`]). The error text after
//! the colon is runit's own (`runit_core::errtext`), not `strerror`'s.
//!
//! Messages are bytes, not strings: paths and account names come from the
//! command line or a directory listing and need not be UTF-8.

use runit_core::errtext;
use std::io;

/// The exit codes of chpst (and of its multi-call names) itself. Once the
/// program has been executed, the exit code is the program's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// `setlock -x`: the lock could not be taken or the program could not be
    /// run, and `-x` asked for a silent success.
    Quiet = 0,
    /// Bad command line: a usage text was printed (also after `-V`).
    Usage = 100,
    /// Changing the process state or executing the program failed.
    Fatal = 111,
}

impl Exit {
    /// The process exit status.
    pub fn code(self) -> i32 {
        self as i32
    }
}

/// A failure to change the process state or to execute the program.
#[derive(Debug)]
pub enum Fatal {
    /// `open(".")` for the way back after reading an envdir.
    OpenCwd(io::Error),
    /// `chdir` into an envdir.
    SwitchDir(Vec<u8>, io::Error),
    /// `opendir` of an envdir (after changing into it).
    OpenDir(Vec<u8>, io::Error),
    /// `readdir` of an envdir.
    ReadDir(Vec<u8>, io::Error),
    /// Opening or reading `<dir>/<name>` of an envdir.
    ReadFile {
        /// The envdir as given.
        dir: Vec<u8>,
        /// The entry's name.
        name: Vec<u8>,
        /// What failed.
        err: io::Error,
    },
    /// `fchdir` back to the starting directory.
    SwitchBack(io::Error),
    /// `chdir` for `-/` or `-C`.
    ChangeDir(Vec<u8>, io::Error),
    /// `chroot(".")` for `-/`.
    ChangeRoot(io::Error),
    /// `nice` for `-n`.
    Nice(io::Error),
    /// `-u`/`-U`: an unknown user or group (the spec as given).
    UnknownUserGroup(Vec<u8>),
    /// `-u`/`-U :uid:gid...`: a malformed numeric form (without the colon).
    InvalidIds(Vec<u8>),
    /// `-u`/`-U`: the user or group database could not be read.
    UserGroupLookup(io::Error),
    /// `setuidgid`/`envuidgid`: an unknown account name.
    UnknownAccount(Vec<u8>),
    /// `setuidgid`/`envuidgid`: the password database could not be read.
    AccountLookup(io::Error),
    /// `-H` (our extension) with a numeric uid that has no password entry.
    NoAccountForUid(u32),
    /// `setgroups` failed.
    SetGroups(io::Error),
    /// `setgid` failed.
    SetGid(io::Error),
    /// `setuid` failed.
    SetUid(io::Error),
    /// Opening (creating) the lock file.
    OpenLock(Vec<u8>, io::Error),
    /// `flock` on the lock file.
    Lock(Vec<u8>, io::Error),
    /// Closing descriptor 0, 1 or 2 (`-0`, `-1`, `-2`).
    Close(i32, io::Error),
    /// `getrlimit`.
    GetRlimit(io::Error),
    /// `setrlimit`.
    SetRlimit(io::Error),
    /// Executing the program; names `argv[0]` (the `-b` value if given).
    Run(Vec<u8>, io::Error),
}

impl Fatal {
    /// True for the failures `setlock -x` turns into a silent exit 0.
    pub fn quiet_under_setlock_x(&self) -> bool {
        matches!(self, Fatal::OpenLock(..) | Fatal::Lock(..) | Fatal::Run(..))
    }

    /// The whole line: `chpst: fatal: <message>\n`.
    pub fn line(&self) -> Vec<u8> {
        let mut out = b"chpst: fatal: ".to_vec();
        self.describe(&mut out);
        out.push(b'\n');
        out
    }

    fn describe(&self, out: &mut Vec<u8>) {
        use Fatal::*;
        let (what, err): (&[&[u8]], Option<&io::Error>) = match self {
            OpenCwd(e) => (&[b"unable to open current working directory"], Some(e)),
            SwitchDir(d, e) => (&[b"unable to switch to directory: ", d], Some(e)),
            OpenDir(d, e) => (&[b"unable to open directory: ", d], Some(e)),
            ReadDir(d, e) => (&[b"unable to read directory: ", d], Some(e)),
            ReadFile { dir, name, err } => (&[b"unable to read ", dir, b"/", name], Some(err)),
            SwitchBack(e) => (&[b"unable to switch to starting directory"], Some(e)),
            ChangeDir(d, e) => (&[b"unable to change directory: ", d], Some(e)),
            ChangeRoot(e) => (&[b"unable to change root directory"], Some(e)),
            Nice(e) => (&[b"unable to set nice level"], Some(e)),
            UnknownUserGroup(s) => (&[b"unknown user/group: ", s], None),
            InvalidIds(s) => (&[b"invalid uid/gids: ", s], None),
            UserGroupLookup(e) => (&[b"unable to get password/group file entry"], Some(e)),
            UnknownAccount(s) => (&[b"unknown account: ", s], None),
            AccountLookup(e) => (&[b"unable to get password file entry"], Some(e)),
            NoAccountForUid(uid) => {
                out.extend_from_slice(b"unknown account: uid ");
                out.extend_from_slice(uid.to_string().as_bytes());
                return;
            }
            SetGroups(e) => (&[b"unable to setgroups"], Some(e)),
            SetGid(e) => (&[b"unable to setgid"], Some(e)),
            SetUid(e) => (&[b"unable to setuid"], Some(e)),
            OpenLock(f, e) => (&[b"unable to open lock: ", f], Some(e)),
            Lock(f, e) => (&[b"unable to lock: ", f], Some(e)),
            Close(fd, e) => (&[b"unable to close ", stdio_name(*fd)], Some(e)),
            GetRlimit(e) => (&[b"unable to getrlimit()"], Some(e)),
            SetRlimit(e) => (&[b"unable to setrlimit()"], Some(e)),
            Run(a, e) => (&[b"unable to run: ", a], Some(e)),
        };
        for part in what {
            out.extend_from_slice(part);
        }
        if let Some(e) = err {
            out.extend_from_slice(b": ");
            out.extend_from_slice(errtext::io_text(e).as_bytes());
        }
    }
}

fn stdio_name(fd: i32) -> &'static [u8] {
    match fd {
        0 => b"stdin",
        1 => b"stdout",
        _ => b"stderr",
    }
}

/// `chpst: warning: unable to read <dir>/<name>: is a directory` — the one
/// warning `-v` adds for a subdirectory in an envdir (spec §5).
pub fn subdirectory_warning(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = b"chpst: warning: unable to read ".to_vec();
    out.extend_from_slice(dir);
    out.push(b'/');
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(errtext::text(libc::EISDIR).as_bytes());
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(errno: i32) -> io::Error {
        io::Error::from_raw_os_error(errno)
    }

    fn line(f: Fatal) -> String {
        String::from_utf8(f.line()).expect("utf8")
    }

    #[test]
    fn runit_wording() {
        assert_eq!(
            line(Fatal::Lock(b"lk2".to_vec(), e(libc::EWOULDBLOCK))),
            "chpst: fatal: unable to lock: lk2: temporary failure\n"
        );
        assert_eq!(
            line(Fatal::ReadFile { dir: b"e".to_vec(), name: b"S".to_vec(), err: e(libc::EACCES) }),
            "chpst: fatal: unable to read e/S: access denied\n"
        );
        assert_eq!(line(Fatal::InvalidIds(b"1000".to_vec())), "chpst: fatal: invalid uid/gids: 1000\n");
        assert_eq!(
            line(Fatal::UnknownUserGroup(b"nobody:0".to_vec())),
            "chpst: fatal: unknown user/group: nobody:0\n"
        );
        assert_eq!(
            line(Fatal::Run(b"fakename".to_vec(), e(libc::ENOENT))),
            "chpst: fatal: unable to run: fakename: file does not exist\n"
        );
        assert_eq!(
            line(Fatal::Close(0, e(libc::EBADF))),
            "chpst: fatal: unable to close stdin: file descriptor not open\n"
        );
        assert_eq!(
            line(Fatal::SetGroups(e(libc::EPERM))),
            "chpst: fatal: unable to setgroups: permission denied\n"
        );
        assert_eq!(line(Fatal::NoAccountForUid(1234)), "chpst: fatal: unknown account: uid 1234\n");
        assert_eq!(
            line(Fatal::ChangeDir(b"/nonexist".to_vec(), e(libc::ENOENT))),
            "chpst: fatal: unable to change directory: /nonexist: file does not exist\n"
        );
    }

    #[test]
    fn non_utf8_names_pass_through() {
        let l = Fatal::UnknownAccount(vec![b'a', 0xff]).line();
        assert_eq!(l, b"chpst: fatal: unknown account: a\xff\n".to_vec());
    }

    #[test]
    fn warning_line() {
        assert_eq!(
            subdirectory_warning(b"e", b"SUB"),
            b"chpst: warning: unable to read e/SUB: is a directory\n"
        );
    }

    #[test]
    fn setlock_x_scope() {
        assert!(Fatal::Lock(vec![], e(libc::EAGAIN)).quiet_under_setlock_x());
        assert!(Fatal::OpenLock(vec![], e(libc::ENOENT)).quiet_under_setlock_x());
        assert!(Fatal::Run(vec![], e(libc::ENOENT)).quiet_under_setlock_x());
        assert!(!Fatal::SetUid(e(libc::EPERM)).quiet_under_setlock_x());
        assert_eq!(Exit::Usage.code(), 100);
        assert_eq!(Exit::Fatal.code(), 111);
        assert_eq!(Exit::Quiet.code(), 0);
    }
}
