//! End-to-end tests of our svlogd: real processes in scratch directories,
//! named after the conformance items (spec conformance.md §H) and the
//! issue's bullets they pin. Differential checks against Debian's svlogd
//! are in `svlogd_diff.rs`.
#![allow(clippy::unwrap_used)]

#[path = "svlogd_util/mod.rs"]
mod util;

use harness::{Scratch, is_root, ours, read, wait_for, wait_until};
use std::fs;
use std::io::Read;
use std::net::UdpSocket;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use util::{DEADLINE, Live, feed, logdir, mode, old_files, wait_old_files};

fn svlogd() -> std::path::PathBuf {
    ours("svlogd")
}

fn numbered(n: usize, width: usize) -> Vec<u8> {
    (0..n).flat_map(|i| format!("{i:0width$}\n").into_bytes()).collect()
}

/// Waits until `path` reads exactly `want`.
fn wait_content(path: &Path, want: &str) {
    wait_until(DEADLINE, &format!("{} to read {want:?}", path.display()), || read(path) == want);
}

/// All rotated files then `current`, concatenated.
fn everything(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for f in old_files(dir) {
        all.extend(fs::read(dir.join(f)).unwrap());
    }
    all.extend(fs::read(dir.join("current")).unwrap_or_default());
    all
}

#[test]
fn item_127_final_partial_line_is_dropped() {
    let s = Scratch::new("svlogd-127");
    let d = logdir(s.path(), "d", None);
    let r = feed(&svlogd(), &["d"], s.path(), b"one\ntwo\npartial");
    assert_eq!(r.code, Some(0));
    assert_eq!(read(d.join("current")), "one\ntwo\n");
}

#[test]
fn item_128_current_is_0644_while_open_0744_after() {
    let s = Scratch::new("svlogd-128");
    let d = logdir(s.path(), "d", None);
    let mut l = Live::start(&svlogd(), &["d"], s.path());
    l.write(b"a\n");
    wait_content(&d.join("current"), "a\n");
    assert_eq!(mode(&d.join("current")), 0o644);
    assert_eq!(mode(&d.join("lock")), 0o600);
    l.close_input();
    assert_eq!(l.wait(), Some(0));
    assert_eq!(mode(&d.join("current")), 0o744);
}

