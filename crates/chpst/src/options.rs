//! Command lines of chpst and of each multi-call name, parsed into a
//! [`Plan`] or a [`Usage`] error (exit 100).
//!
//! chpst proper (spec/chpst.md §2) uses runit's getopt with
//! `u:U:b:e:m:d:o:p:f:c:r:t:/:C:n:l:L:vP012V` plus our two extensions
//! `E:` and `H` (see docs/chpst.md). A later option overrides an earlier
//! one, except that `-l`/`-L` may be given only once. Numeric limits must be
//! all digits (empty reads as 0); `-n` takes an optional sign and digits.
//! `-V` prints the version line and then the usage, at once.
//!
//! The emulations (§8): `envdir`, `envuidgid`, `pgrphack` and `setuidgid`
//! take no options at all (not even `--`); `setlock` takes `-nNxX` (runit's
//! default does not wait, `-n` waits: the opposite of daemontools);
//! `softlimit` takes daemontools' letters, where a non-numeric value other
//! than `=` prints chpst's main usage under the name `softlimit`.

use crate::account::AccountArg;
use crate::envdir::Subdirs;
use crate::limits::{Limit, MEMORY, Resource};
use crate::name::{Invocation, Personality};
use crate::plan::{EnvDir, LockSpec, Plan};
use runit_core::getopt::{GetOpt, Opt, OptError, scan_ulong};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// chpst's synopsis (runit 2.3.0; our extensions are not listed, so the
/// text stays byte-identical to runit's).
pub const CHPST_SYNOPSIS: &str = " [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] \
[-/ root] [-C pwd] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog";
/// `envdir`'s synopsis.
pub const ENVDIR_SYNOPSIS: &str = " dir child";
/// `envuidgid`'s and `setuidgid`'s synopsis.
pub const ACCOUNT_SYNOPSIS: &str = " account child";
/// `pgrphack`'s synopsis.
pub const PGRPHACK_SYNOPSIS: &str = " child";
/// `setlock`'s synopsis.
pub const SETLOCK_SYNOPSIS: &str = " [ -nNxX ] file program [ arg ... ]";
/// `softlimit`'s synopsis.
pub const SOFTLIMIT_SYNOPSIS: &str = " [-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] \
[-l lockbytes] [-m membytes] [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] \
[-t cpusecs] child";

const CHPST_OPTIONS: &str = "u:U:b:e:E:m:d:o:p:f:c:r:t:/:C:n:l:L:vP012VH";
const SETLOCK_OPTIONS: &str = "nNxX";
const SOFTLIMIT_OPTIONS: &str = "a:c:d:f:l:m:o:p:r:s:t:";

/// A bad command line: what to print before exiting 100.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// getopt's complaint line (`<basename>: illegal option -- x`).
    pub complaint: Option<Vec<u8>>,
    /// `-V`: the version line comes first.
    pub version: bool,
    /// The program name of the usage line.
    pub name: Vec<u8>,
    /// The synopsis after the name.
    pub synopsis: &'static str,
}

impl Usage {
    fn new(name: &[u8], synopsis: &'static str) -> Self {
        Usage { complaint: None, version: false, name: name.to_vec(), synopsis }
    }

    fn complaint(mut self, basename: &[u8], e: OptError) -> Self {
        let mut line = basename.to_vec();
        line.extend_from_slice(format!(": {e}\n").as_bytes());
        self.complaint = Some(line);
        self
    }

