//! The soak test (issue 10): many services under our runsvdir for a
//! configurable time, with random control commands and faults, then every
//! invariant checked. Not part of the default run (`#[ignore]`); start it
//! with `crates/fuzz/soak` (which builds the binaries and passes the
//! settings):
//!
//! | variable | default | meaning |
//! |----------|---------|---------|
//! | `SOAK_SECS` | 300 | how long faults and commands go on |
//! | `SOAK_SERVICES` | 500 | services in the tree |
//! | `SOAK_REPORT` | (none) | also write the summary to this file |
//! | `RUNIT_RS_SEED` | time | the random seed (printed) |
//!
//! Services: one in five logs numbered lines through svlogd (bursts of 20
//! a second), one in ten crash-loops (some with a restart policy), one in
//! ten has `./finish`, one in ten starts `down`; the rest sleep. Faults,
//! each tick (every 100 ms) with small probabilities: a random control
//! byte to a random service, SIGKILL of a random runsv, svlogd or
//! `./run`, garbage flooded into a control FIFO, a service directory moved
//! out of the tree and back, SIGKILL of runsvdir itself (then restarted,
//! as init would).
//!
//! Invariants checked at the end, after the faults stop and every service
//! is told `c` and `u`:
//!
//! * one runsv per service, one `./run` instance per service, one svlogd
//!   per logged service, and every service that does not crash is running;
//! * no numbered line duplicated; lines lost only in services whose runsv
//!   or svlogd was SIGKILLed (counted and reported);
//! * no zombies; the supervisors' CPU stays small;
//! * SIGHUP to runsvdir stops everything: no process of the tree is left.
#![allow(clippy::unwrap_used)]

#[path = "reliability_support/mod.rs"]
mod support;

use harness::{Proc, Scratch, cmd, ours, path_with_ours, script, wait_for, write};
use runit_core::supervise::{Supervise, probe, read_status, send_control};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::*;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Logger,
    Crasher,
    Finisher,
    Downed,
    Sleeper,
}

fn kind_of(i: usize) -> Kind {
    match i % 10 {
        0 | 5 => Kind::Logger,
        1 => Kind::Crasher,
        2 => Kind::Finisher,
        3 => Kind::Downed,
        _ => Kind::Sleeper,
    }
}

fn name_of(i: usize) -> String {
    format!("s{i:03}")
}

fn make_service(store: &Path, i: usize) -> PathBuf {
    let name = name_of(i);
    let dir = store.join(&name);
    let tag = format!("soak-{name}");
    match kind_of(i) {
        Kind::Logger => {
            script(dir.join("run"), &numbered_producer(&tag, 20, "1"));
            script(dir.join("log/run"), "#!/bin/sh\nexec svlogd main\n");
            write(dir.join("log/main/config"), "s100000\nn1000\n");
        }
        Kind::Crasher => {
            script(
                dir.join("run"),
                &format!("#!/bin/sh\nexec env RUN_MARKER={tag} /bin/sh -c 'sleep 1; exit 3'\n"),
            );
            if i % 20 == 1 {
                write(dir.join("restart-policy"), "backoff 1 8\n");
            }
        }
        Kind::Finisher => {
            script(dir.join("run"), &format!("#!/bin/sh\nexec env RUN_MARKER={tag} sleep 1000000\n"));
            script(dir.join("finish"), "#!/bin/sh\nexit 0\n");
        }
        Kind::Downed | Kind::Sleeper => {
            script(dir.join("run"), &format!("#!/bin/sh\nexec env RUN_MARKER={tag} sleep 1000000\n"));
            if kind_of(i) == Kind::Downed {
                write(dir.join("down"), "");
            }
        }
    }
    dir
}

/// How long a runsv told `x` (or TERMed by runsvdir) may take to finish
/// exiting: its ./run and logger end, then runsvdir starts a new one.
/// Control bytes keep coming meanwhile: a `u` or `o` in that window was
/// finding 3 (docs/reliability.md, fixed; the first one-hour soak found
/// it). Before the final check the soak waits this long, so that a `cu`
/// meant for the new runsv does not go to one that is on its way out.
const EXIT_QUIET: Duration = Duration::from_secs(15);

struct Soak {
    scratch: Scratch,
    scan: PathBuf,
    store: PathBuf,
    n: usize,
    runsvdirs: Vec<Proc>,
    rng: Rng,
    /// Per service: SIGKILLs of its runsv or svlogd (lines may be lost then).
    log_faults: BTreeMap<String, u32>,
    counts: BTreeMap<&'static str, u64>,
    moved: Vec<(String, Instant)>,
}

