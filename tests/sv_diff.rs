//! Differential tests: Debian's C `sv` (2.1.2) and ours run the same
//! scenarios and must print the same bytes (pids and second counts
//! normalised) with the same exit codes — against Debian's runsv and
//! against ours, which makes up the interop matrix (C sv x our runsv, our
//! sv x C runsv, ours x ours). Where 2.1.2 and 2.3.0 differ we follow
//! 2.3.0, and the tests at the end assert each difference explicitly.
//! Every test fails with a hint when Debian's runit is not installed.
#![allow(clippy::unwrap_used)]

mod sv_fixture;

use harness::{Outcome, require_c, wait_until};
use std::path::{Path, PathBuf};
use sv_fixture::*;

/// Runs `args` with both sv binaries (concurrently) and returns (C, ours).
fn both(t: &Tree, c_sv: &Path, args: &[&str], env: &[(&str, &str)]) -> (Outcome, Outcome) {
    std::thread::scope(|s| {
        let c = s.spawn(|| t.sv_env(c_sv, args, env));
        let ours = t.sv_env(&our_sv(), args, env);
        (c.join().unwrap(), ours)
    })
}

#[track_caller]
fn assert_same(what: &str, c: &Outcome, ours: &Outcome) {
    assert_eq!(
        (ours.code, normalize(&ours.stdout), ours.stderr.as_str()),
        (c.code, normalize(&c.stdout), c.stderr.as_str()),
        "{what}: ours (left) differs from C sv (right)\nraw ours: {ours:?}\nraw C: {c:?}"
    );
}

/// Every command word sv knows, with some first-letter aliases.
const WORDS: [&str; 35] = [
    "status",
    "s",
    "up",
    "upfoo",
    "down",
    "once",
    "pause",
    "cont",
    "hup",
    "alarm",
    "interrupt",
    "quit",
    "1",
    "2",
    "term",
    "kill",
    "exit",
    "e",
    "start",
    "stop",
    "reload",
    "restart",
    "shutdown",
    "try-restart",
    "check",
    "force-stop",
    "force-reload",
    "force-restart",
    "force-shutdown",
    "D",
    "T",
    "X",
    "E",
    "bogus",
    "restartx",
];

/// Option sets every word is tried with.
const VARIANTS: [&[&str]; 3] = [&[], &["-v"], &["-w", "20"]];

/// Runs every word with every variant against two identical trees of
/// running services (one per sv), in normal or LSB mode, and compares.
/// Each word gets its own service pair and runs its variants in order on
/// it (both sides see the same sequence, so their states stay alike).
fn every_command(runsv: &Path, lsb: bool) {
    let c_sv = require_c!("sv");
    let mut c_tree = Tree::new("sv-diff-c");
    let mut our_tree = Tree::new("sv-diff-ours");
    let name = |i: usize| format!("s{i}");
    for t in [&mut c_tree, &mut our_tree] {
        for i in 0..WORDS.len() {
            t.service(&name(i), RUN_STUBBORN);
            t.start(runsv, &name(i));
        }
    }
    for t in [&c_tree, &our_tree] {
        for i in 0..WORDS.len() {
            wait_sleeping(&t.dir(&name(i)));
            // `t` and `o` compare whole seconds with sv's start.
            t.age(&name(i), 1);
        }
    }
    std::thread::scope(|s| {
        for (i, word) in WORDS.iter().enumerate() {
            let (c_tree, our_tree, c_sv) = (&c_tree, &our_tree, &c_sv);
            s.spawn(move || {
                let svc = name(i);
                for variant in VARIANTS {
                    let run_one = |t: &Tree, bin: &Path| {
                        let mut args: Vec<&str> = variant.to_vec();
                        args.push(word);
                        if lsb {
                            t.sv(&t.lsb(&svc, bin), &args)
                        } else {
                            args.push(&svc);
                            t.sv(bin, &args)
                        }
                    };
                    let (c, ours) = std::thread::scope(|s2| {
                        let c = s2.spawn(|| run_one(c_tree, c_sv));
                        let ours = run_one(our_tree, &our_sv());
                        (c.join().unwrap(), ours)
                    });
                    let what = format!("{} {variant:?} {word} (lsb: {lsb})", runsv.display());
                    assert_same(&what, &c, &ours);
                }
            });
        }
    });
}

#[test]
fn every_command_with_c_runsv() {
    let runsv = require_c!("runsv");
    every_command(&runsv, false);
}

#[test]
fn every_command_with_c_runsv_lsb() {
    let runsv = require_c!("runsv");
    every_command(&runsv, true);
}

