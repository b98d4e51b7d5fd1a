//! Timestamp prefixes (spec svlogd.md §1): `-t`, `-tt`, `-ttt` as runit
//! writes them, plus our RFC 3339 extension (`-T` UTC, `-TT` local time).
//!
//! * `-t`: `@` + runit's TAI64N label in hex (microsecond clock, nanoseconds
//!   = `usec * 1000 + 500`, from `runit_core::tai`) + space;
//! * `-tt`/`-ttt`: `YYYY-MM-DD_HH:MM:SS.xxxxx` / `...THH...` in UTC: the
//!   nanosecond value printed with nine digits and cut to five, which is
//!   `usec / 10`;
//! * `-T`: `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`, `-TT`: the same in local time
//!   with `+hh:mm`/`-hh:mm`.
//!
//! A stamp is made once per read from standard input, not per line, and the
//! date part is cached per second, so stamping costs next to nothing.

use crate::options::StampStyle;
use runit_core::tai::Tai64N;
use std::time::{SystemTime, UNIX_EPOCH};

/// A formatted prefix, including its trailing space (empty for none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    buf: [u8; 40],
    len: u8,
}

impl Stamp {
    /// No prefix.
    pub const EMPTY: Stamp = Stamp { buf: [0; 40], len: 0 };

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    fn push(&mut self, bytes: &[u8]) {
        let start = usize::from(self.len);
        let end = (start + bytes.len()).min(self.buf.len());
        self.buf[start..end].copy_from_slice(&bytes[..end - start]);
        self.len = end as u8;
    }
}

/// Makes stamps in one style, caching the per-second part.
#[derive(Debug, Clone)]
pub struct Stamper {
    style: StampStyle,
    cached_second: Option<i64>,
    /// The part that depends only on the second (date and time, or the
    /// TAI64 label's hex digits).
    head: Stamp,
    /// Local time: the UTC offset in seconds of `cached_second`.
    offset: i32,
}

impl Stamper {
    /// A stamper for `style`.
    pub fn new(style: StampStyle) -> Self {
        Stamper { style, cached_second: None, head: Stamp::EMPTY, offset: 0 }
    }

    /// The style.
    pub fn style(&self) -> StampStyle {
        self.style
    }

    /// The stamp for the current time.
    pub fn now(&mut self) -> Stamp {
        if self.style == StampStyle::None {
            return Stamp::EMPTY;
        }
        let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = i64::try_from(since.as_secs()).unwrap_or(i64::MAX);
        self.at(secs, since.subsec_micros())
    }

    /// The stamp for Unix time `secs` plus `usec` microseconds.
    pub fn at(&mut self, secs: i64, usec: u32) -> Stamp {
        let usec = usec.min(999_999);
        if self.cached_second != Some(secs) {
            self.cache_second(secs);
        }
        let mut s = self.head;
        match self.style {
            StampStyle::None => return Stamp::EMPTY,
            StampStyle::Tai64N => {
                let t = Tai64N::from_unix_micros(secs as u64, usec);
                s.push(&t.to_hex()[16..]);
            }
            StampStyle::Underscore | StampStyle::Iso => s.push(&digits::<5>(usec / 10)),
            StampStyle::Rfc3339Utc => {
                s.push(&digits::<6>(usec));
                s.push(b"Z");
            }
            StampStyle::Rfc3339Local => {
                s.push(&digits::<6>(usec));
                s.push(&utc_offset(self.offset));
            }
        }
        s.push(b" ");
        s
    }

    fn cache_second(&mut self, secs: i64) {
        let mut head = Stamp::EMPTY;
        match self.style {
            StampStyle::None => {}
            StampStyle::Tai64N => {
                head.push(b"@");
                head.push(&Tai64N::from_unix_micros(secs as u64, 0).to_hex()[..16]);
            }
            StampStyle::Underscore => head.push(&date_time(secs, b'_')),
            StampStyle::Iso | StampStyle::Rfc3339Utc => head.push(&date_time(secs, b'T')),
            StampStyle::Rfc3339Local => {
                self.offset = local_offset(secs);
                head.push(&date_time(secs.saturating_add(i64::from(self.offset)), b'T'));
            }
        }
        self.head = head;
        self.cached_second = Some(secs);
    }
}

