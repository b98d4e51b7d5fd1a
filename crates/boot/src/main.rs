#![no_main]
//! `boot`: see the library (crates/boot/src/lib.rs) and docs/boot.md.

runit_core::main!(boot::entry);
