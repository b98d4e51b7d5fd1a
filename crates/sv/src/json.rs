//! Machine-readable status (`sv -j status`), our extension to runit.
//!
//! One JSON object per service, one per line:
//!
//! ```text
//! {"name":"web","path":"/service/web","state":"run","pid":123,"seconds":4,
//!  "since":1700000000,"want":"up","paused":false,"got_term":false,
//!  "normally_up":true,"log":{"state":"run","pid":122,...}}
//! ```
//!
//! A service whose status cannot be read carries `"error"` with runit's
//! message instead of the record fields; `"log"` is `null` when the service
//! has no `log/` directory. Consumers must ignore keys they do not know.
//!
//! Service health (runit-rs's runsv, docs/health.md): after `"log"`,
//! `"ready"` (`true`/`false` when the service declares a
//! readiness mechanism, `null` when `./check` would decide), `"ready_since"`
//! and `"health"`, `supervise/health` as runsv last wrote it (`null` without
//! one); with `-H`, `"deaths"`, the death history (see [`crate::history`]).
//!
//! Names and paths are bytes on Unix; JSON strings are Unicode. Valid UTF-8
//! passes through (with JSON's escapes for `"`, `\` and control
//! characters); each invalid byte sequence becomes U+FFFD.

use runit_core::deaths::Death;
use runit_core::health::{Health, Readiness};
use runit_core::status::{Status, WANT_DOWN, WANT_UP};

/// What was learnt about one service (or its log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The status record, and whether a `down` file exists (`None` when
    /// that could not be determined).
    Record {
        /// The decoded record.
        status: Status,
        /// `Some(true)` when a `down` file exists.
        down: Option<bool>,
    },
    /// Why there is no record, in runit's words (`runsv not running`,
    /// `unable to open supervise/ok: file does not exist`, ...).
    Error(Vec<u8>),
}

/// What the main service has beyond its record (our extensions).
#[derive(Debug, Clone, Copy, Default)]
pub struct Extras<'a> {
    /// `supervise/health`, if there is one.
    pub health: Option<&'a Health>,
    /// The death history, when `-H` asked for it.
    pub deaths: Option<&'a [Death]>,
}

/// Appends the object for one service and a newline.
pub fn service_line(
    out: &mut Vec<u8>,
    name: &[u8],
    path: &[u8],
    main: &Entry,
    log: Option<&Entry>,
    extras: Extras<'_>,
    now_unix: i64,
) {
    out.extend_from_slice(b"{\"name\":");
    string(out, name);
    out.extend_from_slice(b",\"path\":");
    string(out, path);
    out.push(b',');
    fields(out, main, now_unix);
    if let Entry::Record { status, .. } = main {
        out.extend_from_slice(b",\"log\":");
        match log {
            None => out.extend_from_slice(b"null"),
            Some(entry) => {
                out.push(b'{');
                fields(out, entry, now_unix);
                out.push(b'}');
            }
        }
        health_fields(out, extras.health, status);
    }
    if let Some(deaths) = extras.deaths {
        out.push(b',');
        crate::history::json(out, deaths);
    }
    out.extend_from_slice(b"}\n");
}

