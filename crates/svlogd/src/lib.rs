//! svlogd: runit's rotating logger, as a library.
//!
//! svlogd reads log lines on standard input and appends them to one or more
//! log directories, rotating `current` by size and age, keeping a bounded
//! number of old files, running a processor on each rotated file, and
//! copying selected lines to standard error and UDP (spec: svlogd.md). The
//! pure parts are separate modules with their own tests: the command line
//! ([`options`]), `config` ([`config`]), pattern matching ([`pattern`]),
//! line cutting ([`line`]), timestamps ([`stamp`]) and rotation decisions
//! ([`rotation`]). The I/O lives in [`logdir`] (one directory),
//! [`processor`], [`udp`], [`fanout`] (all outputs of a line) and
//! [`driver`] (the event loop).
#![deny(missing_docs)]

pub mod config;
pub mod driver;
pub mod fanout;
pub mod line;
pub mod logdir;
pub mod message;
pub mod options;
pub mod pattern;
pub mod processor;
pub mod rotation;
pub mod stamp;
pub mod sys;
pub mod udp;

use driver::{Ending, Logger, StartError};
use message::Reporter;
use options::Parsed;
use runit_core::report::{usage_text, write_stderr};
use std::ffi::OsString;

/// svlogd's exit codes (runit's, including usage = 111).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// End of input or SIGTERM, everything written: 0.
    Done,
    /// Bad command line (usage printed): 111.
    Usage,
    /// No functional log directory, at start or after SIGHUP: 111.
    Fatal,
}

impl ExitCode {
    /// The process exit status.
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Done => 0,
            ExitCode::Usage | ExitCode::Fatal => 111,
        }
    }
}

/// The program: `args` is the whole `argv`; returns the exit status.
pub fn main(args: Vec<OsString>) -> i32 {
    run(&args).code()
}

/// Parses the command line and runs the logger.
pub fn run(args: &[OsString]) -> ExitCode {
    // runit prints argv[0] as given in the usage line, but the getopt
    // complaint uses the program's base name.
    let argv0 = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_else(|| "svlogd".into());
    let usage = || {
        write_stderr(usage_text(&argv0, options::SYNOPSIS).as_bytes());
        ExitCode::Usage
    };
    let opts = match options::parse(args.get(1..).unwrap_or_default()) {
        Parsed::Run(o) => o,
        Parsed::Usage(complaint) => {
            if let Some(c) = complaint {
                let prog = runit_core::entry::progname(args);
                write_stderr(format!("{}\n", c.message(&prog)).as_bytes());
            }
            return usage();
        }
        Parsed::Version => {
            write_stderr(format!("{}\n", runit_core::version_id()).as_bytes());
            return usage();
        }
    };
    let reporter = Reporter::new(opts.verbose);
    let mut logger = match Logger::start(&opts) {
        Ok(l) => l,
        Err(StartError::NoDirectories) => return no_directories(reporter),
        Err(StartError::Signals(e)) => {
            let text = runit_core::errtext::io_text(&e);
            reporter.fatal(&[b"unable to catch signals: ", text.as_bytes()]);
            return ExitCode::Fatal;
        }
        Err(StartError::OutOfMemory) => {
            reporter.fatal(&[b"out of memory."]);
            return ExitCode::Fatal;
        }
    };
    match logger.run() {
        Ending::Eof | Ending::Term => ExitCode::Done,
        Ending::NoDirectories => no_directories(reporter),
    }
}

fn no_directories(r: Reporter) -> ExitCode {
    r.fatal(&[b"no functional log directories."]);
    ExitCode::Fatal
}
