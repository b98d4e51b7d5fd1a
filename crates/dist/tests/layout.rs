//! The installer, the Debian metadata and the docs agree with the list in
//! `runit_rs_dist` (and so with each other): a program, man page or
//! completion added in one place and forgotten in another fails here,
//! without building anything. (Running the scripts is the job of the
//! workspace's `tests/install*.rs` and `tests/package*.rs`.)
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use runit_rs_dist::{CHPST_NAMES, ENABLED_UNITS, PROGRAMS, SYSTEMD_UNITS, Shell, debian_files};
use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

fn here() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn top() -> PathBuf {
    here().join("../..")
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn manifest() -> toml::Table {
    read(&here().join("Cargo.toml")).parse().unwrap()
}

fn deb_table() -> toml::Table {
    let m = manifest();
    m["package"]["metadata"]["deb"].as_table().unwrap().clone()
}

/// The `docs/*.md` file names.
fn doc_pages() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(top().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md"))
        .collect();
    v.sort();
    v
}

/// The words of the shell assignment `name="..."` in `script`.
fn shell_list(script: &str, name: &str) -> Vec<String> {
    let prefix = format!("{name}=\"");
    let line = script.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("no {name}= line"));
    line[prefix.len()..].trim_end_matches('"').split_whitespace().map(String::from).collect()
}

#[test]
fn cargo_deb_assets_are_the_packaged_files() {
    let deb = deb_table();
    let mut got = BTreeSet::new();
    for a in deb["assets"].as_array().unwrap() {
        let a = a.as_array().unwrap();
        let (src, dst) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        assert!(dst.ends_with('/'), "{dst}: assets name directories");
        let names: Vec<String> = if let Some(dir) = src.strip_suffix("/*.md") {
            let dir = here().join(dir);
            assert_eq!(dir.canonicalize().unwrap(), top().join("docs").canonicalize().unwrap());
            doc_pages()
        } else {
            if !src.starts_with("target/") {
                assert!(here().join(src).exists(), "asset {src} does not exist");
            }
            vec![src.rsplit('/').next().unwrap().to_string()]
        };
        for n in names {
            // cargo-deb gzips man pages, as deb.sh does.
            let n = if dst.starts_with("usr/share/man/") { format!("{n}.gz") } else { n };
            assert!(got.insert(format!("{dst}{n}")), "{dst}{n} twice");
        }
    }
    // cargo-deb writes the copyright file from `copyright`/`license-file`.
    got.insert("usr/share/doc/runit-rs/copyright".into());
    // ... and changelog.Debian.gz from `changelog`.
    assert_eq!(deb["changelog"].as_str(), Some("debian/changelog"));
    got.insert("usr/share/doc/runit-rs/changelog.Debian.gz".into());
    let pages = doc_pages();
    let pages: Vec<&str> = pages.iter().map(String::as_str).collect();
    let want: BTreeSet<String> = debian_files(&pages).into_iter().collect();
    assert_eq!(got, want);
}

#[test]
fn control_fields_replace_debians_runit() {
    let deb = deb_table();
    assert_eq!(deb["name"].as_str(), Some("runit-rs"));
    assert_eq!(deb["conflicts"].as_str(), Some("runit"));
    assert_eq!(deb["replaces"].as_str(), Some("runit"));
    assert!(deb.get("provides").is_none(), "runit-rs must not provide runit (see docs/packaging.md)");
    for key in ["maintainer", "section", "priority", "revision", "copyright"] {
        assert!(deb[key].as_str().is_some_and(|v| !v.is_empty()), "no {key}");
    }
    let desc = read(&here().join(deb["extended-description-file"].as_str().unwrap()));
    assert!(desc.lines().all(|l| l.len() <= 80), "description lines over 80 columns");
    let scripts = here().join(deb["maintainer-scripts"].as_str().unwrap());
    assert!(read(&scripts.join("postinst")).contains("/etc/service"));
    let summary = manifest()["package"]["description"].as_str().unwrap().to_string();
    assert!(summary.len() < 80 && !summary.starts_with("A "), "Debian's synopsis rules: {summary:?}");
}

#[test]
fn install_sh_installs_every_program_and_name() {
    let script = read(&here().join("install.sh"));
    let bin: Vec<String> =
        PROGRAMS.iter().filter(|p| p.dir == runit_rs_dist::Dir::Bin).map(|p| p.name.to_string()).collect();
    let sbin: Vec<String> =
        PROGRAMS.iter().filter(|p| p.dir == runit_rs_dist::Dir::Sbin).map(|p| p.name.to_string()).collect();
    assert_eq!(shell_list(&script, "programs_bin"), bin);
    assert_eq!(shell_list(&script, "programs_sbin"), sbin);
    assert_eq!(shell_list(&script, "chpst_names"), CHPST_NAMES);
    for sh in Shell::ALL {
        assert!(script.contains(&format!("{}/", sh.dir())), "install.sh does not install {sh:?} files");
    }
}

