//! Scenario tests of the service table on a fake clock.

use super::*;

const T0: Duration = Duration::from_secs(1_700_000_000);

/// A fake clock and a table, with helpers to build listings.
struct Sim {
    table: Table,
    start: Instant,
    elapsed: Duration,
    next_pid: i32,
}

impl Sim {
    fn new() -> Self {
        Sim { table: Table::new(), start: Instant::now(), elapsed: Duration::ZERO, next_pid: 100 }
    }

    fn clock(&self) -> Clock {
        Clock { now: self.start + self.elapsed, wall: T0 + self.elapsed }
    }

    fn advance(&mut self, ms: u64) {
        self.elapsed += Duration::from_millis(ms);
    }

    /// Scans and performs the actions like the driver: starts get pids.
    fn scan_with(&mut self, entries: &[Entry], settle: Settle<'_>) -> Vec<Action> {
        let clock = self.clock();
        let actions = self.table.scan(entries, clock, settle);
        for a in &actions {
            if let Action::Start { id, .. } = a {
                self.next_pid += 1;
                self.table.started(*id, self.next_pid, clock.now);
            }
        }
        actions
    }

    fn scan(&mut self, entries: &[Entry]) -> Vec<Action> {
        self.scan_with(entries, Settle::Fresh { moved_in: &HashSet::new() })
    }

    /// A scan after `moved` were moved into the scan directory.
    fn scan_moved(&mut self, entries: &[Entry], moved: &[&str]) -> Vec<Action> {
        let moved_in: HashSet<OsString> = moved.iter().map(OsString::from).collect();
        self.scan_with(entries, Settle::Fresh { moved_in: &moved_in })
    }

    fn pid_of(&self, ino: u64) -> Option<i32> {
        self.table.services.get(&id(ino)).and_then(|s| s.pid)
    }
}

fn id(ino: u64) -> Identity {
    Identity { dev: 1, ino }
}

fn dir(name: &str, ino: u64) -> Entry {
    Entry { name: name.into(), kind: Kind::Dir { id: id(ino), symlink: false, modified: None } }
}

fn link(name: &str, ino: u64) -> Entry {
    Entry { name: name.into(), kind: Kind::Dir { id: id(ino), symlink: true, modified: None } }
}

fn fresh(name: &str, ino: u64, modified: Duration) -> Entry {
    Entry { name: name.into(), kind: Kind::Dir { id: id(ino), symlink: false, modified: Some(modified) } }
}

fn start(name: &str, ino: u64) -> Action {
    Action::Start { id: id(ino), name: name.into() }
}

#[test]
fn new_directories_are_started_in_listing_order() {
    let mut s = Sim::new();
    let acts = s.scan(&[dir("b", 2), dir("a", 1)]);
    assert_eq!(acts, vec![start("b", 2), start("a", 1)]);
    assert_eq!(s.table.len(), 2);
    assert!(s.scan(&[dir("b", 2), dir("a", 1)]).is_empty(), "nothing to do when unchanged");
    assert_eq!(s.table.next_deadline(), None, "idle: no wake-up");
}

#[test]
fn dot_entries_files_and_unstatable_entries_get_nothing() {
    let mut s = Sim::new();
    let entries = [
        dir(".hidden", 1),
        Entry { name: "file".into(), kind: Kind::Other },
        Entry { name: "dangling".into(), kind: Kind::Unstatable },
    ];
    assert!(s.scan(&entries).is_empty());
    assert!(s.table.is_empty());
}

#[test]
fn removed_directory_is_stopped_after_the_grace() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1), dir("b", 2)]);
    let pid = s.pid_of(2).expect("pid");
    assert!(s.scan(&[dir("a", 1)]).is_empty(), "not yet: grace");
    assert_eq!(s.table.next_deadline(), Some(s.clock().now + REMOVAL_GRACE));
    s.advance(999);
    assert!(s.scan(&[dir("a", 1)]).is_empty());
    s.advance(1);
    assert_eq!(s.scan(&[dir("a", 1)]), vec![Action::Term { pid }]);
    assert_eq!(s.table.len(), 1);
    assert!(!s.table.reaped(pid), "a stopped runsv is forgotten: its exit is ignored");
    assert!(s.scan(&[dir("a", 1)]).is_empty(), "and it is not restarted");
}

#[test]
fn directory_back_within_the_grace_keeps_its_runsv() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1)]);
    let pid = s.pid_of(1);
    assert!(s.scan(&[]).is_empty());
    s.advance(300);
    assert!(s.scan(&[link("a", 1)]).is_empty(), "ln -sfn gap: same directory is back");
    s.advance(2000);
    assert!(s.scan(&[link("a", 1)]).is_empty());
    assert_eq!(s.pid_of(1), pid);
}

#[test]
fn rename_keeps_the_runsv() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1)]);
    let pid = s.pid_of(1);
    assert!(s.scan(&[dir("a2", 1)]).is_empty());
    s.advance(5000);
    assert!(s.scan(&[dir("a2", 1)]).is_empty());
    assert_eq!(s.pid_of(1), pid);
    assert_eq!(s.table.services[&id(1)].name, "a2");
}

