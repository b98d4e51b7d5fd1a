//! Security, end to end (issue 10): `supervise/` keeps runit's ownership
//! and modes (compared with Debian's runsv); a non-root user can neither
//! control nor fake the status of a root service (our sv and C sv run as
//! `nobody`); chpst's privilege drop cannot be undone by the child; no
//! descriptor of runsvdir or runsv leaks into services, finish scripts,
//! override scripts or loggers; boot never writes through a symlink
//! planted where it writes, and keeps env files (secrets) away from other
//! users.
#![allow(clippy::unwrap_used)]

#[path = "reliability_support/mod.rs"]
mod support;

#[path = "boot_support/mod.rs"]
#[allow(unused_imports)]
mod boot_support;

use harness::{
    Proc, Scratch, cmd, is_root, ours, path_with_ours, read, run, script, status_of, wait_for,
    wait_running_pid, wait_until, write,
};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use support::*;

const SOON: Duration = Duration::from_secs(10);

/// A file's kind (`d`, `p`, `l`, `-`), permission bits and owner.
type Mode = (char, u32, u32);

/// Kind and permission bits, and owner, of `path` (not following links).
fn mode_of(path: &Path) -> Option<Mode> {
    let m = fs::symlink_metadata(path).ok()?;
    let ft = m.file_type();
    let kind = if ft.is_dir() {
        'd'
    } else if ft.is_symlink() {
        'l'
    } else if std::os::unix::fs::FileTypeExt::is_fifo(&ft) {
        'p'
    } else {
        '-'
    };
    Some((kind, m.mode() & 0o7777, m.uid()))
}

const SUPERVISE_FILES: [&str; 7] = ["", "/lock", "/control", "/ok", "/status", "/stat", "/pid"];

/// Modes of `supervise/` and `log/supervise/` files after a runsv (`bin`)
/// started on a fresh service under `umask`.
fn supervise_modes(bin: &Path, umask: &str, name: &str) -> Vec<(String, Option<Mode>)> {
    let s = Scratch::new(name);
    let svc = s.join("svc");
    script(svc.join("run"), "#!/bin/sh\nexec sleep 1000\n");
    script(svc.join("log/run"), "#!/bin/sh\nexec sleep 1000\n");
    let mut c = Command::new("/bin/sh");
    c.args(["-c", &format!("umask {umask}; exec \"$0\" \"$1\"")]).arg(bin).arg(&svc);
    let _p = Proc::spawn(&mut c);
    wait_running_pid(&svc, SOON);
    wait_until(SOON, "the log's pid file", || {
        read(svc.join("log/supervise/pid")).trim().parse::<u32>().is_ok()
    });
    let mut out = Vec::new();
    for base in ["supervise", "log/supervise"] {
        for f in SUPERVISE_FILES {
            let rel = format!("{base}{f}");
            out.push((rel.clone(), mode_of(&svc.join(&rel))));
        }
    }
    out
}

#[test]
fn supervise_files_keep_runits_modes_and_owner() {
    for umask in ["022", "000", "077"] {
        let ours_modes = supervise_modes(&ours("runsv"), umask, "sec-modes-ours");
        // runit's modes (supervise.md §3), before the umask.
        let expect = |rel: &str| -> (char, u32) {
            match rel.rsplit('/').next().unwrap() {
                "supervise" => ('d', 0o700),
                "lock" => ('-', 0o600),
                "control" | "ok" => ('p', 0o600),
                _ => ('-', 0o644),
            }
        };
        let mask = u32::from_str_radix(umask, 8).unwrap();
        for (rel, m) in &ours_modes {
            let (kind, mode, uid) = m.unwrap_or_else(|| panic!("{rel} missing"));
            let (ek, em) = expect(rel);
            assert_eq!((kind, mode), (ek, em & !mask), "{rel} under umask {umask}");
            // SAFETY: geteuid has no preconditions.
            assert_eq!(uid, unsafe { libc::geteuid() }, "{rel} owned by the user running runsv");
        }
        let c = harness::theirs_required("runsv");
        let theirs_modes = supervise_modes(&c, umask, "sec-modes-theirs");
        assert_eq!(ours_modes, theirs_modes, "ours and Debian's runsv differ under umask {umask}");
    }
}

/// Runs `argv` as nobody (no groups).
fn as_nobody(argv: &[&std::ffi::OsStr]) -> harness::Outcome {
    let mut c = Command::new("setpriv");
    c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"]).args(argv);
    run(&mut c, SOON)
}