#[test]
fn item_129_unclean_current_becomes_u() {
    let s = Scratch::new("svlogd-129");
    let d = logdir(s.path(), "d", None);
    fs::write(d.join("current"), "old\n").unwrap();
    harness::chmod(d.join("current"), 0o644);
    assert_eq!(feed(&svlogd(), &["d"], s.path(), b"new\n").code, Some(0));
    let old = old_files(&d);
    assert!(old[0].ends_with(".u") && old[0][1..25].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(read(d.join(&old[0])), "old\n");
    assert_eq!(mode(&d.join(&old[0])), 0o644);
    assert_eq!(read(d.join("current")), "new\n");
}

#[test]
fn item_130_second_run_appends() {
    let s = Scratch::new("svlogd-130");
    let d = logdir(s.path(), "d", None);
    feed(&svlogd(), &["d"], s.path(), b"first\n");
    feed(&svlogd(), &["d"], s.path(), b"second\n");
    assert_eq!(read(d.join("current")), "first\nsecond\n");
    assert!(old_files(&d).is_empty());
}

fn stamped(args: &[&str], env: &[(&str, &str)]) -> String {
    let s = Scratch::new("svlogd-131");
    let d = logdir(s.path(), "d", None);
    let mut all = args.to_vec();
    all.push("d");
    let mut l = Live::start_with(&svlogd(), &all, s.path(), |c| {
        for (k, v) in env {
            c.env(k, v);
        }
    });
    l.write(b"x\n");
    l.close_input();
    assert_eq!(l.wait(), Some(0));
    read(d.join("current"))
}

fn shape(text: &str, pattern: &str) -> bool {
    text.len() == pattern.len()
        && text.bytes().zip(pattern.bytes()).all(|(c, p)| match p {
            b'd' => c.is_ascii_digit(),
            b'h' => c.is_ascii_hexdigit() && !c.is_ascii_uppercase(),
            _ => c == p,
        })
}

#[test]
fn item_131_timestamps() {
    let t = stamped(&["-t"], &[]);
    assert!(shape(&t, "@hhhhhhhhhhhhhhhhhhhhhhhh x\n"), "{t:?}");
    // runit's nanosecond field always ends in 500.
    let nanos = u32::from_str_radix(&t[17..25], 16).unwrap();
    assert_eq!(nanos % 1000, 500, "{t:?}");
    let tt = stamped(&["-tt"], &[]);
    assert!(shape(&tt, "dddd-dd-dd_dd:dd:dd.ddddd x\n"), "{tt:?}");
    let ttt = stamped(&["-ttt"], &[]);
    assert!(shape(&ttt, "dddd-dd-ddTdd:dd:dd.ddddd x\n"), "{ttt:?}");
}

#[test]
fn rfc3339_timestamps_in_utc_and_local_time() {
    let utc = stamped(&["-T"], &[]);
    assert!(shape(&utc, "dddd-dd-ddTdd:dd:dd.ddddddZ x\n"), "{utc:?}");
    // POSIX TZ: "XYZ-5:30" is 5 h 30 min east of UTC.
    let local = stamped(&["-TT"], &[("TZ", "XYZ-5:30")]);
    assert!(shape(&local, "dddd-dd-ddTdd:dd:dd.dddddd+05:30 x\n"), "{local:?}");
    let west = stamped(&["-TT"], &[("TZ", "ABC+3")]);
    assert!(west.contains("-03:00 x\n"), "{west:?}");
}

#[test]
fn item_132_replacement() {
    let s = Scratch::new("svlogd-132");
    let d = logdir(s.path(), "d", None);
    feed(&svlogd(), &["-r", ":", "-R", "fb", "d"], s.path(), b"foo\nbar\nbaz\n");
    assert_eq!(read(d.join("current")), ":oo\n:ar\n:az\n");
    let e = logdir(s.path(), "e", None);
    feed(&svlogd(), &["-r", "_", "e"], s.path(), b"a\tb\xc3\xa9c\n");
    assert_eq!(read(e.join("current")), "a_b__c\n");
}

#[test]
fn item_133_rotation_sizes_and_counts() {
    let s = Scratch::new("svlogd-133");
    let d = logdir(s.path(), "d", Some("s100\n"));
    let input = numbered(30, 18);
    feed(&svlogd(), &["-l", "20", "-b", "50", "d"], s.path(), &input);
    let old = old_files(&d);
    assert!(old.len() >= 5, "{old:?}");
    for f in &old {
        let body = fs::read(d.join(f)).unwrap();
        assert!(body.len() <= 100 && body.ends_with(b"\n"), "{f}: {} bytes", body.len());
    }
    assert_eq!(everything(&d), input);
    let e = logdir(s.path(), "e", Some("s100\nn3\n"));
    feed(&svlogd(), &["-l", "20", "-b", "50", "e"], s.path(), &input);
    assert_eq!(old_files(&e).iter().filter(|f| f.ends_with(".s")).count(), 3);
}

#[test]
fn item_134_small_s_cuts_lines_or_isolates_them() {
    let s = Scratch::new("svlogd-134");
    let d = logdir(s.path(), "d", Some("s100\n"));
    let input = numbered(20, 29);
    feed(&svlogd(), &["d"], s.path(), &input);
    for f in old_files(&d) {
        assert_eq!(fs::metadata(d.join(&f)).unwrap().len(), 100, "{f}");
    }
    assert_eq!(everything(&d), input);
    let e = logdir(s.path(), "e", Some("s100\n"));
    feed(&svlogd(), &["-l", "100", "-b", "200", "e"], s.path(), &input);
    // One file per line; n10 keeps the last ten.
    let old = old_files(&e);
    assert_eq!(old.len(), 10);
    for (i, f) in old.iter().enumerate() {
        assert_eq!(read(e.join(f)), format!("{:029}\n", i + 10));
    }
}

#[test]
fn item_135_rotated_names_and_modes() {
    let s = Scratch::new("svlogd-135");
    let d = logdir(s.path(), "d", Some("s100\n"));
    feed(&svlogd(), &["d"], s.path(), &numbered(10, 50));
    let old = old_files(&d);
    assert!(!old.is_empty());
    for f in &old {
        assert!(shape(f, "@hhhhhhhhhhhhhhhhhhhhhhhh.s"), "{f}");
        assert_eq!(mode(&d.join(f)), 0o744);
    }
}

#[test]
fn item_136_t_rotates_an_idle_current() {
    let s = Scratch::new("svlogd-136");
    let d = logdir(s.path(), "d", Some("t2\n"));
    let mut l = Live::start(&svlogd(), &["d"], s.path());
    l.write(b"idle\n");
    wait_content(&d.join("current"), "idle\n");
    // Nothing more is written and no size limit is near: only the t2 age
    // limit can rotate the file (wait_old_files fails after its deadline).
    let old = wait_old_files(&d, 1);
    assert_eq!(read(d.join(&old[0])), "idle\n");
    assert_eq!(read(d.join("current")), "");
}

#[test]
fn item_137_alarm_rotates_non_empty_current_only() {
    let s = Scratch::new("svlogd-137");
    let d = logdir(s.path(), "d", None);
    let mut l = Live::start(&svlogd(), &["-v", "d"], s.path());
    l.write(b"a\n");
    wait_content(&d.join("current"), "a\n");
    l.signal(libc::SIGALRM);
    let old = wait_old_files(&d, 1);
    assert_eq!(read(d.join(&old[0])), "a\n");
    // An empty current is not rotated: once the alarm is seen and a later
    // line is written, there is still one old file.
    l.signal(libc::SIGALRM);
    wait_until(DEADLINE, "second alarm", || l.stderr().matches("sigalarm received.").count() == 2);
    l.write(b"b\n");
    wait_content(&d.join("current"), "b\n");
    assert_eq!(old_files(&d).len(), 1);
    l.close_input();
    assert_eq!(l.wait(), Some(0));
}

#[test]
fn item_138_hup_rereads_config() {
    let s = Scratch::new("svlogd-138");
    let d = logdir(s.path(), "d", Some("pA:\n"));
    let mut l = Live::start(&svlogd(), &["-v", "d"], s.path());
    l.write(b"one\n");
    wait_content(&d.join("current"), "A:one\n");
    fs::write(d.join("config"), "pB:\n").unwrap();
    l.signal(libc::SIGHUP);
    wait_until(DEADLINE, "config read again", || l.stderr().matches("read: d/config").count() == 2);
    l.write(b"two\n");
    wait_content(&d.join("current"), "A:one\nB:two\n");
    assert_eq!(mode(&d.join("current")), 0o644);
    l.close_input();
    assert_eq!(l.wait(), Some(0));
    assert!(l.stderr().contains("svlogd: info: close: d\n"));
}

#[test]
fn item_139_patterns_last_match_wins() {
    let s = Scratch::new("svlogd-139");
    let d = logdir(s.path(), "d", Some("-*drop*\n+keep*\n"));
    feed(&svlogd(), &["d"], s.path(), b"xx drop yy\nkeep drop\nplain\n");
    assert_eq!(read(d.join("current")), "keep drop\nplain\n");
}

#[test]
fn item_140_stderr_copy_is_cut_file_is_whole() {
    let s = Scratch::new("svlogd-140");
    let d = logdir(s.path(), "d", Some("e*\n"));
    let r = feed(&svlogd(), &["-l", "10", "d"], s.path(), b"short\n0123456789abcdef\n");
    assert_eq!(r.stderr, "short\n0123456789...\n");
    assert_eq!(read(d.join("current")), "short\n0123456789abcdef\n");
}

fn udp_receiver() -> (UdpSocket, u16) {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(DEADLINE)).unwrap();
    let port = rx.local_addr().unwrap().port();
    (rx, port)
}

