//! Wait conditions: when has a sent command taken effect? (sv.md §6)
//!
//! One condition per control byte, evaluated on a freshly read status
//! record. The table follows runit 2.3.0, including its rough edges:
//!
//! * `t`/`k` accept a process whose status stamp is in the same whole
//!   second as sv's start, so a restart within that second may be reported
//!   with the old pid;
//! * `x` never holds while runsv is alive (the driver sees it gone);
//! * `check` (letter `C`) waits for the *wanted* state — 2.3.0's fix; 2.1.2
//!   accepted any down service.
//!
//! `./check` is run lazily through a callback, only where the table asks
//! for it and only after the cheaper parts of the condition hold, in the
//! order runit evaluates them (its stderr output is visible to users).

use runit_core::status::{State, Status, WANT_DOWN};

/// The condition letter of `sv check`.
pub const CHECK: u8 = b'C';

/// True when the condition for `byte` holds for `st`. `t0_secs` is sv's
/// start time in whole Unix seconds; `check` runs `./check`.
pub fn holds(byte: u8, st: &Status, t0_secs: i64, check: &mut dyn FnMut() -> bool) -> bool {
    let has_pid = st.pid != 0;
    let stamp = st.stamp.unix_seconds();
    match byte {
        b'u' => has_pid && st.state == State::Run && check(),
        b'd' => !has_pid && st.state == State::Down,
        b'x' => false,
        b't' | b'k' => {
            (!has_pid && st.want == WANT_DOWN) || (stamp >= t0_secs && has_pid && !st.got_term && check())
        }
        // runit: not (no pid and stamp before T0) and not (pid and want not down).
        b'o' => {
            if has_pid {
                st.want == WANT_DOWN
            } else {
                stamp >= t0_secs
            }
        }
        b'p' => !has_pid || st.paused,
        b'c' => !has_pid || !st.paused,
        CHECK => holds(if st.want == WANT_DOWN { b'd' } else { b'u' }, st, t0_secs, check),
        // h a i q 1 2: delivered is done.
        _ => true,
    }
}

/// True when the conditions of every byte hold, evaluated in order and
/// stopping at the first that does not (as runit does, so `./check` runs
/// at most once per byte that needs it).
pub fn all_hold(bytes: &[u8], st: &Status, t0_secs: i64, check: &mut dyn FnMut() -> bool) -> bool {
    bytes.iter().all(|&b| holds(b, st, t0_secs, check))
}

#[cfg(test)]
mod tests {
    use super::*;
    use runit_core::status::WANT_UP;
    use runit_core::tai::Tai64N;

    const T0: i64 = 1_700_000_000;

    fn rec(state: State, pid: u32, stamp: i64, paused: bool, want: u8, got_term: bool) -> Status {
        Status { stamp: Tai64N::from_unix_micros(stamp as u64, 0), pid, paused, want, got_term, state }
    }

    /// Evaluates `byte` with a check that returns `ok`; also reports
    /// whether the check ran.
    fn eval(byte: u8, st: &Status, ok: bool) -> (bool, bool) {
        let mut ran = false;
        let r = holds(byte, st, T0, &mut || {
            ran = true;
            ok
        });
        (r, ran)
    }

    fn running(stamp: i64) -> Status {
        rec(State::Run, 7, stamp, false, WANT_UP, false)
    }

    fn down(want: u8) -> Status {
        rec(State::Down, 0, T0 - 5, false, want, false)
    }

    #[test]
    fn up_needs_pid_run_state_and_check() {
        assert_eq!(eval(b'u', &running(T0 - 9), true), (true, true));
        assert_eq!(eval(b'u', &running(T0 - 9), false), (false, true));
        assert_eq!(eval(b'u', &down(WANT_UP), true), (false, false));
        let finish = rec(State::Finish, 8, T0, false, WANT_UP, false);
        assert_eq!(eval(b'u', &finish, true), (false, false));
    }

    #[test]
    fn down_needs_no_pid_and_down_state() {
        assert_eq!(eval(b'd', &down(WANT_DOWN), false), (true, false));
        assert_eq!(eval(b'd', &down(WANT_UP), false), (true, false), "want is not consulted");
        assert!(!eval(b'd', &running(T0), true).0);
        let finish = rec(State::Finish, 8, T0, false, WANT_DOWN, false);
        assert!(!eval(b'd', &finish, true).0);
        let odd = rec(State::Finish, 0, T0, false, WANT_DOWN, false);
        assert!(!eval(b'd', &odd, true).0, "pid 0 but not down state");
    }

