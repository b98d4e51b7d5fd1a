//! End-to-end tests of sv and service health (issue 12, docs/health.md,
//! docs/sv.md): `sv -w N start|restart|check` waits for the readiness a
//! service declares (`notification-fd`, `notify-socket`) instead of
//! `./check`, and times out when it never comes; a service without a
//! mechanism still gets runit's `./check`; a restart policy that gave up
//! ends the wait; `-H` shows the death history and `-j` reports readiness
//! and the failed state. Default `sv status` stays runit's: tests/sv_diff.rs
//! compares it with Debian's sv on these services.
#![allow(clippy::unwrap_used)]

mod sv_fixture;

use harness::{read, wait_for, wait_until, write};
use runit_core::health::{self, HealthState, Readiness};
use std::path::Path;
use std::time::{Duration, Instant};
use sv_fixture::*;

/// `./run` that becomes ready after `delay` through `notification-fd` 3.
fn fd_run(delay: &str) -> String {
    format!("sleep {delay}\necho >&3\nexec sleep 1000\n")
}

/// `./run` that sends `READY=1` to `$NOTIFY_SOCKET` after `delay` (perl
/// is Essential on Debian: a portable sd_notify).
fn socket_run(delay: &str) -> String {
    format!(
        r#"sleep {delay}
perl -MSocket -e '($p = $ENV{{NOTIFY_SOCKET}}) =~ s/^@/\0/; socket($s, AF_UNIX, SOCK_DGRAM, 0) or die; send($s, "READY=1\nSTATUS=serving", 0, pack_sockaddr_un($p)) // die "send: $!"'
exec sleep 1000
"#
    )
}

/// `./run` that records its start and fails at once.
const CRASH: &str = "date +%s.%N >> starts\nexit 1\n";

/// A service `name` (with `down`, so it waits for `sv start`), a `check`
/// that always passes (runit's sv would say ok at once) and `files`.
fn declared(t: &mut Tree, name: &str, run: &str, files: &[(&str, &str)]) {
    t.service(name, run);
    let dir = t.dir(name);
    write(dir.join("down"), "");
    harness::script(dir.join("check"), "#!/bin/sh\nexit 0\n");
    for (f, text) in files {
        write(dir.join(f), text);
    }
    t.start(&harness::ours("runsv"), name);
}

fn sv(t: &Tree, args: &[&str]) -> harness::Outcome {
    t.sv(&our_sv(), args)
}

/// Starts `name` with `sv -w 10 start` and asserts it returned `ok:` only
/// once runsv had recorded the service ready.
fn start_waits_for_readiness(t: &Tree, name: &str) {
    let dir = t.dir(name);
    let began = Instant::now();
    let o = sv(t, &["-w", "10", "start", name]);
    let took = began.elapsed();
    assert_outcome(&o, 0, &format!("ok: run: {name}: (pid N) Ns, normally down\n"), "");
    let st = harness::status_of(&dir, false).unwrap();
    match health::readiness(&dir, &st) {
        Readiness::Ready { since } => {
            let ready_at = Duration::from_secs(since.unix_seconds().try_into().unwrap())
                + Duration::from_nanos(since.nanos.into());
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
            assert!(ready_at <= now, "ready in the future?");
        }
        other => panic!("sv said ok, but {name} is {other:?}: {}", read(dir.join("supervise/health"))),
    }
    // ./run sleeps 2 s before it notifies; ./check passes at once. The
    // readiness record above is read after sv returned, so an early `ok`
    // would be seen only if the test was slow; the lower bound is the
    // witness that sv waited: `began` precedes the start, so a correct sv
    // takes at least 2 s whatever the load (slowness only adds).
    assert!(took >= Duration::from_millis(1500), "{name}: ok after {took:?}, before the service was ready");
}

