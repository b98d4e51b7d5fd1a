//! The result table: one row per figure, one column per implementation, the
//! ratio ours/runit and the target with a pass/miss mark.
//!
//! Rows are filled by the scenarios (see `figures`) and rendered once at the
//! end as a Markdown table, so the same text reads well in a terminal and
//! can be pasted into `docs/performance.md`.

use crate::stats::{Summary, ratio};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One implementation of the suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impl {
    /// Our Rust binaries.
    Ours,
    /// Debian's C runit.
    Runit,
    /// Debian's s6, where a figure maps to it.
    S6,
}

impl Impl {
    /// The column name.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Ours => "ours",
            Impl::Runit => "runit",
            Impl::S6 => "s6",
        }
    }

    /// Every implementation, in column order.
    pub const ALL: [Impl; 3] = [Impl::Ours, Impl::Runit, Impl::S6];
}

/// The unit of a figure, which also decides how values are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Milliseconds of wall-clock time.
    Millis,
    /// Kibibytes of memory.
    KiB,
    /// Megabytes (10^6 bytes) per second.
    MBps,
    /// Milliseconds of CPU per megabyte.
    MsPerMB,
    /// A plain count.
    Count,
    /// Events per minute.
    PerMinute,
}

impl Unit {
    /// `value` with its unit, rounded sensibly for its size.
    pub fn format(self, value: f64) -> String {
        let n = number(value);
        match self {
            Unit::Millis => format!("{n} ms"),
            Unit::KiB => format!("{n} KiB"),
            Unit::MBps => format!("{n} MB/s"),
            Unit::MsPerMB => format!("{n} ms/MB"),
            Unit::Count => n,
            Unit::PerMinute => format!("{n}/min"),
        }
    }

    /// The bare number, rounded as [`Unit::format`] rounds it.
    pub fn number(self, value: f64) -> String {
        number(value)
    }
}

/// Three significant digits or so: 0.123, 1.23, 12.3, 123, 1234.
fn number(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 || a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// What we hold ourselves to for a figure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Target {
    /// Median ours / median runit at most this (lower is better).
    RatioAtMost(f64),
    /// Median ours / median runit at least this (higher is better).
    RatioAtLeast(f64),
    /// Our median strictly below this value, in the figure's unit.
    Below(f64),
    /// Every one of our samples is zero.
    Zero,
    /// Within noise of runit: our median inside runit's min..max spread or
    /// better, or at most 10 % worse than runit's median.
    Parity,
    /// Reported, no target.
    Report,
}

/// Whether a larger value is better (throughput) or worse (time, memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Time, memory, CPU, counts.
    Lower,
    /// Throughput.
    Higher,
}

/// The outcome for one implementation in one row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Measurements.
    Samples(Vec<f64>),
    /// A program this figure needs is missing or a stub.
    NotBuilt,
    /// The scenario failed for this implementation (the reason is printed
    /// under the table).
    Failed(String),
    /// Not measured (the figure does not map, or it was switched off).
    NotRun,
}

impl Cell {
    /// The summary of the samples, if there are any.
    pub fn summary(&self) -> Option<Summary> {
        match self {
            Cell::Samples(v) => Summary::of(v),
            _ => None,
        }
    }
}

/// The pass/miss mark of a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The target is met.
    Pass,
    /// The target is missed.
    Miss,
    /// Cannot tell (something is not measured).
    Unknown,
    /// The figure has no target.
    Report,
}

impl Verdict {
    /// The mark printed in the table.
    pub fn mark(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Miss => "MISS",
            Verdict::Unknown => "?",
            Verdict::Report => "",
        }
    }
}

/// A figure's static description.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Short key (used by `--only` through its scenario).
    pub key: &'static str,
    /// Row title, with the sizes actually used.
    pub title: String,
    /// Unit of the samples.
    pub unit: Unit,
    /// Direction.
    pub better: Better,
    /// Target.
    pub target: Target,
}

/// A row: a figure and the cells of every implementation.
#[derive(Debug, Clone)]
pub struct Row {
    /// The figure.
    pub figure: Figure,
    /// Cells by implementation; missing means [`Cell::NotRun`].
    pub cells: BTreeMap<Impl, Cell>,
}

