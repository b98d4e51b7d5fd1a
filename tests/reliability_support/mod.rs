//! Shared by the reliability, soak and security tests: a view of the
//! processes a test started (found by their harness tag in `/proc`), a
//! small deterministic random generator (the seed is printed so a failing
//! run can be replayed), and the numbered-line producer/checker used to
//! prove that no accepted log line is lost or duplicated.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// One live process.
#[derive(Debug, Clone)]
pub struct Ps {
    pub pid: i32,
    pub ppid: i32,
    pub argv: Vec<String>,
    pub cwd: PathBuf,
    /// The value of `RUN_MARKER` in its environment: test services put
    /// their name there so every `./run` instance can be counted.
    pub marker: Option<String>,
}

impl Ps {
    /// argv[0]'s base name.
    pub fn name(&self) -> &str {
        self.argv.first().map(|a| a.rsplit('/').next().unwrap_or(a)).unwrap_or("")
    }

    /// True if some argument equals `word`.
    pub fn has_arg(&self, word: &str) -> bool {
        self.argv.iter().any(|a| a == word)
    }
}

/// Live, non-zombie processes whose environment carries any of `tags`.
pub fn processes(tags: &[String]) -> Vec<Ps> {
    let needles: Vec<Vec<u8>> =
        tags.iter().map(|t| format!("{}={t}\0", harness::TAG_VAR).into_bytes()).collect();
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir("/proc") else { return out };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else { continue };
        let Ok(env) = fs::read(e.path().join("environ")) else { continue };
        if !needles.iter().any(|n| env.windows(n.len()).any(|w| w == n.as_slice())) {
            continue;
        }
        if harness::is_zombie(pid) {
            continue;
        }
        let argv = fs::read(e.path().join("cmdline"))
            .unwrap_or_default()
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let cwd = fs::read_link(e.path().join("cwd")).unwrap_or_default();
        let ppid = harness::ppid(pid).unwrap_or(0);
        let marker = env
            .split(|&b| b == 0)
            .find_map(|v| v.strip_prefix(b"RUN_MARKER="))
            .map(|v| String::from_utf8_lossy(v).into_owned());
        out.push(Ps { pid, ppid, argv, cwd, marker });
    }
    out
}

/// `./run` instances per marker: marked processes whose parent is not
/// marked the same (a shell's own children do not count).
pub fn instances(ps: &[Ps]) -> BTreeMap<String, usize> {
    let by_pid: BTreeMap<i32, &Ps> = ps.iter().map(|p| (p.pid, p)).collect();
    let mut out = BTreeMap::new();
    for p in ps {
        let Some(m) = &p.marker else { continue };
        if by_pid.get(&p.ppid).is_some_and(|parent| parent.marker.as_ref() == Some(m)) {
            continue;
        }
        *out.entry(m.clone()).or_default() += 1;
    }
    out
}

/// Zombies among the processes carrying `tags` (children nobody reaps).
pub fn zombies(tags: &[String]) -> usize {
    let needles: Vec<Vec<u8>> =
        tags.iter().map(|t| format!("{}={t}\0", harness::TAG_VAR).into_bytes()).collect();
    let Ok(entries) = fs::read_dir("/proc") else { return 0 };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()))
        .filter(|&pid| harness::proc_state(pid) == Some('Z'))
        .filter(|pid| {
            // A zombie's environ is empty; match through its parent instead.
            let parent = harness::ppid(*pid).unwrap_or(0);
            let env = fs::read(format!("/proc/{parent}/environ")).unwrap_or_default();
            needles.iter().any(|n| env.windows(n.len()).any(|w| w == n.as_slice()))
        })
        .count()
}

/// CPU time (user + system) of `pid` in clock ticks, and its start time in
/// ticks since boot.
pub fn cpu_ticks(pid: i32) -> Option<(u64, u64)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // Fields after the command: state is index 0, utime 11, stime 12, starttime 19.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    let start: u64 = f.get(19)?.parse().ok()?;
    Some((utime + stime, start))
}

/// Seconds since boot, from /proc/uptime.
pub fn uptime() -> f64 {
    fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0.0)
}

