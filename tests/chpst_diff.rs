//! Differential tests: the same scenario against our chpst and Debian's
//! C chpst (/usr/bin/chpst, runit 2.1.2), comparing exit codes, standard
//! output (environments byte for byte and in the same order, /proc views,
//! limits) and standard error. The multi-call names are compared through
//! symbolic links to each binary (Debian's `envdir`, `setlock`, ... in PATH
//! belong to daemontools, not runit).
//!
//! Where Debian 2.1.2 differs from runit 2.3.0 we follow 2.3.0 and assert
//! the difference explicitly: 2.1.2 has no `-C` and its usage line lacks
//! ` [-C pwd]` (the only normalisation applied to its output), and its
//! `-V` prints a different version string. Each test fails with a hint
//! when Debian's runit is not installed (tests/run installs it).
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[path = "chpst_support/mod.rs"]
mod support;

use harness::{Outcome, Proc, Scratch, chmod, is_root, require_c, wait_until, write};
use std::path::{Path, PathBuf};
use std::time::Duration;
use support::*;

/// Both implementations, each with a directory of links for the names.
struct Sides {
    ours: PathBuf,
    ours_bin: PathBuf,
    theirs: PathBuf,
    theirs_bin: PathBuf,
}

impl Sides {
    fn new(s: &Scratch, theirs: PathBuf) -> Sides {
        let ours = harness::ours("chpst");
        let ours_bin = link_names(s, "ours-bin", &ours);
        let theirs_bin = link_names(s, "theirs-bin", &theirs);
        Sides { ours, ours_bin, theirs, theirs_bin }
    }

    /// Runs `args` (the first is the program) with `{chpst}` and `{bin}`
    /// standing for the side's chpst and link directory.
    fn run(&self, dir: &Path, args: &[&str], theirs: bool) -> Outcome {
        let (chpst_path, bin) =
            if theirs { (&self.theirs, &self.theirs_bin) } else { (&self.ours, &self.ours_bin) };
        let expand = |a: &str| {
            a.replace("{chpst}", &chpst_path.display().to_string())
                .replace("{bin}", &bin.display().to_string())
        };
        let words: Vec<String> = args.iter().map(|a| expand(a)).collect();
        let rest: Vec<&str> = words.iter().skip(1).map(String::as_str).collect();
        let mut o = chpst(&words[0], dir, &rest);
        o.stdout = blank_tag(&o.stdout);
        if theirs {
            o.stderr = o.stderr.replace("[-/ root] [-n nice]", "[-/ root] [-C pwd] [-n nice]");
        }
        o
    }

    /// Runs `args` on both sides and asserts the same outcome; returns ours.
    fn same(&self, dir: &Path, args: &[&str]) -> Outcome {
        let ours = self.run(dir, args, false);
        let theirs = self.run(dir, args, true);
        assert_eq!(ours.stderr, theirs.stderr, "stderr of {args:?}");
        assert_eq!(ours.stdout, theirs.stdout, "stdout of {args:?}");
        assert_eq!(ours.code, theirs.code, "exit code of {args:?}");
        ours
    }
}

/// Blanks the harness's per-run tag value (it differs between runs).
fn blank_tag(out: &str) -> String {
    let key = format!("{}=", harness::TAG_VAR);
    let mut rest = out;
    let mut fixed = String::with_capacity(out.len());
    while let Some(i) = rest.find(&key) {
        fixed.push_str(&rest[..i + key.len()]);
        fixed.push('*');
        rest = &rest[i + key.len()..];
        rest = &rest[rest.find(['\0', '\n']).unwrap_or(rest.len())..];
    }
    fixed.push_str(rest);
    fixed
}

/// The lines of /proc/self/status that a user switch changes.
const IDS: &str = "-E^(Uid|Gid|Groups|CapPrm|CapEff|SigIgn):";

macro_rules! sides {
    ($s:expr) => {
        Sides::new(&$s, require_c!("chpst"))
    };
}