fn datagram(rx: &UdpSocket) -> String {
    let mut buf = [0u8; 2048];
    let n = rx.recv(&mut buf).expect("a datagram");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[test]
fn items_141_142_prefix_and_udp() {
    let s = Scratch::new("svlogd-141");
    let (rx, port) = udp_receiver();
    let d = logdir(s.path(), "d", Some(&format!("u127.0.0.1:{port}\npP:\ne*\n")));
    let r = feed(&svlogd(), &["-t", "-l", "10", "d"], s.path(), b"hello\n0123456789abcdef\n");
    let (a, b) = (datagram(&rx), datagram(&rx));
    assert!(shape(&a[..26], "@hhhhhhhhhhhhhhhhhhhhhhhh ") && &a[26..] == "P:hello\n", "{a:?}");
    assert!(b.ends_with(" P:0123456789...\n"), "{b:?}");
    let file = read(d.join("current"));
    assert!(file.contains(" P:hello\n") && file.contains(" P:0123456789abcdef\n"), "{file:?}");
    assert!(r.stderr.contains(" P:hello\n") && r.stderr.contains(" P:0123456789...\n"), "{:?}", r.stderr);
    // U: datagrams only, nothing in the directory.
    let e = logdir(s.path(), "e", Some(&format!("U127.0.0.1:{port}\n")));
    feed(&svlogd(), &["e"], s.path(), b"only udp\n");
    assert_eq!(datagram(&rx), "only udp\n");
    assert_eq!(read(e.join("current")), "");
}

#[test]
fn item_143_processor_output_and_state() {
    let s = Scratch::new("svlogd-143");
    let cfg = "s100\n!echo \"fd4=$(cat <&4)\"; tr a-z A-Z; echo next >&5\n";
    let d = logdir(s.path(), "d", Some(cfg));
    let input: Vec<u8> = (0..12).flat_map(|i| format!("line number {i:02}...\n").into_bytes()).collect();
    feed(&svlogd(), &["-l", "20", "-b", "50", "d"], s.path(), &input);
    let old = old_files(&d);
    assert!(old.len() >= 2 && old.iter().all(|f| f.ends_with(".s")), "{old:?}");
    let first = read(d.join(&old[0]));
    assert!(first.starts_with("fd4=\nLINE NUMBER 00...\n"), "{first:?}");
    let second = read(d.join(&old[1]));
    assert!(second.starts_with("fd4=next\nLINE NUMBER"), "{second:?}");
    assert_eq!(read(d.join("state")), "next\n");
    assert!(!d.join("newstate").exists() || read(d.join("newstate")).is_empty());
    assert!(old.iter().all(|f| mode(&d.join(f)) == 0o744));
}

#[test]
fn processor_failure_is_retried_until_success() {
    let s = Scratch::new("svlogd-proc-retry");
    // Fails twice, then succeeds.
    let cfg = "s100\n!n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) >count; test $n -ge 2 && cat\n";
    let d = logdir(s.path(), "d", Some(cfg));
    let r = feed(&svlogd(), &["-l", "20", "-b", "50", "d"], s.path(), &numbered(6, 19));
    assert_eq!(
        r.stderr.matches("svlogd: warning: processor failed, restart: d\n").count(),
        2,
        "{}",
        r.stderr
    );
    let old = old_files(&d);
    assert!(old[0].ends_with(".s"));
    // 20-byte lines: s100 - len 20 is reached after four.
    assert_eq!(fs::read(d.join(&old[0])).unwrap(), numbered(4, 19));
}

#[test]
fn processor_survives_hup() {
    // runit 2.1.2 forgets a processor across SIGHUP and leaves .u and .t
    // behind; ours finishes it.
    let s = Scratch::new("svlogd-proc-hup");
    let d = logdir(s.path(), "d", Some("!sleep 1; cat\n"));
    let mut l = Live::start(&svlogd(), &["-v", "d"], s.path());
    l.write(b"x\n");
    wait_content(&d.join("current"), "x\n");
    l.signal(libc::SIGALRM);
    wait_until(DEADLINE, "processing", || l.stderr().contains("processing: d/@"));
    l.signal(libc::SIGHUP);
    let done = wait_for(DEADLINE, || {
        let v = old_files(&d);
        (v.len() == 1 && v[0].ends_with(".s")).then_some(v)
    });
    assert!(done.is_some(), "{:?}\n{}", old_files(&d), l.stderr());
    l.close_input();
    assert_eq!(l.wait(), Some(0));
}

#[test]
fn item_144_two_svlogd_on_one_directory() {
    let s = Scratch::new("svlogd-144");
    let d = logdir(s.path(), "d", None);
    let mut first = Live::start(&svlogd(), &["d"], s.path());
    first.write(b"a\n");
    wait_content(&d.join("current"), "a\n");
    let r = feed(&svlogd(), &["d"], s.path(), b"b\n");
    assert_eq!(r.code, Some(111));
    assert_eq!(
        r.stderr,
        "svlogd: warning: unable to lock directory: d: temporary failure\n\
         svlogd: fatal: no functional log directories.\n"
    );
    first.close_input();
    assert_eq!(first.wait(), Some(0));
    assert_eq!(read(d.join("current")), "a\n");
}

/// Starts svlogd on a pipe of which the test keeps a second read end, to
/// see what svlogd left in the pipe.
fn live_with_spare_reader(args: &[&str], cwd: &Path) -> (Live, OwnedFd) {
    let mut spare = None;
    let l = Live::start_with(&svlogd(), args, cwd, |_| {});
    // The read end is svlogd's stdin: reach it through /proc.
    let fd0 = format!("/proc/{}/fd/0", l.proc.pid());
    wait_until(DEADLINE, "svlogd's stdin", || {
        spare = fs::File::open(&fd0).ok().map(OwnedFd::from);
        spare.is_some()
    });
    (l, spare.expect("spare reader"))
}

fn drain_nonblocking(fd: OwnedFd) -> Vec<u8> {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on a descriptor we own.
    unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let mut f = fs::File::from(fd);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = f.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

#[test]
fn item_145_term_during_a_partial_line() {
    let s = Scratch::new("svlogd-145");
    let d = logdir(s.path(), "d", None);
    let (mut l, spare) = live_with_spare_reader(&["-v", "d"], s.path());
    l.write(b"l1\nabc");
    wait_content(&d.join("current"), "l1\n");
    l.signal(libc::SIGTERM);
    wait_until(DEADLINE, "sigterm seen", || l.stderr().contains("sigterm received."));
    l.write(b"def\nghi\n");
    assert_eq!(l.wait(), Some(0));
    assert_eq!(read(d.join("current")), "l1\n");
    // Nothing after the line's newline was taken from the pipe.
    assert_eq!(drain_nonblocking(spare), b"ghi\n");
}

#[test]
fn term_during_a_long_line_writes_its_tail() {
    let s = Scratch::new("svlogd-term-tail");
    let d = logdir(s.path(), "d", None);
    let (mut l, spare) = live_with_spare_reader(&["-v", "-l", "5", "d"], s.path());
    l.write(b"l1\nabcdefghijklmn");
    wait_content(&d.join("current"), "l1\nabcdefghijklmn");
    l.signal(libc::SIGTERM);
    wait_until(DEADLINE, "sigterm seen", || l.stderr().contains("sigterm received."));
    l.write(b"XYZ\nghi\n");
    assert_eq!(l.wait(), Some(0));
    assert_eq!(read(d.join("current")), "l1\nabcdefghijklmnXYZ\n");
    assert_eq!(drain_nonblocking(spare), b"ghi\n");
}

#[test]
fn term_between_lines_exits_at_once() {
    let s = Scratch::new("svlogd-term");
    let d = logdir(s.path(), "d", None);
    let mut l = Live::start(&svlogd(), &["d"], s.path());
    l.write(b"a\nb\n");
    wait_content(&d.join("current"), "a\nb\n");
    l.signal(libc::SIGTERM);
    assert_eq!(l.wait(), Some(0));
    assert_eq!(mode(&d.join("current")), 0o744);
}

#[test]
fn no_line_lost_across_fifty_rotations() {
    let s = Scratch::new("svlogd-50");
    let d = logdir(s.path(), "d", Some("s2000\nn0\n"));
    let p = logdir(s.path(), "p", Some("s4000\nn0\n!cat\n"));
    let mut l = Live::start(&svlogd(), &["d", "p"], s.path());
    let input = numbered(6000, 19);
    // The writer thread ends (closing svlogd's input) once all is written.
    let feeder = writer(&mut l, &input);
    // Each of the ~85 rotations syncs a file: allow for a busy disk.
    assert_eq!(l.wait_within(Duration::from_secs(60)), Some(0));
    feeder.join().unwrap();
    assert!(old_files(&d).len() >= 50, "{}", old_files(&d).len());
    assert_eq!(everything(&d), input);
    assert!(old_files(&p).iter().all(|f| f.ends_with(".s")));
    assert_eq!(everything(&p), input);
}

#[test]
fn standard_output_copy() {
    let s = Scratch::new("svlogd-stdout");
    let d = logdir(s.path(), "d", Some("-*\n"));
    let r = feed(&svlogd(), &["-o", "-tt", "-l", "4", "d"], s.path(), b"one\nlong line\n");
    let out = String::from_utf8_lossy(&r.stdout).into_owned();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out:?}");
    assert!(shape(&lines[0][..26], "dddd-dd-dd_dd:dd:dd.ddddd ") && lines[0].ends_with(" one"));
    assert!(lines[1].ends_with(" long line"));
    assert_eq!(read(d.join("current")), "");
}

#[test]
fn standard_output_going_away_does_not_stop_logging() {
    let s = Scratch::new("svlogd-stdout-gone");
    let d = logdir(s.path(), "d", None);
    let (r, w) = harness::runit_core::selfpipe::pipe(libc::O_CLOEXEC).unwrap();
    drop(r);
    let mut l = Live::start_with(&svlogd(), &["-o", "d"], s.path(), |c| {
        c.stdout(std::process::Stdio::from(w));
    });
    l.write(b"a\nb\n");
    l.close_input();
    assert_eq!(l.wait(), Some(0));
    assert_eq!(read(d.join("current")), "a\nb\n");
    assert!(l.stderr().contains("svlogd: warning: unable to write to standard output: broken pipe"));
}

#[test]
fn memory_stays_bounded_on_a_huge_line() {
    let s = Scratch::new("svlogd-huge");
    let d = logdir(s.path(), "d", Some("s0\n"));
    let mut l = Live::start(&svlogd(), &["d"], s.path());
    let mut end = l.take_input();
    let feeder = std::thread::spawn(move || {
        use std::io::Write;
        let chunk = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            end.write_all(&chunk).unwrap();
        }
        end
    });
    let pid = l.proc.pid();
    wait_until(DEADLINE, "64 MiB written", || {
        fs::metadata(d.join("current")).is_ok_and(|m| m.len() == 64 << 20)
    });
    let hwm = harness::proc_status_field(pid, "VmHWM").unwrap_or_default();
    let kb: u64 = hwm.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
    assert!(kb < 16 * 1024, "peak resident set {hwm}");
    let mut end = feeder.join().unwrap();
    std::io::Write::write_all(&mut end, b"\n").unwrap();
    drop(end);
    assert_eq!(l.wait(), Some(0));
}

