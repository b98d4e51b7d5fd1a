//! One invocation's view of the world: root layout, configuration,
//! catalogue, where our binaries are, the tag sources; and the read-only
//! pipeline shared by `plan`, `up` and `render`: fetch tags -> resolve ->
//! render in memory.

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::error::Result;
use crate::layout::Layout;
use crate::plan::{self, Plan};
use crate::render::{self, Rendered, Settings};
use crate::state::State;
use crate::tags::{self, Source, TagSet};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Everything an invocation needs.
#[derive(Debug)]
pub struct Boot {
    /// Paths below the root.
    pub layout: Layout,
    /// boot.toml (or the embedded defaults).
    pub config: Config,
    /// The catalogue directory.
    pub catalogue_dir: PathBuf,
    /// Where chpst, svlogd, sv, runsvdir and runsv are.
    pub bin_dir: PathBuf,
    /// boot's environment (tag source `env`, IMDS overrides).
    pub env: BTreeMap<String, String>,
    /// Tag sources in merge order.
    pub sources: Vec<Source>,
    /// How long a required `imds` source waits for the metadata service.
    pub wait: std::time::Duration,
    /// Running as root (switch users, chown data and log dirs).
    pub privileged: bool,
}

/// Flags that change what `up`/`plan` accept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Allow {
    /// `--allow-mode-change`.
    pub mode_change: bool,
    /// `--allow-service-change`.
    pub service_change: bool,
}

/// A resolved plan and its rendered services (same order).
#[derive(Debug)]
pub struct Prepared {
    /// The plan.
    pub plan: Plan,
    /// Rendered service directories.
    pub rendered: Vec<Rendered>,
}

impl Boot {
    /// A binary of the suite.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bin_dir.join(name)
    }

    /// Loads the catalogue.
    pub fn catalogue(&self) -> Result<Catalogue> {
        Catalogue::load(&self.catalogue_dir)
    }

    /// Fetches and merges the tags.
    pub fn fetch_tags(&self) -> Result<TagSet> {
        let ctx = tags::FetchContext {
            catalogue: &self.catalogue_dir,
            imds: &self.config.imds,
            env: &self.env,
            instance_id: self.config.instance_id.as_deref(),
            wait: self.wait,
        };
        tags::fetch_all(&self.sources, &ctx)
    }

    /// Render settings.
    pub fn settings(&self) -> Settings {
        Settings {
            chpst: self.bin("chpst"),
            svlogd: self.bin("svlogd"),
            sv: self.bin("sv"),
            current: self.layout.current(),
            supervise_root: self.layout.supervise_root(),
        }
    }

    /// Resolves `tags` against the catalogue and `previous`, and renders.
    pub fn prepare(
        &self,
        tags: TagSet,
        cat: &Catalogue,
        previous: Option<&State>,
        allow: Allow,
    ) -> Result<Prepared> {
        let env_dir = cat.env_dir(self.config.env_dir.as_deref());
        let data_root = self.layout.data_root();
        let log_root = self.layout.log_root();
        let inputs = plan::Inputs {
            config: &self.config,
            catalogue: cat,
            env_dir: &env_dir,
            bin_dir: &self.bin_dir,
            data_root: &data_root,
            log_root: &log_root,
            previous,
            allow_mode_change: allow.mode_change,
            allow_service_change: allow.service_change,
            privileged: self.privileged,
        };
        let plan = plan::resolve(tags, &inputs)?;
        let settings = self.settings();
        let rendered = plan
            .services
            .iter()
            .map(|s| {
                let deps_timeout = s
                    .deps
                    .iter()
                    .filter_map(|d| cat.services.get(d).and_then(|m| m.ready_timeout_s()))
                    .max()
                    .unwrap_or(30);
                render::render(s, &settings, deps_timeout)
            })
            .collect();
        Ok(Prepared { plan, rendered })
    }

    /// True when `previous` belongs to another instance than `tags` say
    /// (an image baked from a box that had run boot).
    pub fn other_instance(previous: Option<&State>, tags: &TagSet) -> bool {
        match (previous.and_then(|s| s.instance_id.as_deref()), tags.instance_id.as_ref()) {
            (Some(old), Some(new)) => old != new.value,
            _ => false,
        }
    }
}
