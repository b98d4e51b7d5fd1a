//! The shared entry point of every program.
//!
//! Each binary's `main.rs` is one [`main!`](crate::main) invocation. The
//! macro defines the C `main` symbol itself (`#![no_main]`) instead of going
//! through Rust's runtime start-up, because that start-up sets SIGPIPE to
//! "ignored", and an ignored signal survives `exec`: every service started by
//! runsv or chpst would inherit it. runit leaves every disposition as it was
//! inherited (supervise.md §1, §9.1), and so do we.
//!
//! The program's entry function receives `argv` (as `OsString`s, argv[0]
//! included) and returns the exit code; standard output is flushed before
//! the process exits.

use std::ffi::{CStr, OsString, c_char, c_int};
use std::io::Write;
use std::os::unix::ffi::OsStringExt;

/// Defines `main` for a binary crate that is `#![no_main]`; `$entry` is a
/// `fn(Vec<OsString>) -> i32`.
#[macro_export]
macro_rules! main {
    ($entry:path) => {
        #[unsafe(no_mangle)]
        extern "C" fn main(
            argc: ::std::ffi::c_int,
            argv: *const *const ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            // SAFETY: the C runtime passes a valid argv of argc strings.
            unsafe { $crate::entry::run(argc, argv, $entry) }
        }
    };
}

/// Converts `argv`, runs `entry`, flushes stdout and returns the exit code.
///
/// # Safety
/// `argv` must point to `argc` valid NUL-terminated strings, as the C runtime
/// passes them to `main`.
pub unsafe fn run(argc: c_int, argv: *const *const c_char, entry: fn(Vec<OsString>) -> i32) -> c_int {
    let mut args = Vec::with_capacity(usize::try_from(argc).unwrap_or(0));
    for i in 0..usize::try_from(argc).unwrap_or(0) {
        // SAFETY: the caller guarantees argc valid entries.
        let p = unsafe { *argv.add(i) };
        if p.is_null() {
            break;
        }
        // SAFETY: each entry is a NUL-terminated string.
        args.push(OsString::from_vec(unsafe { CStr::from_ptr(p) }.to_bytes().to_vec()));
    }
    let code = entry(args);
    let _ = std::io::stdout().flush();
    code
}

/// The basename of `argv[0]` (runit names itself by it), lossily as UTF-8.
pub fn progname(args: &[OsString]) -> String {
    let full = args.first().map(|a| a.to_string_lossy().into_owned()).unwrap_or_default();
    match full.rsplit_once('/') {
        Some((_, base)) => base.to_string(),
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progname_is_basename() {
        assert_eq!(progname(&["/etc/init.d/foo".into()]), "foo");
        assert_eq!(progname(&["sv".into()]), "sv");
        assert_eq!(progname(&[]), "");
    }
}
