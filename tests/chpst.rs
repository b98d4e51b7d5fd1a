//! End-to-end tests of our chpst proper: every option as the executed
//! program sees it (environment, /proc/self/status, /proc/self/limits,
//! /proc/self/stat, descriptors, locks), runit's order of operations, and
//! malformed environment directories. Conformance items 106-122 (spec/
//! conformance.md §G); the multi-call names are in chpst_names.rs and the
//! comparison with Debian's chpst in chpst_diff.rs.
//!
//! Tests needing root (user switches, chroot, lowering the nice level)
//! check the non-root behaviour instead when not run as root.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[path = "chpst_support/mod.rs"]
mod support;

use harness::{Proc, Scratch, chmod, is_root, script, wait_until, write};
use std::path::PathBuf;
use std::time::Duration;
use support::*;

fn ours() -> PathBuf {
    harness::ours("chpst")
}

fn ours_str() -> String {
    ours().display().to_string()
}

#[test]
fn item_106_usage_and_version() {
    let s = Scratch::new("chpst-usage");
    let o = chpst(ours(), s.path(), &[]);
    assert_eq!(o.code, Some(100));
    assert!(
        o.stderr.starts_with("usage: chpst [-vVP012] ") && o.stderr.ends_with(" prog\n\n"),
        "{}",
        o.stderr
    );
    let v = chpst(ours(), s.path(), &["-V"]);
    assert_eq!(v.code, Some(100));
    assert!(v.stderr.starts_with("$Id: "), "{}", v.stderr);
    assert!(v.stderr.ends_with(&o.stderr));
}

#[test]
fn items_107_to_110_envdir_values() {
    let s = Scratch::new("chpst-envdir");
    envdir(
        &s.join("d"),
        &[
            ("A", b"first  \t\nsecond"),
            ("AAA", b""),
            ("E", b""),
            ("N", b"\n"),
            ("Z", b"a\0b\0c"),
            ("CR", b"x\r\n"),
            ("LEAD", b"  lead"),
            (".hidden", b"h"),
            ("X=Y", b"v"),
            ("W=V", b""),
        ],
    );
    let o = chpst(ours(), s.path(), &["-e", "d", "env", "-0"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""));
    let v = |name| env_value(&o.stdout, name);
    assert_eq!(v("A").as_deref(), Some("first"));
    assert_eq!(v("AAA"), None, "an empty file removes the variable");
    assert_eq!(v("E"), None);
    assert_eq!(v("N").as_deref(), Some(""), "a lone newline sets it empty");
    assert_eq!(v("Z").as_deref(), Some("a\nb\nc"));
    assert_eq!(v("CR").as_deref(), Some("x\r"));
    assert_eq!(v("LEAD").as_deref(), Some("  lead"));
    assert_eq!(v(".hidden"), None);
    assert_eq!(v("X").as_deref(), Some("Y=v"));
    assert_eq!(v("W").as_deref(), Some("V"));
    assert_eq!(v("ZZZ").as_deref(), Some("2"));
}

#[test]
fn item_111_subdirectory_skipped_or_warned() {
    let s = Scratch::new("chpst-subdir");
    envdir(&s.join("d"), &[("B", b"b\n")]);
    std::fs::create_dir(s.join("d/SUB")).unwrap();
    let o = chpst(ours(), s.path(), &["-e", "d", "env", "-0"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""));
    assert_eq!(env_value(&o.stdout, "B").as_deref(), Some("b"));
    let o = chpst(ours(), s.path(), &["-v", "-e", "d", "true"]);
    assert_eq!(o.code, Some(0));
    assert_eq!(o.stderr, "chpst: warning: unable to read d/SUB: is a directory\n");
}

