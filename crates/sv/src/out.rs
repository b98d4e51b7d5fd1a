//! sv's standard output, buffered.
//!
//! runit's `sv` writes its `ok:`/`fail:`/`warning:` and status lines to
//! standard output through a buffer. We buffer too (one `write` for many
//! status lines is what makes `sv status` of a thousand services cheap) and
//! flush at the points where ordering matters: before anything goes to
//! standard error, before forking `./check` (whose stderr is shared), before
//! waiting, and at exit. Write errors are ignored, as runit ignores them
//! (an ignored SIGPIPE is inherited on purpose; see `runit_core::entry`).

use runit_core::report;

/// Flush once this much output has accumulated.
const HIGH_WATER: usize = 64 * 1024;

/// The buffered standard output.
#[derive(Debug, Default)]
pub struct Out {
    buf: Vec<u8>,
}

impl Out {
    /// An empty buffer.
    pub fn new() -> Self {
        Out { buf: Vec::with_capacity(HIGH_WATER) }
    }

    /// The buffer, to append to directly (formatters write into it).
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Appends `bytes`.
    pub fn put(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.flush_if_full();
    }

    /// Flushes once enough has accumulated (call at line ends).
    pub fn flush_if_full(&mut self) {
        if self.buf.len() >= HIGH_WATER {
            self.flush();
        }
    }

    /// Writes everything buffered to standard output.
    pub fn flush(&mut self) {
        if !self.buf.is_empty() {
            report::write_fd(1, &self.buf);
            self.buf.clear();
        }
    }

    /// Writes `bytes` to standard error, after flushing standard output so
    /// that the two streams stay in order when they share a descriptor.
    pub fn stderr(&mut self, bytes: &[u8]) {
        self.flush();
        report::write_stderr(bytes);
    }
}
