//! Tag sources and the merged, still untrusted, tag set.
//!
//! Sources are fetched in the configured order and merged key by key, later
//! sources winning; each tag remembers which source it came from
//! (provenance, shown by `boot tags` and kept in `state.json`). The merged
//! set is raw data: [`validate`] enforces EC2's limits (a value that EC2
//! could not have produced is an attack or a bug, so the whole run is
//! refused), and only the resolver (`plan.rs`) turns tags into decisions.

pub mod files;
pub mod http;
pub mod imds;

use crate::error::{BootError, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What one source returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Raw keys and values.
    pub tags: BTreeMap<String, String>,
    /// The instance id, when the source knows it.
    pub instance_id: Option<String>,
}

/// Why a source failed.
#[derive(Debug)]
pub enum SourceError {
    /// Nothing answered (no file, no metadata service, timeout).
    Unavailable(String),
    /// The metadata service answers but tags are not enabled.
    Disabled(String),
    /// The source answered with something unusable.
    Invalid(String),
}

impl From<SourceError> for BootError {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Unavailable(m) => BootError::Unavailable(m),
            SourceError::Disabled(m) => BootError::TagsDisabled(m),
            SourceError::Invalid(m) => BootError::Invalid(m),
        }
    }
}

/// A configured source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    /// IMDSv2.
    Imds,
    /// A static TOML file (default `<catalogue>/tags.toml`).
    Static(Option<PathBuf>),
    /// describe-tags / describe-instances / autoscaling JSON.
    DescribeTags(PathBuf),
    /// Legacy tab-separated text.
    Legacy(PathBuf),
    /// `BOOT_TAG_<Key>` environment variables.
    Env,
}

/// A source and whether it may be skipped when unavailable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The kind.
    pub kind: SourceKind,
    /// Skip (instead of failing) when unavailable.
    pub optional: bool,
}

impl Source {
    /// Parses `imds`, `static[:PATH]`, `describe-tags:PATH`, `legacy:PATH`,
    /// `env`, each optionally followed by `?`.
    pub fn parse(spec: &str) -> Result<Source> {
        let (spec, optional) = match spec.strip_suffix('?') {
            Some(s) => (s, true),
            None => (spec, false),
        };
        let (name, arg) = match spec.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (spec, None),
        };
        let path = |a: Option<&str>| -> Result<PathBuf> {
            a.filter(|a| !a.is_empty())
                .map(PathBuf::from)
                .ok_or_else(|| BootError::invalid(format!("tag source {spec:?} needs a file: {name}:PATH")))
        };
        let kind = match (name, arg) {
            ("imds", None) => SourceKind::Imds,
            ("env", None) => SourceKind::Env,
            ("static", a) => SourceKind::Static(a.filter(|a| !a.is_empty()).map(PathBuf::from)),
            ("describe-tags", a) => SourceKind::DescribeTags(path(a)?),
            ("legacy", a) => SourceKind::Legacy(path(a)?),
            _ => return Err(BootError::invalid(format!("unknown tag source {spec:?}"))),
        };
        Ok(Source { kind, optional })
    }

    /// A short label for provenance: `imds`, `static:<path>`, ….
    pub fn label(&self, catalogue: &Path) -> String {
        match &self.kind {
            SourceKind::Imds => "imds".into(),
            SourceKind::Env => "env".into(),
            SourceKind::Static(p) => format!("static:{}", static_path(p.as_deref(), catalogue).display()),
            SourceKind::DescribeTags(p) => format!("describe-tags:{}", p.display()),
            SourceKind::Legacy(p) => format!("legacy:{}", p.display()),
        }
    }
}

/// The static source's file.
fn static_path(p: Option<&Path>, catalogue: &Path) -> PathBuf {
    p.map(Path::to_path_buf).unwrap_or_else(|| catalogue.join("tags.toml"))
}

/// One tag with its provenance.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tag {
    /// The raw value.
    pub value: String,
    /// Which source it came from.
    pub source: String,
}

