//! `boot plan` and `boot up`: the atomic, idempotent apply (design notes §5.6).
//!
//! 1. Fetch tags, resolve, render in memory. Any error here exits before a
//!    single byte is written. Same hashes, same active set, every runsv
//!    alive: no-op, nothing written, nothing forked.
//! 2. Lock; write new service directories through a private staging
//!    directory (renamed into `sv/<name>@<hash>`); prepare data and log
//!    directories; build `sets/g<N>`.
//! 3. Stop changed and removed services (`d` -> `control/t` -> escalation),
//!    and their loggers, *before* the switch: runsvdir identifies services
//!    by directory inode and would otherwise start the new one in the same
//!    scan that stops the old one, so they would overlap.
//! 4. Swap `current` to `sets/g<N>` with one rename. Unchanged services keep
//!    their directory, so runsvdir leaves them (same pids).
//! 5. Wait for runsv to pick up new services, then for readiness in
//!    dependency order. On failure, roll back to the previous set (or to a
//!    clean box on a first `up`).
//! 6. Write `state.json`; remove directories and sets no longer used once
//!    their runsv has gone.

use crate::context::{Allow, Boot, Prepared};
use crate::down;
use crate::error::{BootError, Context, Result};
use crate::fsx;
use crate::plan::PlannedService;
use crate::render::{Node, Rendered};
use crate::runsvdir;
use crate::state::{self, Runsvdir, ServiceState, State};
use crate::svctl;
use runit_core::supervise::Supervise;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

/// What changes between the applied state and a plan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// Same name, same hash.
    pub unchanged: Vec<String>,
    /// Same name, new hash.
    pub changed: Vec<String>,
    /// New.
    pub added: Vec<String>,
    /// Gone.
    pub removed: Vec<String>,
}

impl Diff {
    /// Compares `prev` with `rendered`.
    pub fn compute(prev: Option<&State>, rendered: &[Rendered]) -> Diff {
        let mut d = Diff::default();
        for r in rendered {
            match prev.and_then(|s| s.services.get(&r.name)) {
                Some(s) if s.hash == r.hash => d.unchanged.push(r.name.clone()),
                Some(_) => d.changed.push(r.name.clone()),
                None => d.added.push(r.name.clone()),
            }
        }
        if let Some(s) = prev {
            d.removed = s.order.iter().filter(|n| !rendered.iter().any(|r| &r.name == *n)).cloned().collect();
        }
        d
    }

    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.changed.is_empty() && self.added.is_empty() && self.removed.is_empty()
    }

    fn stops(&self, name: &str) -> bool {
        self.changed.iter().chain(&self.removed).any(|n| n == name)
    }

    /// `unchanged: …` lines.
    pub fn text(&self) -> String {
        let line =
            |k: &str, v: &[String]| format!("{k}: {}\n", if v.is_empty() { "-".into() } else { v.join(" ") });
        line("unchanged", &self.unchanged)
            + &line("changed", &self.changed)
            + &line("added", &self.added)
            + &line("removed", &self.removed)
    }
}

/// Options of `up`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UpOptions {
    /// Allowed changes.
    pub allow: Allow,
    /// Start our runsvdir on `current` if none of ours runs.
    pub spawn_runsvdir: bool,
}

/// `boot plan`: what `up` would do, without writing anything.
pub fn plan(boot: &Boot, allow: Allow) -> Result<String> {
    let cat = boot.catalogue()?;
    let tags = boot.fetch_tags()?;
    let state = State::load(&boot.layout.state_file())?;
    let other = Boot::other_instance(state.as_ref(), &tags);
    let prev = if other { None } else { state.as_ref() };
    let prep = boot.prepare(tags, &cat, prev, allow)?;
    let diff = Diff::compute(prev, &prep.rendered);
    let p = &prep.plan;
    let mut out = format!("mode: {}\nenvironment: {}\n", p.mode.as_str(), p.env_name);
    if let (Some(s), Some(c)) = (&p.service, &p.component) {
        out += &format!("service: {s}\ncomponent: {c}\n");
    }
    if let Some(id) = &p.tags.instance_id {
        out += &format!("instance: {} ({})\n", id.value, id.source);
    }
    if other {
        out += "new instance: the applied state belongs to another instance and will be cleaned first\n";
    }
    for r in &prep.rendered {
        out += &format!("service {}\n", r.dirname());
    }
    out += &diff.text();
    if !boot.privileged {
        out += "note: not running as root: services run as the invoking user\n";
    }
    Ok(out)
}

