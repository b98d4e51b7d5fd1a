//! `boot up` of the review sample stack, and a no-op re-run.
//!
//! `boot` is driven as a black box, the way its end-to-end tests and the
//! README drive it: a scratch root with `etc/boot/boot.toml` pointing at a
//! copy of `sv-templates/` and a bin directory of our binaries, private
//! loopback ports, and the static tag source (review mode). Each sample:
//!
//! 1. `boot --root R up --spawn-runsvdir` on the empty root, timed to its
//!    exit: boot renders the stack, starts runsvdir and waits for every
//!    service's `check` in dependency order (this includes PostgreSQL's
//!    first `initdb`, as on a new instance). It must exit 0; then every
//!    service must be up and the web page must report both databases ok.
//! 2. The same command again, timed: nothing changed, so it must exit 0
//!    saying "no changes" (the target: under 100 ms).
//! 3. `boot down --purge`, then everything still carrying the scenario's
//!    tag (boot passes it to the runsvdir it spawns) is killed.
//!
//! Needs root (services run as other users), Debian's PostgreSQL 15 and
//! redis-server; without them the cells say why.

use super::{Ctx, Results, alternate, ms};
use crate::service::{self, Style};
use crate::spawn::{self, Group, Scratch, TAG_VAR};
use crate::suite::Suite;
use crate::table::{Better, Cell, Figure, Impl, Target, Unit};
use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Our programs a review box needs (in the boot.toml bin dir).
const BIN: [&str; 8] = ["boot", "chpst", "svlogd", "sv", "runsv", "runsvdir", "sample-web", "sample-worker"];
/// What the review stack needs from Debian (PostgreSQL of any major
/// version: the catalogue finds the newest at render time).
const DEBIAN: [&str; 2] = ["/usr/lib/postgresql", "/usr/bin/redis-server"];

/// `boot up` until every check passes; no-op re-run.
pub fn up(ctx: &Ctx, res: &mut Results) {
    let keys = ["boot-up", "boot-noop"];
    res.figure(Figure {
        key: keys[0],
        title: "boot up of the review stack until every check passes".into(),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::Report,
    });
    res.figure(Figure {
        key: keys[1],
        title: "boot up, no-op re-run".into(),
        unit: Unit::Millis,
        better: Better::Lower,
        target: Target::Below(100.0),
    });
    let Some(suite) = ctx.suite(Impl::Ours) else { return };
    if !suite.has(&BIN) {
        keys.iter().for_each(|k| res.set(k, Impl::Ours, Cell::NotBuilt));
        return;
    }
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if let Some(missing) = DEBIAN.iter().find(|p| !Path::new(p).exists()) {
        keys.iter().for_each(|k| res.fail(k, Impl::Ours, &format!("{missing} is not installed")));
        return;
    }
    if !root {
        keys.iter().for_each(|k| res.fail(k, Impl::Ours, "needs root (services run as other users)"));
        return;
    }
    alternate(res, &keys, vec![Impl::Ours], ctx.reps(3, 1), |_, _| review_box(suite));
}

