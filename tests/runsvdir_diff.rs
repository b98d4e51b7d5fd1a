//! Differential tests: the same scenario against our runsvdir (with our
//! runsv) and Debian's C runsvdir (with the C runsv), comparing what can be
//! observed — which runsv run under which names, messages, exit codes,
//! process groups, the process title — with timing excluded (runit takes up
//! to 5 s to notice changes, plus a 1 s settle). Where Debian's 2.1.2
//! differs from runit 2.3.0 (SIGALRM) or where we extend runit (more than
//! 1000 services, RUNSVDIR for runsvchdir), the test says so explicitly.
//! Each test fails with a hint when Debian's runit is not installed.

// Test set-up failing is a test failure: unwrap is the clearest report.
#![allow(clippy::unwrap_used)]

#[path = "runsvdir_support/mod.rs"]
mod support;

use harness::{cmd, script, wait_for, wait_until};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;
use support::*;

/// Both trees (fails with a hint without Debian's runit).
fn both(name: &str) -> [Tree; 2] {
    harness::theirs_required("runsvdir");
    harness::theirs_required("runsv");
    [Tree::new(&format!("{name}-ours"), Imp::Ours), Tree::new(&format!("{name}-c"), Imp::Theirs)]
}

/// The distinct warning lines, with the scan directory's path replaced.
fn warnings(t: &Tree) -> BTreeSet<String> {
    let scan = t.scan.to_string_lossy().into_owned();
    t.stderr().lines().map(|l| l.replace(&scan, "<scan>")).collect()
}

fn layout(t: &Tree) {
    t.in_scan("a");
    let b = t.stored("b");
    t.link(&b, "b");
    t.in_scan(".hidden");
    fs::write(t.scan.join("file"), b"x").unwrap();
    symlink(t.store.join("missing"), t.scan.join("dang")).unwrap();
    symlink("loop", t.scan.join("loop")).unwrap();
}

#[test]
fn same_services_and_same_warnings() {
    let mut trees = both("rsdd-layout");
    for t in &mut trees {
        layout(t);
        assert!(t.start(&[], &[]));
    }
    for t in &trees {
        t.wait_names(&["a", "b"], RUNIT_PERIOD);
        wait_until(RUNIT_PERIOD, "both warnings", || warnings(t).len() >= 2);
    }
    let [ours, theirs] = &trees;
    assert_eq!(warnings(ours), warnings(theirs));
    assert_eq!(
        warnings(ours).into_iter().collect::<Vec<_>>(),
        vec![
            "runsvdir <scan>: warning: unable to stat dang: file does not exist",
            "runsvdir <scan>: warning: unable to stat loop: symbolic link loop",
        ]
    );
    assert_eq!(cmdline(ours.runsv()[0].pid), cmdline(theirs.runsv()[0].pid));
    assert!(!ours.scan.join(".hidden/supervise").exists() && !theirs.scan.join(".hidden/supervise").exists());
}

#[test]
fn add_remove_rename_end_in_the_same_state() {
    let mut trees = both("rsdd-changes");
    let mut pids = Vec::new();
    for t in &mut trees {
        t.in_scan("a");
        t.in_scan("b");
        assert!(t.start(&[], &[]));
        let r = t.wait_names(&["a", "b"], RUNIT_PERIOD);
        pids.push((r[0].pid, r[1].pid));
        let c = t.stored("c");
        t.link(&c, "c");
        fs::rename(t.scan.join("a"), t.scan.join("a2")).unwrap();
        fs::remove_dir_all(t.scan.join("b")).unwrap();
    }
    for (t, (a, b)) in trees.iter().zip(pids) {
        // The renamed service's runsv keeps its argv (`runsv a`).
        wait_until(RUNIT_PERIOD, "a and c", || {
            t.names() == ["a", "c"] && harness::supervised(&t.scan.join("c"))
        });
        assert_eq!(t.pid_of("a"), Some(a), "{:?}: renamed service kept its runsv", t.imp);
        assert!(harness::supervised(&t.scan.join("a2")));
        assert!(wait_gone(b, RUNIT_PERIOD), "{:?}: removed service's runsv stopped", t.imp);
    }
}

#[test]
fn killed_runsv_is_restarted_by_both() {
    let mut trees = both("rsdd-restart");
    for t in &mut trees {
        t.in_scan("a");
        assert!(t.start(&[], &[]));
        let pid = t.wait_names(&["a"], RUNIT_PERIOD)[0].pid;
        kill(pid, libc::SIGKILL);
        let again = wait_for(RUNIT_PERIOD, || t.pid_of("a").filter(|&p| p != pid));
        assert!(again.is_some(), "{:?} restarts runsv", t.imp);
    }
}

