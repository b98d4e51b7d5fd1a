//! Rendering: a planned service -> the files of its service directory, in
//! memory, plus the content hash that names the directory.
//!
//! Nothing here touches the disk, so `boot plan` and a no-op `boot up`
//! compute hashes without writing, and `boot render` and `apply` write the
//! same bytes. All shell text is produced here from quoted words
//! ([`crate::shell::quote`]); no template text and no tag value is ever
//! spliced into a script. Tag-derived data lives only in `env/` files.
//!
//! The directory (design notes §5.5), for `<name>@<hash>`:
//!
//! ```text
//! run          dependency wait (review), data init, exec chpst … argv
//! finish       logs ./run's exit code and status
//! check        exec chpst … check argv (readiness, used by sv and boot)
//! notification-fd / notify-socket
//!              the [ready] mechanism, read by runsv (docs/health.md)
//! control/t    stop signal to the process group; exit 0 suppresses runsv's TERM
//! env/         flattened env (0700, files 0600); env.sources says where each came from
//! log/run      exec chpst -u <log user> svlogd -tt <log dir>
//! log/config   svlogd config (s<size>, n<keep>), copied into the log dir
//! supervise -> <root>/run/boot/supervise/<name>@<hash>      (not hashed)
//! log/supervise -> <root>/run/boot/supervise/<name>@<hash>.log
//! ```

use crate::catalogue::Notify;
use crate::plan::{PlannedService, RunAs};
use crate::sha256::{Sha256, hex};
use crate::shell::{quote, words};
use runit_core::health::{NOTIFICATION_FD, NOTIFY_SOCKET};
use std::path::{Path, PathBuf};

/// One node of a rendered tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A directory with a mode.
    Dir(u32),
    /// A file with a mode and contents.
    File(u32, Vec<u8>),
    /// A symlink (not part of the hash).
    Symlink(PathBuf),
}

/// A rendered service directory.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Service name.
    pub name: String,
    /// 12 hex digits.
    pub hash: String,
    /// Relative path -> node, parents before children.
    pub nodes: Vec<(String, Node)>,
}

impl Rendered {
    /// `<name>@<hash>`.
    pub fn dirname(&self) -> String {
        format!("{}@{}", self.name, self.hash)
    }

    /// The file at `rel`, if any.
    pub fn file(&self, rel: &str) -> Option<&[u8]> {
        self.nodes.iter().find_map(|(p, n)| match n {
            Node::File(_, b) if p == rel => Some(b.as_slice()),
            _ => None,
        })
    }
}

/// Where the generated scripts find things.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Our chpst.
    pub chpst: PathBuf,
    /// Our svlogd.
    pub svlogd: PathBuf,
    /// Our sv (review-mode dependency waits).
    pub sv: PathBuf,
    /// The active set (`<root>/var/lib/boot/current`).
    pub current: PathBuf,
    /// `<root>/run/boot/supervise`.
    pub supervise_root: PathBuf,
}

fn os(p: &Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    p.as_os_str().as_bytes()
}

fn user_spec(r: &RunAs) -> String {
    match &r.group {
        Some(g) => format!("{}:{g}", r.user),
        None => r.user.clone(),
    }
}

