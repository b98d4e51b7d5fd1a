//! Differential tests: the same svlogd scenario against our svlogd and
//! Debian's C svlogd (/usr/bin/svlogd), comparing exit codes, standard
//! error and the resulting log directories (file names, modes and
//! contents, with timestamps masked). Each test fails with a hint when
//! Debian's runit is not installed (tests/run installs it).
#![allow(clippy::unwrap_used)]

#[path = "svlogd_util/mod.rs"]
mod util;

use harness::{Scratch, ours, require_c};
use std::path::Path;
use util::{describe, feed, logdir, mask};

/// Runs `scenario` with each svlogd in its own scratch directory and
/// asserts that both describe the same outcome.
fn same(name: &str, scenario: impl Fn(&Path, &Path) -> String) {
    let c = require_c!("svlogd");
    let ours = ours("svlogd");
    let (s1, s2) = (Scratch::new(&format!("{name}-c")), Scratch::new(&format!("{name}-rs")));
    let theirs = scenario(&c, s1.path());
    let mine = scenario(&ours, s2.path());
    if std::env::var_os("SVLOGD_DIFF_SHOW").is_some() {
        eprintln!("--- {name}\n{mine}");
    }
    assert_eq!(mine, theirs, "scenario {name}: ours (left) differs from Debian's svlogd (right)");
}

/// One run on `input` with `args` and one directory `d` with `config`.
fn one_dir(
    args: &'static [&'static str],
    config: Option<&'static str>,
    input: &'static [u8],
) -> impl Fn(&Path, &Path) -> String {
    move |bin, root| {
        let d = logdir(root, "d", config);
        let mut all: Vec<&str> = args.to_vec();
        all.push("d");
        let r = feed(bin, &all, root, input);
        format!("exit {:?}\nstderr:\n{}\n{}", r.code, mask(r.stderr.as_bytes()), describe(&d))
    }
}

#[test]
fn lines_and_the_final_partial_line() {
    same("partial", one_dir(&[], None, b"one\ntwo\n\n   spaced  \npartial"));
}

#[test]
fn timestamps() {
    same("t", one_dir(&["-t"], None, b"a\nb\n"));
    same("tt", one_dir(&["-tt"], None, b"a\nb\n"));
    same("ttt", one_dir(&["-ttt"], None, b"a\nb\n"));
    same("tttt", one_dir(&["-tttt"], None, b"a\n"));
}

#[test]
fn replacement() {
    same("r", one_dir(&["-r", ":", "-R", "fb"], None, b"foo\nbar\nbaz\n"));
    same("r-only", one_dir(&["-r", "."], None, b"tab\there\nhigh\xe9\x01\x7f~\n"));
    same("R-only", one_dir(&["-R", "a"], None, b"banana\tx\n"));
}

#[test]
fn long_lines() {
    same("long", one_dir(&["-l", "10"], None, b"short\n0123456789abcdef\n0123456789\nxyz\n"));
    same("long-eof", one_dir(&["-l", "10"], None, b"one\n0123456789abcdefghijkl"));
    same("exact-eof", one_dir(&["-l", "10"], None, b"one\n0123456789"));
}

fn lines(n: usize, len: usize) -> Vec<u8> {
    (0..n).flat_map(|i| format!("{:0w$}\n", i, w = len - 1).into_bytes()).collect()
}

#[test]
fn rotation_by_size_and_count() {
    let input: &'static [u8] = lines(30, 19).leak();
    same("s100", one_dir(&["-l", "20", "-b", "50"], Some("s100\n"), input));
    same("s100n3", one_dir(&["-l", "20", "-b", "50"], Some("s100\nn3\n"), input));
    let input: &'static [u8] = lines(20, 30).leak();
    same("s100-default-len", one_dir(&[], Some("s100\n"), input));
    same("s100-len100", one_dir(&["-l", "100", "-b", "200"], Some("s100\n"), input));
    same("s1k", one_dir(&[], Some("s1k\nn2\n"), lines(12, 100).leak()));
}

#[test]
fn patterns_stderr_and_prefix() {
    let input = b"xx drop yy\nkeep drop\nother\nhttpd: info: pid 42 accepted\n";
    same("select", one_dir(&[], Some("-*drop*\n+keep*\n-*pid*\n"), input));
    same("select2", one_dir(&[], Some("-*: *: pid *\n"), input));
    same("stderr", one_dir(&["-l", "8"], Some("e*\nE*drop*\n"), input));
    same("prefix", one_dir(&["-t"], Some("p>> \ne*\n"), input));
    same("final-single-char", one_dir(&[], Some("-*\n+"), b"a\n\nb\n"));
    same("final-line", one_dir(&[], Some("-*\n+a"), b"a\n\nb\n"));
    same("nul", one_dir(&[], Some("-*\n+a\0b\n"), b"a\nab\n"));
}

