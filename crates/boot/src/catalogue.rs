//! The service catalogue: one folder per service in `sv-templates/`, each
//! with a `service.toml` manifest (reference: docs/boot.md).
//!
//! Manifests are trusted (they are baked into the image) but strictly
//! decoded: unknown fields, a folder name that differs from `name`, unknown
//! dependencies, dependency cycles, bad user names or signals are errors, so
//! a broken catalogue fails before anything is written. The `env/` folder
//! beside the services holds the config layers (`envdir.rs`).

use crate::error::{BootError, Result};
use crate::names;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Manifest schema version understood.
pub const SCHEMA: u32 = 1;

/// Longest `timeout_s` of `[stop]`, `[check]` and `[ready]` (one day).
pub const MAX_TIMEOUT_S: u64 = 86_400;

/// The run modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Every app plus its databases on this box.
    Review,
    /// One service, one component.
    Staging,
    /// One service, one component.
    Production,
}

impl Mode {
    /// Exact, case-sensitive parse.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "review" => Some(Mode::Review),
            "staging" => Some(Mode::Staging),
            "production" => Some(Mode::Production),
            _ => None,
        }
    }

    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Review => "review",
            Mode::Staging => "staging",
            Mode::Production => "production",
        }
    }
}

/// `app` services are selected by mode and tags; `dependency` services run
/// only when an app needs them (review mode).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// An application.
    App,
    /// A database or similar, started for apps in review mode.
    Dependency,
}

/// One `service.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Must be [`SCHEMA`].
    pub schema: u32,
    /// Must equal the folder name.
    pub name: String,
    /// App or dependency.
    pub kind: Kind,
    /// Modes the service may run in.
    pub modes: Vec<String>,
    /// Its TCP port on this box (overridable in boot.toml `[ports]`).
    #[serde(default)]
    pub port: Option<u16>,
    /// How to run it.
    pub process: Process,
    /// Pinned language runtime.
    #[serde(default)]
    pub runtime: Runtime,
    /// Environment.
    #[serde(default)]
    pub env: EnvSpec,
    /// Components (selected by the component tag); `default` always exists.
    #[serde(default)]
    pub components: BTreeMap<String, Component>,
    /// Dependencies per mode.
    #[serde(default)]
    pub dependencies: Dependencies,
    /// Graceful stop.
    #[serde(default)]
    pub stop: Stop,
    /// Readiness check.
    #[serde(default)]
    pub check: Option<Check>,
    /// Readiness notification (a mechanism runsv records, docs/health.md).
    #[serde(default)]
    pub ready: Option<Ready>,
    /// A data directory (`{data}`), optionally initialised once.
    #[serde(default)]
    pub data: Option<Data>,
    /// The log service.
    #[serde(default)]
    pub log: Log,
}

/// `[process]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Process {
    /// User to run as (when boot runs as root).
    #[serde(default)]
    pub user: Option<String>,
    /// Group (default: the user's primary group).
    #[serde(default)]
    pub group: Option<String>,
    /// Working directory (default `/`).
    #[serde(default)]
    pub workdir: Option<String>,
    /// argv; placeholders allowed.
    pub command: Vec<String>,
    /// Run in its own process group (`chpst -P`) so `control/t` can signal
    /// the whole group.
    #[serde(default = "yes")]
    pub process_group: bool,
    /// Resource limits (`chpst -o`, `-p`, `-m`).
    #[serde(default)]
    pub limits: Limits,
}

fn yes() -> bool {
    true
}

/// `[process.limits]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// `chpst -o`.
    pub open_files: Option<u64>,
    /// `chpst -p`.
    pub processes: Option<u64>,
    /// `chpst -m` (bytes).
    pub memory: Option<u64>,
}

/// Runtime managers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Manager {
    /// No runtime pinning.
    #[default]
    None,
    /// asdf (0.16+): installs under `<data_dir>/installs/<tool>/<version>`.
    Asdf,
    /// mise: same installs layout.
    Mise,
}

