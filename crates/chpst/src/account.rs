//! Accounts: `-u`/`-U` user and group specifications, their lookup, and the
//! privilege drop.
//!
//! spec/chpst.md §4. chpst's `-u`/`-U` take
//!
//! * `user` — uid and gid from the password entry; the supplementary groups
//!   become just that gid (memberships in the group file are not added);
//! * `user:group[:group...]` — uid from the password entry, each group
//!   looked up by name; the first is the gid, the list (in order, at most
//!   60; more are ignored) the supplementary groups;
//! * `:uid:gid[:gid...]` — numbers, no lookup. Each number is "leading
//!   digits" (so `:1000:` yields gid 0), the uid must be followed by `:`,
//!   and anything else after a number, or more than 60 gids, is invalid.
//!
//! setuidgid and envuidgid take a whole argument as an account name.
//!
//! Lookups go through [`Accounts`] so resolution is testable without a
//! password file; [`System`] asks the C library, which after `-/` reads the
//! new root's databases (chpst looks accounts up after the chroot).
//!
//! One deliberate difference: runit stores a number larger than 2^32-1 in
//! a 32-bit uid_t, silently wrapping (`:4294967296:1` becomes uid 0, root);
//! we reject such a number as an invalid uid/gid instead.

use crate::error::Fatal;
use std::ffi::{CStr, CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// At most this many groups are used (runit's limit).
pub const MAX_GROUPS: usize = 60;

/// How an account argument is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// chpst `-u`/`-U`: `user[:group...]` or `:uid:gid[:gid...]`.
    UserGroups,
    /// setuidgid/envuidgid: the whole argument is a user name.
    Account,
}

/// An account argument as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountArg {
    /// The argument.
    pub raw: Vec<u8>,
    /// How to read it.
    pub form: Form,
}

impl AccountArg {
    /// A chpst `-u`/`-U` argument.
    pub fn user_groups(raw: &OsStr) -> Self {
        AccountArg { raw: raw.as_bytes().to_vec(), form: Form::UserGroups }
    }

    /// A setuidgid/envuidgid argument.
    pub fn account(raw: &OsStr) -> Self {
        AccountArg { raw: raw.as_bytes().to_vec(), form: Form::Account }
    }
}

/// What chpst needs of a password entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Passwd {
    /// Login name.
    pub name: Vec<u8>,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub dir: Vec<u8>,
}

/// The user and group databases. `Ok(None)` means "no such entry".
pub trait Accounts {
    /// The password entry of `name`.
    fn user(&mut self, name: &[u8]) -> io::Result<Option<Passwd>>;
    /// The password entry of `uid`.
    fn user_by_uid(&mut self, uid: u32) -> io::Result<Option<Passwd>>;
    /// The gid of group `name`.
    fn group(&mut self, name: &[u8]) -> io::Result<Option<u32>>;
}

/// A resolved account: the ids to switch to or to export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ids {
    /// User id.
    pub uid: u32,
    /// Group id (the first group).
    pub gid: u32,
    /// Supplementary groups (non-empty; starts with `gid`).
    pub groups: Vec<u32>,
    /// The password entry, when the account was looked up by name.
    pub passwd: Option<Passwd>,
}

/// Resolves `arg` with the databases of `db`.
pub fn resolve(arg: &AccountArg, db: &mut dyn Accounts) -> Result<Ids, Fatal> {
    match arg.form {
        Form::Account => {
            let pw = db
                .user(&arg.raw)
                .map_err(Fatal::AccountLookup)?
                .ok_or_else(|| Fatal::UnknownAccount(arg.raw.clone()))?;
            Ok(Ids { uid: pw.uid, gid: pw.gid, groups: vec![pw.gid], passwd: Some(pw) })
        }
        Form::UserGroups => match arg.raw.strip_prefix(b":") {
            Some(numbers) => numeric(numbers).ok_or_else(|| Fatal::InvalidIds(numbers.to_vec())),
            None => named(&arg.raw, db),
        },
    }
}

