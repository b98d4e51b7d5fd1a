//! The command-line surface of runsv (supervise.md §1, §15): usage text and
//! exit codes, and fatal start-up errors that need no running service.
#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};

fn runsv(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_runsv")).args(args).stdin(Stdio::null()).output().unwrap();
    assert!(out.stdout.is_empty(), "runsv prints nothing on stdout");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn no_operand_is_usage() {
    let (code, err) = runsv(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(err, format!("usage: {} dir\n\n", env!("CARGO_BIN_EXE_runsv")));
}

#[test]
fn two_operands_is_usage() {
    let (code, err) = runsv(&["a", "b"]);
    assert_eq!(code, Some(1));
    assert!(err.starts_with("usage: ") && err.ends_with(" dir\n\n"), "{err:?}");
}

#[test]
fn options_are_directory_names() {
    // runsv has no options: `-x` is a directory that does not exist.
    let (code, err) = runsv(&["-x"]);
    assert_eq!(code, Some(111));
    assert_eq!(err, "runsv -x: fatal: unable to change to directory: file does not exist\n");
}

#[test]
fn missing_directory_is_fatal() {
    let (code, err) = runsv(&["/nonexistent/service"]);
    assert_eq!(code, Some(111));
    assert_eq!(
        err,
        "runsv /nonexistent/service: fatal: unable to change to directory: file does not exist\n"
    );
}

#[test]
fn a_file_is_not_a_directory() {
    let (code, err) = runsv(&["/etc/passwd"]);
    assert_eq!(code, Some(111));
    assert_eq!(err, "runsv /etc/passwd: fatal: unable to change to directory: not a directory\n");
}