    #[test]
    fn exit_never_holds_while_runsv_lives() {
        assert!(!eval(b'x', &down(WANT_DOWN), true).0);
        assert!(!eval(b'x', &running(T0), true).0);
    }

    #[test]
    fn term_and_kill() {
        for b in [b't', b'k'] {
            // Stopped and wanted down: done, no check.
            assert_eq!(eval(b, &down(WANT_DOWN), false), (true, false));
            // Stopped but wanted up: not yet.
            assert_eq!(eval(b, &down(WANT_UP), true), (false, false));
            // Restarted at or after sv's start second: check decides.
            assert_eq!(eval(b, &running(T0), true), (true, true));
            assert_eq!(eval(b, &running(T0 + 1), false), (false, true));
            // Old process (started before sv): not yet, check not run.
            assert_eq!(eval(b, &running(T0 - 1), true), (false, false));
            // TERM sent but the process still lives: not yet.
            let termed = rec(State::Run, 7, T0, false, WANT_UP, true);
            assert_eq!(eval(b, &termed, true), (false, false));
        }
    }

    #[test]
    fn once() {
        // Started by `o` at/after sv's start and wanted down: done.
        assert!(eval(b'o', &rec(State::Run, 7, T0, false, WANT_DOWN, false), true).0);
        // Running but still wanted up: not yet.
        assert!(!eval(b'o', &rec(State::Run, 7, T0, false, WANT_UP, false), true).0);
        // Down since before sv started: not yet (the run has not happened).
        assert!(!eval(b'o', &rec(State::Down, 0, T0 - 1, false, WANT_DOWN, false), true).0);
        // Down since sv started (ran and finished): done.
        assert!(eval(b'o', &rec(State::Down, 0, T0, false, WANT_DOWN, false), true).0);
        // No check involved.
        assert_eq!(eval(b'o', &rec(State::Run, 7, T0, false, WANT_DOWN, false), false), (true, false));
    }

    #[test]
    fn pause_and_cont() {
        let paused = rec(State::Run, 7, T0, true, WANT_UP, false);
        assert!(eval(b'p', &paused, false).0);
        assert!(!eval(b'p', &running(T0), false).0);
        assert!(eval(b'p', &down(WANT_UP), false).0);
        assert!(!eval(b'c', &paused, false).0);
        assert!(eval(b'c', &running(T0), false).0);
        assert!(eval(b'c', &down(WANT_UP), false).0);
    }

    #[test]
    fn signals_hold_at_once() {
        for b in *b"haiq12" {
            assert_eq!(eval(b, &running(T0 - 100), false), (true, false));
            assert_eq!(eval(b, &down(WANT_DOWN), false), (true, false));
        }
    }

    #[test]
    fn check_waits_for_the_wanted_state_2_3_0() {
        // want down: as `d` — down is done, running is not (2.1.2 said done
        // only for pid 0 and ran ./check for a running service).
        assert_eq!(eval(CHECK, &down(WANT_DOWN), false), (true, false));
        let stopping = rec(State::Run, 7, T0, false, WANT_DOWN, true);
        assert_eq!(eval(CHECK, &stopping, true), (false, false));
        // want up: as `u` — a down service is not ready (2.1.2: it was).
        assert_eq!(eval(CHECK, &down(WANT_UP), true), (false, false));
        assert_eq!(eval(CHECK, &running(T0 - 50), true), (true, true));
        assert_eq!(eval(CHECK, &running(T0 - 50), false), (false, true));
    }

    #[test]
    fn restart_needs_all_three_and_stops_at_the_first_failure() {
        let mut runs = 0;
        let st = running(T0 - 1);
        assert!(!all_hold(b"tcu", &st, T0, &mut || {
            runs += 1;
            true
        }));
        assert_eq!(runs, 0, "t fails before any check");
        let st = running(T0);
        assert!(all_hold(b"tcu", &st, T0, &mut || {
            runs += 1;
            true
        }));
        assert_eq!(runs, 2, "t and u each run ./check, as runit does");
        let paused = rec(State::Run, 7, T0, true, WANT_UP, false);
        assert!(!all_hold(b"tcu", &paused, T0, &mut || true));
    }
}