#[test]
fn nobody_cannot_control_or_fake_a_root_service() {
    if !is_root() {
        eprintln!("skipped: needs root (a root service and a switch to nobody)");
        return;
    }
    let s = Scratch::new("sec-nobody");
    fs::set_permissions(s.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let svc = s.join("svc");
    script(svc.join("run"), "#!/bin/sh\nexec sleep 1000\n");
    fs::set_permissions(&svc, fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = cmd(ours("runsv"), [svc.as_os_str()]);
    c.env("PATH", path_with_ours());
    let _r = Proc::spawn(&mut c);
    let pid = wait_running_pid(&svc, SOON);
    let before = fs::read(svc.join("supervise/status")).unwrap();
    let mut sv_programs = vec![("ours", ours("sv"))];
    sv_programs.push(("Debian's", harness::theirs_required("sv")));
    for (who, sv) in &sv_programs {
        for command in ["down", "exit", "kill", "term", "pause", "once", "status"] {
            let o = as_nobody(&[sv.as_os_str(), command.as_ref(), svc.as_os_str()]);
            eprintln!("{who} sv {command} as nobody: {:?} {}", o.code, o.stdout.trim_end());
            assert_ne!(o.code, Some(0), "{who} sv {command} succeeded as nobody: {o:?}");
            assert!(o.stdout.contains("access denied") || o.stderr.contains("access denied"), "{o:?}");
        }
    }
    // Writing the FIFO or the records directly, or replacing them, fails.
    for attempt in [
        format!("printf d > {}/supervise/control", svc.display()),
        format!("printf x > {}/supervise/status.new", svc.display()),
        format!("cp /dev/null {}/supervise/status", svc.display()),
        format!("mv {0}/supervise {0}/gone", svc.display()),
        format!("rm -rf {}/supervise", svc.display()),
    ] {
        let o = as_nobody(&["/bin/sh".as_ref(), "-c".as_ref(), attempt.as_ref()]);
        assert_ne!(o.code, Some(0), "nobody could: {attempt}");
    }
    std::thread::sleep(Duration::from_millis(300));
    let st = status_of(&svc, false).unwrap();
    assert_eq!((st.pid, st.want), (pid, b'u'), "the service was not touched");
    assert_eq!(fs::read(svc.join("supervise/status")).unwrap(), before, "status unchanged");
    // Root still can.
    let o = run(&mut cmd(ours("sv"), ["down".as_ref(), svc.as_os_str()]), SOON);
    assert_eq!(o.code, Some(0), "{o:?}");
}

#[test]
fn chpst_privilege_drop_cannot_be_undone() {
    if !is_root() {
        eprintln!("skipped: dropping privileges needs root");
        return;
    }
    let probe = "grep -E '^(Uid|Gid|Groups|CapPrm|CapEff|CapAmb):' /proc/self/status; \
                 setpriv --reuid=0 true 2>/dev/null && echo REGAINED-UID; \
                 setpriv --regid=0 true 2>/dev/null && echo REGAINED-GID; \
                 setpriv --groups=0 true 2>/dev/null && echo REGAINED-GROUPS; \
                 echo done";
    let mut chpsts = vec![("ours", ours("chpst"))];
    chpsts.push(("Debian's", harness::theirs_required("chpst")));
    let mut outputs = Vec::new();
    for (who, chpst) in &chpsts {
        for user in ["nobody", "nobody:nogroup"] {
            let o = run(&mut cmd(chpst, ["-u", user, "/bin/sh", "-c", probe]), SOON);
            assert_eq!(o.code, Some(0), "{who} chpst -u {user}: {o:?}");
            let field = |name: &str| {
                o.stdout
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.split_whitespace().collect::<Vec<_>>())
            };
            assert_eq!(field("Uid:"), Some(vec!["65534"; 4]), "{who} -u {user}: {}", o.stdout);
            let gid = if user.contains(':') { "65534" } else { &gid_of("nobody") };
            assert_eq!(field("Gid:").unwrap(), vec![gid; 4], "{who} -u {user}");
            assert_eq!(field("Groups:").unwrap(), vec![gid], "{who} -u {user}: only the one group");
            for cap in ["CapPrm:", "CapEff:", "CapAmb:"] {
                assert_eq!(field(cap), Some(vec!["0000000000000000"]), "{who} -u {user}: {cap}");
            }
            assert!(!o.stdout.contains("REGAINED"), "{who} -u {user}: {}", o.stdout);
            assert!(o.stdout.ends_with("done\n"));
            outputs.push(o.stdout);
        }
    }
    if outputs.len() == 4 {
        assert_eq!(outputs[..2], outputs[2..], "ours and Debian's chpst leave the same state");
    }
}

fn gid_of(user: &str) -> String {
    let o = Command::new("id").args(["-g", user]).output().unwrap();
    String::from_utf8_lossy(&o.stdout).trim().to_string()
}

/// Starts the supervisor with only 0, 1 and 2 (the test runner's own
/// inherited descriptors, such as cargo's jobserver pipe, would otherwise
/// pass through runsvdir and runsv to services, as runit passes them).
fn clean_descriptors(c: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: close_range is async-signal-safe; nothing else runs here.
    unsafe {
        c.pre_exec(|| {
            libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
            Ok(())
        });
    }
}

/// The descriptor numbers open in `pid`.
fn fds(pid: i32) -> BTreeSet<i32> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|r| r.flatten().filter_map(|e| e.file_name().to_str()?.parse().ok()).collect())
        .unwrap_or_default()
}