#[test]
fn usage_differs_only_by_the_c_option() {
    let s = Scratch::new("diff-usage");
    let sides = sides!(s);
    let ours = sides.run(s.path(), &["{chpst}"], false);
    let theirs = chpst(&sides.theirs, s.path(), &[]);
    assert_eq!((ours.code, theirs.code), (Some(100), Some(100)));
    assert_eq!(
        ours.stderr.replace(" [-C pwd]", ""),
        theirs.stderr,
        "2.1.2's usage is 2.3.0's without [-C pwd]"
    );
    assert_ne!(ours.stderr, theirs.stderr);
    // 2.1.2 rejects -C; we implement it (2.2.0+).
    let theirs = chpst(&sides.theirs, s.path(), &["-C", "/", "true"]);
    assert_eq!(theirs.code, Some(100));
    assert!(theirs.stderr.starts_with("chpst: illegal option -- C\nusage: chpst "));
    assert_eq!(sides.run(s.path(), &["{chpst}", "-C", "/", "true"], false).code, Some(0));
    // -V: a different version line, then the usage.
    let (ours, theirs) =
        (sides.run(s.path(), &["{chpst}", "-V"], false), sides.run(s.path(), &["{chpst}", "-V"], true));
    assert_eq!((ours.code, theirs.code), (Some(100), Some(100)));
    assert_eq!(ours.stderr.split_once('\n').unwrap().1, theirs.stderr.split_once('\n').unwrap().1);
    assert!(theirs.stderr.starts_with("$Id: ") && ours.stderr.starts_with("$Id: "));
}

#[test]
fn command_line_errors() {
    let s = Scratch::new("diff-cli");
    let sides = sides!(s);
    for args in [
        &["-x", "true"][..],
        &["-u"],
        &["-v"],
        &["-o", "12x", "true"],
        &["-o", "=", "true"],
        &["-n", "x", "true"],
        &["-n", "--3", "true"],
        &["-l", "a", "-L", "b", "true"],
        &["-l", "a", "-l", "b", "true"],
        &["-V", "-x"],
    ] {
        let mut a = vec!["{chpst}"];
        a.extend(args);
        if args[0] == "-V" {
            continue; // version line differs; covered above
        }
        sides.same(s.path(), &a);
    }
    for name in LINK_NAMES {
        let prog = format!("{{bin}}/{name}");
        sides.same(s.path(), &[&prog]);
        sides.same(s.path(), &[&prog, "x"]);
    }
    sides.same(s.path(), &["{bin}/setlock", "-y", "f", "true"]);
    sides.same(s.path(), &["{bin}/softlimit", "-x", "true"]);
    sides.same(s.path(), &["{bin}/softlimit", "-o"]);
    sides.same(s.path(), &["{bin}/softlimit", "-m", "abc", "true"]);
    sides.same(s.path(), &["{bin}/softlimit", "-o", "-5", "true"]);
}

#[test]
fn envdir_contents_and_order() {
    let s = Scratch::new("diff-envdir");
    let sides = sides!(s);
    let bytes: Vec<u8> = (0u8..=255).filter(|&b| b != b'\n').collect();
    envdir(
        &s.join("d"),
        &[
            ("A", b"first  \t\nsecond"),
            ("AAA", b""),
            ("N", b"\n"),
            ("Z", b"a\0b\0c"),
            ("CR", b"x\r\n"),
            ("LEAD", b"  lead"),
            (".hidden", b"h"),
            ("X=Y", b"v"),
            ("W=V", b""),
            ("ZZZ", b"replaced"),
            ("BIN", &bytes),
            ("UID", b"from-envdir"),
        ],
    );
    std::fs::create_dir(s.join("d/SUB")).unwrap();
    assert!(harness::run(&mut harness::cmd("mkfifo", [s.join("d/FIFO")]), TIMEOUT).code == Some(0));
    let o = sides.same(s.path(), &["{chpst}", "-e", "d", "env", "-0"]);
    assert!(o.stdout.contains("A=first\0"));
    sides.same(s.path(), &["{chpst}", "-v", "-e", "d", "env", "-0"]);
    sides.same(s.path(), &["{chpst}", "-U", ":5:6", "-e", "d", "env", "-0"]);
    sides.same(s.path(), &["{chpst}", "-e", "d", "sh", "-c", "printf %s \"$BIN\" | od -An -v -tx1"]);
    sides.same(s.path(), &["{bin}/envdir", "d", "true"]);
    std::fs::remove_dir(s.join("d/SUB")).unwrap();
    sides.same(s.path(), &["{bin}/envdir", "d", "env", "-0"]);
}