#[test]
fn unwritable_directory_messages() {
    if !is_root() {
        eprintln!("skipped: needs root to run svlogd as another user");
        return;
    }
    let s = Scratch::new("svlogd-unwritable");
    harness::chmod(s.path(), 0o755);
    let d = logdir(s.path(), "d", None);
    harness::chmod(&d, 0o755);
    let mut cmd = Command::new(svlogd());
    let r = {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
        harness::run(cmd.arg("d").current_dir(s.path()), DEADLINE)
    };
    assert_eq!(r.code, Some(111));
    assert_eq!(
        r.stderr,
        "svlogd: warning: unable to lock directory: d: access denied\n\
         svlogd: fatal: no functional log directories.\n"
    );
    // A writable directory whose current is not: runit pauses and retries.
    let e = logdir(s.path(), "e", None);
    harness::chmod(&e, 0o777);
    fs::write(e.join("current"), "").unwrap();
    harness::chmod(e.join("current"), 0o644);
    let l = Live::start_with(&svlogd(), &["e"], s.path(), |c| {
        use std::os::unix::process::CommandExt;
        c.uid(65534).gid(65534);
    });
    wait_until(DEADLINE, "pausing message", || {
        l.stderr().starts_with("svlogd: pausing: unable to open current: e: access denied\n")
    });
}

