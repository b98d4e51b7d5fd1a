// runsvdir links as runsv does (page-aligned segments, static libgcc_eh
// instead of a libgcc_s mapping of its own): see there.
include!("../runsv/build.rs");
