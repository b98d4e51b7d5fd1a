//! The logger: throughput, CPU, memory, and lines lost.
//!
//! Input: lines of exactly 100 bytes (`seq=<10 digits> ` + 84 bytes of
//! filler + newline), 200 MB in all (20 MB with `--quick`), generated once
//! and written into a pipe by a thread of the benchmark in 64-KiB writes as
//! fast as the logger reads. The logger runs `svlogd -tt DIR` with `config`
//! = `s10000000` `n5` (s6: `s6-log n5 s10000000 T DIR`, its closest
//! equivalent).
//!
//! * throughput: input megabytes (10^6 bytes) divided by the wall time from
//!   the logger's spawn to its exit after end of input;
//! * CPU per MB: user + system time of the logger from `wait4`'s rusage,
//!   per input megabyte;
//! * max RSS: the logger's `VmHWM` (peak RSS of its program), sampled from
//!   `/proc/<pid>/status` every 20 ms while it runs (`ru_maxrss` cannot be
//!   used: it counts the benchmark's own memory, which the child shares
//!   until it execs).
//!
//! Every throughput run also checks the files it kept: with `n5` the oldest
//! rotated files are deleted, so what remains must be an unbroken run of
//! sequence numbers ending with the last line, every line intact.
//!
//! `lost`: the same input with `n1000` (nothing is ever deleted), and every
//! sequence number from the first to the last must be found exactly once,
//! in order, across the rotated files and `current`.

use super::{Ctx, Results, alternate, participants};
use crate::procfs;
use crate::spawn::{self, Group, Scratch};
use crate::suite::Suite;
use crate::table::{Better, Figure, Impl, Target, Unit};
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Bytes per input line, newline included.
pub const LINE: usize = 100;
const FILLER: &[u8; 84] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_the_quick_brown_fox_j";

/// `lines` input lines numbered from 0.
pub fn generate(lines: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(lines * LINE);
    for i in 0..lines {
        let _ = write!(out, "seq={i:010} ");
        out.extend_from_slice(FILLER);
        out.push(b'\n');
    }
    out
}

/// What a check of a log directory found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Check {
    /// Lines found.
    pub lines: u64,
    /// Sequence numbers missing between the first found and the last
    /// expected.
    pub lost: u64,
    /// Lines out of order, repeated, or damaged.
    pub bad: u64,
    /// The first sequence number found.
    pub first: Option<u64>,
}

/// Checks the lines of one stream (in file order) against the sequence
/// `0..total`. With `from_zero`, numbers before the first line found count
/// as lost too.
#[derive(Debug)]
pub struct Checker {
    total: u64,
    next: Option<u64>,
    check: Check,
}

impl Checker {
    /// A checker expecting `total` lines; with `from_zero` the stream must
    /// start at 0.
    pub fn new(total: u64, from_zero: bool) -> Checker {
        Checker { total, next: from_zero.then_some(0), check: Check::default() }
    }

    /// Feeds one line (without its newline).
    pub fn line(&mut self, line: &[u8]) {
        self.check.lines += 1;
        let Some(seq) = parse_line(line) else {
            self.check.bad += 1;
            return;
        };
        let expected = *self.next.get_or_insert(seq);
        if self.check.first.is_none() {
            self.check.first = Some(seq);
        }
        if seq < expected || seq >= self.total {
            self.check.bad += 1;
            return;
        }
        self.check.lost += seq - expected;
        self.next = Some(seq + 1);
    }

    /// The verdict, counting lines missing at the end.
    pub fn finish(mut self) -> Check {
        let next = self.next.unwrap_or(0);
        self.check.lost += self.total.saturating_sub(next);
        self.check
    }
}

