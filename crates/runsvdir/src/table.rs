//! The service table: which runsv runs for which directory (sans-IO).
//!
//! This is runit's mark-and-sweep over `{dev, ino, pid, isgone}`
//! (runsvdir.md §3, §4) as a pure function: [`Table::scan`] takes one
//! listing of the scan directory (names with their `stat` results, in
//! `readdir` order) and the time, and returns what to do: start
//! `runsv <name>` for a new or dead service, send SIGTERM to the runsv of a
//! service that is gone. The driver performs the actions and reports back
//! ([`Table::started`], [`Table::start_failed`], [`Table::reaped`]).
//!
//! A service is identified by the (device, inode) of its directory, never
//! by its name, exactly as runit does: a rename keeps its runsv, two names
//! for one directory get one runsv (under the first name seen), and a name
//! that now leads to another directory gets a new runsv while the old one is
//! stopped in the same pass. That is what lets boot swap the scan
//! directory's target atomically without touching unchanged services.
//!
//! Where we differ from runit, on purpose (docs/runsvdir.md):
//! * no limit of 1000 services;
//! * a dead runsv is restarted at once, but not more often than once per
//!   [`RESTART_THROTTLE`] (runit: at its next scan, within 5 s);
//! * a directory that disappears without its name being reused is given
//!   [`REMOVAL_GRACE`] to come back before its runsv gets SIGTERM, so a
//!   non-atomic replacement (`ln -sfn` is unlink + symlink) does not restart
//!   a service that instant scanning would otherwise catch in the gap;
//! * a real directory created in place while runsvdir runs is started only
//!   once it has not been modified for [`SETTLE`] (runit sleeps 1 s when the
//!   scan directory changed in the current second), because runsv reads
//!   `log/` and `down` only when it starts. Symbolic links (the atomic way to
//!   add a service), directories moved in (inotify's `IN_MOVED_TO`: built
//!   elsewhere, complete), directories not modified in the last second and
//!   everything in runsvdir's first successful listing start at once.
//!
//! Time: `now` is monotonic; `wall` (only compared with file modification
//! times) is the real-time clock as a duration since the Unix epoch.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::time::{Duration, Instant};

/// Minimum time between two starts of the runsv of one service.
pub const RESTART_THROTTLE: Duration = Duration::from_secs(1);
/// How long a vanished directory may stay away before its runsv is stopped.
pub const REMOVAL_GRACE: Duration = Duration::from_secs(1);
/// How long a freshly created service directory must stay unmodified.
pub const SETTLE: Duration = Duration::from_secs(1);
/// The longest a new directory is held back by [`SETTLE`] (covers
/// modification times in the future).
pub const MAX_HOLD: Duration = Duration::from_secs(5);

/// A service directory's identity: `st_dev` and `st_ino` after following
/// symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Identity {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
}

/// What `stat` said about one entry of the scan directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory (possibly through symlinks): a service.
    Dir {
        /// Its identity.
        id: Identity,
        /// The entry itself is a symlink (`lstat`).
        symlink: bool,
        /// Latest modification time (since the epoch) of the directory and
        /// its `log/`; only needed for real directories not yet in the table
        /// (see [`Table::needs_mtime`]).
        modified: Option<Duration>,
    },
    /// Not a directory: silently skipped.
    Other,
    /// `stat` failed (warned about by the scanner): skipped.
    Unstatable,
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The name in the scan directory.
    pub name: OsString,
    /// What it is.
    pub kind: Kind,
}

/// Which new real directories a scan holds back until they settle.
#[derive(Debug, Clone, Copy)]
pub enum Settle<'a> {
    /// None (runsvdir's first successful listing: what is there when it
    /// starts is taken as ready).
    Never,
    /// Those modified in the last [`SETTLE`], except the names given: they
    /// were moved into the scan directory since the last scan (so built
    /// elsewhere and complete).
    Fresh {
        /// Names moved in since the last scan.
        moved_in: &'a HashSet<OsString>,
    },
}

impl Settle<'_> {
    /// True if a new real directory under `name` may have to settle.
    fn applies(&self, name: &OsStr) -> bool {
        match self {
            Settle::Never => false,
            Settle::Fresh { moved_in } => !moved_in.contains(name),
        }
    }
}

