//! End-to-end tests of `boot` with the real stack: our runsvdir, runsv,
//! chpst, svlogd and sv, Debian's PostgreSQL and Redis, the sample web and
//! worker. Each test has its own root, catalogue copy and ports, so they run
//! in parallel; whatever a failed test leaves is killed by its tag guard.
#![allow(clippy::unwrap_used)]

#[path = "boot_support/mod.rs"]
mod support;

use harness::{cmd, run, wait_until};
use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};
use support::{BootBox, cmdline, environ, event_time};

/// The review stack needs root, PostgreSQL (any major version: the
/// catalogue finds the newest at render time) and Redis; tests/run installs
/// them, so their absence is a failure, not a skip.
fn need_databases() {
    let pg = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().any(|e| e.path().join("bin/postgres").exists()))
        .unwrap_or(false);
    assert!(
        pg && std::path::Path::new("/usr/bin/redis-server").exists() && harness::is_root(),
        "needs root, Debian's postgresql and redis-server (tests/run installs them)"
    );
}

fn psql(b: &BootBox, sql: &str) -> String {
    let port = b.pg.to_string();
    let o = run(
        &mut cmd(
            "/usr/bin/psql",
            ["-X", "-A", "-t", "-h", "127.0.0.1", "-p", &port, "-U", "postgres", "-c", sql],
        ),
        Duration::from_secs(30),
    );
    assert_eq!(o.code, Some(0), "psql {sql}: {}", o.stderr);
    o.stdout.trim().to_string()
}

fn pids(b: &BootBox, names: &[&str]) -> BTreeMap<String, u32> {
    names.iter().map(|n| (n.to_string(), b.pid(n))).collect()
}

fn set_targets(b: &BootBox) -> BTreeMap<String, String> {
    fs::read_dir(b.current())
        .unwrap()
        .flatten()
        .map(|e| {
            let t = fs::read_link(e.path()).unwrap();
            (e.file_name().to_string_lossy().into_owned(), t.display().to_string())
        })
        .collect()
}

const STACK: [&str; 4] = ["postgres", "redis", "web", "worker"];

/// When `dep` said it was ready (runsv's `supervise/health`), in Unix
/// nanoseconds; asserts the mechanism the catalogue declares.
fn ready_at(b: &BootBox, dep: &str) -> u128 {
    use runit_core::health::{self, HealthState, Mechanism};
    let dir = b.svc(dep);
    let h = health::read(&dir).unwrap_or_else(|| panic!("{dep}: no supervise/health"));
    let want = if dep == "web" { Mechanism::NotificationFd(0) } else { Mechanism::NotifySocket };
    assert_eq!((h.state, h.mechanism), (HealthState::Ready, want), "{dep}: {h:?}");
    let st = harness::status_of(&dir, false).unwrap();
    assert_eq!(h.pid, st.pid, "{dep}: the record is about the running process");
    h.since.unix_seconds() as u128 * 1_000_000_000 + u128::from(h.since.nanos)
}

/// `name`'s program started (its `event=start` line) only after each of
/// `deps` had reported ready: readiness, not a passing `./check`, ordered
/// the start.
fn assert_started_after_ready(b: &BootBox, name: &str, deps: &[&str]) {
    let started = harness::wait_for(Duration::from_secs(10), || event_time(&b.log(name), "start"))
        .unwrap_or_else(|| panic!("{name} never started: {}", b.log(name)));
    for dep in deps {
        let ready = ready_at(b, dep);
        assert!(started > ready, "{name} started at {started}, before {dep} was ready at {ready}");
    }
}

