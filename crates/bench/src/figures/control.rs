//! Reacting to changes and to commands.
//!
//! * `link`: an idle tree of 20 services; a complete new service directory
//!   is symlinked into the scan directory and the figure is the time until
//!   its `supervise/ok` opens (s6: `s6-svscanctl -a` is run after the link,
//!   as s6 needs, and the time is until the service is up). A random pause
//!   of up to a second before each link spreads the samples over runsvdir's
//!   5-second scan cycle. Each new service is then checked to be up.
//! * `respawn`: a service under a supervisor started directly; once it has
//!   been up more than a second (so no restart throttle applies) its pid is
//!   SIGKILLed, and the figure is the time until the status shows it
//!   running with a new pid.
//! * `term`: the same service, asked to restart with the control byte `t`
//!   (written into `supervise/control`, as `sv term` does); the figure is
//!   the time from the write to a status showing it running with a new
//!   pid: the supervisor's TERM, the service's death, its reaping and the
//!   start of `./run` again. Ours and C runit only (the byte is runit's).
//! * `status`: one `sv status` call naming every service of an idle tree
//!   (via `SVDIR`); every line of the output must say `run:`.
//! * `restart`: `sv -w 7 restart DIR` on a service up more than a second
//!   (s6: `s6-svc -r -wr -T 7000 DIR`), timed to its exit; it must exit 0
//!   and the service must have a new pid.

use super::startup::{Mtime, bring_up};
use super::{Ctx, Results, alternate, jitter, ms, participants, tree_programs};
use crate::service::{self, Style, Tree};
use crate::spawn::{self, Group, Scratch};
use crate::table::{Better, Figure, Impl, Target, Unit};
use runit_core::supervise::{self as control, Supervise};
use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Starts a tree of `n` services for every implementation in `active`
/// (dropping, with a failure in `keys`, those that fail).
fn trees(
    ctx: &Ctx,
    res: &mut Results,
    keys: &[&str],
    active: &mut Vec<Impl>,
    n: usize,
) -> BTreeMap<Impl, (Tree, Scratch)> {
    let mut out = BTreeMap::new();
    active.retain(|imp| match bring_up(ctx, *imp, n, Mtime::Old) {
        Ok((tree, _, dir)) => {
            out.insert(*imp, (tree, dir));
            true
        }
        Err(e) => {
            eprintln!("  {} {}: FAILED: {e}", keys[0], imp.name());
            for k in keys {
                res.fail(k, *imp, &e);
            }
            false
        }
    });
    out
}

/// A new service linked into a running, idle tree until supervise/ok opens.
pub fn link(ctx: &Ctx, res: &mut Results) {
    let key = "link";
    res.figure(Figure {
        key,
        title: "new service linked into an idle tree until supervise/ok opens".into(),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::Below(50.0),
    });
    let mut active = participants(ctx, res, &[key], &Impl::ALL, |imp| {
        let mut p = tree_programs(imp);
        if imp == Impl::S6 {
            p.push("s6-svscanctl");
        }
        p
    });
    let trees = trees(ctx, res, &[key], &mut active, ctx.size(20, 10));
    if spawn::pause(Duration::from_secs(1)).is_err() {
        return;
    }
    alternate(res, &[key], active, ctx.reps(7, 1), |imp, round| {
        let (tree, dir) = trees.get(&imp).ok_or("no tree")?;
        let name = format!("new{round}");
        let target = dir.join("available").join(&name);
        service::write_service(&target, service::SLEEP_RUN)?;
        let link = tree.scan.join(&name);
        spawn::pause(jitter(Duration::from_secs(1)))?;
        let t0 = Instant::now();
        std::os::unix::fs::symlink(&target, &link).map_err(|e| format!("symlink: {e}"))?;
        if imp == Impl::S6 {
            let suite = ctx.suite(imp).ok_or("no suite")?;
            let mut cmd = Command::new(suite.need("s6-svscanctl")?);
            cmd.arg("-a").arg(&tree.scan).stdin(Stdio::null());
            let (_, exit) = spawn::run_timed(&mut cmd, "s6-svscanctl", Duration::from_secs(10))?;
            if exit.code() != Some(0) {
                return Err(format!("s6-svscanctl -a: {}", exit.describe()));
            }
        }
        spawn::poll(
            Duration::from_secs(20),
            Duration::from_millis(1),
            "supervise/ok of the new service",
            || service::supervised(tree.style, &link).then_some(()),
        )
        .map_err(|e| format!("{e}{}", tree.log_tail()))?;
        let took = t0.elapsed();
        spawn::poll(Duration::from_secs(10), Duration::from_millis(5), "the new service up", || {
            service::up_pid(tree.style, &link)
        })?;
        Ok(vec![ms(took)])
    });
    for (_, (tree, _dir)) in trees {
        if let Err(e) = tree.stop() {
            eprintln!("runit-bench: warning: {e}");
        }
    }
}

