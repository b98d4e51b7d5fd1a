//! A log directory's `config` file (spec svlogd.md §3): a pure parser.
//!
//! The first byte of each line decides what it is; the rest is taken
//! literally (no trimming: `s 100` is size 0). Lines starting with anything
//! else are ignored, so comments and blank lines need no special case. runit
//! quirks kept on purpose:
//!
//! * each line ends at its first NUL byte (runit keeps lines as C strings);
//! * a final line without a newline is used, unless it is a single
//!   character;
//! * `!` and `p` alone are ignored (an earlier `!`/`p` stays in force);
//! * `U` makes the directory UDP-only before its address is scanned, so a
//!   malformed `U` line silences the directory;
//! * the IPv4 address is scanned into the directory's address as it goes: a
//!   malformed line after a good one leaves the good line's UDP target with
//!   its first bytes overwritten (observed with Debian's svlogd);
//! * a port of 0 (or no digits) after `:` warns and leaves the line without
//!   effect on the port; no `:` means port 514.

use crate::pattern::{Pattern, PatternKind};
use runit_core::getopt::scan_ulong;

/// runit's defaults (`s`, `n`, `N`).
pub const DEFAULT_SIZE: u64 = 1_000_000;
/// Default `n`.
pub const DEFAULT_NMAX: u64 = 10;
/// Default `N`.
pub const DEFAULT_NMIN: u64 = 10;
/// The UDP port when a `u` line names none (syslog).
pub const DEFAULT_PORT: u16 = 514;

/// An IPv4 UDP destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpTarget {
    /// The address bytes, most significant first.
    pub addr: [u8; 4],
    /// The port.
    pub port: u16,
}

/// A parsed `config` (defaults when the file is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `s`: rotate when `current` reaches this many bytes (0: never).
    pub size: u64,
    /// `n`: keep at most this many old files (0: unlimited).
    pub nmax: u64,
    /// `N`: keep at least this many when freeing disk space.
    pub nmin: u64,
    /// `t`: rotate a non-empty `current` older than this (0: never).
    pub timeout_secs: u64,
    /// `!`: the processor command line.
    pub processor: Option<Vec<u8>>,
    /// `u`/`U`: where selected lines also go.
    pub udp: Option<UdpTarget>,
    /// `U`: do not write selected lines to the directory.
    pub udp_only: bool,
    /// `p`: prefix for every line (empty: none).
    pub prefix: Vec<u8>,
    /// `+ - e E`: patterns in file order.
    pub patterns: Vec<Pattern>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            size: DEFAULT_SIZE,
            nmax: DEFAULT_NMAX,
            nmin: DEFAULT_NMIN,
            timeout_secs: 0,
            processor: None,
            udp: None,
            udp_only: false,
            prefix: Vec::new(),
            patterns: Vec::new(),
        }
    }
}

/// A complaint about one config line; svlogd prints it as a warning and
/// goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigWarning {
    /// `unable to scan ip address: <rest of the line>`.
    Address(Vec<u8>),
    /// `unable to scan port number: <text after ':'>`.
    Port(Vec<u8>),
}

impl ConfigWarning {
    /// runit's message (without `svlogd: warning: `).
    pub fn message(&self) -> Vec<u8> {
        let (what, rest) = match self {
            ConfigWarning::Address(r) => (&b"unable to scan ip address: "[..], r),
            ConfigWarning::Port(r) => (&b"unable to scan port number: "[..], r),
        };
        [what, rest.as_slice()].concat()
    }
}

/// Parses a config file's contents.
pub fn parse(text: &[u8]) -> (Config, Vec<ConfigWarning>) {
    let mut cfg = Config::default();
    let mut warnings = Vec::new();
    let mut udp = Udp { target: UdpTarget { addr: [0; 4], port: DEFAULT_PORT }, enabled: false };
    let mut rest = text;
    while !rest.is_empty() {
        let (line, next) = match rest.iter().position(|&b| b == b'\n') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            // runit drops a final unterminated line of one character.
            None if rest.len() == 1 => break,
            None => (rest, &rest[rest.len()..]),
        };
        rest = next;
        let line = match line.iter().position(|&b| b == 0) {
            Some(nul) => &line[..nul],
            None => line,
        };
        if let Some(w) = apply_line(&mut cfg, &mut udp, line) {
            warnings.push(w);
        }
    }
    cfg.udp = udp.enabled.then_some(udp.target);
    (cfg, warnings)
}

