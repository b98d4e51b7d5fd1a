//! End-to-end tests of our `sv` against real runsv processes — ours and,
//! when installed, Debian's C runsv (the interop matrix's "our sv" rows).
//! Conformance items of spec/conformance.md §F are named in each test.
#![allow(clippy::unwrap_used)]

mod sv_fixture;

use harness::{Outcome, wait_until};
use runit_core::status::State;
use std::time::{Duration, Instant};
use sv_fixture::*;

fn sv(t: &Tree, args: &[&str]) -> Outcome {
    t.sv(&our_sv(), args)
}

#[test]
fn status_of_running_and_down_services() {
    // 76, 77, 78, 79
    for (kind, runsv) in runsvs() {
        let mut t = Tree::new("sv-status");
        t.service("up", RUN);
        t.service("off", RUN);
        harness::write(t.dir("off").join("down"), "");
        t.start_running(&runsv, "up");
        t.start(&runsv, "off");
        let o = sv(&t, &["status", "up", "off"]);
        assert_outcome(&o, 0, "run: up: (pid N) Ns\ndown: off: Ns\n", "");
        let abs = t.dir("up").display().to_string();
        let o = sv(&t, &["status", "./svc/up", &abs, "svc/off/"]);
        let want = format!("run: ./svc/up: (pid N) Ns\nrun: {abs}: (pid N) Ns\ndown: svc/off/: Ns\n");
        assert_outcome(&o, 0, &want, "");
        let o = sv(&t, &["-v", "down", "up"]);
        assert_outcome(&o, 0, "ok: down: up: Ns, normally up\n", "");
        let o = sv(&t, &["s", "up"]);
        assert_outcome(&o, 0, "down: up: Ns, normally up\n", "");
        eprintln!("{kind:?} ok");
    }
}

#[test]
fn flags_normally_down_paused_want_and_term() {
    // 80, 81
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-flags");
        t.service("bar", RUN_IGNORING_TERM);
        harness::write(t.dir("bar").join("down"), "");
        t.start(&runsv, "bar");
        // `o` is judged in whole seconds: a record from sv's own start
        // second would count as "already ran once".
        t.age("bar", 1);
        assert_outcome(
            &sv(&t, &["-v", "once", "bar"]),
            0,
            "ok: run: bar: (pid N) Ns, normally down, want down\n",
            "",
        );
        assert_outcome(
            &sv(&t, &["status", "bar"]),
            0,
            "run: bar: (pid N) Ns, normally down, want down\n",
            "",
        );
        // (`u` holds for a running service at once, so `-v up` would print
        // the record before runsv read the byte: wait for runsv instead.)
        assert_outcome(&sv(&t, &["up", "bar"]), 0, "", "");
        wait_until(PATIENT, "want up", || {
            harness::status_of(&t.dir("bar"), false).is_some_and(|s| s.want == b'u')
        });
        assert_outcome(&sv(&t, &["status", "bar"]), 0, "run: bar: (pid N) Ns, normally down\n", "");
        assert_outcome(
            &sv(&t, &["-v", "pause", "bar"]),
            0,
            "ok: run: bar: (pid N) Ns, normally down, paused\n",
            "",
        );
        assert_outcome(&sv(&t, &["-v", "cont", "bar"]), 0, "ok: run: bar: (pid N) Ns, normally down\n", "");
        // TERM is ignored: the service keeps running, wanted down, TERMed.
        // (Sent first and waited for, so that a slow runsv cannot make the
        // timeout line show the record from before `d`.)
        assert_outcome(&sv(&t, &["down", "bar"]), 0, "", "");
        wait_until(PATIENT, "TERM sent", || {
            harness::status_of(&t.dir("bar"), false).is_some_and(|s| s.got_term)
        });
        let o = sv(&t, &["-w", "1", "down", "bar"]);
        assert_outcome(&o, 1, "timeout: run: bar: (pid N) Ns, normally down, want down, got TERM\n", "");
        assert_outcome(
            &sv(&t, &["status", "bar"]),
            0,
            "run: bar: (pid N) Ns, normally down, want down, got TERM\n",
            "",
        );
        // A down service wanting up (with a real runsv this lasts at most
        // a second: a fake record keeps it still).
        let _fake = FakeRunsv::new(&t.dir("norun"), &record(3, 0, false, b'u', false, 0));
        let o = sv(&t, &["status", "norun"]);
        assert_outcome(&o, 0, "down: norun: Ns, normally up, want up\n", "");
    }
}

