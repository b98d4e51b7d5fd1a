//! End-to-end tests of `runit` as process 1 of a PID namespace, in runit's
//! own (default) mode: the stages, the stopit/reboot/ctrlaltdel protocol,
//! reaping, and a whole boot with services and loggers shut down cleanly
//! (issue #7; conformance item 149). Container mode is in
//! runit_container.rs. Each test skips with a message when it cannot make
//! a PID namespace (not root, or no `unshare`).

// Test set-up failing is a test failure: unwrap is the clearest report.
#![allow(clippy::unwrap_used)]

#[path = "runit_support/mod.rs"]
mod support;

use harness::{read, wait_until};
use std::time::{Duration, Instant};
use support::*;

/// Stage scripts that only record themselves.
fn marker_stages(t: &Tree) {
    let o = t.sh("out");
    t.stage("1", &format!("echo 1 >> {o}/stages"));
    t.stage("2", &format!("echo 2 >> {o}/stages\nwhile :; do sleep 0.1; done"));
    t.stage("3", &format!("echo 3 >> {o}/stages"));
}

fn full_boot(tools: Tools) {
    let t = Tree::new("runit-boot", tools);
    let o = t.sh("out");
    // Like runit's example stage 1: record, and create stopit with mode 0.
    t.stage("1", &format!("echo 1 >> {o}/stages\ninstall -m000 /dev/null {}", t.sh("etc/stopit")));
    t.stage2_runsvdir();
    t.stage3_sv();
    services(&t);
    let mut p = t.boot(&[]);

    p.wait_services_logging();
    assert_eq!(mode(&p.tree.path("etc/stopit")), 0, "stage 1 created stopit with mode 0");
    assert_eq!(mode(&p.tree.path("service/a/log/main/current")), 0o644, "svlogd still writing");

    // Orphans are reaped: the grandchild of service c was process 1's child.
    assert_eq!(p.wait_file("out/orphan.ppid", SOON), "1\n");
    wait_until(SOON, "process 1 to reap the orphan", || p.zombies().is_empty());

    p.runit_init("0");
    p.expect_halted(libc::SIGINT);

    let lines = p.console_lines();
    let etc = p.tree.sh("etc");
    assert_in_order(
        &lines,
        &[
            &format!("- runit: enter stage: {etc}/1"),
            &format!("- runit: leave stage: {etc}/1"),
            &format!("- runit: enter stage: {etc}/2"),
            &format!("- runit: leave stage: {etc}/2"),
            &format!("- runit: enter stage: {etc}/3"),
            &format!("- runit: leave stage: {etc}/3"),
            "- runit: sending KILL signal to all processes...",
            "- runit: power off...",
        ],
    );
    assert!(lines[0].starts_with("- runit: $Id: runit-rs "), "{lines:?}");
    assert!(!p.console().contains("warning"), "{}", p.console());
    assert_eq!(read(p.tree.path("out/stages")), "1\n2\n3\n");
    assert_eq!(mode(&p.tree.path("etc/stopit")), 0, "the request was consumed");

    p.assert_services_stopped_cleanly();
}

#[test]
fn issue_7_boot_with_services_and_clean_shutdown() {
    if !namespaces_available() {
        return;
    }
    full_boot(Tools::Ours);
}

#[test]
fn issue_7_boot_with_debians_supervision_tools() {
    // runit talks to the tools only through stage scripts; Debian's C
    // runsvdir/runsv/sv/svlogd work under it just the same.
    if !namespaces_available() {
        return;
    }
    harness::require_c!("runsvdir");
    full_boot(Tools::Theirs);
}

#[test]
fn item_149_stage_1_exit_100_skips_stage_2() {
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-skip", Tools::None);
    marker_stages(&t);
    t.stage("1", &format!("echo 1 >> {}/stages\nexit 100", t.sh("out")));
    let mut p = t.boot(&[]);
    p.expect_halted(libc::SIGINT);
    assert_eq!(read(p.tree.path("out/stages")), "1\n3\n");
    let etc = p.tree.sh("etc");
    assert_in_order(
        &p.console_lines(),
        &[
            &format!("- runit: warning: child failed: {etc}/1"),
            &format!("- runit: leave stage: {etc}/1"),
            "- runit: skipping stage 2...",
            &format!("- runit: enter stage: {etc}/3"),
        ],
    );
}

