//! Tests of the pure pipeline (resolve -> render -> diff) against a small
//! catalogue built in a temp dir.
#![allow(clippy::unwrap_used)]

use crate::apply::Diff;
use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::error::BootError;
use crate::plan::{self, Inputs, Mode, Plan};
use crate::render::{self, Settings};
use crate::state::{ServiceState, State};
use crate::tags::{Snapshot, TagSet};
use std::path::{Path, PathBuf};

struct Fixture {
    dir: PathBuf,
    cat: Catalogue,
    config: Config,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn fixture() -> Fixture {
    let dir = std::env::temp_dir().join(crate::fsx::unique_name("boot-pipeline-"));
    let app = |name: &str, extra: &str| {
        format!(
            "schema = 1\nname = \"{name}\"\nkind = \"app\"\nmodes = [\"review\", \"production\"]\n{extra}"
        )
    };
    write(
        &dir,
        "cat/web/service.toml",
        &app(
            "web",
            "port = 8080\n[process]\ncommand = [\"/bin/echo\", \"it's {port}\", \"{port:db}\"]\n\
             [env]\nfrom_tags = { Team = \"APP_TEAM\" }\n[env.mode.review]\nDB_PORT = \"{port:db}\"\n\
             [dependencies]\nreview = [\"db\"]\n[check]\ncommand = [\"true\"]\n",
        ),
    );
    write(
        &dir,
        "cat/worker/service.toml",
        &app(
            "worker",
            "[process]\ncommand = [\"/bin/echo\", \"default\"]\n[components.critical]\ncommand = [\"/bin/echo\", \"critical\"]\n",
        ),
    );
    write(
        &dir,
        "cat/db/service.toml",
        "schema = 1\nname = \"db\"\nkind = \"dependency\"\nmodes = [\"review\"]\nport = 5433\n[process]\ncommand = [\"/bin/cat\"]\n[stop]\nsignal = \"INT\"\ngroup = false\n",
    );
    write(&dir, "cat/env/common/A", "common\n");
    write(&dir, "cat/env/common/GONE", "x\n");
    write(&dir, "cat/env/review/A", "review\n");
    write(&dir, "cat/env/production/GONE", "");
    write(&dir, "cat/env/production/worker/critical/B", "crit\n");
    let cat = Catalogue::load(&dir.join("cat")).unwrap();
    let config = Config { asg_service: Some("prod-{service}-asg".into()), ..Config::default() };
    Fixture { dir, cat, config }
}

fn tags(pairs: &[(&str, &str)]) -> TagSet {
    let mut t = TagSet::default();
    t.merge(
        Snapshot {
            tags: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            instance_id: None,
        },
        "test",
    );
    t
}

fn resolve(f: &Fixture, pairs: &[(&str, &str)], prev: Option<&State>) -> Result<Plan, BootError> {
    let env_dir = f.cat.dir.join("env");
    let inp = Inputs {
        config: &f.config,
        catalogue: &f.cat,
        env_dir: &env_dir,
        bin_dir: Path::new("/opt/bin"),
        data_root: Path::new("/r/data"),
        log_root: Path::new("/r/log"),
        previous: prev,
        allow_mode_change: false,
        allow_service_change: false,
        privileged: false,
    };
    plan::resolve(tags(pairs), &inp)
}

fn settings(sup: &str) -> Settings {
    Settings {
        chpst: "/opt/bin/chpst".into(),
        svlogd: "/opt/bin/svlogd".into(),
        sv: "/opt/bin/sv".into(),
        current: "/r/current".into(),
        supervise_root: sup.into(),
    }
}

fn env_of(p: &Plan, svc: &str, var: &str) -> Option<Vec<u8>> {
    p.services.iter().find(|s| s.name == svc)?.env.get(var).map(|e| e.bytes.clone())
}

#[test]
fn review_runs_apps_and_dependencies_in_order() {
    let f = fixture();
    let p = resolve(&f, &[("Mode", "review"), ("Team", "q'a")], None).unwrap();
    let names: Vec<&str> = p.services.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["db", "web", "worker"]);
    let web = &p.services[1];
    assert_eq!(web.argv, ["/bin/echo", "it's 8080", "5433"]);
    assert!(web.check.as_ref().unwrap()[0].ends_with("/true"), "bare names resolve in PATH at render time");
    assert_eq!(env_of(&p, "web", "A"), Some(b"review\n".to_vec()));
    assert_eq!(env_of(&p, "web", "DB_PORT"), Some(b"5433\n".to_vec()));
    assert_eq!(env_of(&p, "web", "APP_TEAM"), Some(b"q'a\n".to_vec()));
    assert_eq!(env_of(&p, "web", "BOOT_MODE"), Some(b"review\n".to_vec()));
    assert_eq!(web.deps, ["db"]);
}

