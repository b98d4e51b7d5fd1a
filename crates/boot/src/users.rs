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

#[cfg(test)]
mod tests {
    #[test]
    fn root_exists() {
        assert_eq!(super::user("root").map(|u| u.0), Some(0));
        assert_eq!(super::group("root"), Some(0));
        assert_eq!(super::user("no-such-user-here"), None);
    }
}
