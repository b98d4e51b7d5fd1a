#![no_main]
//! `sv`: see the library (`sv::main`) and `docs/sv.md`.

runit_core::main!(sv::main);