#[test]
fn log_service_status() {
    // 82
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-log");
        t.service("web", RUN);
        t.with_log("web");
        t.start_running(&runsv, "web");
        wait_until(PATIENT, "log runs", || {
            harness::status_of(&t.dir("web"), true).is_some_and(|s| s.pid != 0)
        });
        assert_outcome(&sv(&t, &["status", "web"]), 0, "run: web: (pid N) Ns; run: log: (pid N) Ns\n", "");
        assert_outcome(&sv(&t, &["-v", "down", "web"]), 0, "ok: down: web: Ns, normally up\n", "");
        assert_outcome(
            &sv(&t, &["status", "web"]),
            0,
            "down: web: Ns, normally up; run: log: (pid N) Ns\n",
            "",
        );
        // Exit: runsv closes the log pipe, the log ends, runsv exits.
        assert_outcome(&sv(&t, &["-v", "exit", "web"]), 0, "ok: web: runsv not running\n", "");
        // The stale supervise/ now says runsv is not running (83) and exit
        // still succeeds (86).
        assert_outcome(&sv(&t, &["status", "web"]), 1, "fail: web: runsv not running\n", "");
        assert_outcome(&sv(&t, &["up", "web"]), 1, "fail: web: runsv not running\n", "");
        assert_outcome(&sv(&t, &["exit", "web"]), 0, "ok: web: runsv not running\n", "");
        assert_outcome(&sv(&t, &["force-shutdown", "web"]), 0, "ok: web: runsv not running\n", "");
    }
}

#[test]
fn broken_service_directories() {
    // 83, 84, 85, 87
    let t = Tree::new("sv-broken");
    std::fs::create_dir_all(t.dir("plain")).unwrap();
    let o = sv(&t, &["status", "plain", "nosuch"]);
    assert_outcome(
        &o,
        2,
        "warning: plain: unable to open supervise/ok: file does not exist\n\
         fail: nosuch: unable to change to service directory: file does not exist\n",
        "",
    );
    harness::write(t.dir("file"), "");
    let o = sv(&t, &["up", "file"]);
    assert_outcome(&o, 1, "fail: file: unable to change to service directory: not a directory\n", "");
    // Stale supervise/ok: a FIFO nobody reads.
    std::fs::create_dir_all(t.dir("stale/supervise")).unwrap();
    runit_core::supervise::mkfifo(&t.dir("stale/supervise/ok"), 0o600).unwrap();
    assert_outcome(&sv(&t, &["status", "stale"]), 1, "fail: stale: runsv not running\n", "");
    assert_outcome(&sv(&t, &["-v", "exit", "stale"]), 0, "ok: stale: runsv not running\n", "");
    // A short status record with a live "runsv".
    let mut short = FakeRunsv::new(&t.dir("short"), b"abc");
    let o = sv(&t, &["status", "short"]);
    assert_outcome(&o, 1, "warning: short: unable to read supervise/status: bad format\n", "");
    let o = sv(&t, &["-v", "up", "short"]);
    assert_outcome(&o, 1, "warning: short: unable to read supervise/status: bad format\n", "");
    assert!(short.received().is_empty());
    std::fs::remove_file(t.dir("short/supervise/status")).unwrap();
    let o = sv(&t, &["status", "short"]);
    assert_outcome(&o, 1, "warning: short: unable to open supervise/status: file does not exist\n", "");
    std::fs::create_dir(t.dir("short/supervise/status")).unwrap();
    let o = sv(&t, &["status", "short"]);
    assert_outcome(&o, 1, "warning: short: unable to read supervise/status: is a directory\n", "");
}

