//! What supervision costs while nothing (or only a crash loop) happens.
//!
//! Both figures watch every implementation in the same window, side by
//! side, instead of taking turns: the processes are idle or nearly so, so
//! they do not disturb each other, and whatever else the machine does in
//! that window hits all columns alike.
//!
//! * `wakeups`: an idle tree of 50 services per implementation; after the
//!   trees settled, the context switches (voluntary + non-voluntary, from
//!   `/proc/<pid>/status`) of the scanner and its supervisors are summed at
//!   the start and end of a window and scaled to a minute. An idle process
//!   switches once per wake-up (when it blocks again). The supervisor set
//!   must not change during the window and every service must still be up
//!   at the end.
//! * `crash`: a service whose `run` exits 1 at once, under a supervisor
//!   started directly; the figure is the supervisor's own CPU time (user +
//!   system, not its children's) over 10 seconds, read from
//!   `/proc/<pid>/schedstat` (nanoseconds; `/proc/<pid>/stat`'s utime and
//!   stime are the same total rounded to 10-ms ticks). The status record is
//!   sampled during the window to check that the service really restarts
//!   about once a second.

use super::startup::{Mtime, bring_up};
use super::{Ctx, Results, participants, tree_programs};
use crate::procfs;
use crate::service::{self, Style};
use crate::spawn::{self, Group, Scratch};
use crate::table::{Better, Figure, Impl, Target, Unit};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn report(res: &mut Results, key: &str, imp: Impl, v: f64, round: usize, reps: usize) {
    res.push(key, imp, v);
    eprintln!("  {key} {} {}/{reps}: {v:.1}", imp.name(), round + 1);
}

fn fail(res: &mut Results, key: &str, imp: Impl, e: &str) {
    eprintln!("  {key} {}: FAILED: {e}", imp.name());
    res.fail(key, imp, e);
}

/// Wake-ups per minute of an idle tree.
pub fn wakeups(ctx: &Ctx, res: &mut Results) {
    let key = "wakeups";
    let n = 50;
    res.figure(Figure {
        key,
        title: format!("wake-ups per minute, idle {n}-service tree"),
        unit: Unit::PerMinute,
        better: Better::Lower,
        target: Target::Zero,
    });
    let active = participants(ctx, res, &[key], &Impl::ALL, tree_programs);
    let mut trees = BTreeMap::new();
    for imp in active {
        match bring_up(ctx, imp, n, Mtime::Old) {
            Ok((tree, _, dir)) => {
                trees.insert(imp, (tree, dir));
            }
            Err(e) => fail(res, key, imp, &e),
        }
    }
    let window = Duration::from_secs(ctx.size(20, 6));
    let reps = ctx.reps(3, 1);
    if spawn::pause(Duration::from_secs(ctx.size(5, 2))).is_ok() {
        for round in 0..reps {
            let before: BTreeMap<Impl, Option<Vec<(i32, u64)>>> =
                trees.iter().map(|(imp, (t, _))| (*imp, switches(&t.supervisors()))).collect();
            if spawn::pause(window).is_err() {
                break;
            }
            let mut broken = Vec::new();
            for (imp, (tree, _)) in &trees {
                let Some(Some(c0)) = before.get(imp) else { continue };
                match switches(&tree.supervisors()) {
                    Some(c1) if c1.iter().map(|c| c.0).eq(c0.iter().map(|c| c.0)) => {
                        // The scanner is first; the rest are the supervisors.
                        let deltas: Vec<u64> =
                            c1.iter().zip(c0).map(|(a, b)| a.1.saturating_sub(b.1)).collect();
                        let total: u64 = deltas.iter().sum();
                        let per_min = total as f64 * 60.0 / window.as_secs_f64();
                        res.push(key, *imp, per_min);
                        let scanner = deltas.first().copied().unwrap_or(0);
                        let busiest = deltas.iter().skip(1).max().copied().unwrap_or(0);
                        eprintln!(
                            "  {key} {} {}/{reps}: {per_min:.1}/min ({total} in {window:?}: scanner {scanner}, \
                             supervisors {}, the busiest {busiest})",
                            imp.name(),
                            round + 1,
                            total - scanner
                        );
                    }
                    _ => {
                        fail(res, key, *imp, "the supervisor processes changed during the window");
                        broken.push(*imp);
                    }
                }
            }
            trees.retain(|imp, _| !broken.contains(imp));
        }
    }
    for (imp, (tree, _dir)) in trees {
        let down = tree.services.iter().filter(|d| service::up_pid(tree.style, d).is_none()).count();
        if down > 0 {
            fail(res, key, imp, &format!("{down} services were not up at the end"));
        }
        if let Err(e) = tree.stop() {
            eprintln!("runit-bench: warning: {e}");
        }
    }
}

