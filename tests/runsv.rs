//! End-to-end tests of our runsv: conformance items A-D (spec/conformance.md,
//! numbers in the test names), bad input, and the runit-rs extensions
//! (process-group containment, no duplicate after a runsv crash, no idle
//! wake-ups). Every process is started through `harness::Proc`.
#![allow(clippy::unwrap_used)]

use harness::*;
use std::fs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A service directory `name` with `run` = `body` (a shell script body).
fn service(s: &Scratch, name: &str, body: &str) -> PathBuf {
    let dir = s.join(name);
    script(dir.join("run"), &format!("#!/bin/sh\n{body}\n"));
    dir
}

/// Starts our runsv on `dir` (stderr to `<dir>.stderr`) and waits until it
/// answers on supervise/ok.
fn runsv(dir: &Path) -> Proc {
    let p = runsv_nowait(dir);
    wait_until(T, "runsv to be up", || supervised(dir));
    p
}

fn runsv_nowait(dir: &Path) -> Proc {
    let err = dir.with_extension("stderr");
    Proc::spawn_logging(&mut cmd(ours("runsv"), [dir]), err)
}

fn wait_file(path: &Path, what: &str, f: impl Fn(&str) -> bool) -> String {
    wait_for(T, || Some(read(path)).filter(|s| f(s)))
        .unwrap_or_else(|| panic!("{what}: {} is {:?}", path.display(), read(path)))
}

fn lines(path: &Path) -> Vec<String> {
    read(path).lines().map(str::to_string).collect()
}

/// A run script that logs each caught signal to `sig.log`.
const TRAPS: &str = "for s in HUP ALRM INT QUIT USR1 USR2 CONT; do trap \"echo $s >> sig.log\" $s; done
trap 'echo TERM >> sig.log; exit 0' TERM
echo $$ > ready
while :; do sleep 0.05; done";

/// Waits until `./run` runs and has installed its traps (it writes its pid
/// to `ready`); a signal sent earlier would find default dispositions.
fn ready(dir: &Path) -> u32 {
    let pid = wait_running_pid(dir, T);
    wait_file(&dir.join("ready"), "traps installed", |s| s == format!("{pid}\n"));
    pid
}

fn exited(p: &mut Proc) -> Option<i32> {
    p.wait_timeout(T).and_then(|s| s.code())
}

#[test]
fn a03_supervise_layout_and_modes() {
    let s = Scratch::new("runsv-a03");
    let dir = service(&s, "svc", "exec sleep 1000");
    // SAFETY: umask only affects this process's later file creations.
    let old = unsafe { libc::umask(0o022) };
    let _p = runsv(&dir);
    unsafe { libc::umask(old) };
    let mode = |f: &str| fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("supervise"), 0o700);
    for fifo in ["supervise/control", "supervise/ok"] {
        assert!(fs::metadata(dir.join(fifo)).unwrap().file_type().is_fifo());
        assert_eq!(mode(fifo), 0o600);
    }
    assert_eq!(mode("supervise/lock"), 0o600);
    assert_eq!(fs::metadata(dir.join("supervise/lock")).unwrap().len(), 0);
    wait_running_pid(&dir, T);
    for f in ["supervise/pid", "supervise/stat", "supervise/status"] {
        assert_eq!(mode(f), 0o644, "{f}");
    }
}

#[test]
fn a04_second_runsv_fails_on_the_lock() {
    let s = Scratch::new("runsv-a04");
    let dir = service(&s, "svc", "exec sleep 1000");
    let mut first = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let out = run(&mut cmd(ours("runsv"), [&dir]), T);
    assert_eq!(out.code, Some(111));
    assert_eq!(
        out.stderr,
        format!("runsv {}: fatal: unable to lock supervise/lock: temporary failure\n", dir.display())
    );
    assert!(first.try_wait().is_none(), "the first keeps running");
    assert_eq!(status_of(&dir, false).unwrap().pid, pid);
}

#[test]
fn a05_control_regular_file_is_fatal() {
    let s = Scratch::new("runsv-a05");
    let dir = service(&s, "svc", "exec sleep 1000");
    write(dir.join("supervise/control"), "");
    let out = run(&mut cmd(ours("runsv"), [&dir]), T);
    assert_eq!(out.code, Some(111));
    assert_eq!(
        out.stderr,
        format!("runsv {}: fatal: supervise/control exists but is not a fifo\n", dir.display())
    );
}

#[test]
fn a06_supervise_symlinks_are_created() {
    let s = Scratch::new("runsv-a06");
    let dir = service(&s, "svc", "echo starting; exec sleep 1000");
    script(dir.join("log/run"), "#!/bin/sh\nexec cat > out\n");
    std::os::unix::fs::symlink("foo", dir.join("supervise")).unwrap();
    std::os::unix::fs::symlink("bar", dir.join("log/supervise")).unwrap();
    let _p = runsv(&dir);
    wait_stat(&dir, "run", T);
    assert_eq!(fs::metadata(dir.join("foo")).unwrap().permissions().mode() & 0o777, 0o700);
    assert!(dir.join("foo/status").exists() && dir.join("log/bar/status").exists());
    // `run` is in `stat` as soon as ./run is forked: wait for its line
    // before stopping it, or a loaded machine may stop it before it ran.
    wait_file(&dir.join("log/out"), "log output", |s| s == "starting\n");
    // Driven through the link target, as upstream's runsv.check does.
    use std::io::Write;
    fs::OpenOptions::new().write(true).open(dir.join("foo/control")).unwrap().write_all(b"d").unwrap();
    wait_stat(&dir, "down", T);
}

