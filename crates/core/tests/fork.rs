//! `process::fork` in the setting its contract asks for: a process with a
//! single thread (this test has no harness: `main` is the whole test, and
//! it starts no thread). Each case forks, does only async-signal-safe work
//! in the child (exec, `_exit`, the `child` helpers) and reaps it.
#![allow(clippy::unwrap_used)]

use runit_core::process::{self, Environ, Program, child};
use std::ffi::{CString, OsStr};

/// The number of threads of this process, from `/proc/self/status`.
fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status.lines().find_map(|l| l.strip_prefix("Threads:")).expect("Threads: line");
    line.trim().parse().expect("thread count")
}

fn fork(f: impl FnOnce()) -> i32 {
    assert_eq!(threads(), 1, "fork's contract: a single-threaded caller");
    // SAFETY: this process has one thread (checked above), and every
    // closure passed here only execs or exits, through calls prepared
    // before the fork.
    unsafe { process::fork(f) }.expect("fork")
}

fn exec_and_reap() {
    let argv = [OsStr::new("sh"), OsStr::new("-c"), OsStr::new("exit 7")];
    let prog = Program::new(OsStr::new("sh"), &argv).expect("program");
    let pid = fork(|| {
        let e = prog.exec(None);
        child::die(b"test: unable to start sh: ", &e, 111)
    });
    assert_eq!(process::wait_for(pid).expect("wait").exit_code(), Some(7));
}

fn exec_with_a_prepared_environment() {
    let argv = [OsStr::new("sh"), OsStr::new("-c"), OsStr::new("test \"$ONLY\" = yes && test -z \"$HOME\"")];
    let prog =
        Program::with_path(OsStr::new("sh"), &argv, Some(OsStr::new("/usr/bin:/bin"))).expect("program");
    let env =
        Environ::new(vec![CString::new("ONLY=yes").unwrap(), CString::new("PATH=/usr/bin:/bin").unwrap()]);
    let pid = fork(|| {
        let e = prog.exec(Some(&env));
        child::die(b"test: unable to start sh: ", &e, 111)
    });
    assert_eq!(process::wait_for(pid).expect("wait").exit_code(), Some(0), "exactly the given environment");
}

fn exec_failure_in_the_child_exits_with_the_code() {
    let prog = Program::new(OsStr::new("/nonexistent/prog"), &[OsStr::new("x")]).expect("program");
    let pid = fork(|| {
        let e = prog.exec(None);
        child::exit(if e.raw_os_error() == Some(libc::ENOENT) { 42 } else { 1 })
    });
    assert_eq!(process::wait_for(pid).expect("wait").exit_code(), Some(42));
}

fn a_closure_that_returns_exits_127() {
    let pid = fork(|| {});
    assert_eq!(process::wait_for(pid).expect("wait").exit_code(), Some(127));
}

fn main() {
    let cases: [(&str, fn()); 4] = [
        ("exec_and_reap", exec_and_reap),
        ("exec_with_a_prepared_environment", exec_with_a_prepared_environment),
        ("exec_failure_in_the_child_exits_with_the_code", exec_failure_in_the_child_exits_with_the_code),
        ("a_closure_that_returns_exits_127", a_closure_that_returns_exits_127),
    ];
    for (name, case) in cases {
        case();
        println!("test {name} ... ok");
    }
    println!("fork: {} cases passed", cases.len());
}
