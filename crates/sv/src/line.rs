//! The status line (sv.md §5), as a pure function of the record.
//!
//! `<state>: <name>: [(pid <pid>) ]<sec>s[<flags>]` — the same text follows
//! `ok: `, `timeout: ` and `kill: ` in the wait loop, and is printed twice
//! per service by `status` (once for the service, once for its log under
//! the name `log`). runit's quirks kept here:
//!
//! * an unknown state byte prints no state word at all (`<name>: ...`);
//! * "normally", "paused", "want" and "got TERM" depend on the **pid**, not
//!   on the state byte: `normally down` needs a pid and a `down` file,
//!   `normally up` no pid and no `down` file; `paused`, `want down` and
//!   `got TERM` need a pid; `want up` needs no pid;
//! * seconds are `now - stamp`, clamped at 0.

use runit_core::status::{Status, WANT_DOWN, WANT_UP};

/// Appends the status line for `name` (no newline). `down_exists` is
/// whether the service directory holds a `down` file; `now_unix` is the
/// current Unix time in seconds.
pub fn status_line(out: &mut Vec<u8>, name: &[u8], st: &Status, down_exists: bool, now_unix: i64) {
    if let Some(word) = st.state.word() {
        out.extend_from_slice(word.as_bytes());
        out.extend_from_slice(b": ");
    }
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    let running = st.pid != 0;
    if st.state.byte() != 0 {
        push_fmt(out, format_args!("(pid {}) ", st.pid));
    }
    push_fmt(out, format_args!("{}s", st.seconds_since(now_unix)));
    if running && down_exists {
        out.extend_from_slice(b", normally down");
    }
    if !running && !down_exists {
        out.extend_from_slice(b", normally up");
    }
    if running && st.paused {
        out.extend_from_slice(b", paused");
    }
    if !running && st.want == WANT_UP {
        out.extend_from_slice(b", want up");
    }
    if running && st.want == WANT_DOWN {
        out.extend_from_slice(b", want down");
    }
    if running && st.got_term {
        out.extend_from_slice(b", got TERM");
    }
}

fn push_fmt(out: &mut Vec<u8>, args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = out.write_fmt(args);
}

#[cfg(test)]
mod tests {
    use super::*;
    use runit_core::status::State;
    use runit_core::tai::Tai64N;

    const NOW: i64 = 1_700_000_100;

    fn record(state: State, pid: u32, ago: u64, paused: bool, want: u8, got_term: bool) -> Status {
        Status { stamp: Tai64N::from_unix_micros(NOW as u64 - ago, 1), pid, paused, want, got_term, state }
    }

    fn line(name: &str, st: &Status, down: bool) -> String {
        let mut out = Vec::new();
        status_line(&mut out, name.as_bytes(), st, down, NOW);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn spec_examples() {
        let u = WANT_UP;
        let d = WANT_DOWN;
        let cases = [
            ("foo", record(State::Run, 10364, 4, false, u, false), false, "run: foo: (pid 10364) 4s"),
            (
                "./foo",
                record(State::Run, 10489, 1, true, u, false),
                false,
                "run: ./foo: (pid 10489) 1s, paused",
            ),
            ("./foo", record(State::Down, 0, 0, false, d, false), false, "down: ./foo: 0s, normally up"),
            (
                "./norun",
                record(State::Down, 0, 1, false, u, false),
                false,
                "down: ./norun: 1s, normally up, want up",
            ),
            ("./bar", record(State::Down, 0, 1, false, d, false), true, "down: ./bar: 1s"),
            (
                "./bar",
                record(State::Run, 10556, 0, false, u, false),
                true,
                "run: ./bar: (pid 10556) 0s, normally down",
            ),
            (
                "./bar",
                record(State::Run, 10556, 3, false, d, true),
                true,
                "run: ./bar: (pid 10556) 3s, normally down, want down, got TERM",
            ),
            (
                "./bar",
                record(State::Finish, 10643, 8, false, d, false),
                true,
                "finish: ./bar: (pid 10643) 8s, normally down, want down",
            ),
            (
                "/service/foo/",
                record(State::Run, 10364, 4, false, u, false),
                false,
                "run: /service/foo/: (pid 10364) 4s",
            ),
            ("log", record(State::Run, 11297, 3, false, u, false), false, "run: log: (pid 11297) 3s"),
        ];
        for (name, st, down, want) in cases {
            assert_eq!(line(name, &st, down), want);
        }
    }

    #[test]
    fn every_flag_combination() {
        for pid in [0u32, 42] {
            for state in [State::Down, State::Run, State::Finish] {
                for down in [false, true] {
                    for paused in [false, true] {
                        for want in [WANT_UP, WANT_DOWN] {
                            for term in [false, true] {
                                let st = record(state, pid, 5, paused, want, term);
                                let got = line("x", &st, down);
                                let mut expect = format!("{}: x: ", state.word().expect("word"));
                                if state != State::Down {
                                    expect.push_str(&format!("(pid {pid}) "));
                                }
                                expect.push_str("5s");
                                let run = pid != 0;
                                for (cond, text) in [
                                    (run && down, ", normally down"),
                                    (!run && !down, ", normally up"),
                                    (run && paused, ", paused"),
                                    (!run && want == WANT_UP, ", want up"),
                                    (run && want == WANT_DOWN, ", want down"),
                                    (run && term, ", got TERM"),
                                ] {
                                    if cond {
                                        expect.push_str(text);
                                    }
                                }
                                assert_eq!(got, expect, "{st:?} down={down}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn unknown_state_prints_no_word() {
        let st = record(State::Other(7), 1234, 5, true, WANT_DOWN, true);
        assert_eq!(line("craft", &st, false), "craft: (pid 1234) 5s, paused, want down, got TERM");
        assert_eq!(
            line("craft", &st, true),
            "craft: (pid 1234) 5s, normally down, paused, want down, got TERM"
        );
    }

    #[test]
    fn seconds_clamp_at_zero_and_names_stay_bytes() {
        let mut st = record(State::Down, 0, 0, false, WANT_DOWN, false);
        st.stamp = Tai64N::from_unix_micros(NOW as u64 + 100, 0);
        let mut out = Vec::new();
        status_line(&mut out, b"n\xffx", &st, true, NOW);
        assert_eq!(out, b"down: n\xffx: 0s");
    }

    #[test]
    fn pid_shown_by_state_byte_flags_by_pid() {
        // A down record with a stale pid: no "(pid)", but pid-dependent flags.
        let st = record(State::Down, 99, 2, true, WANT_DOWN, false);
        assert_eq!(line("x", &st, false), "down: x: 2s, paused, want down");
        // A run record with pid 0 prints "(pid 0)" and the no-pid flags.
        let st = record(State::Run, 0, 2, false, WANT_UP, false);
        assert_eq!(line("x", &st, false), "run: x: (pid 0) 2s, normally up, want up");
    }
}
