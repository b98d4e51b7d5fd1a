//! Where each line goes: every open log directory, standard error (`e`
//! patterns) and, with our `-o` extension, standard output.
//!
//! Standard error and standard output are buffered like the directories and
//! written once per block of input. runit ignores errors writing to stderr,
//! and so do we. The `-o` copy is best effort by design: the log directory
//! is the durable record, so if standard output goes away (EPIPE) svlogd
//! warns once and stops copying instead of dying or blocking the logs.

use crate::logdir::{FLUSH_AT, LogDir, OpenContext};
use crate::message::Step;
use crate::processor::Processor;
use crate::sys;
use runit_core::process::{WaitStatus, reap_nohang};
use runit_core::report::write_fd;
use std::io;
use std::time::Instant;

/// The outputs of one svlogd.
#[derive(Debug)]
pub struct Fanout {
    names: Vec<Vec<u8>>,
    ctx: OpenContext,
    dirs: Vec<LogDir>,
    /// Processors whose directory could not be reopened after SIGHUP.
    orphans: Vec<Processor>,
    stderr: Vec<u8>,
    stdout: Option<Vec<u8>>,
}

impl Fanout {
    /// Outputs for the directories `names` (not opened yet); `copy_stdout`
    /// is `-o`.
    pub fn new(names: Vec<Vec<u8>>, ctx: OpenContext, copy_stdout: bool) -> Self {
        Fanout {
            names,
            ctx,
            dirs: Vec::new(),
            orphans: Vec::new(),
            stderr: Vec::new(),
            stdout: copy_stdout.then(Vec::new),
        }
    }

    /// Opens every directory; false if none could be opened.
    pub fn open(&mut self, now: Instant) -> bool {
        self.dirs = self.names.iter().filter_map(|n| LogDir::open(n, self.ctx, now)).collect();
        !self.dirs.is_empty()
    }

    /// One line (at most `len` bytes, replaced already).
    pub fn line(&mut self, line: &[u8], cut: bool, stamp: &[u8]) {
        for dir in &mut self.dirs {
            dir.take_line(line, cut, stamp, &mut self.stderr);
        }
        if let Some(out) = self.stdout.as_mut() {
            out.extend_from_slice(stamp);
            out.extend_from_slice(line);
            if !cut {
                out.push(b'\n');
            }
        }
        if self.stderr.len() >= FLUSH_AT || self.stdout.as_ref().is_some_and(|o| o.len() >= FLUSH_AT) {
            self.flush_std();
        }
    }

    /// Raw tail bytes of a cut line.
    pub fn tail(&mut self, bytes: &[u8]) {
        for dir in &mut self.dirs {
            dir.take_tail(bytes);
        }
        if let Some(out) = self.stdout.as_mut() {
            out.extend_from_slice(bytes);
            if out.len() >= FLUSH_AT {
                self.flush_std();
            }
        }
    }

    /// The end of a cut line's tail.
    pub fn end_tail(&mut self) {
        for dir in &mut self.dirs {
            dir.end_tail();
        }
        if let Some(out) = self.stdout.as_mut() {
            out.push(b'\n');
        }
    }

    /// Writes everything buffered.
    pub fn flush(&mut self) {
        self.flush_std();
        for dir in &mut self.dirs {
            dir.flush();
        }
    }

    fn flush_std(&mut self) {
        if !self.stderr.is_empty() {
            write_fd(2, &self.stderr);
            self.stderr.clear();
        }
        if let Some(out) = self.stdout.as_mut() {
            if let Err(e) = write_stdout(out) {
                self.ctx.reporter.warn(&[Step::WriteStdout.text().as_bytes()], Some(&e));
                self.stdout = None;
            } else {
                out.clear();
            }
        }
    }

    /// Rotates directories whose `t` deadline has passed.
    pub fn tick(&mut self, now: Instant) {
        for dir in &mut self.dirs {
            dir.tick(now);
        }
    }

    /// The nearest `t` deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.dirs.iter().filter_map(LogDir::deadline).min()
    }

    /// SIGALRM: rotate every non-empty `current`.
    pub fn rotate_all(&mut self) {
        for dir in &mut self.dirs {
            dir.rotate_now();
        }
    }

    /// SIGCHLD: reaps children and finishes their processors' bookkeeping.
    pub fn reap(&mut self) {
        while let Ok(Some((pid, status))) = reap_nohang() {
            self.child_exited(pid, status);
        }
    }

    fn child_exited(&mut self, pid: i32, status: WaitStatus) {
        if self.dirs.iter_mut().any(|d| d.reap(pid, status)) {
            return;
        }
        if let Some(i) = self.orphans.iter().position(|p| p.pid() == pid) {
            let p = self.orphans.swap_remove(i);
            if let Some(again) = p.finished(status, self.ctx.reporter) {
                self.orphans.push(again);
            }
        }
    }

    /// SIGHUP: closes and reopens every directory, re-reading `config`;
    /// false if none could be reopened. Running processors and a cut
    /// line's tail carry over to the directory of the same name.
    pub fn reopen(&mut self, now: Instant) -> bool {
        self.flush_std();
        let closed: Vec<_> = self.dirs.drain(..).map(|d| (d.name().to_vec(), d.close())).collect();
        crate::stamp::reload_zone();
        let ok = self.open(now);
        for (name, c) in closed {
            let dir = self.dirs.iter_mut().find(|d| d.name() == name.as_slice());
            match dir {
                Some(d) => {
                    if c.in_tail {
                        d.resume_tail();
                    }
                    if let Some(p) = c.processor {
                        d.adopt(p);
                    }
                }
                None => self.orphans.extend(c.processor),
            }
        }
        ok
    }

    /// End of input or SIGTERM: writes everything, waits for processors,
    /// closes every directory.
    pub fn shut_down(&mut self) {
        self.flush();
        for dir in &mut self.dirs {
            dir.wait_processor();
        }
        for p in self.orphans.drain(..) {
            p.wait(self.ctx.reporter);
        }
        for dir in self.dirs.drain(..) {
            dir.close();
        }
    }
}

/// Writes all of `buf` to standard output, waiting if it is non-blocking
/// and full.
fn write_stdout(buf: &[u8]) -> io::Result<()> {
    let mut pos = 0;
    while pos < buf.len() {
        match sys::write(1, &buf[pos..]) {
            Ok(0) => return Err(io::Error::from_raw_os_error(libc::EIO)),
            Ok(n) => pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                sys::poll(&[(1, libc::POLLOUT)], -1)?;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
