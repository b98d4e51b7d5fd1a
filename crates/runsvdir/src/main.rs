#![no_main]
//! `runsvdir [-P] dir [log]`: one runsv per service directory.

runit_core::main!(runsvdir::runsvdir_main);
