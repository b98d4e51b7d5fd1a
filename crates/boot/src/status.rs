//! `boot status [--json|--prometheus]` and `boot tags [--json]`: read-only
//! reports.
//!
//! Status reads `state.json` and each service's `supervise/status` directly
//! (no `sv` fork); the text form prints one line per service in `sv
//! status`'s words. The JSON form adds each service's `health` state from
//! runsv's `supervise/health` (`ready`, `starting`, `failed`, ...; null
//! without one).

use crate::context::Boot;
use crate::error::Result;
use crate::runsvdir;
use crate::state::{self, State};
use crate::svctl;
use crate::tags::TagSet;
use runit_core::supervise::Supervise;
use serde_json::{Value, json};
use std::path::Path;

/// `boot status` output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFormat {
    /// Lines for people.
    #[default]
    Text,
    /// `--json`.
    Json,
    /// `--prometheus`.
    Prometheus,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn one(dir: &Path, sup: Supervise) -> Value {
    if !svctl::alive(dir, sup) {
        return json!({"state": "unsupervised"});
    }
    match svctl::status(dir, sup) {
        Some(s) => json!({
            "state": s.state.word().unwrap_or("unknown"),
            "pid": s.pid,
            "seconds": s.seconds_since(now()),
            "want": if s.want == runit_core::status::WANT_UP { "up" } else { "down" },
        }),
        None => json!({"state": "unknown"}),
    }
}

fn line(label: &str, v: &Value) -> String {
    let state = v["state"].as_str().unwrap_or("unknown");
    match (state, v["pid"].as_u64(), v["seconds"].as_u64()) {
        ("run" | "finish", Some(pid), Some(s)) => format!("{state}: {label}: (pid {pid}) {s}s"),
        ("down", _, Some(s)) => format!("down: {label}: {s}s"),
        _ => format!("{state}: {label}"),
    }
}

/// `boot status`.
pub fn status(boot: &Boot, format: StatusFormat) -> Result<String> {
    if format == StatusFormat::Prometheus {
        return prometheus(boot);
    }
    let as_json = format == StatusFormat::Json;
    let Some(st) = State::load(&boot.layout.state_file())? else {
        return Ok(if as_json { "{\"state\":\"clean\"}\n".into() } else { "clean\n".into() });
    };
    let services: Vec<Value> = st
        .order
        .iter()
        .filter_map(|n| st.services.get(n).map(|s| (n, s)))
        .map(|(n, s)| {
            let dir = boot.layout.service_dir(&s.dirname(n));
            json!({
                "name": n, "component": s.component, "hash": s.hash,
                "dir": dir.display().to_string(),
                "main": one(&dir, Supervise::MAIN), "log": one(&dir, Supervise::LOG),
                "health": runit_core::health::read(&dir).map(|h| h.state.word()),
            })
        })
        .collect();
    let rsd = st.runsvdir.map(|r| json!({"pid": r.pid, "running": runsvdir::running(&r)}));
    if as_json {
        let v = json!({
            "state": "up", "generation": st.generation, "set": state::set_name(st.generation),
            "mode": st.mode, "env": st.env, "service": st.service, "component": st.component,
            "instance_id": st.instance_id, "runsvdir": rsd, "services": services,
        });
        return Ok(format!("{v}\n"));
    }
    let mut out = format!("{} {} (env {})", state::set_name(st.generation), st.mode, st.env);
    if let (Some(s), Some(c)) = (&st.service, &st.component) {
        out += &format!(" service {s} component {c}");
    }
    out.push('\n');
    if let Some(r) = st.runsvdir {
        let how = if runsvdir::running(&r) { "running" } else { "gone" };
        out += &format!("runsvdir: pid {} ({how})\n", r.pid);
    }
    for s in &services {
        let name = s["name"].as_str().unwrap_or("");
        out += &format!("{}; {}\n", line(name, &s["main"]), line("log", &s["log"]));
    }
    Ok(out)
}

/// Escapes a label value for the Prometheus text format.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// One metric family: its samples, each `(labels, value)`.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, String)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family { name, help, samples: Vec::new() }
    }

    fn text(&self) -> String {
        let mut out = format!("# HELP {} {}\n# TYPE {} gauge\n", self.name, self.help, self.name);
        for (labels, value) in &self.samples {
            out += &format!("{}{labels} {value}\n", self.name);
        }
        out
    }
}

