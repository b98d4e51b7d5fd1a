//! `sample-worker [--queue NAME] [--interval-ms N] [--drain-ms N] [--ignore-term]`
//!
//! Beats every interval (a Redis `INCR worker:beats` when Redis is
//! configured, and a line on stdout). On SIGTERM it drains for `--drain-ms`
//! and exits 0, printing `event=draining` and `event=stop`. With
//! `--ignore-term` it ignores SIGTERM (the stubborn service of boot's
//! escalation test).

use sample_apps::{Redis, event, flag_value, has_flag, redis_addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
    let queue = flag_value(&args, "--queue").unwrap_or_else(|| "default".into());
    let handler: libc::sighandler_t = if has_flag(&args, "--ignore-term") {
        libc::SIG_IGN
    } else {
        on_term as *const () as libc::sighandler_t
    };
    // SAFETY: the handler only stores into an atomic, which is signal-safe.
    unsafe { libc::signal(libc::SIGTERM, handler) };
    event("sample-worker", "start");
    println!("sample-worker: queue={queue}");
    let mut redis = None;
    let mut beats = 0u64;
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
        if beats % 20 == 1 {
            println!("sample-worker: beat {beats} queue={queue}");
        }
        std::thread::sleep(interval);
    }
    event("sample-worker", "draining");
    std::thread::sleep(drain);
    event("sample-worker", "stop");
}
