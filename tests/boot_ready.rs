//! Readiness ordering in review mode (issue 12): a service declaring
//! `[ready]` is rendered with runsv's `notification-fd` or `notify-socket`,
//! its dependants' run scripts wait for its notification (through `sv
//! check`, without a loop of their own), and `boot up` waits for it too;
//! one that never reports ready fails `up`, which rolls back. No
//! databases needed: the services are shell one-liners.
#![allow(clippy::unwrap_used)]

#[path = "boot_support/mod.rs"]
mod support;

use runit_core::health::{self, HealthState, Mechanism};
use std::fs;
use support::{BootBox, event_time};

/// A dependency that is ready 2 s after it starts, through `fd:3`.
const SLOW_FD: &str = r#"schema = 1
name = "slowfd"
kind = "dependency"
modes = ["review"]
[process]
command = ["/bin/sh", "-c", "sleep 2; echo >&3; exec sleep 1000"]
[ready]
notify = "fd:3"
timeout_s = 20
# Passes at once: if anything asked it instead of the notification, the
# dependant would start too early.
[check]
command = ["/bin/true"]
"#;

/// A dependency that sends READY=1 on $NOTIFY_SOCKET 2 s after it starts
/// (perl, Essential on Debian, as a portable sd_notify).
const SLOW_SOCKET: &str = r#"schema = 1
name = "slowsock"
kind = "dependency"
modes = ["review"]
[process]
command = ["/bin/sh", "-c", '''sleep 2; perl -MSocket -e '($p = $ARGV[0]) =~ s/^@/\0/; socket($s, AF_UNIX, SOCK_DGRAM, 0) or die; send($s, "READY=1", 0, pack_sockaddr_un($p)) // die' "$NOTIFY_SOCKET"; exec sleep 1000''']
[ready]
notify = "systemd"
timeout_s = 20
[check]
command = ["/bin/true"]
"#;

/// The dependant: logs when its program starts.
const APP: &str = r#"schema = 1
name = "app"
kind = "app"
modes = ["review"]
[process]
command = ["/bin/sh", "-c", "echo event=start t=$(date +%s%N); exec sleep 1000"]
[dependencies]
review = ["slowfd", "slowsock"]
"#;

/// A box whose catalogue holds only `services` (name, manifest).
fn catalogue_box(name: &str, services: &[(&str, &str)]) -> BootBox {
    let mut b = BootBox::new(name, "");
    for s in ["web", "worker", "postgres", "redis"] {
        fs::remove_dir_all(b.catalogue.join(s)).unwrap();
    }
    for (svc, manifest) in services {
        fs::create_dir_all(b.catalogue.join(svc)).unwrap();
        fs::write(b.catalogue.join(svc).join("service.toml"), manifest).unwrap();
    }
    b.start_runsvdir();
    b
}

/// When `name` reported ready (Unix nanoseconds), checking its mechanism.
fn ready_at(b: &BootBox, name: &str, mechanism: Mechanism) -> u128 {
    let h = health::read(&b.svc(name)).unwrap_or_else(|| panic!("{name}: no supervise/health"));
    assert_eq!((h.state, h.mechanism), (HealthState::Ready, mechanism), "{name}: {h:?}");
    h.since.unix_seconds() as u128 * 1_000_000_000 + u128::from(h.since.nanos)
}

#[test]
fn dependants_start_once_their_dependencies_are_ready() {
    let b = catalogue_box("boot-ready", &[("slowfd", SLOW_FD), ("slowsock", SLOW_SOCKET), ("app", APP)]);
    let up = b.ok(&["up"]);
    assert!(up.stdout.contains("added: slowfd slowsock app\n"), "{}", up.stdout);
    // The declarations reach runsv.
    assert_eq!(harness::read(b.svc("slowfd").join("notification-fd")), "3\n");
    assert!(b.svc("slowsock").join("notify-socket").exists());
    assert!(!b.svc("app").join("notification-fd").exists() && !b.svc("app").join("notify-socket").exists());
    // `up` returned with both dependencies ready, the app started after.
    let fd = ready_at(&b, "slowfd", Mechanism::NotificationFd(0));
    let sock = ready_at(&b, "slowsock", Mechanism::NotifySocket);
    let started =
        harness::wait_for(std::time::Duration::from_secs(10), || event_time(&b.log("app"), "start"))
            .unwrap_or_else(|| panic!("app: {}", b.log("app")));
    assert!(started > fd && started > sock, "app started at {started}, deps ready at {fd} and {sock}");
    // The app's run script waits through sv (event-driven), in one line.
    let run = harness::read(b.svc("app").join("run"));
    let wait: Vec<&str> = run.lines().filter(|l| l.contains("'check'")).collect();
    assert_eq!(wait.len(), 1, "{run}");
    assert!(wait[0].contains("'-w' '20' 'check'") && wait[0].ends_with(" || exit 111"), "{run}");
    let prologue = &run[..run.rfind("\nexec ").unwrap()];
    for word in ["while", "until", "sleep"] {
        assert!(!prologue.contains(word), "no polling loop in {run}");
    }
    let json = b.ok(&["status", "--json"]).stdout;
    assert_eq!(json.matches(r#""health":"ready""#).count(), 2, "{json}");
    assert_eq!(json.matches(r#""health":"run""#).count(), 1, "app declares no mechanism: {json}");
    let applog = b.log("app");
    assert!(applog.contains("/current/slowfd: (pid "), "sv's ok line in the log: {applog}");
    b.ok(&["down"]);
    b.assert_clean();
}

#[test]
fn a_service_that_never_reports_ready_fails_up_and_rolls_back() {
    let never = SLOW_FD.replace("slowfd", "never").replace("sleep 2; echo >&3; ", "").replace("20", "2");
    let b = catalogue_box(
        "boot-never",
        &[("never", &never), ("app", &APP.replace(", \"slowsock\"", "").replace("slowfd", "never"))],
    );
    let up = b.boot(&["up"]);
    assert_eq!(up.code, Some(6), "{up:?}");
    assert!(up.stderr.contains("never is not ready after 2 s: it did not report ready"), "{}", up.stderr);
    assert!(up.stderr.contains("rolled back to a clean box"), "{}", up.stderr);
    assert_eq!(b.ok(&["status"]).stdout, "clean\n");
    assert!(b.processes_inside().is_empty(), "{:?}", b.processes_inside());
    b.ok(&["down"]);
    b.assert_clean();
}