/// `[runtime]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runtime {
    /// Which manager.
    #[serde(default)]
    pub manager: Manager,
    /// `ASDF_DATA_DIR` / `MISE_DATA_DIR`.
    #[serde(default)]
    pub data_dir: Option<String>,
    /// `.tool-versions` (relative to the workdir) to read pins from.
    #[serde(default)]
    pub versions_file: Option<String>,
    /// Explicit pins, over the file's.
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
}

/// `[env]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvSpec {
    /// Layer directories below the env tree; placeholders `{env}`,
    /// `{name}`, `{component}`.
    #[serde(default = "default_layers")]
    pub layers: Vec<String>,
    /// Whitelist: tag key -> variable name. Values arrive verbatim.
    #[serde(default)]
    pub from_tags: BTreeMap<String, String>,
    /// Variables set by the catalogue (placeholders allowed), after the layers.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// Per-mode variables (`[env.mode.review]`), after `set`.
    #[serde(default)]
    pub mode: BTreeMap<String, BTreeMap<String, String>>,
}

impl Default for EnvSpec {
    fn default() -> Self {
        EnvSpec {
            layers: default_layers(),
            from_tags: BTreeMap::new(),
            set: BTreeMap::new(),
            mode: BTreeMap::new(),
        }
    }
}

fn default_layers() -> Vec<String> {
    ["common", "{env}", "{env}/{name}", "{env}/{name}/{component}"].map(String::from).to_vec()
}

/// `[components.<name>]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Component {
    /// argv replacing `process.command`.
    #[serde(default)]
    pub command: Option<Vec<String>>,
}

/// `[dependencies]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dependencies {
    /// Started on this box, and waited for, in review mode.
    #[serde(default)]
    pub review: Vec<String>,
}

/// `[stop]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stop {
    /// Signal `control/t` sends.
    #[serde(default = "term")]
    pub signal: String,
    /// Signal the process group (needs `process_group`), not just the pid.
    #[serde(default = "yes")]
    pub group: bool,
    /// Seconds before boot escalates to KILL.
    #[serde(default = "ten")]
    pub timeout_s: u64,
}

impl Default for Stop {
    fn default() -> Self {
        Stop { signal: term(), group: true, timeout_s: ten() }
    }
}

fn term() -> String {
    "TERM".into()
}

fn ten() -> u64 {
    10
}

/// Signals `[stop].signal` may name.
pub const STOP_SIGNALS: [&str; 6] = ["TERM", "INT", "QUIT", "HUP", "USR1", "USR2"];

/// The number of a signal in [`STOP_SIGNALS`].
pub fn signal_number(name: &str) -> Option<i32> {
    let n = [libc::SIGTERM, libc::SIGINT, libc::SIGQUIT, libc::SIGHUP, libc::SIGUSR1, libc::SIGUSR2];
    STOP_SIGNALS.iter().position(|s| *s == name).and_then(|i| n.get(i).copied())
}

/// `[check]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// argv; exit 0 means ready.
    pub command: Vec<String>,
    /// Seconds boot waits for it to pass.
    #[serde(default = "thirty")]
    pub timeout_s: u64,
}

fn thirty() -> u64 {
    30
}

/// `[ready]`: how the service tells that it is ready (runit-rs's runsv,
/// docs/health.md). `sv` and boot then wait for its notification instead
/// of running `./check`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// `"fd:<n>"`: a newline on descriptor n (s6's `notification-fd`);
    /// `"systemd"`: `READY=1` on `$NOTIFY_SOCKET`.
    pub notify: String,
    /// Seconds boot (and dependants' run scripts) wait for it.
    #[serde(default = "thirty")]
    pub timeout_s: u64,
}

/// A parsed `[ready].notify`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notify {
    /// A newline on this descriptor (3 or more).
    Fd(u32),
    /// systemd's notification socket.
    Systemd,
}

/// Highest descriptor `fd:<n>` may name.
pub const MAX_NOTIFY_FD: u32 = 1023;

