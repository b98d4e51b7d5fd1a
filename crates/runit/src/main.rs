#![no_main]
//! `runit`: process 1, stages 1-3 (see the `runit` library).

runit_core::main!(runit::runit_main);
