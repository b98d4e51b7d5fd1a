//! Which program chpst is: the multi-call dispatch on `argv[0]`.
//!
//! spec/chpst.md §1: the basename of `argv[0]` is taken and, if it starts
//! with `d`, that first character is dropped; if the rest is one of the
//! daemontools names, chpst emulates that tool. The shortened name is also
//! the program name in usage texts (`dsetlock` prints `usage: setlock ...`,
//! `dchpst` prints `usage: chpst ...`), while getopt's complaints use the
//! full basename (`dsetlock: illegal option -- y`).
//!
//! Installation makes the other names symbolic links to `chpst`
//! (`ln -s chpst envdir`, ...); [`NAMES`] lists them.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

/// The daemontools-style names chpst answers to, besides its own.
pub const NAMES: [&str; 6] = ["envdir", "envuidgid", "pgrphack", "setlock", "setuidgid", "softlimit"];

/// The behaviour selected by the program name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// chpst proper (any name that is not one of [`NAMES`]).
    Chpst,
    /// `envdir dir child`.
    Envdir,
    /// `envuidgid account child`.
    Envuidgid,
    /// `pgrphack child`.
    Pgrphack,
    /// `setlock [-nNxX] file program [arg ...]`.
    Setlock,
    /// `setuidgid account child`.
    Setuidgid,
    /// `softlimit [-acdflmoprst n] child`.
    Softlimit,
}

/// How chpst was called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// The behaviour.
    pub personality: Personality,
    /// The basename of `argv[0]`: getopt's complaints start with it.
    pub basename: Vec<u8>,
    /// The basename without a leading `d`: usage texts start with it.
    pub usage_name: Vec<u8>,
}

impl Invocation {
    /// Classifies `argv0` (the whole `argv[0]`, possibly a path).
    pub fn from_argv0(argv0: &OsStr) -> Self {
        let full = argv0.as_bytes();
        let basename = full.rsplit(|&b| b == b'/').next().unwrap_or(full).to_vec();
        let usage_name = basename.strip_prefix(b"d").unwrap_or(&basename).to_vec();
        let personality = match &usage_name[..] {
            b"envdir" => Personality::Envdir,
            b"envuidgid" => Personality::Envuidgid,
            b"pgrphack" => Personality::Pgrphack,
            b"setlock" => Personality::Setlock,
            b"setuidgid" => Personality::Setuidgid,
            b"softlimit" => Personality::Softlimit,
            _ => Personality::Chpst,
        };
        Invocation { personality, basename, usage_name }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(s: &str) -> Invocation {
        Invocation::from_argv0(OsStr::new(s))
    }

    #[test]
    fn every_name_dispatches() {
        let want = [
            Personality::Envdir,
            Personality::Envuidgid,
            Personality::Pgrphack,
            Personality::Setlock,
            Personality::Setuidgid,
            Personality::Softlimit,
        ];
        for (name, p) in NAMES.iter().zip(want) {
            assert_eq!(of(name).personality, p, "{name}");
            assert_eq!(of(&format!("/usr/bin/{name}")).personality, p, "{name}");
            assert_eq!(of(&format!("d{name}")).personality, p, "d{name}");
        }
    }

    #[test]
    fn leading_d_is_dropped_for_usage_only() {
        let i = of("/x/dsetlock");
        assert_eq!(i.basename, b"dsetlock");
        assert_eq!(i.usage_name, b"setlock");
        let i = of("dchpst");
        assert_eq!(i.personality, Personality::Chpst);
        assert_eq!(i.usage_name, b"chpst");
        let i = of("d");
        assert_eq!(i.usage_name, b"");
    }

    #[test]
    fn other_names_are_chpst() {
        assert_eq!(of("chpst").personality, Personality::Chpst);
        assert_eq!(of("xyz").usage_name, b"xyz");
        assert_eq!(of("ddsetlock").personality, Personality::Chpst);
        assert_eq!(of("").personality, Personality::Chpst);
        assert_eq!(of("setlock2").personality, Personality::Chpst);
    }
}
