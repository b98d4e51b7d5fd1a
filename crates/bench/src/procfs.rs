//! Readers and parsers of the `/proc` files the figures are computed from.
//!
//! * `/proc/<pid>/smaps_rollup` — `Pss:` (proportional set size, KiB): each
//!   page counted as its size divided by the number of processes mapping it.
//! * `/proc/<pid>/status` — `voluntary_ctxt_switches` and
//!   `nonvoluntary_ctxt_switches`: every wake-up of an idle process ends in a
//!   voluntary switch when it blocks again.
//! * `/proc/<pid>/stat` — state, ppid, process group, utime, stime (the
//!   command name may contain spaces and parentheses: fields are counted
//!   from the last `)`).
//! * `/proc/<pid>/schedstat` — first field: nanoseconds on the CPU
//!   (`sum_exec_runtime`, the same total that utime+stime are scaled to, but
//!   not rounded to 10 ms clock ticks).
//! * `/proc/loadavg`, `/proc/cpuinfo` — for the machine description.

use std::fs;
use std::path::Path;

/// The fields of `/proc/<pid>/stat` the benchmark uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// The command name (between the parentheses).
    pub comm: String,
    /// State letter (`R`, `S`, `Z`, ...).
    pub state: char,
    /// Parent pid.
    pub ppid: i32,
    /// Process group.
    pub pgrp: i32,
    /// User time, clock ticks.
    pub utime: u64,
    /// System time, clock ticks.
    pub stime: u64,
}

impl Stat {
    /// True for a zombie (or a process being reaped).
    pub fn is_zombie(&self) -> bool {
        self.state == 'Z' || self.state == 'X'
    }
}

/// Parses the text of `/proc/<pid>/stat`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let open = text.find('(')?;
    let (head, rest) = text.rsplit_once(')')?;
    let comm = head.get(open + 1..)?.to_string();
    // After ")": state ppid pgrp session tty_nr tpgid flags minflt cminflt
    // majflt cmajflt utime stime ...
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |i: usize| f.get(i).and_then(|s| s.parse::<u64>().ok());
    Some(Stat {
        comm,
        state: f.first()?.chars().next()?,
        ppid: f.get(1)?.parse().ok()?,
        pgrp: f.get(2)?.parse().ok()?,
        utime: num(11)?,
        stime: num(12)?,
    })
}

/// `Pss:` of `smaps_rollup`, in KiB.
pub fn parse_pss(text: &str) -> Option<u64> {
    kib_field(text, "Pss")
}

/// Voluntary plus non-voluntary context switches from `status`.
pub fn parse_ctxt_switches(text: &str) -> Option<u64> {
    let vol = field(text, "voluntary_ctxt_switches")?.parse::<u64>().ok()?;
    let nonvol = field(text, "nonvoluntary_ctxt_switches")?.parse::<u64>().ok()?;
    Some(vol + nonvol)
}

/// The first field of `schedstat`: nanoseconds spent on the CPU.
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// The three load averages of `/proc/loadavg`.
pub fn parse_loadavg(text: &str) -> Option<[f64; 3]> {
    let mut it = text.split_whitespace().map(|s| s.parse::<f64>().ok());
    Some([it.next()??, it.next()??, it.next()??])
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn parse_cpu_model(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.trim_start().strip_prefix(':')))
        .map(|v| v.trim().to_string())
}

/// The value of `name:` in a `key: value` file (status).
fn field<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':'))).map(str::trim)
}

/// A `name:   123 kB` field, in KiB.
fn kib_field(text: &str, name: &str) -> Option<u64> {
    let v = field(text, name)?;
    v.strip_suffix("kB").unwrap_or(v).trim().parse().ok()
}

fn read(pid: i32, file: &str) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/{file}")).ok()
}

/// `/proc/<pid>/stat`, parsed.
pub fn stat(pid: i32) -> Option<Stat> {
    parse_stat(&read(pid, "stat")?)
}

/// PSS of `pid` in KiB.
pub fn pss(pid: i32) -> Option<u64> {
    parse_pss(&read(pid, "smaps_rollup")?)
}

/// Peak resident set size of `pid`'s current program (`VmHWM`, KiB).
pub fn vm_hwm(pid: i32) -> Option<u64> {
    kib_field(&read(pid, "status")?, "VmHWM")
}