impl Notify {
    /// Parses `fd:<n>` (3 to [`MAX_NOTIFY_FD`]) or `systemd`.
    pub fn parse(s: &str) -> Option<Notify> {
        if s == "systemd" {
            return Some(Notify::Systemd);
        }
        let n = s.strip_prefix("fd:")?;
        if n.is_empty() || n.len() > 4 || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok().filter(|fd| (3..=MAX_NOTIFY_FD).contains(fd)).map(Notify::Fd)
    }
}

/// `[data]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Data {
    /// Run once (as the service user) when `creates` does not exist yet.
    #[serde(default)]
    pub init: Option<Vec<String>>,
    /// File below `{data}` whose existence means "initialised".
    #[serde(default)]
    pub creates: Option<String>,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Log {
    /// User svlogd runs as (default: the service user).
    #[serde(default)]
    pub user: Option<String>,
    /// svlogd `s` (rotate at this size).
    #[serde(default = "million")]
    pub size_bytes: u64,
    /// svlogd `n` (old files kept).
    #[serde(default = "ten_u32")]
    pub keep: u32,
}

impl Default for Log {
    fn default() -> Self {
        Log { user: None, size_bytes: million(), keep: ten_u32() }
    }
}

fn million() -> u64 {
    1_000_000
}

fn ten_u32() -> u32 {
    10
}

/// The loaded catalogue.
#[derive(Debug, Clone)]
pub struct Catalogue {
    /// Its directory.
    pub dir: PathBuf,
    /// Services by name.
    pub services: BTreeMap<String, Manifest>,
}

impl Manifest {
    /// The argv of `component`.
    pub fn command_for(&self, component: &str) -> &[String] {
        self.components.get(component).and_then(|c| c.command.as_deref()).unwrap_or(&self.process.command)
    }

    /// The readiness mechanism, if `[ready]` declares one (validated).
    pub fn notify(&self) -> Option<Notify> {
        self.ready.as_ref().and_then(|r| Notify::parse(&r.notify))
    }

    /// How long to wait for readiness: `[ready].timeout_s`, else
    /// `[check].timeout_s`; `None` when the service declares neither.
    pub fn ready_timeout_s(&self) -> Option<u64> {
        self.ready.as_ref().map(|r| r.timeout_s).or(self.check.as_ref().map(|c| c.timeout_s))
    }

    /// True when `component` is declared (`default` always is).
    pub fn has_component(&self, component: &str) -> bool {
        component == "default" || self.components.contains_key(component)
    }

