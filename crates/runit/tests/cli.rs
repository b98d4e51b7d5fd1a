//! The command-line surface of `runit` and `runit-init` (conformance items
//! 146-148). Requests that signal process 1 run only inside a new PID
//! namespace with a stand-in process 1 (root and `unshare` needed; the
//! tests say so and skip otherwise), so they never touch the machine's own
//! init.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const RUNIT: &str = env!("CARGO_BIN_EXE_runit");
const RUNIT_INIT: &str = env!("CARGO_BIN_EXE_runit-init");

fn output(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("run")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A scratch directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let p = std::env::temp_dir().join(format!("runit-cli-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(p.join("etc")).expect("mkdir");
        Scratch(p)
    }
    fn etc(&self) -> PathBuf {
        self.0.join("etc")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(p: &Path) -> Option<u32> {
    fs::metadata(p).ok().map(|m| m.permissions().mode() & 0o7777)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when PID namespaces can be made here (root, `unshare` works).
fn namespaces_available() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root for a PID namespace");
        return false;
    }
    let status = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| {
            panic!("cannot run unshare ({e}): `apt-get install util-linux` (tests/run installs it)")
        });
    if !status.success() {
        eprintln!("skipped: the kernel refused a PID namespace (unshare --pid --fork --mount-proc failed)");
    }
    status.success()
}

/// A PID namespace whose process 1 is `sh -c <script>`; killed on drop.
struct Namespace {
    unshare: Child,
    pid1: i32,
}

impl Namespace {
    fn start(script: &str) -> Namespace {
        let unshare = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "sh", "-c", script])
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("unshare");
        let parent = unshare.id();
        let mut pid1 = 0;
        wait_until("the namespace's process 1", || {
            let children =
                fs::read_to_string(format!("/proc/{parent}/task/{parent}/children")).unwrap_or_default();
            pid1 = children.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(0);
            pid1 != 0
        });
        Namespace { unshare, pid1 }
    }

    /// Runs `runit-init <arg>` inside the namespace (as a process of it).
    fn runit_init(&self, env: &[(&str, &Path)], args: &[&str]) -> Output {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t").arg(self.pid1.to_string()).args(["-p", "-m", "--", RUNIT_INIT]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        output(&mut cmd)
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        // SAFETY: killing the namespace's process 1 ends the namespace.
        unsafe { libc::kill(self.pid1, libc::SIGKILL) };
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

/// A stand-in process 1 that records each SIGCONT in `<dir>/got`.
fn stand_in(dir: &Path, prelude: &str) -> Namespace {
    let d = dir.display();
    let ns = Namespace::start(&format!(
        "{prelude}\ntrap 'echo cont >> {d}/got' CONT\necho ready > {d}/ready\n\
         while :; do sleep 0.05; done"
    ));
    wait_until("the stand-in process 1", || dir.join("ready").exists());
    ns
}

fn conts(dir: &Path) -> usize {
    fs::read_to_string(dir.join("got")).unwrap_or_default().lines().count()
}

#[test]
fn runit_refuses_to_run_as_another_process() {
    // Conformance 146.
    let o = output(&mut Command::new(RUNIT));
    assert_eq!(stderr(&o), "- runit: fatal: must be run as process no 1.\n");
    assert_eq!(o.status.code(), Some(111));
    assert!(o.stdout.is_empty());
}

#[test]
fn runit_init_usage_exits_0() {
    // Conformance 147: argv[0] is shown verbatim.
    let o = output(Command::new(RUNIT_INIT).arg0("runit-init"));
    assert_eq!(stderr(&o), "usage: runit-init 0|6\n\n");
    assert_eq!(o.status.code(), Some(0));
    for bad in ["1", "x", "", "-0", "--"] {
        let o = output(Command::new(RUNIT_INIT).arg0("init").arg(bad));
        assert_eq!(stderr(&o), "usage: init 0|6\n\n", "argument {bad:?}");
        assert_eq!(o.status.code(), Some(0));
    }
}

#[test]
fn runit_init_version_then_usage() {
    let o = output(Command::new(RUNIT_INIT).arg0("runit-init").arg("-V"));
    let err = stderr(&o);
    assert!(err.starts_with("$Id: runit-rs "), "{err:?}");
    assert!(err.ends_with(" $\nusage: runit-init 0|6\n\n"), "{err:?}");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn runit_init_reports_an_unwritable_root() {
    // The flag cannot be created, so nothing is signalled.
    let o = output(Command::new(RUNIT_INIT).arg("0").env("RUNIT_ETC", "/nonexistent/runit"));
    assert_eq!(stderr(&o), "init: fatal: unable to create /nonexistent/runit/stopit: file does not exist\n");
    assert_eq!(o.status.code(), Some(111));
    let o = output(Command::new(RUNIT_INIT).arg("6").env("RUNIT_ETC", "/nonexistent/runit"));
    assert_eq!(o.status.code(), Some(111));
}

#[test]
fn runit_init_0_and_6_set_flags_and_wake_process_1() {
    // Conformance 148, with the root relocated by RUNIT_ETC.
    if !namespaces_available() {
        return;
    }
    let s = Scratch::new("flags");
    let ns = stand_in(&s.0, "");
    let etc = s.etc();
    fs::write(etc.join("reboot"), "").expect("write");
    fs::set_permissions(etc.join("reboot"), fs::Permissions::from_mode(0o100)).expect("chmod");

    let o = ns.runit_init(&[("RUNIT_ETC", &etc)], &["0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
    assert_eq!(mode(&etc.join("stopit")), Some(0o100));
    assert_eq!(mode(&etc.join("reboot")), Some(0), "halt clears the reboot flag");
    wait_until("SIGCONT at process 1", || conts(&s.0) == 1);

    let o = ns.runit_init(&[("RUNIT_ETC", &etc)], &["6"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(mode(&etc.join("stopit")), Some(0o100));
    assert_eq!(mode(&etc.join("reboot")), Some(0o100));
    wait_until("a second SIGCONT", || conts(&s.0) == 2);
}

#[test]
fn runit_init_0_without_a_reboot_flag() {
    if !namespaces_available() {
        return;
    }
    let s = Scratch::new("noreboot");
    let ns = stand_in(&s.0, "");
    let o = ns.runit_init(&[("RUNIT_ETC", &s.etc())], &["0"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(mode(&s.etc().join("stopit")), Some(0o100));
    assert_eq!(mode(&s.etc().join("reboot")), None, "not created");
    wait_until("SIGCONT at process 1", || conts(&s.0) == 1);
}

#[test]
fn runit_init_uses_etc_runit_by_default() {
    // Conformance 148 as written: the namespace has its own /etc/runit (a
    // bind mount private to its mount namespace) and runit-init runs with
    // the compiled-in path.
    if !namespaces_available() {
        return;
    }
    if option_env!("RUNIT_RS_ETC").is_some() {
        eprintln!("skipped: this build's root was moved (RUNIT_RS_ETC), so it has no compiled-in /etc/runit");
        return;
    }
    assert!(
        Path::new("/etc/runit").is_dir(),
        "/etc/runit is not a directory (the mount point): `apt-get install runit` (tests/run installs it)"
    );
    let s = Scratch::new("default");
    let etc = s.etc();
    let ns = stand_in(&s.0, &format!("mount --bind {} /etc/runit || exit 1", etc.display()));
    let o = ns.runit_init(&[], &["6"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(mode(&etc.join("stopit")), Some(0o100));
    assert_eq!(mode(&etc.join("reboot")), Some(0o100));
    wait_until("SIGCONT at process 1", || conts(&s.0) == 1);
}

#[test]
fn runit_init_as_process_1_execs_runit() {
    if !namespaces_available() {
        return;
    }
    let s = Scratch::new("exec");
    let etc = s.etc();
    let marker = s.0.join("marker");
    let stage = |n: &str, body: &str| {
        let p = etc.join(n);
        fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write");
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).expect("chmod");
    };
    // Stage 1 records how runit was started, then skips stage 2.
    stage("1", &format!("tr '\\0' ' ' < /proc/1/cmdline > {m}; exit 100", m = marker.display()));
    stage("3", &format!("echo 3 >> {m}", m = marker.display()));
    fs::write(etc.join("nosync"), "").expect("write");
    let o = output(
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", RUNIT_INIT])
            .env("RUNIT_BIN", RUNIT)
            .env("RUNIT_ETC", &etc)
            .env("RUNIT_CONTAINER", "1"),
    );
    // Container mode ends process 1 with 100 after a failed stage 1.
    assert_eq!(o.status.code(), Some(100), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&marker).expect("marker"), "runit 3\n");
}

#[test]
fn runit_init_as_process_1_reports_a_missing_runit() {
    if !namespaces_available() {
        return;
    }
    let o = output(
        Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", RUNIT_INIT, "0"])
            .env("RUNIT_BIN", "/nonexistent/runit"),
    );
    assert_eq!(stderr(&o), "init: fatal: unable to start runit: file does not exist\n");
    assert_eq!(o.status.code(), Some(111));
}
