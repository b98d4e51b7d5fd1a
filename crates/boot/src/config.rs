//! `boot.toml`: the image's trusted configuration (`<root>/etc/boot/boot.toml`).
//!
//! Every field has a default, so a box without the file runs on the
//! embedded defaults: the instance metadata source only (`imds`: boot
//! fails closed, it never guesses a mode from the catalogue's sample
//! `tags.toml`), the catalogue in `<root>/usr/share/boot/sv-templates`, and
//! the suite's binaries next to the `boot` executable. A file named with
//! `--config` must exist. Paths written in this file (and
//! on the command line) are used as written; `--root` relocates only boot's
//! own files and the defaults.

use crate::error::{BootError, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Longest `wait_s` / `--wait` / `start_timeout_s` accepted (one day; the
/// `imds` millisecond settings likewise).
pub const MAX_WAIT_S: u64 = 86_400;

/// The configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The catalogue directory (`sv-templates/`).
    pub catalogue: Option<PathBuf>,
    /// The env layer tree; default `<catalogue>/env`.
    pub env_dir: Option<PathBuf>,
    /// Tag sources in merge order (later wins per key): `imds`,
    /// `static[:PATH]`, `describe-tags:PATH`, `legacy:PATH`, `env`; a
    /// trailing `?` makes a source optional (skipped when unreachable).
    /// Default: `imds` alone.
    pub sources: Vec<String>,
    /// Seconds to keep retrying the metadata service while it is absent,
    /// refuses connections, times out or answers 5xx (`--wait` wins).
    pub wait_s: u64,
    /// Where `chpst`, `svlogd`, `sv`, `runsvdir` and `runsv` are; default the
    /// directory of the running `boot`.
    pub bin_dir: Option<PathBuf>,
    /// Tag key names.
    pub keys: Keys,
    /// Derive the service from `aws:autoscaling:groupName` when the service
    /// tag is missing: a pattern such as `prod-{service}-asg`.
    pub asg_service: Option<String>,
    /// Instance metadata client settings.
    pub imds: Imds,
    /// Port per service, overriding the catalogue's `port`.
    pub ports: BTreeMap<String, u16>,
    /// `PATH` given to services (first in their environment, layers may
    /// override it); also where relative commands are resolved at render time.
    pub path: String,
    /// Variables of boot's own environment passed to a runsvdir started with
    /// `--spawn-runsvdir` (which otherwise gets only `PATH`).
    pub pass_env: Vec<String>,
    /// Seconds to wait for runsv to pick up a new service.
    pub start_timeout_s: u64,
    /// Roll back to the previous set when a check fails.
    pub rollback: bool,
    /// Allow a mode change without `--allow-mode-change`.
    pub allow_mode_change: bool,
    /// Allow a service/component change without `--allow-service-change`.
    pub allow_service_change: bool,
    /// Instance id to use when no source provides one (file sources filter by it).
    pub instance_id: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            catalogue: None,
            env_dir: None,
            sources: vec!["imds".into()],
            wait_s: 0,
            bin_dir: None,
            keys: Keys::default(),
            asg_service: None,
            imds: Imds::default(),
            ports: BTreeMap::new(),
            path: "/usr/local/bin:/usr/bin:/bin".into(),
            pass_env: Vec::new(),
            start_timeout_s: 15,
            rollback: true,
            allow_mode_change: false,
            allow_service_change: false,
            instance_id: None,
        }
    }
}

/// Which tag keys mean what.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keys {
    /// `review` | `staging` | `production`.
    pub mode: String,
    /// The service to run (staging/production).
    pub service: String,
    /// The component of that service.
    pub component: String,
    /// The config environment (default: the mode).
    pub environment: String,
}

impl Default for Keys {
    fn default() -> Self {
        Keys {
            mode: "Mode".into(),
            service: "Service".into(),
            component: "Component".into(),
            environment: "Environment".into(),
        }
    }
}

/// IMDSv2 client settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Imds {
    /// `http://host[:port]`; `AWS_EC2_METADATA_SERVICE_ENDPOINT` wins.
    pub endpoint: String,
    /// Connect timeout per attempt.
    pub connect_timeout_ms: u64,
    /// Whole-request timeout per attempt.
    pub timeout_ms: u64,
    /// Attempts per request beyond the first (within `deadline_ms`).
    pub retries: u32,
    /// Bound on one whole fetch: token, instance id, tag list, every value.
    pub deadline_ms: u64,
    /// Token lifetime asked for (seconds, 1..=21600); the token is reused
    /// until shortly before it expires.
    pub token_ttl_s: u32,
    /// Fall back to IMDSv1 (no token) when the token call is refused.
    pub allow_v1: bool,
    /// Allow endpoints other than loopback and link-local addresses.
    pub allow_any_endpoint: bool,
}