/// One service under a supervisor started directly.
struct Single {
    group: Group,
    dir: PathBuf,
    style: Style,
    pid: u32,
    since: Instant,
    _scratch: Scratch,
}

impl Single {
    fn start(ctx: &Ctx, imp: Impl, run: &str) -> Result<Single, String> {
        let suite = ctx.suite(imp).ok_or("not taking part")?;
        let scratch = Scratch::new("single")?;
        let dir = scratch.join("svc");
        service::write_service(&dir, run)?;
        let group = service::start_supervisor(suite, &dir, &scratch.join("log"))?;
        let style = Style::of(imp);
        let pid = spawn::poll(Duration::from_secs(10), Duration::from_millis(2), "the service up", || {
            service::up_pid(style, &dir)
        })?;
        Ok(Single { group, dir, style, pid, since: Instant::now(), _scratch: scratch })
    }

    /// Waits until the service has been up more than a second.
    fn settle(&self) -> Result<(), String> {
        let up = Duration::from_millis(1100);
        spawn::pause(up.saturating_sub(self.since.elapsed()))
    }

    fn stop(mut self) {
        if let Err(e) = self.group.stop() {
            eprintln!("runit-bench: warning: {e}");
        }
    }
}

fn singles(
    ctx: &Ctx,
    res: &mut Results,
    key: &str,
    active: &mut Vec<Impl>,
    run: &str,
) -> BTreeMap<Impl, Single> {
    let mut out = BTreeMap::new();
    active.retain(|imp| match Single::start(ctx, *imp, run) {
        Ok(s) => {
            out.insert(*imp, s);
            true
        }
        Err(e) => {
            res.fail(key, *imp, &e);
            false
        }
    });
    out
}

pub(super) fn supervisor_programs(imp: Impl) -> Vec<&'static str> {
    match imp {
        Impl::S6 => vec!["s6-supervise"],
        _ => vec!["runsv"],
    }
}

/// Respawn after a kill.
pub fn respawn(ctx: &Ctx, res: &mut Results) {
    respawn_row(
        ctx,
        res,
        "respawn",
        "respawn after a kill (service up > 1 s)",
        &Impl::ALL,
        Target::RatioAtMost(1.1),
    );
}

/// Respawn after a kill, into row `key` (declared here), for `imps`.
pub fn respawn_row(
    ctx: &Ctx,
    res: &mut Results,
    key: &'static str,
    title: &str,
    imps: &[Impl],
    target: Target,
) {
    restart_row(ctx, res, key, title, imps, target, "the respawned service", |s| {
        let pid = i32::try_from(s.pid).map_err(|_| "pid out of range")?;
        // SAFETY: killing the service process of a supervisor we started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        Ok(())
    });
}

/// Control byte `t` until a new pid.
pub fn term(ctx: &Ctx, res: &mut Results) {
    let title = "control byte t until a new pid (service up > 1 s)";
    term_row(ctx, res, "term", title, Target::RatioAtMost(1.1));
}

/// Control byte `t` until a new pid, into row `key` (declared here), for
/// ours and C runit.
pub fn term_row(ctx: &Ctx, res: &mut Results, key: &'static str, title: &str, target: Target) {
    restart_row(ctx, res, key, title, &[Impl::Ours, Impl::Runit], target, "the restarted service", |s| {
        control::send_control(&s.dir, Supervise::MAIN, b"t").map_err(|e| format!("control t: {e:?}"))
    });
}