#[test]
fn symlink_swapped_to_the_same_directory_keeps_the_runsv() {
    let mut s = Sim::new();
    s.scan(&[link("web", 7)]);
    let pid = s.pid_of(7);
    // The scan directory's target is swapped to a new set whose `web` leads
    // to the same service directory: nothing happens (boot relies on it).
    assert!(s.scan_with(&[link("web", 7), link("db", 8)], Settle::Never) == vec![start("db", 8)]);
    assert_eq!(s.pid_of(7), pid);
}

#[test]
fn name_reused_for_another_directory_replaces_in_one_pass() {
    let mut s = Sim::new();
    s.scan(&[link("web", 7), link("db", 8)]);
    let old = s.pid_of(7).expect("pid");
    let acts = s.scan(&[link("web", 9), link("db", 8)]);
    assert_eq!(acts, vec![start("web", 9), Action::Term { pid: old }], "runit: start new, stop old");
}

#[test]
fn two_names_for_one_directory_get_one_runsv() {
    let mut s = Sim::new();
    assert_eq!(s.scan(&[dir("a", 1), link("b", 1)]), vec![start("a", 1)]);
    // Removing the first name: the service stays, now seen as "b".
    assert!(s.scan(&[link("b", 1)]).is_empty());
    assert_eq!(s.table.services[&id(1)].name, "b");
}

#[test]
fn dead_runsv_is_restarted_at_most_once_per_second() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1)]);
    let pid = s.pid_of(1).expect("pid");
    s.advance(200);
    assert!(s.table.reaped(pid));
    assert_eq!(s.pid_of(1), None);
    let due = s.clock().now + Duration::from_millis(800);
    assert_eq!(s.table.next_deadline(), Some(due));
    assert!(s.scan(&[dir("a", 1)]).is_empty(), "too soon after its start");
    s.advance(800);
    assert_eq!(s.scan(&[dir("a", 1)]), vec![start("a", 1)]);
    assert_ne!(s.pid_of(1), Some(pid));
}

#[test]
fn long_running_runsv_is_restarted_at_once() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1)]);
    let pid = s.pid_of(1).expect("pid");
    s.advance(60_000);
    assert!(s.table.reaped(pid));
    assert!(s.table.next_deadline().is_some_and(|t| t <= s.clock().now));
    assert_eq!(s.scan(&[dir("a", 1)]), vec![start("a", 1)]);
}

#[test]
fn failed_fork_is_retried_after_the_throttle() {
    let mut s = Sim::new();
    let clock = s.clock();
    assert_eq!(
        s.table.scan(&[dir("a", 1)], clock, Settle::Fresh { moved_in: &HashSet::new() }),
        vec![start("a", 1)]
    );
    s.table.start_failed(id(1), clock.now);
    assert!(s.scan(&[dir("a", 1)]).is_empty());
    s.advance(1000);
    assert_eq!(s.scan(&[dir("a", 1)]), vec![start("a", 1)]);
}

#[test]
fn dead_and_gone_is_forgotten_without_signal() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1)]);
    let pid = s.pid_of(1).expect("pid");
    s.table.reaped(pid);
    assert!(s.scan(&[]).is_empty());
    assert!(s.table.is_empty());
}

#[test]
fn unknown_pids_are_not_services() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1)]);
    assert!(!s.table.reaped(4242), "an orphan reaped as PID 1 is discarded");
    assert!(s.pid_of(1).is_some());
}

#[test]
fn fresh_real_directory_settles_first() {
    let mut s = Sim::new();
    s.scan(&[]);
    let modified = T0 + s.elapsed - Duration::from_millis(200);
    assert!(s.scan(&[fresh("new", 3, modified)]).is_empty(), "held while settling");
    assert_eq!(s.table.next_deadline(), Some(s.clock().now + Duration::from_millis(800)));
    s.advance(800);
    assert_eq!(s.scan(&[fresh("new", 3, modified)]), vec![start("new", 3)]);
}

#[test]
fn modification_while_settling_postpones() {
    let mut s = Sim::new();
    let m1 = T0 + s.elapsed;
    assert!(s.scan(&[fresh("new", 3, m1)]).is_empty());
    s.advance(900);
    let m2 = T0 + s.elapsed; // log/ created just now
    assert!(s.scan(&[fresh("new", 3, m2)]).is_empty());
    s.advance(999);
    assert!(s.scan(&[fresh("new", 3, m2)]).is_empty());
    s.advance(1);
    assert_eq!(s.scan(&[fresh("new", 3, m2)]), vec![start("new", 3)]);
}

#[test]
fn future_modification_time_holds_at_most_five_seconds() {
    let mut s = Sim::new();
    let future = T0 + Duration::from_secs(3600);
    for _ in 0..5 {
        assert!(s.scan(&[fresh("new", 3, future)]).is_empty());
        s.advance(1000);
    }
    assert_eq!(s.scan(&[fresh("new", 3, future)]), vec![start("new", 3)]);
}

