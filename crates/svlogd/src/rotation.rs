//! When to rotate and what to delete (spec svlogd.md §6, §8): pure
//! decisions, no I/O.
//!
//! runit writes each line separately and checks two rules around every
//! write: before writing, rotate if `current` has reached `s` bytes, and
//! never write past `s` (a line longer than the room left is split across
//! two files); after a write ending in a newline, rotate if `current` has
//! reached `s - len` bytes (a rule that never fires when `s < len`, because
//! runit's subtraction wraps around). We write a whole block at once, so
//! [`SizeRule::chunk`] finds the same cut points inside the block: the
//! files come out exactly as runit's.
//!
//! Old files are `@` + 24 hex digits + `.s`/`.u` (27 bytes); `.t` files of
//! that shape are processor leftovers. Names compare as strings, and
//! because the hex is fixed-width the smallest name is the oldest.

use crate::line::find_byte;
use runit_core::tai::Tai64N;
use std::time::{Duration, Instant};

/// Length of a rotated file's name.
pub const NAME_LEN: usize = 27;

/// The size limits of one directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRule {
    /// `s` (0: no size limit).
    pub size: u64,
    /// `-l`.
    pub line_max: u64,
}

/// How much of the pending output to write now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    /// Bytes to write from the start of the pending output.
    pub len: usize,
    /// Rotate right after writing them (the newline rule fired).
    pub rotate_after: bool,
}

impl SizeRule {
    /// Rotate before writing anything more to a `current` of `size` bytes.
    pub fn full(&self, size: u64) -> bool {
        self.size > 0 && size >= self.size
    }

    /// The next write of `pending` to a `current` of `size` bytes (which is
    /// not [`full`](Self::full)).
    pub fn chunk(&self, size: u64, pending: &[u8]) -> Chunk {
        if self.size == 0 {
            return Chunk { len: pending.len(), rotate_after: false };
        }
        let room = usize::try_from(self.size.saturating_sub(size)).unwrap_or(usize::MAX);
        let limit = pending.len().min(room);
        if let Some(threshold) = self.size.checked_sub(self.line_max) {
            // The first newline at index i with size + i + 1 >= threshold.
            let first =
                usize::try_from(threshold.saturating_sub(size).saturating_sub(1)).unwrap_or(usize::MAX);
            if first < limit
                && let Some(i) = find_byte(b'\n', &pending[first..limit])
            {
                return Chunk { len: first + i + 1, rotate_after: true };
            }
        }
        Chunk { len: limit, rotate_after: false }
    }
}

/// True for a name of a rotated file or a processor's output: `@` and 27
/// bytes.
pub fn is_old_file(name: &[u8]) -> bool {
    name.len() == NAME_LEN && name.first() == Some(&b'@')
}

/// A processor's leftover output (`@….t`).
pub fn is_leftover(name: &[u8]) -> bool {
    is_old_file(name) && name.last() == Some(&b't')
}

/// `@<stamp>.<suffix>`.
pub fn rotated_name(stamp: Tai64N, suffix: u8) -> [u8; NAME_LEN] {
    let mut out = [0u8; NAME_LEN];
    out[0] = b'@';
    out[1..25].copy_from_slice(&stamp.to_hex());
    out[25] = b'.';
    out[26] = suffix;
    out
}

/// `name` with its last byte replaced by `suffix` (`.u` → `.t` → `.s`).
pub fn with_suffix(name: &[u8; NAME_LEN], suffix: u8) -> [u8; NAME_LEN] {
    let mut out = *name;
    out[NAME_LEN - 1] = suffix;
    out
}

/// What to delete after a rotation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Prune {
    /// Processor leftovers (`.t`).
    pub leftovers: Vec<Vec<u8>>,
    /// The oldest old file, when there are more than `n`.
    pub oldest: Option<Vec<u8>>,
}

