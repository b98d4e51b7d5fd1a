//! `boot down [--purge]`: back to a first-boot state (design notes §5.8).
//!
//! Services stop in reverse dependency order, gracefully (`d`, which runs
//! `control/t`: the stop signal to the process group) with escalation to
//! SIGKILL of the group after each service's timeout; then their loggers.
//! No runsvdir or runsv needs to be running (stage 3 of runit, a container
//! whose stage 2 was killed): service processes a gone runsv left behind
//! are stopped directly and their loggers drain ([`crate::orphan`]).
//! `current` is pointed at an empty set and every runsv is told to exit; a
//! runsvdir boot started is sent HUP. Once no runsv holds any of our
//! `supervise/ok`, everything generated is removed: service directories
//! (with the env files, i.e. the secrets), sets, `current`, `run/boot`,
//! `state.json`, the lock. Logs and review-mode data stay unless `--purge`.
//!
//! Finally the leak check: no process left in the stopped process groups, no
//! process with its cwd or executable under boot's directories, nothing
//! listening on the services' ports. Leftovers are reported (exit 7).
//! `down` on a clean box is a no-op and exits 0.

use crate::context::Boot;
use crate::error::{BootError, Context, Result};
use crate::fsx;
use crate::orphan;
use crate::runsvdir;
use crate::state::State;
use crate::svctl;
use runit_core::supervise::Supervise;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a logger whose runsv is gone gets to reach end of input.
const LOGGER_DRAIN: Duration = Duration::from_secs(10);

/// `boot down`.
pub fn down(boot: &Boot, purge: bool) -> Result<String> {
    let l = &boot.layout;
    if !l.state_dir().exists() && !l.run_dir().exists() {
        if purge {
            fsx::remove_any(&l.log_root()).ctx(|| format!("unable to remove {}", l.log_root().display()))?;
        }
        return Ok("clean\n".into());
    }
    fsx::ensure_dir(&l.state_dir(), 0o755).ctx(|| "unable to open state directory".into())?;
    let _lock = crate::lock::acquire(&l.lock_file(), Duration::from_secs(60))?;
    let state = match State::load(&l.state_file()) {
        Ok(s) => s,
        // A corrupt state must not block the way back to a clean box.
        Err(BootError::Invalid(_)) => None,
        Err(e) => return Err(e),
    };
    let nothing = state.is_none()
        && !l.sv_dir().exists()
        && std::fs::symlink_metadata(l.current()).is_err()
        && !l.run_dir().exists();
    if nothing {
        remove_generated(boot, &[], purge, true)?;
        return Ok("clean\n".into());
    }
    teardown(boot, state, purge, true)
}

fn service_dirs(sv: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(sv)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}