/// One scan in progress (see [`Table::pass`]).
#[derive(Debug)]
pub struct Pass<'a> {
    clock: Clock,
    settle: Settle<'a>,
    seen: HashSet<Identity>,
    owner: HashMap<OsString, Identity>,
}

/// The time of a scan.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Monotonic now.
    pub now: Instant,
    /// Real-time now, since the Unix epoch.
    pub wall: Duration,
}

/// What the driver must do after a scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fork and execute `runsv <name>` in the scan directory, then report
    /// with [`Table::started`] or [`Table::start_failed`].
    Start {
        /// The service.
        id: Identity,
        /// Its name in this scan.
        name: OsString,
    },
    /// Send SIGTERM to this runsv; the table has forgotten it.
    Term {
        /// The runsv.
        pid: i32,
    },
}

#[derive(Debug, Clone)]
struct Service {
    /// The name it was last seen under.
    name: OsString,
    /// Its runsv, while one runs.
    pid: Option<i32>,
    /// When a runsv was last started (or a start attempted).
    started: Option<Instant>,
    /// Since when the directory is missing from the listings.
    gone_since: Option<Instant>,
}

impl Service {
    /// When a dead runsv may be started again (`None`: one runs, or none
    /// was ever started).
    fn restart_at(&self) -> Option<Instant> {
        if self.pid.is_some() { None } else { self.started.map(|t| t + RESTART_THROTTLE) }
    }

    /// True when a runsv should be started now.
    fn start_due(&self, now: Instant) -> bool {
        self.pid.is_none() && self.restart_at().is_none_or(|t| now >= t)
    }
}

#[derive(Debug, Clone, Copy)]
struct Hold {
    first_seen: Instant,
    until: Instant,
}