/// `boot status --prometheus`: the Prometheus text exposition format, for
/// node_exporter's textfile collector (every family a gauge; restarts count
/// the kept death history, which runsv trims, so they are not a counter).
pub fn prometheus(boot: &Boot) -> Result<String> {
    let mut applied =
        Family::new("boot_applied", "1 when boot has applied a set on this box, 0 on a clean box.");
    let mut info = Family::new(
        "boot_info",
        "The applied set (value 1): generation, mode, environment, service, component, instance.",
    );
    let mut generation = Family::new("boot_generation", "The number of the applied generation.");
    let mut supervised = Family::new("boot_service_supervised", "1 when a runsv supervises the service.");
    let mut up = Family::new("boot_service_up", "1 when the service's process runs (runsv state run).");
    let mut ready = Family::new(
        "boot_service_ready",
        "1 when the service is ready: it runs and, if it declares [ready], runsv recorded its notification \
         for this process (./check is not run).",
    );
    let mut want = Family::new("boot_service_want_up", "1 when runsv wants the service up, 0 when down.");
    let mut seconds =
        Family::new("boot_service_state_seconds", "Seconds since the service's last state change (runsv).");
    let mut restarts = Family::new(
        "boot_service_restarts",
        "Unexpected deaths (cause died, each followed by a restart) among the last 100 in supervise/deaths.",
    );
    let mut last_restart = Family::new(
        "boot_service_last_restart_timestamp_seconds",
        "Unix time of the last unexpected death in supervise/deaths.",
    );
    let mut log_up = Family::new("boot_service_log_up", "1 when the service's logger runs.");
    let Some(st) = State::load(&boot.layout.state_file())? else {
        applied.samples.push((String::new(), "0".into()));
        return Ok(applied.text());
    };
    applied.samples.push((String::new(), "1".into()));
    info.samples.push((
        format!(
            "{{generation=\"{}\",mode=\"{}\",environment=\"{}\",service=\"{}\",component=\"{}\",instance_id=\"{}\"}}",
            label(&state::set_name(st.generation)),
            label(&st.mode),
            label(&st.env),
            label(st.service.as_deref().unwrap_or("")),
            label(st.component.as_deref().unwrap_or("")),
            label(st.instance_id.as_deref().unwrap_or("")),
        ),
        "1".into(),
    ));
    generation.samples.push((String::new(), st.generation.to_string()));
    let now = now();
    for n in &st.order {
        let Some(s) = st.services.get(n) else { continue };
        let dir = boot.layout.service_dir(&s.dirname(n));
        let l = format!("{{service=\"{}\",component=\"{}\"}}", label(n), label(&s.component));
        let bit = |b: bool| if b { "1".to_string() } else { "0".to_string() };
        let alive = svctl::alive(&dir, Supervise::MAIN);
        supervised.samples.push((l.clone(), bit(alive)));
        let status = if alive { svctl::status(&dir, Supervise::MAIN) } else { None };
        let running = status.is_some_and(|x| x.state == runit_core::status::State::Run && x.pid != 0);
        up.samples.push((l.clone(), bit(running)));
        let is_ready = status.is_some_and(|x| {
            running
                && match runit_core::health::awaited(&dir, &x) {
                    runit_core::health::Readiness::Ready { .. } => true,
                    runit_core::health::Readiness::NotReady => false,
                    runit_core::health::Readiness::Unknown => true,
                }
        });
        ready.samples.push((l.clone(), bit(is_ready)));
        if let Some(x) = status {
            want.samples.push((l.clone(), bit(x.want == runit_core::status::WANT_UP)));
            seconds.samples.push((l.clone(), x.seconds_since(now).to_string()));
        }
        let deaths = runit_core::deaths::read(&dir);
        let died: Vec<_> = deaths.iter().filter(|d| d.cause == runit_core::deaths::Cause::Died).collect();
        restarts.samples.push((l.clone(), died.len().to_string()));
        if let Some(d) = died.last() {
            last_restart.samples.push((l.clone(), d.stamp.unix_seconds().to_string()));
        }
        log_up.samples.push((
            l,
            bit(svctl::status(&dir, Supervise::LOG).is_some_and(|x| {
                svctl::alive(&dir, Supervise::LOG) && x.state == runit_core::status::State::Run
            })),
        ));
    }
    let families =
        [applied, info, generation, supervised, up, ready, want, seconds, restarts, last_restart, log_up];
    Ok(families.iter().filter(|f| !f.samples.is_empty()).map(Family::text).collect())
}

/// `boot tags`.
pub fn tags(set: &TagSet, as_json: bool) -> String {
    if as_json {
        let v = json!({"instance_id": set.instance_id, "tags": set.tags});
        return format!("{v}\n");
    }
    let mut out = String::new();
    if let Some(id) = &set.instance_id {
        out += &format!("instance-id\t{:?}\t{}\n", id.value, id.source);
    }
    for (k, t) in &set.tags {
        out += &format!("{k:?}\t{:?}\t{}\n", t.value, t.source);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        let mut f = Family::new("boot_x", "help.");
        f.samples.push(("{service=\"a\"}".into(), "1".into()));
        assert_eq!(f.text(), "# HELP boot_x help.\n# TYPE boot_x gauge\nboot_x{service=\"a\"} 1\n");
    }
}
