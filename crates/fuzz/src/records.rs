//! The contract records every program reads back from `supervise/`
//! (spec supervise.md §5-§7; the health extension's files): decoders must
//! take any bytes without panicking, and what they accept must survive an
//! encode/decode round trip. The 20-byte status record is also rendered
//! the way `sv` shows it (text line and `-j` JSON), whose output must stay
//! well-formed for any record.

use crate::input::Input;
use runit_core::status::{State, Status, stat_text};
use runit_core::{deaths, health, instance, policy};

/// `supervise/status` as read by `sv` and runsvdir's clients.
pub fn status(data: &[u8]) {
    let Ok(st) = Status::decode(data) else {
        assert!(data.len() < 20, "a record of {} bytes was refused", data.len());
        return;
    };
    let packed = st.encode();
    // Bytes 16 and 18 are flags (any non-zero byte reads as set, as in
    // runit); every other byte must come back exactly.
    let mut want = [0u8; 20];
    want.copy_from_slice(&data[..20]);
    want[16] = u8::from(want[16] != 0);
    want[18] = u8::from(want[18] != 0);
    assert_eq!(packed, want, "status record does not round-trip");
    assert_eq!(Status::decode(&packed).ok(), Some(st));
    let want = match st.want {
        b'u' => runit_core::status::Want::Up,
        _ => runit_core::status::Want::Down,
    };
    let stat = stat_text(st.state, st.paused, st.got_term, want);
    assert!(stat.ends_with('\n') && stat.matches('\n').count() == 1, "stat {stat:?}");
    // sv's view of the record, at any "now" (the clock is not trusted).
    let now = i64::from_le_bytes(data.get(20..28).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]));
    let name = data.get(28..).unwrap_or_default();
    let mut line = Vec::new();
    sv::line::status_line(&mut line, name, &st, data[16] & 2 != 0, now);
    assert!(line.starts_with(st.state.word().unwrap_or("").as_bytes()));
    let mut json = Vec::new();
    let entry = sv::json::Entry::Record { status: st, down: Some(data[18] & 2 != 0) };
    // The extension records too, decoded from the same bytes.
    let health = health::Health::decode(name);
    let deaths = deaths::decode_all(name);
    let extras = sv::json::Extras { health: health.as_ref(), deaths: Some(&deaths) };
    sv::json::service_line(&mut json, name, name, &entry, Some(&entry), extras, now);
    let text = json.strip_suffix(b"\n").unwrap_or(&json);
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(text) {
        panic!("sv -j printed invalid JSON ({e}): {}", String::from_utf8_lossy(&json));
    }
    let _ = matches!(st.state, State::Down | State::Run | State::Finish);
}

/// The health extension's files: `health`, `deaths`, `instance`,
/// `restart-policy`, `notification-fd`.
pub fn extension_files(data: &[u8]) {
    let mut input = Input::new(data);
    let which = input.byte() % 5;
    let body = input.rest();
    match which {
        0 => {
            if let Some(h) = health::Health::decode(body) {
                let again = health::Health::decode(h.encode().as_bytes());
                // The status text is cleaned on encode; everything else is exact.
                let again = again.unwrap_or_else(|| panic!("health {h:?} does not decode after encode"));
                assert_eq!(
                    (again.state, again.pid, again.since, again.mechanism, again.until),
                    (h.state, h.pid, h.since, h.mechanism, h.until)
                );
            }
        }
        1 => {
            for d in deaths::decode_all(body) {
                let line = d.encode();
                let back = deaths::Death::decode(line.trim_end_matches('\n'));
                assert_eq!(back.as_ref(), Some(&d), "death line {line:?}");
            }
            let d = deaths::Death {
                stamp: runit_core::tai::Tai64N::from_unix_micros(1, 0),
                ran: std::time::Duration::from_millis(5),
                how: deaths::How::Exit(1),
                cause: deaths::Cause::Died,
            };
            let out = deaths::appended(body, &d, 1 + usize::from(body.first().copied().unwrap_or(0)) % 8);
            assert!(out.ends_with(d.encode().as_bytes()), "appended death is not last");
        }
        2 => {
            if let Some(i) = instance::Instance::decode(body) {
                assert_eq!(instance::Instance::decode(i.encode().as_bytes()), Some(i));
            }
            let _ = instance::parse_stat(body);
        }
        3 => {
            if let Ok(p) = policy::Policy::parse(body)
                && let Some(b) = p.backoff
            {
                for n in [0, 1, 2, 31, 32, 64, u32::MAX] {
                    let d = b.delay(n);
                    assert!(d.as_secs() <= policy::MAX_SECONDS, "backoff delay {d:?} past the cap");
                }
            }
        }
        _ => {
            let _ = health::parse_notification_fd(body);
            let s = health::clean_status(body);
            assert!(s.len() <= health::STATUS_MAX && !s.contains('\n'), "clean_status {s:?}");
            for n in runsv::health::parse_notify(body) {
                if let runsv::health::Notice::Status(s) = n {
                    assert!(s.len() <= health::STATUS_MAX && !s.contains('\n'));
                }
            }
        }
    }
}
