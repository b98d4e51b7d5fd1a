//! The two programs' entry points: the only code between `main` and the
//! library, so that both binaries stay one line each.

use crate::config::{self, Config, Paths};
use crate::driver;
use crate::exit::{InitExit, RunitExit};
use crate::init::{self, Request};
use crate::message::Message;
use runit_core::report;
use std::ffi::{OsStr, OsString};

fn env(key: &str) -> Option<OsString> {
    std::env::var_os(key)
}

fn is_process_1() -> bool {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() == 1 }
}

/// `runit`: arguments are ignored, as in runit.
pub fn runit_main(_args: Vec<OsString>) -> i32 {
    if !is_process_1() {
        report::write_stderr(&Message::NotPid1.line(&Paths::new(config::DEFAULT_ETC)));
        return RunitExit::Fatal.code();
    }
    driver::boot(Config::from_env(env))
}

/// `runit-init 0|6`, or runit itself when it is process 1.
pub fn init_main(args: Vec<OsString>) -> i32 {
    if is_process_1() {
        let e = init::exec_runit(&config::runit_bin(env));
        report::write_stderr(&e.line());
        return e.exit().code();
    }
    let argv0 = args.first().map_or(OsStr::new("runit-init"), OsString::as_os_str);
    let request = init::parse(args.get(1..).unwrap_or_default());
    match request {
        Request::Usage | Request::Version => {
            if request == Request::Version {
                report::write_stderr(format!("{}\n", runit_core::version_id()).as_bytes());
            }
            report::write_stderr(&init::usage(argv0));
            InitExit::Ok.code()
        }
        Request::Halt | Request::Reboot => match init::write_flags(&config::init_paths(env), request) {
            Ok(()) => {
                init::wake_process_1();
                InitExit::Ok.code()
            }
            Err(e) => {
                report::write_stderr(&e.line());
                e.exit().code()
            }
        },
    }
}
