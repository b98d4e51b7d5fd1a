//! Replacing a file atomically: write `<name>.new`, then rename over `<name>`.
//!
//! This is how runsv publishes `pid`, `stat` and `status` (supervise.md §4)
//! so that a reader never sees a half-written file; other programs (boot's
//! state, svlogd's `state`) use the same helper. The steps report which one
//! failed because runit words its warnings per step.

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The step of [`replace`] that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Creating `<name>.new`.
    Open,
    /// Writing it (the `.new` file was removed).
    Write,
    /// The write was short (the `.new` file is left, as runit leaves it).
    PartialWrite,
    /// Renaming it over `<name>`.
    Rename,
}

/// A failed [`replace`].
#[derive(Debug)]
pub struct ReplaceError {
    /// Which step failed.
    pub step: Step,
    /// The system error (for `PartialWrite`, a `WriteZero` error).
    pub error: io::Error,
}

/// How [`replace`] writes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Creation mode of the `.new` file (before umask).
    pub mode: u32,
    /// Report write errors (runsv checks them for `status`, not for `pid`
    /// and `stat`, whose `.new` file is renamed whatever the write did).
    pub check_write: bool,
    /// `fsync` the file before the rename (for state that must survive a
    /// crash; runsv does not).
    pub fsync: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { mode: 0o644, check_write: true, fsync: false }
    }
}

/// `<path>.new`.
pub fn new_path(path: &Path) -> PathBuf {
    let mut s = OsString::from(path.as_os_str());
    s.push(".new");
    PathBuf::from(s)
}

/// Writes `contents` to `<path>.new` (created or truncated) and renames it
/// to `path`.
pub fn replace(path: &Path, contents: &[u8], opts: Options) -> Result<(), ReplaceError> {
    let tmp = new_path(path);
    let fail = |step, error| ReplaceError { step, error };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NONBLOCK)
        .mode(opts.mode)
        .open(&tmp)
        .map_err(|e| fail(Step::Open, e))?;
    if !contents.is_empty() {
        match file.write(contents) {
            Ok(n) if n == contents.len() => {}
            Ok(_) if opts.check_write => {
                return Err(fail(Step::PartialWrite, io::ErrorKind::WriteZero.into()));
            }
            Err(e) if opts.check_write => {
                drop(file);
                let _ = fs::remove_file(&tmp);
                return Err(fail(Step::Write, e));
            }
            _ => {}
        }
    }
    if opts.fsync {
        file.sync_all().map_err(|e| fail(Step::Write, e))?;
    }
    drop(file);
    fs::rename(&tmp, path).map_err(|e| fail(Step::Rename, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("runit-core-atomic-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("temp dir");
        let p = dir.join("stat");
        replace(&p, b"run\n", Options::default()).expect("first write");
        replace(&p, b"down\n", Options::default()).expect("second write");
        assert_eq!(fs::read(&p).expect("read"), b"down\n");
        assert!(!new_path(&p).exists());
        replace(&p, b"", Options::default()).expect("empty write");
        assert_eq!(fs::read(&p).expect("read").len(), 0);
        let missing = dir.join("no-such-dir").join("pid");
        let err = replace(&missing, b"1\n", Options::default()).expect_err("no dir");
        assert_eq!(err.step, Step::Open);
        fs::remove_dir_all(&dir).expect("cleanup");
    }
}