    /// Everything to write on stderr: complaint or version line, then
    /// `usage: <name><synopsis>\n\n`.
    pub fn text(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if let Some(c) = &self.complaint {
            out.extend_from_slice(c);
        }
        if self.version {
            out.extend_from_slice(runit_core::version_id().as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b"usage: ");
        out.extend_from_slice(&self.name);
        out.extend_from_slice(self.synopsis.as_bytes());
        out.extend_from_slice(b"\n\n");
        out
    }
}

/// Parses `args` (without `argv[0]`) for the personality of `inv`.
pub fn parse(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    match inv.personality {
        Personality::Chpst => chpst(inv, args),
        Personality::Envdir => envdir(inv, args),
        Personality::Envuidgid => envuidgid(inv, args),
        Personality::Pgrphack => pgrphack(inv, args),
        Personality::Setlock => setlock(inv, args),
        Personality::Setuidgid => setuidgid(inv, args),
        Personality::Softlimit => softlimit(inv, args),
    }
}

fn chpst(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    let usage = || Usage::new(&inv.usage_name, CHPST_SYNOPSIS);
    let mut plan = Plan::default();
    let mut last_e: Option<OsString> = None;
    let mut opts = GetOpt::new(args, CHPST_OPTIONS);
    for opt in opts.by_ref() {
        match opt.map_err(|e| usage().complaint(&inv.basename, e))? {
            Opt::Flag(b'V') => return Err(Usage { version: true, ..usage() }),
            Opt::Flag(c) => chpst_flag(&mut plan, c),
            Opt::Arg(b'e', v) => last_e = Some(v),
            Opt::Arg(b'E', v) => plan.envdirs.push(EnvDir { path: v, subdirs: Subdirs::Skip }),
            Opt::Arg(c @ (b'l' | b'L'), v) => {
                if plan.lock.is_some() {
                    return Err(usage());
                }
                plan.lock = Some(LockSpec { path: v, wait: c == b'l' });
            }
            Opt::Arg(b'n', v) => plan.nice = nice(&v).ok_or_else(usage)?,
            Opt::Arg(c, v) => {
                if let Some(resources) = chpst_limit_letter(c) {
                    let limit = all_digits(&v).map(Limit::Value).ok_or_else(usage)?;
                    for &r in resources {
                        plan.limits.set(r, limit);
                    }
                } else {
                    chpst_arg(&mut plan, c, v);
                }
            }
        }
    }
    if let Some(path) = last_e {
        plan.envdirs.push(EnvDir { path, subdirs: Subdirs::Skip });
    }
    if plan.login_env && plan.account.is_none() && plan.env_account.is_none() {
        return Err(usage());
    }
    set_program(&mut plan, opts.operands()).ok_or_else(usage)?;
    Ok(plan)
}

fn chpst_flag(plan: &mut Plan, c: u8) {
    match c {
        b'v' => plan.verbose = true,
        b'P' => plan.setsid = true,
        b'0' => plan.close[0] = true,
        b'1' => plan.close[1] = true,
        b'2' => plan.close[2] = true,
        b'H' => plan.login_env = true,
        _ => {}
    }
}

fn chpst_arg(plan: &mut Plan, c: u8, v: OsString) {
    match c {
        b'u' => plan.account = Some(AccountArg::user_groups(&v)),
        b'U' => plan.env_account = Some(AccountArg::user_groups(&v)),
        b'b' => plan.argv0 = Some(v),
        b'/' => plan.root = Some(v),
        b'C' => plan.pwd = Some(v),
        _ => {}
    }
}

/// The resources chpst's limit option `c` sets, if it is one.
fn chpst_limit_letter(c: u8) -> Option<&'static [Resource]> {
    Some(match c {
        b'm' => &MEMORY,
        b'd' => &[Resource::Data],
        b'o' => &[Resource::Nofile],
        b'p' => &[Resource::Nproc],
        b'f' => &[Resource::Fsize],
        b'c' => &[Resource::Core],
        b'r' => &[Resource::Rss],
        b't' => &[Resource::Cpu],
        _ => return None,
    })
}

/// The whole argument as a decimal number (empty reads as 0).
fn all_digits(v: &OsStr) -> Option<u64> {
    let (value, n) = scan_ulong(v.as_bytes());
    (n == v.len()).then_some(value)
}

/// `-n`: `N`, `+N` or `-N`; after the sign only digits (possibly none).
fn nice(v: &OsStr) -> Option<i32> {
    let bytes = v.as_bytes();
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, bytes),
    };
    let magnitude = i32::try_from(all_digits(OsStr::from_bytes(digits))?).unwrap_or(i32::MAX);
    Some(if negative { -magnitude } else { magnitude })
}