    fn validate(&self, folder: &str) -> Result<()> {
        let bad = |m: String| BootError::invalid(format!("catalogue: {folder}/service.toml: {m}"));
        if self.schema != SCHEMA {
            return Err(bad(format!("schema {} (this boot reads {SCHEMA})", self.schema)));
        }
        if self.name != folder || !names::is_service_name(&self.name) {
            return Err(bad(format!(
                "name {:?} must equal the folder name and be a service name",
                self.name
            )));
        }
        if let Some(m) = self.modes.iter().find(|m| Mode::parse(m).is_none()) {
            return Err(bad(format!("unknown mode {m:?}")));
        }
        if self.process.command.is_empty()
            || self.components.values().any(|c| c.command.as_ref().is_some_and(Vec::is_empty))
        {
            return Err(bad("empty command".into()));
        }
        if let Some(c) = self.components.keys().find(|c| !names::is_service_name(c)) {
            return Err(bad(format!("bad component name {c:?}")));
        }
        for u in [&self.process.user, &self.process.group, &self.log.user].into_iter().flatten() {
            if !names::is_user_name(u) {
                return Err(bad(format!("bad user or group name {u:?}")));
            }
        }
        if !STOP_SIGNALS.contains(&self.stop.signal.as_str()) {
            return Err(bad(format!(
                "stop.signal {:?} is not one of {}",
                self.stop.signal,
                STOP_SIGNALS.join(" ")
            )));
        }
        let vars = self
            .env
            .from_tags
            .values()
            .chain(self.env.set.keys())
            .chain(self.env.mode.values().flat_map(|m| m.keys()));
        for v in vars {
            if !names::is_var_name(v) {
                return Err(bad(format!("bad variable name {v:?}")));
            }
        }
        let timeouts = [
            ("stop.timeout_s", Some(self.stop.timeout_s)),
            ("check.timeout_s", self.check.as_ref().map(|c| c.timeout_s)),
            ("ready.timeout_s", self.ready.as_ref().map(|r| r.timeout_s)),
        ];
        for (key, t) in timeouts {
            if t.is_some_and(|t| t > MAX_TIMEOUT_S) {
                return Err(bad(format!("{key} must be at most {MAX_TIMEOUT_S}")));
            }
        }
        if self.check.as_ref().is_some_and(|c| c.command.is_empty()) {
            return Err(bad("empty check command".into()));
        }
        if let Some(r) = &self.ready
            && Notify::parse(&r.notify).is_none()
        {
            return Err(bad(format!(
                "ready.notify {:?} is not \"systemd\" or \"fd:<n>\" with n from 3 to {MAX_NOTIFY_FD}",
                r.notify
            )));
        }
        if let Some(c) = self.data.as_ref().and_then(|d| d.creates.as_deref())
            && (c.is_empty() || c.starts_with('/') || c.split('/').any(|p| p == ".." || p.is_empty()))
        {
            return Err(bad(format!("data.creates {c:?} must be a relative path inside the data dir")));
        }
        if self.data.as_ref().is_some_and(|d| d.init.is_some() && d.creates.is_none()) {
            return Err(bad(
                "data.init needs data.creates (the file that marks the data as initialised)".into()
            ));
        }
        if self.log.keep == 0 || self.log.size_bytes < 4096 {
            return Err(bad("log.keep must be >= 1 and log.size_bytes >= 4096".into()));
        }
        Ok(())
    }
}

