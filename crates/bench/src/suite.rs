//! The implementations under test and where their programs are.
//!
//! * **ours** — our release binaries: by default the benchmark builds them
//!   itself (`cargo build --release -p <pkg>...`; if that fails, one package
//!   at a time so one broken crate does not hide the others) into the target
//!   directory it runs from, and uses `<target>/release`; `--ours DIR` uses
//!   prebuilt binaries instead and `--no-build` skips the build.
//! * **runit** — Debian's C runit in `/usr/bin` (`--runit DIR` to change).
//! * **s6** — Debian's s6 in `/usr/bin`, an extra column where a figure
//!   maps.
//!
//! A runit-style program (and boot) counts as built when it answers a bare
//! invocation with its usage text within a few seconds; a stub that says
//! "not implemented" does not, and every figure that needs it prints
//! "n/a (not built)". s6's programs and the sample services only need to
//! exist.

use crate::spawn;
use crate::table::Impl;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// runit's programs, as both ours and Debian's provide them.
pub const RUNIT_PROGRAMS: [&str; 5] = ["runsv", "runsvdir", "sv", "chpst", "svlogd"];
/// Our extra programs: boot, and the sample stack its review mode runs.
pub const BOOT_PROGRAMS: [&str; 3] = ["boot", "sample-web", "sample-worker"];
/// The s6 programs the s6 column uses.
pub const S6_PROGRAMS: [&str; 5] = ["s6-svscan", "s6-svscanctl", "s6-supervise", "s6-svc", "s6-log"];
/// The cargo packages of our programs (`sample-apps` holds the sample web
/// and worker services of boot's review stack).
pub const OUR_PACKAGES: [&str; 7] = ["runsv", "runsvdir", "sv", "chpst", "svlogd", "boot", "sample-apps"];

/// One implementation: a directory of programs and which of them work.
#[derive(Debug, Clone)]
pub struct Suite {
    /// Which implementation.
    pub imp: Impl,
    /// The directory holding its programs.
    pub dir: PathBuf,
    /// Program name -> usable.
    built: BTreeMap<String, bool>,
}

impl Suite {
    /// Probes `programs` in `dir`.
    pub fn probe(imp: Impl, dir: &Path, programs: &[&str]) -> Suite {
        let built = programs.iter().map(|p| (p.to_string(), usable(imp, &dir.join(p)))).collect();
        Suite { imp, dir: dir.to_path_buf(), built }
    }

    /// The path of `program` if it is usable.
    pub fn program(&self, program: &str) -> Option<PathBuf> {
        self.built.get(program).copied().unwrap_or(false).then(|| self.dir.join(program))
    }

    /// The path of `program`, or the reason it cannot be used.
    pub fn need(&self, program: &str) -> Result<PathBuf, String> {
        self.program(program)
            .ok_or_else(|| format!("{} not built or not working", self.dir.join(program).display()))
    }

    /// True when every one of `programs` is usable.
    pub fn has(&self, programs: &[&str]) -> bool {
        programs.iter().all(|p| self.program(p).is_some())
    }

    /// `PATH` for trees of this implementation: its directory first, so
    /// runsvdir finds the right runsv.
    pub fn path_env(&self) -> String {
        format!("{}:/usr/bin:/bin", self.dir.display())
    }

    /// Program -> usable, for the header.
    pub fn availability(&self) -> &BTreeMap<String, bool> {
        &self.built
    }
}

/// Whether `path` is a working program (see the module docs).
fn usable(imp: Impl, path: &Path) -> bool {
    let executable = fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if !executable {
        return false;
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if imp == Impl::S6 || name.starts_with("sample-") {
        // s6-svscan without arguments would start scanning, a sample
        // service would start serving: trust the file.
        return true;
    }
    answers_with_usage(path)
}

fn answers_with_usage(path: &Path) -> bool {
    let Ok(dir) = spawn::Scratch::new("probe") else { return false };
    let out = dir.join("out");
    let Ok(file) = fs::File::create(&out) else { return false };
    let Ok(file2) = file.try_clone() else { return false };
    let mut cmd = Command::new(path);
    cmd.env_clear().env("PATH", "/usr/bin:/bin").current_dir(dir.path());
    cmd.stdin(Stdio::null()).stdout(file).stderr(file2);
    let ok = spawn::run_timed(&mut cmd, "probe", Duration::from_secs(5)).is_ok();
    let text = fs::read_to_string(&out).unwrap_or_default().to_lowercase();
    ok && text.contains("usage") && !text.contains("not implemented")
}

/// Where our binaries are by default: `<target>/release` next to the
/// directory this benchmark runs from (it may itself be a debug build).
pub fn default_ours_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let target = exe.parent()?.parent()?;
    Some(target.join("release"))
}

/// True when this benchmark binary is an optimised build.
pub fn bench_is_release() -> bool {
    !cfg!(debug_assertions)
}

/// The workspace root (for building our programs).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds our packages in release mode into the target directory that
/// contains `ours_dir`: all in one cargo call, and when that fails, one
/// package at a time so that one broken crate does not hide the others.
/// Returns a line per package that failed.
pub fn build_ours(ours_dir: &Path) -> Vec<String> {
    let Some(target) = ours_dir.parent() else { return vec!["no target directory".into()] };
    eprintln!("runit-bench: building {} (release)", OUR_PACKAGES.join(", "));
    if cargo_build(target, &OUR_PACKAGES).is_ok() {
        return Vec::new();
    }
    let mut failures = Vec::new();
    for pkg in OUR_PACKAGES {
        if let Err(e) = cargo_build(target, &[pkg]) {
            failures.push(format!("{pkg}: {e}"));
        }
    }
    failures
}

/// `cargo build --release --quiet -p <pkg>...` with `CARGO_TARGET_DIR=target`.
fn cargo_build(target: &Path, pkgs: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--quiet"]);
    for p in pkgs {
        cmd.args(["-p", p]);
    }
    let out = cmd
        .env("CARGO_TARGET_DIR", target)
        .current_dir(workspace_root())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err.lines().find(|l| l.starts_with("error")).unwrap_or("(no error line)");
    Err(format!("build failed: {first}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_programs_are_not_usable() {
        let s = Suite::probe(Impl::Ours, Path::new("/nonexistent"), &["runsv"]);
        assert!(s.program("runsv").is_none());
        assert!(!s.has(&["runsv"]));
        assert!(s.need("runsv").is_err());
        assert!(s.program("sv").is_none(), "unknown programs are not usable");
    }

    #[test]
    fn a_program_answering_with_usage_is_usable() {
        let dir = spawn::Scratch::new("suite").expect("scratch");
        let good = dir.join("good");
        fs::write(&good, "#!/bin/sh\necho 'usage: good dir' >&2\nexit 1\n").expect("write");
        fs::set_permissions(&good, fs::Permissions::from_mode(0o755)).expect("chmod");
        let stub = dir.join("stub");
        fs::write(&stub, "#!/bin/sh\necho 'stub: not implemented yet' >&2\nexit 111\n").expect("write");
        fs::set_permissions(&stub, fs::Permissions::from_mode(0o755)).expect("chmod");
        let s = Suite::probe(Impl::Runit, dir.path(), &["good", "stub"]);
        assert!(s.program("good").is_some());
        assert!(s.program("stub").is_none());
        assert_eq!(s.path_env(), format!("{}:/usr/bin:/bin", dir.path().display()));
    }
}
