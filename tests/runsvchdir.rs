//! End-to-end tests of runsvchdir (runit-init.md §5): messages and exit
//! codes through `$RUNSVDIR` (runit 2.3.0), and a runlevel switch under a
//! running runsvdir that scans `current` — services in both levels keep
//! their runsv, the others are stopped or started.

// Test set-up failing is a test failure: unwrap is the clearest report.
#![allow(clippy::unwrap_used)]

#[path = "runsvdir_support/mod.rs"]
mod support;

use harness::{Outcome, Scratch, cmd, run};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use support::*;

fn chdir(levels: &Path, arg: &str) -> Outcome {
    run(cmd(harness::ours("runsvchdir"), [arg]).env("RUNSVDIR", levels), SOON)
}

#[test]
fn messages_and_exit_codes() {
    let s = Scratch::new("rscd-messages");
    let levels = s.join("runsvdir");
    fs::create_dir_all(levels.join("default")).unwrap();
    fs::create_dir_all(levels.join("single")).unwrap();
    fs::write(levels.join("notdir"), b"").unwrap();
    let bin = harness::ours("runsvchdir");

    let o = run(&mut cmd(&bin, Vec::<&str>::new()), SOON);
    assert_eq!((o.code, o.stderr), (Some(1), format!("usage: {} dir\n\n", bin.display())));

    let o = chdir(&levels, "default");
    assert_eq!(o.code, Some(111));
    assert_eq!(o.stderr, format!("{}: fatal: unable to stat: current: file does not exist\n", bin.display()));

    symlink("default", levels.join("current")).unwrap();
    let o = chdir(&levels, "default");
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), "runsvchdir: default: current.\n"));
    for (arg, err) in [
        (".x", ".x: must not start with a dot."),
        ("notdir", "notdirnot a directory."),
        ("missing", "missing: file does not exist"),
    ] {
        let o = chdir(&levels, arg);
        assert_eq!(o.code, Some(111), "{arg}");
        assert_eq!(o.stderr, format!("{}: fatal: {err}\n", bin.display()));
        assert_eq!(o.stdout, "");
    }
    let o = chdir(&levels, "single");
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), "runsvchdir: single: now current.\n"));
    assert_eq!(fs::read_link(levels.join("current")).unwrap(), Path::new("single"));
    assert_eq!(fs::read_link(levels.join("previous")).unwrap(), Path::new("default"));
    assert!(!levels.join("current.new").exists());
}

#[test]
fn runlevel_switch_under_runsvdir() {
    let mut t = Tree::new("rscd-switch", Imp::Ours);
    let levels = t.scratch.join("runsvdir");
    let (a, b, c) = (t.stored("a"), t.stored("b"), t.stored("c"));
    for (level, members) in [("default", [("a", &a), ("b", &b)]), ("single", [("a", &a), ("c", &c)])] {
        fs::create_dir_all(levels.join(level)).unwrap();
        for (name, dir) in members {
            symlink(dir, levels.join(level).join(name)).unwrap();
        }
    }
    symlink("default", levels.join("current")).unwrap();
    t.scan = levels.join("current");
    assert!(t.start(&[], &[]));
    let r = t.wait_names(&["a", "b"], SOON);
    let (pa, pb) = (r[0].pid, r[1].pid);

    let o = chdir(&levels, "single");
    assert_eq!(o.stdout, "runsvchdir: single: now current.\n");
    let r = t.wait_names(&["a", "c"], SOON);
    assert_eq!(r[0].pid, pa, "a is in both levels: same runsv");
    assert!(wait_gone(pb, SOON), "b stopped");

    let o = chdir(&levels, "default");
    assert_eq!(o.stdout, "runsvchdir: default: now current.\n");
    let r = t.wait_names(&["a", "b"], SOON);
    assert_eq!(r[0].pid, pa);
}