#[test]
fn item_149_stage_2_exit_111_and_crash_are_restarted() {
    // 2.3.0: a stage 2 killed by a signal is restarted too (2.1.2 went on
    // to stage 3). Each restart follows a SIGKILL to stage 2's process
    // group and a 5-second pause.
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-restart", Tools::None);
    marker_stages(&t);
    let o = t.sh("out");
    t.stage(
        "2",
        &format!(
            "date +%s.%N >> {o}/stamps\necho 2 >> {o}/stages\nn=$(wc -l < {o}/stages)\n\
             case $n in\n\
             2) sleep 1001 & echo $! > {o}/bg; exit 111 ;;\n\
             3) kill -KILL $$ ;;\n\
             *) exit 0 ;;\n\
             esac"
        ),
    );
    let mut p = t.boot(&[]);
    let etc = p.tree.sh("etc");
    p.wait_console("- runit: killing all processes in stage 2...", SOON);
    p.wait_console("- runit: restarting.", SOON);
    p.wait_stages("1\n2\n2\n", SOON);
    // The first run's background job went with its process group.
    assert!(!p.leftovers().iter().any(|&pid| harness::read(format!("/proc/{pid}/cmdline")).contains("1001")));
    p.wait_stages("1\n2\n2\n2\n", Duration::from_secs(15));
    p.expect_halted(libc::SIGINT);
    assert_eq!(read(p.tree.path("out/stages")), "1\n2\n2\n2\n3\n");
    // The 5-second pauses, from the runs' own clock stamps: a run stamps
    // before it ends and the next one after it begins, so each pause lies
    // between two stamps and load can only widen the gap.
    let stamps: Vec<f64> =
        read(p.tree.path("out/stamps")).lines().map(|l| l.parse().expect("a date +%s.%N stamp")).collect();
    assert_eq!(stamps.len(), 3, "{stamps:?}");
    for w in stamps.windows(2) {
        assert!(w[1] - w[0] >= 4.9, "restarted {:.2} s after the previous run began", w[1] - w[0]);
    }
    assert_in_order(
        &p.console_lines(),
        &[
            &format!("- runit: warning: child failed: {etc}/2"),
            "- runit: killing all processes in stage 2...",
            "- runit: restarting.",
            &format!("- runit: warning: child crashed: {etc}/2"),
            "- runit: killing all processes in stage 2...",
            "- runit: restarting.",
            &format!("- runit: leave stage: {etc}/2"),
            &format!("- runit: enter stage: {etc}/3"),
        ],
    );
}

#[test]
fn item_149_cont_with_stopit_terms_stage_2_then_kills_it() {
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-stopit", Tools::None);
    marker_stages(&t);
    // Stage 2 ignores TERM: runit must KILL it 5 s later.
    t.stage(
        "2",
        &format!(
            "trap 'echo term >> {o}/stage2' TERM\necho 2 >> {o}/stages\nwhile :; do sleep 0.1; done",
            o = t.sh("out")
        ),
    );
    let mut p = t.boot(&[]);
    p.wait_file("out/stages", SOON);
    p.wait_stages("1\n2\n", SOON);
    // CONT alone does nothing; with stopit u+x it starts the shutdown.
    p.signal(libc::SIGCONT);
    let sent = Instant::now();
    p.stopit();
    p.wait_file("out/stage2", SOON);
    p.wait_console("- runit: stage 2 not terminated, sending sigkill...", SOON);
    // The KILL waits 5 s after the TERM, which runit sent after `sent`;
    // the console line is seen after it is written: a correct runit gives
    // at least 5 s whatever the load (slowness only adds; 4.9 allows for a
    // timer rounded to the millisecond), and nothing stage 2 logs can
    // witness runit's idle wait.
    assert!(sent.elapsed() >= Duration::from_millis(4900), "KILL after {:?}", sent.elapsed());
    p.expect_halted(libc::SIGINT);
    assert_eq!(read(p.tree.path("out/stages")), "1\n2\n3\n");
    assert_eq!(read(p.tree.path("out/stage2")), "term\n", "exactly one TERM before the KILL");
    assert_eq!(mode(&p.tree.path("etc/stopit")), 0);
}

