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
//! has no `log/` directory. Consumers must ignore keys they do not know:
//! more (readiness, a death history) will be added.
//!
//! Names and paths are bytes on Unix; JSON strings are Unicode. Valid UTF-8
//! passes through (with JSON's escapes for `"`, `\` and control
//! characters); each invalid byte sequence becomes U+FFFD.

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

/// Appends the object for one service and a newline.
pub fn service_line(
    out: &mut Vec<u8>,
    name: &[u8],
    path: &[u8],
    main: &Entry,
    log: Option<&Entry>,
    now_unix: i64,
) {
    out.extend_from_slice(b"{\"name\":");
    string(out, name);
    out.extend_from_slice(b",\"path\":");
    string(out, path);
    out.push(b',');
    fields(out, main, now_unix);
    if matches!(main, Entry::Record { .. }) {
        out.extend_from_slice(b",\"log\":");
        match log {
            None => out.extend_from_slice(b"null"),
            Some(entry) => {
                out.push(b'{');
                fields(out, entry, now_unix);
                out.push(b'}');
            }
        }
    }
    out.extend_from_slice(b"}\n");
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
        service_line(&mut out, name, b"/service/web", main, log, 1_700_000_004);
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
                r#""paused":false,"got_term":false,"normally_up":true}}"#,
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
        assert!(line.ends_with(",\"log\":null}\n"));
        let err = Entry::Error(b"runsv not running".to_vec());
        assert_eq!(
            render(b"web", &err, None),
            "{\"name\":\"web\",\"path\":\"/service/web\",\"error\":\"runsv not running\"}\n"
        );
        let log = Entry::Error(b"unable to open supervise/ok: file does not exist".to_vec());
        let line = render(b"web", &main, Some(&log));
        assert!(
            line.ends_with(",\"log\":{\"error\":\"unable to open supervise/ok: file does not exist\"}}\n")
        );
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