/// Renders `svc`.
pub fn render(svc: &PlannedService, set: &Settings, deps_timeout: u64) -> Rendered {
    let mut nodes: Vec<(String, Node)> = vec![
        ("run".into(), Node::File(0o755, run_script(svc, set, deps_timeout))),
        ("finish".into(), Node::File(0o755, finish_script(svc))),
    ];
    if let Some(check) = &svc.check {
        nodes.push(("check".into(), Node::File(0o755, check_script(svc, set, check))));
    }
    match svc.manifest.notify() {
        Some(Notify::Fd(n)) => {
            nodes.push((NOTIFICATION_FD.into(), Node::File(0o644, format!("{n}\n").into())))
        }
        Some(Notify::Systemd) => nodes.push((NOTIFY_SOCKET.into(), Node::File(0o644, Vec::new()))),
        None => {}
    }
    nodes.push(("control".into(), Node::Dir(0o755)));
    nodes.push(("control/t".into(), Node::File(0o755, control_t(svc))));
    nodes.push(("env".into(), Node::Dir(0o700)));
    for (k, e) in &svc.env {
        nodes.push((format!("env/{k}"), Node::File(0o600, e.bytes.clone())));
    }
    nodes.push(("env.sources".into(), Node::File(0o600, crate::envdir::sources_text(&svc.env))));
    nodes.push(("log".into(), Node::Dir(0o755)));
    nodes.push(("log/run".into(), Node::File(0o755, log_run(svc, set))));
    let config = format!("s{}\nn{}\n", svc.manifest.log.size_bytes, svc.manifest.log.keep);
    nodes.push(("log/config".into(), Node::File(0o644, config.into_bytes())));
    let hash = hash_nodes(&nodes);
    let dirname = format!("{}@{hash}", svc.name);
    nodes.push(("supervise".into(), Node::Symlink(set.supervise_root.join(&dirname))));
    nodes.push(("log/supervise".into(), Node::Symlink(set.supervise_root.join(format!("{dirname}.log")))));
    Rendered { name: svc.name.clone(), hash, nodes }
}

/// 12 hex digits of SHA-256 over paths, kinds, modes and contents.
pub fn hash_nodes(nodes: &[(String, Node)]) -> String {
    let mut sorted: Vec<&(String, Node)> = nodes.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut h = Sha256::default();
    h.field(b"boot-render-v1");
    for (path, node) in sorted {
        h.field(path.as_bytes());
        match node {
            Node::Dir(m) => h.field(format!("d{m:o}").as_bytes()),
            Node::File(m, b) => {
                h.field(format!("f{m:o}").as_bytes());
                h.field(b);
            }
            Node::Symlink(t) => {
                h.field(b"l");
                h.field(os(t));
            }
        }
    }
    hex(&h.finish()).chars().take(12).collect()
}

fn header(svc: &PlannedService, what: &str) -> Vec<u8> {
    format!(
        "#!/bin/sh\n# boot: {what} of {} (component {}); generated, do not edit\n",
        svc.name, svc.component
    )
    .into_bytes()
}

/// `chpst` options shared by run, init and check: env dir, user.
fn chpst_prefix(set: &Settings, run_as: Option<&RunAs>) -> Vec<Vec<u8>> {
    let mut w = vec![os(&set.chpst).to_vec(), b"-e".to_vec(), b"env".to_vec()];
    if let Some(r) = run_as {
        w.push(b"-u".to_vec());
        w.push(user_spec(r).into_bytes());
    }
    w
}

fn run_script(svc: &PlannedService, set: &Settings, deps_timeout: u64) -> Vec<u8> {
    let mut s = header(svc, "run");
    s.extend_from_slice(b"exec 2>&1\n");
    if !svc.deps.is_empty() {
        // Readiness of dependencies via sv's check (runit FAQ); sv waits for
        // ./check to pass (and, with readiness support, for "ready").
        let mut w: Vec<Vec<u8>> = vec![
            os(&set.sv).to_vec(),
            b"-w".to_vec(),
            deps_timeout.to_string().into_bytes(),
            b"check".to_vec(),
        ];
        w.extend(svc.deps.iter().map(|d| os(&set.current.join(d)).to_vec()));
        s.extend_from_slice(&without_channel(svc.manifest.notify(), words(w)));
        s.extend_from_slice(b" || exit 111\n");
    }
    if let (Some(init), Some(data)) = (&svc.init, &svc.data_dir) {
        let creates = svc.manifest.data.as_ref().and_then(|d| d.creates.as_deref()).unwrap_or("");
        s.extend_from_slice(b"if [ ! -e ");
        s.extend_from_slice(&quote(os(&data.join(creates))));
        s.extend_from_slice(b" ]; then\n  ");
        let mut w = chpst_prefix(set, svc.run_as.as_ref());
        w.extend(init.iter().map(|a| a.as_bytes().to_vec()));
        s.extend_from_slice(&without_channel(svc.manifest.notify(), words(w)));
        s.extend_from_slice(b" || exit 111\nfi\n");
    }
    let mut w = vec![os(&set.chpst).to_vec()];
    if svc.manifest.process.process_group {
        w.push(b"-P".to_vec());
    }
    w.push(b"-e".to_vec());
    w.push(b"env".to_vec());
    if svc.manifest.process.workdir.is_some() {
        w.push(b"-C".to_vec());
        w.push(svc.workdir.as_bytes().to_vec());
    }
    if let Some(r) = &svc.run_as {
        w.push(b"-u".to_vec());
        w.push(user_spec(r).into_bytes());
    }
    let l = &svc.manifest.process.limits;
    for (flag, v) in [("-o", l.open_files), ("-p", l.processes), ("-m", l.memory)] {
        if let Some(v) = v {
            w.push(flag.as_bytes().to_vec());
            w.push(v.to_string().into_bytes());
        }
    }
    w.extend(svc.argv.iter().map(|a| a.as_bytes().to_vec()));
    s.extend_from_slice(b"exec ");
    s.extend_from_slice(&words(w));
    s.push(b'\n');
    s
}