#[test]
fn a07_log_that_is_a_file_is_ignored() {
    let s = Scratch::new("runsv-a07");
    let dir = service(&s, "svc", "exec sleep 1000");
    write(dir.join("log"), "not a dir");
    let p = runsv(&dir);
    wait_running_pid(&dir, T);
    wait_until(T, "warning", || !p.stderr().is_empty());
    assert_eq!(p.stderr(), format!("runsv {}: warning: ./log: not a directory.\n", dir.display()));
    assert!(!dir.join("log/supervise").exists());
}

#[test]
fn a08_log_starts_first_with_its_own_supervise() {
    let s = Scratch::new("runsv-a08");
    let dir = service(&s, "svc", "exec sleep 1000");
    script(dir.join("log/run"), "#!/bin/sh\nexec cat > out\n");
    let _p = runsv(&dir);
    let main = wait_running_pid(&dir, T);
    let log = wait_for(T, || status_of(&dir, true).filter(|s| s.pid != 0).map(|s| s.pid)).unwrap();
    assert!(log < main, "log/run ({log}) started before ./run ({main})");
    for f in ["lock", "control", "ok", "status", "stat", "pid"] {
        assert!(dir.join("log/supervise").join(f).exists(), "{f}");
    }
    assert_eq!(read(dir.join("log/supervise/pid")), format!("{log}\n"));
    assert_eq!(read(dir.join("log/supervise/stat")), "run\n");
}

#[test]
fn a09_a10_down_file() {
    let s = Scratch::new("runsv-a09");
    let dir = service(&s, "svc", "echo ran >> ran.log; exec sleep 1000");
    write(dir.join("down"), "");
    let _p = runsv(&dir);
    wait_stat(&dir, "down", T);
    let st = status_of(&dir, false).unwrap();
    assert_eq!(st.want, b'd');
    assert!(!dir.join("ran.log").exists());
    let s2 = Scratch::new("runsv-a10");
    let dir2 = service(&s2, "svc", "exec sleep 1000");
    let _p2 = runsv(&dir2);
    let pid = wait_running_pid(&dir2, T);
    write(dir2.join("down"), "");
    control(&dir2, "k");
    let new = wait_for(T, || status_of(&dir2, false).filter(|s| s.pid != 0 && s.pid != pid)).unwrap();
    assert_eq!(new.want, b'u', "down created later has no effect");
}

#[test]
fn b11_b16_status_record() {
    let s = Scratch::new("runsv-b11");
    let dir = service(&s, "svc", "exec sleep 1000");
    let before = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let _p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let raw = fs::read(dir.join("supervise/status")).unwrap();
    assert_eq!(raw.len(), 20);
    let label = u64::from_be_bytes(raw[..8].try_into().unwrap());
    let secs = label - 0x400000000000000a;
    assert!(secs + 1 >= before && secs <= before + 5, "timestamp {secs} vs {before}");
    let nanos = u32::from_be_bytes(raw[8..12].try_into().unwrap());
    assert!(nanos < 1_000_000_000 && nanos % 1000 == 500);
    assert_eq!(u32::from_le_bytes(raw[12..16].try_into().unwrap()), pid);
    assert_eq!(read(dir.join("supervise/pid")), format!("{pid}\n"));
    assert_eq!(&raw[16..], &[0, b'u', 0, 1]);
    control(&dir, "d");
    wait_stat(&dir, "down", T);
    // stat is written before status (§4): wait for the record as well.
    wait_for(T, || status_of(&dir, false).filter(|s| s.state.byte() == 0)).unwrap();
    let raw = fs::read(dir.join("supervise/status")).unwrap();
    assert_eq!(raw.len(), 20);
    assert_eq!(&raw[12..], &[0, 0, 0, 0, 0, b'd', 0, 0]);
    assert_eq!(fs::metadata(dir.join("supervise/pid")).unwrap().len(), 0);
}

#[test]
fn b17_pause_and_continue() {
    let s = Scratch::new("runsv-b17");
    let dir = service(&s, "svc", "exec sleep 1000");
    let _p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    control(&dir, "p");
    wait_stat(&dir, "run, paused", T);
    wait_for(T, || status_of(&dir, false).filter(|s| s.paused)).unwrap();
    wait_until(T, "stopped", || proc_state(pid as i32) == Some('T'));
    control(&dir, "c");
    wait_stat(&dir, "run", T);
    wait_for(T, || status_of(&dir, false).filter(|s| !s.paused)).unwrap();
    wait_until(T, "continued", || proc_state(pid as i32) != Some('T'));
}

