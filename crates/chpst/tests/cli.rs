//! The command-line surface of the chpst binary: usage texts, exit codes
//! and bad arguments, for chpst itself and for every multi-call name
//! (reached through symbolic links, as an installation creates them).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const CHPST: &str = env!("CARGO_BIN_EXE_chpst");

const CHPST_USAGE: &str = " [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] \
[-C pwd] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog\n\n";

/// A directory laid out as an installation makes it: `chpst` and, next to
/// it, each name as a relative link `name -> chpst` (plus a few names
/// that are not chpst's); removed on drop.
struct Links {
    dir: PathBuf,
}

impl Links {
    fn new(tag: &str) -> Links {
        let dir = std::env::temp_dir().join(format!("chpst-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::os::unix::fs::symlink(CHPST, dir.join("chpst")).expect("symlink");
        for name in chpst::NAMES.iter().chain(&["dsetlock", "dsoftlimit", "dchpst", "xyz", "d"]) {
            std::os::unix::fs::symlink("chpst", dir.join(name)).expect("symlink");
        }
        Links { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Links {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(program: impl AsRef<OsStr>, args: &[&str]) -> Output {
    Command::new(program).args(args).stdin(Stdio::null()).output().expect("run")
}

fn check(out: &Output, code: i32, stderr: &str) {
    assert_eq!(String::from_utf8_lossy(&out.stderr), stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
}

#[test]
fn no_arguments_prints_usage_and_exits_100() {
    check(&run(CHPST, &[]), 100, &format!("usage: chpst{CHPST_USAGE}"));
}

#[test]
fn version_then_usage() {
    let out = run(CHPST, &["-V"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let (first, rest) = err.split_once('\n').expect("two lines");
    assert!(first.starts_with("$Id: ") && first.ends_with(" $"), "{first}");
    assert_eq!(rest, format!("usage: chpst{CHPST_USAGE}"));
    assert_eq!(out.status.code(), Some(100));
}

#[test]
fn bad_options() {
    check(
        &run(CHPST, &["-x", "true"]),
        100,
        &format!("chpst: illegal option -- x\nusage: chpst{CHPST_USAGE}"),
    );
    check(
        &run(CHPST, &["-u"]),
        100,
        &format!("chpst: option requires an argument -- u\nusage: chpst{CHPST_USAGE}"),
    );
    for args in [
        &["-o", "12x", "true"][..],
        &["-m", "-1", "true"],
        &["-t", "=", "true"],
        &["-n", "x", "true"],
        &["-n", "--3", "true"],
        &["-l", "a", "-L", "b", "true"],
        &["-L", "a", "-L", "b", "true"],
        &["-H", "true"],
        &["-v"],
    ] {
        check(&run(CHPST, args), 100, &format!("usage: chpst{CHPST_USAGE}"));
    }
}

#[test]
fn fatal_errors_exit_111() {
    check(&run(CHPST, &["-u", ":1000", "true"]), 111, "chpst: fatal: invalid uid/gids: 1000\n");
    check(
        &run(CHPST, &["-u", "no-such-user-chpst-cli", "true"]),
        111,
        "chpst: fatal: unknown user/group: no-such-user-chpst-cli\n",
    );
    check(
        &run(CHPST, &["-b", "fakename", "no-such-program-chpst-cli"]),
        111,
        "chpst: fatal: unable to run: fakename: file does not exist\n",
    );
    check(
        &run(CHPST, &["-e", "/nonexistent-chpst-cli", "true"]),
        111,
        "chpst: fatal: unable to switch to directory: /nonexistent-chpst-cli: file does not exist\n",
    );
    check(
        &run(CHPST, &["-/", "/nonexistent-chpst-cli", "true"]),
        111,
        "chpst: fatal: unable to change directory: /nonexistent-chpst-cli: file does not exist\n",
    );
    check(
        &run(CHPST, &["-l", "/nonexistent-chpst-cli/lock", "true"]),
        111,
        "chpst: fatal: unable to open lock: /nonexistent-chpst-cli/lock: file does not exist\n",
    );
}

#[test]
fn success_runs_the_program() {
    let out = run(CHPST, &["-v", "-P", "-n", "0", "sh", "-c", "echo ok"]);
    assert_eq!(out.stdout, b"ok\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(run(CHPST, &["sh", "-c", "exit 7"]).status.code(), Some(7));
}

#[test]
fn every_name_prints_its_usage() {
    let links = Links::new("usage");
    for (name, synopsis) in [
        ("envdir", "dir child"),
        ("envuidgid", "account child"),
        ("pgrphack", "child"),
        ("setuidgid", "account child"),
        ("setlock", "[ -nNxX ] file program [ arg ... ]"),
        (
            "softlimit",
            "[-a allbytes] [-c corebytes] [-d databytes] [-f filebytes] [-l lockbytes] [-m membytes] \
             [-o openfiles] [-p processes] [-r residentbytes] [-s stackbytes] [-t cpusecs] child",
        ),
    ] {
        check(&run(links.path(name), &[]), 100, &format!("usage: {name} {synopsis}\n\n"));
    }
    // The leading d is dropped (for the name and in the usage text).
    check(&run(links.path("dsetlock"), &[]), 100, "usage: setlock [ -nNxX ] file program [ arg ... ]\n\n");
    check(&run(links.path("dchpst"), &[]), 100, &format!("usage: chpst{CHPST_USAGE}"));
    check(&run(links.path("xyz"), &[]), 100, &format!("usage: xyz{CHPST_USAGE}"));
    check(&run(links.path("d"), &[]), 100, &format!("usage: {CHPST_USAGE}"));
}

#[test]
fn emulation_argument_errors() {
    let links = Links::new("args");
    let usage = |n: &str, s: &str| format!("usage: {n} {s}\n\n");
    check(&run(links.path("envdir"), &["dir"]), 100, &usage("envdir", "dir child"));
    check(&run(links.path("setuidgid"), &["nobody"]), 100, &usage("setuidgid", "account child"));
    check(&run(links.path("envuidgid"), &["nobody"]), 100, &usage("envuidgid", "account child"));
    check(
        &run(links.path("setlock"), &["file"]),
        100,
        &usage("setlock", "[ -nNxX ] file program [ arg ... ]"),
    );
    check(
        &run(links.path("dsetlock"), &["-y", "f", "true"]),
        100,
        &format!("dsetlock: illegal option -- y\n{}", usage("setlock", "[ -nNxX ] file program [ arg ... ]")),
    );
    let softlimit = run(links.path("softlimit"), &[]).stderr;
    let softlimit = String::from_utf8_lossy(&softlimit);
    check(
        &run(links.path("softlimit"), &["-x", "true"]),
        100,
        &format!("softlimit: illegal option -- x\n{softlimit}"),
    );
    check(
        &run(links.path("softlimit"), &["-m", "abc", "true"]),
        100,
        &format!("usage: softlimit{CHPST_USAGE}"),
    );
    check(
        &run(links.path("dsoftlimit"), &["-o", "1x", "true"]),
        100,
        &format!("usage: softlimit{CHPST_USAGE}"),
    );
    // Options are operands for these names.
    check(&run(links.path("setuidgid"), &["-x", "true"]), 111, "chpst: fatal: unknown account: -x\n");
    check(&run(links.path("envuidgid"), &[":1", "true"]), 111, "chpst: fatal: unknown account: :1\n");
    check(
        &run(links.path("envdir"), &["--", "true"]),
        111,
        "chpst: fatal: unable to switch to directory: --: file does not exist\n",
    );
    check(
        &run(links.path("pgrphack"), &["--"]),
        111,
        "chpst: fatal: unable to run: --: file does not exist\n",
    );
}

#[test]
fn names_run_programs() {
    let links = Links::new("run");
    let out = run(links.path("pgrphack"), &["sh", "-c", "echo ok"]);
    assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b"ok\n"[..]));
    let out = run(links.path("softlimit"), &["-o", "=", "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
    let lock = links.path("lockfile");
    let out = run(links.path("setlock"), &[lock.to_str().expect("utf8"), "true"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(Path::new(&lock).exists());
}
