//! Every message svlogd prints, in runit's words, rendered in one place.
//!
//! runit's svlogd has four kinds of lines on stderr:
//! `svlogd: fatal: …` (then exit 111), `svlogd: warning: …` (go on),
//! `svlogd: pausing: …` (sleep 3 s and retry the same step, forever) and,
//! with `-v`, `svlogd: info: …`. A failed step reads
//! `unable to <step>: <dir>: <error text>`, with runit's own error texts
//! (`runit_core::errtext`). The step wordings are those of runit's svlogd
//! (spec svlogd.md §7-§9 and the strings of Debian's binary).

use runit_core::report::write_stderr;
use std::io;
use std::time::Duration;

/// How long runit's svlogd pauses before retrying a failed step.
pub const PAUSE: Duration = Duration::from_secs(3);

/// A step that can fail, as runit names it after `unable to `.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Opening a log directory (warning, directory skipped).
    OpenLogDirectory,
    /// Taking the directory's lock (warning, directory skipped).
    LockDirectory,
    /// Reading `config` (warning, defaults used).
    ReadConfig,
    /// `stat` of an existing `current` (warning, directory skipped).
    StatCurrent,
    /// Opening `current` at start-up (warning, directory skipped).
    OpenCurrent,
    /// Renaming an unclean `current` at start-up or at rotation (pause).
    RenameCurrent,
    /// Writing to `current` (pause).
    WriteCurrent,
    /// `fsync` of `current` before rotation (pause).
    FsyncCurrent,
    /// `fchmod` of `current` (pause).
    SetModeCurrent,
    /// Creating the next `current` (pause).
    CreateNewCurrent,
    /// Listing the directory for pruning (pause).
    ReadDirectory,
    /// Deleting the oldest file (pause).
    UnlinkOldest,
    /// Deleting a processor leftover (warning).
    UnlinkLeftover,
    /// Starting a processor (pause).
    ForkProcessor,
    /// Waiting for a processor (warning).
    WaitProcessor,
    /// Renaming `@….t` to `@….s` (pause).
    RenameProcessed,
    /// `chmod` of the processed file (pause).
    SetModeProcessed,
    /// Deleting the processed `@….u` (warning).
    Unlink,
    /// Renaming `newstate` to `state` (pause).
    RenameState,
    /// Reading standard input (warning, then end of input).
    ReadStdin,
    /// Writing to standard output with `-o` (warning, copying stops).
    WriteStdout,
}

impl Step {
    /// runit's words for the step.
    pub fn text(self) -> &'static str {
        match self {
            Step::OpenLogDirectory => "unable to open log directory",
            Step::LockDirectory => "unable to lock directory",
            Step::ReadConfig => "unable to read config",
            Step::StatCurrent => "unable to stat current",
            Step::OpenCurrent => "unable to open current",
            Step::RenameCurrent => "unable to rename current",
            Step::WriteCurrent => "unable to write to current",
            Step::FsyncCurrent => "unable to fsync current logfile",
            Step::SetModeCurrent => "unable to set mode of current",
            Step::CreateNewCurrent => "unable to create new current",
            Step::ReadDirectory => "unable to read directory, want remove old logfile",
            Step::UnlinkOldest => "unable to unlink oldest logfile",
            Step::UnlinkLeftover => "unable to unlink processor leftover",
            Step::ForkProcessor => "unable to fork for processor",
            Step::WaitProcessor => "error waiting for processor",
            Step::RenameProcessed => "unable to rename processed",
            Step::SetModeProcessed => "unable to set mode of processed",
            Step::Unlink => "unable to unlink",
            Step::RenameState => "unable to rename state",
            Step::ReadStdin => "unable to read standard input",
            Step::WriteStdout => "unable to write to standard output",
        }
    }
}

/// Prints svlogd's messages; `-v` enables the info lines.
#[derive(Debug, Clone, Copy)]
pub struct Reporter {
    verbose: bool,
}

impl Reporter {
    /// A reporter; `verbose` is `-v`.
    pub fn new(verbose: bool) -> Self {
        Reporter { verbose }
    }

    /// `svlogd: info: <parts…>` with `-v`.
    pub fn info(&self, parts: &[&[u8]]) {
        if self.verbose {
            write_stderr(&line("info", parts, None));
        }
    }

    /// `svlogd: warning: <parts…>[: <err>]`.
    pub fn warn(&self, parts: &[&[u8]], err: Option<&io::Error>) {
        write_stderr(&line("warning", parts, err));
    }

    /// `svlogd: warning: unable to <step>: <subject>: <err>`.
    pub fn warn_step(&self, step: Step, subject: &[u8], err: &io::Error) {
        self.warn(&[step.text().as_bytes(), b": ", subject], Some(err));
    }

    /// `svlogd: pausing: unable to <step>: <subject>: <err>`, then sleeps
    /// [`PAUSE`] (the caller retries).
    pub fn pause(&self, step: Step, subject: &[u8], err: &io::Error) {
        write_stderr(&line("pausing", &[step.text().as_bytes(), b": ", subject], Some(err)));
        std::thread::sleep(PAUSE);
    }

    /// `svlogd: fatal: <parts…>` (the caller exits 111).
    pub fn fatal(&self, parts: &[&[u8]]) {
        write_stderr(&line("fatal", parts, None));
    }
}

/// `svlogd: <kind>: <parts…>[: <err>]\n`.
pub fn line(kind: &str, parts: &[&[u8]], err: Option<&io::Error>) -> Vec<u8> {
    runit_core::report::format_line(b"svlogd: ", kind, parts, err)
}

/// `<dir>/<name>`.
pub fn path(dir: &[u8], name: &[u8]) -> Vec<u8> {
    [dir, b"/", name].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let e = io::Error::from_raw_os_error(libc::EAGAIN);
        assert_eq!(
            line("warning", &[Step::LockDirectory.text().as_bytes(), b": ", b"d"], Some(&e)),
            b"svlogd: warning: unable to lock directory: d: temporary failure\n"
        );
        assert_eq!(
            line("fatal", &[b"no functional log directories."], None),
            b"svlogd: fatal: no functional log directories.\n"
        );
        let e = io::Error::from_raw_os_error(libc::ENOSPC);
        assert_eq!(
            line("pausing", &[Step::WriteCurrent.text().as_bytes(), b": ", b"d"], Some(&e)),
            b"svlogd: pausing: unable to write to current: d: out of disk space\n"
        );
        assert_eq!(path(b"d", b"current"), b"d/current");
    }
}