/// Stops everything and removes what boot generated. `last` also removes
/// the lock and empty top directories (a real `down`, not a clean-up
/// inside `up`).
pub fn teardown(boot: &Boot, state: Option<State>, purge: bool, last: bool) -> Result<String> {
    let l = &boot.layout;
    let mut stopped = Vec::new();
    let mut killed = Vec::new();
    let mut groups = Vec::new();
    let mut done = BTreeSet::new();
    if let Some(st) = &state {
        for name in st.order.iter().rev() {
            let Some(ss) = st.services.get(name) else { continue };
            let dir = l.service_dir(&ss.dirname(name));
            let r = orphan::stop_service(&dir, ss.stop_how());
            if r.found {
                stopped.push(name.clone());
            }
            groups.extend(r.pgid);
            if r.killed {
                killed.push(name.clone());
            }
            done.insert(dir);
        }
    }
    for dir in service_dirs(&l.sv_dir()).into_iter().filter(|d| !done.contains(d)) {
        groups.extend(orphan::stop_service(&dir, svctl::StopHow::UNKNOWN).pgid);
    }
    if std::fs::symlink_metadata(l.current()).is_ok() {
        fsx::ensure_dir(&l.sets_dir().join("empty"), 0o755)
            .ctx(|| "unable to create the empty set".into())?;
        fsx::replace_symlink(Path::new("sets/empty"), &l.current())
            .ctx(|| "unable to switch current".into())?;
    }
    let dirs = service_dirs(&l.sv_dir());
    for d in &dirs {
        svctl::exit(d);
    }
    if let Some(r) = state.as_ref().and_then(|s| s.runsvdir) {
        runsvdir::hangup(&r, Duration::from_secs(10));
    }
    // Loggers whose runsv is gone drain to end of input by themselves,
    // now that the service processes (the pipe's writers) are gone.
    let loggers: Vec<_> = dirs.iter().filter_map(|d| orphan::find(d, Supervise::LOG)).collect();
    let wait = Duration::from_secs(boot.config.start_timeout_s + 5);
    svctl::wait(wait, || dirs.iter().all(|d| svctl::gone(d)));
    orphan::drain_loggers(&loggers, LOGGER_DRAIN);
    let live: Vec<&PathBuf> = dirs.iter().filter(|d| !svctl::gone(d)).collect();
    remove_generated(boot, &live, purge, last)?;
    let ports: Vec<u16> = state.iter().flat_map(|s| s.services.values().filter_map(|v| v.port)).collect();
    let leftovers = leak_check(boot, &groups, &live, &ports);
    if !leftovers.is_empty() {
        return Err(BootError::Leftovers(format!("down left things behind: {}", leftovers.join("; "))));
    }
    let list = |v: &[String]| if v.is_empty() { "-".to_string() } else { v.join(" ") };
    Ok(format!("stopped: {}\nkilled: {}\n", list(&stopped), list(&killed)))
}

fn remove_generated(boot: &Boot, live: &[&PathBuf], purge: bool, last: bool) -> Result<()> {
    let l = &boot.layout;
    let rm = |p: &Path| fsx::remove_any(p).ctx(|| format!("unable to remove {}", p.display()));
    if live.is_empty() {
        rm(&l.sv_dir())?;
        rm(&l.run_dir())?;
    } else {
        for d in service_dirs(&l.sv_dir()).iter().filter(|d| !live.contains(d)) {
            rm(d)?;
        }
    }
    rm(&l.sets_dir())?;
    rm(&l.current())?;
    rm(&l.state_file())?;
    if purge {
        rm(&l.data_root())?;
        rm(&l.log_root())?;
    }
    if last {
        rm(&l.lock_file())?;
        // Leaves `var/lib/boot` in place when `data/` is kept.
        let _ = std::fs::remove_dir(l.state_dir());
    }
    Ok(())
}

fn under(p: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|r| p.starts_with(r))
}

fn leak_check(boot: &Boot, groups: &[i32], live: &[&PathBuf], ports: &[u16]) -> Vec<String> {
    let l = &boot.layout;
    let mut out = Vec::new();
    for &g in groups {
        if svctl::group_alive(g) {
            // SAFETY: kill(2) on a process group we stopped.
            unsafe { libc::kill(-g, libc::SIGKILL) };
            out.push(format!("process group {g} needed a final SIGKILL"));
        }
    }
    out.extend(live.iter().map(|d| format!("runsv still supervises {}", d.display())));
    let roots = [l.state_dir(), l.run_dir(), l.log_root()];
    let me = std::process::id().to_string();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let pid = e.file_name().to_string_lossy().into_owned();
        if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
            continue;
        }
        let cwd = std::fs::read_link(e.path().join("cwd")).unwrap_or_default();
        let exe = std::fs::read_link(e.path().join("exe")).unwrap_or_default();
        if under(&cwd, &roots) || under(&exe, &roots) {
            out.push(format!("process {pid} runs in {}", cwd.display()));
        }
    }
    for &p in ports {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], p));
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            out.push(format!("something still listens on 127.0.0.1:{p}"));
        }
    }
    out
}
