//! The man pages (issue #11): every program has one in `docs/man/`, it is
//! well-formed roff, and it documents every option the **built** program
//! accepts, so adding an option without documenting it fails here.
//!
//! The options are found by probing the binaries (see
//! `docs_support/mod.rs`): nothing is taken from the pages or the source.
//! A program whose binary is not built fails the test, with a hint.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

#[path = "docs_support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::process::Command;
use support::*;

/// The options `name` accepts that its man page does not mention.
fn undocumented(name: &str) -> (Subject, BTreeSet<String>, Vec<String>) {
    let s = subject(name);
    let opts = accepted(&s);
    let text = page_text(s.page).unwrap_or_else(|| {
        panic!("docs/man/{}.8 is missing ({} is built; every program needs a man page)", s.page, s.binary)
    });
    let missing = opts.iter().filter(|o| !mentions(&text, o)).cloned().collect();
    (s, opts, missing)
}

fn check(name: &str) {
    let (s, opts, missing) = undocumented(name);
    eprintln!("{name} accepts {opts:?}");
    assert!(
        missing.is_empty(),
        "docs/man/{}.8 does not document {missing:?}, which the built {name} accepts (all: {opts:?})",
        s.page
    );
}

/// Asserts the probe found `expected` for `name` (so the checks above are
/// not vacuous), allowing extensions unless `exact`.
fn probe_finds(name: &str, expected: &[&str], exact: bool) {
    let found = accepted(&subject(name));
    let want: BTreeSet<String> = expected.iter().map(|o| o.to_string()).collect();
    if exact {
        assert_eq!(found, want, "{name}'s options");
    } else {
        assert!(found.is_superset(&want), "{name}: found {found:?}, runit's are {want:?}");
    }
}

#[test]
fn runsv_page_documents_every_option() {
    check("runsv");
}

#[test]
fn runsvdir_page_documents_every_option() {
    check("runsvdir");
}

#[test]
fn runsvchdir_page_documents_every_option() {
    check("runsvchdir");
}

#[test]
fn sv_page_documents_every_option() {
    check("sv");
}

#[test]
fn chpst_page_documents_every_option() {
    check("chpst");
}

#[test]
fn chpst_page_documents_every_option_of_the_multi_call_names() {
    for name in ["envdir", "envuidgid", "setuidgid", "pgrphack", "setlock", "softlimit"] {
        check(name);
    }
}

#[test]
fn svlogd_page_documents_every_option() {
    check("svlogd");
}

#[test]
fn runit_page_documents_every_option() {
    check("runit");
}

#[test]
fn runit_init_page_documents_every_option() {
    check("runit-init");
}

#[test]
fn boot_page_documents_every_option() {
    check("boot");
}

#[test]
fn the_probe_finds_runits_options() {
    probe_finds("runsv", &[], true);
    probe_finds("runsvdir", &["-P"], true);
    probe_finds("runsvchdir", &[], true);
    probe_finds("runit-init", &["-V"], true);
    probe_finds("sv", &["-v", "-w", "-V"], false);
    probe_finds("svlogd", &["-t", "-r", "-R", "-l", "-b", "-v", "-V"], false);
    let chpst = [
        "-u", "-U", "-b", "-e", "-/", "-C", "-n", "-l", "-L", "-m", "-d", "-o", "-p", "-f", "-c", "-r", "-t",
        "-v", "-V", "-P", "-0", "-1", "-2",
    ];
    probe_finds("chpst", &chpst, false);
    probe_finds("setlock", &["-n", "-N", "-x", "-X"], true);
    let softlimit = ["-a", "-c", "-d", "-f", "-l", "-m", "-o", "-p", "-r", "-s", "-t"];
    probe_finds("softlimit", &softlimit, true);
    for name in ["envdir", "envuidgid", "setuidgid", "pgrphack"] {
        probe_finds(name, &[], true);
    }
}

#[test]
fn the_probe_finds_boots_long_options() {
    let found = accepted(&subject("boot"));
    for o in ["--root", "--source"] {
        assert!(found.contains(o), "boot: found {found:?}, no {o}");
    }
    assert!(!found.iter().any(|o| o.starts_with("--ro") && o != "--root"), "{found:?}");
}

#[test]
fn sv_page_names_every_command() {
    let bin = built("sv");
    let text = page_text("sv").expect("docs/man/sv.8 is missing");
    let sandbox = Sandbox::new("sv-commands");
    let nowhere = sandbox.path().join("no-such-service").display().to_string();
    for cmd in SV_COMMANDS {
        // sv takes the command (not usage) and fails on the missing service.
        let o = sandbox.run(&bin, "sv", &[cmd.to_string(), nowhere.clone()]);
        assert!(!o.stderr.contains("usage:"), "sv {cmd}: {o:?}");
        assert!(
            o.stdout.contains("no-such-service") || o.stderr.contains("no-such-service"),
            "sv {cmd}: {o:?}"
        );
        assert!(mentions(&text, cmd), "docs/man/sv.8 does not name the command {cmd:?}");
    }
}

#[test]
fn boot_page_names_every_command() {
    let bin = built("boot");
    let text = page_text("boot").expect("docs/man/boot.8 is missing");
    let commands = boot_commands(&bin);
    assert!(commands.iter().any(|c| c == "up") && commands.iter().any(|c| c == "down"), "{commands:?}");
    for cmd in &commands {
        assert!(mentions(&text, cmd), "docs/man/boot.8 does not name the command {cmd:?}");
    }
}

#[test]
fn every_page_is_well_formed() {
    // tests/run installs groff (groff-base); without it only the structure
    // below is checked.
    let groff = std::path::Path::new("/usr/bin/groff").exists();
    if !groff {
        eprintln!("groff is not installed: roff warnings are not checked");
    }
    let mut pages: Vec<&str> = SUBJECTS.iter().map(|s| s.page).collect();
    pages.dedup();
    for page in pages {
        let path = top().join("docs/man").join(format!("{page}.8"));
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
        assert!(raw.starts_with(".TH "), "{}: no .TH line first", path.display());
        let th: Vec<&str> = raw.lines().next().unwrap().split_whitespace().collect();
        assert_eq!(th.get(2), Some(&"8"), "{}: section", path.display());
        let secs = sections(page);
        for want in ["NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"] {
            assert!(secs.iter().any(|s| s == want), "{}: no {want} section (has {secs:?})", path.display());
        }
        let name_line = raw.split(".SH NAME\n").nth(1).and_then(|r| r.lines().next()).map(roff_to_text);
        let name_line = name_line.unwrap_or_default();
        assert!(
            mentions(&name_line, page),
            "{}: NAME line {name_line:?} does not name {page}",
            path.display()
        );
        if groff {
            let o = Command::new("groff").args(["-t", "-man", "-ww", "-z"]).arg(&path).output().unwrap();
            let warnings = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success() && warnings.is_empty(), "{}: groff says:\n{warnings}", path.display());
        }
    }
}