/// The sequence number of an intact line (anything may precede `seq=`: the
/// logger's timestamp).
pub fn parse_line(line: &[u8]) -> Option<u64> {
    let at = line.windows(4).position(|w| w == b"seq=")?;
    let rest = line.get(at + 4..)?;
    let digits = rest.get(..10)?;
    if !digits.iter().all(u8::is_ascii_digit) || rest.get(10) != Some(&b' ') || rest.get(11..)? != FILLER {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Reads every log file of `dir` in order (rotated `@...` files by name,
/// then `current`) into `checker`.
pub fn check_dir(dir: &Path, mut checker: Checker) -> Result<Check, String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .map_err(|e| format!("read {}: {e}", dir.display()))?
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| n.starts_with('@'))
        .collect();
    names.sort();
    names.push("current".into());
    for name in names {
        let path = dir.join(&name);
        let Ok(f) = fs::File::open(&path) else { continue };
        let mut r = BufReader::with_capacity(1 << 20, f);
        let mut buf = Vec::with_capacity(256);
        loop {
            buf.clear();
            let n = r.read_until(b'\n', &mut buf).map_err(|e| format!("read {}: {e}", path.display()))?;
            if n == 0 {
                break;
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            checker.line(line);
        }
    }
    Ok(checker.finish())
}

/// The logger command for `imp` writing to `dir` keeping `keep` old files.
fn logger(suite: &Suite, dir: &Path, keep: u32) -> Result<Command, String> {
    let mut cmd = match suite.imp {
        Impl::S6 => {
            let mut c = Command::new(suite.need("s6-log")?);
            c.arg(format!("n{keep}")).arg("s10000000").arg("T").arg(dir);
            c
        }
        _ => {
            fs::create_dir_all(dir).map_err(|e| format!("mkdir: {e}"))?;
            fs::write(dir.join("config"), format!("s10000000\nn{keep}\n"))
                .map_err(|e| format!("config: {e}"))?;
            let mut c = Command::new(suite.need("svlogd")?);
            c.arg("-tt").arg(dir);
            c
        }
    };
    cmd.env_clear().env("PATH", suite.path_env());
    Ok(cmd)
}

/// Feeds `data` to the logger; returns the wall time, how it exited, and its
/// peak RSS (KiB).
fn feed(
    mut cmd: Command,
    data: &Arc<Vec<u8>>,
    scratch: &Scratch,
) -> Result<(Duration, spawn::Exit, u64), String> {
    let (rd, wr) = runit_core::selfpipe::pipe(libc::O_CLOEXEC).map_err(|e| format!("pipe: {e}"))?;
    let err = fs::File::create(scratch.join("logger.err")).map_err(|e| format!("create: {e}"))?;
    cmd.stdin(Stdio::from(rd)).stdout(Stdio::null()).stderr(err);
    let t0 = Instant::now();
    let mut group = Group::spawn(&mut cmd, "logger")?;
    drop(cmd);
    let data = Arc::clone(data);
    let writer = std::thread::spawn(move || -> Result<(), String> {
        let mut w = fs::File::from(wr);
        for chunk in data.chunks(64 * 1024) {
            w.write_all(chunk).map_err(|e| format!("writing to the logger: {e}"))?;
        }
        Ok(())
    });
    // wait4's ru_maxrss would include this process's memory (the child
    // shares it until exec), so the logger's peak RSS is sampled instead.
    let pid = group.pid();
    let mut hwm = 0;
    let exit = group.wait_watching(Duration::from_secs(600), Duration::from_millis(20), || {
        hwm = hwm.max(procfs::vm_hwm(pid).unwrap_or(0));
    });
    let took = t0.elapsed();
    let wrote = writer.join().map_err(|_| "writer thread panicked".to_string())?;
    let exit = exit?;
    group.stop()?;
    wrote?;
    if exit.code() != Some(0) {
        let msg = fs::read_to_string(scratch.join("logger.err")).unwrap_or_default();
        return Err(format!("logger: {}: {}", exit.describe(), msg.lines().next().unwrap_or("")));
    }
    Ok((took, exit, hwm))
}

fn logger_programs(imp: Impl) -> Vec<&'static str> {
    match imp {
        Impl::S6 => vec!["s6-log"],
        _ => vec!["svlogd"],
    }
}

fn input(ctx: &Ctx) -> (usize, Arc<Vec<u8>>) {
    let lines = ctx.size(2_000_000, 200_000);
    (lines, Arc::new(generate(lines)))
}

/// Throughput, CPU per MB and max RSS.
pub fn throughput(ctx: &Ctx, res: &mut Results) {
    let keys = ["svlogd", "svlogd-cpu", "svlogd-rss"];
    let (lines, data) = input(ctx);
    let mb = data.len() as f64 / 1e6;
    let fig = |key, title: String, unit, better, target| Figure { key, title, unit, better, target };
    res.figure(fig(
        keys[0],
        format!("svlogd throughput, 100-byte lines, -tt, s10000000 n5, {mb:.0} MB"),
        Unit::MBps,
        Better::Higher,
        Target::RatioAtLeast(2.5),
    ));
    res.figure(fig(
        keys[1],
        "svlogd CPU per MB".into(),
        Unit::MsPerMB,
        Better::Lower,
        Target::RatioAtMost(0.5),
    ));
    res.figure(fig(keys[2], "svlogd max RSS".into(), Unit::KiB, Better::Lower, Target::Report));
    let active = participants(ctx, res, &keys, &Impl::ALL, logger_programs);
    alternate(res, &keys, active, ctx.reps(5, 1), |imp, _| {
        let suite = ctx.suite(imp).ok_or("no suite")?;
        let scratch = Scratch::new("svlogd")?;
        let dir = scratch.join("log");
        let (took, exit, hwm) = feed(logger(suite, &dir, 5)?, &data, &scratch)?;
        let check = check_dir(&dir, Checker::new(lines as u64, false))?;
        if check.lost != 0 || check.bad != 0 || check.lines == 0 {
            return Err(format!("kept files are not an unbroken tail: {check:?}"));
        }
        let cpu_ms = exit.cpu.as_secs_f64() * 1000.0;
        Ok(vec![mb / took.as_secs_f64(), cpu_ms / mb, hwm as f64])
    });
}

/// Log lines lost.
pub fn lost(ctx: &Ctx, res: &mut Results) {
    let key = "lost";
    let (lines, data) = input(ctx);
    res.figure(Figure {
        key,
        title: format!("log lines lost (of {lines}, nothing pruned)"),
        unit: Unit::Count,
        better: Better::Lower,
        target: Target::Zero,
    });
    let active = participants(ctx, res, &[key], &Impl::ALL, logger_programs);
    alternate(res, &[key], active, ctx.reps(2, 1), |imp, _| {
        let suite = ctx.suite(imp).ok_or("no suite")?;
        let scratch = Scratch::new("lost")?;
        let dir = scratch.join("log");
        feed(logger(suite, &dir, 1000)?, &data, &scratch)?;
        let check = check_dir(&dir, Checker::new(lines as u64, true))?;
        if check.bad != 0 {
            return Err(format!("{} lines out of order, repeated or damaged", check.bad));
        }
        Ok(vec![check.lost as f64])
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8]) -> Vec<&[u8]> {
        data.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect()
    }

    #[test]
    fn generated_lines_are_100_bytes_and_numbered() {
        let data = generate(3);
        assert_eq!(data.len(), 300);
        let ls = lines(&data);
        assert_eq!(ls[2].len(), 99);
        assert_eq!(parse_line(ls[2]), Some(2));
        let stamped = [b"2026-11-26_14:41:03.06451 ".as_slice(), ls[1]].concat();
        assert_eq!(parse_line(&stamped), Some(1));
    }

    #[test]
    fn damaged_lines_do_not_parse() {
        let data = generate(1);
        let l = lines(&data)[0];
        assert_eq!(parse_line(&l[..l.len() - 1]), None, "truncated");
        assert_eq!(parse_line(b"seq=12345 x"), None);
        assert_eq!(parse_line(b"nothing"), None);
    }

    #[test]
    fn checker_counts_gaps_duplicates_and_missing_tail() {
        let data = generate(10);
        let ls = lines(&data);
        let mut c = Checker::new(10, true);
        for i in [0, 1, 2, 5, 5, 6, 4] {
            c.line(ls[i]);
        }
        c.line(b"garbage");
        let r = c.finish();
        assert_eq!(r.lines, 8);
        assert_eq!(r.bad, 3, "the repeated 5, the late 4 and the garbage");
        assert_eq!(r.lost, 2 + 3, "3 and 4 skipped, 7..9 never came");
    }

    #[test]
    fn tail_mode_accepts_a_late_start_but_not_a_short_end() {
        let data = generate(10);
        let ls = lines(&data);
        let mut c = Checker::new(10, false);
        for l in &ls[6..] {
            c.line(l);
        }
        assert_eq!(c.finish(), Check { lines: 4, lost: 0, bad: 0, first: Some(6) });
        let mut c = Checker::new(10, false);
        for l in &ls[6..9] {
            c.line(l);
        }
        assert_eq!(c.finish().lost, 1);
        assert_eq!(Checker::new(10, true).finish().lost, 10, "nothing arrived");
    }

    #[test]
    fn checks_a_directory_in_rotation_order() {
        let s = Scratch::new("chk").expect("scratch");
        let data = generate(6);
        let ls: Vec<Vec<u8>> = lines(&data).into_iter().map(|l| [l, b"\n"].concat()).collect();
        fs::write(s.join("@400000000000000100000000.s"), [ls[0].clone(), ls[1].clone()].concat()).expect("w");
        fs::write(s.join("@400000000000000200000000.u"), [ls[2].clone(), ls[3].clone()].concat()).expect("w");
        fs::write(s.join("current"), [ls[4].clone(), ls[5].clone()].concat()).expect("w");
        fs::write(s.join("config"), "s100\n").expect("w");
        let r = check_dir(s.path(), Checker::new(6, true)).expect("check");
        assert_eq!(r, Check { lines: 6, lost: 0, bad: 0, first: Some(0) });
    }
}
