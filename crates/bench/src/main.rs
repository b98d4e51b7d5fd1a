#![no_main]
//! `runit-bench`: see the library ([`runit_bench`]) and docs/performance.md.

runit_core::main!(runit_bench::entry);
