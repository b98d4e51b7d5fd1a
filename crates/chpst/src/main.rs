#![no_main]
//! `chpst` (work in progress).

fn main_entry(args: Vec<std::ffi::OsString>) -> i32 {
    let _ = args;
    runit_core::report::write_stderr(b"chpst: not implemented yet\n");
    111
}

runit_core::main!(main_entry);