#[test]
fn unreadable_supervise_for_another_user() {
    let mut t = Tree::new("sv-perm");
    let (_, runsv) = runsvs().remove(0);
    t.service("web", RUN);
    t.start_running(&runsv, "web");
    let expect = "warning: web: unable to open supervise/ok: access denied\n";
    if !harness::is_root() {
        // Our own supervise/, made unreadable.
        harness::chmod(t.dir("web/supervise"), 0o000);
        let o = sv(&t, &["status", "web"]);
        harness::chmod(t.dir("web/supervise"), 0o700);
        assert_outcome(&o, 1, expect, "");
        return;
    }
    // supervise/ is 0700 and root's: run sv as nobody. The binary is
    // copied into the scratch dir, which nobody can reach (a checkout may
    // live under a private home).
    let as_nobody = |bin: &std::path::Path, args: &[&str]| {
        // Still named `sv` (any other name is LSB mode).
        let dir = t.scratch.join(format!("nobody-{}", bin.display().to_string().replace('/', "_")));
        std::fs::create_dir_all(&dir).unwrap();
        let copy = dir.join("sv");
        std::fs::copy(bin, &copy).unwrap();
        harness::chmod(&copy, 0o755);
        let mut c = std::process::Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]).arg(&copy).args(args);
        c.env("SVDIR", &t.svdir).current_dir("/");
        // A fresh copy can be briefly "text busy" (another thread's fork
        // holds its descriptor until that child execs): retry.
        let mut o = harness::run(&mut c, SV_LIMIT);
        for _ in 0..100 {
            if !(o.code == Some(126) && o.stderr.contains("Text file busy")) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            o = harness::run(&mut c, SV_LIMIT);
        }
        o
    };
    let o = as_nobody(&our_sv(), &["status", "web"]);
    assert_ne!(
        o.code,
        Some(127),
        "setpriv (util-linux; tests/run installs it) cannot run sv as nobody: {o:?}"
    );
    assert_outcome(&o, 1, expect, "");
    assert_outcome(&as_nobody(&our_sv(), &["-v", "up", "web"]), 1, expect, "");
    {
        let c_sv = harness::theirs_required("sv");
        for args in [&["status", "web"][..], &["-v", "up", "web"], &["exit", "web"]] {
            let (c, ours) = (as_nobody(&c_sv, args), as_nobody(&our_sv(), args));
            assert_eq!((c.code, c.stdout, c.stderr), (ours.code, ours.stdout, ours.stderr), "{args:?}");
        }
    }
}

#[test]
fn waiting_up_and_down() {
    // 88, 89, 92, 94
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-wait");
        t.service("x", RUN);
        harness::write(t.dir("x/down"), "");
        t.start(&runsv, "x");
        assert_outcome(&sv(&t, &["-v", "up", "x"]), 0, "ok: run: x: (pid N) Ns, normally down\n", "");
        assert_outcome(&sv(&t, &["-v", "down", "x"]), 0, "ok: down: x: Ns\n", "");
        assert_outcome(&sv(&t, &["-w", "20", "up", "x"]), 0, "ok: run: x: (pid N) Ns, normally down\n", "");
        assert_outcome(&sv(&t, &["stop", "x"]), 0, "ok: down: x: Ns\n", "");
        assert_outcome(&sv(&t, &["start", "x"]), 0, "ok: run: x: (pid N) Ns, normally down\n", "");
        // Without -v nothing is printed.
        assert_outcome(&sv(&t, &["down", "x"]), 0, "", "");
        wait_until(PATIENT, "down", || harness::status_of(&t.dir("x"), false).is_some_and(|s| s.pid == 0));
        assert_outcome(&sv(&t, &["up", "x"]), 0, "", "");
        wait_sleeping(&t.dir("x"));
    }
}

