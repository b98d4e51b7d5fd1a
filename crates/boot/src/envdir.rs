//! The flattened environment of one service: env layers read from the
//! catalogue's env tree, then boot's generated variables, merged into one
//! map that is written as one env directory (`env/`) for a single `chpst -e`.
//!
//! Order, later winning (design notes §4/§5.7):
//!
//! 1. `PATH` from boot.toml (so a service never inherits runsvdir's);
//! 2. the layers, by default `common` -> `<env>` -> `<env>/<service>` ->
//!    `<env>/<service>/<component>` (missing layers are skipped; `common`
//!    must exist);
//! 3. the manifest's `[env.set]`, then `[env.mode.<mode>]`;
//! 4. the runtime (`PATH` with pinned tool directories, `*_VERSION`);
//! 5. boot's layer: `BOOT_MODE`, `BOOT_ENV`, `BOOT_SERVICE`,
//!    `BOOT_COMPONENT`, `BOOT_INSTANCE_ID`, and the whitelisted tags
//!    (`[env.from_tags]`) — last, so config can neither fake nor shadow them.
//!
//! Layer files are copied byte for byte: chpst applies envdir semantics
//! (first line, trailing blanks trimmed, NUL -> newline, a 0-byte file
//! unsets) exactly as it would to the layer itself, and a 0-byte file keeps
//! unsetting whatever runsvdir's environment had. Generated values are
//! written as `value\n`, which chpst reads back verbatim (an empty value
//! stays set and empty); values chpst could not carry verbatim (a newline,
//! NUL, trailing blanks, more than 4096 bytes) are refused.

use crate::error::{BootError, Result};
use crate::names;
use std::collections::BTreeMap;
use std::path::Path;

/// Largest layer file read.
const MAX_FILE: u64 = 64 * 1024;
/// Largest generated value.
pub const MAX_VALUE: usize = 4096;

/// One variable of the flattened env dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvEntry {
    /// The file's bytes.
    pub bytes: Vec<u8>,
    /// Where it came from (`layer:review/worker`, `boot`, `tag:Team`, …).
    pub source: String,
}

/// The flattened environment.
pub type Env = BTreeMap<String, EnvEntry>;

/// Checks a generated value can travel through an env file verbatim.
pub fn check_value(value: &str) -> std::result::Result<(), &'static str> {
    if value.len() > MAX_VALUE {
        Err("longer than 4096 bytes")
    } else if value.contains(['\n', '\0']) {
        Err("contains a newline or NUL")
    } else if value.ends_with([' ', '\t']) {
        Err("ends with a blank (chpst would trim it)")
    } else {
        Ok(())
    }
}

/// Sets a generated variable (`value\n`).
pub fn set(env: &mut Env, name: &str, value: &str, source: &str) -> Result<()> {
    check_value(value).map_err(|why| {
        BootError::invalid(format!("value of {name} (from {source}) cannot be passed verbatim: {why}"))
    })?;
    let mut bytes = value.as_bytes().to_vec();
    bytes.push(b'\n');
    env.insert(name.to_string(), EnvEntry { bytes, source: source.to_string() });
    Ok(())
}

/// Reads one layer directory over `env`. Returns false when it is missing.
pub fn read_layer(env: &mut Env, dir: &Path, label: &str) -> Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(BootError::io(format!("unable to read env layer {}", dir.display()), e)),
    };
    for e in entries {
        let e = e.map_err(|e| BootError::io(format!("unable to read env layer {}", dir.display()), e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        let meta = std::fs::metadata(&path)
            .map_err(|e| BootError::io(format!("unable to stat {}", path.display()), e))?;
        if name.starts_with('.') || meta.is_dir() {
            continue;
        }
        if !names::is_var_name(&name) {
            return Err(BootError::invalid(format!("env layer {label}: bad variable name {name:?}")));
        }
        if meta.len() > MAX_FILE {
            return Err(BootError::invalid(format!("env layer {label}: {name} is larger than 64 KiB")));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| BootError::io(format!("unable to read {}", path.display()), e))?;
        env.insert(name, EnvEntry { bytes, source: format!("layer:{label}") });
    }
    Ok(true)
}

/// Substitutes `{env}`, `{name}`, `{component}` in a layer path and checks
/// the result stays inside the env tree.
pub fn layer_path(pattern: &str, env_name: &str, service: &str, component: &str) -> Result<String> {
    let p = pattern.replace("{env}", env_name).replace("{name}", service).replace("{component}", component);
    let ok = !p.is_empty()
        && !p.starts_with('/')
        && p.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains(['{', '}']));
    if ok {
        Ok(p)
    } else {
        Err(BootError::invalid(format!("catalogue: {service}: bad env layer {pattern:?}")))
    }
}

/// The `env.sources` text: `NAME<TAB>source` per variable (no values).
pub fn sources_text(env: &Env) -> Vec<u8> {
    env.iter().map(|(k, e)| format!("{k}\t{}\n", e.source)).collect::<String>().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_override_and_unset() {
        let d = std::env::temp_dir().join(crate::fsx::unique_name("boot-envdir-"));
        let w = |p: &str, b: &[u8]| {
            let p = d.join(p);
            std::fs::create_dir_all(p.parent().unwrap_or(&d)).expect("mkdir");
            std::fs::write(p, b).expect("write");
        };
        w("common/LOG_LEVEL", b"info\n");
        w("common/DEBUG", b"1\n");
        w("common/.hidden", b"x");
        w("review/DEBUG", b"");
        w("review/worker/LOG_LEVEL", b"debug  \n");
        let mut env = Env::new();
        assert!(read_layer(&mut env, &d.join("common"), "common").expect("common"));
        assert!(read_layer(&mut env, &d.join("review"), "review").expect("review"));
        assert!(read_layer(&mut env, &d.join("review/worker"), "review/worker").expect("svc"));
        assert!(!read_layer(&mut env, &d.join("review/worker/x"), "x").expect("missing"));
        assert_eq!(env.get("LOG_LEVEL").map(|e| e.bytes.as_slice()), Some(&b"debug  \n"[..]));
        assert_eq!(env.get("DEBUG").map(|e| e.bytes.len()), Some(0));
        assert!(!env.contains_key(".hidden"));
        w("bad/A-B", b"x");
        assert!(read_layer(&mut env, &d.join("bad"), "bad").is_err());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn generated_values() {
        let mut env = Env::new();
        set(&mut env, "APP_TEAM", "a'b\"c$(x)`y`", "tag:Team").expect("odd but fine");
        assert_eq!(env.get("APP_TEAM").map(|e| e.bytes.clone()), Some(b"a'b\"c$(x)`y`\n".to_vec()));
        set(&mut env, "EMPTY", "", "boot").expect("empty");
        assert_eq!(env.get("EMPTY").map(|e| e.bytes.clone()), Some(b"\n".to_vec()));
        assert!(set(&mut env, "X", "a\nb", "tag").is_err());
        assert!(set(&mut env, "X", "a ", "tag").is_err());
        assert!(set(&mut env, "X", &"x".repeat(4097), "tag").is_err());
    }

    #[test]
    fn layer_paths() {
        assert_eq!(
            layer_path("{env}/{name}/{component}", "review", "web", "default").ok().as_deref(),
            Some("review/web/default")
        );
        assert!(layer_path("../{env}", "review", "web", "default").is_err());
        assert!(layer_path("/etc", "review", "web", "default").is_err());
        assert!(layer_path("{bogus}", "review", "web", "default").is_err());
    }
}
