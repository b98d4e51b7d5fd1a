//! boot's untrusted inputs (design notes boot.md §1, §5): every tag source
//! (the static TOML file, describe-tags / describe-instances JSON, the
//! legacy tab-separated text, the instance metadata service's HTTP
//! answers), the catalogue's `service.toml` manifests and `boot.toml`.
//!
//! Tags that a source accepts and [`boot::tags::validate`] lets through are
//! taken all the way: resolved against the repository's own catalogue
//! (`sv-templates/`) and rendered in memory. The rendered tree must hold
//! no hostile tag value in any script (tag data reaches services only as
//! env files), keep env files private (0600 in a 0700 `env/`), and name
//! only relative paths inside the service directory.

use crate::input::Input;
use boot::catalogue::Catalogue;
use boot::context::{Allow, Boot};
use boot::render::Node;
use boot::tags::{Snapshot, TagSet, files, http};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Which parser the first input byte picks.
pub fn tag_sources(data: &[u8]) {
    let mut input = Input::new(data);
    let which = input.byte() % 5;
    let known = match input.byte() % 3 {
        0 => None,
        1 => Some("i-1"),
        _ => Some("i-0123456789abcdef0"),
    };
    let text = String::from_utf8_lossy(input.rest()).into_owned();
    let snap = match which {
        0 => files::parse_static(&text, "f"),
        1 => files::parse_describe(&text, known, "f"),
        2 => files::parse_legacy(&text, known, "f"),
        3 => {
            // The metadata service's raw answers (status line, headers,
            // Content-Length or chunked bodies).
            if let Ok(r) = http::parse_response(text.as_bytes()) {
                assert!(r.body.len() <= http::MAX_BODY);
            }
            return;
        }
        _ => {
            // boot.toml and the --source syntax.
            let _ = boot::config::Config::parse(&text);
            for spec in text.lines().take(16) {
                let _ = boot::tags::Source::parse(spec);
            }
            return;
        }
    };
    if let Ok(snap) = snap {
        if let Some(id) = (which != 0).then_some(()).and(known) {
            // A file source never hands back another instance's id.
            assert!(snap.instance_id.as_deref().is_none_or(|i| i == id), "{snap:?}");
        }
        plan_and_render(snap, "fuzz");
    }
}

/// Resolves and renders `snap` against the repository's catalogue, in
/// every mode the tags allow, and checks the rendered trees.
pub fn plan_and_render(snap: Snapshot, label: &str) {
    let mut set = TagSet::default();
    set.merge(snap, label);
    if boot::tags::validate(&set).is_err() {
        return;
    }
    let Some((b, cat)) = world() else { return };
    let allow = Allow { mode_change: true, service_change: true };
    let Ok(prep) = b.prepare(set.clone(), cat, None, allow) else { return };
    for r in &prep.rendered {
        check_rendered(r, &set);
    }
}

fn check_rendered(r: &boot::render::Rendered, set: &TagSet) {
    let hostile: Vec<&str> = set
        .tags
        .values()
        .map(|t| t.value.as_str())
        .filter(|v| {
            v.len() >= 2 && v.contains(['$', '`', '\\', '"', '\'', ';', '&', '|', '\n', '(', '<', '>'])
        })
        .collect();
    let env_mode = r.nodes.iter().find(|(p, _)| p == "env").map(|(_, n)| n.clone());
    assert_eq!(env_mode, Some(Node::Dir(0o700)), "{}: env/ is not a private directory", r.dirname());
    for (path, node) in &r.nodes {
        assert!(
            !path.is_empty()
                && !path.starts_with('/')
                && path.split('/').all(|c| !c.is_empty() && c != ".." && c != "."),
            "rendered path {path:?} leaves the service directory"
        );
        let Node::File(mode, bytes) = node else { continue };
        if path.starts_with("env/") || path == "env.sources" {
            assert_eq!(mode & 0o077, 0, "{path} is readable by others ({mode:o})");
            continue;
        }
        for v in &hostile {
            assert!(
                !bytes.windows(v.len()).any(|w| w == v.as_bytes()),
                "tag value {v:?} reached {path} of {}",
                r.dirname()
            );
        }
    }
}

/// The catalogue and an invocation context, built once per process.
fn world() -> Option<&'static (Boot, Catalogue)> {
    static WORLD: OnceLock<Option<(Boot, Catalogue)>> = OnceLock::new();
    WORLD
        .get_or_init(|| {
            let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
            let catalogue_dir = repo.join("sv-templates");
            let root = PathBuf::from(format!("/tmp/runit-fuzz-boot-{}", std::process::id()));
            let cat = Catalogue::load(&catalogue_dir).ok()?;
            let b = Boot {
                layout: boot::layout::Layout::new(root),
                config: boot::config::Config::default(),
                catalogue_dir,
                bin_dir: PathBuf::from("/usr/local/bin"),
                env: BTreeMap::new(),
                sources: Vec::new(),
                wait: std::time::Duration::ZERO,
                privileged: false,
            };
            Some((b, cat))
        })
        .as_ref()
}

/// The catalogue loader: up to four `service.toml` files (NUL-separated),
/// in folders named like the repository's services, so that names,
/// dependencies and cycles are all reachable.
pub fn manifests(data: &[u8]) {
    const FOLDERS: [&str; 4] = ["web", "worker", "postgres", "redis"];
    let dir = PathBuf::from(format!("/dev/shm/runit-fuzz-cat-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for (folder, text) in FOLDERS.iter().zip(data.split(|&b| b == 0)) {
        let d = dir.join(folder);
        if std::fs::create_dir_all(&d).is_err() || std::fs::write(d.join("service.toml"), text).is_err() {
            return;
        }
    }
    if let Ok(cat) = Catalogue::load(&dir) {
        let names: Vec<String> = cat.services.keys().cloned().collect();
        let order = cat.order(&names).expect("a loaded catalogue has an order");
        for (i, n) in order.iter().enumerate() {
            let deps = &cat.services[n].dependencies.review;
            assert!(deps.iter().all(|d| order[..i].contains(d)), "{n} ordered before its dependencies");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