#[test]
fn production_runs_one_component_with_its_layers() {
    let f = fixture();
    let p = resolve(&f, &[("Mode", "production"), ("Service", "worker"), ("Component", "critical")], None)
        .unwrap();
    assert_eq!(p.mode, Mode::Production);
    assert_eq!(p.services.len(), 1);
    let w = &p.services[0];
    assert_eq!(w.argv, ["/bin/echo", "critical"]);
    assert_eq!(env_of(&p, "worker", "A"), Some(b"common\n".to_vec()));
    assert_eq!(env_of(&p, "worker", "B"), Some(b"crit\n".to_vec()));
    assert_eq!(env_of(&p, "worker", "GONE"), Some(Vec::new()), "a 0-byte layer file unsets");
    // The autoscaling group names the service when the tag is missing.
    let p =
        resolve(&f, &[("Mode", "production"), ("aws:autoscaling:groupName", "prod-web-asg")], None).unwrap();
    assert_eq!(p.service.as_deref(), Some("web"));
}

#[test]
fn fails_closed() {
    let f = fixture();
    let bad: [&[(&str, &str)]; 9] = [
        &[],
        &[("Mode", "Review")],
        &[("Mode", "production")],
        &[("Mode", "production"), ("Service", "db")],
        &[("Mode", "production"), ("Service", "../../etc")],
        &[("Mode", "production"), ("Service", "worker"), ("Component", "$(id)")],
        &[("Mode", "production"), ("Service", "worker"), ("Environment", "nowhere")],
        &[("Mode", "production"), ("aws:autoscaling:groupName", "other-web")],
        &[("Mode", "review"), ("Team", "a\nb")],
    ];
    for t in bad {
        assert!(matches!(resolve(&f, t, None), Err(BootError::Invalid(_))), "{t:?}");
    }
}

fn state_of(p: &Plan) -> State {
    State {
        schema: 1,
        instance_id: None,
        generation: 1,
        previous_generation: None,
        mode: p.mode.as_str().into(),
        env: p.env_name.clone(),
        service: p.service.clone(),
        component: p.component.clone(),
        tags: Default::default(),
        services: p
            .services
            .iter()
            .map(|s| {
                let ss = ServiceState {
                    hash: render::render(s, &settings("/s"), 30).hash,
                    component: s.component.clone(),
                    deps: s.deps.clone(),
                    stop_timeout_s: 10,
                    stop_signal: "TERM".into(),
                    group_stop: true,
                    check_timeout_s: None,
                    port: s.port,
                };
                (s.name.clone(), ss)
            })
            .collect(),
        order: p.services.iter().map(|s| s.name.clone()).collect(),
        runsvdir: None,
    }
}

#[test]
fn mode_and_service_changes_are_refused() {
    let f = fixture();
    let prod = resolve(&f, &[("Mode", "production"), ("Service", "worker")], None).unwrap();
    let st = state_of(&prod);
    assert!(matches!(resolve(&f, &[("Mode", "review")], Some(&st)), Err(BootError::Refused(_))));
    let r = resolve(&f, &[("Mode", "production"), ("Service", "web")], Some(&st));
    assert!(matches!(r, Err(BootError::Refused(_))));
    let r =
        resolve(&f, &[("Mode", "production"), ("Service", "worker"), ("Component", "critical")], Some(&st));
    assert!(matches!(r, Err(BootError::Refused(_))));
    assert!(resolve(&f, &[("Mode", "production"), ("Service", "worker")], Some(&st)).is_ok());
}