#[test]
fn every_command_with_our_runsv() {
    every_command(&harness::ours("runsv"), false);
}

#[test]
fn every_command_with_our_runsv_lsb() {
    every_command(&harness::ours("runsv"), true);
}

/// Service directories in every state sv can report, under one runsv kind.
fn zoo(runsv: &Path) -> (Tree, Vec<FakeRunsv>) {
    let mut t = Tree::new("sv-diff-zoo");
    t.service("run", RUN);
    t.service("downfile", RUN);
    harness::write(t.dir("downfile/down"), "");
    t.service("web", RUN);
    t.with_log("web");
    t.service("weblogdown", RUN);
    t.with_log("weblogdown");
    harness::write(t.dir("weblogdown/log/down"), "");
    t.service("paused", RUN);
    t.service("ignoreterm", RUN_IGNORING_TERM);
    t.service("lateLog", RUN);
    for n in ["run", "web", "weblogdown", "paused", "ignoreterm", "lateLog"] {
        t.start_running(runsv, n);
    }
    t.start(runsv, "downfile");
    wait_until(PATIENT, "web's log", || harness::status_of(&t.dir("web"), true).is_some_and(|s| s.pid != 0));
    harness::control(&t.dir("paused"), "p");
    harness::control(&t.dir("ignoreterm"), "d");
    wait_until(PATIENT, "paused", || harness::status_of(&t.dir("paused"), false).is_some_and(|s| s.paused));
    wait_until(PATIENT, "TERMed", || {
        harness::status_of(&t.dir("ignoreterm"), false).is_some_and(|s| s.got_term)
    });
    std::fs::create_dir(t.dir("lateLog/log")).unwrap();
    // Directories without a (live) runsv.
    std::fs::create_dir(t.dir("bare")).unwrap();
    harness::write(t.dir("afile"), "");
    std::fs::create_dir_all(t.dir("stale/supervise")).unwrap();
    runit_core::supervise::mkfifo(&t.dir("stale/supervise/ok"), 0o600).unwrap();
    std::fs::create_dir_all(t.dir("logfile")).unwrap();
    let fakes = vec![
        FakeRunsv::new(&t.dir("short"), b"abc"),
        FakeRunsv::new(&t.dir("wantup"), &record(3, 0, false, b'u', false, 0)),
        FakeRunsv::new(&t.dir("finish"), &record(8, 4321, false, b'd', false, 2)),
        FakeRunsv::new(&t.dir("odd"), &record(5, 1234, true, b'd', true, 7)),
        FakeRunsv::new(&t.dir("stalepid"), &record(2, 99, true, b'd', false, 0)),
        FakeRunsv::new(&t.dir("logfile"), &record(2, 0, false, b'd', false, 0)),
    ];
    harness::write(t.dir("logfile/log"), "");
    harness::write(t.dir("finish/down"), "");
    std::os::unix::fs::symlink("down", t.dir("odd/down")).unwrap();
    // A log whose supervise/ok is stale (no runsv reads it).
    std::fs::create_dir_all(t.dir("stalepid/log/supervise")).unwrap();
    runit_core::supervise::mkfifo(&t.dir("stalepid/log/supervise/ok"), 0o600).unwrap();
    (t, fakes)
}

const ZOO: [&str; 18] = [
    "run",
    "downfile",
    "web",
    "weblogdown",
    "paused",
    "ignoreterm",
    "lateLog",
    "bare",
    "afile",
    "stale",
    "short",
    "wantup",
    "finish",
    "odd",
    "stalepid",
    "logfile",
    "nosuch",
    "",
];

fn status_everywhere(runsv: &Path) {
    let c_sv = require_c!("sv");
    let (t, _fakes) = zoo(runsv);
    let mut args = vec!["status"];
    args.extend(ZOO);
    let (c, ours) = both(&t, &c_sv, &args, &[]);
    assert_same("status of the zoo", &c, &ours);
    assert!(ours.stdout.lines().count() >= ZOO.len(), "{ours:?}");
    // Names as typed, relative forms.
    let (c, ours) = both(&t, &c_sv, &["s", "./svc/run", "svc/web/", "../nowhere", "/"], &[]);
    assert_same("status by path", &c, &ours);
    // One at a time too (exit codes per service).
    for name in ZOO {
        let (c, ours) = both(&t, &c_sv, &["status", name], &[]);
        assert_same(&format!("status {name}"), &c, &ours);
    }
}

#[test]
fn status_lines_match_with_c_runsv() {
    status_everywhere(&require_c!("runsv"));
}

#[test]
fn status_lines_match_with_our_runsv() {
    status_everywhere(&harness::ours("runsv"));
}

