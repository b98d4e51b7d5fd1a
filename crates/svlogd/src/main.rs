#![no_main]
//! `svlogd`: see the library (`svlogd::main`) and `docs/svlogd.md`.

runit_core::main!(svlogd::main);