/// The context switches of each of `pids`, sorted by pid after the first
/// (None if one cannot be read).
fn switches(pids: &[i32]) -> Option<Vec<(i32, u64)>> {
    let mut v: Vec<(i32, u64)> =
        pids.iter().map(|p| procfs::ctxt_switches(*p).map(|c| (*p, c))).collect::<Option<_>>()?;
    if let Some(rest) = v.get_mut(1..) {
        rest.sort_unstable();
    }
    Some(v)
}

/// A crash-looping service under its supervisor.
struct Looping {
    group: Group,
    dir: PathBuf,
    stamps: HashSet<Vec<u8>>,
    _scratch: Scratch,
}

/// Supervisor CPU of a crash-looping service over 10 s.
pub fn crash(ctx: &Ctx, res: &mut Results) {
    let title = "supervisor CPU of a crash-looping service over 10 s";
    crash_row(ctx, res, "crash", title, &Impl::ALL, Target::RatioAtMost(1.1));
}

/// Supervisor CPU of a crash-looping service, into row `key` (declared
/// here), for `imps`.
pub fn crash_row(
    ctx: &Ctx,
    res: &mut Results,
    key: &'static str,
    title: &str,
    imps: &[Impl],
    target: Target,
) {
    res.figure(Figure { key, title: title.into(), unit: Unit::Millis, better: Better::Lower, target });
    let active = participants(ctx, res, &[key], imps, super::control::supervisor_programs);
    let mut loops = BTreeMap::new();
    for imp in active {
        match start_loop(ctx, imp) {
            Ok(l) => {
                loops.insert(imp, l);
            }
            Err(e) => fail(res, key, imp, &e),
        }
    }
    let window = Duration::from_secs(ctx.size(10, 5));
    let scale = 10.0 / window.as_secs_f64();
    let reps = ctx.reps(2, 1);
    // Let the first starts happen before measuring.
    if spawn::pause(Duration::from_millis(1500)).is_ok() {
        for round in 0..reps {
            let before: BTreeMap<Impl, Option<u64>> =
                loops.iter().map(|(imp, l)| (*imp, procfs::cpu_ns(l.group.pid()))).collect();
            for l in loops.values_mut() {
                l.stamps.clear();
            }
            let end = Instant::now() + window;
            while Instant::now() < end && !spawn::interrupted() {
                for l in loops.values_mut() {
                    if let Ok(rec) = fs::read(l.dir.join("supervise/status")) {
                        l.stamps.insert(rec.get(..12).unwrap_or_default().to_vec());
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if spawn::interrupted() {
                break;
            }
            let mut broken = Vec::new();
            for (imp, l) in &loops {
                let after = procfs::cpu_ns(l.group.pid());
                let restarts = l.stamps.len();
                let expected = (window.as_secs_f64() / 2.0) as usize;
                match (before.get(imp).copied().flatten(), after) {
                    (Some(c0), Some(c1)) if restarts >= expected => {
                        let ms = c1.saturating_sub(c0) as f64 / 1e6 * scale;
                        report(res, key, *imp, ms, round, reps);
                    }
                    (Some(_), Some(_)) => {
                        fail(res, key, *imp, &format!("only {restarts} state changes seen in {window:?}"));
                        broken.push(*imp);
                    }
                    _ => {
                        fail(res, key, *imp, "the supervisor died");
                        broken.push(*imp);
                    }
                }
            }
            loops.retain(|imp, _| !broken.contains(imp));
        }
    }
    for l in loops.into_values() {
        let mut g = l.group;
        if let Err(e) = g.stop() {
            eprintln!("runit-bench: warning: {e}");
        }
    }
}

fn start_loop(ctx: &Ctx, imp: Impl) -> Result<Looping, String> {
    let suite = ctx.suite(imp).ok_or("not taking part")?;
    let scratch = Scratch::new("crash")?;
    let dir = scratch.join("svc");
    service::write_service(&dir, service::CRASH_RUN)?;
    let group = service::start_supervisor(suite, &dir, &scratch.join("log"))?;
    // The supervisor is ready once it answers (s6: once its status exists).
    spawn::poll(Duration::from_secs(10), Duration::from_millis(5), "the supervisor", || {
        match Style::of(imp) {
            Style::Runit => service::supervised(Style::Runit, &dir).then_some(()),
            Style::S6 => dir.join("supervise/status").exists().then_some(()),
        }
    })?;
    Ok(Looping { group, dir, stamps: HashSet::new(), _scratch: scratch })
}
