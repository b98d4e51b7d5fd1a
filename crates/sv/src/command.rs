//! The command table: which word means what (sv.md §2).
//!
//! runit's `sv` recognises a handful of LSB words exactly (`start`, `stop`,
//! `restart`, `force-stop`, ...) and dispatches everything else on the
//! **first character** of the word, so `sv u x`, `sv upfoo x`, `sv stat x`
//! and `sv e x` are all valid, while `sv restartx x` and `sv force-bogus x`
//! are usage errors (no `r` or `f` first-letter command exists). In LSB mode
//! the status command must be spelled `status` exactly. The upper-case
//! `D`/`T`/`X`/`E` forms are runit's undocumented aliases of the force-*
//! commands.

/// What one command does to each service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Print a status line per service (§5).
    Status,
    /// Send control bytes and possibly wait (§4, §6).
    Control(Control),
}

/// When sv waits for a sent command to take effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Only with `-v` (or `-w`).
    IfVerbose,
    /// Always: the LSB-style words (`start`, `stop`, `restart`, ...).
    Always,
}

/// What a timeout while waiting leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnTimeout {
    /// Print `timeout: <status line>`.
    Report,
    /// Print `kill: <status line>` and send `k` (the force-* commands).
    Kill,
}

/// A command that writes into `supervise/control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// The bytes written in one `write` (empty for `check`).
    pub send: &'static [u8],
    /// The wait condition letters (§6); the sent bytes, or `C` for `check`.
    pub expect: &'static [u8],
    /// Whether sv waits without `-v`.
    pub wait: Wait,
    /// What a timeout does.
    pub on_timeout: OnTimeout,
}

impl Control {
    const fn plain(bytes: &'static [u8]) -> Self {
        Control { send: bytes, expect: bytes, wait: Wait::IfVerbose, on_timeout: OnTimeout::Report }
    }

    const fn waiting(bytes: &'static [u8]) -> Self {
        Control { send: bytes, expect: bytes, wait: Wait::Always, on_timeout: OnTimeout::Report }
    }

    const fn forced(bytes: &'static [u8]) -> Self {
        Control { send: bytes, expect: bytes, wait: Wait::Always, on_timeout: OnTimeout::Kill }
    }

    /// True when the command tells runsv to exit: then a runsv that is not
    /// running is reported as `ok:` and is not an error (§4).
    pub fn is_exit(&self) -> bool {
        self.send.first() == Some(&b'x')
    }

    /// Whether sv waits for this command given `-v`.
    pub fn waits(&self, verbose: bool) -> bool {
        verbose || self.wait == Wait::Always
    }

    /// The redundant-command rule (§4 step 3): nothing is sent when the
    /// record's want byte already equals the first byte to send, except
    /// that `d` is still sent while runsv has not sent TERM (so `down`
    /// after `once` really stops the service).
    pub fn is_redundant(&self, want: u8, got_term: bool) -> bool {
        match self.send.first() {
            None => true,
            Some(&first) => want == first && (first != b'd' || got_term),
        }
    }
}

/// The words matched exactly, checked before the first-letter dispatch.
const EXACT: [(&str, Control); 11] = [
    ("start", Control::waiting(b"u")),
    ("stop", Control::waiting(b"d")),
    ("reload", Control::waiting(b"h")),
    ("restart", Control::waiting(b"tcu")),
    ("shutdown", Control::waiting(b"x")),
    ("try-restart", Control::waiting(b"tc")),
    ("check", Control { send: b"", expect: b"C", wait: Wait::Always, on_timeout: OnTimeout::Report }),
    ("force-stop", Control::forced(b"d")),
    ("force-reload", Control::forced(b"tc")),
    ("force-restart", Control::forced(b"tcu")),
    ("force-shutdown", Control::forced(b"x")),
];

