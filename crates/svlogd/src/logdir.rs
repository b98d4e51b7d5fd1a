//! One log directory: its lock, `current`, rotation, pruning, processor and
//! UDP copies (spec svlogd.md §2, §5-§8). This is where svlogd's file I/O
//! happens; the decisions come from [`crate::rotation`] and
//! [`crate::pattern`].
//!
//! Lines are collected in the directory's output buffer and written with
//! one `write` per block of input (or whenever the buffer passes
//! [`FLUSH_AT`]); [`crate::rotation::SizeRule`] cuts the buffer where runit's
//! line-by-line writes would have rotated, so files match runit's.
//!
//! `current` is mode 0644 while open and 0744 once closed cleanly: that is
//! the crash-detection protocol. A failed write is retried until it
//! succeeds, so an accepted line is never dropped: out of disk space, the
//! oldest old file is deleted while more than `N` remain (if `N < n`);
//! otherwise svlogd prints `pausing: …`, sleeps 3 s and tries again. Input
//! is not read meanwhile, so the writer upstream blocks on the pipe: memory
//! stays bounded.

use crate::config::{self, Config};
use crate::message::{Reporter, Step, path};
use crate::pattern::{Verdict, select};
use crate::processor::Processor;
use crate::rotation::{self, AgeTimer, NAME_LEN, SizeRule, rotated_name};
use crate::sys;
use crate::udp::UdpSender;
use runit_core::process::WaitStatus;
use runit_core::tai::Tai64N;
use std::ffi::{CStr, CString};
use std::io::{self, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Instant;

/// Write the output buffer once it holds this much, even mid-block.
pub const FLUSH_AT: usize = 256 * 1024;

const CURRENT: &CStr = c"current";

/// What opening needs to know beyond the directory name.
#[derive(Debug, Clone, Copy)]
pub struct OpenContext {
    /// `-l`.
    pub line_max: usize,
    /// Message printer.
    pub reporter: Reporter,
    /// Processors must get SIGPIPE back at its default action (`-o`).
    pub restore_sigpipe: bool,
}

/// An open, locked log directory.
#[derive(Debug)]
pub struct LogDir {
    name: Vec<u8>,
    dir: OwnedFd,
    _lock: OwnedFd,
    current: OwnedFd,
    size: u64,
    config: Config,
    rule: SizeRule,
    timer: AgeTimer,
    out: Vec<u8>,
    in_tail: bool,
    udp: Option<UdpSender>,
    datagram: Vec<u8>,
    processor: Option<Processor>,
    ctx: OpenContext,
}

impl LogDir {
    /// Opens, locks and configures `name` (spec §7). Problems that make the
    /// directory unusable are printed as warnings and give `None`.
    pub fn open(name: &[u8], ctx: OpenContext, now: Instant) -> Option<LogDir> {
        let r = ctx.reporter;
        let dir = open_dir(name, r)?;
        let lock = lock_dir(&dir, name, r)?;
        let config = read_config(&dir, name, r);
        let size = take_over_current(&dir, name, config.nmax, r)?;
        let current = insist(r, Step::OpenCurrent, name, || open_current(&dir));
        insist(r, Step::SetModeCurrent, name, || sys::fchmod(&current, 0o644));
        Some(LogDir {
            name: name.to_vec(),
            rule: SizeRule { size: config.size, line_max: ctx.line_max as u64 },
            timer: AgeTimer::new(config.timeout_secs, now),
            udp: config.udp.map(UdpSender::new),
            config,
            dir,
            _lock: lock,
            current,
            size,
            out: Vec::new(),
            in_tail: false,
            datagram: Vec::new(),
            processor: None,
            ctx,
        })
    }

    /// The name as given on the command line.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// Takes one line (at most `len` bytes, after replacement): copies it to
    /// `stderr` and UDP as the patterns say, and buffers it for `current`.
    pub fn take_line(&mut self, line: &[u8], cut: bool, stamp: &[u8], stderr: &mut Vec<u8>) {
        let verdict = if self.config.patterns.is_empty() {
            Verdict::DEFAULT
        } else {
            select(&self.config.patterns, line)
        };
        self.in_tail = false;
        if verdict.to_stderr {
            copy_line(stderr, stamp, &self.config.prefix, line, cut);
        }
        if !verdict.selected {
            return;
        }
        if let Some(udp) = self.udp.as_mut() {
            self.datagram.clear();
            copy_line(&mut self.datagram, stamp, &self.config.prefix, line, cut);
            if let Err(failure) = udp.send(&self.datagram) {
                self.out.extend_from_slice(failure.warning());
                self.out.extend_from_slice(&self.datagram);
            }
        }
        if !self.config.udp_only {
            self.out.extend_from_slice(stamp);
            self.out.extend_from_slice(&self.config.prefix);
            self.out.extend_from_slice(line);
            if cut {
                self.in_tail = true;
            } else {
                self.out.push(b'\n');
            }
        }
        if self.out.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// Raw bytes of a cut line's tail (only if this directory took the
    /// line).
    pub fn take_tail(&mut self, bytes: &[u8]) {
        if self.in_tail {
            self.out.extend_from_slice(bytes);
            if self.out.len() >= FLUSH_AT {
                self.flush();
            }
        }
    }

    /// The end of a cut line's tail.
    pub fn end_tail(&mut self) {
        if std::mem::take(&mut self.in_tail) {
            self.out.push(b'\n');
        }
    }

    /// Writes everything buffered, rotating where runit would.
    pub fn flush(&mut self) {
        let mut done = 0;
        while done < self.out.len() {
            if self.rule.full(self.size) {
                self.rotate();
            }
            let chunk = self.rule.chunk(self.size, &self.out[done..]);
            self.write_out(done, chunk.len);
            self.size += chunk.len as u64;
            done += chunk.len;
            if chunk.rotate_after {
                self.rotate();
            }
        }
        self.out.clear();
    }

    /// Writes `out[from..from + len]` to `current`, whatever it takes.
    fn write_out(&mut self, from: usize, len: usize) {
        let mut pos = from;
        let end = from + len;
        while pos < end {
            match sys::write(self.current.as_raw_fd(), &self.out[pos..end]) {
                Ok(0) => self.pause_write(&io::Error::from_raw_os_error(libc::EIO)),
                Ok(n) => pos += n,
                Err(e) => self.write_failed(&e),
            }
        }
    }

    fn write_failed(&mut self, e: &io::Error) {
        if e.raw_os_error() == Some(libc::ENOSPC) && self.free_space() {
            return;
        }
        self.pause_write(e);
    }

    fn pause_write(&self, e: &io::Error) {
        self.ctx.reporter.pause(Step::WriteCurrent, &self.name, e);
    }

    /// Out of disk space: deletes the oldest old file if `N` allows it.
    fn free_space(&mut self) -> bool {
        let Ok(names) = sys::list(&self.dir) else { return false };
        let busy = self.processor.as_ref().map(|p| &p.input()[..]);
        let victim = rotation::disk_full_victim(
            names.iter().map(Vec::as_slice),
            self.config.nmin,
            self.config.nmax,
            busy,
        );
        let Some(victim) = victim else { return false };
        self.ctx.reporter.warn(&[b"out of disk space, delete: ", &path(&self.name, &victim)], None);
        sys::unlink_at(&self.dir, &victim).is_ok()
    }

    /// Rotates `current` (spec §6.2). The output buffer must have been
    /// written up to a point where rotation is due.
    fn rotate(&mut self) {
        let r = self.ctx.reporter;
        if let Some(p) = self.processor.take() {
            p.wait(r);
        }
        let suffix = if self.config.processor.is_some() { b'u' } else { b's' };
        insist(r, Step::FsyncCurrent, &self.name, || sys::fsync(&self.current));
        insist(r, Step::SetModeCurrent, &self.name, || sys::fchmod(&self.current, 0o744));
        let name = insist(r, Step::RenameCurrent, &self.name, || rename_unique(&self.dir, suffix));
        let size = self.size.to_string();
        r.info(&[b"rename: ", &path(&self.name, b"current"), b" ", &name, b" ", size.as_bytes()]);
        let current = insist(r, Step::CreateNewCurrent, &self.name, || open_current(&self.dir));
        insist(r, Step::SetModeCurrent, &self.name, || sys::fchmod(&current, 0o644));
        self.current = current;
        self.size = 0;
        prune(&self.dir, &self.name, self.config.nmax, &name, r);
        if let Some(cmd) = self.config.processor.as_deref() {
            let (dir, dirname, sigpipe) = (&self.dir, &self.name, self.ctx.restore_sigpipe);
            let p = insist(r, Step::ForkProcessor, &self.name, || {
                Processor::start(dir, dirname, name, cmd, sigpipe, r)
            });
            self.processor = Some(p);
        }
    }

    /// SIGALRM: rotates a non-empty `current`.
    pub fn rotate_now(&mut self) {
        self.flush();
        if self.size > 0 {
            self.rotate();
        }
    }

    /// The `t` rule, checked before svlogd waits for input.
    pub fn tick(&mut self, now: Instant) {
        if self.timer.fire(now) {
            self.rotate_now();
        }
    }

    /// When [`tick`](Self::tick) next has work.
    pub fn deadline(&self) -> Option<Instant> {
        self.timer.deadline()
    }

    /// Offers a reaped child: true if it was this directory's processor
    /// (its bookkeeping is done, or it was restarted).
    pub fn reap(&mut self, pid: i32, status: WaitStatus) -> bool {
        if self.processor.as_ref().is_none_or(|p| p.pid() != pid) {
            return false;
        }
        if let Some(p) = self.processor.take() {
            self.processor = p.finished(status, self.ctx.reporter);
        }
        true
    }

    /// Takes over a processor still running from before a SIGHUP.
    pub fn adopt(&mut self, p: Processor) {
        self.processor = Some(p);
    }

    /// Waits until this directory's processor (if any) has succeeded.
    pub fn wait_processor(&mut self) {
        if let Some(p) = self.processor.take() {
            p.wait(self.ctx.reporter);
        }
    }

    /// Closes cleanly (spec §9): writes what is buffered, syncs, marks
    /// `current` 0744. A processor still running, and whether a cut line's
    /// tail was being copied, are handed back (SIGHUP carries them over to
    /// the reopened directory).
    pub fn close(mut self) -> Closed {
        let r = self.ctx.reporter;
        self.flush();
        insist(r, Step::FsyncCurrent, &self.name, || sys::fsync(&self.current));
        insist(r, Step::SetModeCurrent, &self.name, || sys::fchmod(&self.current, 0o744));
        r.info(&[b"close: ", &self.name]);
        Closed { processor: self.processor.take(), in_tail: self.in_tail }
    }

    /// Continues copying a cut line's tail begun before a SIGHUP.
    pub fn resume_tail(&mut self) {
        self.in_tail = true;
    }
}

/// What a closed directory leaves behind.
#[derive(Debug)]
pub struct Closed {
    /// Its processor, if one was still running.
    pub processor: Option<Processor>,
    /// It was taking the tail of a cut line.
    pub in_tail: bool,
}

/// `[stamp][prefix]line[...]\n`: the stderr and UDP form of a line.
fn copy_line(out: &mut Vec<u8>, stamp: &[u8], prefix: &[u8], line: &[u8], cut: bool) {
    out.extend_from_slice(stamp);
    out.extend_from_slice(prefix);
    out.extend_from_slice(line);
    if cut {
        out.extend_from_slice(b"...");
    }
    out.push(b'\n');
}

/// Opens the directory as runit does: a non-directory opens but cannot be
/// changed into, which runit reports as `unable to change directory`.
fn open_dir(name: &[u8], r: Reporter) -> Option<OwnedFd> {
    match sys::open_dir(name) {
        Ok(fd) => Some(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
            r.warn(&[b"unable to change directory: ", name], Some(&e));
            None
        }
        Err(e) => {
            r.warn_step(Step::OpenLogDirectory, name, &e);
            None
        }
    }
}

/// Creates and locks `lock` (non-blocking: another svlogd keeps it).
fn lock_dir(dir: &OwnedFd, name: &[u8], r: Reporter) -> Option<OwnedFd> {
    let flags = libc::O_WRONLY | libc::O_NDELAY | libc::O_APPEND | libc::O_CREAT;
    match sys::open_at(dir, c"lock", flags, 0o600).and_then(|fd| sys::lock_nb(&fd).map(|()| fd)) {
        Ok(fd) => Some(fd),
        Err(e) => {
            r.warn_step(Step::LockDirectory, name, &e);
            None
        }
    }
}

/// The size of the `current` to append to (spec §7 step 4): a non-empty
/// one that was not closed cleanly (no owner-execute bit) becomes
/// `@<now>.u` and a new one is started. `None` if it cannot be examined.
fn take_over_current(dir: &OwnedFd, name: &[u8], nmax: u64, r: Reporter) -> Option<u64> {
    match sys::stat_at(dir, CURRENT) {
        Ok((size, mode)) if size > 0 && mode & 0o100 == 0 => {
            let unfinished = insist(r, Step::RenameCurrent, name, || rename_unique(dir, b'u'));
            prune(dir, name, nmax, &unfinished, r);
            r.info(&[b"new: ", &path(name, b"current")]);
            Some(0)
        }
        Ok((size, _)) => {
            r.info(&[b"append: ", &path(name, b"current")]);
            Some(size)
        }
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            r.info(&[b"new: ", &path(name, b"current")]);
            Some(0)
        }
        Err(e) => {
            r.warn_step(Step::StatCurrent, name, &e);
            None
        }
    }
}

fn read_config(dir: &OwnedFd, name: &[u8], r: Reporter) -> Config {
    let file = match sys::open_at(dir, c"config", libc::O_RDONLY | libc::O_NDELAY, 0) {
        Ok(fd) => std::fs::File::from(fd),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => return Config::default(),
        Err(e) => {
            r.warn_step(Step::ReadConfig, name, &e);
            return Config::default();
        }
    };
    let mut text = Vec::new();
    let parsed = match (&file).read_to_end(&mut text) {
        Ok(_) => {
            let (cfg, warnings) = config::parse(&text);
            for w in warnings {
                r.warn(&[&w.message()], None);
            }
            cfg
        }
        Err(e) => {
            r.warn_step(Step::ReadConfig, name, &e);
            Config::default()
        }
    };
    r.info(&[b"read: ", &path(name, b"config")]);
    parsed
}

fn open_current(dir: &OwnedFd) -> io::Result<OwnedFd> {
    sys::open_at(dir, CURRENT, libc::O_WRONLY | libc::O_NDELAY | libc::O_APPEND | libc::O_CREAT, 0o600)
}

/// Renames `current` to `@<now>.<suffix>`, taking a new timestamp while
/// the name exists; returns the name.
fn rename_unique(dir: &OwnedFd, suffix: u8) -> io::Result<[u8; NAME_LEN]> {
    loop {
        let name = rotated_name(Tai64N::now(), suffix);
        let c = CString::new(name.to_vec()).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?;
        if sys::exists_at(dir, &c) {
            continue;
        }
        sys::rename_at(dir, CURRENT, &c)?;
        return Ok(name);
    }
}

/// Deletes processor leftovers and, beyond `nmax` old files, the oldest
/// one other than `keep` (spec §6.3).
fn prune(dir: &OwnedFd, name: &[u8], nmax: u64, keep: &[u8], r: Reporter) {
    let names = insist(r, Step::ReadDirectory, name, || sys::list(dir));
    let plan = rotation::prune(names.iter().map(Vec::as_slice), nmax, keep);
    for leftover in &plan.leftovers {
        if let Err(e) = sys::unlink_at(dir, leftover) {
            r.warn_step(Step::UnlinkLeftover, &path(name, leftover), &e);
        }
    }
    if let Some(oldest) = plan.oldest {
        r.info(&[b"delete: ", &path(name, &oldest)]);
        insist(r, Step::UnlinkOldest, name, || match sys::unlink_at(dir, &oldest) {
            // Already gone: what we wanted.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(()),
            other => other,
        });
    }
}

/// Runs `op` until it succeeds, printing runit's `pausing:` line and
/// sleeping 3 s after each failure.
fn insist<T>(r: Reporter, step: Step, subject: &[u8], mut op: impl FnMut() -> io::Result<T>) -> T {
    loop {
        match op() {
            Ok(v) => return v,
            Err(e) => r.pause(step, subject, &e),
        }
    }
}
