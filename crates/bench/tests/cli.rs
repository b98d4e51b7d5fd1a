//! The command-line surface of `runit-bench`: usage, listing, bad options.
//! (Timings are never asserted in tests; one run is started only to be
//! interrupted.)

use std::process::Command;

fn bench(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_runit-bench")).args(args).output().expect("run runit-bench")
}

#[test]
fn help_prints_usage_and_succeeds() {
    let out = bench(&["--help"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("usage: runit-bench [--quick]"), "{text}");
    for opt in ["--quick", "--only", "--reps", "--ours", "--no-build", "--runit", "--no-s6", "--list"] {
        assert!(text.contains(opt), "usage lacks {opt}");
    }
}

#[test]
fn list_names_every_scenario() {
    let out = bench(&["--list"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for key in [
        "pss", "up", "fresh", "up1000", "link", "respawn", "status", "restart", "svlogd", "lost", "chpst",
        "term", "wakeups", "crash", "crowd", "boot",
    ] {
        assert!(text.lines().any(|l| l.split_whitespace().next() == Some(key)), "{key} missing:\n{text}");
    }
}

#[test]
fn bad_option_is_a_usage_error() {
    let out = bench(&["--bogus"]);
    assert_eq!(out.status.code(), Some(100));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("runit-bench: unknown option: --bogus\nusage: runit-bench"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn missing_value_and_unknown_scenario_are_usage_errors() {
    let out = bench(&["--only"]);
    assert_eq!(out.status.code(), Some(100));
    assert!(String::from_utf8_lossy(&out.stderr).contains("option --only needs a value"));
    let out = bench(&["--only", "nosuch", "--no-build"]);
    assert_eq!(out.status.code(), Some(100));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown scenario: nosuch"));
    let out = bench(&["--reps", "many"]);
    assert_eq!(out.status.code(), Some(100));
}

#[test]
fn sigint_stops_a_run_through_its_clean_up() {
    // SIGINT is caught (runit_core::selfpipe): the run unwinds, prints what
    // it has and exits 130, instead of dying by the signal with its process
    // groups left behind.
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = Command::new(env!("CARGO_BIN_EXE_runit-bench"))
        .args(["--quick", "--no-build", "--only", "wakeups"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("run runit-bench");
    let pid = i32::try_from(child.id()).expect("pid");
    // Kills the group if the test fails before the child is reaped (while
    // unreaped, its pid and so the group id cannot be anyone else's).
    struct Group {
        pgid: i32,
        reaped: bool,
    }
    impl Drop for Group {
        fn drop(&mut self) {
            if !self.reaped {
                // SAFETY: signalling the process group this test created.
                unsafe { libc::kill(-self.pgid, libc::SIGKILL) };
            }
        }
    }
    let mut group = Group { pgid: pid, reaped: false };
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l.starts_with("[wakeups]")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => seen.push(line),
            Err(e) => panic!("no scenario started ({e}); stderr: {seen:?}"),
        }
    }
    // SAFETY: signalling our own, unreaped child.
    unsafe { libc::kill(pid, libc::SIGINT) };
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            group.reaped = true;
            break s;
        }
        assert!(Instant::now() < deadline, "runit-bench did not stop after SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    seen.extend(rx.try_iter());
    assert_eq!(status.signal(), None, "killed by the signal: not caught");
    assert_eq!(status.code(), Some(130), "stderr: {seen:?}");
    assert!(seen.iter().any(|l| l == "runit-bench: interrupted"), "stderr: {seen:?}");
}