/// `boot up`.
pub fn up(boot: &Boot, opts: UpOptions) -> Result<String> {
    let cat = boot.catalogue()?;
    let tags = boot.fetch_tags()?;
    // Everything is validated before the first write.
    let state0 = State::load(&boot.layout.state_file())?;
    let other0 = Boot::other_instance(state0.as_ref(), &tags);
    let prev0 = if other0 { None } else { state0.as_ref() };
    let prep0 = boot.prepare(tags.clone(), &cat, prev0, opts.allow)?;
    if let Some(st) = prev0
        && Diff::compute(Some(st), &prep0.rendered).is_empty()
        && settled(boot, st, opts)
    {
        return Ok(format!("no changes ({} {})\n", state::set_name(st.generation), st.mode));
    }
    fsx::ensure_dir(&boot.layout.state_dir(), 0o755).ctx(|| "unable to create state directory".into())?;
    let _lock = crate::lock::acquire(&boot.layout.lock_file(), Duration::from_secs(60))?;
    let mut state = State::load(&boot.layout.state_file())?;
    let mut notes = String::new();
    if Boot::other_instance(state.as_ref(), &tags) {
        notes += &down::teardown(boot, state.take(), false, false)?;
        notes += "cleaned the state of another instance first\n";
    }
    let prep = boot.prepare(tags, &cat, state.as_ref(), opts.allow)?;
    let diff = Diff::compute(state.as_ref(), &prep.rendered);
    match state {
        Some(st) if diff.is_empty() => repair(boot, st, &prep, opts).map(|s| notes + &s),
        st => apply(boot, st, prep, diff, opts).map(|s| notes + &s),
    }
}

/// The applied set is current and every runsv is alive.
fn settled(boot: &Boot, st: &State, opts: UpOptions) -> bool {
    let set = Path::new("sets").join(state::set_name(st.generation));
    std::fs::read_link(boot.layout.current()).is_ok_and(|l| l == set)
        && (!opts.spawn_runsvdir || st.runsvdir.is_some_and(|r| runsvdir::running(&r)))
        && st
            .services
            .iter()
            .all(|(n, s)| svctl::alive(&boot.layout.service_dir(&s.dirname(n)), Supervise::MAIN))
}

/// Same plan, but something is off (runsvdir gone, `current` missing):
/// put the applied set back in place without a new generation.
fn repair(boot: &Boot, mut st: State, prep: &Prepared, opts: UpOptions) -> Result<String> {
    let set = Path::new("sets").join(state::set_name(st.generation));
    if !boot.layout.state_dir().join(&set).is_dir() {
        // The set itself is gone: rebuild it under the same generation.
        write_set(boot, &state::set_name(st.generation), &entries(&prep.rendered))?;
    }
    for (r, s) in prep.rendered.iter().zip(&prep.plan.services) {
        if !boot.layout.service_dir(&r.dirname()).is_dir() {
            write_service(boot, r)?;
        }
        prepare_dirs(boot, s, r)?;
    }
    fsx::replace_symlink(&set, &boot.layout.current()).ctx(|| "unable to switch current".into())?;
    st.runsvdir = ensure_runsvdir(boot, st.runsvdir, opts.spawn_runsvdir)?;
    // Recorded before waiting, so a runsvdir started here is never lost.
    st.save(&boot.layout.state_file())?;
    let all: Vec<String> = st.order.clone();
    wait_up(boot, prep, &all).map_err(BootError::Failed)?;
    Ok(format!("no changes ({} {}); supervision restored\n", state::set_name(st.generation), st.mode))
}