/// The UDP target being scanned (it persists across lines, as in runit).
struct Udp {
    target: UdpTarget,
    enabled: bool,
}

fn apply_line(cfg: &mut Config, udp: &mut Udp, line: &[u8]) -> Option<ConfigWarning> {
    let (&kind, arg) = line.split_first()?;
    match kind {
        b's' => cfg.size = scaled(arg, &[(b'k', 1024), (b'm', 1024 * 1024)]),
        b'n' => cfg.nmax = scan_ulong(arg).0,
        b'N' => cfg.nmin = scan_ulong(arg).0,
        b't' => cfg.timeout_secs = scaled(arg, &[(b'm', 60), (b'h', 3600)]),
        b'!' if !arg.is_empty() => cfg.processor = Some(arg.to_vec()),
        b'p' if !arg.is_empty() => cfg.prefix = arg.to_vec(),
        b'u' | b'U' => {
            if kind == b'U' {
                cfg.udp_only = true;
            }
            return scan_udp(udp, arg);
        }
        b'+' | b'-' | b'e' | b'E' => {
            let kind = match kind {
                b'+' => PatternKind::Select,
                b'-' => PatternKind::Deselect,
                b'e' => PatternKind::Stderr,
                _ => PatternKind::NoStderr,
            };
            cfg.patterns.push(Pattern { kind, text: arg.to_vec() });
        }
        _ => {}
    }
    None
}

/// Leading digits times the factor of an optional one-letter suffix.
fn scaled(arg: &[u8], suffixes: &[(u8, u64)]) -> u64 {
    let (value, digits) = scan_ulong(arg);
    let factor = arg.get(digits).and_then(|s| suffixes.iter().find(|(c, _)| c == s)).map_or(1, |&(_, f)| f);
    value.saturating_mul(factor)
}