impl Soak {
    fn tags(&self) -> Vec<String> {
        self.runsvdirs.iter().map(|p| p.tag().to_string()).collect()
    }

    fn start_runsvdir(&mut self) {
        let mut c = cmd(ours("runsvdir"), [self.scan.as_os_str()]);
        c.env("PATH", path_with_ours()).stdout(std::process::Stdio::null());
        let log = self.scratch.join(format!("runsvdir-{}.err", self.runsvdirs.len()));
        self.runsvdirs.push(Proc::spawn_logging(&mut c, log));
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    fn service_of(&self, p: &Ps) -> Option<String> {
        // runsv's cwd is the service dir; svlogd's is its log/ dir.
        let dir = if p.name() == "svlogd" { p.cwd.parent()?.to_path_buf() } else { p.cwd.clone() };
        let name = dir.file_name()?.to_str()?.to_string();
        (dir.parent() == Some(&self.scan) || dir.parent() == Some(&self.store)).then_some(name)
    }

    fn random_process(&mut self, which: &str) -> Option<Ps> {
        let ps: Vec<Ps> = processes(&self.tags())
            .into_iter()
            .filter(|p| match which {
                "run" => p.marker.is_some(),
                other => p.name() == other,
            })
            .collect();
        if ps.is_empty() {
            return None;
        }
        let i = self.rng.below(ps.len() as u64) as usize;
        Some(ps[i].clone())
    }

    fn kill(&mut self, which: &'static str) {
        if let Some(p) = self.random_process(which) {
            if which != "run"
                && let Some(name) = self.service_of(&p)
            {
                *self.log_faults.entry(name).or_default() += 1;
            }
            // SAFETY: SIGKILL to a process of our test tree.
            unsafe { libc::kill(p.pid, libc::SIGKILL) };
            self.count(which);
        }
    }

    fn tick(&mut self) {
        let name = name_of(self.rng.below(self.n as u64) as usize);
        let svc = self.scan.join(&name);
        if self.rng.percent(60) {
            let bytes = b"udotkpchai12";
            let mut b = bytes[self.rng.below(bytes.len() as u64) as usize];
            if self.rng.percent(3) {
                b = b'x';
            }
            if send_control(&svc, Supervise::MAIN, &[b]).is_ok() {
                self.count("control");
            }
        }
        if self.rng.percent(2) {
            self.kill("runsv");
        }
        if self.rng.percent(2) {
            self.kill("svlogd");
        }
        if self.rng.percent(3) {
            self.kill("run");
        }
        if self.rng.percent(1) {
            let garbage: Vec<u8> = (0..4096).map(|_| (self.rng.next() & 0xff) as u8).collect();
            if send_control(&svc, Supervise::MAIN, &garbage).is_ok() {
                self.count("flood");
            }
        }
        if self.rng.percent(1) {
            let name = svc.file_name().unwrap().to_string_lossy().into_owned();
            if fs::rename(&svc, self.store.join(&name)).is_ok() {
                self.moved.push((name, Instant::now() + Duration::from_secs(3)));
                self.count("moved");
            }
        }
        let now = Instant::now();
        let (back, keep): (Vec<_>, Vec<_>) = self.moved.drain(..).partition(|(_, t)| *t <= now);
        self.moved = keep;
        for (name, _) in back {
            let _ = fs::rename(self.store.join(&name), self.scan.join(&name));
        }
        if self.rng.below(600) == 0 {
            if let Some(p) = self.runsvdirs.last() {
                p.signal(libc::SIGKILL);
                self.count("runsvdir");
            }
            self.start_runsvdir();
        }
    }
}

#[test]
#[ignore = "soak test: run crates/fuzz/soak (SOAK_SECS, SOAK_SERVICES)"]
fn soak() {
    let secs = env_u64("SOAK_SECS", 300);
    let n = env_u64("SOAK_SERVICES", 500) as usize;
    let scratch = Scratch::new("soak");
    let scan = scratch.join("service");
    let store = scratch.join("away");
    fs::create_dir_all(&scan).unwrap();
    fs::create_dir_all(&store).unwrap();
    for i in 0..n {
        let dir = make_service(&store, i);
        fs::rename(&dir, scan.join(name_of(i))).unwrap();
    }
    let mut s = Soak {
        scratch,
        scan: scan.clone(),
        store,
        n,
        runsvdirs: Vec::new(),
        rng: Rng::from_env("soak"),
        log_faults: BTreeMap::new(),
        counts: BTreeMap::new(),
        moved: Vec::new(),
    };
    s.start_runsvdir();
    let all_supervised = |scan: &Path| (0..n).all(|i| probe(&scan.join(name_of(i)), Supervise::MAIN).is_ok());
    assert!(wait_for(Duration::from_secs(120), || all_supervised(&scan).then_some(())).is_some(), "start-up");
    let t0 = Instant::now();
    let mut next_report = t0 + Duration::from_secs(60);
    while t0.elapsed() < Duration::from_secs(secs) {
        s.tick();
        std::thread::sleep(Duration::from_millis(100));
        if Instant::now() >= next_report {
            eprintln!("soak: {}s {:?}", t0.elapsed().as_secs(), s.counts);
            next_report += Duration::from_secs(60);
        }
    }
    // ----- faults stop: restore and converge -----
    for (name, _) in std::mem::take(&mut s.moved) {
        let _ = fs::rename(s.store.join(&name), s.scan.join(&name));
    }
    if s.runsvdirs.last_mut().is_some_and(|p| p.try_wait().is_some()) {
        s.start_runsvdir();
    }
    let converge_start = Instant::now();
    let (report, failures) = converge_and_check(&mut s);
    let mut text = String::new();
    let _ = writeln!(text, "soak: {n} services, {secs} s of faults, seed printed above");
    let _ = writeln!(text, "soak: events {:?}", s.counts);
    let _ = writeln!(text, "soak: converged in {:.1} s", converge_start.elapsed().as_secs_f64());
    text += &report;
    for f in &failures {
        let _ = writeln!(text, "soak: FAILED: {f}");
    }
    eprint!("{text}");
    if let Ok(path) = std::env::var("SOAK_REPORT") {
        let _ = fs::write(path, &text);
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Tells every service `c` and `u`, waits for the tree to converge, checks
/// every invariant, shuts down, and returns the report and the invariants
/// that did not hold (all of them are checked, so that the report of a
/// long run is complete either way).
fn converge_and_check(s: &mut Soak) -> (String, Vec<String>) {
    let mut failures = Vec::new();
    let n = s.n;
    let scan = s.scan.clone();
    let deadline = Duration::from_secs(180);
    let names: Vec<String> = (0..n).map(name_of).collect();
    // Let every runsv told `x` finish exiting first (EXIT_QUIET).
    std::thread::sleep(EXIT_QUIET);
    let sent = wait_for(deadline, || {
        let mut ok = true;
        for name in &names {
            ok &= send_control(&scan.join(name), Supervise::MAIN, b"cu").is_ok();
        }
        ok.then_some(())
    });
    assert!(sent.is_some(), "some runsv never came back to take `cu`");
    let mut problems = Vec::new();
    let converged = wait_for(deadline, || {
        problems = tree_problems(s);
        problems.is_empty().then_some(())
    });
    if converged.is_none() {
        failures.push(format!("the tree did not converge: {:?}", &problems[..problems.len().min(20)]));
    }
    let mut report = String::new();
    // Logs.
    let mut total = LineAudit::default();
    for i in (0..n).filter(|&i| kind_of(i) == Kind::Logger) {
        let name = name_of(i);
        let a = audit(&scan.join(&name).join("log/main"), &format!("soak-{name}"));
        if a.duplicated != 0 {
            failures.push(format!("{name}: duplicated lines: {a:?}"));
        }
        let faults = s.log_faults.get(&name).copied().unwrap_or(0);
        if faults == 0 && (a.lost, a.torn) != (0, 0) {
            failures.push(format!("{name}: lines lost or torn without a log fault: {a:?}"));
        }
        for l in &a.torn_lines {
            if total.torn_lines.len() < 10 {
                total.torn_lines.push(format!("{name} ({faults} log faults): {l}"));
            }
        }
        total.lines += a.lines;
        total.producers += a.producers;
        total.lost += a.lost;
        total.lost_at_start += a.lost_at_start;
        total.torn += a.torn;
        total.notices += a.notices;
    }
    let _ = writeln!(report, "soak: log lines {total:?}");
    // CPU of the supervisors.
    let hz = hz();
    let up = uptime();
    let (mut cpu, mut age, mut count) = (0.0, 0.0, 0);
    for p in processes(&s.tags()).iter().filter(|p| p.name() == "runsv") {
        if let Some((ticks, start)) = cpu_ticks(p.pid) {
            cpu += ticks as f64 / hz;
            age += up - start as f64 / hz;
            count += 1;
        }
    }
    let share = if age > 0.0 { 100.0 * cpu / age } else { 0.0 };
    let _ = writeln!(
        report,
        "soak: {count} runsv used {cpu:.2} s CPU over {age:.0} runsv-seconds ({share:.4} %)"
    );
    if share >= 1.0 {
        failures.push(format!("runsv CPU share {share:.3} %"));
    }
    // Crash-loopers are reaped microseconds after they die: a zombie that
    // stays is one nobody reaps.
    let z = wait_for(Duration::from_secs(10), || (zombies(&s.tags()) == 0).then_some(0))
        .unwrap_or_else(|| zombies(&s.tags()));
    let _ = writeln!(report, "soak: zombies {z}");
    if z != 0 {
        failures.push(format!("{z} zombies left"));
    }
    // Shutdown as runit's stage 3 does it: runsvdir goes (HUP: it TERMs its
    // runsv), then every service is told `x` (runsvs orphaned by an
    // earlier kill of runsvdir are still running and must go too).
    let t = Instant::now();
    if let Some(p) = s.runsvdirs.last() {
        p.signal(libc::SIGHUP);
    }
    for name in (0..n).map(name_of) {
        let _ = send_control(&scan.join(name), Supervise::MAIN, b"x");
    }
    let gone = wait_for(Duration::from_secs(120), || processes(&s.tags()).is_empty().then_some(()));
    let left = processes(&s.tags());
    let _ = writeln!(
        report,
        "soak: shutdown took {:.1} s, {} processes left",
        t.elapsed().as_secs_f64(),
        left.len()
    );
    if gone.is_none() {
        failures.push(format!("left after shutdown: {:?}", &left[..left.len().min(10)]));
    }
    (report, failures)
}

/// Everything that is not yet as it should be.
fn tree_problems(s: &Soak) -> Vec<String> {
    let mut out = Vec::new();
    let ps = processes(&s.tags());
    let mut runsv: BTreeMap<String, usize> = BTreeMap::new();
    let mut svlogd: BTreeMap<String, usize> = BTreeMap::new();
    let run: BTreeMap<String, usize> = instances(&ps)
        .into_iter()
        .filter_map(|(m, k)| Some((m.strip_prefix("soak-")?.to_string(), k)))
        .collect();
    for p in &ps {
        match p.name() {
            "runsv" => *runsv.entry(s.service_of(p).unwrap_or_default()).or_default() += 1,
            "svlogd" => *svlogd.entry(s.service_of(p).unwrap_or_default()).or_default() += 1,
            _ => {}
        }
    }
    for i in 0..s.n {
        let name = name_of(i);
        let dir = s.scan.join(&name);
        let k = kind_of(i);
        if runsv.get(&name).copied().unwrap_or(0) != 1 {
            out.push(format!("{name}: {} runsv", runsv.get(&name).copied().unwrap_or(0)));
        }
        let instances = run.get(&name).copied().unwrap_or(0);
        if instances > 1 || (k != Kind::Crasher && instances != 1) {
            out.push(format!("{name}: {instances} ./run instances"));
        }
        if k == Kind::Logger && svlogd.get(&name).copied().unwrap_or(0) != 1 {
            out.push(format!("{name}: {} svlogd", svlogd.get(&name).copied().unwrap_or(0)));
        }
        match read_status(&dir, Supervise::MAIN) {
            Ok(st) if st.want != b'u' => out.push(format!("{name}: want {}", st.want as char)),
            Ok(st) if k != Kind::Crasher && (st.pid == 0 || st.state != runit_core::status::State::Run) => {
                out.push(format!("{name}: not running ({:?})", st.state));
            }
            Ok(st) if st.paused && st.pid != 0 => out.push(format!("{name}: paused")),
            Ok(_) => {}
            Err(e) => out.push(format!("{name}: status {e:?}")),
        }
    }
    if let Some(name) = svlogd.keys().find(|n| !runsv.contains_key(*n)) {
        out.push(format!("svlogd of {name} outside the tree"));
    }
    out
}