/// Services with the health files of runit-rs's runsv (docs/health.md):
/// readiness declared (ready, still starting), a restart policy backing
/// off or given up. The default status lines stay runit's: the same as
/// Debian's sv prints for them, one by one (LSB exit codes included) and
/// all together.
#[test]
fn status_lines_match_on_services_with_health_files() {
    let c_sv = require_c!("sv");
    let ours = harness::ours("runsv");
    let mut t = Tree::new("sv-diff-health");
    let crash = "exit 1\n";
    let services: [(&str, &str, &str, &str); 5] = [
        ("ready", "echo >&3\nexec sleep 1000\n", "notification-fd", "3\n"),
        ("starting", RUN, "notification-fd", "3\n"),
        ("socket", RUN, "notify-socket", ""),
        ("backoff", crash, "restart-policy", "backoff 60 120\n"),
        ("failed", crash, "restart-policy", "give-up 1 60\n"),
    ];
    for (name, run, file, text) in services {
        t.service(name, run);
        harness::write(t.dir(name).join(file), text);
    }
    t.with_log("socket");
    for (name, ..) in services {
        t.start(&ours, name);
    }
    let state = |name: &str| runit_core::health::read(&t.dir(name)).map(|h| h.state.word());
    for (name, want) in [
        ("ready", "ready"),
        ("starting", "starting"),
        ("socket", "starting"),
        ("backoff", "backoff"),
        ("failed", "failed"),
    ] {
        wait_until(PATIENT, &format!("{name} {want}"), || state(name) == Some(want));
    }
    wait_until(PATIENT, "log up", || harness::status_of(&t.dir("socket"), true).is_some_and(|s| s.pid != 0));
    let names: Vec<&str> = services.iter().map(|s| s.0).collect();
    let mut args = vec!["status"];
    args.extend(&names);
    let (c, ours) = both(&t, &c_sv, &args, &[]);
    assert_same("status of services with health files", &c, &ours);
    assert_eq!(
        normalize(&ours.stdout),
        "run: ready: (pid N) Ns\nrun: starting: (pid N) Ns\nrun: socket: (pid N) Ns; run: log: (pid N) Ns\n\
         down: backoff: Ns, normally up, want up\ndown: failed: Ns, normally up\n"
    );
    for name in names {
        let (c, ours) = both(&t, &c_sv, &["status", name], &[]);
        assert_same(&format!("status {name}"), &c, &ours);
        if ["starting", "backoff", "failed"].contains(&name) {
            let lsb = |bin: &Path| t.sv(&t.lsb(name, bin), &["status"]);
            assert_same(&format!("LSB status {name}"), &lsb(&c_sv), &lsb(&our_sv()));
        }
    }
}

#[test]
fn commands_on_broken_directories_match() {
    let c_sv = require_c!("sv");
    let (t, _fakes) = zoo(&harness::ours("runsv"));
    for name in ["bare", "afile", "stale", "short", "nosuch", ""] {
        for args in
            [&["up"][..], &["-v", "up"], &["exit"], &["-v", "x"], &["force-shutdown"], &["-w", "0", "check"]]
        {
            let mut a = args.to_vec();
            a.push(name);
            let (c, ours) = both(&t, &c_sv, &a, &[]);
            assert_same(&format!("{a:?}"), &c, &ours);
        }
    }
    // Several services: messages in order, failures counted.
    let (c, ours) = both(&t, &c_sv, &["-w", "1", "up", "bare", "run", "nosuch", "stale", "afile"], &[]);
    assert_same("mixed", &c, &ours);
    // A live "runsv" without a control FIFO.
    std::fs::remove_file(t.dir("wantup/supervise/control")).unwrap();
    for args in [&["up", "wantup"][..], &["down", "wantup"], &["-w", "0", "d", "wantup"]] {
        let (c, ours) = both(&t, &c_sv, args, &[]);
        assert_same(&format!("{args:?}"), &c, &ours);
    }
    // Timeouts on fake records: every line is the record as read.
    for args in
        [&["-w", "0", "down", "odd"][..], &["-w", "0", "once", "finish"], &["-w", "0", "T", "stalepid"]]
    {
        let (c, ours) = both(&t, &c_sv, args, &[]);
        assert_same(&format!("{args:?}"), &c, &ours);
    }
}