/// What descriptor `fd` of `pid` refers to.
fn fd_target(pid: i32, fd: i32) -> String {
    fs::read_link(format!("/proc/{pid}/fd/{fd}")).map(|p| p.display().to_string()).unwrap_or_default()
}

/// Waits for a live process of `tag` running `argv` exactly and returns it.
fn find(tags: &[String], argv: &[&str]) -> Ps {
    wait_for(SOON, || processes(tags).into_iter().find(|p| p.argv == argv))
        .unwrap_or_else(|| panic!("no process {argv:?}: {:?}", processes(tags)))
}

fn only_stdio(p: &Ps, what: &str) {
    // Right after exec the new argv is already visible while the dynamic
    // loader still opens and closes the libraries it maps (fd 3): look
    // once the `sleep` sleeps.
    let sleeping = || {
        let stat = fs::read_to_string(format!("/proc/{}/stat", p.pid)).unwrap_or_default();
        stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('S'))
    };
    let _ = wait_for(SOON, || sleeping().then_some(()));
    let stdio = BTreeSet::from([0, 1, 2]);
    let got = fds(p.pid);
    let detail: Vec<String> = got.iter().map(|&fd| format!("{fd} -> {}", fd_target(p.pid, fd))).collect();
    assert_eq!(got, stdio, "{what} (pid {}) holds {detail:?}", p.pid);
}

#[test]
fn no_supervisor_descriptor_leaks_into_services() {
    // Under runsvdir -> runsv: ./run, log/run, ./finish and control/u hold
    // only 0, 1 and 2; runsv holds nothing of runsvdir's.
    let s = Scratch::new("sec-fds");
    let scan = s.join("service");
    let svc = scan.join("a");
    script(svc.join("run"), "#!/bin/sh\nexec sleep 1001\n");
    script(svc.join("finish"), "#!/bin/sh\nexec sleep 1002\n");
    script(svc.join("control/u"), "#!/bin/sh\n[ -e go ] && exec sleep 1003\nexit 0\n");
    script(svc.join("log/run"), "#!/bin/sh\nexec sleep 1004\n");
    let mut c = cmd(ours("runsvdir"), [scan.as_os_str(), "log: .........................".as_ref()]);
    c.env("PATH", path_with_ours());
    clean_descriptors(&mut c);
    let tree = Proc::spawn(&mut c);
    let tags = vec![tree.tag().to_string()];
    let run_p = find(&tags, &["sleep", "1001"]);
    only_stdio(&run_p, "./run");
    only_stdio(&find(&tags, &["sleep", "1004"]), "log/run");
    let runsv_p = find(&tags, &["runsv", "a"]);
    let runsvdir_fds: BTreeSet<String> =
        fds(tree.pid()).iter().map(|&fd| fd_target(tree.pid(), fd)).collect();
    for fd in fds(runsv_p.pid) {
        let t = fd_target(runsv_p.pid, fd);
        assert!(t != "anon_inode:inotify", "runsv holds runsvdir's inotify descriptor");
        if fd > 2 && t.starts_with("pipe:") {
            assert!(!runsvdir_fds.contains(&t), "runsv holds runsvdir's pipe {t}");
        }
    }
    // ./finish: stop ./run (it is wanted up, so finish runs, then run again).
    write(svc.join("go"), "");
    // SAFETY: SIGTERM to the test's own service.
    unsafe { libc::kill(run_p.pid, libc::SIGTERM) };
    let finish = find(&tags, &["sleep", "1002"]);
    only_stdio(&finish, "./finish");
    // When ./finish ends, control/u runs before ./run starts again.
    // SAFETY: SIGTERM to the test's own ./finish.
    unsafe { libc::kill(finish.pid, libc::SIGTERM) };
    let u = find(&tags, &["sleep", "1003"]);
    only_stdio(&u, "control/u");
    // Override scripts inherit runsv's mask with TERM blocked (runit,
    // supervise.md §9.1): only KILL ends this one.
    // SAFETY: as above.
    unsafe { libc::kill(u.pid, libc::SIGKILL) };
    only_stdio(&find(&tags, &["sleep", "1001"]), "./run, restarted");
}

