//! Pinned language runtimes (asdf 0.16+ or mise), resolved at render time.
//!
//! Design notes §3.3: installs are baked into the image; boot reads the
//! pins (`.tool-versions` in the workdir, then the manifest's
//! `[runtime.tools]`), checks that `<data_dir>/installs/<tool>/<version>/bin`
//! exists, and puts those directories first in the service's `PATH`, with
//! `ASDF_DATA_DIR`/`MISE_DATA_DIR` and `ASDF_<TOOL>_VERSION`/
//! `MISE_<TOOL>_VERSION`. The run script then execs the real binary: no
//! shims, no shell functions, no lookup at run time, and a runtime bump
//! changes the service's hash so exactly that service restarts.
//!
//! [`newest`] serves the `{newest:PATTERN}` placeholder: system packages
//! that install per major version (Debian's `/usr/lib/postgresql/<N>/bin`:
//! 15 on Debian 12, 17 on Debian 13) are found at render time, so one
//! catalogue fits both.

use crate::catalogue::{Manager, Runtime};
use crate::error::{BootError, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// Variables a runtime adds: (`PATH` prefix, other variables).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct RuntimeEnv {
    /// Directories to put before `PATH`.
    pub path_prefix: Vec<String>,
    /// Other variables.
    pub vars: BTreeMap<String, String>,
}

fn token_ok(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
}

/// Parses `.tool-versions`: `tool version [fallback…]`, `#` comments.
pub fn parse_tool_versions(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((w.next()?.to_string(), w.next()?.to_string()))
        })
        .collect()
}

/// Resolves `rt` for a service whose workdir is `workdir`.
pub fn resolve(rt: &Runtime, workdir: &str, service: &str) -> Result<RuntimeEnv> {
    let (prefix, data_var) = match rt.manager {
        Manager::None => return Ok(RuntimeEnv::default()),
        Manager::Asdf => ("ASDF", "ASDF_DATA_DIR"),
        Manager::Mise => ("MISE", "MISE_DATA_DIR"),
    };
    let bad = |m: String| BootError::invalid(format!("catalogue: {service}: runtime: {m}"));
    let data_dir = rt
        .data_dir
        .as_deref()
        .filter(|d| d.starts_with('/'))
        .ok_or_else(|| bad("data_dir must be an absolute path".into()))?;
    let mut pins = BTreeMap::new();
    if let Some(f) = &rt.versions_file {
        let path = Path::new(workdir).join(f);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| BootError::io(format!("unable to read {}", path.display()), e))?;
        pins = parse_tool_versions(&text);
    }
    pins.extend(rt.tools.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut out = RuntimeEnv::default();
    out.vars.insert(data_var.to_string(), data_dir.to_string());
    for (tool, version) in &pins {
        if !token_ok(tool) || !token_ok(version) {
            return Err(bad(format!("bad pin {tool:?} {version:?}")));
        }
        let var = format!("{prefix}_{}_VERSION", tool.to_ascii_uppercase().replace(['-', '.', '+'], "_"));
        out.vars.insert(var, version.clone());
        if version == "system" {
            continue;
        }
        let bin = format!("{data_dir}/installs/{tool}/{version}/bin");
        if !Path::new(&bin).is_dir() {
            return Err(bad(format!("{tool} {version} is not installed ({bin} is missing)")));
        }
        out.path_prefix.push(bin);
    }
    Ok(out)
}

/// A version as a list of numbers (`15`, `9.6`, `3.12.1`); `None` unless
/// it is dot-separated decimal numbers.
fn numeric_version(s: &str) -> Option<Vec<u64>> {
    if s.is_empty() {
        return None;
    }
    s.split('.').map(|p| if p.is_empty() { None } else { p.parse::<u64>().ok() }).collect()
}

