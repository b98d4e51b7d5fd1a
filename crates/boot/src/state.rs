//! `state.json`: what boot last applied, written atomically after every
//! successful `up` and removed by `down`.
//!
//! It holds no secrets (env values are not in it; tag values are not secret
//! by definition, they are readable by anything that can reach the metadata
//! service), so it is 0644.

use crate::error::{BootError, Context, Result};
use crate::svctl::StopHow;
use crate::tags::Tag;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

/// Schema version written.
pub const SCHEMA: u32 = 1;

/// One applied service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    /// 12 hex digits of the rendered tree's SHA-256.
    pub hash: String,
    /// The component it runs.
    pub component: String,
    /// Services it waits for (review mode).
    pub deps: Vec<String>,
    /// `[stop].timeout_s`.
    pub stop_timeout_s: u64,
    /// `[stop].signal` (one of `catalogue::STOP_SIGNALS`); used when boot
    /// stops a process whose runsv is gone. States written before it was
    /// recorded read as TERM.
    #[serde(default = "term")]
    pub stop_signal: String,
    /// Whether `control/t` signals the process group.
    pub group_stop: bool,
    /// How long boot waits for its readiness: `[ready].timeout_s`, else
    /// `[check].timeout_s`; `None` without either.
    pub check_timeout_s: Option<u64>,
    /// Its port, if any (for the leak check of `down`).
    pub port: Option<u16>,
}

fn term() -> String {
    "TERM".into()
}

impl ServiceState {
    /// `<name>@<hash>`, the directory name under `sv/`.
    pub fn dirname(&self, name: &str) -> String {
        format!("{name}@{}", self.hash)
    }

    /// How to stop it: its stop signal (TERM if the name is unknown),
    /// group or pid, timeout.
    pub fn stop_how(&self) -> StopHow {
        StopHow {
            signal: crate::catalogue::signal_number(&self.stop_signal).unwrap_or(libc::SIGTERM),
            group: self.group_stop,
            timeout: Duration::from_secs(self.stop_timeout_s),
        }
    }
}

/// A runsvdir started by `boot up --spawn-runsvdir`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Runsvdir {
    /// Its pid.
    pub pid: i32,
    /// Its start time (field 22 of `/proc/<pid>/stat`), to recognise it.
    pub start_time: u64,
}

/// The applied state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// [`SCHEMA`].
    pub schema: u32,
    /// The instance this state belongs to.
    pub instance_id: Option<String>,
    /// The active set is `sets/g<generation>`.
    pub generation: u64,
    /// The set before it (kept for rollback until the next apply).
    pub previous_generation: Option<u64>,
    /// `review` | `staging` | `production`.
    pub mode: String,
    /// The config environment.
    pub env: String,
    /// Selected service (staging/production).
    pub service: Option<String>,
    /// Selected component (staging/production).
    pub component: Option<String>,
    /// The merged tags with provenance.
    pub tags: BTreeMap<String, Tag>,
    /// Services by name.
    pub services: BTreeMap<String, ServiceState>,
    /// Service names, dependencies first.
    pub order: Vec<String>,
    /// The runsvdir boot owns, if any.
    pub runsvdir: Option<Runsvdir>,
}

/// `g000012`.
pub fn set_name(generation: u64) -> String {
    format!("g{generation:06}")
}

impl State {
    /// Reads `path`; `None` when there is no state (a clean box).
    pub fn load(path: &Path) -> Result<Option<State>> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(BootError::io(format!("unable to read {}", path.display()), e)),
        };
        let s: State = serde_json::from_str(&text).map_err(|e| {
            BootError::invalid(format!("{}: corrupt state ({e}); run `boot down` to reset", path.display()))
        })?;
        if s.schema != SCHEMA {
            return Err(BootError::invalid(format!(
                "{}: state schema {} is not {SCHEMA}",
                path.display(),
                s.schema
            )));
        }
        Ok(Some(s))
    }

    /// Writes `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut text =
            serde_json::to_vec_pretty(self).map_err(|e| BootError::invalid(format!("state: {e}")))?;
        text.push(b'\n');
        crate::fsx::replace_file(path, &text, 0o644).ctx(|| format!("unable to write {}", path.display()))
    }
}
