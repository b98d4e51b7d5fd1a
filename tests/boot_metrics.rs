//! `boot status --prometheus`: the Prometheus text format for
//! node_exporter's textfile collector, checked with `promtool check
//! metrics` (Debian's `prometheus` package; `tests/run` installs it), on a
//! clean box, a running worker, after a crash and restart, with the worker
//! wanted down; and the example service of docs/boot.md that refreshes the
//! `.prom` file atomically.
#![allow(clippy::unwrap_used)]

#[path = "boot_support/mod.rs"]
mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::BootBox;

/// Runs `promtool check metrics` on `text`; panics with its report unless
/// it passes. A missing promtool is a failure: tests/run installs it.
fn promtool(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("promtool (Debian package prometheus, installed by tests/run): {e}"));
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "promtool check metrics failed: {}{}\n--- input ---\n{text}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The value of the sample `name{labels}` (exact label text).
fn sample(text: &str, series: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')).map(str::to_string))
}

fn metrics(b: &BootBox) -> String {
    let text = b.ok(&["status", "--prometheus"]).stdout;
    promtool(&text);
    text
}

const W: &str = "{service=\"worker\",component=\"default\"}";

#[test]
fn status_prometheus_passes_promtool_and_tracks_the_worker() {
    let mut b = BootBox::new("boot-metrics", "sources = [\"env\"]");
    let clean = metrics(&b);
    assert_eq!(sample(&clean, "boot_applied").as_deref(), Some("0"), "{clean}");
    assert!(!clean.contains("boot_service_"), "{clean}");

    b.start_runsvdir();
    let tags = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    assert_eq!(b.boot_env(&["up"], &tags).code, Some(0));
    let pid = b.pid("worker");
    let m = metrics(&b);
    assert_eq!(sample(&m, "boot_applied").as_deref(), Some("1"), "{m}");
    assert!(
        m.lines().any(|l| l.starts_with("boot_info{generation=\"g000001\",mode=\"production\",")
            && l.contains("service=\"worker\"")
            && l.ends_with("} 1")),
        "{m}"
    );
    assert_eq!(sample(&m, "boot_generation").as_deref(), Some("1"));
    for (family, want) in [
        ("boot_service_supervised", "1"),
        ("boot_service_up", "1"),
        ("boot_service_ready", "1"),
        ("boot_service_want_up", "1"),
        ("boot_service_restarts", "0"),
        ("boot_service_log_up", "1"),
    ] {
        assert_eq!(sample(&m, &format!("{family}{W}")).as_deref(), Some(want), "{family}: {m}");
    }
    let secs: u64 = sample(&m, &format!("boot_service_state_seconds{W}")).unwrap().parse().unwrap();
    assert!(secs < 3600, "{secs}");
    assert!(!m.contains("boot_service_last_restart_timestamp_seconds{"), "{m}");
    assert!(m.contains("# TYPE boot_service_up gauge\n") && m.contains("# HELP boot_service_restarts "));

    // A crash: runsv restarts the worker and records the death.
    // SAFETY: signalling the worker this test started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    harness::wait_until(Duration::from_secs(20), "the worker to be restarted", || {
        harness::status_of(&b.svc("worker"), false).is_some_and(|s| s.pid != 0 && s.pid != pid)
    });
    // runsv records the death just after the new status: poll for it.
    let mut m = String::new();
    harness::wait_until(Duration::from_secs(20), "the death in the metrics", || {
        m = metrics(&b);
        sample(&m, &format!("boot_service_restarts{W}")).as_deref() == Some("1")
    });
    let at: i64 =
        sample(&m, &format!("boot_service_last_restart_timestamp_seconds{W}")).unwrap().parse().unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    assert!((now - 3600..=now + 60).contains(&at), "{at} vs {now}");

    // Wanted down: down and not ready, want 0.
    harness::control(&b.svc("worker"), "d");
    harness::wait_until(Duration::from_secs(20), "the worker to stop", || {
        harness::status_of(&b.svc("worker"), false)
            .is_some_and(|s| s.pid == 0 && s.want != runit_core::status::WANT_UP)
    });
    let m = metrics(&b);
    for (family, want) in
        [("boot_service_up", "0"), ("boot_service_ready", "0"), ("boot_service_want_up", "0")]
    {
        assert_eq!(sample(&m, &format!("{family}{W}")).as_deref(), Some(want), "{family}: {m}");
    }
    harness::control(&b.svc("worker"), "u");

    // The example service of docs/boot.md, run as written, with its
    // directory pointed into the scratch dir.
    let textfile = b.scratch.join("textfile");
    std::fs::create_dir_all(&textfile).unwrap();
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/boot-metrics/run");
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/boot.md")).unwrap();
    let line = std::fs::read_to_string(&run).unwrap().lines().last().unwrap().to_string();
    assert!(doc.contains(&line), "docs/boot.md shows the run line of {}", run.display());
    let mut c = Command::new(&run);
    c.env("BOOT_METRICS_DIR", &textfile)
        .env("BOOT_ROOT", &b.root)
        .env("PATH", format!("{}:/usr/bin:/bin", harness::ours("boot").parent().unwrap().display()));
    let mut p = harness::Proc::spawn_logging(&mut c, b.scratch.join("metrics.stderr"));
    let prom = textfile.join("boot.prom");
    harness::wait_until(Duration::from_secs(30), "boot.prom", || prom.exists());
    let text = harness::read(&prom);
    promtool(&text);
    assert_eq!(sample(&text, "boot_applied").as_deref(), Some("1"), "{text}");
    assert!(p.try_wait().is_none(), "the refresher exited: {}", p.stderr());
    let names: Vec<String> = std::fs::read_dir(&textfile)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| n == "boot.prom" || n == ".boot.prom.tmp"), "{names:?}");
    drop(p);
    b.ok(&["down"]);
    b.assert_clean();
}