/// svlogd (with `-v`) on directory `d` of a 256 KiB tmpfs mounted in a
/// private mount namespace. `prep` runs first in the tmpfs (which is the
/// working directory); when svlogd exits its code and a copy of `d` go to
/// `<scratch>/out`.
fn on_small_tmpfs(s: &Scratch, prep: &str) -> Option<Live> {
    if !is_root() {
        eprintln!("skipped: needs root to mount a private tmpfs");
        return None;
    }
    harness::installed(&["/usr/bin/unshare"], "util-linux");
    let (mnt, out) = (s.join("fs"), s.join("out"));
    fs::create_dir_all(&mnt).unwrap();
    fs::create_dir_all(&out).unwrap();
    let script = format!(
        r#"mount -t tmpfs -o size=256k svlogd-test "$1" && cd "$1" && mkdir d || {{ echo nomount >"$2/exit"; exit 99; }}
{prep}
"$3" -v d; rc=$?; cp -a d "$2/d"; echo $rc >"$2/exit.new"; mv "$2/exit.new" "$2/exit""#
    );
    let l =
        Live::start_with(Path::new("/usr/bin/unshare"), &["-m", "--propagation", "private"], s.path(), |c| {
            c.args(["sh", "-c", &script, "sh"]).arg(&mnt).arg(&out).arg(svlogd());
        });
    Some(l)
}

