//! The command-line surface of runsvdir and runsvchdir: usage texts, exit
//! codes, odd arguments (runsvdir.md §1-2, runit-init.md §5; conformance
//! items 59, 69, 71).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RUNSVDIR: &str = env!("CARGO_BIN_EXE_runsvdir");
const RUNSVCHDIR: &str = env!("CARGO_BIN_EXE_runsvchdir");

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(cmd: &mut Command) -> Out {
    let o = cmd.stdin(Stdio::null()).output().unwrap();
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn tmp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("runsvdir-cli-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}

/// A runsvdir that must keep running: read its stderr until `want` shows,
/// then TERM it and check it exits 0 (without runsv children, TERM is all).
fn runsvdir_warns(args: &[&str], cwd: &Path, want: &[&str]) {
    let mut child: Child = Command::new(RUNSVDIR)
        .args(args)
        .current_dir(cwd)
        .env("PATH", "/nonexistent")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            s.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        s
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "runsvdir {args:?} must keep running");
    // SAFETY: signalling the child we started.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "runsvdir did not exit on TERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(0), "TERM exits 0");
    let stderr = reader.join().unwrap();
    for w in want {
        assert!(stderr.contains(w), "stderr {stderr:?} lacks {w:?}");
    }
}

#[test]
fn no_arguments_is_usage() {
    for args in [&[][..], &["-P"], &["--"], &["-Pxyz"]] {
        let o = run(Command::new(RUNSVDIR).args(args));
        assert_eq!(o.code, Some(1), "{args:?}");
        assert_eq!(o.stderr, format!("usage: {RUNSVDIR} [-P] dir\n\n"), "{args:?}");
        assert_eq!(o.stdout, "");
    }
}

#[test]
fn dash_x_is_the_directory() {
    let d = tmp("dashx");
    runsvdir_warns(&["-x"], &d, &["runsvdir -x: warning: unable to stat -x: file does not exist\n"]);
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn double_dash_prefix_is_skipped() {
    let d = tmp("dashdash");
    runsvdir_warns(
        &["--foo", "nodir"],
        &d,
        &["runsvdir nodir: warning: unable to stat nodir: file does not exist\n"],
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn short_log_is_disabled_with_warnings() {
    let d = tmp("shortlog");
    fs::create_dir(d.join("sv")).unwrap();
    runsvdir_warns(
        &["sv", "log:.."],
        &d,
        &[
            "runsvdir sv: warning: log must have at least seven characters.\n",
            "runsvdir sv: warning: log service disabled.\n",
        ],
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn graceful_variable_must_be_a_number() {
    let d = tmp("graceful");
    fs::create_dir(d.join("sv")).unwrap();
    let child = Command::new(RUNSVDIR)
        .arg("sv")
        .current_dir(&d)
        .env("RUNSVDIR_GRACEFUL", "soon")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: signalling our child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "graceful mode is off: TERM exits at once");
    assert_eq!(
        String::from_utf8_lossy(&o.stderr),
        "runsvdir sv: warning: RUNSVDIR_GRACEFUL is not a number of seconds, graceful mode disabled.\n"
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn unreadable_current_directory_is_fatal_100() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (root opens any directory: runsvdir runs as nobody)");
        return;
    }
    assert!(
        Path::new("/usr/bin/setpriv").exists(),
        "/usr/bin/setpriv is not installed: `apt-get install util-linux` (tests/run installs it)"
    );
    let d = tmp("nocwd");
    fs::set_permissions(&d, fs::Permissions::from_mode(0o311)).unwrap();
    // A copy nobody can reach (the build directory may be private).
    let bin = tmp("nocwd-bin");
    fs::copy(RUNSVDIR, bin.join("runsvdir")).unwrap();
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = Command::new("/usr/bin/setpriv");
    c.args(["--reuid=65534", "--regid=65534", "--clear-groups"]).arg(bin.join("runsvdir")).arg("sv");
    c.current_dir(&d);
    // A just-written copy can be briefly "text busy" while another test
    // thread's fork still holds its descriptor: retry the exec.
    let mut o = run(&mut c);
    for _ in 0..100 {
        if !(o.code == Some(126) && o.stderr.contains("Text file busy")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        o = run(&mut c);
    }
    let _ = fs::remove_dir_all(&bin);
    assert_eq!(o.code, Some(100), "{}", o.stderr);
    assert_eq!(o.stderr, "runsvdir sv: fatal: unable to open current directory: access denied\n");
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn runsvchdir_usage() {
    let o = run(&mut Command::new(RUNSVCHDIR));
    assert_eq!(o.code, Some(1));
    assert_eq!(o.stderr, format!("usage: {RUNSVCHDIR} dir\n\n"));
}

#[test]
fn runsvchdir_dot_name_is_refused_before_chdir() {
    let o = run(Command::new(RUNSVCHDIR).arg(".hidden").env("RUNSVDIR", "/nonexistent"));
    assert_eq!(o.code, Some(111));
    assert_eq!(o.stderr, format!("{RUNSVCHDIR}: fatal: .hidden: must not start with a dot.\n"));
}

#[test]
fn runsvchdir_missing_runlevel_directory() {
    let o = run(Command::new(RUNSVCHDIR).arg("default").env("RUNSVDIR", "/nonexistent/runsvdir"));
    assert_eq!(o.code, Some(111));
    assert_eq!(
        o.stderr,
        format!("{RUNSVCHDIR}: fatal: unable to chdir: /nonexistent/runsvdir: file does not exist\n")
    );
}

#[test]
fn runsvchdir_switches_in_runsvdir() {
    let d = tmp("chdir");
    fs::create_dir_all(d.join("default")).unwrap();
    fs::create_dir_all(d.join("single")).unwrap();
    fs::write(d.join("file"), b"").unwrap();
    symlink("default", d.join("current")).unwrap();
    let chdir = |arg: &str| run(Command::new(RUNSVCHDIR).arg(arg).env("RUNSVDIR", &d));

    let o = chdir("default");
    assert_eq!(
        (o.code, o.stdout.as_str(), o.stderr.as_str()),
        (Some(0), "runsvchdir: default: current.\n", "")
    );
    let o = chdir("single");
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), "runsvchdir: single: now current.\n"));
    assert_eq!(fs::read_link(d.join("current")).unwrap(), Path::new("single"));
    assert_eq!(fs::read_link(d.join("previous")).unwrap(), Path::new("default"));

    let o = chdir("file");
    assert_eq!(o.code, Some(111));
    assert_eq!(o.stderr, format!("{RUNSVCHDIR}: fatal: filenot a directory.\n"));
    let o = chdir("nope");
    assert_eq!(o.stderr, format!("{RUNSVCHDIR}: fatal: nope: file does not exist\n"));
    assert_eq!(o.stdout, "");
    let _ = fs::remove_dir_all(&d);
}