#[test]
fn item_149_sigterm_to_process_1_has_no_effect() {
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-term", Tools::None);
    marker_stages(&t);
    let mut p = t.boot(&[]);
    p.wait_stages("1\n2\n", SOON);
    // TERM, HUP, ALRM and PIPE stay blocked; CHLD, CONT and INT are caught.
    for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGALRM, libc::SIGPIPE] {
        assert!(p.sigmask_has("SigBlk", sig), "signal {sig} not blocked");
    }
    for sig in [libc::SIGCHLD, libc::SIGCONT, libc::SIGINT] {
        assert!(p.sigmask_has("SigCgt", sig), "signal {sig} not caught");
    }
    p.signal(libc::SIGTERM);
    std::thread::sleep(Duration::from_millis(500));
    assert!(p.proc.try_wait().is_none());
    assert_eq!(read(p.tree.path("out/stages")), "1\n2\n");
    let leave2 = format!("- runit: leave stage: {}/2", p.tree.sh("etc"));
    assert!(!p.console_lines().contains(&leave2), "{}", p.console());
    p.stopit();
    p.expect_halted(libc::SIGINT);
    assert_eq!(read(p.tree.path("out/stages")), "1\n2\n3\n");
}

#[test]
fn item_149_signals_only_work_in_stage_2() {
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-stage1-signal", Tools::None);
    marker_stages(&t);
    let o = t.sh("out");
    t.stage("1", &format!("echo 1 >> {o}/stages\nwhile [ ! -e {o}/go ]; do sleep 0.05; done"));
    let mut p = t.boot(&[]);
    p.wait_file("out/stages", SOON);
    p.stopit();
    p.wait_console("- runit: warning: signals only work in stage 2.", SOON);
    harness::write(p.tree.path("out/go"), "");
    p.wait_stages("1\n2\n", SOON);
    // The flag is still set (it was not consumed): a CONT now works.
    p.signal(libc::SIGCONT);
    p.expect_halted(libc::SIGINT);
    assert_eq!(read(p.tree.path("out/stages")), "1\n2\n3\n");
}

#[test]
fn ctrl_alt_del_runs_the_script_then_acts_as_cont() {
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-cad", Tools::None);
    marker_stages(&t);
    let o = t.sh("out");
    // runit's example: mark stopit executable, (warn users,) wait a bit.
    t.stage("ctrlaltdel", &format!("echo cad >> {o}/stages\nchmod 100 {}\nsleep 0.5", t.sh("etc/stopit")));
    harness::write(t.path("etc/stopit"), "");
    let mut p = t.boot(&[]);
    p.wait_stages("1\n2\n", SOON);
    p.signal(libc::SIGINT);
    p.expect_halted(libc::SIGINT);
    assert_eq!(read(p.tree.path("out/stages")), "1\n2\ncad\n3\n");
    let etc = p.tree.sh("etc");
    assert_in_order(
        &p.console_lines(),
        &[
            "- runit: ctrl-alt-del request...",
            &format!("- runit: enter stage: {etc}/ctrlaltdel"),
            &format!("- runit: leave stage: {etc}/ctrlaltdel"),
            &format!("- runit: leave stage: {etc}/2"),
        ],
    );
}

#[test]
fn runit_init_6_reboots() {
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-reboot", Tools::None);
    marker_stages(&t);
    // This one syncs, as runit does without the nosync flag.
    std::fs::remove_file(t.path("etc/nosync")).unwrap();
    let mut p = t.boot(&[]);
    p.wait_stages("1\n2\n", SOON);
    p.runit_init("6");
    // The kernel ends a namespace's init with SIGHUP for a reboot.
    p.expect_halted(libc::SIGHUP);
    assert!(p.console().contains("- runit: system reboot.\n"), "{}", p.console());
    assert!(!p.console().contains("power off"));
}

#[test]
fn missing_stage_scripts_count_as_done() {
    // An exec failure is reported by the child, which exits 0.
    if !namespaces_available() {
        return;
    }
    let t = Tree::new("runit-missing", Tools::None);
    let mut p = t.boot(&[]);
    p.expect_halted(libc::SIGINT);
    let etc = p.tree.sh("etc");
    assert_in_order(
        &p.console_lines(),
        &[
            &format!("- runit: fatal: unable to start child: {etc}/1: file does not exist"),
            &format!("- runit: leave stage: {etc}/1"),
            &format!("- runit: fatal: unable to start child: {etc}/2: file does not exist"),
            &format!("- runit: leave stage: {etc}/2"),
            &format!("- runit: fatal: unable to start child: {etc}/3: file does not exist"),
            "- runit: sending KILL signal to all processes...",
        ],
    );
}
