#![no_main]
//! `runsv dir`: see the library crate.

use std::ffi::OsString;

/// Small blocks from the tail of the data page and a mapped region, large
/// ones mapped whole: an idle runsv keeps no heap pages (docs/runsv.md,
/// "Memory").
#[global_allocator]
// SAFETY: the one program arena of the process.
static ALLOC: runsv::alloc::Arena = unsafe { runsv::alloc::Arena::program() };

fn entry(args: Vec<OsString>) -> i32 {
    runsv::alloc::register(&ALLOC);
    runsv::entry(args)
}

runit_core::main!(entry);