impl Row {
    /// An empty row for `figure`.
    pub fn new(figure: Figure) -> Self {
        Row { figure, cells: BTreeMap::new() }
    }

    /// The cell of `imp`.
    pub fn cell(&self, imp: Impl) -> &Cell {
        self.cells.get(&imp).unwrap_or(&Cell::NotRun)
    }

    /// Median ours / median runit.
    pub fn ratio(&self) -> Option<f64> {
        let o = self.cell(Impl::Ours).summary()?;
        let r = self.cell(Impl::Runit).summary()?;
        ratio(o.median, r.median)
    }

    /// Whether our figure meets the target.
    pub fn verdict(&self) -> Verdict {
        let Some(o) = self.cell(Impl::Ours).summary() else {
            return if self.figure.target == Target::Report { Verdict::Report } else { Verdict::Unknown };
        };
        let r = self.cell(Impl::Runit).summary();
        let ok = match (self.figure.target, r) {
            (Target::Report, _) => return Verdict::Report,
            (Target::Below(x), _) => o.median < x,
            (Target::Zero, _) => match self.cell(Impl::Ours) {
                Cell::Samples(v) => v.iter().all(|x| *x == 0.0),
                _ => false,
            },
            (_, None) => return Verdict::Unknown,
            (Target::RatioAtMost(x), Some(r)) => match ratio(o.median, r.median) {
                Some(q) => q <= x,
                None => o.median == 0.0,
            },
            (Target::RatioAtLeast(x), Some(r)) => ratio(o.median, r.median).is_some_and(|q| q >= x),
            (Target::Parity, Some(r)) => parity(self.figure.better, &o, &r),
        };
        if ok { Verdict::Pass } else { Verdict::Miss }
    }

    /// The target as printed.
    pub fn target_text(&self) -> String {
        let unit = self.figure.unit;
        match self.figure.target {
            Target::RatioAtMost(x) => format!("<= {x:.1}x runit"),
            Target::RatioAtLeast(x) => format!(">= {x:.1}x runit"),
            Target::Below(x) => format!("< {}", unit.format(x)),
            Target::Zero => "0".to_string(),
            Target::Parity => "parity".to_string(),
            Target::Report => "report".to_string(),
        }
    }
}

/// Parity within noise (see [`Target::Parity`]).
fn parity(better: Better, ours: &Summary, runit: &Summary) -> bool {
    match better {
        Better::Lower => ours.median <= runit.max.max(runit.median * 1.10),
        Better::Higher => ours.median >= runit.min.min(runit.median * 0.90),
    }
}

/// The text of one cell: `median (min..max)` or why there is no value. A
/// failure gets a footnote number.
fn cell_text(unit: Unit, cell: &Cell, notes: &mut Vec<String>, label: &str) -> String {
    match cell {
        Cell::Samples(v) => match Summary::of(v) {
            Some(s) if s.count > 1 => {
                format!("{} ({}..{})", unit.format(s.median), unit.number(s.min), unit.number(s.max))
            }
            Some(s) => unit.format(s.median),
            None => "n/a (no samples)".to_string(),
        },
        Cell::NotBuilt => "n/a (not built)".to_string(),
        Cell::Failed(why) => {
            notes.push(format!("{label}: {why}"));
            format!("n/a (failed [{}])", notes.len())
        }
        Cell::NotRun => "-".to_string(),
    }
}

