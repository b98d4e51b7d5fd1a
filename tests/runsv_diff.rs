//! Differential tests: the same scenario under Debian's C runsv and ours,
//! driven by Debian's C `sv`, comparing what an operator sees: `sv`'s output
//! and exit codes, the decoded status record, `stat`, `pid`, `./finish`'s
//! arguments and the log. Pids, seconds and directory names are normalised.
//! Fails with a hint when Debian's runit is not installed.
#![allow(clippy::unwrap_used)]

use harness::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);
/// Long enough for runit's one-second restart throttle to pass, so that
/// every snapshot is taken in a settled state.
const SETTLE: Duration = Duration::from_millis(1200);

/// Replaces runs of digits by `N` (pids, seconds) and `dir` by `DIR`.
fn normalise(text: &str, dir: &Path) -> String {
    let text = text.replace(&dir.display().to_string(), "DIR");
    let mut out = String::new();
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('N');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

/// What an observer sees of a service directory, pids abstracted.
fn snapshot(dir: &Path) -> String {
    let mut out = String::new();
    for (name, log) in [("main", false), ("log", true)] {
        let base = if log { dir.join("log/supervise") } else { dir.join("supervise") };
        let Some(st) = status_of(dir, log) else { continue };
        let pid_file = read(base.join("pid"));
        let pid_ok = pid_file == if st.pid == 0 { String::new() } else { format!("{}\n", st.pid) };
        out.push_str(&format!(
            "{name}: state={:?} want={} paused={} term={} pid={} pidfile_matches={} stat={:?}\n",
            st.state,
            st.want as char,
            st.paused,
            st.got_term,
            if st.pid == 0 { "0" } else { "N" },
            pid_ok,
            read(base.join("stat")),
        ));
    }
    out
}

fn sv(sv: &Path, args: &[&str], dir: &Path) -> String {
    let mut c = cmd(sv, args);
    c.arg(dir);
    let o = run(&mut c, T);
    let mut stdout = normalise(&o.stdout, dir);
    if args.contains(&"term") {
        // `sv -v term` is satisfied by ./finish running (a pid and a new
        // status) as by `down`; which it sees first depends only on how
        // fast ./finish runs, i.e. on the machine's load, with either runsv.
        stdout = stdout.replace("ok: finish: DIR: (pid N) Ns,", "ok: down: DIR: Ns,");
    }
    format!("sv {args:?} -> {:?} {:?} {:?}\n", o.code, stdout, normalise(&o.stderr, dir))
}

/// Builds the service, runs `runsv` on it and drives it with C `sv`
/// through every command; returns the transcript.
fn scenario(name: &str, runsv: PathBuf, c_sv: &Path, with_log: bool) -> String {
    let s = Scratch::new(name);
    let dir = s.join("svc");
    script(dir.join("run"), "#!/bin/sh\necho started\nexec sleep 1000\n");
    script(dir.join("finish"), "#!/bin/sh\necho \"$@\" >> finish.log\n");
    if with_log {
        script(dir.join("log/run"), "#!/bin/sh\nexec cat >> out\n");
    }
    let mut p = Proc::spawn_logging(&mut cmd(&runsv, [&dir]), s.join("stderr"));
    wait_until(T, "runsv up", || supervised(&dir));
    wait_running_pid(&dir, T);
    std::thread::sleep(SETTLE);
    let mut t = String::new();
    t += &snapshot(&dir);
    t += &sv(c_sv, &["status"], &dir);
    for cmds in [
        &["-v", "pause"][..],
        &["-v", "cont"],
        &["-v", "down"],
        &["-v", "up"],
        &["-v", "once"],
        &["-v", "term"],
        &["-v", "up"],
        &["kill"],
        &["-v", "term"],
        &["hup"],
        &["quit"],
        &["status"],
    ] {
        t += &sv(c_sv, cmds, &dir);
        std::thread::sleep(SETTLE);
        t += &snapshot(&dir);
    }
    t += &sv(c_sv, &["exit"], &dir);
    let code = p.wait_timeout(T).map(|s| s.code());
    t += &format!("runsv exit: {code:?}\n");
    t += &format!("finish.log: {}\n", normalise(&read(dir.join("finish.log")), &dir));
    if with_log {
        t += &format!("log: {:?}\n", read(dir.join("log/out")));
    }
    t += &format!("stderr: {:?}\n", normalise(&p.stderr(), &dir));
    t += &snapshot(&dir);
    t
}

fn compare(with_log: bool) {
    let c_runsv = require_c!("runsv");
    let c_sv = require_c!("sv");
    let c_sv2 = c_sv.clone();
    let theirs = std::thread::spawn(move || scenario("runsv-diff-c", c_runsv, &c_sv2, with_log));
    let ours = scenario("runsv-diff-rs", ours("runsv"), &c_sv, with_log);
    let theirs = theirs.join().unwrap();
    if std::env::var_os("RUNSV_DIFF_SHOW").is_some() {
        eprintln!("{ours}");
    }
    if ours != theirs {
        for (a, b) in ours.lines().zip(theirs.lines()) {
            if a != b {
                eprintln!("ours:   {a}\ntheirs: {b}\n");
            }
        }
        panic!("transcripts differ\n--- ours ---\n{ours}\n--- theirs ---\n{theirs}");
    }
}

/// Runs without a log service are covered by the same transcript: every
/// line about the main service is compared, and `exit` with a log adds the
/// closing of the log pipe.
#[test]
fn c_sv_drives_our_runsv_like_c_runsv() {
    compare(true);
}

/// Start-up failures print the same messages and exit codes.
#[test]
fn startup_errors_match() {
    let c_runsv = require_c!("runsv");
    let s = Scratch::new("runsv-diff-errors");
    let control_file = s.join("control-file");
    script(control_file.join("run"), "#!/bin/sh\nexec sleep 1000\n");
    write(control_file.join("supervise/control"), "");
    let missing = s.join("missing");
    for dir in [&control_file, &missing] {
        let a = run(&mut cmd(&c_runsv, [dir]), T);
        let b = run(&mut cmd(ours("runsv"), [dir]), T);
        assert_eq!((a.code, &a.stderr), (b.code, &b.stderr), "{}", dir.display());
    }
    let a = run(&mut cmd(&c_runsv, ["a", "b"]), T);
    let b = run(&mut cmd(ours("runsv"), ["a", "b"]), T);
    assert_eq!(a.code, b.code);
    assert_eq!(
        a.stderr.replace(c_runsv.to_str().unwrap(), "RUNSV"),
        b.stderr.replace(ours("runsv").to_str().unwrap(), "RUNSV")
    );
}

/// Messages printed while running (missing `run`, non-executable `finish`,
/// `log` that is a file) match, line for line.
#[test]
fn runtime_messages_match() {
    let c_runsv = require_c!("runsv");
    let go = |name: &str, runsv: PathBuf| {
        let s = Scratch::new(name);
        let dir = s.join("svc");
        std::fs::create_dir_all(&dir).unwrap();
        write(dir.join("finish"), "#!/bin/sh\n");
        write(dir.join("log"), "file");
        let p = Proc::spawn_logging(&mut cmd(&runsv, [&dir]), s.join("stderr"));
        wait_until(T, "messages", || p.stderr().lines().count() >= 4);
        let text = normalise(&p.stderr(), &dir);
        text.lines().take(4).collect::<Vec<_>>().join("\n")
    };
    let ours = go("runsv-diff-msg-rs", ours("runsv"));
    let theirs = go("runsv-diff-msg-c", c_runsv);
    assert_eq!(ours, theirs);
}
