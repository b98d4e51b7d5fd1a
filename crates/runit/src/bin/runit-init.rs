#![no_main]
//! `runit-init 0|6` (see the `runit` library).

runit_core::main!(runit::init_main);