#[test]
fn malformed_config_lines() {
    let cfg = "u1.2.3\nu127.0.0.1:abc\nU 1.2.3.4\nzzz unknown\n# comment\n\ns 100\n";
    same("bad-udp", one_dir(&[], Some(cfg), b"line\n"));
}

#[test]
fn udp_failure_is_logged_in_the_directory() {
    // Sending to the broadcast address without SO_BROADCAST fails.
    same("udp-fail", one_dir(&["-l", "3"], Some("u255.255.255.255\n"), b"hi\nthere\n"));
    same("udp-only-fail", one_dir(&["-l", "3"], Some("U255.255.255.255\np>>\n"), b"hi\nthere\n"));
}

#[test]
fn processor_and_state() {
    let cfg = "s100\n!cat; echo st >&5; cat <&4\n";
    same("processor", one_dir(&["-l", "20", "-b", "50"], Some(cfg), lines(12, 19).leak()));
}

#[test]
fn processor_failure_is_retried() {
    // Fails once (leaving a flag file), then succeeds.
    let cfg = "s100\n!if test -f flag; then tr 0 o; else touch flag; exit 3; fi\n";
    same("processor-retry", one_dir(&["-l", "20", "-b", "50"], Some(cfg), lines(6, 19).leak()));
}

#[test]
fn unclean_current_becomes_u() {
    same("unclean", |bin, root| {
        let d = logdir(root, "d", None);
        std::fs::write(d.join("current"), "old\n").unwrap();
        harness::chmod(d.join("current"), 0o644);
        let r = feed(bin, &["d"], root, b"new\n");
        format!("{:?} {}\n{}", r.code, r.stderr, describe(&d))
    });
    same("clean-append", |bin, root| {
        let d = logdir(root, "d", None);
        std::fs::write(d.join("current"), "old\n").unwrap();
        harness::chmod(d.join("current"), 0o744);
        let r = feed(bin, &["-v", "d"], root, b"new\n");
        format!("{:?} {}\n{}", r.code, r.stderr, describe(&d))
    });
}

#[test]
fn several_directories() {
    same("multi", |bin, root| {
        let a = logdir(root, "a", Some("-*b*\n"));
        let b = logdir(root, "b", Some("p[b] \n"));
        let r = feed(bin, &["-v", "a", "b"], root, b"abc\nxyz\n");
        format!("{:?} {}\n{}\n{}", r.code, r.stderr, describe(&a), describe(&b))
    });
}

#[test]
fn unusable_directories() {
    same("missing", |bin, root| {
        let r = feed(bin, &["nonexistent"], root, b"x\n");
        format!("{:?} {}", r.code, r.stderr)
    });
    same("file", |bin, root| {
        std::fs::write(root.join("afile"), "").unwrap();
        let r = feed(bin, &["afile"], root, b"x\n");
        format!("{:?} {}", r.code, r.stderr)
    });
    same("twice", |bin, root| {
        let d = logdir(root, "d", None);
        let r = feed(bin, &["d", "d"], root, b"x\n");
        format!("{:?} {}\n{}", r.code, r.stderr, describe(&d))
    });
    same("skip-bad", |bin, root| {
        let d = logdir(root, "d", None);
        let r = feed(bin, &["nope", "d"], root, b"x\n");
        format!("{:?} {}\n{}", r.code, r.stderr, describe(&d))
    });
}

#[test]
fn usage_errors() {
    for args in [&[][..], &["-x", "d"], &["-r", "ab", "d"], &["-l", "2000", "d"], &["-l"], &["-t"]] {
        same("usage", |bin, root| {
            logdir(root, "d", None);
            let r = feed(bin, args, root, b"");
            format!("{:?} {}", r.code, r.stderr)
        });
    }
}

#[test]
fn version_prints_an_id_then_usage() {
    same("version", |bin, root| {
        let r = feed(bin, &["-V", "d"], root, b"");
        let (id, rest) = r.stderr.split_once('\n').unwrap_or_default();
        assert!(id.starts_with("$Id: ") && id.ends_with(" $"), "{id:?}");
        format!("{:?} {}", r.code, rest)
    });
}

