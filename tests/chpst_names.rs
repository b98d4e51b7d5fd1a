//! End-to-end tests of chpst's multi-call names, reached through symbolic
//! links to our binary as an installation creates them (`ln -s chpst
//! setlock`, ...): setlock (items 123, 124), softlimit (125), envdir,
//! envuidgid, setuidgid and pgrphack.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[path = "chpst_support/mod.rs"]
mod support;

use harness::{Proc, Scratch, is_root, wait_until};
use std::path::PathBuf;
use std::time::Duration;
use support::*;

fn names(s: &Scratch) -> PathBuf {
    link_names(s, "bin", &harness::ours("chpst"))
}

#[test]
fn item_124_every_name_prints_its_usage() {
    let s = Scratch::new("names-usage");
    let bin = names(&s);
    for (name, usage) in [
        ("envdir", "usage: envdir dir child\n\n"),
        ("envuidgid", "usage: envuidgid account child\n\n"),
        ("pgrphack", "usage: pgrphack child\n\n"),
        ("setuidgid", "usage: setuidgid account child\n\n"),
        ("setlock", "usage: setlock [ -nNxX ] file program [ arg ... ]\n\n"),
        ("dsetlock", "usage: setlock [ -nNxX ] file program [ arg ... ]\n\n"),
    ] {
        let o = chpst(bin.join(name), s.path(), &[]);
        assert_eq!((o.code, o.stderr.as_str()), (Some(100), usage), "{name}");
    }
    let o = chpst(bin.join("softlimit"), s.path(), &[]);
    assert_eq!(o.code, Some(100));
    assert!(o.stderr.starts_with("usage: softlimit [-a allbytes] [-c corebytes] "), "{}", o.stderr);
}

#[test]
fn item_123_setlock_fails_waits_or_exits_quietly() {
    let s = Scratch::new("names-setlock");
    let bin = names(&s);
    let lk = s.join("f");
    let holder = Proc::spawn(&mut command(bin.join("setlock"), s.path(), &["f", "sleep", "60"]));
    wait_until(Duration::from_secs(10), "setlock to hold the lock", || is_locked(&lk));

    let locked = "chpst: fatal: unable to lock: f: temporary failure\n";
    for (name, args) in
        [("setlock", &["f", "true"][..]), ("dsetlock", &["f", "true"]), ("setlock", &["-nN", "f", "true"])]
    {
        let o = chpst(bin.join(name), s.path(), args);
        assert_eq!((o.code, o.stderr.as_str()), (Some(111), locked), "{name} {args:?}");
    }
    let o = chpst(bin.join("setlock"), s.path(), &["-x", "f", "true"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""));
    let o = chpst(bin.join("setlock"), s.path(), &["-xX", "f", "true"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(111), locked));

    let mut waiter =
        Proc::spawn(&mut command(bin.join("setlock"), s.path(), &["-n", "f", "sh", "-c", "echo got > got"]));
    wait_until(Duration::from_secs(10), "setlock -n to wait for the lock", || someone_waits_for(&lk));
    assert!(waiter.try_wait().is_none());
    drop(holder);
    let status =
        waiter.wait_timeout(Duration::from_secs(10)).expect("setlock -n finishes once the lock is free");
    assert_eq!(status.code(), Some(0));
    assert_eq!(harness::read(s.join("got")), "got\n");
}

