//! Which directories runsvdir watches, and which events make it rescan.
//!
//! Every scan rebuilds the watch set from scratch, *before* looking at what
//! it watches (watch, then look: a change after the look is an event). The
//! first listing is the exception: it starts the services it finds as it
//! lists them, watches the entries' chains afterwards and then checks under
//! the watches that each symlinked entry still leads where it was found,
//! scanning again if not (the driver's `watch_first_listing`). The watch
//! set is:
//!
//! * the scan directory's path, resolved link by link ([`resolve`]): each
//!   directory along the way is watched for the one name looked up in it,
//!   so a swapped symlink anywhere in the chain triggers a rescan;
//! * the scan directory itself, for any name created, deleted or moved;
//! * for every entry, the chain its name resolves through, so that a target
//!   replaced behind a symlink, or a dangling symlink's target appearing,
//!   triggers a rescan.
//!
//! Resolving looks a name up before the watch on its directory exists when
//! that directory is new to the set (a parent that just appeared, a fresh
//! symlink target): a change in that gap would have no event. So a chain
//! that added a watch is resolved again, without remembered lookups, until
//! it adds none: then every name it depends on was looked up under a watch.
//!
//! The watcher also remembers which names were *moved into* a directory
//! watched for any name (`IN_MOVED_TO`, and no create, delete or move away
//! of that name since): such a directory was built elsewhere and is
//! complete, so the table starts it without the settle ([`Watcher::moved_in`]).
//!
//! inotify watches are per inode, so the set is small however many services
//! share a directory. A watch that cannot be added (watch limit, no read
//! permission) is reported once; while any is missing the driver also does
//! runit's periodic check ("degraded").

