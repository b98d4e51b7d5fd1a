//! End-to-end tests of boot's tag sources: a fake EC2 instance metadata
//! service (IMDSv2) on 127.0.0.1 written here, metadata failures that must
//! leave a running set untouched, hostile tag values rejected before any
//! write, every file source format and the precedence of merged sources.
//! These run production-mode worker sets (no databases).
#![allow(clippy::unwrap_used)]

#[path = "boot_support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{BootBox, environ};

/// What the fake metadata service does; changed by tests while it runs.
#[derive(Debug, Clone)]
struct Ctl {
    tags: BTreeMap<String, String>,
    instance_id: String,
    tags_enabled: bool,
    /// 401 on every GET, whatever token is sent.
    reject_tokens: bool,
    delay_ms: u64,
    /// Requests seen: `METHOD path token=<yes|no> ttl=<yes|no>`.
    seen: Vec<String>,
}

const TOKEN: &str = "AQAEAFAKE-TOKEN-DO-NOT-LEAK==";

struct FakeImds {
    port: u16,
    ctl: Arc<Mutex<Ctl>>,
    stop: Arc<AtomicBool>,
}

impl FakeImds {
    fn start(tags: &[(&str, &str)], instance_id: &str) -> FakeImds {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let ctl = Arc::new(Mutex::new(Ctl {
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            instance_id: instance_id.into(),
            tags_enabled: true,
            reject_tokens: false,
            delay_ms: 0,
            seen: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (c, s) = (ctl.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(conn) = conn else { continue };
                let c = c.clone();
                std::thread::spawn(move || serve(conn, &c));
            }
        });
        FakeImds { port, ctl, stop }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn set(&self, f: impl FnOnce(&mut Ctl)) {
        f(&mut self.ctl.lock().unwrap());
    }

    fn seen(&self) -> Vec<String> {
        self.ctl.lock().unwrap().seen.clone()
    }
}

impl Drop for FakeImds {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn percent_decode(s: &str) -> String {
    let mut out = Vec::new();
    let mut rest = s.as_bytes();
    while let Some((&c, tail)) = rest.split_first() {
        let hex = tail
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (c, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                rest = &tail[2..];
            }
            _ => {
                out.push(c);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(conn: TcpStream, ctl: &Mutex<Ctl>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let c = {
        let mut g = ctl.lock().unwrap();
        g.seen.push(format!(
            "{method} {path} token={} ttl={}",
            if headers.contains_key("x-aws-ec2-metadata-token") { "yes" } else { "no" },
            if headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") { "yes" } else { "no" }
        ));
        g.clone()
    };
    std::thread::sleep(Duration::from_millis(c.delay_ms));
    let token_ok =
        headers.get("x-aws-ec2-metadata-token").map(String::as_str) == Some(TOKEN) && !c.reject_tokens;
    let (status, body) = if method == "PUT" && path == "/latest/api/token" {
        if headers.contains_key("x-aws-ec2-metadata-token-ttl-seconds") {
            (200, TOKEN.to_string())
        } else {
            (400, "Missing or Invalid Parameters".to_string())
        }
    } else if method != "GET" {
        (405, String::new())
    } else if !token_ok {
        (401, String::new())
    } else if path == "/latest/meta-data/instance-id" {
        (200, c.instance_id.clone())
    } else if let Some(rest) = path.strip_prefix("/latest/meta-data/tags/instance") {
        let key = rest.trim_start_matches('/');
        if !c.tags_enabled {
            (404, String::new())
        } else if key.is_empty() {
            (200, c.tags.keys().cloned().collect::<Vec<_>>().join("\n"))
        } else {
            match c.tags.get(&percent_decode(key)) {
                Some(v) => (200, v.clone()),
                None => (404, String::new()),
            }
        }
    } else {
        (404, String::new())
    };
    let mut conn = conn;
    let _ = write!(
        conn,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn raw(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    let _ = std::io::Read::read_to_string(&mut s, &mut out);
    out
}

const ODD: &str = "a'b\"c$(x)`y` ;|&<>*?~#!{}\\";

/// IMDSv2 end to end, then every metadata failure: each exits with its own
/// code within the bound and changes nothing, files or processes.
#[test]
fn imds_source_and_failures_leave_the_running_set_untouched() {
    let imds = FakeImds::start(&[("Mode", "production"), ("Service", "worker"), ("Team", ODD)], "i-0aaa");
    let cfg = "sources = [\"imds\"]\n[imds]\nconnect_timeout_ms = 300\ntimeout_ms = 700\nretries = 1\n";
    let mut b = BootBox::new("boot-imds", cfg);
    b.start_runsvdir();
    let ep = imds.endpoint();
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", ep.as_str())];
    let up = b.boot_env(&["up"], &env);
    assert_eq!(up.code, Some(0), "{}", up.stderr);
    let pid = b.pid("worker");
    let wenv = environ(pid);
    // The whitelisted odd value arrives verbatim, and nothing executed.
    assert_eq!(wenv.get("APP_TEAM").map(Vec::as_slice), Some(ODD.as_bytes()));
    assert_eq!(wenv.get("BOOT_INSTANCE_ID").map(Vec::as_slice), Some(&b"i-0aaa"[..]));
    // The token is used, never shown or passed on.
    let seen = imds.seen();
    assert!(seen.iter().any(|r| r == "PUT /latest/api/token token=no ttl=yes"), "{seen:?}");
    assert!(seen.iter().filter(|r| r.starts_with("GET")).all(|r| r.contains("token=yes")), "{seen:?}");
    assert!(!up.stdout.contains("FAKE-TOKEN") && !up.stderr.contains("FAKE-TOKEN"));
    assert!(!wenv.values().any(|v| String::from_utf8_lossy(v).contains("FAKE-TOKEN")));
    let tags = b.boot_env(&["tags"], &env);
    assert!(tags.stdout.contains("\"Team\"") && tags.stdout.contains("imds"), "{}", tags.stdout);
    assert!(!tags.stdout.contains("FAKE-TOKEN"));
    // The fake behaves like IMDS for clients that forget things.
    assert!(
        raw(imds.port, "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .contains(" 400 ")
    );
    assert!(
        raw(imds.port, "GET /latest/meta-data/tags/instance HTTP/1.1\r\nHost: x\r\n\r\n").contains(" 401 ")
    );

    let tree = b.tree();
    let untouched = |what: &str| {
        assert_eq!(b.tree(), tree, "{what}: files changed");
        assert_eq!(b.pid("worker"), pid, "{what}: worker restarted");
    };
    imds.set(|c| c.tags_enabled = false);
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(4), "{}", o.stderr);
    assert!(o.stderr.contains("not enabled"), "{}", o.stderr);
    untouched("tags disabled");
    assert_eq!(b.boot_env(&["plan"], &env).code, Some(4));

    imds.set(|c| {
        c.tags_enabled = true;
        c.reject_tokens = true;
    });
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("401"), "{}", o.stderr);
    untouched("token rejected");

    imds.set(|c| {
        c.reject_tokens = false;
        c.delay_ms = 3000;
    });
    let t = Instant::now();
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(t.elapsed() < Duration::from_secs(10), "slow server: not bounded ({:?})", t.elapsed());
    untouched("slow server");

    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let t = Instant::now();
    let o = b.boot_env(&["up"], &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead.as_str())]);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    assert!(o.stderr.contains("no instance metadata service"), "{}", o.stderr);
    assert!(t.elapsed() < Duration::from_secs(10));
    untouched("no server");

    // An instance id that differs from the recorded one: clean, then up as new.
    imds.set(|c| {
        c.delay_ms = 0;
        c.instance_id = "i-0bbb".into();
    });
    let o = b.boot_env(&["up"], &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("another instance"), "{}", o.stdout);
    let new_pid = b.pid("worker");
    assert_ne!(new_pid, pid);
    assert_eq!(environ(new_pid).get("BOOT_INSTANCE_ID").map(Vec::as_slice), Some(&b"i-0bbb"[..]));
    b.ok(&["down"]);
    b.assert_clean();
}

/// Hostile values are refused before anything is written, on a clean box
/// and on a box with a running set; nothing they contain executes.
#[test]
fn hostile_tags_are_rejected_before_any_write() {
    let mut b = BootBox::new("boot-hostile", "sources = [\"env\"]");
    let long = "x".repeat(300);
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "../../etc")],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "web;touch /tmp/boot-pwned")],
        vec![
            ("BOOT_TAG_Mode", "production"),
            ("BOOT_TAG_Service", "worker"),
            ("BOOT_TAG_Component", "$(id)"),
        ],
        vec![("BOOT_TAG_Mode", "Review")],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "web'\"")],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker"), ("BOOT_TAG_Team", &long)],
        vec![
            ("BOOT_TAG_Mode", "production"),
            ("BOOT_TAG_Service", "worker"),
            ("BOOT_TAG_Environment", "production\nx"),
        ],
        vec![("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker"), ("BOOT_TAG_Team", "a\nb")],
        vec![("BOOT_TAG_Service", "worker")],
    ];
    let check_all = |b: &BootBox| {
        for tags in &cases {
            let tree = b.tree();
            let o = b.boot_env(&["up"], tags);
            assert_eq!(o.code, Some(2), "{tags:?} was not rejected: {}", o.stderr);
            assert!(o.stderr.contains("invalid tags"), "{}", o.stderr);
            assert_eq!(b.tree(), tree, "{tags:?}: something was written");
            assert!(!std::path::Path::new("/tmp/boot-pwned").exists());
        }
    };
    check_all(&b);
    assert_eq!(
        b.tree(),
        vec![b.root.join("etc"), b.root.join("etc/boot"), b.root.join("etc/boot/boot.toml")]
    );
    b.start_runsvdir();
    let good = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    assert_eq!(b.boot_env(&["up"], &good).code, Some(0));
    let pid = b.pid("worker");
    check_all(&b);
    assert_eq!(b.pid("worker"), pid);
    b.ok(&["down"]);
    b.assert_clean();
}

