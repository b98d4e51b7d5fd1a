//! `-H` (our extension): the death history runsv keeps in
//! `supervise/deaths` (runit-rs's runsv, docs/health.md), after the
//! service's status line.
//!
//! One line per end of `./run`, oldest first, named by its cause and the
//! service as typed, like sv's other lines:
//!
//! ```text
//! died: worker: 2026-11-26_16:54:49.12345 after 1.204s, exit 3
//! stopped: worker: 2026-11-26_16:55:51.00012 after 62.003s, signal 15
//! ended: worker: 2026-11-26_16:56:00.50000 after 0.012s, core 11
//! ```
//!
//! The time is when `./run` ended, in UTC and in svlogd `-tt`'s format
//! (so it can be matched against the service's log); `after` is how long
//! it ran; then how it ended (`exit <code>`, `signal <n>`, `core <n>`), as
//! `./finish` is told. `died` is what a restart policy counts (it ended on
//! its own while wanted up), `stopped` that runsv had sent TERM or KILL,
//! `ended` that it ended on its own while not wanted up.

use crate::json;
use runit_core::deaths::{Death, How};
use runit_core::tai::Tai64N;
use std::fmt::Write as _;

/// Appends one line per death.
pub fn lines(out: &mut Vec<u8>, name: &[u8], deaths: &[Death]) {
    for d in deaths {
        out.extend_from_slice(d.cause.word().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(name);
        out.extend_from_slice(b": ");
        let (how, value) = how(d.how);
        let ran = d.ran.as_millis();
        let text = format!("{} after {}.{:03}s, {how} {value}\n", utc(d.stamp), ran / 1000, ran % 1000);
        out.extend_from_slice(text.as_bytes());
    }
}

/// Appends `"deaths":[...]`: per death `at` (Unix seconds), `ran_ms`,
/// `how` (`exit`, `signal`, `core`), `value` and `cause`.
pub fn json(out: &mut Vec<u8>, deaths: &[Death]) {
    out.extend_from_slice(b"\"deaths\":[");
    for (i, d) in deaths.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let (how, value) = how(d.how);
        let mut text = String::new();
        let _ = write!(
            text,
            "{{\"at\":{},\"ran_ms\":{},\"how\":\"{how}\",\"value\":{value},\"cause\":",
            d.stamp.unix_seconds(),
            d.ran.as_millis()
        );
        out.extend_from_slice(text.as_bytes());
        json::string(out, d.cause.word().as_bytes());
        out.push(b'}');
    }
    out.push(b']');
}

fn how(h: How) -> (&'static str, i32) {
    match h {
        How::Exit(c) => ("exit", c),
        How::Signal(s) => ("signal", s),
        How::Core(s) => ("core", s),
    }
}

/// `YYYY-MM-DD_HH:MM:SS.xxxxx` in UTC (svlogd `-tt`: hundred-thousandths,
/// truncated).
pub fn utc(t: Tai64N) -> String {
    let secs = t.unix_seconds();
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = runit_core::tai::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}_{:02}:{:02}:{:02}.{:05}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        t.nanos.min(999_999_999) / 10_000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use runit_core::deaths::Cause;
    use std::time::Duration;

    fn death(secs: u64, usec: u32, ran_ms: u64, how: How, cause: Cause) -> Death {
        Death { stamp: Tai64N::from_unix_micros(secs, usec), ran: Duration::from_millis(ran_ms), how, cause }
    }

    #[test]
    fn utc_in_svlogds_format() {
        assert_eq!(utc(Tai64N::from_unix_micros(0, 0)), "1970-01-01_00:00:00.00000");
        // 2026-11-26 16:54:49 UTC.
        assert_eq!(utc(Tai64N::from_unix_micros(1_795_712_089, 123_456)), "2026-11-26_16:54:49.12345");
        assert_eq!(utc(Tai64N::from_unix_micros(951_782_400, 999_999)), "2000-02-29_00:00:00.99999");
        assert_eq!(utc(Tai64N::from_unix_micros(4_107_542_399, 0)), "2100-02-28_23:59:59.00000");
    }

    #[test]
    fn one_line_per_death() {
        let ds = [
            death(1_795_712_089, 123_456, 1204, How::Exit(3), Cause::Died),
            death(1_795_712_151, 120, 62_003, How::Signal(15), Cause::Stopped),
            death(1_795_712_160, 500_000, 12, How::Core(11), Cause::Ended),
        ];
        let mut out = Vec::new();
        lines(&mut out, b"worker", &ds);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            "died: worker: 2026-11-26_16:54:49.12345 after 1.204s, exit 3\n\
             stopped: worker: 2026-11-26_16:55:51.00012 after 62.003s, signal 15\n\
             ended: worker: 2026-11-26_16:56:00.50000 after 0.012s, core 11\n"
        );
        let mut out = Vec::new();
        json(&mut out, &ds[..2]);
        assert_eq!(
            String::from_utf8(out).expect("utf8"),
            r#""deaths":[{"at":1795712089,"ran_ms":1204,"how":"exit","value":3,"cause":"died"},{"at":1795712151,"ran_ms":62003,"how":"signal","value":15,"cause":"stopped"}]"#
        );
        let mut out = Vec::new();
        json(&mut out, &[]);
        assert_eq!(out, b"\"deaths\":[]");
    }
}