#[test]
fn timeout_on_a_term_ignoring_service_and_force_stop() {
    // 90, 91
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-timeout");
        t.service("x", RUN_IGNORING_TERM);
        let pid = t.start_running(&runsv, "x");
        // runsv records the TERM before the deadline even on a busy box.
        let start = Instant::now();
        let o = sv(&t, &["-w", "3", "down", "x"]);
        let took = start.elapsed();
        assert_outcome(&o, 1, "timeout: run: x: (pid N) Ns, want down, got TERM\n", "");
        // sv waited out -w 3: it started after `start`, so a correct sv
        // takes at least 3 s whatever the load (slowness only adds); the
        // service, ignoring TERM, shows no event to order against.
        assert!(took >= Duration::from_millis(2900), "{took:?}");
        assert!(harness::alive(pid as i32), "down does not kill");
        let o = sv(&t, &["-w", "1", "force-stop", "x"]);
        assert_outcome(&o, 1, "kill: run: x: (pid N) Ns, want down, got TERM\n", "");
        wait_until(PATIENT, "service killed", || !harness::alive(pid as i32));
        wait_until(PATIENT, "status down", || {
            harness::status_of(&t.dir("x"), false).is_some_and(|s| s.pid == 0 && s.state == State::Down)
        });
        assert_outcome(&sv(&t, &["status", "x"]), 0, "down: x: Ns, normally up\n", "");
    }
}

#[test]
fn redundant_commands_are_not_sent() {
    // 95, 96: a fake runsv shows exactly which bytes arrive.
    let t = Tree::new("sv-redundant");
    let mut fake = FakeRunsv::new(&t.dir("x"), &record(5, 42, false, b'u', false, 1));
    assert_outcome(&sv(&t, &["up", "x"]), 0, "", "");
    assert_eq!(fake.received(), b"");
    drop(fake);
    // `down` after `once`: want down but no TERM yet -> d is sent.
    let mut fake = FakeRunsv::new(&t.dir("x"), &record(5, 42, false, b'd', false, 1));
    assert_outcome(&sv(&t, &["down", "x"]), 0, "", "");
    assert_eq!(fake.received(), b"d");
    // Want down and TERM already sent -> skipped.
    let mut fake2 = FakeRunsv::new(&t.dir("y"), &record(5, 42, false, b'd', true, 1));
    assert_outcome(&sv(&t, &["down", "y"]), 0, "", "");
    assert_eq!(fake2.received(), b"");
    // Everything else is always sent, in one write.
    for (word, bytes) in
        [("restart", "tcu"), ("kill", "k"), ("try-restart", "tc"), ("once", "o"), ("shutdown", "x")]
    {
        let mut f = FakeRunsv::new(&t.dir("z"), &record(5, 42, false, b'd', true, 1));
        let _ = sv(&t, &["-w", "0", word, "z"]);
        assert_eq!(f.received(), bytes.as_bytes(), "{word}");
    }
    let _ = fake.received();
}

#[test]
fn restart_with_a_failing_check_times_out() {
    // 93, 97
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-check");
        t.service("x", RUN);
        t.start_running(&runsv, "x");
        t.settle("x");
        harness::script(
            t.dir("x/check"),
            "#!/bin/sh\necho to-stdout || echo stdout-closed >&2\necho checking >&2\nexit 1\n",
        );
        let start = Instant::now();
        let o = t.sv_env(&our_sv(), &["-v", "restart", "x"], &[("SVWAIT", "2")]);
        let took = start.elapsed();
        assert_eq!(o.code, Some(1), "{o:?}");
        // (Normally `timeout: run: x: (pid N) Ns` with the new pid; on a
        // very busy box the restart may not have happened within 2 s.)
        assert!(o.stdout.starts_with("timeout: ") && o.stdout.lines().count() == 1, "{o:?}");
        assert!(!o.stdout.contains("to-stdout"), "check's stdout is closed");
        assert!(o.stderr.contains("checking\n"), "check's stderr is shown: {o:?}");
        assert!(o.stderr.contains("stdout-closed"), "writing to stdout fails: {o:?}");
        // SVWAIT=2 was waited out (a lower bound: sv started after `start`,
        // and load only adds; the harness's deadline bounds the run).
        assert!(took >= Duration::from_millis(1900), "{took:?}");
        // The command-line value beats SVWAIT: only the length of the wait
        // tells -w 3 from SVWAIT=1, and it can only grow under load.
        let start = Instant::now();
        let o = t.sv_env(&our_sv(), &["-w", "3", "restart", "x"], &[("SVWAIT", "1")]);
        assert_eq!(o.code, Some(1));
        assert!(start.elapsed() >= Duration::from_millis(2900), "{:?}", start.elapsed());
        // A passing check: ok.
        harness::script(t.dir("x/check"), "#!/bin/sh\nexit 0\n");
        assert_outcome(&sv(&t, &["-w", "20", "restart", "x"]), 0, "ok: run: x: (pid N) Ns\n", "");
        // Death by signal counts as passing (runit's `status >> 8 == 0`).
        harness::script(t.dir("x/check"), "#!/bin/sh\nkill -9 $$\n");
        assert_outcome(&sv(&t, &["-w", "20", "check", "x"]), 0, "ok: run: x: (pid N) Ns\n", "");
    }
}

