//! The install command (issue #11): `crates/dist/install.sh` puts the
//! programs, chpst's daemontools names, the man pages, the completions and
//! the docs under a prefix (DESTDIR/PREFIX conventions), and the installed
//! programs run and print our version with `-V`.
//!
//! Everything is installed into scratch directories, from the binaries of
//! this build (`--from`). A program not built yet fails the tests with a
//! hint. install.sh runs with a `PATH` of the system's tools without the
//! daemontools names (see [`tools_path`]): what else is installed on the
//! machine (Debian's daemontools puts envdir, setlock, ... in /usr/bin)
//! does not change what it does here.
// In a test a panic is the failure report.
#![allow(clippy::unwrap_used)]

use harness::{Outcome, Proc, Scratch, cmd, run, script, wait_running_pid, wait_stat, write};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const BIN: [&str; 6] = ["chpst", "runsv", "runsvdir", "sv", "svlogd", "boot"];
const SBIN: [&str; 3] = ["runsvchdir", "runit", "runit-init"];
const NAMES: [&str; 6] = ["envdir", "envuidgid", "pgrphack", "setlock", "setuidgid", "softlimit"];

fn top() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The directory of the build's programs; fails the test with a hint when
/// one is not built.
fn built() -> PathBuf {
    for p in BIN.iter().chain(SBIN.iter()) {
        harness::ours(p);
    }
    harness::target_dir()
}

/// A `PATH` for install.sh: one directory (made in `s`) with a link to
/// every program of the system's standard directories except the names
/// install.sh links to chpst, so whether another package (daemontools)
/// provides those names does not matter.
fn tools_path(s: &Scratch) -> String {
    let tools = s.join("tools");
    if !tools.is_dir() {
        fs::create_dir_all(&tools).unwrap();
        for dir in ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
            let Ok(rd) = fs::read_dir(dir) else { continue };
            for e in rd.flatten() {
                let name = e.file_name();
                if NAMES.iter().any(|n| name == **n) || tools.join(&name).symlink_metadata().is_ok() {
                    continue;
                }
                std::os::unix::fs::symlink(e.path(), tools.join(&name)).unwrap();
            }
        }
    }
    tools.display().to_string()
}

/// Runs install.sh with `args` and `env` (`PATH`: [`tools_path`] unless
/// `env` sets it), from this build.
fn install(s: &Scratch, from: &Path, args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut c = cmd(top().join("crates/dist/install.sh"), args);
    c.arg("--from").arg(from).env("PATH", tools_path(s));
    for (k, v) in env {
        c.env(k, v);
    }
    run(&mut c, Duration::from_secs(60))
}

fn ok(o: &Outcome) {
    assert_eq!(o.code, Some(0), "install.sh failed: {o:?}");
}

fn same_file(a: &Path, b: &Path) {
    let (x, y) = (fs::read(a).unwrap(), fs::read(b).unwrap_or_else(|e| panic!("{}: {e}", b.display())));
    assert!(x == y, "{} differs from {}", b.display(), a.display());
}

