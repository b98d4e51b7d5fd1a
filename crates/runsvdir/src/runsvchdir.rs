//! `runsvchdir dir`: switch the runlevel symlink `current` (runit-init.md §5).
//!
//! In `/etc/runit/runsvdir/` (or `$RUNSVDIR`, runit 2.3.0; Debian's 2.1.2
//! ignores it): check that `dir` does not start with a dot and is a
//! directory; if `current` already leads to it (same device and inode), say
//! so; otherwise create `current.new -> dir`, replace `previous` with the
//! old `current` and rename `current.new` over `current` — a single atomic
//! `rename(2)` as far as runsvdir is concerned, which keeps the runsv of
//! every service present in both directories.
//!
//! Messages (observed with Debian's runsvchdir): errors are
//! `<argv0>: fatal: ...` with `argv[0]` as given, results are
//! `runsvchdir: <dir>: current.` / `now current.` on stdout. Note runit's
//! missing separator in `<dir>not a directory.`.

use crate::exit::RunsvchdirExit;
use runit_core::errtext;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Where the runlevel directories live unless `$RUNSVDIR` says otherwise.
pub const DEFAULT_DIR: &str = "/etc/runit/runsvdir";
/// The environment variable naming that directory (2.3.0).
pub const ENV: &str = "RUNSVDIR";

/// How a switch ended well.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switched {
    /// `current` already led to `dir`.
    AlreadyCurrent,
    /// `current` now leads to `dir`.
    NowCurrent,
}

