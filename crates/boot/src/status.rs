//! `boot status [--json]` and `boot tags [--json]`: read-only reports.
//!
//! Status reads `state.json` and each service's `supervise/status` directly
//! (no `sv` fork); the text form prints one line per service in `sv
//! status`'s words. The JSON form adds each service's `health` state from
//! runsv's `supervise/health` (`ready`, `starting`, `failed`, ...; null
//! without one).

use crate::cli::StatusFormat;
use crate::context::Boot;
use crate::error::Result;
use crate::runsvdir;
use crate::state::{self, State};
use crate::svctl;
use crate::tags::TagSet;
use runit_core::supervise::Supervise;
use serde_json::{Value, json};
use std::path::Path;

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
        return Err(crate::error::BootError::invalid("status --prometheus is not implemented yet"));
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
