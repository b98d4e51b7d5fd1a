//! TAI64 and TAI64N labels as runit writes them.
//!
//! runit's TAI64 label for Unix time `t` is `2^62 + 10 + t`: libtai's fixed
//! ten-second offset, leap seconds ignored. Its clock source has microsecond
//! resolution and the nanosecond field is filled as `usec * 1000 + 500`, so a
//! label written by runit always ends in `500` nanoseconds. Both fields are
//! big-endian when packed and lowercase hex when printed (svlogd's `@...`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2^62 + 10`: the TAI64 label of the Unix epoch in runit's arithmetic.
pub const UNIX_EPOCH_LABEL: u64 = 0x4000_0000_0000_000a;

/// A TAI64N timestamp: a TAI64 seconds label plus nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Tai64N {
    /// The TAI64 label (`UNIX_EPOCH_LABEL + unix_seconds`).
    pub label: u64,
    /// Nanoseconds within the second (below 10^9).
    pub nanos: u32,
}

impl Tai64N {
    /// The label for Unix time `secs` and `usec` microseconds, with runit's
    /// `+ 500` nanosecond quirk.
    pub fn from_unix_micros(secs: u64, usec: u32) -> Self {
        Tai64N { label: UNIX_EPOCH_LABEL.wrapping_add(secs), nanos: usec.min(999_999) * 1000 + 500 }
    }

    /// runit's label for a point in time (truncated to microseconds).
    pub fn from_system_time(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Self::from_unix_micros(since.as_secs(), since.subsec_micros())
    }

    /// runit's label for the current time.
    pub fn now() -> Self {
        Self::from_system_time(SystemTime::now())
    }

    /// Unix seconds of this label (negative before the epoch).
    pub fn unix_seconds(&self) -> i64 {
        self.label.wrapping_sub(UNIX_EPOCH_LABEL) as i64
    }

    /// The 12 packed bytes: label then nanoseconds, both big-endian.
    pub fn pack(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.label.to_be_bytes());
        out[8..].copy_from_slice(&self.nanos.to_be_bytes());
        out
    }

    /// Decodes 12 packed bytes.
    pub fn unpack(bytes: &[u8; 12]) -> Self {
        let mut label = [0u8; 8];
        label.copy_from_slice(&bytes[..8]);
        let mut nanos = [0u8; 4];
        nanos.copy_from_slice(&bytes[8..]);
        Tai64N { label: u64::from_be_bytes(label), nanos: u32::from_be_bytes(nanos) }
    }

    /// The 24 lowercase hex digits of the packed label (no leading `@`).
    pub fn to_hex(&self) -> [u8; 24] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [0u8; 24];
        for (i, b) in self.pack().iter().enumerate() {
            out[2 * i] = HEX[usize::from(b >> 4)];
            out[2 * i + 1] = HEX[usize::from(b & 15)];
        }
        out
    }

    /// Parses 24 hex digits (either case) as written by [`Tai64N::to_hex`].
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 24 {
            return None;
        }
        let mut bytes = [0u8; 12];
        for (i, pair) in hex.chunks(2).enumerate() {
            let hi = (pair[0] as char).to_digit(16)?;
            let lo = (pair[1] as char).to_digit(16)?;
            bytes[i] = (hi * 16 + lo) as u8;
        }
        Some(Self::unpack(&bytes))
    }
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian;
/// Howard Hinnant's `civil_from_days`). Shared by the human-readable times
/// of `sv -H` and svlogd's RFC 3339 stamps.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_453), (2025, 12, 31));
    }

    #[test]
    fn epoch_offset_and_nano_quirk() {
        let t = Tai64N::from_unix_micros(0x6b08441b, 421_588);
        assert_eq!(t.label, 0x4000_0000_6b08_4425);
        assert_eq!(t.nanos, 421_588_500);
        assert_eq!(t.unix_seconds(), 0x6b08441b);
    }

    #[test]
    fn pack_is_big_endian() {
        let t = Tai64N { label: 0x4000_0000_6b08_4425, nanos: 0x1920_ee14 };
        assert_eq!(t.pack(), [0x40, 0, 0, 0, 0x6b, 0x08, 0x44, 0x25, 0x19, 0x20, 0xee, 0x14]);
        assert_eq!(Tai64N::unpack(&t.pack()), t);
    }

    #[test]
    fn hex_round_trip() {
        let t = Tai64N { label: 0x4000_0000_6b08_4425, nanos: 0x1920_ee14 };
        assert_eq!(&t.to_hex(), b"400000006b0844251920ee14");
        assert_eq!(Tai64N::from_hex(b"400000006b0844251920ee14"), Some(t));
        assert_eq!(Tai64N::from_hex(b"400000006B0844251920EE14"), Some(t));
        assert_eq!(Tai64N::from_hex(b"4000"), None);
        assert_eq!(Tai64N::from_hex(b"40000000zz0844251920ee14"), None);
    }

    #[test]
    fn now_ends_in_500() {
        let t = Tai64N::now();
        assert_eq!(t.nanos % 1000, 500);
        assert!(t.nanos < 1_000_000_000);
    }
}