/// Why runsvchdir failed (exit 111).
#[derive(Debug)]
pub enum ChdirError {
    /// `dir` starts with a dot.
    Dot(OsString),
    /// `chdir` to the runlevel directory failed.
    Chdir(OsString, io::Error),
    /// `dir` does not exist.
    Missing(OsString, io::Error),
    /// `stat` failed otherwise (of `dir` or of `current`).
    Stat(OsString, io::Error),
    /// `dir` is not a directory.
    NotDir(OsString),
    /// Removing `current.new` or `previous` failed.
    Unlink(&'static str, io::Error),
    /// Creating `current.new -> dir` failed.
    Symlink(OsString, io::Error),
    /// Renaming `current` to `previous` failed.
    Copy(io::Error),
    /// Renaming `current.new` to `current` failed (`previous` was moved back).
    Move(io::Error),
}

impl ChdirError {
    /// The text after `<argv0>: fatal: `, with runit's wording.
    pub fn message(&self) -> Vec<u8> {
        let err = |e: &io::Error| errtext::io_text(e).as_bytes().to_vec();
        let b = |s: &OsStr| s.as_bytes().to_vec();
        let parts: Vec<Vec<u8>> = match self {
            ChdirError::Dot(d) => vec![b(d), b": must not start with a dot.".to_vec()],
            ChdirError::Chdir(p, e) => vec![b"unable to chdir: ".to_vec(), b(p), b": ".to_vec(), err(e)],
            ChdirError::Missing(d, e) => vec![b(d), b": ".to_vec(), err(e)],
            ChdirError::Stat(p, e) => vec![b"unable to stat: ".to_vec(), b(p), b": ".to_vec(), err(e)],
            ChdirError::NotDir(d) => vec![b(d), b"not a directory.".to_vec()],
            ChdirError::Unlink(n, e) => {
                vec![b"unable to unlink: ".to_vec(), n.as_bytes().to_vec(), b": ".to_vec(), err(e)]
            }
            ChdirError::Symlink(d, e) => {
                vec![b"unable to create: current.new -> ".to_vec(), b(d), b": ".to_vec(), err(e)]
            }
            ChdirError::Copy(e) => vec![b"unable to copy: current to previous: ".to_vec(), err(e)],
            ChdirError::Move(e) => vec![b"unable to move: current.new to current: ".to_vec(), err(e)],
        };
        parts.concat()
    }
}

/// The program: parses `argv`, switches, prints, returns the exit code.
pub fn main(argv: Vec<OsString>) -> i32 {
    let argv0 = argv.first().map(|a| a.as_bytes().to_vec()).unwrap_or_default();
    let Some(dir) = argv.get(1) else {
        let mut usage = b"usage: ".to_vec();
        usage.extend_from_slice(&argv0);
        usage.extend_from_slice(b" dir\n\n");
        runit_core::report::write_stderr(&usage);
        return RunsvchdirExit::Usage.code();
    };
    let runlevels = std::env::var_os(ENV).unwrap_or_else(|| DEFAULT_DIR.into());
    let result = check_name(dir).and_then(|()| {
        std::env::set_current_dir(&runlevels).map_err(|e| ChdirError::Chdir(runlevels.clone(), e))?;
        switch(Path::new("."), dir)
    });
    match result {
        Ok(how) => {
            let mut out = b"runsvchdir: ".to_vec();
            out.extend_from_slice(dir.as_bytes());
            out.extend_from_slice(match how {
                Switched::AlreadyCurrent => b": current.\n",
                Switched::NowCurrent => b": now current.\n",
            });
            runit_core::report::write_fd(1, &out);
            RunsvchdirExit::Ok.code()
        }
        Err(e) => {
            let mut line = argv0;
            line.extend_from_slice(b": fatal: ");
            line.extend_from_slice(&e.message());
            line.push(b'\n');
            runit_core::report::write_stderr(&line);
            RunsvchdirExit::Fatal.code()
        }
    }
}

/// runit refuses names starting with a dot (before changing directory).
pub fn check_name(dir: &OsStr) -> Result<(), ChdirError> {
    if dir.as_bytes().first() == Some(&b'.') {
        return Err(ChdirError::Dot(dir.to_os_string()));
    }
    Ok(())
}

/// Switches `current` in the runlevel directory `base` to `dir`.
pub fn switch(base: &Path, dir: &OsStr) -> Result<Switched, ChdirError> {
    let at = |name: &str| -> PathBuf { base.join(name) };
    // stat("") fails with ENOENT in runit; `base.join("")` would be `base`.
    let target = if dir.is_empty() { PathBuf::new() } else { base.join(dir) };
    let new = match fs::metadata(target) {
        Ok(m) => m,
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Err(ChdirError::Missing(dir.into(), e)),
        Err(e) => return Err(ChdirError::Stat(dir.into(), e)),
    };
    if !new.is_dir() {
        return Err(ChdirError::NotDir(dir.into()));
    }
    let current = fs::metadata(at("current")).map_err(|e| ChdirError::Stat("current".into(), e))?;
    if (current.dev(), current.ino()) == (new.dev(), new.ino()) {
        return Ok(Switched::AlreadyCurrent);
    }
    remove("current.new", &at("current.new"))?;
    std::os::unix::fs::symlink(dir, at("current.new")).map_err(|e| ChdirError::Symlink(dir.into(), e))?;
    remove("previous", &at("previous"))?;
    fs::rename(at("current"), at("previous")).map_err(ChdirError::Copy)?;
    if let Err(e) = fs::rename(at("current.new"), at("current")) {
        let _ = fs::rename(at("previous"), at("current"));
        return Err(ChdirError::Move(e));
    }
    Ok(Switched::NowCurrent)
}

/// `unlink(name)`; a missing file is fine.
fn remove(name: &'static str, path: &Path) -> Result<(), ChdirError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
        Err(e) => Err(ChdirError::Unlink(name, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    struct Tmp(PathBuf);

    impl Tmp {
        fn new(name: &str) -> Tmp {
            let p = std::env::temp_dir().join(format!("runsvchdir-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&p);
            fs::create_dir_all(p.join("a")).expect("mkdir");
            fs::create_dir_all(p.join("b")).expect("mkdir");
            Tmp(p)
        }
        fn link(&self, name: &str) -> Option<PathBuf> {
            fs::read_link(self.0.join(name)).ok()
        }
    }

    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn msg(e: ChdirError) -> String {
        String::from_utf8_lossy(&e.message()).into_owned()
    }

    #[test]
    fn switching_back_and_forth() {
        let t = Tmp::new("switch");
        symlink("a", t.0.join("current")).expect("symlink");
        assert!(matches!(switch(&t.0, OsStr::new("a")), Ok(Switched::AlreadyCurrent)));
        assert!(matches!(switch(&t.0, OsStr::new("b")), Ok(Switched::NowCurrent)));
        assert_eq!(t.link("current"), Some("b".into()));
        assert_eq!(t.link("previous"), Some("a".into()));
        assert!(t.link("current.new").is_none());
        assert!(matches!(switch(&t.0, OsStr::new("a")), Ok(Switched::NowCurrent)));
        assert_eq!(t.link("current"), Some("a".into()));
        assert_eq!(t.link("previous"), Some("b".into()));
    }

    #[test]
    fn same_directory_by_another_name_is_current() {
        let t = Tmp::new("alias");
        symlink("a", t.0.join("current")).expect("symlink");
        assert!(matches!(switch(&t.0, OsStr::new("a/")), Ok(Switched::AlreadyCurrent)));
        let abs = t.0.join("a");
        assert!(matches!(switch(&t.0, abs.as_os_str()), Ok(Switched::AlreadyCurrent)));
    }

    #[test]
    fn errors_read_like_runit() {
        let t = Tmp::new("errors");
        assert_eq!(msg(check_name(OsStr::new(".x")).expect_err("dot")), ".x: must not start with a dot.");
        assert_eq!(msg(switch(&t.0, OsStr::new("nope")).expect_err("missing")), "nope: file does not exist");
        assert_eq!(msg(switch(&t.0, OsStr::new("")).expect_err("empty")), ": file does not exist");
        fs::write(t.0.join("file"), b"").expect("write");
        assert_eq!(msg(switch(&t.0, OsStr::new("file")).expect_err("file")), "filenot a directory.");
        assert_eq!(
            msg(switch(&t.0, OsStr::new("a")).expect_err("no current")),
            "unable to stat: current: file does not exist"
        );
    }

    #[test]
    fn previous_directory_stops_the_switch() {
        let t = Tmp::new("prevdir");
        symlink("a", t.0.join("current")).expect("symlink");
        fs::create_dir(t.0.join("previous")).expect("mkdir");
        let e = switch(&t.0, OsStr::new("b")).expect_err("previous is a directory");
        assert_eq!(msg(e), "unable to unlink: previous: is a directory");
        assert_eq!(t.link("current"), Some("a".into()), "current untouched");
        assert_eq!(t.link("current.new"), Some("b".into()), "as runit, current.new stays");
    }

    #[test]
    fn current_new_directory_stops_the_switch() {
        let t = Tmp::new("newdir");
        symlink("a", t.0.join("current")).expect("symlink");
        fs::create_dir(t.0.join("current.new")).expect("mkdir");
        let e = switch(&t.0, OsStr::new("b")).expect_err("current.new is a directory");
        assert_eq!(msg(e), "unable to unlink: current.new: is a directory");
    }

    #[test]
    fn real_current_directory_becomes_previous() {
        let t = Tmp::new("realcur");
        fs::create_dir_all(t.0.join("current/x")).expect("mkdir");
        assert!(matches!(switch(&t.0, OsStr::new("a")), Ok(Switched::NowCurrent)));
        assert!(t.0.join("previous/x").is_dir());
        assert_eq!(t.link("current"), Some("a".into()));
    }
}
