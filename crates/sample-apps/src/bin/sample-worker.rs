//! `sample-worker [--queue NAME] [--interval-ms N] [--log-every N] [--drain-ms N] [--ignore-term]`
//!
//! Beats every interval (a Redis `INCR worker:beats` when Redis is
//! configured), and prints a line on stdout every `--log-every` beats
//! (default 20). On SIGTERM it drains for `--drain-ms` and exits 0,
//! printing `event=draining` and `event=stop`. With `--ignore-term` it
//! ignores SIGTERM (the stubborn service of boot's escalation test).
//!
//! Every line it prints ends with ` seq=<n>`, numbered from 1 without a gap,
//! and the last one is `event=stop`: a log that holds `event=stop ... seq=N`
//! and every `seq` from 1 to N lost no line (the fleet's scale-in test).

use sample_apps::{Redis, flag_value, has_flag, now_nanos, redis_addr};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Numbers the lines the worker prints.
struct Lines(u64);

impl Lines {
    /// Prints `sample-worker: <text> seq=<n>` and flushes.
    fn say(&mut self, text: &str) {
        self.0 += 1;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "sample-worker: {text} seq={}", self.0);
        let _ = out.flush();
    }

    /// An `event=<what> t=<nanos> pid=<pid>` line (sample_apps::event's words).
    fn event(&mut self, what: &str) {
        self.say(&format!("event={what} t={} pid={}", now_nanos(), std::process::id()));
    }
}

static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ms =
        |name: &str, default: u64| flag_value(&args, name).and_then(|v| v.parse().ok()).unwrap_or(default);
    let interval = Duration::from_millis(ms("--interval-ms", 500));
    let drain = Duration::from_millis(ms("--drain-ms", 300));
    let every = ms("--log-every", 20).max(1);
    let queue = flag_value(&args, "--queue").unwrap_or_else(|| "default".into());
    let handler: libc::sighandler_t = if has_flag(&args, "--ignore-term") {
        libc::SIG_IGN
    } else {
        on_term as *const () as libc::sighandler_t
    };
    // SAFETY: the handler only stores into an atomic, which is signal-safe.
    unsafe { libc::signal(libc::SIGTERM, handler) };
    let mut out = Lines(0);
    out.event("start");
    out.say(&format!("queue={queue}"));
    let mut redis = None;
    let mut beats = 0u64;
    // Beats until the next line: the first beat is logged, then every `every`.
    let mut due = 1u64;
    while !TERM.load(Ordering::SeqCst) {
        beats += 1;
        if redis.is_none() {
            redis = redis_addr().and_then(|a| Redis::connect(&a).ok());
        }
        if let Some(r) = redis.as_mut()
            && r.call(&[b"INCR", b"worker:beats"]).is_err()
        {
            redis = None;
        }
        due -= 1;
        if due == 0 {
            out.say(&format!("beat {beats} queue={queue}"));
            due = every;
        }
        std::thread::sleep(interval);
    }
    out.event("draining");
    std::thread::sleep(drain);
    out.event("stop");
}
