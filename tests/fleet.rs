//! The fleet (issue 18, docs/fleet.md): an Auto Scaling fleet of the unified
//! image on this machine. moto is the control plane, every instance a real
//! boot of the image's runit flavour in its own namespaces, one metadata
//! service answers them all from moto. These tests drive the `fleet`
//! command as a person would and check each instance from the outside (its
//! overlay, its console, its web page) and from the inside (`fleet exec`).
//!
//! Each test has its own state directory (so its own namespaces, subnet and
//! moto); a guard runs `fleet down` even when the test fails. They skip only
//! where the kernel refuses namespaces.
#![allow(clippy::unwrap_used)]

use harness::{Scratch, wait_for};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Run inside an instance's network namespace: a GET without a token, then
/// IMDSv2 (token, instance id, two tags).
const IMDS_PROBE: &str = r#"
import urllib.request as u, urllib.error as e
u.install_opener(u.build_opener(u.ProxyHandler({})))
b = "http://169.254.169.254/latest/"
try:
    u.urlopen(b + "meta-data/instance-id", timeout=5); code = 200
except e.HTTPError as x:
    code = x.code
t = u.urlopen(u.Request(b + "api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=5).read().decode()
g = lambda p: u.urlopen(u.Request(b + "meta-data/" + p, headers={"X-aws-ec2-metadata-token": t}), timeout=5).read().decode()
print(code, g("instance-id"), g("tags/instance/Mode"), g("tags/instance/aws%3Aautoscaling%3AgroupName"))
"#;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fleet_bin() -> PathBuf {
    let p = repo().join("crates/dist/fleet/fleet");
    assert!(p.exists(), "{} is missing", p.display());
    p
}

/// True when the kernel lets us make the namespaces an instance needs; the
/// only reason these tests skip.
fn namespaces_work() -> bool {
    let ok = harness::is_root()
        && Command::new("unshare")
            .args(["--net", "--pid", "--fork", "--mount", "--uts", "--ipc", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
    if !ok {
        eprintln!("skipped: the kernel refuses network/PID/mount namespaces here (or not root)");
    }
    ok
}

use harness::Outcome as Out;

/// Runs `fleet` to completion with a deadline. Not through harness::run:
/// the fleet's moto, metadata service and instances must outlive the
/// command (they are the fleet), so they must not carry the harness's kill
/// tag; `fleet down` removes them (the Guard).
fn fleet_run(state: &Path, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Out {
    fleet_try(state, args, env, timeout).unwrap_or_else(|e| panic!("{e}"))
}

/// `fleet_run` without panicking (for the guard's `Drop`, which may run
/// while a failed test unwinds: a second panic there would abort the test
/// binary before the other guards ran).
fn fleet_try(state: &Path, args: &[&str], env: &[(&str, &str)], timeout: Duration) -> Result<Out, String> {
    let mut c = Command::new(fleet_bin());
    c.arg("--state-dir").arg(state).args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    if env.iter().any(|(k, _)| *k == "http_proxy") {
        c.env_remove("no_proxy").env_remove("NO_PROXY");
    }
    let out = harness::run_untagged(&mut c, timeout).map_err(|e| format!("fleet {args:?}: {e}"))?;
    eprintln!("$ fleet {}\n{}{}", args.join(" "), out.stdout, out.stderr);
    Ok(out)
}

/// One fleet; `fleet down` on drop (also while a failed test unwinds).
struct Guard {
    scratch: Scratch,
    state: PathBuf,
    down: bool,
    /// Environment for every `fleet` this guard runs.
    env: Vec<(&'static str, String)>,
}

impl Guard {
    fn new(name: &str) -> Guard {
        let scratch = Scratch::new(name);
        let state = scratch.join("state");
        Guard { scratch, state, down: false, env: Vec::new() }
    }

    fn run(&self, args: &[&str]) -> Out {
        let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fleet_run(&self.state, args, &env, Duration::from_secs(240))
    }

    /// Every `fleet` of this guard runs with a proxy that is not there
    /// (loopback, nothing listening) in all the proxy variables, and the
    /// image given (the build alone may need a proxy to fetch packages):
    /// the fleet must work anyway, since nothing of it may go through
    /// another machine.
    fn with_dead_proxy(mut self) -> Guard {
        let out =
            Command::new(repo().join("crates/dist/image/build")).args(["--init", "runit"]).output().unwrap();
        assert!(out.status.success(), "image build: {}", String::from_utf8_lossy(&out.stderr));
        let dir = String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap().to_string();
        self.env.push(("FLEET_ROOTFS", format!("{dir}/rootfs")));
        for k in ["http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"] {
            self.env.push((k, "http://127.0.0.1:9".to_string()));
        }
        self
    }

    fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(o.code, Some(0), "fleet {args:?} failed: {}", o.stderr);
        o
    }

    fn up(&self, spec: Option<&str>) -> Vec<Value> {
        let json = self.scratch.join("up.json");
        let mut args = vec!["up", "--json", json.to_str().unwrap()];
        let spec_file = self.scratch.join("spec.toml");
        if let Some(s) = spec {
            fs::write(&spec_file, s).unwrap();
            args.extend(["--spec", spec_file.to_str().unwrap()]);
        }
        let o = self.ok(&args);
        assert!(o.stdout.contains("INSTANCE") && o.stdout.contains("READY_S"), "no table: {}", o.stdout);
        let recs = records(&fs::read_to_string(json).unwrap());
        // For the failure report: the console of every instance not in role.
        for r in recs.iter().filter(|r| r["status"] != "ready") {
            let console =
                fs::read_to_string(Path::new(s(r, "state_dir")).join("console.log")).unwrap_or_default();
            eprintln!("--- console of {} ({}):\n{console}", s(r, "id"), s(r, "group"));
        }
        recs
    }

    fn state_file(&self) -> Value {
        serde_json::from_str(&fs::read_to_string(self.state.join("fleet.json")).unwrap()).unwrap()
    }

    fn exec(&self, id: &str, cmd: &[&str]) -> Out {
        let mut args = vec!["exec", id, "--"];
        args.extend_from_slice(cmd);
        self.run(&args)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if !self.down {
            match fleet_try(&self.state, &["down"], &[], Duration::from_secs(180)) {
                Ok(o) if o.code == Some(0) => {}
                Ok(o) => eprintln!("fleet down (guard) failed: {}", o.stderr),
                Err(e) => eprintln!("fleet down (guard) failed: {e}"),
            }
        }
    }
}

fn records(json: &str) -> Vec<Value> {
    serde_json::from_str::<Value>(json).unwrap().as_array().unwrap().clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn services(v: &Value) -> BTreeSet<String> {
    v["services"].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

/// GET http://ip:port/path from the host: (status, body).
fn http_get(ip: &str, port: u16, path: &str) -> Option<(u16, String)> {
    let addr = format!("{ip}:{port}").parse().ok()?;
    let mut c = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(c, "GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n").ok()?;
    let mut resp = String::new();
    c.read_to_string(&mut resp).ok()?;
    let status = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Every instance's own view, through `fleet exec`: `boot status --json`
/// shows each service and its logger running.
fn assert_running(g: &Guard, rec: &Value, want: &BTreeSet<String>) {
    let id = s(rec, "id");
    let o = g.exec(id, &["boot", "status", "--json"]);
    assert_eq!(o.code, Some(0), "{id}: boot status: {}", o.stderr);
    let st: Value = serde_json::from_str(o.stdout.trim()).unwrap();
    assert_eq!(st["instance_id"].as_str(), Some(id), "{id} got another instance's metadata: {st}");
    let mut seen = BTreeSet::new();
    for svc in st["services"].as_array().unwrap() {
        let name = s(svc, "name");
        assert_eq!(svc["main"]["state"].as_str(), Some("run"), "{id}: {name} not running: {svc}");
        assert_eq!(svc["log"]["state"].as_str(), Some("run"), "{id}: {name}'s logger not running: {svc}");
        seen.insert(name.to_string());
    }
    assert_eq!(&seen, want, "{id}: services");
}

/// The numbered lines of a worker's log directory (svlogd's current and
/// rotated files): (every seq seen, the seq of `event=stop`, starts).
fn worker_log(dir: &Path) -> (Vec<u64>, Option<u64>, usize) {
    let mut seqs = Vec::new();
    let mut stop = None;
    let mut starts = 0;
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_string();
            n == "current" || n.starts_with('@')
        })
        .collect();
    files.sort();
    for f in files {
        for line in fs::read_to_string(&f).unwrap().lines() {
            let Some(rest) = line.split_once("sample-worker: ").map(|(_, r)| r) else { continue };
            let seq: u64 = rest
                .rsplit_once(" seq=")
                .and_then(|(_, n)| n.trim().parse().ok())
                .unwrap_or_else(|| panic!("unnumbered worker line: {line}"));
            if rest.starts_with("event=stop") {
                stop = Some(seq);
            }
            if rest.starts_with("event=start") {
                starts += 1;
            }
            seqs.push(seq);
        }
    }
    seqs.sort_unstable();
    (seqs, stop, starts)
}

/// No process on the machine has its root inside `dir`.
fn no_process_rooted_in(dir: &Path) -> Vec<i32> {
    let mut left = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else { continue };
        if let Ok(root) = fs::read_link(format!("/proc/{pid}/root"))
            && root.starts_with(dir)
        {
            left.push(pid);
        }
    }
    left
}

/// Run inside a container behind an instance: the token (PUT) and a GET
/// without one; prints `<PUT result> <GET status>`, the PUT's result being
/// `token` or `timeout`.
const HOP_PROBE: &str = r#"
import socket, urllib.request as u, urllib.error as e
u.install_opener(u.build_opener(u.ProxyHandler({})))
b = "http://169.254.169.254/latest/"
try:
    u.urlopen(u.Request(b + "api/token", method="PUT", headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}), timeout=3).read()
    put = "token"
except (socket.timeout, TimeoutError):
    put = "timeout"
except e.URLError as x:
    put = "timeout" if isinstance(x.reason, (socket.timeout, TimeoutError)) else "error:%s" % x.reason
try:
    u.urlopen(b + "meta-data/instance-id", timeout=3); code = 200
except e.HTTPError as x:
    code = x.code
print(put, code)
"#;

/// Containers behind an instance, as Docker's bridge would put them: each
/// level a network namespace one router further from the metadata service
/// (its parent forwards and masquerades with nftables, so the service sees
/// the instance's address). Removed on drop.
struct Containers(Vec<String>);

impl Containers {
    /// `levels` nested namespaces behind instance namespace `instance`.
    fn behind(instance: &str, levels: usize) -> Containers {
        let mut c = Containers(Vec::new());
        let mut parent = instance.to_string();
        for level in 0..levels {
            let name = format!("rrhop{}-{level}", std::process::id());
            let (up, down) = (format!("172.31.{}.1", 250 + level), format!("172.31.{}.2", 250 + level));
            let sh = |ns: &str, script: &str| {
                let o =
                    Command::new("ip").args(["netns", "exec", ns, "sh", "-euc", script]).output().unwrap();
                assert!(o.status.success(), "{ns}: {script}: {}", String::from_utf8_lossy(&o.stderr));
            };
            let ip = |args: &[&str]| {
                let o = Command::new("ip").args(args).output().unwrap();
                assert!(o.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&o.stderr));
            };
            ip(&["netns", "add", &name]);
            c.0.push(name.clone());
            let link = format!("ctr{level}");
            ip(&[
                "link", "add", &link, "netns", &parent, "type", "veth", "peer", "name", "eth0", "netns",
                &name,
            ]);
            sh(
                &parent,
                &format!(
                    "ip addr add {up}/30 dev {link}; ip link set {link} up
                     echo 1 > /proc/sys/net/ipv4/ip_forward
                     nft add table ip rrhop
                     nft 'add chain ip rrhop post {{ type nat hook postrouting priority 100 ; }}'
                     nft add rule ip rrhop post ip saddr {down} oifname != {link} masquerade"
                ),
            );
            sh(
                &name,
                &format!(
                    "ip link set lo up; ip addr add {down}/30 dev eth0; ip link set eth0 up
                     ip route add default via {up}"
                ),
            );
            parent = name;
        }
        c
    }

    /// [`HOP_PROBE`] run in level `level`.
    fn probe(&self, level: usize) -> String {
        let o = Command::new("timeout")
            .args(["30", "ip", "netns", "exec", &self.0[level], "python3", "-c", HOP_PROBE])
            .output()
            .unwrap();
        assert!(o.status.success(), "probe: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }
}

impl Drop for Containers {
    fn drop(&mut self) {
        // Deleting a namespace destroys its veths and with them their peers.
        for name in self.0.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

fn netns_list() -> String {
    String::from_utf8_lossy(&Command::new("ip").args(["netns", "list"]).output().unwrap().stdout).into_owned()
}

fn cmd_out(prog: &str, args: &[&str]) -> String {
    String::from_utf8_lossy(&Command::new(prog).args(args).output().unwrap().stdout).into_owned()
}

/// Is the host's policy rule for a fleet's link there (`ip rule ... iif NAME`)?
fn rule_exists(iif: &str) -> bool {
    cmd_out("ip", &["-4", "rule", "show"])
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w == ["iif", iif])
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn pid_alive(pid: i64) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().to_string();
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(str::to_string))
        .filter(|m| m.starts_with(&d))
        .collect()
}

/// What `fleet down` must remove, read from the state file while the fleet
/// is up.
struct Footprint {
    netns: Vec<String>,
    veths: Vec<String>,
    /// The host links whose policy rule refuses forwarding from the fleet.
    rules: Vec<String>,
    pids: Vec<i64>,
}

fn footprint(g: &Guard) -> Footprint {
    let st = g.state_file();
    let strings = |k: &str| -> Vec<String> {
        st[k].as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect()
    };
    let mut pids: Vec<i64> =
        st["processes"].as_array().unwrap().iter().map(|p| p["pid"].as_i64().unwrap()).collect();
    for r in st["instances"].as_object().unwrap().values() {
        if let Some(p) = r["pid1"].as_i64() {
            pids.push(p);
        }
    }
    let rules = st["rules"].as_array().unwrap().iter().map(|r| s(r, "iif").to_string()).collect();
    Footprint { netns: strings("netns"), veths: strings("veths"), rules, pids }
}

fn assert_nothing_left(g: &Guard, fp: &Footprint) {
    let names = netns_list();
    for ns in &fp.netns {
        assert!(!names.split_whitespace().any(|n| n == ns), "netns {ns} left behind");
    }
    for v in &fp.veths {
        assert!(!link_exists(v), "veth {v} left behind");
    }
    for r in &fp.rules {
        assert!(!rule_exists(r), "ip rule iif {r} left behind");
    }
    for p in &fp.pids {
        // A pid may be reused by an unrelated process; the state file's
        // processes and instances' process 1 were checked by fleet down
        // itself with their start times, so here: not one of ours by name.
        if pid_alive(*p) {
            let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            assert!(
                !["moto_server", "runit", "python3", "imds-server"].contains(&comm.trim()),
                "process {p} ({}) left behind",
                comm.trim()
            );
        }
    }
    assert!(mounts_under(&g.state).is_empty(), "mounts left: {:?}", mounts_under(&g.state));
    assert!(!g.state.join("fleet.json").exists(), "state file left");
    assert!(no_process_rooted_in(&g.state).is_empty(), "processes rooted in the fleet's instances");
}

/// Roles, retag, scaling, bad input against a live fleet, teardown: the
/// default fleet, as the issue describes it.
#[test]
fn default_fleet_roles_scaling_retag_teardown() {
    if !namespaces_work() {
        return;
    }
    let t0 = Instant::now();
    let mut g = Guard::new("fleet-default");
    let recs = g.up(None);
    eprintln!("fleet up: {:.1} s", t0.elapsed().as_secs_f64());

    // -- Roles: every instance from its own tags.
    let by_group = |grp: &str| -> Vec<&Value> { recs.iter().filter(|r| s(r, "group") == grp).collect() };
    assert_eq!(recs.len(), 5, "{recs:?}");
    assert_eq!(by_group("review").len(), 1);
    assert_eq!(by_group("prod-web-asg").len(), 2);
    assert_eq!(by_group("prod-worker-asg").len(), 2);
    let mut ips = BTreeSet::new();
    for r in &recs {
        assert_eq!(s(r, "status"), "ready", "{r}");
        assert!(r["ready_s"].as_f64().unwrap() > 0.0, "{r}");
        assert!(r["pid1"].as_i64().unwrap() > 1, "{r}");
        assert!(s(r, "netns").starts_with("rrf-"), "{r}");
        assert!(s(r, "ip").starts_with("10."), "{r}");
        assert!(ips.insert(s(r, "ip").to_string()), "two instances share an address");
        assert_eq!(r["tags"]["aws:autoscaling:groupName"].as_str(), Some(s(r, "group")), "{r}");
        // The host pid of process 1 is our runit.
        let comm = fs::read_to_string(format!("/proc/{}/comm", r["pid1"])).unwrap();
        assert_eq!(comm.trim(), "runit");
    }
    let review = by_group("review")[0];
    assert_eq!(review["tags"]["Mode"].as_str(), Some("review"));
    assert_eq!(services(review), set(&["postgres", "redis", "web", "worker"]));
    assert_running(&g, review, &set(&["postgres", "redis", "web", "worker"]));
    for w in by_group("prod-web-asg") {
        assert_eq!(services(w), set(&["web"]));
        assert_eq!(s(w, "service"), "web", "service from the group name (asg_service)");
        assert!(w["tags"].get("Service").is_none(), "no Service tag: it comes from the group name");
        assert_running(&g, w, &set(&["web"]));
    }
    for w in by_group("prod-worker-asg") {
        assert_eq!(services(w), set(&["worker"]));
        assert_eq!(s(w, "component"), "critical");
        assert_running(&g, w, &set(&["worker"]));
        let argv = g.exec(s(w, "id"), &["sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '"]);
        assert!(argv.stdout.contains("sample-worker --queue critical"), "{}", argv.stdout);
    }
    // Every web page answers from the host, at the instance's own address,
    // and shows the instance's own id (metadata answered per source address).
    for w in recs.iter().filter(|r| services(r).contains("web")) {
        let (code, body) = wait_for(Duration::from_secs(20), || http_get(s(w, "ip"), 8080, "/"))
            .unwrap_or_else(|| panic!("{} does not answer on {}:8080", s(w, "id"), s(w, "ip")));
        assert_eq!(code, 200, "{body}");
        assert!(body.contains(s(w, "id")), "page of {} lacks its instance id: {body}", s(w, "id"));
        if s(w, "group") == "review" {
            assert!(body.contains("redis: ok") && body.contains("postgres: ok"), "review page: {body}");
        }
    }
    // The metadata service enforces the launch template's options, per
    // source address: from an instance's network namespace, no token is
    // 401; with one, that instance's id and tags.
    let st = g.state_file();
    let opts = &st["control_plane"]["metadata_options"];
    assert_eq!(opts["HttpTokens"].as_str(), Some("required"));
    assert_eq!(opts["InstanceMetadataTags"].as_str(), Some("enabled"));
    let web = by_group("prod-web-asg")[0];
    let probe = Command::new("ip")
        .args(["netns", "exec", s(web, "netns"), "python3", "-c", IMDS_PROBE])
        .output()
        .unwrap();
    let probe = String::from_utf8_lossy(&probe.stdout);
    assert_eq!(
        probe.trim(),
        format!("401 {} production prod-web-asg", s(web, "id")),
        "metadata as seen from {}",
        s(web, "id")
    );

    // -- The network rule: the fleet's addresses live only inside its
    // namespaces, and nothing from the fleet can be routed off the machine.
    // (Checked with route look-ups: no packet is sent.)
    let host_veth = st["network"]["host_veth"].as_str().unwrap().to_string();
    let host_addrs = cmd_out("ip", &["-4", "-o", "addr", "show"]);
    assert!(!host_addrs.contains("169.254.169.254"), "the metadata address is on the host: {host_addrs}");
    for r in &recs {
        assert!(!host_addrs.contains(&format!(" {}/", s(r, "ip"))), "{} is on the host", s(r, "ip"));
        // No default route inside an instance.
        let o =
            Command::new("ip").args(["-n", s(r, "netns"), "route", "get", "198.51.100.7"]).output().unwrap();
        assert!(!o.status.success(), "{}: an instance has a route off its segment", s(r, "id"));
    }
    // Even a packet an instance routed to the host's end itself (root in
    // its netns can add a default route) is not forwarded by the host,
    // whatever ip_forward says; the host's own address is reachable.
    let from = s(&recs[0], "ip");
    let o = Command::new("ip")
        .args(["route", "get", "198.51.100.7", "from", from, "iif", &host_veth])
        .output()
        .unwrap();
    assert!(
        !o.status.success(),
        "the host would forward from the fleet: {}",
        String::from_utf8_lossy(&o.stdout)
    );
    let host_ip = st["network"]["host_addr"].as_str().unwrap();
    let o =
        Command::new("ip").args(["route", "get", host_ip, "from", from, "iif", &host_veth]).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("local "), "host address from the fleet: {o:?}");

    // -- fleet status: the same instances, live.
    let o = g.ok(&["status", "--json"]);
    let live = records(&o.stdout);
    assert_eq!(live.len(), 5);
    assert!(live.iter().all(|r| s(r, "status") == "ready"), "{live:?}");

    // -- Bad input against a live fleet: clear error, nothing changed.
    let o = g.run(&["scale", "no-such-asg", "2"]);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stderr.contains("unknown group 'no-such-asg'"), "{}", o.stderr);
    let o = g.run(&["scale", "prod-worker-asg", "26"]);
    assert_eq!(o.code, Some(2), "above max_size: {o:?}");
    assert!(o.stderr.contains("outside prod-worker-asg's bounds"), "{}", o.stderr);
    let o = g.run(&["exec", "i-0123456789abcdef0", "--", "true"]);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stderr.contains("unknown instance"), "{}", o.stderr);
    let o = g.run(&["retag", "i-0123456789abcdef0", "Mode=review"]);
    assert_eq!(o.code, Some(2), "{o:?}");
    let o = g.run(&["up"]);
    assert_eq!(o.code, Some(4), "a second up must refuse: {o:?}");
    assert_eq!(records(&g.ok(&["status", "--json"]).stdout).len(), 5);

    // -- Scaling: worker 2 -> 3 -> 1.
    let t_scale = Instant::now();
    let out = g.scratch.join("scale3.json");
    g.ok(&["scale", "prod-worker-asg", "3", "--json", out.to_str().unwrap()]);
    let launched = records(&fs::read_to_string(&out).unwrap());
    assert_eq!(launched.len(), 1, "{launched:?}");
    let new = &launched[0];
    assert_eq!(s(new, "status"), "ready", "{new}");
    assert_eq!(s(new, "group"), "prod-worker-asg");
    assert_eq!(s(new, "component"), "critical");
    assert_running(&g, new, &set(&["worker"]));
    eprintln!("scale 2 -> 3: {:.1} s", t_scale.elapsed().as_secs_f64());

    // Let every worker log a few numbered lines before it is terminated.
    let t_in = Instant::now();
    let out = g.scratch.join("scale1.json");
    g.ok(&["scale", "prod-worker-asg", "1", "--json", out.to_str().unwrap()]);
    eprintln!("scale 3 -> 1: {:.1} s", t_in.elapsed().as_secs_f64());
    let gone = records(&fs::read_to_string(&out).unwrap());
    assert_eq!(gone.len(), 2, "{gone:?}");
    for r in &gone {
        let id = s(r, "id");
        assert_eq!(s(r, "status"), "terminated", "{r}");
        assert_eq!(r["graceful"].as_bool(), Some(true), "{id} did not stop gracefully: {r}");
        let dir = PathBuf::from(s(r, "state_dir"));
        // Stage 3 ran boot down.
        let console = fs::read_to_string(dir.join("console.log")).unwrap();
        assert!(console.contains("stage 3: boot down done"), "{id}: stage 3: {console}");
        assert!(!dir.join("upper/var/lib/boot/state.json").exists(), "{id}: boot down left its state");
        // Every line the worker wrote reached its log: 1..=N, N = event=stop.
        let (seqs, stop, starts) = worker_log(&dir.join("upper/var/log/boot/worker"));
        assert_eq!(starts, 1, "{id}: the worker ran once");
        let stop = stop.unwrap_or_else(|| panic!("{id}: no event=stop in the log (lines lost): {seqs:?}"));
        let want: Vec<u64> = (1..=stop).collect();
        assert_eq!(seqs, want, "{id}: lost or repeated log lines");
        assert!(stop > 3, "{id}: the producer wrote only {stop} lines");
        // No process left.
        let pid1 = r["pid1"].as_i64().unwrap();
        assert!(
            !pid_alive(pid1)
                || fs::read_to_string(format!("/proc/{pid1}/comm")).unwrap_or_default().trim() != "runit"
        );
        assert!(no_process_rooted_in(&dir).is_empty(), "{id}: processes left");
        assert!(mounts_under(&dir).is_empty(), "{id}: mounts left");
        assert!(!netns_list().split_whitespace().any(|n| n == s(r, "netns")), "{id}: netns left");
    }
    let live = records(&g.ok(&["status", "--json"]).stdout);
    let workers: Vec<&Value> = live.iter().filter(|r| s(r, "group") == "prod-worker-asg").collect();
    assert_eq!(workers.len(), 1);
    let worker = workers[0];
    assert_eq!(s(worker, "id"), s(new, "id"), "the scale-in keeps the newest instance");

    // -- Retag: a service change is refused without the flag (exit 5)...
    let id = s(worker, "id");
    let o = g.run(&["retag", id, "Service=web", "Component=default"]);
    assert_eq!(o.code, Some(5), "{o:?}");
    let tags = g.exec(id, &["boot", "--wait", "30", "tags", "--json"]);
    assert!(!tags.stdout.contains("\"Service\""), "a refused retag changed the tags: {}", tags.stdout);
    // ... and with it, the tags change; boot up keeps its own guard ...
    g.ok(&["retag", id, "Service=web", "Component=default", "--allow-service-change"]);
    let tags = g.exec(id, &["boot", "--wait", "30", "tags", "--json"]);
    assert!(tags.stdout.contains("\"Service\""), "retag did not reach the metadata: {}", tags.stdout);
    let o = g.exec(id, &["boot", "--wait", "30", "up"]);
    assert_eq!(o.code, Some(5), "boot up must refuse a service change without the flag: {o:?}");
    assert_running(&g, worker, &set(&["worker"]));
    // ... and applies with it, the worker stopped before the web starts.
    let o = g.exec(id, &["boot", "--wait", "30", "up", "--allow-service-change"]);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert_running(&g, worker, &set(&["web"]));
    let dir = PathBuf::from(s(worker, "state_dir"));
    let wlog = fs::read_to_string(dir.join("upper/var/log/boot/worker/current")).unwrap();
    let weblog = fs::read_to_string(dir.join("upper/var/log/boot/web/current")).unwrap();
    let t_of = |log: &str, what: &str| -> u128 {
        let l = log
            .lines()
            .rev()
            .find(|l| l.contains(&format!("event={what} t=")))
            .unwrap_or_else(|| panic!("no {what}: {log}"));
        l.split(" t=").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap()
    };
    assert!(t_of(&wlog, "stop") < t_of(&weblog, "start"), "old and new service overlapped");
    let (code, _) = wait_for(Duration::from_secs(10), || http_get(s(worker, "ip"), 8080, "/health")).unwrap();
    assert_eq!(code, 200);

    // -- Teardown: fleet down leaves nothing.
    let fp = footprint(&g);
    assert!(!fp.netns.is_empty() && !fp.veths.is_empty() && !fp.rules.is_empty() && !fp.pids.is_empty());
    let t_down = Instant::now();
    let o = g.run(&["down"]);
    g.down = true;
    assert_eq!(o.code, Some(0), "{o:?}");
    eprintln!(
        "fleet down: {:.1} s; whole test {:.1} s",
        t_down.elapsed().as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    assert_nothing_left(&g, &fp);
    // down twice is fine.
    assert_eq!(g.run(&["down"]).code, Some(0));
}

/// Late metadata and a group without a Mode tag, beside a healthy group;
/// with the proxy variables pointing nowhere (moto and the metadata
/// service are never reached through a proxy).
#[test]
fn late_metadata_and_bad_group() {
    if !namespaces_work() {
        return;
    }
    let mut g = Guard::new("fleet-late").with_dead_proxy();
    let recs = g.up(Some(
        r#"
[[group]]
name = "prod-worker-asg"
size = 1
tags = { Mode = "production", Component = "critical" }
metadata_delay_s = 5

[[group]]
name = "no-mode"
size = 1
tags = { Team = "qa" }

[[group]]
name = "prod-web-asg"
size = 1
tags = { Mode = "production" }
"#,
    ));
    let by: BTreeMap<&str, &Value> = recs.iter().map(|r| (s(r, "group"), r)).collect();
    // Late: the metadata service answered 503 at first; the instance
    // waited (boot's wait) and came up in its role.
    let late = by["prod-worker-asg"];
    assert_eq!(s(late, "status"), "ready", "{late}");
    assert_eq!(services(late), set(&["worker"]));
    assert_running(&g, late, &set(&["worker"]));
    let imds_log = fs::read_to_string(g.state.join("imds.log")).unwrap();
    assert!(
        imds_log.lines().any(|l| l.contains(s(late, "ip")) && l.contains(" 503 ")),
        "the metadata service never held the late instance back: {imds_log}"
    );
    // Bad group: no Mode tag, no services, a clear console error.
    let bad = by["no-mode"];
    assert_eq!(s(bad, "status"), "failed", "{bad}");
    assert!(services(bad).is_empty(), "{bad}");
    let err = s(bad, "error");
    assert!(err.contains("no role"), "unclear error: {err}");
    let dir = PathBuf::from(s(bad, "state_dir"));
    let console = fs::read_to_string(dir.join("console.log")).unwrap();
    assert!(console.contains("Mode"), "the console does not say what is wrong: {console}");
    assert!(!dir.join("upper/var/lib/boot/state.json").exists());
    assert!(!dir.join("upper/var/lib/boot/sv").exists(), "a half role was rendered");
    // The rest of the fleet is unaffected.
    let web = by["prod-web-asg"];
    assert_eq!(s(web, "status"), "ready", "{web}");
    assert_running(&g, web, &set(&["web"]));
    let (code, _) = wait_for(Duration::from_secs(20), || http_get(s(web, "ip"), 8080, "/")).unwrap();
    assert_eq!(code, 200);
    // The launch template's hop limit (2) is the IP TTL of the token's
    // response: a container right behind the instance gets a token, one
    // nested a router further does not (its GETs still get answers).
    {
        let c = Containers::behind(s(web, "netns"), 2);
        assert_eq!(c.probe(0), "token 401", "a container on the instance");
        assert_eq!(c.probe(1), "timeout 401", "a container two routers away");
    }
    let fp = footprint(&g);
    assert_eq!(g.run(&["down"]).code, Some(0));
    g.down = true;
    assert_nothing_left(&g, &fp);
}

/// Bad input before anything exists: clear error, documented code, nothing
/// created.
#[test]
fn bad_input_leaves_nothing() {
    // The guard runs `fleet down` should a refused up have made a fleet.
    let g = Guard::new("fleet-bad");
    let (sc, state) = (&g.scratch, g.state.clone());
    let t = Duration::from_secs(60);
    // A spec that does not parse.
    let spec = sc.join("bad.toml");
    fs::write(&spec, "[[group]\nname = \"x\"\n").unwrap();
    let o = fleet_run(&state, &["up", "--spec", spec.to_str().unwrap()], &[], t);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stderr.contains("does not parse"), "{}", o.stderr);
    assert!(!state.exists(), "a refused up created {}", state.display());
    // A spec that parses but is wrong.
    fs::write(&spec, "[[group]]\nname = \"a b\"\n").unwrap();
    let o = fleet_run(&state, &["up", "--spec", spec.to_str().unwrap()], &[], t);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(o.stderr.contains("group name"), "{}", o.stderr);
    assert!(!state.exists());
    // moto missing.
    let o = fleet_run(&state, &["up"], &[("FLEET_MOTO_SERVER", "/nonexistent/moto_server")], t);
    assert_eq!(o.code, Some(3), "{o:?}");
    assert!(o.stderr.contains("moto_server not found"), "{}", o.stderr);
    assert!(!state.exists());
    // No fleet.
    let o = fleet_run(&state, &["status"], &[], t);
    assert_eq!(o.code, Some(4), "{o:?}");
    assert!(o.stderr.contains("no fleet"), "{}", o.stderr);
    let o = fleet_run(&state, &["scale", "prod-web-asg", "1"], &[], t);
    assert_eq!(o.code, Some(4), "{o:?}");
    assert_eq!(fleet_run(&state, &["down"], &[], t).code, Some(0));
    assert!(!state.exists());
    // Usage.
    let o = fleet_run(&state, &["frobnicate"], &[], t);
    assert_eq!(o.code, Some(100), "{o:?}");
}

/// An `up` that fails half-way (here: the launcher refuses to start the
/// first instance, after moto, the network and the metadata service are
/// up) removes exactly what it made: every namespace, veth and process it
/// names, and its state directory.
#[test]
fn failed_up_removes_what_it_made() {
    if !namespaces_work() {
        return;
    }
    // The guard runs `fleet down` should the up leave a fleet behind.
    let g = Guard::new("fleet-fail");
    let state = g.state.clone();
    let o = fleet_run(&state, &["up"], &[("FLEET_INSTANCE_TOOL", "/bin/false")], Duration::from_secs(240));
    assert_eq!(o.code, Some(6), "{o:?}");
    let removed = o
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("fleet: removed: "))
        .unwrap_or_else(|| panic!("no list of what was removed: {}", o.stderr));
    let items: Vec<&str> = removed.split("; ").collect();
    assert!(items.iter().any(|i| i.starts_with("netns rrf-")), "{removed}");
    assert!(items.iter().any(|i| i.starts_with("veth rrf")), "{removed}");
    assert!(items.iter().any(|i| i.starts_with("ip rule iif rrf")), "{removed}");
    assert!(items.iter().any(|i| i.ends_with("(moto_server)")), "{removed}");
    assert!(items.iter().any(|i| i.ends_with("(imds-server)")), "{removed}");
    let names = netns_list();
    for item in items {
        let (kind, what) = item.split_once(' ').unwrap();
        match kind {
            "netns" => assert!(!names.split_whitespace().any(|n| n == what), "{item} left"),
            "veth" => assert!(!link_exists(what), "{item} left"),
            "ip" => {
                let iif = what.split_whitespace().nth(2).unwrap();
                assert!(!rule_exists(iif), "{item} left");
            }
            "process" => {
                let pid: i64 = what.split_whitespace().next().unwrap().parse().unwrap();
                let comm = fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                assert!(!["moto_server", "python3", "imds-server"].contains(&comm.trim()), "{item} left");
            }
            _ => panic!("unexpected item {item}"),
        }
    }
    assert!(!state.exists(), "the state directory is left");
}