#[test]
fn b18_b19_term_ignoring_process() {
    let s = Scratch::new("runsv-b18");
    let dir = service(&s, "svc", "trap '' TERM; echo $$ > ready; exec sleep 1000");
    let mut p = runsv(&dir);
    ready(&dir);
    control(&dir, "d");
    wait_stat(&dir, "run, got TERM, want down", T);
    // stat is written before status (§4): wait for the record too.
    let raw = wait_for(T, || status_of(&dir, false).filter(|s| s.got_term)).unwrap().encode();
    assert_eq!((raw[17], raw[18], raw[19]), (b'd', 1, 1));
    control(&dir, "x");
    wait_stat(&dir, "run, got TERM, want exit", T);
    assert_eq!(status_of(&dir, false).unwrap().want, b'd');
    assert!(p.try_wait().is_none(), "no escalation to KILL");
}

#[test]
fn b20_b21_finish_state_and_timestamps() {
    let s = Scratch::new("runsv-b20");
    let dir = service(&s, "svc", "exec sleep 1000");
    script(dir.join("finish"), "#!/bin/sh\necho $$ > finish.pid\nexec sleep 1000\n");
    let _p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let run_stamp = status_of(&dir, false).unwrap().stamp;
    std::thread::sleep(Duration::from_millis(1100));
    control(&dir, "d");
    wait_stat(&dir, "finish, want down", T);
    let fpid: u32 =
        wait_file(&dir.join("finish.pid"), "finish pid", |s| s.ends_with('\n')).trim().parse().unwrap();
    wait_until(T, "pid file", || read(dir.join("supervise/pid")) == format!("{fpid}\n"));
    let st = wait_for(T, || status_of(&dir, false).filter(|s| s.pid == fpid)).unwrap();
    assert_eq!((st.state.byte(), st.pid, st.stamp), (2, fpid, run_stamp));
    assert_ne!(fpid, pid);
    // SAFETY: signalling the finish script we started.
    unsafe { libc::kill(fpid as i32, libc::SIGKILL) };
    wait_stat(&dir, "down", T);
    let down = wait_for(T, || status_of(&dir, false).filter(|s| s.state.byte() == 0)).unwrap();
    assert!(down.stamp > run_stamp, "down updates the timestamp");
}

#[test]
fn b22_b23_no_temporaries_and_files_remain() {
    let s = Scratch::new("runsv-b22");
    let dir = service(&s, "svc", "exec sleep 1000");
    let mut p = runsv(&dir);
    wait_running_pid(&dir, T);
    control(&dir, "x");
    assert_eq!(exited(&mut p), Some(0));
    for f in ["status.new", "stat.new", "pid.new"] {
        assert!(!dir.join("supervise").join(f).exists(), "{f}");
    }
    for f in ["lock", "control", "ok", "status", "stat", "pid"] {
        assert!(dir.join("supervise").join(f).exists(), "{f}");
    }
    assert_eq!(read(dir.join("supervise/stat")), "down\n");
}

#[test]
fn c24_down_sends_term_then_cont() {
    let s = Scratch::new("runsv-c24");
    let dir = service(&s, "svc", TRAPS);
    let _p = runsv(&dir);
    ready(&dir);
    control(&dir, "d");
    wait_stat(&dir, "down", T);
    // CONT arrives after TERM; the TERM trap exits, so CONT may be missed.
    assert_eq!(lines(&dir.join("sig.log")).first().map(String::as_str), Some("TERM"));
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(read(dir.join("supervise/stat")), "down\n", "not restarted");
}

#[test]
fn c25_c26_up_and_once() {
    let s = Scratch::new("runsv-c25");
    let dir = service(&s, "svc", "echo x >> ran.log; sleep 0.3");
    write(dir.join("down"), "");
    let _p = runsv(&dir);
    wait_stat(&dir, "down", T);
    control(&dir, "o");
    wait_file(&dir.join("ran.log"), "one run", |s| s == "x\n");
    wait_stat(&dir, "down", T);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(read(dir.join("ran.log")), "x\n", "once means once");
    assert_eq!(status_of(&dir, false).unwrap().want, b'd');
    control(&dir, "u");
    wait_file(&dir.join("ran.log"), "started by u", |s| s.len() >= 4);
}

#[test]
fn c27_term_with_want_up_restarts_without_cont() {
    let s = Scratch::new("runsv-c27");
    let dir = service(&s, "svc", TRAPS);
    let _p = runsv(&dir);
    let pid = ready(&dir);
    control(&dir, "t");
    wait_for(T, || status_of(&dir, false).filter(|s| s.pid != 0 && s.pid != pid)).unwrap();
    assert_eq!(lines(&dir.join("sig.log")), ["TERM"]);
}

