//! The Debian package (issue #11): `crates/dist/deb.sh` builds `runit-rs`
//! from this build's programs with dpkg-deb, and the result is inspected
//! with `dpkg-deb --field`, `--contents` and `-x`: control fields that
//! replace Debian's runit, every file at Debian's path, owned by root,
//! and programs that run once unpacked.
//!
//! A program not built yet fails the tests with a hint, as do a missing
//! dpkg-deb and Debian's runit (tests/run installs both). (cargo-deb is not needed:
//! `crates/dist/tests/layout.rs` checks that its metadata lists the same
//! files.)
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use harness::{Outcome, Scratch, cmd, run};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

const BIN: [&str; 6] = ["chpst", "runsv", "runsvdir", "sv", "svlogd", "boot"];
const SBIN: [&str; 3] = ["runsvchdir", "runit", "runit-init"];

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The package built once for all tests of this file (and the scratch
/// directory holding it). A missing dpkg-deb fails with a hint.
fn package() -> &'static (Scratch, PathBuf) {
    static DEB: OnceLock<(Scratch, PathBuf)> = OnceLock::new();
    DEB.get_or_init(|| {
        harness::installed(&["/usr/bin/dpkg-deb"], "dpkg");
        // A program not built fails every test here, with a hint.
        for p in BIN.iter().chain(SBIN.iter()) {
            harness::ours(p);
        }
        let from = harness::target_dir();
        let s = Scratch::new("package");
        let mut c = cmd(top().join("crates/dist/deb.sh"), ["--no-build", "-Z", "none"]);
        c.arg("--from").arg(&from).arg("--out").arg(s.join("out"));
        let o = run(&mut c, Duration::from_secs(300));
        assert_eq!(o.code, Some(0), "deb.sh failed: {o:?}");
        let deb = PathBuf::from(o.stdout.trim());
        assert!(deb.starts_with(s.join("out")) && deb.exists(), "deb.sh printed {:?}", o.stdout);
        (s, deb)
    })
}

fn dpkg_deb(args: &[&str], deb: &Path) -> Outcome {
    let mut c = cmd("dpkg-deb", args);
    c.arg(deb);
    let o = run(&mut c, Duration::from_secs(60));
    assert_eq!(o.code, Some(0), "dpkg-deb {args:?}: {o:?}");
    o
}

fn field(deb: &Path, name: &str) -> String {
    let mut c = cmd("dpkg-deb", ["--field"]);
    c.arg(deb).arg(name);
    run(&mut c, Duration::from_secs(60)).stdout.trim_end().to_string()
}

fn version() -> String {
    format!("{}-1", env!("CARGO_PKG_VERSION"))
}

#[test]
fn control_fields_replace_debians_runit() {
    let (_, deb) = package();
    assert_eq!(field(deb, "Package"), "runit-rs");
    assert_eq!(field(deb, "Version"), version());
    assert_eq!(field(deb, "Conflicts"), "runit");
    assert_eq!(field(deb, "Replaces"), "runit");
    assert_eq!(field(deb, "Provides"), "", "must not provide runit: its integration is not shipped");
    assert_eq!(field(deb, "Section"), "admin");
    let arch = run(&mut cmd("dpkg", ["--print-architecture"]), Duration::from_secs(10)).stdout;
    assert_eq!(field(deb, "Architecture"), arch.trim());
    let depends = field(deb, "Depends");
    assert!(depends.starts_with("libc6"), "Depends: {depends}");
    let desc = field(deb, "Description");
    assert!(desc.starts_with("drop-in Rust rewrite of the runit"), "{desc}");
    assert!(desc.contains("\n .\n"), "paragraphs of the extended description: {desc}");
    assert!(field(deb, "Maintainer").contains('@'));
    let size: u64 = field(deb, "Installed-Size").parse().unwrap();
    assert!(size > 1000, "Installed-Size {size}");
    let name = deb.file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name, format!("runit-rs_{}_{}.deb", version(), arch.trim()));
}