/// runit's pruning: delete every leftover, and the single oldest old file
/// if there are more than `nmax` (0: unlimited). `keep` (the file just
/// rotated) is never chosen, as in runit 2.3.0.
pub fn prune<'a>(names: impl IntoIterator<Item = &'a [u8]>, nmax: u64, keep: &[u8]) -> Prune {
    let mut plan = Prune::default();
    let mut count = 0u64;
    let mut oldest: Option<&[u8]> = None;
    for name in names.into_iter().filter(|n| is_old_file(n)) {
        if is_leftover(name) {
            plan.leftovers.push(name.to_vec());
            continue;
        }
        count += 1;
        if name != keep && oldest.is_none_or(|o| name < o) {
            oldest = Some(name);
        }
    }
    if nmax > 0 && count > nmax {
        plan.oldest = oldest.map(<[u8]>::to_vec);
    }
    plan
}

/// Out of disk space: the oldest old file to delete, if the directory keeps
/// more than `nmin` of them and `nmin < nmax` (runit's `N` rule). `keep`
/// (a file a processor is reading) is neither counted nor chosen.
pub fn disk_full_victim<'a>(
    names: impl IntoIterator<Item = &'a [u8]>,
    nmin: u64,
    nmax: u64,
    keep: Option<&[u8]>,
) -> Option<Vec<u8>> {
    if nmin >= nmax {
        return None;
    }
    let mut count = 0u64;
    let mut oldest: Option<&[u8]> = None;
    for name in names.into_iter().filter(|n| is_old_file(n) && Some(*n) != keep) {
        count += 1;
        if oldest.is_none_or(|o| name < o) {
            oldest = Some(name);
        }
    }
    if count > nmin { oldest.map(<[u8]>::to_vec) } else { None }
}

/// The `t` rule: a deadline per directory, set when the config is read and
/// pushed forward each time it passes (also when `current` was empty).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgeTimer {
    period: Option<Duration>,
    deadline: Option<Instant>,
}

impl AgeTimer {
    /// A timer for `t<secs>` (0: none), armed from `now`.
    pub fn new(secs: u64, now: Instant) -> Self {
        let period = (secs > 0).then(|| Duration::from_secs(secs));
        AgeTimer { period, deadline: period.and_then(|p| now.checked_add(p)) }
    }

