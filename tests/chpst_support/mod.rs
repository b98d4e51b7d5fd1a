//! Helpers shared by the chpst end-to-end tests (tests/chpst*.rs): running
//! a chpst binary in a clean environment, building envdirs and minimal
//! chroot trees, linking the multi-call names, and reading what the child
//! saw in /proc.
#![allow(dead_code, clippy::unwrap_used)]

use harness::{Outcome, Scratch, cmd, run, write};
use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Generous bound for one short command on a busy 2-core machine.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The names an installation links to chpst, plus one with runit's
/// optional leading `d`.
pub const LINK_NAMES: [&str; 7] =
    ["envdir", "envuidgid", "pgrphack", "setlock", "setuidgid", "softlimit", "dsetlock"];

/// The environment every run starts from (besides the harness's tag).
pub const BASE_ENV: [(&str, &str); 3] = [("PATH", "/usr/bin:/bin"), ("AAA", "1"), ("ZZZ", "2")];

/// `bin args...` in `dir` with exactly [`BASE_ENV`].
pub fn command(bin: impl AsRef<OsStr>, dir: &Path, args: &[&str]) -> Command {
    let mut c = cmd(bin, args);
    c.current_dir(dir).env_clear().envs(BASE_ENV);
    c
}

/// Runs `bin args...` in `dir` with [`BASE_ENV`].
pub fn chpst(bin: impl AsRef<OsStr>, dir: &Path, args: &[&str]) -> Outcome {
    run(&mut command(bin, dir, args), TIMEOUT)
}

/// Makes `<scratch>/<sub>/<name>` a symbolic link to `target` for every
/// multi-call name, the way an installation does (`ln -s chpst envdir`).
pub fn link_names(scratch: &Scratch, sub: &str, target: &Path) -> PathBuf {
    let dir = scratch.join(sub);
    std::fs::create_dir_all(&dir).unwrap();
    for name in LINK_NAMES {
        std::os::unix::fs::symlink(target, dir.join(name)).unwrap();
    }
    dir
}

/// Creates envdir `dir` with `files` (name, contents).
pub fn envdir(dir: &Path, files: &[(&str, &[u8])]) {
    std::fs::create_dir_all(dir).unwrap();
    for (name, contents) in files {
        write(dir.join(name), contents);
    }
}

/// `env -0` output as entries, with the harness's per-run tag value
/// blanked (so runs can be compared) and kept in place.
pub fn env_entries(stdout: &str) -> Vec<String> {
    stdout
        .split('\0')
        .filter(|e| !e.is_empty())
        .map(
            |e| {
                if e.starts_with(harness::TAG_VAR) {
                    format!("{}=*", harness::TAG_VAR)
                } else {
                    e.to_string()
                }
            },
        )
        .collect()
}

/// The value of `name` in `env -0` output.
pub fn env_value(stdout: &str, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    stdout.split('\0').find_map(|e| e.strip_prefix(&prefix)).map(str::to_string)
}

/// `/proc/self/limits` as `name -> (soft, hard)`, e.g. `"Max open files"`.
pub fn limits(text: &str) -> BTreeMap<String, (String, String)> {
    let mut out = BTreeMap::new();
    for line in text.lines().skip(1) {
        // Columns: a 26-character name, then soft, hard, units.
        let (name, rest) = line.split_at(line.len().min(26));
        let mut cols = rest.split_whitespace();
        if let (Some(soft), Some(hard)) = (cols.next(), cols.next()) {
            out.insert(name.trim().to_string(), (soft.to_string(), hard.to_string()));
        }
    }
    out
}

/// The fields `Uid`, `Gid`, `Groups` (and others) of a `/proc/self/status`
/// text, whitespace-normalised.
pub fn status_field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .map(|v| v.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Fields of `/proc/self/stat` after the command name: index 0 is the
/// state, 1 ppid, 2 pgrp, 3 session, ..., 16 nice.
pub fn stat_fields(text: &str) -> (i32, Vec<String>) {
    let pid = text.split_whitespace().next().and_then(|p| p.parse().ok()).unwrap_or(-1);
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    (pid, after.split_whitespace().map(str::to_string).collect())
}

/// A minimal root file system for `-/`: `/bin/sh` (dash) and `/bin/env`
/// with the libraries they need (from `ldd`), and `/etc/passwd` and
/// `/etc/group` knowing only root and `treeuser`/`treegrp`. `None` when the
/// host lacks what is needed to build it.
pub fn minimal_root(dir: &Path) -> Option<()> {
    let progs = [("/usr/bin/dash", "bin/sh"), ("/usr/bin/env", "bin/env"), ("/usr/bin/cat", "bin/cat")];
    for (src, dst) in progs {
        copy_with_libraries(Path::new(src), dir, dst)?;
    }
    write(
        dir.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\ntreeuser:x:4321:4322:T:/home/tree:/bin/sh\n",
    );
    write(dir.join("etc/group"), "root:x:0:\ntreegrp:x:4323:\ntreeuser:x:4322:\n");
    std::fs::create_dir_all(dir.join("sub")).ok()?;
    Some(())
}

fn copy_with_libraries(src: &Path, root: &Path, dst: &str) -> Option<()> {
    let target = root.join(dst);
    std::fs::create_dir_all(target.parent()?).ok()?;
    std::fs::copy(src, &target).ok()?;
    let out = Command::new("ldd").arg(src).output().ok()?;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)".
        let Some(path) = line.split_whitespace().find(|w| w.starts_with('/')) else { continue };
        let inside = root.join(path.trim_start_matches('/'));
        std::fs::create_dir_all(inside.parent()?).ok()?;
        std::fs::copy(path, &inside).ok()?;
    }
    Some(())
}

/// Makes `path` and its parents up to the scratch root usable by other
/// users (for tests that run chpst as nobody).
pub fn open_up(scratch: &Scratch) {
    let mut p = scratch.path().to_path_buf();
    loop {
        harness::chmod(&p, 0o755);
        if !p.pop() || p == std::env::temp_dir() {
            break;
        }
    }
}

/// True while another process holds an flock on `path`.
pub fn is_locked(path: &Path) -> bool {
    use std::os::fd::AsRawFd;
    let Ok(f) = std::fs::OpenOptions::new().append(true).open(path) else { return false };
    // SAFETY: flock on a descriptor we own; released when `f` closes.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    r != 0
}

/// True while some process waits for an flock on `path` (a `->` line in
/// /proc/locks naming its inode).
pub fn someone_waits_for(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(meta) = std::fs::metadata(path) else { return false };
    let inode = format!(":{} ", meta.ino());
    harness::read("/proc/locks")
        .lines()
        .any(|l| l.contains("->") && l.contains("FLOCK") && l.contains(&inode))
}
