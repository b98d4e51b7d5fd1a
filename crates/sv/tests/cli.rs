//! The command-line surface of `sv`: usage texts, exit codes, bad
//! arguments, `-V`, LSB mode by program name (sv.md §1, §7; conformance
//! items 73-75, 103). Nothing here needs a running runsv.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SV: &str = env!("CARGO_BIN_EXE_sv");
const USAGE: &str = "usage: sv [-v] [-w sec] command service ...\n\n";

fn sv(args: &[&str]) -> Output {
    run(Path::new(SV), args)
}

fn run(bin: &Path, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .env("SVDIR", "/nonexistent-svdir")
        .env_remove("SVWAIT")
        .output()
        .expect("run sv")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A temp dir holding a symlink `<name>` -> our sv (LSB mode).
struct Lsb {
    dir: PathBuf,
}

impl Lsb {
    fn new(name: &str) -> (Lsb, PathBuf) {
        let dir = std::env::temp_dir().join(format!("sv-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let link = dir.join(name);
        std::os::unix::fs::symlink(SV, &link).expect("symlink");
        (Lsb { dir }, link)
    }
}

impl Drop for Lsb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[track_caller]
fn assert_usage(out: &Output, complaint: &str) {
    assert_eq!(out.status.code(), Some(100), "{out:?}");
    assert_eq!(text(&out.stderr), format!("{complaint}{USAGE}"));
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn no_arguments_is_usage_100() {
    assert_usage(&sv(&[]), "");
}

#[test]
fn missing_service_or_command_is_usage() {
    assert_usage(&sv(&["status"]), "");
    assert_usage(&sv(&["-v"]), "");
    assert_usage(&sv(&["-w", "3", "up"]), "");
}

#[test]
fn unknown_commands_are_usage() {
    for word in ["bogus", "restartx", "force-bogus", "reload-now", "", "U", "3", "fstop"] {
        assert_usage(&sv(&[word, "x"]), "");
    }
}

#[test]
fn getopt_complaints() {
    assert_usage(&sv(&["-x", "status", "a"]), "sv: illegal option -- x\n");
    assert_usage(&sv(&["-w"]), "sv: option requires an argument -- w\n");
    assert_usage(&sv(&["-vq", "status", "a"]), "sv: illegal option -- q\n");
}

#[test]
fn version_then_usage() {
    let out = sv(&["-V"]);
    assert_eq!(out.status.code(), Some(100));
    let err = text(&out.stderr);
    let (first, rest) = err.split_once('\n').expect("two parts");
    assert!(first.starts_with("$Id: ") && first.ends_with(" $"), "{first}");
    assert_eq!(rest, USAGE);
    // -V wins even with a valid command after it.
    assert_eq!(sv(&["-V", "status", "x"]).status.code(), Some(100));
}

#[test]
fn valid_words_reach_the_service_lookup() {
    // A missing service is a `fail:` line on stdout and exit 1, not usage.
    for word in ["status", "s", "stat", "u", "upfoo", "e", "t", "check", "start", "Down", "X"] {
        let out = sv(&["-w", "0", word, "nosuch"]);
        assert_eq!(out.status.code(), Some(1), "{word}: {out:?}");
        assert_eq!(
            text(&out.stdout),
            "fail: nosuch: unable to change to service directory: file does not exist\n",
            "{word}"
        );
        assert!(out.stderr.is_empty(), "{word}: {out:?}");
    }
}

#[test]
fn option_after_command_is_a_service_name() {
    let out = sv(&["status", "-v"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "fail: -v: unable to change to service directory: file does not exist\n");
}

#[test]
fn failures_are_counted_and_capped_at_99() {
    let names: Vec<String> = (0..120).map(|i| format!("missing{i}")).collect();
    let mut args = vec!["status"];
    args.extend(names.iter().map(String::as_str));
    let out = sv(&args);
    assert_eq!(out.status.code(), Some(99));
    assert_eq!(text(&out.stdout).lines().count(), 120);
    let out = sv(&["status", "a", "b", "c"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn lsb_usage_is_exit_2() {
    let (_tmp, foo) = Lsb::new("foo");
    let lsb_usage = "usage: foo [-w sec] command\n\n";
    for args in [&[][..], &["stat"], &["bogus"], &["s"], &["-w"]] {
        let out = run(&foo, args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        assert!(text(&out.stderr).ends_with(lsb_usage), "{args:?}: {out:?}");
    }
    let out = run(&foo, &["-x", "status"]);
    assert_eq!(text(&out.stderr), format!("foo: illegal option -- x\n{lsb_usage}"));
    let out = run(&foo, &["-V"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).starts_with("$Id: "));
}

#[test]
fn lsb_uses_its_own_name_as_the_service() {
    let (_tmp, web) = Lsb::new("web");
    let out = run(&web, &["status", "ignored", "args"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(text(&out.stdout), "fail: web: unable to change to service directory: file does not exist\n");
    let out = run(&web, &["up"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn fatal_when_the_current_directory_cannot_be_opened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = std::env::temp_dir().join(format!("sv-cli-noperm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // Search permission but no read permission: chdir works, open(".") does not.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o311)).expect("chmod");
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let bin_dir = std::env::temp_dir().join(format!("sv-cli-bin-{}", std::process::id()));
    let mut cmd = if root {
        // root can open anything: run sv as nobody, from a copy nobody can
        // reach (the build directory may be private).
        std::fs::create_dir_all(&bin_dir).expect("dir");
        let copy = bin_dir.join("sv");
        std::fs::copy(SV, &copy).expect("copy sv");
        std::fs::set_permissions(&bin_dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]).arg(&copy);
        c
    } else {
        Command::new(SV)
    };
    cmd.args(["status", "x"]).current_dir(&dir);
    // A just-written copy can be briefly "text busy" while another test
    // thread's fork still holds its descriptor: retry the exec.
    let mut out = cmd.output();
    for _ in 0..100 {
        match &out {
            Ok(o) if o.status.code() == Some(126) && text(&o.stderr).contains("Text file busy") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                out = cmd.output();
            }
            _ => break,
        }
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&bin_dir);
    let out =
        out.unwrap_or_else(|e| panic!("cannot run sv ({e}): setpriv is util-linux (tests/run installs it)"));
    assert!(!(root && out.status.code() == Some(127)), "setpriv could not run sv as nobody: {out:?}");
    assert_eq!(out.status.code(), Some(100), "{out:?}");
    assert_eq!(text(&out.stderr), "fatal: unable to open current directory: access denied\n");
    assert!(out.stdout.is_empty());
}

#[test]
fn extension_options_are_accepted_before_the_command() {
    // -j and -H (runit-rs): accepted, bundled or not; a missing service is
    // still runit's line (text) or an error object (JSON).
    let miss = "fail: x: unable to change to service directory: file does not exist\n";
    for args in [&["-H", "status", "x"][..], &["-vH", "status", "x"], &["-H", "-w", "1", "up", "x"]] {
        let out = sv(args);
        assert_eq!((out.status.code(), text(&out.stdout)), (Some(1), miss.to_string()), "{args:?}");
    }
    let out = sv(&["-jH", "status", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "{\"name\":\"x\",\"path\":\"/nonexistent-svdir/x\",\"error\":\"unable to change to service directory: file does not exist\"}\n"
    );
    assert_usage(&sv(&["-h", "status", "x"]), "sv: illegal option -- h\n");
}