/// The launch template `fleet up` creates is the CloudFormation example's
/// (crates/dist/aws/, issue 17): same name, instance type and metadata
/// options, read from it; and the built-in fallback holds the same values.
#[test]
fn launch_template_is_the_cloudformation_one() {
    let aws = repo().join("crates/dist/aws");
    let cfn: Vec<Value> = fs::read_dir(&aws)
        .unwrap_or_else(|e| panic!("{}: {e}: the CloudFormation example (issue 17) is needed", aws.display()))
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| serde_json::from_str::<Value>(&fs::read_to_string(e.path()).ok()?).ok())
        .collect();
    let lt = cfn
        .iter()
        .flat_map(|doc| doc["Resources"].as_object().into_iter().flat_map(|r| r.values()))
        .find(|r| r["Type"] == "AWS::EC2::LaunchTemplate")
        .unwrap_or_else(|| panic!("no AWS::EC2::LaunchTemplate under {}", aws.display()))
        .clone();
    let o = fleet_run(Path::new("/nonexistent"), &["template"], &[], Duration::from_secs(30));
    assert_eq!(o.code, Some(0), "{o:?}");
    let ours: Value = serde_json::from_str(&o.stdout).unwrap();
    assert!(s(&ours, "from").starts_with("crates/dist/aws/"), "not read from the example: {ours}");
    let data = &lt["Properties"]["LaunchTemplateData"];
    assert_eq!(ours["LaunchTemplateName"], lt["Properties"]["LaunchTemplateName"]);
    assert_eq!(ours["LaunchTemplateData"]["MetadataOptions"], data["MetadataOptions"]);
    let mo = &data["MetadataOptions"];
    assert_eq!(mo["HttpTokens"], "required");
    assert_eq!(mo["InstanceMetadataTags"], "enabled");
    assert_eq!(mo["HttpPutResponseHopLimit"], 2);
    // The fallback, for a checkout without the example, says the same.
    let fleet = fs::read_to_string(fleet_bin()).unwrap();
    for (k, v) in mo.as_object().unwrap() {
        assert!(fleet.contains(&format!("\"{k}\": {v}")), "fleet's built-in {k} is not {v}");
    }
}
