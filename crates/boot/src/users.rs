//! User and group lookups (for the data and log directories boot chowns,
//! and to fail closed before writing when a manifest names a user the image
//! does not have).

use std::ffi::CString;

/// `(uid, primary gid)` of `name`, if it exists.
pub fn user(name: &str) -> Option<(u32, u32)> {
    let c = CString::new(name).ok()?;
    // SAFETY: getpwnam with a valid C string; the result is copied out at
    // once (boot is single-threaded where it calls this).
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: pw is non-null and points to a valid passwd entry.
    Some(unsafe { ((*pw).pw_uid, (*pw).pw_gid) })
}

/// The gid of group `name`, if it exists.
pub fn group(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: as for getpwnam.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        return None;
    }
    // SAFETY: gr is non-null and points to a valid group entry.
    Some(unsafe { (*gr).gr_gid })
}

/// True when `uid`/`gid` may execute `path`: search permission on every
/// directory of its canonical path and execute permission on the file.
/// Supplementary groups are not considered: `chpst -u` drops them.
pub fn can_execute(path: &std::path::Path, uid: u32, gid: u32) -> bool {
    use std::os::unix::fs::MetadataExt;
    if uid == 0 {
        return true;
    }
    let Ok(real) = std::fs::canonicalize(path) else { return false };
    let allowed = |m: &std::fs::Metadata| {
        let shift = if m.uid() == uid {
            6
        } else if m.gid() == gid {
            3
        } else {
            0
        };
        (m.mode() >> shift) & 0o1 != 0
    };
    real.ancestors().all(|p| std::fs::metadata(p).is_ok_and(|m| allowed(&m)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn execute_permission() {
        use std::os::unix::fs::PermissionsExt;
        let d = std::env::temp_dir().join(crate::fsx::unique_name("boot-users-"));
        std::fs::create_dir_all(d.join("private")).expect("mkdir");
        std::fs::write(d.join("private/prog"), b"#!/bin/sh\n").expect("write");
        std::fs::set_permissions(d.join("private/prog"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let nobody = 65534;
        assert!(super::can_execute(&d.join("private/prog"), nobody, nobody));
        std::fs::set_permissions(d.join("private"), std::fs::Permissions::from_mode(0o700)).expect("chmod");
        assert!(!super::can_execute(&d.join("private/prog"), nobody, nobody));
        assert!(!super::can_execute(&d.join("missing"), nobody, nobody));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn root_exists() {
        assert_eq!(super::user("root").map(|u| u.0), Some(0));
        assert_eq!(super::group("root"), Some(0));
        assert_eq!(super::user("no-such-user-here"), None);
    }
}