/// `user[:group...]`.
fn named(spec: &[u8], db: &mut dyn Accounts) -> Result<Ids, Fatal> {
    let unknown = || Fatal::UnknownUserGroup(spec.to_vec());
    let mut parts = spec.split(|&b| b == b':');
    let user = parts.next().unwrap_or_default();
    let pw = db.user(user).map_err(Fatal::UserGroupLookup)?.ok_or_else(unknown)?;
    let mut groups = Vec::new();
    for name in parts.take(MAX_GROUPS) {
        groups.push(db.group(name).map_err(Fatal::UserGroupLookup)?.ok_or_else(unknown)?);
    }
    let gid = match groups.first() {
        Some(&first) => first,
        None => {
            groups.push(pw.gid);
            pw.gid
        }
    };
    Ok(Ids { uid: pw.uid, gid, groups, passwd: Some(pw) })
}

/// `uid:gid[:gid...]` (after the leading colon); `None` if malformed.
fn numeric(spec: &[u8]) -> Option<Ids> {
    let (uid, mut rest) = number(spec)?;
    rest = rest.strip_prefix(b":")?;
    let mut groups: Vec<u32> = Vec::new();
    loop {
        let (gid, after) = number(rest)?;
        groups.push(gid);
        if groups.len() > MAX_GROUPS {
            return None;
        }
        match after.split_first() {
            None => break,
            Some((b':', more)) => rest = more,
            Some(_) => return None,
        }
    }
    let gid = *groups.first()?;
    Some(Ids { uid, gid, groups, passwd: None })
}

/// Leading decimal digits (none reads as 0) and the rest; `None` when the
/// number does not fit a uid/gid.
fn number(s: &[u8]) -> Option<(u32, &[u8])> {
    let (value, digits) = runit_core::getopt::scan_ulong(s);
    Some((u32::try_from(value).ok()?, &s[digits..]))
}

/// Switches to `ids`: supplementary groups, then gid, then uid, so that no
/// step needs privileges an earlier one gave up. As root this is final:
/// `setuid` also sets the saved set-user-ID.
pub fn switch(ids: &Ids) -> Result<(), Fatal> {
    let groups: Vec<libc::gid_t> = ids.groups.clone();
    // SAFETY: `groups` is a valid array of `groups.len()` gids.
    if unsafe { libc::setgroups(groups.len(), groups.as_ptr()) } < 0 {
        return Err(Fatal::SetGroups(io::Error::last_os_error()));
    }
    // SAFETY: plain system call.
    if unsafe { libc::setgid(ids.gid) } < 0 {
        return Err(Fatal::SetGid(io::Error::last_os_error()));
    }
    // SAFETY: plain system call.
    if unsafe { libc::setuid(ids.uid) } < 0 {
        return Err(Fatal::SetUid(io::Error::last_os_error()));
    }
    Ok(())
}

/// The C library's databases (NSS), as `getpwnam`/`getgrnam` see them.
#[derive(Debug, Default)]
pub struct System;

/// "Not found" from a reentrant lookup: a null result with return code 0.
/// Any other code is an error, as runit treats `getpwnam` failing with
/// errno set: with glibc a missing `/etc/passwd` (say, in a new root)
/// gives ENOENT, reported as `unable to get password/group file entry:
/// file does not exist`, not as an unknown user.
fn not_found(code: i32) -> bool {
    code == 0
}

/// Calls a `get*_r` lookup with a buffer that grows on ERANGE.
fn lookup<T>(mut call: impl FnMut(&mut [libc::c_char]) -> (i32, Option<T>)) -> io::Result<Option<T>> {
    let mut len = 1024;
    loop {
        let mut buf = vec![0 as libc::c_char; len];
        let (code, found) = call(&mut buf);
        match found {
            Some(v) => return Ok(Some(v)),
            None if code == libc::ERANGE && len < (1 << 20) => len *= 4,
            None if not_found(code) => return Ok(None),
            None => return Err(io::Error::from_raw_os_error(code)),
        }
    }
}

