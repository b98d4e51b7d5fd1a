#![no_main]
//! `runsv dir`: see the library crate.

runit_core::main!(runsv::entry);