/// The merged tags.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TagSet {
    /// Key -> value and provenance.
    pub tags: BTreeMap<String, Tag>,
    /// The instance id and where it came from.
    pub instance_id: Option<Tag>,
}

impl TagSet {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.tags.get(key).map(|t| t.value.as_str())
    }

    /// Merges `snap` from `source` over what is there.
    pub fn merge(&mut self, snap: Snapshot, source: &str) {
        for (k, v) in snap.tags {
            self.tags.insert(k, Tag { value: v, source: source.to_string() });
        }
        if let Some(id) = snap.instance_id {
            self.instance_id = Some(Tag { value: id, source: source.to_string() });
        }
    }
}

/// What fetching needs besides the source list.
#[derive(Debug)]
pub struct FetchContext<'a> {
    /// The catalogue (for the default static file).
    pub catalogue: &'a Path,
    /// IMDS settings.
    pub imds: &'a crate::config::Imds,
    /// Environment (boot's own, injectable for tests).
    pub env: &'a BTreeMap<String, String>,
    /// Instance id from the configuration, used before any source gives one.
    pub instance_id: Option<&'a str>,
    /// How long a required `imds` source waits for the service to answer.
    pub wait: std::time::Duration,
}

/// Fetches every source in order and merges them.
pub fn fetch_all(sources: &[Source], ctx: &FetchContext<'_>) -> Result<TagSet> {
    let mut set = TagSet::default();
    if let Some(id) = ctx.instance_id {
        set.instance_id = Some(Tag { value: id.to_string(), source: "config".into() });
    }
    for s in sources {
        let label = s.label(ctx.catalogue);
        let known = set.instance_id.as_ref().map(|t| t.value.clone());
        log::debug!("reading tags from {label}");
        match fetch_one(s, ctx, known.as_deref()) {
            Ok(snap) => {
                log::debug!("{label}: {} tags", snap.tags.len());
                set.merge(snap, &label)
            }
            Err(SourceError::Unavailable(m)) if s.optional => {
                log::info!("skipping optional tag source {label}: {m}");
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(set)
}

fn read_source(path: &Path) -> std::result::Result<String, SourceError> {
    std::fs::read_to_string(path).map_err(|e| {
        let msg = format!("unable to read {}: {}", path.display(), runit_core::errtext::io_text(&e));
        if e.kind() == std::io::ErrorKind::NotFound {
            SourceError::Unavailable(msg)
        } else {
            SourceError::Invalid(msg)
        }
    })
}

fn fetch_one(
    s: &Source,
    ctx: &FetchContext<'_>,
    known: Option<&str>,
) -> std::result::Result<Snapshot, SourceError> {
    match &s.kind {
        SourceKind::Imds => imds::fetch(
            ctx.imds,
            ctx.env.get("AWS_EC2_METADATA_SERVICE_ENDPOINT").map(String::as_str),
            ctx.env.get("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            // An optional source is for boxes without metadata: never waited for.
            if s.optional { std::time::Duration::ZERO } else { ctx.wait },
        ),
        SourceKind::Static(p) => {
            let path = static_path(p.as_deref(), ctx.catalogue);
            files::parse_static(&read_source(&path)?, &path.display().to_string())
        }
        SourceKind::DescribeTags(p) => {
            files::parse_describe(&read_source(p)?, known, &p.display().to_string())
        }
        SourceKind::Legacy(p) => files::parse_legacy(&read_source(p)?, known, &p.display().to_string()),
        SourceKind::Env => Ok(env_tags(ctx.env)),
    }
}

/// `BOOT_TAG_<Key>=<value>` variables (keys are case-sensitive; keys with
/// characters an environment name cannot hold, like `aws:…`, cannot come
/// from this source).
fn env_tags(env: &BTreeMap<String, String>) -> Snapshot {
    let tags = env
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("BOOT_TAG_").filter(|k| !k.is_empty()).map(|k| (k.to_string(), v.clone()))
        })
        .collect();
    Snapshot { tags, instance_id: None }
}

/// Most user tags EC2 allows per resource (`aws:` tags do not count).
pub const MAX_TAGS: usize = 50;
/// Longest key, in characters.
pub const MAX_KEY: usize = 128;
/// Longest value, in characters.
pub const MAX_VALUE: usize = 256;

/// Refuses a tag set EC2 could not have produced: too many tags, keys or
/// values too long, control characters in keys, NUL anywhere. Runs before
/// anything is written.
pub fn validate(set: &TagSet) -> Result<()> {
    let user = set.tags.keys().filter(|k| !k.starts_with("aws:")).count();
    if user > MAX_TAGS {
        return Err(BootError::invalid(format!("invalid tags: {user} tags (at most {MAX_TAGS})")));
    }
    for (k, t) in &set.tags {
        let shown: String = k.chars().take(40).collect();
        if k.is_empty() || k.chars().count() > MAX_KEY || k.chars().any(char::is_control) {
            return Err(BootError::invalid(format!("invalid tags: bad key {shown:?} (from {})", t.source)));
        }
        if t.value.chars().count() > MAX_VALUE || t.value.contains('\0') {
            return Err(BootError::invalid(format!(
                "invalid tags: value of {shown:?} is longer than {MAX_VALUE} characters or holds NUL (from {})",
                t.source
            )));
        }
    }
    if let Some(id) = &set.instance_id
        && (id.value.is_empty()
            || id.value.len() > 64
            || !id.value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(BootError::invalid(format!("invalid instance id (from {})", id.source)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs() {
        assert_eq!(Source::parse("imds").ok(), Some(Source { kind: SourceKind::Imds, optional: false }));
        assert_eq!(Source::parse("static").ok().map(|s| s.kind), Some(SourceKind::Static(None)));
        assert_eq!(
            Source::parse("describe-tags:/t.json?").ok(),
            Some(Source { kind: SourceKind::DescribeTags("/t.json".into()), optional: true })
        );
        assert!(Source::parse("legacy").is_err());
        assert!(Source::parse("gopher").is_err());
    }

    #[test]
    fn merge_later_wins_with_provenance() {
        let mut set = TagSet::default();
        let snap = |pairs: &[(&str, &str)]| Snapshot {
            tags: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            instance_id: None,
        };
        set.merge(snap(&[("Mode", "review"), ("Team", "a")]), "static:x");
        set.merge(snap(&[("Mode", "production")]), "imds");
        assert_eq!(set.get("Mode"), Some("production"));
        assert_eq!(set.tags.get("Mode").map(|t| t.source.as_str()), Some("imds"));
        assert_eq!(set.tags.get("Team").map(|t| t.source.as_str()), Some("static:x"));
    }

    #[test]
    fn limits() {
        let mut set = TagSet::default();
        set.merge(Snapshot { tags: [("Mode".into(), "x".repeat(300))].into(), instance_id: None }, "imds");
        assert!(validate(&set).is_err());
        let mut set = TagSet::default();
        set.merge(Snapshot { tags: [("Mode".into(), "x".repeat(256))].into(), instance_id: None }, "imds");
        assert!(validate(&set).is_ok());
        let many = (0..51).map(|i| (format!("k{i}"), "v".to_string())).collect();
        let mut set = TagSet::default();
        set.merge(Snapshot { tags: many, instance_id: None }, "imds");
        assert!(validate(&set).is_err());
        let mut set = TagSet::default();
        set.merge(Snapshot { tags: [("a\nb".into(), "v".into())].into(), instance_id: None }, "env");
        assert!(validate(&set).is_err());
    }

    #[test]
    fn env_source() {
        let env: BTreeMap<String, String> =
            [("BOOT_TAG_Mode".into(), "review".into()), ("HOME".into(), "/".into())].into();
        let s = env_tags(&env);
        assert_eq!(s.tags.len(), 1);
        assert_eq!(s.tags.get("Mode").map(String::as_str), Some("review"));
    }
}