impl Catalogue {
    /// Loads every `<dir>/<name>/service.toml` (folders starting with `.`
    /// and the `env` folder are not services).
    pub fn load(dir: &Path) -> Result<Catalogue> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| BootError::io(format!("unable to read catalogue {}", dir.display()), e))?;
        let mut services = BTreeMap::new();
        for e in entries {
            let e = e.map_err(|e| BootError::io(format!("unable to read catalogue {}", dir.display()), e))?;
            let folder = e.file_name().to_string_lossy().into_owned();
            let manifest = e.path().join("service.toml");
            if folder.starts_with('.') || folder == "env" || !manifest.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&manifest)
                .map_err(|e| BootError::io(format!("unable to read {}", manifest.display()), e))?;
            let m: Manifest = toml::from_str(&text).map_err(|e| {
                BootError::invalid(format!("catalogue: {folder}/service.toml: {}", e.message()))
            })?;
            m.validate(&folder)?;
            services.insert(folder, m);
        }
        let cat = Catalogue { dir: dir.to_path_buf(), services };
        cat.check_dependencies()?;
        Ok(cat)
    }

    fn check_dependencies(&self) -> Result<()> {
        for (name, m) in &self.services {
            for d in &m.dependencies.review {
                if !self.services.contains_key(d) {
                    return Err(BootError::invalid(format!(
                        "catalogue: {name} depends on unknown service {d:?}"
                    )));
                }
            }
        }
        // A topological order of everything proves there is no cycle.
        let all: Vec<String> = self.services.keys().cloned().collect();
        self.order(&all).map(|_| ())
    }

    /// `names` plus their review dependencies, dependencies first.
    pub fn order(&self, names: &[String]) -> Result<Vec<String>> {
        fn visit(cat: &Catalogue, n: &str, path: &mut Vec<String>, out: &mut Vec<String>) -> Result<()> {
            if out.iter().any(|o| o == n) {
                return Ok(());
            }
            if path.iter().any(|p| p == n) {
                return Err(BootError::invalid(format!(
                    "catalogue: dependency cycle {} -> {n}",
                    path.join(" -> ")
                )));
            }
            path.push(n.to_string());
            if let Some(m) = cat.services.get(n) {
                for d in &m.dependencies.review {
                    visit(cat, d, path, out)?;
                }
            }
            path.pop();
            out.push(n.to_string());
            Ok(())
        }
        let mut out = Vec::new();
        for n in names {
            visit(self, n, &mut Vec::new(), &mut out)?;
        }
        Ok(out)
    }

    /// The env layer tree (default `<catalogue>/env`).
    pub fn env_dir(&self, configured: Option<&Path>) -> PathBuf {
        configured.map(Path::to_path_buf).unwrap_or_else(|| self.dir.join("env"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn manifest(text: &str) -> Manifest {
        toml::from_str(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn decodes_and_validates() {
        let m = manifest(
            "schema = 1\nname = \"web\"\nkind = \"app\"\nmodes = [\"review\"]\n[process]\ncommand = [\"/bin/true\"]\n[components.critical]\ncommand = [\"/bin/false\"]\n",
        );
        assert!(m.validate("web").is_ok());
        assert!(m.validate("other").is_err());
        assert_eq!(m.command_for("critical"), ["/bin/false"]);
        assert_eq!(m.command_for("default"), ["/bin/true"]);
        assert!(m.has_component("default") && m.has_component("critical") && !m.has_component("x"));
        assert_eq!(m.stop.signal, "TERM");
        assert!(
            toml::from_str::<Manifest>("schema = 1\nname = \"w\"\nkind = \"app\"\nmodes = []\nbogus = 1\n[process]\ncommand = [\"x\"]\n")
                .is_err()
        );
        let mut bad = m.clone();
        bad.stop.signal = "KILL; rm".into();
        assert!(bad.validate("web").is_err());
        let mut bad = m.clone();
        bad.process.user = Some("root:root".into());
        assert!(bad.validate("web").is_err());
    }

    #[test]
    fn ready_notify_values() {
        assert_eq!(Notify::parse("systemd"), Some(Notify::Systemd));
        assert_eq!(Notify::parse("fd:3"), Some(Notify::Fd(3)));
        assert_eq!(Notify::parse("fd:1023"), Some(Notify::Fd(1023)));
        for bad in ["", "fd:", "fd:2", "fd:1024", "fd:+3", "fd:3 ", "fd:03x", "Systemd", "fd:99999", "s6"] {
            assert_eq!(Notify::parse(bad), None, "{bad:?}");
        }
        let m = manifest(
            "schema = 1\nname = \"web\"\nkind = \"app\"\nmodes = [\"review\"]\n[process]\ncommand = [\"/bin/true\"]\n\
             [check]\ncommand = [\"/bin/true\"]\ntimeout_s = 7\n[ready]\nnotify = \"fd:4\"\n",
        );
        assert!(m.validate("web").is_ok());
        assert_eq!((m.notify(), m.ready_timeout_s()), (Some(Notify::Fd(4)), Some(30)));
        let mut bad = m.clone();
        bad.ready = Some(Ready { notify: "fd:1".into(), timeout_s: 5 });
        assert!(bad.validate("web").is_err());
        // A timeout that would overflow a deadline is refused at load time.
        for set in [
            |m: &mut Manifest| m.stop.timeout_s = u64::MAX,
            |m: &mut Manifest| m.ready = Some(Ready { notify: "fd:4".into(), timeout_s: MAX_TIMEOUT_S + 1 }),
            |m: &mut Manifest| {
                m.check = Some(Check { command: vec!["/bin/true".into()], timeout_s: u64::MAX })
            },
        ] {
            let mut huge = m.clone();
            set(&mut huge);
            let e = huge.validate("web").map(|()| String::new()).unwrap_or_else(|e| e.to_string());
            assert!(e.contains("timeout_s must be at most 86400"), "{e:?}");
        }
        let mut plain = m;
        plain.ready = None;
        assert_eq!((plain.notify(), plain.ready_timeout_s()), (None, Some(7)));
    }
}
