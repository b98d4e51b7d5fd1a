//! Regression tests for what fuzzing and fault injection found (issue 10;
//! docs/reliability.md lists each finding). Each test reproduces the
//! original input through the program's command line, so it runs in the
//! normal suite; the raw fuzz inputs live in crates/fuzz/regressions/ and
//! are replayed by that crate's own tests.
#![allow(clippy::unwrap_used)]

use harness::{Scratch, cmd, ours, run};
use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

/// svlogd with an absurd `-l` (and a larger `-b`) tried to allocate the
/// whole line buffer up front and aborted (SIGABRT, "memory allocation of
/// 1000016777216 bytes failed"; a capacity overflow panic for values near
/// 2^64). runit reports `out of memory.` and exits 111. Found while
/// writing the svlogd_options fuzz target; fixed in 14b263c.
#[test]
fn svlogd_absurd_line_length_is_out_of_memory_not_an_abort() {
    let s = Scratch::new("fuzzreg-svlogd-l");
    for (l, b) in [("1000000000000", "1000000000001"), ("18446744073709551614", "18446744073709551615")] {
        let mut c = cmd(ours("svlogd"), ["-l", l, "-b", b, s.path().to_str().unwrap()]);
        c.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let _ = child.stdin.take().unwrap().write_all(b"hi\n");
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(111), "-l {l}: {:?} {err}", out.status);
        assert_eq!(err, "svlogd: fatal: out of memory.\n", "-l {l}");
    }
    // A large but possible -l still works.
    let o = run(
        &mut cmd(ours("svlogd"), ["-l", "100000", "-b", "100001", s.path().to_str().unwrap()]),
        Duration::from_secs(10),
    );
    assert_eq!(o.code, Some(0), "{o:?}");
}
