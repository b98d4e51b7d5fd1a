//! End-to-end tests of service health in our runsv (issue 12,
//! docs/health.md): readiness through `notification-fd` and
//! `NOTIFY_SOCKET`, a service that never becomes ready, crash loops under
//! each restart policy, bad declaration and policy files, and C `sv
//! status` still printing runit's lines for all of them. Every process is
//! started through `harness::Proc`.
#![allow(clippy::unwrap_used)]

use harness::*;
use runit_core::deaths::{self, Cause, How};
use runit_core::health::{self, Health, HealthState, Mechanism, Readiness};
use runit_core::status::State;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A service directory `name` with `run` = `body` and extra `files`.
fn service(s: &Scratch, name: &str, body: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = s.join(name);
    script(dir.join("run"), &format!("#!/bin/sh\n{body}\n"));
    for (f, text) in files {
        write(dir.join(f), text);
    }
    dir
}

/// Our runsv on `dir` (stderr kept), once it answers on supervise/ok.
fn runsv(dir: &Path) -> Proc {
    let p = Proc::spawn_logging(&mut cmd(ours("runsv"), [dir]), dir.with_extension("stderr"));
    wait_until(T, "runsv to be up", || supervised(dir));
    p
}

fn wait_health(dir: &Path, what: &str, f: impl Fn(&Health) -> bool) -> Health {
    wait_for(T, || health::read(dir).filter(|h| f(h)))
        .unwrap_or_else(|| panic!("{what}: supervise/health is {:?}", read(dir.join("supervise/health"))))
}

/// Start times (Unix seconds) that `./run` appended to `starts`.
fn starts(dir: &Path) -> Vec<f64> {
    read(dir.join("starts")).lines().filter_map(|l| l.trim().parse().ok()).collect()
}

fn wait_starts(dir: &Path, n: usize, timeout: Duration) -> Vec<f64> {
    wait_for(timeout, || Some(starts(dir)).filter(|v| v.len() >= n))
        .unwrap_or_else(|| panic!("{} starts wanted, got {:?}", n, starts(dir)))
}

fn gaps(v: &[f64]) -> Vec<f64> {
    v.windows(2).map(|w| w[1] - w[0]).collect()
}

// The gaps between starts come from the runs' own stamps: a run stamps
// after it begins, so the pause before it lies inside its gap, and load
// only widens a gap. Lower bounds on gaps are therefore safe; how long a
// pause may be at most is read from runsv's schedule (supervise/health's
// `until`) or bounded by the deadline on the awaited start, never from
// measured time.

/// A TAI64N stamp in seconds.
fn secs(t: &runit_core::tai::Tai64N) -> f64 {
    t.unix_seconds() as f64 + f64::from(t.nanos) / 1e9
}

/// The pause runsv scheduled in a backoff record (`until - since`).
fn scheduled(h: &Health) -> f64 {
    secs(&h.until.expect("a backoff record has until")) - secs(&h.since)
}

/// `./run` that records its start and fails at once.
const CRASH: &str = "date +%s.%N >> starts\nexit 1";

/// Runs C `sv status <dir>` (Debian's runit is required).
fn c_status(dir: &Path) -> String {
    let out = run(cmd(theirs_required("sv"), ["status"]).arg(dir), T);
    assert_eq!(out.code, Some(0), "{out:?}");
    out.stdout
}

/// Asserts that `line` is `<head><seconds>s<tail>\n`: runit's status line.
fn assert_runit_line(line: &str, head: &str, tail: &str) {
    let secs = line
        .strip_prefix(head)
        .and_then(|r| r.strip_suffix(&format!("s{tail}\n")))
        .unwrap_or_else(|| panic!("{line:?} is not {head:?}<n>s{tail:?}"));
    assert!(!secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()), "{line:?}");
}

/// Asserts the idle runsv makes no context switch for two seconds.
fn assert_idle(p: &Proc) {
    // runsv wakes once, a second after its last event, to trim its memory
    // (docs/runsv.md, "Memory"); after that, never.
    std::thread::sleep(Duration::from_millis(1500));
    let switches = || {
        let v = proc_status_field(p.pid(), "voluntary_ctxt_switches").unwrap();
        let n = proc_status_field(p.pid(), "nonvoluntary_ctxt_switches").unwrap();
        (v, n)
    };
    let before = switches();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(switches(), before, "an idle runsv never wakes up");
}