#[test]
fn every_file_is_at_debians_path_and_owned_by_root() {
    let (_, deb) = package();
    let listing = dpkg_deb(&["--contents"], deb).stdout;
    let mut got = BTreeSet::new();
    for line in listing.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[1], "root/root", "{line}");
        let path = cols[5].trim_start_matches("./");
        if cols[0].starts_with('d') {
            assert_eq!(cols[0], "drwxr-xr-x", "{line}");
            continue;
        }
        let want_mode = if path.starts_with("usr/bin/") || path.starts_with("usr/sbin/") {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert_eq!(cols[0], want_mode, "{line}");
        got.insert(path.to_string());
    }
    let mut want = BTreeSet::new();
    for p in BIN {
        want.insert(format!("usr/bin/{p}"));
    }
    for p in SBIN {
        want.insert(format!("usr/sbin/{p}"));
    }
    for p in BIN.iter().chain(SBIN.iter()) {
        want.insert(format!("usr/share/man/man8/{p}.8.gz"));
        want.insert(format!("usr/share/bash-completion/completions/{p}"));
        want.insert(format!("usr/share/zsh/vendor-completions/_{p}"));
        want.insert(format!("usr/share/fish/vendor_completions.d/{p}.fish"));
    }
    for page in ["boot.toml", "service.toml"] {
        want.insert(format!("usr/share/man/man5/{page}.5.gz"));
    }
    want.insert("usr/share/doc/runit-rs/copyright".into());
    want.insert("usr/share/doc/runit-rs/README.md".into());
    for e in fs::read_dir(top().join("docs")).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".md") {
            want.insert(format!("usr/share/doc/runit-rs/docs/{n}"));
        }
    }
    assert_eq!(got, want);
}

#[test]
fn programs_sit_where_debians_runit_puts_them() {
    let (_, deb) = package();
    let o = run(&mut cmd("dpkg", ["-L", "runit"]), Duration::from_secs(30));
    assert_eq!(
        o.code,
        Some(0),
        "Debian's runit is not installed (dpkg -L runit): `apt-get install runit` (tests/run installs it)"
    );
    let ours: BTreeSet<String> = dpkg_deb(&["--contents"], deb)
        .stdout
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').to_string())
        .collect();
    let mut checked = 0;
    for path in o.stdout.lines() {
        let name = path.rsplit('/').next().unwrap_or("");
        if !BIN.contains(&name) && !SBIN.contains(&name) {
            continue;
        }
        if !(path.starts_with("/usr/bin/") || path.starts_with("/usr/sbin/") || path.starts_with("/sbin/")) {
            continue;
        }
        // Debian 12 has merged /usr: /sbin/runit is /usr/sbin/runit.
        let merged =
            path.strip_prefix("/sbin/").map(|n| format!("/usr/sbin/{n}")).unwrap_or_else(|| path.to_string());
        assert!(ours.contains(&merged), "Debian's runit has {path}; runit-rs has no {merged}");
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} of Debian's runit programs compared");
}

#[test]
fn unpacked_programs_run_and_pages_are_ours() {
    let (s, deb) = package();
    let root = s.join("unpacked");
    let mut c = cmd("dpkg-deb", ["-x"]);
    c.arg(deb).arg(&root);
    assert_eq!(run(&mut c, Duration::from_secs(60)).code, Some(0));
    let o = run(&mut cmd(root.join("usr/bin/sv"), ["-V"]), Duration::from_secs(10));
    assert!(o.stderr.starts_with(&format!("{}\n", harness::runit_core::version_id())), "{o:?}");
    let o = run(&mut cmd(root.join("usr/sbin/runsvchdir"), Vec::<&str>::new()), Duration::from_secs(10));
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stderr.starts_with("usage: ") && o.stderr.ends_with("/usr/sbin/runsvchdir dir\n\n"), "{o:?}");
    for p in BIN.iter().chain(SBIN.iter()) {
        let gz = root.join(format!("usr/share/man/man8/{p}.8.gz"));
        let mut c = cmd("gzip", ["-dc"]);
        c.arg(&gz);
        let page = run(&mut c, Duration::from_secs(10)).stdout;
        assert_eq!(page, harness::read(top().join(format!("docs/man/{p}.8"))), "{}", gz.display());
    }
    let copyright = harness::read(root.join("usr/share/doc/runit-rs/copyright"));
    assert!(copyright.contains("License: BSD-3-Clause") && copyright.contains(" Redistribution and use"));
    // md5sums in the control area match the files.
    let control = s.join("control");
    let mut c = cmd("dpkg-deb", ["-e"]);
    c.arg(deb).arg(&control);
    assert_eq!(run(&mut c, Duration::from_secs(60)).code, Some(0));
    let mut c = cmd("md5sum", ["--quiet", "-c"]);
    c.arg(control.join("md5sums")).current_dir(&root);
    let o = run(&mut c, Duration::from_secs(60));
    assert_eq!(o.code, Some(0), "{o:?}");
    let postinst = harness::read(control.join("postinst"));
    assert!(postinst.starts_with("#!/bin/sh") && postinst.contains("mkdir -p /etc/service"), "{postinst}");
}