/// The services runsvdir monitors.
#[derive(Debug, Default)]
pub struct Table {
    services: BTreeMap<Identity, Service>,
    by_pid: HashMap<i32, Identity>,
    holds: HashMap<Identity, Hold>,
}

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Table::default()
    }

    /// Number of services monitored.
    pub fn len(&self) -> usize {
        self.services.len()
    }

    /// True when no service is monitored.
    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    /// Whether the scanner must supply [`Kind::Dir::modified`] for a real
    /// directory with this identity (only new ones can be held back).
    pub fn needs_mtime(&self, id: &Identity) -> bool {
        !self.services.contains_key(id)
    }

    /// Reconciles the table with one complete listing of the scan
    /// directory; `settle` says which new real directories may be held
    /// back. The same as [`Table::pass`], [`Table::entry`] for each entry
    /// and [`Table::finish`].
    pub fn scan(&mut self, entries: &[Entry], clock: Clock, settle: Settle<'_>) -> Vec<Action> {
        let mut pass = Table::pass(clock, settle);
        let mut actions: Vec<Action> = entries.iter().filter_map(|e| self.entry(&mut pass, e)).collect();
        actions.extend(self.finish(pass));
        actions
    }

    /// Starts a scan that is fed one entry at a time, in `readdir` order,
    /// so that runsv processes are started as the listing goes (as runit
    /// does), not after it.
    pub fn pass(clock: Clock, settle: Settle<'_>) -> Pass<'_> {
        Pass { clock, settle, seen: HashSet::new(), owner: HashMap::new() }
    }

    /// One entry of the listing in `pass`: the start it calls for, if any.
    pub fn entry(&mut self, pass: &mut Pass<'_>, e: &Entry) -> Option<Action> {
        if e.name.as_bytes().first() == Some(&b'.') {
            return None;
        }
        let Kind::Dir { id, symlink, modified } = e.kind else { return None };
        pass.owner.insert(e.name.clone(), id);
        if !pass.seen.insert(id) {
            return None; // a second name for a directory seen earlier
        }
        self.visit(id, &e.name, symlink, modified, pass.clock, pass.settle)
    }

    /// Ends `pass` after the complete listing: the services no longer
    /// listed are stopped (after their grace).
    pub fn finish(&mut self, pass: Pass<'_>) -> Vec<Action> {
        let mut actions = Vec::new();
        self.holds.retain(|id, _| pass.seen.contains(id));
        self.sweep(&pass.seen, &pass.owner, pass.clock.now, &mut actions);
        actions
    }

    fn visit(
        &mut self,
        id: Identity,
        name: &OsStr,
        symlink: bool,
        modified: Option<Duration>,
        clock: Clock,
        settle: Settle<'_>,
    ) -> Option<Action> {
        if let Some(s) = self.services.get_mut(&id) {
            s.gone_since = None;
            s.name = name.to_os_string();
            return s.start_due(clock.now).then(|| Action::Start { id, name: name.to_os_string() });
        }
        if !symlink && settle.applies(name) && self.hold(id, modified, clock) {
            return None;
        }
        self.holds.remove(&id);
        self.services
            .insert(id, Service { name: name.to_os_string(), pid: None, started: None, gone_since: None });
        Some(Action::Start { id, name: name.to_os_string() })
    }

    /// True (and a hold recorded) while a new real directory is still
    /// settling.
    fn hold(&mut self, id: Identity, modified: Option<Duration>, clock: Clock) -> bool {
        let Some(modified) = modified else { return false };
        let quiet = clock.wall.checked_sub(modified).unwrap_or(Duration::ZERO);
        if quiet >= SETTLE {
            return false;
        }
        let hold = self.holds.entry(id).or_insert(Hold { first_seen: clock.now, until: clock.now });
        if clock.now.duration_since(hold.first_seen) >= MAX_HOLD {
            return false;
        }
        hold.until = clock.now + (SETTLE - quiet);
        true
    }

    fn sweep(
        &mut self,
        seen: &HashSet<Identity>,
        owner: &HashMap<OsString, Identity>,
        now: Instant,
        actions: &mut Vec<Action>,
    ) {
        let mut forget = Vec::new();
        for (id, s) in self.services.iter_mut().filter(|(id, _)| !seen.contains(id)) {
            let replaced = owner.get(s.name.as_os_str()).is_some_and(|o| o != id);
            let since = *s.gone_since.get_or_insert(now);
            if s.pid.is_none() || replaced || now >= since + REMOVAL_GRACE {
                forget.push(*id);
            }
        }
        for id in forget {
            if let Some(pid) = self.services.remove(&id).and_then(|s| s.pid) {
                self.by_pid.remove(&pid);
                actions.push(Action::Term { pid });
            }
        }
    }

    /// A runsv was started for `id`.
    pub fn started(&mut self, id: Identity, pid: i32, now: Instant) {
        if let Some(s) = self.services.get_mut(&id) {
            if let Some(old) = s.pid.replace(pid) {
                self.by_pid.remove(&old);
            }
            s.started = Some(now);
            self.by_pid.insert(pid, id);
        }
    }

    /// Forking a runsv for `id` failed: try again after the throttle.
    pub fn start_failed(&mut self, id: Identity, now: Instant) {
        if let Some(s) = self.services.get_mut(&id) {
            s.started = Some(now);
        }
    }

    /// A child exited. True if it was a monitored runsv (its service will
    /// be restarted, see [`Table::next_deadline`]); other pids (runsv we
    /// already stopped, orphans) are not ours to care about.
    pub fn reaped(&mut self, pid: i32) -> bool {
        let Some(id) = self.by_pid.remove(&pid) else { return false };
        if let Some(s) = self.services.get_mut(&id) {
            s.pid = None;
        }
        true
    }

    /// When the table next needs a scan: a dead runsv to restart, a
    /// vanished directory whose grace ends, a new directory that has
    /// settled. `None` when nothing is pending (no wake-up needed).
    pub fn next_deadline(&self) -> Option<Instant> {
        let services = self.services.values().filter_map(|s| match s.gone_since {
            Some(t) => Some(t + REMOVAL_GRACE),
            None => s.restart_at(),
        });
        services.chain(self.holds.values().map(|h| h.until)).min()
    }

    /// The pids of every runsv monitored (for SIGHUP and shutdown).
    pub fn pids(&self) -> Vec<i32> {
        self.services.values().filter_map(|s| s.pid).collect()
    }

    /// Forgets every service (at shutdown), returning their runsv pids.
    pub fn drain(&mut self) -> Vec<i32> {
        let pids = self.pids();
        self.services.clear();
        self.by_pid.clear();
        self.holds.clear();
        pids
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
