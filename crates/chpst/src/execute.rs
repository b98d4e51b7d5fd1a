//! Carrying out a [`Plan`] in runit's order of operations, then executing
//! the program.
//!
//! spec/chpst.md §3, one function per step:
//!
//! 1. `-P`: `setsid()` (result ignored, as runit ignores it);
//! 2. envdirs (relative to the starting directory) into pending changes;
//! 3. `-/`: `chdir(root)`, `chroot(".")`;
//! 4. `-C`: `chdir(pwd)`, inside the new root;
//! 5. `-n`: `nice(inc)`;
//! 6. `-U`: account lookup (in the new root) and `UID`/`GID` changes;
//! 7. `-u`: account lookup, `setgroups`, `setgid`, `setuid`;
//! 8. `-l`/`-L`: open and lock, as the new user; the descriptor is left
//!    open across exec so the program holds the lock;
//! 9. `-0`/`-1`/`-2`: close descriptors;
//! 10. resource limits (as the new user);
//! 11. execute the program, found through the *original* `PATH` (not one
//!     from an envdir), with the changed environment.
//!
//! Our `-H` extension adds `HOME`/`USER`/`LOGNAME` changes in step 7 (or 6
//! when only `-U` names an account), after `UID`/`GID`. The program and its
//! environment are prepared before step 8, so nothing needs to allocate once
//! small limits are in force.

use crate::account::{self, Accounts, Ids};
use crate::envdir;
use crate::environ::{self, EnvChange};
use crate::error::{self, Fatal};
use crate::plan::{LockSpec, Plan};
use runit_core::process::{Environ, Program};
use runit_core::report::write_stderr;
use std::convert::Infallible;
use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;

/// Changes the process state as `plan` says and executes its program.
/// Returns only on failure, with the error to report.
pub fn run(plan: &Plan, db: &mut dyn Accounts) -> Fatal {
    let Err(failure) = steps(plan, db);
    failure
}

/// Steps 1-11. Never returns `Ok`: the last step replaces the process.
fn steps(plan: &Plan, db: &mut dyn Accounts) -> Result<Infallible, Fatal> {
    if plan.setsid {
        // SAFETY: plain system call; failure (already a group leader) is
        // ignored, as runit ignores it.
        unsafe { libc::setsid() };
    }
    let mut changes = load_envdirs(plan)?;
    if let Some(root) = &plan.root {
        change_root(root)?;
    }
    if let Some(pwd) = &plan.pwd {
        change_dir(pwd)?;
    }
    if plan.nice != 0 {
        set_nice(plan.nice)?;
    }
    let env_ids = plan.env_account.as_ref().map(|a| account::resolve(a, db)).transpose()?;
    if let Some(ids) = &env_ids {
        // runit queues GID before UID; the order shows in the environment.
        changes.push(EnvChange::set(b"GID", ids.gid.to_string().as_bytes()));
        changes.push(EnvChange::set(b"UID", ids.uid.to_string().as_bytes()));
    }
    let ids = plan.account.as_ref().map(|a| account::resolve(a, db)).transpose()?;
    if let Some(who) = ids.as_ref().or(env_ids.as_ref()).filter(|_| plan.login_env) {
        changes.extend(login_env(who, db)?);
    }
    if let Some(ids) = &ids {
        account::switch(ids)?;
    }
    let program = program(plan)?;
    let env = environ::build(&changes).map(Environ::new);
    if let Some(lock) = &plan.lock {
        take_lock(lock)?;
    }
    close_stdio(plan.close)?;
    plan.limits.apply()?;
    Err(Fatal::Run(argv0(plan).as_bytes().to_vec(), program.exec(env.as_ref())))
}

/// Step 2: every envdir, in order; later changes override earlier ones.
fn load_envdirs(plan: &Plan) -> Result<Vec<EnvChange>, Fatal> {
    let mut changes = Vec::new();
    for dir in &plan.envdirs {
        let mut skipped = |name: &[u8]| {
            if plan.verbose {
                write_stderr(&error::subdirectory_warning(dir.path.as_bytes(), name));
            }
        };
        changes.extend(envdir::read(&dir.path, dir.subdirs, &mut skipped)?);
    }
    Ok(changes)
}

/// Step 3: `chdir(root)`, then `chroot(".")`.
fn change_root(root: &OsStr) -> Result<(), Fatal> {
    change_dir(root)?;
    // SAFETY: the argument is a NUL-terminated literal.
    if unsafe { libc::chroot(c".".as_ptr()) } < 0 {
        return Err(Fatal::ChangeRoot(io::Error::last_os_error()));
    }
    Ok(())
}

/// Step 4 (and the first half of 3).
fn change_dir(dir: &OsStr) -> Result<(), Fatal> {
    std::env::set_current_dir(dir).map_err(|e| Fatal::ChangeDir(dir.as_bytes().to_vec(), e))
}

/// Step 5: `nice(inc)` fails only when it returns -1 *and* sets errno
/// (-1 is also a valid new niceness).
fn set_nice(inc: i32) -> Result<(), Fatal> {
    // SAFETY: errno is thread-local; clearing it is always valid.
    unsafe { *libc::__errno_location() = 0 };
    // SAFETY: plain system call.
    if unsafe { libc::nice(inc) } == -1 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(0) {
            return Err(Fatal::Nice(e));
        }
    }
    Ok(())
}