/// Each file format, the merge order (later wins), provenance, optional
/// sources, and the autoscaling group deriving the service.
#[test]
fn sources_formats_and_precedence() {
    let b = BootBox::new("boot-sources", "instance_id = \"i-1\"\nasg_service = \"prod-{service}-asg\"");
    let describe = b.scratch.join("describe.json");
    std::fs::write(
        &describe,
        r#"{"Tags":[
          {"Key":"Mode","ResourceId":"i-1","ResourceType":"instance","Value":"production"},
          {"Key":"Owner","ResourceId":"i-1","ResourceType":"instance","Value":"alice"},
          {"Key":"Mode","ResourceId":"i-2","ResourceType":"instance","Value":"staging"},
          {"Key":"Cost","ResourceId":"prod-worker-asg","ResourceType":"auto-scaling-group","Value":"1","PropagateAtLaunch":true}]}"#,
    )
    .unwrap();
    let legacy = b.scratch.join("legacy.txt");
    std::fs::write(&legacy, "TAG\ti-1\tinstance\tOwner\tbob\nTAG\ti-2\tinstance\tOwner\tcarol\n").unwrap();
    let legacy_aws = b.scratch.join("legacy-aws.txt");
    std::fs::write(&legacy_aws, "TAG\tinstance\ti-1\tOwner\tbob\nTAG\tinstance\ti-2\tOwner\tcarol\n")
        .unwrap();
    let d = format!("describe-tags:{}", describe.display());
    let l = format!("legacy:{}", legacy.display());
    let la = format!("legacy:{}", legacy_aws.display());
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> =
            ["--source", "static", "--source", &d, "--source", &l].map(String::from).to_vec();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |a: Vec<String>, env: &[(&str, &str)]| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        b.boot_env(&refs, env)
    };
    let o = run(args(&["--source", "env", "tags"]), &[("BOOT_TAG_Team", "envteam")]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let line =
        |k: &str| o.stdout.lines().find(|l| l.starts_with(&format!("{k:?}\t"))).unwrap_or("").to_string();
    assert_eq!(line("Mode"), format!("\"Mode\"\t\"production\"\t{d}"));
    assert_eq!(line("Owner"), format!("\"Owner\"\t\"bob\"\t{l}"));
    assert_eq!(line("Team"), "\"Team\"\t\"envteam\"\tenv");
    assert_eq!(line("Cost"), format!("\"Cost\"\t\"1\"\t{d}"));
    assert_eq!(
        line("aws:autoscaling:groupName"),
        format!("\"aws:autoscaling:groupName\"\t\"prod-worker-asg\"\t{d}")
    );
    // Without the env source the static value of Team stands.
    let o = run(args(&["tags"]), &[("BOOT_TAG_Team", "envteam")]);
    assert!(o.stdout.contains("\"Team\"\t\"demo\"\tstatic:"), "{}", o.stdout);
    // Legacy text in the AWS tools' column order parses the same.
    let o2 = run(["--source", &la, "tags", "--json"].map(String::from).to_vec(), &[]);
    assert!(
        o2.stdout.contains("\"Owner\":{\"source\":") && o2.stdout.contains("\"value\":\"bob\""),
        "{}",
        o2.stdout
    );
    // The autoscaling group names the service when no Service tag exists.
    let o = run(args(&["plan"]), &[]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("service: worker\ncomponent: default\n"), "{}", o.stdout);
    // Optional sources are skipped when unreachable; required ones fail.
    let dead = format!("http://127.0.0.1:{}", support::free_port());
    let env = [("AWS_EC2_METADATA_SERVICE_ENDPOINT", dead.as_str())];
    let o = run(["--source", "static", "--source", "imds?", "tags"].map(String::from).to_vec(), &env);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("\"Mode\"\t\"review\""), "{}", o.stdout);
    let o = run(["--source", "static", "--source", "imds", "tags"].map(String::from).to_vec(), &env);
    assert_eq!(o.code, Some(3), "{}", o.stderr);
    // Several instances in a file without a known id is refused.
    let no_id = BootBox::new("boot-sources-noid", "");
    let o = no_id.boot(&["--source", &d, "tags"]);
    assert_eq!(o.code, Some(2), "{}", o.stderr);
    assert!(o.stderr.contains("several instances"), "{}", o.stderr);
    assert!(!b.root.join("var").exists(), "tags and plan write nothing");
}