#[test]
fn processor_descriptors_and_signals() {
    // The processor's open descriptors are runit's protocol: 0, 1, 2, 4, 5
    // (plus those the shell opens itself), and its signal state is C
    // svlogd's.
    // (The shell's own mask changes while it waits for a command, so the
    // signal state is read by a program it execs.)
    let cfg = "!cat >/dev/null; cd /proc/$$/fd && echo *; exec grep -E '^Sig(Blk|Ign)' /proc/self/status\n";
    same("processor-fds", |bin, root| {
        let d = logdir(root, "d", Some(cfg));
        let mut l = util::Live::start(bin, &["d"], root);
        l.write(b"x\n");
        harness::wait_until(util::DEADLINE, "current", || harness::read(d.join("current")) == "x\n");
        l.signal(libc::SIGALRM);
        let done = harness::wait_for(util::DEADLINE, || {
            let v = util::old_files(&d);
            (v.len() == 1 && v[0].ends_with(".s")).then_some(v)
        });
        l.close_input();
        assert_eq!(l.wait(), Some(0));
        format!("{done:?}\n{}", describe(&d)).replace(&done.map(|v| v[0].clone()).unwrap_or_default(), "@X.s")
    });
}

/// SIGTERM in the middle of a line: the line is completed from the pipe and
/// dropped; in the middle of a cut line's tail, the tail is completed and
/// written.
#[test]
fn term_during_partial_lines() {
    for (args, first, rest) in [
        (&["-v", "d"][..], &b"l1\nabc"[..], &b"def\nghi\n"[..]),
        (&["-v", "-l", "5", "d"], b"l1\nabcdefghij", b"XYZ\nghi\n"),
    ] {
        same("term-partial", |bin, root| {
            let d = logdir(root, "d", None);
            let mut l = util::Live::start(bin, args, root);
            l.write(first);
            harness::wait_until(util::DEADLINE, "first line", || {
                harness::read(d.join("current")).starts_with("l1\n")
            });
            l.signal(libc::SIGTERM);
            harness::wait_until(util::DEADLINE, "sigterm", || l.stderr().contains("sigterm received."));
            l.write(rest);
            let code = l.wait();
            format!("{code:?} {}\n{}", l.stderr(), describe(&d))
        });
    }
}

#[test]
fn udp_datagrams() {
    same("udp", |bin, root| {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(util::DEADLINE)).unwrap();
        let port = rx.local_addr().unwrap().port();
        let d = logdir(root, "d", Some(&format!("u127.0.0.1:{port}\np<p>\n-*skip*\n")));
        let r = feed(bin, &["-t", "-l", "10", "d"], root, b"hello\nskip me\n0123456789abcdef\nbye\n");
        let mut got = String::new();
        let mut buf = [0u8; 2048];
        for _ in 0..3 {
            let n = rx.recv(&mut buf).expect("datagram");
            got.push_str(&mask(&buf[..n]));
        }
        format!("{:?}\n{got}\n{}", r.code, describe(&d))
    });
}

/// `t1`: an idle, non-empty current is rotated; SIGHUP re-reads config
/// (here dropping `t`); SIGALRM rotates a non-empty current. Verbose
/// messages are compared too.
#[test]
fn time_alarm_and_hangup() {
    same("t-alrm-hup", |bin, root| {
        let d = logdir(root, "d", Some("t1\n"));
        let mut l = util::Live::start(bin, &["-v", "d"], root);
        l.write(b"idle\n");
        util::wait_old_files(&d, 1);
        std::fs::write(d.join("config"), "pH:\n").unwrap();
        l.signal(libc::SIGHUP);
        harness::wait_until(util::DEADLINE, "reread", || l.stderr().matches("read: d/config").count() == 2);
        l.write(b"alarm\n");
        harness::wait_until(util::DEADLINE, "alarm line", || harness::read(d.join("current")) == "H:alarm\n");
        l.signal(libc::SIGALRM);
        util::wait_old_files(&d, 2);
        l.write(b"after\n");
        l.close_input();
        let code = l.wait();
        format!("{code:?}\n{}\n{}", mask(l.stderr().as_bytes()), describe(&d))
    });
}

#[test]
fn unwritable_directory() {
    if !harness::is_root() {
        eprintln!("skipped: needs root to run svlogd as another user");
        return;
    }
    same("unwritable", |bin, root| {
        harness::chmod(root, 0o755);
        let d = logdir(root, "d", None);
        harness::chmod(&d, 0o755);
        let mut cmd = std::process::Command::new(bin);
        std::os::unix::process::CommandExt::uid(&mut cmd, 65534);
        let r = harness::run(cmd.arg("d").current_dir(root), util::DEADLINE);
        format!("{:?} {}", r.code, r.stderr)
    });
}
