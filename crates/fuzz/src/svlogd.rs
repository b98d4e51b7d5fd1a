//! svlogd's pure parts (spec svlogd.md §2-§5): the command line, a log
//! directory's `config`, runit's pattern matcher and the `+ - e E`
//! verdict, and cutting input into lines. `config` sits in a directory an
//! operator (or a template) writes, and the lines come from the service:
//! both are untrusted.

use crate::input::Input;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use svlogd::config;
use svlogd::line::{Piece, Replacer, Splitter};
use svlogd::pattern::{self, Pattern};

/// Input: a config file, a NUL, then log lines to run through its
/// patterns.
pub fn config_and_select(data: &[u8]) {
    let (text, lines) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &data[data.len()..]),
    };
    let (cfg, warnings) = config::parse(text);
    for w in &warnings {
        let m = w.message();
        assert!(m.starts_with(b"unable to scan "), "warning {:?}", String::from_utf8_lossy(&m));
    }
    // A port is stored as runit stores it, truncated to 16 bits (`:65536`
    // gives port 0; sending then fails and svlogd says so in the
    // directory, svlogd.md §5): no property on the value.
    assert!(cfg.processor.as_ref().is_none_or(|p| !p.is_empty() && !p.contains(&b'\n')));
    assert!(!cfg.prefix.contains(&b'\n'));
    rotation(&cfg, lines);
    for line in lines.split(|&b| b == b'\n').take(256) {
        let v = pattern::select(&cfg.patterns, line);
        // The verdict is the last matching pattern of each kind.
        let last = |kinds: &[pattern::PatternKind]| {
            cfg.patterns.iter().rev().find(|p| kinds.contains(&p.kind) && pattern::matches(&p.text, line))
        };
        use pattern::PatternKind::*;
        assert_eq!(v.selected, last(&[Select, Deselect]).is_none_or(|p| p.kind == Select));
        assert_eq!(v.to_stderr, last(&[Stderr, NoStderr]).is_some_and(|p| p.kind == Stderr));
    }
}

/// Writes `pending` through the config's size rule the way the logger
/// does: every write makes progress, and `current` never grows past `s`.
fn rotation(cfg: &config::Config, pending: &[u8]) {
    use svlogd::rotation::SizeRule;
    let size_limit = cfg.size % 4096;
    let rule = SizeRule { size: size_limit, line_max: u64::from(pending.first().copied().unwrap_or(0)) + 1 };
    let (mut size, mut rest, mut files) = (0u64, pending, 0usize);
    while !rest.is_empty() {
        if rule.full(size) {
            size = 0;
            files += 1;
            assert!(files <= pending.len() + 1, "more rotations than bytes");
        }
        let c = rule.chunk(size, rest);
        assert!(c.len > 0 && c.len <= rest.len(), "chunk {c:?} of {} pending", rest.len());
        size += c.len as u64;
        assert!(rule.size == 0 || size <= rule.size, "current grew to {size} past s{}", rule.size);
        rest = &rest[c.len..];
        if c.rotate_after {
            size = 0;
            files += 1;
        }
    }
    let _ = svlogd::rotation::AgeTimer::new(cfg.timeout_secs, std::time::Instant::now());
}

/// Input: pattern, NUL, line. Checks the matcher against a slow model of
/// the rules in svlogd::pattern's module documentation.
pub fn pattern_match(data: &[u8]) {
    let (pat, line) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let got = pattern::matches(pat, line);
    assert_eq!(got, model_match(pat, line), "pattern {pat:?} line {line:?}");
    let p = Pattern { kind: pattern::PatternKind::Select, text: pat.to_vec() };
    let _ = pattern::select(&[p], line);
}