#[test]
fn trailing_slash_bug_matches() {
    let c_sv = require_c!("sv");
    for runsv in [require_c!("runsv"), harness::ours("runsv")] {
        let t = Tree::new("sv-diff-slash");
        let dir = t.scratch.join("foo");
        harness::script(dir.join("run"), &format!("#!/bin/sh\n{RUN_STUBBORN}"));
        let _p =
            harness::Proc::spawn_logging(std::process::Command::new(&runsv).arg(&dir), t.scratch.join("e"));
        wait_sleeping(&dir);
        for args in [&["-v", "up", "foo/"][..], &["-v", "hup", "foo/", "./foo"], &["status", "foo/"]] {
            let (c, ours) = both(&t, &c_sv, args, &[]);
            assert_same(&format!("{args:?}"), &c, &ours);
        }
    }
}

/// Extra environment variables of a scenario.
type Env<'a> = &'a [(&'a str, &'a str)];

#[test]
fn timeouts_and_kills_match() {
    let c_sv = require_c!("sv");
    let scenarios: [(&[&str], Env); 5] = [
        (&["-w", "3", "down"], &[]),
        (&["-w", "3", "force-stop"], &[]),
        (&["-v", "force-restart"], &[("SVWAIT", "3")]),
        (&["-w", "3", "shutdown"], &[]),
        (&["-w", "3", "force-shutdown"], &[]),
    ];
    let runsvs = [require_c!("runsv"), harness::ours("runsv")];
    // Each scenario waits 3 s: run them side by side.
    std::thread::scope(|s| {
        for runsv in &runsvs {
            for (args, env) in scenarios {
                let c_sv = &c_sv;
                s.spawn(move || {
                    let mut c_tree = Tree::new("sv-diff-to-c");
                    let mut our_tree = Tree::new("sv-diff-to-ours");
                    for t in [&mut c_tree, &mut our_tree] {
                        t.service("x", RUN_IGNORING_TERM);
                        t.start_running(runsv, "x");
                        t.age("x", 1);
                    }
                    let mut a = args.to_vec();
                    a.push("x");
                    let (c, ours) = std::thread::scope(|s2| {
                        let c = s2.spawn(|| c_tree.sv_env(c_sv, &a, env));
                        (c.join().unwrap(), our_tree.sv_env(&our_sv(), &a, env))
                    });
                    assert_same(&format!("{} {a:?}", runsv.display()), &c, &ours);
                    assert_eq!(ours.code, Some(1), "{ours:?}");
                });
            }
        }
    });
}

/// Commands run in order on one service: arguments, and whether stderr is
/// compared too.
type Steps<'a> = &'a [(&'a [&'a str], bool)];

#[test]
fn check_scripts_match() {
    let c_sv = require_c!("sv");
    // Per service, the commands run in order on it; `false`: compare only
    // exit code and stdout (how often a failing check runs, and so how
    // often its stderr appears, depends on the polling).
    let plan: [(&str, Steps); 3] = [
        // (A restart with a failing check times out in whatever state the
        // restart reached by then: tests/sv.rs covers it.)
        ("fails", &[(&["-w", "1", "check"], false), (&["-w", "1", "start"], false)]),
        ("noexec", &[(&["-w", "20", "restart"], true)]),
        ("passes", &[(&["-w", "20", "restart"], true), (&["-w", "20", "check"], true)]),
    ];
    let runsvs = [require_c!("runsv"), harness::ours("runsv")];
    std::thread::scope(|s| {
        for runsv in &runsvs {
            let c_sv = &c_sv;
            s.spawn(move || {
                let mut c_tree = Tree::new("sv-diff-chk-c");
                let mut our_tree = Tree::new("sv-diff-chk-ours");
                for t in [&mut c_tree, &mut our_tree] {
                    t.service("fails", RUN);
                    harness::script(t.dir("fails/check"), "#!/bin/sh\nexit 1\n");
                    t.service("noexec", RUN);
                    harness::write(t.dir("noexec/check"), "#!/bin/sh\nexit 1\n");
                    t.service("passes", RUN);
                    harness::script(t.dir("passes/check"), "#!/bin/sh\nexit 0\n");
                    for (n, _) in plan {
                        t.start_running(runsv, n);
                    }
                }
                for t in [&c_tree, &our_tree] {
                    for (n, _) in plan {
                        t.settle(n);
                    }
                }
                std::thread::scope(|s2| {
                    for (name, steps) in plan {
                        let (c_tree, our_tree) = (&c_tree, &our_tree);
                        s2.spawn(move || {
                            for (args, compare_stderr) in steps {
                                let mut a = args.to_vec();
                                a.push(name);
                                let (c, ours) = std::thread::scope(|s3| {
                                    let c = s3.spawn(|| c_tree.sv(c_sv, &a));
                                    (c.join().unwrap(), our_tree.sv(&our_sv(), &a))
                                });
                                let what = format!("{} {a:?}", runsv.display());
                                if *compare_stderr {
                                    assert_same(&what, &c, &ours);
                                } else {
                                    assert_eq!(
                                        (ours.code, normalize(&ours.stdout)),
                                        (c.code, normalize(&c.stdout)),
                                        "{what}"
                                    );
                                }
                            }
                        });
                    }
                });
            });
        }
    });
}