#[test]
fn c28_signal_bytes() {
    let s = Scratch::new("runsv-c28");
    let dir = service(&s, "svc", TRAPS);
    let _p = runsv(&dir);
    ready(&dir);
    for (b, name) in [
        ("h", "HUP"),
        ("a", "ALRM"),
        ("i", "INT"),
        ("q", "QUIT"),
        ("1", "USR1"),
        ("2", "USR2"),
        ("c", "CONT"),
    ] {
        control(&dir, b);
        wait_file(&dir.join("sig.log"), name, |s| s.lines().last() == Some(name));
    }
    let pid = ready(&dir);
    control(&dir, "k");
    wait_for(T, || status_of(&dir, false).filter(|s| s.pid != 0 && s.pid != pid)).unwrap();
}

#[test]
fn c29_c30_unknown_and_several_bytes() {
    let s = Scratch::new("runsv-c29");
    let dir = service(&s, "svc", TRAPS);
    let mut p = runsv(&dir);
    let pid = ready(&dir);
    control(&dir, "ez\n\0\u{7f}wsUXY");
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.try_wait().is_none());
    assert_eq!(status_of(&dir, false).unwrap().pid, pid);
    assert_eq!(read(dir.join("supervise/stat")), "run\n");
    control(&dir, "hd");
    wait_stat(&dir, "down", T);
    assert_eq!(lines(&dir.join("sig.log"))[..2], ["HUP", "TERM"]);
}

#[test]
fn c31_exit_without_log() {
    let s = Scratch::new("runsv-c31");
    let dir = service(&s, "svc", TRAPS);
    let mut p = runsv(&dir);
    ready(&dir);
    control(&dir, "x");
    assert_eq!(exited(&mut p), Some(0));
    assert_eq!(lines(&dir.join("sig.log")).first().map(String::as_str), Some("TERM"));
}

#[test]
fn c32_c33_exit_with_log_waits_for_eof() {
    let s = Scratch::new("runsv-c32");
    let dir = service(&s, "svc", "echo hello; exec sleep 1000");
    script(
        dir.join("log/run"),
        "#!/bin/sh\ntrap 'echo TERM >> sig.log' TERM\nwhile read l; do echo \"$l\" >> out; done\necho eof >> out\n",
    );
    let mut p = runsv(&dir);
    wait_file(&dir.join("log/out"), "log line", |s| s == "hello\n");
    runit_core::supervise::send_control(&dir, runit_core::supervise::Supervise::LOG, b"x").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert!(p.try_wait().is_none(), "x on the log FIFO has no effect");
    assert_eq!(read(dir.join("log/supervise/stat")), "run\n");
    control(&dir, "x");
    assert_eq!(exited(&mut p), Some(0));
    assert_eq!(read(dir.join("log/out")), "hello\neof\n");
    assert!(!dir.join("log/sig.log").exists(), "the log is not signalled");
}

#[test]
fn c34_sigterm_is_exit() {
    let s = Scratch::new("runsv-c34");
    let dir = service(&s, "svc", TRAPS);
    let mut p = runsv(&dir);
    ready(&dir);
    p.signal(libc::SIGTERM);
    assert_eq!(exited(&mut p), Some(0));
    assert_eq!(lines(&dir.join("sig.log")).first().map(String::as_str), Some("TERM"));
}

#[test]
fn c35_sighup_kills_runsv_and_leaves_run() {
    let s = Scratch::new("runsv-c35");
    let dir = service(&s, "svc", "exec sleep 1000");
    let mut p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    p.signal(libc::SIGHUP);
    let st = p.wait_timeout(T).unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(st.signal(), Some(libc::SIGHUP));
    assert!(alive(pid as i32), "./run is left running");
    assert_eq!(read(dir.join("supervise/stat")), "run\n", "status is stale");
}

#[test]
fn c36_c37_restart_throttle() {
    let s = Scratch::new("runsv-c36");
    let fast = service(&s, "fast", "exit 0");
    let slow = service(&s, "slow", "sleep 0.6");
    let _a = runsv(&fast);
    let _b = runsv(&slow);
    // runsv's own record of each end of ./run (supervise/deaths: when it
    // ended and how long it ran) gives the start times as runsv saw them,
    // free of the fork and exec latency a stamp written by ./run would
    // carry. A ./run that ran under a second is restarted a second after
    // its end, not at once: starts at least 1 s apart for `fast`, and
    // 0.6 s (its run) + 1 s for `slow`. Slowness only adds.
    for (dir, least) in [(&fast, 1.0), (&slow, 1.6)] {
        wait_until(Duration::from_secs(30), "three recorded deaths", || {
            runit_core::deaths::read(dir).len() >= 3
        });
        let started: Vec<f64> = runit_core::deaths::read(dir)
            .iter()
            .take(3)
            .map(|d| {
                let end = d.stamp.unix_seconds() as f64 + f64::from(d.stamp.nanos) / 1e9;
                end - d.ran.as_secs_f64()
            })
            .collect();
        for w in started.windows(2) {
            // 2 ms: the record's millisecond resolution of the run time.
            assert!(w[1] - w[0] >= least - 0.002, "{}: restarted after {:.3}s", dir.display(), w[1] - w[0]);
        }
    }
}