#[test]
fn render_quotes_and_hashes_content_only() {
    let f = fixture();
    let p = resolve(&f, &[("Mode", "review"), ("Team", "$(id)")], None).unwrap();
    let web = &p.services[1];
    let a = render::render(web, &settings("/run/a"), 60);
    let b = render::render(web, &settings("/run/b"), 60);
    assert_eq!(a.hash, b.hash, "supervise links are not hashed");
    assert_eq!(a.hash.len(), 12);
    let run = String::from_utf8(a.file("run").unwrap().to_vec()).unwrap();
    assert!(run.contains("'/opt/bin/sv' '-w' '60' 'check' '/r/current/db' || exit 111\n"), "{run}");
    assert!(
        run.contains("exec '/opt/bin/chpst' '-P' '-e' 'env' '/bin/echo' 'it'\\''s 8080' '5433'\n"),
        "{run}"
    );
    assert!(!run.contains("$(id)"), "tag values never reach scripts");
    assert_eq!(a.file("env/APP_TEAM"), Some(&b"$(id)\n"[..]));
    let db = render::render(&p.services[0], &settings("/s"), 30);
    let t = String::from_utf8(db.file("control/t").unwrap().to_vec()).unwrap();
    assert!(t.contains("kill -s INT -- \"$pid\""), "{t}");
    let p2 = resolve(&f, &[("Mode", "review"), ("Team", "other")], None).unwrap();
    assert_ne!(render::render(&p2.services[1], &settings("/run/a"), 60).hash, a.hash);
    assert_eq!(render::render(&p2.services[0], &settings("/s"), 30).hash, db.hash, "db does not see Team");
}

#[test]
fn diff_against_state() {
    let f = fixture();
    let p = resolve(&f, &[("Mode", "review"), ("Team", "a")], None).unwrap();
    let st = state_of(&p);
    let rendered: Vec<_> = p.services.iter().map(|s| render::render(s, &settings("/s"), 30)).collect();
    assert!(Diff::compute(Some(&st), &rendered).is_empty());
    let p2 = resolve(&f, &[("Mode", "review"), ("Team", "b")], None).unwrap();
    let r2: Vec<_> = p2.services.iter().skip(1).map(|s| render::render(s, &settings("/s"), 30)).collect();
    let d = Diff::compute(Some(&st), &r2);
    assert_eq!((d.changed.clone(), d.removed.clone()), (vec!["web".to_string()], vec!["db".to_string()]));
    assert_eq!(d.unchanged, ["worker"], "worker does not whitelist Team");
    assert_eq!(Diff::compute(None, &r2).added.len(), 2);
}

#[test]
fn render_readiness_declarations() {
    use crate::catalogue::Ready;
    let f = fixture();
    let p = resolve(&f, &[("Mode", "review")], None).unwrap();
    let (mut db, mut web) = (p.services[0].clone(), p.services[1].clone());
    let plain = render::render(&web, &settings("/s"), 30);
    assert!(plain.file("notification-fd").is_none() && plain.file("notify-socket").is_none());
    web.manifest.ready = Some(Ready { notify: "fd:3".into(), timeout_s: 30 });
    let r = render::render(&web, &settings("/s"), 30);
    assert_ne!(r.hash, plain.hash, "the declaration is part of the service");
    assert_eq!(r.file("notification-fd"), Some(&b"3\n"[..]));
    let run = String::from_utf8(r.file("run").unwrap().to_vec()).unwrap();
    // The dependency wait cannot write on the service's descriptor.
    assert!(run.contains("'/opt/bin/sv' '-w' '30' 'check' '/r/current/db' 3>&- || exit 111\n"), "{run}");
    assert!(run.contains("\nexec '/opt/bin/chpst' '-P' "), "{run}");
    db.manifest.ready = Some(Ready { notify: "systemd".into(), timeout_s: 9 });
    db.init = Some(vec!["/bin/true".into()]);
    db.data_dir = Some("/r/data/db".into());
    let r = render::render(&db, &settings("/s"), 30);
    assert_eq!(r.file("notify-socket"), Some(&b""[..]));
    let run = String::from_utf8(r.file("run").unwrap().to_vec()).unwrap();
    assert!(
        run.contains(
            "  (unset NOTIFY_SOCKET; exec '/opt/bin/chpst' '-e' 'env' '/bin/true') || exit 111\nfi\n"
        ),
        "the data init cannot claim readiness: {run}"
    );
    assert_eq!(db.manifest.ready_timeout_s(), Some(9));
}

/// The modules of `src/` and the modules each one names
/// ([`module_deps`]), test code and comments excluded.
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        files.push(e.path());
    }
    for e in std::fs::read_dir(src.join("tags")).unwrap().flatten() {
        files.push(e.path());
    }
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        std::collections::BTreeMap::new();
    for f in files.iter().filter(|f| f.extension().is_some_and(|x| x == "rs")) {
        let stem = f.file_stem().unwrap().to_string_lossy().into_owned();
        // tags/*.rs belong to `tags`.
        let name = if f.parent().unwrap().ends_with("tags") { "tags".to_string() } else { stem.clone() };
        if ["lib", "main", "tests"].contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(f).unwrap();
        let text = text.split("#[cfg(test)]").next().unwrap_or("");
        graph.entry(name.clone()).or_default().extend(module_deps(&name, &stem, text));
    }
    graph
}