fn mode(p: &Path) -> u32 {
    fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

fn link_target(p: &Path) -> String {
    fs::read_link(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).display().to_string()
}

/// Every regular file and link under `dir`, relative, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(rd) = fs::read_dir(dir) else { return };
        for e in rd.flatten() {
            let p = e.path();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut v = Vec::new();
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// The files a full install puts under the prefix.
fn expected(links: &[&str]) -> Vec<String> {
    let mut v = Vec::new();
    for p in BIN {
        v.push(format!("bin/{p}"));
    }
    for p in SBIN {
        v.push(format!("sbin/{p}"));
    }
    for p in BIN.iter().chain(SBIN.iter()) {
        v.push(format!("share/man/man8/{p}.8"));
        v.push(format!("share/bash-completion/completions/{p}"));
        v.push(format!("share/zsh/site-functions/_{p}"));
        v.push(format!("share/fish/vendor_completions.d/{p}.fish"));
    }
    for n in links {
        v.push(format!("bin/{n}"));
        v.push(format!("share/man/man8/{n}.8"));
        v.push(format!("share/bash-completion/completions/{n}"));
        v.push(format!("share/fish/vendor_completions.d/{n}.fish"));
    }
    v.push("share/doc/runit-rs/README.md".into());
    v.push("share/doc/runit-rs/LICENSE".into());
    for e in fs::read_dir(top().join("docs")).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().into_owned();
        if n.ends_with(".md") {
            v.push(format!("share/doc/runit-rs/docs/{n}"));
        }
    }
    v.sort();
    v
}

#[test]
fn installs_every_file_under_destdir_and_prefix() {
    let from = built();
    let s = Scratch::new("install-destdir");
    let stage = s.join("stage");
    let o = install(&s, &from, &["--destdir", stage.to_str().unwrap(), "--prefix", "/opt/runit-rs"], &[]);
    ok(&o);
    let root = stage.join("opt/runit-rs");
    assert_eq!(files(&root), expected(&NAMES));
    // Nothing outside the prefix.
    assert_eq!(files(&stage).len(), expected(&NAMES).len());
    for p in BIN {
        same_file(&from.join(p), &root.join("bin").join(p));
        assert_eq!(mode(&root.join("bin").join(p)), 0o755, "{p}");
    }
    for p in SBIN {
        same_file(&from.join(p), &root.join("sbin").join(p));
        assert_eq!(mode(&root.join("sbin").join(p)), 0o755, "{p}");
    }
    for p in BIN.iter().chain(SBIN.iter()) {
        let page = root.join(format!("share/man/man8/{p}.8"));
        same_file(&top().join(format!("docs/man/{p}.8")), &page);
        assert_eq!(mode(&page), 0o644);
        let comp = top().join("docs/completions");
        same_file(&comp.join("bash").join(p), &root.join("share/bash-completion/completions").join(p));
        same_file(&comp.join(format!("zsh/_{p}")), &root.join(format!("share/zsh/site-functions/_{p}")));
        same_file(
            &comp.join(format!("fish/{p}.fish")),
            &root.join(format!("share/fish/vendor_completions.d/{p}.fish")),
        );
    }
    for n in NAMES {
        assert_eq!(link_target(&root.join("bin").join(n)), "chpst");
        assert_eq!(link_target(&root.join(format!("share/man/man8/{n}.8"))), "chpst.8");
        assert_eq!(link_target(&root.join("share/bash-completion/completions").join(n)), "chpst");
        assert_eq!(
            link_target(&root.join(format!("share/fish/vendor_completions.d/{n}.fish"))),
            "chpst.fish"
        );
    }
    same_file(&top().join("LICENSE"), &root.join("share/doc/runit-rs/LICENSE"));
    // install.sh lists what it installs.
    assert!(o.stdout.lines().any(|l| l == "/opt/runit-rs/sbin/runit"), "{}", o.stdout);
}

#[test]
fn installed_programs_run_and_print_our_version() {
    let from = built();
    let s = Scratch::new("install-run");
    let prefix = s.join("prefix");
    ok(&install(&s, &from, &["--prefix", prefix.to_str().unwrap(), "--chpst-links", "yes"], &[]));
    let id = harness::runit_core::version_id();
    for p in ["bin/sv", "bin/chpst", "bin/svlogd", "sbin/runit-init"] {
        let mut c = cmd(prefix.join(p), ["-V"]);
        c.env("RUNIT_ETC", s.join("etc")).current_dir(s.path());
        let o = run(&mut c, Duration::from_secs(10));
        assert!(o.stderr.starts_with(&format!("{id}\n")), "{p} -V: {o:?}");
        assert!(o.stderr.contains("usage: "), "{p} -V prints the usage after the version: {o:?}");
    }
    // A daemontools name works through its installed link.
    let o = run(&mut cmd(prefix.join("bin/setlock"), Vec::<&str>::new()), Duration::from_secs(10));
    assert_eq!(o.code, Some(100));
    assert!(o.stderr.starts_with("usage: setlock [ -nNxX ] file program"), "{o:?}");
    // The installed chpst runs a program (envdir through the link).
    write(s.join("env/GREETING"), "hello\n");
    let o = run(
        &mut cmd(prefix.join("bin/envdir"), [s.join("env").to_str().unwrap(), "sh", "-c", "echo $GREETING"]),
        Duration::from_secs(10),
    );
    assert_eq!((o.code, o.stdout.as_str()), (Some(0), "hello\n"), "{o:?}");
}

#[test]
fn chpst_links_leave_another_programs_names_alone() {
    let from = built();
    let s = Scratch::new("install-links");
    let prefix = s.join("prefix");
    // daemontools' setlock elsewhere on PATH, and a foreign envdir in BINDIR.
    script(s.join("daemontools/setlock"), "#!/bin/sh\nexit 0\n");
    script(prefix.join("bin/envdir"), "#!/bin/sh\necho foreign\n");
    let path = format!("{}:{}", s.join("daemontools").display(), tools_path(&s));
    let o = install(&s, &from, &["--prefix", prefix.to_str().unwrap()], &[("PATH", &path)]);
    ok(&o);
    assert!(o.stderr.contains("not linking setlock"), "{o:?}");
    assert!(o.stderr.contains("not linking envdir"), "{o:?}");
    assert!(!prefix.join("bin/setlock").exists());
    assert!(!prefix.join("share/man/man8/setlock.8").exists());
    assert_eq!(harness::read(prefix.join("bin/envdir")), "#!/bin/sh\necho foreign\n");
    assert_eq!(link_target(&prefix.join("bin/softlimit")), "chpst");
    // --chpst-links no: none; yes: all, replacing the foreign envdir.
    let bare = s.join("bare");
    ok(&install(&s, &from, &["--prefix", bare.to_str().unwrap(), "--chpst-links=no"], &[("PATH", &path)]));
    assert!(NAMES.iter().all(|n| !bare.join("bin").join(n).exists()));
    assert!(!bare.join("share/bash-completion/completions/envdir").exists());
    ok(&install(
        &s,
        &from,
        &["--prefix", prefix.to_str().unwrap(), "--chpst-links", "yes"],
        &[("PATH", &path)],
    ));
    for n in NAMES {
        assert_eq!(link_target(&prefix.join("bin").join(n)), "chpst");
    }
}

#[test]
fn uninstall_removes_what_install_put_and_nothing_else() {
    let from = built();
    let s = Scratch::new("install-uninstall");
    let prefix = s.join("prefix");
    let p = prefix.to_str().unwrap();
    script(prefix.join("bin/other"), "#!/bin/sh\n");
    ok(&install(&s, &from, &["--prefix", p], &[]));
    assert!(files(&prefix).len() > 60);
    // A name taken over by another program after the install stays.
    fs::remove_file(prefix.join("bin/setuidgid")).unwrap();
    script(prefix.join("bin/setuidgid"), "#!/bin/sh\n");
    let o = install(&s, &from, &["--prefix", p, "--uninstall"], &[]);
    ok(&o);
    assert_eq!(files(&prefix), ["bin/other", "bin/setuidgid"]);
    assert!(o.stdout.contains("removed /"), "{o:?}");
}

#[test]
fn reinstalling_replaces_a_running_program() {
    let from = built();
    let s = Scratch::new("install-live");
    let prefix = s.join("prefix");
    let p = prefix.to_str().unwrap();
    ok(&install(&s, &from, &["--prefix", p, "--no-man", "--no-completions", "--no-docs"], &[]));
    let svc = s.join("svc");
    script(svc.join("run"), "#!/bin/sh\nexec sleep 60\n");
    let runsv = Proc::spawn(cmd(prefix.join("bin/runsv"), [&svc]).current_dir(s.path()));
    let pid = wait_running_pid(&svc, Duration::from_secs(10));
    // Writing into the running file would fail (text busy): install.sh
    // renames a new file over it instead.
    let o = install(&s, &from, &["--prefix", p, "--no-man", "--no-completions", "--no-docs"], &[]);
    ok(&o);
    assert!(harness::alive(runsv.pid()) && harness::alive(i32::try_from(pid).unwrap()));
    same_file(&from.join("runsv"), &prefix.join("bin/runsv"));
    // The new sv drives the old runsv.
    let o = run(&mut cmd(prefix.join("bin/sv"), ["down", svc.to_str().unwrap()]), Duration::from_secs(10));
    assert_eq!(o.code, Some(0), "{o:?}");
    wait_stat(&svc, "down", Duration::from_secs(10));
    drop(runsv);
}

#[test]
fn refuses_to_install_half() {
    let from = built();
    let s = Scratch::new("install-missing");
    let partial = s.join("partial");
    fs::create_dir_all(&partial).unwrap();
    fs::copy(from.join("sv"), partial.join("sv")).unwrap();
    let prefix = s.join("prefix");
    let o = install(&s, &partial, &["--prefix", prefix.to_str().unwrap()], &[]);
    assert_eq!(o.code, Some(1), "{o:?}");
    assert!(o.stderr.contains("missing:") && o.stderr.contains("partial/runsv"), "{o:?}");
    assert!(!prefix.exists(), "a failed install wrote {:?}", files(&prefix));
    // Bad options are refused before anything happens too.
    for args in [&["--prefix", "relative"][..], &["--chpst-links", "maybe"], &["--bogus"], &["--prefix"]] {
        let o = install(&s, &from, args, &[]);
        assert_eq!(o.code, Some(1), "{args:?}: {o:?}");
        assert!(o.stderr.contains("install.sh: fatal: "), "{args:?}: {o:?}");
    }
}

#[test]
fn dry_run_changes_nothing_and_help_documents_the_options() {
    let from = built();
    let s = Scratch::new("install-dry");
    let prefix = s.join("prefix");
    let o = install(&s, &from, &["--prefix", prefix.to_str().unwrap(), "--dry-run"], &[]);
    ok(&o);
    assert!(!prefix.exists());
    assert!(o.stdout.contains(&format!("{}/sbin/runit-init", prefix.display())), "{o:?}");
    let o = install(&s, &from, &["--help"], &[]);
    ok(&o);
    for opt in ["--prefix", "--destdir", "--from", "--chpst-links", "--uninstall", "--dry-run", "--no-man"] {
        assert!(o.stdout.contains(opt), "--help lacks {opt}");
    }
    // docs/install.md documents the same options.
    let doc = harness::read(top().join("docs/install.md"));
    for opt in
        ["--prefix", "--destdir", "--from", "--chpst-links", "--uninstall", "--dry-run", "DESTDIR", "PREFIX"]
    {
        assert!(doc.contains(opt), "docs/install.md lacks {opt}");
    }
}