/// True (with a message) when the tmpfs could not be mounted here (e.g. in
/// a container without CAP_SYS_ADMIN): the test is skipped.
fn no_tmpfs(s: &Scratch) -> bool {
    let skip = read(s.join("out/exit")) == "nomount\n";
    if skip {
        eprintln!("skipped: the kernel refused a tmpfs mount in a private mount namespace");
    }
    skip
}

/// Feeds `input` from a thread (writes may block while svlogd is stuck).
fn writer(l: &mut Live, input: &[u8]) -> std::thread::JoinHandle<()> {
    let mut end = l.take_input();
    let data = input.to_vec();
    std::thread::spawn(move || {
        use std::io::Write;
        let _ = end.write_all(&data);
    })
}

/// Our svlogd among the processes of `l` (it is a child of sh).
fn svlogd_pid(l: &Live) -> i32 {
    wait_for(DEADLINE, || harness::tagged_pids(l.proc.tag()).into_iter().find(|&p| is_svlogd(p)))
        .expect("svlogd pid")
}

/// Disk full with nothing old to delete: svlogd pauses with runit's
/// message and stops reading (its memory stays small); a SIGTERM meanwhile
/// takes effect only once the lines already read are written; nothing is
/// lost: the file holds the input up to some line, and what svlogd left in
/// the pipe is the rest.
#[test]
fn disk_full_pauses_and_loses_nothing() {
    let s = Scratch::new("svlogd-enospc");
    let Some(mut l) = on_small_tmpfs(&s, "head -c 200k /dev/zero >filler") else { return };
    let input = numbered(4000, 99);
    let feeder = writer(&mut l, &input);
    wait_until(DEADLINE, "disk full", || {
        l.stderr().contains("svlogd: pausing: unable to write to current: d: out of disk space\n")
            || s.join("out/exit").exists()
    });
    if no_tmpfs(&s) {
        return;
    }
    let pid = svlogd_pid(&l);
    let hwm = harness::proc_status_field(pid, "VmHWM").unwrap_or_default();
    let kb: u64 = hwm.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX);
    assert!(kb < 16 * 1024, "peak resident set while stuck: {hwm}");
    let spare = OwnedFd::from(fs::File::open(format!("/proc/{pid}/fd/0")).unwrap());
    // SAFETY: kill with the pid of a process this test started.
    unsafe { libc::kill(pid, libc::SIGTERM) };
    fs::remove_file(format!("/proc/{pid}/root{}/filler", s.join("fs").display())).unwrap();
    let out = s.join("out");
    wait_until(DEADLINE, "svlogd to exit", || out.join("exit").exists());
    assert_eq!(read(out.join("exit")), "0\n");
    let mut rest = Vec::new();
    fs::File::from(spare).read_to_end(&mut rest).unwrap();
    feeder.join().unwrap();
    // Between the two at most the one line that was partly read when
    // SIGTERM came (runit drops that line, conformance item 145).
    let file = fs::read(out.join("d/current")).unwrap();
    assert!(input.starts_with(&file) && file.ends_with(b"\n"), "file is not a prefix of the input");
    assert!(input.ends_with(&rest), "pipe rest is not a suffix of the input");
    let gap = input.len() - file.len() - rest.len();
    assert!(gap == 0 || gap == 100, "{gap} bytes lost");
    assert!(file.len() > 56 * 1024, "only {} bytes written", file.len());
}