/// Parses a command word; `None` is a usage error. `lsb` is true when sv
/// runs as an init script (its name is not `sv`).
pub fn parse(word: &[u8], lsb: bool) -> Option<Action> {
    if word == b"status" {
        return Some(Action::Status);
    }
    if let Some((_, control)) = EXACT.iter().find(|(w, _)| w.as_bytes() == word) {
        return Some(Action::Control(*control));
    }
    let control = match *word.first()? {
        b's' if !lsb => return Some(Action::Status),
        b'u' => Control::plain(b"u"),
        b'd' => Control::plain(b"d"),
        b'o' => Control::plain(b"o"),
        b'p' => Control::plain(b"p"),
        b'c' => Control::plain(b"c"),
        b'h' => Control::plain(b"h"),
        b'a' => Control::plain(b"a"),
        b'i' => Control::plain(b"i"),
        b'q' => Control::plain(b"q"),
        b'1' => Control::plain(b"1"),
        b'2' => Control::plain(b"2"),
        b't' => Control::plain(b"t"),
        b'k' => Control::plain(b"k"),
        b'x' | b'e' => Control::plain(b"x"),
        b'D' => Control::forced(b"d"),
        b'T' => Control::forced(b"tc"),
        b'X' | b'E' => Control::forced(b"x"),
        _ => return None,
    };
    Some(Action::Control(control))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control(word: &str) -> Control {
        match parse(word.as_bytes(), false) {
            Some(Action::Control(c)) => c,
            other => panic!("{word}: {other:?}"),
        }
    }

    #[test]
    fn first_letter_dispatch() {
        for (word, sent) in [
            ("up", "u"),
            ("u", "u"),
            ("upfoo", "u"),
            ("down", "d"),
            ("once", "o"),
            ("pause", "p"),
            ("cont", "c"),
            ("hup", "h"),
            ("alarm", "a"),
            ("interrupt", "i"),
            ("quit", "q"),
            ("1", "1"),
            ("2", "2"),
            ("term", "t"),
            ("t", "t"),
            ("kill", "k"),
            ("exit", "x"),
            ("e", "x"),
            ("xyz", "x"),
        ] {
            let c = control(word);
            assert_eq!(c.send, sent.as_bytes(), "{word}");
            assert_eq!(c.expect, sent.as_bytes(), "{word}");
            assert_eq!(c.wait, Wait::IfVerbose, "{word}");
            assert_eq!(c.on_timeout, OnTimeout::Report, "{word}");
        }
    }

    #[test]
    fn exact_lsb_words() {
        for (word, sent, kill) in [
            ("start", "u", false),
            ("stop", "d", false),
            ("reload", "h", false),
            ("restart", "tcu", false),
            ("shutdown", "x", false),
            ("try-restart", "tc", false),
            ("force-stop", "d", true),
            ("force-reload", "tc", true),
            ("force-restart", "tcu", true),
            ("force-shutdown", "x", true),
            ("Down", "d", true),
            ("T", "tc", true),
            ("Xit", "x", true),
            ("E", "x", true),
        ] {
            let c = control(word);
            assert_eq!(c.send, sent.as_bytes(), "{word}");
            assert_eq!(c.wait, Wait::Always, "{word}");
            assert_eq!(c.on_timeout == OnTimeout::Kill, kill, "{word}");
        }
        let check = control("check");
        assert_eq!((check.send, check.expect, check.wait), (&b""[..], &b"C"[..], Wait::Always));
    }

    #[test]
    fn status_words() {
        for word in ["status", "s", "stat", "sxyz"] {
            assert_eq!(parse(word.as_bytes(), false), Some(Action::Status), "{word}");
        }
        assert_eq!(parse(b"status", true), Some(Action::Status));
        assert_eq!(parse(b"stat", true), None, "LSB status is exact");
        assert_eq!(parse(b"s", true), None);
        assert!(matches!(parse(b"start", true), Some(Action::Control(_))));
        assert!(matches!(parse(b"up", true), Some(Action::Control(_))));
    }

    #[test]
    fn usage_errors() {
        for word in ["", "bogus", "restartx", "force-bogus", "reload2", "f", "r", "-", "U", "3"] {
            assert_eq!(parse(word.as_bytes(), false), None, "{word:?}");
            assert_eq!(parse(word.as_bytes(), true), None, "{word:?}");
        }
    }

    #[test]
    fn near_misses_of_exact_words_use_the_first_letter() {
        assert_eq!(control("checkx").send, b"c");
        assert_eq!(control("try").send, b"t");
    }

    #[test]
    fn exit_and_redundancy() {
        assert!(control("exit").is_exit());
        assert!(control("force-shutdown").is_exit());
        assert!(!control("down").is_exit());
        let up = control("up");
        assert!(up.is_redundant(b'u', false));
        assert!(!up.is_redundant(b'd', false));
        let down = control("down");
        assert!(down.is_redundant(b'd', true));
        assert!(!down.is_redundant(b'd', false), "down after once is sent");
        assert!(!down.is_redundant(b'u', true));
        assert!(!control("restart").is_redundant(b'u', false));
        assert!(!control("kill").is_redundant(b'd', true));
        assert!(control("check").is_redundant(b'u', false), "check sends nothing");
        assert!(control("up").waits(true));
        assert!(!control("up").waits(false));
        assert!(control("start").waits(false));
    }
}