/// `,"ready":…,"ready_since":…,"health":{…}` for the main record `st`.
fn health_fields(out: &mut Vec<u8>, health: Option<&Health>, st: &Status) {
    let ready = match crate::ready::of(health, st) {
        Readiness::Ready { since } => format!("true,\"ready_since\":{}", since.unix_seconds()),
        Readiness::NotReady => "false,\"ready_since\":null".into(),
        Readiness::Unknown => "null,\"ready_since\":null".into(),
    };
    out.extend_from_slice(format!(",\"ready\":{ready},\"health\":").as_bytes());
    let Some(h) = health else {
        out.extend_from_slice(b"null");
        return;
    };
    let until = h.until.map_or("null".to_string(), |u| u.unix_seconds().to_string());
    let text = format!(
        "{{\"state\":\"{}\",\"pid\":{},\"since\":{},\"mechanism\":\"{}\",\"until\":{until},\"status\":",
        h.state.word(),
        h.pid,
        h.since.unix_seconds(),
        h.mechanism.word()
    );
    out.extend_from_slice(text.as_bytes());
    match &h.status {
        Some(s) => string(out, s.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
}

fn fields(out: &mut Vec<u8>, entry: &Entry, now_unix: i64) {
    let (st, down) = match entry {
        Entry::Error(text) => {
            out.extend_from_slice(b"\"error\":");
            string(out, text);
            return;
        }
        Entry::Record { status, down } => (status, *down),
    };
    out.extend_from_slice(b"\"state\":");
    match st.state.word() {
        Some(w) => string(out, w.as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    let want: &[u8] = match st.want {
        WANT_UP => b"\"up\"",
        WANT_DOWN => b"\"down\"",
        _ => b"null",
    };
    let normally_up: &[u8] = match down {
        Some(true) => b"false",
        Some(false) => b"true",
        None => b"null",
    };
    let text = format!(
        "\"pid\":{},\"seconds\":{},\"since\":{},\"want\":{},\"paused\":{},\"got_term\":{},\"normally_up\":{}",
        st.pid,
        st.seconds_since(now_unix),
        st.stamp.unix_seconds(),
        String::from_utf8_lossy(want),
        st.paused,
        st.got_term,
        String::from_utf8_lossy(normally_up),
    );
    out.push(b',');
    out.extend_from_slice(text.as_bytes());
}

/// Appends `bytes` as a JSON string.
pub fn string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if u32::from(c) < 0x20 || c == '\u{7f}' => {
                    out.extend_from_slice(format!("\\u{:04x}", u32::from(c)).as_bytes());
                }
                c => {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice(b"\\ufffd");
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use runit_core::status::State;
    use runit_core::tai::Tai64N;

    fn st(state: State, pid: u32, want: u8) -> Status {
        Status {
            stamp: Tai64N::from_unix_micros(1_700_000_000, 0),
            pid,
            paused: false,
            want,
            got_term: pid != 0 && want == WANT_DOWN,
            state,
        }
    }

    fn render(name: &[u8], main: &Entry, log: Option<&Entry>) -> String {
        let mut out = Vec::new();
        service_line(&mut out, name, b"/service/web", main, log, Extras::default(), 1_700_000_004);
        String::from_utf8(out).expect("json is utf-8")
    }

    #[test]
    fn service_with_log() {
        let main = Entry::Record { status: st(State::Run, 123, WANT_UP), down: Some(false) };
        let log = Entry::Record { status: st(State::Run, 122, WANT_UP), down: Some(false) };
        assert_eq!(
            render(b"web", &main, Some(&log)),
            concat!(
                r#"{"name":"web","path":"/service/web","state":"run","pid":123,"seconds":4,"#,
                r#""since":1700000000,"want":"up","paused":false,"got_term":false,"normally_up":true,"#,
                r#""log":{"state":"run","pid":122,"seconds":4,"since":1700000000,"want":"up","#,
                r#""paused":false,"got_term":false,"normally_up":true},"#,
                r#""ready":null,"ready_since":null,"health":null}"#,
                "\n"
            )
        );
    }

    #[test]
    fn down_service_without_log_and_errors() {
        let main = Entry::Record { status: st(State::Down, 0, WANT_DOWN), down: Some(true) };
        let line = render(b"web", &main, None);
        assert!(line.contains(r#""state":"down","pid":0,"#), "{line}");
        assert!(line.contains(r#""want":"down""#) && line.contains(r#""normally_up":false"#));
        assert!(line.ends_with(",\"log\":null,\"ready\":null,\"ready_since\":null,\"health\":null}\n"));
        let err = Entry::Error(b"runsv not running".to_vec());
        assert_eq!(
            render(b"web", &err, None),
            "{\"name\":\"web\",\"path\":\"/service/web\",\"error\":\"runsv not running\"}\n"
        );
        let log = Entry::Error(b"unable to open supervise/ok: file does not exist".to_vec());
        let line = render(b"web", &main, Some(&log));
        assert!(line.contains(",\"log\":{\"error\":\"unable to open supervise/ok: file does not exist\"},"));
    }

    #[test]
    fn health_and_history() {
        use runit_core::deaths::{Cause, How};
        use runit_core::health::{HealthState, Mechanism};
        let at = |s: u64| Tai64N::from_unix_micros(1_700_000_000 + s, 0);
        let main = Entry::Record { status: st(State::Run, 123, WANT_UP), down: Some(false) };
        let mut h = Health {
            state: HealthState::Ready,
            pid: 123,
            since: at(2),
            mechanism: Mechanism::NotifySocket,
            until: None,
            status: Some("serving \"all\"".into()),
        };
        let deaths = [Death {
            stamp: at(1),
            ran: std::time::Duration::from_millis(5),
            how: How::Exit(1),
            cause: Cause::Died,
        }];
        let line = |h: &Health, deaths: Option<&[Death]>| {
            let mut out = Vec::new();
            service_line(
                &mut out,
                b"web",
                b"/s/web",
                &main,
                None,
                Extras { health: Some(h), deaths },
                1_700_000_004,
            );
            String::from_utf8(out).expect("utf8")
        };
        assert!(
            line(&h, None).ends_with(concat!(
                r#""log":null,"ready":true,"ready_since":1700000002,"health":{"state":"ready","pid":123,"#,
                r#""since":1700000002,"mechanism":"notify-socket","until":null,"status":"serving \"all\""}}"#,
                "\n"
            )),
            "{}",
            line(&h, None)
        );
        h.state = HealthState::Starting;
        assert!(line(&h, None).contains(r#""ready":false,"ready_since":null,"health":{"state":"starting""#));
        let (state, mechanism, until, status) = (HealthState::Failed, Mechanism::None, Some(at(9)), None);
        let failed = Health { state, pid: 0, mechanism, until, status, ..h };
        let text = line(&failed, Some(&deaths));
        assert!(
            text.ends_with(concat!(
                r#""ready":null,"ready_since":null,"health":{"state":"failed","pid":0,"since":1700000002,"#,
                r#""mechanism":"none","until":1700000009,"status":null},"#,
                r#""deaths":[{"at":1700000001,"ran_ms":5,"how":"exit","value":1,"cause":"died"}]}"#,
                "\n"
            )),
            "{text}"
        );
        let err = Entry::Error(b"runsv not running".to_vec());
        let mut out = Vec::new();
        service_line(
            &mut out,
            b"w",
            b"/w",
            &err,
            None,
            Extras { health: None, deaths: Some(&deaths[..0]) },
            0,
        );
        assert_eq!(out, br#"{"name":"w","path":"/w","error":"runsv not running","deaths":[]}"#.iter().copied().chain(*b"\n").collect::<Vec<u8>>());
    }

    #[test]
    fn unknown_state_want_and_down() {
        let mut s = st(State::Other(9), 5, b'?');
        s.paused = true;
        let line = render(b"x", &Entry::Record { status: s, down: None }, None);
        assert!(line.contains(r#""state":null"#), "{line}");
        assert!(line.contains(r#""want":null,"paused":true"#), "{line}");
        assert!(line.contains(r#""normally_up":null"#), "{line}");
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = Vec::new();
        string(&mut out, b"a\"b\\c\nd\te\x01f\x7fg\xffh\xc3\xa9i/");
        assert_eq!(String::from_utf8(out).expect("utf8"), r#""a\"b\\c\nd\te\u0001f\u007fg\ufffdhéi/""#);
        let mut out = Vec::new();
        string(&mut out, b"\xe2\x82");
        assert_eq!(out, br#""\ufffd""#);
    }
}
