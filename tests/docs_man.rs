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
    // A missing groff is a failure: tests/run installs it (groff-base).
    let groff = harness::installed(&["/usr/bin/groff"], "groff-base");
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
        let o = Command::new(&groff).args(["-t", "-man", "-ww", "-z"]).arg(&path).output().unwrap();
        let warnings = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && warnings.is_empty(), "{}: groff says:\n{warnings}", path.display());
    }
}

/// The file-format pages of section 5, beside the section-8 pages.
const FORMAT_PAGES: [&str; 2] = ["boot.toml", "service.toml"];

/// The keys boot's strict decoder accepts where `probe` puts an unknown
/// key: the `expected ...` list of its error (nothing is taken from the
/// pages or the source).
fn expected_keys(o: &harness::Outcome) -> Vec<String> {
    let err = &o.stderr;
    let list = err
        .split_once("unknown field `zz_probe`, expected ")
        .map(|(_, l)| l)
        .unwrap_or_else(|| panic!("no unknown-field error: {err}"));
    list.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

/// Every key of `boot.toml` and `service.toml`, as the built boot accepts
/// them, is named in the section-5 page.
#[test]
fn file_format_pages_document_every_key() {
    let bin = built("boot");
    let sandbox = Sandbox::new("format-keys");
    let root = sandbox.path().join("root");
    let conf = root.join("etc/boot/boot.toml");
    std::fs::create_dir_all(conf.parent().unwrap()).unwrap();
    let mut boot_toml = BTreeSet::new();
    for table in ["", "[keys]\n", "[imds]\n"] {
        std::fs::write(&conf, format!("{table}zz_probe = 1\n")).unwrap();
        let o = sandbox.run(&bin, "boot", &["status".to_string()]);
        assert_eq!(o.code, Some(2), "{o:?}");
        boot_toml.extend(expected_keys(&o));
    }
    std::fs::remove_file(&conf).unwrap();
    for k in ["sources", "wait_s", "deadline_ms", "token_ttl_s", "mode"] {
        assert!(boot_toml.contains(k), "probe missed {k}: {boot_toml:?}");
    }
    let cat = sandbox.path().join("cat");
    std::fs::create_dir_all(cat.join("p")).unwrap();
    std::fs::create_dir_all(cat.join("env/common")).unwrap();
    std::fs::write(cat.join("tags.toml"), "[tags]\nMode = \"review\"\n").unwrap();
    let head = "schema = 1\nname = \"p\"\nkind = \"app\"\nmodes = [\"review\"]\n[process]\ncommand = [\"/bin/true\"]\n";
    let mut service_toml = BTreeSet::new();
    for table in [
        "",
        "[process.limits]",
        "[runtime]",
        "[env]",
        "[components.x]",
        "[dependencies]",
        "[stop]",
        "[check]",
        "[ready]",
        "[data]",
        "[log]",
    ] {
        let text = if table.is_empty() {
            format!("zz_probe = 1\n{head}")
        } else {
            format!("{head}{table}\nzz_probe = 1\n")
        };
        std::fs::write(cat.join("p/service.toml"), text).unwrap();
        let args = ["--catalogue", cat.to_str().unwrap(), "--source", "static", "plan"].map(String::from);
        let o = sandbox.run(&bin, "boot", &args);
        assert_eq!(o.code, Some(2), "{table}: {o:?}");
        service_toml.extend(expected_keys(&o));
    }
    for k in
        ["schema", "process", "open_files", "manager", "from_tags", "signal", "notify", "creates", "keep"]
    {
        assert!(service_toml.contains(k), "probe missed {k}: {service_toml:?}");
    }
    for (page, keys) in [("boot.toml", &boot_toml), ("service.toml", &service_toml)] {
        let path = top().join("docs/man").join(format!("{page}.5"));
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
        let text = roff_to_text(&raw);
        let missing: Vec<&String> = keys.iter().filter(|k| !mentions(&text, k)).collect();
        assert!(missing.is_empty(), "{} does not document {missing:?} (all: {keys:?})", path.display());
    }
}

/// The section-5 pages are well-formed roff with the usual sections, and
/// boot(8) points at them.
#[test]
fn file_format_pages_are_well_formed() {
    // A missing groff is a failure here: tests/run installs it (groff-base).
    assert!(
        std::path::Path::new("/usr/bin/groff").exists(),
        "groff is not installed (Debian groff-base; tests/run installs it)"
    );
    for page in FORMAT_PAGES {
        let path = top().join("docs/man").join(format!("{page}.5"));
        let raw = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
        let th: Vec<&str> = raw.lines().next().unwrap_or("").split_whitespace().collect();
        assert_eq!(th.first(), Some(&".TH"), "{}: no .TH line first", path.display());
        assert_eq!(th.get(2), Some(&"5"), "{}: section", path.display());
        let secs: Vec<&str> = raw.lines().filter_map(|l| l.strip_prefix(".SH ")).map(str::trim).collect();
        for want in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "SEE ALSO"] {
            assert!(secs.contains(&want), "{}: no {want} section (has {secs:?})", path.display());
        }
        let name_line = raw.split(".SH NAME\n").nth(1).and_then(|r| r.lines().next()).unwrap_or("");
        assert!(roff_to_text(name_line).starts_with(page), "{}: NAME line {name_line:?}", path.display());
        let o = Command::new("groff").args(["-t", "-man", "-ww", "-z"]).arg(&path).output().unwrap();
        let warnings = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success() && warnings.is_empty(), "{}: groff says:\n{warnings}", path.display());
        let boot8 = page_text("boot").expect("docs/man/boot.8 is missing");
        let refers = boot8.contains(&format!("{page}(5)")) || boot8.contains(&format!("{page} (5)"));
        assert!(refers, "boot.8 does not refer to {page}(5)");
    }
}
