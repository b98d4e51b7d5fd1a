#![no_main]
//! `runsvchdir dir`: switch the runlevel symlink `current`.

runit_core::main!(runsvdir::runsvchdir::main);
