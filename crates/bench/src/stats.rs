//! Summaries of repeated measurements: median with the min..max spread.
//!
//! The benchmark reports the median (robust against the odd sample that a
//! busy 2-core machine spoils) and shows the whole spread, so a reader can
//! tell a real difference from noise: two implementations whose ranges
//! overlap are at parity as far as this machine can tell.

/// Median, minimum and maximum of a non-empty sample set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// The median (mean of the two middle values for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples.
    pub count: usize,
}

impl Summary {
    /// Summarises `samples`; `None` when there are none (or only NaNs).
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| !x.is_nan()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let mid = n / 2;
        let median = if n % 2 == 1 { v[mid] } else { (v[mid - 1] + v[mid]) / 2.0 };
        Some(Summary { median, min: v[0], max: v[n - 1], count: n })
    }

    /// True when the two spreads overlap (neither is clearly better).
    pub fn overlaps(&self, other: &Summary) -> bool {
        self.min <= other.max && other.min <= self.max
    }
}

/// `a / b`, or `None` when `b` is zero (a ratio to nothing means nothing).
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    if b == 0.0 || a.is_nan() || b.is_nan() { None } else { Some(a / b) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_count_takes_the_middle() {
        let s = Summary::of(&[5.0, 1.0, 3.0]).expect("summary");
        assert_eq!(s, Summary { median: 3.0, min: 1.0, max: 5.0, count: 3 });
    }

    #[test]
    fn even_count_averages_the_middle_two() {
        let s = Summary::of(&[4.0, 1.0, 2.0, 10.0]).expect("summary");
        assert_eq!(s.median, 3.0);
        assert_eq!((s.min, s.max, s.count), (1.0, 10.0, 4));
    }

    #[test]
    fn one_sample_is_its_own_spread() {
        let s = Summary::of(&[7.5]).expect("summary");
        assert_eq!((s.median, s.min, s.max), (7.5, 7.5, 7.5));
    }

    #[test]
    fn nothing_to_summarise() {
        assert!(Summary::of(&[]).is_none());
        assert!(Summary::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn nan_samples_are_ignored() {
        let s = Summary::of(&[f64::NAN, 2.0, 4.0]).expect("summary");
        assert_eq!((s.median, s.count), (3.0, 2));
    }

    #[test]
    fn overlap_of_spreads() {
        let a = Summary::of(&[1.0, 3.0]).expect("a");
        let b = Summary::of(&[2.5, 6.0]).expect("b");
        let c = Summary::of(&[3.5, 6.0]).expect("c");
        assert!(a.overlaps(&b) && b.overlaps(&a));
        assert!(!a.overlaps(&c));
    }

    #[test]
    fn ratio_guards_division_by_zero() {
        assert_eq!(ratio(1.0, 4.0), Some(0.25));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(0.0, 2.0), Some(0.0));
    }
}