/// Disk full with `N` < `n`: the oldest files are deleted (down to `N`)
/// with runit's warning, and every line is written.
#[test]
fn disk_full_deletes_old_files_down_to_big_n() {
    let s = Scratch::new("svlogd-enospc-n");
    let prep = "for i in 1 2 3; do head -c 60k /dev/zero >d/@40000000000000000000000$i.s; done\nprintf 'n10\\nN1\\n' >d/config";
    let Some(mut l) = on_small_tmpfs(&s, prep) else { return };
    let input = numbered(1500, 99);
    let feeder = writer(&mut l, &input);
    let out = s.join("out");
    wait_until(DEADLINE, "svlogd to exit", || out.join("exit").exists());
    if no_tmpfs(&s) {
        return;
    }
    feeder.join().unwrap();
    assert_eq!(read(out.join("exit")), "0\n");
    let err = l.stderr();
    assert!(
        err.contains("svlogd: warning: out of disk space, delete: d/@400000000000000000000001.s\n"),
        "{err}"
    );
    assert!(
        err.contains("svlogd: warning: out of disk space, delete: d/@400000000000000000000002.s\n"),
        "{err}"
    );
    assert!(!err.contains("pausing"), "{err}");
    assert_eq!(old_files(&out.join("d")), vec!["@400000000000000000000003.s"]);
    assert!(fs::read(out.join("d/current")).unwrap() == input, "lines lost");
}

fn is_svlogd(pid: i32) -> bool {
    fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p.ends_with("svlogd"))
}