#[test]
fn signals_term_and_hup() {
    let mut trees = both("rsdd-term");
    for t in &mut trees {
        t.in_scan("a");
        assert!(t.start(&[], &[]));
        let pid = t.wait_names(&["a"], RUNIT_PERIOD)[0].pid;
        kill(t.pid(), libc::SIGTERM);
        assert_eq!(t.wait_exit(SOON).unwrap().code(), Some(0), "{:?}", t.imp);
        std::thread::sleep(Duration::from_millis(200));
        assert!(harness::alive(pid), "{:?}: runsv survives TERM", t.imp);
        kill(pid, libc::SIGTERM);
    }
    let mut trees = both("rsdd-hup");
    for t in &mut trees {
        t.in_scan("a");
        assert!(t.start(&[], &[]));
        let pid = t.wait_names(&["a"], RUNIT_PERIOD)[0].pid;
        kill(t.pid(), libc::SIGHUP);
        assert_eq!(t.wait_exit(SOON).unwrap().code(), Some(111), "{:?}", t.imp);
        assert!(wait_gone(pid, SOON), "{:?}: runsv got TERM", t.imp);
    }
}

#[test]
fn process_groups_with_and_without_dash_p() {
    let mut trees = both("rsdd-dashp");
    for t in &mut trees {
        t.in_scan("a");
        assert!(t.start(&["-P"], &[]));
        let pid = t.wait_names(&["a"], RUNIT_PERIOD)[0].pid;
        assert_eq!(pgid_sid(pid), Some((pid, pid)), "{:?}", t.imp);
    }
    let mut trees = both("rsdd-nodashp");
    for t in &mut trees {
        t.in_scan("a");
        assert!(t.start(&[], &[]));
        let pid = t.wait_names(&["a"], RUNIT_PERIOD)[0].pid;
        assert_eq!(pgid_sid(pid), pgid_sid(t.pid()), "{:?}", t.imp);
    }
}

#[test]
fn same_process_title() {
    // A relative scan directory makes the messages identical; after the
    // first scan's warning and the start-up dot, both titles must be equal.
    let mut trees = both("rsdd-title");
    let log = format!("log:{}", ".".repeat(90));
    let mut titles = Vec::new();
    for t in &mut trees {
        symlink(t.store.join("missing"), t.scan.join("dang")).unwrap();
        assert!(t.start_raw(&["scan".into(), log.clone()], &[]));
        let title = wait_for(RUNIT_PERIOD, || {
            let a = cmdline(t.pid())?;
            let title = a.get(2)?.clone();
            title.ends_with("file does not exist\n.").then_some(title)
        });
        titles.push(title.unwrap_or_else(|| panic!("{:?}: title {:?}", t.imp, cmdline(t.pid()))));
    }
    assert_eq!(titles[0], titles[1]);
    let stream = "runsvdir scan: warning: unable to stat dang: file does not exist\n.";
    let window = log.len() - 5;
    assert_eq!(titles[0], format!("log:.{}{stream}", ".".repeat(window - stream.len())));
}

#[test]
fn dash_x_is_a_directory_for_both() {
    let mut trees = both("rsdd-dashx");
    for t in &mut trees {
        assert!(t.start_raw(&["-x".into(), "sv".into()], &[]));
        wait_until(RUNIT_PERIOD, "stat warning", || t.stderr().contains("unable to stat"));
    }
    // `sv` is the log argument, too short: both warn about it, then about -x.
    assert_eq!(warnings(&trees[0]), warnings(&trees[1]));
    assert_eq!(
        trees[0].stderr().lines().take(3).collect::<Vec<_>>(),
        vec![
            "runsvdir -x: warning: log must have at least seven characters.",
            "runsvdir -x: warning: log service disabled.",
            "runsvdir -x: warning: unable to stat -x: file does not exist",
        ]
    );
}

#[test]
fn usage_is_the_same() {
    let theirs = harness::theirs_required("runsvdir");
    let ours = harness::ours("runsvdir");
    for bin in [ours, theirs] {
        let o = harness::run(&mut cmd(&bin, ["-P"]), SOON);
        assert_eq!(o.code, Some(1));
        assert_eq!(o.stderr, format!("usage: {} [-P] dir\n\n", bin.display()));
    }
}

#[test]
fn alrm_debian_rescans_runit_230_terminates() {
    // Debian 2.1.2 catches SIGALRM and rescans at once; runit 2.3.0 (ours)
    // does not catch it, so it terminates runsvdir.
    let mut trees = both("rsdd-alrm");
    for t in &mut trees {
        t.in_scan("a");
        assert!(t.start(&[], &[]));
        t.wait_names(&["a"], RUNIT_PERIOD);
        kill(t.pid(), libc::SIGALRM);
    }
    let [ours, theirs] = &mut trees;
    assert_eq!(ours.wait_exit(SOON).unwrap().signal(), Some(libc::SIGALRM));
    std::thread::sleep(Duration::from_millis(500));
    assert!(theirs.wait_exit(Duration::ZERO).is_none(), "Debian's runsvdir survives ALRM");
}

