//! File-system operations that never follow a planted symlink.
//!
//! boot runs as root and writes below directories some of which are owned
//! by service users (log and data directories). Every write here therefore
//! either creates a new name exclusively (`O_CREAT|O_EXCL|O_NOFOLLOW`) or
//! writes a fresh temporary and renames it over the target (a rename
//! replaces a symlink, it never writes through it). Directories boot owns
//! are created with `mkdir` and, when they exist, checked with `lstat` to be
//! real directories.

use std::ffi::CString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A name unique to this process and call: `<prefix><pid>-<seq>-<nanos>`.
pub fn unique_name(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}{}-{}-{nanos}", std::process::id(), SEQ.fetch_add(1, Ordering::SeqCst))
}

/// Makes sure `dir` is a real directory (not a symlink) with `mode`,
/// creating it (and missing parents, mode 0755) when missing.
pub fn ensure_dir(dir: &Path, mode: u32) -> io::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_dir() => Ok(()),
        // A symlink (or anything else) where a directory of ours belongs.
        Ok(_) => Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(parent) = dir.parent() {
                create_parents(parent)?;
            }
            // Made meanwhile by someone else: check what it is.
            if mkdir(dir, mode)? { Ok(()) } else { ensure_dir(dir, mode) }
        }
        Err(e) => Err(e),
    }
}

/// Creates the missing directories of `dir` with mode 0755 exactly, whatever
/// the umask (`mkdir -p` would give 0777 under umask 000). Existing
/// components may be symlinks: they are the system's layout, not ours.
fn create_parents(dir: &Path) -> io::Result<()> {
    if fs::metadata(dir).is_ok_and(|m| m.is_dir()) {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_parents(parent)?;
    }
    mkdir(dir, 0o755).map(|_| ())
}

/// Creates `dir` with `mode` exactly (not less the umask); false when
/// something already exists there.
fn mkdir(dir: &Path, mode: u32) -> io::Result<bool> {
    match fs::create_dir(dir) {
        Ok(()) => fs::set_permissions(dir, fs::Permissions::from_mode(mode)).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Creates `path` exclusively (never through a symlink) with `mode` and
/// writes `bytes`.
pub fn create_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .mode(mode)
        .open(path)?;
    f.write_all(bytes)?;
    // The mode given to open is masked by the umask; set it exactly.
    f.set_permissions(fs::Permissions::from_mode(mode))
}

/// Replaces `path` atomically: a new exclusive temporary in the same
/// directory, written, synced and renamed over `path`.
pub fn replace_file(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(unique_name(".boot-tmp-"));
    let result = (|| {
        create_file(&tmp, bytes, mode)?;
        File::open(&tmp)?.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Points the symlink `link` at `target` atomically (a new link renamed
/// over the old name).
pub fn replace_symlink(target: &Path, link: &Path) -> io::Result<()> {
    let dir = link.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(unique_name(".boot-link-"));
    std::os::unix::fs::symlink(target, &tmp)?;
    fs::rename(&tmp, link).inspect_err(|_| {
        let _ = fs::remove_file(&tmp);
    })
}

/// Removes `path` whatever it is (a directory tree is removed without
/// following symlinks inside it); a missing path is fine.
pub fn remove_any(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// `lchown(2)`: changes the owner of `path` itself, never a symlink's target.
pub fn lchown(path: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::lchown(c.as_ptr(), uid, gid) } == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// True when the effective user is root.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(unique_name(&format!("boot-fsx-{name}-")));
        fs::create_dir_all(&d).expect("scratch");
        d
    }

    #[test]
    fn missing_parents_get_0755_whatever_the_umask() {
        let d = scratch("parents");
        // SAFETY: umask has no preconditions; restored below. Other tests
        // creating files meanwhile only get laxer modes, which they set
        // exactly anyway.
        let old = unsafe { libc::umask(0) };
        let made = ensure_dir(&d.join("var/lib/boot"), 0o700);
        // SAFETY: as above.
        unsafe { libc::umask(old) };
        made.expect("mkdir");
        let mode = |p: &str| fs::metadata(d.join(p)).expect(p).permissions().mode() & 0o7777;
        assert_eq!(mode("var"), 0o755);
        assert_eq!(mode("var/lib"), 0o755);
        assert_eq!(mode("var/lib/boot"), 0o700);
        fs::remove_dir_all(&d).expect("cleanup");
    }

    #[test]
    fn refuses_planted_symlinks() {
        let d = scratch("plant");
        let victim = d.join("victim");
        fs::write(&victim, b"precious").expect("victim");
        std::os::unix::fs::symlink(&victim, d.join("config")).expect("plant");
        assert!(create_file(&d.join("config"), b"x", 0o600).is_err());
        replace_file(&d.join("config"), b"new", 0o644).expect("replace");
        assert_eq!(fs::read(&victim).expect("read"), b"precious");
        assert_eq!(fs::read(d.join("config")).expect("read"), b"new");
        std::os::unix::fs::symlink(&victim, d.join("dir")).expect("plant dir");
        assert!(ensure_dir(&d.join("dir"), 0o700).is_err());
        ensure_dir(&d.join("a/b"), 0o700).expect("mkdir");
        assert_eq!(fs::metadata(d.join("a/b")).expect("meta").permissions().mode() & 0o777, 0o700);
        remove_any(&d).expect("cleanup");
        assert!(!d.exists());
    }

    #[test]
    fn symlink_swap() {
        let d = scratch("swap");
        replace_symlink(Path::new("sets/g1"), &d.join("current")).expect("first");
        replace_symlink(Path::new("sets/g2"), &d.join("current")).expect("second");
        assert_eq!(fs::read_link(d.join("current")).expect("link"), Path::new("sets/g2"));
        remove_any(&d).expect("cleanup");
    }
}