/// Renders `rows` as a Markdown table (columns padded for the terminal),
/// followed by numbered notes for failed cells. `s6` adds the s6 column.
pub fn render(rows: &[Row], s6: bool) -> String {
    let mut notes = Vec::new();
    let mut head = vec!["figure", "ours", "runit", "ours/runit", "target", "result"];
    if s6 {
        head.push("s6");
    }
    let mut table: Vec<Vec<String>> = vec![head.iter().map(|s| s.to_string()).collect()];
    for row in rows {
        let unit = row.figure.unit;
        let key = row.figure.key;
        let mut line = vec![
            row.figure.title.clone(),
            cell_text(unit, row.cell(Impl::Ours), &mut notes, &format!("ours, {key}")),
            cell_text(unit, row.cell(Impl::Runit), &mut notes, &format!("runit, {key}")),
            row.ratio().map(|q| format!("{q:.2}x")).unwrap_or_else(|| "-".to_string()),
            row.target_text(),
            row.verdict().mark().to_string(),
        ];
        if s6 {
            line.push(cell_text(unit, row.cell(Impl::S6), &mut notes, &format!("s6, {key}")));
        }
        table.push(line);
    }
    let cols = table[0].len();
    let widths: Vec<usize> =
        (0..cols).map(|c| table.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for (i, r) in table.iter().enumerate() {
        out.push('|');
        for (c, text) in r.iter().enumerate() {
            let _ = write!(out, " {text:<w$} |", w = widths[c]);
        }
        out.push('\n');
        if i == 0 {
            out.push('|');
            for w in &widths {
                let _ = write!(out, "{}|", "-".repeat(w + 2));
            }
            out.push('\n');
        }
    }
    for (i, n) in notes.iter().enumerate() {
        let _ = writeln!(out, "\n[{}] {n}", i + 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(target: Target, better: Better, ours: Cell, runit: Cell) -> Row {
        let figure = Figure { key: "k", title: "a figure".into(), unit: Unit::Millis, better, target };
        let mut r = Row::new(figure);
        r.cells.insert(Impl::Ours, ours);
        r.cells.insert(Impl::Runit, runit);
        r
    }

    fn s(v: &[f64]) -> Cell {
        Cell::Samples(v.to_vec())
    }

    #[test]
    fn units_round_to_about_three_digits() {
        assert_eq!(Unit::Millis.format(270.4), "270 ms");
        assert_eq!(Unit::Millis.format(4.567), "4.57 ms");
        assert_eq!(Unit::Millis.format(42.06), "42.1 ms");
        assert_eq!(Unit::Millis.format(0.1234), "0.123 ms");
        assert_eq!(Unit::KiB.format(96.0), "96.0 KiB");
        assert_eq!(Unit::MBps.format(123.4), "123 MB/s");
        assert_eq!(Unit::Count.format(0.0), "0");
        assert_eq!(Unit::PerMinute.format(12.0), "12.0/min");
    }

    #[test]
    fn ratio_targets() {
        let r = row(Target::RatioAtMost(0.9), Better::Lower, s(&[80.0, 90.0, 85.0]), s(&[100.0]));
        assert_eq!(r.ratio(), Some(0.85));
        assert_eq!(r.verdict(), Verdict::Pass);
        let r = row(Target::RatioAtMost(0.9), Better::Lower, s(&[95.0]), s(&[100.0]));
        assert_eq!(r.verdict(), Verdict::Miss);
        let r = row(Target::RatioAtLeast(2.5), Better::Higher, s(&[110.0]), s(&[42.0]));
        assert_eq!(r.verdict(), Verdict::Pass);
        let r = row(Target::RatioAtLeast(2.5), Better::Higher, s(&[100.0]), s(&[42.0]));
        assert_eq!(r.verdict(), Verdict::Miss);
    }

    #[test]
    fn ratio_to_zero_passes_only_at_zero() {
        let r = row(Target::RatioAtMost(1.0), Better::Lower, s(&[0.0]), s(&[0.0]));
        assert_eq!(r.ratio(), None);
        assert_eq!(r.verdict(), Verdict::Pass);
        let r = row(Target::RatioAtMost(1.0), Better::Lower, s(&[1.0]), s(&[0.0]));
        assert_eq!(r.verdict(), Verdict::Miss);
    }

    #[test]
    fn absolute_targets_need_no_runit() {
        let r = row(Target::Below(50.0), Better::Lower, s(&[3.0, 4.0]), Cell::NotBuilt);
        assert_eq!(r.verdict(), Verdict::Pass);
        let r = row(Target::Below(50.0), Better::Lower, s(&[60.0]), Cell::NotRun);
        assert_eq!(r.verdict(), Verdict::Miss);
        let r = row(Target::Zero, Better::Lower, s(&[0.0, 0.0]), s(&[12.0]));
        assert_eq!(r.verdict(), Verdict::Pass);
        let r = row(Target::Zero, Better::Lower, s(&[0.0, 1.0, 0.0]), s(&[12.0]));
        assert_eq!(r.verdict(), Verdict::Miss);
    }

    #[test]
    fn parity_is_within_runits_spread_or_ten_percent() {
        let runit = s(&[1.0, 1.2, 1.5]);
        assert_eq!(row(Target::Parity, Better::Lower, s(&[1.4]), runit.clone()).verdict(), Verdict::Pass);
        assert_eq!(row(Target::Parity, Better::Lower, s(&[1.6]), runit.clone()).verdict(), Verdict::Miss);
        let tight = s(&[10.0, 10.0]);
        assert_eq!(row(Target::Parity, Better::Lower, s(&[10.9]), tight.clone()).verdict(), Verdict::Pass);
        assert_eq!(row(Target::Parity, Better::Lower, s(&[11.1]), tight).verdict(), Verdict::Miss);
        let tput = s(&[40.0, 42.0, 44.0]);
        assert_eq!(row(Target::Parity, Better::Higher, s(&[40.5]), tput.clone()).verdict(), Verdict::Pass);
        assert_eq!(row(Target::Parity, Better::Higher, s(&[30.0]), tput).verdict(), Verdict::Miss);
    }

    #[test]
    fn missing_cells_give_unknown() {
        assert_eq!(row(Target::Parity, Better::Lower, Cell::NotBuilt, s(&[1.0])).verdict(), Verdict::Unknown);
        assert_eq!(row(Target::Parity, Better::Lower, s(&[1.0]), Cell::NotBuilt).verdict(), Verdict::Unknown);
        assert_eq!(
            row(Target::Report, Better::Lower, Cell::NotBuilt, Cell::NotRun).verdict(),
            Verdict::Report
        );
        assert_eq!(row(Target::Report, Better::Lower, s(&[1.0]), Cell::NotRun).verdict(), Verdict::Report);
    }

    #[test]
    fn target_texts() {
        let t = |target| row(target, Better::Lower, Cell::NotRun, Cell::NotRun).target_text();
        assert_eq!(t(Target::RatioAtMost(0.9)), "<= 0.9x runit");
        assert_eq!(t(Target::RatioAtLeast(2.5)), ">= 2.5x runit");
        assert_eq!(t(Target::Below(50.0)), "< 50.0 ms");
        assert_eq!(t(Target::Zero), "0");
        assert_eq!(t(Target::Parity), "parity");
    }

    #[test]
    fn renders_an_aligned_markdown_table_with_notes() {
        let mut r = row(Target::RatioAtMost(1.0), Better::Lower, s(&[1.0, 2.0, 3.0]), s(&[4.0]));
        r.cells.insert(Impl::S6, Cell::Failed("no s6-svscan".into()));
        let r2 = row(Target::Zero, Better::Lower, Cell::NotBuilt, s(&[12.0, 12.0]));
        let out = render(&[r, r2], true);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("| figure "), "{out}");
        assert!(lines[1].starts_with("|---"), "{out}");
        assert!(lines[2].contains("| 2.00 ms (1.00..3.00) |"), "{out}");
        assert!(lines[2].contains("| 4.00 ms "), "{out}");
        assert!(lines[2].contains("| 0.50x "), "{out}");
        assert!(lines[2].contains("| pass "), "{out}");
        assert!(lines[2].contains("n/a (failed [1])"), "{out}");
        assert!(lines[3].contains("n/a (not built)"), "{out}");
        assert!(lines[3].contains("| ? "), "{out}");
        assert!(out.contains("[1] s6, k: no s6-svscan"), "{out}");
        let widths: Vec<usize> = lines[..4].iter().map(|l| l.chars().count()).collect();
        assert!(widths.iter().all(|w| *w == widths[0]), "{out}");
    }

    #[test]
    fn renders_without_the_s6_column() {
        let r = row(Target::Parity, Better::Lower, s(&[1.0]), s(&[1.0]));
        let out = render(&[r], false);
        assert!(!out.lines().next().unwrap_or("").contains("s6"), "{out}");
    }
}