#[test]
fn setlock_x_covers_open_and_exec_failures() {
    let s = Scratch::new("names-setlock-x");
    let bin = names(&s);
    let setlock = bin.join("setlock");
    let o = chpst(&setlock, s.path(), &["-x", "/nonexistent/lk", "true"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""));
    let o = chpst(&setlock, s.path(), &["-x", "lk", "/nonexistent"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""));
    let o = chpst(&setlock, s.path(), &["lk", "/nonexistent"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (Some(111), "chpst: fatal: unable to run: /nonexistent: file does not exist\n")
    );
    let o = chpst(&setlock, s.path(), &["/nonexistent/lk", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to open lock: /nonexistent/lk: file does not exist\n");
    let o = chpst(&setlock, s.path(), &["lk", "sh", "-c", "exit 9"]);
    assert_eq!(o.code, Some(9), "the program's exit code");
}

#[test]
fn item_125_softlimit() {
    let s = Scratch::new("names-softlimit");
    let bin = names(&s);
    let softlimit = bin.join("softlimit");
    let o = chpst(&softlimit, s.path(), &["-m", "abc", "true"]);
    assert_eq!(o.code, Some(100));
    assert!(o.stderr.starts_with("usage: softlimit [-vVP012] [-u user[:group]] "), "{}", o.stderr);
    assert!(o.stderr.ends_with(" prog\n\n"));

    let base = limits(&chpst("cat", s.path(), &["/proc/self/limits"]).stdout);
    let args = [
        "-a",
        "999999999",
        "-c",
        "2048",
        "-d",
        "5555555",
        "-f",
        "1234",
        "-l",
        "4096",
        "-o",
        "=",
        "-p",
        "500",
        "-r",
        "12345",
        "-s",
        "1000000",
        "-t",
        "77",
        "cat",
        "/proc/self/limits",
    ];
    let got = limits(&chpst(&softlimit, s.path(), &args).stdout);
    for (name, want) in [
        ("Max address space", "999999999"),
        ("Max core file size", "2048"),
        ("Max data size", "5555555"),
        ("Max file size", "1234"),
        ("Max locked memory", "4096"),
        ("Max processes", "500"),
        ("Max resident set", "12345"),
        ("Max stack size", "1000000"),
        ("Max cpu time", "77"),
    ] {
        let hard = &base[name].1;
        let want = match hard.parse::<u64>() {
            Ok(h) if want.parse::<u64>().unwrap() > h => hard.clone(),
            _ => want.to_string(),
        };
        assert_eq!(got[name], (want, hard.clone()), "{name}");
    }
    let nofile_hard = &base["Max open files"].1;
    assert_eq!(got["Max open files"], (nofile_hard.clone(), nofile_hard.clone()), "= means the hard limit");
    let got = limits(&chpst(&softlimit, s.path(), &["-m", "=", "cat", "/proc/self/limits"]).stdout);
    for name in ["Max data size", "Max stack size", "Max locked memory", "Max address space"] {
        assert_eq!(got[name].0, base[name].1, "-m = : {name}");
    }
}

#[test]
fn envdir_name() {
    let s = Scratch::new("names-envdir");
    let bin = names(&s);
    envdir(&s.join("d"), &[("A", b"a  \nb"), ("AAA", b"")]);
    let o = chpst(bin.join("envdir"), s.path(), &["d", "env", "-0"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(env_value(&o.stdout, "A").as_deref(), Some("a"));
    assert_eq!(env_value(&o.stdout, "AAA"), None);
    std::fs::create_dir(s.join("d/SUB")).unwrap();
    let o = chpst(bin.join("envdir"), s.path(), &["d", "true"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (Some(111), "chpst: fatal: unable to read d/SUB: is a directory\n")
    );
}

#[test]
fn envuidgid_and_setuidgid_names() {
    let s = Scratch::new("names-uidgid");
    let bin = names(&s);
    let o = chpst(bin.join("envuidgid"), s.path(), &["nobody", "env", "-0"]);
    assert_eq!(env_value(&o.stdout, "UID").as_deref(), Some("65534"));
    assert_eq!(env_value(&o.stdout, "GID").as_deref(), Some("65534"));
    for name in ["envuidgid", "setuidgid"] {
        for account in ["nosuchuser", "nobody:daemon", ":1:1"] {
            let o = chpst(bin.join(name), s.path(), &[account, "true"]);
            let want = format!("chpst: fatal: unknown account: {account}\n");
            assert_eq!((o.code, o.stderr), (Some(111), want), "{name} {account}");
        }
    }
    let o = chpst(bin.join("setuidgid"), s.path(), &["nobody", "cat", "/proc/self/status"]);
    if is_root() {
        assert_eq!(status_field(&o.stdout, "Uid"), "65534 65534 65534 65534");
        assert_eq!(status_field(&o.stdout, "Gid"), "65534 65534 65534 65534");
        assert_eq!(status_field(&o.stdout, "Groups"), "65534");
    } else {
        assert_eq!(o.stderr, "chpst: fatal: unable to setgroups: permission denied\n");
    }
}

#[test]
fn pgrphack_name() {
    let s = Scratch::new("names-pgrphack");
    let bin = names(&s);
    let pgrphack = bin.join("pgrphack").display().to_string();
    let o = chpst("sh", s.path(), &["-c", &format!("{pgrphack} cat /proc/self/stat; :")]);
    let (pid, f) = stat_fields(&o.stdout);
    assert_eq!((f[2].parse::<i32>().unwrap(), f[3].parse::<i32>().unwrap()), (pid, pid));
    let o = chpst(bin.join("pgrphack"), s.path(), &["sh", "-c", "exit 4"]);
    assert_eq!(o.code, Some(4));
}