#[test]
fn start_waits_for_a_notification_fd() {
    let mut t = Tree::new("health-sv-fd");
    declared(&mut t, "fd", &fd_run("2"), &[("notification-fd", "3\n")]);
    start_waits_for_readiness(&t, "fd");
    // Ready services pass `check` at once; JSON says since when.
    assert_outcome(&sv(&t, &["-w", "10", "check", "fd"]), 0, "ok: run: fd: (pid N) Ns, normally down\n", "");
    let o = sv(&t, &["-j", "status", "fd"]);
    assert!(o.stdout.contains(r#""ready":true,"ready_since":"#), "{}", o.stdout);
    assert!(o.stdout.contains(r#""health":{"state":"ready","#), "{}", o.stdout);
    assert!(o.stdout.contains(r#""mechanism":"notification-fd""#), "{}", o.stdout);
}

#[test]
fn start_waits_for_notify_socket() {
    let mut t = Tree::new("health-sv-sock");
    declared(&mut t, "sock", &socket_run("2"), &[("notify-socket", "")]);
    start_waits_for_readiness(&t, "sock");
    let o = sv(&t, &["-j", "status", "sock"]);
    assert!(
        o.stdout.contains(r#""ready":true"#) && o.stdout.contains(r#""status":"serving""#),
        "{}",
        o.stdout
    );
}

#[test]
fn restart_waits_for_the_new_run_to_be_ready() {
    let mut t = Tree::new("health-sv-restart");
    declared(&mut t, "fd", &fd_run("2"), &[("notification-fd", "3")]);
    start_waits_for_readiness(&t, "fd");
    let old = harness::status_of(&t.dir("fd"), false).unwrap().pid;
    t.age("fd", 2);
    let began = Instant::now();
    let o = sv(&t, &["-w", "10", "restart", "fd"]);
    assert_outcome(&o, 0, "ok: run: fd: (pid N) Ns, normally down\n", "");
    // As in start_waits_for_readiness: the new run notifies 2 s after it
    // starts, which is after `began`; load only makes this larger.
    assert!(began.elapsed() >= Duration::from_millis(1500), "ok before the new run was ready");
    let st = harness::status_of(&t.dir("fd"), false).unwrap();
    assert_ne!(st.pid, old);
    assert!(matches!(health::readiness(&t.dir("fd"), &st), Readiness::Ready { .. }));
}

#[test]
fn a_service_that_never_gets_ready_times_out() {
    let mut t = Tree::new("health-sv-never");
    declared(&mut t, "fd", "exec sleep 1000\n", &[("notification-fd", "3")]);
    declared(&mut t, "sock", "exec sleep 1000\n", &[("notify-socket", "")]);
    let o = sv(&t, &["-w", "2", "start", "fd", "sock"]);
    assert_outcome(
        &o,
        2,
        "timeout: run: fd: (pid N) Ns, normally down\ntimeout: run: sock: (pid N) Ns, normally down\n",
        "",
    );
    assert_outcome(
        &sv(&t, &["-w", "1", "check", "fd"]),
        1,
        "timeout: run: fd: (pid N) Ns, normally down\n",
        "",
    );
    for name in ["fd", "sock"] {
        let o = sv(&t, &["-j", "status", name]);
        assert!(
            o.stdout.contains(r#""ready":false,"ready_since":null,"health":{"state":"starting""#),
            "{o:?}"
        );
    }
    // Debian's sv knows no readiness: its ./check passes at once.
    {
        let c = harness::theirs_required("sv");
        assert_outcome(
            &t.sv(&c, &["-w", "2", "check", "fd"]),
            0,
            "ok: run: fd: (pid N) Ns, normally down\n",
            "",
        );
    }
}

#[test]
fn without_a_mechanism_check_decides() {
    let mut t = Tree::new("health-sv-plain");
    t.service("plain", RUN);
    let dir = t.dir("plain");
    harness::script(dir.join("check"), "#!/bin/sh\ntest -e ready\n");
    t.start_running(&harness::ours("runsv"), "plain");
    let h = health::read(&dir).unwrap();
    assert_eq!(h.mechanism, health::Mechanism::None, "runsv writes the record for plain services too");
    assert_outcome(&sv(&t, &["-w", "1", "check", "plain"]), 1, "timeout: run: plain: (pid N) Ns\n", "");
    write(dir.join("ready"), "");
    assert_outcome(&sv(&t, &["-w", "5", "check", "plain"]), 0, "ok: run: plain: (pid N) Ns\n", "");
    let o = sv(&t, &["-j", "status", "plain"]);
    assert!(o.stdout.contains(r#""ready":null,"ready_since":null,"health":{"state":"run","#), "{}", o.stdout);
}

/// Waits for the health record to say `failed`.
fn wait_failed(dir: &Path) {
    wait_until(Duration::from_secs(20), "the policy to give up", || {
        health::read(dir).is_some_and(|h| h.state == HealthState::Failed)
    });
}

#[test]
fn crash_loop_history_and_the_failed_state() {
    let mut t = Tree::new("health-sv-loop");
    t.service("loop", CRASH);
    let dir = t.dir("loop");
    write(dir.join("restart-policy"), "give-up 3 60\n");
    // Never ready: each short run must not count as a successful start.
    harness::script(dir.join("check"), "#!/bin/sh\nexit 1\n");
    t.start(&harness::ours("runsv"), "loop");
    wait_failed(&dir);

    // Default status: runit's line, the same as Debian's sv prints.
    let o = sv(&t, &["status", "loop"]);
    assert_outcome(&o, 0, "down: loop: Ns, normally up\n", "");
    {
        let c = harness::theirs_required("sv");
        let theirs = t.sv(&c, &["status", "loop"]);
        assert_eq!((normalize(&theirs.stdout), theirs.code), (normalize(&o.stdout), o.code));
    }
    // -H: the status line, then the three deaths.
    let o = sv(&t, &["-H", "status", "loop"]);
    assert_eq!(o.code, Some(0), "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{o:?}");
    assert_eq!(normalize(lines[0]), "down: loop: Ns, normally up");
    for l in &lines[1..] {
        let rest = l.strip_prefix("died: loop: ").unwrap_or_else(|| panic!("{l:?}"));
        let (when, how) = rest.split_once(" after ").unwrap();
        assert_eq!(when.len(), "2026-11-26_16:54:49.12345".len(), "{l:?}");
        assert!(when.as_bytes()[10] == b'_' && how.ends_with("s, exit 1"), "{l:?}");
    }
    // -j: failed, and with -H the deaths.
    let o = sv(&t, &["-j", "status", "loop"]);
    assert!(o.stdout.contains(r#""health":{"state":"failed","pid":0,"#), "{}", o.stdout);
    assert!(!o.stdout.contains("deaths"), "{}", o.stdout);
    let o = sv(&t, &["-jH", "status", "loop"]);
    assert_eq!(o.stdout.matches(r#""how":"exit","value":1,"cause":"died""#).count(), 3, "{}", o.stdout);

    // check on a failed service fails at once (runit's would say ok: down):
    // with -w 600 only the give-up can end the wait before the harness's
    // deadline on sv (a wait that ran out would say `timeout:`).
    assert_outcome(&sv(&t, &["-w", "600", "check", "loop"]), 1, "fail: loop: restart policy gave up\n", "");
    // start clears the failure; the loop gives up again, which ends the wait.
    let starts = |d: &Path| read(d.join("starts")).lines().count();
    let before = starts(&dir);
    assert_outcome(&sv(&t, &["-w", "600", "start", "loop"]), 1, "fail: loop: restart policy gave up\n", "");
    assert_eq!(starts(&dir), before + 3, "three more tries");
    let deaths = wait_for(Duration::from_secs(5), || {
        let o = sv(&t, &["-H", "status", "loop"]);
        (o.stdout.lines().count() == 7).then_some(o)
    });
    assert!(deaths.is_some(), "six deaths in the history");
}
