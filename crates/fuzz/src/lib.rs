//! Fuzz targets for runit-rs (issue 10, docs/reliability.md).
//!
//! Each public function takes the fuzzer's bytes and panics on a finding:
//! a crash of the code under test, or a broken property (round trips,
//! models written from the spec, invariants of the supervisor). The same
//! functions serve three callers: libFuzzer (`fuzz_targets/*.rs`, run by
//! `run-all`), the replay tests (`tests/replay.rs`: every seed and every
//! past finding under `seeds/` and `regressions/`), and anyone debugging a
//! crash with `cargo test`.
//!
//! | target | code under test |
//! |--------|-----------------|
//! | `status` | runit_core::status decode/encode, sv's status line and `-j` JSON |
//! | `extension_files` | health, deaths, instance, restart-policy, notify datagrams |
//! | `envdir` | chpst's envdir reader (first line rule, directory walk) |
//! | `svlogd_config` | svlogd `config` parser and the `+ - e E` verdict |
//! | `svlogd_pattern` | runit's pattern matcher against a model |
//! | `svlogd_lines` | line cutting across read blocks (no byte lost) |
//! | `svlogd_options` | svlogd's command line |
//! | `sv_args` | sv's command line (getopt, commands, LSB mode) |
//! | `boot_tags` | static/describe-tags/legacy sources, HTTP answers, boot.toml, then plan + render |
//! | `boot_imds` | the IMDSv2 client against a hostile local metadata server |
//! | `boot_manifests` | the catalogue loader (`service.toml`, dependencies) |
//! | `runsv_sm` | runsv's state machine under a simulated driver |
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

pub mod boot;
pub mod envdir;
pub mod imds;
pub mod input;
pub mod records;
pub mod runsv_sm;
pub mod sv_args;
pub mod svlogd;

/// A target: the fuzzer's bytes in, a panic on a finding.
pub type Target = fn(&[u8]);

/// Every target by name (the names of `fuzz_targets/*.rs`).
pub const TARGETS: &[(&str, Target)] = &[
    ("status", records::status),
    ("extension_files", records::extension_files),
    ("envdir", envdir::envdir),
    ("svlogd_config", svlogd::config_and_select),
    ("svlogd_pattern", svlogd::pattern_match),
    ("svlogd_lines", svlogd::lines),
    ("svlogd_options", svlogd::options),
    ("sv_args", sv_args::sv_args),
    ("boot_tags", boot::tag_sources),
    ("boot_imds", imds::imds),
    ("boot_manifests", boot::manifests),
    ("runsv_sm", runsv_sm::runsv_sm),
];

/// The target called `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
}