#[test]
fn notification_fd_ready_after_a_delay() {
    let s = Scratch::new("health-fd");
    let dir = service(&s, "svc", "sleep 1\necho >&3\nexec sleep 1000", &[("notification-fd", "3\n")]);
    let p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let h = wait_health(&dir, "starting", |h| h.pid == pid);
    assert_eq!((h.state, h.mechanism), (HealthState::Starting, Mechanism::NotificationFd(0)));
    let st = status_of(&dir, false).unwrap();
    assert_eq!(h.readiness(&st), Readiness::NotReady);
    let h = wait_health(&dir, "ready", |h| h.state == HealthState::Ready);
    assert_eq!(h.pid, pid);
    // Not ready before ./run's `sleep 1` (both stamps are runsv's; load
    // only delays the notification). How late it may come is bounded by
    // wait_health's deadline.
    let waited = secs(&h.since) - secs(&st.stamp);
    assert!(waited >= 0.9, "ready {waited} s after the start");
    assert_eq!(
        health::readiness(&dir, &status_of(&dir, false).unwrap()),
        Readiness::Ready { since: h.since }
    );
    {
        let out = c_status(&dir);
        assert_runit_line(&out, &format!("run: {}: (pid {pid}) ", dir.display()), "");
    }
    assert_idle(&p);
    // A restart starts over: the new ./run is not ready yet.
    control(&dir, "t");
    let new = wait_for(T, || status_of(&dir, false).filter(|s| s.pid != 0 && s.pid != pid)).unwrap().pid;
    let h = wait_health(&dir, "new run", |h| h.pid == new);
    assert!(matches!(h.state, HealthState::Starting | HealthState::Ready), "{h:?}");
    let died = deaths::read(&dir);
    assert_eq!(died.len(), 1);
    assert_eq!((died[0].how, died[0].cause), (How::Signal(libc::SIGTERM), Cause::Stopped));
}