fn passwd_of(pw: &libc::passwd) -> Passwd {
    // SAFETY: the C library filled `pw` with NUL-terminated strings that
    // live in the caller's buffer, which is still alive here.
    let (name, dir) = unsafe { (CStr::from_ptr(pw.pw_name), CStr::from_ptr(pw.pw_dir)) };
    Passwd { name: name.to_bytes().to_vec(), uid: pw.pw_uid, gid: pw.pw_gid, dir: dir.to_bytes().to_vec() }
}

impl Accounts for System {
    fn user(&mut self, name: &[u8]) -> io::Result<Option<Passwd>> {
        let Ok(name) = CString::new(name) else { return Ok(None) };
        lookup(|buf| {
            // SAFETY: an all-zero passwd is a valid out-value.
            let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call; `buf` has `len` bytes.
            let code =
                unsafe { libc::getpwnam_r(name.as_ptr(), &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
            (code, (!result.is_null()).then(|| passwd_of(&pw)))
        })
    }

    fn user_by_uid(&mut self, uid: u32) -> io::Result<Option<Passwd>> {
        lookup(|buf| {
            // SAFETY: an all-zero passwd is a valid out-value.
            let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
            let mut result = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call; `buf` has `len` bytes.
            let code = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
            (code, (!result.is_null()).then(|| passwd_of(&pw)))
        })
    }

    fn group(&mut self, name: &[u8]) -> io::Result<Option<u32>> {
        let Ok(name) = CString::new(name) else { return Ok(None) };
        lookup(|buf| {
            // SAFETY: an all-zero group is a valid out-value.
            let mut gr: libc::group = unsafe { std::mem::zeroed() };
            let mut result = std::ptr::null_mut();
            // SAFETY: every pointer is valid for the call; `buf` has `len` bytes.
            let code =
                unsafe { libc::getgrnam_r(name.as_ptr(), &mut gr, buf.as_mut_ptr(), buf.len(), &mut result) };
            (code, (!result.is_null()).then_some(gr.gr_gid))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small fixed database; `fail` makes every lookup an I/O error.
    struct Fake {
        fail: bool,
    }

    fn pw(name: &str, uid: u32, gid: u32) -> Passwd {
        Passwd { name: name.into(), uid, gid, dir: format!("/home/{name}").into_bytes() }
    }

    impl Accounts for Fake {
        fn user(&mut self, name: &[u8]) -> io::Result<Option<Passwd>> {
            if self.fail {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            Ok(match name {
                b"nobody" => Some(pw("nobody", 65534, 65534)),
                b"root" => Some(pw("root", 0, 0)),
                _ => None,
            })
        }
        fn user_by_uid(&mut self, uid: u32) -> io::Result<Option<Passwd>> {
            Ok((uid == 0).then(|| pw("root", 0, 0)))
        }
        fn group(&mut self, name: &[u8]) -> io::Result<Option<u32>> {
            if self.fail {
                return Err(io::Error::from_raw_os_error(libc::EIO));
            }
            Ok(match name {
                b"root" => Some(0),
                b"daemon" => Some(1),
                b"nogroup" => Some(65534),
                _ => None,
            })
        }
    }

    fn ug(s: &str) -> Result<Ids, String> {
        let arg = AccountArg::user_groups(OsStr::new(s));
        resolve(&arg, &mut Fake { fail: false }).map_err(|e| String::from_utf8_lossy(&e.line()).into_owned())
    }

    fn ids(s: &str) -> (u32, u32, Vec<u32>) {
        let i = ug(s).expect(s);
        (i.uid, i.gid, i.groups)
    }

    #[test]
    fn user_alone_gets_only_its_primary_group() {
        assert_eq!(ids("nobody"), (65534, 65534, vec![65534]));
    }

    #[test]
    fn user_with_groups() {
        assert_eq!(ids("nobody:root:daemon"), (65534, 0, vec![0, 1]));
    }

    #[test]
    fn named_groups_beyond_sixty_are_ignored() {
        let mut spec = "nobody".to_string();
        for _ in 0..MAX_GROUPS {
            spec.push_str(":daemon");
        }
        spec.push_str(":nosuchgroup");
        let (_, gid, groups) = ids(&spec);
        assert_eq!(gid, 1);
        assert_eq!(groups.len(), MAX_GROUPS);
    }

    #[test]
    fn unknown_user_or_group() {
        assert_eq!(ug("nosuchuser").expect_err("x"), "chpst: fatal: unknown user/group: nosuchuser\n");
        assert_eq!(ug("nobody:0").expect_err("x"), "chpst: fatal: unknown user/group: nobody:0\n");
        assert_eq!(ug("nobody:").expect_err("x"), "chpst: fatal: unknown user/group: nobody:\n");
        assert_eq!(ug("").expect_err("x"), "chpst: fatal: unknown user/group: \n");
    }

    #[test]
    fn numeric_forms() {
        assert_eq!(ids(":1000:1001:1002"), (1000, 1001, vec![1001, 1002]));
        assert_eq!(ids(":1000:"), (1000, 0, vec![0]));
        assert_eq!(ids(":1000::"), (1000, 0, vec![0, 0]));
        assert_eq!(ids(":1000:5:"), (1000, 5, vec![5, 0]));
        assert_eq!(ids("::5"), (0, 5, vec![5]));
        assert_eq!(ids(":4294967295:1"), (u32::MAX, 1, vec![1]));
        assert!(ug(":7:1").expect("ids").passwd.is_none());
    }

    #[test]
    fn numeric_errors() {
        for (spec, shown) in [
            (":1000", "1000"),
            (":", ""),
            (":x:5", "x:5"),
            (":1000:5x", "1000:5x"),
            (":1000:5:x", "1000:5:x"),
            (":4294967296:1", "4294967296:1"),
            (":1:4294967296", "1:4294967296"),
        ] {
            assert_eq!(ug(spec).expect_err(spec), format!("chpst: fatal: invalid uid/gids: {shown}\n"));
        }
    }

    #[test]
    fn at_most_sixty_numeric_gids() {
        let sixty: Vec<String> = (1..=60).map(|g| g.to_string()).collect();
        let (_, _, groups) = ids(&format!(":7:{}", sixty.join(":")));
        assert_eq!(groups.len(), 60);
        assert!(ug(&format!(":7:{}:61", sixty.join(":"))).is_err());
    }

    #[test]
    fn setuidgid_form_takes_the_whole_argument() {
        let mut db = Fake { fail: false };
        let i = resolve(&AccountArg::account(OsStr::new("nobody")), &mut db).expect("nobody");
        assert_eq!((i.uid, i.gid, i.groups), (65534, 65534, vec![65534]));
        for s in [":1", "nobody:daemon", "nosuch"] {
            let e = resolve(&AccountArg::account(OsStr::new(s)), &mut db).expect_err(s);
            assert_eq!(e.line(), format!("chpst: fatal: unknown account: {s}\n").into_bytes());
        }
    }

    #[test]
    fn lookup_failures() {
        let mut db = Fake { fail: true };
        let e = resolve(&AccountArg::user_groups(OsStr::new("nobody")), &mut db).expect_err("io");
        assert_eq!(e.line(), b"chpst: fatal: unable to get password/group file entry: input/output error\n");
        let e = resolve(&AccountArg::account(OsStr::new("nobody")), &mut db).expect_err("io");
        assert_eq!(e.line(), b"chpst: fatal: unable to get password file entry: input/output error\n");
    }

    #[test]
    fn system_database_knows_root() {
        let mut db = System;
        let root = db.user(b"root").expect("lookup").expect("root exists");
        assert_eq!((root.uid, root.gid), (0, 0));
        assert_eq!(db.user_by_uid(0).expect("lookup").map(|p| p.name), Some(b"root".to_vec()));
        assert_eq!(db.group(b"root").expect("lookup"), Some(0));
        assert_eq!(db.user(b"no-such-user-chpst-test").expect("lookup"), None);
        assert_eq!(db.group(b"no-such-group-chpst-test").expect("lookup"), None);
    }
}