/// boot never writes through a symlink planted where it writes: a log
/// user's `config` link is replaced, not followed; a planted `sv` link is
/// refused.
#[test]
fn planted_symlinks_are_not_followed() {
    let mut b = BootBox::new("boot-symlinks", "sources = [\"env\"]");
    let victim = b.scratch.join("victim");
    std::fs::write(&victim, "precious").unwrap();
    let logdir = b.root.join("var/log/boot/worker");
    std::fs::create_dir_all(&logdir).unwrap();
    std::os::unix::fs::symlink(&victim, logdir.join("config")).unwrap();
    b.start_runsvdir();
    let tags = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    assert_eq!(b.boot_env(&["up"], &tags).code, Some(0));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
    assert!(std::fs::symlink_metadata(logdir.join("config")).unwrap().file_type().is_file());
    b.ok(&["down"]);
    let elsewhere = b.scratch.join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::create_dir_all(b.root.join("var/lib/boot")).unwrap();
    std::os::unix::fs::symlink(&elsewhere, b.root.join("var/lib/boot/sv")).unwrap();
    let o = b.boot_env(&["up"], &tags);
    assert_eq!(o.code, Some(111), "{}", o.stderr);
    assert!(o.stderr.contains("not a directory"), "{}", o.stderr);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "wrote through the planted link");
}

