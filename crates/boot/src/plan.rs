//! The resolver: merged (untrusted) tags + catalogue + configuration ->
//! a validated [`Plan`]. Pure apart from reading the catalogue's env
//! layers and looking up users; nothing is written.
//!
//! Fail closed: a missing or unknown mode, service or component, an
//! environment that has no layer, a hostile value in a whitelisted tag — each
//! is an error before any write. A change of mode, or of service/component in
//! staging/production, against the applied state is refused unless
//! explicitly allowed (tags can be edited live by anyone with
//! `ec2:CreateTags`). Tag values are only ever compared against catalogue
//! names; the only tag data that goes further are the whitelisted values,
//! which reach services as env-file data.

use crate::catalogue::{Catalogue, Kind, Manifest};
use crate::config::Config;
use crate::envdir::{self, Env};
use crate::error::{BootError, Result};
use crate::names;
use crate::state::State;
use crate::tags::{TagSet, files::ASG_KEY};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use crate::catalogue::Mode;

/// A user switch: user and group names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunAs {
    /// User name.
    pub user: String,
    /// Group name (None: the user's primary group).
    pub group: Option<String>,
    /// uid.
    pub uid: u32,
    /// gid.
    pub gid: u32,
}

/// One service to run.
#[derive(Debug, Clone)]
pub struct PlannedService {
    /// Catalogue name (also the entry name in the active set).
    pub name: String,
    /// Component.
    pub component: String,
    /// Review-mode dependencies on this box.
    pub deps: Vec<String>,
    /// The manifest.
    pub manifest: Manifest,
    /// Resolved argv (absolute program).
    pub argv: Vec<String>,
    /// Resolved check argv.
    pub check: Option<Vec<String>>,
    /// Resolved data init argv.
    pub init: Option<Vec<String>>,
    /// The data directory.
    pub data_dir: Option<PathBuf>,
    /// Working directory.
    pub workdir: String,
    /// Flattened environment.
    pub env: Env,
    /// User switch (only when boot runs as root).
    pub run_as: Option<RunAs>,
    /// svlogd's user (only when boot runs as root).
    pub log_as: Option<RunAs>,
    /// Its port.
    pub port: Option<u16>,
    /// Its svlogd directory.
    pub log_dir: PathBuf,
}

/// What `up` would apply.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Mode.
    pub mode: Mode,
    /// Config environment.
    pub env_name: String,
    /// Selected service (staging/production).
    pub service: Option<String>,
    /// Selected component (staging/production).
    pub component: Option<String>,
    /// Instance id.
    pub instance_id: Option<String>,
    /// The merged tags.
    pub tags: TagSet,
    /// Services, dependencies first.
    pub services: Vec<PlannedService>,
}

/// Everything the resolver needs.
#[derive(Debug)]
pub struct Inputs<'a> {
    /// Configuration.
    pub config: &'a Config,
    /// Catalogue.
    pub catalogue: &'a Catalogue,
    /// Env layer tree.
    pub env_dir: &'a Path,
    /// Where the suite's binaries are.
    pub bin_dir: &'a Path,
    /// `<root>/var/lib/boot/data`.
    pub data_root: &'a Path,
    /// `<root>/var/log/boot`.
    pub log_root: &'a Path,
    /// The applied state (None on a clean box or a new instance).
    pub previous: Option<&'a State>,
    /// `--allow-mode-change`.
    pub allow_mode_change: bool,
    /// `--allow-service-change`.
    pub allow_service_change: bool,
    /// Running as root: switch users.
    pub privileged: bool,
}

/// Resolves `tags` into a plan.
pub fn resolve(tags: TagSet, inp: &Inputs<'_>) -> Result<Plan> {
    crate::tags::validate(&tags)?;
    let keys = &inp.config.keys;
    let mode_raw = tags.get(&keys.mode).ok_or_else(|| {
        BootError::invalid(format!("invalid tags: no {:?} tag; refusing to guess a mode", keys.mode))
    })?;
    let mode = Mode::parse(mode_raw).ok_or_else(|| {
        BootError::invalid(format!(
            "invalid tags: {:?} is {}; expected review, staging or production",
            keys.mode,
            shown(mode_raw)
        ))
    })?;
    let env_name = match tags.get(&keys.environment) {
        None => mode.as_str().to_string(),
        Some(e) if names::is_env_name(e) && inp.env_dir.join(e).is_dir() => e.to_string(),
        Some(e) => {
            return Err(BootError::invalid(format!(
                "invalid tags: {:?} is {}, which is not an environment of the catalogue",
                keys.environment,
                shown(e)
            )));
        }
    };
    let (names, service, component) = select(&tags, mode, inp)?;
    refuse_changes(inp, mode, service.as_deref(), component.as_deref())?;
    let instance_id = tags.instance_id.as_ref().map(|t| t.value.clone());
    // Dependencies run on this box only in review mode.
    let order = if mode == Mode::Review { inp.catalogue.order(&names)? } else { names };
    let mut services = Vec::new();
    for name in &order {
        let m = inp
            .catalogue
            .services
            .get(name)
            .ok_or_else(|| BootError::invalid(format!("unknown service {name}")))?;
        let comp = if Some(name) == service.as_ref() {
            component.clone().unwrap_or_default()
        } else {
            "default".into()
        };
        let deps = if mode == Mode::Review { m.dependencies.review.clone() } else { Vec::new() };
        let sel = Selected { mode, env_name: &env_name, tags: &tags, instance_id: instance_id.as_deref() };
        services.push(plan_service(name, &comp, deps, m, &sel, inp)?);
    }
    Ok(Plan { mode, env_name, service, component, instance_id, tags, services })
}

