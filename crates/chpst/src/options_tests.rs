//! Unit tests of the command-line parsers (every personality).

use super::*;
use crate::account::Form;

fn inv(name: &str) -> Invocation {
    Invocation::from_argv0(OsStr::new(name))
}

fn words(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

fn plan(name: &str, args: &[&str]) -> Plan {
    parse(&inv(name), &words(args))
        .unwrap_or_else(|u| panic!("{args:?}: {}", String::from_utf8_lossy(&u.text())))
}

fn usage(name: &str, args: &[&str]) -> String {
    let u = parse(&inv(name), &words(args)).expect_err("usage error");
    String::from_utf8(u.text()).expect("utf8")
}

fn chpst_usage(name: &str) -> String {
    format!("usage: {name}{CHPST_SYNOPSIS}\n\n")
}

#[test]
fn chpst_usage_text_is_runits() {
    assert_eq!(
        usage("chpst", &[]),
        "usage: chpst [-vVP012] [-u user[:group]] [-U user[:group]] [-b argv0] [-e dir] [-/ root] \
         [-C pwd] [-n nice] [-l|-L lock] [-m n] [-d n] [-o n] [-p n] [-f n] [-c n] [-t n] prog\n\n"
    );
}

#[test]
fn version_then_usage() {
    let text = usage("chpst", &["-V", "true"]);
    assert!(text.starts_with("$Id: runit-rs "), "{text}");
    assert!(text.ends_with(&chpst_usage("chpst")));
    // -V acts at once: a later bad option is not reached.
    assert!(usage("chpst", &["-V", "-x"]).starts_with("$Id:"));
    assert_eq!(
        usage("chpst", &["-x", "-V"]),
        format!("chpst: illegal option -- x\n{}", chpst_usage("chpst"))
    );
}

#[test]
fn getopt_complaints_use_the_full_basename() {
    assert_eq!(
        usage("/usr/bin/dchpst", &["-y"]),
        format!("dchpst: illegal option -- y\n{}", chpst_usage("chpst"))
    );
    assert_eq!(
        usage("chpst", &["-u"]),
        format!("chpst: option requires an argument -- u\n{}", chpst_usage("chpst"))
    );
}

#[test]
fn no_program_is_a_usage_error() {
    assert_eq!(usage("chpst", &["-v"]), chpst_usage("chpst"));
    assert_eq!(usage("chpst", &["--"]), chpst_usage("chpst"));
}

#[test]
fn numeric_limits_must_be_all_digits() {
    for bad in ["12x", "x", "-1", "=", " 5", "+5"] {
        assert_eq!(usage("chpst", &["-o", bad, "true"]), chpst_usage("chpst"), "{bad}");
    }
    let p = plan("chpst", &["-o", "", "true"]);
    assert_eq!(p.limits.get(Resource::Nofile), Some(Limit::Value(0)));
}

#[test]
fn every_limit_letter() {
    let p = plan(
        "chpst",
        &["-d1", "-o2", "-p3", "-f4", "-c5", "-r6", "-t7", "-m", "99999999999", "-d", "8", "true"],
    );
    let got: Vec<_> = p.limits.requested().collect();
    assert_eq!(
        got,
        vec![
            (Resource::Data, Limit::Value(8)),
            (Resource::Stack, Limit::Value(99_999_999_999)),
            (Resource::Memlock, Limit::Value(99_999_999_999)),
            (Resource::As, Limit::Value(99_999_999_999)),
            (Resource::Nofile, Limit::Value(2)),
            (Resource::Nproc, Limit::Value(3)),
            (Resource::Fsize, Limit::Value(4)),
            (Resource::Core, Limit::Value(5)),
            (Resource::Rss, Limit::Value(6)),
            (Resource::Cpu, Limit::Value(7)),
        ]
    );
}

#[test]
fn lock_options_once_only() {
    for args in [
        &["-l", "a", "-L", "b", "true"][..],
        &["-l", "a", "-l", "b", "true"],
        &["-L", "a", "-L", "a", "true"],
    ] {
        assert_eq!(usage("chpst", args), chpst_usage("chpst"), "{args:?}");
    }
    assert_eq!(plan("chpst", &["-l", "f", "true"]).lock, Some(LockSpec { path: "f".into(), wait: true }));
    assert_eq!(plan("chpst", &["-L", "f", "true"]).lock, Some(LockSpec { path: "f".into(), wait: false }));
}

#[test]
fn nice_values() {
    assert_eq!(plan("chpst", &["-n", "-3", "true"]).nice, -3);
    assert_eq!(plan("chpst", &["-n", "+2", "true"]).nice, 2);
    assert_eq!(plan("chpst", &["-n", "7", "true"]).nice, 7);
    assert_eq!(plan("chpst", &["-n", "", "true"]).nice, 0);
    assert_eq!(plan("chpst", &["-n", "-", "true"]).nice, 0);
    assert_eq!(plan("chpst", &["-n", "99999999999", "true"]).nice, i32::MAX);
    for bad in ["x", "--3", "3x", "+-1", " 1"] {
        assert_eq!(usage("chpst", &["-n", bad, "true"]), chpst_usage("chpst"), "{bad}");
    }
}

#[test]
fn later_options_override_and_only_last_e_counts() {
    let p =
        plan("chpst", &["-u", "a", "-u", "b", "-e", "e1", "-e", "e2", "-b", "x", "-b", "y", "prog", "arg"]);
    assert_eq!(p.account.map(|a| a.raw), Some(b"b".to_vec()));
    assert_eq!(p.envdirs, vec![EnvDir { path: "e2".into(), subdirs: Subdirs::Skip }]);
    assert_eq!(p.argv0, Some("y".into()));
    assert_eq!(p.program, "prog");
    assert_eq!(p.args, words(&["arg"]));
}

#[test]
fn flags_and_paths() {
    let p = plan("chpst", &["-vP012", "-/", "/r", "-C", "/w", "-U", ":1:2", "true"]);
    assert!(p.verbose && p.setsid);
    assert_eq!(p.close, [true, true, true]);
    assert_eq!(p.root, Some("/r".into()));
    assert_eq!(p.pwd, Some("/w".into()));
    let u = p.env_account.expect("-U");
    assert_eq!((u.raw, u.form), (b":1:2".to_vec(), Form::UserGroups));
}

#[test]
fn options_end_at_the_program() {
    let p = plan("chpst", &["-v", "prog", "-u", "x"]);
    assert_eq!(p.program, "prog");
    assert_eq!(p.args, words(&["-u", "x"]));
    assert!(p.account.is_none());
}

#[test]
fn extension_layers_then_last_e() {
    let p = plan("chpst", &["-e", "svc", "-E", "common", "-E", "production", "true"]);
    let dirs: Vec<_> = p.envdirs.iter().map(|d| d.path.clone()).collect();
    assert_eq!(dirs, words(&["common", "production", "svc"]));
}

#[test]
fn extension_login_env_needs_an_account() {
    assert_eq!(usage("chpst", &["-H", "true"]), chpst_usage("chpst"));
    assert!(plan("chpst", &["-H", "-u", "nobody", "true"]).login_env);
    assert!(plan("chpst", &["-H", "-U", "nobody", "true"]).login_env);
}

#[test]
fn emulations_without_options() {
    for name in ["envdir", "envuidgid", "setuidgid"] {
        let u = usage(name, &[]);
        assert!(u.starts_with(&format!("usage: {name} ")), "{u}");
        assert_eq!(usage(name, &["x"]), u);
    }
    assert_eq!(usage("pgrphack", &[]), "usage: pgrphack child\n\n");
    assert_eq!(usage("envdir", &[]), "usage: envdir dir child\n\n");
    assert_eq!(usage("setuidgid", &[]), "usage: setuidgid account child\n\n");
    assert_eq!(usage("envuidgid", &[]), "usage: envuidgid account child\n\n");

    // "-x" is an operand, not an option.
    let p = plan("setuidgid", &["-x", "id"]);
    let a = p.account.expect("account");
    assert_eq!((a.raw, a.form), (b"-x".to_vec(), Form::Account));
    let p = plan("envdir", &["--", "true"]);
    assert_eq!(p.envdirs, vec![EnvDir { path: "--".into(), subdirs: Subdirs::Fatal }]);
    let p = plan("pgrphack", &["-x"]);
    assert!(p.setsid);
    assert_eq!(p.program, "-x");
    let p = plan("envuidgid", &["nobody", "env", "-i"]);
    assert_eq!(p.env_account.map(|a| a.form), Some(Form::Account));
    assert_eq!(p.args, words(&["-i"]));
}

#[test]
fn setlock_options() {
    assert_eq!(usage("setlock", &[]), "usage: setlock [ -nNxX ] file program [ arg ... ]\n\n");
    assert_eq!(usage("setlock", &["f"]), usage("setlock", &[]));
    assert_eq!(
        usage("dsetlock", &["-y", "f", "true"]),
        format!("dsetlock: illegal option -- y\n{}", usage("setlock", &[]))
    );
    let p = plan("setlock", &["f", "true"]);
    assert_eq!(p.lock, Some(LockSpec { path: "f".into(), wait: false }));
    assert!(!p.quiet_failure);
    let p = plan("setlock", &["-n", "f", "true"]);
    assert_eq!(p.lock.map(|l| l.wait), Some(true));
    let p = plan("setlock", &["-nN", "-x", "f", "true"]);
    assert_eq!(p.lock.map(|l| l.wait), Some(false));
    assert!(p.quiet_failure);
    assert!(!plan("setlock", &["-xX", "f", "true"]).quiet_failure);
    assert_eq!(plan("setlock", &["--", "f", "true"]).program, "true");
}

#[test]
fn softlimit_options() {
    let synopsis = usage("softlimit", &[]);
    assert!(synopsis.starts_with("usage: softlimit [-a allbytes]"), "{synopsis}");
    assert_eq!(usage("softlimit", &["-x", "true"]), format!("softlimit: illegal option -- x\n{synopsis}"));
    assert_eq!(
        usage("softlimit", &["-o"]),
        format!("softlimit: option requires an argument -- o\n{synopsis}")
    );
    assert_eq!(usage("softlimit", &["-o", "5"]), synopsis);
    // A bad number prints chpst's usage under the softlimit name.
    assert_eq!(usage("softlimit", &["-m", "abc", "true"]), chpst_usage("softlimit"));
    assert_eq!(usage("dsoftlimit", &["-o", "-5", "true"]), chpst_usage("softlimit"));

    let p =
        plan("softlimit", &["-a1", "-c2", "-d3", "-f4", "-l5", "-o=", "-p7", "-r8", "-s9", "-t10", "true"]);
    let got: Vec<_> = p.limits.requested().collect();
    assert_eq!(
        got,
        vec![
            (Resource::Data, Limit::Value(3)),
            (Resource::Stack, Limit::Value(9)),
            (Resource::Memlock, Limit::Value(5)),
            (Resource::As, Limit::Value(1)),
            (Resource::Nofile, Limit::Hard),
            (Resource::Nproc, Limit::Value(7)),
            (Resource::Fsize, Limit::Value(4)),
            (Resource::Core, Limit::Value(2)),
            (Resource::Rss, Limit::Value(8)),
            (Resource::Cpu, Limit::Value(10)),
        ]
    );
    let p = plan("softlimit", &["-m", "=", "true"]);
    assert!(MEMORY.iter().all(|&r| p.limits.get(r) == Some(Limit::Hard)));
}
