//! `runit-bench`: the project benchmark.
//!
//! Runs our runit suite and Debian's C runit 2.1.2 side by side in one run
//! (s6 as an extra column where a figure maps), alternating between them so
//! the noise of a shared machine falls on every column alike, and prints a
//! table: per figure the median with the min..max spread for each
//! implementation, the ratio ours/runit, and the target with a pass/miss
//! mark. Method and the last full result: `docs/performance.md`.
//!
//! It is a benchmark, not a test: nothing here asserts a timing. The unit
//! tests cover the statistics, the table, the `/proc` parsers, the log
//! checker and the process handling.
//!
//! Modules: [`cli`] (options), [`suite`] (which programs, building ours),
//! [`spawn`] (process groups, clean-up, timing), [`service`] (service
//! directories, "up", trees), [`procfs`] (the `/proc` files), [`figures`]
//! (the scenarios), [`stats`] and [`table`] (the report), [`machine`].

pub mod cli;
pub mod figures;
pub mod machine;
pub mod procfs;
pub mod service;
pub mod spawn;
pub mod stats;
pub mod suite;
pub mod table;

use figures::{Ctx, Results, SCENARIOS};
use std::collections::BTreeMap;
use std::ffi::OsString;
use suite::Suite;
use table::Impl;

/// Exit code for a bad command line.
pub const EXIT_USAGE: i32 = 100;
/// Exit code when interrupted.
pub const EXIT_INTERRUPTED: i32 = 130;
/// Exit code when the benchmark cannot run at all.
pub const EXIT_FATAL: i32 = 111;

/// The program: parses `args` (argv[0] included), runs, returns the exit code.
pub fn entry(args: Vec<OsString>) -> i32 {
    let opts = match cli::parse(args.get(1..).unwrap_or_default()) {
        Ok(o) => o,
        Err(e) => {
            eprint!("runit-bench: {e}\n{}", cli::USAGE);
            return EXIT_USAGE;
        }
    };
    if opts.help {
        print!("{}", cli::USAGE);
        return 0;
    }
    if opts.list {
        for s in SCENARIOS {
            println!("{:<8} {}", s.key, s.about);
        }
        return 0;
    }
    let unknown = opts.only.iter().flatten().find(|k| !SCENARIOS.iter().any(|s| s.key == k.as_str()));
    if let Some(bad) = unknown {
        eprint!("runit-bench: unknown scenario: {bad} (see --list)\n{}", cli::USAGE);
        return EXIT_USAGE;
    }
    if let Err(e) = spawn::init() {
        eprintln!("runit-bench: fatal: cannot set up process handling: {e}");
        return EXIT_FATAL;
    }
    let code = run(&opts);
    spawn::reap_strays();
    spawn::remove_scratch_root();
    code
}

fn run(opts: &cli::Options) -> i32 {
    let Some(ours_dir) = opts.ours.clone().or_else(suite::default_ours_dir) else {
        eprintln!("runit-bench: fatal: cannot tell where our binaries are: use --ours DIR");
        return EXIT_FATAL;
    };
    if opts.ours.is_none() && !opts.no_build {
        for f in suite::build_ours(&ours_dir) {
            eprintln!("runit-bench: warning: {f}");
        }
    }
    if !suite::bench_is_release() {
        eprintln!("runit-bench: warning: this is a debug build of the benchmark; use --release");
    }
    let mut suites = BTreeMap::new();
    let runit_programs = suite::RUNIT_PROGRAMS;
    let mut ours_programs = runit_programs.to_vec();
    ours_programs.extend(suite::BOOT_PROGRAMS);
    suites.insert(Impl::Ours, Suite::probe(Impl::Ours, &ours_dir, &ours_programs));
    suites.insert(Impl::Runit, Suite::probe(Impl::Runit, &opts.runit, &runit_programs));
    if opts.s6 {
        suites
            .insert(Impl::S6, Suite::probe(Impl::S6, std::path::Path::new("/usr/bin"), &suite::S6_PROGRAMS));
    }
    let machine = machine::Machine::describe();
    let load_before = machine::load();
    eprint!("{}", machine.header());
    for s in suites.values() {
        eprintln!("{}: {} ({})", s.imp.name(), s.dir.display(), availability(s));
    }
    eprintln!("load average at start: {load_before}");
    let ctx = Ctx { quick: opts.quick, reps: opts.reps, suites };
    let mut res = Results::default();
    let started = std::time::Instant::now();
    for s in SCENARIOS {
        if opts.only.as_ref().is_some_and(|o| !o.iter().any(|k| k == s.key)) {
            continue;
        }
        if spawn::interrupted() {
            break;
        }
        eprintln!("[{}] {}", s.key, s.about);
        (s.run)(&ctx, &mut res);
        spawn::reap_strays();
    }
    let load_after = machine::load();
    print!("{}", machine.header());
    println!(
        "mode: {}; took {:.0} s; load average at start {load_before}, at end {load_after}",
        if opts.quick { "--quick" } else { "full" },
        started.elapsed().as_secs_f64()
    );
    println!();
    print!("{}", table::render(res.rows(), opts.s6));
    if spawn::interrupted() {
        eprintln!("runit-bench: interrupted");
        return EXIT_INTERRUPTED;
    }
    0
}

fn availability(s: &Suite) -> String {
    let missing: Vec<&str> =
        s.availability().iter().filter(|(_, ok)| !**ok).map(|(name, _)| name.as_str()).collect();
    if missing.is_empty() {
        "all programs usable".into()
    } else {
        format!("not built: {}", missing.join(", "))
    }
}