/// Review mode, the README's way (static tags, `--spawn-runsvdir`): the
/// whole stack comes up, web reads both databases; a re-run changes
/// nothing; a config-only change restarts only its service; down leaves a
/// first-boot box; up again renders the same hashes and keeps the data.
#[test]
fn review_stack_up_rerun_config_change_down_up() {
    need_databases();
    let b = BootBox::new("boot-review", "");
    let t = Instant::now();
    b.ok(&["up", "--spawn-runsvdir"]);
    eprintln!("review stack ready in {:?}", t.elapsed());
    for s in STACK {
        assert!(harness::supervised(&b.svc(s)), "{s} not supervised");
        assert!(harness::status_of(&b.svc(s), true).is_some_and(|st| st.pid != 0), "{s}: no logger");
    }
    let (code, page) = b.http("/");
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("redis: ok hits=1"), "{page}");
    assert!(page.contains("postgres: ok server_version_num=15"), "{page}");
    assert!(page.contains("BOOT_MODE=review\n") && page.contains("APP_TEAM=demo\n"), "{page}");
    // The worker waited for Redis's readiness before starting (run's
    // prologue: sv check), and web for PostgreSQL's and Redis's.
    let wlog = b.log("worker");
    let before = &wlog[..wlog.find("event=start").expect("worker started")];
    let last = before.lines().rfind(|l| l.contains("/current/redis"));
    assert!(last.is_some_and(|l| l.contains("ok: run:")), "worker started before redis was ready: {wlog}");
    assert_started_after_ready(&b, "worker", &["redis"]);
    assert_started_after_ready(&b, "web", &["postgres", "redis"]);
    ready_at(&b, "web");

    // Idempotent: same pids, same files, no new set.
    let before = pids(&b, &STACK);
    let files = b.files();
    let t = Instant::now();
    let again = b.ok(&["up", "--spawn-runsvdir"]);
    eprintln!("no-op re-run in {:?}", t.elapsed());
    assert!(again.stdout.starts_with("no changes"), "{}", again.stdout);
    assert_eq!(pids(&b, &STACK), before);
    assert_eq!(b.files(), files);
    assert_eq!(fs::read_dir(b.root.join("var/lib/boot/sets")).unwrap().count(), 1);

    // Config-only change: exactly the worker restarts.
    fs::create_dir_all(b.catalogue.join("env/review/worker")).unwrap();
    fs::write(b.catalogue.join("env/review/worker/LOG_LEVEL"), "debug\n").unwrap();
    let plan = b.ok(&["plan"]);
    assert!(plan.stdout.contains("\nchanged: worker\n"), "{}", plan.stdout);
    assert!(plan.stdout.contains("\nunchanged: postgres redis web\n"), "{}", plan.stdout);
    b.ok(&["up", "--spawn-runsvdir"]);
    let after = pids(&b, &STACK);
    assert_ne!(after["worker"], before["worker"]);
    for s in ["postgres", "redis", "web"] {
        assert_eq!(after[s], before[s], "{s} restarted");
    }
    assert_eq!(environ(after["worker"]).get("LOG_LEVEL").map(Vec::as_slice), Some(&b"debug"[..]));
    let hashes = set_targets(&b);

    psql(&b, "create table kept (x int); insert into kept values (42)");
    let down = b.ok(&["down"]);
    assert!(down.stdout.contains("stopped: worker web redis postgres"), "{}", down.stdout);
    b.assert_clean();
    assert!(harness::tagged_pids(&b.tag).is_empty(), "runsvdir or a service survived down");
    assert!(b.root.join("var/lib/boot/data/postgres/PG_VERSION").exists(), "data kept");
    assert_eq!(b.ok(&["down"]).stdout, "clean\n");

    // Up after down: like a new instance, same render, data still there.
    b.ok(&["up", "--spawn-runsvdir"]);
    assert_eq!(set_targets(&b), hashes);
    assert_eq!(psql(&b, "select x from kept"), "42");
    assert_eq!(b.http("/health").0, 200);
    b.ok(&["down", "--purge"]);
    b.assert_clean();
    assert!(!b.root.join("var/lib/boot").exists(), "purge leaves nothing");
    assert!(!b.root.join("var/log/boot").exists(), "purge removes logs");
}