impl Default for Imds {
    fn default() -> Self {
        Imds {
            endpoint: "http://169.254.169.254".into(),
            connect_timeout_ms: 1000,
            timeout_ms: 2000,
            retries: 2,
            deadline_ms: 10_000,
            token_ttl_s: 21_600,
            allow_v1: false,
            allow_any_endpoint: false,
        }
    }
}

impl Config {
    /// Parses `boot.toml` text.
    pub fn parse(text: &str) -> Result<Config> {
        Config::parse_named(text, "boot.toml")
    }

    /// Parses `boot.toml` text read from `name`; errors say
    /// `invalid configuration <name>, line N: …`.
    pub fn parse_named(text: &str, name: &str) -> Result<Config> {
        let bad = |m: &str| BootError::invalid(format!("invalid configuration {name}: {m}"));
        let c: Config = toml::from_str(text).map_err(|e| {
            let line =
                e.span().and_then(|r| text.get(..r.start)).map(|before| before.matches('\n').count() + 1);
            match line {
                Some(l) => {
                    BootError::invalid(format!("invalid configuration {name}, line {l}: {}", e.message()))
                }
                None => bad(e.message()),
            }
        })?;
        if !(1..=21600).contains(&c.imds.token_ttl_s) {
            return Err(bad("imds.token_ttl_s must be 1..=21600"));
        }
        if c.wait_s > MAX_WAIT_S {
            return Err(bad(&format!("wait_s must be at most {MAX_WAIT_S}")));
        }
        if c.imds.deadline_ms == 0 {
            return Err(bad("imds.deadline_ms must be at least 1"));
        }
        if c.start_timeout_s > MAX_WAIT_S {
            return Err(bad(&format!("start_timeout_s must be at most {MAX_WAIT_S}")));
        }
        let ms = [
            ("connect_timeout_ms", c.imds.connect_timeout_ms),
            ("timeout_ms", c.imds.timeout_ms),
            ("deadline_ms", c.imds.deadline_ms),
        ];
        if let Some((key, _)) = ms.iter().find(|(_, v)| *v > MAX_WAIT_S * 1000) {
            return Err(bad(&format!("imds.{key} must be at most {}", MAX_WAIT_S * 1000)));
        }
        Ok(c)
    }

    /// Reads `path`. A missing file gives the embedded defaults, unless the
    /// file was `named` (`--config`): then it is an error, not a silent
    /// fallback.
    pub fn load(path: &std::path::Path, named: bool) -> Result<Config> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse_named(&text, &path.display().to_string()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !named => Ok(Config::default()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(BootError::invalid(format!("configuration {} (--config) does not exist", path.display())))
            }
            Err(e) => Err(BootError::io(format!("unable to read {}", path.display()), e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let c = Config::parse("").expect("empty");
        assert_eq!(c.sources, ["imds"], "fail closed: no guessing from the static sample");
        assert_eq!((c.wait_s, c.imds.token_ttl_s), (0, 21600));
        assert_eq!(c.keys.mode, "Mode");
        let c = Config::parse("sources = [\"imds\", \"env\"]\n[imds]\nretries = 0\n[ports]\nweb = 18080\n")
            .expect("parse");
        assert_eq!(c.imds.retries, 0);
        assert_eq!(c.ports.get("web"), Some(&18080));
        assert!(Config::parse("nonsense = 1").is_err());
        assert!(Config::parse("wait_s = \"x\"").is_err());
        assert!(Config::parse("[imds]\ntoken_ttl_s = 21601").is_err());
        assert_eq!(Config::parse("wait_s = 30").map(|c| c.wait_s).ok(), Some(30));
    }

    #[test]
    fn errors_name_the_file_and_line() {
        let e =
            Config::parse_named("wait_s = 5\n\nwiat_s = 5\n", "/etc/boot/boot.toml").expect_err("an error");
        let m = e.to_string();
        assert!(
            m.starts_with("invalid configuration /etc/boot/boot.toml, line 3: unknown field `wiat_s`"),
            "{m}"
        );
        let m = Config::parse_named("[imds]\ntoken_ttl_s = 0\n", "x.toml").expect_err("an error").to_string();
        assert_eq!(m, "invalid configuration x.toml: imds.token_ttl_s must be 1..=21600");
        // Durations that would overflow a deadline are refused, not a panic later.
        for text in ["start_timeout_s = 18446744073709551615", "[imds]\ndeadline_ms = 86400001"] {
            let m = Config::parse(text).expect_err(text).to_string();
            assert!(m.contains("must be at most"), "{m}");
        }
        let d = std::env::temp_dir().join(crate::fsx::unique_name("boot-config-"));
        assert!(Config::load(&d.join("none.toml"), false).is_ok(), "the default path may be missing");
        let named = Config::load(&d.join("none.toml"), true).expect_err("an error");
        assert!(named.to_string().contains("does not exist"), "{named}");
        assert_eq!(named.exit(), crate::error::Exit::Invalid);
    }
}