/// The matcher's rules, written out directly from their description
/// (svlogd.md §4): no backtracking; `*c` skips to the first `c`; `+c` takes
/// a run of `c`; past either end runit sees a NUL terminator.
fn model_match(pat: &[u8], line: &[u8]) -> bool {
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let (mut p, mut s) = (0usize, 0usize);
    loop {
        if p >= pat.len() {
            return s >= line.len();
        }
        match pat[p] {
            b'*' => {
                if p + 1 >= pat.len() {
                    return true;
                }
                let c = pat[p + 1];
                match line[s.min(line.len())..].iter().position(|&b| b == c) {
                    Some(i) => s += i,
                    None => return false,
                }
                p += 1;
            }
            b'+' => {
                let c = at(pat, p + 1);
                if at(line, s) != c {
                    return false;
                }
                while s < line.len() && line[s] == c {
                    s += 1;
                }
                if s >= line.len() {
                    return true;
                }
                p += 2;
            }
            c => {
                if at(line, s) != c || s >= line.len() {
                    return false;
                }
                s += 1;
                p += 1;
            }
        }
    }
}

/// Input: a line length, chunk sizes, then the byte stream. Feeds the
/// stream in those chunks, as the driver reads blocks, and checks that the
/// pieces put back together are exactly the input read so far (no byte
/// lost, duplicated or moved), and that no line piece exceeds the length.
pub fn lines(data: &[u8]) {
    let mut input = Input::new(data);
    let line_max = usize::from(input.byte() % 64) + 1;
    let sizes: Vec<usize> = (0..8).map(|_| usize::from(input.byte() % 32) + 1).collect();
    let replace_extra = input.bytes(4).to_vec();
    let stream = input.rest();
    let mut splitter = Splitter::new(line_max);
    let mut buf: Vec<u8> = Vec::new();
    let mut rebuilt: Vec<u8> = Vec::new();
    let mut fed = 0;
    let replacer = Replacer::new(b'?', &replace_extra);
    for (i, size) in sizes.iter().cycle().enumerate() {
        if fed >= stream.len() {
            break;
        }
        let end = (fed + size).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        let mut pos = 0;
        while let Some((piece, next)) = splitter.next(&buf, pos) {
            assert!(next > pos && next <= buf.len(), "splitter did not advance ({pos} -> {next})");
            match piece {
                Piece::Line { range, cut } => {
                    let line = &buf[range.clone()];
                    assert!(line.len() <= line_max, "line of {} > {line_max}", line.len());
                    assert!(!line.contains(&b'\n'));
                    assert_eq!(cut, line.len() == line_max && next == range.end);
                    rebuilt.extend_from_slice(line);
                    if !cut {
                        rebuilt.push(b'\n');
                    }
                    let mut copy = line.to_vec();
                    replacer.apply(&mut copy);
                    // Every byte is the replacement or one that is kept.
                    assert!(
                        copy.iter()
                            .all(|&b| b == b'?' || ((32..=126).contains(&b) && !replace_extra.contains(&b)))
                    );
                }
                Piece::Tail(range) => {
                    assert!(!buf[range.clone()].contains(&b'\n'));
                    rebuilt.extend_from_slice(&buf[range]);
                }
                Piece::TailEnd => rebuilt.push(b'\n'),
            }
            pos = next;
        }
        // What is left is an unfinished line start, shorter than a line.
        assert!(buf.len() - pos < line_max || splitter.in_tail(), "carried {} bytes", buf.len() - pos);
        buf.drain(..pos);
        assert!(i < 1 << 20);
    }
    let consumed = stream.len() - buf.len();
    assert_eq!(&rebuilt[..], &stream[..consumed], "lines do not add up to the input");
    let _ = splitter.finish();
}

/// svlogd's command line: any argv gives options, usage or version.
pub fn options(data: &[u8]) {
    let args: Vec<OsString> =
        data.split(|&b| b == 0).take(32).map(|w| OsString::from_vec(w.to_vec())).collect();
    if let svlogd::options::Parsed::Run(o) = svlogd::options::parse(&args) {
        assert!(o.buflen > o.line_max && !o.dirs.is_empty());
    }
}