#[test]
fn c38_c39_c40_unstartable_programs() {
    let s = Scratch::new("runsv-c38");
    let missing = s.join("missing");
    fs::create_dir_all(&missing).unwrap();
    let noexec = s.join("noexec");
    write(noexec.join("run"), "#!/bin/sh\nexec sleep 1000\n");
    let nolog = service(&s, "nolog", "exec sleep 1000");
    fs::create_dir_all(nolog.join("log")).unwrap();
    let pm = runsv(&missing);
    let pn = runsv(&noexec);
    let pl = runsv(&nolog);
    for (p, dir, msg) in [
        (&pm, &missing, "unable to start ./run: file does not exist"),
        (&pn, &noexec, "unable to start ./run: access denied"),
        (&pl, &nolog, "unable to start log/./run: file does not exist"),
    ] {
        let line = format!("runsv {}: fatal: {msg}\n", dir.display());
        wait_until(T, msg, || p.stderr().matches(&line).count() >= 2);
        assert_eq!(p.stderr().replace(&line, ""), "", "only that message");
    }
    let st = status_of(&missing, false).unwrap();
    assert_eq!((st.state.byte(), st.want), (0, b'u'));
}

#[test]
fn c41_c42_c43_finish_arguments() {
    let s = Scratch::new("runsv-c41");
    let fin = "#!/bin/sh\necho \"$@\" >> finish.log\n";
    let a = service(&s, "a", "sleep 1.1; exit 3");
    let b = service(&s, "b", "exec sleep 1000");
    let c = service(&s, "c", "ulimit -c 0; sleep 1.1; kill -SEGV $$");
    for d in [&a, &b, &c] {
        script(d.join("finish"), fin);
    }
    let _pa = runsv(&a);
    let _pb = runsv(&b);
    let _pc = runsv(&c);
    let pid = wait_running_pid(&b, T);
    // SAFETY: killing the service process we started.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
    wait_file(&a.join("finish.log"), "exit 3", |s| s.starts_with("3 0\n"));
    wait_file(&b.join("finish.log"), "SIGKILL", |s| s.starts_with("-1 9\n"));
    // No core is dumped with ulimit -c 0: the status is the bare signal.
    wait_file(&c.join("finish.log"), "SIGSEGV", |s| s.starts_with("-1 11\n"));
}

#[test]
fn c44_finish_not_executable() {
    let s = Scratch::new("runsv-c44");
    let dir = service(&s, "svc", "echo x >> ran; sleep 1.1");
    write(dir.join("finish"), "#!/bin/sh\n");
    let p = runsv(&dir);
    let line = format!("runsv {}: fatal: unable to start ./finish: access denied\n", dir.display());
    wait_until(T, "finish message", || p.stderr().contains(&line));
    wait_file(&dir.join("ran"), "cycle continues", |s| s.len() >= 4);
}

#[test]
fn c45_c46_c47_log_pipe() {
    let s = Scratch::new("runsv-c45");
    let dir = service(&s, "svc", "echo out-$$; echo err-$$ >&2; exec sleep 1000");
    script(dir.join("finish"), "#!/bin/sh\necho finish\n");
    script(dir.join("control/h"), "#!/bin/sh\necho control-h\n");
    script(dir.join("log/run"), "#!/bin/sh\nwhile read l; do echo \"$l\" >> out; done\n");
    script(dir.join("log/finish"), "#!/bin/sh\necho ran > ../log-finish-ran\n");
    let _p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    wait_file(&dir.join("log/out"), "run output", |s| s.contains(&format!("out-{pid}")));
    control(&dir, "h");
    wait_file(&dir.join("log/out"), "override output", |s| s.contains("control-h"));
    // Stop the log, let ./run write while it is down, then restart it.
    runit_core::supervise::send_control(&dir, runit_core::supervise::Supervise::LOG, b"d").unwrap();
    wait_until(T, "log down", || read(dir.join("log/supervise/stat")) == "down\n");
    control(&dir, "t");
    wait_until(T, "restart", || status_of(&dir, false).is_some_and(|s| s.pid != pid && s.pid != 0));
    runit_core::supervise::send_control(&dir, runit_core::supervise::Supervise::LOG, b"u").unwrap();
    let out = wait_file(&dir.join("log/out"), "buffered output", |s| s.matches("out-").count() >= 2);
    assert!(out.contains("finish"), "finish output: {out:?}");
    assert!(!out.contains("err-"), "stderr is not piped");
    assert!(!dir.join("log-finish-ran").exists(), "log/finish is never run");
}

#[test]
fn c48_cwd_and_argv0() {
    let s = Scratch::new("runsv-c48");
    let dir = service(&s, "svc", "echo \"$0 $(pwd)\" > where; exec sleep 1000");
    script(dir.join("log/run"), "#!/bin/sh\necho \"$0 $(pwd)\" > where\nexec cat >/dev/null\n");
    let _p = runsv(&dir);
    let real = fs::canonicalize(&dir).unwrap();
    wait_file(&dir.join("where"), "run", |s| s == format!("./run {}\n", real.display()));
    wait_file(&dir.join("log/where"), "log", |s| s == format!("./run {}/log\n", real.display()));
}