/// runit 2.3.0 never prunes the file it has just rotated (2.1.2 could,
/// when the clock had gone backwards and the new name sorted first).
#[test]
fn pruning_spares_the_file_just_rotated() {
    let s = Scratch::new("svlogd-prune-new");
    let d = logdir(s.path(), "d", Some("n1\n!cat\n"));
    // A name from the far future sorts after anything rotated now.
    fs::write(d.join("@4fffffffffffffff00000000.s"), "future\n").unwrap();
    let mut l = Live::start(&svlogd(), &["d"], s.path());
    l.write(b"x\n");
    wait_content(&d.join("current"), "x\n");
    l.signal(libc::SIGALRM);
    let old = wait_for(DEADLINE, || {
        let v = old_files(&d);
        (v.len() == 1 && v[0].ends_with(".s") && !v[0].starts_with("@4fff")).then_some(v)
    });
    let old = old.unwrap_or_else(|| panic!("{:?}", old_files(&d)));
    assert_eq!(read(d.join(&old[0])), "x\n");
    l.close_input();
    assert_eq!(l.wait(), Some(0));
}

/// runit 2.3.0 counts unfinished `.u` files towards `n` and may prune the
/// oldest of them; Debian's 2.1.2 counts and deletes only `.s` files, so
/// `.u` files left by crashes pile up there.
#[test]
fn pruning_counts_unfinished_files() {
    let s = Scratch::new("svlogd-prune-u");
    let d = logdir(s.path(), "d", Some("n3\n"));
    for (name, body) in [("@400000000000000000000000.u", "0\n"), ("@400000000000000000000001.u", "1\n")] {
        fs::write(d.join(name), body).unwrap();
    }
    fs::write(d.join("@400000000000000000000002.s"), "2\n").unwrap();
    fs::write(d.join("current"), "3\n").unwrap();
    harness::chmod(d.join("current"), 0o644);
    // Start-up renames the unclean current to a fourth old file and prunes.
    let r = feed(&svlogd(), &["-v", "d"], s.path(), b"");
    assert!(r.stderr.contains("svlogd: info: delete: d/@400000000000000000000000.u\n"), "{}", r.stderr);
    let old = old_files(&d);
    assert_eq!(old.len(), 3, "{old:?}");
    assert_eq!(&old[..2], ["@400000000000000000000001.u", "@400000000000000000000002.s"]);
}

/// With standard input or standard error closed, svlogd's own files must
/// not take their descriptor numbers (runit's svlogd would then read its
/// own descriptors, or write its messages into `current`).
#[test]
fn closed_standard_descriptors() {
    let s = Scratch::new("svlogd-closed-fds");
    let d = logdir(s.path(), "d", None);
    let sh = |script: &str| {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", script, "sh"]).arg(svlogd()).current_dir(s.path());
        harness::run(&mut c, DEADLINE)
    };
    assert_eq!(sh(r#"exec "$1" d <&-"#).code, Some(0));
    assert_eq!(read(d.join("current")), "");
    assert_eq!(sh(r#"echo line | "$1" -v d 2>&-"#).code, Some(0));
    assert_eq!(read(d.join("current")), "line\n");
}

/// Under our runsv: the log service is restarted (SIGTERM) several times
/// while the service writes as fast as it can; runsv keeps the pipe, so
/// every line the service wrote ends up in the log, in order.
#[test]
fn restarts_under_runsv_lose_no_line() {
    use harness::runit_core::supervise::{Supervise, read_status, send_control};
    let s = Scratch::new("svlogd-runsv");
    let svc = s.join("svc");
    harness::script(
        svc.join("run"),
        "#!/bin/sh\nexec 2>&1\ni=0\nwhile [ $i -lt 20000 ]; do echo \"line $i\"; i=$((i+1)); done\nexec sleep 1000\n",
    );
    fs::create_dir_all(svc.join("log/main")).unwrap();
    harness::script(svc.join("log/run"), &format!("#!/bin/sh\nexec {} main\n", svlogd().display()));
    let _runsv =
        harness::Proc::spawn(Command::new(ours("runsv")).arg(&svc).stdin(std::process::Stdio::null()));
    let log_pid = || read_status(&svc, Supervise::LOG).ok().filter(|st| st.pid != 0).map(|st| st.pid);
    let mut last = wait_for(DEADLINE, log_pid).expect("log service runs");
    for _ in 0..5 {
        send_control(&svc, Supervise::LOG, b"t").expect("control");
        last = wait_for(DEADLINE, || log_pid().filter(|&p| p != last)).expect("log service restarted");
    }
    let current = svc.join("log/main/current");
    wait_until(Duration::from_secs(30), "all lines logged", || read(&current).ends_with("line 19999\n"));
    let want: String = (0..20000).map(|i| format!("line {i}\n")).collect();
    assert!(everything(&svc.join("log/main")) == want.as_bytes(), "lines lost or reordered");
}