#[test]
fn envdir_layers_path_and_failures() {
    let s = Scratch::new("diff-layers");
    let sides = sides!(s);
    envdir(&s.join("e1"), &[("A", b"1"), ("B", b"1"), ("D", b"1")]);
    envdir(&s.join("e2"), &[("B", b"2"), ("C", b"2"), ("D", b"")]);
    sides.same(s.path(), &["{chpst}", "-e", "e1", "-e", "e2", "env", "-0"]);
    sides.same(s.path(), &["{chpst}", "-e", "e1", "{chpst}", "-e", "e2", "env", "-0"]);
    harness::script(s.join("bin/myprog"), "#!/bin/sh\necho ran\n");
    let bin = s.join("bin").display().to_string();
    envdir(&s.join("p"), &[("PATH", bin.as_bytes())]);
    sides.same(s.path(), &["{chpst}", "-e", "p", "myprog"]);
    sides.same(s.path(), &["{chpst}", "-e", "p", "env", "-0"]);
    write(s.join("file"), "x");
    sides.same(s.path(), &["{chpst}", "-e", "file", "true"]);
    sides.same(s.path(), &["{chpst}", "-e", "nosuch", "true"]);
    // A long value (1 MiB line) cannot be passed on; a long tail can.
    let mut big = vec![b'v'; 1 << 20];
    envdir(&s.join("big"), &[("BIG", &big)]);
    sides.same(s.path(), &["{chpst}", "-e", "big", "true"]);
    big[5] = b'\n';
    envdir(&s.join("tail"), &[("T", &big)]);
    sides.same(s.path(), &["{chpst}", "-e", "tail", "env", "-0"]);
}

#[test]
fn accounts() {
    let s = Scratch::new("diff-accounts");
    let sides = sides!(s);
    for spec in
        [":1000", ":", ":x:5", ":1000:5x", "nosuchuser", "nobody:nosuchgroup", "nobody:0", "nobody:", ""]
    {
        sides.same(s.path(), &["{chpst}", "-u", spec, "true"]);
        sides.same(s.path(), &["{chpst}", "-U", spec, "env", "-0"]);
    }
    // Deliberate difference: runit wraps ids above 2^32-1 (":4294967296:1"
    // would be uid 0); we reject them.
    let theirs = sides.run(s.path(), &["{chpst}", "-U", ":99999999999:3", "env", "-0"], true);
    assert_eq!(env_value(&theirs.stdout, "UID").as_deref(), Some("1215752191"));
    let ours = sides.run(s.path(), &["{chpst}", "-U", ":99999999999:3", "env", "-0"], false);
    assert_eq!(
        (ours.code, ours.stderr.as_str()),
        (Some(111), "chpst: fatal: invalid uid/gids: 99999999999:3\n")
    );
    for spec in ["nobody", "nobody:daemon", ":5:6:7", "nobody:nogroup:root", ":1000:", "::5"] {
        sides.same(s.path(), &["{chpst}", "-U", spec, "env", "-0"]);
    }
    for name in ["setuidgid", "envuidgid"] {
        let prog = format!("{{bin}}/{name}");
        for account in ["nosuchuser", "nobody:daemon", ":1:1", "-x"] {
            sides.same(s.path(), &[&prog, account, "true"]);
        }
    }
    sides.same(s.path(), &["{bin}/envuidgid", "nobody", "env", "-0"]);
    if !is_root() {
        sides.same(s.path(), &["{chpst}", "-u", "nobody", "true"]);
        eprintln!("skipped: user switches need root");
        return;
    }
    let sixty: Vec<String> = (1..=60).map(|g| g.to_string()).collect();
    let sixty = format!(":7:{}", sixty.join(":"));
    let sixty_one = format!("{sixty}:61");
    for spec in [
        "nobody",
        "nobody:root:daemon",
        ":1000:1001:1002",
        ":1000:",
        ":1000::",
        ":1000:5:",
        "::5",
        "daemon",
        sixty.as_str(),
        sixty_one.as_str(),
        ":4294967295:3",
    ] {
        sides.same(s.path(), &["{chpst}", "-u", spec, "grep", IDS, "/proc/self/status"]);
    }
    sides.same(s.path(), &["{bin}/setuidgid", "nobody", "grep", IDS, "/proc/self/status"]);
    sides.same(s.path(), &["{chpst}", "-u", "nobody", "{chpst}", "-u", "root", "true"]);
    sides.same(s.path(), &["{chpst}", "-U", "nobody", "-u", "daemon", "sh", "-c", "id; echo $UID $GID"]);
}

