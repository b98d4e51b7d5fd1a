//! The command-line surface of our svlogd: usage text, exit codes, bad
//! arguments (spec svlogd.md §1, conformance item 126).

use std::process::{Command, Stdio};

const USAGE: &str = " [-ttv] [-r c] [-R abc] [-l len] [-b buflen] dir ...\n\n";

fn svlogd(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_svlogd"))
        .args(args)
        .stdin(Stdio::null())
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run svlogd");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn usage() -> String {
    format!("usage: {}{USAGE}", env!("CARGO_BIN_EXE_svlogd"))
}

#[test]
fn no_directory_is_a_usage_error_111() {
    assert_eq!(svlogd(&[]), (Some(111), usage()));
    assert_eq!(svlogd(&["-tt", "-v"]), (Some(111), usage()));
}

#[test]
fn illegal_option_names_the_base_name() {
    assert_eq!(svlogd(&["-x", "d"]), (Some(111), format!("svlogd: illegal option -- x\n{}", usage())));
    assert_eq!(
        svlogd(&["-l"]),
        (Some(111), format!("svlogd: option requires an argument -- l\n{}", usage()))
    );
}

#[test]
fn replacement_must_be_one_character() {
    assert_eq!(svlogd(&["-r", "ab", "d"]), (Some(111), usage()));
    assert_eq!(svlogd(&["-r", "", "d"]), (Some(111), usage()));
}

#[test]
fn buffer_must_exceed_line_length() {
    assert_eq!(svlogd(&["-l", "2000", "d"]), (Some(111), usage()));
    assert_eq!(svlogd(&["-l", "1024", "-b", "0", "d"]), (Some(111), usage()));
}

#[test]
fn version_then_usage() {
    let (code, err) = svlogd(&["-V", "d"]);
    assert_eq!(code, Some(111));
    let (id, rest) = err.split_once('\n').expect("two lines");
    assert!(id.starts_with("$Id: ") && id.ends_with(" $"), "{id}");
    assert_eq!(rest, usage());
}

#[test]
fn no_functional_directory_is_fatal_111() {
    let (code, err) = svlogd(&["/nonexistent/svlogd-cli-test"]);
    assert_eq!(code, Some(111));
    assert_eq!(
        err,
        "svlogd: warning: unable to open log directory: /nonexistent/svlogd-cli-test: file does not exist\n\
         svlogd: fatal: no functional log directories.\n"
    );
}

#[test]
fn absurd_line_length_is_out_of_memory_not_a_crash() {
    let dir = std::env::temp_dir().join(format!("svlogd-cli-oom-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let d = dir.to_string_lossy().into_owned();
    let (code, err) = svlogd(&["-l", "1000000000000000", "-b", "1000000000000001", &d]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!((code, err.as_str()), (Some(111), "svlogd: fatal: out of memory.\n"));
}