/// The modules of boot that `text` (the non-test code of `src/<stem>.rs`,
/// or `src/tags/<stem>.rs` for `name` `tags`) names: `crate::a`,
/// `crate::{a, b::c}`, and the crate root's `super::` (`super::super::` in
/// `tags/`, where `super::` is `tags` itself). Comment lines are skipped.
fn module_deps(name: &str, stem: &str, text: &str) -> std::collections::BTreeSet<String> {
    let root_super = if name == "tags" && stem != "mod" { "super::super::" } else { "super::" };
    let code: String =
        text.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
    let mut deps = std::collections::BTreeSet::new();
    for root in ["crate::", root_super] {
        for (i, _) in code.match_indices(root) {
            if code[..i].ends_with("super::") {
                continue; // the tail of a longer `super::super::`
            }
            let rest = &code[i + root.len()..];
            let names: Vec<String> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(group.len())]
                    .split(',')
                    .map(|p| p.trim().split("::").next().unwrap_or("").to_string())
                    .collect(),
                None => vec![
                    rest.chars()
                        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
                        .collect(),
                ],
            };
            deps.extend(
                names.into_iter().filter(|m| !m.is_empty() && m != name && m != "self" && m != "super"),
            );
        }
    }
    deps
}

/// The graph sees every way to name another module.
#[test]
fn module_deps_sees_grouped_and_super_imports() {
    let d =
        |name: &str, stem: &str, text: &str| module_deps(name, stem, text).into_iter().collect::<Vec<_>>();
    assert_eq!(d("down", "down", "use crate::{apply, fsx::ensure_dir};\n"), ["apply", "fsx"]);
    assert_eq!(d("down", "down", "fn f() { super::apply::up(); }\n"), ["apply"]);
    assert_eq!(d("down", "down", "// crate::apply in a comment\nuse crate::lock;\n"), ["lock"]);
    assert_eq!(d("render", "render", "use crate::sha256::digest;\n"), ["sha256"]);
    assert_eq!(d("tags", "imds", "use super::http;\nuse super::super::plan;\n"), ["plan"]);
    assert_eq!(d("tags", "mod", "pub use super::plan::Mode;\nuse crate::tags::x;\n"), ["plan"]);
    let graph = module_graph();
    assert!(graph.get("apply").is_some_and(|d| d.contains("down")), "{graph:?}");
}

/// boot's modules form a one-way pipeline (lib.rs): no import cycle, and
/// no stage reaches forward to a later one.
#[test]
fn modules_form_a_one_way_pipeline() {
    let graph = module_graph();
    assert!(graph.len() > 20, "{graph:?}");
    // Depth-first search for a cycle.
    fn visit(
        n: &str,
        g: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) {
        if done.contains(n) {
            return;
        }
        if let Some(i) = path.iter().position(|p| p == n) {
            panic!("import cycle: {} -> {n}", path[i..].join(" -> "));
        }
        path.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            visit(d, g, path, done);
        }
        path.pop();
        done.insert(n.to_string());
    }
    let mut done = std::collections::BTreeSet::new();
    for n in graph.keys() {
        visit(n, &graph, &mut Vec::new(), &mut done);
    }
    let later = |m: &str, forbidden: &[&str]| {
        let deps = graph.get(m).unwrap_or_else(|| panic!("no module {m}"));
        for f in forbidden {
            assert!(!deps.contains(*f), "{m} must not use {f} (a later stage): {deps:?}");
        }
    };
    let control = ["apply", "down", "status", "context", "cli"];
    later("tags", &["catalogue", "plan", "render", "svctl", "orphan", "runsvdir", "state"]);
    later("tags", &control);
    later("catalogue", &["plan", "render", "runtime", "state", "svctl"]);
    later("plan", &["render", "svctl", "orphan", "runsvdir"]);
    later("plan", &control);
    later("render", &["svctl", "orphan", "runsvdir", "state"]);
    later("render", &control);
    later("svctl", &["orphan", "state", "catalogue", "plan", "render"]);
    later("down", &["apply"]);
    // The bottom of the pipeline (lib.rs): svctl uses no other module of boot.
    assert_eq!(graph.get("svctl").map(|d| d.len()), Some(0), "svctl: {:?}", graph.get("svctl"));
    // The layers of lib.rs, bottom first: every import goes to a lower layer,
    // and every module has its place.
    const LAYERS: [&[&str]; 10] = [
        &["error", "names", "shell", "sha256", "users", "layout", "fsx", "svctl"],
        &["config", "lock", "catalogue", "envdir", "orphan"],
        &["tags", "runtime"],
        &["state"],
        &["plan", "runsvdir"],
        &["render"],
        &["context"],
        &["down", "status"],
        &["apply"],
        &["cli"],
    ];
    let layer = |m: &str| LAYERS.iter().position(|l| l.contains(&m));
    for (m, deps) in &graph {
        let lm = layer(m).unwrap_or_else(|| panic!("module {m} has no layer in lib.rs's list"));
        for d in deps {
            let ld = layer(d).unwrap_or_else(|| panic!("{m} uses {d}, which has no layer"));
            assert!(ld < lm, "{m} (layer {}) uses {d} (layer {}): lib.rs's layers say no", lm + 1, ld + 1);
        }
    }
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for (i, l) in LAYERS.iter().enumerate() {
        let item = format!("//! {}. ", i + 1);
        let line = lib.lines().find(|x| x.starts_with(&item)).unwrap_or_else(|| panic!("lib.rs: no {item}"));
        assert!(line.contains(&format!("`{}`", l[0])), "lib.rs layer {}: {line}", i + 1);
    }
}