#[test]
fn non_executable_check_passes_with_a_warning() {
    // 98
    let mut t = Tree::new("sv-check-noexec");
    let (_, runsv) = runsvs().remove(0);
    t.service("x", RUN);
    t.start_running(&runsv, "x");
    harness::write(t.dir("x/check"), "#!/bin/sh\nexit 1\n");
    harness::chmod(t.dir("x/check"), 0o644);
    let o = sv(&t, &["-w", "20", "check", "x"]);
    assert_eq!(o.code, Some(0));
    assert_eq!(normalize(&o.stdout), "ok: run: x: (pid N) Ns\n");
    // (Even root cannot execute a file without any execute bit.)
    assert_eq!(o.stderr, "warning: unable to run x/check: access denied\n");
    // A check that cannot be stat()ed fails, with a warning.
    std::fs::remove_file(t.dir("x/check")).unwrap();
    std::os::unix::fs::symlink("check", t.dir("x/check")).unwrap();
    let o = sv(&t, &["-w", "0", "check", "x"]);
    assert_eq!(o.code, Some(1));
    assert_eq!(normalize(&o.stdout), "timeout: run: x: (pid N) Ns\n");
    assert_eq!(o.stderr, "warning: unable to stat x/check: symbolic link loop\n");
}

#[test]
fn hanging_check_is_bounded_by_the_wait() {
    // runit would wait forever; we stop at -w (docs/sv.md).
    let mut t = Tree::new("sv-check-hang");
    let (_, runsv) = runsvs().remove(0);
    t.service("x", RUN);
    t.start_running(&runsv, "x");
    // The check never ends by itself: sv returning at all (the harness
    // fails the test after its deadline) shows the wait bounded it.
    let check_pid = t.dir("x/check.pid");
    harness::script(
        t.dir("x/check"),
        &format!("#!/bin/sh\necho $$ > {}\nexec sleep 1000\n", check_pid.display()),
    );
    let start = Instant::now();
    let o = sv(&t, &["-w", "1", "up", "x"]);
    assert_outcome(&o, 1, "timeout: run: x: (pid N) Ns\n", "");
    // ... and it was the whole -w 1 (a lower bound: load only adds).
    assert!(start.elapsed() >= Duration::from_millis(900), "{:?}", start.elapsed());
    let pid: i32 = harness::read(&check_pid).trim().parse().expect("the check's pid");
    wait_until(PATIENT, "the hung check killed", || !harness::alive(pid));
    // -w 0 still gives a check time to answer.
    harness::script(t.dir("x/check"), "#!/bin/sh\nsleep 0.2\nexit 0\n");
    assert_outcome(&sv(&t, &["-w", "0", "check", "x"]), 0, "ok: run: x: (pid N) Ns\n", "");
}

#[test]
fn check_waits_for_the_wanted_state() {
    // 99 [2.3.0]
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-checkcmd");
        t.service("x", RUN);
        harness::write(t.dir("x/down"), "");
        t.start(&runsv, "x");
        // Want down and down: ok at once.
        assert_outcome(&sv(&t, &["check", "x"]), 0, "ok: down: x: Ns\n", "");
        // Want up but not running (a fake record): 2.3.0 waits and times out.
        let mut fake = FakeRunsv::new(&t.dir("y"), &record(5, 0, false, b'u', false, 0));
        assert_outcome(
            &sv(&t, &["-w", "0", "check", "y"]),
            1,
            "timeout: down: y: Ns, normally up, want up\n",
            "",
        );
        assert_eq!(fake.received(), b"", "check sends nothing");
    }
}