#[test]
fn c49_kill_during_finish_runs_finish_twice() {
    let s = Scratch::new("runsv-c49");
    let dir = service(&s, "svc", "sleep 1.1; exit 7");
    script(
        dir.join("finish"),
        "#!/bin/sh\necho \"$@\" >> finish.log\n[ \"$1\" = 7 ] && { sleep 0.5; exit 5; }\nexit 0\n",
    );
    write(dir.join("down"), "");
    let _p = runsv(&dir);
    control(&dir, "o");
    wait_stat(&dir, "finish, want down", T);
    control(&dir, "k");
    wait_file(&dir.join("finish.log"), "second finish", |s| s == "7 0\n5 0\n");
    wait_stat(&dir, "down", T);
}

#[test]
fn c50_exit_then_kill_exits_at_once() {
    let s = Scratch::new("runsv-c50");
    let dir = service(&s, "svc", "trap '' TERM; echo $$ > ready; exec sleep 1000");
    script(dir.join("finish"), "#!/bin/sh\necho ran > finish.ran\n");
    let mut p = runsv(&dir);
    ready(&dir);
    control(&dir, "x");
    wait_stat(&dir, "run, got TERM, want exit", T);
    control(&dir, "k");
    assert_eq!(exited(&mut p), Some(0));
    assert_eq!(read(dir.join("supervise/stat")), "run, got TERM, want exit\n");
    assert!(!dir.join("finish.ran").exists());
}

/// A service whose overrides append their name to `order`, and whose run
/// logs TERM and CONT there too. Signals are asynchronous, so `control/d`
/// and `control/x` wait a moment before logging: the order in the file is
/// then the order in which runsv acted.
fn override_service(s: &Scratch, codes: &[(char, u8)]) -> PathBuf {
    let dir = service(
        s,
        "svc",
        "trap 'echo TERM >> order; exit 0' TERM; trap 'echo CONT >> order' CONT; echo $$ > ready; while :; do sleep 1000 & wait $!; done",
    );
    for &(c, code) in codes {
        let pause = if "dx".contains(c) { "sleep 0.5\n" } else { "" };
        script(
            dir.join(format!("control/{c}")),
            &format!("#!/bin/sh\n{pause}echo control/{c} >> order\nexit {code}\n"),
        );
    }
    dir
}