#[test]
fn no_descriptor_leaks_through_chpst_or_svlogd_processors() {
    // chpst passes on exactly what it was given; svlogd's processor gets
    // its documented descriptors only (0 the rotated file, 1 the output,
    // 4 the state file, 5 the new state file; svlogd.md §7).
    let s = Scratch::new("sec-fds-chpst");
    let svc = s.join("a");
    write(svc.join("env/X"), "1");
    fs::create_dir_all(svc.join("log/main")).unwrap();
    write(svc.join("log/main/config"), "s100\n!sleep 1006\n");
    script(svc.join("log/run"), &format!("#!/bin/sh\nexec {} main\n", ours("svlogd").display()));
    script(
        svc.join("run"),
        &format!(
            "#!/bin/sh\n[ -e flood ] || exec {} -e env sleep 1005\nwhile :; do echo 0123456789abcdefghij; done\n",
            ours("chpst").display()
        ),
    );
    let mut c = cmd(ours("runsv"), [svc.as_os_str()]);
    c.env("PATH", path_with_ours());
    clean_descriptors(&mut c);
    let r = Proc::spawn(&mut c);
    let tags = vec![r.tag().to_string()];
    only_stdio(&find(&tags, &["sleep", "1005"]), "./run through chpst -e");
    // Make the service chatty so svlogd rotates and runs its processor.
    write(svc.join("flood"), "");
    harness::control(&svc, "k");
    let proc_p = find(&tags, &["sleep", "1006"]);
    let got = fds(proc_p.pid);
    let allowed = BTreeSet::from([0, 1, 2, 4, 5]);
    let detail: Vec<String> =
        got.iter().map(|&fd| format!("{fd} -> {}", fd_target(proc_p.pid, fd))).collect();
    assert!(got.is_subset(&allowed), "svlogd's processor holds {detail:?}");
}

/// Every entry under `dir` with its `lstat` metadata, links not followed.
fn walk(dir: &Path) -> Vec<(PathBuf, fs::Metadata)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(m) = fs::symlink_metadata(&p) else { continue };
            if m.is_dir() {
                stack.push(p.clone());
            }
            out.push((p, m));
        }
    }
    out
}

/// Every file under `dir` readable by others that contains `secret`.
fn world_readable_with(dir: &Path, secret: &[u8]) -> Vec<PathBuf> {
    walk(dir)
        .into_iter()
        .filter(|(p, m)| {
            m.is_file()
                && m.mode() & 0o004 != 0
                && fs::read(p).is_ok_and(|b| b.windows(secret.len()).any(|w| w == secret))
        })
        .map(|(p, _)| p)
        .collect()
}

/// Files and directories under `dir` (not following links) that others
/// may write.
fn world_writable(dir: &Path) -> Vec<(PathBuf, u32)> {
    walk(dir)
        .into_iter()
        .filter(|(_, m)| !m.file_type().is_symlink() && m.mode() & 0o002 != 0)
        .map(|(p, m)| (p, m.mode() & 0o7777))
        .collect()
}