use crate::inotify::{Event, Inotify, NAME_EVENTS, Wd};
use crate::resolve::{self, CachedFs, Place};
use std::collections::{HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::io;
use std::path::{Path, PathBuf};

/// Events that change the set of names in a directory.
const STRUCTURE: u32 = libc::IN_CREATE | libc::IN_DELETE | libc::IN_MOVED_FROM | libc::IN_MOVED_TO;

/// What matters in one watched directory.
#[derive(Debug, Default, Clone)]
struct Interest {
    /// Any name created, deleted or moved (the scan directory).
    any: bool,
    /// These names, for every event (link points).
    names: HashSet<OsString>,
}

impl Interest {
    fn matches(&self, mask: u32, name: &OsStr) -> bool {
        (self.any && mask & STRUCTURE != 0) || (mask & NAME_EVENTS != 0 && self.names.contains(name))
    }
}

/// The watch set.
#[derive(Debug)]
pub struct Watcher {
    inotify: Inotify,
    active: HashMap<Wd, Interest>,
    next: HashMap<Wd, Interest>,
    cycle_paths: HashMap<PathBuf, Option<Wd>>,
    failures: Vec<(PathBuf, io::Error)>,
    reported: HashSet<PathBuf>,
    lookups: CachedFs,
    /// Names whose last event in a directory watched for any name was
    /// `IN_MOVED_TO`, per watch; taken by [`Watcher::moved_in`].
    moved: HashMap<Wd, HashSet<OsString>>,
}

impl Watcher {
    /// A watcher with a new inotify instance.
    pub fn new() -> io::Result<Self> {
        Ok(Watcher {
            inotify: Inotify::new()?,
            active: HashMap::new(),
            next: HashMap::new(),
            cycle_paths: HashMap::new(),
            failures: Vec::new(),
            reported: HashSet::new(),
            lookups: CachedFs::default(),
            moved: HashMap::new(),
        })
    }

    /// The descriptor to poll.
    pub fn fd(&self) -> i32 {
        self.inotify.fd()
    }

    /// Starts rebuilding the watch set.
    pub fn begin(&mut self) {
        self.next.clear();
        self.cycle_paths.clear();
        self.failures.clear();
        self.lookups.clear();
    }

    /// Watches everything `path` (relative to `base`) resolves through;
    /// returns where it leads.
    pub fn chain(&mut self, base: &Place, path: &Path) -> Result<Place, i32> {
        self.chain_lookups(base, path).0
    }

    /// [`Watcher::chain`], and how many names the resolution looked up
    /// (1: `path` is a single name that is not a symlink, or does not
    /// resolve).
    pub fn chain_lookups(&mut self, base: &Place, path: &Path) -> (Result<Place, i32>, usize) {
        // Each pass that adds a watch can only find deeper or other
        // directories; the bound is the symlink limit's worth of passes.
        for _ in 0..resolve::MAX_SYMLINKS {
            let chain = resolve::resolve(&self.lookups, base, path);
            let mut added = false;
            for p in &chain.points {
                added |= self.want(&p.dir, Some(&p.name));
            }
            if !added {
                return (chain.target, chain.points.len());
            }
            // Lookups made before their directory was watched may be stale.
            self.lookups.clear();
        }
        let chain = resolve::resolve(&self.lookups, base, path);
        (chain.target, chain.points.len())
    }

    /// Watches directory `dir` for any name.
    pub fn all(&mut self, dir: &Path) {
        self.want(dir, None);
    }

    /// Adds `dir` (for `name`, or for any name) to the set being built;
    /// true if that put a watch on a directory not watched before.
    fn want(&mut self, dir: &Path, name: Option<&OsStr>) -> bool {
        let wd = match self.cycle_paths.get(dir) {
            Some(wd) => *wd,
            None => {
                let wd = match self.inotify.add(dir) {
                    Ok(wd) => Some(wd),
                    // Gone or replaced since it was resolved: the lookup of
                    // its name in its parent is watched and has an event.
                    Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => None,
                    Err(e) => {
                        self.failures.push((dir.to_path_buf(), e));
                        None
                    }
                };
                self.cycle_paths.insert(dir.to_path_buf(), wd);
                wd
            }
        };
        let Some(wd) = wd else { return false };
        let added = !self.active.contains_key(&wd) && !self.next.contains_key(&wd);
        let interest = self.next.entry(wd).or_default();
        match name {
            None => interest.any = true,
            Some(n) => {
                if !interest.names.contains(n) {
                    interest.names.insert(n.to_os_string());
                }
            }
        }
        added
    }

    /// Finishes the rebuild: drops watches no longer needed and returns the
    /// failures not reported before.
    pub fn end(&mut self) -> Vec<(PathBuf, io::Error)> {
        for wd in self.active.keys() {
            if !self.next.contains_key(wd) {
                self.inotify.remove(*wd);
            }
        }
        self.active = std::mem::take(&mut self.next);
        // What only the rebuild needed goes, tables and all: an idle
        // runsvdir keeps as little heap as it can (docs/runsv.md, "Memory").
        self.cycle_paths = HashMap::new();
        self.lookups = CachedFs::default();
        let now: HashSet<PathBuf> = self.failures.iter().map(|(p, _)| p.clone()).collect();
        let fresh = std::mem::take(&mut self.failures)
            .into_iter()
            .filter(|(p, _)| !self.reported.contains(p))
            .collect();
        self.reported = now;
        fresh
    }

    /// Takes the names moved into directory `dir` since the last call, as
    /// far as the events read so far tell (see [`Watcher::relevant`]). Only
    /// between [`Watcher::begin`] and [`Watcher::end`], after `dir` was
    /// wanted in this cycle: that is how its watch is known. Names moved
    /// into directories no longer watched are dropped.
    pub fn moved_in(&mut self, dir: &Path) -> HashSet<OsString> {
        let wd = self.cycle_paths.get(dir).copied().flatten();
        let all = std::mem::take(&mut self.moved);
        wd.and_then(|wd| all.into_iter().find(|(w, _)| *w == wd)).map(|(_, names)| names).unwrap_or_default()
    }

    /// True while some wanted watch is missing.
    pub fn degraded(&self) -> bool {
        !self.reported.is_empty()
    }

    /// Reads the queued events; true if any of them calls for a rescan.
    pub fn relevant(&mut self) -> io::Result<bool> {
        let events = self.inotify.read()?;
        let mut rescan = false;
        for e in &events {
            rescan |= self.judge(e);
        }
        Ok(rescan)
    }

    fn judge(&mut self, e: &Event) -> bool {
        if e.mask & libc::IN_Q_OVERFLOW != 0 {
            return true;
        }
        if e.mask & libc::IN_IGNORED != 0 {
            // The directory is gone (or unmounted): its watch went with it.
            self.moved.remove(&e.wd);
            return self.active.remove(&e.wd).is_some();
        }
        let Some(interest) = self.active.get(&e.wd) else { return false };
        match &e.name {
            None => true, // the directory itself was moved, deleted or changed
            Some(n) => {
                if interest.any {
                    note_move(&mut self.moved, e.wd, e.mask, n);
                }
                interest.matches(e.mask, n)
            }
        }
    }
}

/// Keeps track of whether `name`'s last structural event in watch `wd` was
/// a move into it: only then is what the name leads to known complete.
fn note_move(moved: &mut HashMap<Wd, HashSet<OsString>>, wd: Wd, mask: u32, name: &OsStr) {
    if mask & libc::IN_MOVED_TO != 0 {
        moved.entry(wd).or_default().insert(name.to_os_string());
    } else if mask & STRUCTURE != 0 {
        // Created in place, removed or moved away after the move in.
        if let Some(names) = moved.get_mut(&wd) {
            names.remove(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interest(any: bool, names: &[&str]) -> Interest {
        Interest { any, names: names.iter().map(OsString::from).collect() }
    }

    #[test]
    fn scan_directory_cares_about_structure_not_attributes() {
        let i = interest(true, &[]);
        assert!(i.matches(libc::IN_CREATE, OsStr::new("web")));
        assert!(i.matches(libc::IN_MOVED_TO, OsStr::new("web")));
        assert!(!i.matches(libc::IN_ATTRIB, OsStr::new("web")), "touching a service dir is runsv's business");
    }

    #[test]
    fn link_point_cares_about_its_name_only() {
        let i = interest(false, &["current"]);
        assert!(i.matches(libc::IN_MOVED_TO, OsStr::new("current")));
        assert!(i.matches(libc::IN_ATTRIB, OsStr::new("current")));
        assert!(!i.matches(libc::IN_CREATE, OsStr::new("current.new")));
    }

    fn names(set: &HashSet<OsString>) -> Vec<&str> {
        let mut v: Vec<&str> = set.iter().filter_map(|n| n.to_str()).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn last_structural_event_decides_whether_a_name_was_moved_in() {
        let mut moved = HashMap::new();
        let web = OsStr::new("web");
        note_move(&mut moved, 1, libc::IN_MOVED_TO | libc::IN_ISDIR, web);
        note_move(&mut moved, 1, libc::IN_MOVED_TO, OsStr::new("db"));
        note_move(&mut moved, 2, libc::IN_MOVED_TO, OsStr::new("elsewhere"));
        assert_eq!(names(&moved[&1]), ["db", "web"]);
        note_move(&mut moved, 1, libc::IN_ATTRIB, web);
        assert_eq!(names(&moved[&1]), ["db", "web"], "attributes do not change what the name is");
        note_move(&mut moved, 1, libc::IN_DELETE | libc::IN_ISDIR, web);
        note_move(&mut moved, 1, libc::IN_CREATE | libc::IN_ISDIR, web);
        assert_eq!(names(&moved[&1]), ["db"], "removed, then created in place");
        note_move(&mut moved, 1, libc::IN_MOVED_FROM, OsStr::new("db"));
        assert!(moved[&1].is_empty());
        note_move(&mut moved, 3, libc::IN_CREATE, web);
        assert!(!moved.contains_key(&3), "nothing recorded for a create");
    }

    #[test]
    fn names_moved_into_the_scan_directory_are_reported_once() {
        let tmp = std::env::temp_dir().join(format!("runsvdir-moved-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("scan")).expect("mkdir");
        std::fs::create_dir_all(tmp.join("build/web")).expect("mkdir");
        let scan = tmp.join("scan");
        let mut w = Watcher::new().expect("watcher");
        w.begin();
        w.all(&scan);
        assert!(w.end().is_empty());
        std::fs::create_dir(scan.join("made")).expect("mkdir in place");
        std::fs::rename(tmp.join("build/web"), scan.join("web")).expect("move in");
        std::fs::create_dir(tmp.join("build/gone")).expect("mkdir");
        std::fs::rename(tmp.join("build/gone"), scan.join("gone")).expect("move in");
        std::fs::remove_dir(scan.join("gone")).expect("rmdir");
        assert!(w.relevant().expect("read"));
        w.begin();
        w.all(&scan);
        assert_eq!(names(&w.moved_in(&scan)), ["web"]);
        assert!(w.moved_in(&scan).is_empty(), "taken");
        assert!(w.end().is_empty());
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }

    #[test]
    fn failed_watches_are_reported_once_and_degrade() {
        let mut w = Watcher::new().expect("watcher");
        let long = PathBuf::from("x/".repeat(3000));
        w.begin();
        w.all(&long);
        let failures = w.end();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].1.raw_os_error(), Some(libc::ENAMETOOLONG));
        assert!(w.degraded());
        w.begin();
        w.all(&long);
        assert!(w.end().is_empty(), "reported once");
        assert!(w.degraded(), "still missing");
        w.begin();
        assert!(w.end().is_empty());
        assert!(!w.degraded(), "no longer wanted");
    }

    #[test]
    fn symlink_swap_in_the_chain_is_relevant() {
        let tmp = std::env::temp_dir().join(format!("runsvdir-watch-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("sets/g1")).expect("mkdir");
        std::fs::create_dir_all(tmp.join("sets/g2")).expect("mkdir");
        std::os::unix::fs::symlink("sets/g1", tmp.join("current")).expect("symlink");
        let mut w = Watcher::new().expect("watcher");
        w.begin();
        let target = w.chain(&Place::resolved(&tmp), Path::new("current")).expect("resolves");
        assert_eq!(target.path(), tmp.join("sets/g1"));
        w.all(target.path());
        assert!(w.end().is_empty());
        assert!(!w.degraded());
        // Unrelated names in watched directories do not call for a scan.
        std::fs::write(tmp.join("unrelated"), b"").expect("write");
        assert!(!w.relevant().expect("read"));
        // The atomic swap does.
        std::os::unix::fs::symlink("sets/g2", tmp.join("current.new")).expect("symlink");
        assert!(!w.relevant().expect("read"));
        std::fs::rename(tmp.join("current.new"), tmp.join("current")).expect("rename");
        assert!(w.relevant().expect("read"));
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }

    #[test]
    fn want_tells_a_new_watch_from_a_known_one() {
        let tmp = std::env::temp_dir().join(format!("runsvdir-want-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(tmp.join("a")).expect("mkdir");
        let mut w = Watcher::new().expect("watcher");
        w.begin();
        assert!(w.want(&tmp, Some(OsStr::new("a"))), "first watch on the directory");
        assert!(!w.want(&tmp, Some(OsStr::new("b"))), "same directory, same cycle");
        assert!(!w.want(&tmp.join("missing"), None), "nothing to watch");
        assert!(w.end().is_empty());
        w.begin();
        assert!(!w.want(&tmp, None), "watched since the last cycle");
        assert!(w.want(&tmp.join("a"), None));
        assert!(w.end().is_empty());
        std::fs::remove_dir_all(&tmp).expect("cleanup");
    }
}
