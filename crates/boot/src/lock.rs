//! One boot at a time: an exclusive `flock` on `<root>/var/lib/boot/lock`.
//!
//! `down` removes the lock file while holding it; a waiter that then gets
//! the lock on the unlinked file notices (the path no longer names the inode
//! it locked) and tries again on the new file.

use crate::error::{BootError, Context, Result};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

/// A held lock (released on drop).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Takes the lock, waiting up to `timeout` for another boot to finish.
pub fn acquire(path: &Path, timeout: Duration) -> Result<Lock> {
    let deadline = Instant::now() + timeout;
    let mut said = false;
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)
            .ctx(|| format!("unable to open {}", path.display()))?;
        match runit_core::supervise::flock(&file, false) {
            Ok(()) => {
                let same = match (file.metadata(), std::fs::symlink_metadata(path)) {
                    (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                    _ => false,
                };
                if same {
                    return Ok(Lock { _file: file });
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err(BootError::io(format!("unable to lock {}", path.display()), e));
                }
                if !said {
                    log::info!(
                        "waiting up to {} s for another boot to finish (lock {})",
                        timeout.as_secs(),
                        path.display()
                    );
                    said = true;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(BootError::io(format!("unable to lock {}", path.display()), e)),
        }
    }
}