/// Splits `prog [arg ...]` into the plan; `None` when there is no program.
fn set_program(plan: &mut Plan, operands: &[OsString]) -> Option<()> {
    let (program, args) = operands.split_first()?;
    plan.program = program.clone();
    plan.args = args.to_vec();
    Some(())
}

fn envdir(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    let usage = || Usage::new(&inv.usage_name, ENVDIR_SYNOPSIS);
    let (dir, child) = args.split_first().ok_or_else(usage)?;
    let mut plan = Plan::default();
    plan.envdirs.push(EnvDir { path: dir.clone(), subdirs: Subdirs::Fatal });
    set_program(&mut plan, child).ok_or_else(usage)?;
    Ok(plan)
}

fn envuidgid(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    let usage = || Usage::new(&inv.usage_name, ACCOUNT_SYNOPSIS);
    let (account, child) = args.split_first().ok_or_else(usage)?;
    let mut plan = Plan { env_account: Some(AccountArg::account(account)), ..Plan::default() };
    set_program(&mut plan, child).ok_or_else(usage)?;
    Ok(plan)
}

fn setuidgid(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    let usage = || Usage::new(&inv.usage_name, ACCOUNT_SYNOPSIS);
    let (account, child) = args.split_first().ok_or_else(usage)?;
    let mut plan = Plan { account: Some(AccountArg::account(account)), ..Plan::default() };
    set_program(&mut plan, child).ok_or_else(usage)?;
    Ok(plan)
}

fn pgrphack(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    let mut plan = Plan { setsid: true, ..Plan::default() };
    set_program(&mut plan, args).ok_or_else(|| Usage::new(&inv.usage_name, PGRPHACK_SYNOPSIS))?;
    Ok(plan)
}

fn setlock(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    let usage = || Usage::new(&inv.usage_name, SETLOCK_SYNOPSIS);
    let mut wait = false;
    let mut plan = Plan::default();
    let mut opts = GetOpt::new(args, SETLOCK_OPTIONS);
    for opt in opts.by_ref() {
        match opt.map_err(|e| usage().complaint(&inv.basename, e))? {
            Opt::Flag(b'n') => wait = true,
            Opt::Flag(b'N') => wait = false,
            Opt::Flag(b'x') => plan.quiet_failure = true,
            Opt::Flag(b'X') => plan.quiet_failure = false,
            _ => {}
        }
    }
    let (file, child) = opts.operands().split_first().ok_or_else(usage)?;
    plan.lock = Some(LockSpec { path: file.clone(), wait });
    set_program(&mut plan, child).ok_or_else(usage)?;
    Ok(plan)
}

fn softlimit(inv: &Invocation, args: &[OsString]) -> Result<Plan, Usage> {
    let usage = || Usage::new(&inv.usage_name, SOFTLIMIT_SYNOPSIS);
    let mut plan = Plan::default();
    let mut opts = GetOpt::new(args, SOFTLIMIT_OPTIONS);
    for opt in opts.by_ref() {
        let Opt::Arg(c, v) = opt.map_err(|e| usage().complaint(&inv.basename, e))? else { continue };
        let limit = if v.as_bytes() == b"=" {
            Limit::Hard
        } else {
            // runit prints its main usage here, under the softlimit name.
            all_digits(&v).map(Limit::Value).ok_or_else(|| Usage::new(&inv.usage_name, CHPST_SYNOPSIS))?
        };
        for &r in softlimit_letter(c) {
            plan.limits.set(r, limit);
        }
    }
    set_program(&mut plan, opts.operands()).ok_or_else(usage)?;
    Ok(plan)
}

fn softlimit_letter(c: u8) -> &'static [Resource] {
    match c {
        b'a' => &[Resource::As],
        b'c' => &[Resource::Core],
        b'd' => &[Resource::Data],
        b'f' => &[Resource::Fsize],
        b'l' => &[Resource::Memlock],
        b'm' => &MEMORY,
        b'o' => &[Resource::Nofile],
        b'p' => &[Resource::Nproc],
        b'r' => &[Resource::Rss],
        b's' => &[Resource::Stack],
        b't' => &[Resource::Cpu],
        _ => &[],
    }
}

#[cfg(test)]
#[path = "options_tests.rs"]
mod tests;
