//! The event loop: standard input, signals and `t` deadlines (spec
//! svlogd.md §5, §6.1, §9).
//!
//! One `poll(2)` waits for input, for the self-pipe the signal handlers
//! write to, and for the nearest `t` deadline (no deadline: no timeout, so
//! an idle svlogd never wakes up). `poll` rather than epoll because
//! standard input may be a regular file or `/dev/null`, which epoll
//! refuses. Signals are acted on between reads, as runit does by blocking
//! them outside its wait.
//!
//! Each wake-up reads one block (128 KiB, or `-b` if larger), stamps it
//! once, cuts it into lines, hands them to the [`Fanout`] and writes
//! everything out before waiting again: large blocks for throughput, and
//! lines still reach the files as soon as input goes quiet, as with runit's
//! write-after-every-read. A write that cannot complete stops the loop, so
//! no more input is read until it does: the writer upstream blocks on the
//! pipe instead of svlogd's memory growing.

use crate::fanout::Fanout;
use crate::line::{InputBuffer, Piece, Replacer, Splitter};
use crate::logdir::OpenContext;
use crate::message::{Reporter, Step};
use crate::options::Options;
use crate::stamp::{Stamp, Stamper};
use crate::sys;
use runit_core::selfpipe::SignalPipe;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

/// How much svlogd reads at a time (unless `-b` is larger).
pub const BLOCK: usize = 128 * 1024;
/// The largest block, whatever `-b` says.
const MAX_BLOCK: usize = 16 * 1024 * 1024;

/// How the loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// End of input (or a read error): exit 0.
    Eof,
    /// SIGTERM: exit 0 after completing a partial line.
    Term,
    /// No directory could be reopened after SIGHUP: exit 111.
    NoDirectories,
}

/// Standard input cut into lines.
#[derive(Debug)]
struct Input {
    buf: InputBuffer,
    splitter: Splitter,
    replacer: Option<Replacer>,
    stamper: Stamper,
    /// The stamp of the read that delivered the carried line start.
    carry_stamp: Stamp,
}

impl Input {
    fn new(opts: &Options) -> Option<Self> {
        let block = opts.buflen.clamp(BLOCK, MAX_BLOCK);
        Some(Input {
            buf: InputBuffer::new(block, opts.line_max)?,
            splitter: Splitter::new(opts.line_max),
            replacer: opts.replace.as_ref().map(|r| Replacer::new(r.with, &r.extra)),
            stamper: Stamper::new(opts.stamp),
            carry_stamp: Stamp::EMPTY,
        })
    }

    /// One `read` into the buffer: `Ok(0)` at end of input.
    fn read(&mut self) -> io::Result<usize> {
        let n = sys::read(0, self.buf.spare())?;
        self.buf.commit(n);
        Ok(n)
    }

    /// Cuts what was read into pieces for `out`. `carried` bytes at the
    /// front are a line start from an earlier read.
    fn dispatch(&mut self, carried: usize, out: &mut Fanout) {
        let now = self.stamper.now();
        let mut pos = 0;
        let data = self.buf.data_mut();
        while let Some((piece, next)) = self.splitter.next(data, pos) {
            match piece {
                Piece::Line { range, cut } => {
                    let stamp = if range.start == 0 && carried > 0 { self.carry_stamp } else { now };
                    let line = &mut data[range];
                    if let Some(r) = &self.replacer {
                        r.apply(line);
                    }
                    out.line(line, cut, stamp.as_bytes());
                }
                Piece::Tail(range) => out.tail(&data[range]),
                Piece::TailEnd => out.end_tail(),
            }
            pos = next;
        }
        if pos > 0 || carried == 0 {
            self.carry_stamp = now;
        }
        self.buf.consume(pos);
    }

    /// End of input: a tail being copied gets its newline; an unfinished
    /// line is dropped (runit writes only complete lines).
    fn finish(&mut self, out: &mut Fanout) {
        if self.splitter.finish().is_some() {
            out.end_tail();
        }
        self.buf.clear();
    }

    /// SIGTERM: runit reads the rest of the current line one byte at a
    /// time (so nothing after it is taken from the pipe). A tail is copied
    /// to the directories; a line start is dropped with its rest.
    fn complete_line(&mut self, out: &mut Fanout, r: Reporter) {
        let tail = self.splitter.in_tail();
        if !tail && self.buf.data().is_empty() {
            return;
        }
        let mut byte = [0u8; 1];
        loop {
            match sys::read(0, &mut byte) {
                Ok(1) if byte[0] == b'\n' => break,
                Ok(1) if tail => out.tail(&byte),
                Ok(1) => {}
                Ok(_) => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let _ = sys::poll(&[(0, libc::POLLIN)], -1);
                }
                Err(e) => {
                    r.warn(&[Step::ReadStdin.text().as_bytes()], Some(&e));
                    break;
                }
            }
        }
        self.finish(out);
    }
}