/// `a.b.c.d[:port]`, scanned into `udp.target` byte by byte.
fn scan_udp(udp: &mut Udp, arg: &[u8]) -> Option<ConfigWarning> {
    let mut pos = 0;
    for i in 0..4 {
        if i > 0 {
            if arg.get(pos) != Some(&b'.') {
                return Some(ConfigWarning::Address(arg.to_vec()));
            }
            pos += 1;
        }
        let (value, digits) = scan_ulong(&arg[pos..]);
        if digits == 0 {
            return Some(ConfigWarning::Address(arg.to_vec()));
        }
        // Each number is truncated to a byte, as runit stores it.
        udp.target.addr[i] = value as u8;
        pos += digits;
    }
    if arg.get(pos) == Some(&b':') {
        let text = &arg[pos + 1..];
        match scan_ulong(text).0 {
            0 => return Some(ConfigWarning::Port(text.to_vec())),
            port => udp.target.port = port as u16,
        }
    } else {
        udp.target.port = DEFAULT_PORT;
    }
    udp.enabled = true;
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Config {
        parse(text.as_bytes()).0
    }

    fn target(a: [u8; 4], port: u16) -> Option<UdpTarget> {
        Some(UdpTarget { addr: a, port })
    }

    #[test]
    fn defaults_and_empty() {
        assert_eq!(cfg(""), Config::default());
        assert_eq!(cfg("# comment\n\nzzz\n"), Config::default());
    }

    #[test]
    fn sizes_counts_and_times() {
        let c = cfg("s100\nn3\nN2\nt10\n");
        assert_eq!((c.size, c.nmax, c.nmin, c.timeout_secs), (100, 3, 2, 10));
        assert_eq!(cfg("s1k\n").size, 1024);
        assert_eq!(cfg("s2m\n").size, 2 * 1024 * 1024);
        assert_eq!(cfg("s 100\n").size, 0);
        assert_eq!(cfg("s7x\n").size, 7);
        assert_eq!(cfg("t2m\n").timeout_secs, 120);
        assert_eq!(cfg("t1h\n").timeout_secs, 3600);
        assert_eq!(cfg("t3d\n").timeout_secs, 3);
        assert_eq!(cfg("s1\ns2\n").size, 2);
    }

    #[test]
    fn final_line_rules() {
        assert_eq!(cfg("n3").nmax, 3);
        assert_eq!(cfg("n3\nn").nmax, 3);
        assert!(cfg("-*\n+").patterns.len() == 1);
        assert!(cfg("-*\n+\n").patterns.len() == 2);
        assert_eq!(cfg("+a").patterns[0].text, b"a");
    }

    #[test]
    fn nul_ends_a_line() {
        let c = parse(b"+a\0b\n!cat\0x\n").0;
        assert_eq!(c.patterns[0].text, b"a");
        assert_eq!(c.processor.as_deref(), Some(&b"cat"[..]));
    }

    #[test]
    fn processor_and_prefix() {
        let c = cfg("!gzip\n!\np>>\np\n");
        assert_eq!(c.processor.as_deref(), Some(&b"gzip"[..]));
        assert_eq!(c.prefix, b">>");
    }

    #[test]
    fn patterns_keep_order_and_kind() {
        let c = cfg("-*drop*\n+keep*\ne*\nE*x\n");
        let kinds: Vec<_> = c.patterns.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            vec![PatternKind::Deselect, PatternKind::Select, PatternKind::Stderr, PatternKind::NoStderr]
        );
        assert_eq!(c.patterns[3].text, b"*x");
        // Literal rest of line: a CR is part of the pattern.
        assert_eq!(cfg("+a\r\n").patterns[0].text, b"a\r");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..5_000 {
            let text: Vec<u8> = (0..(seed % 64))
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let alphabet = b"sntNuU!p+-eE0123456789.:km\n\0 ";
                    alphabet[(seed % alphabet.len() as u64) as usize]
                })
                .collect();
            let _ = parse(&text);
            seed = seed.wrapping_add(1);
        }
    }

    #[test]
    fn udp_lines() {
        assert_eq!(cfg("u127.0.0.1\n").udp, target([127, 0, 0, 1], 514));
        assert_eq!(cfg("u127.0.0.1:9\n").udp, target([127, 0, 0, 1], 9));
        assert_eq!(cfg("u127.0.0.1x\n").udp, target([127, 0, 0, 1], 514));
        assert_eq!(cfg("u300.0.0.1\n").udp, target([44, 0, 0, 1], 514));
        assert_eq!(cfg("u127.0.0.1:70000\n").udp, target([127, 0, 0, 1], 4464));
        assert_eq!(cfg("u127.0.0.1:12x\n").udp, target([127, 0, 0, 1], 12));
        assert_eq!(cfg("u1.2.3.4.5:7\n").udp, target([1, 2, 3, 4], 514));
        assert!(!cfg("u1.2.3.4\n").udp_only);
        assert!(cfg("U1.2.3.4\n").udp_only);
    }

    #[test]
    fn udp_warnings_and_partial_scans() {
        let (c, w) = parse(b"u1.2.3\n");
        assert_eq!(c.udp, None);
        assert_eq!(w, vec![ConfigWarning::Address(b"1.2.3".to_vec())]);
        assert_eq!(w[0].message(), b"unable to scan ip address: 1.2.3");
        let (c, w) = parse(b"u127.0.0.1:abc\n");
        assert_eq!(c.udp, None);
        assert_eq!(w[0].message(), b"unable to scan port number: abc");
        let (_, w) = parse(b"u 127.0.0.1\n");
        assert_eq!(w[0].message(), b"unable to scan ip address:  127.0.0.1");
        // Observed with Debian's svlogd: the bytes scanned before the error
        // overwrite the earlier target.
        assert_eq!(cfg("u127.0.0.1:9\nu6.7.8\n").udp, target([6, 7, 8, 1], 9));
        assert_eq!(cfg("u127.0.0.1:9\nu5..\n").udp, target([5, 0, 0, 1], 9));
        assert_eq!(cfg("u127.0.0.1:9\nu127.0.0.2:0\n").udp, target([127, 0, 0, 2], 9));
        assert_eq!(cfg("u127.0.0.1:9\nu127.0.0.2\n").udp, target([127, 0, 0, 2], 514));
        // A bad U line still makes the directory UDP-only.
        let c = cfg("u127.0.0.1:9\nUfoo\n");
        assert!(c.udp_only);
        assert_eq!(c.udp, target([127, 0, 0, 1], 9));
        let c = cfg("Ufoo\n");
        assert!(c.udp_only && c.udp.is_none());
    }
}