#[test]
fn trailing_slash_is_resolved_differently_when_waiting() {
    // 100
    for (_, runsv) in runsvs() {
        let t = Tree::new("sv-slash");
        // foo/ exists in the current directory (the scratch dir) only.
        let dir = t.scratch.join("foo");
        harness::script(dir.join("run"), &format!("#!/bin/sh\n{RUN}"));
        harness::write(dir.join("down"), "");
        let p =
            harness::Proc::spawn_logging(std::process::Command::new(&runsv).arg(&dir), t.scratch.join("e"));
        wait_until(PATIENT, "runsv", || harness::supervised(&dir));
        let o = sv(&t, &["-v", "up", "foo/"]);
        assert_outcome(&o, 1, "fail: foo/: unable to change to service directory: file does not exist\n", "");
        // ... but the command was sent.
        wait_sleeping(&dir);
        // Without waiting it just works.
        assert_outcome(&sv(&t, &["status", "foo/"]), 0, "run: foo/: (pid N) Ns, normally down\n", "");
        drop(p);
    }
}

#[test]
fn log_directory_quirks() {
    // 105: log/ appears after runsv started: warning, then the main record
    // printed again as the log's.
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-logquirk");
        t.service("foo", RUN);
        harness::write(t.dir("foo/down"), "");
        t.start(&runsv, "foo");
        std::fs::create_dir(t.dir("foo/log")).unwrap();
        assert_outcome(
            &sv(&t, &["status", "foo"]),
            1,
            "down: foo: Ns; warning: foo/log: unable to open supervise/ok: file does not exist\ndown: log: Ns, normally up\n",
            "",
        );
        std::fs::remove_dir(t.dir("foo/log")).unwrap();
        harness::write(t.dir("foo/log"), "");
        assert_outcome(
            &sv(&t, &["status", "foo"]),
            1,
            "down: foo: Ns; warning: foo/log: unable to change directory: not a directory\n",
            "",
        );
        std::fs::remove_file(t.dir("foo/log")).unwrap();
        // An unreadable down file: stderr warning, no text, not an error.
        std::fs::remove_file(t.dir("foo/down")).unwrap();
        std::os::unix::fs::symlink("down", t.dir("foo/down")).unwrap();
        assert_outcome(
            &sv(&t, &["status", "foo"]),
            0,
            "\n",
            "warning: unable to stat foo/down: symbolic link loop\n",
        );
    }
}

#[test]
fn lsb_mode() {
    // 102, 103
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-lsb");
        t.service("foo", RUN_STUBBORN);
        t.with_log("foo");
        harness::write(t.dir("foo/down"), "");
        t.start(&runsv, "foo");
        wait_until(PATIENT, "log runs", || {
            harness::status_of(&t.dir("foo"), true).is_some_and(|s| s.pid != 0)
        });
        let foo = t.lsb("foo", &our_sv());
        // Down main service, running log: 3 (2.3.0; Debian's 2.1.2 says 0).
        let o = t.sv(&foo, &["status"]);
        assert_outcome(&o, 3, "down: foo: Ns; run: log: (pid N) Ns\n", "");
        assert_outcome(&t.sv(&foo, &["start"]), 0, "ok: run: foo: (pid N) Ns, normally down\n", "");
        // Let `./run` set its traps before `hup` arrives.
        wait_sleeping(&t.dir("foo"));
        assert_outcome(
            &t.sv(&foo, &["status", "extra"]),
            0,
            "run: foo: (pid N) Ns, normally down; run: log: (pid N) Ns\n",
            "",
        );
        assert_outcome(&t.sv(&foo, &["-v", "hup"]), 0, "ok: run: foo: (pid N) Ns, normally down\n", "");
        assert_outcome(&t.sv(&foo, &["stop"]), 0, "ok: down: foo: Ns\n", "");
        assert_outcome(&t.sv(&foo, &["-w", "20", "exit"]), 0, "ok: foo: runsv not running\n", "");
        // runsv gone: 1.
        assert_outcome(&t.sv(&foo, &["status"]), 1, "fail: foo: runsv not running\n", "");
        // No supervise/: 4. Missing directory: 1.
        std::fs::create_dir(t.dir("bare")).unwrap();
        let bare = t.lsb("bare", &our_sv());
        assert_outcome(
            &t.sv(&bare, &["status"]),
            4,
            "warning: bare: unable to open supervise/ok: file does not exist\n",
            "",
        );
        let nosuch = t.lsb("nosuch", &our_sv());
        assert_outcome(
            &t.sv(&nosuch, &["status"]),
            1,
            "fail: nosuch: unable to change to service directory: file does not exist\n",
            "",
        );
        for args in [&[][..], &["stat"], &["bogus"]] {
            let o = t.sv(&foo, args);
            assert_eq!((o.code, o.stderr.as_str()), (Some(2), "usage: foo [-w sec] command\n\n"), "{args:?}");
        }
    }
}