#[test]
fn d51_override_h() {
    let s = Scratch::new("runsv-d51");
    let dir = override_service(&s, &[('h', 0)]);
    script(
        dir.join("run"),
        "#!/bin/sh\ntrap 'echo HUP >> order' HUP\necho $$ > ready\nwhile :; do sleep 0.05; done\n",
    );
    let _p = runsv(&dir);
    ready(&dir);
    control(&dir, "h");
    wait_file(&dir.join("order"), "script", |s| s == "control/h\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(read(dir.join("order")), "control/h\n", "HUP suppressed");
    script(dir.join("control/h"), "#!/bin/sh\necho control/h >> order\nexit 1\n");
    control(&dir, "h");
    wait_file(&dir.join("order"), "HUP let through", |s| s == "control/h\ncontrol/h\nHUP\n");
}

#[test]
fn d52_d53_override_t_and_d_order() {
    let s = Scratch::new("runsv-d53");
    let dir = override_service(&s, &[('t', 1), ('d', 1)]);
    let _p = runsv(&dir);
    ready(&dir);
    control(&dir, "d");
    wait_stat(&dir, "down", T);
    let order = wait_file(&dir.join("order"), "order", |s| s.lines().count() >= 3);
    // ./run exits in its TERM trap, so CONT may come too late to be seen.
    assert!(order.starts_with("control/t\nTERM\n") && order.ends_with("control/d\n"), "{order:?}");
    let s = Scratch::new("runsv-d52");
    let dir = override_service(&s, &[('t', 0), ('d', 0)]);
    let _p = runsv(&dir);
    ready(&dir);
    control(&dir, "d");
    wait_file(&dir.join("order"), "order", |s| s == "control/t\nCONT\ncontrol/d\n");
    wait_stat(&dir, "run, want down", T);
    let st = wait_for(T, || status_of(&dir, false).filter(|s| s.want == b'd')).unwrap();
    assert!(!st.got_term, "no got TERM");
}

#[test]
fn d54_override_x_order() {
    let s = Scratch::new("runsv-d54");
    let dir = override_service(&s, &[('t', 1), ('x', 0)]);
    let mut p = runsv(&dir);
    ready(&dir);
    control(&dir, "x");
    assert_eq!(exited(&mut p), Some(0));
    let order = read(dir.join("order"));
    assert!(order.starts_with("control/t\nTERM\n") && order.ends_with("control/x\n"), "{order:?}");
}

#[test]
fn d55_control_u_on_every_start() {
    let s = Scratch::new("runsv-d55");
    let dir = service(&s, "svc", "echo run >> order; sleep 1.1");
    script(dir.join("control/u"), "#!/bin/sh\necho control/u >> order\nexit 1\n");
    let _p = runsv(&dir);
    wait_file(&dir.join("order"), "two starts", |s| s.starts_with("control/u\nrun\ncontrol/u\nrun\n"));
}

#[test]
fn d56_override_p_sets_paused() {
    let s = Scratch::new("runsv-d56");
    let dir = override_service(&s, &[('p', 0)]);
    let _p = runsv(&dir);
    let pid = ready(&dir);
    control(&dir, "p");
    wait_stat(&dir, "run, paused", T);
    assert_ne!(proc_state(pid as i32), Some('T'), "STOP suppressed");
}

#[test]
fn d57_d58_ignored_overrides() {
    let s = Scratch::new("runsv-d57");
    let dir = override_service(&s, &[('h', 0)]);
    script(
        dir.join("run"),
        "#!/bin/sh\ntrap 'echo HUP >> order' HUP\necho $$ > ready\nwhile :; do sleep 0.05; done\n",
    );
    chmod(dir.join("control/h"), 0o644);
    script(
        dir.join("log/run"),
        "#!/bin/sh\ntrap 'echo HUP >> ../order' HUP\necho $$ > ../logready\nwhile :; do sleep 0.05; done\n",
    );
    let _p = runsv(&dir);
    ready(&dir);
    let log = wait_for(T, || status_of(&dir, true).filter(|s| s.pid != 0).map(|s| s.pid)).unwrap();
    wait_file(&dir.join("logready"), "log traps", |s| s == format!("{log}\n"));
    control(&dir, "h");
    wait_file(&dir.join("order"), "HUP delivered", |s| s == "HUP\n");
    chmod(dir.join("control/h"), 0o755);
    runit_core::supervise::send_control(&dir, runit_core::supervise::Supervise::LOG, b"h").unwrap();
    wait_file(&dir.join("order"), "log HUP, no script", |s| s == "HUP\nHUP\n");
}

#[test]
fn signals_caught_and_children_masks() {
    let s = Scratch::new("runsv-sigs");
    let dir = service(&s, "svc", "exec sleep 1000");
    // A non-shell override reports its blocked mask.
    script(
        dir.join("control/1"),
        "#!/usr/bin/awk -f\nBEGIN { while ((getline l < \"/proc/self/status\") > 0) if (l ~ /^SigBlk/) print l > \"blk\" }\n",
    );
    let p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    assert_eq!(proc_status_field(p.pid(), "SigCgt").unwrap(), "0000000000014000");
    assert_eq!(proc_status_field(pid as i32, "SigBlk").unwrap(), "0000000000000000");
    control(&dir, "1");
    wait_file(&dir.join("blk"), "override mask", |s| s.contains("0000000000014000"));
}

#[test]
fn bad_input_garbage_on_the_fifo() {
    let s = Scratch::new("runsv-garbage");
    let dir = service(&s, "svc", "exec sleep 1000");
    let mut p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let junk: Vec<u8> = (0u16..4096)
        .map(|i| (i.wrapping_mul(7919) % 251) as u8)
        .filter(|b| !b"udoxtkpchaiq12".contains(b))
        .collect();
    runit_core::supervise::send_control(&dir, runit_core::supervise::Supervise::MAIN, &junk).unwrap();
    control(&dir, "h");
    wait_for(T, || status_of(&dir, false).filter(|s| s.pid != pid && s.pid != 0)).unwrap();
    assert!(p.try_wait().is_none());
    assert_eq!(p.stderr(), "");
}

#[test]
fn bad_input_unreadable_directory() {
    if !is_root() {
        eprintln!("skipped: needs root to switch to nobody");
        return;
    }
    let s = Scratch::new("runsv-unreadable");
    let dir = service(&s, "svc", "exec sleep 1000");
    chmod(&dir, 0o700);
    chmod(s.path(), 0o755);
    let mut c = cmd("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups"]);
    c.arg(ours("runsv")).arg(&dir);
    let out = run(&mut c, T);
    assert_eq!(out.code, Some(111));
    assert_eq!(
        out.stderr,
        format!("runsv {}: fatal: unable to change to directory: access denied\n", dir.display())
    );
}

#[test]
fn ext_containment_sweeps_the_group_on_down() {
    let s = Scratch::new("runsv-group");
    let dir = service(
        &s,
        "svc",
        "sh -c 'trap \"\" TERM; echo $$ > stray.pid; exec sleep 1000' & sleep 1000 & echo $! > bg.pid; exec sleep 1000",
    );
    let _p = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    let bg: i32 = wait_file(&dir.join("bg.pid"), "bg", |s| s.ends_with('\n')).trim().parse().unwrap();
    let stray: i32 =
        wait_file(&dir.join("stray.pid"), "stray", |s| s.ends_with('\n')).trim().parse().unwrap();
    let pgid = |p: i32| runit_core::instance::proc_stat(p as u32).map(|s| s.pgrp).ok();
    assert_eq!(pgid(pid as i32), Some(pid as i32), "./run leads its own group");
    assert_eq!(pgid(bg), Some(pid as i32));
    control(&dir, "d");
    wait_stat(&dir, "down", T);
    wait_until(T, "background child gone after TERM", || !alive(bg));
    assert!(alive(stray), "a TERM-ignoring member gets the grace period");
    wait_until(T, "TERM-ignoring member killed", || !alive(stray));
}

