//! boot: one machine image, any role, from instance tags.
//!
//! `boot` reads the instance's tags (IMDSv2, describe-tags JSON, legacy
//! text, a static file, the environment), resolves them into a mode
//! (`review`: every app and its databases; `staging`/`production`: one
//! service and component), renders runit service directories from the
//! `sv-templates/` catalogue, and switches the active set atomically under
//! our runsvdir; `boot down` returns the box to a first-boot state.
//! User documentation: docs/boot.md and docs/man/boot.8.
//!
//! The pipeline, one module each: `tags` (sources, merge, limits) ->
//! `plan` (validated decisions, from the `catalogue`, `envdir`, `runtime`
//! and the previous `state`) -> `render` (files and hash, in memory) ->
//! `apply` / `down` (the only modules that change the system), which drive
//! service control: `svctl` (runsv's `supervise/` files), `orphan`
//! (processes that outlived their runsv, on top of `svctl`), `runsvdir`.
//! `context` runs the read-only part for `plan`, `up` and `render`;
//! `status` reports; `cli` and this file sit on top.
//!
//! Imports go one way: the modules form layers, and each uses only modules
//! of lower layers, so there is no import cycle
//! (`tests::modules_form_a_one_way_pipeline` checks exactly this list):
//!
//! 1. `error`, `names`, `shell`, `sha256`, `users`, `layout`, `fsx`, and
//!    `svctl`, which uses no other module of boot;
//! 2. `config`, `lock`, `catalogue`, `envdir`, `orphan`;
//! 3. `tags`, `runtime`;
//! 4. `state`;
//! 5. `plan`, `runsvdir`;
//! 6. `render`;
//! 7. `context`;
//! 8. `down`, `status`;
//! 9. `apply` (it uses `down`; `down` never uses `apply`);
//! 10. `cli`.
#![deny(missing_docs)]

pub mod apply;
pub mod catalogue;
pub mod cli;
pub mod config;
pub mod context;
pub mod down;
pub mod envdir;
pub mod error;
pub mod fsx;
pub mod layout;
pub mod lock;
pub mod names;
pub mod orphan;
pub mod plan;
pub mod render;
pub mod runsvdir;
pub mod runtime;
pub mod sha256;
pub mod shell;
pub mod state;
pub mod status;
pub mod svctl;
pub mod tags;
pub mod users;

#[cfg(test)]
mod tests;

use cli::{Args, Command, Invocation};
use context::{Allow, Boot};
use error::{BootError, Context, Exit, Result};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The program's entry: parses `argv`, runs the command, prints the
/// result or `boot: fatal: …`, returns the exit code.
pub fn entry(argv: Vec<OsString>) -> i32 {
    let args = match cli::parse(argv.get(1..).unwrap_or_default()) {
        Ok(Invocation::Run(a)) => a,
        Ok(Invocation::Print(text)) => return output(&text),
        Err(msg) => {
            let text = format!("boot: {msg}\n{}", runit_core::report::usage_text("boot", cli::SYNOPSIS));
            runit_core::report::write_stderr(text.as_bytes());
            return Exit::Usage.code();
        }
    };
    init_logging(args.verbosity, std::env::var("RUST_LOG").ok().as_deref());
    match run(&args) {
        Ok(out) => output(&out),
        Err(e) => {
            runit_core::report::write_stderr(format!("boot: fatal: {e}\n").as_bytes());
            e.exit().code()
        }
    }
}

/// Writes the command's result to stdout. A failed write (a full disk
/// under `boot status --prometheus >file`) is exit 111, never a silent
/// success with half the output.
fn output(text: &str) -> i32 {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Exit::Ok.code(),
        Err(e) => {
            let e = BootError::io("unable to write the output", e);
            runit_core::report::write_stderr(format!("boot: fatal: {e}\n").as_bytes());
            e.exit().code()
        }
    }
}

