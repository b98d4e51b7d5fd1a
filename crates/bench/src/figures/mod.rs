//! The scenarios and the figures they produce.
//!
//! A scenario sets up what it measures in fresh scratch directories, takes
//! its samples alternating between the implementations (ours, runit, s6,
//! ours, runit, s6, ...) so slow drifts of a shared machine hit every column
//! alike, checks on every sample that the result is real (all services up,
//! every log line arrived), and kills everything it started.
//!
//! A failure of one implementation (a program missing, a service that never
//! comes up, a wrong answer) turns its cells into "n/a" with the reason and
//! the scenario carries on with the others.

mod boot;
mod chpst;
mod control;
mod crowd;
mod idle;
mod startup;
mod svlogd;

use crate::suite::Suite;
use crate::table::{Cell, Figure, Impl, Row};
use std::collections::BTreeMap;
use std::time::Duration;

/// What every scenario gets: the implementations and the run's settings.
#[derive(Debug)]
pub struct Ctx {
    /// Small sizes, few repetitions.
    pub quick: bool,
    /// Repetition override.
    pub reps: Option<usize>,
    /// The implementations taking part (s6 absent with `--no-s6`).
    pub suites: BTreeMap<Impl, Suite>,
}

impl Ctx {
    /// Repetitions: `--reps`, else `full` or `quick`.
    pub fn reps(&self, full: usize, quick: usize) -> usize {
        self.reps.unwrap_or(if self.quick { quick } else { full })
    }

    /// A size: `full` or `quick`.
    pub fn size<T>(&self, full: T, quick: T) -> T {
        if self.quick { quick } else { full }
    }

    /// The suite of `imp`, if it takes part.
    pub fn suite(&self, imp: Impl) -> Option<&Suite> {
        self.suites.get(&imp)
    }
}

/// The rows filled so far.
#[derive(Debug, Default)]
pub struct Results {
    rows: Vec<Row>,
}

impl Results {
    /// Declares a figure (a row); declaring it again resets it.
    pub fn figure(&mut self, f: Figure) {
        match self.rows.iter_mut().find(|r| r.figure.key == f.key) {
            Some(r) => *r = Row::new(f),
            None => self.rows.push(Row::new(f)),
        }
    }

    fn row(&mut self, key: &str) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.figure.key == key)
    }

    /// Sets a cell.
    pub fn set(&mut self, key: &str, imp: Impl, cell: Cell) {
        if let Some(r) = self.row(key) {
            r.cells.insert(imp, cell);
        }
    }

    /// Adds a sample (unless the cell already failed).
    pub fn push(&mut self, key: &str, imp: Impl, v: f64) {
        if let Some(r) = self.row(key)
            && let Cell::Samples(s) = r.cells.entry(imp).or_insert_with(|| Cell::Samples(Vec::new()))
        {
            s.push(v);
        }
    }

    /// Marks a cell failed, dropping its samples.
    pub fn fail(&mut self, key: &str, imp: Impl, why: &str) {
        self.set(key, imp, Cell::Failed(why.to_string()));
    }

    /// The rows, in declaration order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    fn format(&self, key: &str, v: f64) -> String {
        self.rows.iter().find(|r| r.figure.key == key).map(|r| r.figure.unit.format(v)).unwrap_or_default()
    }
}

/// One scenario: a key for `--only`, the figures it fills, and its code.
#[derive(Debug)]
pub struct Scenario {
    /// `--only` key.
    pub key: &'static str,
    /// What it measures.
    pub about: &'static str,
    /// The code.
    pub run: fn(&Ctx, &mut Results),
}

/// Every scenario, in the order of the table.
pub const SCENARIOS: &[Scenario] = &[
    Scenario { key: "pss", about: "PSS per idle supervised service", run: startup::pss },
    Scenario { key: "up", about: "all services up from runsvdir start (old scan dir)", run: startup::up },
    Scenario { key: "fresh", about: "all services up from a freshly created scan dir", run: startup::fresh },
    Scenario { key: "up1000", about: "all 1000 services up", run: startup::up1000 },
    Scenario {
        key: "link",
        about: "a service linked into an idle tree until supervise/ok",
        run: control::link,
    },
    Scenario { key: "respawn", about: "respawn after a kill", run: control::respawn },
    Scenario { key: "term", about: "control byte t until a new pid", run: control::term },
    Scenario { key: "status", about: "sv status of every service in one call", run: control::status },
    Scenario { key: "restart", about: "sv -w 7 restart round trip", run: control::restart },
    Scenario { key: "svlogd", about: "svlogd throughput, CPU per MB, max RSS", run: svlogd::throughput },
    Scenario { key: "lost", about: "log lines lost", run: svlogd::lost },
    Scenario { key: "chpst", about: "chpst -e DIR -n 0 true", run: chpst::envdir },
    Scenario { key: "wakeups", about: "wake-ups per minute of an idle tree", run: idle::wakeups },
    Scenario { key: "crash", about: "supervisor CPU of a crash-looping service", run: idle::crash },
    Scenario {
        key: "crowd",
        about: "term, respawn and crash-loop CPU with 5000 idle processes on the machine",
        run: crowd::crowd,
    },
    Scenario { key: "boot", about: "boot up of the review stack; no-op re-run", run: boot::up },
];