#[test]
fn symlinks_and_first_listing_do_not_settle() {
    let mut s = Sim::new();
    let now = T0;
    // Everything found when the scan directory is first seen starts at once.
    assert_eq!(s.scan_with(&[fresh("a", 1, now)], Settle::Never), vec![start("a", 1)]);
    // A symlink is the atomic way to add a prepared service.
    let e = Entry { name: "b".into(), kind: Kind::Dir { id: id(2), symlink: true, modified: Some(now) } };
    assert_eq!(s.scan(&[e]), vec![start("b", 2)]);
    // An old directory moved in starts at once.
    let old = T0 - Duration::from_secs(60);
    assert_eq!(s.scan(&[fresh("c", 3, old)]), vec![start("c", 3)]);
}

#[test]
fn directory_moved_in_starts_at_once_and_one_created_in_place_settles() {
    let mut s = Sim::new();
    s.scan(&[]);
    let now = T0 + s.elapsed;
    // Both just modified; only "made" was created in place.
    let acts = s.scan_moved(&[fresh("made", 1, now), fresh("moved", 2, now)], &["moved"]);
    assert_eq!(acts, vec![start("moved", 2)], "a directory moved in is complete");
    assert_eq!(s.table.next_deadline(), Some(s.clock().now + SETTLE), "the other settles");
    // The next scan (no move since) keeps holding the one created in place.
    s.advance(500);
    assert!(s.scan(&[fresh("made", 1, now), fresh("moved", 2, now)]).is_empty());
    s.advance(500);
    assert_eq!(s.scan(&[fresh("made", 1, now), fresh("moved", 2, now)]), vec![start("made", 1)]);
}

#[test]
fn directory_held_while_settling_starts_once_moved_over() {
    // mkdir web.tmp in place (held), then rename web.tmp web: the rename
    // says it is complete.
    let mut s = Sim::new();
    s.scan(&[]);
    let now = T0 + s.elapsed;
    assert!(s.scan(&[fresh("web.tmp", 4, now)]).is_empty(), "held");
    s.advance(100);
    assert_eq!(s.scan_moved(&[fresh("web", 4, now)], &["web"]), vec![start("web", 4)]);
    assert_eq!(s.table.next_deadline(), None, "no hold left");
}

#[test]
fn moved_in_counts_for_its_own_name_only() {
    let mut s = Sim::new();
    s.scan(&[]);
    let now = T0 + s.elapsed;
    // A move of another name does not release a directory created in place.
    assert!(s.scan_moved(&[fresh("made", 1, now)], &["other"]).is_empty());
    // A known service moved in again is not started twice.
    s.advance(1000);
    assert_eq!(s.scan(&[fresh("made", 1, now)]), vec![start("made", 1)]);
    assert!(s.scan_moved(&[fresh("made", 1, now)], &["made"]).is_empty());
}

#[test]
fn hold_is_dropped_when_the_entry_goes() {
    let mut s = Sim::new();
    assert!(s.scan(&[fresh("new", 3, T0)]).is_empty());
    assert!(s.scan(&[]).is_empty());
    assert_eq!(s.table.next_deadline(), None);
}

#[test]
fn ten_thousand_services() {
    let mut s = Sim::new();
    let entries: Vec<Entry> = (0..10_000).map(|i| dir(&format!("s{i:05}"), i)).collect();
    let acts = s.scan(&entries);
    assert_eq!(acts.len(), 10_000, "runit stops at 1000; we do not");
    assert_eq!(s.table.pids().len(), 10_000);
    assert!(s.scan(&entries).is_empty());
}

#[test]
fn drain_returns_every_runsv() {
    let mut s = Sim::new();
    s.scan(&[dir("a", 1), dir("b", 2)]);
    s.scan(&[dir("a", 1)]); // b in its grace: still monitored
    let mut pids = s.table.drain();
    pids.sort_unstable();
    assert_eq!(pids.len(), 2);
    assert!(s.table.is_empty());
}

#[test]
fn a_pass_fed_entry_by_entry_starts_as_it_goes_and_stops_at_the_end() {
    // The driver starts each runsv as its entry is listed and reports the
    // pid before the next entry: the result is the same as one scan.
    let mut s = Sim::new();
    s.scan(&[dir("web", 7), dir("db", 8)]);
    let old_db = s.pid_of(8).expect("db runs");
    s.advance(2000);
    let listing = [dir("web", 7), dir("db", 9), link("db-alias", 9), dir("cache", 10)];
    let clock = s.clock();
    let moved_in = HashSet::new();
    let mut pass = Table::pass(clock, Settle::Fresh { moved_in: &moved_in });
    let mut started = Vec::new();
    for e in &listing {
        if let Some(a) = s.table.entry(&mut pass, e) {
            let Action::Start { id, ref name } = a else { panic!("only starts while listing: {a:?}") };
            s.next_pid += 1;
            s.table.started(id, s.next_pid, clock.now);
            started.push(name.clone());
        }
    }
    assert_eq!(started, ["db", "cache"], "one runsv per directory, in listing order");
    assert_eq!(s.table.finish(pass), vec![Action::Term { pid: old_db }], "db now leads elsewhere: stopped");
    assert!(s.scan(&listing).is_empty(), "nothing left to do");
}