/// Resolves `{newest:PATTERN}`: `PATTERN` is an absolute path with exactly
/// one component `*` (`/usr/lib/postgresql/*/bin`); the result is the
/// existing directory it matches whose `*` is the highest numeric version
/// (`17` over `15`, `9.6` under `10`; names that are not versions, like
/// `15.bak`, never match). No match is an error naming the pattern.
pub fn newest(pattern: &str, service: &str) -> Result<String> {
    let bad = |why: &str| {
        BootError::invalid(format!("catalogue: {service}: placeholder {{newest:{pattern}}}: {why}"))
    };
    if !pattern.starts_with('/') {
        return Err(bad("the pattern must be an absolute path"));
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    if parts.iter().any(|p| *p == "." || *p == "..") || parts.iter().filter(|p| p.contains('*')).count() != 1
    {
        return Err(bad("the pattern needs exactly one path component \"*\" and no \".\" or \"..\""));
    }
    let star =
        parts.iter().position(|p| *p == "*").ok_or_else(|| bad("\"*\" must be a whole path component"))?;
    let parent = parts.get(..star).map(|p| p.join("/")).unwrap_or_default();
    let parent = if parent.is_empty() { "/".to_string() } else { parent };
    let rest = parts.get(star + 1..).map(|p| p.join("/")).unwrap_or_default();
    let mut best: Option<(Vec<u64>, String)> = None;
    if let Ok(entries) = std::fs::read_dir(&parent) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(v) = numeric_version(&name) else { continue };
            let cand = Path::new(&parent).join(&name).join(&rest);
            if cand.is_dir() && best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, cand.display().to_string().trim_end_matches('/').to_string()));
            }
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| bad("no directory matches (is the package installed?)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_installed_pins() {
        let d = std::env::temp_dir().join(crate::fsx::unique_name("boot-rt-"));
        std::fs::create_dir_all(d.join("asdf/installs/nodejs/20.11.1/bin")).expect("mkdir");
        std::fs::create_dir_all(d.join("app")).expect("mkdir");
        std::fs::write(d.join("app/.tool-versions"), "nodejs 20.11.1 system # pinned\nruby system\n")
            .expect("write");
        let rt = Runtime {
            manager: Manager::Asdf,
            data_dir: Some(d.join("asdf").display().to_string()),
            versions_file: Some(".tool-versions".into()),
            tools: BTreeMap::new(),
        };
        let env = resolve(&rt, &d.join("app").display().to_string(), "web").expect("resolve");
        assert_eq!(env.path_prefix, [format!("{}/asdf/installs/nodejs/20.11.1/bin", d.display())]);
        assert_eq!(env.vars.get("ASDF_NODEJS_VERSION").map(String::as_str), Some("20.11.1"));
        assert_eq!(env.vars.get("ASDF_RUBY_VERSION").map(String::as_str), Some("system"));
        let mut missing = rt.clone();
        missing.tools.insert("python".into(), "3.12.1".into());
        assert!(resolve(&missing, &d.join("app").display().to_string(), "web").is_err());
        let mut evil = rt.clone();
        evil.tools.insert("nodejs".into(), "../../x".into());
        assert!(resolve(&evil, &d.join("app").display().to_string(), "web").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn newest_picks_the_highest_numeric_version() {
        let d = std::env::temp_dir().join(crate::fsx::unique_name("boot-newest-"));
        let pg = d.join("usr/lib/postgresql");
        for v in ["9.6", "15", "17", "100.bak", "latest"] {
            std::fs::create_dir_all(pg.join(v).join("bin")).expect("mkdir");
        }
        std::fs::create_dir_all(pg.join("18")).expect("mkdir"); // no bin/: not a match
        let pat = format!("{}/*/bin", pg.display());
        assert_eq!(newest(&pat, "postgres").expect("newest"), format!("{}/17/bin", pg.display()));
        std::fs::remove_dir_all(pg.join("17")).expect("rm");
        std::fs::remove_dir_all(pg.join("15")).expect("rm");
        assert_eq!(newest(&pat, "postgres").expect("9.6"), format!("{}/9.6/bin", pg.display()));
        std::fs::create_dir_all(pg.join("10/bin")).expect("mkdir");
        assert_eq!(newest(&pat, "postgres").expect("10"), format!("{}/10/bin", pg.display()));
        let none = newest(&format!("{}/nothing/*/bin", d.display()), "postgres");
        assert!(
            matches!(&none, Err(BootError::Invalid(m)) if m.contains("no directory matches")),
            "{none:?}"
        );
        for bad in ["usr/*/bin", "/usr/lib/*/*/bin", "/usr/lib/post*/bin", "/usr/../*/bin", "/usr/lib/bin"] {
            assert!(newest(bad, "x").is_err(), "{bad}");
        }
        let _ = std::fs::remove_dir_all(&d);
    }
}