/// The implementations among `imps` that take part and have every program
/// `programs(imp)` names; the others get "n/a (not built)" in every row of
/// `keys` (or "-" when they do not take part).
pub fn participants(
    ctx: &Ctx,
    res: &mut Results,
    keys: &[&str],
    imps: &[Impl],
    programs: impl Fn(Impl) -> Vec<&'static str>,
) -> Vec<Impl> {
    let mut out = Vec::new();
    for imp in imps {
        let Some(suite) = ctx.suite(*imp) else { continue };
        if suite.has(&programs(*imp)) {
            out.push(*imp);
        } else {
            for k in keys {
                res.set(k, *imp, Cell::NotBuilt);
            }
        }
    }
    out
}

/// runit's tree programs, or s6's.
pub fn tree_programs(imp: Impl) -> Vec<&'static str> {
    match imp {
        Impl::S6 => vec!["s6-svscan", "s6-supervise"],
        _ => vec!["runsvdir", "runsv"],
    }
}

/// Takes `reps` rounds of samples, each round one sample per implementation
/// in `active` order. `sample` returns one value per key of `keys`. An
/// implementation whose sample fails gets the failure in all its cells and
/// takes no further part.
pub fn alternate(
    res: &mut Results,
    keys: &[&str],
    mut active: Vec<Impl>,
    reps: usize,
    mut sample: impl FnMut(Impl, usize) -> Result<Vec<f64>, String>,
) {
    for round in 0..reps {
        let mut failed = Vec::new();
        for imp in &active {
            if crate::spawn::interrupted() {
                return;
            }
            match sample(*imp, round) {
                Ok(values) => {
                    let mut shown = Vec::new();
                    for (k, v) in keys.iter().zip(values) {
                        res.push(k, *imp, v);
                        shown.push(res.format(k, v));
                    }
                    if reps <= 20 || round + 1 == reps {
                        eprintln!("  {} {} {}/{reps}: {}", keys[0], imp.name(), round + 1, shown.join(", "));
                    }
                }
                Err(e) => {
                    eprintln!("  {} {}: FAILED: {e}", keys[0], imp.name());
                    for k in keys {
                        res.fail(k, *imp, &e);
                    }
                    failed.push(*imp);
                }
            }
        }
        active.retain(|i| !failed.contains(i));
    }
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// A pseudo-random duration in `0..max`, to spread samples over the phase
/// of periodic behaviour (runsvdir's 5-second scan).
pub fn jitter(max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // xorshift of the clock's nanoseconds: enough to decorrelate phases.
    let mut x = u64::from(nanos) | 1;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    let max_ns = u64::try_from(max.as_nanos()).unwrap_or(u64::MAX).max(1);
    Duration::from_nanos(x % max_ns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::{Better, Target, Unit};

    fn fig(key: &'static str) -> Figure {
        Figure { key, title: key.into(), unit: Unit::Millis, better: Better::Lower, target: Target::Parity }
    }

    #[test]
    fn alternate_takes_turns_and_drops_failures() {
        let mut res = Results::default();
        res.figure(fig("a"));
        res.figure(fig("b"));
        let mut order = Vec::new();
        alternate(&mut res, &["a", "b"], vec![Impl::Ours, Impl::Runit], 3, |imp, round| {
            order.push((imp, round));
            if imp == Impl::Ours && round == 1 { Err("broke".into()) } else { Ok(vec![1.0, 2.0]) }
        });
        assert_eq!(
            order,
            vec![(Impl::Ours, 0), (Impl::Runit, 0), (Impl::Ours, 1), (Impl::Runit, 1), (Impl::Runit, 2)]
        );
        let row = &res.rows()[1];
        assert_eq!(row.cell(Impl::Runit), &Cell::Samples(vec![2.0, 2.0, 2.0]));
        assert_eq!(row.cell(Impl::Ours), &Cell::Failed("broke".into()));
    }

    #[test]
    fn redeclaring_a_figure_resets_it() {
        let mut res = Results::default();
        res.figure(fig("a"));
        res.push("a", Impl::Ours, 1.0);
        res.figure(fig("a"));
        assert_eq!(res.rows().len(), 1);
        assert_eq!(res.rows()[0].cell(Impl::Ours), &Cell::NotRun);
        res.push("nope", Impl::Ours, 1.0);
        assert_eq!(res.rows().len(), 1);
    }

    #[test]
    fn jitter_stays_in_range() {
        for _ in 0..100 {
            assert!(jitter(Duration::from_millis(10)) < Duration::from_millis(10));
        }
    }

    #[test]
    fn scenario_keys_are_unique() {
        let mut keys: Vec<&str> = SCENARIOS.iter().map(|s| s.key).collect();
        keys.sort_unstable();
        keys.dedup();
        assert_eq!(keys.len(), SCENARIOS.len());
    }
}
