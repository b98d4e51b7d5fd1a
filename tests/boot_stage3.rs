//! `boot down` without a running supervision tree: stage 3 of runit (or a
//! container's), where runsvdir has gone and its runsv processes may have
//! gone with it while the services live on. boot must stop them anyway,
//! gracefully and with escalation, let their loggers flush, and leave a
//! first-boot box. Each test has its own root; whatever a failed test
//! leaves is killed by the tag guards.
#![allow(clippy::unwrap_used)]

#[path = "boot_support/mod.rs"]
mod support;

use harness::{alive, wait_until};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{BootBox, cmdline};

/// Pids of the runsv processes supervising a directory below `root`.
fn runsv_pids(root: &Path) -> Vec<i32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        let comm = fs::read_to_string(e.path().join("comm")).unwrap_or_default();
        let cwd = fs::read_link(e.path().join("cwd")).unwrap_or_default();
        if comm.trim_end() == "runsv" && cwd.starts_with(root) && alive(pid) {
            out.push(pid);
        }
    }
    out
}

/// The pid of `name`'s logger, from its status record.
fn logger_pid(b: &BootBox, name: &str) -> i32 {
    let dir = b.svc(name);
    harness::wait_for(Duration::from_secs(10), || harness::status_of(&dir, true).filter(|s| s.pid != 0))
        .unwrap()
        .pid as i32
}

fn kill(pid: i32) {
    // SAFETY: signalling a process this test started (through boot).
    unsafe { libc::kill(pid, libc::SIGKILL) };
}

/// runsvdir SIGKILLed before `down` (its runsv processes live on): boot
/// stops every service through its runsv as usual, `./finish` runs, and
/// the box is clean.
#[test]
fn down_after_runsvdir_was_killed() {
    let mut b = BootBox::stop_test("stage3-runsvdir", 500);
    let worker = b.pid("worker");
    let runsvdir = b.runsvdir.as_mut().unwrap();
    runsvdir.signal(libc::SIGKILL);
    assert!(runsvdir.wait_timeout(Duration::from_secs(10)).is_some(), "runsvdir survived SIGKILL");
    assert!(harness::supervised(&b.svc("worker")), "the runsv processes outlive runsvdir");
    let down = b.ok(&["down"]);
    assert!(down.stdout.contains("stopped: ") && down.stdout.contains("worker"), "{}", down.stdout);
    assert!(down.stdout.contains("killed: stubborn\n"), "{}", down.stdout);
    let wlog = b.log("worker");
    assert!(wlog.contains("event=draining") && wlog.contains("event=stop"), "graceful stop: {wlog}");
    assert!(wlog.contains("./run exited: code 0 status 0"), "runsv ran ./finish: {wlog}");
    assert!(!alive(worker as i32));
    assert!(runsv_pids(&b.root).is_empty(), "runsv left running");
    b.assert_clean();
    assert!(b.runsvdir.as_ref().unwrap().tagged_pids().is_empty(), "a process survived down");
}

/// A stage-3-like sequence: runsvdir and every runsv killed with SIGKILL
/// (a stage 2 killed with its process group), the services and their
/// loggers left running. `down` stops the services itself (the stop
/// signal to the group, escalated to KILL for the TERM-ignoring one), the
/// loggers write everything and exit at end of input, and the box is clean.
#[test]
fn down_in_stage_3_after_the_supervision_tree_was_killed() {
    let mut b = BootBox::stop_test("stage3-tree", 500);
    let (worker, stubborn) = (b.pid("worker") as i32, b.pid("stubborn") as i32);
    let loggers = [logger_pid(&b, "worker"), logger_pid(&b, "stubborn")];
    let runsvdir = b.runsvdir.as_mut().unwrap();
    runsvdir.signal(libc::SIGKILL);
    assert!(runsvdir.wait_timeout(Duration::from_secs(10)).is_some(), "runsvdir survived SIGKILL");
    let supervisors = runsv_pids(&b.root);
    assert_eq!(supervisors.len(), 2, "one runsv per service");
    supervisors.iter().for_each(|&p| kill(p));
    wait_until(Duration::from_secs(10), "runsv gone", || {
        supervisors.iter().all(|&p| !alive(p)) && !harness::supervised(&b.svc("worker"))
    });
    for p in [worker, stubborn].iter().chain(&loggers) {
        assert!(alive(*p), "{p} ({:?}) should outlive its runsv", cmdline(*p as u32));
    }

    let t = Instant::now();
    let down = b.ok(&["down"]);
    assert!(down.stdout.contains("stopped: ") && down.stdout.contains("worker"), "{}", down.stdout);
    assert!(down.stdout.contains("killed: stubborn\n"), "{}", down.stdout);
    // KILL only after the 2 s stop timeout: boot itself sent the TERM after
    // `t` and the KILL before `down` returned, so a correct boot takes at
    // least 2 s whatever the load (slowness only adds). How long `down` may
    // take is bounded by the harness's deadline, not asserted.
    assert!(t.elapsed() >= Duration::from_secs(2), "KILL before the stop timeout: {:?}", t.elapsed());
    // boot, not runsv, delivered the stop signal: the TERM reached the
    // service (its handler logged it; it is gone below, and `killed:`
    // says boot had to KILL it). No runsv, so no `./finish` line.
    assert!(b.log("stubborn").contains("stubborn: got TERM"), "{}", b.log("stubborn"));
    for p in [worker, stubborn].iter().chain(&loggers) {
        assert!(!alive(*p), "{p} still runs after down");
    }
    // The worker got its stop signal (it drained), and its logger wrote
    // every line before it exited at end of input.
    let wlog = b.log("worker");
    assert!(wlog.contains("event=draining") && wlog.contains("event=stop"), "graceful stop: {wlog}");
    b.assert_clean();
    assert!(b.runsvdir.as_ref().unwrap().tagged_pids().is_empty(), "a process survived down");
}
