//! Line selection (spec svlogd.md §4): runit's pattern language and the
//! `+ - e E` verdict. Pure functions.
//!
//! The language is not globbing and never backtracks:
//!
//! * `*c` skips input up to the **first** `c`, then goes on with `c` itself
//!   as the next pattern element (so `**` skips to the first `*` and then
//!   matches the rest); no `c` in the input fails; `*` at the end of the
//!   pattern matches the rest of the line;
//! * `+c` needs at least one `c` and takes every `c` that follows; if that
//!   uses up the line the match succeeds whatever pattern is left (runit's
//!   matcher stops there); `+` at the end of the pattern stands for
//!   runit's string terminator, so it matches only at the end of the line;
//! * any other byte matches itself, and the pattern must use up the line.
//!
//! These rules were checked against Debian's svlogd on every pattern and
//! line of up to four characters from `{a, b, *, +}`
//! (`testdata/pmatch-truth.txt`, replayed by the unit tests).

use crate::line::find_byte;

/// What a pattern line does when it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    /// `+`: select the line for the directory.
    Select,
    /// `-`: deselect it.
    Deselect,
    /// `e`: copy it to standard error.
    Stderr,
    /// `E`: do not copy it to standard error.
    NoStderr,
}

/// One `+ - e E` config line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern {
    /// What a match does.
    pub kind: PatternKind,
    /// The pattern (the config line after its first byte).
    pub text: Vec<u8>,
}

/// Where a line goes for one directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// Written to the directory (and UDP).
    pub selected: bool,
    /// Copied to standard error.
    pub to_stderr: bool,
}

impl Verdict {
    /// The verdict before any pattern: selected, not to stderr.
    pub const DEFAULT: Verdict = Verdict { selected: true, to_stderr: false };
}

/// Evaluates `patterns` in order on `line`; the last match of each kind
/// wins.
pub fn select(patterns: &[Pattern], line: &[u8]) -> Verdict {
    let mut v = Verdict::DEFAULT;
    for p in patterns {
        if matches(&p.text, line) {
            match p.kind {
                PatternKind::Select => v.selected = true,
                PatternKind::Deselect => v.selected = false,
                PatternKind::Stderr => v.to_stderr = true,
                PatternKind::NoStderr => v.to_stderr = false,
            }
        }
    }
    v
}

/// runit's matcher: does `pattern` cover the whole of `line`?
pub fn matches(pattern: &[u8], line: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    loop {
        let Some(&op) = pattern.get(p) else { return s == line.len() };
        match op {
            b'*' => {
                let Some(&c) = pattern.get(p + 1) else { return true };
                match find_byte(c, &line[s..]) {
                    Some(i) => s += i,
                    None => return false,
                }
                p += 1;
            }
            b'+' => {
                // Past the end of either string runit sees its NUL terminator.
                let c = pattern.get(p + 1).copied().unwrap_or(0);
                if line.get(s).copied().unwrap_or(0) != c {
                    return false;
                }
                while line.get(s) == Some(&c) {
                    s += 1;
                }
                if s == line.len() {
                    return true;
                }
                p += 2;
            }
            _ => {
                if line.get(s) != Some(&op) {
                    return false;
                }
                s += 1;
                p += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_examples() {
        let line = b"httpd: info: pid 42 accepted";
        assert!(!matches(b"*pid*", line));
        assert!(matches(b"*: *: pid *", line));
    }

    #[test]
    fn basics() {
        assert!(matches(b"", b""));
        assert!(!matches(b"", b"a"));
        assert!(matches(b"*", b""));
        assert!(matches(b"*", b"anything"));
        assert!(matches(b"a*", b"abc"));
        assert!(!matches(b"a*", b"ba"));
        assert!(matches(b"+a", b"aaa"));
        assert!(!matches(b"+a", b""));
        assert!(matches(b"+ab", b"a"));
        assert!(matches(b"+ab", b"aab"));
        assert!(!matches(b"+ab", b"abb"));
        assert!(matches(b"+", b""));
        assert!(matches(b"a+", b"a"));
        assert!(!matches(b"a+", b"ab"));
        assert!(!matches(b"*+", b"a+"));
        assert!(matches(b"**", b"x*y"));
        assert!(!matches(b"**", b"xy"));
    }

    #[test]
    fn selection_last_match_wins() {
        let pats = [
            Pattern { kind: PatternKind::Deselect, text: b"*drop*".to_vec() },
            Pattern { kind: PatternKind::Select, text: b"keep*".to_vec() },
        ];
        assert!(!select(&pats, b"xx drop yy").selected);
        assert!(select(&pats, b"keep drop").selected);
        assert!(select(&pats, b"other").selected);
        let pats = [
            Pattern { kind: PatternKind::Stderr, text: b"*".to_vec() },
            Pattern { kind: PatternKind::NoStderr, text: b"quiet*".to_vec() },
        ];
        assert_eq!(select(&pats, b"loud"), Verdict { selected: true, to_stderr: true });
        assert_eq!(select(&pats, b"quiet one"), Verdict { selected: true, to_stderr: false });
    }

    /// Random patterns and lines (any bytes, NUL included) never panic, and
    /// `*` alone matches everything.
    #[test]
    fn arbitrary_input_is_safe() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = [b'a', b'b', b'*', b'+', 0, 0xff, b'\n'];
        for _ in 0..20_000 {
            let mut word = |max: u64| -> Vec<u8> {
                let n = next() % max;
                (0..n).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect()
            };
            let (pat, line) = (word(8), word(12));
            let _ = matches(&pat, &line);
            assert!(matches(b"*", &line));
        }
    }

    /// Replays Debian svlogd's verdicts on every pattern/line pair of up to
    /// four characters from `{a, b, *, +}`.
    #[test]
    fn agrees_with_debian_svlogd() {
        let truth = include_str!("../testdata/pmatch-truth.txt");
        let mut lines = vec![String::new()];
        for n in 1..=4 {
            let mut words = vec![String::new()];
            for _ in 0..n {
                words = words.iter().flat_map(|w| "ab*+".chars().map(move |c| format!("{w}{c}"))).collect();
            }
            lines.extend(words);
        }
        let mut checked = 0;
        for row in truth.lines() {
            let (pat, matched) = row.split_once('\t').expect("tab");
            let unquote = |s: &str| s.trim_matches('\'').to_string();
            let pat = unquote(pat);
            let want: Vec<String> =
                if matched.is_empty() { vec![] } else { matched.split(' ').map(unquote).collect() };
            for l in &lines {
                assert_eq!(
                    matches(pat.as_bytes(), l.as_bytes()),
                    want.contains(l),
                    "pattern {pat:?} line {l:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 341 * 341);
    }
}