/// A tag value as shown in messages: quoted, escaped, cut at 40 characters.
fn shown(v: &str) -> String {
    let cut: String = v.chars().take(40).collect();
    if cut.len() < v.len() { format!("{cut:?}…") } else { format!("{cut:?}") }
}

/// The services a mode selects (apps only; dependencies are added by order).
fn select(
    tags: &TagSet,
    mode: Mode,
    inp: &Inputs<'_>,
) -> Result<(Vec<String>, Option<String>, Option<String>)> {
    let keys = &inp.config.keys;
    if mode == Mode::Review {
        let apps = inp
            .catalogue
            .services
            .iter()
            .filter(|(_, m)| m.kind == Kind::App && m.modes.iter().any(|x| x == "review"))
            .map(|(n, _)| n.clone())
            .collect();
        return Ok((apps, None, None));
    }
    let service = match tags.get(&keys.service) {
        Some(s) => s.to_string(),
        None => service_from_asg(tags, inp)?,
    };
    let m = names::is_service_name(&service)
        .then(|| inp.catalogue.services.get(&service))
        .flatten()
        .filter(|m| m.kind == Kind::App && m.modes.iter().any(|x| x == mode.as_str()))
        .ok_or_else(|| {
            BootError::invalid(format!(
                "invalid tags: {:?} is {}, which is not an app of the catalogue for mode {}",
                keys.service,
                shown(&service),
                mode.as_str()
            ))
        })?;
    let component = tags.get(&keys.component).unwrap_or("default").to_string();
    if !names::is_service_name(&component) || !m.has_component(&component) {
        return Err(BootError::invalid(format!(
            "invalid tags: {:?} is {}, which is not a component of {service}",
            keys.component,
            shown(&component)
        )));
    }
    Ok((vec![service.clone()], Some(service), Some(component)))
}

/// Derives the service from `aws:autoscaling:groupName` with the configured
/// `asg_service` pattern (`prefix{service}suffix`).
fn service_from_asg(tags: &TagSet, inp: &Inputs<'_>) -> Result<String> {
    let keys = &inp.config.keys;
    let missing = || {
        BootError::invalid(format!(
            "invalid tags: no {:?} tag and no autoscaling group to derive it from",
            keys.service
        ))
    };
    let (Some(pattern), Some(group)) = (inp.config.asg_service.as_deref(), tags.get(ASG_KEY)) else {
        return Err(missing());
    };
    let (prefix, suffix) = pattern
        .split_once("{service}")
        .ok_or_else(|| BootError::invalid("boot.toml: asg_service needs {service}"))?;
    group
        .strip_prefix(prefix)
        .and_then(|r| r.strip_suffix(suffix))
        .filter(|s| names::is_service_name(s))
        .map(str::to_string)
        .ok_or_else(|| {
            BootError::invalid(format!(
                "invalid tags: autoscaling group {} does not match {pattern:?}",
                shown(group)
            ))
        })
}

fn refuse_changes(
    inp: &Inputs<'_>,
    mode: Mode,
    service: Option<&str>,
    component: Option<&str>,
) -> Result<()> {
    let Some(prev) = inp.previous else { return Ok(()) };
    if prev.mode != mode.as_str() && !(inp.allow_mode_change || inp.config.allow_mode_change) {
        return Err(BootError::Refused(format!(
            "refusing to change mode from {} to {} (use --allow-mode-change); nothing changed",
            prev.mode,
            mode.as_str()
        )));
    }
    let same = prev.service.as_deref() == service && prev.component.as_deref() == component;
    if prev.mode == mode.as_str() && !same && !(inp.allow_service_change || inp.config.allow_service_change) {
        return Err(BootError::Refused(format!(
            "refusing to change service from {}/{} to {}/{} (use --allow-service-change); nothing changed",
            prev.service.as_deref().unwrap_or("-"),
            prev.component.as_deref().unwrap_or("-"),
            service.unwrap_or("-"),
            component.unwrap_or("-")
        )));
    }
    Ok(())
}