#[test]
fn deb_sh_builds_every_package() {
    let script = read(&here().join("deb.sh"));
    let mut want: Vec<&str> = PROGRAMS.iter().map(|p| p.package).collect();
    want.sort_unstable();
    want.dedup();
    for pkg in want {
        assert!(script.contains(&format!("-p {pkg} ")) || script.contains(&format!("-p {pkg}\n")), "{pkg}");
    }
}

#[test]
fn completion_files_are_exactly_the_programs() {
    for sh in Shell::ALL {
        let dir = top().join("docs/completions").join(sh.dir());
        let got: BTreeSet<String> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let want: BTreeSet<String> = PROGRAMS.iter().map(|p| sh.file(p.name)).collect();
        assert_eq!(got, want, "{}", dir.display());
    }
}

#[test]
fn every_program_has_a_man_page() {
    let missing: Vec<&str> =
        PROGRAMS.iter().map(|p| p.name).filter(|n| !top().join(format!("docs/man/{n}.8")).exists()).collect();
    assert!(missing.is_empty(), "docs/man/<name>.8 missing for {missing:?}");
}

#[test]
fn every_program_is_built_by_its_package() {
    for p in PROGRAMS {
        let m: toml::Table = read(&top().join("crates").join(p.package).join("Cargo.toml")).parse().unwrap();
        let bins = m.get("bin").and_then(|b| b.as_array()).cloned().unwrap_or_default();
        let names: Vec<&str> = bins.iter().filter_map(|b| b.get("name").and_then(|n| n.as_str())).collect();
        assert!(names.contains(&p.name), "crates/{}/Cargo.toml builds {names:?}, not {}", p.package, p.name);
    }
}

#[test]
fn systemd_units_are_the_listed_ones() {
    let got: BTreeSet<String> = fs::read_dir(here().join("systemd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let want: BTreeSet<String> = SYSTEMD_UNITS.iter().map(|u| u.to_string()).collect();
    assert_eq!(got, want);
    // Exactly the enabled units have an [Install] section.
    for u in SYSTEMD_UNITS {
        let text = read(&here().join("systemd").join(u));
        assert_eq!(text.contains("\n[Install]\n"), ENABLED_UNITS.contains(u), "{u}: [Install] section");
    }
    let deb = read(&here().join("deb.sh"));
    assert!(deb.contains("\"$here\"/systemd/*.service") && deb.contains("usr/lib/systemd/system"));
}

#[test]
fn maintainer_scripts_handle_every_unit() {
    let dir = here().join("debian");
    let postinst = read(&dir.join("postinst"));
    let prerm = read(&dir.join("prerm"));
    let postrm = read(&dir.join("postrm"));
    let deb = read(&here().join("deb.sh"));
    assert!(deb.contains("for f in postinst prerm postrm"), "deb.sh installs the three scripts");
    for s in [&postinst, &prerm, &postrm] {
        assert!(s.starts_with("#!/bin/sh\n") && s.contains("\nset -e\n"));
    }
    // postinst enables the units with [Install], from one list.
    let enable_line = format!("for unit in {}; do", ENABLED_UNITS.join(" "));
    assert!(postinst.contains(&enable_line), "postinst: {enable_line}");
    assert!(postinst.contains("deb-systemd-helper enable \"$unit\""));
    // prerm stops every unit, boot.service first (`boot down` needs runsvdir).
    let stop: Vec<String> = SYSTEMD_UNITS.iter().map(|u| format!("'{u}'")).collect();
    let boot = stop.iter().position(|u| u == "'boot.service'").unwrap();
    let mut order = vec![stop[boot].clone()];
    order.extend(stop.iter().filter(|u| *u != "'boot.service'").cloned().rev());
    assert!(prerm.contains(&format!("deb-systemd-invoke stop {}", order.join(" "))), "prerm stops {order:?}");
    // postrm forgets the enabled units on purge.
    let purge: Vec<String> = ENABLED_UNITS.iter().map(|u| format!("'{u}'")).collect();
    assert!(postrm.contains(&format!("deb-systemd-helper purge {}", purge.join(" "))));
}

#[test]
fn changelog_names_this_version() {
    let top_manifest: toml::Table = read(&top().join("Cargo.toml")).parse().unwrap();
    let version = top_manifest["workspace"]["package"]["version"].as_str().unwrap();
    let revision = deb_table()["revision"].as_str().unwrap().to_string();
    let changelog = read(&here().join("debian/changelog"));
    let first = changelog.lines().next().unwrap();
    assert_eq!(first, format!("runit-rs ({version}-{revision}) unstable; urgency=medium"));
    let maintainer = deb_table()["maintainer"].as_str().unwrap().to_string();
    assert!(changelog.contains(&format!("\n -- {maintainer}  ")), "changelog trailer names the maintainer");
}