/// A prologue command (dependency wait, data init) that cannot claim the
/// service's readiness: without the notification descriptor, or without
/// `NOTIFY_SOCKET` (in a subshell, so `./run`'s final exec keeps it).
fn without_channel(notify: Option<Notify>, command: Vec<u8>) -> Vec<u8> {
    match notify {
        None => command,
        Some(Notify::Fd(n)) => [command, format!(" {n}>&-").into_bytes()].concat(),
        Some(Notify::Systemd) => [b"(unset NOTIFY_SOCKET; exec ".to_vec(), command, b")".to_vec()].concat(),
    }
}

fn finish_script(svc: &PlannedService) -> Vec<u8> {
    let mut s = header(svc, "finish");
    s.extend_from_slice(b"echo ");
    s.extend_from_slice(&quote(format!("boot: {}: ./run exited: code ", svc.name).as_bytes()));
    s.extend_from_slice(b"\"$1\"");
    s.extend_from_slice(&quote(b" status "));
    s.extend_from_slice(b"\"$2\"\nexit 0\n");
    s
}

fn check_script(svc: &PlannedService, set: &Settings, check: &[String]) -> Vec<u8> {
    let mut s = header(svc, "check");
    let mut w = chpst_prefix(set, svc.run_as.as_ref());
    w.extend(check.iter().map(|a| a.as_bytes().to_vec()));
    s.extend_from_slice(b"exec ");
    s.extend_from_slice(&words(w));
    s.push(b'\n');
    s
}

fn control_t(svc: &PlannedService) -> Vec<u8> {
    let stop = &svc.manifest.stop;
    let group = stop.group && svc.manifest.process.process_group;
    let mut s = header(svc, "control/t (graceful stop)");
    s.extend_from_slice(
        b"# Exit 0 tells runsv the stop signal was sent (it then sends no TERM of its own).\n",
    );
    s.extend_from_slice(b"read -r pid < supervise/pid || exit 1\n[ -n \"$pid\" ] || exit 1\n");
    // The signal name is one of catalogue::STOP_SIGNALS (validated).
    let target = if group { "\"-$pid\"" } else { "\"$pid\"" };
    s.extend_from_slice(
        format!("kill -s {} -- {target} 2>/dev/null && exit 0\nexit 1\n", stop.signal).as_bytes(),
    );
    s
}

fn log_run(svc: &PlannedService, set: &Settings) -> Vec<u8> {
    let mut s = header(svc, "log/run");
    let mut w = vec![os(&set.chpst).to_vec()];
    if let Some(r) = &svc.log_as {
        w.push(b"-u".to_vec());
        w.push(user_spec(r).into_bytes());
    }
    w.push(os(&set.svlogd).to_vec());
    w.push(b"-tt".to_vec());
    w.push(os(&svc.log_dir).to_vec());
    s.extend_from_slice(b"exec ");
    s.extend_from_slice(&words(w));
    s.push(b'\n');
    s
}
