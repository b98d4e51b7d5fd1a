//! The command-line surface of `runit-bench`: usage, listing, bad options.
//! (No scenario runs here: timings are never asserted in tests.)

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
        "wakeups", "crash", "boot",
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
