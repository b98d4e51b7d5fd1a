//! Trees coming up, and what an idle tree costs in memory.
//!
//! * `up`: N services (`exec sleep`) in a scan directory whose mtime is set
//!   a minute into the past, then the scanner is spawned; the figure is the
//!   time from the spawn until every service is up (supervise/ok opens and
//!   status says run with a pid). runit's runsvdir sleeps a second before
//!   scanning a directory modified in the current second (runsvdir.md §5),
//!   which the old mtime avoids.
//! * `fresh`: the same with the scan directory's mtime set to now just
//!   before the spawn, as when an image's service tree was just written.
//! * `up1000`: `up` with 1000 services (runsvdir's maximum).
//! * `pss`: after `up`, two idle seconds, then the sum of `Pss:` from
//!   `/proc/<pid>/smaps_rollup` over the scanner and its children (runsv or
//!   s6-supervise; the services' own `sleep`s are not counted), divided by
//!   N. Only one tree is alive at a time: PSS divides shared pages among
//!   the processes mapping them, so a second tree would flatter both.

use super::{Ctx, Results, alternate, ms, participants, tree_programs};
use crate::procfs;
use crate::service::{self, Tree};
use crate::spawn::{self, Scratch};
use crate::table::{Better, Figure, Impl, Target, Unit};
use std::fs;
use std::time::Duration;

/// How the scan directory's mtime is set before the scanner starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mtime {
    /// A minute ago.
    Old,
    /// Now.
    Fresh,
}

/// Builds a tree of `n` services for `imp`, starts it and waits until all
/// are up. Returns the tree, the time to up, and the scratch dir (which
/// must outlive the tree).
pub(super) fn bring_up(
    ctx: &Ctx,
    imp: Impl,
    n: usize,
    mtime: Mtime,
) -> Result<(Tree, Duration, Scratch), String> {
    let suite = ctx.suite(imp).ok_or("not taking part")?;
    let dir = Scratch::new("tree")?;
    let scan = dir.join("service");
    fs::create_dir(&scan).map_err(|e| format!("mkdir: {e}"))?;
    let services = service::populate(&scan, n, service::SLEEP_RUN)?;
    service::set_mtime(&scan, if mtime == Mtime::Old { 60 } else { 0 })?;
    let tree = Tree::start(suite, &scan, services, &dir.join("tree.log"))?;
    let timeout = Duration::from_secs(10) + Duration::from_millis(30) * u32::try_from(n).unwrap_or(u32::MAX);
    let took = tree.wait_up(timeout)?;
    let sups = tree.supervisors();
    if sups.len() != n + 1 {
        return Err(format!("{n} services up but {} supervisor processes{}", sups.len(), tree.log_tail()));
    }
    Ok((tree, took, dir))
}

fn time_to_up(
    ctx: &Ctx,
    res: &mut Results,
    key: &'static str,
    title: String,
    n: usize,
    mtime: Mtime,
    target: Target,
) {
    res.figure(Figure { key, title, unit: Unit::Millis, better: Better::Lower, target });
    let imps: &[Impl] = if mtime == Mtime::Fresh { &[Impl::Ours, Impl::Runit] } else { &Impl::ALL };
    let active = participants(ctx, res, &[key], imps, tree_programs);
    let reps = if mtime == Mtime::Fresh { ctx.reps(7, 2) } else { ctx.reps(7, 3) };
    alternate(res, &[key], active, reps, |imp, _| {
        let (tree, took, _dir) = bring_up(ctx, imp, n, mtime)?;
        tree.stop()?;
        Ok(vec![ms(took)])
    });
}

/// All services up from runsvdir start, scan dir not freshly modified.
pub fn up(ctx: &Ctx, res: &mut Results) {
    let n = ctx.size(200, 50);
    let title = format!("all {n} services up from runsvdir start (old scan dir)");
    time_to_up(ctx, res, "up", title, n, Mtime::Old, Target::RatioAtMost(1.1));
}

/// The same from a freshly created scan dir.
pub fn fresh(ctx: &Ctx, res: &mut Results) {
    let n = ctx.size(200, 50);
    let title = format!("all {n} services up from a fresh scan dir");
    time_to_up(ctx, res, "fresh", title, n, Mtime::Fresh, Target::RatioAtMost(0.3));
}

/// All 1000 services up.
pub fn up1000(ctx: &Ctx, res: &mut Results) {
    let n = ctx.size(1000, 100);
    let title = format!("all {n} services up");
    time_to_up(ctx, res, "up1000", title, n, Mtime::Old, Target::RatioAtMost(1.1));
}

/// PSS per idle supervised service.
pub fn pss(ctx: &Ctx, res: &mut Results) {
    let n = ctx.size(200, 50);
    let key = "pss";
    res.figure(Figure {
        key,
        title: format!("PSS per idle supervised service ({n}-service tree)"),
        unit: Unit::KiB,
        better: Better::Lower,
        target: Target::RatioAtMost(1.15),
    });
    let active = participants(ctx, res, &[key], &Impl::ALL, tree_programs);
    let settle = Duration::from_secs(ctx.size(2, 1));
    alternate(res, &[key], active, ctx.reps(3, 1), |imp, _| {
        let (tree, _, _dir) = bring_up(ctx, imp, n, Mtime::Old)?;
        spawn::pause(settle)?;
        let sups = tree.supervisors();
        if sups.len() != n + 1 {
            return Err(format!("{} supervisor processes after idling, expected {}", sups.len(), n + 1));
        }
        let mut total = 0u64;
        for pid in sups {
            total += procfs::pss(pid).ok_or_else(|| format!("cannot read smaps_rollup of {pid}"))?;
        }
        tree.stop()?;
        Ok(vec![total as f64 / n as f64])
    });
}
