//! Resource limits: `-m -d -o -p -f -c -r -t` and softlimit's options.
//!
//! spec/chpst.md §2: for each requested limit chpst reads the current
//! limits; a value above the hard limit (or softlimit's `=`) sets the soft
//! limit to the hard limit, anything else sets the soft limit to the value.
//! Hard limits are never changed. The limits are applied in runit's order
//! (§3 step 10): data, stack, memlock, address space, nofile, nproc, fsize,
//! core, rss, cpu. On Linux every one of them exists, so `-v`'s "system does
//! not support RLIMIT_..." warnings never apply.

use crate::error::Fatal;
use std::io;

/// A limit chpst can set, in the order it sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// RLIMIT_DATA (`-d`, part of `-m`).
    Data,
    /// RLIMIT_STACK (softlimit `-s`, part of `-m`).
    Stack,
    /// RLIMIT_MEMLOCK (softlimit `-l`, part of `-m`).
    Memlock,
    /// RLIMIT_AS (softlimit `-a`, part of `-m`).
    As,
    /// RLIMIT_NOFILE (`-o`).
    Nofile,
    /// RLIMIT_NPROC (`-p`).
    Nproc,
    /// RLIMIT_FSIZE (`-f`).
    Fsize,
    /// RLIMIT_CORE (`-c`).
    Core,
    /// RLIMIT_RSS (`-r`).
    Rss,
    /// RLIMIT_CPU (`-t`, seconds).
    Cpu,
}

/// The limits `-m` sets at once.
pub const MEMORY: [Resource; 4] = [Resource::Data, Resource::Stack, Resource::Memlock, Resource::As];

impl Resource {
    /// Every resource, in the order runit applies them.
    pub const ORDER: [Resource; 10] = [
        Resource::Data,
        Resource::Stack,
        Resource::Memlock,
        Resource::As,
        Resource::Nofile,
        Resource::Nproc,
        Resource::Fsize,
        Resource::Core,
        Resource::Rss,
        Resource::Cpu,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn raw(self) -> RawResource {
        match self {
            Resource::Data => libc::RLIMIT_DATA,
            Resource::Stack => libc::RLIMIT_STACK,
            Resource::Memlock => libc::RLIMIT_MEMLOCK,
            Resource::As => libc::RLIMIT_AS,
            Resource::Nofile => libc::RLIMIT_NOFILE,
            Resource::Nproc => libc::RLIMIT_NPROC,
            Resource::Fsize => libc::RLIMIT_FSIZE,
            Resource::Core => libc::RLIMIT_CORE,
            Resource::Rss => libc::RLIMIT_RSS,
            Resource::Cpu => libc::RLIMIT_CPU,
        }
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
type RawResource = libc::__rlimit_resource_t;
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
type RawResource = libc::c_int;

/// A requested soft limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// This many bytes (files, processes, seconds); capped at the hard limit.
    Value(u64),
    /// softlimit's `=`: the hard limit.
    Hard,
}

impl Limit {
    /// The soft limit to set, given the current hard limit.
    pub fn soft(self, hard: u64) -> u64 {
        match self {
            Limit::Value(v) if v <= hard => v,
            _ => hard,
        }
    }
}

/// The limits requested on a command line; a later option overrides an
/// earlier one for the same resource (`-m 9 -d 5` sets data to 5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limits([Option<Limit>; 10]);

impl Limits {
    /// Requests `limit` for `resource`.
    pub fn set(&mut self, resource: Resource, limit: Limit) {
        self.0[resource.index()] = Some(limit);
    }

    /// The request for `resource`, if any.
    pub fn get(&self, resource: Resource) -> Option<Limit> {
        self.0[resource.index()]
    }

    /// The requests in runit's order.
    pub fn requested(&self) -> impl Iterator<Item = (Resource, Limit)> + '_ {
        Resource::ORDER.into_iter().filter_map(|r| self.get(r).map(|l| (r, l)))
    }

    /// Sets every requested soft limit of this process.
    pub fn apply(&self) -> Result<(), Fatal> {
        for (resource, limit) in self.requested() {
            let mut rl = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: `rl` is a valid out-pointer.
            if unsafe { libc::getrlimit(resource.raw(), &mut rl) } < 0 {
                return Err(Fatal::GetRlimit(io::Error::last_os_error()));
            }
            rl.rlim_cur = limit.soft(rl.rlim_max);
            // SAFETY: `rl` is a valid, initialised rlimit.
            if unsafe { libc::setrlimit(resource.raw(), &rl) } < 0 {
                return Err(Fatal::SetRlimit(io::Error::last_os_error()));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soft_is_capped_at_hard() {
        assert_eq!(Limit::Value(50).soft(20000), 50);
        assert_eq!(Limit::Value(99_999_999_999).soft(20000), 20000);
        assert_eq!(Limit::Value(20000).soft(20000), 20000);
        assert_eq!(Limit::Hard.soft(20000), 20000);
        assert_eq!(Limit::Value(5).soft(libc::RLIM_INFINITY), 5);
        assert_eq!(Limit::Hard.soft(libc::RLIM_INFINITY), libc::RLIM_INFINITY);
    }

    #[test]
    fn later_option_wins_and_order_is_runits() {
        let mut l = Limits::default();
        l.set(Resource::Cpu, Limit::Value(3));
        for r in MEMORY {
            l.set(r, Limit::Value(9));
        }
        l.set(Resource::Data, Limit::Value(5));
        let got: Vec<_> = l.requested().collect();
        assert_eq!(
            got,
            vec![
                (Resource::Data, Limit::Value(5)),
                (Resource::Stack, Limit::Value(9)),
                (Resource::Memlock, Limit::Value(9)),
                (Resource::As, Limit::Value(9)),
                (Resource::Cpu, Limit::Value(3)),
            ]
        );
    }

    #[test]
    fn order_table_matches_indices() {
        for (i, r) in Resource::ORDER.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
    }
}