fn apply(boot: &Boot, old: Option<State>, prep: Prepared, diff: Diff, opts: UpOptions) -> Result<String> {
    let started = Instant::now();
    let l = &boot.layout;
    for (d, mode) in
        [(l.sv_dir(), 0o755), (l.sets_dir(), 0o755), (l.run_dir(), 0o755), (l.supervise_root(), 0o700)]
    {
        fsx::ensure_dir(&d, mode).ctx(|| format!("unable to create {}", d.display()))?;
    }
    for (r, s) in prep.rendered.iter().zip(&prep.plan.services) {
        if !l.service_dir(&r.dirname()).is_dir() {
            write_service(boot, r)?;
        }
        prepare_dirs(boot, s, r)?;
    }
    let generation = old.as_ref().map_or(1, |s| s.generation + 1);
    let name = state::set_name(generation);
    write_set(boot, &name, &entries(&prep.rendered))?;
    if let Some(o) = &old {
        let mut leaving = Vec::new();
        for n in o.order.iter().rev().filter(|n| diff.stops(n)) {
            if let Some(ss) = o.services.get(n) {
                let dir = l.service_dir(&ss.dirname(n));
                stop_service(&dir, ss);
                leaving.push(dir);
            }
        }
        let stay: Vec<(String, String)> =
            entries(&prep.rendered).into_iter().filter(|(n, _)| diff.unchanged.contains(n)).collect();
        retire(boot, &format!("{name}.bridge"), &stay, &leaving)?;
    }
    switch(boot, &name)?;
    let runsvdir = ensure_runsvdir(boot, old.as_ref().and_then(|s| s.runsvdir), opts.spawn_runsvdir)?;
    let new = new_state(&prep, generation, old.as_ref().map(|s| s.generation), runsvdir);
    let fresh: Vec<String> = diff.changed.iter().chain(&diff.added).cloned().collect();
    match wait_up(boot, &prep, &fresh) {
        Ok(()) => {
            new.save(&l.state_file())?;
            gc(boot, &new);
            Ok(format!(
                "{} {} ready in {:.1} s\n{}",
                state::set_name(generation),
                new.mode,
                started.elapsed().as_secs_f64(),
                diff.text()
            ))
        }
        Err(why) => rollback(boot, old, new, &diff, why),
    }
}

fn new_state(prep: &Prepared, generation: u64, previous: Option<u64>, runsvdir: Option<Runsvdir>) -> State {
    let p = &prep.plan;
    let services = p
        .services
        .iter()
        .zip(&prep.rendered)
        .map(|(s, r)| {
            let ss = ServiceState {
                hash: r.hash.clone(),
                component: s.component.clone(),
                deps: s.deps.clone(),
                stop_timeout_s: s.manifest.stop.timeout_s,
                stop_signal: s.manifest.stop.signal.clone(),
                group_stop: s.manifest.stop.group && s.manifest.process.process_group,
                check_timeout_s: s.manifest.ready_timeout_s(),
                port: s.port,
            };
            (s.name.clone(), ss)
        })
        .collect();
    State {
        schema: state::SCHEMA,
        instance_id: p.instance_id.clone(),
        generation,
        previous_generation: previous,
        mode: p.mode.as_str().into(),
        env: p.env_name.clone(),
        service: p.service.clone(),
        component: p.component.clone(),
        tags: p.tags.tags.clone(),
        services,
        order: p.services.iter().map(|s| s.name.clone()).collect(),
        runsvdir,
    }
}

/// Stops one service's main process (graceful, then escalated). Its
/// logger is left to drain: it exits at end of input when runsv goes.
pub fn stop_service(dir: &Path, ss: &ServiceState) -> svctl::Stopped {
    let how = ss.stop_how();
    log::info!(
        "stopping {}: SIG{}, waiting up to {} s before SIGKILL",
        dir.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
        ss.stop_signal,
        how.timeout.as_secs()
    );
    svctl::stop(dir, how)
}

/// Waits for runsv to take `fresh` services, then for every service to be
/// ready, dependencies first.
fn wait_up(boot: &Boot, prep: &Prepared, fresh: &[String]) -> std::result::Result<(), String> {
    let start_timeout = Duration::from_secs(boot.config.start_timeout_s);
    for r in prep.rendered.iter().filter(|r| fresh.contains(&r.name)) {
        let dir = boot.layout.service_dir(&r.dirname());
        if !svctl::alive(&dir, Supervise::MAIN) {
            log::info!("waiting up to {} s for runsv to pick up {}", start_timeout.as_secs(), r.name);
        }
        if !svctl::wait(start_timeout, || svctl::alive(&dir, Supervise::MAIN)) {
            return Err(format!(
                "no runsv picked up {} within {} s (is a runsvdir scanning {}?)",
                r.name,
                start_timeout.as_secs(),
                boot.layout.current().display()
            ));
        }
    }
    for (r, s) in prep.rendered.iter().zip(&prep.plan.services) {
        let dir = boot.layout.service_dir(&r.dirname());
        let t = Duration::from_secs(s.manifest.ready_timeout_s().unwrap_or(boot.config.start_timeout_s));
        log::info!("waiting up to {} s for {} to be ready", t.as_secs(), r.name);
        let started = Instant::now();
        if let Some(why) = svctl::ready(&r.name, &dir, t) {
            return Err(format!("{} is not ready after {} s: {why}", r.name, t.as_secs()));
        }
        log::info!("{} is ready ({:.1} s)", r.name, started.elapsed().as_secs_f64());
    }
    Ok(())
}