/// The catalogue's PostgreSQL manifest, as shipped, finds its programs at
/// render time: the same file plans on a Debian 12 tree (PostgreSQL 15) and
/// a Debian 13 tree (17, beside an older 13), and fails clearly without one.
#[test]
fn postgres_programs_are_found_at_render_time() {
    let dir = std::env::temp_dir().join(crate::fsx::unique_name("boot-pg-"));
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sv-templates/postgres/service.toml"),
    )
    .unwrap();
    assert!(!shipped.contains("/usr/lib/postgresql/15"), "no hard-coded major version");
    let plan_on = |root: &str| {
        let manifest =
            shipped.replace("/usr/lib/postgresql/", &format!("{}/{root}/usr/lib/postgresql/", dir.display()));
        write(&dir, &format!("{root}/cat/postgres/service.toml"), &manifest);
        write(
            &dir,
            &format!("{root}/cat/app/service.toml"),
            "schema = 1\nname = \"app\"\nkind = \"app\"\nmodes = [\"review\"]\n[process]\ncommand = [\"/bin/true\"]\n\
             [dependencies]\nreview = [\"postgres\"]\n",
        );
        write(&dir, &format!("{root}/cat/env/common/A"), "a\n");
        let f = Fixture {
            dir: dir.join("unused"),
            cat: Catalogue::load(&dir.join(root).join("cat")).unwrap(),
            config: Config::default(),
        };
        resolve(&f, &[("Mode", "review")], None)
    };
    let fake = |root: &str, versions: &[&str]| {
        for v in versions {
            for prog in ["postgres", "initdb", "pg_isready"] {
                write(&dir, &format!("{root}/usr/lib/postgresql/{v}/bin/{prog}"), "#!/bin/sh\n");
            }
        }
    };
    fake("bookworm", &["15"]);
    fake("trixie", &["13", "17"]);
    for (root, major) in [("bookworm", "15"), ("trixie", "17")] {
        let p = plan_on(root).unwrap();
        let pg = p.services.iter().find(|s| s.name == "postgres").unwrap();
        let bin = format!("{}/{root}/usr/lib/postgresql/{major}/bin", dir.display());
        assert_eq!(pg.argv[0], format!("{bin}/postgres"), "{root}");
        assert_eq!(pg.init.as_ref().unwrap()[0], format!("{bin}/initdb"), "{root}");
        assert_eq!(pg.check.as_ref().unwrap()[0], format!("{bin}/pg_isready"), "{root}");
    }
    match plan_on("empty") {
        Err(BootError::Invalid(m)) => {
            assert!(
                m.contains("catalogue: postgres: placeholder {newest:") && m.contains("no directory matches"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unknown_placeholders_are_refused_naming_them() {
    let f = fixture();
    let mut cat = f.cat.clone();
    let worker = cat.services.get_mut("worker").unwrap();
    worker.process.command = vec!["/bin/echo".into(), "{pg_bin}".into()];
    let g = Fixture { dir: f.dir.join("unused"), cat, config: f.config.clone() };
    match resolve(&g, &[("Mode", "production"), ("Service", "worker")], None) {
        Err(BootError::Invalid(m)) => assert!(m.contains("unknown or unset placeholder {pg_bin}"), "{m}"),
        other => panic!("{other:?}"),
    }
}