/// Sets up `log` on stderr: `boot: <message>` for info, `boot: <level>:
/// <message>` otherwise. The level is info, one step per `-v` (debug,
/// trace) or `-q` (warn, error, off); without either, `RUST_LOG` (env_logger
/// syntax) applies when set.
pub fn init_logging(verbosity: i8, rust_log: Option<&str>) {
    use std::io::Write;
    let level = match verbosity {
        i8::MIN..=-3 => log::LevelFilter::Off,
        -2 => log::LevelFilter::Error,
        -1 => log::LevelFilter::Warn,
        0 => log::LevelFilter::Info,
        1 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    };
    let mut b = env_logger::Builder::new();
    b.filter_level(level);
    if let Some(spec) = rust_log.filter(|s| verbosity == 0 && !s.is_empty()) {
        b.parse_filters(spec);
    }
    b.format(|buf, r| match r.level() {
        log::Level::Info => writeln!(buf, "boot: {}", r.args()),
        l => writeln!(buf, "boot: {}: {}", l.as_str().to_ascii_lowercase(), r.args()),
    });
    b.target(env_logger::Target::Stderr);
    // A second call (tests) keeps the first logger.
    let _ = b.try_init();
}

/// Builds the invocation context from arguments and the environment.
pub fn context(args: &Args, env: BTreeMap<String, String>) -> Result<Boot> {
    let root =
        args.root.clone().or_else(|| env.get("BOOT_ROOT").map(PathBuf::from)).unwrap_or_else(|| "/".into());
    let layout = layout::Layout::new(root);
    let config_path = args.config.clone().unwrap_or_else(|| layout.config_file());
    let config = config::Config::load(&config_path, args.config.is_some())?;
    let catalogue_dir = args
        .catalogue
        .clone()
        .or_else(|| config.catalogue.clone())
        .unwrap_or_else(|| layout.at("/usr/share/boot/sv-templates"));
    let bin_dir = match args.bin_dir.clone().or_else(|| config.bin_dir.clone()) {
        Some(d) => d,
        None => std::env::current_exe()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .ok_or_else(|| BootError::invalid("cannot tell where boot is installed; use --bin-dir"))?,
    };
    let specs = if args.sources.is_empty() { config.sources.clone() } else { args.sources.clone() };
    let sources = specs.iter().map(|s| tags::Source::parse(s)).collect::<Result<Vec<_>>>()?;
    let wait = std::time::Duration::from_secs(args.wait.unwrap_or(config.wait_s));
    Ok(Boot { layout, config, catalogue_dir, bin_dir, env, sources, wait, privileged: fsx::is_root() })
}

fn run(args: &Args) -> Result<String> {
    let env: BTreeMap<String, String> = std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect();
    let boot = context(args, env)?;
    match args.command.clone().ok_or_else(|| BootError::Usage("no command".into()))? {
        Command::Plan(allow) => apply::plan(&boot, allow),
        Command::Up(opts) => apply::up(&boot, opts),
        Command::Down { purge } => down::down(&boot, purge),
        Command::Status { format } => status::status(&boot, format),
        Command::Tags { json } => Ok(status::tags(&boot.fetch_tags()?, json)),
        Command::Render { out } => render_to(&boot, &out),
    }
}

/// `boot render --out DIR`: the service directories `up` would write, as
/// `DIR/<name>@<hash>/`, without touching boot's state. Refusals of mode
/// changes do not apply (nothing is applied).
fn render_to(boot: &Boot, out: &Path) -> Result<String> {
    let cat = boot.catalogue()?;
    let tags = boot.fetch_tags()?;
    let allow = Allow { mode_change: true, service_change: true };
    let prep = boot.prepare(tags, &cat, None, allow)?;
    fsx::ensure_dir(out, 0o755).ctx(|| format!("unable to create {}", out.display()))?;
    let mut listing = String::new();
    for r in &prep.rendered {
        let dir = out.join(r.dirname());
        fsx::remove_any(&dir).ctx(|| format!("unable to replace {}", dir.display()))?;
        std::fs::create_dir(&dir).ctx(|| format!("unable to create {}", dir.display()))?;
        for (rel, node) in &r.nodes {
            let p = dir.join(rel);
            let res = match node {
                render::Node::Dir(m) => std::fs::create_dir(&p).and_then(|()| {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(*m))
                }),
                render::Node::File(m, bytes) => fsx::create_file(&p, bytes, *m),
                render::Node::Symlink(t) => std::os::unix::fs::symlink(t, &p),
            };
            res.ctx(|| format!("unable to write {}", p.display()))?;
        }
        listing += &format!("{}\n", dir.display());
    }
    Ok(listing)
}