/// One sample: up, no-op up, down (see the module docs).
fn review_box(suite: &Suite) -> Result<Vec<f64>, String> {
    let scratch = Scratch::new("boot")?;
    let root = scratch.join("root");
    let catalogue = scratch.join("catalogue");
    let bin = scratch.join("bin");
    fs::create_dir_all(root.join("etc/boot")).map_err(|e| format!("mkdir: {e}"))?;
    fs::create_dir_all(&bin).map_err(|e| format!("mkdir: {e}"))?;
    let templates = crate::suite::workspace_root().join("sv-templates");
    let (_, cp) = spawn::run_timed(
        Command::new("cp").arg("-a").arg(&templates).arg(&catalogue),
        "cp",
        Duration::from_secs(30),
    )?;
    if cp.code() != Some(0) {
        return Err(format!("cannot copy {}", templates.display()));
    }
    for b in BIN {
        std::os::unix::fs::symlink(suite.dir.join(b), bin.join(b)).map_err(|e| format!("symlink: {e}"))?;
    }
    let web = free_port()?;
    let config = format!(
        // boot's default source is imds alone: the review box names the static one.
        "catalogue = {:?}\nbin_dir = {:?}\npass_env = [{TAG_VAR:?}]\nstart_timeout_s = 120\n\
         sources = [\"static\"]\n[ports]\nweb = {web}\npostgres = {}\nredis = {}\n",
        catalogue.display().to_string(),
        bin.display().to_string(),
        free_port()?,
        free_port()?
    );
    fs::write(root.join("etc/boot/boot.toml"), config).map_err(|e| format!("boot.toml: {e}"))?;
    let tag = spawn::new_tag();
    let result = measure(&scratch, &root, &bin, &tag, web);
    let down = boot(&scratch, &root, &bin, &tag, &["down", "--purge"]);
    let swept = spawn::sweep(&tag, "review box");
    let values = result?;
    down?;
    swept?;
    Ok(values)
}

fn measure(scratch: &Scratch, root: &Path, bin: &Path, tag: &str, web: u16) -> Result<Vec<f64>, String> {
    let (up, out) = boot(scratch, root, bin, tag, &["up", "--spawn-runsvdir"])?;
    let current = root.join("var/lib/boot/current");
    let services: Vec<_> = fs::read_dir(&current)
        .map_err(|e| format!("{}: {e}", current.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    if services.len() < 4 {
        return Err(format!("only {} services in {}: {out}", services.len(), current.display()));
    }
    if let Some(down) = services.iter().find(|d| service::up_pid(Style::Runit, d).is_none()) {
        return Err(format!("boot up returned but {} is not up", down.display()));
    }
    let page = http_get(web, "/")?;
    if !(page.contains("redis: ok") && page.contains("postgres: ok")) {
        return Err(format!("the web page does not report both databases ok: {page}"));
    }
    let (noop, out) = boot(scratch, root, bin, tag, &["up", "--spawn-runsvdir"])?;
    if !out.starts_with("no changes") {
        return Err(format!("the re-run was not a no-op: {}", out.lines().next().unwrap_or("")));
    }
    Ok(vec![ms(up), ms(noop)])
}

/// Runs `boot --root ROOT ARGS` carrying `tag`, timed; it must exit 0.
/// Returns the time and its standard output.
fn boot(
    scratch: &Scratch,
    root: &Path,
    bin: &Path,
    tag: &str,
    args: &[&str],
) -> Result<(Duration, String), String> {
    let out_path = scratch.join("boot.out");
    let err_path = scratch.join("boot.err");
    let out = fs::File::create(&out_path).map_err(|e| format!("create: {e}"))?;
    let err = fs::File::create(&err_path).map_err(|e| format!("create: {e}"))?;
    let mut cmd = Command::new(bin.join("boot"));
    cmd.arg("--root").arg(root).args(args);
    cmd.env_clear().env("PATH", format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display()));
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let label = format!("boot {}", args.join(" "));
    let t0 = std::time::Instant::now();
    let mut g = Group::spawn_tagged(&mut cmd, &label, tag)?;
    let exit = g.wait(Duration::from_secs(300));
    let took = t0.elapsed();
    let exit = exit?;
    g.release()?;
    let stdout = fs::read_to_string(&out_path).unwrap_or_default();
    if exit.code() != Some(0) {
        let stderr = fs::read_to_string(&err_path).unwrap_or_default();
        let last = stderr.lines().last().unwrap_or("");
        return Err(format!("{label}: {}: {last}", exit.describe()));
    }
    Ok((took, stdout))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The body of `GET path` from 127.0.0.1:`port` (HTTP/1.0).
fn http_get(port: u16, path: &str) -> Result<String, String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect to web on port {port}: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .map_err(|e| format!("send to web: {e}"))?;
    let mut body = String::new();
    s.read_to_string(&mut body).map_err(|e| format!("read from web: {e}"))?;
    Ok(body)
}
