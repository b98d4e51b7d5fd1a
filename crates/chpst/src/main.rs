#![no_main]
//! `chpst` and, through links to it, `envdir`, `envuidgid`, `pgrphack`,
//! `setlock`, `setuidgid` and `softlimit`. All logic is in the library.

runit_core::main!(chpst::main);