#[test]
fn boot_env_files_with_secrets_are_never_world_readable() {
    // Even when boot runs under umask 000: env directories 0700, env files
    // 0600, and the secret (an env layer value and a whitelisted tag
    // value) in no file that others can read, state.json included.
    if !is_root() {
        eprintln!("skipped: boot's file modes are checked as root");
        return;
    }
    let mut b = boot_support::BootBox::new("sec-boot-secrets", "sources = [\"env\"]");
    b.start_runsvdir();
    let secret_tag = "team-s3cr3t-value";
    let mut c = Command::new("/bin/sh");
    c.args(["-c", "umask 000; exec \"$0\" \"$@\""]).arg(ours("boot")).arg("--root").arg(&b.root).arg("up");
    c.env(harness::TAG_VAR, &b.tag)
        .env("BOOT_TAG_Mode", "production")
        .env("BOOT_TAG_Service", "worker")
        .env("BOOT_TAG_Team", secret_tag);
    let o = run(&mut c, Duration::from_secs(120));
    assert_eq!(o.code, Some(0), "boot up: {o:?}");
    let sv = b.root.join("var/lib/boot/sv");
    let mut env_dirs = 0;
    for entry in fs::read_dir(&sv).unwrap().flatten() {
        let env = entry.path().join("env");
        if !env.is_dir() {
            continue;
        }
        env_dirs += 1;
        assert_eq!(mode_of(&env), Some(('d', 0o700, 0)), "{}", env.display());
        for f in fs::read_dir(&env).unwrap().flatten() {
            assert_eq!(mode_of(&f.path()), Some(('-', 0o600, 0)), "{}", f.path().display());
        }
        assert_eq!(mode_of(&entry.path().join("env.sources")), Some(('-', 0o600, 0)));
        assert_eq!(read(env.join("APP_TEAM")).trim_end(), secret_tag, "the tag reached the service's env");
    }
    assert!(env_dirs >= 1);
    let db_url = fs::read(b.catalogue.join("env/production/DATABASE_URL")).unwrap();
    let db_url = db_url.strip_suffix(b"\n").unwrap_or(&db_url).to_vec();
    // Tag values are not secret (any local user can read them from the
    // metadata service; state.json records them); env layer values are.
    let leaks = world_readable_with(&b.root, &db_url);
    assert!(leaks.is_empty(), "{:?} readable by others in {leaks:?}", String::from_utf8_lossy(&db_url));
    let leaks = world_readable_with(&b.root, secret_tag.as_bytes());
    assert!(
        leaks.iter().all(|p| p.ends_with("var/lib/boot/state.json")),
        "the tag value readable by others outside state.json: {leaks:?}"
    );
    // Nothing in boot's own trees is writable by others, umask 000 or not,
    // and neither are the parents --root had to create (finding 2: they
    // once followed the umask, like mkdir -p).
    for own in ["var/lib/boot", "var/log/boot", "run/boot"] {
        let writable = world_writable(&b.root.join(own));
        assert!(writable.is_empty(), "writable by others: {writable:?}");
        let top = mode_of(&b.root.join(own)).unwrap();
        assert_eq!(top.1 & 0o022, 0, "{own} is {:o}", top.1);
    }
    for parent in ["var", "var/lib", "var/log", "run"] {
        let mode = mode_of(&b.root.join(parent)).unwrap().1 & 0o7777;
        assert_eq!(mode, 0o755, "{parent} created by boot is {mode:o}");
    }
    // The running service got it, through its env files only.
    let pid = b.pid("worker");
    assert_eq!(boot_support::environ(pid).get("APP_TEAM").map(Vec::as_slice), Some(secret_tag.as_bytes()));
    b.ok(&["down"]);
    assert!(!sv.exists(), "down removes the env files");
}

#[test]
fn boot_never_writes_through_planted_symlinks() {
    // A link planted where boot writes, to a directory or file outside:
    // boot refuses or replaces the link, and never writes through it.
    if !is_root() {
        eprintln!("skipped: boot up runs as root here");
        return;
    }
    let plants: [(&str, bool); 6] = [
        ("var/lib/boot/sets", true),
        ("var/lib/boot/data/worker", true),
        ("run/boot/supervise", true),
        ("var/log/boot/worker", true),
        ("var/lib/boot/state.json", false),
        ("var/lib/boot/lock", false),
    ];
    let tags = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    for (rel, is_dir) in plants {
        let mut b = boot_support::BootBox::new("sec-boot-plant", "sources = [\"env\"]");
        let outside = b.scratch.join("outside");
        if is_dir {
            fs::create_dir_all(&outside).unwrap();
        } else {
            fs::write(&outside, "precious").unwrap();
        }
        let planted = b.root.join(rel);
        fs::create_dir_all(planted.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&outside, &planted).unwrap();
        b.start_runsvdir();
        let o = b.boot_env(&["up"], &tags);
        if is_dir {
            let n = fs::read_dir(&outside).unwrap().count();
            assert_eq!(n, 0, "{rel}: boot wrote through the planted link (exit {:?})", o.code);
        } else {
            assert_eq!(fs::read_to_string(&outside).unwrap(), "precious", "{rel}: written through");
        }
        eprintln!("planted {rel}: boot up exited {:?}", o.code);
        if o.code == Some(0) {
            b.ok(&["down"]);
        }
        if is_dir {
            assert_eq!(fs::read_dir(&outside).unwrap().count(), 0, "{rel}: down wrote or removed through it");
        } else {
            assert_eq!(fs::read_to_string(&outside).unwrap(), "precious", "{rel}: down touched it");
        }
    }
}
