//! End-to-end tests of our runsvdir (with our runsv): scanning rules,
//! identity by (dev, inode), restarts, signals, `-P`, the proctitle log
//! (conformance items 59-72), instant pickup through symlink chains, and
//! more than 1000 services.

// Test set-up failing is a test failure: unwrap is the clearest report.
#![allow(clippy::unwrap_used)]

#[path = "runsvdir_support/mod.rs"]
mod support;

use harness::{control, read, script, wait_for, wait_until};
use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;
use support::*;

fn ours(name: &str) -> Tree {
    Tree::new(name, Imp::Ours)
}

#[test]
fn one_runsv_per_service_directory() {
    // Conformance 60: a directory and a symlink to one get `runsv <name>`;
    // dot entries and plain files get nothing.
    let mut t = ours("rsd-one-each");
    t.in_scan("a");
    let b = t.stored("b");
    t.link(&b, "b");
    t.in_scan(".hidden");
    fs::write(t.scan.join("file"), b"x").unwrap();
    assert!(t.start(&[], &[]));
    let r = t.wait_names(&["a", "b"], SOON);
    assert_eq!(cmdline(r[0].pid).unwrap(), vec!["runsv", "a"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.names(), vec!["a", "b"], "still exactly these");
    assert!(!t.scan.join(".hidden/supervise").exists());
}

#[test]
fn dangling_symlink_warns_and_is_started_when_its_target_appears() {
    // Conformance 61; and what runit misses: the scan directory does not
    // change when the target appears, we notice anyway.
    let mut t = ours("rsd-dangling");
    let target = t.store.join("later");
    t.link(&target, "later");
    assert!(t.start(&[], &[]));
    let want = format!("runsvdir {}: warning: unable to stat later: file does not exist\n", t.scan.display());
    wait_until(SOON, "dangling warning", || t.stderr().contains(&want));
    assert!(t.names().is_empty());
    t.stored("later");
    t.wait_names(&["later"], SOON);
}

#[test]
fn symlink_chain_target_appearing_deep_down() {
    // scan/web -> store/link -> store/deep/web, with store/deep missing.
    let mut t = ours("rsd-chain");
    symlink(t.store.join("deep/web"), t.store.join("link")).unwrap();
    t.link(&t.store.join("link"), "web");
    assert!(t.start(&[], &[]));
    wait_until(SOON, "warning", || t.stderr().contains("unable to stat web"));
    // Build the target elsewhere and move it in: each step changes a
    // different directory of the chain.
    fs::create_dir_all(t.scratch.join("staging/web")).unwrap();
    script(t.scratch.join("staging/web/run"), SLEEP);
    fs::rename(t.scratch.join("staging"), t.store.join("deep")).unwrap();
    t.wait_names(&["web"], SOON);
}

#[test]
fn scan_directory_whose_parents_appear_after_start() {
    // boot starts runsvdir before its tree exists, then creates the parents
    // and the `current` symlink in quick succession. A name looked up in a
    // directory that was not yet watched must be looked at again once the
    // watch is in place, or the service is never started (a race seen in
    // boot's tests). Several rounds make the race likely to be hit.
    for round in 0..5 {
        let mut t = ours(&format!("rsd-late-parents-{round}"));
        t.stored("web");
        let scan = t.scratch.join("var/lib/boot/current");
        assert!(t.start_raw(&[scan.to_string_lossy().into_owned()], &[]));
        wait_until(SOON, "missing scan directory warning", || t.stderr().contains("unable to stat"));
        for dir in ["var", "var/lib", "var/lib/boot"] {
            fs::create_dir(t.scratch.join(dir)).unwrap();
        }
        symlink(&t.store, &scan).unwrap();
        let pid = wait_for(SOON, || t.runsv().into_iter().find(|r| r.name == "web").map(|r| r.pid));
        assert!(pid.is_some(), "round {round}: web never got a runsv; stderr: {}", t.stderr());
    }
}

#[test]
fn new_services_are_started() {
    // Conformance 62, for a symlink (at once) and for a directory created in
    // place (after it has settled for a second).
    let mut t = ours("rsd-add");
    t.in_scan("a");
    assert!(t.start(&[], &[]));
    t.wait_names(&["a"], SOON);
    let b = t.stored("b");
    t.link(&b, "b");
    t.wait_names(&["a", "b"], SOON);
    // In place: mkdir, then run, then log/ — runsv reads log/ only at
    // start, so it must not start before log/ exists.
    let c = t.scan.join("c");
    fs::create_dir(&c).unwrap();
    script(c.join("run"), "#!/bin/sh\necho hello-from-c\nexec sleep 1000\n");
    std::thread::sleep(Duration::from_millis(200));
    script(c.join("log/run"), "#!/bin/sh\nexec cat > out\n");
    t.wait_names(&["a", "b", "c"], SOON);
    wait_until(SOON, "c's log service", || read(c.join("log/out")).contains("hello-from-c"));
}

/// Sets the modification time of `path` an hour into the future: a
/// directory created in place with it is held for the longest settle
/// (`MAX_HOLD`, 5 s after it is first seen), whatever the machine's speed.
fn modified_in_the_future(path: &std::path::Path) {
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    fs::File::open(path).unwrap().set_modified(later).unwrap();
}

#[test]
fn directory_moved_in_starts_while_one_created_in_place_settles() {
    // A directory built elsewhere and renamed into the scan directory is
    // complete: it starts at once. One created in place (mkdir, then files)
    // is held until it settles. Both are given a modification time in the
    // future, which holds a settling directory for 5 s: if the moved one
    // were held too, it could not start before the one created in place
    // (seen first) did.
    let mut t = ours("rsd-moved-in");
    let first = t.stored("first");
    t.link(&first, "first");
    assert!(t.start(&[], &[]));
    // After the first listing (which starts everything at once).
    t.wait_names(&["first"], SOON);
    let made = t.in_scan("made");
    modified_in_the_future(&made);
    let built = t.service(&t.scratch.join("build/moved"), SLEEP);
    modified_in_the_future(&built);
    let moved = t.scan.join("moved");
    fs::rename(&built, &moved).unwrap();
    wait_until(SOON, "the moved-in directory supervised", || harness::supervised(&moved));
    assert!(
        !made.join("supervise").exists(),
        "the directory created in place was started before it settled; stderr: {}",
        t.stderr()
    );
    // The settle still ends for the one created in place.
    t.wait_names(&["first", "made", "moved"], SOON + SOON);
}

#[test]
fn removed_service_gets_term_and_is_not_restarted() {
    // Conformance 63.
    let mut t = ours("rsd-remove");
    t.in_scan("a");
    let b = t.stored("b");
    t.link(&b, "b");
    assert!(t.start(&[], &[]));
    let r = t.wait_names(&["a", "b"], SOON);
    let (pa, pb) = (r[0].pid, r[1].pid);
    fs::remove_file(t.scan.join("b")).unwrap();
    assert!(wait_gone(pb, SOON), "runsv b stopped");
    wait_until(SOON, "b's service down", || read(b.join("supervise/stat")) == "down\n");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(t.names(), vec!["a"], "not restarted");
    assert_eq!(t.pid_of("a"), Some(pa));
    // A directory removed for good.
    fs::remove_dir_all(t.scan.join("a")).unwrap();
    assert!(wait_gone(pa, SOON), "runsv a stopped");
}

#[test]
fn rename_keeps_the_runsv() {
    // Conformance 64: same inode, same runsv, argv unchanged.
    let mut t = ours("rsd-rename");
    t.in_scan("a");
    assert!(t.start(&[], &[]));
    let pid = t.wait_names(&["a"], SOON)[0].pid;
    fs::rename(t.scan.join("a"), t.scan.join("a2")).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(t.runsv(), vec![Runsv { pid, name: "a".into() }]);
    assert!(harness::supervised(&t.scan.join("a2")));
}

#[test]
fn exited_or_killed_runsv_is_restarted() {
    // Conformance 65: `x` makes runsv exit; SIGKILL kills it.
    let mut t = ours("rsd-restart");
    let a = t.in_scan("a");
    assert!(t.start(&[], &[]));
    let first = t.wait_names(&["a"], SOON)[0].pid;
    control(&a, "x");
    assert!(wait_gone(first, SOON));
    let second = wait_for(SOON, || t.pid_of("a").filter(|&p| p != first)).expect("restarted after x");
    wait_until(SOON, "supervised again", || harness::supervised(&a));
    kill(second, libc::SIGKILL);
    let third = wait_for(SOON, || t.pid_of("a").filter(|&p| p != second)).expect("restarted after KILL");
    assert_ne!(third, first);
}

#[test]
fn dash_p_makes_each_runsv_a_session_leader() {
    // Conformance 66.
    let mut t = ours("rsd-dashp");
    t.in_scan("a");
    assert!(t.start(&["-P"], &[]));
    let pid = t.wait_names(&["a"], SOON)[0].pid;
    assert_eq!(pgid_sid(pid), Some((pid, pid)));
    let run = harness::wait_running_pid(&t.scan.join("a"), SOON) as i32;
    assert_eq!(pgid_sid(run).map(|p| p.1), Some(pid), "the service is in runsv's session");

    let mut u = ours("rsd-nodashp");
    u.in_scan("a");
    assert!(u.start(&[], &[]));
    let pid = u.wait_names(&["a"], SOON)[0].pid;
    assert_eq!(pgid_sid(pid), pgid_sid(u.pid()), "same group and session as runsvdir");
}

#[test]
fn term_exits_zero_and_leaves_runsv_running() {
    // Conformance 67.
    let mut t = ours("rsd-term");
    t.in_scan("a");
    assert!(t.start(&[], &[]));
    let pid = t.wait_names(&["a"], SOON)[0].pid;
    kill(t.pid(), libc::SIGTERM);
    let st = t.wait_exit(SOON).expect("exits");
    assert_eq!(st.code(), Some(0));
    std::thread::sleep(Duration::from_millis(300));
    assert!(harness::alive(pid), "runsv keeps running");
    assert!(harness::supervised(&t.scan.join("a")));
}

#[test]
fn hup_terms_every_runsv_and_exits_111() {
    // Conformance 68.
    let mut t = ours("rsd-hup");
    t.in_scan("a");
    t.in_scan("b");
    assert!(t.start(&[], &[]));
    let r = t.wait_names(&["a", "b"], SOON);
    kill(t.pid(), libc::SIGHUP);
    assert_eq!(t.wait_exit(SOON).expect("exits").code(), Some(111));
    for x in r {
        assert!(wait_gone(x.pid, SOON), "runsv {} got TERM and exited", x.name);
    }
    assert_eq!(read(t.scan.join("a/supervise/stat")), "down\n");
}

#[test]
fn alrm_terminates_runsvdir() {
    // Conformance 72, runit 2.3.0: SIGALRM is not caught (Debian's 2.1.2
    // rescans instead, see runsvdir_diff.rs).
    let mut t = ours("rsd-alrm");
    t.in_scan("a");
    assert!(t.start(&[], &[]));
    t.wait_names(&["a"], SOON);
    let cgt = harness::proc_status_field(t.pid(), "SigCgt").unwrap();
    let mask = u64::from_str_radix(&cgt, 16).unwrap();
    let bit = |s: i32| 1u64 << (s - 1);
    assert_eq!(mask, bit(libc::SIGHUP) | bit(libc::SIGTERM) | bit(libc::SIGCHLD), "SigCgt {cgt}");
    kill(t.pid(), libc::SIGALRM);
    let st = t.wait_exit(SOON).expect("dies");
    assert_eq!(st.signal(), Some(libc::SIGALRM));
}

#[test]
fn proctitle_log_shows_recent_stderr() {
    // Conformance 70: the first five characters stay, the rest is a window
    // on the most recent stderr bytes (runsvdir's and its children's).
    let mut t = ours("rsd-proctitle");
    t.link(&t.store.join("nothing"), "dang");
    let log = format!("log: {}", ".".repeat(120));
    assert!(t.start(&["{}", &log], &[]));
    let warning = "warning: unable to stat dang: file does not exist\n.";
    let title = wait_for(SOON, || {
        let argv = cmdline(t.pid())?;
        let title = argv.get(2)?.clone();
        title.ends_with(warning).then_some(title)
    })
    .unwrap_or_else(|| panic!("title is {:?}", cmdline(t.pid())));
    assert_eq!(title.len(), log.len());
    assert!(title.starts_with("log: "));
    let expected_stream = format!(".runsvdir {}: {warning}", t.scan.display());
    let window = &title[5..];
    assert!(expected_stream.ends_with(window) || window.ends_with(&expected_stream), "{title:?}");
    // A child's stderr shows up too: runsv's (and the services') stderr is
    // the log pipe.
    t.service(&t.store.join("noisy"), "#!/bin/sh\necho noisy-service-says-hi >&2\nexec sleep 1000\n");
    t.link(&t.store.join("noisy"), "noisy");
    wait_until(SOON, "child's stderr in the title", || {
        cmdline(t.pid())
            .and_then(|a| a.get(2).cloned())
            .is_some_and(|s| s.contains("noisy-service-says-hi\n"))
    });
}

#[test]
fn symlink_swapped_to_same_or_other_directory() {
    let mut t = ours("rsd-swap");
    let web1 = t.stored("web1");
    let web2 = t.stored("web2");
    t.link(&web1, "web");
    assert!(t.start(&[], &[]));
    let pid = t.wait_names(&["web"], SOON)[0].pid;
    // Same directory through another path: nothing happens.
    let alias = t.store.join("alias");
    symlink(&web1, &alias).unwrap();
    t.relink(&alias, "web");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(t.pid_of("web"), Some(pid));
    // Another directory: new runsv at once, old one stopped.
    t.relink(&web2, "web");
    assert!(wait_gone(pid, SOON), "old runsv stopped");
    wait_until(SOON, "new runsv", || t.pid_of("web").is_some_and(|p| p != pid));
    wait_until(SOON, "web2 supervised", || harness::supervised(&web2));
}

#[test]
fn scan_directory_swap_keeps_unchanged_services() {
    // boot's apply: runsvdir scans `current`, a symlink renamed over from
    // sets/g1 to sets/g2. web is the same directory in both sets and keeps
    // its runsv; db is only in g1 and is stopped; cache is new.
    let t0 = ours("rsd-setswap");
    let sets = t0.scratch.join("sets");
    let sv = t0.store.clone();
    let (web, db, cache) = (t0.stored("web"), t0.stored("db"), t0.stored("cache"));
    for (set, members) in
        [("g1", vec![("web", &web), ("db", &db)]), ("g2", vec![("web", &web), ("cache", &cache)])]
    {
        fs::create_dir_all(sets.join(set)).unwrap();
        for (name, dir) in members {
            symlink(dir, sets.join(set).join(name)).unwrap();
        }
    }
    let current = t0.scratch.join("current");
    symlink("sets/g1", &current).unwrap();
    let mut t = t0;
    t.scan = current.clone();
    assert!(t.start(&[], &[]));
    let r = t.wait_names(&["db", "web"], SOON);
    let (db_pid, web_pid) = (r[0].pid, r[1].pid);
    symlink("sets/g2", t.scratch.join("current.new")).unwrap();
    fs::rename(t.scratch.join("current.new"), &current).unwrap();
    let r = t.wait_names(&["cache", "web"], SOON);
    assert_eq!(r[1].pid, web_pid, "web kept its runsv");
    assert!(wait_gone(db_pid, SOON), "db stopped");
    assert!(sv.join("cache/supervise").is_dir());
}

#[test]
fn target_replaced_behind_a_symlink_gets_a_new_runsv() {
    // runit does not notice (the scan directory is unchanged); we do.
    let mut t = ours("rsd-behind");
    let web = t.stored("web");
    t.link(&web, "web");
    assert!(t.start(&[], &[]));
    let pid = t.wait_names(&["web"], SOON)[0].pid;
    let fresh = t.scratch.join("web.new");
    t.service(&fresh, SLEEP);
    fs::rename(&web, t.scratch.join("web.old")).unwrap();
    fs::rename(&fresh, &web).unwrap();
    assert!(wait_gone(pid, SOON), "old runsv stopped");
    wait_until(SOON, "new directory supervised", || harness::supervised(&web));
}

#[test]
fn files_loops_and_closed_directories() {
    let mut t = ours("rsd-odd");
    fs::write(t.scan.join("file"), b"").unwrap();
    symlink("loop", t.scan.join("loop")).unwrap();
    let closed = t.in_scan("closed");
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o000)).unwrap();
    t.in_scan("ok");
    assert!(t.start(&[], &[]));
    let want = format!("runsvdir {}: warning: unable to stat loop: symbolic link loop\n", t.scan.display());
    wait_until(SOON, "loop warning", || t.stderr().contains(&want));
    // A directory is a service whatever its mode (stat does not need to
    // read it); as root, runsv can use it.
    let names = if harness::is_root() { vec!["closed", "ok"] } else { vec!["ok"] };
    wait_until(SOON, "services", || names.iter().all(|n| t.pid_of(n).is_some()));
    assert!(t.pid_of("file").is_none() && t.pid_of("loop").is_none());
    fs::set_permissions(&closed, fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn more_than_a_thousand_services() {
    // runit stops at 1000 ("too many services"); we supervise them all.
    // `down` keeps the services themselves from running: only runsv.
    const N: usize = 1200;
    let mut t = ours("rsd-many");
    for i in 0..N {
        let d = t.scan.join(format!("s{i:04}"));
        script(d.join("run"), SLEEP);
        fs::write(d.join("down"), b"").unwrap();
    }
    assert!(t.start(&[], &[]));
    let n = wait_for(Duration::from_secs(60), || {
        let n = t.runsv().len();
        (n == N).then_some(n)
    });
    assert_eq!(n, Some(N), "runsv count {}; stderr {}", t.runsv().len(), t.stderr());
    wait_until(Duration::from_secs(60), "all supervised", || {
        (0..N).all(|i| harness::supervised(&t.scan.join(format!("s{i:04}"))))
    });
    assert!(!t.stderr().contains("too many services"));
}

#[test]
fn poll_mode_without_inotify_still_picks_up_services() {
    // RUNSVDIR_POLL=1 forces runit's periodic check (the fallback when
    // inotify is unavailable or a watch fails).
    let mut t = ours("rsd-poll");
    t.in_scan("a");
    assert!(t.start(&[], &[("RUNSVDIR_POLL", "1")]));
    t.wait_names(&["a"], SOON);
    assert!(!has_inotify_fd(t.pid()), "no inotify descriptor in polling mode");
    let b = t.stored("b");
    t.link(&b, "b");
    t.wait_names(&["a", "b"], RUNIT_PERIOD);
    fs::remove_file(t.scan.join("b")).unwrap();
    t.wait_names(&["a"], RUNIT_PERIOD);

    let mut u = ours("rsd-inotify");
    assert!(u.start(&[], &[]));
    wait_until(SOON, "inotify descriptor", || has_inotify_fd(u.pid()));
}

#[test]
fn unwatchable_directory_is_reported_and_polled() {
    // As nobody, a search-only directory (0711) can be resolved through but
    // not watched (inotify needs read permission): runsvdir warns once and
    // adds runit's periodic check; the scan directory is still watched.
    if !harness::is_root() {
        eprintln!("skipped: needs root (to run runsvdir as nobody)");
        return;
    }
    harness::installed(&["/usr/bin/setpriv"], "util-linux");
    let mut t = ours("rsd-degraded");
    let private = t.store.join("private");
    let web = t.service(&private.join("web"), SLEEP);
    let other = t.stored("other");
    for d in [&web, &other] {
        std::os::unix::fs::chown(d, Some(65534), Some(65534)).unwrap();
    }
    fs::set_permissions(&private, fs::Permissions::from_mode(0o711)).unwrap();
    t.link(&web, "web");
    let bin = harness::ours("runsvdir");
    let mut c = harness::cmd(
        "/usr/bin/setpriv",
        [
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &bin.to_string_lossy(),
            &t.scan.to_string_lossy(),
        ],
    );
    c.env("PATH", Imp::Ours.path());
    t.proc = Some(harness::Proc::spawn_logging(&mut c, t.scratch.join("runsvdir.stderr")));
    let want = format!(
        "runsvdir {}: warning: unable to watch {}: access denied\n",
        t.scan.display(),
        private.display()
    );
    wait_until(SOON, "watch warning", || t.stderr().contains(&want));
    // setpriv executes runsvdir in its own place: same pid.
    let names = || t.names();
    wait_until(SOON, "web started", || names() == ["web"]);
    t.link(&other, "other");
    wait_until(SOON, "other started at once", || names() == ["other", "web"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(t.stderr().matches("unable to watch").count(), 1, "reported once: {}", t.stderr());
}

fn has_inotify_fd(pid: i32) -> bool {
    let Ok(dir) = fs::read_dir(format!("/proc/{pid}/fd")) else { return false };
    dir.flatten().any(|e| fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("inotify")))
}

#[test]
fn subreaper_adopts_and_reaps_orphans() {
    let mut t = ours("rsd-subreaper");
    let orphan_pid = t.scratch.join("orphan.pid");
    // The service leaves a background child behind and execs: the child's
    // parent (sh) is replaced by sleep... so make a real orphan with a
    // subshell that exits.
    t.service(
        &t.scan.join("a"),
        &format!("#!/bin/sh\n(sleep 1000 & echo $! > {}) \nexec sleep 1000\n", orphan_pid.display()),
    );
    assert!(t.start(&[], &[("RUNSVDIR_SUBREAPER", "1")]));
    t.wait_names(&["a"], SOON);
    let orphan: i32 = wait_for(SOON, || read(&orphan_pid).trim().parse().ok()).expect("orphan pid");
    wait_until(SOON, "orphan adopted by runsvdir", || harness::ppid(orphan) == Some(t.pid()));
    kill(orphan, libc::SIGKILL);
    wait_until(SOON, "orphan reaped", || harness::proc_state(orphan).is_none());
    assert!(zombies(t.pid()).is_empty());
}

#[test]
fn graceful_term_stops_services_drains_logs_and_kills_the_stubborn() {
    let mut t = ours("rsd-graceful");
    let out = t.scratch.join("out");
    fs::create_dir_all(&out).unwrap();
    let o = out.display();
    // A well-behaved service with a log service, a finish and a control/t.
    let good = t.in_scan("good");
    script(
        good.join("run"),
        "#!/bin/sh\necho good-up\ntrap 'echo good-bye; exit 0' TERM\nwhile :; do sleep 0.1; done\n",
    );
    script(good.join("finish"), &format!("#!/bin/sh\necho finished $1 > {o}/good.finish\n"));
    script(good.join("control/t"), &format!("#!/bin/sh\necho t > {o}/good.control-t\nexit 1\n"));
    script(good.join("log/run"), &format!("#!/bin/sh\nexec cat > {o}/good.log\n"));
    // A service that ignores TERM (the disposition survives exec).
    script(t.scan.join("stubborn/run"), "#!/bin/sh\ntrap '' TERM\nexec sleep 1000\n");
    assert!(t.start(&[], &[("RUNSVDIR_GRACEFUL", "2")]));
    t.wait_names(&["good", "stubborn"], SOON);
    let stubborn = harness::wait_running_pid(&t.scan.join("stubborn"), SOON) as i32;
    wait_until(SOON, "good's log running", || read(out.join("good.log")).contains("good-up"));
    let started = std::time::Instant::now();
    kill(t.pid(), libc::SIGTERM);
    let st = t.wait_exit(Duration::from_secs(15)).expect("runsvdir exits");
    assert_eq!(st.code(), Some(0));
    // The 2 s grace before the stubborn service is killed: runsvdir got
    // the TERM after `started`, so a correct runsvdir takes at least 2 s
    // whatever the load (slowness only adds); a TERM-ignoring service logs
    // nothing that could witness the wait.
    assert!(started.elapsed() >= Duration::from_millis(1500), "waited for the stubborn service");
    assert_eq!(read(out.join("good.control-t")), "t\n");
    assert_eq!(read(out.join("good.finish")), "finished 0\n");
    assert_eq!(read(out.join("good.log")), "good-up\ngood-bye\n", "log drained");
    assert!(!harness::alive(stubborn), "stubborn service killed");
    wait_until(SOON, "nothing left", || t.proc().tagged_pids().is_empty());
}

#[test]
fn graceful_term_without_stubborn_services_exits_early() {
    let mut t = ours("rsd-graceful-quick");
    t.in_scan("a");
    t.in_scan("b");
    assert!(t.start(&["-P"], &[("RUNSVDIR_GRACEFUL", "30")]));
    t.wait_names(&["a", "b"], SOON);
    kill(t.pid(), libc::SIGTERM);
    let st = t.wait_exit(Duration::from_secs(15)).expect("exits well before 30 s");
    assert_eq!(st.code(), Some(0));
    assert_eq!(read(t.scan.join("a/supervise/stat")), "down\n");
    assert!(t.proc().tagged_pids().is_empty());
}

#[test]
fn pid_namespace_init_reaps_orphans_and_stops_gracefully() {
    // runsvdir as PID 1 of a new PID namespace (needs root and unshare).
    if !harness::is_root() {
        eprintln!("skipped: needs root for a PID namespace");
        return;
    }
    let unshare = harness::installed(&["/usr/bin/unshare"], "util-linux");
    let probe = harness::run(&mut harness::cmd(&unshare, ["--pid", "--fork", "--mount-proc", "true"]), SOON);
    if probe.code != Some(0) {
        eprintln!("skipped: the kernel refused a PID namespace: {}", probe.stderr);
        return;
    }
    let mut t = ours("rsd-pid1");
    let count = t.scratch.join("orphans");
    // Every second, leave an orphan that exits at once.
    t.service(
        &t.scan.join("a"),
        &format!("#!/bin/sh\nwhile :; do (sleep 0.05 &); echo x >> {}; sleep 0.2; done\n", count.display()),
    );
    let bin = harness::ours("runsvdir");
    let scan = t.scan.to_string_lossy().into_owned();
    let mut c =
        harness::cmd("/usr/bin/unshare", ["--pid", "--fork", "--mount-proc", &bin.to_string_lossy(), &scan]);
    c.env("PATH", Imp::Ours.path()).env("RUNSVDIR_GRACEFUL", "5");
    t.proc = Some(harness::Proc::spawn_logging(&mut c, t.scratch.join("runsvdir.stderr")));
    let init = wait_for(SOON, || children(t.pid()).first().copied());
    let init = init.unwrap_or_else(|| panic!("unshare did not start runsvdir: {}", t.stderr()));
    wait_until(SOON, "orphans made", || read(&count).lines().count() >= 10);
    // Orphans of the namespace are reparented to runsvdir (PID 1) and reaped.
    assert!(zombies(init).len() <= 1, "zombies under PID 1: {:?}", zombies(init));
    kill(init, libc::SIGTERM);
    let st = t.wait_exit(Duration::from_secs(15)).expect("namespace ends");
    assert_eq!(st.code(), Some(0), "runsvdir as PID 1 exits 0: {}", t.stderr());
    assert_eq!(read(t.scan.join("a/supervise/stat")), "down\n", "the service was stopped, not killed");
}