// --- Where Debian's 2.1.2 and 2.3.0 differ: assert each difference. -----

#[test]
fn check_command_follows_2_3_0() {
    let c_sv = require_c!("sv");
    let (t, _fakes) = zoo(&harness::ours("runsv"));
    // Down but wanted up: 2.1.2 says ok at once, 2.3.0 waits for up.
    let (c, ours) = both(&t, &c_sv, &["-w", "0", "check", "wantup"], &[]);
    assert_outcome(&c, 0, "ok: down: wantup: Ns, normally up, want up\n", "");
    assert_outcome(&ours, 1, "timeout: down: wantup: Ns, normally up, want up\n", "");
    // Running but wanted down: 2.1.2 runs ./check and says ok, 2.3.0 waits
    // for down.
    let (c, ours) = both(&t, &c_sv, &["-w", "0", "check", "ignoreterm"], &[]);
    assert_outcome(&c, 0, "ok: run: ignoreterm: (pid N) Ns, want down, got TERM\n", "");
    assert_outcome(&ours, 1, "timeout: run: ignoreterm: (pid N) Ns, want down, got TERM\n", "");
    // Agreement where both versions agree.
    for name in ["run", "downfile"] {
        let (c, ours) = both(&t, &c_sv, &["-w", "0", "check", name], &[]);
        assert_same(name, &c, &ours);
    }
}

#[test]
fn lsb_status_exit_comes_from_the_main_service_in_2_3_0() {
    let c_sv = require_c!("sv");
    for runsv in [require_c!("runsv"), harness::ours("runsv")] {
        let mut t = Tree::new("sv-diff-lsb");
        t.service("web", RUN);
        t.with_log("web");
        harness::write(t.dir("web/down"), "");
        t.start(&runsv, "web");
        wait_until(PATIENT, "log up", || harness::status_of(&t.dir("web"), true).is_some_and(|s| s.pid != 0));
        let lsb = |bin: &Path| t.sv(&t.lsb("web", bin), &["status"]);
        // Main down, log up: C (2.1.2) exits 0, 2.3.0 exits 3.
        let (c, ours) = (lsb(&c_sv), lsb(&our_sv()));
        assert_eq!((c.code, ours.code), (Some(0), Some(3)), "{c:?} {ours:?}");
        assert_eq!(normalize(&c.stdout), normalize(&ours.stdout));
        // Main up, log down: C exits 3, 2.3.0 exits 0.
        harness::control(&t.dir("web"), "u");
        wait_sleeping(&t.dir("web"));
        runit_core::supervise::send_control(&t.dir("web"), runit_core::supervise::Supervise::LOG, b"d")
            .unwrap();
        wait_until(PATIENT, "log down", || {
            harness::status_of(&t.dir("web"), true).is_some_and(|s| s.pid == 0)
        });
        let (c, ours) = (lsb(&c_sv), lsb(&our_sv()));
        assert_eq!((c.code, ours.code), (Some(3), Some(0)), "{c:?} {ours:?}");
        assert_eq!(normalize(&c.stdout), normalize(&ours.stdout));
    }
}

#[test]
fn version_string_differs_usage_does_not() {
    let c_sv = require_c!("sv");
    let t = Tree::new("sv-diff-v");
    let (c, ours) = both(&t, &c_sv, &["-V"], &[]);
    assert_eq!(c.code, ours.code);
    let tail = |s: &str| s.split_once('\n').map(|(_, r)| r.to_string()).unwrap_or_default();
    assert_eq!(tail(&c.stderr), tail(&ours.stderr));
    assert!(c.stderr.starts_with("$Id: ") && ours.stderr.starts_with("$Id: "));
    for args in [&[][..], &["-x"], &["-w"], &["status"], &["bogus", "x"], &["force-bogus", "x"]] {
        let (c, ours) = both(&t, &c_sv, args, &[]);
        assert_same(&format!("{args:?}"), &c, &ours);
    }
    let lsb_c = t.lsb("foo", &c_sv);
    let lsb_ours: PathBuf = t.lsb("foo", &our_sv());
    for args in [&[][..], &["stat"], &["bogus"], &["-x", "status"]] {
        let (c, ours) = (t.sv(&lsb_c, args), t.sv(&lsb_ours, args));
        assert_same(&format!("lsb {args:?}"), &c, &ours);
    }
}