fn rollback(boot: &Boot, old: Option<State>, failed: State, diff: &Diff, why: String) -> Result<String> {
    let l = &boot.layout;
    if !boot.config.rollback {
        failed.save(&l.state_file())?;
        return Err(BootError::Failed(format!("{why}; left in place (rollback = false)")));
    }
    let Some(mut old) = old else {
        down::teardown(boot, Some(failed), false, false)?;
        return Err(BootError::Failed(format!("{why}; rolled back to a clean box")));
    };
    let mut leaving = Vec::new();
    for name in failed.order.iter().rev().filter(|n| diff.changed.contains(n) || diff.added.contains(n)) {
        if let Some(ss) = failed.services.get(name) {
            let dir = l.service_dir(&ss.dirname(name));
            stop_service(&dir, ss);
            leaving.push(dir);
        }
    }
    let stay: Vec<(String, String)> = failed
        .services
        .iter()
        .filter(|(n, _)| diff.unchanged.contains(n))
        .map(|(n, ss)| (n.clone(), ss.dirname(n)))
        .collect();
    retire(boot, &format!("{}.bridge", state::set_name(failed.generation)), &stay, &leaving)?;
    switch(boot, &state::set_name(old.generation))?;
    old.runsvdir = failed.runsvdir;
    old.save(&l.state_file())?;
    let start_timeout = Duration::from_secs(boot.config.start_timeout_s);
    for name in old.order.iter().filter(|n| diff.stops(n)) {
        if let Some(ss) = old.services.get(name) {
            let dir = l.service_dir(&ss.dirname(name));
            svctl::wait(start_timeout, || svctl::alive(&dir, Supervise::MAIN));
        }
    }
    gc(boot, &old);
    Err(BootError::Failed(format!("{why}; rolled back to {}", state::set_name(old.generation))))
}

/// Writes `r` into `sv/<name>@<hash>` through a private staging directory.
fn write_service(boot: &Boot, r: &Rendered) -> Result<()> {
    let sv = boot.layout.sv_dir();
    let staging = sv.join(fsx::unique_name(".staging-"));
    let what = || format!("unable to write {}", r.dirname());
    fsx::ensure_dir(&staging, 0o700).ctx(what)?;
    let result = (|| {
        let top = staging.join(r.dirname());
        std::fs::create_dir(&top)?;
        set_mode(&top, 0o755)?;
        for (rel, node) in &r.nodes {
            let p = top.join(rel);
            match node {
                Node::Dir(m) => {
                    std::fs::create_dir(&p)?;
                    set_mode(&p, *m)?;
                }
                Node::File(m, bytes) => fsx::create_file(&p, bytes, *m)?,
                Node::Symlink(t) => std::os::unix::fs::symlink(t, &p)?,
            }
        }
        std::fs::rename(&top, sv.join(r.dirname()))
    })();
    let _ = fsx::remove_any(&staging);
    result.ctx(what)
}