    /// The next deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// If the deadline has passed: re-arms it from `now` and returns true
    /// (the caller rotates a non-empty `current`).
    pub fn fire(&mut self, now: Instant) -> bool {
        match (self.deadline, self.period) {
            (Some(d), Some(p)) if now >= d => {
                self.deadline = now.checked_add(p);
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `lines` through the rule the way the logger does and returns
    /// the sizes of the rotated files and of `current`.
    fn simulate(rule: SizeRule, lines: &[Vec<u8>]) -> (Vec<usize>, usize) {
        let pending: Vec<u8> = lines.concat();
        let mut files = Vec::new();
        let mut size = 0u64;
        let mut rest = &pending[..];
        while !rest.is_empty() {
            if rule.full(size) {
                files.push(size as usize);
                size = 0;
            }
            let c = rule.chunk(size, rest);
            size += c.len as u64;
            rest = &rest[c.len..];
            if c.rotate_after {
                files.push(size as usize);
                size = 0;
            }
        }
        (files, size as usize)
    }

    fn lines(n: usize, len: usize) -> Vec<Vec<u8>> {
        (0..n).map(|_| [vec![b'x'; len - 1], vec![b'\n']].concat()).collect()
    }

    #[test]
    fn newline_rule_with_small_lines() {
        // s100, -l 20: a file is closed after the first line that reaches 80.
        let (files, cur) = simulate(SizeRule { size: 100, line_max: 20 }, &lines(30, 19));
        assert!(files.iter().all(|f| (80..=100).contains(f)), "{files:?}");
        assert_eq!(files.iter().sum::<usize>() + cur, 30 * 19);
        assert_eq!(files[0], 95);
    }

    #[test]
    fn s_below_len_cuts_exactly() {
        let (files, cur) = simulate(SizeRule { size: 100, line_max: 1000 }, &lines(10, 30));
        assert_eq!(files, vec![100, 100]);
        assert_eq!(cur, 100);
    }

    #[test]
    fn s_equal_len_one_line_per_file() {
        let (files, cur) = simulate(SizeRule { size: 100, line_max: 100 }, &lines(4, 2));
        assert_eq!(files, vec![2, 2, 2, 2]);
        assert_eq!(cur, 0);
    }

    #[test]
    fn one_k_with_default_len() {
        // s1k (1024) - 1000 = 24: every 100-byte line closes its file.
        let (files, _) = simulate(SizeRule { size: 1024, line_max: 1000 }, &lines(3, 100));
        assert_eq!(files, vec![100, 100, 100]);
    }

    #[test]
    fn long_line_near_limit_is_split() {
        // 80 bytes stay below s - len = 90; the next line does not fit.
        let mut ls = lines(1, 80);
        ls.push([vec![b'y'; 30], vec![b'\n']].concat());
        let (files, cur) = simulate(SizeRule { size: 100, line_max: 10 }, &ls);
        assert_eq!(files, vec![100]);
        assert_eq!(cur, 11);
    }

    #[test]
    fn unlimited() {
        let r = SizeRule { size: 0, line_max: 10 };
        assert!(!r.full(u64::MAX));
        assert_eq!(r.chunk(5, b"abc\n"), Chunk { len: 4, rotate_after: false });
    }

    #[test]
    fn names() {
        let t = Tai64N { label: 0x4000_0000_6b08_4509, nanos: 0x03bf_3c74 };
        let n = rotated_name(t, b's');
        assert_eq!(&n, b"@400000006b08450903bf3c74.s");
        assert_eq!(&with_suffix(&n, b't'), b"@400000006b08450903bf3c74.t");
        assert!(is_old_file(&n));
        assert!(!is_old_file(b"@short.s"));
        assert!(!is_old_file(b"x400000006b08450903bf3c74.s"));
        assert!(is_leftover(b"@400000006b08450903bf3c74.t"));
    }

    #[test]
    fn prune_deletes_one_oldest_and_leftovers() {
        let names: Vec<&[u8]> = vec![
            b"@400000000000000000000003.s",
            b"@400000000000000000000001.s",
            b"@400000000000000000000002.u",
            b"@400000000000000000000009.t",
            b"current",
            b"config",
        ];
        let p = prune(names.iter().copied(), 2, b"@400000000000000000000003.s");
        assert_eq!(p.leftovers, vec![b"@400000000000000000000009.t".to_vec()]);
        assert_eq!(p.oldest, Some(b"@400000000000000000000001.s".to_vec()));
        assert_eq!(prune(names.iter().copied(), 3, b"").oldest, None);
        assert_eq!(prune(names.iter().copied(), 0, b"").oldest, None);
    }

    #[test]
    fn prune_never_picks_the_new_file() {
        // The clock went backwards: the new file sorts first.
        let names: Vec<&[u8]> = vec![b"@400000000000000000000001.u", b"@400000000000000000000005.s"];
        let p = prune(names.iter().copied(), 1, b"@400000000000000000000001.u");
        assert_eq!(p.oldest, Some(b"@400000000000000000000005.s".to_vec()));
    }

    #[test]
    fn disk_full_rule() {
        let names: Vec<&[u8]> = vec![
            b"@400000000000000000000003.s",
            b"@400000000000000000000001.s",
            b"@400000000000000000000002.u",
        ];
        assert_eq!(
            disk_full_victim(names.iter().copied(), 2, 10, None),
            Some(b"@400000000000000000000001.s".to_vec())
        );
        assert_eq!(disk_full_victim(names.iter().copied(), 3, 10, None), None);
        assert_eq!(disk_full_victim(names.iter().copied(), 10, 10, None), None);
        assert_eq!(
            disk_full_victim(names.iter().copied(), 1, 10, Some(b"@400000000000000000000001.s")),
            Some(b"@400000000000000000000002.u".to_vec())
        );
    }

    #[test]
    fn age_timer() {
        let t0 = Instant::now();
        let mut t = AgeTimer::new(2, t0);
        assert_eq!(t.deadline(), Some(t0 + Duration::from_secs(2)));
        assert!(!t.fire(t0 + Duration::from_secs(1)));
        assert!(t.fire(t0 + Duration::from_secs(3)));
        assert_eq!(t.deadline(), Some(t0 + Duration::from_secs(5)));
        let mut none = AgeTimer::new(0, t0);
        assert_eq!(none.deadline(), None);
        assert!(!none.fire(t0 + Duration::from_secs(100)));
    }
}