#[test]
fn limits_as_the_child_sees_them() {
    let s = Scratch::new("diff-limits");
    let sides = sides!(s);
    for (opt, value) in [
        ("-m", "3000000000"),
        ("-d", "100000000"),
        ("-o", "60"),
        ("-o", "99999999999"),
        ("-o", ""),
        ("-p", "500"),
        ("-f", "123456"),
        ("-c", "4096"),
        ("-r", "777777"),
        ("-t", "99"),
    ] {
        let prog = if value.is_empty() { "/bin/true" } else { "cat" };
        sides.same(s.path(), &["{chpst}", opt, value, prog, "/proc/self/limits"]);
    }
    sides.same(s.path(), &["{chpst}", "-m", "9000000000", "-d", "5000", "cat", "/proc/self/limits"]);
    for letter in ["a", "c", "d", "f", "l", "m", "o", "p", "r", "s", "t"] {
        let opt = format!("-{letter}");
        sides.same(s.path(), &["{bin}/softlimit", &opt, "=", "cat", "/proc/self/limits"]);
        sides.same(s.path(), &["{bin}/softlimit", &opt, "100000000", "cat", "/proc/self/limits"]);
    }
}

#[test]
fn locks() {
    let s = Scratch::new("diff-locks");
    let sides = sides!(s);
    let lk = s.join("lk");
    sides.same(s.path(), &["{chpst}", "-l", "lk", "sh", "-c", "cat /proc/$$/fdinfo/3 | grep -c FLOCK"]);
    sides.same(s.path(), &["{chpst}", "-L", "/nonexistent/lk", "true"]);
    let holder = Proc::spawn(&mut command(&sides.ours, s.path(), &["-l", "lk", "sleep", "60"]));
    wait_until(Duration::from_secs(10), "the lock to be held", || is_locked(&lk));
    sides.same(s.path(), &["{chpst}", "-L", "lk", "true"]);
    for args in [&["lk", "true"][..], &["-x", "lk", "true"], &["-xX", "lk", "true"], &["-nN", "lk", "true"]] {
        let mut a = vec!["{bin}/setlock"];
        a.extend(args);
        sides.same(s.path(), &a);
        a[0] = "{bin}/dsetlock";
        sides.same(s.path(), &a);
    }
    drop(holder);
    sides.same(s.path(), &["{bin}/setlock", "-x", "lk2", "/nonexistent"]);
    sides.same(s.path(), &["{bin}/setlock", "lk2", "/nonexistent"]);
}