/// Time from `trigger` (which ends the settled service's process) until
/// the supervisor reports a new pid, into row `key` (declared here), for
/// `imps`.
#[allow(clippy::too_many_arguments)]
fn restart_row(
    ctx: &Ctx,
    res: &mut Results,
    key: &'static str,
    title: &str,
    imps: &[Impl],
    target: Target,
    what: &str,
    trigger: impl Fn(&Single) -> Result<(), String>,
) {
    res.figure(Figure { key, title: title.into(), unit: Unit::Millis, better: Better::Lower, target });
    let mut active = participants(ctx, res, &[key], imps, supervisor_programs);
    let mut singles = singles(ctx, res, key, &mut active, service::SLEEP_RUN);
    alternate(res, &[key], active, ctx.reps(15, 3), |imp, _| {
        let s = singles.get_mut(&imp).ok_or("no service")?;
        s.settle()?;
        let old = s.pid;
        let t0 = Instant::now();
        trigger(s)?;
        let new = spawn::poll(Duration::from_secs(5), Duration::from_micros(100), what, || {
            service::up_pid(s.style, &s.dir).filter(|p| *p != old)
        })?;
        let took = t0.elapsed();
        s.pid = new;
        s.since = Instant::now();
        Ok(vec![ms(took)])
    });
    singles.into_values().for_each(Single::stop);
}

/// `sv status` of every service of a tree in one call.
pub fn status(ctx: &Ctx, res: &mut Results) {
    let key = "status";
    let n = ctx.size(200, 50);
    res.figure(Figure {
        key,
        title: format!("sv status of {n} services, one call"),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::RatioAtMost(1.0),
    });
    let mut active = participants(ctx, res, &[key], &[Impl::Ours, Impl::Runit], |imp| {
        let mut p = tree_programs(imp);
        p.push("sv");
        p
    });
    let trees = trees(ctx, res, &[key], &mut active, n);
    let names: Vec<String> = (0..n).map(|i| format!("s{i:04}")).collect();
    alternate(res, &[key], active, ctx.reps(30, 10), |imp, _| {
        let (tree, dir) = trees.get(&imp).ok_or("no tree")?;
        let suite = ctx.suite(imp).ok_or("no suite")?;
        let out = dir.join("sv.out");
        let file = fs::File::create(&out).map_err(|e| format!("create: {e}"))?;
        let mut cmd = Command::new(suite.need("sv")?);
        cmd.arg("status").args(&names).env_clear().env("PATH", suite.path_env()).env("SVDIR", &tree.scan);
        cmd.stdin(Stdio::null()).stdout(file).stderr(Stdio::null());
        let (took, exit) = spawn::run_timed(&mut cmd, "sv status", Duration::from_secs(30))?;
        let text = fs::read_to_string(&out).unwrap_or_default();
        let running = text.lines().filter(|l| l.starts_with("run: ")).count();
        if exit.code() != Some(0) || running != n || text.lines().count() != n {
            return Err(format!("sv status: {}, {running} of {n} lines say run", exit.describe()));
        }
        Ok(vec![ms(took)])
    });
    for (_, (tree, _dir)) in trees {
        if let Err(e) = tree.stop() {
            eprintln!("runit-bench: warning: {e}");
        }
    }
}

/// `sv -w 7 restart` round trip.
pub fn restart(ctx: &Ctx, res: &mut Results) {
    let key = "restart";
    res.figure(Figure {
        key,
        title: "sv -w 7 restart round trip".into(),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::RatioAtMost(0.1),
    });
    let mut active = participants(ctx, res, &[key], &Impl::ALL, |imp| match imp {
        Impl::S6 => vec!["s6-supervise", "s6-svc"],
        _ => vec!["runsv", "sv"],
    });
    let mut singles = singles(ctx, res, key, &mut active, service::SLEEP_RUN);
    alternate(res, &[key], active, ctx.reps(10, 2), |imp, _| {
        let suite = ctx.suite(imp).ok_or("no suite")?;
        let s = singles.get_mut(&imp).ok_or("no service")?;
        s.settle()?;
        let mut cmd = match imp {
            Impl::S6 => {
                let mut c = Command::new(suite.need("s6-svc")?);
                c.args(["-r", "-wr", "-T", "7000"]);
                c
            }
            _ => {
                let mut c = Command::new(suite.need("sv")?);
                c.args(["-w", "7", "restart"]);
                c
            }
        };
        cmd.arg(&s.dir).env_clear().env("PATH", suite.path_env()).stdin(Stdio::null());
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let (took, exit) = spawn::run_timed(&mut cmd, "restart", Duration::from_secs(20))?;
        if exit.code() != Some(0) {
            return Err(format!("restart command: {}", exit.describe()));
        }
        let new = service::up_pid(s.style, &s.dir);
        match new {
            Some(p) if p != s.pid => {
                s.pid = p;
                s.since = Instant::now();
                Ok(vec![ms(took)])
            }
            other => Err(format!("restart returned but the service pid is {other:?} (was {})", s.pid)),
        }
    });
    singles.into_values().for_each(Single::stop);
}