#[test]
fn json_status() {
    // Our extension: -j.
    for (_, runsv) in runsvs() {
        let mut t = Tree::new("sv-json");
        t.service("web", RUN);
        t.with_log("web");
        let pid = t.start_running(&runsv, "web");
        wait_until(PATIENT, "log runs", || {
            harness::status_of(&t.dir("web"), true).is_some_and(|s| s.pid != 0)
        });
        let log_pid = harness::status_of(&t.dir("web"), true).unwrap().pid;
        let o = sv(&t, &["-j", "status", "web", "nosuch"]);
        assert_eq!(o.code, Some(1), "{o:?}");
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert_eq!(lines.len(), 2, "{o:?}");
        let path = t.dir("web").display().to_string();
        let main = format!(r#"{{"name":"web","path":"{path}","state":"run","pid":{pid},"seconds":"#);
        assert!(lines[0].starts_with(&main), "{}", lines[0]);
        assert!(lines[0].contains(
            r#""want":"up","paused":false,"got_term":false,"normally_up":true,"log":{"state":"run","#
        ));
        assert!(lines[0].contains(&format!(r#""log":{{"state":"run","pid":{log_pid},"#)), "{}", lines[0]);
        // Then the health keys: a record with our runsv, null with C's.
        assert!(lines[0].contains(r#","ready":null,"ready_since":null,"health":"#), "{}", lines[0]);
        assert!(lines[0].ends_with('}'));
        let missing = t.scratch.join("svc/nosuch").display().to_string();
        assert_eq!(
            lines[1],
            format!(
                r#"{{"name":"nosuch","path":"{missing}","error":"unable to change to service directory: file does not exist"}}"#
            )
        );
        assert!(o.stderr.is_empty());
        // LSB mode keeps its exit codes.
        let web = t.lsb("web", &our_sv());
        let o = t.sv(&web, &["-j", "status"]);
        assert_eq!(o.code, Some(0));
        assert!(o.stdout.starts_with(r#"{"name":"web","#));
        std::fs::create_dir(t.dir("bare")).unwrap();
        let o = t.sv(&t.lsb("bare", &our_sv()), &["-j", "status"]);
        assert_eq!(o.code, Some(4), "{o:?}");
        let bare = t.dir("bare").display().to_string();
        assert_eq!(
            o.stdout,
            format!(
                "{{\"name\":\"bare\",\"path\":\"{bare}\",\"error\":\"unable to open supervise/ok: file does not exist\"}}\n"
            )
        );
        // Default output is untouched by the extension.
        assert_outcome(&sv(&t, &["status", "web"]), 0, "run: web: (pid N) Ns; run: log: (pid N) Ns\n", "");
    }
}

#[test]
fn many_services_in_one_call() {
    // 101 and the output buffer: 300 services, some missing.
    let (_, runsv) = runsvs().remove(0);
    let mut t = Tree::new("sv-many");
    let names: Vec<String> = (0..150).map(|i| format!("s{i}")).collect();
    for n in names.iter().take(3) {
        t.service(n, RUN);
        t.start(&runsv, n);
    }
    let mut args = vec!["status"];
    args.extend(names.iter().map(String::as_str));
    let o = sv(&t, &args);
    assert_eq!(o.code, Some(99), "147 failures, capped");
    assert_eq!(o.stdout.lines().count(), 150);
    assert!(o.stdout.lines().skip(3).all(|l| l.starts_with("fail: s")), "{}", o.stdout);
}