/// Clock ticks per second.
pub fn hz() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// xorshift64*: deterministic, seeded from the environment or the clock.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seed from `RUNIT_RS_SEED` or the time; prints the seed.
    pub fn from_env(what: &str) -> Rng {
        let seed = std::env::var("RUNIT_RS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        eprintln!("{what}: RUNIT_RS_SEED={seed}");
        Rng(seed | 1)
    }

    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A value below `n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// True with probability `p` percent.
    pub fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
}

/// A `./run` that writes numbered lines `<tag> <pid> <n>` as fast as the
/// pipe takes them (`burst` lines, then `pause` seconds, forever; pause 0
/// means no pause at all). `$0` is `tag`, so the instance can be found in
/// `/proc`.
pub fn numbered_producer(tag: &str, burst: u32, pause: &str) -> String {
    let sleep = if pause == "0" { String::new() } else { format!("sleep {pause}; ") };
    format!(
        "#!/bin/sh\nexec 2>&1\nexec env RUN_MARKER={tag} /bin/sh -c 'i=0; trap \"echo \\$\\$ \\$i >>produced; exit\" TERM; while :; do j=0; while [ $j -lt {burst} ]; do i=$((i+1)); j=$((j+1)); echo \"$0 $$ $i\"; done; {sleep}done' {tag}\n"
    )
}

/// What the numbered lines in a log directory show.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LineAudit {
    /// Well-formed lines.
    pub lines: u64,
    /// Producer instances (pids) seen.
    pub producers: usize,
    /// Numbers missing inside a producer's sequence (lost lines).
    pub lost: u64,
    /// Places where a producer's sequence restarted at 1: that producer's
    /// first lines never reached the log (lost at its start).
    pub lost_at_start: u64,
    /// Numbers seen twice or going backwards (duplicated lines).
    pub duplicated: u64,
    /// Lines that are not `<tag> <pid> <n>` (torn by a kill mid-write).
    pub torn: u64,
    /// The first few torn lines, as found (for the failure message).
    pub torn_lines: Vec<String>,
    /// The producer shell's own notices (`exec 2>&1`): `Terminated` or
    /// `Killed` when a child it waits for (its `sleep`) is signalled, as
    /// runsv's stop of the process group does. Not log data.
    pub notices: u64,
    /// Lines a producer wrote at its end (it records its count in
    /// `produced` when it gets SIGTERM) that never reached the log.
    pub lost_at_end: u64,
}

/// Files of a log directory in write order: rotated files (`@<tai64n>.s`
/// or `.u`, named by time) first, then `current`.
pub fn log_files(dir: &Path) -> Vec<PathBuf> {
    let mut rotated: Vec<PathBuf> = fs::read_dir(dir)
        .map(|r| r.flatten().map(|e| e.path()).collect::<Vec<PathBuf>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p: &PathBuf| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('@') && (n.ends_with(".s") || n.ends_with(".u")))
        })
        .collect();
    rotated.sort();
    rotated.push(dir.join("current"));
    rotated
}

/// Audits the numbered lines of `tag` in `dir` (see [`numbered_producer`]).
pub fn audit(dir: &Path, tag: &str) -> LineAudit {
    let mut a = LineAudit::default();
    let mut last: BTreeMap<u64, u64> = BTreeMap::new();
    for f in log_files(dir) {
        let text = fs::read(&f).unwrap_or_default();
        for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let line = String::from_utf8_lossy(line);
            // svlogd may prefix a timestamp: take the last three words.
            let w: Vec<&str> = line.split(' ').collect();
            let parsed = (w.len() >= 3)
                .then(|| (w[w.len() - 3], w[w.len() - 2].parse::<u64>(), w[w.len() - 1].parse::<u64>()));
            let Some((_, Ok(pid), Ok(n))) = parsed.filter(|(t, _, _)| *t == tag) else {
                if w.len() <= 2 && matches!(w.last().copied(), Some("Terminated" | "Killed")) {
                    a.notices += 1;
                    continue;
                }
                a.torn += 1;
                if a.torn_lines.len() < 5 {
                    a.torn_lines.push(format!("{}: {line}", f.display()));
                }
                continue;
            };
            a.lines += 1;
            match last.get(&pid) {
                None if n > 1 => a.lost_at_start += n - 1,
                None => {}
                Some(&prev) if n == prev + 1 => {}
                Some(&prev) if n > prev + 1 => a.lost += n - prev - 1,
                Some(_) => a.duplicated += 1,
            }
            last.insert(pid, n);
        }
    }
    a.producers = last.len();
    // `produced` sits in the service directory, two levels above log/main.
    let produced = dir.parent().and_then(Path::parent).map(|d| d.join("produced"));
    let text = produced.and_then(|p| fs::read_to_string(p).ok()).unwrap_or_default();
    for line in text.lines() {
        let mut w = line.split(' ');
        if let (Some(Ok(pid)), Some(Ok(n))) =
            (w.next().map(str::parse::<u64>), w.next().map(str::parse::<u64>))
        {
            a.lost_at_end += n.saturating_sub(last.get(&pid).copied().unwrap_or(0));
        }
    }
    a
}