#[test]
fn process_state_options() {
    let s = Scratch::new("diff-state");
    let sides = sides!(s);
    sides.same(s.path(), &["{chpst}", "-n", "+2", "nice"]);
    sides.same(s.path(), &["{chpst}", "-n", "-3", "nice"]);
    sides.same(s.path(), &["{chpst}", "-b", "name", "sh", "-c", "echo $0"]);
    sides.same(s.path(), &["{chpst}", "-b", "fakename", "nosuchprog"]);
    std::fs::create_dir(s.join("e1")).unwrap();
    sides.same(s.path(), &["{chpst}", "./e1"]);
    sides.same(s.path(), &["{chpst}", "-/", "/nonexistent", "true"]);
    let probe = "o=; for fd in 0 1 2; do [ -e /proc/$$/fd/$fd ] && o=\"$o $fd\"; done; echo \"open:$o\" >&";
    sides.same(s.path(), &["{chpst}", "-0", "sh", "-c", &format!("{probe}1")]);
    sides.same(s.path(), &["{chpst}", "-1", "sh", "-c", &format!("{probe}2")]);
    sides.same(s.path(), &["{chpst}", "-2", "sh", "-c", &format!("{probe}1")]);
    sides.same(s.path(), &["{chpst}", "-0", "{chpst}", "-0", "true"]);
    envdir(&s.join("d"), &[("A", b"a")]);
    sides.same(s.path(), &["{chpst}", "-e", "d", "-l", "lk", "sh", "-c", "ls /proc/$$/fd"]);
    // Session: compare whether pid == pgid == sid (the numbers differ).
    let session = "{chpst} -P sh -c 'read -r s < /proc/self/stat; set -- $s; [ $1 = $5 ] && [ $1 = $6 ] && echo leader'; :";
    let o = sides.same(s.path(), &["sh", "-c", session]);
    assert_eq!(o.stdout, "leader\n");
    let o = sides.same(s.path(), &["sh", "-c", &session.replace("{chpst} -P", "{bin}/pgrphack")]);
    assert_eq!(o.stdout, "leader\n");
}

#[test]
fn as_nobody_and_chroot() {
    let s = Scratch::new("diff-root");
    let sides = sides!(s);
    if !is_root() {
        sides.same(s.path(), &["{chpst}", "-/", ".", "true"]);
        eprintln!("skipped: chroot and running as nobody need root");
        return;
    }
    open_up(&s);
    envdir(&s.join("d"), &[("A", b"a"), ("S", b"secret")]);
    chmod(s.join("d/S"), 0o600);
    sides.same(s.path(), &["{chpst}", "-u", "nobody", "{chpst}", "-e", "d", "true"]);
    sides.same(s.path(), &["{chpst}", "-e", "d", "-u", "nobody", "env", "-0"]);
    chmod(s.join("d/S"), 0o644);
    for mode in [0o311, 0o644] {
        chmod(s.join("d"), mode);
        sides.same(s.path(), &["{chpst}", "-u", "nobody", "{chpst}", "-e", "d", "true"]);
    }
    chmod(s.join("d"), 0o755);
    sides.same(s.path(), &["{chpst}", "-u", "nobody", "-l", "lk", "true"]);
    sides.same(s.path(), &["{chpst}", "-u", "nobody", "-n", "-3", "nice"]);
    sides.same(s.path(), &["{chpst}", "-u", "nobody", "{chpst}", "-/", "/", "true"]);
    minimal_root(&s.join("tree")).expect("a minimal root (needs dash, env, cat and ldd)");
    sides.same(s.path(), &["{chpst}", "-e", "d", "-/", "tree", "-U", "treeuser:treegrp", "/bin/env", "-0"]);
    sides.same(s.path(), &["{chpst}", "-/", "tree", "-U", "nobody", "/bin/env"]);
    sides.same(s.path(), &["{chpst}", "-/", "tree", "-l", "lk", "/bin/sh", "-c", "pwd"]);
    // A root without account databases: lookups fail with an error.
    std::fs::create_dir(s.join("empty")).unwrap();
    sides.same(s.path(), &["{chpst}", "-/", "empty", "-U", "nobody", "/x"]);
    sides.same(s.path(), &["{chpst}", "-/", "empty", "-u", "nobody:nogroup", "/x"]);
}