/// Placeholder values for one service.
struct Placeholders<'a> {
    inp: &'a Inputs<'a>,
    name: &'a str,
    component: &'a str,
    mode: Mode,
    env_name: &'a str,
    data: Option<String>,
}

impl Placeholders<'_> {
    fn port_of(&self, svc: &str) -> Option<u16> {
        self.inp
            .config
            .ports
            .get(svc)
            .copied()
            .or_else(|| self.inp.catalogue.services.get(svc).and_then(|m| m.port))
    }

    fn value(&self, key: &str) -> Option<String> {
        match key {
            "bin" => Some(self.inp.bin_dir.display().to_string()),
            "name" => Some(self.name.into()),
            "component" => Some(self.component.into()),
            "mode" => Some(self.mode.as_str().into()),
            "env" => Some(self.env_name.into()),
            "data" => self.data.clone(),
            "port" => self.port_of(self.name).map(|p| p.to_string()),
            _ => key.strip_prefix("port:").and_then(|s| self.port_of(s)).map(|p| p.to_string()),
        }
    }

    /// Substitutes every `{key}` in `s`; unknown or unset keys are errors.
    fn expand(&self, s: &str) -> Result<String> {
        let mut out = String::new();
        let mut rest = s;
        while let Some(open) = rest.find('{') {
            out.push_str(rest.get(..open).unwrap_or(""));
            let after = rest.get(open + 1..).unwrap_or("");
            let close = after.find('}').ok_or_else(|| self.bad("", s))?;
            let key = after.get(..close).unwrap_or("");
            match key.strip_prefix("newest:") {
                Some(pattern) => out.push_str(&crate::runtime::newest(pattern, self.name)?),
                None => out.push_str(&self.value(key).ok_or_else(|| self.bad(key, s))?),
            }
            rest = after.get(close + 1..).unwrap_or("");
        }
        out.push_str(rest);
        Ok(out)
    }

    fn bad(&self, key: &str, s: &str) -> BootError {
        if key.is_empty() {
            return BootError::invalid(format!(
                "catalogue: {}: unclosed or empty placeholder in {s:?}",
                self.name
            ));
        }
        BootError::invalid(format!(
            "catalogue: {}: unknown or unset placeholder {{{key}}} in {s:?} (known: {{bin}} {{name}} {{component}} \
             {{mode}} {{env}} {{data}} {{port}} {{port:SERVICE}} {{newest:PATTERN}})",
            self.name
        ))
    }

    fn argv(&self, argv: &[String]) -> Result<Vec<String>> {
        let mut out: Vec<String> = argv.iter().map(|a| self.expand(a)).collect::<Result<_>>()?;
        if let Some(first) = out.first_mut() {
            *first = resolve_program(first, &self.inp.config.path, self.name)?;
        }
        Ok(out)
    }
}

/// Makes the program path absolute at render time: an absolute path is
/// kept, a bare name is searched in the services' `PATH`. Nothing is looked
/// up at run time.
fn resolve_program(prog: &str, path: &str, service: &str) -> Result<String> {
    if prog.starts_with('/') {
        return Ok(prog.to_string());
    }
    if !prog.contains('/') && !prog.is_empty() {
        for dir in path.split(':').filter(|d| d.starts_with('/')) {
            let cand = Path::new(dir).join(prog);
            if cand.is_file() {
                return Ok(cand.display().to_string());
            }
        }
    }
    Err(BootError::invalid(format!(
        "catalogue: {service}: program {prog:?} not found (absolute path or in PATH {path})"
    )))
}

/// What the resolver decided for the whole box.
struct Selected<'a> {
    mode: Mode,
    env_name: &'a str,
    tags: &'a TagSet,
    instance_id: Option<&'a str>,
}