#[test]
fn ext_crash_leaves_no_duplicate() {
    let s = Scratch::new("runsv-crash");
    let dir = service(&s, "svc", "echo $$ >> runs; exec sleep 1000");
    script(dir.join("log/run"), "#!/bin/sh\necho $$ >> ../runs\nexec cat > /dev/null\n");
    let first = runsv(&dir);
    let pid = wait_running_pid(&dir, T);
    wait_for(T, || status_of(&dir, true).filter(|s| s.pid != 0)).unwrap();
    let rec = runit_core::instance::read(&dir, runit_core::supervise::Supervise::MAIN).unwrap();
    assert_eq!(rec.pid, pid);
    first.signal(libc::SIGKILL);
    drop(first);
    // Proc's drop killed the old tree: start a fresh orphan to imitate what
    // a killed runsv leaves behind.
    assert!(!alive(pid as i32));
    let orphan = Proc::spawn(Command::new(dir.join("run")).current_dir(&dir));
    let orec = runit_core::instance::Instance::of(
        runit_core::instance::Kind::Run,
        orphan.pid() as u32,
        &runit_core::instance::boot_id().unwrap(),
    )
    .unwrap();
    fs::write(dir.join("supervise/instance"), orec.encode()).unwrap();
    let second = runsv(&dir);
    let new = wait_for(T, || status_of(&dir, false).filter(|s| s.pid != 0 && s.pid != orphan.pid() as u32))
        .unwrap();
    wait_until(T, "orphan stopped", || !alive(orphan.pid()));
    let msg = format!(
        "runsv {}: warning: ./run (pid {}) left running by a previous runsv: stopping it\n",
        dir.display(),
        orphan.pid()
    );
    assert_eq!(second.stderr(), msg);
    // The status names the new pid right after fork; the new ./run records
    // itself in `runs` a moment later.
    let live = || -> Vec<i32> {
        lines(&dir.join("runs")).iter().filter_map(|l| l.parse().ok()).filter(|&p| alive(p)).collect()
    };
    wait_until(T, "the new ./run in runs", || live().contains(&(new.pid as i32)));
    let live = live();
    assert_eq!(live.len(), 2, "exactly one ./run and one log/run: {live:?}");
}

#[test]
fn ext_real_sigkill_of_runsv_then_restart() {
    let s = Scratch::new("runsv-crash2");
    let dir = service(&s, "svc", "echo $$ >> runs; exec sleep 1000");
    // runsv outside a Proc group of its own would be killed with the group;
    // a setsid'd child keeps ./run alive after runsv's SIGKILL.
    let mut c = cmd("setsid", ["-w", ours("runsv").to_str().unwrap(), dir.to_str().unwrap()]);
    let first = Proc::spawn(&mut c);
    wait_until(T, "up", || supervised(&dir));
    let old = wait_running_pid(&dir, T);
    let runsv_pid = wait_for(T, || {
        fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
            let p: i32 = e.file_name().to_str()?.parse().ok()?;
            (ppid(old as i32) == Some(p)).then_some(p)
        })
    })
    .unwrap();
    // SAFETY: killing the runsv we started.
    unsafe { libc::kill(runsv_pid, libc::SIGKILL) };
    wait_until(T, "runsv dead", || !supervised(&dir));
    assert!(alive(old as i32), "runit semantics: ./run survives its runsv");
    let second = runsv(&dir);
    wait_for(T, || status_of(&dir, false).filter(|s| s.pid != 0 && s.pid != old)).unwrap();
    wait_until(T, "old ./run stopped", || !alive(old as i32));
    assert!(second.stderr().contains("left running by a previous runsv: stopping it"));
    let live = || {
        lines(&dir.join("runs")).iter().filter_map(|l| l.parse::<i32>().ok()).filter(|&p| alive(p)).count()
    };
    // The status names the new pid right after fork, before the new ./run
    // has recorded itself.
    wait_until(T, "the new ./run in runs", || live() >= 1);
    assert_eq!(live(), 1, "exactly one ./run");
    drop(first);
}

#[test]
fn ext_idle_runsv_does_not_wake_up() {
    let s = Scratch::new("runsv-idle");
    let dir = service(&s, "svc", "exec sleep 1000");
    let p = runsv(&dir);
    wait_running_pid(&dir, T);
    // runsv wakes once, a second after its last event, to trim its memory
    // (docs/runsv.md, "Memory"); after that, never.
    std::thread::sleep(Duration::from_millis(1500));
    let switches = || {
        let v = proc_status_field(p.pid(), "voluntary_ctxt_switches").unwrap();
        let n = proc_status_field(p.pid(), "nonvoluntary_ctxt_switches").unwrap();
        (v, n)
    };
    let before = switches();
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(switches(), before, "an idle runsv never wakes up");
}