#[test]
fn item_112_only_last_e_but_nesting_layers() {
    let s = Scratch::new("chpst-layers");
    envdir(&s.join("e1"), &[("A", b"1"), ("B", b"1"), ("D", b"1")]);
    envdir(&s.join("e2"), &[("B", b"2"), ("C", b"2"), ("D", b"")]);
    let o = chpst(ours(), s.path(), &["-e", "e1", "-e", "e2", "env", "-0"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(env_value(&o.stdout, "A"), None);
    assert_eq!(env_value(&o.stdout, "B").as_deref(), Some("2"));
    let o = chpst(ours(), s.path(), &["-e", "e1", &ours_str(), "-e", "e2", "env", "-0"]);
    assert_eq!(env_value(&o.stdout, "A").as_deref(), Some("1"));
    assert_eq!(env_value(&o.stdout, "B").as_deref(), Some("2"));
    assert_eq!(env_value(&o.stdout, "C").as_deref(), Some("2"));
    assert_eq!(env_value(&o.stdout, "D"), None, "an empty file in a later layer removes");
}

#[test]
fn item_113_path_from_envdir_not_used_for_lookup() {
    let s = Scratch::new("chpst-path");
    script(s.join("bin/myprog"), "#!/bin/sh\necho ran\n");
    let bin = s.join("bin").display().to_string();
    envdir(&s.join("d"), &[("PATH", bin.as_bytes())]);
    let o = chpst(ours(), s.path(), &["-e", "d", "myprog"]);
    assert_eq!(o.code, Some(111));
    assert_eq!(o.stderr, "chpst: fatal: unable to run: myprog: file does not exist\n");
    let o = chpst(ours(), s.path(), &["-e", "d", "env", "-0"]);
    assert_eq!(env_value(&o.stdout, "PATH"), Some(bin));
}

fn child_status(args: &[&str]) -> (Option<i32>, String, String) {
    let s = Scratch::new("chpst-status");
    let mut a = args.to_vec();
    a.extend(["cat", "/proc/self/status"]);
    let o = chpst(ours(), s.path(), &a);
    (o.code, o.stdout, o.stderr)
}

fn ids_of(status: &str) -> [String; 3] {
    ["Uid", "Gid", "Groups"].map(|f| status_field(status, f))
}

#[test]
fn item_114_user_forms_in_proc_status() {
    if !is_root() {
        let (code, _, err) = child_status(&["-u", "nobody"]);
        assert_eq!(
            (code, err.as_str()),
            (Some(111), "chpst: fatal: unable to setgroups: permission denied\n")
        );
        return;
    }
    let inner = ours_str();
    let cases = [
        (&["-u", "nobody"][..], ["65534 65534 65534 65534", "65534 65534 65534 65534", "65534"]),
        (&["-u", "nobody:root:daemon"], ["65534 65534 65534 65534", "0 0 0 0", "0 1"]),
        (&["-u", ":1000:1001:1002"], ["1000 1000 1000 1000", "1001 1001 1001 1001", "1001 1002"]),
        (&["-u", ":1000:"], ["1000 1000 1000 1000", "0 0 0 0", "0"]),
        // Supplementary groups held before the switch are dropped.
        (
            &["-u", ":0:0:1:2:3", inner.as_str(), "-u", "nobody"],
            ["65534 65534 65534 65534", "65534 65534 65534 65534", "65534"],
        ),
    ];
    for (args, want) in cases {
        let (code, out, err) = child_status(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert_eq!(ids_of(&out), want.map(String::from), "{args:?}");
    }
}

#[test]
fn privilege_drop_is_irreversible() {
    if !is_root() {
        eprintln!("skipped: needs root to switch users");
        return;
    }
    let (code, out, _) = child_status(&["-u", "nobody"]);
    assert_eq!(code, Some(0));
    assert_eq!(status_field(&out, "CapEff"), "0000000000000000");
    assert_eq!(status_field(&out, "CapPrm"), "0000000000000000");
    let s = Scratch::new("chpst-regain");
    for back in [&["-u", "root"][..], &["-u", ":0:0"], &["-u", ":65534:65534"]] {
        let mut args = vec!["-u", "nobody:nogroup"];
        let inner = ours_str();
        args.push(&inner);
        args.extend(back);
        args.push("true");
        let o = chpst(ours(), s.path(), &args);
        assert_eq!(o.code, Some(111), "{args:?}");
        assert_eq!(o.stderr, "chpst: fatal: unable to setgroups: permission denied\n");
    }
    let inner = ours_str();
    let o = chpst(ours(), s.path(), &["-u", "nobody", &inner, "-/", "/", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to change root directory: permission denied\n");
}

#[test]
fn item_115_account_errors() {
    let s = Scratch::new("chpst-accounts");
    for (spec, msg) in [
        (":1000", "chpst: fatal: invalid uid/gids: 1000\n"),
        (":1000:5x", "chpst: fatal: invalid uid/gids: 1000:5x\n"),
        (":4294967296:0", "chpst: fatal: invalid uid/gids: 4294967296:0\n"),
        ("nosuchuser", "chpst: fatal: unknown user/group: nosuchuser\n"),
        ("nobody:nosuchgroup", "chpst: fatal: unknown user/group: nobody:nosuchgroup\n"),
        ("nobody:0", "chpst: fatal: unknown user/group: nobody:0\n"),
    ] {
        for opt in ["-u", "-U"] {
            let o = chpst(ours(), s.path(), &[opt, spec, "true"]);
            assert_eq!((o.code, o.stderr.as_str()), (Some(111), msg), "{opt} {spec}");
        }
    }
}

#[test]
fn item_116_envuidgid_option() {
    let s = Scratch::new("chpst-U");
    envdir(&s.join("d"), &[("UID", b"7"), ("GID", b"7")]);
    for (args, uid, gid) in [
        (&["-U", "nobody:daemon"][..], "65534", "1"),
        (&["-U", ":5:6:7"], "5", "6"),
        (&["-U", "nobody"], "65534", "65534"),
        // -U's values are queued after the envdir's, so they win.
        (&["-U", ":5:6", "-e", "d"], "5", "6"),
    ] {
        let mut a = args.to_vec();
        a.extend(["env", "-0"]);
        let o = chpst(ours(), s.path(), &a);
        assert_eq!(o.code, Some(0), "{}", o.stderr);
        assert_eq!(env_value(&o.stdout, "UID").as_deref(), Some(uid), "{args:?}");
        assert_eq!(env_value(&o.stdout, "GID").as_deref(), Some(gid), "{args:?}");
    }
}

#[test]
fn item_117_locks_held_and_contended() {
    let s = Scratch::new("chpst-lock");
    let lk = s.join("lk");
    let holder = Proc::spawn(&mut command(ours(), s.path(), &["-l", "lk", "sleep", "60"]));
    wait_until(Duration::from_secs(10), "the lock to be held by the program", || is_locked(&lk));
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&lk).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);

    let o = chpst(ours(), s.path(), &["-L", "lk", "true"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (Some(111), "chpst: fatal: unable to lock: lk: temporary failure\n")
    );

    let mut waiter = Proc::spawn(&mut command(ours(), s.path(), &["-l", "lk", "sh", "-c", "echo got > got"]));
    wait_until(Duration::from_secs(10), "the -l process to wait for the lock", || someone_waits_for(&lk));
    assert!(waiter.try_wait().is_none(), "-l must wait while the lock is held");
    assert!(!s.join("got").exists());
    drop(holder);
    let status = waiter.wait_timeout(Duration::from_secs(10)).expect("waiter finishes once the lock is free");
    assert_eq!(status.code(), Some(0));
    assert_eq!(harness::read(s.join("got")), "got\n");
}

fn expected_soft(request: u64, hard: &str) -> String {
    match hard.parse::<u64>() {
        Ok(h) if request > h => hard.to_string(),
        _ => request.to_string(),
    }
}

#[test]
fn items_118_119_limits_in_proc_limits() {
    let s = Scratch::new("chpst-limits");
    let base = limits(&chpst("cat", s.path(), &["/proc/self/limits"]).stdout);
    let o = chpst(ours(), s.path(), &["-o", "50", "sh", "-c", "ulimit -n"]);
    assert_eq!(o.stdout, "50\n");
    let cases = [
        ("-d", "Max data size", 100_000_000u64),
        ("-o", "Max open files", 60),
        ("-p", "Max processes", 500),
        ("-f", "Max file size", 123_456),
        ("-c", "Max core file size", 4096),
        ("-r", "Max resident set", 777_777),
        ("-t", "Max cpu time", 99),
        ("-o", "Max open files", 99_999_999_999),
    ];
    for (opt, name, value) in cases {
        let v = value.to_string();
        let o = chpst(ours(), s.path(), &[opt, &v, "cat", "/proc/self/limits"]);
        assert_eq!(o.code, Some(0), "{opt}: {}", o.stderr);
        let got = limits(&o.stdout);
        let hard = &base[name].1;
        assert_eq!(got[name], (expected_soft(value, hard), hard.clone()), "{opt} {v}");
    }
    let o = chpst(ours(), s.path(), &["-m", "3000000000", "cat", "/proc/self/limits"]);
    let got = limits(&o.stdout);
    for name in ["Max data size", "Max stack size", "Max locked memory", "Max address space"] {
        let hard = &base[name].1;
        assert_eq!(got[name], (expected_soft(3_000_000_000, hard), hard.clone()), "-m: {name}");
    }
    for name in ["Max open files", "Max cpu time", "Max processes"] {
        assert_eq!(got[name], base[name], "-m leaves {name} alone");
    }
}

#[test]
fn item_120_nice() {
    let s = Scratch::new("chpst-nice");
    let base: i32 = chpst("nice", s.path(), &[]).stdout.trim().parse().unwrap();
    let o = chpst(ours(), s.path(), &["-n", "+2", "nice"]);
    assert_eq!(o.stdout.trim(), (base + 2).min(19).to_string());
    if is_root() {
        let o = chpst(ours(), s.path(), &["-n", "-3", "nice"]);
        assert_eq!(o.stdout.trim(), (base - 3).max(-20).to_string());
        // nice comes before the user switch, so it still works as root.
        let o = chpst(ours(), s.path(), &["-u", "nobody", "-n", "-3", "nice"]);
        assert_eq!(o.stdout.trim(), (base - 3).max(-20).to_string());
    } else {
        let o = chpst(ours(), s.path(), &["-n", "-3", "nice"]);
        assert_eq!(
            (o.code, o.stderr.as_str()),
            (Some(111), "chpst: fatal: unable to set nice level: permission denied\n")
        );
    }
}

#[test]
fn item_121_session_leader_and_closed_descriptors() {
    let s = Scratch::new("chpst-P");
    // setsid() fails for a process-group leader (as the harness makes every
    // command it runs), and runit ignores that: run chpst as a plain child.
    let exe = ours_str();
    let o = chpst("sh", s.path(), &["-c", &format!("{exe} -P cat /proc/self/stat; :")]);
    let (pid, f) = stat_fields(&o.stdout);
    assert_eq!((f[2].parse::<i32>().unwrap(), f[3].parse::<i32>().unwrap()), (pid, pid), "pgid and sid");
    let o = chpst("sh", s.path(), &["-c", &format!("{exe} cat /proc/self/stat; :")]);
    let (pid, f) = stat_fields(&o.stdout);
    assert_ne!(f[2].parse::<i32>().unwrap(), pid, "without -P no new group");

    // Which of 0, 1, 2 are open, printed on descriptor `out` afterwards.
    let probe = |out: u8| {
        format!(
            "o=; for fd in 0 1 2; do [ -e /proc/$$/fd/$fd ] && o=\"$o $fd\"; done; echo \"open:$o\" >&{out}"
        )
    };
    let o = chpst(ours(), s.path(), &["-0", "sh", "-c", &probe(1)]);
    assert_eq!(o.stdout, "open: 1 2\n");
    let o = chpst(ours(), s.path(), &["-1", "sh", "-c", &probe(2)]);
    assert_eq!(o.stderr, "open: 0 2\n");
    let o = chpst(ours(), s.path(), &["-2", "sh", "-c", &probe(1)]);
    assert_eq!(o.stdout, "open: 0 1\n");
    let o = chpst(ours(), s.path(), &["-012", "sh", "-c", &format!("{} 2>/dev/null; exit 0", probe(9))]);
    assert_eq!((o.code, o.stdout.as_str(), o.stderr.as_str()), (Some(0), "", ""));
    let o = chpst(ours(), s.path(), &["-0", &ours_str(), "-0", "true"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (Some(111), "chpst: fatal: unable to close stdin: file descriptor not open\n")
    );
}

#[test]
fn item_122_argv0() {
    let s = Scratch::new("chpst-b");
    let o = chpst(ours(), s.path(), &["-b", "name", "sh", "-c", "echo $0"]);
    assert_eq!(o.stdout, "name\n");
    let o = chpst(ours(), s.path(), &["-b", "fakename", "nosuchprog"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (Some(111), "chpst: fatal: unable to run: fakename: file does not exist\n")
    );
    std::fs::create_dir(s.join("e1")).unwrap();
    let o = chpst(ours(), s.path(), &["./e1"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to run: ./e1: access denied\n");
}

#[test]
fn chdir_option() {
    let s = Scratch::new("chpst-C");
    std::fs::create_dir(s.join("sub")).unwrap();
    let o = chpst(ours(), s.path(), &["-C", "sub", "sh", "-c", "pwd -P"]);
    let want = std::fs::canonicalize(s.join("sub")).unwrap();
    assert_eq!(o.stdout.trim(), want.display().to_string());
    let o = chpst(ours(), s.path(), &["-C", "nosuch", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to change directory: nosuch: file does not exist\n");
}

#[test]
fn chroot_with_lookups_in_the_new_root() {
    let s = Scratch::new("chpst-chroot");
    if !is_root() {
        let o = chpst(ours(), s.path(), &["-/", ".", "true"]);
        assert_eq!(o.stderr, "chpst: fatal: unable to change root directory: permission denied\n");
        return;
    }
    // dash, env, cat and ldd are in Debian's essential set: not a skip.
    minimal_root(&s.join("tree")).expect("a minimal root (needs dash, env, cat and ldd)");
    envdir(&s.join("d"), &[("OUTSIDE", b"yes")]);
    // treeuser exists only in the tree's passwd: the lookup is after chroot.
    let o = chpst(ours(), s.path(), &["-e", "d", "-/", "tree", "-U", "treeuser:treegrp", "/bin/env", "-0"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(env_value(&o.stdout, "UID").as_deref(), Some("4321"));
    assert_eq!(env_value(&o.stdout, "GID").as_deref(), Some("4323"));
    assert_eq!(env_value(&o.stdout, "OUTSIDE").as_deref(), Some("yes"), "envdir read before chroot");
    let o = chpst(ours(), s.path(), &["-/", "tree", "-U", "nobody", "/bin/env"]);
    assert_eq!(o.stderr, "chpst: fatal: unknown user/group: nobody\n");
    let o = chpst(ours(), s.path(), &["-/", "tree", "-C", "/sub", "-l", "lk", "/bin/sh", "-c", "pwd"]);
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), "/sub\n"), "{}", o.stderr);
    assert!(s.join("tree/sub/lk").exists(), "lock path is relative to the new root and cwd");
    let o = chpst(ours(), s.path(), &["-/", "tree", "-u", "treeuser", "-H", "/bin/env", "-0"]);
    assert_eq!(env_value(&o.stdout, "HOME").as_deref(), Some("/home/tree"));
}

#[test]
fn signal_dispositions_are_passed_on_unchanged() {
    let s = Scratch::new("chpst-signals");
    let exe = ours_str();
    let direct = chpst("sh", s.path(), &["-c", "trap '' USR1; exec cat /proc/self/status"]);
    let through = chpst("sh", s.path(), &["-c", &format!("trap '' USR1; exec {exe} cat /proc/self/status")]);
    let ignored = status_field(&through.stdout, "SigIgn");
    assert_eq!(ignored, status_field(&direct.stdout, "SigIgn"));
    let mask = u64::from_str_radix(&ignored, 16).unwrap();
    assert_ne!(mask & (1 << (libc::SIGUSR1 - 1)), 0, "inherited ignore kept");
    assert_eq!(mask & (1 << (libc::SIGPIPE - 1)), 0, "SIGPIPE not ignored");
}

#[test]
fn no_descriptor_leaks_into_the_program() {
    let s = Scratch::new("chpst-fds");
    envdir(&s.join("d"), &[("A", b"a")]);
    let fds = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["sh", "-c", "ls /proc/$$/fd"]);
        chpst(ours(), s.path(), &a).stdout
    };
    let plain = chpst("sh", s.path(), &["-c", "ls /proc/$$/fd"]).stdout;
    assert_eq!(fds(&["-e", "d"]), plain);
    let with_lock = fds(&["-e", "d", "-l", "lk"]);
    assert_eq!(with_lock.lines().count(), plain.lines().count() + 1, "only the lock descriptor is added");
}

#[test]
fn malformed_envdirs() {
    let s = Scratch::new("chpst-malformed");
    // Binary content: every byte but newline; NUL turns into a newline.
    let bytes: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
    envdir(&s.join("bin"), &[("BIN", &bytes)]);
    let o = chpst(ours(), s.path(), &["-e", "bin", "sh", "-c", "printf %s \"$BIN\" | od -An -v -tx1"]);
    let want: Vec<String> =
        bytes.iter().map(|&b| format!("{:02x}", if b == 0 { b'\n' } else { b })).collect();
    assert_eq!(o.stdout.split_whitespace().collect::<Vec<_>>(), want);

    // Huge files (sparse, 16 GiB): only the first line is read.
    std::fs::create_dir(s.join("huge")).unwrap();
    let f = std::fs::File::create(s.join("huge/BIG")).unwrap();
    f.set_len(1 << 34).unwrap();
    let o = chpst(ours(), s.path(), &["-e", "huge", "true"]);
    assert_eq!(
        (o.code, o.stderr.as_str()),
        (Some(111), "chpst: fatal: unable to run: true: argument list too long\n")
    );
    write(s.join("short/S"), "short\n");
    let f = std::fs::OpenOptions::new().write(true).open(s.join("short/S")).unwrap();
    f.set_len(1 << 34).unwrap();
    let o = chpst(ours(), s.path(), &["-e", "short", "env", "-0"]);
    assert_eq!(env_value(&o.stdout, "S").as_deref(), Some("short"));

    // A FIFO without a writer reads as empty (removes); a dangling link
    // is skipped (runit would reuse the previous value: a documented
    // difference); a directory as envdir file is skipped by chpst -e.
    envdir(&s.join("odd"), &[("AAA", b"kept")]);
    assert!(harness::run(&mut harness::cmd("mkfifo", [s.join("odd/ZZZ")]), TIMEOUT).code == Some(0));
    std::os::unix::fs::symlink("/nonexistent", s.join("odd/DANG")).unwrap();
    std::fs::create_dir(s.join("odd/SUB")).unwrap();
    let o = chpst(ours(), s.path(), &["-e", "odd", "env", "-0"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert_eq!(env_value(&o.stdout, "AAA").as_deref(), Some("kept"));
    assert_eq!(env_value(&o.stdout, "ZZZ"), None);
    assert_eq!(env_value(&o.stdout, "DANG"), None);

    // The envdir is a file, or missing.
    write(s.join("file"), "x");
    let o = chpst(ours(), s.path(), &["-e", "file", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to switch to directory: file: not a directory\n");
}

#[test]
fn unreadable_envdirs_as_nobody() {
    if !is_root() {
        eprintln!("skipped: needs root to run chpst as nobody");
        return;
    }
    let s = Scratch::new("chpst-unreadable");
    open_up(&s);
    envdir(&s.join("d"), &[("A", b"a"), ("S", b"secret")]);
    chmod(s.join("d/S"), 0o600);
    let inner = ours_str();
    let as_nobody = |args: &[&str]| {
        let mut a = vec!["-u", "nobody", inner.as_str()];
        a.extend(args);
        chpst(ours(), s.path(), &a)
    };
    let o = as_nobody(&["-e", "d", "true"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(111), "chpst: fatal: unable to read d/S: access denied\n"));
    // Read before the user switch: root reads it for a program run as nobody.
    let o = chpst(ours(), s.path(), &["-e", "d", "-u", "nobody", "env", "-0"]);
    assert_eq!(env_value(&o.stdout, "S").as_deref(), Some("secret"));
    chmod(s.join("d/S"), 0o644);
    chmod(s.join("d"), 0o311);
    let o = as_nobody(&["-e", "d", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to open directory: d: access denied\n");
    chmod(s.join("d"), 0o644);
    let o = as_nobody(&["-e", "d", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to switch to directory: d: access denied\n");
    chmod(s.join("d"), 0o755);
    // The lock is opened after the switch, as the new user.
    let o = chpst(ours(), s.path(), &["-u", "nobody", "-l", "lk", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to open lock: lk: access denied\n");
    // runit opens the starting directory for reading.
    std::fs::create_dir(s.join("xo")).unwrap();
    chmod(s.join("xo"), 0o711);
    let d = s.join("d").display().to_string();
    let o = chpst(ours(), &s.join("xo"), &["-u", "nobody", &inner, "-e", &d, "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to open current working directory: access denied\n");
}

#[test]
fn extension_layered_envdirs() {
    let s = Scratch::new("chpst-E");
    envdir(&s.join("common"), &[("LOG_LEVEL", b"info"), ("DEBUG", b"1"), ("A", b"common")]);
    envdir(&s.join("production"), &[("DEBUG", b""), ("A", b"production")]);
    envdir(&s.join("svc"), &[("A", b"svc"), ("RACK_ENV", b"production   \n")]);
    let o = chpst(ours(), s.path(), &["-E", "common", "-E", "production", "-E", "svc", "env", "-0"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let v = |name| env_value(&o.stdout, name);
    assert_eq!(v("LOG_LEVEL").as_deref(), Some("info"));
    assert_eq!(v("DEBUG"), None);
    assert_eq!(v("A").as_deref(), Some("svc"));
    assert_eq!(v("RACK_ENV").as_deref(), Some("production"));
    // Same environment, variable for variable and in the same order, as the
    // nested chain runit needs; -e comes after every -E.
    let exe = ours_str();
    let nested =
        chpst(ours(), s.path(), &["-e", "common", &exe, "-e", "production", &exe, "-e", "svc", "env", "-0"]);
    assert_eq!(env_entries(&o.stdout), env_entries(&nested.stdout));
    let mixed = chpst(ours(), s.path(), &["-e", "svc", "-E", "common", "-E", "production", "env", "-0"]);
    assert_eq!(env_entries(&mixed.stdout), env_entries(&nested.stdout));
    let o = chpst(ours(), s.path(), &["-E", "common", "-E", "nope", "true"]);
    assert_eq!(o.stderr, "chpst: fatal: unable to switch to directory: nope: file does not exist\n");
}

#[test]
fn extension_login_environment() {
    let s = Scratch::new("chpst-H");
    envdir(&s.join("d"), &[("HOME", b"/from/envdir")]);
    let o = chpst(ours(), s.path(), &["-e", "d", "-U", "nobody", "-H", "env", "-0"]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let v = |name| env_value(&o.stdout, name);
    assert_eq!(
        (v("HOME").as_deref(), v("USER").as_deref(), v("LOGNAME").as_deref()),
        (Some("/nonexistent"), Some("nobody"), Some("nobody"))
    );
    let o = chpst(ours(), s.path(), &["-U", ":4242424:1", "-H", "true"]);
    assert_eq!((o.code, o.stderr.as_str()), (Some(111), "chpst: fatal: unknown account: uid 4242424\n"));
    let o = chpst(ours(), s.path(), &["-u", "nobody", "env", "-0"]);
    assert_ne!(env_value(&o.stdout, "USER").as_deref(), Some("nobody"), "opt-in only");
    if is_root() {
        let o = chpst(ours(), s.path(), &["-U", "root", "-u", ":65534:65534", "-H", "env", "-0"]);
        assert_eq!(env_value(&o.stdout, "USER").as_deref(), Some("nobody"), "-u's account, by uid");
        assert_eq!(env_value(&o.stdout, "UID").as_deref(), Some("0"));
    }
}