fn plan_service(
    name: &str,
    component: &str,
    deps: Vec<String>,
    m: &Manifest,
    sel: &Selected<'_>,
    inp: &Inputs<'_>,
) -> Result<PlannedService> {
    let (mode, env_name) = (sel.mode, sel.env_name);
    let data_dir = m.data.as_ref().map(|_| inp.data_root.join(name));
    let ph = Placeholders {
        inp,
        name,
        component,
        mode,
        env_name,
        data: data_dir.as_ref().map(|d| d.display().to_string()),
    };
    let argv = ph.argv(m.command_for(component))?;
    let check = m.check.as_ref().map(|c| ph.argv(&c.command)).transpose()?;
    let init = m.data.as_ref().and_then(|d| d.init.as_ref()).map(|i| ph.argv(i)).transpose()?;
    let workdir = ph.expand(m.process.workdir.as_deref().unwrap_or("/"))?;
    if !workdir.starts_with('/') {
        return Err(BootError::invalid(format!("catalogue: {name}: workdir must be absolute")));
    }
    let env = flatten_env(&ph, m, sel.tags, sel.instance_id, &workdir)?;
    let (run_as, log_as) = if inp.privileged { users(name, m)? } else { (None, None) };
    let svlogd = inp.bin_dir.join("svlogd").display().to_string();
    let progs = [argv.first(), check.as_ref().and_then(|c| c.first()), init.as_ref().and_then(|i| i.first())];
    let checks = progs
        .into_iter()
        .flatten()
        .filter_map(|p| run_as.as_ref().map(|u| (u, p)))
        .chain(log_as.as_ref().map(|u| (u, &svlogd)));
    for (u, prog) in checks {
        if !crate::users::can_execute(Path::new(prog), u.uid, u.gid) {
            return Err(BootError::invalid(format!(
                "catalogue: {name}: user {} cannot execute {prog} (install the binaries where the service user can reach them)",
                u.user
            )));
        }
    }
    Ok(PlannedService {
        name: name.into(),
        component: component.into(),
        deps,
        manifest: m.clone(),
        argv,
        check,
        init,
        data_dir,
        workdir,
        env,
        run_as,
        log_as,
        port: ph.port_of(name),
        log_dir: inp.log_root.join(name),
    })
}

fn users(name: &str, m: &Manifest) -> Result<(Option<RunAs>, Option<RunAs>)> {
    let lookup = |user: &str, group: Option<&String>| -> Result<RunAs> {
        let (uid, pgid) = crate::users::user(user).ok_or_else(|| {
            BootError::invalid(format!("catalogue: {name}: user {user:?} does not exist on this image"))
        })?;
        let gid = match group {
            Some(g) => crate::users::group(g).ok_or_else(|| {
                BootError::invalid(format!("catalogue: {name}: group {g:?} does not exist on this image"))
            })?,
            None => pgid,
        };
        Ok(RunAs { user: user.into(), group: group.cloned(), uid, gid })
    };
    let run_as = m.process.user.as_deref().map(|u| lookup(u, m.process.group.as_ref())).transpose()?;
    let log_as = match m.log.user.as_deref() {
        Some(u) => Some(lookup(u, None)?),
        None => run_as.clone(),
    };
    Ok((run_as, log_as))
}

fn flatten_env(
    ph: &Placeholders<'_>,
    m: &Manifest,
    tags: &TagSet,
    instance_id: Option<&str>,
    workdir: &str,
) -> Result<Env> {
    let cfg = ph.inp.config;
    let mut env = Env::new();
    envdir::set(&mut env, "PATH", &cfg.path, "boot.toml")?;
    for (i, pattern) in m.env.layers.iter().enumerate() {
        let rel = envdir::layer_path(pattern, ph.env_name, ph.name, ph.component)?;
        let found = envdir::read_layer(&mut env, &ph.inp.env_dir.join(&rel), &rel)?;
        if !found && i == 0 && rel == "common" {
            return Err(BootError::invalid(format!(
                "env layer common is missing in {}",
                ph.inp.env_dir.display()
            )));
        }
    }
    let mode_set = m.env.mode.get(ph.mode.as_str());
    for (k, v) in m.env.set.iter().chain(mode_set.into_iter().flatten()) {
        envdir::set(&mut env, k, &ph.expand(v)?, "catalogue")?;
    }
    let rt = crate::runtime::resolve(&m.runtime, workdir, ph.name)?;
    if !rt.path_prefix.is_empty() {
        let base = env
            .get("PATH")
            .map(|e| String::from_utf8_lossy(&e.bytes).lines().next().unwrap_or("").to_string());
        let path = format!("{}:{}", rt.path_prefix.join(":"), base.unwrap_or_default());
        envdir::set(&mut env, "PATH", &path, "runtime")?;
    }
    for (k, v) in &rt.vars {
        envdir::set(&mut env, k, v, "runtime")?;
    }
    let boot_vars: BTreeMap<&str, &str> = [
        ("BOOT_MODE", ph.mode.as_str()),
        ("BOOT_ENV", ph.env_name),
        ("BOOT_SERVICE", ph.name),
        ("BOOT_COMPONENT", ph.component),
        ("BOOT_INSTANCE_ID", instance_id.unwrap_or("")),
    ]
    .into();
    for (k, v) in boot_vars {
        envdir::set(&mut env, k, v, "boot")?;
    }
    for (key, var) in &m.env.from_tags {
        if let Some(v) = tags.get(key) {
            envdir::set(&mut env, var, v, &format!("tag:{key}"))
                .map_err(|_| BootError::invalid(format!("invalid tags: value of {key:?} cannot reach {} verbatim (newline, NUL, trailing blank or too long)", ph.name)))?;
        }
    }
    Ok(env)
}
