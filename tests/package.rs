//! The Debian package (issues #11, #17): `crates/dist/deb.sh` builds
//! `runit-rs` from this build's programs with dpkg-deb, and the result is
//! inspected with `dpkg-deb --field`, `--contents` and `-x`: control fields
//! that replace Debian's runit, every file at Debian's path, owned by root,
//! and programs that run once unpacked. Then the tools Debian uses:
//! `lintian` (no errors), and, in a scratch Debian 12 root made by
//! `crates/dist/scratch-root` (mmdebstrap, cached under target/), `dpkg
//! --root` installing it over Debian's runit, `systemd-analyze verify` of
//! every unit there, removal and purge.
//!
//! Needs dpkg-deb, lintian, mmdebstrap, systemd-analyze and root (`dpkg
//! --root` runs the maintainer scripts in a chroot); `tests/run` installs
//! the tools. A missing tool or program is a failure, not a skip.
//! (cargo-deb is not needed: `crates/dist/tests/layout.rs` checks that its
//! metadata lists the same files.)
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use harness::{Outcome, Scratch, cmd, run};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const BIN: [&str; 6] = ["chpst", "runsv", "runsvdir", "sv", "svlogd", "boot"];
const SBIN: [&str; 3] = ["runsvchdir", "runit", "runit-init"];
/// The systemd units, and those the postinst enables.
const UNITS: [&str; 3] = ["runsvdir.service", "boot-runsvdir.service", "boot.service"];
const ENABLED: [&str; 2] = ["runsvdir.service", "boot.service"];

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The package built once for all tests of this file (and the scratch
/// directory holding it). A missing dpkg-deb fails with a hint.
fn package() -> &'static (PathBuf, PathBuf) {
    static DEB: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    DEB.get_or_init(|| {
        harness::installed(&["/usr/bin/dpkg-deb"], "dpkg");
        let from = harness::target_dir();
        // A program not built fails every test here, with a hint.
        for p in BIN.iter().chain(SBIN.iter()) {
            harness::ours(p);
        }
        let s = harness::shared_dir("package");
        // The default compression (xz): what lintian checks is what ships.
        let mut c = cmd(top().join("crates/dist/deb.sh"), ["--no-build"]);
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
    for u in UNITS {
        want.insert(format!("usr/lib/systemd/system/{u}"));
    }
    want.insert("usr/share/doc/runit-rs/copyright".into());
    want.insert("usr/share/doc/runit-rs/changelog.Debian.gz".into());
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
    for script in ["postinst", "prerm", "postrm"] {
        let got = harness::read(control.join(script));
        assert_eq!(got, harness::read(top().join("crates/dist/debian").join(script)), "{script}");
    }
    for u in UNITS {
        let got = harness::read(root.join("usr/lib/systemd/system").join(u));
        assert_eq!(got, harness::read(top().join("crates/dist/systemd").join(u)), "{u}");
    }
}

/// Runs `c`, failing the test unless it exits 0; returns its output.
fn ok(c: &mut Command, timeout: Duration) -> Outcome {
    let o = run(c, timeout);
    assert_eq!(o.code, Some(0), "{c:?}: {o:?}");
    o
}

#[test]
fn lintian_reports_no_errors() {
    let (_, deb) = package();
    assert!(Path::new("/usr/bin/lintian").exists(), "lintian is not installed (tests/run installs it)");
    // Errors only fail the test; the warnings that remain are explained in
    // docs/packaging.md ("lintian").
    let mut c = cmd("lintian", ["--tag-display-limit", "0", "--no-cfg"]);
    c.arg(deb);
    let o = run(&mut c, Duration::from_secs(600));
    let errors: Vec<&str> = o.stdout.lines().filter(|l| l.starts_with("E: ")).collect();
    assert!(errors.is_empty(), "lintian errors:\n{}", errors.join("\n"));
    // lintian exits 2 when it could not check at all; 1 only for errors.
    assert_eq!(o.code, Some(0), "{o:?}");
    // It did look at the package (the justified warnings are there).
    assert!(o.stdout.contains("runit-rs: "), "{o:?}");
}

/// A fresh Debian 12 root with Debian's runit and systemd installed
/// (`crates/dist/scratch-root`, built once and cached under target/),
/// extracted into `s/<name>`.
fn scratch_root(s: &Scratch, name: &str) -> PathBuf {
    assert!(harness::is_root(), "needs root: dpkg --root runs the maintainer scripts in a chroot");
    let o =
        ok(&mut cmd(top().join("crates/dist/scratch-root"), Vec::<&str>::new()), Duration::from_secs(1800));
    let tar = PathBuf::from(o.stdout.lines().last().unwrap_or_default());
    assert!(tar.is_file(), "scratch-root printed {:?}", o.stdout);
    let root = s.join(name);
    fs::create_dir_all(&root).unwrap();
    let mut c = cmd("tar", ["--numeric-owner", "-xf"]);
    c.arg(&tar).arg("-C").arg(&root);
    ok(&mut c, Duration::from_secs(300));
    root
}

/// `dpkg --root ROOT ARGS...` (with the host's dpkg; maintainer scripts run
/// chrooted into ROOT).
fn dpkg(root: &Path, args: &[&str]) -> Outcome {
    let mut c = cmd("dpkg", ["--root"]);
    c.arg(root).args(args);
    run(&mut c, Duration::from_secs(300))
}

/// The status of package `name` in ROOT's dpkg database (`ii`, `rc`, ...),
/// or `None` when dpkg knows nothing of it.
fn status(root: &Path, name: &str) -> Option<String> {
    let o = dpkg(root, &["-l", name]);
    let line = o.stdout.lines().find(|l| l.split_whitespace().nth(1) == Some(name))?;
    Some(line.split_whitespace().next().unwrap_or_default().to_string())
}

fn wants(root: &Path, unit: &str) -> PathBuf {
    root.join("etc/systemd/system/multi-user.target.wants").join(unit)
}

fn helper_state(root: &Path, unit: &str) -> PathBuf {
    root.join("var/lib/systemd/deb-systemd-helper-enabled").join(format!("{unit}.dsh-also"))
}

#[test]
fn units_pass_systemd_analyze_verify_where_installed() {
    let (_, deb) = package();
    let s = Scratch::new("package-verify");
    let root = scratch_root(&s, "root");
    let o = dpkg(&root, &["-i", deb.to_str().unwrap()]);
    assert_eq!(o.code, Some(0), "{o:?}");
    for u in UNITS {
        // --root: the programs in ExecStart= are looked for in the root,
        // where the package put them; MANPATH: so are the man pages of
        // Documentation=.
        let mut c = cmd("systemd-analyze", ["verify"]);
        c.arg(format!("--root={}", root.display()))
            .arg(format!("/usr/lib/systemd/system/{u}"))
            .env("MANPATH", root.join("usr/share/man"));
        let o = run(&mut c, Duration::from_secs(120));
        assert_eq!((o.code, o.stderr.as_str()), (Some(0), ""), "{u}: {o:?}");
    }
    // The check does look at ExecStart=: without the program, it fails.
    fs::remove_file(root.join("usr/bin/boot")).unwrap();
    let mut c = cmd("systemd-analyze", ["verify"]);
    c.arg(format!("--root={}", root.display()))
        .arg("/usr/lib/systemd/system/boot.service")
        .env("MANPATH", root.join("usr/share/man"));
    let o = run(&mut c, Duration::from_secs(120));
    assert!(o.code != Some(0) && o.stderr.contains("/usr/bin/boot"), "{o:?}");
}

#[test]
fn installs_over_debians_runit_then_removes_and_purges_cleanly() {
    let (_, deb) = package();
    let s = Scratch::new("package-dpkg");
    let root = scratch_root(&s, "root");
    assert_eq!(status(&root, "runit").as_deref(), Some("ii"), "the scratch root has Debian's runit");
    let theirs_runsv = fs::read(root.join("usr/bin/runsv")).unwrap();

    // Install: Conflicts/Replaces make dpkg remove runit in favour of ours.
    let o = dpkg(&root, &["-i", deb.to_str().unwrap()]);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(o.stdout.contains("Removing runit "), "{o:?}");
    assert_eq!(status(&root, "runit-rs").as_deref(), Some("ii"));
    // runit is removed, its conffiles stay (`ic` or `rc`: config-files),
    // our programs are in its place.
    let st = status(&root, "runit").unwrap_or_default();
    assert!(st.len() == 2 && st.ends_with('c'), "runit's status: {st:?}");
    let o = dpkg(&root, &["-S", "/usr/bin/runsv"]);
    assert_eq!(o.stdout.trim(), "runit-rs: /usr/bin/runsv", "{o:?}");
    assert_ne!(fs::read(root.join("usr/bin/runsv")).unwrap(), theirs_runsv);
    assert!(root.join("etc/service").is_dir());
    for u in UNITS {
        let f = root.join("usr/lib/systemd/system").join(u);
        assert_eq!(harness::read(&f), harness::read(top().join("crates/dist/systemd").join(u)), "{u}");
    }
    // Enabled the Debian way: deb-systemd-helper's symlinks and state.
    for u in ENABLED {
        let link = fs::read_link(wants(&root, u)).unwrap_or_else(|e| panic!("{u} not enabled: {e}"));
        let target = link.to_string_lossy().into_owned();
        assert!(
            target == format!("/lib/systemd/system/{u}") || target == format!("/usr/lib/systemd/system/{u}")
        );
        assert!(root.join(target.trim_start_matches('/')).is_file(), "{u} -> {target}");
        assert!(helper_state(&root, u).is_file(), "{u}: no deb-systemd-helper state");
    }
    assert!(fs::symlink_metadata(wants(&root, "boot-runsvdir.service")).is_err(), "static unit enabled");

    // Remove: files gone, enablement kept until purge (as dh_installsystemd).
    let o = dpkg(&root, &["-r", "runit-rs"]);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(status(&root, "runit-rs").as_deref(), Some("rc"));
    for u in UNITS {
        assert!(!root.join("usr/lib/systemd/system").join(u).exists(), "{u} left after remove");
    }
    assert!(!root.join("usr/bin/runsvdir").exists());
    for u in ENABLED {
        assert!(fs::symlink_metadata(wants(&root, u)).is_ok(), "{u}: enablement lost before purge");
    }

    // Purge: the symlinks, deb-systemd-helper's state and /etc/service go.
    let o = dpkg(&root, &["-P", "runit-rs"]);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(status(&root, "runit-rs"), None);
    for u in ENABLED {
        assert!(fs::symlink_metadata(wants(&root, u)).is_err(), "{u}: symlink left after purge");
        assert!(!helper_state(&root, u).exists(), "{u}: state left after purge");
        let state = root.join("var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants").join(u);
        assert!(!state.exists(), "{}", state.display());
    }
    assert!(!root.join("etc/service").exists(), "/etc/service left after purge");
    // No unit file or link of ours is left anywhere in the root's /usr and
    // /etc, nor a program.
    let mut c = cmd("find", Vec::<&str>::new());
    c.arg(root.join("usr")).arg(root.join("etc")).arg(root.join("var/lib/systemd"));
    for (i, u) in UNITS.iter().enumerate() {
        if i > 0 {
            c.arg("-o");
        }
        c.args(["-name", u, "-o", "-name", &format!("{u}.dsh-also")]);
    }
    let o = ok(&mut c, Duration::from_secs(60));
    assert_eq!(o.stdout, "", "left after purge");
    for p in BIN.iter().map(|p| format!("usr/bin/{p}")).chain(SBIN.iter().map(|p| format!("usr/sbin/{p}"))) {
        assert!(!root.join(&p).exists(), "{p} left after purge");
    }

    // And Debian's runit installs again.
    let debs: Vec<PathBuf> =
        fs::read_dir(root.join("root/debs")).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(debs.len(), 1, "{debs:?}");
    let o = dpkg(&root, &["-i", debs[0].to_str().unwrap()]);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_eq!(status(&root, "runit").as_deref(), Some("ii"));
    assert_eq!(fs::read(root.join("usr/bin/runsv")).unwrap(), theirs_runsv);
}