/// Context switches of `pid` so far.
pub fn ctxt_switches(pid: i32) -> Option<u64> {
    parse_ctxt_switches(&read(pid, "status")?)
}

/// CPU time of `pid` (user + system, its own, not its children's) in
/// nanoseconds: from `schedstat`, or from `stat`'s clock ticks when the
/// kernel has no schedstat.
pub fn cpu_ns(pid: i32) -> Option<u64> {
    if let Some(ns) = read(pid, "schedstat").as_deref().and_then(parse_schedstat) {
        return Some(ns);
    }
    let s = stat(pid)?;
    // SAFETY: sysconf has no preconditions.
    let hz = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok().filter(|h| *h > 0)?;
    Some((s.utime + s.stime) * 1_000_000_000 / hz)
}

/// Every pid in `/proc`.
pub fn pids() -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else { return Vec::new() };
    entries.flatten().filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok())).collect()
}

/// Live (non-zombie) processes whose parent is `ppid`.
pub fn children(ppid: i32) -> Vec<i32> {
    pids().into_iter().filter(|p| stat(*p).is_some_and(|s| s.ppid == ppid && !s.is_zombie())).collect()
}

/// True when `/proc/<pid>/environ` contains the entry `entry` (`NAME=value`).
pub fn environ_has(pid: i32, entry: &[u8]) -> bool {
    let Ok(env) = fs::read(Path::new("/proc").join(pid.to_string()).join("environ")) else { return false };
    env.split(|b| *b == 0).any(|e| e == entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_command_name() {
        let text = "4242 (a) b (c) S 17 4242 4242 0 -1 4194560 95 0 0 0 7 3 0 0 20 0 1 0 123 2420736 336 \
                    18446744073709551615 1 1 0 0 0 0 0 0 65536 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(text).expect("parse");
        assert_eq!(s.comm, "a) b (c");
        assert_eq!((s.state, s.ppid, s.pgrp, s.utime, s.stime), ('S', 17, 4242, 7, 3));
        assert!(!s.is_zombie());
        let z = parse_stat("9 (sleep) Z 1 9 9 0 -1 0 0 0 0 0 0 0 0 0").expect("zombie");
        assert!(z.is_zombie());
    }

    #[test]
    fn stat_rejects_garbage() {
        assert!(parse_stat("").is_none());
        assert!(parse_stat("12 (x) S 1").is_none());
        assert!(parse_stat("12 x S 1 2 3 4 5 6 7 8 9 10 11 12").is_none());
    }

    #[test]
    fn pss_from_smaps_rollup() {
        let text = "55f1-7ffe ---p 00000000 00:00 0                          [rollup]\n\
                    Rss:                1380 kB\nPss:                 152 kB\nPss_Dirty:            92 kB\n\
                    Pss_Anon:             92 kB\n";
        assert_eq!(parse_pss(text), Some(152));
        assert_eq!(parse_pss("Rss: 1 kB\n"), None);
    }

    #[test]
    fn context_switches_add_up() {
        let text = "Name:\trunsv\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t12\n\
                    nonvoluntary_ctxt_switches:\t3\n";
        assert_eq!(parse_ctxt_switches(text), Some(15));
        assert_eq!(parse_ctxt_switches("voluntary_ctxt_switches:\t12\n"), None);
        assert_eq!(kib_field("VmHWM:\t    1380 kB\n", "VmHWM"), Some(1380));
    }

    #[test]
    fn schedstat_first_field() {
        assert_eq!(parse_schedstat("173875 6252 2\n"), Some(173875));
        assert_eq!(parse_schedstat(""), None);
    }

    #[test]
    fn loadavg_and_cpu_model() {
        assert_eq!(parse_loadavg("0.04 0.06 0.05 1/89 1234\n"), Some([0.04, 0.06, 0.05]));
        assert_eq!(parse_loadavg("x"), None);
        let cpuinfo = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(parse_cpu_model(cpuinfo).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(parse_cpu_model("processor : 0\n"), None);
    }

    #[test]
    fn reads_this_process() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let s = stat(me).expect("own stat");
        assert!(!s.is_zombie());
        assert!(pss(me).is_some_and(|k| k > 0));
        assert!(ctxt_switches(me).is_some());
        assert!(vm_hwm(me).is_some_and(|k| k > 0));
        assert!(cpu_ns(me).is_some());
    }
}