/// Why the logger could not start.
#[derive(Debug)]
pub enum StartError {
    /// No directory could be opened.
    NoDirectories,
    /// The signal handlers could not be installed.
    Signals(io::Error),
    /// The input buffer (`-l` bytes plus a block) could not be allocated.
    OutOfMemory,
}

/// The logger: input, outputs and signals.
#[derive(Debug)]
pub struct Logger {
    input: Input,
    out: Fanout,
    signals: SignalPipe,
    reporter: Reporter,
}

impl Logger {
    /// Installs the signal handlers and opens the directories (the caller
    /// prints runit's fatal line on failure).
    pub fn start(opts: &Options) -> Result<Logger, StartError> {
        let reporter = Reporter::new(opts.verbose);
        sys::ensure_std_fds();
        if opts.copy_stdout {
            sys::ignore_sigpipe();
        }
        let input = Input::new(opts).ok_or(StartError::OutOfMemory)?;
        let mut signals = SignalPipe::new().map_err(StartError::Signals)?;
        for sig in [libc::SIGTERM, libc::SIGHUP, libc::SIGALRM, libc::SIGCHLD] {
            signals.catch(sig).map_err(StartError::Signals)?;
        }
        let ctx = OpenContext { line_max: opts.line_max, reporter, restore_sigpipe: opts.copy_stdout };
        let names = opts.dirs.iter().map(|d| d.as_bytes().to_vec()).collect();
        let mut out = Fanout::new(names, ctx, opts.copy_stdout);
        if !out.open(Instant::now()) {
            return Err(StartError::NoDirectories);
        }
        Ok(Logger { input, out, signals, reporter })
    }

    /// Runs until end of input, SIGTERM, or a failed reopen.
    pub fn run(&mut self) -> Ending {
        let ending = self.serve();
        match ending {
            Ending::Eof => self.input.finish(&mut self.out),
            Ending::Term => self.input.complete_line(&mut self.out, self.reporter),
            Ending::NoDirectories => return ending,
        }
        self.out.shut_down();
        ending
    }

    fn serve(&mut self) -> Ending {
        loop {
            self.out.flush();
            let now = Instant::now();
            self.out.tick(now);
            let timeout = self.out.next_deadline().map_or(-1, |d| {
                let ms = d.saturating_duration_since(now).as_millis().saturating_add(1);
                i32::try_from(ms).unwrap_or(i32::MAX)
            });
            let ready = match sys::poll(&[(0, libc::POLLIN), (self.signals.fd(), libc::POLLIN)], timeout) {
                Ok(r) => r,
                Err(_) => continue,
            };
            if ready.get(1).is_some_and(|&r| r != 0)
                && let Some(end) = self.handle_signals()
            {
                return end;
            }
            if ready.first().is_some_and(|&r| r != 0)
                && let Some(end) = self.read_input()
            {
                return end;
            }
        }
    }

    /// Acts on pending signals; `Some` when the loop must end.
    fn handle_signals(&mut self) -> Option<Ending> {
        let mut ending = None;
        for sig in self.signals.drain() {
            match sig {
                libc::SIGTERM => {
                    self.reporter.info(&[b"sigterm received."]);
                    ending = Some(Ending::Term);
                }
                libc::SIGHUP => {
                    self.reporter.info(&[b"sighangup received."]);
                    if !self.out.reopen(Instant::now()) {
                        return Some(Ending::NoDirectories);
                    }
                }
                libc::SIGALRM => {
                    self.reporter.info(&[b"sigalarm received."]);
                    self.out.rotate_all();
                }
                libc::SIGCHLD => {
                    self.reporter.info(&[b"sigchild received."]);
                    self.out.reap();
                }
                _ => {}
            }
        }
        ending
    }

    /// Reads and dispatches one block; `Some(Eof)` at end of input.
    fn read_input(&mut self) -> Option<Ending> {
        let carried = self.input.buf.data().len();
        match self.input.read() {
            Ok(0) => Some(Ending::Eof),
            Ok(_) => {
                self.input.dispatch(carried, &mut self.out);
                None
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => None,
            Err(e) => {
                self.reporter.warn(&[Step::ReadStdin.text().as_bytes()], Some(&e));
                Some(Ending::Eof)
            }
        }
    }
}