#[test]
fn notify_socket_ready_after_a_delay_and_outsiders_are_ignored() {
    let s = Scratch::new("health-sock");
    // perl-base is Essential on Debian: a portable sd_notify.
    let body = r#"echo "$NOTIFY_SOCKET" > sock
sleep 2
perl -MSocket -e '($p = $ENV{NOTIFY_SOCKET}) =~ s/^@/\0/; socket($s, AF_UNIX, SOCK_DGRAM, 0) or die; send($s, "STATUS=serving\nREADY=1\nX_UNKNOWN=1", 0, pack_sockaddr_un($p)) // die "send: $!"'
exec sleep 1000"#;
    let dir = service(&s, "svc", body, &[("notify-socket", "")]);
    let p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let name = wait_for(T, || Some(read(dir.join("sock"))).filter(|n| n.ends_with('\n'))).unwrap();
    let name = name.trim_end();
    assert!(name.starts_with('@') && name.len() > 1, "abstract address: {name:?}");
    // Someone else (this test, alive, not of the service) claims readiness.
    {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::{SocketAddr, UnixDatagram};
        let addr = SocketAddr::from_abstract_name(&name.as_bytes()[1..]).unwrap();
        UnixDatagram::unbound().unwrap().send_to_addr(b"READY=1", &addr).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let h = health::read(&dir).unwrap();
    assert_eq!((h.state, h.pid, h.mechanism), (HealthState::Starting, pid, Mechanism::NotifySocket));
    let h = wait_health(&dir, "ready", |h| h.state == HealthState::Ready);
    assert_eq!((h.pid, h.status.as_deref()), (pid, Some("serving")));
    {
        let out = c_status(&dir);
        assert_runit_line(&out, &format!("run: {}: (pid {pid}) ", dir.display()), "");
    }
    assert_idle(&p);
    control(&dir, "d");
    let h = wait_health(&dir, "down", |h| h.state == HealthState::Down);
    assert_eq!((h.pid, h.status), (0, None));
}

#[test]
fn systemd_notify_from_a_run_script() {
    let tool =
        installed(&["/usr/bin/systemd-notify", "/bin/systemd-notify"], "systemd").display().to_string();
    let s = Scratch::new("health-systemd");
    let body = format!("sleep 1\n{tool} --ready --status='warm'\nexec sleep 1000");
    let dir = service(&s, "svc", &body, &[("notify-socket", "")]);
    let _p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let h = wait_health(&dir, "ready", |h| h.state == HealthState::Ready);
    assert_eq!((h.pid, h.status.as_deref()), (pid, Some("warm")));
}

#[test]
fn never_ready_stays_starting() {
    let s = Scratch::new("health-never");
    // One closes the descriptor without a newline, one just never writes.
    let a = service(&s, "closes", "exec 3>&-\nexec sleep 1000", &[("notification-fd", "3")]);
    let b = service(&s, "silent", "exec sleep 1000", &[("notify-socket", "")]);
    let (pa, _pb) = (runsv(&a), runsv(&b));
    let pids = [wait_running_pid(&a, T), wait_running_pid(&b, T)];
    std::thread::sleep(Duration::from_secs(2));
    for (dir, pid) in [(&a, pids[0]), (&b, pids[1])] {
        let h = health::read(dir).unwrap();
        assert_eq!((h.state, h.pid), (HealthState::Starting, pid), "{}", dir.display());
        assert_eq!(h.readiness(&status_of(dir, false).unwrap()), Readiness::NotReady);
        {
            let out = c_status(dir);
            assert_runit_line(&out, &format!("run: {}: (pid {pid}) ", dir.display()), "");
        }
    }
    assert_idle(&pa);
}

#[test]
fn plain_service_records_no_mechanism_and_keeps_runits_second() {
    let s = Scratch::new("health-plain");
    let dir = service(&s, "svc", CRASH, &[]);
    let _p = runsv(&dir);
    // Four starts within wait_starts's deadline: runit's throttle, no
    // backoff; and never sooner than its second.
    let v = wait_starts(&dir, 4, T);
    for g in gaps(&v) {
        assert!(g >= 0.9, "runit's throttle: {v:?}");
    }
    let h = health::read(&dir).unwrap();
    assert_eq!(h.mechanism, Mechanism::None);
    assert!(matches!(h.state, HealthState::Down | HealthState::Run), "{h:?}");
    let st = status_of(&dir, false).unwrap();
    assert!(matches!(health::readiness(&dir, &st), Readiness::Unknown), "sv falls back to ./check");
    let died = wait_for(T, || Some(deaths::read(&dir)).filter(|d| d.len() >= 3)).unwrap();
    assert!(died.iter().all(|d| d.how == How::Exit(1) && d.cause == Cause::Died), "{died:?}");
}

#[test]
fn backoff_doubles_between_starts() {
    let s = Scratch::new("health-backoff");
    let dir = service(&s, "svc", CRASH, &[("restart-policy", "# crash loop\nbackoff 1 4\n")]);
    let p = runsv(&dir);
    let h = wait_health(&dir, "backing off", |h| h.state == HealthState::Backoff);
    let until = h.until.unwrap();
    assert!((1..=2).contains(&(until.unix_seconds() - h.since.unix_seconds())), "{h:?}");
    {
        let out = c_status(&dir);
        // runit's line for "down, will be started": the throttle second's.
        assert_runit_line(&out, &format!("down: {}: ", dir.display()), ", normally up, want up");
    }
    let v = wait_starts(&dir, 5, Duration::from_secs(30));
    let g = gaps(&v);
    // At least 1, 2, 4, 4 s: the pauses double (lower bounds only; see
    // `gaps`) ...
    let least = [0.9, 1.9, 3.9, 3.9];
    for (gap, lo) in g.iter().zip(least) {
        assert!(gap >= &lo, "gaps {g:?} not at least {least:?}");
    }
    // ... and stop at the 4 s cap: after the fourth start every backoff
    // runsv schedules is 4 s (as its record says), not 8.
    let h = wait_health(&dir, "a capped backoff", |h| h.state == HealthState::Backoff);
    assert!((scheduled(&h) - 4.0).abs() < 0.01, "scheduled {} s: {h:?}", scheduled(&h));
    drop(p);
    let died = deaths::read(&dir);
    assert!(died.len() >= 4 && died.iter().all(|d| d.cause == Cause::Died), "{died:?}");
}

#[test]
fn sv_restart_cuts_a_long_backoff_short() {
    let s = Scratch::new("health-restart");
    let dir = service(&s, "svc", CRASH, &[("restart-policy", "backoff 60 600\n")]);
    let _p = runsv(&dir);
    let h = wait_health(&dir, "backing off", |h| h.state == HealthState::Backoff);
    assert!(h.until.unwrap().unix_seconds() - h.since.unix_seconds() >= 59, "{h:?}");
    // `sv up` would send nothing (want is up); `sv restart` sends tcu.
    // Its wait cannot succeed on a service that dies at once: no check of
    // its exit code.
    drop(run(cmd(theirs_required("sv"), ["-w", "1", "restart"]).arg(&dir), T));
    // Restarted at once: the second start comes within wait_starts's
    // deadline (T, 10 s), long before the 60 s backoff would end.
    wait_starts(&dir, 2, T);
}

#[test]
fn gives_up_after_n_deaths_and_u_starts_again() {
    let s = Scratch::new("health-giveup");
    let body = "date +%s.%N >> starts\nsleep 1000 &\necho $! > leftover\nexit 1";
    let dir = service(&s, "svc", body, &[("restart-policy", "give-up 3 30\n")]);
    let p = runsv(&dir);
    let h = wait_health(&dir, "failed", |h| h.state == HealthState::Failed);
    assert_eq!(h.pid, 0);
    let v = starts(&dir);
    assert_eq!(v.len(), 3, "{v:?}");
    for g in gaps(&v) {
        assert!(g >= 0.9, "runit's second between the tries: {v:?}");
    }
    let st = status_of(&dir, false).unwrap();
    assert_eq!((st.state, st.pid, st.want), (State::Down, 0, b'd'));
    assert_eq!(read(dir.join("supervise/stat")), "down\n");
    let last: i32 = read(dir.join("leftover")).trim().parse().unwrap();
    wait_until(T, "the last run's group swept", || !alive(last));
    {
        let out = c_status(&dir);
        // Down against its configuration, as after `sv down`.
        assert_runit_line(&out, &format!("down: {}: ", dir.display()), ", normally up");
    }
    let died = deaths::read(&dir);
    assert_eq!(died.len(), 3);
    assert!(died.iter().all(|d| d.how == How::Exit(1) && d.cause == Cause::Died), "{died:?}");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(starts(&dir).len(), 3, "stays down");
    assert_idle(&p);
    // `u` (here through C sv when present) clears the failure.
    assert_eq!(run(cmd(theirs_required("sv"), ["up"]).arg(&dir), T).code, Some(0));
    wait_starts(&dir, 4, T);
    wait_health(&dir, "failure cleared", |h| h.state != HealthState::Failed);
}

#[test]
fn backoff_then_give_up() {
    let s = Scratch::new("health-both");
    let dir = service(&s, "svc", CRASH, &[("restart-policy", "backoff 1 2\nstable 60\ngive-up 3 20\n")]);
    let _p = runsv(&dir);
    wait_health(&dir, "failed", |h| h.state == HealthState::Failed);
    let v = starts(&dir);
    let g = gaps(&v);
    assert_eq!(v.len(), 3, "{v:?}");
    // Backoff 1 then 2 s (lower bounds, see `gaps`), then the give-up.
    assert!(g[0] >= 0.9 && g[1] >= 1.9, "{g:?}");
}

#[test]
fn bad_policy_warns_and_restarts_as_runit() {
    let s = Scratch::new("health-badpolicy");
    let dir = service(&s, "svc", CRASH, &[("restart-policy", "backoff 1 60\nretry 3\n")]);
    let p = runsv(&dir);
    let v = wait_starts(&dir, 3, T);
    for g in gaps(&v) {
        assert!(g >= 0.9, "runit's throttle: {v:?}");
    }
    let warning =
        format!("runsv {}: warning: ignoring restart-policy: line 2: unknown setting retry\n", dir.display());
    assert_eq!(p.stderr(), warning);
    drop(p);
    for (i, (file, text, why)) in [
        ("restart-policy", "", "ignoring restart-policy: no setting"),
        (
            "restart-policy",
            "backoff 10 5\n",
            "ignoring restart-policy: line 1: backoff: the cap is below the initial delay",
        ),
        (
            "restart-policy",
            "give-up 3\n",
            "ignoring restart-policy: line 1: usage: give-up <deaths> <seconds>",
        ),
        ("restart-policy", "stable 9\n", "ignoring restart-policy: stable needs backoff"),
        ("notification-fd", "1\n", "ignoring notification-fd: not a descriptor number of 3 or more"),
        ("notification-fd", "three", "ignoring notification-fd: not a descriptor number of 3 or more"),
    ]
    .into_iter()
    .enumerate()
    {
        let dir = service(&s, &format!("bad{i}"), "exec sleep 1000", &[(file, text)]);
        let p = runsv(&dir);
        let pid = wait_running_pid(&dir, T);
        let h = wait_health(&dir, "running", |h| h.pid == pid);
        assert_eq!((h.state, h.mechanism), (HealthState::Run, Mechanism::None), "{file}: {text:?}");
        assert_eq!(p.stderr(), format!("runsv {}: warning: {why}\n", dir.display()));
    }
}

#[test]
fn both_declarations_prefer_notification_fd() {
    let s = Scratch::new("health-both-decl");
    let files = [("notification-fd", "4\n"), ("notify-socket", "")];
    let dir = service(&s, "svc", "echo >&4\nexec sleep 1000", &files);
    let p = runsv(&dir);
    let h = wait_health(&dir, "ready", |h| h.state == HealthState::Ready);
    assert_eq!(h.mechanism, Mechanism::NotificationFd(0));
    let warning = "ignoring notify-socket: notification-fd takes precedence";
    assert_eq!(p.stderr(), format!("runsv {}: warning: {warning}\n", dir.display()));
    // A bad notification-fd leaves the socket in charge.
    let dir = service(&s, "svc2", "exec sleep 1000", &[("notification-fd", "x\n"), ("notify-socket", "")]);
    let _p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let h = wait_health(&dir, "starting", |h| h.pid == pid);
    assert_eq!(h.mechanism, Mechanism::NotifySocket);
}