/// `-H`: `HOME`, `USER` and `LOGNAME` from the password entry of `who`
/// (looked up by uid for the numeric `:uid:gid` form). An empty home
/// directory reads as `/`, as login(1) treats it.
fn login_env(who: &Ids, db: &mut dyn Accounts) -> Result<Vec<EnvChange>, Fatal> {
    let pw = match &who.passwd {
        Some(pw) => pw.clone(),
        None => {
            db.user_by_uid(who.uid).map_err(Fatal::UserGroupLookup)?.ok_or(Fatal::NoAccountForUid(who.uid))?
        }
    };
    let home: &[u8] = if pw.dir.is_empty() { b"/" } else { &pw.dir };
    Ok(vec![
        EnvChange::set(b"HOME", home),
        EnvChange::set(b"USER", &pw.name),
        EnvChange::set(b"LOGNAME", &pw.name),
    ])
}

fn argv0(plan: &Plan) -> &OsString {
    plan.argv0.as_ref().unwrap_or(&plan.program)
}

/// Step 11's preparation: argv (with `-b`'s argv0) and the candidate paths
/// from the original `PATH`.
fn program(plan: &Plan) -> Result<Program, Fatal> {
    let argv0 = argv0(plan);
    let argv: Vec<&OsStr> =
        std::iter::once(argv0.as_os_str()).chain(plan.args.iter().map(|a| a.as_os_str())).collect();
    Program::new(&plan.program, &argv).map_err(|e| Fatal::Run(argv0.as_bytes().to_vec(), e))
}

/// Step 8: open (create 0600, append, non-blocking, as runit does) and
/// `flock` exclusively. The descriptor is deliberately not close-on-exec
/// and never closed: the program inherits it and so holds the lock.
fn take_lock(lock: &LockSpec) -> Result<(), Fatal> {
    let name = lock.path.as_bytes();
    let path = CString::new(name)
        .map_err(|_| Fatal::OpenLock(name.to_vec(), io::Error::from_raw_os_error(libc::EINVAL)))?;
    let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_APPEND | libc::O_CREAT;
    // SAFETY: `path` is NUL-terminated; the mode is passed as open's third
    // argument because O_CREAT is set.
    let fd = unsafe { libc::open(path.as_ptr(), flags, 0o600 as libc::c_uint) };
    if fd < 0 {
        return Err(Fatal::OpenLock(name.to_vec(), io::Error::last_os_error()));
    }
    let op = if lock.wait { libc::LOCK_EX } else { libc::LOCK_EX | libc::LOCK_NB };
    loop {
        // SAFETY: flock on the descriptor just opened.
        if unsafe { libc::flock(fd, op) } == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(Fatal::Lock(name.to_vec(), e));
        }
    }
}

/// Step 9: close 0, 1, 2 as asked (closing one that is not open fails).
fn close_stdio(close: [bool; 3]) -> Result<(), Fatal> {
    for (fd, _) in (0..).zip(close).filter(|&(_, c)| c) {
        // SAFETY: closing a standard descriptor on request; chpst itself
        // does not use it afterwards except to report a failure.
        if unsafe { libc::close(fd) } < 0 {
            return Err(Fatal::Close(fd, io::Error::last_os_error()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::Passwd;

    struct Db;

    impl Accounts for Db {
        fn user(&mut self, _: &[u8]) -> io::Result<Option<Passwd>> {
            Ok(None)
        }
        fn user_by_uid(&mut self, uid: u32) -> io::Result<Option<Passwd>> {
            Ok((uid == 7).then(|| Passwd { name: b"seven".to_vec(), uid: 7, gid: 7, dir: Vec::new() }))
        }
        fn group(&mut self, _: &[u8]) -> io::Result<Option<u32>> {
            Ok(None)
        }
    }

    fn entries(v: Vec<EnvChange>) -> Vec<String> {
        v.iter().map(|c| String::from_utf8_lossy(c.entry()).into_owned()).collect()
    }

    #[test]
    fn login_env_from_entry_or_uid() {
        let ids = Ids {
            uid: 1,
            gid: 1,
            groups: vec![1],
            passwd: Some(Passwd { name: b"app".to_vec(), uid: 1, gid: 1, dir: b"/srv/app".to_vec() }),
        };
        assert_eq!(
            entries(login_env(&ids, &mut Db).expect("env")),
            ["HOME=/srv/app", "USER=app", "LOGNAME=app"]
        );
        let numeric = Ids { uid: 7, gid: 7, groups: vec![7], passwd: None };
        assert_eq!(
            entries(login_env(&numeric, &mut Db).expect("env")),
            ["HOME=/", "USER=seven", "LOGNAME=seven"]
        );
        let unknown = Ids { uid: 8, ..numeric };
        assert_eq!(
            login_env(&unknown, &mut Db).expect_err("unknown").line(),
            b"chpst: fatal: unknown account: uid 8\n"
        );
    }

    #[test]
    fn argv0_is_b_value_or_program() {
        let mut plan = Plan { program: "prog".into(), ..Plan::default() };
        assert_eq!(argv0(&plan), "prog");
        plan.argv0 = Some("name".into());
        assert_eq!(argv0(&plan), "name");
    }
}