fn set_mode(p: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

/// Data directory (0700, owned by the service user) and log directory
/// (owned by the log user) with svlogd's `config`.
fn prepare_dirs(boot: &Boot, s: &PlannedService, r: &Rendered) -> Result<()> {
    if let Some(d) = &s.data_dir {
        fsx::ensure_dir(&boot.layout.data_root(), 0o755).ctx(|| "unable to create data directory".into())?;
        fsx::ensure_dir(d, 0o700).ctx(|| format!("unable to create {}", d.display()))?;
        if let Some(u) = &s.run_as {
            fsx::lchown(d, u.uid, u.gid).ctx(|| format!("unable to chown {}", d.display()))?;
        }
    }
    fsx::ensure_dir(&boot.layout.log_root(), 0o755).ctx(|| "unable to create log directory".into())?;
    fsx::ensure_dir(&s.log_dir, 0o750).ctx(|| format!("unable to create {}", s.log_dir.display()))?;
    if let Some(u) = &s.log_as {
        fsx::lchown(&s.log_dir, u.uid, u.gid).ctx(|| format!("unable to chown {}", s.log_dir.display()))?;
    }
    let config = r.file("log/config").unwrap_or_default();
    let path = s.log_dir.join("config");
    if std::fs::read(&path).ok().as_deref() != Some(config) {
        fsx::replace_file(&path, config, 0o644).ctx(|| format!("unable to write {}", path.display()))?;
    }
    Ok(())
}

/// `(entry name, service directory name)` of each rendered service.
fn entries(rendered: &[Rendered]) -> Vec<(String, String)> {
    rendered.iter().map(|r| (r.name.clone(), r.dirname())).collect()
}

/// Builds `sets/<name>` (entries `<svc> -> ../../sv/<svc>@<hash>`) atomically.
fn write_set(boot: &Boot, name: &str, entries: &[(String, String)]) -> Result<()> {
    let sets = boot.layout.sets_dir();
    let tmp = sets.join(fsx::unique_name(&format!(".{name}-")));
    let what = || format!("unable to write set {name}");
    fsx::ensure_dir(&tmp, 0o755).ctx(what)?;
    let result = (|| {
        for (svc, dir) in entries {
            std::os::unix::fs::symlink(Path::new("../../sv").join(dir), tmp.join(svc))?;
        }
        fsx::remove_any(&sets.join(name))?;
        std::fs::rename(&tmp, sets.join(name))
    })();
    if result.is_err() {
        let _ = fsx::remove_any(&tmp);
    }
    result.ctx(what)
}

/// Points `current` at `sets/<name>`.
fn switch(boot: &Boot, name: &str) -> Result<()> {
    fsx::replace_symlink(&Path::new("sets").join(name), &boot.layout.current())
        .ctx(|| "unable to switch current".into())
}

/// Retires services whose main process is already down: switches to a
/// bridge set holding only `stay`, so runsvdir TERMs the leaving runsv
/// (which closes its log pipe: the logger drains to end of input and
/// exits, losing nothing), and waits until they are gone. Only then may a
/// new generation start loggers on the same log directories.
fn retire(
    boot: &Boot,
    bridge: &str,
    stay: &[(String, String)],
    leaving: &[std::path::PathBuf],
) -> Result<()> {
    if leaving.is_empty() {
        return Ok(());
    }
    write_set(boot, bridge, stay)?;
    switch(boot, bridge)?;
    for d in leaving {
        svctl::exit(d);
    }
    svctl::wait(Duration::from_secs(boot.config.start_timeout_s), || leaving.iter().all(|d| svctl::gone(d)));
    Ok(())
}

/// Our runsvdir: the recorded one if it still runs, else a new one when asked.
fn ensure_runsvdir(boot: &Boot, prev: Option<Runsvdir>, spawn: bool) -> Result<Option<Runsvdir>> {
    if let Some(r) = prev.filter(runsvdir::running) {
        return Ok(Some(r));
    }
    if !spawn {
        return Ok(None);
    }
    fsx::ensure_dir(&boot.layout.log_root(), 0o755).ctx(|| "unable to create log directory".into())?;
    let mut env = vec![("PATH".to_string(), format!("{}:{}", boot.bin_dir.display(), boot.config.path))];
    for k in &boot.config.pass_env {
        if let Some(v) = boot.env.get(k) {
            env.push((k.clone(), v.clone()));
        }
    }
    let log = boot.layout.log_root().join("runsvdir.log");
    runsvdir::spawn(&boot.bin("runsvdir"), &boot.layout.current(), &log, &env).map(Some)
}

/// Removes sets, service directories and supervise directories that the
/// applied state no longer uses, once no runsv holds them.
pub fn gc(boot: &Boot, st: &State) {
    let l = &boot.layout;
    let keep: BTreeSet<String> = st.services.iter().map(|(n, s)| s.dirname(n)).collect();
    let current = state::set_name(st.generation);
    for e in std::fs::read_dir(l.sets_dir()).into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy() != current.as_str() {
            let _ = fsx::remove_any(&e.path());
        }
    }
    let timeout = Duration::from_secs(boot.config.start_timeout_s);
    for e in std::fs::read_dir(l.sv_dir()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if keep.contains(&name) {
            continue;
        }
        if name.starts_with('.') || svctl::wait(timeout, || svctl::gone(&e.path())) {
            let _ = fsx::remove_any(&e.path());
        }
    }
    for e in std::fs::read_dir(l.supervise_root()).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let base = name.strip_suffix(".log").unwrap_or(&name);
        if !keep.contains(base) && !l.service_dir(base).exists() {
            let _ = fsx::remove_any(&e.path());
        }
    }
}