/// A set that does not become ready is rolled back: to the previous
/// generation when there is one, to a clean box on a first `up`.
#[test]
fn failed_apply_rolls_back() {
    let mut b = BootBox::new("boot-rollback", "sources = [\"env\"]");
    let tags = [("BOOT_TAG_Mode", "production"), ("BOOT_TAG_Service", "worker")];
    // No runsvdir scans the set: nothing can start, back to a clean box.
    b.write_config("sources = [\"env\"]\nstart_timeout_s = 2");
    let o = b.boot_env(&["up"], &tags);
    assert_eq!(o.code, Some(6), "{}", o.stderr);
    assert!(o.stderr.contains("is a runsvdir scanning") && o.stderr.contains("clean box"), "{}", o.stderr);
    assert_eq!(b.ok(&["status"]).stdout, "clean\n");
    assert!(!b.root.join("var/lib/boot/sv").exists() && !b.root.join("var/lib/boot/current").exists());

    b.write_config("sources = [\"env\"]");
    b.start_runsvdir();
    assert_eq!(b.boot_env(&["up"], &tags).code, Some(0));
    let first = std::fs::canonicalize(b.svc("worker")).unwrap();
    // The new worker never passes its check.
    let manifest = b.catalogue.join("worker/service.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(&manifest, format!("{text}\n[check]\ncommand = [\"/bin/false\"]\ntimeout_s = 2\n"))
        .unwrap();
    let o = b.boot_env(&["up"], &tags);
    assert_eq!(o.code, Some(6), "{}", o.stderr);
    assert!(
        o.stderr.contains("worker is not ready") && o.stderr.contains("rolled back to g000001"),
        "{}",
        o.stderr
    );
    assert_eq!(std::fs::read_link(b.current()).unwrap(), std::path::Path::new("sets/g000001"));
    assert_eq!(std::fs::canonicalize(b.svc("worker")).unwrap(), first);
    b.pid("worker");
    assert!(b.ok(&["status"]).stdout.starts_with("g000001 production"));
    assert_eq!(
        std::fs::read_dir(b.root.join("var/lib/boot/sv")).unwrap().count(),
        1,
        "the failed dir is collected"
    );
    b.ok(&["down"]);
    b.assert_clean();
}