/// `YYYY-MM-DD?HH:MM:SS.` for Unix time `secs`, `?` being `sep`.
fn date_time(secs: i64, sep: u8) -> [u8; 20] {
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = runit_core::tai::civil_from_days(days);
    let mut out = [0u8; 20];
    out[..4].copy_from_slice(&digits::<4>(y.clamp(0, 9999) as u32));
    out[4] = b'-';
    out[5..7].copy_from_slice(&digits::<2>(m));
    out[7] = b'-';
    out[8..10].copy_from_slice(&digits::<2>(d));
    out[10] = sep;
    out[11..13].copy_from_slice(&digits::<2>(in_day / 3600));
    out[13] = b':';
    out[14..16].copy_from_slice(&digits::<2>(in_day / 60 % 60));
    out[16] = b':';
    out[17..19].copy_from_slice(&digits::<2>(in_day % 60));
    out[19] = b'.';
    out
}

/// `n` as exactly `N` decimal digits (higher digits dropped).
fn digits<const N: usize>(mut n: u32) -> [u8; N] {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
    out
}

/// `+hh:mm` / `-hh:mm`.
fn utc_offset(offset: i32) -> [u8; 6] {
    let sign = if offset < 0 { b'-' } else { b'+' };
    let minutes = offset.unsigned_abs() / 60;
    let hh = digits::<2>(minutes / 60);
    let mm = digits::<2>(minutes % 60);
    [sign, hh[0], hh[1], b':', mm[0], mm[1]]
}

/// The local time zone's offset from UTC at Unix time `secs`, in seconds
/// (0 when the C library cannot tell).
fn local_offset(secs: i64) -> i32 {
    let t = secs as libc::time_t;
    // SAFETY: `tm` is plain data that localtime_r fills in; both pointers
    // are valid for the call.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return 0;
        }
        i32::try_from(tm.tm_gmtoff).unwrap_or(0)
    }
}

/// Re-reads the time zone (`TZ`, `/etc/localtime`), e.g. after SIGHUP.
pub fn reload_zone() {
    unsafe extern "C" {
        fn tzset();
    }
    // SAFETY: tzset has no arguments and only updates libc's zone state;
    // svlogd is single-threaded.
    unsafe { tzset() };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(style: StampStyle, secs: i64, usec: u32) -> String {
        String::from_utf8(Stamper::new(style).at(secs, usec).as_bytes().to_vec()).expect("ascii")
    }

    #[test]
    fn tai64n_matches_core() {
        let t = Tai64N::from_unix_micros(0x6b08441b, 421_588);
        let want = format!("@{} ", String::from_utf8(t.to_hex().to_vec()).expect("hex"));
        assert_eq!(text(StampStyle::Tai64N, 0x6b08441b, 421_588), want);
        assert_eq!(want.len(), 26);
    }

    #[test]
    fn runit_dates() {
        // 2026-11-26 14:41:03 UTC.
        let secs = 1_795_704_063;
        assert_eq!(text(StampStyle::Underscore, secs, 64_519), "2026-11-26_14:41:03.06451 ");
        assert_eq!(text(StampStyle::Iso, secs, 64_519), "2026-11-26T14:41:03.06451 ");
        assert_eq!(text(StampStyle::Iso, 0, 999_999), "1970-01-01T00:00:00.99999 ");
        assert_eq!(text(StampStyle::Underscore, 951_782_400, 0), "2000-02-29_00:00:00.00000 ");
    }

    #[test]
    fn rfc3339() {
        let secs = 1_795_704_063;
        assert_eq!(text(StampStyle::Rfc3339Utc, secs, 64_519), "2026-11-26T14:41:03.064519Z ");
        assert_eq!(utc_offset(3600), *b"+01:00");
        assert_eq!(utc_offset(-(5 * 3600 + 30 * 60)), *b"-05:30");
        assert_eq!(utc_offset(0), *b"+00:00");
    }

    #[test]
    fn local_time_follows_tz() {
        // The offset is whatever libc says; the text must agree with it.
        let secs = 1_795_704_063;
        let s = text(StampStyle::Rfc3339Local, secs, 5);
        assert_eq!(s.len(), 33);
        let off = local_offset(secs);
        let mut st = Stamper::new(StampStyle::Rfc3339Utc);
        let shifted = st.at(secs + i64::from(off), 5);
        assert_eq!(&s.as_bytes()[..26], &shifted.as_bytes()[..26]);
        assert_eq!(&s.as_bytes()[26..32], &utc_offset(off));
    }

    #[test]
    fn cache_is_per_second() {
        let mut st = Stamper::new(StampStyle::Underscore);
        assert_eq!(st.at(59, 0).as_bytes(), b"1970-01-01_00:00:59.00000 ");
        assert_eq!(st.at(60, 10).as_bytes(), b"1970-01-01_00:01:00.00001 ");
        assert_eq!(st.at(60, 20).as_bytes(), b"1970-01-01_00:01:00.00002 ");
    }
}