#[test]
fn thousand_service_limit_is_runit_only() {
    const N: usize = 1010;
    let mut trees = both("rsdd-many");
    for t in &mut trees {
        for i in 0..N {
            let d = t.scan.join(format!("s{i:04}"));
            script(d.join("run"), SLEEP);
            fs::write(d.join("down"), b"").unwrap();
        }
        assert!(t.start(&[], &[]));
    }
    let [ours, theirs] = &trees;
    let count =
        |t: &Tree, n: usize| wait_for(Duration::from_secs(60), || (t.runsv().len() == n).then_some(()));
    assert!(count(theirs, 1000).is_some(), "C: {} runsv", theirs.runsv().len());
    // C warns about each service it cannot start, again on every scan.
    wait_until(Duration::from_secs(30), "C's warnings", || {
        let lines: BTreeSet<String> = theirs
            .stderr()
            .lines()
            .filter(|l| l.ends_with(": too many services."))
            .map(str::to_string)
            .collect();
        lines.len() == N - 1000
    });
    assert!(count(ours, N).is_some(), "ours: {} runsv", ours.runsv().len());
    assert!(!ours.stderr().contains("too many services"));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(theirs.runsv().len(), 1000, "C stays at 1000");
}

/// Runs `script` in a private mount namespace where `dir` is bind-mounted
/// over /etc/runit/runsvdir; returns stdout+stderr.
fn in_runlevel_namespace(dir: &Path, bin_dir: &Path, body: &str) -> Option<String> {
    let s = format!(
        "mount --bind '{}' /etc/runit/runsvdir || exit 99\ncd /\nexport PATH='{}':/bin:/usr/bin\n{body}",
        dir.display(),
        bin_dir.display()
    );
    let o = harness::run(&mut cmd("/usr/bin/unshare", ["--mount", "/bin/sh", "-c", &s]), SOON);
    if o.code == Some(99) || o.code.is_none() {
        return None;
    }
    Some(format!("{}{}", o.stdout, o.stderr))
}

#[test]
fn runsvchdir_same_as_debian() {
    let theirs = harness::theirs_required("runsvchdir");
    if !harness::is_root() {
        eprintln!("skipped: needs root (a mount namespace to bind-mount over /etc/runit/runsvdir)");
        return;
    }
    harness::installed(&["/usr/bin/unshare"], "util-linux");
    harness::installed(&["/etc/runit/runsvdir"], "runit");
    let ours = harness::ours("runsvchdir");
    let body = "for a in default single single file nope .x '' default/ default; do \
                runsvchdir \"$a\"; echo \"rc=$?\"; \
                echo \"current=$(readlink /etc/runit/runsvdir/current) previous=$(readlink /etc/runit/runsvdir/previous)\"; \
                done 2>&1";
    let mut outs = Vec::new();
    for (name, bin) in [("ours", ours), ("theirs", theirs)] {
        let s = harness::Scratch::new(&format!("rsdd-chdir-{name}"));
        let levels = s.join("runsvdir");
        fs::create_dir_all(levels.join("default")).unwrap();
        fs::create_dir_all(levels.join("single")).unwrap();
        fs::write(levels.join("file"), b"").unwrap();
        symlink("default", levels.join("current")).unwrap();
        let bins = s.join("bin");
        fs::create_dir_all(&bins).unwrap();
        symlink(&bin, bins.join("runsvchdir")).unwrap();
        let Some(out) = in_runlevel_namespace(&levels, &bins, body) else {
            eprintln!(
                "skipped: the kernel refused the mount namespace to bind-mount over /etc/runit/runsvdir"
            );
            return;
        };
        outs.push(out);
    }
    assert_eq!(outs[0], outs[1]);
    assert!(
        outs[0].contains("runsvchdir: single: now current.\nrc=0\ncurrent=single previous=default\n"),
        "{}",
        outs[0]
    );
    assert!(outs[0].contains("runsvchdir: fatal: filenot a directory.\nrc=111\n"), "{}", outs[0]);
}

#[test]
fn runsvchdir_runsvdir_variable_is_230_only() {
    // runit 2.3.0 (ours) honours $RUNSVDIR; Debian's 2.1.2 ignores it and
    // works in /etc/runit/runsvdir.
    let theirs = harness::installed(&["/usr/sbin/runsvchdir"], "runit");
    let s = harness::Scratch::new("rsdd-chdir-env");
    fs::create_dir_all(s.join("mine")).unwrap();
    symlink("mine", s.join("current")).unwrap();
    let run = |bin: &Path| harness::run(cmd(bin, ["mine"]).env("RUNSVDIR", s.path()), SOON);
    let o = run(&harness::ours("runsvchdir"));
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), "runsvchdir: mine: current.\n"));
    let o = run(&theirs);
    assert_eq!(o.code, Some(111), "2.1.2 looks in /etc/runit/runsvdir");
    assert!(o.stderr.ends_with("fatal: mine: file does not exist\n"), "{}", o.stderr);
    assert_eq!(fs::read_link(s.join("current")).unwrap(), Path::new("mine"), "untouched");
}