/// Production mode runs exactly the tagged service and component, with the
/// env layers in order; a live tag change is refused without the flag and,
/// with it, stops the old service before the new one starts.
#[test]
fn production_one_component_then_live_service_change() {
    let mut b = BootBox::new("boot-prod", "sources = [\"env\"]");
    b.start_runsvdir();
    let worker_tags = [
        ("BOOT_TAG_Mode", "production"),
        ("BOOT_TAG_Service", "worker"),
        ("BOOT_TAG_Component", "critical"),
        ("BOOT_TAG_Team", "ops"),
    ];
    let up = b.boot_env(&["up"], &worker_tags);
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    let entries: Vec<String> = fs::read_dir(b.current())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries, ["worker"]);
    assert!(!b.root.join("var/lib/boot/data").exists(), "no database data in production");
    let pid = b.pid("worker");
    assert!(cmdline(pid).contains(&"critical".to_string()), "{:?}", cmdline(pid));
    let env = environ(pid);
    let get = |k: &str| env.get(k).map(|v| String::from_utf8_lossy(v).into_owned());
    assert_eq!(get("LOG_LEVEL").as_deref(), Some("warn"), "production/worker overrides common");
    assert_eq!(get("WORKER_CONCURRENCY").as_deref(), Some("8"), "component layer");
    assert_eq!(get("APP_GREETING").as_deref(), Some("production"));
    assert_eq!(get("APP_NAME").as_deref(), Some("sample"), "common layer");
    assert_eq!(get("BOOT_MODE").as_deref(), Some("production"));
    assert_eq!(get("APP_TEAM").as_deref(), Some("ops"));
    let json = b.ok(&["status", "--json"]).stdout;
    assert!(
        json.contains("\"mode\":\"production\"") && json.contains("\"component\":\"critical\""),
        "{json}"
    );
    assert!(json.contains("\"main\":{\"pid\":"), "{json}");
    let state = harness::read(b.root.join("var/lib/boot/state.json"));
    assert!(state.contains("\"source\": \"env\""), "provenance recorded: {state}");

    // A live change of service: refused without the flag, nothing changes.
    let web_tags = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "web")];
    let tree = b.tree();
    let refused = b.boot_env(&["up"], &web_tags);
    assert_eq!(refused.code, Some(5), "{}", refused.stderr);
    assert!(refused.stderr.contains("--allow-service-change"), "{}", refused.stderr);
    assert_eq!(b.tree(), tree);
    assert_eq!(b.pid("worker"), pid);
    let mode = b.boot_env(&["up"], &[("BOOT_TAG_Mode", "staging"), ("BOOT_TAG_Service", "worker")]);
    assert_eq!(mode.code, Some(5), "{}", mode.stderr);

    let old_dir = fs::canonicalize(b.svc("worker")).unwrap();
    let changed = b.boot_env(&["up", "--allow-service-change"], &web_tags);
    assert_eq!(changed.code, Some(0), "{}", changed.stderr);
    assert_eq!(b.http("/health").0, 200);
    let stop = event_time(&harness::read(b.root.join("var/log/boot/worker/current")), "stop")
        .expect("worker drained");
    let start = event_time(&b.log("web"), "start").expect("web started");
    assert!(stop <= start, "worker stopped at {stop}, web started at {start}: they overlapped");
    assert!(!harness::alive(pid as i32), "old worker still runs");
    assert!(!old_dir.exists(), "old service dir not collected");
    let sup = fs::read_dir(b.root.join("run/boot/supervise")).unwrap().flatten().count();
    assert_eq!(sup, 2, "only web's supervise dirs are left");

    b.ok(&["down"]);
    b.assert_clean();
}

/// `down` stops gracefully (the worker drains, finish sees exit 0) and a
/// service that ignores TERM (with a child in its process group) is killed
/// after its stop timeout.
#[test]
fn down_escalates_a_term_ignoring_service_to_kill() {
    let b = BootBox::stop_test("boot-stop", 1000);
    let stubborn = b.pid("stubborn");
    wait_until(Duration::from_secs(5), "stubborn's child", || {
        fs::read_to_string("/proc/self/stat").is_ok() && !child_sleepers(stubborn).is_empty()
    });
    let t = Instant::now();
    let down = b.ok(&["down"]);
    assert!(down.stdout.contains("killed: stubborn\n"), "{}", down.stdout);
    // KILL only after the 2 s stop timeout: `down` sent the TERM after `t`
    // and the KILL before it returned, so a correct boot takes at least
    // 2 s whatever the load (slowness only adds). No event of the service
    // can witness a wait it spends doing nothing; how long `down` may take
    // is bounded by the harness's deadline, not asserted.
    assert!(t.elapsed() >= Duration::from_secs(2), "KILL before the stop timeout: {:?}", t.elapsed());
    let wlog = b.log("worker");
    assert!(wlog.contains("event=draining") && wlog.contains("event=stop"), "{wlog}");
    assert!(wlog.contains("./run exited: code 0 status 0"), "{wlog}");
    support::assert_term_then_kill(&b.log("stubborn"));
    assert!(!harness::alive(stubborn as i32), "stubborn survived down");
    b.assert_clean();
}

/// A test that fails before `boot down` still leaves nothing running, not
/// even the databases: redis-server and postgres rewrite their process
/// titles over their environment, so the test's tag cannot be read back
/// from them; the box's guard finds them by their directories.
#[test]
fn a_dropped_review_box_leaves_no_service_behind() {
    need_databases();
    let b = BootBox::new("boot-dropped", "");
    b.ok(&["up", "--spawn-runsvdir"]);
    let pids: Vec<u32> = STACK.iter().map(|s| b.pid(s)).collect();
    let root = b.root.clone();
    drop(b);
    for pid in pids {
        wait_until(Duration::from_secs(10), "the service to be gone", || !harness::alive(pid as i32));
    }
    assert!(!root.exists(), "the box's scratch tree is left");
}

/// Pids of `sleep 1000` processes in the process group of `leader`.
fn child_sleepers(leader: u32) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
        let pgrp = stat.rsplit_once(')').and_then(|(_, r)| r.split_whitespace().nth(2)?.parse::<u32>().ok());
        if pgrp == Some(leader) && cmdline(pid as u32).iter().any(|a| a == "1000") {
            out.push(pid);
        }
    }
    out
}
